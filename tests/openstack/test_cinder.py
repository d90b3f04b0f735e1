"""kairos.cinder.KairosDriver, loaded as cinder-volume loads it, against a real kairosd.

The driver is made by importutils.import_object() with a
cinder.volume.configuration.Configuration of its backend's section of a
real cinder.conf, as VolumeManager.__init__ does, and set up as init_host
does (do_setup, check_for_setup_error, init_capabilities). Volumes and
snapshots are the fake objects Cinder's own driver tests use
(cinder.tests.unit.fake_volume, fake_snapshot). Every result is checked in
kairosd and in Ceph; data goes through QEMU's rbd driver with the
connection info initialize_connection returns, as a hypervisor's would.
"""

import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import rados
import rbd

import harness as h
from harness import GiB, MiB

from oslo_config import cfg
from oslo_utils import importutils

import cinder.common.config  # noqa: F401 (registers cinder.conf's options, as the service does)
from cinder import context
from cinder import exception
from cinder.message import message_field
from cinder import objects
from cinder.objects import fields
from cinder.tests.unit import fake_snapshot
from cinder.tests.unit import fake_volume
from cinder.tests.unit.image import fake as fake_image
from cinder.volume import configuration
from cinder.volume import manager as volume_manager

from kairos import client as kc
from kairos import cinder as kcinder

CONF = cfg.CONF
RUN = h.RUN
# OpenStack projects of this run: one made on first use, one with a small quota.
OS_AUTO = uuid.uuid4().hex
OS_SMALL = uuid.uuid4().hex
OS_UNMAPPED = uuid.uuid4().hex
SMALL = "cin-small-" + RUN
GOLDEN = "cin-golden-" + RUN
HV_USER = "kairos-hv-" + RUN
HV_SECRET = str(uuid.uuid4())


def vol_obj(ctx, project, size=1, **kw):
    return fake_volume.fake_volume_obj(ctx, id=str(uuid.uuid4()), size=size,
                                       project_id=project, **kw)


class CinderDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        objects.register_all()
        cls.tmp = tempfile.mkdtemp(prefix="cinder-")
        cls.k = h.kairos()
        cls.rados = h.admin_rados()
        cls.cluster = cls.k.cluster()
        # The operator's part: the hypervisors' cephx user, whose key sits in
        # a libvirt secret on every compute node (here: in HV_KEY).
        out = h.mon_command(cls.rados, {
            "prefix": "auth get-or-create", "entity": "client." + HV_USER,
            "caps": ["mon", "profile rbd", "osd", "profile rbd pool=rbd"], "format": "json"})
        cls.hv_key = out[0]["key"]
        # A project with a small quota, and a project of golden images.
        cls.k.request("POST", "/v1/projects", {"name": SMALL, "quota": {
            "volume": {"bytes": "2G"}, "snapshot": {"count": 1}}})
        cls.k.request("POST", "/v1/projects", {"name": GOLDEN, "plan": "small"})
        conf = os.path.join(cls.tmp, "cinder.conf")
        with open(conf, "w") as f:
            f.write("""[DEFAULT]
enabled_backends = kairos-1,kairos-2
state_path = {tmp}
image_conversion_dir = {tmp}/conversion

[kairos-1]
volume_driver = kairos.cinder.KairosDriver
volume_backend_name = kairos
kairos_url = {url}
kairos_token_file = {token}
kairos_project_plan = small
kairos_project_map = {small_os}:{small}
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}
kairos_image_projects = {golden}

[kairos-2]
volume_driver = kairos.cinder.KairosDriver
volume_backend_name = kairos-keyring
kairos_url = {url}
kairos_token_file = {token}
kairos_project_template =
kairos_project_map = {small_os}:{small},{auto_os}:os-{auto_os}
kairos_connection_keyring = true

[kairos-pinned]
volume_driver = kairos.cinder.KairosDriver
kairos_url = {url}
kairos_token_file = {token}
kairos_project_template = {small}
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}

[kairos-nourl]
volume_driver = kairos.cinder.KairosDriver
kairos_token_file = {token}
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}

[kairos-badmap]
volume_driver = kairos.cinder.KairosDriver
kairos_url = {url}
kairos_token_file = {token}
kairos_project_map = {small_os}:Not_A_Name
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}

[kairos-nosecret]
volume_driver = kairos.cinder.KairosDriver
kairos_url = {url}
kairos_token_file = {token}

[kairos-badtoken]
volume_driver = kairos.cinder.KairosDriver
kairos_url = {url}
kairos_token_file = {tmp}/wrong.token
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}

[kairos-down]
volume_driver = kairos.cinder.KairosDriver
kairos_url = http://127.0.0.1:1
kairos_token_file = {token}
kairos_rbd_user = {hv}
kairos_rbd_secret_uuid = {secret}
kairos_timeout = 5
""".format(tmp=cls.tmp, url=h.URL, token=h.TOKEN_FILE, small_os=OS_SMALL, small=SMALL,
           hv=HV_USER, secret=HV_SECRET, golden=GOLDEN, auto_os=OS_AUTO))
        with open(os.path.join(cls.tmp, "wrong.token"), "w") as f:
            f.write("kt-not-a-token-of-this-kairosd\n")
        CONF(["--config-file", conf], project="cinder")
        cls.drv = cls.load("kairos-1")
        cls.drv2 = cls.load("kairos-2")
        cls.ctx = context.get_admin_context()

    @classmethod
    def make(cls, backend):
        """The driver of @backend, made as cinder-volume makes it."""
        conf = configuration.Configuration(volume_manager.volume_backend_opts,
                                           config_group=backend)
        return importutils.import_object(conf.volume_driver, configuration=conf,
                                         host="hv-a@" + backend, cluster_name=None,
                                         is_vol_db_empty=False, active_backend_id=None)

    @classmethod
    def load(cls, backend):
        """The driver of @backend, made and set up as cinder-volume does (init_host)."""
        drv = cls.make(backend)
        drv.do_setup(context.get_admin_context())
        drv.check_for_setup_error()
        drv.set_initialized()
        drv.init_capabilities()
        return drv

    @classmethod
    def tearDownClass(cls):
        for p in (SMALL, GOLDEN, "os-" + OS_AUTO):
            try:
                cls.k.call("DELETE", "/v1/projects/" + p, params={"force": "true"})
            except kc.NotFound:
                pass
        h.mon_command(cls.rados, {"prefix": "auth rm", "entity": "client." + HV_USER})
        cls.rados.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----

    def info(self, project, name):
        return self.k.get("/v1/projects/%s/volumes/%s" % (project, name))

    def rbd_image(self, project, name):
        return h.image(self.rados, self.cluster["block_pool"], project, name)

    def create(self, drv=None, project=OS_AUTO, size=1):
        drv = drv or self.drv
        v = vol_obj(self.ctx, project, size)
        v.provider_location = drv.create_volume(v)["provider_location"]
        self.addCleanup(drv.delete_volume, v)
        return v

    def attach(self, drv, v, host):
        info = drv.initialize_connection(v, {"host": host, "ip": "10.0.0.1"})
        self.assertEqual(info["driver_volume_type"], "rbd")
        return info["data"]

    # ---- tests ----

    def test_01_setup_and_stats(self):
        self.assertTrue(self.drv.initialized)
        cap = self.k.capacity()
        st = self.drv.get_volume_stats(refresh=True)
        self.assertEqual(st["volume_backend_name"], "kairos")
        self.assertEqual(st["storage_protocol"], "ceph")
        self.assertTrue(st["thin_provisioning_support"])
        self.assertFalse(st["thick_provisioning_support"])
        self.assertFalse(st["multiattach"])
        self.assertEqual(st["backend_state"], "up")
        self.assertEqual(st["max_over_subscription_ratio"],
                         cap["kinds"]["volume"]["overcommit"])
        self.assertEqual(st["total_capacity_gb"], round(cap["limit"] / GiB, 2))
        self.assertAlmostEqual(st["free_capacity_gb"],
                               (cap["limit"] - cap["allocated_effective"]) / GiB, delta=0.5)
        self.assertEqual(st["location_info"],
                         "kairos:%s:%s" % (self.cluster["fsid"], self.cluster["block_pool"]))
        # kairos-2 maps projects to two Kairos projects: no project's quota bounds it.
        self.assertIsNone(self.drv2.projects.pinned())
        # A backend whose projects all map to one Kairos project is bounded by its
        # quota too: 2 GiB of volumes, overcommitted 2x, is 1 GiB of the budget.
        pinned = self.load("kairos-pinned").get_volume_stats(refresh=True)
        self.assertEqual(pinned["total_capacity_gb"], 1.0)
        self.assertEqual(pinned["free_capacity_gb"], 1.0)

    def test_02_create_delete_idempotent(self):
        v = vol_obj(self.ctx, OS_AUTO, 1)
        upd = self.drv.create_volume(v)
        project, name = "os-" + OS_AUTO, "volume-" + v.id
        self.assertEqual(upd["provider_location"], "kairos:%s/%s" % (project, name))
        v.provider_location = upd["provider_location"]
        # The Kairos project was made on first use, from the plan, owned by the OpenStack project.
        p = self.k.get("/v1/projects/" + project)
        self.assertEqual(p["owner"], {"platform": "openstack", "id": OS_AUTO})
        self.assertEqual(self.info(project, name)["size"], GiB)
        self.assertEqual(self.drv.create_volume(v), upd)  # again: the same
        io_, img = self.rbd_image(project, name)
        self.assertEqual(img.size(), GiB)
        img.close()
        io_.close()
        self.drv.delete_volume(v)
        self.drv.delete_volume(v)  # again: nothing to do
        with self.assertRaises(kc.NotFound):
            self.info(project, name)
        io_ = self.rados.open_ioctx(self.cluster["block_pool"])
        io_.set_namespace(project)
        self.assertNotIn(name, rbd.RBD().list(io_))
        io_.close()

    def test_03_snapshot_clones_extend(self):
        v = self.create(size=1)
        project, name = "os-" + OS_AUTO, "volume-" + v.id
        # Data through QEMU, as the hypervisor writes it.
        data = self.attach(self.drv, v, "hv-a")
        spec = h.qemu_spec(data, self.hv_key)
        h.qemu_io_ok(spec, "write -P 0x5a 0 1M")
        s = fake_snapshot.fake_snapshot_obj(self.ctx, volume=v, volume_id=v.id,
                                            id=str(uuid.uuid4()), volume_size=1)
        s.provider_location = self.drv.create_snapshot(s)["provider_location"]
        self.assertEqual(s.provider_location, "kairos:%s/%s@snapshot-%s" % (project, name, s.id))
        snaps = self.k.get("/v1/projects/%s/volumes/%s/snapshots" % (project, name))["items"]
        self.assertEqual([x["name"] for x in snaps], ["snapshot-" + s.id])
        h.qemu_io_ok(spec, "write -P 0x77 0 1M")  # after the snapshot
        self.drv.terminate_connection(v, {"host": "hv-a"})
        # From the snapshot, larger: copy-on-write, the snapshot's data.
        c = vol_obj(self.ctx, OS_AUTO, 2)
        c.provider_location = self.drv.create_volume_from_snapshot(c, s)["provider_location"]
        self.addCleanup(self.drv.delete_volume, c)
        ci = self.info(project, "volume-" + c.id)
        self.assertEqual(ci["parent"], "%s/%s@snapshot-%s" % (project, name, s.id))
        self.assertEqual(ci["size"], 2 * GiB)
        io_, img = self.rbd_image(project, "volume-" + c.id)
        self.assertEqual(img.parent_info()[2], "snapshot-" + s.id)
        self.assertEqual(img.size(), 2 * GiB)
        img.close()
        io_.close()
        cspec = h.qemu_spec(self.attach(self.drv, c, "hv-b"), self.hv_key)
        h.qemu_io_ok(cspec, "read -P 0x5a 0 1M")
        self.drv.terminate_connection(c, {"host": "hv-b"})
        # A snapshot with a clone cannot go: SnapshotIsBusy, as Cinder expects;
        # nor can the volume (VolumeIsBusy). Without the clone both go.
        with self.assertRaises(exception.SnapshotIsBusy):
            self.drv.delete_snapshot(s)
        with self.assertRaises(exception.VolumeIsBusy):
            self.drv.delete_volume(v)
        self.drv.delete_volume(c)
        self.drv.delete_snapshot(s)
        self.drv.delete_snapshot(s)  # again: nothing to do
        # Extend, then a clone of the volume itself: copy-on-write through a
        # snapshot of its own, which goes with the clone.
        self.drv.extend_volume(v, 2)
        self.assertEqual(self.info(project, name)["size"], 2 * GiB)
        v.size = 2
        d = vol_obj(self.ctx, OS_AUTO, 2)
        d.provider_location = self.drv.create_cloned_volume(d, v)["provider_location"]
        di = self.info(project, "volume-" + d.id)
        self.assertEqual(di["parent"], "%s/%s@clone-%s" % (project, name, d.id))
        dspec = h.qemu_spec(self.attach(self.drv, d, "hv-a"), self.hv_key)
        h.qemu_io_ok(dspec, "read -P 0x77 0 1M")
        self.drv.terminate_connection(d, {"host": "hv-a"})
        self.drv.delete_volume(d)
        snaps = self.k.get("/v1/projects/%s/volumes/%s/snapshots" % (project, name))["items"]
        self.assertEqual(snaps, [])

    def test_04_connection_info_and_bindings(self):
        v = self.create(size=1)
        project, name = "os-" + OS_AUTO, "volume-" + v.id
        data = self.attach(self.drv, v, "compute-1.example.org")
        self.assertEqual(data["name"], "%s/%s/%s" % (self.cluster["block_pool"], project, name))
        self.assertEqual(data["auth_username"], HV_USER)
        self.assertEqual(data["secret_type"], "ceph")
        self.assertEqual(data["secret_uuid"], HV_SECRET)
        self.assertTrue(data["auth_enabled"])
        self.assertNotIn("keyring", data)  # the hypervisor's key never travels
        self.assertEqual(len(data["hosts"]), len(data["ports"]))
        self.assertIn("127.0.0.1", data["hosts"])
        self.assertEqual(data["volume_id"], v.id)
        # The attachment is a binding of the volume in kairosd.
        bid = kcinder.host_binding_id("os-", "compute-1.example.org")
        self.assertTrue(bid.startswith("os-compute-1-example-org-"))
        bindings = self.k.get("/v1/projects/%s/volumes/%s/bindings" % (project, name))["items"]
        self.assertEqual([b["id"] for b in bindings], [bid])
        # QEMU's rbd driver reads and writes the namespaced image with this info.
        spec = h.qemu_spec(data, self.hv_key)
        h.qemu_io_ok(spec, "write -P 0xc3 4M 1M")
        h.qemu_io_ok(spec, "read -P 0xc3 4M 1M")
        io_, img = self.rbd_image(project, name)
        self.assertEqual(img.read(4 * MiB, 16), b"\xc3" * 16)
        img.close()
        io_.close()
        # What libvirt >= 6.0 hands QEMU for name "pool/ns/image" (-blockdev: pool,
        # and the rest as the image): the namespace is lost and the open fails.
        # With QEMU's own "namespace" member (a namespace-aware libvirt) it works.
        pool, ns, img_name = data["name"].split("/")
        servers = [{"host": hh, "port": p} for hh, p in zip(data["hosts"], data["ports"])]
        blockdev = {"driver": "rbd", "pool": pool, "image": ns + "/" + img_name,
                    "server": servers, "user": HV_USER, "key-secret": "sec0",
                    "auth-client-required": ["cephx"]}
        secret = "secret,id=sec0,format=base64,data=" + self.hv_key
        r = subprocess.run(["qemu-img", "info", "--object", secret,
                              "json:" + json.dumps({"driver": "raw", "file": blockdev})],
                             capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("error reading header from %s/%s" % (ns, img_name), r.stderr)
        blockdev.update(image=img_name, namespace=ns)
        r = subprocess.run(["qemu-img", "info", "--object", secret, "--output=json",
                              "json:" + json.dumps({"driver": "raw", "file": blockdev})],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["virtual-size"], GiB)
        # Two attachments on one host share the binding: the first detach keeps it.
        att = [objects.VolumeAttachment(attach_status=fields.VolumeAttachStatus.ATTACHED,
                                        attached_host="compute-1.example.org",
                                        connector={"host": "compute-1.example.org"})
               for _ in range(2)]
        v.volume_attachment = objects.VolumeAttachmentList(objects=att)
        self.assertTrue(self.drv.terminate_connection(v, {"host": "compute-1.example.org"}))
        self.assertEqual(len(self.k.get("/v1/projects/%s/volumes/%s/bindings"
                                        % (project, name))["items"]), 1)
        v.volume_attachment = objects.VolumeAttachmentList(objects=att[:1])
        self.assertFalse(self.drv.terminate_connection(v, {"host": "compute-1.example.org"}))
        self.assertEqual(self.k.get("/v1/projects/%s/volumes/%s/bindings"
                                    % (project, name))["items"], [])
        # A forced detach (no connector) ends every attachment's binding.
        v.volume_attachment = objects.VolumeAttachmentList(objects=[])
        self.attach(self.drv, v, "hv-x")
        self.attach(self.drv, v, "hv-y")
        self.drv.terminate_connection(v, None, force=True)
        self.assertEqual(self.k.get("/v1/projects/%s/volumes/%s/bindings"
                                    % (project, name))["items"], [])
        with self.assertRaises(exception.InvalidConnectorException):
            self.drv.initialize_connection(v, {"ip": "10.0.0.1"})

    def test_04b_detach_of_one_host_spares_the_others(self):
        """A live migration: the VM runs on dst while src's attachment ends.

        QEMU on dst holds the image open as the hypervisor user; ending
        src's binding must not fence it (or any client but that binding's).
        """
        v = self.create(size=1)
        project, name = "os-" + OS_AUTO, "volume-" + v.id
        data = self.attach(self.drv, v, "src-host")
        self.attach(self.drv, v, "dst-host")
        mons = ",".join("v1:%s:%s" % hp for hp in zip(data["hosts"], data["ports"]))
        r = rados.Rados(rados_id=HV_USER, conf={"mon_host": mons, "key": self.hv_key,
                                                  "rados_osd_op_timeout": "20"})
        r.connect(timeout=30)
        io_ = r.open_ioctx(self.cluster["block_pool"])
        io_.set_namespace(project)
        img = rbd.Image(io_, name)
        try:
            img.write(b"\x42" * 4096, 0)
            img.flush()
            self.drv.terminate_connection(v, {"host": "src-host"})
            bindings = self.k.get("/v1/projects/%s/volumes/%s/bindings" % (project, name))
            self.assertEqual([b["id"] for b in bindings["items"]],
                             [kcinder.host_binding_id("os-", "dst-host")])
            # A fenced client fails within about a second: write for a few.
            for i in range(1, 6):
                time.sleep(1)
                img.write(bytes([i]) * 4096, i * 4096)
                img.flush()
            self.assertEqual(img.read(5 * 4096, 4096), b"\x05" * 4096)
        finally:
            img.close()
            io_.close()
            r.shutdown()
        self.drv.terminate_connection(v, {"host": "dst-host"})

    def test_05_keyring_connection_reaches_one_volume(self):
        v = self.create(self.drv2, OS_SMALL, 1)
        w = self.create(self.drv2, OS_SMALL, 1)
        data = self.attach(self.drv2, v, "bm-1")
        self.assertIsNone(data["secret_uuid"])
        self.assertTrue(data["auth_username"].startswith("kairos.%s.volume.volume-%s."
                                                         % (SMALL, v.id)))
        key = data["keyring"].split("key = ")[1].strip()
        spec = h.qemu_spec(data, key)
        h.qemu_io_ok(spec, "write -P 0x11 0 64k")
        h.qemu_io_ok(spec, "read -P 0x11 0 64k")
        # The same key on the other volume of the project: refused by Ceph.
        other = dict(data, name="%s/%s/volume-%s" % (self.cluster["block_pool"], SMALL, w.id))
        rc, out = h.qemu_io(h.qemu_spec(other, key), "read 0 64k")
        self.assertNotEqual(rc, 0, out)
        # After detach the key is revoked.
        self.drv2.terminate_connection(v, {"host": "bm-1"})
        rc, out = h.qemu_io(spec, "read 0 64k")
        self.assertNotEqual(rc, 0, out)

    def test_06_golden_image(self):
        # The operator's golden image: a volume of the shared project, with a snapshot.
        gpath = "/v1/projects/%s/volumes" % GOLDEN
        self.k.call("POST", gpath, {"name": "debian", "size": 64 * MiB})
        creds = self.k.call("POST", gpath + "/debian/bindings", {"id": "seed"})["credentials"]
        d = tempfile.mkdtemp(dir=self.tmp)
        target = "rbd:%s/%s/debian:id=%s:conf=%s" % (
            creds["pool"], GOLDEN, creds["user"], h.write_conf(d, creds))
        h.qemu_io_ok(target, "write -P 0xd1 0 2M")
        self.k.call("DELETE", gpath + "/debian/bindings/seed")
        self.k.call("POST", gpath + "/debian/snapshots", {"name": "v1"})
        url = "rbd://%s/%s/%s/debian/v1" % (self.cluster["fsid"], self.cluster["block_pool"],
                                            GOLDEN)
        meta = {"id": str(uuid.uuid4()), "disk_format": "raw", "container_format": "bare"}
        v = vol_obj(self.ctx, OS_AUTO, 1)
        upd, cloned = self.drv.clone_image(self.ctx, v, (url, [{"url": url, "metadata": {}}]),
                                           meta, None)
        self.assertTrue(cloned)
        v.provider_location = upd["provider_location"]
        self.addCleanup(self.drv.delete_volume, v)
        project, name = "os-" + OS_AUTO, "volume-" + v.id
        info = self.info(project, name)
        self.assertEqual(info["parent"], "%s/debian@v1" % GOLDEN)
        self.assertEqual(info["size"], GiB)  # grown to the volume's size
        io_, img = self.rbd_image(project, name)
        pool, image, snap = img.parent_info()
        img.close()
        io_.close()
        self.assertEqual((image, snap), ("debian", "v1"))
        # The clone's binding reads its parent's snapshot (kairos-2 hands out that key).
        data = self.attach(self.drv2, v, "hv-g")
        key = data["keyring"].split("key = ")[1].strip()
        h.qemu_io_ok(h.qemu_spec(data, key), "read -P 0xd1 0 2M")
        self.drv2.terminate_connection(v, {"host": "hv-g"})
        # Cinder's own image volumes (cinder:// locations, the image-volume
        # cache) belong to its internal tenant: cloned copy-on-write across projects.
        cache = self.create(project=OS_SMALL, size=1)
        u = vol_obj(self.ctx, OS_AUTO, 1)
        u.provider_location = self.drv.create_cloned_volume(u, cache)["provider_location"]
        self.addCleanup(self.drv.delete_volume, u)
        self.assertEqual(self.info(project, "volume-" + u.id)["parent"],
                         "%s/volume-%s@clone-%s" % (SMALL, cache.id, u.id))
        # Not golden: another project, another cluster, not raw: Cinder copies instead.
        for bad_url, fmt in ((url.replace(GOLDEN, SMALL), "raw"),
                             (url.replace(self.cluster["fsid"], str(uuid.uuid4())), "raw"),
                             (url, "qcow2"),
                             ("rbd://%s/rbd/debian/v1" % self.cluster["fsid"], "raw")):
            w = vol_obj(self.ctx, OS_AUTO, 1)
            self.assertEqual(self.drv.clone_image(self.ctx, w, (bad_url, None),
                                                  dict(meta, disk_format=fmt), None), ({}, False))

    def test_07_image_copies(self):
        """A volume from a non-golden image and back: the driver's own data path."""
        # Cinder's fake Glance, starting without temporary images as Glance's client does.
        images = fake_image._FakeImageService()
        images.temp_images = None
        payload = bytes(range(256)) * 4096  # 1 MiB
        image = images.create(self.ctx, {"name": "plain", "disk_format": "raw",
                                         "container_format": "bare", "size": len(payload)},
                              data=io.BytesIO(payload))
        v = self.create(size=1)
        self.drv.copy_image_to_volume(self.ctx, v, images, image["id"])
        io_, img = self.rbd_image("os-" + OS_AUTO, "volume-" + v.id)
        self.assertEqual(img.read(0, len(payload)), payload)
        img.close()
        io_.close()
        # The driver's own binding is gone once the copy is done.
        self.assertEqual(self.k.get("/v1/projects/os-%s/volumes/volume-%s/bindings"
                                    % (OS_AUTO, v.id))["items"], [])
        uploaded = {}

        class Capture(type(images)):
            def update(self, ctx, image_id, metadata, data=None, **kw):
                uploaded["data"] = data.read()
                return {"id": image_id}

        out = Capture()
        out.temp_images = None
        self.drv.copy_volume_to_image(self.ctx, v, out, {"id": str(uuid.uuid4()),
                                                         "disk_format": "raw",
                                                         "container_format": "bare"})
        self.assertEqual(len(uploaded["data"]), GiB)
        self.assertEqual(uploaded["data"][: len(payload)], payload)

    def test_08_quota_refusals_as_cinder_shows_them(self):
        v = vol_obj(self.ctx, OS_SMALL, 3)
        with self.assertRaises(exception.VolumeSizeExceedsAvailableQuota) as cm:
            self.drv.create_volume(v)
        msg = str(cm.exception)
        self.assertIn("Kairos refused: project %s: volume bytes quota exceeded" % SMALL, msg)
        # What Cinder's create flow records for the user: the driver failed to create.
        self.assertEqual(message_field.translate_detail_id(cm.exception,
                                                           message_field.Detail.DRIVER_FAILED_CREATE),
                         message_field.Detail.DRIVER_FAILED_CREATE[0])
        with self.assertRaises(kc.NotFound):
            self.info(SMALL, "volume-" + v.id)
        # Within the quota, then past it by extending.
        w = self.create(project=OS_SMALL, size=2)
        with self.assertRaises(exception.VolumeSizeExceedsAvailableQuota):
            self.drv.extend_volume(w, 3)
        self.assertEqual(self.info(SMALL, "volume-" + w.id)["size"], 2 * GiB)
        # The snapshot count: Cinder's own SnapshotLimitExceeded, shown as "quota exceeded".
        s1 = fake_snapshot.fake_snapshot_obj(self.ctx, volume=w, volume_id=w.id,
                                             id=str(uuid.uuid4()), volume_size=2)
        s1.provider_location = self.drv.create_snapshot(s1)["provider_location"]
        self.addCleanup(self.drv.delete_snapshot, s1)
        s2 = fake_snapshot.fake_snapshot_obj(self.ctx, volume=w, volume_id=w.id,
                                             id=str(uuid.uuid4()), volume_size=2)
        with self.assertRaises(exception.SnapshotLimitExceeded) as cm:
            self.drv.create_snapshot(s2)
        self.assertIn("snapshot count quota exceeded", str(cm.exception))
        self.assertEqual(message_field.translate_detail_id(cm.exception, None),
                         message_field.Detail.QUOTA_EXCEED[0])

    def test_09_unmapped_and_missing_projects_refused(self):
        # kairos-2 has no template: an OpenStack project not in its map is refused.
        v = vol_obj(self.ctx, OS_UNMAPPED, 1)
        with self.assertRaises(exception.VolumeBackendAPIException) as cm:
            self.drv2.create_volume(v)
        self.assertIn("has no Kairos project", str(cm.exception))
        # kairos-2 has no plan: a mapped Kairos project that does not exist is refused.
        self.k.call("DELETE", "/v1/projects/os-" + OS_AUTO, params={"force": "true"})
        v = vol_obj(self.ctx, OS_AUTO, 1)
        with self.assertRaises(exception.VolumeBackendAPIException) as cm:
            self.drv2.create_volume(v)
        self.assertIn("does not exist and kairos_project_plan is empty", str(cm.exception))
        with self.assertRaises(kc.NotFound):
            self.k.get("/v1/projects/os-" + OS_AUTO)

    def test_10_bad_configuration_and_unreachable_kairosd(self):
        ctx = context.get_admin_context()
        # Set-up refuses a missing URL, a project map naming no Kairos name,
        # and the secret mode without its user and secret.
        for backend, what in (("kairos-nourl", "kairos_url is required"),
                              ("kairos-badmap", "'Not_A_Name' is no Kairos name"),
                              ("kairos-nosecret", "kairos_rbd_user and kairos_rbd_secret_uuid")):
            with self.assertRaises(exception.InvalidConfigurationValue) as cm:
                self.make(backend).do_setup(ctx)
            self.assertIn(what, str(cm.exception))
        # A token kairosd does not know: the check fails with kairosd's reason.
        drv = self.make("kairos-badtoken")
        drv.do_setup(ctx)
        with self.assertRaises(exception.VolumeBackendAPIException) as cm:
            drv.check_for_setup_error()
        self.assertIn("a valid bearer token is required", str(cm.exception))
        # The token rotated in its file: read again at the next refusal, no restart.
        with open(h.TOKEN_FILE) as src, open(os.path.join(self.tmp, "wrong.token"), "w") as f:
            f.write(src.read())
        drv.check_for_setup_error()
        # kairosd down: the backend reports itself down, a create fails naming kairosd.
        drv = self.make("kairos-down")
        drv.do_setup(ctx)
        with self.assertRaises(exception.VolumeBackendAPIException):
            drv.check_for_setup_error()
        st = drv.get_volume_stats(refresh=True)
        self.assertEqual((st["backend_state"], st["free_capacity_gb"]), ("down", "unknown"))
        with self.assertRaises(exception.VolumeBackendAPIException) as cm:
            drv.create_volume(vol_obj(self.ctx, OS_AUTO, 1))
        self.assertIn("http://127.0.0.1:1", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
