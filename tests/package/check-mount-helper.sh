#!/usr/bin/env bash
# check-mount-helper.sh HELPER - mount.fuse.kairosfs turns what mount(8)
# passes (SOURCE MOUNTPOINT [-sfnvrw] [-o OPTIONS]) into the kairosfs
# command line: the source as project= or creds=, mount(8)'s and systemd's
# own options dropped, -r as ro, -f (fake) running nothing. kairosfs is
# replaced here by a program that prints its arguments; the real mount
# through /etc/fstab is in fresh-install.sh.
set -euo pipefail
helper=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nprintf "%%s|" "$@"\n' >"$tmp/kairosfs"
chmod +x "$tmp/kairosfs"
export KAIROSFS=$tmp/kairosfs
status=0
expect() {
    local want=$1 got
    shift
    got=$("$helper" "$@" 2>&1) || got="exit $?: $got"
    if [ "$got" != "$want" ]; then
        echo "check-mount-helper: $*: got '$got', want '$want'" >&2
        status=1
    fi
}
expect "-o|project=climate,conf=/etc/k.conf,allow_other|/mnt/c|" \
    climate /mnt/c -o conf=/etc/k.conf,_netdev,noauto,allow_other,x-systemd.automount
expect "-o|creds=/etc/kairos/c.json,ro|/mnt/c|" /etc/kairos/c.json /mnt/c -r -o _netdev,nofail
expect "-o|project=climate,share=home,ro|/mnt/h|" climate /mnt/h -n -v -oshare=home -t fuse.kairosfs -o ro
expect "-o|project=climate|/mnt/c|" climate /mnt/c -o defaults
expect "" climate /mnt/c -f -o allow_other
expect "exit 1: usage: mount.fuse.kairosfs SOURCE MOUNTPOINT [-sfnvrw] [-o OPTIONS]" climate
expect "exit 1: mount.fuse.kairosfs: unknown argument '-x'
usage: mount.fuse.kairosfs SOURCE MOUNTPOINT [-sfnvrw] [-o OPTIONS]" climate /mnt/c -x
[ $status = 0 ] && echo "check-mount-helper: all cases as expected"
exit $status
