#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# base-image.sh - make the Dockerfile's builder base image locally when no registry is reachable.
#
#   tests/container/base-image.sh IMAGE WORKDIR
#
# Builds a Debian bookworm "slim"-like root filesystem with debootstrap (--variant=minbase),
# strips what the registry's slim image leaves out (documentation, man pages, locales, apt
# caches and lists, logs), and imports it into podman's storage as IMAGE, the exact name
# the Dockerfile's FROM line uses.  podman must already be configured (CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF exported by the caller).  Needs root, debootstrap and the
# Debian archive keyring.
#
# The Debian mirror is read from this machine's apt sources (/etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list|*.sources, the first URI serving suite "bookworm"), or
# from MCPGW_DEBIAN_MIRROR when set; the security mirror likewise ("bookworm-security", or
# MCPGW_DEBIAN_SECURITY_MIRROR).  The image's apt sources point at the same mirrors, so
# `RUN apt-get` in the builder (built with --network host) reaches them.
#
# The result is not the registry's image (another digest; about 81 MB against the registry's 75 MB):
# it only has to build the same Dockerfile.  The final stage of the Dockerfile does not
# inherit anything from it.
set -euo pipefail

if [[ $# -ne 2 || -z $2 ]]; then
    echo "usage: $0 IMAGE WORKDIR" >&2
    exit 2
fi
IMAGE=$1
WORKDIR=$2
SUITE=bookworm

# apt_uris SUITE: print the URI of every enabled "deb" source for SUITE on this machine,
# from one-line (.list) and deb822 (.sources) files alike.
apt_uris() {
    local suite=$1 f
    shopt -s nullglob
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # deb [opt=val ...] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        awk -v s="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " "))
                    print uri
                types = ""; uri = ""; suites = ""; enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types") types = val
                else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { flush() }' "$f"
    done
}

MIRROR=${MCPGW_DEBIAN_MIRROR:-$(apt_uris "$SUITE" | head -1)}
SECURITY=${MCPGW_DEBIAN_SECURITY_MIRROR:-$(apt_uris "$SUITE-security" | head -1)}
if [[ -z $MIRROR ]]; then
    echo "base-image: no apt source for Debian $SUITE on this machine; set MCPGW_DEBIAN_MIRROR" >&2
    exit 1
fi
for tool in debootstrap podman tar; do
    if ! command -v "$tool" >/dev/null; then
        echo "base-image: $tool is not installed (make deps installs it)" >&2
        exit 1
    fi
done
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [[ ! -r $KEYRING ]]; then
    echo "base-image: $KEYRING is missing (package debian-archive-keyring)" >&2
    exit 1
fi

ROOTFS=$WORKDIR/rootfs
rm -rf "$ROOTFS"
mkdir -p "$WORKDIR"
echo "base-image: debootstrap --variant=minbase $SUITE from $MIRROR"
if ! debootstrap --variant=minbase --keyring="$KEYRING" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$WORKDIR/debootstrap.log" 2>&1; then
    tail -20 "$WORKDIR/debootstrap.log" >&2
    echo "base-image: debootstrap failed (log: $WORKDIR/debootstrap.log)" >&2
    exit 1
fi

# apt sources as in the registry's image (deb822), on this machine's mirrors.
rm -f "$ROOTFS/etc/apt/sources.list"
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n' \
        "$MIRROR" "$SUITE" "$SUITE" "$KEYRING"
    if [[ -n $SECURITY ]]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
            "$SECURITY" "$SUITE" "$KEYRING"
    fi
} >"$ROOTFS/etc/apt/sources.list.d/debian.sources"

# What the slim image's dpkg and apt settings do: later installs skip documentation,
# and apt removes downloaded packages after installing them.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"

# Strip what the slim image does not carry; keep the copyright files.
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOTFS"/usr/share/{man,groff,info,lintian,linda,locale}/* \
       "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* \
       "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
       "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* 2>/dev/null || true
# The container engine provides these at run time; debootstrap copied the host's.
rm -f "$ROOTFS"/etc/{resolv.conf,hostname,hosts,machine-id}
: >"$ROOTFS/etc/machine-id"
# Device nodes and mount points stay empty in an image.
rm -rf "${ROOTFS:?}"/dev/* "${ROOTFS:?}"/proc/* "${ROOTFS:?}"/sys/*

echo "base-image: importing $(du -sm "$ROOTFS" | cut -f1) MB as $IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
    podman import -q \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $SUITE, stripped like the slim image" \
        - "$IMAGE" >/dev/null
rm -rf "$ROOTFS"
echo "base-image: $IMAGE ready"
