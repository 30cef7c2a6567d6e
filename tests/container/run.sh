#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - build the real Dockerfile with podman, then check the image and the running container.
#
#   tests/container/run.sh
#
# Needs root, podman (with runc), debootstrap, node, curl, jq and openssl: `make deps`
# installs them.  No registry is needed: when the builder's base image (the Dockerfile's
# first FROM) is not in local storage, base-image.sh makes it with debootstrap from this
# machine's Debian mirror, and the build runs with --pull=never --network host.
#
# Podman's configuration and storage are the test's own, kept between runs so that later
# runs reuse the base image and the build cache:
#   MCPGW_CONTAINER_DIR     containers.conf, storage.conf, images (default /var/tmp/mcpgw-containers)
#   MCPGW_CONTAINER_RUNDIR  podman's run-time state (default /run/mcpgw-containers)
#   MCPGW_CONTAINER_CONTEXT build context (default: this repository)
# Delete both directories to start from nothing.  Runs on one machine take turns (a lock
# file in MCPGW_CONTAINER_DIR, held by flock(1)).  Every container the run starts carries the label
# mcpgw.test.run=<id> and is removed at exit, with its anonymous volumes; so are the
# helper processes it starts.
#
# When this machine cannot run containers (no podman, not root, the runtime refuses),
# the run fails and says why: it never passes without having run.  The last line is
# "container: N passed, M failed"; the exit status is non-zero when a check failed.

# Checks pass their condition to eval in single quotes, on purpose (SC2016), and the
# limits below are read there (SC2034).
# shellcheck disable=SC2016,SC2034,SC2317
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${MCPGW_CONTAINER_DIR:-/var/tmp/mcpgw-containers}
RUNDIR=${MCPGW_CONTAINER_RUNDIR:-/run/mcpgw-containers}
CONTEXT=${MCPGW_CONTAINER_CONTEXT:-$ROOT}
IMAGE=localhost/mcpgw:test
SIZE_LIMIT=30000000             # bytes: the image must stay under 30 MB
HEALTH_LIMIT_MS=1000            # /health must answer 200 this soon after the start
STOP_BUDGET_S=25                # MCPGW_STOP_BUDGET's default: the image's own settings
DRAIN_DELAY_S=5                 # MCPGW_DRAIN_DELAY's default
RUN_ID="$$-$RANDOM"
LABEL="mcpgw.test.run=$RUN_ID"
T_START=$EPOCHREALTIME

passed=0
failed=0
failures=()
HELPER_PIDS=()
LOCK_PID=
WORK=

