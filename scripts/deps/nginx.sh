#!/usr/bin/env bash
# Installs nginx (Debian `nginx-light`) for the tail-mode integration test
# (test/integration/nginx_test.go) when it is missing. Idempotent and quiet: a
# no-op when nginx is on PATH; `apt-get update` runs only when apt knows no
# candidate. The package's service is never started (no systemd here; the
# test runs its own nginx with `daemon off;` in a temporary prefix).
set -euo pipefail

command -v nginx >/dev/null 2>&1 && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "nginx.sh: failed: $*" >&2; exit 1; }; }

cand="$(apt-cache policy nginx-light 2>/dev/null | awk '/Candidate:/ {print $2}')"
if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
  run $SUDO "${apt[@]}" update -qq
fi
# Another apt-get may hold the dpkg lock (scripts/deps run one after another
# here, but developers may run them in parallel): the lock timeout waits, and
# one retry covers a race.
if ! $SUDO "${apt[@]}" install -y -qq --no-install-recommends nginx-light >>"$log" 2>&1; then
  sleep 5
  run $SUDO "${apt[@]}" install -y -qq --no-install-recommends nginx-light
fi
# Debian's postinst may start the packaged service where an init system
# exists; the test never uses it.
command -v nginx >/dev/null 2>&1 || { cat "$log" >&2; echo "nginx.sh: nginx still missing after install" >&2; exit 1; }
