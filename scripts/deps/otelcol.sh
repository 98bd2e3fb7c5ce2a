#!/usr/bin/env bash
# Builds a pinned OpenTelemetry Collector for the tracing end-to-end test
# (test/otel) with the collector builder (ocb) v0.140.0 and the core
# components at v0.140.0 (confmap providers v1.46.0): OTLP receiver, OTLP
# gRPC/HTTP and debug exporters, batch processor. Contrib components are not
# served by the module proxy here, so the test re-exports over OTLP/HTTP to a
# receiver of its own instead of using the file exporter.
#
# Idempotent: a no-op when $(go env GOPATH)/bin/otelcol-headroom (or $GOBIN)
# already reports the pinned version. A cold build takes several minutes,
# so the result is cached there; a lock keeps parallel runs from building
# twice. Output is shown only when something fails.
set -euo pipefail

builder_version="v0.140.0"
component_version="v0.140.0"
provider_version="v1.46.0"
# The dist version names the manifest too: bump the suffix when the
# component list below changes, so cached binaries are rebuilt.
dist_version="0.140.0-headroom1"
name="otelcol-headroom"

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
bin="$gobin/$name"

have_pinned() {
  [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qF "$dist_version"
}

have_pinned && exit 0

mkdir -p "$gobin"
exec 9>"$gobin/.$name.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
  have_pinned && exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work/log"
echo "building $name $dist_version with the collector builder $builder_version (several minutes on a cold cache)" >&2

run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "otelcol.sh: failed: $*" >&2; exit 1; }; }

# The collector modules are fetched through the Go module proxy; their
# checksums are not all in the public sum database yet.
export GONOSUMDB="go.opentelemetry.io,github.com/open-telemetry${GONOSUMDB:+,$GONOSUMDB}"
export GOFLAGS=-mod=mod
run env GOBIN="$work/tools" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version"

cat >"$work/manifest.yaml" <<EOF
dist:
  name: $name
  description: OpenTelemetry Collector (core components) for Headroom's tracing tests
  version: $dist_version
  output_path: $work/dist
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver $component_version
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/otlpexporter $component_version
  - gomod: go.opentelemetry.io/collector/exporter/otlphttpexporter $component_version
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter $component_version
processors:
  - gomod: go.opentelemetry.io/collector/processor/batchprocessor $component_version
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider $provider_version
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider $provider_version
EOF

run "$work/tools/builder" --config "$work/manifest.yaml"
install -m 0755 "$work/dist/$name" "$bin.tmp"
mv -f "$bin.tmp" "$bin"
have_pinned || { cat "$log" >&2; echo "otelcol.sh: $bin does not report $dist_version" >&2; exit 1; }
