#!/usr/bin/env bash
# Benchmarks Headroom's proxy beside peer proxies in front of the same
# upstream, in one run on one machine, and writes docs/benchmarks.md with a
# verdict on each speed target of issue 15 (ratios to nginx measured in the
# same run).
#
#   ./scripts/bench.sh                 # full run, about 20 minutes
#   BENCH_QUICK=1 ./scripts/bench.sh   # smoke run, about 3 minutes
#   BENCH_OUT=/tmp/b.md ./scripts/bench.sh
#   BENCH_BASELINE=<git rev> ./scripts/bench.sh   # also measure cmd/exporter
#                                                  # built at that revision
#
# Settings (environment): BENCH_DURATION (wrk, 10s), BENCH_ROUNDS (3),
# BENCH_RATE (vegeta, 500 req/s), BENCH_LATENCY_DURATION (10s),
# BENCH_CONNECTIONS (wrk, 64), BENCH_SSE_STREAMS (sequential, 60),
# BENCH_HOLD_STREAMS (1000), BENCH_HOLD_SECONDS (10).
#
# The paths, all to one static nginx upstream that answers like a provider
# (JSON body, OpenAI rate-limit headers):
#   - direct;
#   - through Headroom (cmd/exporter, default settings), and optionally a
#     Headroom built at BENCH_BASELINE, so before and after compare within
#     one run;
#   - through nginx (a plain reverse proxy with upstream keepalive), HAProxy
#     (mode http, http-reuse always), Caddy (reverse_proxy) and the Portkey
#     AI gateway (Node.js), each as its documentation sets it up;
#   - through a bare TCP relay (bench/tcprelay: reads nothing of HTTP), the
#     least a proxy can add on this machine.
# What it measures:
#   - throughput with wrk (2 threads, 64 connections, POST with a JSON body),
#     rounds interleaved, and each proxy's CPU time per request from
#     /proc/<pid>/stat during the same rounds;
#   - latency at a fixed 500 req/s with vegeta, each path right after a
#     direct run of its own, and the latency each proxy adds (p50, p99);
#   - SSE time to first byte and inter-event delay (bench/sseclient),
#     fakeprovider direct, through Headroom and through nginx;
#   - 1,000 concurrent SSE streams held 10 s through Headroom and through
#     nginx (fakeprovider with a stream delay as upstream; a fresh proxy per
#     round): every event counted, the proxy's RSS growth per held stream
#     and its CPU time over the hold (bench/sseclient -concurrent);
#   - RSS and /metrics scrape time of a fresh Headroom holding 10k rate-limit
#     series (bench/seriesload);
#   - the proxy's own cost over loopback, one request at a time (go test
#     -bench Loopback ./proxy);
#   - per-dialect normalisation cost (go test -bench BenchmarkDialects);
#   - tail lines per second per format on one core (go test -bench ./tail);
#   - a CPU profile of Headroom under wrk load (bench/headroomprof).
# Ratios to nginx are medians of per-round ratios: the two run back to back
# in each round, so a spell that slows the whole machine slows both.
#
# Installs what it runs when missing (pinned, idempotent; scripts/test.sh
# does not, as no test needs them): wrk, nginx, HAProxy and Caddy from
# Debian (scripts/deps/bench/peers.sh), vegeta (scripts/deps/bench/vegeta.sh)
# and the Portkey gateway (scripts/deps/bench/portkey.sh, needs Node.js 20).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks.md}"
DUR="${BENCH_DURATION:-10s}"
ROUNDS="${BENCH_ROUNDS:-3}"
RATE="${BENCH_RATE:-500}"
LAT_DUR="${BENCH_LATENCY_DURATION:-10s}"
CONNS="${BENCH_CONNECTIONS:-64}"
SSE_N="${BENCH_SSE_STREAMS:-60}"
HOLD_N="${BENCH_HOLD_STREAMS:-1000}"
HOLD_S="${BENCH_HOLD_SECONDS:-10}"
WARM=2s        # wrk and vegeta warm-up per path
SCRAPES=20     # seriesload
GOCOUNT=3      # go test -count
BENCHTIME=1s   # go test -benchtime
if [ -n "${BENCH_QUICK:-}" ]; then
  DUR=3s ROUNDS=1 LAT_DUR=3s SSE_N=10 HOLD_N=200 HOLD_S=5 WARM=1s SCRAPES=5 GOCOUNT=1 BENCHTIME=200ms
fi
CHUNKS=20 # content chunks per fakeprovider stream

log() { printf '== %s\n' "$*" >&2; }

bash scripts/deps/bench/peers.sh
bash scripts/deps/bench/vegeta.sh
PORTKEY_JS="$(bash scripts/deps/bench/portkey.sh)"
PORTKEY_VERSION=$(sed -n 's/.*"@portkey-ai\/gateway": "\([^"]*\)".*/\1/p' scripts/deps/bench/portkey/package.json)
VEGETA_VERSION=$(sed -n 's/^VERSION=//p' scripts/deps/bench/vegeta.sh)
export PATH="$(go env GOPATH)/bin:$PATH:/usr/sbin:/sbin"

# The held streams need a descriptor each in the client, two in a proxy
# (client and upstream) and one in the upstream, all from this shell's limit.
NOFILE=$((HOLD_N * 2 + 1024))
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$NOFILE" ]; then
  echo "bench.sh: $HOLD_N held streams need $NOFILE file descriptors per process; the hard limit is $HARD" >&2
  exit 1
fi
SOFT=$(ulimit -n)
if [ "$SOFT" != unlimited ] && [ "$SOFT" -lt "$NOFILE" ]; then ulimit -n "$NOFILE"; fi

