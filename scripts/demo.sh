#!/usr/bin/env bash
# demo.sh - the main job, from a fresh Debian 12 machine: install what is
# needed, build, start the local Ceph cluster, and run the demo against it.
#
#   scripts/demo.sh         install, build, start (or reuse) the cluster and
#                           kairosd, and provision a demo project end to end
#   scripts/demo.sh stop    stop kairosd and the demo cluster
#
# The cluster lives in build/demo-cluster (KAIROS_DEMO_DIR overrides) and
# keeps running after the demo with kairosd, so you can explore both:
#   export CEPH_CONF=build/demo-cluster/ceph.conf; ceph -s
#   curl -H "Authorization: Bearer $(cat build/demo-cluster/admin-token)" \
#        http://127.0.0.1:$(cat build/demo-cluster/kairosd.port)/v1/projects
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${KAIROS_DEMO_DIR:-$PWD/build/demo-cluster}

stop_kairosd() {
    if [ -s "$DIR/kairosd.pid" ] && kill "$(cat "$DIR/kairosd.pid")" 2>/dev/null; then
        while kill -0 "$(cat "$DIR/kairosd.pid")" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$DIR/kairosd.pid" "$DIR/kairosd.port"
}

if [ "${1:-}" = "stop" ]; then
    stop_kairosd
    exec scripts/minicluster stop "$DIR"
fi

scripts/install-deps
# The build's log goes to a file; only a failure shows its end.
mkdir -p build
echo "demo: building (log: build/demo-build.log)"
if ! { cmake -S . -B build && cmake --build build -j"$(nproc)"; } >build/demo-build.log 2>&1; then
    tail -n 30 build/demo-build.log >&2
    echo "demo: the build failed; the whole log is build/demo-build.log" >&2
    exit 1
fi

if scripts/minicluster status "$DIR" >/dev/null 2>&1; then
    echo "demo: reusing the cluster in $DIR"
else
    scripts/minicluster start "$DIR"
fi
export KAIROS_CONF=$DIR/kairos.conf

echo
echo "== libkairos: a project, its quota, reservations admitted and refused"
build/examples/ledger-demo

echo
echo "== kairosd: the broker API"
stop_kairosd
# A fresh admin token and broker password for this demo, kept beside the cluster.
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/admin-token"
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/broker-password"
chmod 600 "$DIR/admin-token" "$DIR/broker-password"
echo "$(build/gateway/kairosd --hash-token <"$DIR/admin-token") admin" >"$DIR/tokens"
{
    awk '/^\[/ { skip = ($0 == "[server]") } !skip' "$KAIROS_CONF"
    printf '[server]\nlisten = 127.0.0.1:0\ntokens = %s/tokens\nbroker_user = demo\n' "$DIR"
    printf 'broker_password = %s\n' "$(cat "$DIR/broker-password")"
} >"$DIR/kairosd.conf"
rm -f "$DIR/kairosd.port"
build/gateway/kairosd -c "$DIR/kairosd.conf" --port-file "$DIR/kairosd.port" \
    2>>"$DIR/kairosd.log" &
echo $! >"$DIR/kairosd.pid"
for _ in $(seq 100); do [ -s "$DIR/kairosd.port" ] && break; sleep 0.1; done
[ -s "$DIR/kairosd.port" ] || { echo "demo: kairosd did not start; see $DIR/kairosd.log" >&2; exit 1; }
URL=http://127.0.0.1:$(cat "$DIR/kairosd.port")
echo "kairosd on $URL (log: $DIR/kairosd.log)"

