#!/usr/bin/python3
"""test_csi.py - kairos-csi as Kubernetes drives it, with grpcio as the CO,
against a real kairosd on the fixture's cluster. Node calls run for real
(as root): kairosfs mounts, loop devices, mkfs, bind mounts.

  identity      plugin info, capabilities, Probe, UNIMPLEMENTED for the rest
  share         a ReadWriteMany share PVC's whole life, clones from a snapshot
                and from the share included
  volume        an ext4 volume PVC's whole life, clones from a snapshot and
                from a volume included
  block         a raw block volume: device node, writes, expand
  xfs           an xfs volume: mkfs.xfs, xfs_growfs
  quota         RESOURCE_EXHAUSTED with the ledger's message; nothing made
  bad_input     missing fields, unknown ids, wrong tokens, bad messages
  listing       ListVolumes and ListSnapshots paging; GetCapacity
  restart       kill -9 of the node plugin between stage and publish

Each call that changes something is repeated and must answer the same.
"""
import errno
import os
import stat
import sys
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import read_file, write_file  # noqa: E402

MiB = 1 << 20
pb = rpc = None
KD = PLUGIN = WORK = None
TOKEN = OTHER_TOKEN = None
PROJECT = "csi-%d" % os.getpid()
OTHER = "csi-other-%d" % os.getpid()
# The project's quota: small, so that RESOURCE_EXHAUSTED is near.
QUOTA = {"volume": {"bytes": 1024 * MiB, "count": 20}, "share": {"bytes": 512 * MiB, "count": 20},
         "snapshot": {"count": 20}}


def setUpModule():
    global pb, rpc, KD, PLUGIN, WORK, TOKEN, OTHER_TOKEN
    WORK = harness.workdir()
    pb, rpc = harness.stubs(harness.env("CSI_PROTO"), WORK)
    KD = harness.Kairosd(harness.env("KAIROSD"), WORK)
    TOKEN = KD.project(PROJECT, QUOTA)
    OTHER_TOKEN = KD.project(OTHER, QUOTA)
    admin = os.path.join(WORK, "admin.token")
    with open(admin, "w") as f:
        f.write(KD.admin + "\n")
    PLUGIN = harness.Plugin(harness.env("KAIROS_CSI"), WORK, KD.url, token_file=admin)


def tearDownModule():
    rc = PLUGIN.stop() if PLUGIN else 0
    harness.show_log(PLUGIN.log if PLUGIN else None)
    left = harness.cleanup(WORK) if WORK else 0
    for p in (PROJECT, OTHER):
        KD.call("DELETE", "/v1/projects/%s?force=true" % p)
    kd_rc = KD.stop() if KD else 0
    assert rc == 0, "kairos-csi exited %d on SIGTERM" % rc
    assert kd_rc == 0, "kairosd exited %d on SIGTERM" % kd_rc
    assert left == 0, "%d mount(s) or daemon(s) were left behind" % left


# ---- helpers ----

def secrets(token=None, project=PROJECT):
    return {"token": token or TOKEN, "project": project}


def mode(m):
    return pb.VolumeCapability.AccessMode(mode=m)


def mount_cap(m=1, fs="", flags=()):
    return pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(fs_type=fs,
                                                                     mount_flags=list(flags)),
                               access_mode=mode(m))


def block_cap(m=1):
    return pb.VolumeCapability(block=pb.VolumeCapability.BlockVolume(), access_mode=mode(m))


RWO, ROX, RWX = 1, 3, 5


def ctl():
    return rpc.ControllerStub(PLUGIN.channel)


def node():
    return rpc.NodeStub(PLUGIN.channel)


def ident():
    return rpc.IdentityStub(PLUGIN.channel)


def call(method, req):
    return method(req, timeout=harness.CALL_TIMEOUT)


def create(name, cap, size=64 * MiB, kind=None, source=None, sec=None, limit=0):
    params = {"kind": kind} if kind else {}
    req = pb.CreateVolumeRequest(name=name, volume_capabilities=[cap], parameters=params,
                                 secrets=sec or secrets(),
                                 capacity_range=pb.CapacityRange(required_bytes=size,
                                                                 limit_bytes=limit))
    if source:
        req.volume_content_source.CopyFrom(source)
    return call(ctl().CreateVolume, req).volume


def delete(vid):
    call(ctl().DeleteVolume, pb.DeleteVolumeRequest(volume_id=vid, secrets=secrets()))


def stage_req(vid, staging, cap, sec=None):
    return pb.NodeStageVolumeRequest(volume_id=vid, staging_target_path=staging,
                                     volume_capability=cap, secrets=sec or secrets())


def publish_req(vid, staging, target, cap, ro=False):
    return pb.NodePublishVolumeRequest(volume_id=vid, staging_target_path=staging,
                                       target_path=target, volume_capability=cap, readonly=ro)


def twice(method, req):
    """Call, then call again: the repeat must answer OK with the same answer."""
    first = call(method, req)
    again = call(method, req)
    return first, again


def path(*parts):
    return os.path.join(WORK, *parts)


def mounted(point):
    return point in harness.mounts_under(point)


