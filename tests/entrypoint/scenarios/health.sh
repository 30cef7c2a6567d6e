# SPDX-License-Identifier: MIT
# health.sh - mcpgw-entrypoint --health against a tiny HTTP server (helpers/httpstub).

# stub_start MODE: the stub on a free loopback port, in $PORT.
stub_start() {
    "$BIN/httpstub" "$T/port" "$T/http.log" "$1" &
    TRACKED+=($!)
    wait_until 2000 test -s "$T/port" || fail "the HTTP stub did not start"
    PORT=$(cat "$T/port")
}

t_health_200_exits_0() {
    stub_start 200
    ep_start MCPGW_PORT="$PORT" --health
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code for 200"
    [[ ! -s $T/ep.err ]] || fail "stderr not empty on success: $(cat "$T/ep.err")"
    grep -qxF "request GET /health HTTP/1.0|host 127.0.0.1:$PORT" "$T/http.log" ||
        fail "unexpected request: $(cat "$T/http.log")"
}

t_health_503_exits_1() {
    stub_start 503
    ep_start MCPGW_PORT="$PORT" --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for 503"
    expect_eq "$(cat "$T/ep.err")" "health: status 503" "stderr"
}

t_health_nothing_listening_exits_1() {
    local port
    port=$("$BIN/fakechild" --free-port)
    ep_start MCPGW_PORT="$port" --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code when nothing listens"
    expect_eq "$(cat "$T/ep.err")" "health: connect 127.0.0.1:$port: Connection refused" "stderr"
}

t_health_silent_server_times_out_in_2s() {
    stub_start hang
    ep_start MCPGW_PORT="$PORT" --health
    ep_wait 5000
    expect_eq "$EP_RC" 1 "exit code when the server never answers"
    expect_between "$EP_MS" 1900 3000 "ms before giving up"
    expect_stderr "health: no answer from 127.0.0.1:$PORT within 2 s"
}

t_health_not_http_exits_1() {
    stub_start garbage
    ep_start MCPGW_PORT="$PORT" --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for a non-HTTP answer"
    expect_stderr "health: bad status line from 127.0.0.1:$PORT: SSH-2.0-nope"
}

t_health_url_overrides_port_and_path() {
    stub_start 200
    ep_start MCPGW_PORT=1 MCPGW_HEALTH_URL="http://127.0.0.1:$PORT/ready?deep=1" --health
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code"
    grep -qxF "request GET /ready?deep=1 HTTP/1.0|host 127.0.0.1:$PORT" "$T/http.log" ||
        fail "unexpected request: $(cat "$T/http.log")"
    : >"$T/http.log"
    ep_start MCPGW_HEALTH_URL="localhost:$PORT" --health
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code for host:port without a path"
    grep -qxF "request GET /health HTTP/1.0|host localhost:$PORT" "$T/http.log" ||
        fail "unexpected request: $(cat "$T/http.log")"
}

t_health_bad_setting_exits_1_not_2() {
    ep_start MCPGW_PORT=eighty --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for a bad MCPGW_PORT (Docker reserves 2)"
    expect_stderr "MCPGW_PORT=eighty"
    ep_start MCPGW_HEALTH_URL=127.0.0.1/health --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code for a MCPGW_HEALTH_URL without a port"
    expect_stderr "MCPGW_HEALTH_URL=127.0.0.1/health"
}

t_health_asks_the_address_lighttpd_is_bound_to() {
    stub_start 200
    # A wildcard includes loopback: asked there.
    ep_start MCPGW_PORT="$PORT" MCPGW_BIND=0.0.0.0 --health
    ep_wait 3000
    expect_eq "$EP_RC" 0 "exit code with MCPGW_BIND=0.0.0.0"
    # A specific address is where lighttpd listens (the stub is on 127.0.0.1 only).
    ep_start MCPGW_PORT="$PORT" MCPGW_BIND=127.0.0.2 --health
    ep_wait 3000
    expect_eq "$EP_RC" 1 "exit code with MCPGW_BIND=127.0.0.2"
    expect_eq "$(cat "$T/ep.err")" "health: connect 127.0.0.2:$PORT: Connection refused" "stderr"
}
