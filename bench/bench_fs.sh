#!/usr/bin/env bash
# bench_fs.sh BUILD_DIR - kairosfs beside ceph-fuse and direct libcephfs, in
# one run, on one share of a running cluster ($KAIROS_CONF).
#
# Two harnesses do the same workloads:
#   fio      on a kairosfs mount and on a ceph-fuse mount of the same share;
#   bench_fs (bench/bench_fs.c), one C loop run on both mounts with system
#            calls and straight on libcephfs: the only difference between
#            its three figures is the file system path, none is the
#            harness's own cost (fio's is large for metadata: on tmpfs its
#            filestat job does about 20,000 stats/s).
# Each workload runs on every target in turn, ROUNDS times; the median of
# each is reported, with the ratios, as Markdown tables:
#
#   seqwrite   1 MiB writes of a SIZE file from its start, then fsync
#   seqread    1 MiB reads of that file (fresh mounts: nothing cached)
#   bufread    the same without O_DIRECT (fresh mounts again): through the
#              page cache and read-ahead, as most programs read
#   randread   4 KiB random reads, JOBS threads each on its own file of
#              SIZE/JOBS bytes (fio's numjobs), for SECONDS
#   randwrite  4 KiB random writes, the same way
#   create     NFILES empty files made (open O_CREAT, close), one thread
#   stat       stat() of those files in turn, one thread, for SECONDS
#
# Data jobs use O_DIRECT (fio direct=1): the kernel's page cache is out of
# the comparison; each FUSE daemon keeps its libcephfs cache, as the
# direct program does. All three libcephfs clients run with the same
# settings: kairosfs's in-memory debug logging off (connect.c) is given to
# ceph-fuse and to bench_fs as well, so the figures compare designs, not
# log levels. The cluster's radosgw is stopped first: the benchmark does
# not use it, and idle it takes a third of a core on this kind of machine.
#
# Environment: BENCH_FS_SIZE (256M), BENCH_FS_SECONDS (5), BENCH_FS_JOBS (4),
# BENCH_FS_FILES (2000), BENCH_FS_ROUNDS (3), BENCH_FS_WORKLOADS (all seven;
# a list to run fewer, with more rounds), BENCH_FS_KAIROSFS_OPTS (more -o
# options for kairosfs, e.g. readahead_kb=0). Normally run through
# 'scripts/bench.sh fs', which builds and brings its own cluster.
set -euo pipefail

BUILD=$(realpath "${1:?usage: bench_fs.sh BUILD_DIR}")
CONF=${KAIROS_CONF:?KAIROS_CONF must name a running cluster\'s kairos.conf}
SIZE=${BENCH_FS_SIZE:-256M}
SECS=${BENCH_FS_SECONDS:-5}
JOBS=${BENCH_FS_JOBS:-4}
NFILES=${BENCH_FS_FILES:-2000}
ROUNDS=${BENCH_FS_ROUNDS:-3}
KFS_OPTS=${BENCH_FS_KAIROSFS_OPTS:-}
WANT=${BENCH_FS_WORKLOADS:-seqwrite seqread bufread randread randwrite create stat}
CEPH_CONF=$(dirname "$CONF")/ceph.conf
BENCH_FS=$BUILD/bench/bench_fs
KAIROSFS=$BUILD/fuse/kairosfs
for tool in fio jq ceph-fuse fusermount3 numfmt; do
    command -v "$tool" >/dev/null || { echo "bench_fs: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done
JOB_SIZE=$(($(numfmt --from=iec "$SIZE") / JOBS))
for w in $WANT; do
    case $w in
    seqwrite | seqread | bufread | randread | randwrite | create | stat) ;;
    *)
        echo "bench_fs: BENCH_FS_WORKLOADS: no workload '$w' (a space-separated list of" \
            "seqwrite seqread bufread randread randwrite create stat)" >&2
        exit 2
        ;;
    esac
done

project=benchfs-$$
work=$(mktemp -d "$(dirname "$CONF")/bench-fs.XXXXXX")
kmnt=$work/kairosfs
cmnt=$work/ceph-fuse
mkdir -p "$kmnt" "$cmnt"

unmount() {
    local m=$1 i
    grep -qF " $m " /proc/mounts || return 0
    fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m"
    for i in $(seq 50); do grep -qF " $m " /proc/mounts || return 0; sleep 0.1; done
}

