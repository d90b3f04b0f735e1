"""kairos.manila.KairosShareDriver, loaded as manila-share loads it, against a real kairosd.

The driver is made by importutils.import_object() with a
manila.share.configuration.Configuration of its backend's section of a
real manila.conf and a DriverPrivateData, as ShareManager.__init__ does,
and set up as init_host does (do_setup, check_for_setup_error, stats).
Shares, snapshots and access rules are python3-manila's own test fakes
(manila.tests.fake_share), shaped as the share manager hands them to
drivers. Results are checked in kairosd and in CephFS; an access key
mounts its share with ceph-fuse, and no other.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import cephfs

import harness as h
from harness import GiB

from oslo_config import cfg
from oslo_utils import importutils

import manila.common.config  # noqa: F401 (registers manila.conf's options, as the service does)
from manila import context
from manila import db
from manila.db.sqlalchemy import api as db_api
from manila.db.sqlalchemy import models
from manila import exception
from manila.message import message_field
from manila.share import configuration
from manila.share import drivers_private_data
from manila.share import manager as share_manager
from manila.tests import fake_share

from kairos import client as kc

CONF = cfg.CONF
RUN = h.RUN
OS_AUTO = uuid.uuid4().hex
OS_SMALL = uuid.uuid4().hex
SMALL = "man-small-" + RUN
BACKEND = "kairos-shares"


def share_obj(project, size=1, proto="CEPHFS"):
    """A share instance as the share manager gives it to a driver."""
    sid, iid = str(uuid.uuid4()), str(uuid.uuid4())
    return fake_share.fake_share_instance(
        fake_share.fake_share(id=sid, project_id=project, size=size, share_proto=proto),
        id=iid, share_id=sid, project_id=project, size=size, share_proto=proto,
        share_group_id=None)


def rule(access_to, access_type="cephx", level="rw"):
    return fake_share.fake_access(access_id=str(uuid.uuid4()), access_type=access_type,
                                  access_to=access_to, access_level=level)


class ManilaDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="manila-")
        cls.k = h.kairos()
        cls.cluster = cls.k.cluster()
        cls.k.request("POST", "/v1/projects", {"name": SMALL, "quota": {"share": {"bytes": "2G"}}})
        conf = os.path.join(cls.tmp, "manila.conf")
        with open(conf, "w") as f:
            f.write("""[DEFAULT]
enabled_share_backends = {backend}
enabled_share_protocols = CEPHFS
state_path = {tmp}

[database]
connection = sqlite:///{tmp}/manila.sqlite

[{backend}]
share_driver = kairos.manila.KairosShareDriver
share_backend_name = kairos
driver_handles_share_servers = False
kairos_url = {url}
kairos_token_file = {token}
kairos_project_plan = small
kairos_project_map = {small_os}:{small}