W="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
# stop PID: ends a server this script started and forgets it (its id may be
# another process's later).
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# What is measured is the tree as it is now (taken before the report is
# written: writing it would make the tree look dirty).
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ", dirty tree")"
log "building"
mkdir -p "$W/bin"
go build -o "$W/bin/" ./cmd/exporter ./cmd/fakeprovider ./bench/sseclient ./bench/seriesload ./bench/headroomprof ./bench/tcprelay
BASELINE="${BENCH_BASELINE:-}" BASELINE_REV=""
if [ -n "$BASELINE" ]; then
  BASELINE_REV=$(git rev-parse --short "$BASELINE")
  log "building the baseline at $BASELINE_REV"
  git worktree add --detach "$W/base" "$BASELINE" >/dev/null 2>&1
  (cd "$W/base" && go build -o "$W/bin/exporter-baseline" ./cmd/exporter)
  git worktree remove --force "$W/base"
fi

# Free loopback ports below the ephemeral range: a port the kernel hands
# out (bind to 0) can be taken again by one of the many outgoing connections
# the load generators open before a server that is started later binds it.
EPH_LO=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ports=()
while [ "${#ports[@]}" -lt 21 ]; do
  p=$((10000 + RANDOM % (EPH_LO - 10000)))
  case " ${ports[*]} " in *" $p "*) continue ;; esac
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue # in use
  ports+=("$p")
done
UP=${ports[0]} NP=${ports[1]} HAP=${ports[2]} CDP=${ports[3]} PKP=${ports[4]} TP=${ports[5]}
HP=${ports[6]} HM=${ports[7]} BP=${ports[8]} BM=${ports[9]}
FP=${ports[10]} SFP=${ports[11]} SHP=${ports[12]} SHM=${ports[13]} SNP=${ports[14]}
PP=${ports[15]} PM=${ports[16]} SP=${ports[17]} SM=${ports[18]} QP=${ports[19]} QM=${ports[20]}

# nginx_group PID: nginx's master and its workers (worker_processes auto:
# one per core), once the workers are there.
nginx_group() {
  for _ in $(seq 1 50); do
    [ "$(pgrep -P "$1" | wc -l)" -lt "$(nproc)" ] || break
    sleep 0.1
  done
  echo "$1" $(pgrep -P "$1")
}
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench.sh: nothing listening on port $1" >&2
  exit 1
}

