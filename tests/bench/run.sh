#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - `make bench`: wrk on loopback against mcpgw, its floors, and server-everything.
#
# One run measures, side by side and in this order:
#   1. lighttpd serving a static file with mcpgw's /health body          GET
#   2. lighttpd + tests/bench/floor.c (a minimal prefork libfcgi responder)  GET
#   3. mcpgw /health                                                      GET
#   4. mcpgw initialize (no session: every request creates one)           POST
#   5. mcpgw tools/list in one session (federated catalogue cache)        POST
#   6. mcpgw tools/call everything__get-sum in one session                POST
#   7. server-everything directly: tools/list, tools/call get-sum         POST
# then, under the same tools/list load, two events of the container's life:
#   8. hot swaps: `mcpgw-pool --reload` one after another during the run
#   9. a drain: SIGTERM to the entrypoint (supervised mode) during the run
# and the size of the container image, when tests/container/run.sh has built it.
# Each contender gets a warm-up run (discarded) and a measured run; its memory is read
# from /proc right after its measured run.  Results: a markdown table on stdout and in
# build/bench/results.md; raw wrk output stays in the temporary folder when
# BENCH_KEEP_TMP=1.  Every process started here is stopped on exit.
#
# Knobs (environment): BENCH_THREADS (2), BENCH_CONNECTIONS (32), BENCH_DURATION (10 s),
# BENCH_WARMUP (3 s), BENCH_WORKERS (4: mcpgw workers and floor processes),
# BENCH_KEEP_TMP (unset; the folder is always kept after a failure).  At the defaults a
# run takes about 2 minutes.  Exit status 1 when a contender's checked responses or
# sockets failed for more than 1 % of its requests (its figures are then not valid).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-32}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
WORKERS=${BENCH_WORKERS:-4}
LUA=$ROOT/tests/bench/bench.lua
OUT=$ROOT/build/bench
SE_JS=node_modules/@modelcontextprotocol/server-everything/dist/index.js
PROTO=2025-11-25
T0=$(date +%s)
DATE0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

die() {
    echo "bench: $*" >&2
    exit 1
}

for tool in wrk lighttpd node curl cc pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run make deps)"
done
BUILD=$ROOT/${MCPGW_BUILD:-build}
[ -x "$BUILD/mcpgw-pool" ] || die "$BUILD/mcpgw-pool missing (run make)"
[ -f "tests/$SE_JS" ] || die "tests/$SE_JS missing (run make deps)"

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/mcpgw-bench.XXXXXX)

# ---------------------------------------------------------------- processes
declare -A PID=()

# start NAME CMD...: run CMD in the background, output to $TMP/NAME.log.  lighttpd.conf
# writes its access log to /proc/self/fd/3: every child gets /dev/null there.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.log" 2>&1 3>/dev/null </dev/null &
    PID[$name]=$!
}

# Every descendant of the given pids, from /proc (children before grandchildren).
descendants() {
    local p c
    for p in "$@"; do
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
            echo "$c"
            descendants "$c"
        done
    done
}

# Process state letter (R, S, Z, ...) or nothing when the pid is gone.
proc_state() {
    sed -n 's/^.*) \([A-Z]\).*$/\1/p' /proc/"$1"/stat 2>/dev/null || true
}

