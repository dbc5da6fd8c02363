#!/usr/bin/env bash
# Runs every test of Countersign: format, lints, the Rust tests (unit, integration, end-to-end in
# the real webview), the UI's component tests and bounded fuzzing. Installs what is missing and starts the services
# the tests need (a virtual display, a private D-Bus session with gnome-keyring), then stops them.
# The benchmarks are type-checked by clippy here and run by scripts/bench.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cs_require_platform
cs_install_packages "${CS_APP_PACKAGES[@]}" "${CS_HEADLESS_PACKAGES[@]}" "${CS_TEST_PACKAGES[@]}"
cs_require_toolchains
cs_install_ui_deps
cs_install_tauri_driver
cs_install_cargo_fuzz
mkdir -p "$CS_ROOT/.run"
cs_install_mcp_sdk
mkdir -p "$CS_RUN_DIR"
cd "$CS_ROOT"
trap cs_stop_all EXIT

step() { say "$1"; shift; local t0=$SECONDS; "$@"; echo "    ($((SECONDS - t0)) s)"; }

step "Checking formatting (cargo fmt)" cargo fmt --all -- --check
step "Building the UI" cs_build_ui

no_tauri_outside_the_shell() {
  local dependents
  dependents=$(cargo tree --workspace --invert tauri --edges normal,build,dev --prefix none \
    | grep -oE '^countersign[a-z0-9-]*' | sort -u)
  if [ "$dependents" != "countersign-desktop" ]; then
    printf 'crates other than the shell depend on tauri:\n%s\n' "$dependents" >&2
    return 1
  fi
}
step "Checking that only the desktop shell depends on tauri" no_tauri_outside_the_shell
# --all-targets: the benchmarks are compiled (type-checked) here too, so they cannot rot;
# scripts/bench.sh runs them in release builds on a quiet machine.
step "Linting, benchmarks included (cargo clippy -D warnings)" cargo clippy --workspace --all-targets --locked -- -D warnings
step "Building the desktop app for the end-to-end tests" cargo build --locked -p countersign-desktop

cs_start_xvfb
cs_start_keyring
cs_start_notifications
cs_start_postgres
cs_start_smtp

step "Running the UI's component tests (Vitest)" bash -c 'cd ui && npx vitest run'
step "Running the Rust tests, including end-to-end in the real webview" \
  cargo test --workspace --locked --no-fail-fast
# After the end-to-end tests: the bundler rebuilds the desktop app with its assets embedded.
step "Packaging: the Debian package of the debug build, installed with apt-get, started to its first page, removed" \
  scripts/package.sh --debug --check
step "Fuzzing every parser of agent input (${COUNTERSIGN_FUZZ_SECONDS:-15} s each)" cs_fuzz
say "All tests passed"
