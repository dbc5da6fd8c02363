#!/usr/bin/env bash
# Builds the Debian package of Countersign (the Tauri bundler): the desktop app
# (/usr/bin/countersign-desktop, its desktop entry and icons) and the `countersign` command
# (/usr/bin/countersign), declaring what they need at run time. Prints where the package is.
#   --debug  package the debug build (what the test command checks; no second release build)
#   --check  then install it with apt-get into this system, start the installed app to its first page
#            on the display (Xvfb and a keychain must be running: the test command starts
#            them), run the installed `countersign --version`, and remove it again
# macOS and Windows bundles (.dmg/.app, .msi) are configured in src-tauri/tauri.conf.json and
# must be built on those systems (docs/packaging.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

profile=release
check=false
for arg in "$@"; do
  case "$arg" in
    --debug) profile=debug ;;
    --check) check=true ;;
    *) die "unknown option $arg (known: --debug, --check)" ;;
  esac
done

cs_require_platform
cd "$CS_ROOT"
target="${CARGO_TARGET_DIR:-$CS_ROOT/target}"
cargo_profile=()
tauri_profile=()
if [ "$profile" = release ]; then cargo_profile=(--release); else tauri_profile=(--debug); fi

cs_build_ui
say "Building the countersign command ($profile)"
if [ "$profile" = debug ]; then
  # The debug package (the test command's check) holds the command as the workspace's test build
  # made it: building the command on its own resolves other features of shared dependencies and
  # compiles the whole tree a second time (two minutes on a fresh machine).
  cli=$(cargo test --workspace --locked --no-run --message-format=json-render-diagnostics \
    | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target", {})
    if (m.get("reason") == "compiler-artifact" and "bin" in t.get("kind", []) and t.get("name") == "countersign"
            and not m.get("profile", {}).get("test") and m.get("executable")):
        print(m["executable"])
' | tail -n 1)
  [ -n "$cli" ] && [ -x "$cli" ] || die "the test build made no countersign command"
else
  cargo build --locked "${cargo_profile[@]}" -p countersign-cli
  cli="$target/$profile/countersign"
fi
# The bundler takes extra files from paths relative to src-tauri/ (see tauri.conf.json).
mkdir -p src-tauri/bundle-files
install -m 0755 "$cli" src-tauri/bundle-files/countersign
say "Bundling the Debian package ($profile)"
(cd src-tauri && ../ui/node_modules/.bin/tauri build "${tauri_profile[@]}" --bundles deb --ci)
deb=$(ls -t "$target/$profile/bundle/deb/"*.deb | head -n 1)
[ -f "$deb" ] || die "the bundler made no .deb in $target/$profile/bundle/deb"
say "The package: $deb"

if ! $check; then exit 0; fi

[ "$(id -u)" -eq 0 ] || die "--check installs the package: run it as root"
package=$(dpkg-deb -f "$deb" Package)
listing=$(dpkg-deb -c "$deb")
for path in usr/bin/countersign usr/bin/countersign-desktop; do
  grep -qE " (\./)?$path\$" <<<"$listing" || die "the package does not hold /$path"
done
grep -q '\.desktop$' <<<"$listing" || die "the package holds no desktop entry"
say "Installing $package from the file with apt-get"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "$package" >/dev/null 2>&1 || true; cs_stop_all' EXIT

# Run from outside the repository, with a fresh data home: nothing of the clone is used.
scratch=$(mktemp -d)
version=$(cd "$scratch" && env -u CARGO_TARGET_DIR /usr/bin/countersign --version)
case "$version" in
  "countersign "*) say "Installed: $version" ;;
  *) die "the installed countersign --version said: $version" ;;
esac
ready="$scratch/ready"
(cd "$scratch" && COUNTERSIGN_HOME="$scratch/home" COUNTERSIGN_READY_FILE="$ready" \
  COUNTERSIGN_CONNECTOR_ADDR="127.0.0.1:0" /usr/bin/countersign-desktop \
  >"$scratch/app.log" 2>&1) &
app=$!
for _ in $(seq 1 120); do
  [ -s "$ready" ] && break
  kill -0 "$app" 2>/dev/null || { cat "$scratch/app.log" >&2; die "the installed app stopped before its first page showed"; }
  sleep 0.5
done
[ -s "$ready" ] || { cat "$scratch/app.log" >&2; kill "$app" 2>/dev/null; die "the installed app did not show its first page within 60 s"; }
say "The installed app opened on its first page (a new data home: the first-run guide)"
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "$package" >/dev/null
if [ -e /usr/bin/countersign ] || [ -e /usr/bin/countersign-desktop ]; then
  die "removing $package left its programs behind"
fi
say "Removed $package again"
rm -rf "$scratch"
