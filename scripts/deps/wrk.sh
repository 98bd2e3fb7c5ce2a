#!/usr/bin/env bash
# Installs wrk (Debian `wrk`) and nginx (Debian `nginx-light`) for
# scripts/bench.sh when they are missing. Idempotent and quiet: a no-op when
# both are on PATH.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || need+=(nginx-light)
[ ${#need[@]} -eq 0 ] && exit 0

apt_install wrk.sh "${need[@]}"
require_tool wrk.sh wrk
require_tool wrk.sh nginx
