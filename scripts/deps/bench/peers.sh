#!/usr/bin/env bash
# Installs the load generator and the peer proxies scripts/bench.sh measures
# Headroom beside, from Debian 12's packages: wrk, nginx (`nginx-light`),
# HAProxy 2.6 and Caddy 2.6.2. Idempotent and quiet: a no-op when all are
# there. The packages' services are never started (no systemd here); the
# benchmark runs each server in the foreground with its own configuration.
#
# The versions are Debian 12's: a HAProxy or Caddy of another series would
# make the numbers incomparable with earlier runs, so one is refused.
#
# Not run by scripts/test.sh (no test needs these): scripts/bench.sh runs it.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

HAPROXY_SERIES=2.6
CADDY_VERSION=2.6.2

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 || need+=(nginx-light)
{ command -v haproxy || [ -x /usr/sbin/haproxy ]; } >/dev/null 2>&1 || need+=(haproxy)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
if [ ${#need[@]} -gt 0 ]; then
  apt_install peers.sh "${need[@]}"
fi
for t in wrk nginx haproxy caddy; do require_tool peers.sh "$t"; done

export PATH="$PATH:/usr/sbin"
have=$(haproxy -v | awk 'NR == 1 {print $3}')
case "$have" in "$HAPROXY_SERIES".*) ;; *)
  echo "peers.sh: HAProxy $have installed; the benchmark pins Debian 12's $HAPROXY_SERIES series" >&2
  exit 1
  ;;
esac
have=$(caddy version | awk '{print $1}')
[ "$have" = "$CADDY_VERSION" ] || [ "$have" = "v$CADDY_VERSION" ] || {
  echo "peers.sh: Caddy $have installed; the benchmark pins Debian 12's $CADDY_VERSION" >&2
  exit 1
}
