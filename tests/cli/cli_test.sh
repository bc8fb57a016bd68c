#!/usr/bin/env bash
# Exit codes and error lines of the hypdiff CLI (documented in README.md).
# Usage: cli_test.sh PATH/TO/hypdiff PATH/TO/model-plugin.so SOURCE-DIR
set -u
bin=$1
plugin=$2
src=$3
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

# check / replay / shrink
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one_line() {  # description
  [ "$(echo "$LAST_OUT" | wc -l)" -eq 1 ] || { echo "FAIL: $1: error is not one line: $LAST_OUT"; fail=1; }
}
expect 2 "check: unknown target" "$bin" check --target qemu-ish --cases 1
one_line "unknown target"
echo "$LAST_OUT" | grep -q "unknown target 'qemu-ish'" || { echo "FAIL: target message"; fail=1; }
expect 2 "check: unknown reference" "$bin" check --target model --against nothing --cases 1
one_line "unknown reference"
expect 2 "check: bad flag" "$bin" check --frobnicate
one_line "bad flag"
expect 2 "check: bad duration" "$bin" check --time 10parsecs
one_line "bad duration"
expect 0 "check: intended against intended passes" "$bin" check --target model:intended --cases 200 --seed 4 --quiet
expect 1 "check: literal against intended fails" "$bin" check --target model:literal --against model:intended --cases 300 --seed 1 --max-failures 2 --corpus "$tmp/found" --json "$tmp/check.json"
python3 - "$tmp/check.json" <<'PY' && echo "ok: check json" || { echo "FAIL: check json"; fail=1; }
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("cases", "steps", "failures", "seconds", "steps_per_second"):
    assert k in r, k
assert 1 <= len(r["failures"]) <= 2
for f in r["failures"]:
    for k in ("class", "principal", "step", "original_length", "shrunk_length", "file"):
        assert k in f, k
    assert f["shrunk_length"] <= f["original_length"]
