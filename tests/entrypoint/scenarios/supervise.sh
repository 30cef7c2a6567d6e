# SPDX-License-Identifier: MIT
# supervise.sh - supervised mode with a fake pool and a fake lighttpd (helpers/fakechild).

t_sup_ordered_start() {
    sup_env
    mkdir -p "$T/run"
    : >"$T/run/draining"        # stale flag from an earlier run
    fake_pool --listen-delay 700 --report-file "$T/run/draining" --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    expect_before 'pool listening' 'lighttpd start'
    expect_between $((($(ev_ts 'lighttpd start') - $(ev_ts 'pool start')) / 1000)) 690 2000 \
        "ms between the pool's start and lighttpd's"
    ev_wait 'pool accept' 2000                    # the probe connected
    expect_event "pool file $T/run/draining missing"
    expect_event "lighttpd start .* argv=-D\|-f\|$T/lighttpd.conf\$"
    expect_event "pool start .* argv=\$"
    sup_stop_ok
    expect_json_log
}

t_sup_ordered_drain() {
    local t0 t_int
    sup_env
    export MCPGW_DRAIN_DELAY=1
    fake_pool --on TERM=exit:0:200
    fake_lighttpd --on INT=exit:0:300 --report-file "$T/run/draining"
    sup_start
    [[ ! -e $T/run/draining ]] || fail "draining flag exists before the stop"
    t0=$(now_us)
    kill -TERM "$EP_PID"
    wait_until 500 test -e "$T/run/draining" || fail "no draining flag within 500 ms of SIGTERM"
    ev_wait 'lighttpd signal SIGINT' 3000
    t_int=$(ev_ts 'lighttpd signal SIGINT')
    expect_between $(((t_int - t0) / 1000)) 950 1700 "ms from SIGTERM to lighttpd's SIGINT"
    expect_event "lighttpd file $T/run/draining exists"
    ep_wait 5000
    expect_eq "$EP_RC" 0 "exit code after an ordered stop"
    [[ ! -e $T/run/draining ]] || fail "the draining flag outlived the entrypoint"
    expect_before 'lighttpd exit 0' 'pool signal SIGTERM'
    expect_event 'pool exit 0'
    expect_eq "$(ev_count 'lighttpd signal')" 1 "signals lighttpd received"
    expect_eq "$(ev_count 'pool signal')" 1 "signals the pool received"
    expect_json_log
}

t_sup_empty_settings_mean_the_default_for_lighttpd_too() {
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0 --report-env MCPGW_BIND
    sup_start MCPGW_BIND= MCPGW_KEEPALIVE_IDLE=
    # Empty is unset for us; lighttpd must not get "" (it would listen everywhere).
    expect_event 'lighttpd env MCPGW_BIND=127.0.0.1$'
    sup_stop_ok
}

t_sup_lighttpd_graceful_stop_leaves_the_pool_its_share() {
    sup_env
    export MCPGW_DRAIN_DELAY=4 MCPGW_STOP_BUDGET=20
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0 --report-env MCPGW_LIGHTTPD_GRACE
    sup_start
    # 20 s budget - 4 s drain - 3 s kept for the pool's stop.
    expect_event 'lighttpd env MCPGW_LIGHTTPD_GRACE=13$'
    sup_stop_ok
}

t_sup_second_term_ends_the_drain_delay() {
    local t1
    sup_env
    export MCPGW_DRAIN_DELAY=5 MCPGW_STOP_BUDGET=10
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    kill -TERM "$EP_PID"
    wait_until 1000 test -e "$T/run/draining" || fail "no draining flag after SIGTERM"
    t1=$(now_us)
    kill -INT "$EP_PID"
    ev_wait 'lighttpd signal SIGINT' 2000
    expect_between $((($(ev_ts 'lighttpd signal SIGINT') - t1) / 1000)) 0 2000 \
        "ms from the second signal to lighttpd's SIGINT"
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code"
    expect_eq "$(ev_count 'lighttpd signal')" 1 "signals lighttpd received"
}

