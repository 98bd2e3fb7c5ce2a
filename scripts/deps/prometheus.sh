#!/usr/bin/env bash
# Installs promtool/prometheus (Debian `prometheus`, 2.42 on bookworm) and
# amtool/prometheus-alertmanager (Debian `prometheus-alertmanager`, 0.25) when
# they are missing. Idempotent and quiet: a no-op when every tool is on PATH;
# `apt-get update` runs only when apt knows no candidate for a package.
# Output is shown only when something fails.
set -euo pipefail

need=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
{ command -v amtool && command -v prometheus-alertmanager; } >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "prometheus.sh: failed: $*" >&2; exit 1; }; }

for pkg in "${need[@]}"; do
  cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
    run $SUDO "${apt[@]}" update -qq
    break
  fi
done

# Another apt-get may hold the dpkg lock (other scripts/deps run in parallel
# on developer machines): the lock timeout waits, and one retry covers a race.
if ! $SUDO "${apt[@]}" install -y -qq --no-install-recommends "${need[@]}" >>"$log" 2>&1; then
  sleep 5
  run $SUDO "${apt[@]}" install -y -qq --no-install-recommends "${need[@]}"
fi
for tool in promtool prometheus amtool prometheus-alertmanager; do
  command -v "$tool" >/dev/null 2>&1 || { cat "$log" >&2; echo "prometheus.sh: $tool still missing after install" >&2; exit 1; }
done
