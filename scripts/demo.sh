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
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)"

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

# call WANT AUTH... -- METHOD PATH [BODY]: print the answer; stop the demo on another status.
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
    echo "$out"
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
osb 200 GET /v2/catalog | cut -c1-160
iid=demo-$(date +%s)
osb 201 PUT "/v2/service_instances/$iid" \
    '{"service_id":"kairos-volume","plan_id":"kairos-volume-small","organization_guid":"demo-cluster","space_guid":"demo","context":{"platform":"kubernetes","namespace":"demo"},"parameters":{"size":"256M"}}'
creds=$(osb 201 PUT "/v2/service_instances/$iid/service_bindings/pod-1" \
    '{"service_id":"kairos-volume","plan_id":"kairos-volume-small"}')
echo "$creds" | sed -e 's/"key":"[^"]*"/"key":"(hidden)"/; s/key = [^\\]*/key = (hidden)/'
# The binding's key does I/O on its image, and cannot change what the quota counts.
key=$(echo "$creds" | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
user=$(echo "$creds" | sed -n 's/.*"user":"\([^"]*\)".*/\1/p')
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
rest 200 GET /v1/projects/k8s-demo | cut -c1-200
rest 200 GET /v1/projects/k8s-demo/usage | cut -c1-200
rest 200 GET /v1/capacity | cut -c1-200

echo
echo "demo: done. The cluster and kairosd keep running ($URL, admin token in"
echo "$DIR/admin-token); stop both with: scripts/demo.sh stop"
