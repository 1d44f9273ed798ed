#!/usr/bin/env bash
# Resolve Apache Cassandra's server jars (setup/cassandra.pom.xml) into a classpath directory.
#
#   setup/fetch-cassandra.sh [DEST]
#
# DEST defaults to ${CARTBENCH_CASSANDRA_LIB:-${CARTBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cartbench}/cassandra/lib},
# the directory bench.paths.cassandra_lib_dir() reads. Idempotent: when DEST holds jars and a stamp
# matching the pom's hash it does nothing. Maven's local repository stays the default ~/.m2 so a
# re-resolve is fast. Maven output goes to DEST/../maven.log; its tail is shown on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/cassandra.pom.xml"
default_cache="${CARTBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cartbench}"
dest="${1:-${CARTBENCH_CASSANDRA_LIB:-$default_cache/cassandra/lib}}"
stamp="$dest/.pom.sha256"

say() { printf 'cassandra jars: %s\n' "$*"; }

[[ -f "$pom" ]] || { echo "error: $pom not found" >&2; exit 3; }
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$dest/cassandra-all-*.jar" >/dev/null; then
    say "up to date in $dest ($(ls "$dest"/*.jar | wc -l) jars)"
    exit 0
fi

command -v mvn >/dev/null || { echo "error: mvn (Maven) not found; install it (apt-get install maven)" >&2; exit 3; }
command -v java >/dev/null || { echo "error: java not found; install a JDK 17 (apt-get install openjdk-17-jdk-headless)" >&2; exit 3; }

parent="$(dirname "$dest")"
mkdir -p "$parent"
log="$parent/maven.log"
staging="$(mktemp -d "$parent/.lib.XXXXXX")"
cleanup() { rm -rf "$staging"; }
trap cleanup EXIT

start=$SECONDS
say "resolving $(grep -o '<cassandra.version>[^<]*' "$pom" | cut -d'>' -f2) and its dependencies with Maven (log: $log)"
# Batch mode, no colour; one progress line per ~100 downloads so a cold run is never silent.
set +e
mvn -B -ntp -f "$pom" -DoutputDirectory="$staging" \
    -Dmaven.repo.local="${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}" \
    -Dstyle.color=never package >"$log" 2>&1 &
mvn_pid=$!
trap 'kill "$mvn_pid" 2>/dev/null; cleanup' EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM
last=0
while kill -0 "$mvn_pid" 2>/dev/null; do
    sleep 2
    n=$(ls "$staging" 2>/dev/null | wc -l)
    if (( SECONDS - last >= 10 )); then
        say "still resolving after $((SECONDS - start)) s ($n jars copied so far)"
        last=$SECONDS
    fi
done
wait "$mvn_pid"
rc=$?
set -e
trap cleanup EXIT
if (( rc != 0 )); then
    echo "error: Maven failed (exit $rc) after $((SECONDS - start)) s; last lines of $log:" >&2
    tail -n 25 "$log" | sed "s/\x1b\[[0-9;]*m//g" >&2
    exit 3
fi
compgen -G "$staging/cassandra-all-*.jar" >/dev/null || {
    echo "error: Maven succeeded but no cassandra-all jar was copied; see $log" >&2
    exit 3
}

say "copying $(ls "$staging"/*.jar | wc -l) jars into $dest"
rm -rf "$dest"
mv "$staging" "$dest"
chmod 755 "$dest"
echo "$want" >"$stamp"
say "done in $((SECONDS - start)) s ($(du -sh "$dest" | cut -f1))"