cleanup() {
    unmount "$kmnt"
    unmount "$cmnt"
    "$BENCH_FS" delete "$CONF" "$project" >/dev/null 2>&1 || true
    grep -qF " $work/" /proc/mounts || rm -rf --one-file-system "$work"
}
trap cleanup EXIT

share=$("$BENCH_FS" provision "$CONF" "$project" bench 2G)

rgw_pid=$(dirname "$CONF")/run/radosgw.pid
if [ "${BENCH_FS_KEEP_RGW:-0}" = 0 ] && [ -f "$rgw_pid" ]; then
    pid=$(cat "$rgw_pid")
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$CEPH_CONF"; then
        kill -TERM "$pid"
    fi
fi

# kairosfs's client settings (fuse/connect.c), for ceph-fuse too.
QUIET=(--debug_client=0/0 --debug_objectcacher=0/0 --debug_objecter=0/0 --debug_rados=0/0
    --debug_monc=0/0 --debug_journaler=0/0 --debug_auth=0/0 --debug_ms=0/0)

mount_all() {
    "$KAIROSFS" -o "conf=$CONF,project=$project${KFS_OPTS:+,$KFS_OPTS}" "$kmnt" 2>/dev/null
    ceph-fuse -n client.admin -c "$CEPH_CONF" "${QUIET[@]}" -r "$share" "$cmnt" >/dev/null 2>&1
}

# Fresh daemons, so that reads come from the cluster and not a cache.
remount() {
    unmount "$kmnt"
    unmount "$cmnt"
    mount_all
}

# Targets: fio-kairosfs fio-ceph-fuse loop-kairosfs loop-ceph-fuse loop-direct.
# Each has a directory of its own in the share; $share/NAME for libcephfs.
TARGETS=(fio-kairosfs fio-ceph-fuse loop-kairosfs loop-ceph-fuse loop-direct)
dir_of() {
    case $1 in
    *-kairosfs) echo "$kmnt/shares/bench/$1" ;;
    *) echo "$cmnt/$1" ;;
    esac
}

# fio in directory @1; prints "bytes_per_s iops".
run_fio() {
    local dir=$1
    shift
    fio --output-format=json --directory="$dir" "$@" 2>/dev/null |
        jq -r '.jobs[0] | "\(.read.bw_bytes + .write.bw_bytes) \(.read.iops + .write.iops)"'
}

# bench_fs on @1's directory or libcephfs path; prints "bytes_per_s iops".
run_loop() {
    local target=$1
    shift
    if [ "$target" = loop-direct ]; then
        "$BENCH_FS" direct "$CONF" "$share/$target" "$@"
    else
        "$BENCH_FS" posix "$(dir_of "$target")" "$@"
    fi | jq -r '"\(.bw_bytes) \(.iops)"'
}

# One workload on one target; prints "bytes_per_s iops".
run() {
    local w=$1 target=$2 dir io meta rand
    dir=$(dir_of "$target")
    if [ "${target%%-*}" = loop ]; then
        case $w in
        seqwrite) run_loop "$target" seqwrite /seq.bin "$SIZE" 1M ;;
        seqread) run_loop "$target" seqread /seq.bin 1M ;;
        bufread) run_loop "$target" bufread /seq.bin 1M ;;
        prepare) run_loop "$target" randread /rand "$SIZE" 4k 0 "$JOBS" ;;
        randread | randwrite) run_loop "$target" "$w" /rand "$SIZE" 4k "$SECS" "$JOBS" ;;
        create) run_loop "$target" create /meta "$NFILES" ;;
        stat) run_loop "$target" stat /meta "$NFILES" "$SECS" ;;
        esac
        return
    fi
    io=(--ioengine=psync --direct=1 --bs=1M --filename=seq.bin --size="$SIZE")
    rand=(--name=rand --ioengine=psync --direct=1 --bs=4k --size="$JOB_SIZE" --numjobs="$JOBS"
        --group_reporting)
    meta=(--name=meta --filesize=4k --nrfiles="$NFILES" --openfiles=1
        --filename_format='$jobname.$jobnum.$filenum')
    case $w in
    seqwrite) run_fio "$dir" --name=seq "${io[@]}" --rw=write --end_fsync=1 ;;
    seqread) run_fio "$dir" --name=seq "${io[@]}" --rw=read ;;
    bufread) run_fio "$dir" --name=seq "${io[@]}" --rw=read --direct=0 ;;
    prepare)
        run_fio "$dir/rand" "${rand[@]}" --rw=randread --create_only=1 >/dev/null
        # filestat lays out files of its filesize first: do it now, not after create.
        run_fio "$dir/stat" "${meta[@]}" --ioengine=filestat --create_only=1
        ;;
    randread | randwrite) run_fio "$dir/rand" "${rand[@]}" --rw="$w" --runtime="$SECS" --time_based ;;
    create) run_fio "$dir/meta" "${meta[@]}" --ioengine=filecreate ;;
    stat) run_fio "$dir/stat" "${meta[@]}" --ioengine=filestat --runtime="$SECS" --time_based ;;
    esac
}

