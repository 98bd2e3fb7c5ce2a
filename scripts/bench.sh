#!/usr/bin/env bash
# Benchmarks Headroom against a direct connection and a plain nginx reverse
# proxy in the same run, on the same machine, and writes docs/benchmarks.md.
#
#   ./scripts/bench.sh                 # full run, about 20 minutes
#   BENCH_QUICK=1 ./scripts/bench.sh   # smoke run, about 1.5 minutes
#   BENCH_OUT=/tmp/b.md ./scripts/bench.sh
#   BENCH_BASELINE=<git rev> ./scripts/bench.sh   # also measure cmd/exporter
#                                                  # built at that revision
#
# What it measures (issue 7):
#   - throughput with wrk (2 threads, 64 connections, POST with a JSON body)
#     against a static nginx upstream that answers like a provider (JSON body,
#     OpenAI rate-limit headers): direct, through Headroom, through nginx
#     configured as a plain reverse proxy with upstream keepalive; rounds are
#     interleaved and the median is kept;
#   - Headroom twice, as it runs by default (the fast path, docs/proxy.md)
#     and with HEADROOM_FAST_PATH=false (every request through net/http's
#     server and ReverseProxy), and optionally a Headroom built at
#     BENCH_BASELINE, so before/after compare within one run;
#   - the same against a minimal net/http/httputil.ReverseProxy (bench/minrp),
#     to tell Headroom's own cost from net/http's;
#   - the same through four byte relays that read nothing of HTTP: nginx's
#     stream (TCP) proxy, a plain Go one (bench/tcprelay, io.Copy, two
#     goroutines per connection and the netpoller), a Go one with its own
#     epoll loop (bench/epollrelay) and a Go one shaped like Headroom's fast
#     path (bench/lockrelay: one goroutine per connection, raw syscalls, the
#     netpoller): the least a proxy can add on this machine, what Go's
#     netpoller costs by itself, and the floor of Headroom's own design;
#   - latency at a fixed 500 req/s with vegeta, the same ways, and the
#     latency each proxy adds over direct (p50, p99);
#   - SSE time to first byte and inter-event delay, fakeprovider direct vs
#     through Headroom (bench/sseclient);
#   - RSS and /metrics scrape time of a fresh Headroom holding 10k rate-limit
#     series (bench/seriesload);
#   - the proxy's own cost over loopback, one request at a time (go test
#     -bench Loopback ./proxy: direct, fast path, net/http's path);
#   - per-dialect normalisation cost (go test -bench BenchmarkDialects);
#   - tail lines per second per format on one core (go test -bench ./tail);
#   - a CPU profile of Headroom under wrk load (bench/headroomprof), top
#     functions.
# Installs wrk, nginx-light and nginx's stream module (scripts/deps/wrk.sh) and vegeta (go install,
# pinned) when missing.
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
if [ -n "${BENCH_QUICK:-}" ]; then
  DUR=3s ROUNDS=1 LAT_DUR=5s SSE_N=10
fi
VEGETA_VERSION=v12.13.0

log() { printf '== %s\n' "$*" >&2; }

bash scripts/deps/wrk.sh
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so # Debian's libnginx-mod-stream
export PATH="$(go env GOPATH)/bin:$PATH:/usr/sbin:/sbin"
if ! command -v vegeta >/dev/null 2>&1; then
  log "installing vegeta $VEGETA_VERSION"
  go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
fi

W="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# What is measured is the tree as it is now (taken before the report is
# written: writing it would make the tree look dirty).
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ", dirty tree")"
log "building"
mkdir -p "$W/bin"
go build -o "$W/bin/" ./cmd/exporter ./cmd/fakeprovider ./bench/sseclient ./bench/seriesload ./bench/headroomprof ./bench/minrp ./bench/tcprelay ./bench/epollrelay ./bench/lockrelay
# The path Headroom takes by default (config.Settings): "fast" when
# HEADROOM_FAST_PATH defaults to true, "std" (net/http's) otherwise.
DEFAULT_CLIENT=$(sed -n 's/.*env:"HEADROOM_FAST_PATH" envDefault:"\([a-z]*\)".*/\1/p' config/config.go)
if [ "$DEFAULT_CLIENT" = true ]; then DEFAULT_CLIENT=fast; else DEFAULT_CLIENT=std; fi
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
while [ "${#ports[@]}" -lt 20 ]; do
  p=$((10000 + RANDOM % (EPH_LO - 10000)))
  case " ${ports[*]} " in *" $p "*) continue ;; esac
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue # in use
  ports+=("$p")
