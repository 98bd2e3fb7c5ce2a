#!/usr/bin/env bash
# Headroom demo: fakeprovider, Headroom, synthetic traffic, Prometheus (with Headroom's
# recording and alerting rules) and Alertmanager, all on 127.0.0.1. Watch the limits drain
# and the alerts fire within a couple of minutes:
#
#   scripts/demo.sh                 # runs until Ctrl-C (traffic stops after DEMO_DURATION)
#   DEMO_DURATION=3m scripts/demo.sh
#
# Prometheus:   http://127.0.0.1:19090/alerts   (and /graph: try headroom:ratelimit_utilisation:ratio)
# Alertmanager: http://127.0.0.1:19093
# Headroom:     http://127.0.0.1:19797/  (state page), /metrics
# Grafana is not started: import dashboards/overview.json and dashboards/provider.json into
# yours and point its Prometheus data source at http://127.0.0.1:19090.
#
# The alerts use thresholds.yml with durations shortened for the demo (for: 30s). Ports are
# set with DEMO_*_PORT; everything lives in a temporary directory removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DEMO_DURATION:-10m}"
FAKE_PORT="${DEMO_FAKE_PORT:-18089}"
PROXY_PORT="${DEMO_PROXY_PORT:-18797}"
METRICS_PORT="${DEMO_METRICS_PORT:-19797}"
PROM_PORT="${DEMO_PROMETHEUS_PORT:-19090}"
AM_PORT="${DEMO_ALERTMANAGER_PORT:-19093}"
# Exit on its own after the traffic stops and this much longer (0: wait for Ctrl-C).
LINGER="${DEMO_LINGER:-0}"

command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null || bash scripts/deps/prometheus.sh

work="$(mktemp -d -t headroom-demo.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

wait_http() { # url seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  echo "demo: $1 did not come up; logs in $work" >&2
  tail -n 20 "$work"/*.log >&2 || true
  exit 1
}

log "building Headroom and fakeprovider"
go build -o "$work/" ./cmd/exporter ./cmd/fakeprovider

log "generating rules with demo durations"
sed -e 's/^\(  *\)for: .*/\1for: 30s/' -e 's/^\(  *\)peak_over: .*/\1peak_over: 30s/' \
  alerts/thresholds.yml > "$work/thresholds.yml"
go run ./alerts/gen -config "$work/thresholds.yml" -out "$work"

log "starting fakeprovider (heroku-us dialect, 60 requests/min per key) on :$FAKE_PORT"
"$work/fakeprovider" -listen "127.0.0.1:$FAKE_PORT" -provider heroku-us -limit requests/1m=60 \
  -limit tokens/1m=20000 -stream-delay 1ms >"$work/fakeprovider.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$FAKE_PORT/" 20

log "starting Headroom: proxy :$PROXY_PORT, metrics :$METRICS_PORT"
printf 'providers:\n  - name: heroku-us\n    upstream: http://127.0.0.1:%s\n' "$FAKE_PORT" >"$work/providers.yaml"
HEADROOM_PROXY_ADDR="127.0.0.1:$PROXY_PORT" HEADROOM_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
  HEADROOM_CONFIG="$work/providers.yaml" "$work/exporter" >"$work/headroom.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$METRICS_PORT/metrics" 20

log "starting Alertmanager on :$AM_PORT (routes by severity; receivers log nothing, see the UI)"
cat >"$work/alertmanager.yml" <<EOF
route:
  receiver: headroom-warning
  group_by: [alertname, provider, model, key]
  group_wait: 5s
  group_interval: 30s
  routes:
    - matchers: ['severity="critical"']
      receiver: headroom-critical
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, provider, model, key, resource, window]
receivers:
  - name: headroom-critical
  - name: headroom-warning
EOF
prometheus-alertmanager --config.file="$work/alertmanager.yml" --storage.path="$work/am-data" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$work/alertmanager.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$AM_PORT/-/ready" 30

log "starting Prometheus on :$PROM_PORT (scrape and rule evaluation every 5s)"
cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: [$work/recording_rules.yml, $work/alerts.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:$AM_PORT']}]}]
scrape_configs:
  - job_name: headroom
    static_configs: [{targets: ['127.0.0.1:$METRICS_PORT']}]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 60

# Synthetic traffic for DURATION: key "demo-busy" at ~3 requests/s (3x its per-minute limit:
# saturation, then 429s); key "demo-calm" at ~1 request every 2 s (half its limit).
send() { # key
  curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$PROXY_PORT/heroku-us/v1/chat/completions" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d '{"model":"claude-4-sonnet","messages":[{"role":"user","content":"How much headroom is left?"}],"max_tokens":64}' || true
}
traffic() {
  local end=$(( $(date +%s) + $1 )) i=0
  while [ "$(date +%s)" -lt "$end" ]; do
    send demo-busy &
    if [ $(( i % 6 )) -eq 0 ]; then send demo-calm & fi
    i=$(( i + 1 ))
    sleep 0.33
    wait
  done
}
secs() { # Prometheus-style duration to seconds
  local v="${1%[smhd]}" u="${1: -1}"
  case "$u" in s) echo "$v";; m) echo $(( v * 60 ));; h) echo $(( v * 3600 ));; d) echo $(( v * 86400 ));; *) echo "$1";; esac
}
traffic "$(secs "$DURATION")" &
pids+=($!)

cat <<EOF

Headroom demo running (traffic for $DURATION).
  Prometheus alerts:  http://127.0.0.1:$PROM_PORT/alerts
  Prometheus graph:   http://127.0.0.1:$PROM_PORT/graph?g0.expr=headroom%3Aratelimit_utilisation%3Aratio&g0.tab=0
  Alertmanager:       http://127.0.0.1:$AM_PORT/#/alerts
  Headroom state:     http://127.0.0.1:$METRICS_PORT/
  Logs:               $work/*.log
HeadroomRateLimitSaturated and HeadroomRateLimited fire for key demo-busy within about a
minute. Ctrl-C stops everything.

EOF

start=$(date +%s)
limit=$(( $(secs "$DURATION") + $(secs "$LINGER") ))
while :; do
  sleep 10
  firing="$(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode 'query=count by (alertname, severity) (ALERTS{alertstate="firing"})' |
    grep -o '"alertname":"[A-Za-z]*","severity":"[a-z]*"' |
    sed -e 's/"alertname":"\([A-Za-z]*\)","severity":"\([a-z]*\)"/\1(\2)/' | sort | tr '\n' ' ' || true)"
  printf '[%4ss] firing: %s\n' "$(( $(date +%s) - start ))" "${firing:-none yet}"
  if [ "$LINGER" != "0" ] && [ $(( $(date +%s) - start )) -ge "$limit" ]; then
    break
  fi
done