class CsiCase(unittest.TestCase):
    def code(self, want, method, req, needle=None):
        """@method(@req) must fail with @want (and say @needle)."""
        with self.assertRaises(grpc.RpcError) as cm:
            call(method, req)
        self.assertEqual(cm.exception.code(), want, cm.exception.details())
        if needle:
            self.assertIn(needle, cm.exception.details())
        return cm.exception.details()

    def kd_exists(self, kind, name, project=PROJECT):
        st, _ = KD.call("GET", "/v1/projects/%s/%s/%s" % (project, kind, name))
        self.assertIn(st, (200, 404))
        return st == 200

    def stage_publish(self, vid, cap, name, ro=False):
        staging, target = path(name, "staging"), path(name, "target")
        os.makedirs(staging, exist_ok=True)
        twice(node().NodeStageVolume, stage_req(vid, staging, cap))
        twice(node().NodePublishVolume, publish_req(vid, staging, target, cap, ro))
        return staging, target

    def unpublish_unstage(self, vid, staging, target):
        twice(node().NodeUnpublishVolume,
              pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target))
        self.assertFalse(os.path.exists(target), "unpublish left %s" % target)
        twice(node().NodeUnstageVolume,
              pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging))
        self.assertEqual(harness.mounts_under(staging), [])


# ---- identity ----

class Identity(CsiCase):
    def test_identity(self):
        info = call(ident().GetPluginInfo, pb.GetPluginInfoRequest())
        self.assertEqual(info.name, "csi.kairos.local")
        self.assertTrue(info.vendor_version)
        caps = call(ident().GetPluginCapabilities, pb.GetPluginCapabilitiesRequest())
        kinds = {(c.WhichOneof("type"),
                  c.service.type if c.HasField("service") else c.volume_expansion.type)
                 for c in caps.capabilities}
        self.assertIn(("service", pb.PluginCapability.Service.CONTROLLER_SERVICE), kinds)
        self.assertIn(("volume_expansion", pb.PluginCapability.VolumeExpansion.ONLINE), kinds)
        probe = call(ident().Probe, pb.ProbeRequest())
        self.assertTrue(probe.HasField("ready") and probe.ready.value)
        ccaps = {c.rpc.type for c in call(ctl().ControllerGetCapabilities,
                                          pb.ControllerGetCapabilitiesRequest()).capabilities}
        T = pb.ControllerServiceCapability.RPC
        for t in (T.CREATE_DELETE_VOLUME, T.CREATE_DELETE_SNAPSHOT, T.LIST_SNAPSHOTS,
                  T.CLONE_VOLUME, T.EXPAND_VOLUME, T.LIST_VOLUMES, T.GET_CAPACITY):
            self.assertIn(t, ccaps)
        self.assertNotIn(T.PUBLISH_UNPUBLISH_VOLUME, ccaps)
        ncaps = {c.rpc.type for c in call(node().NodeGetCapabilities,
                                          pb.NodeGetCapabilitiesRequest()).capabilities}
        N = pb.NodeServiceCapability.RPC
        self.assertEqual(ncaps, {N.STAGE_UNSTAGE_VOLUME, N.GET_VOLUME_STATS, N.EXPAND_VOLUME})
        self.assertEqual(call(node().NodeGetInfo, pb.NodeGetInfoRequest()).node_id, "test-node")
        # Methods kairos-csi does not serve: UNIMPLEMENTED, whatever the message.
        for m in ("/csi.v1.Controller/ControllerPublishVolume",
                  "/csi.v1.Controller/ControllerGetVolume",
                  "/csi.v1.GroupController/GroupControllerGetCapabilities", "/x.y/Z"):
            with self.assertRaises(grpc.RpcError) as cm:
                PLUGIN.channel.unary_unary(m)(b"", timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED, m)


# ---- a share PVC ----

