#!/usr/bin/env bash
# Runs every test. Installs what the tests need first: each scripts/deps/*.sh
# installs one pinned tool idempotently (a no-op when it is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

for dep in scripts/deps/*.sh; do
  [ -e "$dep" ] || continue
  echo "== install: $dep"
  bash "$dep"
done
# Tests that need an external tool fail (not skip) when it is missing, so a
# missing install step cannot pass as a green run.
export HEADROOM_REQUIRE_TOOLS=1
export PATH="$(go env GOPATH)/bin:$PATH"

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 ./...
# Every fuzz target for 20,000 executions past its seed corpus (the seeds
# alone ran above as unit tests): a count, not a time, as a time limit can
# fail on a race in Go's fuzzing coordinator (scripts/fuzz.sh says more).
# Campaigns run longer: scripts/fuzz.sh -t 3m.
echo "== fuzz: every target, 20000 executions each"
./scripts/fuzz.sh -t 20000x
echo "== helm chart and container image (nested module helm/test)"
(cd helm/test && go vet ./... && go test -count=1 ./...)
