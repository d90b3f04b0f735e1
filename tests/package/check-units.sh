#!/usr/bin/env bash
# check-units.sh BUILDDIR - `systemd-analyze verify` on every systemd unit
# as `cmake --install` installs it (into a scratch DESTDIR): the syntax, the
# programs ExecStart= names (rewritten into the scratch root, since they are
# not installed on this machine) and the man pages Documentation= names.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp/root cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
units=$(find "$tmp/root" -path '*/systemd/system/*' -type f | sort)
[ -n "$units" ] || { echo "check-units: cmake --install installed no unit" >&2; exit 1; }
mkdir "$tmp/units"
for u in $units; do
    name=$(basename "$u")
    # A template is verified as one instance of it.
    case $name in *@.service) name=${name%@.service}@check.service ;; esac
    sed "s|$prefix/|$tmp/root$prefix/|g" "$u" >"$tmp/units/$name"
done
export MANPATH=$tmp/root$prefix/share/man
status=0
for u in "$tmp"/units/*; do
    if out=$(systemd-analyze verify "$u" 2>&1) && [ -z "$out" ]; then
        echo "check-units: $(basename "$u"): ok"
    else
        echo "check-units: $(basename "$u"):" >&2
        echo "$out" >&2
        status=1
    fi
done
exit $status
