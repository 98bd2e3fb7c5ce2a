#!/usr/bin/env bash
# Installs buildah (Debian package) unless it is already on PATH. Used by
# scripts/image-test.sh and the image test in helm/test to build the
# container image without a Docker daemon (vfs storage, chroot isolation).
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

command -v buildah >/dev/null 2>&1 && exit 0
apt_install buildah.sh buildah
require_tool buildah.sh buildah
