#!/usr/bin/env bash
# Installs nginx (Debian `nginx-light`) for the tail-mode integration test
# (test/integration/nginx_test.go) when it is missing. Idempotent and quiet.
# The package's service is never used (no systemd here; the test runs its own
# nginx with `daemon off;` in a temporary prefix).
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

command -v nginx >/dev/null 2>&1 && exit 0
apt_install nginx.sh nginx-light
require_tool nginx.sh nginx
