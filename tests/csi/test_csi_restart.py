#!/usr/bin/python3
"""test_csi_restart.py - the node plugin killed with SIGKILL between
NodeStageVolume and NodePublishVolume, then started again: it finds what it
had staged (mount table, loop devices) and the pod's volume is published,
written, read, unpublished and unstaged as if nothing happened. For a
volume (kairosfs + loop + ext4) and a share (kairosfs), with the controller
and the node as two plugins, as Kubernetes runs them.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20
pb = rpc = None
KD = CTL = NODE = WORK = TOKEN = None
PROJECT = "csi-restart-%d" % os.getpid()


def setUpModule():
    global pb, rpc, KD, CTL, NODE, WORK, TOKEN
    WORK = harness.workdir()
    pb, rpc = harness.stubs(harness.env("CSI_PROTO"), WORK)
    KD = harness.Kairosd(harness.env("KAIROSD"), WORK)
    TOKEN = KD.project(PROJECT, {"volume": {"bytes": 512 * MiB}, "share": {"bytes": 512 * MiB}})
    CTL = harness.Plugin(harness.env("KAIROS_CSI"), WORK, KD.url, mode="controller")
    NODE = harness.Plugin(harness.env("KAIROS_CSI"), WORK, KD.url, mode="node")


def tearDownModule():
    rcs = [p.stop() for p in (CTL, NODE) if p]
    for p in (CTL, NODE):
        harness.show_log(p.log if p else None)
    left = harness.cleanup(WORK) if WORK else 0
    KD.call("DELETE", "/v1/projects/%s?force=true" % PROJECT)
    kd_rc = KD.stop() if KD else 0
    assert rcs == [0, 0], "kairos-csi exit statuses %s on SIGTERM" % rcs
    assert kd_rc == 0, "kairosd exited %d" % kd_rc
    assert left == 0, "%d mount(s) or daemon(s) were left behind" % left


def call(method, req):
    return method(req, timeout=harness.CALL_TIMEOUT)




class Restart(unittest.TestCase):
    def secrets(self):
        return {"token": TOKEN, "project": PROJECT}

    def life(self, name, cap, kind):
        ctl = rpc.ControllerStub(CTL.channel)
        vol = call(ctl.CreateVolume, pb.CreateVolumeRequest(
            name=name, volume_capabilities=[cap], parameters={"kind": kind},
            secrets=self.secrets(), capacity_range=pb.CapacityRange(required_bytes=32 * MiB)))
        vid = vol.volume.volume_id
        staging, target = os.path.join(WORK, name, "staging"), os.path.join(WORK, name, "target")
        os.makedirs(staging)
        call(rpc.NodeStub(NODE.channel).NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=staging, volume_capability=cap,
            secrets=self.secrets()))
        before = harness.mounts_under(WORK)

        NODE.kill9()
        NODE.start()
        node = rpc.NodeStub(NODE.channel)
        # Staged still; a repeat of the stage finds it and changes nothing.
        self.assertEqual(harness.mounts_under(WORK), before)
        call(node.NodeStageVolume, pb.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=staging, volume_capability=cap,
            secrets=self.secrets()))
        self.assertEqual(harness.mounts_under(WORK), before)

        call(node.NodePublishVolume, pb.NodePublishVolumeRequest(
            volume_id=vid, staging_target_path=staging, target_path=target,
            volume_capability=cap))
        data = os.urandom(MiB)
        harness.write_file(target, "f", data)
        self.assertEqual(harness.read_file(target, "f"), data)
        stats = call(node.NodeGetVolumeStats,
                     pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=target))
        self.assertGreater(stats.usage[0].total, 16 * MiB)

        # Killed again after publishing: unpublish and unstage still undo it all.
        NODE.kill9()
        NODE.start()
        node = rpc.NodeStub(NODE.channel)
        call(node.NodeUnpublishVolume,
             pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target))
        call(node.NodeUnstageVolume,
             pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=staging))
        self.assertEqual(harness.mounts_under(os.path.join(WORK, name)), [])
        self.assertFalse(os.path.exists(target))
        call(ctl.DeleteVolume, pb.DeleteVolumeRequest(volume_id=vid, secrets=self.secrets()))

    def test_volume(self):
        cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(fs_type="ext4"),
                                  access_mode=pb.VolumeCapability.AccessMode(mode=1))
        self.life("pvc-restart-vol", cap, "volume")
        self.assertEqual(os.listdir(os.path.join(NODE.state, "volumes")), [])

    def test_share(self):
        cap = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(),
                                  access_mode=pb.VolumeCapability.AccessMode(mode=5))
        self.life("pvc-restart-share", cap, "share")


if __name__ == "__main__":
    unittest.main(verbosity=2)