# --- upstreams and proxies ---------------------------------------------------
BODY='{"id":"chatcmpl-bench","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}'
temps() { # nginx temp paths inside $1
  for t in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/tmp/%s;\n' "$t" "$1" "$t"; done
}
mkdir -p "$W/nginx-up/tmp"
cat >"$W/nginx-up/nginx.conf" <<EOF
# Static upstream that answers like a provider: JSON body and OpenAI-style
# rate-limit headers.
daemon off;
worker_processes 1;
pid $W/nginx-up/nginx.pid;
error_log $W/nginx-up/error.log warn;
events { worker_connections 4096; }
http {
$(temps "$W/nginx-up")
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP reuseport backlog=4096;
    location / {
      default_type application/json;
      add_header x-ratelimit-limit-requests 10000 always;
      add_header x-ratelimit-remaining-requests 9999 always;
      add_header x-ratelimit-reset-requests 6ms always;
      add_header x-ratelimit-limit-tokens 2000000 always;
      add_header x-ratelimit-remaining-tokens 1999982 always;
      add_header x-ratelimit-reset-tokens 1ms always;
      add_header openai-processing-ms 1 always;
      return 200 '$BODY';
    }
  }
}
EOF
# nginx_proxy DIR PORT: a plain production reverse proxy (upstream
# keepalive, HTTP/1.1 upstream) on PORT, with Headroom's routes: / to the
# static upstream, /fake/ and /hold/ to the two fakeproviders, streamed
# (proxy_buffering off, as nginx's guides set it up for server-sent events).
nginx_proxy() {
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
daemon off;
worker_processes auto;
worker_rlimit_nofile $NOFILE;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $NOFILE; }
http {
$(temps "$1")
  access_log off;
  keepalive_requests 1000000;
  upstream provider { server 127.0.0.1:$UP; keepalive 256; }
  upstream fake { server 127.0.0.1:$FP; keepalive 256; }
  upstream hold { server 127.0.0.1:$SFP; keepalive 256; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:$2 reuseport backlog=4096;
    location / { proxy_pass http://provider; }
    location /fake/ { proxy_pass http://fake/; proxy_buffering off; }
    location /hold/ { proxy_pass http://hold/; proxy_buffering off; }
  }
}
EOF
}
nginx_proxy "$W/nginx-proxy" "$NP"
nginx_proxy "$W/nginx-hold" "$SNP"
# HAProxy in its HTTP mode, idle upstream connections shared between
# clients (http-reuse always: what its documentation recommends in front of
# a server that keeps connections alive); threads: one per core (default).
cat >"$W/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend bench
  bind 127.0.0.1:$HAP
  default_backend provider
backend provider
  server up 127.0.0.1:$UP
EOF
# Caddy's reverse_proxy with its defaults but the idle pool, sized as
# nginx's keepalive (Caddy keeps 32 by default).
mkdir -p "$W/caddy"
cat >"$W/caddy/Caddyfile" <<EOF
{
	admin off
	auto_https off
}
http://127.0.0.1:$CDP {
	reverse_proxy 127.0.0.1:$UP {
		transport http {
			keepalive_idle_conns_per_host 256
		}
	}
}
EOF
nginx -c "$W/nginx-up/nginx.conf" -p "$W/nginx-up" & PIDS+=("$!")
nginx -c "$W/nginx-proxy/nginx.conf" -p "$W/nginx-proxy" & PIDS+=("$!")
NGINX_PID=$!
haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 & PIDS+=("$!")
HAPROXY_PID=$!
HOME="$W/caddy" XDG_CONFIG_HOME="$W/caddy" XDG_DATA_HOME="$W/caddy" \
  caddy run --config "$W/caddy/Caddyfile" --adapter caddyfile >"$W/caddy.log" 2>&1 & PIDS+=("$!")
CADDY_PID=$!
NODE_ENV=production node "$PORTKEY_JS" --port="$PKP" --headless >"$W/portkey.log" 2>&1 & PIDS+=("$!")
PORTKEY_PID=$!
"$W/bin/tcprelay" -listen "127.0.0.1:$TP" -upstream "127.0.0.1:$UP" & PIDS+=("$!")
TCPRELAY_PID=$!
"$W/bin/fakeprovider" -listen "127.0.0.1:$FP" -provider openai -scale 1000 -stream-delay 10ms \
  -stream-chunks "$CHUNKS" -log-level warn & PIDS+=("$!")

cat >"$W/providers.yaml" <<EOF
providers:
  - name: up
    dialect: openai
    upstream: http://127.0.0.1:$UP
  - name: fake
    catalog: openai
    upstream: http://127.0.0.1:$FP
  - name: hold
    catalog: openai
    upstream: http://127.0.0.1:$SFP
EOF
headroom() { # proxy-port metrics-port binary [args]: Headroom with default settings
  HEADROOM_CONFIG="$W/providers.yaml" HEADROOM_PROXY_ADDR="127.0.0.1:$1" HEADROOM_METRICS_ADDR="127.0.0.1:$2" \
    HEADROOM_LOG_LEVEL=warn "$3" "${@:4}" &
}
headroom "$HP" "$HM" "$W/bin/exporter"
HPID=$!
PIDS+=("$HPID")
if [ -n "$BASELINE" ]; then
  headroom "$BP" "$BM" "$W/bin/exporter-baseline"
  BASELINE_PID=$!
  PIDS+=("$BASELINE_PID")
fi
for p in $UP $NP $HAP $CDP $PKP $TP $FP $HP $HM; do wait_port "$p"; done
[ -z "$BASELINE" ] || wait_port "$BP"

# The paths. Each gets a wrk script and a vegeta target with the same
# request; Portkey is told where to send it by two of its headers.
TARGETS=(direct headroom)
[ -z "$BASELINE" ] || TARGETS+=(baseline)
TARGETS+=(nginx haproxy caddy portkey tcprelay)
declare -A URL=(
  [direct]="http://127.0.0.1:$UP/v1/chat/completions"
  [headroom]="http://127.0.0.1:$HP/up/v1/chat/completions"
  [baseline]="http://127.0.0.1:$BP/up/v1/chat/completions"
  [nginx]="http://127.0.0.1:$NP/v1/chat/completions"
  [haproxy]="http://127.0.0.1:$HAP/v1/chat/completions"
  [caddy]="http://127.0.0.1:$CDP/v1/chat/completions"
  [portkey]="http://127.0.0.1:$PKP/v1/chat/completions"
  [tcprelay]="http://127.0.0.1:$TP/v1/chat/completions")
declare -A NAME=(
  [direct]="direct" [headroom]="Headroom" [baseline]="Headroom built at $BASELINE_REV (before)"
  [nginx]="nginx" [haproxy]="HAProxy" [caddy]="Caddy" [portkey]="Portkey AI gateway"
  [tcprelay]="bare TCP relay (bench/tcprelay; no HTTP)")
# The processes whose CPU time is the proxy's: nginx's master and workers.
declare -A GROUP=(
  [headroom]="$HPID" [baseline]="${BASELINE_PID:-}" [nginx]="$(nginx_group "$NGINX_PID")"
  [haproxy]="$HAPROXY_PID" [caddy]="$CADDY_PID" [portkey]="$PORTKEY_PID" [tcprelay]="$TCPRELAY_PID")
REQ='{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}'
printf '%s' "$REQ" >"$W/body.json"
for t in "${TARGETS[@]}"; do
  hdrs=("Content-Type: application/json" "Authorization: Bearer sk-bench-0000")
  [ "$t" != portkey ] || hdrs+=("x-portkey-provider: openai" "x-portkey-custom-host: http://127.0.0.1:$UP/v1")
  {
    printf 'wrk.method = "POST"\nwrk.body = %s\n' "'$REQ'"
    for h in "${hdrs[@]}"; do printf 'wrk.headers["%s"] = "%s"\n' "${h%%: *}" "${h#*: }"; done
  } >"$W/wrk-$t.lua"
  { echo "POST ${URL[$t]}"; printf '%s\n' "${hdrs[@]}"; echo "@$W/body.json"; } >"$W/vegeta-$t.txt"
done
attack() { # target rate duration: vegeta's results on stdout
  vegeta attack -targets="$W/vegeta-$1.txt" -rate="$2/s" -duration="$3"
}

# Every path must answer 200 before anything is measured.
for t in "${TARGETS[@]}"; do
  codes=$(attack "$t" 5 1s | vegeta report -type=json | grep -o '"status_codes":{[^}]*}')
  [ "$codes" = '"status_codes":{"200":5}' ] || { echo "bench.sh: $t answered $codes" >&2; exit 1; }
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b <= 0) print "n/a"; else printf "%.2f", a / b}'; }
# paired metric a b: the median over the rounds of a's figure over b's in
# the same round (files $W/<metric>-a and $W/<metric>-b, a line per round).
paired() {
  paste "$W/$1-$2" "$W/$1-$3" | awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median |
    awk 'NF {printf "%.2f", $1} END {if (!NR) print "n/a"}'
}
# pairdiff metric a b: the median over the rounds of a's figure minus b's.
pairdiff() { paste "$W/$1-$2" "$W/$1-$3" | awk '{print $1 - $2}' | median; }
rounds() { paste -sd' ' "$W/$1"; }
rounds1() { awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $1} END {print ""}' "$W/$1"; }
us() { awk -v n="$1" 'BEGIN {printf "%.0f", n / 1000}'; }