t_sup_sigquit_stops_both_at_once() {
    sup_env
    export MCPGW_DRAIN_DELAY=5 MCPGW_STOP_BUDGET=10
    fake_pool --on TERM=exit:0:100
    fake_lighttpd --on TERM=exit:0:100 --on INT=exit:0 --report-file "$T/run/draining"
    sup_start
    kill -QUIT "$EP_PID"
    ep_wait 2000
    expect_eq "$EP_RC" 0 "exit code"
    expect_event "lighttpd file $T/run/draining exists"
    expect_event 'lighttpd signal SIGTERM'
    expect_event 'pool signal SIGTERM'
    expect_no_event 'lighttpd signal SIGINT'
    expect_no_event 'signal SIGQUIT'
    # both got SIGTERM before either exited: no ordering, no drain delay
    expect_before 'pool signal SIGTERM' 'lighttpd exit'
    expect_before 'lighttpd signal SIGTERM' 'pool exit'
    [[ ! -e $T/run/draining ]] || fail "the draining flag outlived the entrypoint"
}

t_sup_budget_runs_out_sigkill_exit_1() {
    local lpid ppid t0
    sup_env
    export MCPGW_STOP_BUDGET=2
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=ignore
    sup_start
    lpid=$(pid_of lighttpd)
    ppid=$(pid_of pool)
    t0=$(now_us)
    kill -TERM "$EP_PID"
    ep_wait 6000
    expect_eq "$EP_RC" 1 "exit code when the budget runs out"
    expect_between $((($(now_us) - t0) / 1000)) 1900 3500 "ms from SIGTERM to exit (budget 2 s)"
    expect_event 'lighttpd signal SIGINT ignored'
    # lighttpd never stopped, so the pool never got its turn
    expect_no_event 'pool signal SIGTERM'
    wait_until 2000 none_alive "$lpid" "$ppid" || fail "children still alive after the budget"
    expect_stderr "stop budget of 2 s spent"
    expect_stderr '"msg":"killing lighttpd (SIGKILL to its process group)","child":"lighttpd"'
    expect_stderr '"msg":"killing pool (SIGKILL to its process group)","child":"pool"'
    expect_json_log
}

t_sup_stop_counts_our_own_signals_as_clean() {
    sup_env
    fake_pool --on TERM=default
    fake_lighttpd --on INT=default
    sup_start
    sup_stop_ok
    expect_event 'lighttpd die SIGINT'
    expect_event 'pool die SIGTERM'
    expect_stderr '"msg":"pool stopped","child":"pool"'
    : >"$EVENTS"
    fake_pool --on TERM=exit:4
    fake_lighttpd --on INT=exit:0
    sup_start
    kill -TERM "$EP_PID"
    ep_wait 5000
    expect_eq "$EP_RC" 1 "exit code when the pool exits 4 on its SIGTERM"
    expect_stderr '"msg":"pool ended badly during the stop","child":"pool"'
    : >"$EVENTS"
    fake_pool --on TERM=exit:0
    fake_lighttpd --on HUP=default       # logs SIGINT and keeps running
    sup_start
    kill -TERM "$EP_PID"
    ev_wait 'lighttpd signal SIGINT'
    kill -HUP "$(pid_of lighttpd)"      # dies during the stop, by a signal we did not send
    ep_wait 5000
    expect_eq "$EP_RC" 1 "exit code when lighttpd dies of SIGHUP during the stop"
}

t_sup_pool_dies_exit_3_stops_lighttpd() {
    sup_env
    export MCPGW_DRAIN_DELAY=5 MCPGW_STOP_BUDGET=10
    fake_pool --exit-after 500:3
    fake_lighttpd --on INT=exit:0
    sup_start
    ep_wait 4000
    expect_eq "$EP_RC" 3 "exit code when the pool exits 3 on its own"
    expect_before 'pool exit 3' 'lighttpd signal SIGINT'
    expect_between "$EP_MS" 400 2500 "ms from start to exit (no drain delay)"
    expect_stderr '"msg":"pool ended on its own","child":"pool"'
    expect_json_log
}

t_sup_lighttpd_killed_exit_137_stops_pool() {
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --die-after 300:KILL
    sup_start
    ep_wait 4000
    expect_eq "$EP_RC" 137 "exit code when lighttpd dies by SIGKILL"
    expect_before 'lighttpd die SIGKILL' 'pool signal SIGTERM'
    expect_event 'pool exit 0'
}

