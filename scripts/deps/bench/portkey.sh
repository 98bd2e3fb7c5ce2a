#!/usr/bin/env bash
# Installs the Portkey AI gateway (npm @portkey-ai/gateway 1.15.2) that
# scripts/bench.sh measures beside Headroom, and prints the path of its
# server (build/start-server.js: `node <it> --port=N --headless`).
#
# Reproducible: `npm ci` from the lock file beside this script
# (portkey/package-lock.json names every package's version and checksum).
# Local to the benchmark: into $(go env GOPATH)/share/headroom/, as
# scripts/deps/sfv-tests.sh does, never global (no npm -g) and never inside
# the repository, where a node_modules folder would be walked by go ./...
# and every other tool that reads the tree. The packages' install scripts
# are not run: the gateway's only one applies patches the package does not
# ship.
#
# Needs Node.js 20, the machines' own (Debian 12 has only 18): the gateway's
# speed is Node's, so another major version is refused rather than measured.
# Idempotent: a no-op (but for the printed path) when this lock file is
# already installed. Not run by scripts/test.sh (no test needs it).
set -euo pipefail

NODE_MAJOR=20
here="$(cd "$(dirname "$0")" && pwd)/portkey"
version=$(sed -n 's/.*"@portkey-ai\/gateway": "\([^"]*\)".*/\1/p' "$here/package.json")
dir="$(go env GOPATH)/share/headroom/portkey-gateway@$version"
entry="$dir/node_modules/@portkey-ai/gateway/build/start-server.js"

if [ -f "$entry" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
  echo "$entry"
  exit 0
fi

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
  echo "portkey.sh: node and npm are needed (Node.js $NODE_MAJOR, the machine image's)" >&2
  exit 1
}
have=$(node -p 'process.versions.node')
[ "${have%%.*}" = "$NODE_MAJOR" ] || {
  echo "portkey.sh: Node.js $have found; the benchmark measures the gateway on Node.js $NODE_MAJOR" >&2
  exit 1
}

# Installed beside and moved into place when complete: an interrupted
# install leaves no folder that looks done.
tmp="$dir.partial"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
log="$(mktemp)"
trap 'rm -f "$log"; rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund) >"$log" 2>&1; then
  cat "$log" >&2
  echo "portkey.sh: npm ci of @portkey-ai/gateway@$version failed" >&2
  exit 1
fi
rm -rf "$dir"
mv "$tmp" "$dir"
[ -f "$entry" ] || { echo "portkey.sh: $entry missing after install" >&2; exit 1; }
echo "$entry"
