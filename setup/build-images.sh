#!/usr/bin/env bash
# Build the offline images for all three targets without any container registry.
#
#   setup/build-images.sh [--force] [postgres|redis|cassandra ...]
#
#   cartbench/debian:bookworm-offline  debootstrap --variant=minbase from the Debian mirror apt is
#                                      configured with, then `docker import`
#   cartbench/postgres:15-offline      + postgresql-15 from apt
#   cartbench/redis:7.0-offline        + redis-server/redis-tools 7.0 from apt
#   cartbench/cassandra:5.0-offline    + openjdk-17-jre-headless from apt + Cassandra's jars from
#                                      ${CARTBENCH_CASSANDRA_LIB:-${CARTBENCH_CACHE:-~/.cache/cartbench}/cassandra/lib}
#                                      (setup/fetch-cassandra.sh; run it first)
#
# Cached: every image carries a label cartbench.inputs=<sha256 of its inputs> (script, Dockerfile,
# base image id, mirror, jar list); an image whose label matches is not rebuilt. --force rebuilds.
# Needs a running engine (setup/start-dockerd.sh) and root (debootstrap). Exit 3 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite="${CARTBENCH_DEBIAN_SUITE:-bookworm}"
cache="${CARTBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cartbench}"
jars="${CARTBENCH_CASSANDRA_LIB:-$cache/cassandra/lib}"
work="${CARTBENCH_IMAGE_WORK:-$cache/images}"
base_tag="cartbench/debian:${suite}-offline"
declare -A tags=([postgres]="cartbench/postgres:15-offline" [redis]="cartbench/redis:7.0-offline" [cassandra]="cartbench/cassandra:5.0-offline")

force=0
wanted=()
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        postgres|redis|cassandra) wanted+=("$arg") ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "error: unknown argument '$arg'; use --force and/or postgres redis cassandra" >&2; exit 2 ;;
    esac
done
(( ${#wanted[@]} )) || wanted=(postgres redis cassandra)

say() { printf '[build-images %4ds] %s\n' "$SECONDS" "$*"; }
die() { echo "error: $*" >&2; exit 3; }

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || die "no Docker engine answers; start one with setup/start-dockerd.sh"

# The mirror apt already uses (deb822 sources first, then the one-line format).
mirror="${CARTBENCH_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    mirror="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
fi
if [[ -z "$mirror" ]]; then
    mirror="$(grep -hE '^deb [^ ]+ '"$suite"' ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | head -n1 || true)"
fi
[[ -n "$mirror" ]] || die "cannot find the Debian mirror apt uses; set CARTBENCH_DEBIAN_MIRROR"

label_of() { docker image inspect --format '{{ index .Config.Labels "cartbench.inputs" }}' "$1" 2>/dev/null || true; }
sha() { sha256sum | cut -d' ' -f1; }
script_sha="$(sha <"$0")"

build_base() {
    local want
    want="$(printf '%s\n' "$script_sha" "$mirror" "$suite" | sha)"
    if (( !force )) && [[ "$(label_of "$base_tag")" == "$want" ]]; then
        say "$base_tag up to date"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
    (( EUID == 0 )) || die "debootstrap needs root"
    mkdir -p "$work"
    local rootfs log
    rootfs="$(mktemp -d "$work/rootfs.XXXXXX")"
    log="$work/debootstrap.log"
    trap 'rm -rf "$rootfs"' RETURN
    say "debootstrap --variant=minbase $suite from $mirror (log: $log)"
    if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "debootstrap failed; see $log"
    fi
    # Use the same mirror for later apt-get runs inside image builds; drop the package cache.
    echo "deb $mirror $suite main" >"$rootfs/etc/apt/sources.list"
    echo "deb $mirror $suite-updates main" >>"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    say "docker import -> $base_tag ($(du -sh "$rootfs" | cut -f1))"
    tar -C "$rootfs" -c . | docker import \
        --change "LABEL cartbench.inputs=$want" \
        --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase, cartbench offline base\"" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/sh"]' \
        - "$base_tag" >/dev/null
}

build_target() {
    local name="$1" tag="${tags[$1]}" ctx="$here/images/$1" base_id want extra="" tmpctx=""
    base_id="$(docker image inspect --format '{{.Id}}' "$base_tag")"
    if [[ "$name" == cassandra ]]; then
        compgen -G "$jars/cassandra-all-*.jar" >/dev/null \
            || die "no Cassandra jars in $jars; run setup/fetch-cassandra.sh first"
        extra="$(cd "$jars" && ls -l --time-style=+ -- *.jar | awk '{print $5, $NF}' | sha)"
    fi
    want="$(printf '%s\n' "$script_sha" "$(sha <"$ctx/Dockerfile")" "$base_id" "$extra" | sha)"
    if (( !force )) && [[ "$(label_of "$tag")" == "$want" ]]; then
        say "$tag up to date"
        return
    fi
    if [[ "$name" == cassandra ]]; then
        tmpctx="$(mktemp -d "$work/ctx.XXXXXX")"
        trap 'rm -rf "$tmpctx"' RETURN
        cp "$ctx/Dockerfile" "$tmpctx/"
        cp -r "$jars" "$tmpctx/lib"
        ctx="$tmpctx"
    fi
    say "building $tag (apt-get inside the build uses the host network and $mirror)"
    # --network host: the build reaches the mirror exactly as the host does.
    if ! docker build --network host --build-arg "BASE=$base_tag" \
        --label "cartbench.inputs=$want" --tag "$tag" "$ctx" 2>&1 | sed -u "s/^/  [$name] /"; then
        die "docker build of $tag failed (output above)"
    fi
    say "$tag built ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

mkdir -p "$work"
build_base
for name in "${wanted[@]}"; do
    build_target "$name"
done
say "done: $(for n in "${wanted[@]}"; do printf '%s ' "${tags[$n]}"; done)"
