#!/usr/bin/env bash
# Installs vegeta (the fixed-rate load generator scripts/bench.sh measures
# latency with), pinned, with go install into $(go env GOPATH)/bin.
# Idempotent: a no-op when that version is already there.
# Not run by scripts/test.sh (no test needs it): scripts/bench.sh runs it.
set -euo pipefail

VERSION=v12.13.0
bin="$(go env GOPATH)/bin/vegeta"
# A go-installed vegeta prints no version of its own; its build info names
# the module's.
if [ -x "$bin" ] && [ "$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $3}')" = "$VERSION" ]; then
  exit 0
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
go install "github.com/tsenart/vegeta/v12@$VERSION" >"$log" 2>&1 || {
  cat "$log" >&2
  echo "vegeta.sh: go install github.com/tsenart/vegeta/v12@$VERSION failed" >&2
  exit 1
}
