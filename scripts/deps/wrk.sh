#!/usr/bin/env bash
# Installs wrk (Debian `wrk`), nginx (Debian `nginx-light`) and nginx's
# stream (TCP proxy) module (Debian `libnginx-mod-stream`) for
# scripts/bench.sh when they are missing. Idempotent and quiet: a no-op when
# all are there.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || need+=(nginx-light)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
[ ${#need[@]} -eq 0 ] && exit 0

apt_install wrk.sh "${need[@]}"
require_tool wrk.sh wrk
require_tool wrk.sh nginx
