#!/usr/bin/env bash
# watchdog-report.sh PID - the cluster's side of a hung test, for
# tests/watchdog.c: the daemons and health of the fixture's cluster, its
# placement groups that are not active+clean, blocklisted clients, what the
# OSD and the monitor hold in flight, and the requests (watches included)
# that process PID's own Ceph clients are waiting on, and their last librbd
# log lines: each client has an admin socket and a log of its own. PID is
# the test, or a kairosd it started.
set -u
pid=$1
[ -n "${KAIROS_CONF:-}" ] || exit 0
dir=$(dirname "$KAIROS_CONF")
src=$(dirname "$0")/..
ceph=(timeout 20 ceph -c "$dir/ceph.conf")

section() { echo "--- WATCHDOG: $*"; }

section "minicluster status"
timeout 30 "$src/scripts/minicluster" status "$dir" 2>&1
section "ceph health detail"
"${ceph[@]}" health detail 2>&1
section "placement groups not active+clean"
"${ceph[@]}" pg dump pgs_brief 2>/dev/null | awk 'NR == 1 || $2 != "active+clean"' | head -40
section "osd blocklist"
"${ceph[@]}" osd blocklist ls 2>&1 | head -20
section "osd.0 ops in flight"
"${ceph[@]}" daemon osd.0 dump_ops_in_flight 2>&1 | head -80
section "mon.a ops in flight"
"${ceph[@]}" daemon mon.a ops 2>&1 | head -40
for sock in "$dir"/run/client.*."$pid".*.asok; do
    [ -S "$sock" ] || continue
    section "requests of $(basename "$sock")"
    timeout 20 ceph --admin-daemon "$sock" objecter_requests 2>&1 | head -60
    # The recent librbd lines it keeps in memory, into its log.
    timeout 20 ceph --admin-daemon "$sock" log dump >/dev/null 2>&1
done
for log in "$dir"/log/client.*."$pid".log; do
    [ -s "$log" ] || continue
    section "last lines of $(basename "$log") (librbd at level 20)"
    tail -n 200 "$log" 2>&1 | cut -c1-400
done
