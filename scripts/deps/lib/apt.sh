# Sourced by scripts/deps/*.sh: installs Debian packages quietly.
#   apt_install TOOL PKG...
# Runs `apt-get update` only when apt knows no candidate for a package, waits
# for the dpkg lock (another apt-get may hold it) and retries the install
# once; on failure prints apt's output and exits. TOOL names the caller in
# messages. Not matched by scripts/test.sh's scripts/deps/*.sh glob.
apt_install() {
  local tool="$1"; shift
  local sudo="" log
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log="$(mktemp)"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  export DEBIAN_FRONTEND=noninteractive
  _apt_run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "$tool: failed: $*" >&2; rm -f "$log"; exit 1; }; }
  local pkg cand
  for pkg in "$@"; do
    cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
      _apt_run $sudo "${apt[@]}" update -qq
      break
    fi
  done
  if ! $sudo "${apt[@]}" install -y -qq --no-install-recommends "$@" >>"$log" 2>&1; then
    sleep 5
    _apt_run $sudo "${apt[@]}" install -y -qq --no-install-recommends "$@"
  fi
  rm -f "$log"
}

# require_tool TOOL CMD: fail with a clear message when CMD is still missing.
require_tool() {
  command -v "$2" >/dev/null 2>&1 || [ -x "/usr/sbin/$2" ] || { echo "$1: $2 still missing after install" >&2; exit 1; }
}
