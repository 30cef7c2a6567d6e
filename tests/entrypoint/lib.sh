# SPDX-License-Identifier: MIT
# lib.sh - helpers shared by the entrypoint scenarios (sourced by run.sh for each one).
#
# run.sh sets EP (the entrypoint under test), BIN (the helpers it compiled) and T (an
# empty directory for this scenario).  Helper processes append their events to
# $EVENTS ("<epoch us> <name> <event> ..."), see helpers/fakechild.c.  Every wait is
# a poll with a deadline; a failed expectation prints the events and the entrypoint's
# stderr and exits 1.  On exit every process the scenario started directly is killed;
# run.sh's scope kills whatever else remains.

EVENTS=$T/events
: >"$EVENTS"
EP_PID=
TRACKED=()

cleanup() {
    local p
    for p in $EP_PID "${TRACKED[@]}"; do
        kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- events"
    cat "$EVENTS"
    echo "--- entrypoint stderr"
    cat "$T/ep.err" 2>/dev/null
    exit 1
}

now_us() {
    local t=$EPOCHREALTIME
    echo $((10#${t/./}))
}

# wait_until MS CMD...: run CMD every 10 ms until it succeeds; 1 after MS ms.
wait_until() {
    local until=$(($(now_us) + $1 * 1000))
    shift
    until "$@"; do
        (($(now_us) < until)) || return 1
        sleep 0.01
    done
}

# ep_start [VAR=VALUE...] [ARGS...]: the entrypoint in the background, output in
# $T/ep.out and $T/ep.err, standard input /dev/null.
ep_start() {
    local envs=()
    while [[ $# -gt 0 && $1 == MCPGW_*=* ]]; do
        envs+=("$1")
        shift
    done
    env "${envs[@]}" "$EP" "$@" >"$T/ep.out" 2>"$T/ep.err" </dev/null &
    EP_PID=$!
    EP_T0=$(now_us)
}

ep_running() { kill -0 "$EP_PID" 2>/dev/null; }
ep_gone() { ! ep_running; }

# ep_wait MS: wait for the entrypoint to exit; sets EP_RC and EP_MS (since ep_start).
ep_wait() {
    wait_until "$1" ep_gone || fail "entrypoint still running after $1 ms"
    wait "$EP_PID"
    EP_RC=$?
    # shellcheck disable=SC2034  # read by the scenarios
    EP_MS=$((($(now_us) - EP_T0) / 1000))
    EP_PID=
}

ev() { grep -E -- "$1" "$EVENTS"; }
ev_has() { grep -qE -- "$1" "$EVENTS"; }
ev_count() { grep -cE -- "$1" "$EVENTS"; }
ev_ts() { grep -E -m1 -- "$1" "$EVENTS" | cut -d' ' -f1; }
ev_wait() { wait_until "${2:-3000}" ev_has "$1" || fail "no event /$1/ within ${2:-3000} ms"; }

# pid_of NAME / pgid_of NAME: from the helper's start event.
pid_of() { ev "^[0-9]+ $1 start " | head -1 | sed -E 's/.* pid=([0-9]+) .*/\1/'; }
pgid_of() { ev "^[0-9]+ $1 start " | head -1 | sed -E 's/.* pgid=([0-9]+) .*/\1/'; }

expect_eq() { [[ $1 == "$2" ]] || fail "$3: got '$1', want '$2'"; }
expect_between() { (($1 >= $2 && $1 <= $3)) || fail "$4: $1 not within [$2, $3]"; }
expect_stderr() { grep -qF -- "$1" "$T/ep.err" || fail "entrypoint stderr lacks '$1'"; }
expect_event() { ev_has "$1" || fail "no event /$1/"; }
expect_no_event() { ! ev_has "$1" || fail "unexpected event /$1/: $(ev "$1" | head -1)"; }

# expect_before A B: the first event matching A came no later than the first matching B.
expect_before() {
    local a b
    a=$(ev_ts "$1")
    b=$(ev_ts "$2")
    [[ -n $a ]] || fail "no event /$1/"
    [[ -n $b ]] || fail "no event /$2/"
    ((a <= b)) || fail "/$1/ came $(((a - b) / 1000)) ms after /$2/"
}

# expect_json_log: every stderr line of the entrypoint is one of our JSON log objects.
expect_json_log() {
    local out
    out=$("$BIN/jsonlines" "${1:-entrypoint}" <"$T/ep.err") || fail "log format: $out"
}

none_alive() {
    local p
    for p; do
        [[ -e /proc/$p ]] && return 1
    done
    return 0
}

# zombies_of PID: how many zombie processes have PID as their parent.
zombies_of() {
    local f line rest n=0
    for f in /proc/[0-9]*/stat; do
        read -r line <"$f" 2>/dev/null || continue
        rest=${line##*) }
        [[ $rest == "Z $1 "* ]] && n=$((n + 1))
    done
    echo "$n"
}

# fake SCRIPT NAME ARGS...: an executable SCRIPT running fakechild as NAME with ARGS,
# passing on the arguments the script itself is given.
fake() {
    local script=$1 name=$2
    shift 2
    {
        echo '#!/bin/bash'
        printf 'exec %q --name %q --log %q' "$BIN/fakechild" "$name" "$EVENTS"
        printf ' %q' "$@"
        echo ' -- "$@"'
    } >"$script"
    chmod 755 "$script"
}

# Supervised mode with fast defaults; fakes for the pool and lighttpd under $T.
sup_env() {
    export MCPGW_RUNTIME_DIR=$T/run MCPGW_LIGHTTPD_CONF=$T/lighttpd.conf
    export MCPGW_DRAIN_DELAY=0 MCPGW_STOP_BUDGET=5 MCPGW_START_TIMEOUT=5
    export MCPGW_POOL_BIN=$T/fake-pool MCPGW_LIGHTTPD=$T/fake-lighttpd
    SOCK=$T/run/fcgi.sock
}
fake_pool() { fake "$T/fake-pool" pool --listen-unix "$SOCK" "$@"; }
fake_pool_no_socket() { fake "$T/fake-pool" pool "$@"; }
fake_lighttpd() { fake "$T/fake-lighttpd" lighttpd "$@"; }

# sup_start: start supervised mode and wait until lighttpd runs.
sup_start() {
    ep_start "$@"
    ev_wait '^[0-9]+ lighttpd start ' 5000
}

# sup_stop_ok: SIGTERM, expect a clean exit 0 within the budget.
sup_stop_ok() {
    kill -TERM "$EP_PID"
    ep_wait 8000
    expect_eq "$EP_RC" 0 "exit code after SIGTERM"
}
