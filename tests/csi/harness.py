"""harness.py - what the kairos-csi tests stand on: a kairosd on the ctest
fixture's cluster (as tests/gateway/kd.c starts one), a kairos-csi plugin,
gRPC stubs made from csi/csi.proto at test time, and kairosd's REST API.

Everything a test starts is stopped by pid, and everything it mounts is
unmounted, in stop_all(); a test that leaves something behind fails.
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import grpc
from grpc_tools import protoc

# How long one gRPC call may take: a mkfs or a clone is seconds here.
CALL_TIMEOUT = 180


def die(msg):
    print("FATAL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def env(name):
    v = os.environ.get(name)
    if not v:
        die("%s is not set (run through ctest -L integration)" % name)
    return v


def read(path):
    with open(path) as f:
        return f.read()


def stubs(proto, outdir):
    """Compile @proto into Python modules in @outdir and import them."""
    include = os.path.dirname(proto)
    wellknown = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I" + include, "-I" + wellknown, "-I/usr/include",
            "--python_out=" + outdir, "--grpc_python_out=" + outdir, proto]
    if protoc.main(args) != 0:
        die("cannot compile %s with grpc_tools" % proto)
    sys.path.insert(0, outdir)
    import csi_pb2
    import csi_pb2_grpc
    return csi_pb2, csi_pb2_grpc


class Kairosd:
    """A kairosd of the test's own (a free port, an admin token), on $KAIROS_CONF's cluster."""

    def __init__(self, binary, workdir):
        base = env("KAIROS_CONF")
        if not os.path.exists(base):
            die("no local cluster: KAIROS_CONF is '%s' and unreadable" % base)
        self.dir = workdir
        self.admin = "kt-csi-" + secrets.token_hex(16)
        digest = subprocess.run([binary, "--hash-token"], input=self.admin.encode(),
                                capture_output=True, check=True).stdout.decode().split()[0]
        tokens = os.path.join(workdir, "tokens")
        with open(tokens, "w") as f:
            f.write("%s admin\n" % digest)
        conf = os.path.join(workdir, "kairos.conf")
        with open(base) as src, open(conf, "w") as out:
            skip = False
            for line in src:
                if line.startswith("["):
                    skip = line.startswith("[server]")
                if not skip:
                    out.write(line)
            out.write("\n[server]\nlisten = 127.0.0.1:0\ntokens = %s\nthreads = 4\n"
                      "timeout = 30s\n" % tokens)
        portfile = os.path.join(workdir, "port")
        self.log = os.path.join(workdir, "kairosd.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([binary, "-c", conf, "--port-file", portfile],
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         stdin=subprocess.DEVNULL)
        for _ in range(300):
            port = read(portfile).strip() if os.path.exists(portfile) else ""
            if port:
                self.url = "http://127.0.0.1:%s" % port
                return
            if self.proc.poll() is not None:
                die("kairosd exited:\n" + read(self.log))
            time.sleep(0.1)
        die("kairosd did not come up in 30 s")

    def call(self, method, path, body=None, token=None):
        """(status, JSON answer) of @method @path, as admin unless @token."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.admin))
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None

    def project(self, name, quota):
        """A new project with @quota; Return: its token."""
        st, a = self.call("POST", "/v1/projects", {"name": name, "quota": quota})
        assert st == 201, (st, a)
        st, a = self.call("POST", "/v1/projects/%s/tokens" % name, {})
        assert st == 201, (st, a)
        return a["token"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if rc != 0:
            print(read(self.log), file=sys.stderr)
        return rc


class Plugin:
    """A kairos-csi process serving @mode on a socket in @workdir."""

    def __init__(self, binary, workdir, url, mode="all", token_file=None, extra=()):
        self.binary, self.workdir, self.url = binary, workdir, url
        self.mode, self.token_file, self.extra = mode, token_file, list(extra)
        self.sock = os.path.join(workdir, "csi-%s.sock" % mode)
        self.log = os.path.join(workdir, "kairos-csi-%s.log" % mode)
        self.state = os.path.join(workdir, "state")
        self.proc = None
        self.start()

    def start(self):
        args = [self.binary, "--url", self.url, "--endpoint", "unix://" + self.sock,
                "--mode", self.mode, "--state-dir", self.state, "--nodeid", "test-node",
                "--kairosfs", env("KAIROSFS")] + self.extra
        if self.token_file:
            args += ["--token-file", self.token_file]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)
        self.channel = grpc.insecure_channel("unix://" + self.sock)
        try:
            grpc.channel_ready_future(self.channel).result(timeout=30)
        except grpc.FutureTimeoutError:
            die("kairos-csi did not listen in 30 s:\n" + read(self.log))

    def kill9(self):
        self.channel.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM; Return: its exit status."""
        self.channel.close()
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -1


def write_file(d, name, data):
    """Write @data to @d/@name and make it durable (fsync)."""
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_file(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


def show_log(path, lines=60):
    """The end of a plugin's log on stderr: ctest shows it when the test fails."""
    if path and os.path.exists(path):
        tail = read(path).splitlines()[-lines:]
        print("---- last lines of %s ----\n%s" % (path, "\n".join(tail)), file=sys.stderr)


def mounts_under(path):
    """Mount points at or under @path, deepest first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path.rstrip("/") + "/"):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def workdir():
    """A directory beside the fixture's cluster: 'minicluster stop' unmounts what is left."""
    base = os.path.dirname(env("KAIROS_CONF"))
    return tempfile.mkdtemp(prefix="csi-test.", dir=base)


def cleanup(d):
    """Undo whatever is left under @d: mounts, loop devices, kairosfs daemons.
    Return: how many mounts and daemons were left (each a failure of the test)."""
    left = mounts_under(d)
    for m in left:
        print("cleanup: %s was left mounted" % m, file=sys.stderr)
        subprocess.run(["umount", "-l", m], check=False)
    for dev in os.listdir("/sys/block"):
        back = "/sys/block/%s/loop/backing_file" % dev
        if dev.startswith("loop") and os.path.exists(back) and read(back).startswith(d + "/"):
            print("cleanup: /dev/%s was left attached" % dev, file=sys.stderr)
            subprocess.run(["losetup", "-d", "/dev/" + dev], check=False)
    # An unmounted kairosfs closes its Ceph sessions before it exits: give it time.
    deadline = time.monotonic() + 30
    while kairosfs_under(d) and time.monotonic() < deadline:
        time.sleep(0.2)
    stray = kairosfs_under(d)
    for pid in stray:
        print("cleanup: kairosfs %d was left running" % pid, file=sys.stderr)
        os.kill(pid, signal.SIGKILL)
    if not mounts_under(d):
        shutil.rmtree(d, ignore_errors=True)
    return len(left) + len(stray)


def kairosfs_under(d):
    """Pids of the kairosfs daemons mounted somewhere under @d."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = read("/proc/%s/cmdline" % pid).split("\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith("kairosfs") and any(a.startswith(d + "/") for a in cmd):
            pids.append(int(pid))
    return pids