ms_since() { # ms_since EPOCHREALTIME-value
    local now=$EPOCHREALTIME
    echo $(( (${now//[.,]/} - ${1//[.,]/}) / 1000 ))
}
ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}
fail() {
    local name=$1
    shift
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL - $name"
    local line
    for line in "$@"; do echo "    $line"; done
}
# check NAME DETAIL-ON-FAILURE COMMAND...: one check from a command's exit status.
check() {
    local name=$1 detail=$2
    shift 2
    if "$@"; then ok "$name"; else fail "$name" "$detail"; fi
}
info() { echo "# $*"; }
jqe() { jq -e "$@" >/dev/null; }

cleanup() {
    local c p
    if command -v podman >/dev/null && [[ -n ${CONTAINERS_CONF:-} ]]; then
        for c in $(podman ps -a -q --filter "label=$LABEL" 2>/dev/null); do
            podman rm -f -t 0 -v "$c" >/dev/null 2>&1
        done
    fi
    for p in "${HELPER_PIDS[@]}" $LOCK_PID; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    [[ -n $WORK ]] && rm -rf "$WORK"
}
# finish [normal]: clean up, print the totals, exit non-zero when anything failed.  Called
# without "normal" (from the EXIT trap) the script ended early, which is a failure too.
finish() {
    local rc=$?
    trap - EXIT
    if [[ ${1:-} != normal ]]; then
        fail "run.sh ended early (status $rc)" "see the output above"
    fi
    cleanup
    info "wall time $(( $(ms_since "$T_START") / 1000 )) s"
    if (( failed > 0 )); then info "failed: ${failures[*]}"; fi
    echo "container: $passed passed, $failed failed"
    (( failed == 0 ))
    exit
}
# abort REASON...: a prerequisite is missing; nothing after it can run.
abort() {
    fail "$@"
    finish normal
}
trap finish EXIT
trap 'fail "interrupted by SIGINT"; finish normal' INT
trap 'fail "interrupted by SIGTERM"; finish normal' TERM

# ------------------------------------------------------------ prerequisites
missing=()
for tool in podman runc node curl jq openssl flock tar; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if (( ${#missing[@]} > 0 )); then
    abort "prerequisites" "not installed: ${missing[*]} (make deps installs them)"
fi
if [[ $(id -u) -ne 0 ]]; then
    abort "prerequisites" "needs root: the test runs rootful podman (try: sudo $0)"
fi

mkdir -p "$DIR" "$RUNDIR"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcpgw-container-test.XXXXXX")
chmod 0755 "$WORK"

# Runs on one machine take turns.  The lock is held by a flock(1) helper whose command
# lives exactly as long as this script (tail --pid), so no process of ours holds the
# lock's file descriptor: a container engine process (conmon) that outlived a killed run
# must not keep holding it.
flock -o -E 75 -w 1200 "$DIR/lock" sh -c 'echo locked; exec tail --pid="$1" -f /dev/null' sh $$ \
    >"$WORK/lock.state" 2>&1 &
LOCK_PID=$!
until grep -qs '^locked' "$WORK/lock.state"; do
    if ! kill -0 "$LOCK_PID" 2>/dev/null; then
        wait "$LOCK_PID"
        abort "prerequisites" "could not take $DIR/lock (flock exit $?; 75: another run held it for 20 minutes)"
    fi
    sleep 0.2
done

cat >"$DIR/containers.conf" <<EOF
# Written by tests/container/run.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUNDIR/tmp"
EOF
cat >"$DIR/storage.conf" <<EOF
# Written by tests/container/run.sh.
[storage]
driver = "overlay"
graphroot = "$DIR/storage"
runroot = "$RUNDIR/runroot"
EOF
export CONTAINERS_CONF="$DIR/containers.conf" CONTAINERS_STORAGE_CONF="$DIR/storage.conf"

# Containers left by a run that was killed before its cleanup.
for c in $(podman ps -a -q --filter label=mcpgw.test.run 2>/dev/null); do
    podman rm -f -t 0 -v "$c" >/dev/null 2>&1
done

# Can this machine run a container at all?  A two-file image (/bin/true and what it
# links) answers that in a second, before minutes go into debootstrap and the build.
probe_image=localhost/mcpgw-probe:1
if ! podman image exists "$probe_image" 2>/dev/null; then
    prootfs=$WORK/probe-rootfs
    mkdir -p "$prootfs"
    for f in /bin/true $(ldd /bin/true | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        cp -L --parents "$f" "$prootfs/"
    done
    if ! out=$(tar -C "$prootfs" -c . | podman import -q - "$probe_image" 2>&1); then
        abort "podman can run containers" "podman import failed: $out"
    fi
fi
if out=$(timeout --foreground 120 podman run --rm --network none --label "$LABEL" "$probe_image" /bin/true 2>&1); then
    ok "podman can run containers"
else
    abort "podman can run containers" "podman run failed on this machine:" "$out"
fi

# ------------------------------------------------------------ base image and build
DOCKERFILE=$CONTEXT/Dockerfile
BASE=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$DOCKERFILE")
if podman image exists "$BASE"; then
    ok "builder base image $BASE in local storage"
else
    t=$EPOCHREALTIME
    if timeout --foreground 900 "$HERE/base-image.sh" "$BASE" "$DIR/base" >"$WORK/base.log" 2>&1; then
        ok "builder base image $BASE made locally ($(( $(ms_since "$t") / 1000 )) s)"
    else
        abort "builder base image $BASE" "$(tail -15 "$WORK/base.log")"
    fi
fi

# Build arguments that stay the same while the sources do, so that an unchanged tree is
# one cached build and storage does not fill with copies.
VERSION=0.0.0-test
REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo no-git)
CREATED=$(TZ=UTC git -C "$ROOT" log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
          echo 1970-01-01T00:00:00Z)
build() { # build EXTRA-ARGS...: podman build of the Dockerfile, output to $WORK/build.log
    TZ=UTC timeout --foreground 1200 podman build --format docker --pull=never --network host --layers \
        --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
        --build-arg CREATED="$CREATED" -f "$DOCKERFILE" "$@" "$CONTEXT" >>"$WORK/build.log" 2>&1
}
t=$EPOCHREALTIME
# The builder stage gets a name too: its cached layers then belong to a named image, and
# pruning removes only what earlier builds left behind.
if build --target build -t localhost/mcpgw-build:test && build -t "$IMAGE"; then
    ok "image builds from the Dockerfile ($(( $(ms_since "$t") / 1000 )) s)"
    podman image prune -f >/dev/null 2>&1
else
    cp "$WORK/build.log" "$DIR/last-build.log"
    abort "image builds from the Dockerfile" "$(grep -v '^cc ' "$WORK/build.log" | tail -25)" \
        "(whole log: $DIR/last-build.log)"
fi
info "storage $(du -sh "$DIR/storage" 2>/dev/null | cut -f1) in $DIR"

# ------------------------------------------------------------ the image
podman image inspect "$IMAGE" >"$WORK/image.json"
cfg() { jq -c "$1" "$WORK/image.json"; }

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
info "image size $size bytes; layers (newest first):"
podman history --format '#   {{.Size}}  {{.CreatedBy}}' "$IMAGE" | cut -c1-110
check "image under 30 MB ($size bytes)" "limit $SIZE_LIMIT bytes" test "$size" -lt "$SIZE_LIMIT"

check "runs as numeric non-root user 10001:10001" "User is $(cfg '.[0].Config.User')" \
    test "$(cfg '.[0].Config.User')" = '"10001:10001"'
check "ENTRYPOINT in exec form" "Entrypoint is $(cfg '.[0].Config.Entrypoint')" \
    test "$(cfg '.[0].Config.Entrypoint')" = '["/usr/local/bin/mcpgw-entrypoint"]'
hc=$(cfg '.[0].Healthcheck // .[0].Config.Healthcheck')
check "HEALTHCHECK through the entrypoint, with interval, timeout, start period, retries" \
    "Healthcheck is $hc" \
    jqe '(.[0].Healthcheck // .[0].Config.Healthcheck) | .Test == ["CMD","/usr/local/bin/mcpgw-entrypoint","--health"]
           and .Interval > 0 and .Timeout > 0 and .StartPeriod > 0 and .Retries > 0' "$WORK/image.json"
check "STOPSIGNAL SIGTERM" "StopSignal is $(cfg '.[0].Config.StopSignal')" \
    jqe '.[0].Config.StopSignal | . == "SIGTERM" or . == "15"' "$WORK/image.json"
check "runtime defaults in the environment" "Env is $(cfg '.[0].Config.Env')" \
    jqe '.[0].Config.Env | index("MCPGW_BIND=0.0.0.0") and index("MCPGW_PORT=8080")
           and index("MCPGW_RUNTIME_DIR=/run/mcpgw")' "$WORK/image.json"
check "writable paths declared as volumes: /run/mcpgw, /tmp" "Volumes are $(cfg '.[0].Config.Volumes')" \
    test "$(cfg '.[0].Config.Volumes | keys')" = '["/run/mcpgw","/tmp"]'
check "OCI labels carry the build arguments" "Labels are $(cfg '.[0].Config.Labels')" \
    jqe --arg v "$VERSION" --arg r "$REVISION" --arg c "$CREATED" '.[0].Config.Labels |
           .["org.opencontainers.image.version"] == $v and .["org.opencontainers.image.revision"] == $r
           and .["org.opencontainers.image.created"] == $c' "$WORK/image.json"

# What the image holds: exactly what runs.  Anything else (a shell, sources, keys, a
# stray config) is reported by name.
cid=$(podman create --label "$LABEL" "$IMAGE" 2>/dev/null)
podman export "$cid" | tar -tf - | sed 's|^\./||; s|/$||' | grep -v '^$' | sort >"$WORK/files"
podman rm -f -t 0 -v "$cid" >/dev/null 2>&1
allowed='^(etc|etc/(passwd|group|hosts|hostname|resolv\.conf|nsswitch\.conf)|etc/mcpgw|etc/mcpgw/(lighttpd\.conf|upstreams\.json)'
allowed+='|etc/mcpgw/version|etc/ssl|etc/ssl/certs|etc/ssl/certs/ca-certificates\.crt|lib|lib64|run|run/mcpgw|tmp|var|var/tmp'
allowed+='|usr|usr/local|usr/local/bin|usr/local/bin/mcpgw-(entrypoint|pool)|usr/sbin|usr/sbin/lighttpd'
allowed+='|usr/lib|usr/lib/lighttpd|usr/lib/lighttpd/mod_[a-z0-9_]+\.so|usr/lib64|usr/lib64/ld-linux[-a-z0-9_.]*\.so\.[0-9]+'
allowed+='|usr/lib/[a-z0-9_]+-linux-gnu|usr/lib/[a-z0-9_]+-linux-gnu/(ld-linux[-a-z0-9_.]*|lib[-a-zA-Z0-9_.+]+)\.so[.0-9]*)$'
extra=$(grep -Ev "$allowed" "$WORK/files" | head -20)
check "image holds only what runs ($(wc -l <"$WORK/files") paths: no shell, no sources, no keys)" \
    "unexpected: ${extra//$'\n'/ }" test -z "$extra"
secrets=$( { cfg '.[0].Config.Env[]'; podman history --no-trunc --format '{{.CreatedBy}}' "$IMAGE"; } |
           grep -Ei 'secret|token|passw|credential|private|api_?key|access_?key' | head -5)
check "no secrets in the image's environment or history" "found: $secrets" test -z "$secrets"

# ------------------------------------------------------------ the running container
free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
                 console.log(s.address().port); s.close(); });'
}
# start_helper OUTFILE ARGS...: run node client.mjs ARGS in the background; wait for its
# first line (the port it listens on) in OUTFILE.
start_helper() {
    local out=$1
    shift
    node "$HERE/client.mjs" "$@" >"$out" 2>&1 &
    HELPER_PIDS+=("$!")
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $out ]] && jq -r .port "$out" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# mcp_post BODY [SESSION]: POST to the container's /mcp on $PORT; prints the status, the
# Mcp-Session-Id answered (an empty line if none) and the body, each from a new line.
mcp_post() {
    local hdr=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
    [[ -n ${2:-} ]] && hdr+=(-H "Mcp-Session-Id: $2" -H 'MCP-Protocol-Version: 2025-06-18')
    printf '%s' "$1" >"$WORK/req"
    curl -sS -m 30 -D "$WORK/h" -o "$WORK/b" -w '%{http_code}\n' "${hdr[@]}" --data-binary "@$WORK/req" \
        "http://127.0.0.1:$PORT/mcp"
    tr -d '\r' <"$WORK/h" | awk -F': ' 'tolower($1) == "mcp-session-id" { s = $2 } END { print s }'
    cat "$WORK/b"
}

GATEWAY_IP=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}' 2>/dev/null)
PORT=$(free_port)
UPORT=$(free_port)
TPORT=$(free_port)
cat >"$WORK/upstreams.json" <<EOF
{ "upstreams": [
    { "name": "plain", "url": "http://host.containers.internal:$UPORT/mcp" },
    { "name": "tls",   "url": "https://host.containers.internal:$TPORT/mcp", "timeout_ms": 5000 } ] }
EOF
chmod 0644 "$WORK/upstreams.json"
NAME=mcpgw-test-$RUN_ID
# The documented command (docs/OPERATIONS.md), with podman's own extra tmpfs mounts
# (--read-only-tmpfs) turned off: only what the docs name is writable, as under Docker or
# ECS.  No capabilities at all.
timeout --foreground 60 podman create --name "$NAME" --label "$LABEL" \
    --read-only --read-only-tmpfs=false \
    --tmpfs /run/mcpgw:rw,mode=0700,U --tmpfs /tmp:rw,mode=1777 \
    --cap-drop ALL --security-opt no-new-privileges \
    -p "127.0.0.1:$PORT:8080" \
    -v "$WORK/upstreams.json:/etc/mcpgw/upstreams.json:ro" \
    "$IMAGE" >/dev/null 2>"$WORK/create.err" ||
    abort "container starts" "podman create failed: $(cat "$WORK/create.err")"

timeout --foreground 60 node "$HERE/client.mjs" wait-health "http://127.0.0.1:$PORT" 10000 >"$WORK/wait.json" 2>&1 &
waiter=$!
HELPER_PIDS+=("$waiter")
t_start_ms=$(( ${EPOCHREALTIME//[.,]/} / 1000 ))
timeout --foreground 60 podman start "$NAME" >/dev/null 2>"$WORK/start.err"
start_rc=$?
wait "$waiter"
wait_rc=$?
started=$(podman inspect --format '{{.State.StartedAt}}' "$NAME" | sed 's/ UTC$//')
started_ms=$(date -d "$started" +%s%3N)
first_ms=$(jq -r '.first_200_ms // empty' "$WORK/wait.json" 2>/dev/null)
if [[ $start_rc -ne 0 || $wait_rc -ne 0 || -z $first_ms ]]; then
    abort "/health answers 200 after the start" "podman start: $start_rc $(grep -v systemd "$WORK/start.err")" \
        "$(cat "$WORK/wait.json")" "container log:" "$(podman logs "$NAME" 2>&1 | tail -15)"
fi
since_proc=$((first_ms - started_ms))
since_cmd=$((first_ms - t_start_ms))
info "/health 200 at $since_proc ms after the container process started ($since_cmd ms after running podman start)"
check "/health answers 200 within 1 s of the start ($since_proc ms)" \
    "$since_proc ms after State.StartedAt" test "$since_proc" -lt "$HEALTH_LIMIT_MS"

server=$(curl -sS -m 5 -D - -o /dev/null "http://127.0.0.1:$PORT/health" | tr -d '\r' |
         awk -F': ' 'tolower($1) == "server" { print $2 }')
podman top "$NAME" huser,pid,ppid,args >"$WORK/top" 2>/dev/null
check "lighttpd runs inside and answers (Server: $server)" "$(cat "$WORK/top")" \
    eval '[[ $server == mcpgw ]] && grep -q "lighttpd -D -f /etc/mcpgw/lighttpd.conf" "$WORK/top" &&
          grep -q "mcpgw-pool" "$WORK/top"'
nonroot=$(awk 'NR > 1 && $1 != "10001"' "$WORK/top")
check "every process runs as uid 10001 ($(( $(wc -l <"$WORK/top") - 1 )) processes)" \
    "others: $nonroot" test -z "$nonroot"

pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
# mountinfo: field 5 is the mount point, 6 its options.
root_opts=$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo")
rw_mounts=$(awk '$6 ~ /(^|,)rw(,|$)/ { print $5 }' "/proc/$pid/mountinfo" |
            grep -Ev '^(/dev(/.*)?|/proc(/.*)?|/sys/fs/cgroup)$' | sort | tr '\n' ' ')
info "writable mounts besides /dev, /proc and the cgroup tmpfs: $rw_mounts"
check "root filesystem read-only; writable: only /run/mcpgw and /tmp" \
    "root mount options $root_opts; writable: $rw_mounts" \
    eval '[[ $root_opts =~ (^|,)ro(,|$) && $rw_mounts == "/run/mcpgw /tmp " ]]'

{ IFS= read -r st; IFS= read -r sid; body=$(cat); } < <(mcp_post \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"container-test","version":"1"}}}')
{ IFS= read -r st2; IFS= read -r _; body2=$(cat); } < <(mcp_post \
    '{"jsonrpc":"2.0","id":2,"method":"ping"}' "$sid")
check "MCP initialize and ping through the published port" \
    "initialize: $st $body; ping: $st2 $body2" \
    eval '[[ $st == 200 && -n $sid && $st2 == 200 && $body2 == *"\"result\":{}"* ]]'

# lighttpd buffers request bodies above 64 KiB in temporary files: that must work on the
# read-only root filesystem.
pad=$(head -c 900000 /dev/zero | tr '\0' x)
{ IFS= read -r st; IFS= read -r _; body=$(cat); } < <(mcp_post \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"_meta\":{\"pad\":\"$pad\"}}}" "$sid")
check "a 900 KB request body is accepted" "status $st: $(echo "$body" | head -c 300)" \
    eval '[[ $st == 200 && $body == *"\"result\":{}"* ]]'

# Federation from inside the container: name lookup through /etc/hosts
# (host.containers.internal), libcurl over HTTP to an upstream on the host, and over
# TLS: a self-signed certificate must be refused by certificate verification, which
# shows that OpenSSL and the CA bundle load in the image.
fed_detail=""
if [[ -z $GATEWAY_IP ]]; then
    fed_detail="no gateway address for podman's default network"
elif ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=host.containers.internal" \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1; then
    fed_detail="openssl could not make a test certificate"
elif ! start_helper "$WORK/up-plain.json" upstream "$GATEWAY_IP" "$UPORT" >/dev/null ||
     ! start_helper "$WORK/up-tls.json" upstream "$GATEWAY_IP" "$TPORT" "$WORK/key.pem" "$WORK/cert.pem" >/dev/null; then
    fed_detail="test upstreams did not start on $GATEWAY_IP: $(cat "$WORK"/up-*.json)"
fi
if [[ -n $fed_detail ]]; then
    fail "federation from inside the container (HTTP upstream)" "$fed_detail"
    fail "TLS from inside the container (certificate verification)" "$fed_detail"
else
    { IFS= read -r st; IFS= read -r _; list=$(cat); } < <(mcp_post \
        '{"jsonrpc":"2.0","id":4,"method":"tools/list"}' "$sid")
    { IFS= read -r st2; IFS= read -r _; call=$(cat); } < <(mcp_post \
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"plain__echo","arguments":{"text":"through the container"}}}' "$sid")
    check "federation from inside the container (HTTP upstream)" \
        "tools/list: $st $(echo "$list" | head -c 300); tools/call: $st2 $(echo "$call" | head -c 300)" \
        eval '[[ $st == 200 && $list == *"plain__echo"* && $st2 == 200 && $call == *"through the container"* ]]'
    { IFS= read -r st; IFS= read -r _; call=$(cat); } < <(mcp_post \
        '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"tls__echo","arguments":{"text":"x"}}}' "$sid")
    tls_log=$(podman logs "$NAME" 2>&1 | grep -i 'tls\|certificate\|ssl' | tail -3)
    check "TLS from inside the container (certificate verification)" \
        "tools/call: $st $(echo "$call" | head -c 300); log: $tls_log" \
        eval '[[ $st == 200 && $call == *"-32010"* ]] && grep -qi "certificate" <<<"$call $tls_log" &&
              ! grep -qi "CA cert\|ca-certificates" <<<"$call $tls_log"'
fi

hc_out=$(timeout --foreground 30 podman healthcheck run "$NAME" 2>&1 | grep -v systemd)
check "podman healthcheck run: healthy" "$hc_out; status $(podman inspect --format '{{.State.Health.Status}}' "$NAME")" \
    test "$(podman inspect --format '{{.State.Health.Status}}' "$NAME")" = healthy

writes=$(podman diff "$NAME" 2>/dev/null | grep -v '^C ')
check "nothing written to the container's own layer" "podman diff: $writes" test -z "$writes"

# podman stop under load.  See client.mjs for how requests are counted.
timeout --foreground 120 node "$HERE/client.mjs" stop-under-load "http://127.0.0.1:$PORT" "$NAME" 1500 >"$WORK/stop.json" 2>&1
if ! jq -e .stop_ms "$WORK/stop.json" >/dev/null 2>&1; then
    fail "podman stop under load" "$(cat "$WORK/stop.json")"
else
    S() { jq -r "$@" "$WORK/stop.json"; }
    exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
    info "stop: $(S .stop_ms) ms, podman stop exit $(S .stop_rc), container exit $exit_code"
    info "load before stop: $(S -c .before); during stop: $(S -c .during)"
    info "connections not accepted: $(S -c .not_accepted_codes), the first $(S .first_not_accepted_ms) ms after podman stop; last 2xx at $(S .last_2xx_ms) ms"
    check "podman stop -t 30 under load: exit 0 within the ${STOP_BUDGET_S} s budget ($(S .stop_ms) ms)" \
        "podman stop: $(S .stop_rc) $(S .stop_stderr); container exit code $exit_code" \
        eval '[[ $(S .stop_rc) == 0 && $exit_code == 0 && $(S .stop_ms) -lt $((STOP_BUDGET_S * 1000)) ]]'
    check "zero failed requests across the stop ($(S '.before.ok + .during.ok') answered, $(S .during.not_accepted) connections not accepted after close)" \
        "$(S -c .failures)" \
        eval '[[ $(S ".before.failed + .during.failed") == 0 && $(S .before.ok) -gt 0 ]]'
    check "drain: /health 503 and requests still served for the drain delay ($(S .during.health_503) x 503)" \
        "during: $(S -c .during); first connection not accepted at $(S .first_not_accepted_ms) ms" \
        eval '[[ $(S .during.health_503) -gt 0 && $(S .during.ok) -gt 0 &&
                 $(S ".first_not_accepted_ms // 99999") -ge $((DRAIN_DELAY_S * 1000 - 50)) ]]'
