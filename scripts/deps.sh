#!/bin/sh
# deps.sh - install what building, running and testing mcpgw needs, only what is missing.
# Debian packages through apt-get (as root, or through sudo), npm tools pinned by
# tests/package-lock.json.  Quiet when everything is already there.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config libfcgi-dev libcjson-dev libcurl4-openssl-dev libssl-dev
libsqlite3-dev libcriterion-dev lighttpd wrk curl ca-certificates nodejs npm valgrind
podman runc containernetworking-plugins debootstrap debian-archive-keyring jq openssl"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
# Node and npm may come from elsewhere than Debian (as on CI images): accept them.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages: $missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm tools: reinstall only when the lockfile changed since the last install.
stamp=tests/node_modules/.mcpgw-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s tests/package-lock.json "$stamp"; then
    echo "deps: installing npm tools (tests/package-lock.json)"
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/package-lock.json "$stamp"
fi
