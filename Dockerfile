# syntax=docker/dockerfile:1
#
# Headroom's container image: one static binary (CGO off), CA certificates for the providers'
# HTTPS, non-root user 65532, no shell.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg REVISION=$(git rev-parse HEAD) -t headroom:dev .
#
# Build arguments:
#   BASE_IMAGE  final stage base (default distroless static, nonroot); `scratch` works too:
#               the image carries its own CA bundle and sets a numeric USER.
#   GO_IMAGE    Go toolchain image of the builder stage.
#   BUILDER     `source` (default) compiles ./cmd/exporter in the builder stage; `prebuilt`
#               takes PREBUILT_DIR/headroom and PREBUILT_DIR/ca-certificates.crt from the
#               build context instead, for machines that cannot pull a Go image (see
#               scripts/image-test.sh, which builds FROM scratch this way with buildah).
#
# Health without a shell: on Kubernetes the chart's liveness and readiness probes call
# /healthz and /readyz on the metrics port (9797). For plain Docker the binary checks itself:
# `/headroom healthcheck` exits 0 when the local agent answers /healthz (it reads the same
# HEADROOM_METRICS_ADDR; HEADROOM_HEALTHCHECK_TLS=1 when the web config enables TLS), which is
# the HEALTHCHECK below. Docker keeps HEALTHCHECK only in its own image format (`docker build`,
# or `buildah bud --format docker`); OCI images drop it.

ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot
ARG BUILDER=source

# ---- builder: compile from source ----------------------------------------------------------
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build-source
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w \
      -X github.com/prometheus/common/version.Version=${VERSION} \
      -X github.com/prometheus/common/version.Revision=${REVISION} \
      -X github.com/prometheus/common/version.Branch=${BRANCH} \
      -X github.com/prometheus/common/version.BuildUser=docker \
      -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      -o /out/headroom ./cmd/exporter \
 && mkdir -p /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

# ---- builder: a binary built outside (same flags: CGO_ENABLED=0 go build -trimpath ...) ----
FROM scratch AS build-prebuilt
ARG PREBUILT_DIR=dist
COPY ${PREBUILT_DIR}/headroom /out/headroom
COPY ${PREBUILT_DIR}/ca-certificates.crt /out/etc/ssl/certs/ca-certificates.crt

FROM build-${BUILDER} AS build

# ---- final image ---------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="headroom" \
      org.opencontainers.image.description="Reverse proxy, log tailer and prober for AI inference providers that exports their rate-limit state as Prometheus metrics" \
      org.opencontainers.image.url="https://github.com/headroomhq/headroom" \
      org.opencontainers.image.source="https://github.com/headroomhq/headroom" \
      org.opencontainers.image.documentation="https://github.com/headroomhq/headroom/blob/main/docs/deploy.md" \
      org.opencontainers.image.vendor="Headroom" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
COPY --from=build /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/headroom /headroom
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# The proxy (HEADROOM_PROXY_ADDR) and the metrics listener (HEADROOM_METRICS_ADDR: /metrics,
# /healthz, /readyz, /api/v1/headroom).
EXPOSE 8797 9797
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/headroom", "healthcheck"]
ENTRYPOINT ["/headroom"]