class Share(CsiCase):
    def test_share_life(self):
        cap = mount_cap(RWX)
        vol = create("pvc-share-life", cap, 64 * MiB, kind="share")
        self.assertTrue(vol.volume_id.startswith("1s"), vol.volume_id)
        self.assertEqual(vol.capacity_bytes, 64 * MiB)
        self.assertEqual(create("pvc-share-life", cap, 64 * MiB, kind="share"), vol)
        # A compatible range finds it; another size is ALREADY_EXISTS.
        self.assertEqual(create("pvc-share-life", cap, 32 * MiB, kind="share",
                                limit=128 * MiB).volume_id, vol.volume_id)
        self.code(grpc.StatusCode.ALREADY_EXISTS, ctl().CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-share-life", volume_capabilities=[cap],
                                         parameters={"kind": "share"}, secrets=secrets(),
                                         capacity_range=pb.CapacityRange(required_bytes=96 * MiB,
                                                                         limit_bytes=96 * MiB)))
        # The same name as a volume: another allocation, refused.
        self.code(grpc.StatusCode.ALREADY_EXISTS, ctl().CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-share-life", volume_capabilities=[mount_cap()],
                                         secrets=secrets()))
        self.assertTrue(self.kd_exists("shares", "pvc-share-life"))

        ok = call(ctl().ValidateVolumeCapabilities,
                  pb.ValidateVolumeCapabilitiesRequest(volume_id=vol.volume_id,
                                                       volume_capabilities=[cap],
                                                       secrets=secrets()))
        self.assertTrue(ok.HasField("confirmed"))
        no = call(ctl().ValidateVolumeCapabilities,
                  pb.ValidateVolumeCapabilitiesRequest(volume_id=vol.volume_id,
                                                       volume_capabilities=[block_cap(RWX)],
                                                       secrets=secrets()))
        self.assertFalse(no.HasField("confirmed"))
        self.assertIn("block", no.message)

        staging, target = self.stage_publish(vol.volume_id, cap, "share")
        # A second pod, read-only, from the same staging.
        ro_target = path("share", "target-ro")
        twice(node().NodePublishVolume, publish_req(vol.volume_id, staging, ro_target, cap, True))
        self.code(grpc.StatusCode.ALREADY_EXISTS, node().NodePublishVolume,
                  publish_req(vol.volume_id, staging, target, cap, True))
        data = os.urandom(MiB)
        write_file(target, "data", data)
        self.assertEqual(read_file(ro_target, "data"), data)
        with self.assertRaises(OSError) as cm:
            open(os.path.join(ro_target, "other"), "wb")
        self.assertEqual(cm.exception.errno, errno.EROFS)
        # The node bound the share as itself, through kairosd.
        st, b = KD.call("GET", "/v1/projects/%s/shares/pvc-share-life/bindings" % PROJECT)
        self.assertEqual(st, 200)
        self.assertTrue(any(i["id"].startswith("kfs-") for i in b["items"]), b)

        stats = call(node().NodeGetVolumeStats,
                     pb.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=target))
        units = {u.unit: u for u in stats.usage}
        self.assertEqual(units[pb.VolumeUsage.BYTES].total, 64 * MiB)
        self.assertGreaterEqual(units[pb.VolumeUsage.BYTES].used, MiB)
        self.assertIn(pb.VolumeUsage.INODES, units)

        # Expand: the share's quota grows; the node has nothing to do.
        grown, again = twice(ctl().ControllerExpandVolume,
                             pb.ControllerExpandVolumeRequest(
                                 volume_id=vol.volume_id, secrets=secrets(),
                                 capacity_range=pb.CapacityRange(required_bytes=128 * MiB)))
        self.assertEqual(grown.capacity_bytes, 128 * MiB)
        self.assertFalse(grown.node_expansion_required)
        self.assertEqual(again, grown)
        deadline = time.time() + 30
        while os.statvfs(target).f_blocks * os.statvfs(target).f_frsize != 128 * MiB:
            self.assertLess(time.time(), deadline, "the mount never showed the new quota")
            time.sleep(0.5)
        call(node().NodeExpandVolume, pb.NodeExpandVolumeRequest(volume_id=vol.volume_id,
                                                                 volume_path=target))

        # Snapshot, listed; the volume cannot go while it has one.
        snap, again = twice(ctl().CreateSnapshot,
                            pb.CreateSnapshotRequest(source_volume_id=vol.volume_id,
                                                     name="snapshot-share-1", secrets=secrets()))
        self.assertEqual(snap, again)
        self.assertTrue(snap.snapshot.ready_to_use)
        self.assertEqual(snap.snapshot.source_volume_id, vol.volume_id)
        self.assertGreater(snap.snapshot.creation_time.seconds, 1700000000)
        listed = call(ctl().ListSnapshots,
                      pb.ListSnapshotsRequest(source_volume_id=vol.volume_id, secrets=secrets()))
        self.assertEqual([e.snapshot.snapshot_id for e in listed.entries],
                         [snap.snapshot.snapshot_id])
        # The snapshot holds the file as it was.
        with open(os.path.join(target, ".snap", "snapshot-share-1", "data"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.code(grpc.StatusCode.FAILED_PRECONDITION, ctl().DeleteVolume,
                  pb.DeleteVolumeRequest(volume_id=vol.volume_id, secrets=secrets()),
                  "snapshot")
        # A share from the snapshot: a copy of the files as they were, of the
        # snapshot's size at least; and a share from the share, as it is now.
        write_file(target, "later", b"after the snapshot")
        src = pb.VolumeContentSource(snapshot=pb.VolumeContentSource.SnapshotSource(
            snapshot_id=snap.snapshot.snapshot_id))
        clone, again = twice(ctl().CreateVolume, pb.CreateVolumeRequest(
            name="pvc-share-clone", volume_capabilities=[cap], parameters={"kind": "share"},
            secrets=secrets(), volume_content_source=src,
            capacity_range=pb.CapacityRange(required_bytes=32 * MiB)))
        self.assertEqual(clone, again)
        self.assertEqual(clone.volume.capacity_bytes, 128 * MiB)
        self.assertEqual(clone.volume.content_source.snapshot.snapshot_id,
                         snap.snapshot.snapshot_id)
        cstaging, ctarget = self.stage_publish(clone.volume.volume_id, cap, "share-clone")
        self.assertEqual(read_file(ctarget, "data"), data)
        self.assertFalse(os.path.exists(os.path.join(ctarget, "later")))
        twin = create("pvc-share-twin", cap, 128 * MiB, kind="share",
                      source=pb.VolumeContentSource(volume=pb.VolumeContentSource.VolumeSource(
                          volume_id=vol.volume_id)))
        tstaging, ttarget = self.stage_publish(twin.volume_id, cap, "share-twin")
        self.assertEqual(read_file(ttarget, "later"), b"after the snapshot")
        self.assertEqual(read_file(ttarget, "data"), data)
        # The twin's snapshot of its source is gone again: only the user's is listed.
        listed = call(ctl().ListSnapshots,
                      pb.ListSnapshotsRequest(source_volume_id=vol.volume_id, secrets=secrets()))
        self.assertEqual(len(listed.entries), 1)
        for v, st, tg in ((clone.volume, cstaging, ctarget), (twin, tstaging, ttarget)):
            self.unpublish_unstage(v.volume_id, st, tg)
            delete(v.volume_id)
        twice(ctl().DeleteSnapshot, pb.DeleteSnapshotRequest(snapshot_id=snap.snapshot.snapshot_id,
                                                            secrets=secrets()))

        # Unstage while published is refused; then undo it all.
        self.code(grpc.StatusCode.FAILED_PRECONDITION, node().NodeUnstageVolume,
                  pb.NodeUnstageVolumeRequest(volume_id=vol.volume_id,
                                              staging_target_path=staging))
        twice(node().NodeUnpublishVolume,
              pb.NodeUnpublishVolumeRequest(volume_id=vol.volume_id, target_path=ro_target))
        self.unpublish_unstage(vol.volume_id, staging, target)
        twice(ctl().DeleteVolume, pb.DeleteVolumeRequest(volume_id=vol.volume_id,
                                                         secrets=secrets()))
        self.assertFalse(self.kd_exists("shares", "pvc-share-life"))


# ---- volume PVCs ----

def fs_bytes(point):
    s = os.statvfs(point)
    return s.f_blocks * s.f_frsize


def can_resize_ext4_online():
    """The kernel grows a mounted ext4 for CAP_SYS_RESOURCE only (bit 24)."""
    with open("/proc/self/status") as f:
        eff = [l for l in f if l.startswith("CapEff:")][0].split()[1]
    return bool(int(eff, 16) & (1 << 24))


class Volume(CsiCase):
    def test_volume_life(self):
        cap = mount_cap(RWO, "ext4")
        vol = create("pvc-vol-life", cap, 64 * MiB)
        self.assertTrue(vol.volume_id.startswith("1v"), vol.volume_id)
        self.assertEqual(create("pvc-vol-life", cap, 64 * MiB), vol)
        self.assertTrue(self.kd_exists("volumes", "pvc-vol-life"))
        # RWX on a volume's file system is for shares.
        self.code(grpc.StatusCode.INVALID_ARGUMENT, ctl().ValidateVolumeCapabilities,
                  pb.ValidateVolumeCapabilitiesRequest(volume_id=vol.volume_id, secrets=secrets()))
        no = call(ctl().ValidateVolumeCapabilities,
                  pb.ValidateVolumeCapabilitiesRequest(volume_id=vol.volume_id,
                                                       volume_capabilities=[mount_cap(RWX)],
                                                       secrets=secrets()))
        self.assertFalse(no.HasField("confirmed"))

        staging, target = self.stage_publish(vol.volume_id, cap, "vol")
        self.assertTrue(mounted(staging) and mounted(target))
        data = os.urandom(2 * MiB)
        write_file(target, "data", data)
        self.assertEqual(read_file(target, "data"), data)
        stats = call(node().NodeGetVolumeStats,
                     pb.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=target))
        units = {u.unit: u for u in stats.usage}
        self.assertGreater(units[pb.VolumeUsage.BYTES].total, 50 * MiB)
        self.assertLessEqual(units[pb.VolumeUsage.BYTES].total, 64 * MiB)
        self.assertGreater(units[pb.VolumeUsage.INODES].total, 0)

        # Expand online: the image, then the loop device and ext4 on the node.
        grown = call(ctl().ControllerExpandVolume,
                     pb.ControllerExpandVolumeRequest(
                         volume_id=vol.volume_id, secrets=secrets(),
                         capacity_range=pb.CapacityRange(required_bytes=128 * MiB)))
        self.assertEqual(grown.capacity_bytes, 128 * MiB)
        self.assertTrue(grown.node_expansion_required)
        req = pb.NodeExpandVolumeRequest(volume_id=vol.volume_id, volume_path=target,
                                         staging_target_path=staging, volume_capability=cap,
                                         capacity_range=pb.CapacityRange(required_bytes=128 * MiB))
        if can_resize_ext4_online():
            done, again = twice(node().NodeExpandVolume, req)
            self.assertEqual(done.capacity_bytes, 128 * MiB)
        else:
            # Without CAP_SYS_RESOURCE the kernel refuses ext4's online resize:
            # kairos-csi says so, and the file system grows at the next stage.
            self.code(grpc.StatusCode.FAILED_PRECONDITION, node().NodeExpandVolume, req,
                      "CAP_SYS_RESOURCE")
            self.unpublish_unstage(vol.volume_id, staging, target)
            staging, target = self.stage_publish(vol.volume_id, cap, "vol")
            twice(node().NodeExpandVolume, req)
        self.assertGreater(fs_bytes(target), 100 * MiB)
        self.assertEqual(read_file(target, "data"), data)

        # Snapshot, then a clone of it with the data as it was.
        snap = call(ctl().CreateSnapshot,
                    pb.CreateSnapshotRequest(source_volume_id=vol.volume_id, name="snapshot-vol-1",
                                             secrets=secrets())).snapshot
        self.assertEqual(snap.size_bytes, 128 * MiB)
        write_file(target, "later", b"after the snapshot")
        src = pb.VolumeContentSource(snapshot=pb.VolumeContentSource.SnapshotSource(
            snapshot_id=snap.snapshot_id))
        # Smaller than the snapshot: out of range.
        self.code(grpc.StatusCode.OUT_OF_RANGE, ctl().CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-vol-small", volume_capabilities=[cap],
                                         secrets=secrets(), volume_content_source=src,
                                         capacity_range=pb.CapacityRange(
                                             required_bytes=64 * MiB, limit_bytes=64 * MiB)))
        clone = create("pvc-vol-clone", cap, 160 * MiB, source=src)
        self.assertEqual(clone.capacity_bytes, 160 * MiB)
        self.assertEqual(clone.content_source.snapshot.snapshot_id, snap.snapshot_id)
        self.assertEqual(create("pvc-vol-clone", cap, 160 * MiB, source=src), clone)
        cstaging, ctarget = self.stage_publish(clone.volume_id, cap, "clone")
        self.assertEqual(read_file(ctarget, "data"), data)
        self.assertFalse(os.path.exists(os.path.join(ctarget, "later")))
        # The clone stands alone (flattened): its snapshot can go at once.
        twice(ctl().DeleteSnapshot, pb.DeleteSnapshotRequest(snapshot_id=snap.snapshot_id,
                                                            secrets=secrets()))
        self.unpublish_unstage(clone.volume_id, cstaging, ctarget)

        # A clone of the volume itself, through a snapshot kairos-csi removes.
        vsrc = pb.VolumeContentSource(volume=pb.VolumeContentSource.VolumeSource(
            volume_id=vol.volume_id))
        twin = create("pvc-vol-twin", cap, 128 * MiB, source=vsrc)
        self.assertEqual(twin.content_source.volume.volume_id, vol.volume_id)
        listed = call(ctl().ListSnapshots,
                      pb.ListSnapshotsRequest(source_volume_id=vol.volume_id, secrets=secrets()))
        self.assertEqual(list(listed.entries), [])
        st, snaps = KD.call("GET", "/v1/projects/%s/volumes/pvc-vol-life/snapshots" % PROJECT)
        self.assertEqual(snaps["items"], [], "the clone's snapshot was left behind")
        tstaging, ttarget = self.stage_publish(twin.volume_id, cap, "twin")
        self.assertEqual(read_file(ttarget, "later"), b"after the snapshot")
        self.unpublish_unstage(twin.volume_id, tstaging, ttarget)

        self.unpublish_unstage(vol.volume_id, staging, target)
        for v in (vol, clone, twin):
            twice(ctl().DeleteVolume, pb.DeleteVolumeRequest(volume_id=v.volume_id,
                                                             secrets=secrets()))
        for n in ("pvc-vol-life", "pvc-vol-clone", "pvc-vol-twin"):
            self.assertFalse(self.kd_exists("volumes", n))
        self.assertEqual(os.listdir(os.path.join(PLUGIN.state, "volumes")), [])

    def test_block(self):
        cap = block_cap(RWO)
        vol = create("pvc-block", cap, 32 * MiB)
        staging, target = path("block", "staging"), path("block", "dev")
        os.makedirs(staging, exist_ok=True)
        twice(node().NodeStageVolume, stage_req(vol.volume_id, staging, cap))
        twice(node().NodePublishVolume, publish_req(vol.volume_id, staging, target, cap))
        self.assertTrue(stat.S_ISBLK(os.stat(target).st_mode), "no device node at %s" % target)
        data = os.urandom(MiB)
        fd = os.open(target, os.O_RDWR)
        try:
            os.pwrite(fd, data, 4 * MiB)
            os.fsync(fd)
            self.assertEqual(os.pread(fd, MiB, 4 * MiB), data)
            self.assertEqual(os.lseek(fd, 0, os.SEEK_END), 32 * MiB)
        finally:
            os.close(fd)
        stats = call(node().NodeGetVolumeStats,
                     pb.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=target))
        self.assertEqual(stats.usage[0].total, 32 * MiB)
        call(ctl().ControllerExpandVolume,
             pb.ControllerExpandVolumeRequest(volume_id=vol.volume_id, secrets=secrets(),
                                              capacity_range=pb.CapacityRange(
                                                  required_bytes=48 * MiB)))
        done = call(node().NodeExpandVolume,
                    pb.NodeExpandVolumeRequest(volume_id=vol.volume_id, volume_path=target,
                                               volume_capability=cap,
                                               capacity_range=pb.CapacityRange(
                                                   required_bytes=48 * MiB)))
        self.assertEqual(done.capacity_bytes, 48 * MiB)
        fd = os.open(target, os.O_RDONLY)
        try:
            self.assertEqual(os.lseek(fd, 0, os.SEEK_END), 48 * MiB)
            self.assertEqual(os.pread(fd, MiB, 4 * MiB), data)
        finally:
            os.close(fd)
        self.unpublish_unstage(vol.volume_id, staging, target)
        delete(vol.volume_id)

    def test_xfs(self):
        # mkfs.xfs wants 300 MiB at least; the image is thin.
        cap = mount_cap(RWO, "xfs", ["noatime"])
        vol = create("pvc-xfs", cap, 320 * MiB)
        staging, target = self.stage_publish(vol.volume_id, cap, "xfs")
        with open("/proc/self/mountinfo") as f:
            line = [l for l in f if l.split()[4] == staging][0]
        self.assertIn(" xfs ", line)
        self.assertIn("noatime", line.split()[5])
        write_file(target, "x", b"xfs")
        before = fs_bytes(target)
        call(ctl().ControllerExpandVolume,
             pb.ControllerExpandVolumeRequest(volume_id=vol.volume_id, secrets=secrets(),
                                              capacity_range=pb.CapacityRange(
                                                  required_bytes=384 * MiB)))
        call(node().NodeExpandVolume,
             pb.NodeExpandVolumeRequest(volume_id=vol.volume_id, volume_path=target,
                                        capacity_range=pb.CapacityRange(required_bytes=384 * MiB)))
        # xfs grows mounted (CAP_SYS_ADMIN): by the 64 MiB added.
        self.assertEqual(fs_bytes(target), before + 64 * MiB)
        self.assertEqual(read_file(target, "x"), b"xfs")
        self.unpublish_unstage(vol.volume_id, staging, target)
        delete(vol.volume_id)


