#!/usr/bin/env bash
# check-debs.sh SRCDIR OUTDIR VERSION - build the Debian packages with
# scripts/package.sh --check (contents listed, lintian without errors),
# then check that each package holds what an operator relies on, and that a
# program built with libkairos-dev's pkg-config file runs on libkairos0.
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
has libkairos-dev "usr/lib/$arch/libkairos.so" "usr/lib/$arch/pkgconfig/kairos.pc" \
    usr/include/kairos/kairos.h usr/include/kairos/version.h
has kairosd usr/sbin/kairosd etc/kairos/kairos.conf etc/kairos/tokens etc/kairos/capacity.ini \
    etc/kairos/plans.ini lib/systemd/system/kairosd.service usr/share/man/man8/kairosd.8.gz \
    usr/share/man/man5/kairos.conf.5.gz
has kairosctl usr/bin/kairosctl usr/share/man/man1/kairosctl.1.gz \
    usr/share/bash-completion/completions/kairosctl
has kairosfs usr/bin/kairosfs lib/systemd/system/kairosfs@.service sbin/mount.fuse.kairosfs \
    sbin/mount.kairosfs usr/share/man/man8/kairosfs.8.gz
has kairos-csi usr/bin/kairos-csi usr/share/man/man8/kairos-csi.8.gz

# The library's SONAME, and the package that carries it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in libkairos0 libkairos-dev; do
    dpkg-deb -x "$out/${p}_${version}_$(dpkg --print-architecture).deb" "$tmp/root"
done
soname=$(objdump -p "$tmp/root/usr/lib/$arch/libkairos.so.$version" | awk '/SONAME/{print $2}')
[ "$soname" = libkairos.so.0 ] || fail "SONAME is '$soname', not libkairos.so.0"
dpkg-deb -I "$out/libkairos0_${version}_$(dpkg --print-architecture).deb" shlibs |
    grep -q "^libkairos 0 libkairos0" || fail "libkairos0 has no shlibs entry for libkairos 0"

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
echo "check-debs: all packages hold what they should; libkairos-dev builds a program on libkairos0"