# stop NAME: SIGTERM to the process, up to 5 s for it to end, then SIGKILL to it and
# to whatever is left of the descendants it had when we started stopping it.
stop() {
    local name=$1 pid=${PID[$1]:-} tree i st p
    [ -n "$pid" ] || return 0
    unset "PID[$name]"
    tree=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        st=$(proc_state "$pid")
        [ -z "$st" ] || [ "$st" = Z ] && break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in $tree; do
        st=$(proc_state "$p")
        if [ -n "$st" ] && [ "$st" != Z ]; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for name in "${!PID[@]}"; do
        stop "$name"
    done
    if [ -n "${BENCH_KEEP_TMP:-}" ] || [ "$rc" -ne 0 ]; then
        echo "bench: logs and raw wrk output kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for WHAT CMD...: poll CMD every 50 ms for up to 15 s.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 300; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

# N free loopback ports, chosen by the kernel and released at once.
free_ports() {
    node -e '
        const net = require("net");
        const n = Number(process.argv[1]), ports = [], servers = [];
        for (let i = 0; i < n; i++) {
            const s = net.createServer();
            servers.push(s);
            s.listen(0, "127.0.0.1", () => {
                ports.push(s.address().port);
                if (ports.length === n) {
                    servers.forEach((x) => x.close());
                    console.log(ports.join(" "));
                }
            });
        }' "$1"
}

# ---------------------------------------------------------------- HTTP helpers
http_ok() {
    curl -fsS -o /dev/null --max-time 2 "$1"
}

port_answers() {
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"
}

# mcp_session URL: initialize + notifications/initialized; prints the session id.
mcp_session() {
    local url=$1 sid code
    curl -sS --max-time 10 -D "$TMP/init.headers" -o "$TMP/init.body" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PROTO'","capabilities":{},"clientInfo":{"name":"mcpgw-bench","version":"1"}}}' \
        "$url" || return 1
    sid=$(tr -d '\r' <"$TMP/init.headers" | awk 'tolower($1) == "mcp-session-id:" { print $2 }')
    [ -n "$sid" ] || return 1
    code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "Mcp-Session-Id: $sid" -H "MCP-Protocol-Version: $PROTO" \
        -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$url") || return 1
    [ "$code" = 202 ] || return 1
    echo "$sid"
}

# mcp_call URL SID METHOD PARAMS: one request in the session; prints the body.
mcp_call() {
    curl -sS --max-time 30 \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "Mcp-Session-Id: $2" -H "MCP-Protocol-Version: $PROTO" \
        -d '{"jsonrpc":"2.0","id":7,"method":"'"$3"'","params":'"$4"'}' "$1"
}

# expect WHAT NEEDLE TEXT: fail unless TEXT contains NEEDLE.
expect() {
    case "$3" in
    *"$2"*) ;;
    *) die "$1: expected the answer to contain $2, got: ${3:0:300}" ;;
    esac
}

# ---------------------------------------------------------------- measuring
# Rows of the result table, in order.
ROWS=()
declare -A R=()
FAILED=0

# mem_of PID...: "rss_kb pss_kb processes" summed over the pids and their descendants.
mem_of() {
    local rss=0 pss=0 n=0 p v
    for p in "$@" $(descendants "$@"); do
        v=$(awk '/^VmRSS:/ { print $2 }' /proc/"$p"/status 2>/dev/null || true)
        [ -n "$v" ] || continue
        rss=$((rss + v))
        n=$((n + 1))
        v=$(awk '/^Pss:/ { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || true)
        pss=$((pss + ${v:-0}))
    done
    echo "$rss $pss $n"
}

# ticks_of PID...: CPU time (user + system, clock ticks) of the pids and their live
# descendants, including the children they have reaped.  0 for no pids.
ticks_of() {
    local t=0 p v
    for p in "$@" $(descendants "$@"); do
        # Fields after "pid (comm) ": $12 utime, $13 stime, $14 cutime, $15 cstime.
        v=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || true)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# "busy irq steal total" clock ticks of all CPUs together, from /proc/stat (irq is
# hard + soft interrupt time: loopback packets are mostly processed there).
machine_ticks() {
    awk '$1 == "cpu" {
        total = 0; for (i = 2; i <= 9; i++) total += $i   # up to steal; guest is in user
        print total - $5 - $6, $7 + $8, $9, total; exit }' /proc/stat
}

# child_ticks FILE: CPU ticks used so far by this shell's reaped children, from the
# output of the `times` builtin saved in FILE.  `times` must run in this shell itself
# (not in a pipeline or $(...), which would fork and report the fork's children).
child_ticks() {
    awk -v hz="$HZ" 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz + 0.5 }' "$1"
}
HZ=$(getconf CLK_TCK)

# run_wrk OUTFILE WRK_ARGS... -- VAR=value...: wrk with those variables in its environment.
# In the background and waited for, so that a SIGTERM or SIGINT to this script runs the
# cleanup at once instead of after wrk's duration (the cleanup stops wrk too).
run_wrk() {
    local out=$1 rc=0
    local -a args=()
    shift
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    shift
    env "$@" wrk "${args[@]}" >"$out" 2>&1 &
    PID[wrk]=$!
    wait "${PID[wrk]}" || rc=$?
    unset "PID[wrk]"
    return "$rc"
}

