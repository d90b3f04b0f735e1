#!/usr/bin/env bash
# fresh-inside.sh - run by fresh-install.sh inside the pristine Debian 12
# root, as root, with the packages and the cluster's files in /root/shared.
set -euo pipefail
S=/root/shared
step() { echo "== $*"; }
fail() {
    echo "fresh-inside: FAIL: $*" >&2
    [ -f /run/kairos/kairosd.log ] && tail -n 20 /run/kairos/kairosd.log >&2
    exit 1
}

step "apt install the packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$S"/debs/*.deb curl >/dev/null
for p in kairosd kairosctl kairosfs; do "$p" --version; done
getent passwd kairos >/dev/null || fail "kairosd's package made no kairos user"
[ "$(stat -c %G:%a /etc/kairos/kairos.conf)" = kairos:640 ] || fail "kairos.conf is not kairos:640"

step "configure as an operator: /etc/ceph, /etc/kairos/kairos.conf, a token"
install -d /etc/ceph
cp "$S/ceph.conf" /etc/ceph/ceph.conf
echo "keyring = /etc/ceph/ceph.client.admin.keyring" >>/etc/ceph/ceph.conf
install -m 0640 -g kairos "$S/keyring" /etc/ceph/ceph.client.admin.keyring
# shellcheck disable=SC1090
eval "$(sed 's/ = /=/' "$S/rgw.conf")"
sed -i -e 's/^client = client.kairos$/client = client.admin/' \
    -e 's|^keyring = .*|keyring = /etc/ceph/ceph.client.admin.keyring|' \
    -e "s|^;endpoint = .*|endpoint = $endpoint|" -e "s|^;access_key =.*|access_key = $access_key|" \
    -e "s|^;secret_key =.*|secret_key = $secret_key|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
    /etc/kairos/kairos.conf
token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
echo "$(echo "$token" | kairosd --hash-token) admin" >>/etc/kairos/tokens

step "kairosd from the installed config, as the kairos user"
install -d -o kairos -g kairos /run/kairos
setpriv --reuid=kairos --regid=kairos --init-groups kairosd --port-file /run/kairos/port \
    2>/run/kairos/kairosd.log &
kpid=$!
for _ in $(seq 100); do [ -s /run/kairos/port ] && break; sleep 0.2; done
[ -s /run/kairos/port ] || fail "kairosd did not start"
export KAIROS_URL=http://127.0.0.1:$(cat /run/kairos/port) KAIROS_TOKEN=$token

step "kairosctl"
p=fresh$$
kairosctl project create "$p" --plan small
kairosctl project list | grep -q "$p" || fail "kairosctl project list lacks $p"
answer=$(curl -sS --fail-with-body -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"data","size":"100M"}' \
    "$KAIROS_URL/v1/projects/$p/shares") || fail "cannot create a share: $answer"
kairosctl shares "$p" | grep -q data || fail "kairosctl shares lacks data"

step "kairosfs -o project=$p"
mkdir -p /mnt/$p
kairosfs -o project=$p,conf=/etc/kairos/kairos.conf /mnt/$p
echo hello >/mnt/$p/shares/data/greeting
[ "$(cat /mnt/$p/shares/data/greeting)" = hello ] || fail "kairosfs lost a file"
fusermount3 -u /mnt/$p

step "mount -t fuse.kairosfs (an /etc/fstab line)"
echo "$p /mnt/$p fuse.kairosfs conf=/etc/kairos/kairos.conf,noauto,_netdev 0 0" >>/etc/fstab
mount /mnt/$p
[ "$(cat /mnt/$p/shares/data/greeting)" = hello ] || fail "mount -t fuse.kairosfs shows no file"
umount /mnt/$p

step "clean up"
# A share's delete is an operation (202): wait for it, or the project still holds the share.
kairosctl share delete "$p" data --wait >/dev/null || fail "cannot delete the share"
kairosctl project delete "$p" >/dev/null || fail "cannot delete the project"
kill -TERM $kpid
wait $kpid || fail "kairosd did not stop cleanly"
echo "fresh-inside: all steps passed"
