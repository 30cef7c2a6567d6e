#!/bin/bash
# run.sh - `make run`: the gateway on 127.0.0.1 with embedded defaults (SQLite store in
# ./run) and two demo upstream MCP servers from tests/, or the upstreams named by an
# MCPGW_UPSTREAMS file the caller sets.  Ctrl-C stops all.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PORT=${MCPGW_PORT:-8080}
EVERYTHING_PORT=${DEMO_EVERYTHING_PORT:-3101}
TOOLBOX_PORT=${DEMO_TOOLBOX_PORT:-3102}
RUN="$ROOT/run"
mkdir -p "$RUN"

in_use() {
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pids=""
stop() {
    trap - INT TERM EXIT
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${MCPGW_UPSTREAMS:-}" ]; then
    demo=0
    ports="$PORT"
    upstreams_note="from $MCPGW_UPSTREAMS"
else
    demo=1
    ports="$PORT $EVERYTHING_PORT $TOOLBOX_PORT"
    upstreams_note="everything (server-everything), toolbox (tests/fixtures)"
fi
for p in $ports; do
    if in_use "$p"; then
        echo "run: port $p on 127.0.0.1 is already in use (set MCPGW_PORT, DEMO_EVERYTHING_PORT or DEMO_TOOLBOX_PORT)" >&2
        exit 1
    fi
done

if [ "$demo" = 1 ]; then
    cat > "$RUN/upstreams.json" <<JSON
{
  "separator": "__",
  "upstreams": [
    { "name": "everything", "url": "http://127.0.0.1:$EVERYTHING_PORT/mcp" },
    { "name": "toolbox",    "url": "http://127.0.0.1:$TOOLBOX_PORT/mcp" }
  ]
}
JSON
    (cd tests && PORT=$EVERYTHING_PORT exec node node_modules/@modelcontextprotocol/server-everything/dist/index.js streamableHttp) \
        >"$RUN/everything.log" 2>&1 &
    pids="$pids $!"
    (cd tests && PORT=$TOOLBOX_PORT exec node fixtures/upstream-toolbox.mjs) >"$RUN/toolbox.log" 2>&1 &
    pids="$pids $!"
    for p in "$EVERYTHING_PORT" "$TOOLBOX_PORT"; do
        i=0
        until in_use "$p"; do
            i=$((i + 1))
            if [ "$i" -gt 100 ]; then
                echo "run: demo upstream on port $p did not start; see $RUN/*.log" >&2
                exit 1
            fi
            sleep 0.1
        done
    done
    export MCPGW_UPSTREAMS="$RUN/upstreams.json"
fi

export MCPGW_RUNTIME_DIR="$RUN"
export MCPGW_BIND=127.0.0.1 MCPGW_PORT="$PORT" MCPGW_SOCKET="$RUN/fcgi.sock"
export MCPGW_LIGHTTPD_CONF="$ROOT/lighttpd.conf" MCPGW_POOL_BIN="$ROOT/${MCPGW_BUILD:-build}/mcpgw-pool"
export MCPGW_DRAIN_DELAY=${MCPGW_DRAIN_DELAY:-0}

if [ "$demo" = 1 ]; then
    call_hint="(cd tests && npx mcp-inspector --cli http://127.0.0.1:$PORT/mcp --transport http --method tools/call --tool-name everything__get-sum --tool-arg a=2 b=3)"
    logs_hint="the gateway's, one JSON object per line below (and one plain \"mcpgw is ready\" line); demo upstreams log to $RUN/"
else
    call_hint="(cd tests && npx mcp-inspector --cli http://127.0.0.1:$PORT/mcp --transport http --method tools/call --tool-name <upstream>__<tool> --tool-arg k=v)"
    logs_hint="the gateway's, one JSON object per line below (and one plain \"mcpgw is ready\" line)"
fi
cat <<MSG
mcpgw is starting on http://127.0.0.1:$PORT
  MCP endpoint:  http://127.0.0.1:$PORT/mcp   (Streamable HTTP)
  upstreams:     $upstreams_note
  try it:        (cd tests && npx mcp-inspector --cli http://127.0.0.1:$PORT/mcp --transport http --method tools/list)
                 $call_hint
  hot swap:      MCPGW_RUNTIME_DIR=$RUN ${MCPGW_BUILD:-build}/mcpgw-pool --reload
  logs:          $logs_hint
Ctrl-C stops everything.
MSG
"$ROOT/${MCPGW_BUILD:-build}/mcpgw-entrypoint" &
gw=$!
pids="$gw $pids"
# Say so once the gateway answers, so that nobody has to read the JSON lines to know.
(
    for _ in $(seq 1 200); do
        if curl -fs -o /dev/null "http://127.0.0.1:$PORT/health"; then
            echo "mcpgw is ready: http://127.0.0.1:$PORT/mcp"
            exit 0
        fi
        kill -0 "$gw" 2>/dev/null || exit 0
        sleep 0.1
    done
) &
wait "$gw"
