"""Cinder volume driver: Cinder volumes are Kairos volumes.

    [kairos-1]
    volume_driver = kairos.cinder.KairosDriver
    volume_backend_name = kairos
    kairos_url = https://kairos.example.org:8443
    kairos_token_file = /etc/cinder/kairos.token
    kairos_project_plan = small
    kairos_rbd_user = kairos-hypervisor
    kairos_rbd_secret_uuid = 457eb676-33da-42ec-9a8c-9293d545c337

A volume of OpenStack project P is the Kairos volume ``volume-<id>`` of P's
Kairos project (``os-P`` by default, made on first use from a plan), an RBD
image in that project's RBD namespace. Every create, extend, snapshot and
clone goes through kairosd, so it passes the project's Kairos quota and
the cluster's capacity bound; a refusal reaches Cinder as an exception
carrying the ledger's message. Clones and volumes from snapshots are
copy-on-write (clone format 2). The driver makes no Ceph call of its own
for anything the broker does; the only data it moves itself is an image's
bytes into and out of a volume (qemu-img, through a binding of its own).

Attaching (initialize_connection) records a Kairos binding per compute
host and returns the ``rbd`` connection info Nova's libvirt driver reads.
Which cephx identity QEMU uses, and why, is in contrib/openstack/README.md
("How a volume's key reaches the hypervisor").
"""

import hashlib
import os
import shutil
import tempfile
import urllib.parse

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import constants
from cinder import exception
from cinder.image import image_utils
from cinder import interface
from cinder.objects import fields
from cinder.volume import driver

import kairos
from kairos import client as kc
from kairos import options

LOG = logging.getLogger(__name__)

GiB = kc.GiB

CINDER_OPTS = [
    cfg.StrOpt(
        "kairos_rbd_user",
        help="The cephx user (without 'client.') QEMU opens volumes as on "
        "the compute nodes; its key is in a libvirt secret of every compute "
        "node (kairos_rbd_secret_uuid). Never sent to Cinder's API.",
    ),
    cfg.StrOpt(
        "kairos_rbd_secret_uuid",
        help="The UUID of the libvirt secret holding kairos_rbd_user's key.",
    ),
    cfg.BoolOpt(
        "kairos_connection_keyring",
        default=False,
        help="Give each attachment its Kairos binding's own key in the "
        "connection info (auth_username and keyring), for clients that "
        "attach with a key from the connection rather than a libvirt "
        "secret. The key reaches that one volume only and is revoked at "
        "detach. Nova does not use it (it reads secret_uuid).",
    ),
    cfg.StrOpt(
        "kairos_cluster_name",
        default="ceph",
        help="The Ceph cluster name in the connection info (os-brick reads it).",
    ),
    cfg.ListOpt(
        "kairos_image_projects",
        default=[],
        help="Kairos projects whose volumes are golden images that every "
        "project may clone. A Glance image whose location is "
        "rbd://<fsid>/<pool>/<project>/<volume>/<snapshot> in one of them "
        "becomes a copy-on-write clone of that snapshot.",
    ),
]

# Binding ids: attachments to compute hosts, and the driver's own image copies.
ATTACH_PREFIX = "os-"
COPY_PREFIX = "cinder-"
# The snapshot a volume clone is made from (deleted with the clone).
CLONE_SNAP_PREFIX = "clone-"
# The location Cinder keeps for a Kairos volume or snapshot.
LOCATION_PREFIX = "kairos:"
# Room for a binding id's label taken from a host name (a name is 63 at most).
HOST_LABEL_MAX = 40


def host_binding_id(prefix, host):
    """A binding id for @host: its name made valid, and a hash of the whole."""
    label = "".join(c if c.isalnum() and c.isascii() else "-" for c in host.lower())
    label = "-".join(p for p in label.split("-") if p)[:HOST_LABEL_MAX].strip("-")
    digest = hashlib.sha256(host.encode()).hexdigest()[:8]
    return "%s%s-%s" % (prefix, label, digest) if label else prefix + digest


