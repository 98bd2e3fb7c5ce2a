#!/usr/bin/env bash
# Runs every fuzz target in the module, one after another, each for the same
# time or number of executions, and prints a table of what each did. A target that fails leaves its
# input in <package>/testdata/fuzz/<Target>/ (go test writes it there): commit
# it with the fix, and it runs as a regression case in every `go test`.
#
#   scripts/fuzz.sh                 every target, 3 minutes each (a campaign)
#   scripts/fuzz.sh -t 20000x       every target, 20,000 executions (what CI runs)
#   scripts/fuzz.sh -t 1m Dialects  only targets whose name matches the regexp
#
# Targets are found with `go test -list`, so a new Fuzz function is picked up
# without editing this file. Exit status: 0 when every target ran clean, 1
# when any failed (all targets still run).
#
# Go before 1.27 can fail a time-limited run with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-input, with no
# input to blame (go.dev/issue/75804). Such a run is reported as
# "ok (deadline race)", not as a failure; a run that wrote a failing input
# always fails. CI sets a count instead, which has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=3m
while getopts "t:" opt; do
  case "$opt" in
    t) fuzztime="$OPTARG" ;;
    *) echo "usage: $0 [-t duration] [target-regexp]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
match="${1:-.}"

# seconds turns a Go duration made of h, m and s ("3m", "1m30s") into seconds.
seconds() {
  awk -v e="$1" 'BEGIN {
    s = 0; n = ""
    for (i = 1; i <= length(e); i++) {
      c = substr(e, i, 1)
      if (c ~ /[0-9]/) { n = n c; continue }
      s += n * (c == "h" ? 3600 : c == "m" ? 60 : 1); n = ""
    }
    print s }'
}
# go test's own -timeout (10m by default) must outlast a time-limited run.
timeout=10m
case "$fuzztime" in
  *x) ;;
  *) timeout="$(($(seconds "$fuzztime") + 600))s" ;;
esac

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

targets=()
for pkg in $(go list ./...); do
  for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    [[ "$name" =~ $match ]] && targets+=("$pkg $name")
  done
done
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no target matches '$match'" >&2
  exit 2
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
failed=0
rows=()
for t in "${targets[@]}"; do
  pkg="${t% *}"; name="${t#* }"
  out="$log/$name.txt"
  echo "== $pkg $name"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -timeout "$timeout" "$pkg" >"$out" 2>&1; then
    result=ok
  elif ! grep -q 'Failing input written' "$out" &&
    [ "$(grep -A1 -E '^--- FAIL: ' "$out" | tail -1 | tr -d '[:space:]')" = contextdeadlineexceeded ]; then
    result="ok (deadline race)"
  else
    result=FAIL
    failed=1
    cat "$out"
  fi
  # The last progress line holds the totals: "fuzz: elapsed: 3m0s, execs:
  # 123 (456/sec), new interesting: 7 (total: 89)".
  last="$(grep -E '^fuzz: elapsed' "$out" | tail -1 || true)"
  execs="$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")"
  # The rate in that line is over the last interval only (often 0 for the
  # final one): report executions over the whole elapsed time instead.
  elapsed="$(sed -nE 's/^fuzz: elapsed: ([0-9hms]+),.*/\1/p' <<<"$last")"
  secs="$(seconds "$elapsed")"
  rate=""
  [ -z "$execs" ] || [ "${secs:-0}" -eq 0 ] || rate=$((execs / secs))
  corpus="$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")"
  crasher="$(grep -oE 'testdata/fuzz/[^ ]+' "$out" | head -1 || true)"
  rows+=("| ${pkg#github.com/headroomhq/headroom/} | $name | $result | ${execs:-?} | ${rate:-?} | ${corpus:-?} | ${crasher:-} |")
done

echo
echo "| package | target | result | execs | execs/s | corpus | failing input |"
echo "|---|---|---|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