# call WANT AUTH... -- METHOD PATH [BODY]: print "$ METHOD PATH", the answer
# (whole JSON objects: the jq filter in $SHOW, if set, picks what matters;
# $RAW, if set, names a file for the whole answer) and "-> STATUS"; stop the
# demo on another status.
call() {
    local want=$1 out code
    shift
    local args=()
    while [ "$1" != "--" ]; do args+=("$1"); shift; done
    shift
    echo "\$ $1 $2" >&2
    out=$(curl -sS "${args[@]}" -H 'Content-Type: application/json' -X "$1" ${3:+-d "$3"} \
        -w '\n%{http_code}' "$URL$2")
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    [ -n "${RAW:-}" ] && printf '%s\n' "$out" >"$RAW"
    if [ -n "${SHOW:-}" ] && [ -n "$out" ]; then
        echo "$out" | jq -c "$SHOW"
    else
        echo "$out"
    fi
    echo "  -> $code" >&2
    if [ "$code" != "$want" ]; then
        echo "demo: expected $want; see $DIR/kairosd.log" >&2
        exit 1
    fi
}
osb() { call "$1" -u "demo:$(cat "$DIR/broker-password")" -H 'X-Broker-API-Version: 2.17' -- "${@:2}"; }
rest() { call "$1" -H "Authorization: Bearer $(cat "$DIR/admin-token")" -- "${@:2}"; }

echo
echo "-- a Kubernetes platform: catalog, provision, bind, unbind, deprovision"
SHOW='[.services[] | {name, plans: [.plans[].name]}]' osb 200 GET /v2/catalog
iid=demo-$(date +%s)
osb 201 PUT "/v2/service_instances/$iid" \
    '{"service_id":"kairos-volume","plan_id":"kairos-volume-small","organization_guid":"demo-cluster","space_guid":"demo","context":{"platform":"kubernetes","namespace":"demo"},"parameters":{"size":"256M"}}'
RAW=$DIR/creds.json SHOW='.credentials | .key = "(hidden)" | del(.keyring)' \
    osb 201 PUT "/v2/service_instances/$iid/service_bindings/pod-1" \
    '{"service_id":"kairos-volume","plan_id":"kairos-volume-small"}'
chmod 600 "$DIR/creds.json"
# The binding's key does I/O on its image, and cannot change what the quota counts.
key=$(jq -r .credentials.key "$DIR/creds.json")
user=$(jq -r .credentials.user "$DIR/creds.json")
rbd_as() {
    rbd -c "$DIR/ceph.conf" --id "$user" --key "$key" --client_mount_timeout 15 "$@" 2>/dev/null
}
echo "\$ rbd --id $user bench --io-type write --io-total 4M rbd/k8s-demo/$iid"
rbd_as bench --io-type write --io-size 64K --io-total 4M --io-threads 1 "rbd/k8s-demo/$iid" | tail -1
echo "\$ rbd --id $user resize --size 100G rbd/k8s-demo/$iid"
if rbd_as resize --size 100G "rbd/k8s-demo/$iid"; then
    echo "demo: the binding's key resized its image" >&2
    exit 1
fi
echo "  -> refused: the key cannot resize (the ledger counts 256MiB)"
osb 200 DELETE "/v2/service_instances/$iid/service_bindings/pod-1?service_id=kairos-volume&plan_id=kairos-volume-small"
osb 200 DELETE "/v2/service_instances/$iid?service_id=kairos-volume&plan_id=kairos-volume-small"

echo
echo "-- an administrator: the project the namespace mapped to, its usage, the pool"
SHOW='{name, state, owner, quota: {volume: .quota.volume}}' rest 200 GET /v1/projects/k8s-demo
SHOW='{volume}' rest 200 GET /v1/projects/k8s-demo/usage
SHOW='{usable, limit, allocated_total, used}' rest 200 GET /v1/capacity
ctl() {
    echo "\$ kairosctl $*"
    KAIROS_URL=$URL KAIROS_TOKEN_FILE=$DIR/admin-token build/cli/kairosctl "$@"
}
ctl usage k8s-demo

echo
echo "demo: done. The cluster and kairosd keep running ($URL); stop both with"
echo "scripts/demo.sh stop. To try next:"
echo "  export KAIROS_URL=$URL KAIROS_TOKEN_FILE=$DIR/admin-token PATH=$PWD/build/cli:\$PATH"
echo "  kairosctl project create climate --plan small"
echo "  kairosctl volume create climate db --size 1G"
echo "  kairosctl snapshot create climate volume db first"
echo "  kairosctl volume create climate db-copy --from db@first --wait"
echo "  kairosctl binding create climate volume db vm-1     # a key for that volume only"
echo "  kairosctl usage climate; kairosctl capacity"
echo "  CEPH_CONF=$DIR/ceph.conf ceph -s                    # the cluster underneath"