[kairos-notoken]
share_driver = kairos.manila.KairosShareDriver
driver_handles_share_servers = False
kairos_url = {url}
kairos_token_file = {tmp}/missing.token
""".format(backend=BACKEND, tmp=cls.tmp, url=h.URL, token=h.TOKEN_FILE, small_os=OS_SMALL,
           small=SMALL))
        CONF(["--config-file", conf], project="manila")
        # Manila's database, for the user messages the driver leaves (manila message-list).
        models.BASE.metadata.create_all(db_api.get_engine())
        ctx = context.get_admin_context()
        cls.drv = cls.make(BACKEND)
        cls.drv.do_setup(ctx)
        cls.drv.check_for_setup_error()
        cls.ctx = ctx
        cls.fs = cephfs.LibCephFS(conffile=h.CEPH_CONF, auth_id="admin",
                                  conf={"keyring": h.KEYRING} if h.KEYRING else None)
        cls.fs.mount(filesystem_name=cls.cluster["cephfs_name"])

    @classmethod
    def make(cls, backend):
        """The driver of @backend, made as manila-share makes it."""
        ctx = context.get_admin_context()
        conf = configuration.Configuration(share_manager.share_manager_opts,
                                           config_group=backend)
        private = drivers_private_data.DriverPrivateData(context=ctx,
                                                         backend_host="ms-a@" + backend,
                                                         config_group=backend)
        return importutils.import_object(conf.share_driver, private_storage=private,
                                         configuration=conf)

    @classmethod
    def tearDownClass(cls):
        for p in (SMALL, "os-" + OS_AUTO):
            try:
                cls.k.call("DELETE", "/v1/projects/" + p, params={"force": "true"})
            except kc.NotFound:
                pass
        cls.fs.unmount()
        cls.fs.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----

    def create(self, project=OS_AUTO, size=1):
        s = share_obj(project, size)
        exports = self.drv.create_share(self.ctx, s)
        self.addCleanup(self.drv.delete_share, self.ctx, s)
        return s, exports

    def info(self, project, share):
        return self.k.get("/v1/projects/%s/shares/share-%s" % (project, share["id"]))

    @staticmethod
    def entity(export, access_to):
        """The cephx id of rule @access_to: kairos.<project>.share.<share>.<access_to>,
        the project and share being the last two parts of the export's path."""
        project, share = export.split(":")[-1].rstrip("/").split("/")[-2:]
        return "kairos.%s.share.%s.%s" % (project, share, access_to)

    def ceph_fuse(self, export, entity, key, mnt):
        """Mount @export's path as @entity with @key; Return: (rc, output)."""
        mons, path = export.rsplit(":", 1)
        d = tempfile.mkdtemp(dir=self.tmp)
        keyring = os.path.join(d, "keyring")
        with open(keyring, "w") as f:
            f.write("[client.%s]\n\tkey = %s\n" % (entity, key))
        conf = os.path.join(d, "ceph.conf")
        with open(conf, "w") as f:
            f.write("[global]\nmon_host = %s\nkeyring = %s\nclient_mount_timeout = 20\n"
                    % (mons, keyring))
        p = subprocess.run(["ceph-fuse", "-c", conf, "--id", entity, "-r", path,
                            "--client_fs", self.cluster["cephfs_name"], mnt],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout + p.stderr

    def umount(self, mnt):
        subprocess.run(["fusermount3", "-u", mnt], check=False, timeout=60)

    def quota(self, path):
        return int(self.fs.getxattr(path, "ceph.quota.max_bytes"))

    # ---- tests ----

    def test_01_stats(self):
        self.drv._update_share_stats()
        st = self.drv.get_share_stats()
        cap = self.k.capacity()
        self.assertEqual(st["share_backend_name"], "kairos")
        self.assertEqual(st["storage_protocol"], "CEPHFS")
        self.assertFalse(st["driver_handles_share_servers"])
        self.assertTrue(st["snapshot_support"])
        self.assertTrue(st["create_share_from_snapshot_support"])
        self.assertEqual(st["total_capacity_gb"], round(cap["limit"] / GiB, 2))
        self.assertAlmostEqual(st["free_capacity_gb"],
                               (cap["limit"] - cap["allocated_effective"]) / GiB, delta=0.5)
        self.assertEqual(st["max_over_subscription_ratio"], cap["kinds"]["share"]["overcommit"])

    def test_01b_bad_configuration(self):
        with self.assertRaises(exception.BadConfigurationException) as cm:
            self.make("kairos-notoken").do_setup(self.ctx)
        self.assertIn("missing.token", str(cm.exception))

    def test_02_create_export_delete(self):
        s = share_obj(OS_AUTO, 1)
        exports = self.drv.create_share(self.ctx, s)
        project = "os-" + OS_AUTO
        path = "%s/%s/share-%s" % (self.cluster["share_root"], project, s["id"])
        self.assertEqual(len(exports), 1)
        self.assertFalse(exports[0]["is_admin_only"])
        mons = ",".join("%s:%s" % m for m in kc.mon_addrs(self.cluster["mon_host"]))
        self.assertEqual(exports[0]["path"], "%s:%s" % (mons, path))
        self.assertEqual(self.info(project, s)["size"], GiB)
        self.assertEqual(self.quota(path), GiB)
        self.assertEqual(self.drv.ensure_share(self.ctx, s), exports)
        self.assertEqual(self.drv.create_share(self.ctx, s), exports)  # again: the same
        self.drv.delete_share(self.ctx, s)
        self.drv.delete_share(self.ctx, s)  # again: nothing to do
        with self.assertRaises(kc.NotFound):
            self.info(project, s)
        with self.assertRaises(cephfs.ObjectNotFound):
            self.fs.stat(path)
        with self.assertRaises(exception.ShareResourceNotFound):
            self.drv.ensure_share(self.ctx, s)
        with self.assertRaises(exception.InvalidShare):
            self.drv.create_share(self.ctx, share_obj(OS_AUTO, 1, proto="NFS"))

    def test_03_access_keys_mount_one_share(self):
        s, exports = self.create()
        t, t_exports = self.create()
        alice, ro = rule("alice"), rule("carol", level="ro")
        ip, bad = rule("10.0.0.0/24", "ip"), rule("Alice_1")
        upd = self.drv.update_access(self.ctx, s, [alice, ro, ip, bad], [alice, ro, ip, bad], [])
        self.assertEqual(upd[ip["access_id"]], {"state": "error"})
        self.assertEqual(upd[bad["access_id"]], {"state": "error"})
        # What the share's owner reads in "manila message-list".
        msgs = db.message_get_all(self.ctx, filters={"resource_id": s["share_id"]},
                                  sort_key="created_at", sort_dir="asc")
        self.assertEqual(sorted(message_field.translate_detail(m["detail_id"]) for m in msgs),
                         sorted([message_field.Detail.UNSUPPORTED_CLIENT_ACCESS[1],
                                 message_field.Detail.FORBIDDEN_CLIENT_ACCESS[1]]))
        self.assertEqual({m["project_id"] for m in msgs}, {OS_AUTO})
        key = upd[alice["access_id"]]["access_key"]
        ro_key = upd[ro["access_id"]]["access_key"]
        project = "os-" + OS_AUTO
        bindings = self.k.get("/v1/projects/%s/shares/share-%s/bindings" % (project, s["id"]))
        self.assertEqual(sorted((b["id"], b["read_only"]) for b in bindings["items"]),
                         [("alice", False), ("carol", True)])
        # alice mounts the share with ceph-fuse, as the export and her id say, and writes.
        export = exports[0]["path"]
        mnt = h.mount_dir(self)
        rc, out = self.ceph_fuse(export, self.entity(export, "alice"), key, mnt)
        self.assertEqual(rc, 0, out)
        try:
            with open(os.path.join(mnt, "hello"), "w") as f:
                f.write("from alice")
        finally:
            self.umount(mnt)
        fd = self.fs.open(self.info(project, s)["path"] + "/hello", "r")
        self.assertEqual(self.fs.read(fd, 0, 100), b"from alice")
        self.fs.close(fd)
        # carol's key reads but does not write.
        rc, out = self.ceph_fuse(export, self.entity(export, "carol"), ro_key, mnt)
        self.assertEqual(rc, 0, out)
        try:
            with open(os.path.join(mnt, "hello")) as f:
                self.assertEqual(f.read(), "from alice")
            with self.assertRaises(OSError):
                with open(os.path.join(mnt, "nope"), "w") as f:
                    f.write("x")
        finally:
            self.umount(mnt)
        # alice's key on the other share of the same project: refused.
        rc, out = self.ceph_fuse(t_exports[0]["path"], self.entity(export, "alice"), key, mnt)
        if rc == 0:
            self.umount(mnt)
        self.assertNotEqual(rc, 0, "alice's key mounted another share: " + out)
        # Denying alice revokes her key.
        upd = self.drv.update_access(self.ctx, s, [ro], [], [alice, ip, bad])
        self.assertEqual(upd, {})
        rc, out = self.ceph_fuse(export, self.entity(export, "alice"), key, mnt)
        if rc == 0:
            self.umount(mnt)
        self.assertNotEqual(rc, 0, "a denied key mounted: " + out)
        # Recovery (no rules to add or delete): the bindings follow the rules.
        self.k.call("POST", "/v1/projects/%s/shares/share-%s/bindings" % (project, s["id"]),
                    {"id": "stale"})
        ro_rw = fake_share.fake_access(access_id=ro["access_id"], access_type="cephx",
                                       access_to="carol", access_level="rw")
        upd = self.drv.update_access(self.ctx, s, [ro_rw], [], [])
        self.assertNotEqual(upd[ro["access_id"]]["access_key"], ro_key)
        bindings = self.k.get("/v1/projects/%s/shares/share-%s/bindings" % (project, s["id"]))
        self.assertEqual([(b["id"], b["read_only"]) for b in bindings["items"]],
                         [("carol", False)])

    def test_04_extend_shrink(self):
        s, exports = self.create(size=1)
        project = "os-" + OS_AUTO
        path = self.info(project, s)["path"]
        self.drv.extend_share(s, 2)
        self.assertEqual(self.info(project, s)["size"], 2 * GiB)
        self.assertEqual(self.quota(path), 2 * GiB)
        # 1.5 GiB in use (a sparse file: CephFS counts its size, memstore holds nothing).
        fd = self.fs.open(path + "/big", "w", 0o644)
        self.fs.ftruncate(fd, 3 * GiB // 2)
        self.fs.close(fd)
        h.wait_until("the share's used bytes", lambda: self.info(project, s).get("used", 0)
                     >= 3 * GiB // 2)
        with self.assertRaises(exception.ShareShrinkingPossibleDataLoss):
            self.drv.shrink_share(s, 1)
        self.assertEqual(self.quota(path), 2 * GiB)
        self.fs.unlink(path + "/big")
        h.wait_until("the share's used bytes", lambda: self.info(project, s).get("used", 1) == 0)
        self.drv.shrink_share(s, 1)
        self.assertEqual(self.info(project, s)["size"], GiB)
        self.assertEqual(self.quota(path), GiB)

    def test_05_snapshots_and_shares_from_them(self):
        s, exports = self.create(size=1)
        project = "os-" + OS_AUTO
        path = self.info(project, s)["path"]
        self.fs.mkdir(path + "/dir", 0o750)
        fd = self.fs.open(path + "/dir/data", "w", 0o640)
        self.fs.write(fd, b"before the snapshot", 0)
        self.fs.close(fd)
        self.fs.chown(path + "/dir/data", 1234, 5678)
        self.fs.symlink("dir/data", path + "/link")
        snap = fake_share.fake_snapshot_instance(id=str(uuid.uuid4()), share=s,
                                                 share_instance_id=s["id"], size=1,
                                                 as_primitive=True)
        upd = self.drv.create_snapshot(self.ctx, snap)
        snap["provider_location"] = upd["provider_location"]
        self.assertEqual(upd["provider_location"],
                         "kairos:%s/share-%s@snapshot-%s" % (project, s["id"], snap["id"]))
        self.fs.stat(path + "/.snap/snapshot-%s/dir/data" % snap["id"])
        fd = self.fs.open(path + "/dir/data", "w", 0o640)
        self.fs.write(fd, b"after", 0)
        self.fs.close(fd)
        n = share_obj(OS_AUTO, 1)
        upd = self.drv.create_share_from_snapshot(self.ctx, n, snap)
        self.addCleanup(self.drv.delete_share, self.ctx, n)
        self.assertEqual(upd["status"], "available")
        npath = self.info(project, n)["path"]
        self.assertEqual(upd["export_locations"][0]["path"].split(":")[-1], npath)
        fd = self.fs.open(npath + "/dir/data", "r")
        self.assertEqual(self.fs.read(fd, 0, 100), b"before the snapshot")
        self.fs.close(fd)
        st = self.fs.stat(npath + "/dir/data")
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (1234, 5678, 0o640))
        self.assertEqual(self.fs.stat(npath + "/dir").st_mode & 0o7777, 0o750)
        self.assertEqual(self.fs.readlink(npath + "/link", 100), b"dir/data")
        # The copy's bindings are gone; the new share is a share like any other.
        for p, sh in ((project, s), (project, n)):
            self.assertEqual(self.k.get("/v1/projects/%s/shares/share-%s/bindings"
                                        % (p, sh["id"]))["items"], [])
        self.drv.delete_snapshot(self.ctx, snap)
        self.drv.delete_snapshot(self.ctx, snap)  # again: nothing to do
        with self.assertRaises(cephfs.ObjectNotFound):
            self.fs.stat(path + "/.snap/snapshot-%s" % snap["id"])

    def test_06_quota_refusals_as_manila_shows_them(self):
        s = share_obj(OS_SMALL, 3)
        with self.assertRaises(exception.ShareBackendException) as cm:
            self.drv.create_share(self.ctx, s)
        self.assertIn("Kairos refused: project %s: share bytes quota exceeded" % SMALL,
                      str(cm.exception))
        with self.assertRaises(kc.NotFound):
            self.info(SMALL, s)
        t, _ = self.create(project=OS_SMALL, size=2)
        with self.assertRaises(exception.ShareBackendException) as cm:
            self.drv.extend_share(t, 3)
        # The share manager wraps it so: ShareExtendingError with the ledger's reason.
        wrapped = exception.ShareExtendingError(reason=str(cm.exception), share_id=t["id"])
        self.assertIn("share bytes quota exceeded", str(wrapped))
        self.assertEqual(self.info(SMALL, t)["size"], 2 * GiB)


if __name__ == "__main__":
    unittest.main()
