#!/usr/bin/env bash
# Installs Helm v3.22.0 (pinned) with `go install`, unless `helm version`
# already reports it. Idempotent and quiet; used by scripts/test.sh and the
# chart tests in helm/test.
set -euo pipefail

want="v3.22.0"
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

# A release binary reports v3.22.0; one built by `go install` reports only
# v3.22 (no version ldflags), so its module version is checked instead.
have_pinned() {
  local bin v
  bin="$(command -v helm 2>/dev/null)" || return 1
  v="$(helm version --template '{{.Version}}' 2>/dev/null)" || return 1
  [ "$v" = "$want" ] && return 0
  [ "$v" = "${want%.0}" ] &&
    go version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+helm\.sh/helm/v3[[:space:]]+$want([[:space:]]|\$)"
}

if have_pinned; then
  exit 0
fi

echo "installing helm $want with go install (a few minutes on a cold cache)" >&2
if ! out="$(GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$want" 2>&1)"; then
  printf "%s\n" "$out" >&2
  exit 1
fi
have_pinned || { echo "helm $want installed but not found on PATH ($gobin)" >&2; exit 1; }

