#!/usr/bin/env bash
# run_test.sh PROGRAM... - run a kairosfs test in a fresh temporary directory
# (KAIROSFS_TEST_DIR) and leave nothing mounted or running, whatever the
# test did: a mount left under the directory is unmounted (and fails the
# run), a kairosfs the test started and did not end is killed by its pid.
#
# The directory sits beside the fixture's cluster, so that even a run that
# is killed outright is cleaned up by 'minicluster stop', which unmounts
# every FUSE mount under the cluster's directory.
set -uo pipefail

[ -n "${KAIROS_CONF:-}" ] || { echo "run_test: KAIROS_CONF is not set (no local cluster)" >&2; exit 1; }
base=$(dirname "$KAIROS_CONF")
[ -d "$base" ] || { echo "run_test: no cluster directory $base" >&2; exit 1; }
dir=$(mktemp -d "$base/kairosfs-test.XXXXXX")
rc=1

cleanup() {
    local m pid
    # Deepest first, so that nested mounts come off before their parents.
    for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
        echo "run_test: $m was left mounted; unmounting it" >&2
        fusermount3 -u -z "$m" || umount -l "$m"
        rc=1
    done
    if [ -f "$dir/kairosfs.pids" ]; then
        while read -r pid; do
            if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
                echo "run_test: kairosfs $pid was left running; killing it" >&2
                kill -KILL "$pid"
                rc=1
            fi
        done <"$dir/kairosfs.pids"
    fi
    # Never recurse into a mount: a share's files would go with it.
    if ! awk -v d="$dir/" 'index($2, d) == 1' /proc/mounts | grep -q .; then
        rm -rf --one-file-system "$dir"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

KAIROSFS_TEST_DIR=$dir "$@"
rc=$?