PY
saved=$(ls "$tmp"/found/*.case | head -n 1)
expect 1 "replay: a saved failure fails again" "$bin" replay "$saved"
echo "$LAST_OUT" | grep -q "matches the recorded verdict" || { echo "FAIL: replay does not match its verdict"; fail=1; }
expect 0 "replay --expect: the recorded verdict is reproduced" "$bin" replay --expect --quiet "$saved"
expect 0 "replay: passes on intended" "$bin" replay --target model:intended "$saved"
expect 1 "shrink: a failing case" "$bin" shrink "$saved" --out "$tmp/shrunk.case"
[ -f "$tmp/shrunk.case" ] && echo "ok: shrink wrote its file" || { echo "FAIL: shrink output"; fail=1; }
expect 2 "replay: missing file" "$bin" replay "$tmp/none.case"
one_line "missing file"
printf 'hypdiff-case 1\nconfig max_vms=15\n' > "$tmp/bad.case"
expect 2 "replay: malformed case" "$bin" replay "$tmp/bad.case"
one_line "malformed case"
echo "$LAST_OUT" | grep -q "bad.case:2:" || { echo "FAIL: malformed case error has no line: $LAST_OUT"; fail=1; }
expect 2 "replay --expect on another pairing" "$bin" replay --expect --target model "$tmp/shrunk.case" --against none

# pre-merge mode: the corpus first, then a bounded, deterministic exploration; JUnit XML
mkdir -p "$tmp/empty" "$tmp/empty-reg"
expect 0 "check: regressions reproduce, then explore" "$bin" check --target model:intended --cases 30 --seed 4 --regressions "$src/corpus/regression" --corpus "$tmp/empty" --junit "$tmp/pm.xml"
echo "$LAST_OUT" | grep -Eq "corpus: ([0-9]+) of \1 regression cases reproduce" || { echo "FAIL: corpus summary line: $LAST_OUT"; fail=1; }
python3 - "$tmp/pm.xml" "$src/corpus/regression" <<'PY' && echo "ok: junit report" || { echo "FAIL: junit report"; fail=1; }
import os, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
cases = suite.findall("testcase")
reg = [c for c in cases if c.get("classname") == "hypdiff.corpus.regression"]
n = len([f for f in os.listdir(sys.argv[2]) if f.endswith(".case")])
assert len(reg) == n and n >= 5, (len(reg), n)
assert [c.get("name") for c in reg] == sorted(f for f in os.listdir(sys.argv[2]) if f.endswith(".case"))
assert not any(c.find("failure") is not None for c in cases)
assert int(suite.get("tests")) == len(cases) == n + 1 and suite.get("failures") == "0"
props = {p.get("name"): p.get("value") for p in suite.find("properties")}
assert props["seed"] == "4" and props["cases"] == "30", props
PY
expect 1 "check: the found cases are replayed first" "$bin" check --target model:literal --against model:intended --cases 1 --seed 99 --regressions "$tmp/empty-reg" --corpus "$tmp/found" --junit "$tmp/found.xml" --quiet
python3 - "$tmp/found.xml" <<'PY' && echo "ok: junit failure for a found case" || { echo "FAIL: junit found case"; fail=1; }
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().find("testsuite").findall("testcase")
found = [c for c in cases if c.get("classname") == "hypdiff.corpus.found"]
assert found and all(c.find("failure") is not None for c in found), found
assert all(c.find("failure").get("message").startswith("still fails") for c in found)
PY
expect 0 "check: found cases pass once the bug is gone" "$bin" check --target model:intended --against model:intended --cases 1 --corpus "$tmp/found" --quiet
echo "$LAST_OUT" | grep -Eq "corpus: 0 of 0 regression cases reproduce their recorded verdicts, ([1-9][0-9]*) of \1 found cases pass" || { echo "FAIL: found summary: $LAST_OUT"; fail=1; }
mkdir -p "$tmp/badreg" && cp "$tmp/bad.case" "$tmp/badreg/"
expect 1 "check: a broken regression case fails the run" "$bin" check --target model:intended --cases 1 --regressions "$tmp/badreg" --corpus "$tmp/empty" --quiet
echo "$LAST_OUT" | grep -q "FAIL regression case .*bad.case" || { echo "FAIL: broken regression line: $LAST_OUT"; fail=1; }
expect 2 "check: --regressions not a directory" "$bin" check --cases 1 --regressions "$tmp/none-dir"
one_line "--regressions not a directory"
expect 2 "check: --junit to stdout" "$bin" check --cases 1 --junit -
one_line "--junit -"
expect 2 "check: --junit unwritable" "$bin" check --cases 1 --junit /nonexistent-dir/x.xml
a=$("$bin" check --target model:intended --time 60s --cases 40 --seed 5 --no-corpus-replay --json - 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["cases"], r["steps"], r["checks"])')
b=$("$bin" check --target model:intended --time 60s --cases 40 --seed 5 --no-corpus-replay --json - 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["cases"], r["steps"], r["checks"])')
[ -n "$a" ] && [ "$a" = "$b" ] && [ "${a%% *}" = 40 ] && echo "ok: --time with --cases is deterministic" || { echo "FAIL: determinism: '$a' vs '$b'"; fail=1; }

# targets in shared libraries
expect 2 "check: missing target library" "$bin" check --target lib:"$tmp/none.so" --cases 1
one_line "missing target library"
expect 2 "check: a library that is no target" "$bin" check --target lib:libm.so.6 --cases 1
one_line "not a target"
expect 0 "check: the model behind the target ABI" "$bin" check --target lib:"$plugin" --cases 100 --seed 3 --quiet

# a target library that crashes or hangs: a verdict (exit 1), not a crash of hypdiff
# (tests/harness/bad_plugin.cpp, built next to the model plugin; HYPDIFF_BAD says how it fails)
bad="$(dirname "$plugin")/libhypdiff_bad_plugin.so"
if [ ! -f "$bad" ]; then
  echo "FAIL: $bad is missing (build harness_tests)"; fail=1
else
  expect 1 "check: a crashing target library" env HYPDIFF_BAD=segv@3 "$bin" check --target lib:"$bad" \
    --cases 20 --seed 5 --max-ops 10 --quiet --corpus "$tmp/crash" --json "$tmp/crash.json"
  echo "$LAST_OUT" | grep -q "FAIL crash: target lib:$bad crashed at step 3 (SIGSEGV)" \
    || { echo "FAIL: crash verdict: $LAST_OUT"; fail=1; }
  python3 - "$tmp/crash.json" <<'PY' && echo "ok: crash json" || { echo "FAIL: crash json"; fail=1; }
import json, sys
fs = json.load(open(sys.argv[1]))["failures"]
assert fs  # one per handler of the operation at step 3
for f in fs:
    assert (f["class"], f["field"], f["step"], f["shrunk_length"]) == ("crash", "SIGSEGV", 3, 4), f
PY
  crashed=$(ls "$tmp"/crash/*.case | head -n 1)
  expect 1 "replay: the crash again" env HYPDIFF_BAD=segv@3 "$bin" replay "$crashed"
  echo "$LAST_OUT" | grep -q "matches the recorded verdict" || { echo "FAIL: crash replay: $LAST_OUT"; fail=1; }
  expect 0 "replay --expect: the crash is reproduced" env HYPDIFF_BAD=segv@3 "$bin" replay --expect --quiet "$crashed"
  expect 1 "replay: a hanging target library" env HYPDIFF_BAD=hang@1 "$bin" replay --step-timeout 200ms "$crashed"
  echo "$LAST_OUT" | grep -q "FAIL hang: target lib:$bad hung at step 1 (no answer after 0.2 s)" \
    || { echo "FAIL: hang verdict: $LAST_OUT"; fail=1; }
  expect 2 "replay: bad --step-timeout" "$bin" replay --step-timeout soon "$crashed"
  one_line "bad step timeout"
fi

# mutants: bad arguments are one-line errors; one mutant killed, and the JSON report
expect 2 "mutants: bad budget" "$bin" mutants --budget soon
one_line "mutants bad budget"
expect 2 "mutants: a target without mutants" "$bin" mutants --target model
one_line "mutants model target"
expect 2 "mutants: a library without a catalog" "$bin" mutants --target "lib:$plugin"
one_line "mutants library without a catalog"
expect 2 "mutants: unknown id" "$bin" mutants --only 9999
one_line "mutants unknown id"
expect 0 "mutants: one mutant killed" "$bin" mutants --only 11 --budget 20s --json "$tmp/m.json"
python3 - "$tmp/m.json" <<'PY' && echo "ok: mutants json" || { echo "FAIL: mutants json"; fail=1; }
import json, sys
r = json.load(open(sys.argv[1]))
m, = r["mutants"]
assert m["id"] == 11 and m["verdict"] == "killed" and m["shrunk_length"] >= 1, m
assert r["score"]["killed"] == 1 and r["score"]["survived"] == 0, r["score"]
PY
# A survivor by construction, not by timing: a VM-exit bug with host hypercalls only (#7 within
# 1 s was machine-dependent: a faster CPU killed it in 0.9 s).
expect 1 "mutants: a survivor fails the run" "$bin" mutants --only 43 --ops host_hvc --budget 1s \
  --quiet

# --json to a device is written in place (regular files go through a rename)
expect 0 "json to /dev/stderr" "$bin" check --cases 1 --no-corpus-replay --quiet --json /dev/stderr
echo "$LAST_OUT" | grep -q '"steps_per_second"' || { echo "FAIL: json to a device: $LAST_OUT"; fail=1; }

# --ops: a bad kind is a one-line error; allowed kinds are all a case uses
expect 2 "ops: unknown kind" "$bin" check --ops host_hvc,hvc --cases 1
one_line "ops unknown kind"
echo "$LAST_OUT" | grep -q "unknown operation kind 'hvc'" || { echo "FAIL: ops message: $LAST_OUT"; fail=1; }
expect 0 "ops: host hypercalls only" "$bin" check --ops host_hvc --cases 40 --seed 2 \
  --no-corpus-replay --json "$tmp/ops.json"
python3 - "$tmp/ops.json" <<'PY' && echo "ok: ops json" || { echo "FAIL: ops json"; fail=1; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["operations"] == "host_hvc", r["operations"]
h = r["coverage"]["handlers"]
used = {k for k, v in h.items() if sum(v.values()) > 0}
assert used == {"host_hvc"}, used
PY

# --jobs: the same report as one process; a bad count is a one-line error
expect 2 "jobs: zero" "$bin" check --jobs 0 --cases 1
one_line "jobs zero"
for j in 1 3; do
  expect 1 "jobs $j: the quirks are found" "$bin" check --target model:intended-assign-normalize-verify-index \
    --against model:intended --cases 200 --seed 5 --jobs $j --no-corpus-replay --corpus "$tmp/jobs$j" \
    --json "$tmp/jobs$j.json"
done
python3 - "$tmp/jobs1.json" "$tmp/jobs3.json" <<'PY' && echo "ok: jobs same report" || { echo "FAIL: jobs report differs"; fail=1; }
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("cases", "steps", "checks", "failing_cases", "coverage"):
    assert a[k] == b[k], (k, a[k], b[k])
fa = [(f["case"], f["signature"], f["shrunk_length"], f["duplicates"]) for f in a["failures"]]
fb = [(f["case"], f["signature"], f["shrunk_length"], f["duplicates"]) for f in b["failures"]]
assert fa == fb and len(fa) >= 2, (fa, fb)
PY
# The same cases, operation for operation (names end in a hash of the text, which includes the
# shrinking time).
ops_of() { for f in "$1"/*.case; do grep -v '^#' "$f"; done; }
[ "$(ops_of "$tmp/jobs1")" = "$(ops_of "$tmp/jobs3")" ] && [ -n "$(ops_of "$tmp/jobs1")" ] \
  && echo "ok: jobs same saved cases" || { echo "FAIL: jobs saved cases differ"; fail=1; }

# --target qemu (docs/qemu.md): generated cases use only the operations the QEMU target runs,
# and a case with others is refused up front. Skipped where the QEMU target is not built.
expect 2 "qemu: a malformed name" "$bin" check --target qemu:fast --cases 1
one_line "qemu malformed name"
echo "$LAST_OUT" | grep -q "the QEMU target is spelled 'qemu'" || { echo "FAIL: qemu name: $LAST_OUT"; fail=1; }
out=$("$bin" check --target qemu --cases 1 --seed 1 --no-corpus-replay 2>&1)
if echo "$out" | grep -q "not in this build"; then
  echo "skip: the QEMU target is not built here"
else
  expect 0 "qemu: a check passes" "$bin" check --target qemu --cases 30 --seed 1 --no-corpus-replay \
    --json "$tmp/q.json"
  # QEMU runs every operation (DMA by a device emulated at EL2): no restriction note.
  echo "$LAST_OUT" | grep -q "^note: qemu runs only" \
    && { echo "FAIL: qemu restriction note: $LAST_OUT"; fail=1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["cases"]==30 and r["failures"]==[], r' \
    "$tmp/q.json" && echo "ok: qemu json" || { echo "FAIL: qemu json"; fail=1; }
  expect 0 "qemu: two QEMU instances" "$bin" check --target qemu --cases 30 --seed 1 --jobs 2 \
    --no-corpus-replay --json "$tmp/q2.json"
  python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a["steps"]==b["steps"] and a["coverage"]==b["coverage"]' \
    "$tmp/q.json" "$tmp/q2.json" && echo "ok: qemu jobs same counts" || { echo "FAIL: qemu jobs counts"; fail=1; }
  # SIGTERM to the parent alone: its workers and their QEMUs go too, and no /dev/shm file stays.
  "$bin" check --target qemu --cases 1000000 --seed 4 --jobs 2 --no-corpus-replay --quiet \
    >/dev/null 2>&1 &
  parent=$!
  procs=""
  for _ in $(seq 100); do
    workers=$(pgrep -P $parent | tr '\n' ' ')
    qemus=""
    for w in $workers; do qemus="$qemus $(pgrep -P "$w" | tr '\n' ' ')"; done
    procs="$workers $qemus"
    [ "$(echo $qemus | wc -w)" -ge 2 ] && break
    sleep 0.1
  done
  kill -TERM $parent
  wait $parent 2>/dev/null
  left=1
  for _ in $(seq 50); do  # up to 5 s
    left=0
    for p in $procs; do kill -0 "$p" 2>/dev/null && left=1; done
    [ $left -eq 0 ] && break
    sleep 0.1
  done
  if [ "$(echo $procs | wc -w)" -ge 4 ] && [ $left -eq 0 ]; then
    echo "ok: qemu jobs: SIGTERM leaves no worker or QEMU ($(echo $procs | wc -w) processes)"
  else
    echo "FAIL: qemu jobs SIGTERM: processes '$procs', left=$left"; fail=1
  fi
  # A case with DMA replays with the same verdict on QEMU and natively, in text and JSON.
  { grep -v '^expect' "$src/corpus/regression/quirk-hlock.case"; echo "op dev_load gfn=0x60000 reg=1"; } \
    > "$tmp/dma.case"
  for t in qemu native; do
    expect 0 "$t: a case with DMA replays" "$bin" replay --target $t --against model \
      "$tmp/dma.case" --json "$tmp/dma-$t.json"
  done
  python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a["verdict"]==b["verdict"]=="pass" and a["steps"]==b["steps"]==4, (a,b)' \
    "$tmp/dma-qemu.json" "$tmp/dma-native.json" && echo "ok: dma same verdict" \
    || { echo "FAIL: dma verdicts differ"; fail=1; }
fi
exit $fail
