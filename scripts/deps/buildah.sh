#!/usr/bin/env bash
# Installs buildah (Debian package) unless it is already on PATH. Used by
# scripts/image-test.sh and the image test in helm/test to build the
# container image without a Docker daemon (vfs storage, chroot isolation).
set -euo pipefail

if command -v buildah >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "buildah is missing and installing it needs root: apt-get install -y buildah" >&2
  exit 1
fi
echo "installing buildah (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq buildah >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq buildah >/dev/null
fi
command -v buildah >/dev/null
