# SPDX-License-Identifier: MIT
# tini.sh - tini mode (mcpgw-entrypoint -- PROG ARGS): exit codes, signals, orphans, groups.

t_tini_exit_code_is_the_childs() {
    local code
    for code in 0 1 3 255; do
        ep_start -- sh -c "exit $code"
        ep_wait 3000
        expect_eq "$EP_RC" "$code" "exit code when the child exits $code"
    done
}

t_tini_child_killed_by_signal_gives_128_plus_n() {
    ep_start -- sh -c 'kill -KILL $$'
    ep_wait 3000
    expect_eq "$EP_RC" 137 "child killed itself with SIGKILL"
    ep_start -- sh -c 'kill -TERM $$'
    ep_wait 3000
    expect_eq "$EP_RC" 143 "child killed itself with SIGTERM"
}

# A shell runs background jobs with SIGINT ignored and the entrypoint ignores SIGPIPE:
# neither may reach the child, which must start with every signal at its default.
t_tini_child_starts_with_default_signal_dispositions() {
    ep_start -- sh -c 'kill -INT $$; exit 5'
    ep_wait 3000
    expect_eq "$EP_RC" 130 "child sending itself SIGINT"
    ep_start -- sh -c 'kill -PIPE $$; exit 5'
    ep_wait 3000
    expect_eq "$EP_RC" 141 "child sending itself SIGPIPE"
}

t_tini_missing_program_gives_127() {
    ep_start -- "$T/no-such-program" arg
    ep_wait 3000
    expect_eq "$EP_RC" 127 "exit code for a missing program"
    expect_stderr "exec $T/no-such-program: No such file or directory"
    ep_start -- mcpgw-no-such-program-in-path
    ep_wait 3000
    expect_eq "$EP_RC" 127 "exit code for a program not in PATH"
    expect_stderr "exec mcpgw-no-such-program-in-path: No such file or directory"
}

t_tini_not_executable_gives_126() {
    printf 'echo hello\n' >"$T/plain-file"
    chmod 644 "$T/plain-file"
    ep_start -- "$T/plain-file"
    ep_wait 3000
    expect_eq "$EP_RC" 126 "exit code for a file without execute permission"
    expect_stderr "exec $T/plain-file: Permission denied"
    ep_start -- "$T"
    ep_wait 3000
    expect_eq "$EP_RC" 126 "exit code for a directory"
}

t_tini_forwards_signals_to_the_child() {
    local s
    ep_start -- "$BIN/fakechild" --name child --log "$EVENTS" --on TERM=exit:0
    ev_wait 'child start'
    for s in USR1 HUP INT WINCH USR2 QUIT ALRM CONT; do
        kill -s "$s" "$EP_PID"
        ev_wait "child signal SIG$s\$" 2000
    done
    kill -TERM "$EP_PID"
    ev_wait 'child signal SIGTERM$' 2000
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code after the child exited 0 on SIGTERM"
    for s in USR1 HUP INT WINCH USR2 QUIT ALRM CONT TERM; do
        expect_eq "$(ev_count "child signal SIG$s\$")" 1 "times the child saw SIG$s"
    done
}

t_tini_forwarded_term_kills_child_143() {
    ep_start -- "$BIN/fakechild" --name child --log "$EVENTS" --on TERM=default
    ev_wait 'child start'
    kill -TERM "$EP_PID"
    ep_wait 3000
    expect_event 'child die SIGTERM'
    expect_eq "$EP_RC" 143 "exit code when the forwarded SIGTERM kills the child"
}

t_tini_reaps_100_orphans() {
    local pids
    ep_start -- "$BIN/fakechild" --name child --log "$EVENTS" --orphans 100:500 --on TERM=exit:0
    ev_wait 'child orphans-gone' 10000
    expect_eq "$(ev_count ' orphan pid=')" 100 "grandchildren that reported"
    expect_eq "$(ev_count " orphan pid=[0-9]+ ppid=$EP_PID\$")" 100 \
        "grandchildren re-parented to the entrypoint"
    pids=$(ev ' orphan pid=' | sed -E 's/.* pid=([0-9]+) .*/\1/')
    # shellcheck disable=SC2086
    wait_until 3000 none_alive $pids ||
        fail "orphans still in /proc (not reaped): $(zombies_of "$EP_PID") zombies"
    expect_eq "$(zombies_of "$EP_PID")" 0 "zombie children of the entrypoint"
    ep_running || fail "the entrypoint exited while its child was alive"
    kill -TERM "$EP_PID"
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code"
}

t_tini_child_gets_its_own_process_group() {
    local ep_pgid stat
    ep_start -- "$BIN/fakechild" --name child --log "$EVENTS" --on TERM=exit:0
    ev_wait 'child start'
    expect_eq "$(pgid_of child)" "$(pid_of child)" "the child's process group"
    read -r stat <"/proc/$EP_PID/stat"
    stat=${stat##*) }
    ep_pgid=$(echo "$stat" | cut -d' ' -f3)
    [[ $ep_pgid != "$(pgid_of child)" ]] || fail "child shares the entrypoint's group $ep_pgid"
    expect_event "child start pid=[0-9]+ ppid=$EP_PID "
    kill -TERM "$EP_PID"
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code"
}

t_usage_errors_exit_2() {
    ep_start bogus
    ep_wait 2000
    expect_eq "$EP_RC" 2 "exit code for an unknown argument"
    expect_stderr "usage:"
    ep_start --
    ep_wait 2000
    expect_eq "$EP_RC" 2 "exit code for -- without a program"
    ep_start --help
    ep_wait 2000
    expect_eq "$EP_RC" 0 "exit code for --help"
    grep -q '^usage:' "$T/ep.out" || fail "--help prints no usage on stdout"
}