# measure KEY LABEL REQUEST NOTE URL WEB_PIDS BACKEND_PIDS UPSTREAM_PIDS [VAR=value...]
# Warm-up run, then the measured run with CPU accounting, then memory.  WEB_PIDS is
# lighttpd (empty for server-everything), BACKEND_PIDS what answers behind it, and
# UPSTREAM_PIDS a server the backend calls (its CPU is shown, its memory is not counted).
measure() {
    local key=$1 label=$2 request=$3 note=$4 url=$5 web=$6 backend=$7 upstream=$8
    local line kv socket bad m0 m1 w0 w1 b0 b1 u0 u1 c0 c1 busy irq steal total
    shift 8
    local -a wrk_args=(-t"$THREADS" -c"$CONNS" --timeout 10s --latency -s "$LUA" "$url")
    printf 'bench: %-45s warm-up %ss, run %ss ... ' "$label $request" "$WARMUP" "$DURATION" >&2
    run_wrk "$TMP/$key.warmup" -d"${WARMUP}s" "${wrk_args[@]}" -- "$@" ||
        die "wrk warm-up failed for $label: $(tail -3 "$TMP/$key.warmup")"
    # shellcheck disable=SC2086
    {
        m0=$(machine_ticks); w0=$(ticks_of $web); b0=$(ticks_of $backend)
        u0=$(ticks_of $upstream)
        times >"$TMP/times.0"
    }
    run_wrk "$TMP/$key.wrk" -d"${DURATION}s" "${wrk_args[@]}" -- "$@" ||
        die "wrk failed for $label: $(tail -3 "$TMP/$key.wrk")"
    # shellcheck disable=SC2086
    {
        times >"$TMP/times.1"
        w1=$(ticks_of $web); b1=$(ticks_of $backend)
        u1=$(ticks_of $upstream); m1=$(machine_ticks)
        read -r "R[$key.rss]" "R[$key.pss]" "R[$key.procs]" <<<"$(mem_of $web $backend)"
    }
    line=$(grep '^BENCH ' "$TMP/$key.wrk") || die "no BENCH line in wrk output for $label"
    for kv in ${line#BENCH }; do
        R[$key.${kv%%=*}]=${kv#*=}
    done
    read -r busy irq steal total <<<"$(awk -v a="$m0" -v b="$m1" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        print y[1] - x[1], y[2] - x[2], y[3] - x[3], y[4] - x[4] }')"
    R[$key.cpu_web]=$((w1 - w0))
    R[$key.cpu_backend]=$((b1 - b0))
    R[$key.cpu_upstream]=$((u1 - u0))
    c0=$(child_ticks "$TMP/times.0")
    c1=$(child_ticks "$TMP/times.1")
    R[$key.cpu_wrk]=$((c1 - c0))
    R[$key.cpu_busy]=$busy
    R[$key.cpu_irq]=$irq
    R[$key.cpu_steal]=$steal
    R[$key.cpu_total]=$total
    R[$key.has_web]=$([ -n "$web" ] && echo 1 || echo 0)
    R[$key.has_upstream]=$([ -n "$upstream" ] && echo 1 || echo 0)
    socket=$((R[$key.connect_errors] + R[$key.read_errors] + R[$key.write_errors] + R[$key.timeouts]))
    # POSTs: every response was checked (2xx and a JSON-RPC result).  GETs: wrk counts
    # HTTP >= 400; run.sh checked the body once with curl before the run.
    if [ "${R[$key.checked]}" -gt 0 ]; then
        bad=${R[$key.bad]}
    else
        bad=${R[$key.status_errors]}
    fi
    R[$key.socket]=$socket
    R[$key.errors]=$bad
    R[$key.label]=$label
    R[$key.request]=$request
    R[$key.note]=$note
    R[$key.flag]=""
    if [ "${R[$key.requests]}" -eq 0 ] || [ $(((bad + socket) * 100)) -gt "${R[$key.requests]}" ]; then
        R[$key.flag]=" (!)"
        FAILED=1
        grep '^BENCH_FIRST_BAD' "$TMP/$key.wrk" >&2 || true
    fi
    ROWS+=("$key")
    printf '%s req/s\n' "${R[$key.rps]}" >&2
}

# under_load KEY LABEL EVENT SECONDS URL VAR=value...: wrk (with the measure() arguments)
# for SECONDS while the function EVENT runs once, 1 s into the run, in this shell.
# EVENT leaves its own description in R[KEY.event].  One row of the lifecycle table.
LROWS=()
under_load() {
    local key=$1 label=$2 event=$3 secs=$4 url=$5 line kv w
    shift 5
    printf 'bench: %-45s run %s ... ' "$label" "$secs" >&2
    env "$@" wrk -t"$THREADS" -c"$CONNS" -d"$secs" --timeout 10s --latency -s "$LUA" \
        "$url" >"$TMP/$key.wrk" 2>&1 &
    PID[wrk]=$!
    w=${PID[wrk]}
    sleep 1
    "$event" "$key"
    wait "$w" || die "wrk failed for $label: $(tail -3 "$TMP/$key.wrk")"
    unset "PID[wrk]"
    line=$(grep '^BENCH ' "$TMP/$key.wrk") || die "no BENCH line in wrk output for $label"
    for kv in ${line#BENCH }; do
        R[$key.${kv%%=*}]=${kv#*=}
    done
    R[$key.label]=$label
    R[$key.flag]=""
    if [ "${R[$key.requests]}" -eq 0 ] ||
        [ $((R[$key.bad] + R[$key.read_errors] + R[$key.write_errors] + R[$key.timeouts])) -gt 0 ]; then
        R[$key.flag]=" (!)"
        FAILED=1
        grep '^BENCH_FIRST_BAD' "$TMP/$key.wrk" >&2 || true
    fi
    LROWS+=("$key")
    printf '%s req/s\n' "${R[$key.rps]}" >&2
}

# median of the numbers on stdin.
median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a";
        else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- setup
# How busy the machine is before we start: other work shares the CPUs with the run.
read -r m0 <<<"$(machine_ticks)"
sleep 1
read -r m1 <<<"$(machine_ticks)"
BUSY0=$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " ")
    if (y[4] > x[4]) printf "%.0f", 100 * (y[1] - x[1]) / (y[4] - x[4]); else print 0 }')
if [ "$BUSY0" -gt 20 ]; then
    echo "bench: warning: the machine was $BUSY0 % busy in the second before the run;" \
        "figures will be low and noisy (see the \"others\" column)" >&2
fi
echo "bench: building the floor responder" >&2
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow \
    -Wstrict-prototypes -Wmissing-prototypes -Werror -O2 -g -D_FORTIFY_SOURCE=2 \
    -fstack-protector-strong -fPIE $(pkg-config --cflags fcgi) -pie -Wl,-z,relro,-z,now \
    -o "$OUT/floor" tests/bench/floor.c $(pkg-config --libs fcgi)

read -r P_STATIC P_FLOOR P_GW P_SE P_EP <<<"$(free_ports 5)"
[ -n "$P_EP" ] || die "could not find free ports"
SE_MCP=http://127.0.0.1:$P_SE/mcp
mkdir -p "$TMP/static" "$TMP/floor" "$TMP/gw" "$TMP/ep"
printf '{"status":"ok"}' >"$TMP/static/health"

# Settings lighttpd.conf takes from the environment (static.conf takes the same).
LTPD_ENV=(MCPGW_BIND=127.0.0.1 MCPGW_MAX_BODY_KB=1024 MCPGW_KEEPALIVE_IDLE=75 MCPGW_LIGHTTPD_GRACE=17)

start_everything() {
    stop everything
    start everything env -C "$ROOT/tests" PORT="$P_SE" node "$SE_JS" streamableHttp
    wait_for "server-everything on port $P_SE" port_answers "$P_SE"
}

# ---------------------------------------------------------------- 1. static file
start static env "${LTPD_ENV[@]}" MCPGW_PORT="$P_STATIC" BENCH_DOCROOT="$TMP/static" \
    lighttpd -D -f "$ROOT/tests/bench/static.conf"
URL=http://127.0.0.1:$P_STATIC/health
wait_for "lighttpd (static) on port $P_STATIC" http_ok "$URL"
expect "static file" '{"status":"ok"}' "$(curl -sS "$URL")"
measure static "lighttpd static file" "GET /health" "file of the same 15-byte body" \
    "$URL" "${PID[static]}" "" ""
stop static

# ---------------------------------------------------------------- 2. the floor
start floor "$OUT/floor" "$TMP/floor/fcgi.sock" "$WORKERS"
wait_for "floor socket" test -S "$TMP/floor/fcgi.sock"
start floor_httpd env "${LTPD_ENV[@]}" MCPGW_PORT="$P_FLOOR" MCPGW_RUNTIME_DIR="$TMP/floor" \
    MCPGW_SOCKET="$TMP/floor/fcgi.sock" MCPGW_STATUS_BACKEND="$TMP/floor/fcgi.sock" \
    lighttpd -D -f "$ROOT/lighttpd.conf"
URL=http://127.0.0.1:$P_FLOOR/health
wait_for "lighttpd (floor) on port $P_FLOOR" http_ok "$URL"
expect "floor" '{"status":"ok"}' "$(curl -sS "$URL")"
measure floor "floor: lighttpd + libfcgi" "GET /health" "$WORKERS prefork responders, fixed answer" \
    "$URL" "${PID[floor_httpd]}" "${PID[floor]}" ""
stop floor_httpd
stop floor

# ---------------------------------------------------------------- 3-6. mcpgw
start_everything
cat >"$TMP/gw/upstreams.json" <<JSON
{"upstreams":[{"name":"everything","url":"$SE_MCP"}]}
JSON
start pool env MCPGW_RUNTIME_DIR="$TMP/gw" MCPGW_UPSTREAMS="$TMP/gw/upstreams.json" \
    MCPGW_SOCKET="$TMP/gw/fcgi.sock" MCPGW_WORKERS="$WORKERS" MCPGW_LOG_LEVEL=warn \
    MCPGW_POOL_STOP_TIMEOUT=5 MCPGW_BIND=127.0.0.1 "$BUILD/mcpgw-pool"
wait_for "mcpgw-pool socket" test -S "$TMP/gw/fcgi.sock"
start gw_httpd env "${LTPD_ENV[@]}" MCPGW_PORT="$P_GW" MCPGW_RUNTIME_DIR="$TMP/gw" \
    MCPGW_SOCKET="$TMP/gw/fcgi.sock" MCPGW_STATUS_BACKEND="$TMP/gw/status.sock" \
    lighttpd -D -f "$ROOT/lighttpd.conf"
GW=http://127.0.0.1:$P_GW
wait_for "mcpgw /health on port $P_GW" http_ok "$GW/health"

expect "mcpgw /health" '{"status":"ok"}' "$(curl -sS "$GW/health")"
measure health "mcpgw" "GET /health" "liveness: no store, no upstream" "$GW/health" \
    "${PID[gw_httpd]}" "${PID[pool]}" ""

measure initialize "mcpgw" "POST initialize" "each request creates a session (SQLite insert)" \
    "$GW/mcp" "${PID[gw_httpd]}" "${PID[pool]}" "" BENCH_RPC=initialize

SID=$(mcp_session "$GW/mcp") || die "mcpgw: could not open a session"
# The first tools/list builds the catalogue from the upstream and caches it
# (MCPGW_CATALOG_TTL, default 60 s, longer than warm-up + run at the default durations):
# the runs read the cache.  The "upstream" CPU column shows whether a rebuild happened.
expect "mcpgw tools/list" '"everything__get-sum"' "$(mcp_call "$GW/mcp" "$SID" tools/list '{}')"
measure gw_list "mcpgw" "POST tools/list" "one session; the worker's rendered catalogue" \
    "$GW/mcp" "${PID[gw_httpd]}" "${PID[pool]}" "${PID[everything]}" \
    BENCH_RPC=tools/list BENCH_SESSION="$SID"

# server-everything keeps every SSE event in memory: a fresh one for the call run, and a
# fresh gateway session so that its upstream session is opened (by curl) before wrk.
start_everything
SID=$(mcp_session "$GW/mcp") || die "mcpgw: could not open a session"
CALL='{"name":"everything__get-sum","arguments":{"a":2,"b":3}}'
expect "mcpgw tools/call" 'The sum of 2 and 3 is 5' "$(mcp_call "$GW/mcp" "$SID" tools/call "$CALL")"
measure gw_call "mcpgw" "POST tools/call get-sum" "one session; forwarded to server-everything" \
    "$GW/mcp" "${PID[gw_httpd]}" "${PID[pool]}" "${PID[everything]}" \
    BENCH_RPC=tools/call BENCH_SESSION="$SID" BENCH_PARAMS="$CALL"
read -r SE_DURING_CALL_RSS _ _ <<<"$(mem_of "${PID[everything]}")"

# ---------------------------------------------------------------- 8. hot swaps under load
# One `mcpgw-pool --reload` after another until 2 s before the run ends: each replaces
# every worker, a group at a time, from the binary on disk.
hot_swaps() {
    local key=$1 t0 t1 n=0 end=$((SECONDS + DURATION - 3))
    : >"$TMP/swap.ms"
    while [ "$SECONDS" -lt "$end" ]; do
        t0=$EPOCHREALTIME
        MCPGW_RUNTIME_DIR="$TMP/gw" "$BUILD/mcpgw-pool" --reload >>"$TMP/swap.log" 2>&1 ||
            die "hot swap failed: $(tail -3 "$TMP/swap.log")"
        t1=$EPOCHREALTIME
        echo $(( (${t1//[.,]/} - ${t0//[.,]/}) / 1000 )) >>"$TMP/swap.ms"
        n=$((n + 1))
    done
    R[$key.event]="$n hot swaps of all $WORKERS workers (\`mcpgw-pool --reload\`), median $(median <"$TMP/swap.ms") ms each"
}
SID=$(mcp_session "$GW/mcp") || die "mcpgw: could not open a session"
expect "mcpgw tools/list" '"everything__get-sum"' "$(mcp_call "$GW/mcp" "$SID" tools/list '{}')"
under_load swap "mcpgw tools/list during hot swaps" hot_swaps "${DURATION}s" "$GW/mcp" \
    BENCH_RPC=tools/list BENCH_SESSION="$SID"
stop gw_httpd
stop pool

# ---------------------------------------------------------------- 7. server-everything
start_everything
SID=$(mcp_session "$SE_MCP") || die "server-everything: could not open a session"
expect "server-everything tools/list" '"get-sum"' "$(mcp_call "$SE_MCP" "$SID" tools/list '{}')"
measure se_list "server-everything (SDK)" "POST tools/list" "one session; SSE response" \
    "$SE_MCP" "" "${PID[everything]}" "" BENCH_RPC=tools/list BENCH_SESSION="$SID"

start_everything
SID=$(mcp_session "$SE_MCP") || die "server-everything: could not open a session"
CALL='{"name":"get-sum","arguments":{"a":2,"b":3}}'
expect "server-everything tools/call" 'The sum of 2 and 3 is 5' \
    "$(mcp_call "$SE_MCP" "$SID" tools/call "$CALL")"
measure se_call "server-everything (SDK)" "POST tools/call get-sum" "one session; SSE response" \
    "$SE_MCP" "" "${PID[everything]}" "" \
    BENCH_RPC=tools/call BENCH_SESSION="$SID" BENCH_PARAMS="$CALL"

# ---------------------------------------------------------------- 9. a drain under load
# The whole stack under the entrypoint, as in the container: SIGTERM 1 s into the run.
# /health turns 503 at once and requests are served for MCPGW_DRAIN_DELAY; then lighttpd
# stops gracefully and the pool after it.  wrk keeps its connections open and counts a
# refused reconnection as a read error, like a request lost, so its run ends 1 s before
# lighttpd closes its port: it measures the drain delay, when the load balancer still
# sends.  The close itself (in-flight requests finished, later connections refused) is
# counted request by request, with a connection each, by tests/container/run.sh.
DRAIN_DELAY=5
drain() {
    local key=$1 t0 t1 rc=0 pid=${PID[ep]}
    t0=$EPOCHREALTIME
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    unset "PID[ep]"
    t1=$EPOCHREALTIME
    R[$key.event]="SIGTERM to the entrypoint (MCPGW_DRAIN_DELAY=$DRAIN_DELAY): exit $rc after $(( (${t1//[.,]/} - ${t0//[.,]/}) / 1000 )) ms"
    [ "$rc" -eq 0 ] || die "the entrypoint exited $rc after SIGTERM: $(tail -5 "$TMP/ep.log")"
}
start_everything
cat >"$TMP/ep/upstreams.json" <<JSON
{"upstreams":[{"name":"everything","url":"$SE_MCP"}]}
JSON
start ep env "${LTPD_ENV[@]}" MCPGW_PORT="$P_EP" MCPGW_RUNTIME_DIR="$TMP/ep" \
    MCPGW_UPSTREAMS="$TMP/ep/upstreams.json" MCPGW_SOCKET="$TMP/ep/fcgi.sock" \
    MCPGW_WORKERS="$WORKERS" MCPGW_LOG_LEVEL=warn MCPGW_DRAIN_DELAY=$DRAIN_DELAY \
    MCPGW_LIGHTTPD_CONF="$ROOT/lighttpd.conf" MCPGW_POOL_BIN="$BUILD/mcpgw-pool" \
    "$BUILD/mcpgw-entrypoint"
EP=http://127.0.0.1:$P_EP
wait_for "entrypoint stack /health on port $P_EP" http_ok "$EP/health"
SID=$(mcp_session "$EP/mcp") || die "mcpgw (entrypoint): could not open a session"
expect "mcpgw tools/list" '"everything__get-sum"' "$(mcp_call "$EP/mcp" "$SID" tools/list '{}')"
under_load drain "mcpgw tools/list during a drain" drain "${DRAIN_DELAY}s" "$EP/mcp" \
    BENCH_RPC=tools/list BENCH_SESSION="$SID"
stop everything

# ---------------------------------------------------------------- image size
# The image tests/container/run.sh builds, in its own podman storage; not built here.
IMAGE_NOTE="not measured: no image localhost/mcpgw:test in /var/tmp/mcpgw-containers (tests/container/run.sh builds it)"
CDIR=${MCPGW_CONTAINER_DIR:-/var/tmp/mcpgw-containers}
if command -v podman >/dev/null 2>&1 && [ -f "$CDIR/storage.conf" ] &&
    CONTAINERS_CONF="$CDIR/containers.conf" CONTAINERS_STORAGE_CONF="$CDIR/storage.conf" \
        podman image exists localhost/mcpgw:test 2>/dev/null; then
    read -r isize irev <<<"$(CONTAINERS_CONF="$CDIR/containers.conf" CONTAINERS_STORAGE_CONF="$CDIR/storage.conf" \
        podman image inspect --format '{{.Size}} {{index .Labels "org.opencontainers.image.revision"}}' localhost/mcpgw:test)"
    IMAGE_NOTE="$isize bytes ($(awk -v b="$isize" 'BEGIN { printf "%.1f", b / 1e6 }') MB), localhost/mcpgw:test built from commit ${irev:0:7}"
fi

# ---------------------------------------------------------------- report
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'
}
ms() {
    awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'
}
mib() {
    awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'
}
# per_req KEY FIELD: CPU microseconds per request of one group of processes.
per_req() {
    awk -v t="${R[$1.$2]}" -v n="${R[$1.requests]}" -v hz="$HZ" \
        'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else printf "n/a" }'
}
# pct A B: A as a percentage of B.
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else printf "n/a" }'
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then
    COMMIT="$COMMIT (work tree has uncommitted changes)"
fi
ELAPSED=$(($(date +%s) - T0))

{
    echo "# mcpgw benchmark results"
    echo
    echo "- Started: $DATE0; commit $COMMIT; one run of tests/bench/run.sh."
    echo "- Machine: $(nproc) CPUs ($CPU), kernel $(uname -r), load average $LOAD0 at the start,"
    echo "  $BUSY0 % busy in the second before the first run. wrk, lighttpd, the pool and node all"
    echo "  share these CPUs on loopback, so every figure includes wrk's own CPU use."
    echo "- Load: wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') -t$THREADS -c$CONNS -d${DURATION}s --timeout 10s after a ${WARMUP}s warm-up (discarded);"
    echo "  $(lighttpd -v 2>&1 | awk '{ print $1; exit }'), node $(node -v), $WORKERS mcpgw workers / floor processes, MCPGW_LOG_LEVEL=warn."
    echo "- Memory: summed over the contender's processes from /proc right after its run"
    echo "  (RSS counts pages shared by forked workers once per process; PSS splits them)."
    echo "  mcpgw rows count lighttpd + pool master + workers, not the upstream."
    echo
    echo "| # | contender | request | req/s | p50 ms | p99 ms | bad responses | socket errors | RSS MiB (procs) | PSS MiB | note |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    n=0
    for k in "${ROWS[@]}"; do
        n=$((n + 1))
        printf '| %d | %s | %s | %s%s | %s | %s | %s | %s | %s (%s) | %s | %s |\n' \
            "$n" "${R[$k.label]}" "${R[$k.request]}" \
            "$(awk -v r="${R[$k.rps]}" 'BEGIN { printf "%.0f", r }')" "${R[$k.flag]}" \
            "$(ms "${R[$k.p50_us]}")" "$(ms "${R[$k.p99_us]}")" \
            "${R[$k.errors]}" "${R[$k.socket]}" \
            "$(mib "${R[$k.rss]}")" "${R[$k.procs]}" "$(mib "${R[$k.pss]}")" "${R[$k.note]}"
    done
    echo
    echo "Bad responses: for POSTs every response was checked (HTTP 2xx and a JSON-RPC \`result\`);"
    echo "for GETs wrk counts HTTP >= 400 (the body was checked once with curl before the run)."
    echo "Socket errors: connect + read + write errors and timeouts as wrk counts them."
    echo "server-everything's RSS at the end of the mcpgw tools/call run (not in mcpgw's figure): $(mib "${SE_DURING_CALL_RSS:-0}") MiB."
    echo
    echo "CPU time during each measured run, from /proc (clock ticks of 1/$HZ s): per request"
    echo "served for each group of processes; then as shares of all $(nproc) CPUs over the run: the"
    echo "machine's busy time, its interrupt time (loopback packets are mostly processed in softirq,"
    echo "on behalf of whichever side sends), and \"others\": busy time of every process outside this"
    echo "benchmark (other work on a shared machine)."
    echo
    echo "| # | contender | request | lighttpd µs/req | backend µs/req | upstream µs/req | wrk µs/req | machine busy | irq+softirq | others | steal |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    n=0
    for k in "${ROWS[@]}"; do
        n=$((n + 1))
        others=$((R[$k.cpu_busy] - R[$k.cpu_irq] - R[$k.cpu_web] - R[$k.cpu_backend] - R[$k.cpu_upstream] - R[$k.cpu_wrk]))
        [ "$others" -ge 0 ] || others=0
        web="-"
        [ "${R[$k.has_web]}" = 1 ] && web=$(per_req "$k" cpu_web)
        backend="-"
        [ "$k" = static ] || backend=$(per_req "$k" cpu_backend)
        upstream="-"
        [ "${R[$k.has_upstream]}" = 1 ] && upstream=$(per_req "$k" cpu_upstream)
        printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$n" "${R[$k.label]}" "${R[$k.request]}" "$web" "$backend" "$upstream" \
            "$(per_req "$k" cpu_wrk)" "$(pct "${R[$k.cpu_busy]}" "${R[$k.cpu_total]}")" \
            "$(pct "${R[$k.cpu_irq]}" "${R[$k.cpu_total]}")" \
            "$(pct "$others" "${R[$k.cpu_total]}")" "$(pct "${R[$k.cpu_steal]}" "${R[$k.cpu_total]}")"
    done
    echo
    echo "- mcpgw tools/list ÷ server-everything tools/list: **$(ratio "${R[gw_list.rps]}" "${R[se_list.rps]}")×** (goal ≥ 10×)"
    echo "- mcpgw /health ÷ floor: **$(ratio "${R[health.rps]}" "${R[floor.rps]}")**"
    echo "- floor ÷ static file: $(ratio "${R[floor.rps]}" "${R[static.rps]}")"
    echo "- mcpgw tools/call ÷ server-everything tools/call: $(ratio "${R[gw_call.rps]}" "${R[se_call.rps]}")"
    echo
    echo "Under load (the tools/list load of row 5, $CONNS connections), while something happens:"
    echo
    echo "| scenario | requests | req/s | p99 ms | bad responses | read/write errors, timeouts | connections refused | event |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for k in "${LROWS[@]}"; do
        printf '| %s%s | %s | %.0f | %s | %s | %s | %s | %s |\n' "${R[$k.label]}" "${R[$k.flag]}" \
            "${R[$k.requests]}" "${R[$k.rps]}" "$(ms "${R[$k.p99_us]}")" "${R[$k.bad]}" \
            "$((R[$k.read_errors] + R[$k.write_errors] + R[$k.timeouts]))" \
            "${R[$k.connect_errors]}" "${R[$k.event]}"
    done
    echo
    echo "A failed request is a bad response, a read/write error or a timeout. Hot swaps: a run of"
    echo "${DURATION}s. Drain: from 1 s before SIGTERM to 1 s before lighttpd closes its port"
    echo "(the drain delay, while /health answers 503 and the load balancer still sends); the close"
    echo "itself is counted request by request by tests/container/run.sh (\`podman stop\` under load)."
    echo
    echo "Container image: $IMAGE_NOTE."
    echo
    echo "Total wall time: ${ELAPSED}s."
    if [ "$FAILED" -ne 0 ]; then
        echo
        echo "(!) more than 1 % of this contender's responses or sockets failed: its figures are not valid;"
        echo "    or, under load, a request failed during the event."
    fi
} | tee "$OUT/results.md"

exit "$FAILED"
