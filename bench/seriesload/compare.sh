#!/usr/bin/env bash
# Runs the scale part of scripts/bench.sh (bench/seriesload against a fresh
# Headroom with 100 models × 50 keys = 10k rate-limit series) on its own, for
# cmd/exporter built from the working tree and, optionally, from git
# revisions, in interleaved rounds on the same machine. Prints one JSON line
# per run and a median table.
#
#   bench/seriesload/compare.sh                  # working tree only, 3 rounds
#   bench/seriesload/compare.sh 75c7d13          # 75c7d13 vs the working tree
#   ROUNDS=5 SCRAPES=20 bench/seriesload/compare.sh 75c7d13 f438d78
#   FORMAT=proto bench/seriesload/compare.sh HEAD   # scrapes as Prometheus with PrometheusProto first
#
# The upstream is a static nginx answering like a provider (OpenAI headers,
# JSON body with usage), as in scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"
SCRAPES="${SCRAPES:-20}"
MODELS="${MODELS:-100}"
KEYS="${KEYS:-50}"
FORMAT="${FORMAT:-text}" # seriesload -format: text, openmetrics, proto
export PATH="$PATH:/usr/sbin:/sbin"

W="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

mkdir -p "$W/bin"
go build -o "$W/bin/" ./bench/seriesload
go build -o "$W/bin/exporter-new" ./cmd/exporter
BINS=()
for rev in "$@"; do
  rev=$(git rev-parse --short "$rev")
  log "building cmd/exporter at $rev"
  mkdir -p "$W/src-$rev"
  git archive "$rev" | tar -x -C "$W/src-$rev"
  (cd "$W/src-$rev" && go build -o "$W/bin/exporter-$rev" ./cmd/exporter)
  BINS+=("$rev")
done
BINS+=(new)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "compare.sh: nothing listening on port $1" >&2
  exit 1
}

UP=$(port)
mkdir -p "$W/nginx/tmp"
BODY='{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}'
cat >"$W/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
$(for t in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/nginx/tmp/%s;\n' "$t" "$W" "$t"; done)
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP backlog=4096;
    location / {
      default_type application/json;
      add_header x-ratelimit-limit-requests 10000 always;
      add_header x-ratelimit-remaining-requests 9999 always;
      add_header x-ratelimit-reset-requests 6ms always;
      add_header x-ratelimit-limit-tokens 2000000 always;
      add_header x-ratelimit-remaining-tokens 1999982 always;
      add_header x-ratelimit-reset-tokens 1ms always;
      return 200 '$BODY';
    }
  }
}
EOF
nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" &
PIDS+=($!)
wait_port "$UP"
printf 'providers:\n  - name: up\n    dialect: openai\n    upstream: http://127.0.0.1:%s\n' "$UP" >"$W/providers.yaml"

for r in $(seq 1 "$ROUNDS"); do
  for b in "${BINS[@]}"; do
    P=$(port) M=$(port)
    HEADROOM_CONFIG="$W/providers.yaml" HEADROOM_PROXY_ADDR="127.0.0.1:$P" HEADROOM_METRICS_ADDR="127.0.0.1:$M" \
      HEADROOM_LOG_LEVEL=warn "$W/bin/exporter-$b" &
    pid=$!
    wait_port "$P"
    wait_port "$M"
    "$W/bin/seriesload" -proxy "http://127.0.0.1:$P/up" -metrics "http://127.0.0.1:$M/metrics" -pid "$pid" \
      -models "$MODELS" -keys "$KEYS" -scrapes "$SCRAPES" -format "$FORMAT" >"$W/$b-$r.json"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    printf '{"exporter":"%s","round":%d,%s\n' "$b" "$r" "$(cut -c2- "$W/$b-$r.json")"
  done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { grep -o "\"$2\":[0-9.e+-]*" "$1" | cut -d: -f2; }
echo
echo "| exporter | rate-limit series | RSS loaded MiB | RSS after scrapes MiB | scrape p50 ms | scrape max ms | Headroom CPU ms per scrape | scrape MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for b in "${BINS[@]}"; do
  row="| $b"
  for f in ratelimit_series rss_loaded_mib rss_after_mib scrape_p50_ms scrape_max_ms scrape_cpu_ms scrape_bytes; do
    v=$(for r in $(seq 1 "$ROUNDS"); do field "$W/$b-$r.json" "$f"; done | median)
    case $f in
    scrape_bytes) v=$(awk -v v="$v" 'BEGIN {printf "%.1f", v/1048576}') ;;
    ratelimit_series) ;;
    *) v=$(awk -v v="$v" 'BEGIN {printf "%.1f", v}') ;;
    esac
    row="$row | $v"
  done
  echo "$row |"
done
echo "(medians of $ROUNDS interleaved rounds; $MODELS models × $KEYS keys; $SCRAPES $FORMAT scrapes per run)"
