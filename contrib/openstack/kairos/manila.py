"""Manila share driver: CEPHFS shares are Kairos shares.

    [kairos-shares]
    share_driver = kairos.manila.KairosShareDriver
    share_backend_name = kairos
    driver_handles_share_servers = False
    kairos_url = https://kairos.example.org:8443
    kairos_token_file = /etc/manila/kairos.token
    kairos_project_plan = small

A share of OpenStack project P is the Kairos share ``share-<instance id>``
of P's Kairos project: a CephFS directory <share_root>/<project>/<share>
with its own byte quota (CephFS holds it) and its own RADOS namespace.
Creates, resizes and snapshots pass Kairos's admission. An access rule of
type cephx is a Kairos binding whose key reaches that share only; its key
is the rule's access_key. The driver makes no Ceph call of its own for
anything the broker does; the only data it moves is a snapshot's files
into a share made from it (kairos/cephfs_copy.py).
"""

from oslo_config import cfg
from oslo_log import log as logging

from manila.common import constants
from manila import exception
from manila.message import api as message_api
from manila.message import message_field
from manila.share import driver

import kairos
from kairos import client as kc
from kairos import options

LOG = logging.getLogger(__name__)

GiB = kc.GiB
PROTOCOL = "CEPHFS"
CEPHX = "cephx"
# The binding a share made from a snapshot is filled through (removed after).
COPY_BINDING = "manila-copy"
LOCATION_PREFIX = "kairos:"

MANILA_OPTS = [
    cfg.StrOpt(
        "kairos_share_copy_binding",
        default=COPY_BINDING,
        help="Binding id the driver uses on its own to fill a share made "
        "from a snapshot (removed when the copy ends).",
    ),
]


def export_path(cluster, share_path):
    """The export location Manila gives users: "mon1:port,mon2:port:/path"."""
    mons = ",".join("[%s]:%s" % (h, p) if ":" in h else "%s:%s" % (h, p)
                    for h, p in kc.mon_addrs(cluster["mon_host"]))
    return "%s:%s" % (mons, share_path)


