#!/usr/bin/env bash
# Headless Chromium (Debian package) for the landing-page browser test.
# Idempotent: a no-op when chromium is on PATH.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"

command -v chromium >/dev/null 2>&1 && exit 0
apt_install chromium.sh chromium
require_tool chromium.sh chromium
