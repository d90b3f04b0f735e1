#!/usr/bin/env bash
# bench_kairosd.sh - kairosd over HTTP with wrk, on the cluster of KAIROS_CONF:
#
#   GET /healthz                       the floor: no auth, one RADOS stat
#   GET /v1/projects/P (bearer token)  auth + one RADOS read: requests/s, p99
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
cleanup() {
    [ -n "$kd" ] && kill "$kd" 2>/dev/null && wait "$kd" 2>/dev/null || true
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
curl -sf -H "Authorization: Bearer $token" -d "{\"name\":\"$project\"}" "$url/v1/projects" >/dev/null

cat >"$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
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
read -r h_rps h_p99 < <(run -t2 -c32 -d"${secs}s" "$url/healthz")
read -r g_rps g_p99 < <(run -t2 -c32 -d"${secs}s" -s "$dir/auth.lua" "$url/v1/projects/$project")
read -r p_rps p_p99 < <(run -t2 -c32 -d"${secs}s" -s "$dir/create.lua" "$url/v1/projects/$project/volumes")
errors=$(grep -c 'status=[45]' "$dir/kairosd.log" || true)

echo "# bench_kairosd: wrk, 2 threads, 32 connections, ${secs} s per figure"
echo
echo "| request | requests/s | p99 | ratio to /healthz |"
echo "|---|---|---|---|"
echo "| GET /healthz (no auth, one RADOS stat) | $h_rps | $h_p99 | 1.00 |"
echo "| GET /v1/projects/P (bearer token) | $g_rps | $g_p99 | $(awk -v a="$g_rps" -v b="$h_rps" 'BEGIN{printf "%.2f", a/b}') |"
echo "| POST /v1/projects/P/volumes (64 MiB) | $p_rps | $p_p99 | — |"
echo
echo "4xx/5xx answers during the run: $errors"
echo
kill "$kd"; wait "$kd" 2>/dev/null || true; kd=
# The same provisioning without HTTP, and bare rbd_create, in the same run.
KAIROS_BENCH_DISPOSABLE=1 "$build/bench/bench_provision" 5 | grep -E '^\|'
