#!/usr/bin/env bash
# Builds Headroom's container image from the repository's Dockerfile with buildah (vfs
# storage, chroot isolation: no daemon) and proves it works: image config (non-root numeric
# USER, ENTRYPOINT, exposed ports, OCI labels), contents (the binary and CA certificates, no
# shell), `--version` inside the image, and the agent started from the image answering
# /healthz, /readyz and /metrics on loopback, then stopping on SIGTERM.
#
# Base images cannot be pulled here, so the build uses the Dockerfile's prebuilt path
# (BUILDER=prebuilt, BASE_IMAGE=scratch) with a binary built the same way as the builder
# stage does. It also checks that ./cmd/exporter builds from the build context that
# .dockerignore leaves, which is what the builder stage compiles.
#
# Needs buildah (scripts/deps/buildah.sh) and root (or a user namespace setup for buildah).
# Run by the helm/test module's TestContainerImage; runnable on its own.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
command -v buildah >/dev/null || { echo "image-test: buildah not found: run scripts/deps/buildah.sh" >&2; exit 1; }
command -v curl >/dev/null || { echo "image-test: curl not found" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/headroom-image-test.XXXXXX")"
B=(buildah --root "$work/root" --runroot "$work/run" --storage-driver vfs)
image=localhost/headroom:image-test
run_pid=""
ctr=""
hcctr=""
cleanup() {
  [ -z "$hcctr" ] || "${B[@]}" rm "$hcctr" >/dev/null 2>&1 || true
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -KILL "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  if [ -n "$ctr" ]; then
    "${B[@]}" umount "$ctr" >/dev/null 2>&1 || true
    "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
  fi
  "${B[@]}" rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }
step() { echo "image-test: $*"; }

# ---- the binary ----------------------------------------------------------------------------
ctx="$work/context"
mkdir -p "$ctx/dist"
version=image-test
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
ldflags="-s -w -X github.com/prometheus/common/version.Version=$version -X github.com/prometheus/common/version.Revision=$revision"
# HEADROOM_IMAGE_TEST_PLACEHOLDER=1 forces the placeholder (to test this script itself).
if [ "${HEADROOM_IMAGE_TEST_PLACEHOLDER:-}" != 1 ] && [ -d "$root/cmd/exporter" ] && (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$ctx/dist/headroom" ./cmd/exporter) 2>"$work/build.log"; then
  kind=agent
else
  # Until cmd/exporter builds: a stand-in with the same interface (flags, env, endpoints).
  [ -s "$work/build.log" ] && cat "$work/build.log" >&2
  step "testing the image with a placeholder binary (cmd/exporter does not build, or HEADROOM_IMAGE_TEST_PLACEHOLDER=1)"
  kind=placeholder
  mkdir -p "$work/placeholder"
  cat >"$work/placeholder/go.mod" <<'EOF'
module placeholder

go 1.22
EOF
  cat >"$work/placeholder/main.go" <<'EOF'
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	v := flag.Bool("version", false, "")
	flag.Parse()
	if flag.Arg(0) == "healthcheck" {
		addr := os.Getenv("HEADROOM_METRICS_ADDR")
		if addr == "" || addr[0] == ':' {
			addr = "127.0.0.1" + addr
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			os.Exit(1)
		}
		return
	}
	if *v {
		fmt.Printf("headroom, version %s (placeholder)\n", version)
		return
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/readyz"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	}
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "headroom_build_info{version=%q} 1\n", version)
	})
	addr := os.Getenv("HEADROOM_METRICS_ADDR")
	if addr == "" {
		addr = ":9797"
	}
	go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, mux)); os.Exit(1) }()
	s := make(chan os.Signal, 1)
	signal.Notify(s, syscall.SIGTERM, syscall.SIGINT)
	<-s
}
EOF
  (cd "$work/placeholder" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/dist/headroom" .) ||
    fail "placeholder binary does not build"
fi
cp /etc/ssl/certs/ca-certificates.crt "$ctx/dist/ca-certificates.crt"
cp "$root/Dockerfile" "$ctx/Dockerfile"
step "binary: $kind ($(du -h "$ctx/dist/headroom" | cut -f1))"

# ---- the source build path sees what it needs ----------------------------------------------
# Copy the repository as the build context would (.dockerignore's patterns are plain names
# and globs matched at any depth, which tar's --exclude does too) and build from that copy.
if [ "$kind" = agent ]; then
  srcctx="$work/srcctx"
  mkdir -p "$srcctx"
  excludes=()
  while IFS= read -r line; do
    line="${line%%#*}"
    line="$(echo "$line" | xargs)"
    [ -n "$line" ] && excludes+=("--exclude=./$line" "--exclude=$line")
  done <"$root/.dockerignore"
  (cd "$root" && tar -cf - "${excludes[@]}" .) | (cd "$srcctx" && tar -xf -)
  [ -e "$srcctx/helm" ] && fail ".dockerignore: helm/ was not excluded (the copy does not follow it)"
  # `go list -deps` resolves every import and //go:embed pattern without compiling again.
  errs="$(cd "$srcctx" && CGO_ENABLED=0 go list -e -deps -f '{{with .Error}}{{.}}{{end}}{{range .DepsErrors}}{{.}}{{end}}' ./cmd/exporter 2>&1)" ||
    fail "go list in the .dockerignore'd context: $errs"
  [ -z "$(echo "$errs" | tr -d '[:space:]')" ] ||
    fail "./cmd/exporter cannot build from the context .dockerignore leaves: $errs"
  step "source build context (.dockerignore applied): every package and embedded file of ./cmd/exporter present"
fi

# ---- build ---------------------------------------------------------------------------------
"${B[@]}" bud --isolation chroot --layers=false --format docker \
  --build-arg BUILDER=prebuilt --build-arg PREBUILT_DIR=dist --build-arg BASE_IMAGE=scratch \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg TARGETARCH="$(go env GOARCH)" \
  -f "$ctx/Dockerfile" -t "$image" "$ctx" >"$work/bud.log" 2>&1 ||
  { cat "$work/bud.log" >&2; fail "buildah bud failed"; }
step "built $image FROM scratch"

# ---- image config --------------------------------------------------------------------------
cfg() { "${B[@]}" inspect --type image --format "$1" "$image"; }
user="$(cfg '{{.OCIv1.Config.User}}')"
[ "$user" = "65532:65532" ] || fail "USER is '$user', want 65532:65532"
# (buildah 1.28's --format has no json function: Go's %v forms are matched instead.)
entry="$(cfg '{{.OCIv1.Config.Entrypoint}}')"
[ "$entry" = '[/headroom]' ] || fail "ENTRYPOINT is $entry, want [/headroom]"
ports="$(cfg '{{range $p, $_ := .OCIv1.Config.ExposedPorts}}{{$p}} {{end}}')"
for p in 8797/tcp 9797/tcp; do
  [[ " $ports" == *" $p "* ]] || fail "port $p not exposed ($ports)"
done
labels="$(cfg '{{range $k, $v := .OCIv1.Config.Labels}}{{$k}}={{$v}}
{{end}}')"
for l in org.opencontainers.image.source=https://github.com/headroomhq/headroom org.opencontainers.image.title=headroom \
  "org.opencontainers.image.version=$version" "org.opencontainers.image.revision=$revision"; do
  grep -qxF "$l" <<<"$labels" || fail "label $l missing: $labels"
done
health="$(cfg '{{.Docker.Config.Healthcheck.Test}}')"
[ "$health" = "[CMD /headroom healthcheck]" ] || fail "HEALTHCHECK is $health, want [CMD /headroom healthcheck]"
step "config: USER $user, ENTRYPOINT $entry, ports ${ports% }, OCI labels, HEALTHCHECK $health"

# ---- contents ------------------------------------------------------------------------------
ctr="$("${B[@]}" from --pull-never "$image")"
mnt="$("${B[@]}" mount "$ctr")"
[ -x "$mnt/headroom" ] || fail "/headroom missing or not executable"
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "CA certificates missing"
for sh in bin/sh bin/bash busybox; do
  [ ! -e "$mnt/$sh" ] || fail "/$sh in the image: it should carry no shell"
done
if command -v file >/dev/null && ! file "$mnt/headroom" | grep -q "statically linked"; then
  fail "/headroom is not statically linked: $(file "$mnt/headroom")"
fi
step "contents: /headroom, CA bundle ($(grep -c 'BEGIN CERTIFICATE' "$mnt/etc/ssl/certs/ca-certificates.crt") certificates), no shell"
"${B[@]}" umount "$ctr" >/dev/null

# ---- run it --------------------------------------------------------------------------------
out="$("${B[@]}" run --isolation chroot "$ctr" -- /headroom --version 2>&1)" || fail "/headroom --version: $out"
[[ "$out" == *"version $version"* ]] || fail "/headroom --version printed: $out"
step "run: /headroom --version -> $(echo "$out" | head -1)"

# Ports below the kernel's ephemeral range: a port in it can be bound by any outgoing
# connection between the check and the agent's listen (CI saw "address already in use").
eph_low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
[ "$eph_low" -gt 21000 ] || eph_low=40000
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % (eph_low - 20000)))
    if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  fail "no free port"
}
# start_agent runs the image's agent on two free ports and waits for /healthz; it returns 2
# when the agent exited because a port was taken after all (the caller tries other ports).
start_agent() {
  mport="$(free_port)"
  pport="$(free_port)"
  [ "$mport" != "$pport" ] || pport=$((mport + 1))
  "${B[@]}" run --isolation chroot --network host \
    --env HEADROOM_METRICS_ADDR="127.0.0.1:$mport" --env HEADROOM_PROXY_ADDR="127.0.0.1:$pport" \
    --env HEADROOM_LOG_FORMAT=json \
    "$ctr" -- /headroom >"$work/agent.log" 2>&1 &
  run_pid=$!
  up=""
  for _ in $(seq 1 150); do
    if curl -fsS -m 2 "http://127.0.0.1:$mport/healthz" >/dev/null 2>&1; then
      up=1
      return 0
    fi
    if ! kill -0 "$run_pid" 2>/dev/null; then
      grep -q "address already in use" "$work/agent.log" && return 2
      cat "$work/agent.log" >&2
      fail "the agent exited before answering /healthz"
    fi
    sleep 0.2
  done
}
for attempt in 1 2 3; do
  rc=0
  start_agent || rc=$?
  [ "$rc" = 2 ] || break
  step "a port was taken before the agent could listen (attempt $attempt); trying others"