done
UP=${ports[0]} NP=${ports[1]} FP=${ports[2]} HP=${ports[3]} HM=${ports[4]}
PP=${ports[5]} PM=${ports[6]} SP=${ports[7]} SM=${ports[8]} MP=${ports[9]}
FHP=${ports[10]} FHM=${ports[11]} BP=${ports[12]} BM=${ports[13]}
QP=${ports[14]} QM=${ports[15]}
LP=${ports[16]} TP=${ports[17]} EP=${ports[18]} KP=${ports[19]}

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
mkdir -p "$W/nginx-up/tmp" "$W/nginx-proxy/tmp" "$W/nginx-l4/tmp"
temps() { # nginx temp paths inside $1
  for t in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/tmp/%s;\n' "$t" "$1" "$t"; done
}
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
cat >"$W/nginx-proxy/nginx.conf" <<EOF
# A plain production reverse proxy: upstream keepalive, HTTP/1.1 upstream.
daemon off;
worker_processes auto;
pid $W/nginx-proxy/nginx.pid;
error_log $W/nginx-proxy/error.log warn;
events { worker_connections 4096; }
http {
$(temps "$W/nginx-proxy")
  access_log off;
  keepalive_requests 1000000;
  upstream provider {
    server 127.0.0.1:$UP;
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$NP reuseport backlog=4096;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
cat >"$W/nginx-l4/nginx.conf" <<EOF
# A byte relay (TCP, no HTTP): the least a proxy can add.
load_module $STREAM_MODULE;
daemon off;
worker_processes auto;
pid $W/nginx-l4/nginx.pid;
error_log $W/nginx-l4/error.log warn;
events { worker_connections 4096; }
stream {
  server {
    listen 127.0.0.1:$LP reuseport backlog=4096;
    proxy_pass 127.0.0.1:$UP;
  }
}
EOF
nginx -c "$W/nginx-up/nginx.conf" -p "$W/nginx-up" & PIDS+=($!)
nginx -c "$W/nginx-proxy/nginx.conf" -p "$W/nginx-proxy" & PIDS+=($!)
NGINX_PROXY_PID=$!
nginx -c "$W/nginx-l4/nginx.conf" -p "$W/nginx-l4" & PIDS+=($!)
NGINX_L4_PID=$!
"$W/bin/tcprelay" -listen "127.0.0.1:$TP" -upstream "127.0.0.1:$UP" & PIDS+=($!)
TCPRELAY_PID=$!
"$W/bin/epollrelay" -listen "127.0.0.1:$EP" -upstream "127.0.0.1:$UP" & PIDS+=($!)
EPOLLRELAY_PID=$!
"$W/bin/lockrelay" -listen "127.0.0.1:$KP" -upstream "127.0.0.1:$UP" & PIDS+=($!)
LOCKRELAY_PID=$!
"$W/bin/minrp" -listen "127.0.0.1:$MP" -upstream "http://127.0.0.1:$UP" & PIDS+=($!)
MINRP_PID=$!
"$W/bin/fakeprovider" -listen "127.0.0.1:$FP" -provider openai -scale 1000 -stream-delay 10ms -stream-chunks 20 -log-level warn & PIDS+=($!)

cat >"$W/providers.yaml" <<EOF
providers:
  - name: up
    dialect: openai
    upstream: http://127.0.0.1:$UP
  - name: fake
    catalog: openai
    upstream: http://127.0.0.1:$FP
EOF
headroom() { # fast|std proxy-port metrics-port binary [args]
  local c=$1 p=$2 m=$3 bin=$4 fp=true
  shift 4
  [ "$c" = fast ] || fp=false
  HEADROOM_FAST_PATH="$fp" HEADROOM_CONFIG="$W/providers.yaml" HEADROOM_PROXY_ADDR="127.0.0.1:$p" \
    HEADROOM_METRICS_ADDR="127.0.0.1:$m" HEADROOM_LOG_LEVEL=warn "$bin" "$@" &
}
headroom std "$HP" "$HM" "$W/bin/exporter"
HPID=$!
PIDS+=($HPID)
headroom fast "$FHP" "$FHM" "$W/bin/exporter"
FHPID=$!
PIDS+=($FHPID)
for p in $UP $NP $FP $HP $HM $MP $FHP $FHM $LP $TP $EP $KP; do wait_port "$p"; done
if [ -n "$BASELINE" ]; then
  # The baseline runs with its own defaults.
  HEADROOM_CONFIG="$W/providers.yaml" HEADROOM_PROXY_ADDR="127.0.0.1:$BP" HEADROOM_METRICS_ADDR="127.0.0.1:$BM" \
    HEADROOM_LOG_LEVEL=warn "$W/bin/exporter-baseline" &
  PIDS+=($!)
  BASELINE_PID=$!
  wait_port "$BP"
fi

cat >"$W/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0000"
EOF
printf '%s' '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}],"max_tokens":20}' >"$W/body.json"

URL_direct="http://127.0.0.1:$UP/v1/chat/completions"
URL_std="http://127.0.0.1:$HP/up/v1/chat/completions"
URL_fast="http://127.0.0.1:$FHP/up/v1/chat/completions"
URL_baseline="http://127.0.0.1:$BP/up/v1/chat/completions"
URL_nginx="http://127.0.0.1:$NP/v1/chat/completions"
URL_minrp="http://127.0.0.1:$MP/v1/chat/completions"
URL_nginxl4="http://127.0.0.1:$LP/v1/chat/completions"
URL_tcprelay="http://127.0.0.1:$TP/v1/chat/completions"
URL_epollrelay="http://127.0.0.1:$EP/v1/chat/completions"
URL_lockrelay="http://127.0.0.1:$KP/v1/chat/completions"
TARGETS=(direct std fast nginx minrp nginxl4 tcprelay epollrelay lockrelay)
[ -z "$BASELINE" ] || TARGETS+=(baseline)

# Every target must answer 200 before anything is measured.
for t in "${TARGETS[@]}"; do
  u="URL_$t"
  codes=$(echo "POST ${!u}" | vegeta attack -rate=5/s -duration=1s -body="$W/body.json" \
    -header 'Content-Type: application/json' -header 'Authorization: Bearer sk-bench-0000' | vegeta report -type=json |
    grep -o '"status_codes":{[^}]*}')
  [ "$codes" = '"status_codes":{"200":5}' ] || { echo "bench.sh: $t answered $codes" >&2; exit 1; }
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
# paired a b: the median over the rounds of a's figure over b's in the same
# round (files $W/rps-a and $W/rps-b, a line per round). The two run back to
# back in each round, so a spell that slows the whole machine for a round
# slows both, where the ratio of the medians can pair a quiet round of one
# with a disturbed round of the other.
paired() { paste "$W/rps-$1" "$W/rps-$2" | awk '$2 > 0 {printf "%.4f\n", $1 / $2}' | median | awk '{printf "%.2f", $1}'; }

# --- throughput ----------------------------------------------------------------
log "throughput: wrk -t2 -c$CONNS -d$DUR, $ROUNDS interleaved rounds"
# CPU per request of the proxy's own processes (user + system, from
# /proc/<pid>/stat) while wrk runs: less sensitive than req/s to what else
# the shared cores are doing, and it says what each proxy costs by itself.
TICK=$(getconf CLK_TCK)
declare -A TPIDS=([std]="$HPID" [fast]="$FHPID" [minrp]="$MINRP_PID" [baseline]="${BASELINE_PID:-}"
  [nginx]="$(pgrep -P "$NGINX_PROXY_PID" | tr '\n' ' ')" [nginxl4]="$(pgrep -P "$NGINX_L4_PID" | tr '\n' ' ')"
  [tcprelay]="$TCPRELAY_PID" [epollrelay]="$EPOLLRELAY_PID" [lockrelay]="$LOCKRELAY_PID")
cputicks() { # pids... -> utime+stime ticks, summed
  local p s=0
  for p in "$@"; do s=$((s + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))); done
  echo "$s"
}
for t in "${TARGETS[@]}"; do u="URL_$t"; wrk -t2 -c"$CONNS" -d2s -s "$W/post.lua" "${!u}" >/dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    u="URL_$t"
    c0=0
    [ -z "${TPIDS[$t]:-}" ] || c0=$(cputicks ${TPIDS[$t]})
    wrk -t2 -c"$CONNS" -d"$DUR" --latency -s "$W/post.lua" "${!u}" >"$W/wrk-$t-$r.txt"
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-$t-$r.txt")
    if [ -n "${TPIDS[$t]:-}" ]; then
      c1=$(cputicks ${TPIDS[$t]})
      n=$(awk '/requests in/ {print $1}' "$W/wrk-$t-$r.txt")
      awk -v c=$((c1 - c0)) -v t="$TICK" -v n="$n" 'BEGIN {printf "%.1f\n", c / t * 1e6 / n}' >>"$W/cpu-$t"
    fi
    errs=$(awk '/Non-2xx|Socket errors/ {print}' "$W/wrk-$t-$r.txt")
    [ -z "$errs" ] || echo "bench.sh: $t round $r: $errs" >&2
    echo "$rps" >>"$W/rps-$t"
    log "  round $r $t: $rps req/s"
  done
done
declare -A RPS
for t in "${TARGETS[@]}"; do RPS[$t]=$(median <"$W/rps-$t"); done
declare -A CPU
for t in "${TARGETS[@]}"; do [ ! -s "$W/cpu-$t" ] || CPU[$t]=$(median <"$W/cpu-$t"); done
HRSS=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$HPID/status")
FHRSS=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$FHPID/status")

# --- latency at a fixed rate ---------------------------------------------------------
log "latency: vegeta at $RATE req/s, $ROUNDS interleaved rounds of $LAT_DUR, each path paired with a direct run"
declare -A P50 P99 ADD50 ADD99
for t in "${TARGETS[@]}"; do
  u="URL_$t"
  echo "POST ${!u}" | vegeta attack -rate="$RATE/s" -duration=2s -body="$W/body.json" \
    -header 'Content-Type: application/json' -header 'Authorization: Bearer sk-bench-0000' >/dev/null
done
latency_run() { # target round: appends its p50 and p99 (ns) to $W/p50-<target>, $W/p99-<target>
  local t=$1 r=$2 u="URL_$1" f="$W/vegeta-$1-$2.json"
  echo "POST ${!u}" | vegeta attack -rate="$RATE/s" -duration="$LAT_DUR" -body="$W/body.json" \
    -header 'Content-Type: application/json' -header 'Authorization: Bearer sk-bench-0000' |
    vegeta report -type=json >"$f"
  grep -o '"50th":[0-9]*' "$f" | cut -d: -f2 >>"$W/p50-$t"
  grep -o '"99th":[0-9]*' "$f" | cut -d: -f2 >>"$W/p99-$t"
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
for t in "${TARGETS[@]}"; do
  P50[$t]=$(median <"$W/p50-$t")
  P99[$t]=$(median <"$W/p99-$t")
  [ "$t" = direct ] || { ADD50[$t]=$(median <"$W/add50-$t"); ADD99[$t]=$(median <"$W/add99-$t"); }
done
# "headroom" is Headroom as it runs by default.
RPS[headroom]=${RPS[$DEFAULT_CLIENT]} P50[headroom]=${P50[$DEFAULT_CLIENT]} P99[headroom]=${P99[$DEFAULT_CLIENT]}
ADD50[headroom]=${ADD50[$DEFAULT_CLIENT]} ADD99[headroom]=${ADD99[$DEFAULT_CLIENT]}
us() { awk -v n="$1" 'BEGIN {printf "%.0f", n / 1000}'; }
addedus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a - b}'; }

# --- SSE ---------------------------------------------------------------------------
log "SSE: $SSE_N streams of 20 events, 10 ms apart, direct and through Headroom (fast path and net/http's)"
"$W/bin/sseclient" -url "http://127.0.0.1:$FP/v1/chat/completions" -n "$SSE_N" >"$W/sse-direct.json"
"$W/bin/sseclient" -url "http://127.0.0.1:$HP/fake/v1/chat/completions" -n "$SSE_N" >"$W/sse-std.json"
"$W/bin/sseclient" -url "http://127.0.0.1:$FHP/fake/v1/chat/completions" -n "$SSE_N" >"$W/sse-fast.json"
jget() { grep -o "\"$2\":[0-9.e+-]*" "$1" | cut -d: -f2; }

# --- CPU profile under load ----------------------------------------------------------
log "profile: Headroom ($DEFAULT_CLIENT) under wrk load"
for p in "$HPID" "$FHPID"; do
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
done
headroom "$DEFAULT_CLIENT" "$PP" "$PM" "$W/bin/headroomprof" -cpuprofile "$W/cpu.pprof"
PPID_=$!
PIDS+=($PPID_)
wait_port "$PP"
wrk -t2 -c"$CONNS" -d"$DUR" -s "$W/post.lua" "http://127.0.0.1:$PP/up/v1/chat/completions" >"$W/wrk-prof.txt"
kill -INT "$PPID_" 2>/dev/null || true
wait "$PPID_" 2>/dev/null || true
go tool pprof -top -nodecount=25 "$W/bin/headroomprof" "$W/cpu.pprof" 2>/dev/null >"$W/top.txt" || true
go tool pprof -top -cum -nodecount=25 "$W/bin/headroomprof" "$W/cpu.pprof" 2>/dev/null >"$W/topcum.txt" || true

# --- scale: 10k series ------------------------------------------------------------
log "scale: a fresh Headroom with 10k rate-limit series"
headroom "$DEFAULT_CLIENT" "$SP" "$SM" "$W/bin/exporter"
SPID=$!
PIDS+=($SPID)
wait_port "$SP"
wait_port "$SM"
"$W/bin/seriesload" -proxy "http://127.0.0.1:$SP/up" -metrics "http://127.0.0.1:$SM/metrics" -pid "$SPID" \
  -models 100 -keys 50 -scrapes 20 >"$W/scale.json"
kill "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
# The same with the protobuf exposition (what Prometheus asks for first with
# native histograms or scrape_protocols: [PrometheusProto, …]).
headroom "$DEFAULT_CLIENT" "$QP" "$QM" "$W/bin/exporter"
QPID=$!
PIDS+=($QPID)
wait_port "$QP"
wait_port "$QM"
"$W/bin/seriesload" -proxy "http://127.0.0.1:$QP/up" -metrics "http://127.0.0.1:$QM/metrics" -pid "$QPID" \
  -models 100 -keys 50 -scrapes 20 -format proto >"$W/scale-proto.json"

# --- Go benchmarks: loopback proxy cost, tail -------------------------------------------
log "loopback: go test -bench Loopback ./proxy (3 alternated runs)"
go test -run XXX -bench Loopback -benchmem -count 3 ./proxy >"$W/loopback.txt" 2>&1 || {
  cat "$W/loopback.txt" >&2
  echo "bench.sh: loopback benchmarks failed" >&2
}
log "tail: GOMAXPROCS=1 go test -bench . ./tail"
GOMAXPROCS=1 go test -run XXX -bench . -benchmem ./tail >"$W/tail.txt" 2>&1 || {
  cat "$W/tail.txt" >&2
  echo "bench.sh: tail benchmarks failed" >&2
}

# --- normalisation -----------------------------------------------------------------
log "normalisation: go test -bench BenchmarkDialects"
go test -run XXX -bench BenchmarkDialects -benchmem -benchtime 1s ./parsers >"$W/gobench.txt" 2>&1 || {
  cat "$W/gobench.txt" >&2
  echo "bench.sh: dialect benchmarks failed" >&2
}

# --- report --------------------------------------------------------------------
log "writing $OUT"
# Hand-written analysis below this marker in the existing file is kept.
MARK='<!-- analysis: hand-written below this line, kept by scripts/bench.sh -->'
NOTES=""
if [ -f "$OUT" ] && grep -qF "$MARK" "$OUT"; then
  NOTES="$(awk -v m="$MARK" 'f || $0 == m {f = 1; print}' "$OUT")"
fi
pass() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {ok = (dir == "ge" ? v >= t : v <= t); print (ok ? "met" : "**missed**")}'; }
HN=$(paired "$DEFAULT_CLIENT" nginx)
HNM=$(ratio "${RPS[headroom]}" "${RPS[nginx]}")
HD=$(ratio "${RPS[headroom]}" "${RPS[direct]}")
ND=$(ratio "${RPS[nginx]}" "${RPS[direct]}")
A50=$(us "${ADD50[headroom]}")
A99=$(us "${ADD99[headroom]}")
N50=$(us "${ADD50[nginx]}")
N99=$(us "${ADD99[nginx]}")
SD="$W/sse-direct.json" SH="$W/sse-$DEFAULT_CLIENT.json" SC="$W/scale.json"
# Optional rows and ratios: the non-default client and the baseline build.
opt() { [ -z "$BASELINE" ] || printf '\n%s' "$("$@")"; } # a row only with a baseline
rowr() { printf '| %s | %s | %s |\n' "$1" "${RPS[$2]}" "$(paste -sd' ' "$W/rps-$2")"; }
rowl() { printf '| %s | %s | %s | %s | %s |\n' "$1" "$(us "${P50[$2]}")" "$(us "${P99[$2]}")" "$(us "${ADD50[$2]}")" "$(us "${ADD99[$2]}")"; }
rows() { local f="$W/sse-$2.json"; printf '| %s | %s | %s | %s | %s |\n' "$1" "$(jget "$f" ttfb_p50_us)" "$(jget "$f" ttfb_p99_us)" "$(jget "$f" gap_p50_us)" "$(jget "$f" gap_p99_us)"; }
{
  cat <<EOF
# Benchmarks

Generated by \`./scripts/bench.sh\` on $(date -u +%Y-%m-%d) (commit $REV).
These machines are noisy and shared: compare the ratios within one run, not absolute numbers
across runs. Re-run with \`./scripts/bench.sh\` (about 20 minutes; \`BENCH_QUICK=1\` for a smoke run).

Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM,
Linux $(uname -r), $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), vegeta $VEGETA_VERSION.
Load generator, upstream and proxy share the same $(nproc) cores.

## Proxy overhead

Upstream: a static nginx (1 worker) answering every POST with a 260-byte chat completion and
OpenAI rate-limit headers. nginx as reverse proxy: \`worker_processes auto\`, upstream
\`keepalive 256\`, HTTP/1.1 to the upstream. Headroom: \`cmd/exporter\`, one provider
(\`dialect: openai\`), default settings.

### Throughput (wrk -t2 -c$CONNS -d$DUR, POST with a JSON body; median of $ROUNDS interleaved rounds)

| path | req/s | rounds |
|---|---:|---|
| direct | ${RPS[direct]} | $(paste -sd' ' "$W/rps-direct") |
$(rowr "through Headroom, fast path (HEADROOM_FAST_PATH=true)" fast)
$(rowr "through Headroom, net/http's path (HEADROOM_FAST_PATH=false)" std)$(opt rowr "through Headroom built at $BASELINE_REV (before)" baseline)
| through nginx | ${RPS[nginx]} | $(paste -sd' ' "$W/rps-nginx") |
| through a minimal Go ReverseProxy (bench/minrp) | ${RPS[minrp]} | $(paste -sd' ' "$W/rps-minrp") |
| through nginx's TCP relay (stream module; no HTTP) | ${RPS[nginxl4]} | $(paste -sd' ' "$W/rps-nginxl4") |
| through a plain Go TCP relay (bench/tcprelay; no HTTP) | ${RPS[tcprelay]} | $(paste -sd' ' "$W/rps-tcprelay") |
| through a Go TCP relay with its own epoll loop (bench/epollrelay; no HTTP) | ${RPS[epollrelay]} | $(paste -sd' ' "$W/rps-epollrelay") |
| through a Go relay shaped like Headroom's fast path (bench/lockrelay: one goroutine per connection, raw syscalls, the netpoller; no HTTP) | ${RPS[lockrelay]} | $(paste -sd' ' "$W/rps-lockrelay") |

| ratio | value | target |
|---|---:|---|
| Headroom ($DEFAULT_CLIENT, the default) / nginx: median of the per-round ratios (the two run back to back in each round) | **$HN** | ≥ 0.9: $(pass "$HN" 0.9 ge) |
| Headroom ($DEFAULT_CLIENT, the default) / nginx: ratio of the medians above | $HNM | |
| Headroom fast path / nginx (per-round) | $(paired fast nginx) | |
| Headroom net/http path / nginx | $(ratio "${RPS[std]}" "${RPS[nginx]}") | |
| Headroom fast path / net/http path | $(ratio "${RPS[fast]}" "${RPS[std]}") | (the fast path's gain) |$(opt echo "| Headroom $BASELINE_REV (before) / nginx (ratio of the medians; not run next to nginx) | $(ratio "${RPS[baseline]:-0}" "${RPS[nginx]}") | |")
| Headroom / direct | $HD | |
| nginx / direct | $ND | |
| Headroom net/http path / minimal Go ReverseProxy | $(ratio "${RPS[std]}" "${RPS[minrp]}") | (Headroom's own cost on top of net/http) |
| minimal Go ReverseProxy / nginx | $(ratio "${RPS[minrp]}" "${RPS[nginx]}") | (what net/http/httputil reaches here) |

Headroom's peak RSS during the throughput runs: $HRSS MiB (net/http path), $FHRSS MiB (fast path).

CPU per request of the proxy's own processes during the same rounds (user + system time from
\`/proc/<pid>/stat\`, nginx's workers summed, over the requests wrk completed; median). This is the
proxy's own cost, whatever the load generator and the upstream take on the shared cores.

| proxy | CPU µs per request | rounds | nginx / this |
|---|---:|---|---:|
$(for t in fast std baseline nginx minrp nginxl4 tcprelay epollrelay lockrelay; do
  [ -n "${CPU[$t]:-}" ] || continue
  case $t in fast) n="Headroom, fast path" ;; std) n="Headroom, net/http's path" ;; baseline) n="Headroom built at $BASELINE_REV (before)" ;;
    nginx) n="nginx" ;; minrp) n="minimal Go ReverseProxy" ;; nginxl4) n="nginx's TCP relay" ;; tcprelay) n="plain Go TCP relay" ;;
    epollrelay) n="Go TCP relay, own epoll loop" ;; lockrelay) n="Go relay shaped like Headroom's fast path" ;; esac
  echo "| $n | ${CPU[$t]} | $(paste -sd' ' "$W/cpu-$t") | $(ratio "${CPU[nginx]}" "${CPU[$t]}") |"
done)

### Latency at $RATE req/s (vegeta; median of $ROUNDS interleaved rounds of $LAT_DUR per path)

Each path ran right after a direct run of its own; "added" is the median over the rounds of the
path's figure minus that direct run's.

| path | p50 µs | p99 µs | added p50 µs | added p99 µs |
|---|---:|---:|---:|---:|
| direct | $(us "${P50[direct]}") | $(us "${P99[direct]}") | | |
$(rowl "through Headroom, fast path" fast)
$(rowl "through Headroom, net/http's path" std)$(opt rowl "through Headroom built at $BASELINE_REV (before)" baseline)
| through nginx | $(us "${P50[nginx]}") | $(us "${P99[nginx]}") | $N50 | $N99 |
$(rowl "through minimal Go ReverseProxy" minrp)
$(rowl "through nginx's TCP relay (no HTTP)" nginxl4)
$(rowl "through a plain Go TCP relay (no HTTP)" tcprelay)
$(rowl "through a Go TCP relay with its own epoll loop (no HTTP)" epollrelay)
$(rowl "through a Go relay shaped like Headroom's fast path (one goroutine per connection, raw syscalls, the netpoller; no HTTP)" lockrelay)

Targets for Headroom ($DEFAULT_CLIENT, the default): added p50 ≤ 50 µs: $(pass "$A50" 50 le); added p99 ≤ 500 µs: $(pass "$A99" 500 le).

## Streaming (SSE)

\`fakeprovider -provider openai -stream-delay 10ms -stream-chunks 20\`; $SSE_N sequential streams
(bench/sseclient), direct and through Headroom both ways; "added" is the default ($DEFAULT_CLIENT).

| path | TTFB p50 µs | TTFB p99 µs | inter-event p50 µs | inter-event p99 µs |
|---|---:|---:|---:|---:|
| direct | $(jget "$SD" ttfb_p50_us) | $(jget "$SD" ttfb_p99_us) | $(jget "$SD" gap_p50_us) | $(jget "$SD" gap_p99_us) |
$(rows "through Headroom, fast path" fast)
$(rows "through Headroom, net/http's path" std)
| added | $(addedus "$(jget "$SH" ttfb_p50_us)" "$(jget "$SD" ttfb_p50_us)") | $(addedus "$(jget "$SH" ttfb_p99_us)" "$(jget "$SD" ttfb_p99_us)") | $(addedus "$(jget "$SH" gap_p50_us)" "$(jget "$SD" gap_p50_us)") | $(addedus "$(jget "$SH" gap_p99_us)" "$(jget "$SD" gap_p99_us)") |

## Scale: 10k rate-limit series

A fresh Headroom; bench/seriesload sends one call per (model, key) pair, 100 models × 50 keys,
each response carrying a requests and a tokens limit, then times 20 scrapes of \`/metrics\`.

| format | rate-limit series | calls | RSS idle MiB | RSS loaded MiB | RSS after scrapes MiB | scrape p50 ms | scrape max ms | scrape size |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(for SC in "$W/scale.json" "$W/scale-proto.json"; do printf '| %s | %s' "$(grep -o '"format":"[a-z]*"' "$SC" | cut -d'"' -f4)" "$(jget "$SC" ratelimit_series)"; printf ' | %s' \
  "$(jget "$SC" calls)" "$(awk -v v="$(jget "$SC" rss_before_mib)" 'BEGIN{printf "%.1f", v}')" "$(awk -v v="$(jget "$SC" rss_loaded_mib)" 'BEGIN{printf "%.1f", v}')" \
  "$(awk -v v="$(jget "$SC" rss_after_mib)" 'BEGIN{printf "%.1f", v}')" "$(awk -v v="$(jget "$SC" scrape_p50_ms)" 'BEGIN{printf "%.1f", v}')" \
  "$(awk -v v="$(jget "$SC" scrape_max_ms)" 'BEGIN{printf "%.1f", v}')" "$(awk -v v="$(jget "$SC" scrape_bytes)" 'BEGIN{printf "%.1f MiB", v/1048576}')"; printf ' |\n'; done)

Targets (text, then protobuf): RSS ≤ 64 MiB: $(pass "$(jget "$SC" rss_after_mib)" 64 le), $(pass "$(jget "$W/scale-proto.json" rss_after_mib)" 64 le); scrape ≤ 50 ms: $(pass "$(jget "$SC" scrape_p50_ms)" 50 le), $(pass "$(jget "$W/scale-proto.json" scrape_p50_ms)" 50 le).

## The proxy's own cost over loopback (go test -run XXX -bench Loopback -benchmem -count 3 ./proxy)

One keep-alive connection, one request at a time, to a canned upstream (an OpenAI answer with
its rate-limit headers): direct, through the fast path, through net/http's path, and both paths
again with tracing on (every span recorded, exported to a discarding exporter). ns/op is the
round trip; cpu-ns/op the whole process's CPU per request; allocations are the whole process's
(the client and upstream add 1).

\`\`\`
$(grep '^BenchmarkLoopback' "$W/loopback.txt")
\`\`\`

| path | round trip µs (median) | CPU µs per request (median) | allocs/op |
|---|---:|---:|---:|
$(for b in Direct FastPath NetHTTP FastPathTracing NetHTTPTracing; do
  field() { grep "^BenchmarkLoopback$b-" "$W/loopback.txt" | awk -v u="$1" '{for (i = 2; i < NF; i++) if ($(i+1) == u) print $i}'; }
  printf '| %s | %s | %s | %s |\n' "$b" "$(field ns/op | median | awk '{printf "%.1f", $1/1000}')" \
    "$(field cpu-ns/op | median | awk '{printf "%.1f", $1/1000}')" "$(field allocs/op | tail -1)"
done)

## Tail (GOMAXPROCS=1 go test -run XXX -bench . -benchmem ./tail)

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

\`bench/headroomprof\` (cmd/exporter with a CPU profile, Headroom's default path: $DEFAULT_CLIENT), wrk -t2 -c$CONNS -d$DUR on the same
machine: $(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-prof.txt") req/s while profiled. Flat top 25:

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
