#!/usr/bin/env bash
# bench_kairosd.sh - kairosd over HTTP with wrk, on the cluster of KAIROS_CONF:
#
#   a bare libmicrohttpd server        the baseline: a fixed body, nothing else
#                                      (bench_bare_mhd, kairosd's threading)
#   GET /v1/projects/P (bearer token)  the authenticated read path: requests/s,
#                                      p99, and the ratio to the baseline
#   GET /healthz                       no auth, one RADOS stat
#   POST /v1/projects/P/volumes        end-to-end provisioning at 32 connections
#
# beside the same provisioning through libkairos and a bare rbd_create
# (bench_provision) in the same run. Run by scripts/bench.sh kairosd.
set -euo pipefail
: "${KAIROS_CONF:?set KAIROS_CONF to the kairos.conf of a cluster}"
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build-bench}
secs=${1:-10}
dir=$(mktemp -d)
kd=
bare=
cleanup() {
    [ -n "$kd" ] && kill "$kd" 2>/dev/null && wait "$kd" 2>/dev/null || true
    [ -n "$bare" ] && kill "$bare" 2>/dev/null && wait "$bare" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

token=bench-admin-$RANDOM$RANDOM$RANDOM
echo "$(echo "$token" | "$build/gateway/kairosd" --hash-token) admin" >"$dir/tokens"
# Thin volumes take no space: admit a petabyte, as bench_provision does.
printf '[capacity]\nusable = 1P\nfull_ratio = 1\nheadroom = 0\n' >"$dir/capacity.ini"
awk '/^\[/ { skip = ($0 == "[server]") } !skip' "$KAIROS_CONF" |
    sed -e "s|^capacity = .*|capacity = $dir/capacity.ini|" >"$dir/kairos.conf"
printf '[server]\nlisten = 127.0.0.1:0\ntokens = %s/tokens\n' "$dir" >>"$dir/kairos.conf"
"$build/gateway/kairosd" -c "$dir/kairos.conf" --port-file "$dir/port" 2>"$dir/kairosd.log" &
kd=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$dir/port")
project=wrk-$$
curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d "{\"name\":\"$project\"}" "$url/v1/projects" >/dev/null
# A project token, as a tenant reads its project: looked up in RADOS, then cached.
ptoken=$(curl -sf -H "Authorization: Bearer $token" -H "Content-Type: application/json" -d '{}' \
    "$url/v1/projects/$project/tokens" | sed -e 's/.*"token":"\([^"]*\)".*/\1/')
body_bytes=$(curl -sf -H "Authorization: Bearer $ptoken" "$url/v1/projects/$project" | wc -c)
"$build/bench/bench_bare_mhd" "$dir/bare-port" "$body_bytes" &
bare=$!
for _ in $(seq 100); do [ -s "$dir/bare-port" ] && break; sleep 0.1; done
bare_url=http://127.0.0.1:$(cat "$dir/bare-port")

cat >"$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $ptoken"
LUA
cat >"$dir/create.lua" <<LUA
local n, id = 0, 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) id = wrk.thread:get("id") end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"name":"w%d-%d","size":"64M"}', id, n))
end
function done(summary, latency, requests)
  local codes = summary.errors.status
  io.write(string.format("non-2xx: %d\n", codes))
end
LUA

# run NAME ARGS... -> "rps p99_ms"
run() {
    local out
    out=$(wrk --latency "$@" 2>&1)
    echo "$out" >>"$dir/wrk.log"
    local rps p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$rps $p99"
}

# Warm up, untimed: connection threads, the token cache, the project's namespace.
run -t2 -c32 -d2s -s "$dir/auth.lua" "$url/v1/projects/$project" >/dev/null
run -t2 -c32 -d2s "$bare_url/" >/dev/null
# The read path and its baseline, one after the other, three times, in this
# run: on a shared machine a pair measured side by side is what compares.
pairs=()
for i in 1 2 3; do
    read -r b_rps b_p99 < <(run -t2 -c32 -d"${secs}s" "$bare_url/")
    read -r g_rps g_p99 < <(run -t2 -c32 -d"${secs}s" -s "$dir/auth.lua" "$url/v1/projects/$project")
    pairs+=("$b_rps $b_p99 $g_rps $g_p99")
done
kill "$bare"; wait "$bare" 2>/dev/null || true; bare=
read -r h_rps h_p99 < <(run -t2 -c32 -d"${secs}s" "$url/healthz")
read -r p_rps p_p99 < <(run -t2 -c32 -d"${secs}s" -s "$dir/create.lua" "$url/v1/projects/$project/volumes")
errors=$(grep -c 'status=[45]' "$dir/kairosd.log" || true)

echo "# bench_kairosd: wrk, 2 threads, 32 connections, ${secs} s per figure"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "| pair | bare libmicrohttpd ($body_bytes-byte body) req/s | p99 | GET /v1/projects/P (project token) req/s | p99 | ratio |"
echo "|---|---|---|---|---|---|"
ratios=()
for i in 0 1 2; do
    read -r b_rps b_p99 g_rps g_p99 <<<"${pairs[$i]}"
    ratios+=("$(ratio "$g_rps" "$b_rps")")
    echo "| $((i + 1)) | $b_rps | $b_p99 | $g_rps | $g_p99 | ${ratios[$i]} |"
done
echo
echo "Median ratio: $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)"
echo
echo "| request | requests/s | p99 |"
echo "|---|---|---|"
echo "| GET /healthz (no auth, one RADOS stat) | $h_rps | $h_p99 |"
echo "| POST /v1/projects/P/volumes (64 MiB) | $p_rps | $p_p99 |"
echo
echo "4xx/5xx answers during the run: $errors"
echo
kill "$kd"; wait "$kd" 2>/dev/null || true; kd=
# The same provisioning without HTTP, and bare rbd_create, in the same run.
KAIROS_BENCH_DISPOSABLE=1 "$build/bench/bench_provision" 5 | grep -E '^\|'
