#!/bin/bash
# test.sh - `make test`: every suite in turn, then one closing line with the totals.
#   unit         Criterion tests of each worker module        (tests/unit)
#   entrypoint   PID-1 scenario tests, tini style            (tests/entrypoint)
#   integration  the real stack on loopback, real MCP peers  (tests/integration)
#   container    the real Dockerfile built and run with podman (tests/container)
#   terraform    fmt, validate and `terraform test`, offline  (tests/terraform)
# A suite that cannot run counts as failed, never as passed or skipped silently.
set -u
cd "$(dirname "$0")/.."
BUILD=${MCPGW_BUILD:-build}     # make passes its build folder (build-<sanitizers> for SANITIZE=...)
export MCPGW_BUILD=$BUILD
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"
passed=0 failed=0 summary=""

# count SUITE PASSED FAILED RC: add a suite's figures; a non-zero exit with no failure
# counted still fails the run.
count() {
    local p=${2:-0} f=${3:-0}
    if [ "$4" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    summary="$summary$(printf '  %-12s %4d passed, %d failed' "$1" "$p" "$f")"$'\n'
}

echo "== unit"
p=0 f=0 rc=0
for t in "$BUILD"/tests/test_*; do
    out=$("$t" --jobs 2 2>&1); r=$?
    echo "$out" | tail -1
    s=$(echo "$out" | sed -n 's/.*Tested: *\([0-9]*\) *| *Passing: *\([0-9]*\) *| *Failing: *\([0-9]*\) *| *Crashing: *\([0-9]*\).*/\2 \3 \4/p' | tail -1)
    if [ -z "$s" ]; then f=$((f + 1)); echo "$out" | tail -20; continue; fi
    set -- $s
    p=$((p + $1)); f=$((f + $2 + $3))
    [ $r -eq 0 ] || { rc=1; echo "$out" | grep -v '^\[----\]' | tail -30; }
done
count unit $p $f $rc

echo "== entrypoint"
out=$(tests/entrypoint/run.sh "$BUILD/mcpgw-entrypoint" 2>&1); rc=$?
echo "$out" > "$LOGDIR/entrypoint.log"
echo "$out" | grep -E 'FAIL|not ok' | head -20
line=$(echo "$out" | grep -E '^entrypoint: [0-9]+ passed, [0-9]+ failed' | tail -1)
echo "$line"
count entrypoint "$(echo "$line" | awk '{print $2}')" "$(echo "$line" | awk '{print $4}')" $rc

echo "== integration"
node --test --test-reporter=spec --test-reporter-destination="$LOGDIR/integration.log" \
     --test-reporter=tap --test-reporter-destination=stdout \
     tests/integration/*.test.mjs > "$LOGDIR/integration.tap" 2>&1; rc=$?
grep -E '^not ok|^# (pass|fail)' "$LOGDIR/integration.tap" | head -40
count integration "$(sed -n 's/^# pass //p' "$LOGDIR/integration.tap" | tail -1)" \
      "$(sed -n 's/^# fail //p' "$LOGDIR/integration.tap" | tail -1)" $rc
[ $rc -eq 0 ] || echo "   (details: $LOGDIR/integration.log)"

echo "== container"
out=$(tests/container/run.sh 2>&1); rc=$?
echo "$out" > "$LOGDIR/container.log"
echo "$out" | grep -E '^FAIL|^    ' | head -30
line=$(echo "$out" | grep -E '^container: [0-9]+ passed, [0-9]+ failed' | tail -1)
echo "$line"
count container "$(echo "$line" | awk '{print $2}')" "$(echo "$line" | awk '{print $4}')" $rc

echo "== terraform"
out=$(tests/terraform/run.sh 2>&1); rc=$?
echo "$out" > "$LOGDIR/terraform.log"
echo "$out" | grep -E 'FAIL|Error' | head -20
line=$(echo "$out" | grep -E '^terraform: [0-9]+ passed, [0-9]+ failed' | tail -1)
echo "$line"
count terraform "$(echo "$line" | awk '{print $2}')" "$(echo "$line" | awk '{print $4}')" $rc

echo
echo "== summary"
printf '%s' "$summary"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
