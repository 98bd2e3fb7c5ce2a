#!/usr/bin/env bash
# Installs wrk (Debian `wrk`) and nginx (Debian `nginx-light`) for
# scripts/bench.sh when they are missing. Idempotent and quiet: a no-op when
# both are on PATH; `apt-get update` runs only when apt knows no candidate.
# Output is shown only when something fails.
set -euo pipefail

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || need+=(nginx-light)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "wrk.sh: failed: $*" >&2; exit 1; }; }

for pkg in "${need[@]}"; do
  cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
    run $SUDO "${apt[@]}" update -qq
    break
  fi
done
if ! $SUDO "${apt[@]}" install -y -qq --no-install-recommends "${need[@]}" >>"$log" 2>&1; then
  sleep 5
  run $SUDO "${apt[@]}" install -y -qq --no-install-recommends "${need[@]}"
fi
command -v wrk >/dev/null 2>&1 || { cat "$log" >&2; echo "wrk.sh: wrk still missing after install" >&2; exit 1; }
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || { cat "$log" >&2; echo "wrk.sh: nginx still missing after install" >&2; exit 1; }
