#!/usr/bin/env bash
# package.sh - build Kairos's Debian packages from this tree.
#
#   scripts/package.sh [OUTDIR]    build the .debs into OUTDIR (default build/deb)
#   scripts/package.sh --check     build, then list each package's contents
#                                  (dpkg-deb -c) and run lintian on them
#
# The tree's files (tracked and new, as git sees them, uncommitted changes
# included) are copied to OUTDIR/src and built there with
# `dpkg-buildpackage -us -uc -b` (debian/: debhelper with CMake), so the
# work tree stays clean. Needs the build dependencies of debian/control
# (scripts/install-deps installs them). Prints the .debs made.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
out=$(realpath -m "${1:-build/deb}")
version=$(dpkg-parsechangelog -S Version)
cmake_version=$(sed -n 's/^project(kairos VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [ "$version" != "$cmake_version" ]; then
    echo "package.sh: debian/changelog says $version, CMakeLists.txt $cmake_version" >&2
    exit 1
fi

rm -rf "$out"
mkdir -p "$out/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$out/src"
cd "$out/src"
dpkg-checkbuilddeps
log=$out/build.log
echo "package.sh: building kairos $version in $out/src (log: $log)"
if ! DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "package.sh: dpkg-buildpackage failed; the whole log is $log" >&2
    exit 1
fi
cd "$out"
ls -1 "$out"/*.deb

if [ $check = 1 ]; then
    for deb in "$out"/*.deb; do
        echo "== $(basename "$deb")"
        dpkg-deb -c "$deb" | awk '{print $1, $6, $7, $8}'
    done
    if command -v lintian >/dev/null; then
        echo "== lintian"
        lintian --fail-on error --suppress-tags-from-file "$root/debian/lintian-suppress" \
            "$out"/*.changes
    fi
fi