def parse_rbd_location(url):
    """(fsid, pool, namespace, image, snapshot) of an rbd:// image location
    naming a namespace, or None: Ceph's pool/namespace/image spec with the
    cluster in front, rbd://fsid/pool/namespace/image/snapshot."""
    prefix = "rbd://"
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    parts = [urllib.parse.unquote(p) for p in url[len(prefix) :].split("/")]
    if len(parts) != 5 or not all(parts):
        return None
    return tuple(parts)


class KairosQuotaExceeded(exception.VolumeSizeExceedsAvailableQuota):
    """Kairos's ledger refused: the project's quota or the cluster's capacity."""


@interface.volumedriver
class KairosDriver(driver.CloneableImageVD, driver.BaseVD):
    """Cinder volumes as Kairos volumes, through kairosd's REST API."""

    VERSION = kairos.__version__
    # Every record is in RADOS behind kairosd: any number of cinder-volume may serve.
    SUPPORTS_ACTIVE_ACTIVE = True
    CI_WIKI_NAME = "Kairos"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(options.COMMON_OPTS)
        self.configuration.append_config_values(CINDER_OPTS)
        self.client = None
        self.projects = None
        self.cluster = None

    @staticmethod
    def get_driver_options():
        return options.COMMON_OPTS + CINDER_OPTS

    # ---- set-up ----

    def do_setup(self, context):
        conf = self.configuration
        try:
            self.client, self.projects = kc.make(conf)
        except (ValueError, OSError) as e:
            raise exception.InvalidConfigurationValue(option="kairos_*", value=str(e))
        if not conf.safe_get("kairos_connection_keyring") and not (
            conf.safe_get("kairos_rbd_user") and conf.safe_get("kairos_rbd_secret_uuid")
        ):
            raise exception.InvalidConfigurationValue(
                option="kairos_rbd_user",
                value="kairos_rbd_user and kairos_rbd_secret_uuid are required "
                "unless kairos_connection_keyring is set",
            )
        for name in conf.safe_get("kairos_image_projects") or []:
            if not kc.valid_name(name):
                raise exception.InvalidConfigurationValue(
                    option="kairos_image_projects", value=name
                )

    def check_for_setup_error(self):
        try:
            self.cluster = self.client.cluster()
        except kc.KairosError as e:
            raise exception.VolumeBackendAPIException(data=str(e))

    # ---- names ----

    def _volume(self, volume):
        """(project, name) of @volume in Kairos: from its location, else its project."""
        names = kc.location(volume.provider_location, LOCATION_PREFIX)
        if names and len(names) == 2:
            return names
        return self._project(volume.project_id), "volume-%s" % volume.name_id

    def _snapshot(self, snapshot):
        """(project, volume, snapshot) of @snapshot in Kairos."""
        names = kc.location(snapshot.provider_location, LOCATION_PREFIX)
        if names and len(names) == 3:
            return names
        project, vol = self._volume(snapshot.volume)
        return project, vol, "snapshot-%s" % snapshot.id

    def _project(self, os_project, create=False):
        try:
            if create:
                return self.projects.ensure(os_project)
            return self.projects.name(os_project)
        except kc.Refused as e:
            raise exception.VolumeBackendAPIException(data=str(e))
        except kc.KairosError as e:
            raise self._fail(e)

    @staticmethod
    def _location(project, name):
        return LOCATION_PREFIX + "%s/%s" % (project, name)

    # ---- errors ----

    @staticmethod
    def _fail(e, snapshot=False):
        """The Cinder exception for kairosd's answer @e."""
        if isinstance(e, kc.QuotaExceeded):
            msg = "Kairos refused: %s" % e.description
            if snapshot:
                return exception.SnapshotLimitExceeded(message=msg)
            return KairosQuotaExceeded(message=msg)
        return exception.VolumeBackendAPIException(data=str(e))

    def _call(self, method, path, body=None, params=None, snapshot=False):
        try:
            return self.client.call(method, path, body, params)
        except kc.KairosError as e:
            raise self._fail(e, snapshot)

    # ---- volumes ----

    def create_volume(self, volume):
        project = self._project(volume.project_id, create=True)
        name = "volume-%s" % volume.name_id
        self._call(
            "POST",
            self.client.alloc_path(project, "volumes"),
            {"name": name, "size": volume.size * GiB},
        )
        return {"provider_location": self._location(project, name)}

    def delete_volume(self, volume):
        project, name = self._volume(volume)
        path = self.client.alloc_path(project, "volumes", name)
        try:
            parent = self.client.get(path).get("parent", "")
            # Cinder deletes only detached volumes: bindings left are stale attachments.
            self.client.call("DELETE", path, params={"force": "true"})
        except kc.NotFound:
            LOG.info("Volume %s/%s is gone already.", project, name)
            return
        except kc.Conflict as e:
            # Clones depend on one of its snapshots.
            raise exception.VolumeIsBusy(message=str(e), volume_name=volume.name)
        except kc.KairosError as e:
            raise self._fail(e)
        self._drop_clone_snapshot(parent)

    def _drop_clone_snapshot(self, parent):
        """Delete the snapshot a deleted clone was made from, if this driver made it."""
        if "@" not in parent:
            return
        pv, snap = parent.rsplit("@", 1)
        if not snap.startswith(CLONE_SNAP_PREFIX) or "/" not in pv:
            return
        p, v = pv.split("/", 1)
        try:
            self.client.call("DELETE", self.client.alloc_path(p, "volumes", v) + "/snapshots/" + snap)
        except (kc.NotFound, kc.Conflict):
            pass  # gone, or another clone still reads it
        except kc.KairosError as e:
            LOG.warning("Snapshot %s of a deleted clone stays: %s", parent, e)

    def extend_volume(self, volume, new_size):
        project, name = self._volume(volume)
        self._call(
            "PATCH", self.client.alloc_path(project, "volumes", name), {"size": new_size * GiB}
        )

    # ---- snapshots and clones ----

    def create_snapshot(self, snapshot):
        project, vol, snap = self._snapshot(snapshot)
        self._call(
            "POST",
            self.client.alloc_path(project, "volumes", vol) + "/snapshots",
            {"name": snap},
            snapshot=True,
        )
        return {"provider_location": self._location(project, vol) + "@" + snap}

    def delete_snapshot(self, snapshot):
        project, vol, snap = self._snapshot(snapshot)
        try:
            self.client.call(
                "DELETE", self.client.alloc_path(project, "volumes", vol) + "/snapshots/" + snap
            )
        except kc.NotFound:
            LOG.info("Snapshot %s/%s@%s is gone already.", project, vol, snap)
        except kc.Conflict as e:
            raise exception.SnapshotIsBusy(message=str(e), snapshot_name=snapshot.name)
        except kc.KairosError as e:
            raise self._fail(e)

    def _clone(self, volume, src_project, src_volume, src_snap):
        """@volume as a copy-on-write clone of src_volume@src_snap, grown to its size."""
        project = self._project(volume.project_id, create=True)
        name = "volume-%s" % volume.name_id
        path = self.client.alloc_path(project, "volumes", name)
        source = {"project": src_project, "volume": src_volume, "snapshot": src_snap}
        self._call("POST", self.client.alloc_path(project, "volumes"), {"name": name, "source": source})
        try:
            info = self.client.get(path)
            if info["size"] < volume.size * GiB:
                self.client.call("PATCH", path, {"size": volume.size * GiB})
        except kc.KairosError as e:
            # A clone Cinder does not know would hold quota: take it back.
            try:
                self.client.call("DELETE", path, params={"force": "true"})
            except kc.KairosError:
                LOG.exception("Clone %s/%s stays after a failed resize", project, name)
            raise self._fail(e)
        return {"provider_location": self._location(project, name)}

    def create_volume_from_snapshot(self, volume, snapshot):
        return self._clone(volume, *self._snapshot(snapshot))

    def create_cloned_volume(self, volume, src_vref):
        """A copy-on-write clone of @src_vref through a snapshot of it.

        @src_vref may belong to another project: Cinder's image-volume
        cache and image volumes (cinder:// locations) are owned by its
        internal tenant. Cinder has authorised the clone already.
        """
        src_project, src_name = self._volume(src_vref)
        snap = CLONE_SNAP_PREFIX + volume.name_id
        snaps = self.client.alloc_path(src_project, "volumes", src_name) + "/snapshots"
        self._call("POST", snaps, {"name": snap}, snapshot=True)
        try:
            return self._clone(volume, src_project, src_name, snap)
        except Exception:
            try:
                self.client.call("DELETE", snaps + "/" + snap)
            except kc.KairosError:
                LOG.exception("Snapshot %s/%s@%s of a failed clone stays", src_project, src_name, snap)
            raise

    def clone_image(self, context, volume, image_location, image_meta, image_service):
        """A copy-on-write clone of a golden image, when the image is one.

        A golden image is a snapshot of a volume in one of
        kairos_image_projects, named by a Glance location
        rbd://<fsid>/<pool>/<project>/<volume>/<snapshot> of this cluster.
        Anything else answers ({}, False) and Cinder copies the image.
        """
        if not image_location or (image_meta or {}).get("disk_format") != "raw":
            return {}, False
        direct_url, locations = image_location
        urls = [direct_url] + [loc.get("url") for loc in locations or []]
        shared = set(self.configuration.safe_get("kairos_image_projects") or [])
        for url in urls:
            parsed = parse_rbd_location(url)
            if not parsed:
                continue
            fsid, pool, project, vol, snap = parsed
            if (
                fsid != self.cluster["fsid"]
                or pool != self.cluster["block_pool"]
                or project not in shared
                or not all(kc.valid_name(n) for n in (vol, snap))
            ):
                LOG.debug("Image location %s is no golden image of this backend.", url)
                continue
            try:
                return self._clone(volume, project, vol, snap), True
            except exception.VolumeBackendAPIException as e:
                LOG.warning("Golden image %s could not be cloned (%s); copying.", url, e)
        return {}, False

    # ---- attachments ----

    def validate_connector(self, connector):
        if not connector or not connector.get("host"):
            raise exception.InvalidConnectorException(missing="host")

    def _bind(self, project, name, binding):
        path = self.client.alloc_path(project, "volumes", name) + "/bindings"
        answer = self._call("POST", path, {"id": binding})
        return answer["credentials"]

    def _unbind(self, project, name, binding):
        path = self.client.alloc_path(project, "volumes", name) + "/bindings/" + binding
        try:
            self.client.call("DELETE", path)
        except kc.NotFound:
            pass
        except kc.KairosError as e:
            raise self._fail(e)

    def initialize_connection(self, volume, connector):
        """The rbd connection info of @volume for @connector's host.

        The attachment is recorded as the binding os-<host>-<hash>. QEMU
        opens ``pool/namespace/image``; see the README for which releases
        of libvirt and QEMU pass the namespace through.
        """
        self.validate_connector(connector)
        project, name = self._volume(volume)
        creds = self._bind(project, name, host_binding_id(ATTACH_PREFIX, connector["host"]))
        mons = kc.mon_addrs(creds["mon_host"])
        conf = self.configuration
        data = {
            "name": "%s/%s/%s" % (creds["pool"], creds["namespace"], creds["image"]),
            "hosts": [h for h, _ in mons],
            "ports": [p for _, p in mons],
            "cluster_name": conf.safe_get("kairos_cluster_name"),
            "auth_enabled": True,
            "secret_type": "ceph",
            "volume_id": volume.id,
            "discard": True,
            # Ceph's parts of the name, for clients that take them apart.
            "pool": creds["pool"],
            "namespace": creds["namespace"],
            "image": creds["image"],
        }
        if conf.safe_get("kairos_connection_keyring"):
            data.update(auth_username=creds["user"], secret_uuid=None, keyring=creds["keyring"])
        else:
            data.update(
                auth_username=conf.safe_get("kairos_rbd_user"),
                secret_uuid=conf.safe_get("kairos_rbd_secret_uuid"),
            )
        return {"driver_volume_type": "rbd", "data": data}

    def terminate_connection(self, volume, connector, **kwargs):
        """End the host's binding, unless another attachment on it remains.

        Return: True when the connection is shared (Cinder's convention).
        """
        project, name = self._volume(volume)
        if not connector:
            # A forced detach with no connector: end every attachment's binding.
            self._unbind_all(project, name, ATTACH_PREFIX)
            return False
        host = connector.get("host")
        if not host:
            return False
        attached = [
            a
            for a in volume.volume_attachment or []
            if a.attach_status == fields.VolumeAttachStatus.ATTACHED
            and (a.attached_host == host or (a.connector or {}).get("host") == host)
        ]
        if len(attached) > 1:
            return True
        self._unbind(project, name, host_binding_id(ATTACH_PREFIX, host))
        return False

    def _unbind_all(self, project, name, prefix):
        path = self.client.alloc_path(project, "volumes", name) + "/bindings"
        after = None
        ids = []
        while True:
            params = {"limit": 1000}
            if after:
                params["after"] = after
            page = self._call("GET", path, params=params)
            ids += [b["id"] for b in page["items"] if b["id"].startswith(prefix)]
            after = page.get("next")
            if not after:
                break
        for b in ids:
            self._unbind(project, name, b)

    def create_export(self, context, volume, connector):
        pass

    def ensure_export(self, context, volume):
        pass

    def remove_export(self, context, volume):
        pass

    # ---- images: the one data path of the driver ----

    def _rbd_target(self, creds, workdir):
        """A qemu rbd: filename for the binding @creds, its key in a file of @workdir."""
        keyring = os.path.join(workdir, "keyring")
        conf = os.path.join(workdir, "ceph.conf")
        with open(os.open(keyring, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(creds["keyring"])
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write("[global]\nmon_host = %s\nkeyring = %s\n" % (creds["mon_host"], keyring))
        return "rbd:%s/%s/%s:id=%s:conf=%s" % (
            creds["pool"],
            creds["namespace"],
            creds["image"],
            creds["user"],
            conf,
        )

    def _copy(self, volume, work):
        """Run @work(rbd_target, tmpdir) with a binding of @volume for this host."""
        project, name = self._volume(volume)
        binding = host_binding_id(COPY_PREFIX, self.host or "cinder")
        workdir = tempfile.mkdtemp(prefix="kairos-")
        try:
            creds = self._bind(project, name, binding)
            return work(self._rbd_target(creds, workdir), workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            self._unbind(project, name, binding)

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Fetch the image as raw and write it into the volume with QEMU's rbd driver.

        os-brick cannot open a namespaced image (it splits the name into
        pool/volume), so Cinder's generic attach-and-copy does not apply.
        Runs of zeros are not written (the volume is thin) unless
        @disable_sparse (Cinder 2024.1 and later pass it).
        """

        def work(target, workdir):
            raw = os.path.join(workdir, "image.raw")
            image_utils.fetch_to_raw(
                context,
                image_service,
                image_id,
                raw,
                self.configuration.volume_dd_blocksize,
                size=volume.size,
                run_as_root=False,
            )
            sparse = ["-S", "0"] if disable_sparse else []
            processutils.execute(
                "qemu-img", "convert", "-n", *sparse, "-f", "raw", "-O", "raw", raw, target
            )

        self._copy(volume, work)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        """Read the volume with QEMU's rbd driver and upload it as the image."""

        def work(target, workdir):
            raw = os.path.join(workdir, "volume.raw")
            processutils.execute("qemu-img", "convert", "-f", "raw", "-O", "raw", target, raw)
            image_utils.upload_volume(
                context, image_service, image_meta, raw, run_as_root=False
            )

        self._copy(volume, work)

    # ---- statistics ----

    def _update_volume_stats(self):
        conf = self.configuration
        stats = {
            "volume_backend_name": conf.safe_get("volume_backend_name") or "kairos",
            "vendor_name": "Kairos",
            "driver_version": self.VERSION,
            "storage_protocol": constants.CEPH,
            "thin_provisioning_support": True,
            "thick_provisioning_support": False,
            # Kairos images keep exclusive-lock, which two writers would fight over.
            "multiattach": False,
            "reserved_percentage": conf.safe_get("reserved_percentage") or 0,
            "total_capacity_gb": "unknown",
            "free_capacity_gb": "unknown",
            "backend_state": "down",
        }
        try:
            stats.update(kc.capacity_stats(self.client, self.projects, "volume"))
            stats["backend_state"] = "up"
            if self.cluster:
                stats["location_info"] = "kairos:%s:%s" % (
                    self.cluster["fsid"],
                    self.cluster["block_pool"],
                )
        except kc.KairosError as e:
            LOG.error("Kairos capacity unavailable: %s", e)
        self._stats = stats

    def get_volume_stats(self, refresh=False):
        if refresh or not self._stats:
            self._update_volume_stats()
        return self._stats