# ---- quota ----

class Quota(CsiCase):
    def test_resource_exhausted(self):
        msg = self.code(grpc.StatusCode.RESOURCE_EXHAUSTED, ctl().CreateVolume,
                        pb.CreateVolumeRequest(name="pvc-too-big",
                                               volume_capabilities=[mount_cap()],
                                               secrets=secrets(),
                                               capacity_range=pb.CapacityRange(
                                                   required_bytes=2048 * MiB)))
        # The ledger's own words, for kubectl describe pvc.
        self.assertIn("quota", msg)
        self.assertIn(PROJECT, msg)
        self.assertFalse(self.kd_exists("volumes", "pvc-too-big"))
        self.code(grpc.StatusCode.RESOURCE_EXHAUSTED, ctl().CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-share-too-big",
                                         volume_capabilities=[mount_cap(RWX)], secrets=secrets(),
                                         capacity_range=pb.CapacityRange(
                                             required_bytes=1024 * MiB)), "quota")
        self.assertFalse(self.kd_exists("shares", "pvc-share-too-big"))
        # Growing past the quota is refused the same way and changes nothing.
        vol = create("pvc-grow-too-far", mount_cap(), 32 * MiB)
        self.code(grpc.StatusCode.RESOURCE_EXHAUSTED, ctl().ControllerExpandVolume,
                  pb.ControllerExpandVolumeRequest(volume_id=vol.volume_id, secrets=secrets(),
                                                   capacity_range=pb.CapacityRange(
                                                       required_bytes=4096 * MiB)), "quota")
        st, a = KD.call("GET", "/v1/projects/%s/volumes/pvc-grow-too-far" % PROJECT)
        self.assertEqual(a["size"], 32 * MiB)
        delete(vol.volume_id)


