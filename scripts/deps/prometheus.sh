#!/usr/bin/env bash
# Installs promtool/prometheus (Debian `prometheus`, 2.42 on bookworm) and
# amtool/prometheus-alertmanager (Debian `prometheus-alertmanager`, 0.25) when
# they are missing. Idempotent and quiet: a no-op when every tool is on PATH.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

need=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
{ command -v amtool && command -v prometheus-alertmanager; } >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ ${#need[@]} -eq 0 ] && exit 0

apt_install prometheus.sh "${need[@]}"
for tool in promtool prometheus amtool prometheus-alertmanager; do
  require_tool prometheus.sh "$tool"
done