done
[ -n "$up" ] || { cat "$work/agent.log" >&2; fail "no answer on /healthz within 30s"; }
ready=""
for _ in $(seq 1 50); do
  if curl -fsS -m 2 "http://127.0.0.1:$mport/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
[ -n "$ready" ] || { cat "$work/agent.log" >&2; fail "/readyz never answered 200"; }
metrics="$(curl -fsS -m 5 "http://127.0.0.1:$mport/metrics")" || fail "/metrics failed"
grep -q "^headroom_build_info{.*version=\"$version\"" <<<"$metrics" ||
  fail "/metrics has no headroom_build_info with version=\"$version\""
step "started from the image: /healthz, /readyz and /metrics answer on 127.0.0.1:$mport"
# The image's HEALTHCHECK command, run inside the image next to the agent (chroot isolation
# shares the host's network, like a HEALTHCHECK shares the container's).
hc() { "${B[@]}" run --isolation chroot --network host --env HEADROOM_METRICS_ADDR="127.0.0.1:$mport" "$hcctr" -- /headroom healthcheck; }
hcctr="$("${B[@]}" from --pull-never "$image")"
hc >"$work/hc.log" 2>&1 || { cat "$work/hc.log" >&2; fail "/headroom healthcheck failed while the agent runs"; }
step "HEALTHCHECK command (/headroom healthcheck) passes while the agent runs"

kill -TERM "$run_pid"
for _ in $(seq 1 100); do
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$run_pid" 2>/dev/null; then
  fail "the agent did not stop within 10s of SIGTERM"
fi
wait "$run_pid" 2>/dev/null || true
run_pid=""
if curl -fsS -m 1 "http://127.0.0.1:$mport/healthz" >/dev/null 2>&1; then
  fail "something still answers on 127.0.0.1:$mport after SIGTERM"
fi
if hc >/dev/null 2>&1; then
  fail "/headroom healthcheck passes with no agent running"
fi
"${B[@]}" rm "$hcctr" >/dev/null
hcctr=""
step "stopped on SIGTERM; the HEALTHCHECK command now fails"
echo "image-test: ok ($kind binary)"
