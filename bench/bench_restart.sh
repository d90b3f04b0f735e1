#!/usr/bin/env bash
# bench_restart.sh BUILD_DIR [KILLS [JOBS]] - what a kill -9 of kairosfs's
# daemon costs the writers of a mount made with --supervise, on a running
# cluster ($KAIROS_CONF): bench/bench_restart.c on one share of a fresh
# project, KILLS (10) kills 4 s apart under JOBS (4) threads of 4 KiB
# O_DIRECT random writes. Prints Markdown. Normally run through
# 'scripts/bench.sh restart', which builds and brings its own cluster.
set -euo pipefail

BUILD=$(realpath "${1:?usage: bench_restart.sh BUILD_DIR [KILLS [JOBS]]}")
KILLS=${2:-10}
JOBS=${3:-4}
CONF=${KAIROS_CONF:?KAIROS_CONF must name a running cluster\'s kairos.conf}
project=bench-restart-$$
mnt=$(mktemp -d)
sup=

cleanup() {
    [ -n "$sup" ] && kill -TERM "$sup" 2>/dev/null && wait "$sup" 2>/dev/null
    mountpoint -q "$mnt" && fusermount3 -u -z "$mnt"
    rmdir "$mnt"
    "$BUILD/bench/bench_fs" delete "$CONF" "$project" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$BUILD/bench/bench_fs" provision "$CONF" "$project" bench 2G >/dev/null
"$BUILD/fuse/kairosfs" -f --supervise -o "conf=$CONF,project=$project" "$mnt" 2>"$mnt.log" &
sup=$!
for _ in $(seq 1 600); do
    mountpoint -q "$mnt" && [ -d "$mnt/shares/bench" ] && break
    sleep 0.1
done
mountpoint -q "$mnt" || { cat "$mnt.log" >&2; exit 1; }
"$BUILD/bench/bench_restart" "$mnt/shares/bench/restart.dat" "$sup" "$KILLS" "$JOBS"
rm -f "$mnt.log"
