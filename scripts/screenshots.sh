#!/usr/bin/env bash
# Refreshes the README's screenshots: copies what the last end-to-end run took (into the build
# folder's screenshots/, never into tracked files) to docs/screenshots/. Run scripts/test.sh first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
from="${CARGO_TARGET_DIR:-$root/target}/screenshots"
[ -d "$from" ] || { echo "no screenshots in $from: run scripts/test.sh first" >&2; exit 1; }
mkdir -p "$root/docs/screenshots"
count=0
for png in "$from"/*.png; do
  cp "$png" "$root/docs/screenshots/"
  count=$((count + 1))
done
echo "copied $count screenshots from $from to docs/screenshots/"
