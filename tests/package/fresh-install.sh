#!/usr/bin/env bash
# fresh-install.sh [CLUSTER_DIR] - Kairos's Debian packages as an operator
# meets them: built from this tree, installed with apt into a pristine
# Debian 12 root (../shared/tools/fresh-machine.sh, or $FRESH_MACHINE), and
# run there from their installed files against a local cluster:
#
#   - kairosd from /etc/kairos/kairos.conf, as the kairos user the package made,
#     after the operator's edits (the cluster's address and keys, a token);
#   - kairosctl: a project, a share, their listing;
#   - kairosfs: the project mounted, a file written and read back; and the
#     same through /etc/fstab's way, mount -t fuse.kairosfs (mount.fuse.kairosfs).
#
# CLUSTER_DIR: a running scripts/minicluster; without it one is started in a
# temporary directory and stopped at the end. Needs root, mmdebstrap and
# zstd; apt inside reaches Debian's mirrors. Not part of ctest: it takes
# minutes (see tests/package/CMakeLists.txt). Exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
fresh=${FRESH_MACHINE:-$root/../shared/tools/fresh-machine.sh}
[ -x "$fresh" ] || { echo "fresh-install: no $fresh (set FRESH_MACHINE)" >&2; exit 2; }

work=$(mktemp -d -t kairos-fresh.XXXXXX)
cluster=${1:-}
started=0
cleanup() {
    [ $started = 1 ] && scripts/minicluster stop "$cluster" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

SECONDS=0
scripts/package.sh "$work/deb" >/dev/null
echo "fresh-install: packages built in ${SECONDS}s"
if [ -z "$cluster" ]; then
    cluster=$work/cluster
    started=1
    scripts/minicluster start "$cluster" >/dev/null
    echo "fresh-install: cluster up after ${SECONDS}s"
fi

# What the operator brings to the machine: the packages, a client
# ceph.conf with the monitors' address, the keyring, the RGW admin keys.
sh=$work/shared
mkdir -p "$sh/debs"
cp "$work"/deb/{libkairos0,libkairos-client0,kairosd,kairosctl,kairosfs}_*.deb "$sh/debs/"
{
    echo "[global]"
    grep -E '^(fsid|mon host|ms bind ipv6) =' "$cluster/ceph.conf"
} >"$sh/ceph.conf"
cp "$cluster/keyring" "$sh/keyring"
grep -E '^(endpoint|access_key|secret_key) =' "$cluster/kairos.conf" >"$sh/rgw.conf"
cp tests/package/fresh-inside.sh "$sh/inside.sh"

"$fresh" "$root" "$sh" -- bash /root/shared/inside.sh
