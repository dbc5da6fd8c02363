# Shared steps of scripts/run.sh and scripts/test.sh: install what is missing, start and stop the
# services the app and its tests need. Every step is idempotent; sourcing this file changes nothing.

set -euo pipefail

CS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CS_RUN_DIR="$CS_ROOT/.run"
CS_STARTED_PIDS=()

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the desktop app needs to build and run.
CS_APP_PACKAGES=(libwebkit2gtk-4.1-dev build-essential libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev pkg-config curl ca-certificates)
# And what headless runs and the tests need on top.
CS_HEADLESS_PACKAGES=(xvfb xauth x11-utils imagemagick)
CS_TEST_PACKAGES=(webkit2gtk-driver dbus dbus-x11 gnome-keyring dunst xdotool)

cs_require_platform() {
  case "$(uname -s)" in
    Linux) ;;
    Darwin)
      cat >&2 <<'MSG'
On macOS install, then run this again:
  - Xcode command line tools:  xcode-select --install
  - Rust 1.90 or newer:        https://rustup.rs
  - Node.js 20.19 or newer:    https://nodejs.org
The tests additionally need tauri-driver, which does not support macOS; run them on Linux.
MSG
      exit 1 ;;
    MINGW* | MSYS* | CYGWIN*)
      cat >&2 <<'MSG'
On Windows install, then run this again:
  - Microsoft C++ Build Tools ("Desktop development with C++")
  - WebView2 runtime (preinstalled on Windows 10 1803+ and 11)
  - Rust 1.90 or newer (rustup, MSVC toolchain)
  - Node.js 20.19 or newer
  - for the tests: cargo install tauri-driver --locked, and msedgedriver matching your Edge
MSG
      exit 1 ;;
    *) die "unsupported system $(uname -s): Countersign builds on Linux, macOS and Windows" ;;
  esac
}

# apt-get installs only the packages that are missing, so a second run costs a dpkg query.
cs_install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]}, and this is not a Debian/Ubuntu system: install their equivalents"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages ${missing[*]}: run as root or install sudo"
    sudo="sudo"
  fi
  say "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

cs_require_toolchains() {
  command -v cargo >/dev/null || die "Rust is not installed: install it with rustup (https://rustup.rs), then run this again"
  command -v node >/dev/null || die "Node.js is not installed: install Node.js 20.19 or newer, then run this again"
  local node_version major minor
  node_version=$(node --version | tr -d v)
  major=${node_version%%.*}; minor=$(echo "$node_version" | cut -d. -f2)
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    die "Node.js $node_version is too old: the UI build needs 20.19 or newer"
  fi
}