# --- throughput ----------------------------------------------------------------
log "throughput: wrk -t2 -c$CONNS -d$DUR, $ROUNDS interleaved rounds"
# CPU per request of the proxy's own processes (user + system, from
# /proc/<pid>/stat) while wrk runs: less sensitive than req/s to what else
# the shared cores are doing, and it says what each proxy costs by itself.
TICK=$(getconf CLK_TCK)
cputicks() { # pids... -> utime+stime ticks, summed
  local p s=0
  for p in "$@"; do s=$((s + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))); done
  echo "$s"
}
for t in "${TARGETS[@]}"; do wrk -t2 -c"$CONNS" -d"$WARM" -s "$W/wrk-$t.lua" "${URL[$t]}" >/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    g="${GROUP[$t]:-}" c0=0
    [ -z "$g" ] || c0=$(cputicks $g)
    wrk -t2 -c"$CONNS" -d"$DUR" --latency -s "$W/wrk-$t.lua" "${URL[$t]}" >"$W/wrk-$t-$r.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-$t-$r.txt")
    if [ -n "$g" ]; then
      c1=$(cputicks $g)
      n=$(awk '/requests in/ {print $1}' "$W/wrk-$t-$r.txt")
      awk -v c=$((c1 - c0)) -v t="$TICK" -v n="$n" 'BEGIN {printf "%.1f\n", c / t * 1e6 / n}' >>"$W/cpu-$t"
    fi
    errs=$(awk '/Non-2xx|Socket errors/ {print}' "$W/wrk-$t-$r.txt")
    [ -z "$errs" ] || echo "bench.sh: $t round $r: $errs" >&2
    echo "$rps" >>"$W/rps-$t"
    log "  round $r $t: $rps req/s"
  done
done
declare -A RPS CPU HWM
for t in "${TARGETS[@]}"; do
  RPS[$t]=$(median <"$W/rps-$t")
  [ ! -s "$W/cpu-$t" ] || CPU[$t]=$(median <"$W/cpu-$t")
  # Peak RSS so far (VmHWM), the group's processes summed.
  [ -z "${GROUP[$t]:-}" ] || HWM[$t]=$(for p in ${GROUP[$t]}; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done |
    awk '{s += $1} END {printf "%.0f", s / 1024}')
done

# --- latency at a fixed rate ---------------------------------------------------------
log "latency: vegeta at $RATE req/s, $ROUNDS interleaved rounds of $LAT_DUR, each path paired with a direct run"
for t in "${TARGETS[@]}"; do attack "$t" "$RATE" "$WARM" >/dev/null; done
latency_run() { # target round: appends its p50 and p99 (ns) to $W/p50-<target>, $W/p99-<target>
  local t=$1 r=$2 f="$W/vegeta-$1-$2.json"
  attack "$t" "$RATE" "$LAT_DUR" | vegeta report -type=json >"$f"
  grep -o '"50th":[0-9]*' "$f" | cut -d: -f2 >>"$W/p50-$t"
  grep -o '"99th":[0-9]*' "$f" | cut -d: -f2 >>"$W/p99-$t"
  grep -o '"throughput":[0-9.e+-]*' "$f" | cut -d: -f2 >>"$W/answered-$t"
  log "  round $r $t: p50 $(tail -1 "$W/p50-$t") ns, p99 $(tail -1 "$W/p99-$t") ns, success $(grep -o '"success":[0-9.]*' "$f" | cut -d: -f2)"
  # A latency over answers that are not all 200 (a 404, a 502) is another
  # path's latency: say so where the throughput rounds say theirs.
  grep -q '"status_codes":{"200":[0-9]*}' "$f" ||
    echo "bench.sh: $t latency round $r: $(grep -o '"status_codes":{[^}]*}' "$f")" >&2
}
# Each path runs right after a direct run of its own, and what it adds is
# the median over the rounds of that pair's difference: the neighbours on
# the shared cores change from one run to the next (a direct median taken
# once per round was off by tens of µs in noisy stretches), much less
# within a pair.
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    [ "$t" != direct ] || continue
    latency_run direct "$r"
    latency_run "$t" "$r"
    for q in 50 99; do
      echo $(($(tail -1 "$W/p$q-$t") - $(tail -1 "$W/p$q-direct"))) >>"$W/add$q-$t"
    done
  done
done
declare -A P50 P99 ADD50 ADD99 ANSWERED
for t in "${TARGETS[@]}"; do
  P50[$t]=$(median <"$W/p50-$t")
  P99[$t]=$(median <"$W/p99-$t")
  ANSWERED[$t]=$(median <"$W/answered-$t" | awk '{printf "%.0f", $1}')
  [ "$t" = direct ] || { ADD50[$t]=$(median <"$W/add50-$t"); ADD99[$t]=$(median <"$W/add99-$t"); }
done

# --- SSE: time to first byte, delay between events ------------------------------------
SSE_PATHS=(direct headroom)
[ -z "$BASELINE" ] || SSE_PATHS+=(baseline)
SSE_PATHS+=(nginx)
declare -A SSE_URL=([direct]="http://127.0.0.1:$FP" [headroom]="http://127.0.0.1:$HP/fake"
  [baseline]="http://127.0.0.1:$BP/fake" [nginx]="http://127.0.0.1:$NP/fake")
log "SSE: $SSE_N sequential streams of $CHUNKS chunks, 10 ms apart: ${SSE_PATHS[*]}"
for t in "${SSE_PATHS[@]}"; do
  "$W/bin/sseclient" -url "${SSE_URL[$t]}/v1/chat/completions" -n "$SSE_N" >"$W/sse-$t.json"
done
jget() { grep -o "\"$2\":[0-9.e+-]*" "$1" | cut -d: -f2; }
# Every stream carries the same events (fakeprovider's: a role chunk, the
# content chunks, a finish chunk, the usage, [DONE]); the held streams
# below must each bring all of them.
EVENTS=$(jget "$W/sse-direct.json" events_min)
[ "$EVENTS" = "$(jget "$W/sse-direct.json" events_max)" ] && [ "$EVENTS" -gt 1 ] || {
  echo "bench.sh: fakeprovider's streams carried $EVENTS to $(jget "$W/sse-direct.json" events_max) events" >&2
  exit 1
}