t_sup_sigkilled_entrypoint_leaves_no_child_serving() {
    local lpid ppid
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    lpid=$(pid_of lighttpd)
    ppid=$(pid_of pool)
    kill -KILL "$EP_PID"
    # Each gets its graceful-stop signal from the kernel, as the parent-death signal.
    ev_wait 'pool signal SIGTERM' 2000
    ev_wait 'lighttpd signal SIGINT' 2000
    wait_until 2000 none_alive "$lpid" "$ppid" || fail "children outlived a SIGKILLed entrypoint"
}

t_sup_child_exiting_0_on_its_own_is_exit_1() {
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --exit-after 300:0
    sup_start
    ep_wait 4000
    expect_eq "$EP_RC" 1 "exit code when lighttpd exits 0 by itself"
    expect_event 'pool signal SIGTERM'
}

t_sup_signal_routing() {
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    kill -HUP "$EP_PID"
    ev_wait 'pool signal SIGHUP$' 2000
    kill -USR1 "$EP_PID"
    ev_wait 'lighttpd signal SIGUSR1$' 2000
    kill -USR2 "$EP_PID"
    ev_wait 'pool signal SIGUSR2$' 2000
    # Signals neither child uses are dropped: forwarded, ALRM would end both by default.
    kill -ALRM "$EP_PID"
    kill -WINCH "$EP_PID"
    wait_until 2000 grep -q 'SIGWINCH ignored: neither lighttpd nor the pool uses it' "$T/ep.err" ||
        fail "no log line for a dropped signal"
    expect_stderr 'SIGALRM ignored'
    expect_no_event 'signal SIG(ALRM|WINCH)'
    sup_stop_ok
    expect_no_event 'lighttpd signal SIG(HUP|USR2)'
    expect_no_event 'pool signal SIGUSR1'
    expect_eq "$(ev_count 'pool signal SIGHUP')" 1 "SIGHUPs the pool received"
    expect_eq "$(ev_count 'lighttpd signal SIGUSR1')" 1 "SIGUSR1s lighttpd received"
}

t_sup_signals_for_the_pool_wait_until_it_is_ready() {
    sup_env
    fake_pool --listen-delay 800 --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    ep_start
    ev_wait 'pool start'
    kill -HUP "$EP_PID"                 # the pool has not installed its handlers yet
    ev_wait 'lighttpd start' 3000
    expect_no_event 'pool signal SIGHUP'
    expect_stderr 'SIGHUP not forwarded: the pool is still starting'
    kill -HUP "$EP_PID"                 # ready now: forwarded
    ev_wait 'pool signal SIGHUP$' 2000
    sup_stop_ok
}

t_sup_pool_never_ready_exit_1() {
    sup_env
    export MCPGW_START_TIMEOUT=1
    fake_pool_no_socket --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    ep_start
    ep_wait 4000
    expect_eq "$EP_RC" 1 "exit code when the pool never listens"
    expect_between "$EP_MS" 900 2500 "ms to give up with a 1 s start timeout"
    expect_event 'pool signal SIGTERM'
    expect_no_event 'lighttpd start'
    expect_stderr \
        "the pool was not ready after 1 s (connect $T/run/fcgi.sock: No such file or directory)"
    expect_json_log
}

t_sup_pool_exits_before_ready_passes_its_code() {
    sup_env
    export MCPGW_START_TIMEOUT=10
    fake_pool_no_socket --exit-after 200:0
    fake_lighttpd --on INT=exit:0
    ep_start
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code when the pool exits 0 before it is ready"
    expect_between "$EP_MS" 150 1500 "ms to notice"
    expect_no_event 'lighttpd start'
    expect_stderr "the pool exited before its socket accepted a connection"
    # The pool's own code passes through: 2 is what it exits with for a bad setting.
    : >"$EVENTS"
    fake_pool_no_socket --exit-after 100:2
    ep_start
    ep_wait 3000
    expect_eq "$EP_RC" 2 "exit code when the pool exits 2 before it is ready"
    expect_no_event 'lighttpd start'
}

t_sup_missing_programs_exit_1() {
    sup_env
    ep_start MCPGW_POOL_BIN="$T/no-such-pool"
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for a missing pool binary"
    expect_stderr "exec $T/no-such-pool: No such file or directory"
    fake_pool --on TERM=exit:0
    ep_start MCPGW_LIGHTTPD=mcpgw-no-such-lighttpd
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for a missing lighttpd"
    expect_stderr "exec mcpgw-no-such-lighttpd: No such file or directory"
    expect_event 'pool signal SIGTERM'
    expect_event 'pool exit 0'
}

