#!/usr/bin/env bash
# Headless Chromium (Debian package) for the landing-page browser test.
# Idempotent: a no-op when chromium is on PATH.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
if ! apt-cache policy chromium 2>/dev/null | grep -q "Candidate: [0-9]"; then
  "${apt[@]}" update -qq >/dev/null
fi
"${apt[@]}" install -y -qq --no-install-recommends chromium >/dev/null 2>&1
command -v chromium >/dev/null
