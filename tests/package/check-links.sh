#!/usr/bin/env bash
# check-links.sh CLIENT_LIB CLUSTER_LIB PROGRAM... - the library split as
# the dynamic linker sees it: each PROGRAM (kairosctl, kairos-csi) needs
# libkairos-client.so.0 and none of libkairos.so, librados, librbd,
# libcephfs; libkairos-client needs no Ceph library either; libkairos needs
# libkairos-client (it builds on it) and the Ceph libraries.
set -euo pipefail
fail() {
    echo "check-links: $*" >&2
    exit 1
}
# needed FILE: the DT_NEEDED entries of FILE, one a line.
needed() {
    local out
    out=$(readelf -d "$1") || fail "readelf -d $1 failed"
    sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' <<<"$out"
}
ceph='^(librados|librbd|libcephfs)\.so'

client=$1 cluster=$2
shift 2
n=$(needed "$client")
bad=$(grep -E "$ceph" <<<"$n" || true)
[ -z "$bad" ] || fail "$client needs $(echo $bad)"
n=$(needed "$cluster")
grep -qx 'libkairos-client.so.0' <<<"$n" || fail "$cluster does not need libkairos-client.so.0"
grep -qE '^librados\.so' <<<"$n" || fail "$cluster does not need librados"
for prog in "$@"; do
    n=$(needed "$prog")
    grep -qx 'libkairos-client.so.0' <<<"$n" || fail "$prog does not need libkairos-client.so.0"
    bad=$(grep -E "$ceph|^libkairos\.so" <<<"$n" || true)
    [ -z "$bad" ] || fail "$prog needs $(echo $bad)"
    echo "check-links: $(basename "$prog") needs $(echo $n)"
done
echo "check-links: no Ceph library and no libkairos in $# programs and libkairos-client"