# ---- bad input ----

class BadInput(CsiCase):
    def test_controller(self):
        C, S = ctl(), grpc.StatusCode
        cap = mount_cap()
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(volume_capabilities=[cap], secrets=secrets()), "name")
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", secrets=secrets()), "capabilities")
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[
                      pb.VolumeCapability(access_mode=mode(RWO))], secrets=secrets()))
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[block_cap()],
                                         parameters={"kind": "share"}, secrets=secrets()),
                  "block")
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         parameters={"knd": "share"}, secrets=secrets()), "knd")
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[mount_cap(1, "ntfs")],
                                         secrets=secrets()))
        # A share's owner and mode: octal bits and ids in range, for shares only.
        for params, word in (({"kind": "share", "mode": "9"}, "mode"),
                             ({"kind": "share", "mode": "+777"}, "mode"),
                             ({"kind": "share", "uid": "-1"}, "uid"),
                             ({"kind": "share", "gid": "4294967295"}, "gid"),
                             ({"mode": "0755"}, "shares")):
            self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                      pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                             parameters=params, secrets=secrets()), word)
        self.code(S.OUT_OF_RANGE, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets(),
                                         capacity_range=pb.CapacityRange(required_bytes=2 * MiB,
                                                                         limit_bytes=MiB)))
        self.code(S.INVALID_ARGUMENT, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets={"token": TOKEN}), "project")
        # Tokens: none, a made-up one, one with a space, and another project's.
        self.code(S.UNAUTHENTICATED, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets={"project": PROJECT}))
        self.code(S.UNAUTHENTICATED, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets("kt-not-a-token")))
        self.code(S.UNAUTHENTICATED, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets("a b")))
        self.code(S.PERMISSION_DENIED, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets(OTHER_TOKEN)))
        self.assertFalse(self.kd_exists("volumes", "pvc-x"))
        self.code(S.NOT_FOUND, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets(),
                                         volume_content_source=pb.VolumeContentSource(
                                             snapshot=pb.VolumeContentSource.SnapshotSource(
                                                 snapshot_id="1v%s.nope.nope" % PROJECT))))
        self.code(S.NOT_FOUND, C.CreateVolume,
                  pb.CreateVolumeRequest(name="pvc-x", volume_capabilities=[cap],
                                         secrets=secrets(),
                                         volume_content_source=pb.VolumeContentSource(
                                             volume=pb.VolumeContentSource.VolumeSource(
                                                 volume_id="garbage"))))
        self.assertFalse(self.kd_exists("volumes", "pvc-x"))

        # Deleting what does not exist is done already; no id is a mistake.
        twice(C.DeleteVolume, pb.DeleteVolumeRequest(volume_id="garbage", secrets=secrets()))
        twice(C.DeleteVolume, pb.DeleteVolumeRequest(volume_id="1v%s.nope" % PROJECT,
                                                     secrets=secrets()))
        self.code(S.INVALID_ARGUMENT, C.DeleteVolume, pb.DeleteVolumeRequest(secrets=secrets()))
        for vid in ("garbage", "1v%s.nope" % PROJECT, "2v%s.x" % PROJECT, "1x%s.y" % PROJECT,
                    "1v%s.Bad" % PROJECT, "1v%s..x" % PROJECT):
            self.code(S.NOT_FOUND, C.ValidateVolumeCapabilities,
                      pb.ValidateVolumeCapabilitiesRequest(volume_id=vid,
                                                           volume_capabilities=[cap],
                                                           secrets=secrets()))
            self.code(S.NOT_FOUND, C.ControllerExpandVolume,
                      pb.ControllerExpandVolumeRequest(volume_id=vid, secrets=secrets(),
                                                       capacity_range=pb.CapacityRange(
                                                           required_bytes=MiB)))
        vol = create("pvc-bad-input", cap, 16 * MiB)
        self.code(S.INVALID_ARGUMENT, C.ControllerExpandVolume,
                  pb.ControllerExpandVolumeRequest(volume_id=vol.volume_id, secrets=secrets()))
        self.code(S.PERMISSION_DENIED, C.ControllerExpandVolume,
                  pb.ControllerExpandVolumeRequest(volume_id=vol.volume_id,
                                                   secrets=secrets(OTHER_TOKEN),
                                                   capacity_range=pb.CapacityRange(
                                                       required_bytes=32 * MiB)))
        self.code(S.PERMISSION_DENIED, C.DeleteVolume,
                  pb.DeleteVolumeRequest(volume_id=vol.volume_id, secrets=secrets(OTHER_TOKEN)))
        self.assertTrue(self.kd_exists("volumes", "pvc-bad-input"))
        self.code(S.INVALID_ARGUMENT, C.CreateSnapshot,
                  pb.CreateSnapshotRequest(source_volume_id=vol.volume_id, secrets=secrets()))
        self.code(S.INVALID_ARGUMENT, C.CreateSnapshot,
                  pb.CreateSnapshotRequest(name="s", secrets=secrets()))
        self.code(S.NOT_FOUND, C.CreateSnapshot,
                  pb.CreateSnapshotRequest(name="s", source_volume_id="1v%s.nope" % PROJECT,
                                           secrets=secrets()))
        twice(C.DeleteSnapshot, pb.DeleteSnapshotRequest(snapshot_id="garbage",
                                                         secrets=secrets()))
        self.code(S.ABORTED, C.ListVolumes, pb.ListVolumesRequest(starting_token="garbage"))
        self.code(S.ABORTED, C.ListSnapshots, pb.ListSnapshotsRequest(starting_token="garbage"))
        self.assertEqual(list(call(C.ListSnapshots, pb.ListSnapshotsRequest(
            snapshot_id="garbage", secrets=secrets())).entries), [])
        # Bytes that are no CreateVolumeRequest.
        with self.assertRaises(grpc.RpcError) as cm:
            PLUGIN.channel.unary_unary("/csi.v1.Controller/CreateVolume")(b"\xff\xff\xff",
                                                                         timeout=30)
        self.assertEqual(cm.exception.code(), S.INVALID_ARGUMENT)
        delete(vol.volume_id)

    def test_node(self):
        N, S = node(), grpc.StatusCode
        cap = mount_cap()
        staging, target = path("bad", "staging"), path("bad", "target")
        os.makedirs(staging, exist_ok=True)
        vol = create("pvc-bad-node", cap, 16 * MiB)
        self.code(S.INVALID_ARGUMENT, N.NodeStageVolume,
                  stage_req(vol.volume_id, "", cap))
        self.code(S.INVALID_ARGUMENT, N.NodeStageVolume,
                  stage_req(vol.volume_id, "relative/path", cap))
        self.code(S.INVALID_ARGUMENT, N.NodeStageVolume,
                  pb.NodeStageVolumeRequest(volume_id=vol.volume_id, staging_target_path=staging,
                                            secrets=secrets()))
        self.code(S.INVALID_ARGUMENT, N.NodeStageVolume, stage_req("", staging, cap))
        self.code(S.NOT_FOUND, N.NodeStageVolume, stage_req("garbage", staging, cap))
        self.code(S.NOT_FOUND, N.NodeStageVolume, stage_req("1v%s.nope" % PROJECT, staging, cap))
        self.code(S.UNAUTHENTICATED, N.NodeStageVolume,
                  stage_req(vol.volume_id, staging, cap, secrets("kt-wrong")))
        self.code(S.PERMISSION_DENIED, N.NodeStageVolume,
                  stage_req(vol.volume_id, staging, cap, secrets(OTHER_TOKEN)))
        self.assertEqual(harness.mounts_under(path("bad")), [])
        self.code(S.FAILED_PRECONDITION, N.NodePublishVolume,
                  publish_req(vol.volume_id, staging, target, cap))
        self.code(S.FAILED_PRECONDITION, N.NodePublishVolume,
                  publish_req(vol.volume_id, "", target, cap))
        self.code(S.INVALID_ARGUMENT, N.NodePublishVolume,
                  publish_req(vol.volume_id, staging, "", cap))
        self.code(S.NOT_FOUND, N.NodePublishVolume, publish_req("garbage", staging, target, cap))
        self.code(S.NOT_FOUND, N.NodeUnpublishVolume,
                  pb.NodeUnpublishVolumeRequest(volume_id="garbage", target_path=target))
        self.code(S.INVALID_ARGUMENT, N.NodeUnpublishVolume,
                  pb.NodeUnpublishVolumeRequest(volume_id=vol.volume_id))
        # Unpublishing and unstaging what never was: nothing to undo.
        twice(N.NodeUnpublishVolume,
              pb.NodeUnpublishVolumeRequest(volume_id=vol.volume_id, target_path=target))
        twice(N.NodeUnstageVolume,
              pb.NodeUnstageVolumeRequest(volume_id=vol.volume_id, staging_target_path=staging))
        self.code(S.NOT_FOUND, N.NodeGetVolumeStats,
                  pb.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=target))
        self.code(S.NOT_FOUND, N.NodeGetVolumeStats,
                  pb.NodeGetVolumeStatsRequest(volume_id="garbage", volume_path=staging))
        self.code(S.NOT_FOUND, N.NodeGetVolumeStats,
                  pb.NodeGetVolumeStatsRequest(volume_id=vol.volume_id, volume_path=staging))
        self.code(S.NOT_FOUND, N.NodeExpandVolume,
                  pb.NodeExpandVolumeRequest(volume_id=vol.volume_id, volume_path=target))
        # A mount flag a bind mount cannot take.
        self.code(S.INVALID_ARGUMENT, N.NodeStageVolume,
                  stage_req(vol.volume_id, staging, mount_cap(RWO, "ext4", ["bogus=1"])))
        self.assertEqual(harness.mounts_under(path("bad")), [])
        delete(vol.volume_id)


