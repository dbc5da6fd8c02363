#!/usr/bin/env bash
# Runs every benchmark and prints each one's ratio against the baseline it measures in the same
# run (design.md §17). Benchmarks are not part of the test command: they need release builds and
# a quiet machine, and they never pass or fail on a time. `scripts/test.sh` still compiles them,
# so they cannot rot.
#   --quick   shorter runs (as a first look; the numbers are noisier)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(-- --quick) ;;
    *) die "unknown option $arg (known: --quick)" ;;
  esac
done

cs_require_platform
cs_install_packages "${CS_APP_PACKAGES[@]}" "${CS_HEADLESS_PACKAGES[@]}" "${CS_TEST_PACKAGES[@]}"
cs_require_toolchains
cs_install_ui_deps
mkdir -p "$CS_RUN_DIR"
cd "$CS_ROOT"
trap cs_stop_all EXIT

step() { say "$1"; shift; local t0=$SECONDS; "$@"; echo "    ($((SECONDS - t0)) s)"; }

cs_build_ui
# The submission benchmark keeps 50 credentials in the keychain; the desktop one needs a display.
cs_start_xvfb
cs_start_keyring
cs_start_postgres

step "Explanations per second against JSON parsing alone" \
  cargo bench --locked -p countersign-core --bench explain "${quick[@]}"
step "Durable audit appends against raw fsync, 8 submitters against one; verification against SHA-256; export of 1,000,000 entries" \
  cargo bench --locked -p countersign-audit --bench audit "${quick[@]}"
step "Team audit appends on PostgreSQL from one and from four desks against the file log" \
  cargo bench --locked -p countersign-audit --bench team "${quick[@]}"
step "HTTP execution overhead against a direct reqwest call" \
  cargo bench --locked -p countersign-exec --bench http "${quick[@]}"
step "Inbox and status with 10,000 pending against 10 pending" \
  cargo bench --locked -p countersign-app --bench inbox "${quick[@]}"
step "Submission to pending over REST, 10 agents, with no and with 50 credentials" \
  cargo bench --locked -p countersign-connector --bench submit "${quick[@]}"
step "Building the release desktop app and a bare Tauri window" \
  cargo build --release --locked -p countersign-desktop --bin countersign-desktop --example bare
step "Release start-up to inbox and idle memory, against a bare Tauri window" \
  cargo bench --locked -p countersign-e2e --bench desktop
say "Every benchmark printed its ratio against its baseline"
