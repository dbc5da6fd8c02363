#!/usr/bin/env bash
# Builds and starts the Countersign desktop app. Installs what is missing first. With no display
# it starts the app on a virtual one (Xvfb), says so, and saves a screenshot of the window.
#   --screenshot-only  exit after the screenshot instead of keeping the app running
#   --demo / --no-demo always / never run the demo (by default: the demo while the data home has
#                      no credentials, i.e. on a newcomer's first run; with --no-demo a new data
#                      home opens on the first-run guide, as the installed app does)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

screenshot_only=false
app_args=(--demo-when-new)
for arg in "$@"; do
  case "$arg" in
    --screenshot-only) screenshot_only=true ;;
    --demo | --no-demo) app_args+=("$arg") ;;
    *) die "unknown option $arg (known: --screenshot-only, --demo, --no-demo)" ;;
  esac
done

cs_require_platform
cs_install_packages "${CS_APP_PACKAGES[@]}"
cs_require_toolchains
cs_install_ui_deps
mkdir -p "$CS_RUN_DIR"
cd "$CS_ROOT"
trap cs_stop_all EXIT

cs_build_ui
say "Building the desktop app (the first build takes a few minutes)"
cargo build -p countersign-desktop
app="${CARGO_TARGET_DIR:-$CS_ROOT/target}/debug/countersign-desktop"

headless=false
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  headless=true
  cs_install_packages "${CS_HEADLESS_PACKAGES[@]}" dbus dbus-x11 gnome-keyring
  say "No display found: running Countersign on a virtual display (Xvfb)"
  cs_start_xvfb
  cs_start_keyring
fi

say "Starting Countersign"
"$app" "${app_args[@]}" &
app_pid=$!
CS_STARTED_PIDS+=("$app_pid")

if $headless; then
  shot="$CS_RUN_DIR/countersign-window.png"
  window=""
  for _ in $(seq 1 300); do
    kill -0 "$app_pid" 2>/dev/null || die "the app exited before its window appeared"
    window=$(xwininfo -root -tree 2>/dev/null | awk '/"Countersign( — [0-9]+ waiting)?"/ { print $1; exit }')
    [ -n "$window" ] && break
    sleep 0.1
  done
  [ -n "$window" ] || die "the Countersign window did not appear within 30 seconds"
  sleep 4 # let the webview paint, and the demo agent propose
  import -display "$DISPLAY" -window "$window" "$shot"
  say "Screenshot of the window: $shot"
  $screenshot_only && exit 0
  say "Countersign is running on the virtual display $DISPLAY; press Ctrl-C to stop it"
fi
wait "$app_pid"
