#!/usr/bin/env bash
# check-debs.sh SRCDIR OUTDIR VERSION - build the Debian packages with
# scripts/package.sh --check (contents listed, lintian without errors),
# then check that each package holds what an operator relies on, that
# kairosctl and kairos-csi depend on libkairos-client0 and on no Ceph
# library, and that programs built with libkairos-dev's pkg-config files
# run on libkairos0 (kairos.pc) and on libkairos-client0 alone
# (kairos-client.pc).
set -euo pipefail
src=$1 out=$2 version=$3
fail() {
    echo "check-debs: $*" >&2
    exit 1
}

"$src/scripts/package.sh" --check "$out"

arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# has PACKAGE PATH...: each PATH is in PACKAGE's .deb.
has() {
    local pkg=$1 deb list
    shift
    deb=$out/${pkg}_${version}_$(dpkg --print-architecture).deb
    [ -f "$deb" ] || fail "no $deb"
    list=$(dpkg-deb -c "$deb" | awk '{print $6}')
    for p in "$@"; do
        grep -qx "./$p" <<<"$list" || fail "$pkg lacks /$p"
    done
}
has libkairos0 "usr/lib/$arch/libkairos.so.$version" "usr/lib/$arch/libkairos.so.0"
has libkairos-client0 "usr/lib/$arch/libkairos-client.so.$version" \
    "usr/lib/$arch/libkairos-client.so.0"
has libkairos-dev "usr/lib/$arch/libkairos.so" "usr/lib/$arch/pkgconfig/kairos.pc" \
    "usr/lib/$arch/libkairos-client.so" "usr/lib/$arch/pkgconfig/kairos-client.pc" \
    usr/include/kairos/kairos.h usr/include/kairos/version.h usr/include/kairos/client.h
has kairosd usr/sbin/kairosd etc/kairos/kairos.conf etc/kairos/tokens etc/kairos/capacity.ini \
    etc/kairos/plans.ini lib/systemd/system/kairosd.service usr/share/man/man8/kairosd.8.gz \
    usr/share/man/man5/kairos.conf.5.gz
has kairosctl usr/bin/kairosctl usr/share/man/man1/kairosctl.1.gz \
    usr/share/bash-completion/completions/kairosctl
has kairosfs usr/bin/kairosfs lib/systemd/system/kairosfs@.service sbin/mount.fuse.kairosfs \
    sbin/mount.kairosfs usr/share/man/man8/kairosfs.8.gz
has kairos-csi usr/bin/kairos-csi usr/share/man/man8/kairos-csi.8.gz

# Each library's SONAME, and the package that carries it (shlibs; symbols
# for libkairos-client0).
deb() { echo "$out/${1}_${version}_$(dpkg --print-architecture).deb"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in libkairos0 libkairos-client0 libkairos-dev; do
    dpkg-deb -x "$(deb $p)" "$tmp/root"
done
for lib in libkairos libkairos-client; do
    soname=$(objdump -p "$tmp/root/usr/lib/$arch/$lib.so.$version" | awk '/SONAME/{print $2}')
    [ "$soname" = $lib.so.0 ] || fail "SONAME is '$soname', not $lib.so.0"
    dpkg-deb -I "$(deb ${lib}0)" shlibs | grep -q "^$lib 0 ${lib}0" ||
        fail "${lib}0 has no shlibs entry for $lib 0"
done
dpkg-deb -I "$(deb libkairos-client0)" symbols | grep -q '^ kairos_client_call@Base' ||
    fail "libkairos-client0 has no symbols file"

# The library split: the cluster library depends on the client library;
# kairosctl and kairos-csi on the client library and on nothing of Ceph.
depends() { dpkg-deb -f "$(deb "$1")" Depends; }
depends libkairos0 | grep -q 'libkairos-client0' || fail "libkairos0 does not depend on libkairos-client0"
for p in kairosctl kairos-csi; do
    d=$(depends $p)
    grep -q 'libkairos-client0' <<<"$d" || fail "$p does not depend on libkairos-client0: $d"
    if grep -qE 'librados|librbd|libcephfs|libkairos0' <<<"$d"; then
        fail "$p depends on Ceph's libraries or libkairos0: $d"
    fi
done

# A libkairos user, built only from the -dev package's files.
cat >"$tmp/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <kairos/kairos.h>
int main(void)
{
    printf("%s %s\n", KAIROS_VERSION_STRING, kairos_version());
    return strcmp(KAIROS_VERSION_STRING, kairos_version()) != 0;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR=$tmp/root PKG_CONFIG_PATH=$tmp/root/usr/lib/$arch/pkgconfig \
    pkg-config --cflags --libs kairos) || fail "pkg-config kairos failed"
cc -o "$tmp/use" "$tmp/use.c" $flags
got=$(LD_LIBRARY_PATH=$tmp/root/usr/lib/$arch "$tmp/use") || fail "the libkairos user failed: $got"
[ "$got" = "$version $version" ] || fail "the libkairos user printed '$got'"

# A client of kairosd, built with kairos-client.pc: it runs with
# libkairos-client.so alone (libkairos.so and its Ceph libraries moved away).
cat >"$tmp/client.c" <<'C'
#include <stdio.h>
#include <kairos/client.h>
#include <kairos/name.h>
#include <kairos/units.h>
#include <kairos/version.h>
int main(void)
{
    char buf[KAIROS_SIZE_STR_MAX];
    uint64_t n;
    if (kairos_size_parse("1.5GiB", &n) < 0 || !kairos_name_valid("proj-1"))
        return 1;
    printf("%s %s\n", kairos_version(), kairos_size_format(n, buf, sizeof(buf)));
    return 0;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR=$tmp/root PKG_CONFIG_PATH=$tmp/root/usr/lib/$arch/pkgconfig \
    pkg-config --cflags --libs kairos-client) || fail "pkg-config kairos-client failed"
cc -o "$tmp/client" "$tmp/client.c" $flags
mkdir "$tmp/clientlib"
cp -a "$tmp/root/usr/lib/$arch/"libkairos-client.so* "$tmp/clientlib/"
got=$(LD_LIBRARY_PATH=$tmp/clientlib "$tmp/client") || fail "the client failed: $got"
[ "$got" = "$version 1.5GiB" ] || fail "the client printed '$got'"
if objdump -p "$tmp/client" | grep -E 'NEEDED +(librados|librbd|libcephfs|libkairos\.so)'; then
    fail "a kairos-client.pc program needs a Ceph library or libkairos"
fi
echo "check-debs: all packages hold what they should; libkairos-dev builds programs on" \
    "libkairos0 and on libkairos-client0 alone; kairosctl and kairos-csi need no Ceph library"