# npm ci runs only when the lockfile changed since the last install.
cs_install_ui_deps() {
  local stamp="$CS_ROOT/ui/node_modules/.countersign-lock-sha"
  local want
  want=$(sha256sum "$CS_ROOT/ui/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  say "Installing the UI's npm packages from ui/package-lock.json"
  (cd "$CS_ROOT/ui" && npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
}

cs_build_ui() {
  # Built again only when a source changed: a new ui/dist makes cargo rebuild the desktop shell,
  # which embeds it.
  local stamp
  stamp=$(cd "$CS_ROOT/ui" && find src index.html package-lock.json vite.config.ts tsconfig.json -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ -f "$CS_ROOT/ui/dist/.sources" ] && [ "$(cat "$CS_ROOT/ui/dist/.sources")" = "$stamp" ]; then
    say "The UI is built from these sources already"
    return 0
  fi
  say "Building the UI (type check + Vite)"
  (cd "$CS_ROOT/ui" && npm run --silent build)
  echo "$stamp" >"$CS_ROOT/ui/dist/.sources"
}

cs_install_tauri_driver() {
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  command -v tauri-driver >/dev/null && return 0
  say "Installing tauri-driver (a few minutes, once)"
  cargo install tauri-driver --locked --version '^2.1'
}

# cargo-fuzz drives libFuzzer. It needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the one stable
# toolchain accept them (no other toolchain can be fetched here).
cs_install_cargo_fuzz() {
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  command -v cargo-fuzz >/dev/null && return 0
  say "Installing cargo-fuzz (a minute or two, once)"
  cargo install cargo-fuzz --locked --version '^0.13'
}

# Runs every fuzz target of agent-input parsers for a bounded time; a crash fails the run and
# leaves the input under crates/core/fuzz/artifacts/.
cs_fuzz() {
  local dir="$CS_ROOT/crates/core/fuzz" seconds=${COUNTERSIGN_FUZZ_SECONDS:-15} target log
  # The fuzz build lives beside the rest of the build (outside the clone under CI), so a clean
  # clone on the same machine does not build the sanitized tree again.
  local built=("--target-dir" "${CARGO_TARGET_DIR:-$dir/target}/fuzz")
  (cd "$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz build "${built[@]}")
  # Seeds: the snapshot corpus for proposals and JSON, its statements for SQL.
  local corpus="$CS_ROOT/crates/core/tests/corpus" seeds
  for target in proposal sql json body; do
    mkdir -p "$CS_RUN_DIR/fuzz/$target"
    log="$CS_RUN_DIR/fuzz/$target.log"
    case "$target" in
      sql) seeds=("$dir/seeds/sql") ;;
      *) seeds=("$corpus"/payments "$corpus"/healthcare "$corpus"/email "$corpus"/adversarial) ;;
    esac
    if (cd "$dir" && RUSTC_BOOTSTRAP=1 cargo fuzz run "${built[@]}" "$target" "$CS_RUN_DIR/fuzz/$target" "${seeds[@]}" \
        -- -max_total_time="$seconds" >"$log" 2>&1); then
      echo "    $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n 1), no crash"
    else
      tail -n 40 "$log" >&2
      echo "fuzz target $target crashed; see $log and $dir/artifacts/$target" >&2
      return 1
    fi
  done
}

cs_cleanup() {
  local pid
  for pid in "${CS_STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${CS_STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}

# Starts a private X server unless one is already there; the display number is the first free one.
cs_start_xvfb() {
  if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then return 0; fi
  local n=99
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  Xvfb ":$n" -screen 0 1280x900x24 -nolisten tcp >"$CS_RUN_DIR/xvfb.log" 2>&1 &
  CS_STARTED_PIDS+=($!)
  export DISPLAY=":$n"
  local i
  for i in $(seq 1 100); do
    xdpyinfo >/dev/null 2>&1 && { say "Started a virtual display (Xvfb) on $DISPLAY"; return 0; }
    sleep 0.1
  done
  die "Xvfb did not start; see $CS_RUN_DIR/xvfb.log"
}

# A private session bus and an unlocked gnome-keyring in a throwaway data dir, so tests and the
# demo never touch a person's real keychain (and never block on an unlock prompt).
cs_start_keyring() {
  local home="$CS_RUN_DIR/keyring"
  rm -rf "$home"; mkdir -p "$home/data" "$home/runtime"; chmod 700 "$home/runtime"
  export XDG_DATA_HOME="$home/data" XDG_RUNTIME_DIR="$home/runtime"
  local address
  address=$(dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 | tr '\n' ' ')
  export DBUS_SESSION_BUS_ADDRESS="${address%% *}"
  CS_STARTED_PIDS+=("$(echo "$address" | awk '{print $2}')")
  local keyring_env
  keyring_env=$(printf 'countersign-test' | gnome-keyring-daemon --unlock --components=secrets --daemonize)
  local line
  while IFS= read -r line; do
    case "$line" in *=*) export "${line?}" ;; esac
  done <<<"$keyring_env"
  CS_STARTED_PIDS+=("$(pgrep -n -f 'gnome-keyring-daemon --unlock' || true)")
  say "Started a private D-Bus session with an unlocked gnome-keyring"
}

# A notification server on the private session bus (dunst, on the virtual display), so the app's
# desktop notifications are delivered as on a real desktop. Needs cs_start_xvfb and
# cs_start_keyring first.
cs_start_notifications() {
  cs_install_packages dunst
  dunst >"$CS_RUN_DIR/dunst.log" 2>&1 &
  CS_STARTED_PIDS+=($!)
  local i
  for i in $(seq 1 50); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
      string:org.freedesktop.Notifications 2>/dev/null | grep -q 'boolean true'; then
      say "Started a notification server (dunst)"
      return 0
    fi
    sleep 0.1
  done
  die "dunst did not start; see $CS_RUN_DIR/dunst.log"
}

# PostgreSQL on 127.0.0.1, in a throwaway cluster. TCP logins need a password (SCRAM), as on a
# real server, so tests exercise the password Countersign keeps in the keychain.
cs_start_postgres() {
  cs_install_packages postgresql
  local bindir data="$CS_RUN_DIR/postgres" port=${COUNTERSIGN_PG_PORT:-55432}
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  rm -rf "$data"; mkdir -p "$data"; chown postgres "$data" 2>/dev/null || true
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  printf 'postgres-admin-pw' >"$CS_RUN_DIR/pg-admin-pw"; chmod 644 "$CS_RUN_DIR/pg-admin-pw"
  "${as[@]}" "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$CS_RUN_DIR/pg-admin-pw" >/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data" start >/dev/null
  export COUNTERSIGN_TEST_POSTGRES="postgres://postgres:postgres-admin-pw@127.0.0.1:$port/postgres"
  CS_STOP_COMMANDS+=("${as[*]} $bindir/pg_ctl -D $data -m fast stop")
  say "Started PostgreSQL on 127.0.0.1:$port"
}

# An SMTP server that keeps every message it receives as a file the tests read back.
cs_start_smtp() {
  cs_install_packages python3-aiosmtpd
  local port=${COUNTERSIGN_SMTP_PORT:-52525} mailbox="$CS_RUN_DIR/mailbox"
  rm -rf "$mailbox"; mkdir -p "$mailbox"
  /usr/bin/python3 "$CS_ROOT/scripts/smtp_sink.py" --port "$port" --mailbox "$mailbox" \
    --user countersign-test --password smtp-test-pw-5521 >"$CS_RUN_DIR/smtp.log" 2>&1 &
  CS_STARTED_PIDS+=($!)
  export COUNTERSIGN_TEST_SMTP="127.0.0.1:$port" COUNTERSIGN_TEST_MAILBOX="$mailbox"
  export COUNTERSIGN_TEST_SMTP_USER=countersign-test COUNTERSIGN_TEST_SMTP_PASSWORD=smtp-test-pw-5521
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { say "Started an SMTP server on 127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  die "the SMTP server did not start; see $CS_RUN_DIR/smtp.log"
}

# The official MCP Python SDK, in a virtual environment of its own, for the interoperability test.
cs_install_mcp_sdk() {
  cs_install_packages python3-venv
  local venv="$CS_ROOT/.run/mcp-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mcp' 2>/dev/null; then
    say "Installing the official MCP Python SDK (once)"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'mcp>=2,<3'
  fi
  export COUNTERSIGN_TEST_PYTHON="$venv/bin/python"
}

CS_STOP_COMMANDS=()
cs_stop_all() {
  local command
  for command in "${CS_STOP_COMMANDS[@]}"; do
    eval "$command" >/dev/null 2>&1 || true
  done
  cs_cleanup
}