# --- SSE: streams held at once ----------------------------------------------------------
# The hold's upstream spaces the same events so that a stream lasts
# HOLD_S seconds.
HOLD_DELAY_MS=$((HOLD_S * 1000 / (EVENTS - 1)))
"$W/bin/fakeprovider" -listen "127.0.0.1:$SFP" -provider openai -scale 1000 -stream-delay "${HOLD_DELAY_MS}ms" \
  -stream-chunks "$CHUNKS" -log-level warn & PIDS+=("$!")
wait_port "$SFP"
HOLD_PATHS=(headroom)
[ -z "$BASELINE" ] || HOLD_PATHS+=(baseline)
HOLD_PATHS+=(nginx)
hold() { # target round: a fresh proxy, warmed by a few short streams, then HOLD_N held streams
  local t=$1 r=$2 pid group base
  case $t in
  headroom | baseline)
    local bin="$W/bin/exporter"
    [ "$t" = headroom ] || bin="$W/bin/exporter-baseline"
    headroom "$SHP" "$SHM" "$bin"
    pid=$!
    PIDS+=("$pid")
    wait_port "$SHP"
    group=$pid base="http://127.0.0.1:$SHP"
    ;;
  nginx)
    nginx -c "$W/nginx-hold/nginx.conf" -p "$W/nginx-hold" &
    pid=$!
    PIDS+=("$pid")
    wait_port "$SNP"
    group="$(nginx_group "$pid")" base="http://127.0.0.1:$SNP"
    ;;
  esac
  "$W/bin/sseclient" -url "$base/fake/v1/chat/completions" -n 5 >/dev/null
  "$W/bin/sseclient" -concurrent -n "$HOLD_N" -expect "$EVENTS" -pids "$group" \
    -url "$base/hold/v1/chat/completions" >"$W/hold-$t-$r.json"
  stop "$pid"
  local f="$W/hold-$t-$r.json"
  jget "$f" rss_growth_per_stream_kib >>"$W/holdrss-$t"
  jget "$f" cpu_ms >>"$W/holdcpu-$t"
  jget "$f" missing_events >>"$W/holdmissing-$t"
  jget "$f" failed_streams >>"$W/holdfailed-$t"
  jget "$f" events >>"$W/holdevents-$t"
  log "  round $r $t: $(jget "$f" events) events of $((HOLD_N * EVENTS)), RSS +$(jget "$f" rss_growth_per_stream_kib) KiB per stream, CPU $(jget "$f" cpu_ms) ms"
}
log "SSE: $HOLD_N streams held ${HOLD_S}s at once ($EVENTS events each), direct once, then ${HOLD_PATHS[*]} in $ROUNDS interleaved rounds"
"$W/bin/sseclient" -concurrent -n "$HOLD_N" -expect "$EVENTS" -url "http://127.0.0.1:$SFP/v1/chat/completions" >"$W/hold-direct.json"
for r in $(seq 1 "$ROUNDS"); do
  for t in "${HOLD_PATHS[@]}"; do hold "$t" "$r"; done
done
declare -A HOLDRSS HOLDCPU HOLDMISSING HOLDFAILED
for t in "${HOLD_PATHS[@]}"; do
  HOLDRSS[$t]=$(median <"$W/holdrss-$t")
  HOLDCPU[$t]=$(median <"$W/holdcpu-$t")
  HOLDMISSING[$t]=$(awk '{s += $1} END {print s + 0}' "$W/holdmissing-$t")
  HOLDFAILED[$t]=$(awk '{s += $1} END {print s + 0}' "$W/holdfailed-$t")
done

# --- CPU profile under load ----------------------------------------------------------
log "profile: Headroom under wrk load"
stop "$HPID"
[ -z "$BASELINE" ] || stop "$BASELINE_PID"
headroom "$PP" "$PM" "$W/bin/headroomprof" -cpuprofile "$W/cpu.pprof"
PPID_=$!
PIDS+=("$PPID_")
wait_port "$PP"
wrk -t2 -c"$CONNS" -d"$DUR" -s "$W/wrk-headroom.lua" "http://127.0.0.1:$PP/up/v1/chat/completions" >"$W/wrk-prof.txt"
kill -INT "$PPID_" 2>/dev/null || true
stop "$PPID_"
go tool pprof -top -nodecount=25 "$W/bin/headroomprof" "$W/cpu.pprof" 2>/dev/null >"$W/top.txt" || true
go tool pprof -top -cum -nodecount=25 "$W/bin/headroomprof" "$W/cpu.pprof" 2>/dev/null >"$W/topcum.txt" || true

# --- scale: 10k series ------------------------------------------------------------
log "scale: a fresh Headroom with 10k rate-limit series (text, then protobuf scrapes)"
scale() { # proxy-port metrics-port format
  headroom "$1" "$2" "$W/bin/exporter"
  local pid=$!
  PIDS+=("$pid")
  wait_port "$1"
  wait_port "$2"
  "$W/bin/seriesload" -proxy "http://127.0.0.1:$1/up" -metrics "http://127.0.0.1:$2/metrics" -pid "$pid" \
    -models 100 -keys 50 -scrapes "$SCRAPES" -format "$3" >"$W/scale-$3.json"
  stop "$pid"
}
scale "$SP" "$SM" text
# The protobuf exposition is what Prometheus asks for first with native
# histograms or scrape_protocols: [PrometheusProto, …].
scale "$QP" "$QM" proto

# --- Go benchmarks: loopback proxy cost, tail, normalisation ---------------------------
gobench() { # file package args...
  local f=$1 pkg=$2
  shift 2
  go test -run XXX -benchmem -benchtime "$BENCHTIME" "$@" "$pkg" >"$W/$f" 2>&1 || {
    cat "$W/$f" >&2
    echo "bench.sh: go test -bench $* $pkg failed" >&2
  }
}
log "loopback: go test -bench Loopback ./proxy ($GOCOUNT runs)"
gobench loopback.txt ./proxy -bench Loopback -count "$GOCOUNT"
log "tail: GOMAXPROCS=1 go test -bench ./tail"
GOMAXPROCS=1 gobench tail.txt ./tail -bench 'BenchmarkNginx|BenchmarkEnvoy|BenchmarkHeadroom|BenchmarkMapping'
log "normalisation: go test -bench BenchmarkDialects"
gobench gobench.txt ./parsers -bench BenchmarkDialects

