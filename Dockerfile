# SPDX-License-Identifier: MIT
# Dockerfile - mcpgw's image: a Debian bookworm builder, then a from-scratch runtime that carries only what runs.
#
#   podman build --format docker -t mcpgw \
#       --build-arg VERSION=1.2.3 --build-arg REVISION="$(git rev-parse HEAD)" \
#       --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   (docker build takes the same arguments; podman needs --format docker to keep HEALTHCHECK)
#
# The runtime stage holds: mcpgw-entrypoint and mcpgw-pool, lighttpd and the modules its
# configuration loads from disk (mod_accesslog; mod_access and mod_fastcgi are built in),
# every shared library of those (found with ldd, the dynamic loader included), the CA
# bundle, /etc/passwd and /etc/group with the mcpgw user (10001), /etc/mcpgw/lighttpd.conf,
# a default /etc/mcpgw/upstreams.json with no upstreams, /etc/mcpgw/version and the
# runtime directory /run/mcpgw.  No shell, no package manager.  Writable at run time, with
# a read-only root filesystem: /run/mcpgw and /tmp (mount a tmpfs or a volume on each).
# See docs/OPERATIONS.md, "Container".

# ---------------------------------------------------------------- builder
# The ECR Public Gallery copy of the Docker official image (no Docker Hub rate limits).
FROM public.ecr.aws/docker/library/debian:bookworm-slim AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config ca-certificates lighttpd \
        libfcgi-dev libcjson-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what `make all` reads, so that edits to tests or docs keep the build cached.
COPY Makefile entrypoint.c lighttpd.conf ./
COPY worker/ worker/
RUN make -j"$(nproc)" all

# Version metadata: the OCI labels below, and /etc/mcpgw/version in the image.  The file
# also makes the runtime stage's cache depend on these arguments: buildah (podman build
# --layers, 1.28) keys a cached LABEL step on its unexpanded text, so without a change in
# the copied tree it would reuse the labels of an earlier build.
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown

# Assemble the runtime root filesystem in /rootfs (owned by root) and /rootfs-run (the
# runtime directory, copied with the mcpgw owner below).  /var/tmp leads to /tmp: lighttpd
# writes request bodies above 64 KiB to temporary files in server.upload-dirs, whose
# default is /var/tmp, and /tmp is the writable one.
RUN set -eu; R=/rootfs; \
    install -d -m 0755 "$R/usr/local/bin" "$R/usr/sbin" "$R/usr/lib/lighttpd" \
        "$R/etc/mcpgw" "$R/etc/ssl/certs" "$R/run" "$R/var"; \
    install -d -m 1777 "$R/tmp"; ln -s ../tmp "$R/var/tmp"; \
    install -s -m 0755 build/mcpgw-entrypoint build/mcpgw-pool "$R/usr/local/bin/"; \
    install -m 0755 /usr/sbin/lighttpd "$R/usr/sbin/lighttpd"; \
    install -m 0644 lighttpd.conf "$R/etc/mcpgw/lighttpd.conf"; \
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"; \
    printf '{"upstreams": []}\n' > "$R/etc/mcpgw/upstreams.json"; \
    printf 'VERSION=%s\nREVISION=%s\nCREATED=%s\n' "$VERSION" "$REVISION" "$CREATED" \
        > "$R/etc/mcpgw/version"; \
    printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nmcpgw:x:10001:10001:mcpgw:/nonexistent:/usr/sbin/nologin\n' \
        > "$R/etc/passwd"; \
    printf 'root:x:0:\nmcpgw:x:10001:\n' > "$R/etc/group"; \
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$R/etc/nsswitch.conf"; \
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"; \
    : > "$R/etc/resolv.conf"; : > "$R/etc/hostname"; \
    chmod 0644 "$R"/etc/passwd "$R"/etc/group "$R"/etc/nsswitch.conf "$R"/etc/hosts \
        "$R"/etc/resolv.conf "$R"/etc/hostname "$R"/etc/mcpgw/*; \
    install -d -m 0700 /rootfs-run/mcpgw

