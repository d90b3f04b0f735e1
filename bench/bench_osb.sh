#!/usr/bin/env bash
# bench_osb.sh - OSB provision+bind+unbind+deprovision cycles per second at
# 32 connections over two kairosd, with 100 and then 100,000 instances
# already in the registry (preloaded straight into its shards through RADOS
# by bench_osb), on the cluster of KAIROS_CONF. Run by scripts/bench.sh osb.
set -euo pipefail
: "${KAIROS_CONF:?set KAIROS_CONF to the kairos.conf of a cluster}"
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build-bench}
secs=${1:-30}
dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

secret=bench-broker-$RANDOM$RANDOM
# Thin volumes take no space: admit a petabyte, as bench_provision does.
printf '[capacity]\nusable = 1P\nfull_ratio = 1\nheadroom = 0\n' >"$dir/capacity.ini"
awk '/^\[/ { skip = ($0 == "[server]") } !skip' "$KAIROS_CONF" |
    sed -e "s|^capacity = .*|capacity = $dir/capacity.ini|" >"$dir/kairos.conf"
printf '[server]\nlisten = 127.0.0.1:0\nbroker_user = bench\nbroker_password = %s\n' "$secret" \
    >>"$dir/kairos.conf"
urls=()
for i in 1 2; do
    "$build/gateway/kairosd" -c "$dir/kairos.conf" --port-file "$dir/port$i" 2>"$dir/kairosd$i.log" &
    pids+=($!)
done
for i in 1 2; do
    for _ in $(seq 100); do [ -s "$dir/port$i" ] && break; sleep 0.1; done
    urls+=("http://127.0.0.1:$(cat "$dir/port$i")")
done

export KAIROS_BROKER="bench:$secret"
echo "# bench_osb: 32 connections over 2 kairosd, ${secs} s per figure"
echo
echo "| instances registered | cycles/s | cycle p50 | cycle p99 | errors |"
echo "|---|---|---|---|---|"
"$build/bench/bench_osb" -p 100 -s "$secs" -c 32 "${urls[@]}"
"$build/bench/bench_osb" -p 99900 -s "$secs" -c 32 "${urls[@]}"
errors=$(grep -c 'status=5' "$dir"/kairosd*.log || true)
echo
echo "5xx answers in the kairosd logs: $errors"
