#!/usr/bin/env bash
# Exit codes and error lines of the hypdiff CLI (documented in README.md).
# Usage: cli_test.sh PATH/TO/hypdiff
set -u
bin=$1
fail=0
expect() {  # expected-exit description command...
  local want=$1 what=$2
  shift 2
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $what: exit $rc, expected $want"; echo "$out" | tail -n 5; fail=1
  else
    echo "ok: $what"
  fi
  LAST_OUT=$out
}
expect 2 "unknown flag" "$bin" selfcheck --no-such-flag
[ "$(echo "$LAST_OUT" | wc -l)" -eq 1 ] || { echo "FAIL: unknown flag: error is not one line"; fail=1; }
expect 2 "unknown profile" "$bin" selfcheck --profile faithful --cases 1
echo "$LAST_OUT" | grep -q "unknown profile 'faithful'" || { echo "FAIL: profile message"; fail=1; }
expect 2 "out-of-range count" "$bin" selfcheck --cases 0
expect 2 "no subcommand" "$bin"
expect 2 "unwritable json" "$bin" selfcheck --cases 1 --json /nonexistent-dir/x.json
expect 1 "coverage gap is a failure" "$bin" selfcheck --cases 1 --max-ops 1
expect 0 "a passing run" "$bin" selfcheck --cases 1000 --seed 1
out=$("$bin" selfcheck --cases 20 --seed 3 --allow-findings --json -)
echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["cases"]==20 and "handlers" in r and "hypercalls" in r' \
  && echo "ok: json report" || { echo "FAIL: json report"; fail=1; }
exit $fail