# Shared libraries.  lighttpd dlopen()s its modules: let it load lighttpd.conf with
# LD_DEBUG and take the modules it opened.  Then every library the programs and modules
# need (ldd; the dynamic loader included), plus libgcc_s, which glibc loads itself to
# unwind threads.  Each keeps the name the loader asks for (the SONAME link, dereferenced)
# in its merged-/usr directory, and /lib (and /lib64 where the loader lives there) leads
# to usr/ as in Debian.
ENV CHECK_ENV="MCPGW_BIND=127.0.0.1 MCPGW_PORT=8080 MCPGW_SOCKET=/tmp/check/fcgi.sock MCPGW_RUNTIME_DIR=/tmp/check MCPGW_MAX_BODY_KB=1024 MCPGW_KEEPALIVE_IDLE=75 MCPGW_LIGHTTPD_GRACE=17 MCPGW_STATUS_BACKEND=/tmp/check/status.sock"
RUN set -eu; R=/rootfs; mkdir -p /tmp/check; \
    if ! env $CHECK_ENV LD_DEBUG=files lighttpd -tt -f lighttpd.conf 2> /tmp/ld-debug.log; then \
        grep -v '^ *[0-9]*:' /tmp/ld-debug.log; exit 1; \
    fi; \
    mods=$(sed -n 's|.*file=\(/usr/lib/lighttpd/mod_[a-z0-9_]*\.so\).*|\1|p' /tmp/ld-debug.log | sort -u); \
    for m in $mods; do install -m 0644 "$m" "$R$m"; done; \
    libs=$(for f in build/mcpgw-entrypoint build/mcpgw-pool /usr/sbin/lighttpd $mods; do \
               ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; \
           done | sort -u); \
    for l in $libs "$(gcc -print-file-name=libgcc_s.so.1)"; do \
        d="$R$(realpath "$(dirname "$l")")"; mkdir -p "$d"; cp -L "$l" "$d/"; \
    done; \
    ln -s usr/lib "$R/lib"; \
    if [ -d "$R/usr/lib64" ]; then ln -s usr/lib64 "$R/lib64"; fi

# The tree must run on its own: lighttpd loads its configuration and modules there, the
# pool validates its default settings and opens its store.  Both want /dev/null, which
# needs mknod (a rootless builder may refuse it: then only the container test checks).
RUN set -eu; R=/rootfs; \
    install -d -m 0700 "$R/tmp/check"; install -d -m 0755 "$R/dev"; \
    if mknod -m 0666 "$R/dev/null" c 1 3 2>/dev/null; then \
        env -i $CHECK_ENV /usr/sbin/chroot "$R" /usr/sbin/lighttpd -tt -f /etc/mcpgw/lighttpd.conf; \
        env -i $CHECK_ENV /usr/sbin/chroot "$R" /usr/local/bin/mcpgw-pool --check-config; \
    else \
        echo "mknod not permitted: chroot check of /rootfs skipped"; \
    fi; \
    rm -rf "$R/tmp/check" "$R/dev"

# ---------------------------------------------------------------- runtime
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown

COPY --from=build /rootfs/ /
COPY --from=build --chown=10001:10001 /rootfs-run/ /run/

ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin \
    MCPGW_BIND=0.0.0.0 \
    MCPGW_PORT=8080 \
    MCPGW_RUNTIME_DIR=/run/mcpgw

LABEL org.opencontainers.image.title="mcpgw" \
      org.opencontainers.image.description="Hosted MCP gateway: lighttpd in front of a prefork FastCGI pool in C" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# With a read-only root filesystem these two must be writable: mount a tmpfs or a volume
# on each.  Declared as volumes so that an engine that creates an empty volume for them
# (docker run without --tmpfs, ECS bind mounts with the same containerPath) copies the
# directory's owner and mode from the image: mcpgw 0700 and root 1777.
VOLUME ["/run/mcpgw", "/tmp"]

USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/mcpgw-entrypoint", "--health"]
ENTRYPOINT ["/usr/local/bin/mcpgw-entrypoint"]