# --- report --------------------------------------------------------------------
log "writing $OUT"
# Hand-written analysis below this marker in the existing file is kept.
MARK='<!-- analysis: hand-written below this line, kept by scripts/bench.sh -->'
NOTES=""
if [ -f "$OUT" ] && grep -qF "$MARK" "$OUT"; then
  NOTES="$(awk -v m="$MARK" 'f || $0 == m {f = 1; print}' "$OUT")"
fi
# verdict value threshold ge|le: "met" or "**missed**" ("not measured" for n/a).
verdict() {
  awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
    if (v == "n/a" || v == "") { print "**not measured**"; exit }
    ok = (dir == "ge" ? v + 0 >= t : v + 0 <= t); print (ok ? "met" : "**missed**") }'
}
TPUT=$(paired rps headroom nginx)
CPUR=$(paired cpu headroom nginx)
P99R=$(paired p99 headroom nginx)
D50=$(pairdiff add50 headroom nginx)
HRSSR=$(paired holdrss headroom nginx)
HCPUR=$(paired holdcpu headroom nginx)
EV_H="${HOLDMISSING[headroom]} missing, ${HOLDFAILED[headroom]} failed streams"
EV_N="${HOLDMISSING[nginx]} missing, ${HOLDFAILED[nginx]} failed streams"
EV_OK=met
[ "${HOLDMISSING[headroom]}${HOLDFAILED[headroom]}" = 00 ] || EV_OK="**missed**"
# f0, f1 x: x with no decimal, with one.
f0() { awk -v v="$1" 'BEGIN {printf "%.0f", v}'; }
f1() { awk -v v="$1" 'BEGIN {printf "%.1f", v}'; }
rss_mib() { awk -v v="$1" 'BEGIN {printf "%.1f", v / 1024}'; }
sse_row() {
  local f="$W/sse-$1.json" d="$W/sse-direct.json" k added=""
  printf '| %s |' "${NAME[$1]}"
  for k in ttfb_p50_us ttfb_p99_us gap_p50_us gap_p99_us; do printf ' %s |' "$(f0 "$(jget "$f" "$k")")"; done
  [ "$1" = direct ] || for k in ttfb_p50_us gap_p50_us; do
    added="$added $(awk -v a="$(jget "$f" "$k")" -v b="$(jget "$d" "$k")" 'BEGIN {printf "%.0f", a - b}') |"
  done
  printf '%s\n' "${added:- | |}"
}
hold_row() { # target file-of-round-1-or-direct
  local t=$1 f="$W/hold-$1-1.json"
  [ "$t" != direct ] || f="$W/hold-direct.json"
  if [ "$t" = direct ]; then
    printf '| direct (no proxy) | %s of %s | %s | %s | | | | | |\n' "$(jget "$f" events)" "$((HOLD_N * EVENTS))" \
      "$(jget "$f" missing_events)" "$(jget "$f" failed_streams)"
    return
  fi
  local n=$((HOLD_N * EVENTS * ROUNDS))
  printf '| %s | %s of %s | %s | %s | %s | %s | %s | %s | %s |\n' "${NAME[$t]}" \
    "$(awk '{s += $1} END {print s}' "$W/holdevents-$t")" "$n" "${HOLDMISSING[$t]}" "${HOLDFAILED[$t]}" \
    "$(rss_mib "$(jget "$f" rss_before_kib)")" "$(f1 "${HOLDRSS[$t]}")" "$(rounds1 "holdrss-$t")" \
    "$(f1 "${HOLDCPU[$t]}")" "$(rounds1 "holdcpu-$t")"
}
loopback_row() { # benchmark name
  field() { grep "^BenchmarkLoopback$1-" "$W/loopback.txt" | awk -v u="$2" '{for (i = 2; i < NF; i++) if ($(i+1) == u) print $i}'; }
  printf '| %s | %s | %s | %s |\n' "$1" "$(field "$1" ns/op | median | awk '{printf "%.1f", $1/1000}')" \
    "$(field "$1" cpu-ns/op | median | awk '{printf "%.1f", $1/1000}')" "$(field "$1" allocs/op | tail -1)"
}
PEERS=(headroom)
[ -z "$BASELINE" ] || PEERS+=(baseline)
PEERS+=(nginx haproxy caddy portkey tcprelay)
{
  cat <<EOF
# Benchmarks

Generated by \`./scripts/bench.sh\` on $(date -u +%Y-%m-%d) (commit $REV)$([ -z "${BENCH_QUICK:-}" ] || echo ", **a BENCH_QUICK smoke run: one short round, $HOLD_N held streams; not a measurement**").
These machines are noisy and shared: compare the ratios within one run, not absolute numbers
across runs. Re-run with \`./scripts/bench.sh\` (about 20 minutes; \`BENCH_QUICK=1\` for a smoke run;
\`BENCH_BASELINE=<rev>\` to measure a Headroom built at an older revision beside this one).

Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM,
Linux $(uname -r), $(go version | cut -d' ' -f3). Peers: $(nginx -v 2>&1 | sed 's/.*: //'), HAProxy $(haproxy -v | awk 'NR == 1 {print $3}'),
Caddy $(caddy version | awk '{print $1}'), Portkey AI gateway $PORTKEY_VERSION on Node.js $(node --version). Load: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), vegeta $VEGETA_VERSION.
Load generator, upstream and proxies share the same $(nproc) cores.

## Issue 15's targets

Headroom against nginx, both measured in this run; ratios are medians of per-round ratios (the two
run back to back in each round).

| target | measured | verdict |
|---|---|---|
| throughput ≥ 0.85× nginx's | **$TPUT×** (Headroom ${RPS[headroom]} req/s, nginx ${RPS[nginx]}) | $(verdict "$TPUT" 0.85 ge) |
| added p50 at $RATE req/s ≤ nginx's added p50 + 10 µs | Headroom +$(us "${ADD50[headroom]}") µs, nginx +$(us "${ADD50[nginx]}") µs; per round Headroom's minus nginx's: **$(awk -v d="$D50" 'BEGIN {printf "%+.0f", d / 1000}') µs** | $(verdict "$(us "$D50")" 10 le) |
| p99 at $RATE req/s ≤ 1.5× nginx's | **$P99R×** (Headroom $(us "${P99[headroom]}") µs, nginx $(us "${P99[nginx]}") µs) | $(verdict "$P99R" 1.5 le) |
| CPU per request ≤ 1.2× nginx's | **$CPUR×** (Headroom ${CPU[headroom]} µs, nginx ${CPU[nginx]} µs) | $(verdict "$CPUR" 1.2 le) |
| $HOLD_N SSE streams held ${HOLD_S} s: every event arrives | Headroom: $EV_H; nginx: $EV_N | $EV_OK |
| RSS growth per held stream ≤ 2× nginx's | **$HRSSR×** (Headroom $(f1 "${HOLDRSS[headroom]}") KiB, nginx $(f1 "${HOLDRSS[nginx]}") KiB) | $(verdict "$HRSSR" 2 le) |
| CPU over the hold ≤ 1.5× nginx's | **$HCPUR×** (Headroom $(f1 "${HOLDCPU[headroom]}") ms, nginx $(f1 "${HOLDCPU[nginx]}") ms) | $(verdict "$HCPUR" 1.5 le) |

## Proxy overhead

Upstream: a static nginx (1 worker) answering every POST with a 260-byte chat completion and
OpenAI rate-limit headers. The proxies, each on loopback in front of it:

- Headroom: \`cmd/exporter\`, one provider (\`dialect: openai\`), default settings.
- nginx: \`worker_processes auto\`, upstream \`keepalive 256\`, HTTP/1.1 to the upstream.
- HAProxy: \`mode http\`, \`http-reuse always\`, default threads (one per core).
- Caddy: \`reverse_proxy\` with \`admin off\`, \`auto_https off\`, and an idle pool of 256 per host
  (\`keepalive_idle_conns_per_host\`, as nginx's; Caddy's default is 32).
- Portkey AI gateway: \`node build/start-server.js --headless\` with \`NODE_ENV=production\`,
  routed by \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` (the upstream's \`/v1\`).
- bare TCP relay: \`bench/tcprelay\` (two goroutines and \`io.Copy\` per connection; reads nothing of
  HTTP): what relaying the bytes alone costs on this machine.

### Throughput (wrk -t2 -c$CONNS -d$DUR, POST with a JSON body; $ROUNDS interleaved rounds)

| path | req/s (median) | / nginx (per round) | rounds |
|---|---:|---:|---|
| direct | ${RPS[direct]} | $(paired rps direct nginx) | $(rounds rps-direct) |
$(for t in "${PEERS[@]}"; do printf '| %s | %s | %s | %s |\n' "${NAME[$t]}" "${RPS[$t]}" "$(paired rps "$t" nginx)" "$(rounds "rps-$t")"; done)

CPU per request of each proxy's own processes during the same rounds (user + system time from
\`/proc/<pid>/stat\`, nginx's master and workers summed, over the requests wrk completed). This is
the proxy's own cost, whatever the load generator and the upstream take on the shared cores.
Peak RSS is the processes' VmHWM after these rounds, summed.

| proxy | CPU µs per request (median) | / nginx (per round) | rounds | peak RSS MiB |
|---|---:|---:|---|---:|
$(for t in "${PEERS[@]}"; do printf '| %s | %s | %s | %s | %s |\n' "${NAME[$t]}" "${CPU[$t]}" "$(paired cpu "$t" nginx)" "$(rounds "cpu-$t")" "${HWM[$t]}"; done)

### Latency at $RATE req/s (vegeta; $ROUNDS interleaved rounds of $LAT_DUR per path)

Each path ran right after a direct run of its own; "added" is the median over the rounds of the
path's figure minus that direct run's. The two columns after it compare with nginx round by
round. "answered" is vegeta's rate of successful answers over the attack: a path well below
$RATE req/s could not keep up, and its latency is mostly its queue's.

| path | p50 µs | p99 µs | added p50 µs | added p99 µs | added p50 − nginx's, µs | p99 / nginx's | answered req/s |
|---|---:|---:|---:|---:|---:|---:|---:|
| direct | $(us "${P50[direct]}") | $(us "${P99[direct]}") | | | | | ${ANSWERED[direct]} |
$(for t in "${PEERS[@]}"; do printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${NAME[$t]}" "$(us "${P50[$t]}")" "$(us "${P99[$t]}")" \
  "$(us "${ADD50[$t]}")" "$(us "${ADD99[$t]}")" "$(us "$(pairdiff add50 "$t" nginx)")" "$(paired p99 "$t" nginx)" "${ANSWERED[$t]}"; done)

## Streaming (SSE)

### Time to first byte and between events

\`fakeprovider -provider openai -stream-delay 10ms -stream-chunks $CHUNKS\` ($EVENTS events a stream);
$SSE_N sequential streams (bench/sseclient) per path. nginx streams with \`proxy_buffering off\`.

| path | TTFB p50 µs | TTFB p99 µs | inter-event p50 µs | inter-event p99 µs | added TTFB p50 µs | added inter-event p50 µs |
|---|---:|---:|---:|---:|---:|---:|
$(for t in "${SSE_PATHS[@]}"; do sse_row "$t"; done)

### $HOLD_N streams held at once

\`bench/sseclient -concurrent\` opens $HOLD_N streams at once to \`fakeprovider -stream-delay
${HOLD_DELAY_MS}ms -stream-chunks $CHUNKS\` (each stream lasts about $HOLD_S s) and counts every event of
every stream; a stream that lacks one, or ends in an error, is a failed stream. Each round starts a
fresh proxy, warms it with 5 short streams, then reads the RSS of all its processes before the
streams open and every 200 ms while all are held (the peak is kept), and their CPU time from the
first stream's opening to the last one's end. $ROUNDS interleaved rounds; medians; the direct run
checks the upstream and the client alone, once.

| path | events received | missing | failed streams | RSS before MiB (round 1) | RSS growth per held stream KiB | rounds | CPU over the hold ms | rounds |
|---|---:|---:|---:|---:|---:|---|---:|---|
$(hold_row direct)
$(for t in "${HOLD_PATHS[@]}"; do hold_row "$t"; done)

Headroom / nginx, medians of the per-round ratios: RSS growth per stream $HRSSR×, CPU $HCPUR×.$([ -z "$BASELINE" ] || printf ' Headroom built at %s / nginx: RSS growth %s×, CPU %s×.' "$BASELINE_REV" "$(paired holdrss baseline nginx)" "$(paired holdcpu baseline nginx)")
$(for t in direct "${HOLD_PATHS[@]}"; do f="$W/hold-$t-1.json"; [ "$t" != direct ] || f="$W/hold-direct.json"; e=$(grep -o '"errors":{[^}]*}' "$f" || true); [ -z "$e" ] || printf '\n%s, first round: %s\n' "${NAME[$t]}" "\`$e\`"; done)

## Scale: 10k rate-limit series

A fresh Headroom; bench/seriesload sends one call per (model, key) pair, 100 models × 50 keys,
each response carrying a requests and a tokens limit, then times $SCRAPES scrapes of \`/metrics\`.

| format | rate-limit series | calls | RSS idle MiB | RSS loaded MiB | RSS after scrapes MiB | scrape p50 ms | scrape max ms | CPU ms per scrape | scrape size |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(for fm in text proto; do SC="$W/scale-$fm.json"; printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$fm" \
  "$(jget "$SC" ratelimit_series)" "$(jget "$SC" calls)" "$(f1 "$(jget "$SC" rss_before_mib)")" "$(f1 "$(jget "$SC" rss_loaded_mib)")" \
  "$(f1 "$(jget "$SC" rss_after_mib)")" "$(f1 "$(jget "$SC" scrape_p50_ms)")" "$(f1 "$(jget "$SC" scrape_max_ms)")" \
  "$(f1 "$(jget "$SC" scrape_cpu_ms)")" "$(awk -v v="$(jget "$SC" scrape_bytes)" 'BEGIN{printf "%.1f MiB", v/1048576}')"; done)

Targets (text, then protobuf): RSS ≤ 64 MiB: $(verdict "$(jget "$W/scale-text.json" rss_after_mib)" 64 le), $(verdict "$(jget "$W/scale-proto.json" rss_after_mib)" 64 le); scrape ≤ 50 ms: $(verdict "$(jget "$W/scale-text.json" scrape_p50_ms)" 50 le), $(verdict "$(jget "$W/scale-proto.json" scrape_p50_ms)" 50 le).

## The proxy's own cost over loopback (go test -run XXX -bench Loopback -benchmem -count $GOCOUNT ./proxy)

One keep-alive connection, one request at a time, to a canned upstream (an OpenAI answer with
its rate-limit headers): direct, through the proxy, and through the proxy with tracing on (every
span recorded and exported to a discarding exporter; or every span dropped by the sampler, the
context still propagated). ns/op is the round trip; cpu-ns/op the whole process's CPU per request;
allocations are the whole process's (client and upstream included).

\`\`\`
$(grep '^BenchmarkLoopback' "$W/loopback.txt")
\`\`\`

| path | round trip µs (median) | CPU µs per request (median) | allocs/op |
|---|---:|---:|---:|
$(for b in Direct Proxied Tracing TracingUnsampled; do loopback_row "$b"; done)

## Tail (GOMAXPROCS=1 go test -run XXX -bench 'BenchmarkNginx|BenchmarkEnvoy|BenchmarkHeadroom|BenchmarkMapping' -benchmem ./tail)

Lines per second per format on one core. Target ≥ 300k lines/s.

\`\`\`
$(grep '^Benchmark' "$W/tail.txt")
\`\`\`

## Normalisation (go test -bench BenchmarkDialects -benchmem ./parsers)

Per dialect, the golden capture with the most observations (the header path every response
takes) and, where the dialect reads one, its 429 body. Target for the header path: ≤ 1 µs and
≤ 2 allocations.

| benchmark | ns/op | B/op | allocs/op | observations |
|---|---:|---:|---:|---:|
$(awk '/^BenchmarkDialects\// {name=$1; sub(/^BenchmarkDialects\//, "", name); sub(/-[0-9]+$/, "", name);
  ns=""; b=""; a=""; o="";
  for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns=$i; if ($(i+1) == "B/op") b=$i; if ($(i+1) == "allocs/op") a=$i; if ($(i+1) == "observations") o=$i }
  printf "| %s | %s | %s | %s | %s |\n", name, ns, b, a, o}' "$W/gobench.txt")

## CPU profile of Headroom under wrk load

\`bench/headroomprof\` (cmd/exporter with a CPU profile), wrk -t2 -c$CONNS -d$DUR on the same machine:
$(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-prof.txt") req/s while profiled. Flat top 25:

\`\`\`
$(sed -n '1,35p' "$W/top.txt")
\`\`\`

Cumulative top 25:

\`\`\`
$(sed -n '1,35p' "$W/topcum.txt")
\`\`\`
EOF
  if [ -n "$NOTES" ]; then
    printf '\n%s\n' "$NOTES"
  else
    printf '\n%s\n' "$MARK"
  fi
} >"$OUT"
log "done: $OUT"
