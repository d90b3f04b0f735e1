#!/usr/bin/env bash
# demo.sh - the main job, from a fresh Debian 12 machine: install what is
# needed, build, start the local Ceph cluster, and run the demo against it.
#
#   scripts/demo.sh         install, build, start (or reuse) the cluster, demo
#   scripts/demo.sh stop    stop the demo cluster
#
# The cluster lives in build/demo-cluster (KAIROS_DEMO_DIR overrides) and
# keeps running after the demo, so you can explore it:
#   export CEPH_CONF=build/demo-cluster/ceph.conf; ceph -s
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${KAIROS_DEMO_DIR:-$PWD/build/demo-cluster}

if [ "${1:-}" = "stop" ]; then
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
echo "demo: done. The cluster keeps running; stop it with: scripts/demo.sh stop"