# ---- listing and capacity ----

class Listing(CsiCase):
    def test_list_volumes_and_snapshots(self):
        made = [create("pvc-list-%d" % i, mount_cap(), 8 * MiB) for i in range(3)]
        made.append(create("pvc-list-s", mount_cap(RWX), 8 * MiB, kind="share"))
        seen, token, pages = [], "", 0
        while True:
            page = call(ctl().ListVolumes, pb.ListVolumesRequest(max_entries=2,
                                                                 starting_token=token))
            self.assertLessEqual(len(page.entries), 2)
            seen += [e.volume.volume_id for e in page.entries]
            pages += 1
            token = page.next_token
            if not token:
                break
        ids = [v.volume_id for v in made]
        for vid in ids:
            self.assertEqual(seen.count(vid), 1, "%s listed %d times" % (vid, seen.count(vid)))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertGreaterEqual(pages, 2)
        sizes = {e.volume.volume_id: e.volume.capacity_bytes
                 for e in call(ctl().ListVolumes, pb.ListVolumesRequest()).entries}
        self.assertEqual(sizes[ids[0]], 8 * MiB)

        snaps = [call(ctl().CreateSnapshot,
                      pb.CreateSnapshotRequest(source_volume_id=v.volume_id, name="snap-list-%d" % i,
                                               secrets=secrets())).snapshot
                 for i, v in enumerate(made)]
        got, token = [], ""
        while True:
            page = call(ctl().ListSnapshots, pb.ListSnapshotsRequest(max_entries=3,
                                                                     starting_token=token,
                                                                     secrets=secrets()))
            got += [e.snapshot.snapshot_id for e in page.entries]
            token = page.next_token
            if not token:
                break
        self.assertEqual(sorted(got), sorted(s.snapshot_id for s in snaps))
        one = call(ctl().ListSnapshots, pb.ListSnapshotsRequest(snapshot_id=snaps[2].snapshot_id,
                                                                secrets=secrets()))
        self.assertEqual([e.snapshot.snapshot_id for e in one.entries], [snaps[2].snapshot_id])
        # Without secrets: the plugin's own (admin) token sees every project.
        every = call(ctl().ListSnapshots, pb.ListSnapshotsRequest())
        self.assertTrue(set(s.snapshot_id for s in snaps) <=
                        set(e.snapshot.snapshot_id for e in every.entries))
        for s in snaps:
            call(ctl().DeleteSnapshot, pb.DeleteSnapshotRequest(snapshot_id=s.snapshot_id,
                                                                secrets=secrets()))
        for v in made:
            delete(v.volume_id)

    def test_capacity(self):
        cap = call(ctl().GetCapacity, pb.GetCapacityRequest(
            volume_capabilities=[mount_cap()], parameters={"project": PROJECT}))
        st, usage = KD.call("GET", "/v1/projects/%s/usage" % PROJECT)
        left = usage["volume"]["quota_bytes"] - usage["volume"]["allocated_bytes"]
        self.assertGreater(cap.available_capacity, 0)
        self.assertLessEqual(cap.available_capacity, left)
        shares = call(ctl().GetCapacity, pb.GetCapacityRequest(
            volume_capabilities=[mount_cap(RWX)], parameters={"project": PROJECT}))
        self.assertLessEqual(shares.available_capacity, 512 * MiB)
        # What a kind cannot serve, there is none of.
        none = call(ctl().GetCapacity, pb.GetCapacityRequest(
            volume_capabilities=[block_cap()], parameters={"kind": "share", "project": PROJECT}))
        self.assertEqual(none.available_capacity, 0)
        cluster = call(ctl().GetCapacity, pb.GetCapacityRequest())
        self.assertGreater(cluster.available_capacity, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