# Every target starts each round from empty directories.
reset_dirs() {
    local t
    for t in "${TARGETS[@]}"; do
        rm -rf "$(dir_of "$t")"
        mkdir -p "$(dir_of "$t")/rand" "$(dir_of "$t")/meta" "$(dir_of "$t")/stat"
    done
}

# Each round starts the list at the next target: whatever the previous
# workload leaves behind (OSD flushes, the MDS purging the last round's
# files) does not fall on the same target every round.
declare -A results
each_target() {
    local w=$1 t r i n=${#TARGETS[@]}
    for ((i = 0; i < n; i++)); do
        t=${TARGETS[(i + round - 1) % n]}
        r=$(run "$w" "$t")
        [ "$w" = prepare ] && continue
        results[$w,$t]="${results[$w,$t]:-} ${r// /:}"
        echo "round $round: $w on $t: $r" >&2
    done
}

want() { [[ " $WANT " == *" $1 "* ]]; }

mount_all
for round in $(seq "$ROUNDS"); do
    reset_dirs
    # seqread reads what seqwrite wrote; the random jobs and fio's stat job need prepare's files.
    if want seqwrite || want seqread || want bufread; then
        each_target seqwrite
        remount
    fi
    if want seqread; then each_target seqread; fi
    if want bufread; then
        remount
        each_target bufread
    fi
    for t in "${TARGETS[@]}"; do rm -f "$(dir_of "$t")/seq.bin"; done
    if want randread || want randwrite || want stat; then
        each_target prepare
        remount
    fi
    if want randread; then each_target randread; fi
    if want randwrite; then each_target randwrite; fi
    # The loop's stat job stats the files its create job made.
    if want create || want stat; then each_target create; fi
    if want stat; then each_target stat; fi
done

# The median of field @2 (1: bytes/s, 2: ops/s) of the results of @1.
med() {
    local r
    for r in ${results[$1]}; do echo "$r" | cut -d: -f"$2"; done |
        sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

WORKLOADS=(seqwrite seqread bufread randread randwrite create stat)
# figure WORKLOAD TARGET: the median in the workload's unit.
figure() {
    case $1 in
    seqwrite | seqread | bufread) awk -v v="$(med "$1,$2" 1)" 'BEGIN { printf "%.0f", v / 1048576 }' ;;
    *) awk -v v="$(med "$1,$2" 2)" 'BEGIN { printf "%.0f", v }' ;;
    esac
}
unit() {
    case $1 in seqwrite | seqread | bufread) echo "MiB/s" ;; *) echo "ops/s" ;; esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo
echo "fio:"
echo
echo "| workload | kairosfs | ceph-fuse | kairosfs ÷ ceph-fuse |"
echo "|---|---|---|---|"
for w in "${WORKLOADS[@]}"; do
    [ -n "${results[$w,fio-kairosfs]:-}" ] || continue
    k=$(figure "$w" fio-kairosfs)
    c=$(figure "$w" fio-ceph-fuse)
    echo "| $w ($(unit "$w")) | $k | $c | $(ratio "$k" "$c") |"
done
echo
echo "The same C loop (bench_fs) on each:"
echo
echo "| workload | kairosfs | ceph-fuse | direct libcephfs | kairosfs ÷ ceph-fuse | kairosfs ÷ direct | ceph-fuse ÷ direct |"
echo "|---|---|---|---|---|---|---|"
for w in "${WORKLOADS[@]}"; do
    [ -n "${results[$w,loop-kairosfs]:-}" ] || continue
    k=$(figure "$w" loop-kairosfs)
    c=$(figure "$w" loop-ceph-fuse)
    d=$(figure "$w" loop-direct)
    echo "| $w ($(unit "$w")) | $k | $c | $d | $(ratio "$k" "$c") | $(ratio "$k" "$d") | $(ratio "$c" "$d") |"
done
echo
echo "Medians of $ROUNDS rounds; SIZE=$SIZE, ${SECS}s per timed job, $JOBS jobs, $NFILES files."
