#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - the entrypoint's scenario tests, in the spirit of tini's: one scenario per function.
#
#   tests/entrypoint/run.sh PATH/TO/mcpgw-entrypoint [NAME-REGEX]
#
# Builds nothing of the project: it takes the entrypoint binary as $1.  It compiles its
# own small helpers (tests/entrypoint/helpers/*.c) into a temporary directory, then runs
# every function named t_* in tests/entrypoint/scenarios/*.sh (or those matching
# NAME-REGEX), each in a fresh bash under `scope`: a child subreaper that bounds the
# scenario to SCENARIO_TIMEOUT seconds and kills whatever it left behind.  Nothing needs
# to be PID 1 or in a container: the entrypoint makes itself a subreaper.
# KEEP_WORK=1 keeps the temporary directory (each scenario's events, stdout and stderr).
# The last line is "entrypoint: N passed, M failed"; the exit status is non-zero when a
# scenario failed.
set -u

if [[ $# -lt 1 || ! -x $1 ]]; then
    echo "usage: $0 PATH/TO/mcpgw-entrypoint [NAME-REGEX]" >&2
    echo "entrypoint: 0 passed, 1 failed"
    exit 2
fi
EP=$(realpath "$1")
FILTER=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-20}
CC=${CC:-cc}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcpgw-ep-tests.XXXXXX")
if [[ -n ${KEEP_WORK:-} ]]; then
    echo "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

# The scenarios set what they need; nothing from the caller's environment may leak in.
for v in $(compgen -e); do
    [[ $v == MCPGW_* ]] && unset "$v"
done

mkdir -p "$WORK/bin" "$WORK/t"
for h in fakechild httpstub scope jsonlines; do
    if ! $CC -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -o "$WORK/bin/$h" \
        "$HERE/helpers/$h.c"; then
        echo "cannot build helper $h"
        echo "entrypoint: 0 passed, 1 failed"
        exit 1
    fi
done
export EP BIN="$WORK/bin" LIB="$HERE/lib.sh"

passed=0
failed=0
failures=()
start_all=$EPOCHREALTIME
for file in "$HERE"/scenarios/*.sh; do
    for fn in $(grep -oE '^t_[A-Za-z0-9_]+\(\)' "$file" | tr -d '()'); do
        if [[ -n $FILTER && ! $fn =~ $FILTER ]]; then
            continue
        fi
        T="$WORK/t/$fn"
        mkdir -p "$T"
        t0=$EPOCHREALTIME
        # shellcheck disable=SC2016  # expanded by the inner bash
        T=$T "$BIN/scope" "$SCENARIO_TIMEOUT" \
            bash -c 'source "$LIB" && source "$1" && "$2"' _ "$file" "$fn" \
            >"$T/output" 2>&1 </dev/null
        rc=$?
        ms=$(((10#${EPOCHREALTIME/./} - 10#${t0/./}) / 1000))
        if [[ $rc -eq 0 ]]; then
            passed=$((passed + 1))
            printf 'ok   %-44s %6d ms\n' "$fn" "$ms"
            grep '^scope:' "$T/output" | sed 's/^/     /'
        else
            failed=$((failed + 1))
            failures+=("$fn")
            printf 'FAIL %-44s %6d ms (exit %d)\n' "$fn" "$ms" "$rc"
            sed 's/^/     | /' "$T/output"
        fi
    done
done
total_ms=$(((10#${EPOCHREALTIME/./} - 10#${start_all/./}) / 1000))
if [[ $failed -gt 0 ]]; then
    echo "failed: ${failures[*]}"
fi
echo "(${total_ms} ms)"
echo "entrypoint: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
