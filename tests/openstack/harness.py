"""What the OpenStack drivers' tests share: the cluster, kairosd, QEMU, ceph-fuse.

openstack_runner starts kairosd and sets KAIROS_URL and KAIROS_TOKEN_FILE;
ctest's cluster fixture sets KAIROS_CONF. Without them a test fails at
once: there is no cluster to test against, and that is no pass.

The checks in Ceph use the cluster's admin key (the test plays the
operator and the hypervisor); the drivers never see it.
"""

import configparser
import faulthandler
import json
import os
import subprocess
import sys
import tempfile
import time

import rados
import rbd

from kairos import client as kc

GiB = kc.GiB
MiB = 1024**2


def _env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit("FATAL: no local cluster or kairosd: %s is not set "
                 "(run through ctest -L integration)" % name)
    return value


URL = _env("KAIROS_URL")
TOKEN_FILE = _env("KAIROS_TOKEN_FILE")
CONF = _env("KAIROS_CONF")
# A suffix that keeps this run's projects apart from other tests' and runs'.
RUN = "%x" % os.getpid()

# A hung test prints its Python stacks before the C watchdog and ctest act.
if os.environ.get("KAIROS_TEST_WATCHDOG"):
    faulthandler.dump_traceback_later(int(os.environ["KAIROS_TEST_WATCHDOG"]) - 20, exit=True)

_kconf = configparser.ConfigParser(inline_comment_prefixes=(";", "#"))
_kconf.read(CONF)
CEPH_CONF = _kconf["ceph"]["conf"]
KEYRING = _kconf["ceph"].get("keyring")
CLUSTER_DIR = os.path.dirname(CEPH_CONF)


def kairos():
    """A REST client of the test's kairosd, as the drivers reach it."""
    return kc.Client(URL, TOKEN_FILE)


def admin_rados():
    conf = {"keyring": KEYRING} if KEYRING else {}
    r = rados.Rados(conffile=CEPH_CONF, rados_id="admin", conf=conf)
    r.connect(timeout=30)
    return r


def mon_command(r, cmd):
    rc, out, err = r.mon_command(json.dumps(cmd), b"")
    if rc != 0:
        raise RuntimeError("%s: %s" % (cmd["prefix"], err))
    return json.loads(out) if out else None


def write_conf(dirname, creds=None):
    """A ceph.conf in @dirname for a client: the cluster's monitors, and a keyring."""
    mon_host = None
    with open(CEPH_CONF) as f:
        for line in f:
            if line.strip().startswith("mon host"):
                mon_host = line.split("=", 1)[1].strip()
    path = os.path.join(dirname, "client.conf")
    with open(path, "w") as f:
        f.write("[global]\nmon_host = %s\n" % (creds or {}).get("mon_host", mon_host))
        if creds:
            keyring = os.path.join(dirname, "client.keyring")
            with open(keyring, "w") as k:
                k.write(creds["keyring"])
            f.write("keyring = %s\n" % keyring)
    return path


# Ceph timeouts for the test's QEMU: a refused key fails in seconds instead of waiting.
QEMU_TIMEOUTS = ":rados_mon_op_timeout=20:rados_osd_op_timeout=20:client_mount_timeout=20"


def qemu_spec(data, key):
    """QEMU's rbd: filename from rbd connection info, as a hypervisor builds it."""
    mons = "\\;".join("%s\\:%s" % (h, p) for h, p in zip(data["hosts"], data["ports"]))
    return "rbd:%s:id=%s:key=%s:mon_host=%s:auth_supported=cephx%s" % (
        data["name"], data["auth_username"], key, mons, QEMU_TIMEOUTS)


def qemu_io(spec, command, fmt="raw"):
    """Run qemu-io @command on @spec; Return: (exit code, output)."""
    p = subprocess.run(["qemu-io", "-f", fmt, "-c", command, spec], capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def qemu_io_ok(spec, command):
    rc, out = qemu_io(spec, command)
    # qemu-io reports a failed pattern check on stdout and may still exit 0.
    if rc != 0 or "Pattern verification failed" in out or "failed" in out.lower():
        raise AssertionError("qemu-io %r on %s: %s" % (command, spec.split(":")[1], out))
    return out


def image(r, pool, namespace, name):
    """An rbd.Image opened as admin (close it)."""
    io = r.open_ioctx(pool)
    io.set_namespace(namespace)
    return io, rbd.Image(io, name)


def wait_until(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.5)


def mount_dir(test):
    """A mount point under the cluster's directory ('minicluster stop' unmounts
    leftovers), removed after @test (rmdir: never the files of a mount)."""
    path = tempfile.mkdtemp(prefix="os-mnt-", dir=CLUSTER_DIR)
    test.addCleanup(os.rmdir, path)
    return path
