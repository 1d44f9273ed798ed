#!/usr/bin/env bash
# Start a Docker engine in the background when none answers, and wait (bounded) until it does.
#
#   setup/start-dockerd.sh
#
# Environment:
#   CARTBENCH_DOCKER_ROOT   data root (default /var/lib/cartbench-docker)
#   CARTBENCH_DOCKER_LOG    log file  (default <data root>.log)
#   CARTBENCH_DOCKER_WAIT   seconds to wait for the engine (default 60)
#
# Idempotent: when `docker version` already answers it only says so. The engine uses overlay2
# (vfs also works but makes every container start ~5 s slower). Exit 3 when it does not come up.
set -euo pipefail

root="${CARTBENCH_DOCKER_ROOT:-/var/lib/cartbench-docker}"
log="${CARTBENCH_DOCKER_LOG:-$root.log}"
wait_s="${CARTBENCH_DOCKER_WAIT:-60}"

say() { printf 'dockerd: %s\n' "$*"; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

command -v dockerd >/dev/null || { echo "error: dockerd not found; install it (apt-get install docker.io)" >&2; exit 3; }
command -v docker >/dev/null || { echo "error: docker CLI not found; install it (apt-get install docker.io)" >&2; exit 3; }

if engine_answers; then
    say "engine already answering (server $(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "error: no Docker engine answers and starting dockerd needs root; run: sudo $0" >&2
    exit 3
fi

mkdir -p "$root" "$(dirname "$log")"
say "starting dockerd (data root $root, log $log)"
# setsid: the engine must outlive this script and the shell that ran it.
setsid dockerd --storage-driver=overlay2 --data-root "$root" >>"$log" 2>&1 </dev/null &
pid=$!

start=$SECONDS
while (( SECONDS - start < wait_s )); do
    if engine_answers; then
        say "engine up after $((SECONDS - start)) s (pid $pid, server $(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "error: dockerd exited during startup; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 3
    fi
    sleep 0.5
done
echo "error: dockerd did not answer within ${wait_s} s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 3