t_sup_term_before_ready_stops_the_pool() {
    sup_env
    fake_pool --listen-delay 4000 --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    ep_start
    ev_wait 'pool start'
    kill -TERM "$EP_PID"
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code"
    expect_event 'pool signal SIGTERM'
    expect_no_event 'lighttpd start'
}

t_sup_bad_settings_exit_2() {
    local case bad=() long
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    long=/$(printf 'x%.0s' {1..120})
    for case in \
        MCPGW_DRAIN_DELAY=abc MCPGW_DRAIN_DELAY=-1 MCPGW_DRAIN_DELAY=5s \
        MCPGW_STOP_BUDGET=0 MCPGW_STOP_BUDGET=99999 MCPGW_START_TIMEOUT=1.5 \
        MCPGW_DRAIN_DELAY=30 MCPGW_RUNTIME_DIR=relative/run MCPGW_SOCKET=fcgi.sock \
        MCPGW_SOCKET=127.0.0.1:99999 MCPGW_SOCKET=example.com:9000 "MCPGW_SOCKET=$long" \
        MCPGW_PORT=0 MCPGW_PORT=http MCPGW_HEALTH_URL=example.com:80/health \
        "MCPGW_HEALTH_URL=127.0.0.1:80/a b" MCPGW_LOG_LEVEL=loud \
        MCPGW_BIND=not-an-ip MCPGW_BIND=:: MCPGW_BIND=example.com MCPGW_BIND=[::1 \
        MCPGW_KEEPALIVE_IDLE=abc MCPGW_KEEPALIVE_IDLE=0 MCPGW_KEEPALIVE_IDLE=40000 \
        MCPGW_STATUS_SOCKET=127.0.0.1:9001; do
        : >"$EVENTS"
        ep_start "$case"
        ep_wait 2000
        if [[ $EP_RC != 2 ]]; then
            bad+=("$case: exit $EP_RC")
        elif ! grep -qF -- "${case:0:60}" "$T/ep.err"; then
            bad+=("$case: message does not name it: $(cat "$T/ep.err")")
        elif ev_has 'start'; then
            bad+=("$case: a child was started")
        fi
    done
    ((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
    ep_start MCPGW_DRAIN_DELAY=30
    ep_wait 2000
    expect_stderr 'MCPGW_DRAIN_DELAY=30: must be less than MCPGW_STOP_BUDGET=5'
    expect_json_log
}

t_sup_only_std_fds_reach_children_and_fd3_is_stdout() {
    sup_env
    fake_pool --on TERM=exit:0
    fake_lighttpd --on INT=exit:0 --fd3-write access-log-line-via-fd3
    exec 7<"$EVENTS"            # an fd the entrypoint inherits and must not pass on
    sup_start
    exec 7<&-
    [[ -e /proc/$EP_PID/fd/7 ]] || fail "the entrypoint did not inherit fd 7; test is void"
    expect_event 'pool start .* fds=0,1,2 '
    expect_event 'lighttpd start .* fds=0,1,2,3 '
    wait_until 1000 grep -q '^access-log-line-via-fd3$' "$T/ep.out" ||
        fail "lighttpd's write to fd 3 did not reach the entrypoint's stdout"
    sup_stop_ok
}

t_sup_reaps_orphans_of_the_pool() {
    local pids
    sup_env
    fake_pool --orphans 20:400 --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    ev_wait 'pool orphans-gone' 5000
    expect_eq "$(ev_count " orphan pid=[0-9]+ ppid=$EP_PID\$")" 20 \
        "orphans re-parented to the entrypoint"
    pids=$(ev ' orphan pid=' | sed -E 's/.* pid=([0-9]+) .*/\1/')
    # shellcheck disable=SC2086
    wait_until 3000 none_alive $pids || fail "orphans not reaped: $(zombies_of "$EP_PID") zombies"
    expect_eq "$(zombies_of "$EP_PID")" 0 "zombie children of the entrypoint"
    sup_stop_ok
}

t_sup_tcp_socket() {
    local port
    sup_env
    port=$("$BIN/fakechild" --free-port)
    export MCPGW_SOCKET=127.0.0.1:$port
    fake_pool_no_socket --listen-tcp "$port" --listen-delay 300 --on TERM=exit:0
    fake_lighttpd --on INT=exit:0
    sup_start
    expect_before 'pool listening 127.0.0.1' 'lighttpd start'
    ev_wait 'pool accept' 2000
    sup_stop_ok
}

# http_get PORT PATH: true when the server on 127.0.0.1:PORT answers 200 (bash's /dev/tcp).
http_get() (
    exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&5
    read -t 2 -r line <&5 && [[ $line == "HTTP/1.0 200"* ]]
) 2>/dev/null

# The real lighttpd 1.4.69: its access log reaches our stdout through fd 3, SIGINT stops
# it gracefully with status 0.
t_sup_real_lighttpd_logs_through_fd3_and_stops_on_sigint() {
    local port lighttpd
    lighttpd=$(command -v lighttpd || echo /usr/sbin/lighttpd)
    [[ -x $lighttpd ]] || fail "lighttpd is not installed (make deps)"
    sup_env
    port=$("$BIN/fakechild" --free-port)
    export MCPGW_LIGHTTPD=$lighttpd
    mkdir -p "$T/www"
    echo hello >"$T/www/index.html"
    {
        echo "server.document-root = \"$T/www\""
        echo 'server.bind = "127.0.0.1"'
        echo "server.port = $port"
        echo 'server.modules = ("mod_accesslog")'
        echo 'accesslog.filename = "/proc/self/fd/3"'
    } >"$T/lighttpd.conf"
    fake_pool --on TERM=exit:0
    ep_start
    wait_until 3000 http_get "$port" /index.html || fail "lighttpd did not answer on $port"
    wait_until 2000 grep -q '"GET /index.html HTTP/1.0" 200' "$T/ep.out" ||
        fail "no access log line on the entrypoint's stdout: $(cat "$T/ep.out")"
    sup_stop_ok
    expect_stderr '"msg":"lighttpd stopped","child":"lighttpd"'
    # lighttpd's own plain-text lines come through as JSON lines of component lighttpd.
    expect_stderr '"level":"info","component":"lighttpd","msg":"(server.c.'
    expect_stderr 'graceful shutdown started'
    expect_json_log entrypoint,lighttpd
    expect_before 'pool listening' 'pool signal SIGTERM'
}

# `mcpgw-entrypoint > file 2>&1` from a shell opens the file without O_APPEND, while
# lighttpd's open of /proc/self/fd/3 appends: unless every writer appends, the
# entrypoint's own later lines overwrite lighttpd's.  All 20 access lines and the stop
# lines must be in the file.
t_sup_access_log_survives_a_plain_redirect_to_a_file() {
    local port lighttpd n
    lighttpd=$(command -v lighttpd || echo /usr/sbin/lighttpd)
    [[ -x $lighttpd ]] || fail "lighttpd is not installed (make deps)"
    sup_env
    port=$("$BIN/fakechild" --free-port)
    export MCPGW_LIGHTTPD=$lighttpd
    mkdir -p "$T/www"
    echo hello >"$T/www/index.html"
    {
        echo "server.document-root = \"$T/www\""
        echo 'server.bind = "127.0.0.1"'
        echo "server.port = $port"
        echo 'server.modules = ("mod_accesslog")'
        echo 'accesslog.filename = "/proc/self/fd/3"'
    } >"$T/lighttpd.conf"
    fake_pool --on TERM=exit:0
    "$EP" >"$T/both.log" 2>&1 </dev/null &
    EP_PID=$!
    wait_until 3000 http_get "$port" /index.html || fail "lighttpd did not answer on $port"
    for n in $(seq 2 20); do http_get "$port" "/index.html?n=$n" || fail "request $n failed"; done
    # lighttpd buffers its access log when it is a regular file: the lines land at the stop.
    kill -TERM "$EP_PID"
    ep_wait 8000
    expect_eq "$EP_RC" 0 "exit code after SIGTERM"
    n=$(grep -c 'GET /index.html' "$T/both.log")
    expect_eq "$n" 20 "access log lines left in the file after the entrypoint's stop lines"
    grep -qF '"msg":"lighttpd stopped"' "$T/both.log" || fail "stop lines missing: $(cat "$T/both.log")"
}
