#!/usr/bin/env bash
# bench_csi.sh - kairos-csi on the cluster of KAIROS_CONF, beside libkairos
# in the same run (scripts/bench.sh csi):
#
#   CreateVolume + DeleteVolume cycles/s at 16 concurrent gRPC clients,
#   through kairos-csi -> kairosd -> libkairos, against the same create +
#   delete called on libkairos directly (bench_cycle) by 16 threads; five
#   rounds each, alternated, medians and their ratio (goal >= 0.8);
#   NodeStageVolume + NodePublishVolume latency of a share (kairosfs) and of
#   an ext4 volume (kairosfs + loop device), first and median of 5.
set -euo pipefail
: "${KAIROS_CONF:?set KAIROS_CONF to the kairos.conf of a cluster}"
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build-bench}
secs=${1:-10}
clients=${BENCH_CSI_CLIENTS:-16}
rounds=${BENCH_CSI_ROUNDS:-5}
dir=$(mktemp -d "$(dirname "$KAIROS_CONF")/bench-csi.XXXXXX")
kd= plugin=
cleanup() {
    [ -n "$plugin" ] && kill "$plugin" 2>/dev/null && wait "$plugin" 2>/dev/null || true
    [ -n "$kd" ] && kill "$kd" 2>/dev/null && wait "$kd" 2>/dev/null || true
    for m in $(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount -l "$m" || true
    done
    [ -n "${BENCH_CSI_KEEP:-}" ] && cp "$dir"/*.log "$BENCH_CSI_KEEP"/ 2>/dev/null
    rm -rf --one-file-system "$dir"
}
trap cleanup EXIT

token=bench-admin-$RANDOM$RANDOM$RANDOM
echo "$(echo "$token" | "$build/gateway/kairosd" --hash-token) admin" >"$dir/tokens"
# Thin volumes take no space: admit a petabyte, as bench_provision does.
printf '[capacity]\nusable = 1P\nfull_ratio = 1\nheadroom = 0\n' >"$dir/capacity.ini"
awk '/^\[/ { skip = ($0 == "[server]") } !skip' "$KAIROS_CONF" |
    sed -e "s|^capacity = .*|capacity = $dir/capacity.ini|" >"$dir/kairos.conf"
grep -q '^capacity = ' "$dir/kairos.conf" ||
    printf '[policy]\ncapacity = %s/capacity.ini\n' "$dir" >>"$dir/kairos.conf"
printf '[server]\nlisten = 127.0.0.1:0\ntokens = %s/tokens\n' "$dir" >>"$dir/kairos.conf"
"$build/gateway/kairosd" -c "$dir/kairos.conf" --port-file "$dir/port" 2>"$dir/kairosd.log" &
kd=$!
for _ in $(seq 300); do [ -s "$dir/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$dir/port")
call() { curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"; }
csi_project=csi-bench-$$ lk_project=lk-bench-$$
call -d "{\"name\":\"$csi_project\"}" "$url/v1/projects" >/dev/null
call -d "{\"name\":\"$lk_project\"}" "$url/v1/projects" >/dev/null
ptoken=$(call -d '{}' "$url/v1/projects/$csi_project/tokens" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')

"$build/csi/kairos-csi" --url "$url" --endpoint "unix://$dir/csi.sock" --state-dir "$dir/state" \
    --kairosfs "$build/fuse/kairosfs" --workers 32 ${BENCH_CSI_KEEP:+-v} 2>"$dir/kairos-csi.log" &
plugin=$!
for _ in $(seq 300); do [ -S "$dir/csi.sock" ] && break; sleep 0.1; done

# Warm up, untimed: each project's first volume makes its RBD namespace.
KAIROS_CONF=$dir/kairos.conf "$build/bench/bench_cycle" 1 1 "$lk_project" >/dev/null
/usr/bin/python3 "$here/bench_csi.py" cycles "$dir/csi.sock" "$csi_project" "$ptoken" 1 1 >/dev/null

echo "# bench_csi: $secs s per round, $clients clients, $rounds rounds, 64 MiB volumes"
echo
echo "| round | libkairos cycles/s | p50 ms | p99 ms | kairos-csi cycles/s | p50 ms | p99 ms | ratio |"
echo "|---|---|---|---|---|---|---|---|"
ratios=() lks=() css=()
libkairos() {
    KAIROS_CONF=$dir/kairos.conf "$build/bench/bench_cycle" "$secs" "$clients" "$lk_project"
}
csi() {
    /usr/bin/python3 "$here/bench_csi.py" cycles "$dir/csi.sock" "$csi_project" "$ptoken" \
        "$secs" "$clients"
}
for r in $(seq $rounds); do
    # Each path goes first every other round: what one leaves the cluster
    # doing (trimming deleted objects) does not always fall on the other.
    if [ $((r % 2)) = 1 ]; then
        read -r lk lk50 lk99 lkerr < <(libkairos)
        read -r cs cs50 cs99 cserr < <(csi)
    else
        read -r cs cs50 cs99 cserr < <(csi)
        read -r lk lk50 lk99 lkerr < <(libkairos)
    fi
    ratio=$(/usr/bin/python3 -c "print('%.2f' % ($cs / $lk))")
    ratios+=("$ratio") lks+=("$lk") css+=("$cs")
    echo "| $r | $lk | $lk50 | $lk99 | $cs | $cs50 | $cs99 | $ratio |"
    [ "$lkerr" = 0 ] && [ "$cserr" = 0 ] || echo "errors: libkairos $lkerr, kairos-csi $cserr"
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "| median | $(median "${lks[@]}") | | | $(median "${css[@]}") | | | $(median "${ratios[@]}") |"
echo
echo "| NodeStage + NodePublish | first (ms) | median of next 4 (ms) |"
echo "|---|---|---|"
/usr/bin/python3 "$here/bench_csi.py" stage "$dir/csi.sock" "$csi_project" "$ptoken" "$dir/stage" 5 |
    while read -r kind first med; do
        echo "| $kind | $first | $med |"
    done