fi
# lighttpd buffers its access log and writes it out at the latest when it stops.
podman logs "$NAME" >"$WORK/main.out" 2>"$WORK/main.err"
access=$(grep -c '"component":"lighttpd".*"request":"POST /mcp' "$WORK/main.out")
check "access log reaches the container's stdout ($access lines for POST /mcp)" \
    "stdout: $(tail -3 "$WORK/main.out")" test "$access" -gt 0

# The other way to get the writable paths: no tmpfs, the image's VOLUME declarations give
# anonymous volumes initialised from the image (owner and mode included), as Docker does
# and as ECS does for a bind mount at the same containerPath.
NAME2=mcpgw-test-vol-$RUN_ID
PORT2=$(free_port)
timeout --foreground 60 podman run -d --name "$NAME2" --label "$LABEL" --read-only --read-only-tmpfs=false \
    --cap-drop ALL --security-opt no-new-privileges -p "127.0.0.1:$PORT2:8080" "$IMAGE" \
    >/dev/null 2>"$WORK/run2.err"
timeout --foreground 60 node "$HERE/client.mjs" wait-health "http://127.0.0.1:$PORT2" 5000 >"$WORK/wait2.json" 2>&1
vol_health=$?
PORT_SAVE=$PORT
PORT=$PORT2
{ IFS= read -r st; IFS= read -r sid2; body=$(cat); } < <(mcp_post \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"container-test","version":"1"}}}')
{ IFS= read -r st2; IFS= read -r _; body2=$(cat); } < <(mcp_post \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"_meta\":{\"pad\":\"$pad\"}}}" "$sid2")
PORT=$PORT_SAVE
check "read-only with the image's volumes instead of tmpfs: serves, large bodies too" \
    "health: $(cat "$WORK/wait2.json"); initialize $st; big ping $st2 $(echo "$body2" | head -c 200); log: $(podman logs "$NAME2" 2>&1 | tail -5)" \
    eval '[[ $vol_health == 0 && $st == 200 && $st2 == 200 ]]'
podman rm -f -t 0 -v "$NAME2" >/dev/null 2>&1

# A bad setting stops the container at once, with a message naming it.
NAME3=mcpgw-test-bad-$RUN_ID
timeout --foreground 60 podman run -d --name "$NAME3" --label "$LABEL" --read-only --read-only-tmpfs=false \
    --tmpfs /run/mcpgw:rw,mode=0700,U --tmpfs /tmp:rw,mode=1777 \
    -e MCPGW_WORKERS=lots "$IMAGE" >/dev/null 2>"$WORK/run3.err"
bad_rc=$(timeout --foreground 10 podman wait "$NAME3" 2>/dev/null)
bad_log=$(podman logs "$NAME3" 2>&1 | grep MCPGW_WORKERS | head -2)
check "a bad setting stops the container (exit $bad_rc) with a message naming it" \
    "exit ${bad_rc:-none within 10 s}; log: $(podman logs "$NAME3" 2>&1 | tail -5)" \
    eval '[[ -n $bad_rc && $bad_rc != 0 && -n $bad_log ]]'
podman rm -f -t 0 -v "$NAME3" >/dev/null 2>&1

finish normal