class KairosShareDriver(driver.ShareDriver):
    """CEPHFS shares as Kairos shares, through kairosd's REST API."""

    VERSION = kairos.__version__

    def __init__(self, *args, **kwargs):
        super().__init__(False, *args, config_opts=[options.COMMON_OPTS, MANILA_OPTS], **kwargs)
        self.backend_name = self.configuration.safe_get("share_backend_name") or "kairos"
        self.client = None
        self.projects = None
        self.cluster = None
        self.message_api = message_api.API()

    # ---- set-up ----

    def do_setup(self, context):
        try:
            self.client, self.projects = kc.make(self.configuration)
        except (ValueError, OSError) as e:
            raise exception.BadConfigurationException(reason=str(e))

    def check_for_setup_error(self):
        super().check_for_setup_error()
        try:
            self.cluster = self.client.cluster()
        except kc.KairosError as e:
            raise exception.ShareBackendException(msg=str(e))

    # ---- names and errors ----

    def _project(self, os_project, create=False):
        try:
            return self.projects.ensure(os_project) if create else self.projects.name(os_project)
        except kc.Refused as e:
            raise exception.ShareBackendException(msg=str(e))
        except kc.KairosError as e:
            raise self._fail(e)

    def _share(self, share):
        return self._project(share["project_id"]), "share-%s" % share["id"]

    def _snapshot(self, snapshot):
        names = kc.location(snapshot.get("provider_location"), LOCATION_PREFIX)
        if names and len(names) == 3:
            return names
        project, share = self._share(snapshot["share"])
        return project, share, "snapshot-%s" % snapshot["id"]

    def _path(self, project, share=None):
        return self.client.alloc_path(project, "shares", share)

    @staticmethod
    def _fail(e):
        if isinstance(e, kc.QuotaExceeded):
            return exception.ShareBackendException(msg="Kairos refused: %s" % e.description)
        return exception.ShareBackendException(msg=str(e))

    def _call(self, method, path, body=None, params=None):
        try:
            return self.client.call(method, path, body, params)
        except kc.KairosError as e:
            raise self._fail(e)

    def _exports(self, info):
        return [{"path": export_path(self.cluster, info["path"]), "is_admin_only": False,
                 "metadata": {}}]

    # ---- shares ----

    def create_share(self, context, share, share_server=None):
        if share["share_proto"].upper() != PROTOCOL:
            raise exception.InvalidShare(
                reason="Kairos shares are CephFS: protocol %s is not served" % share["share_proto"]
            )
        project = self._project(share["project_id"], create=True)
        name = "share-%s" % share["id"]
        self._call("POST", self._path(project), {"name": name, "size": share["size"] * GiB})
        return self._exports(self._call("GET", self._path(project, name)))

    def ensure_share(self, context, share, share_server=None):
        project, name = self._share(share)
        try:
            return self._exports(self.client.get(self._path(project, name)))
        except kc.NotFound:
            raise exception.ShareResourceNotFound(share_id=share["id"])
        except kc.KairosError as e:
            raise self._fail(e)

    def delete_share(self, context, share, share_server=None):
        project, name = self._share(share)
        try:
            # Manila deletes a share with its access rules: bindings go too.
            self.client.call("DELETE", self._path(project, name), params={"force": "true"})
        except kc.NotFound:
            LOG.info("Share %s/%s is gone already.", project, name)
        except kc.KairosError as e:
            raise self._fail(e)

    def extend_share(self, share, new_size, share_server=None):
        project, name = self._share(share)
        self._call("PATCH", self._path(project, name), {"size": new_size * GiB})

    def shrink_share(self, share, new_size, share_server=None):
        """Refused (ShareShrinkingPossibleDataLoss) while more is used than @new_size.

        Used bytes are CephFS's recursive statistics, which the MDS brings
        up to date lazily (seconds) after clients write.
        """
        project, name = self._share(share)
        path = self._path(project, name)
        info = self._call("GET", path)
        if info.get("used", 0) > new_size * GiB:
            raise exception.ShareShrinkingPossibleDataLoss(share_id=share["id"])
        self._call("PATCH", path, {"size": new_size * GiB, "shrink": True})

    # ---- snapshots ----

    def create_snapshot(self, context, snapshot, share_server=None):
        project, share, snap = self._snapshot(snapshot)
        self._call("POST", self._path(project, share) + "/snapshots", {"name": snap})
        return {"provider_location": "%s%s/%s@%s" % (LOCATION_PREFIX, project, share, snap)}

    def delete_snapshot(self, context, snapshot, share_server=None):
        project, share, snap = self._snapshot(snapshot)
        try:
            self.client.call("DELETE", self._path(project, share) + "/snapshots/" + snap)
        except kc.NotFound:
            LOG.info("Snapshot %s/%s@%s is gone already.", project, share, snap)
        except kc.KairosError as e:
            raise self._fail(e)

    def create_share_from_snapshot(self, context, share, snapshot, share_server=None,
                                   parent_share=None):
        """A new share holding a copy of @snapshot's files.

        The copy runs here, through a read-only binding of the source
        share and a binding of the new one (kairos/cephfs_copy.py). A
        failed copy removes the new share.
        """
        from kairos import cephfs_copy  # libcephfs only where shares are copied

        src_project, src_share, snap = self._snapshot(snapshot)
        exports = self.create_share(context, share)
        project, name = self._share(share)
        binding = self.configuration.safe_get("kairos_share_copy_binding")
        src_b = self._path(src_project, src_share) + "/bindings"
        dst_b = self._path(project, name) + "/bindings"
        src = dst = None
        try:
            sc = self._call("POST", src_b, {"id": binding, "read_only": True})["credentials"]
            dc = self._call("POST", dst_b, {"id": binding})["credentials"]
            src = cephfs_copy.mount(sc, sc["path"])
            dst = cephfs_copy.mount(dc, dc["path"])
            files, nbytes = cephfs_copy.copy_tree(src, "/.snap/" + snap, dst)
            LOG.info("Share %s/%s: %d files, %d bytes from %s/%s@%s.", project, name, files,
                     nbytes, src_project, src_share, snap)
        except Exception as e:
            LOG.exception("Copy of %s/%s@%s into %s/%s failed", src_project, src_share, snap,
                          project, name)
            self.delete_share(context, share)
            if isinstance(e, exception.ManilaException):
                raise
            raise exception.ShareBackendException(
                msg="copy of snapshot %s@%s failed: %s" % (src_share, snap, e))
        finally:
            for fs in (src, dst):
                if fs:
                    cephfs_copy.unmount(fs)
            for path in (src_b, dst_b):
                try:
                    self.client.call("DELETE", path + "/" + binding)
                except kc.KairosError:
                    pass  # gone with the deleted share, or never made
        return {"status": constants.STATUS_AVAILABLE, "export_locations": exports}

    # ---- access ----

    def _refuse(self, context, share, rule, detail, why):
        LOG.error("Access rule %s (%s %s) refused: %s", rule["access_id"], rule["access_type"],
                  rule["access_to"], why)
        self.message_api.create(
            context, message_field.Action.UPDATE_ACCESS_RULES, share["project_id"],
            resource_type=message_field.Resource.SHARE, resource_id=share["share_id"],
            detail=detail)
        return {"state": "error"}

    def update_access(self, context, share, access_rules, add_rules, delete_rules,
                      update_rules=None, share_server=None):
        """cephx rules are bindings: each rule's access_key is its binding's key.

        A rule of another type, or whose cephx id is no Kairos name (1 to
        63 of a-z, 0-9 and '-'), goes to the error state with a user
        message, as Manila's CephFS driver does. With neither rules to add
        nor to delete (recovery), the bindings are made to match the rules.
        @update_rules (Manila 2025.1 and later: an access level changed) are
        bound again with their new level, and get a new key.
        """
        project, name = self._share(share)
        bindings = self._path(project, name) + "/bindings"
        updates = {}
        add_rules = list(add_rules or []) + list(update_rules or [])
        if not add_rules and not delete_rules:
            add_rules = access_rules
            wanted = {r["access_to"] for r in access_rules if r["access_type"] == CEPHX}
            for b in self._bindings(bindings):
                if b not in wanted:
                    self._unbind(bindings, b)
        for rule in delete_rules:
            if rule["access_type"] == CEPHX and kc.valid_name(rule["access_to"]):
                self._unbind(bindings, rule["access_to"])
        for rule in add_rules:
            if rule["access_type"] != CEPHX:
                updates[rule["access_id"]] = self._refuse(
                    context, share, rule, message_field.Detail.UNSUPPORTED_CLIENT_ACCESS,
                    "Kairos shares take cephx rules only")
                continue
            if not kc.valid_name(rule["access_to"]):
                updates[rule["access_id"]] = self._refuse(
                    context, share, rule, message_field.Detail.FORBIDDEN_CLIENT_ACCESS,
                    "a cephx id must be 1 to 63 of a-z, 0-9 and '-'")
                continue
            ro = rule["access_level"] == constants.ACCESS_LEVEL_RO
            body = {"id": rule["access_to"], "read_only": ro}
            try:
                answer = self.client.call("POST", bindings, body)
            except kc.Conflict:
                # Bound before with the other access level: bind again with this one.
                self._unbind(bindings, rule["access_to"])
                answer = self._call("POST", bindings, body)
            except kc.KairosError as e:
                raise self._fail(e)
            updates[rule["access_id"]] = {"access_key": answer["credentials"]["key"],
                                          "state": "active"}
        return updates

    def _bindings(self, path):
        ids, after = [], None
        while True:
            params = {"limit": 1000}
            if after:
                params["after"] = after
            page = self._call("GET", path, params=params)
            ids += [b["id"] for b in page["items"]]
            after = page.get("next")
            if not after:
                return ids

    def _unbind(self, bindings, binding):
        try:
            self.client.call("DELETE", bindings + "/" + binding)
        except kc.NotFound:
            pass
        except kc.KairosError as e:
            raise self._fail(e)

    # ---- statistics ----

    def _update_share_stats(self, data=None):
        stats = {
            "share_backend_name": self.backend_name,
            "vendor_name": "Kairos",
            "driver_version": self.VERSION,
            "storage_protocol": PROTOCOL,
            "snapshot_support": True,
            "create_share_from_snapshot_support": True,
            "revert_to_snapshot_support": False,
            "mount_snapshot_support": False,
            "thin_provisioning": False,
            "reserved_percentage": self.configuration.safe_get("reserved_share_percentage") or 0,
            "total_capacity_gb": "unknown",
            "free_capacity_gb": "unknown",
        }
        try:
            stats.update(kc.capacity_stats(self.client, self.projects, "share"))
        except kc.KairosError as e:
            LOG.error("Kairos capacity unavailable: %s", e)
        stats.update(data or {})
        super()._update_share_stats(stats)

    def get_network_allocations_number(self):
        return 0
