#!/usr/bin/env bash
# bench.sh - run a benchmark program on a fresh local cluster of its own.
#
#   scripts/bench.sh ledger [seconds]     reservations/s (bench/bench_ledger.c)
#   scripts/bench.sh provision [seconds]  volume and share provisions/s beside
#                                         rbd_create and mgr subvolume create
#   scripts/bench.sh kairosd [seconds]    kairosd under wrk: authenticated GETs
#                                         beside a bare libmicrohttpd server, and
#                                         provisioning at 32 connections
#   scripts/bench.sh osb [seconds]        OSB cycles/s over two kairosd with 100
#                                         and 100,000 instances registered
#   scripts/bench.sh drift [images [projects [rate]]]
#                                         the drift scan: objects/s and a full
#                                         pass over 10000 images, beside a
#                                         plain listing of the pool
#   scripts/bench.sh fs                   kairosfs beside ceph-fuse and direct
#                                         libcephfs, with fio (bench/bench_fs.sh;
#                                         BENCH_FS_* variables size it)
#   scripts/bench.sh restart [kills [jobs]]
#                                         kill -9 of kairosfs's daemon under
#                                         --supervise: time to the first write
#                                         answered, writes/s around it
#                                         (bench/bench_restart.sh; as root)
#   scripts/bench.sh csi [seconds]        kairos-csi CreateVolume+DeleteVolume/s at
#                                         16 gRPC clients beside libkairos, and
#                                         stage+publish latency (bench/bench_csi.sh;
#                                         as root: it mounts)
#
# Builds with optimisation, starts a cluster in build-bench/cluster, runs the
# benchmark, stops the cluster. Results are printed as Markdown tables for
# docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/bench.sh ledger|provision|kairosd|osb|drift|fs|restart|csi [args]" >&2; exit 2; }
name=$1
shift
scripts/install-deps >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DKAIROS_BUILD_TESTS=OFF >/dev/null
targets=("bench_$name")
[ "$name" = fs ] && targets=(bench_fs kairosfs)
[ "$name" = restart ] && targets=(bench_fs bench_restart kairosfs)
[ "$name" = kairosd ] && targets=(kairosd bench_provision bench_bare_mhd)
[ "$name" = osb ] && targets=(kairosd bench_osb)
[ "$name" = csi ] && targets=(kairosd kairos-csi kairosfs bench_cycle)
cmake --build build-bench -j"$(nproc)" --target "${targets[@]}" >/dev/null
dir=$PWD/build-bench/cluster
trap 'scripts/minicluster stop "$dir" >/dev/null' EXIT
# The drift bench's 10000 volumes need a budget beyond the default 4 GiB
# (memstore holds only what is written: a few MiB here).
[ "$name" = drift ] && export MINICLUSTER_MEMSTORE_BYTES=$((16 * 1024 * 1024 * 1024))
scripts/minicluster start "$dir" >&2
if [ "$name" = kairosd ] || [ "$name" = osb ]; then
    KAIROS_CONF=$dir/kairos.conf BUILD=$PWD/build-bench "bench/bench_$name.sh" "$@"
elif [ "$name" = csi ]; then
    KAIROS_CONF=$dir/kairos.conf BUILD=$PWD/build-bench bench/bench_csi.sh "$@"
elif [ "$name" = restart ]; then
    KAIROS_CONF=$dir/kairos.conf bench/bench_restart.sh build-bench "$@"
elif [ "$name" = fs ]; then
    KAIROS_CONF=$dir/kairos.conf bench/bench_fs.sh build-bench
else
    KAIROS_BENCH_DISPOSABLE=1 KAIROS_CONF=$dir/kairos.conf "build-bench/bench/bench_$name" "$@"
fi
