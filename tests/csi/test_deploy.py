#!/usr/bin/python3
"""test_deploy.py DIR - the Kubernetes manifests of kairos-csi in DIR parse
as YAML and say what the Kubernetes API requires of each kind, and the
pieces fit together: one driver name everywhere, selectors that match their
pods, mounts of declared volumes, bindings to roles and accounts that exist,
the sidecars CSI needs, and a node plugin that may mount for the pods.
"""
import os
import sys
import unittest

import yaml

DIR = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "deploy", "kubernetes")

# kind -> (apiVersion, required paths: "a.b.c"; "[]" marks a non-empty list)
KINDS = {
    "Namespace": ("v1", []),
    "ServiceAccount": ("v1", ["metadata.namespace"]),
    "ConfigMap": ("v1", ["metadata.namespace", "data"]),
    "Secret": ("v1", ["metadata.namespace"]),
    "CSIDriver": ("storage.k8s.io/v1", ["spec"]),
    "StorageClass": ("storage.k8s.io/v1", ["provisioner"]),
    "VolumeSnapshotClass": ("snapshot.storage.k8s.io/v1", ["driver", "deletionPolicy"]),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", ["rules[]"]),
    "Role": ("rbac.authorization.k8s.io/v1", ["metadata.namespace", "rules[]"]),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1",
                           ["roleRef.kind", "roleRef.name", "roleRef.apiGroup", "subjects[]"]),
    "RoleBinding": ("rbac.authorization.k8s.io/v1",
                    ["metadata.namespace", "roleRef.kind", "roleRef.name", "roleRef.apiGroup",
                     "subjects[]"]),
    "Deployment": ("apps/v1", ["metadata.namespace", "spec.selector.matchLabels",
                               "spec.template.metadata.labels",
                               "spec.template.spec.containers[]"]),
    "DaemonSet": ("apps/v1", ["metadata.namespace", "spec.selector.matchLabels",
                              "spec.template.metadata.labels", "spec.template.spec.containers[]"]),
    "Kustomization": ("kustomize.config.k8s.io/v1beta1", ["resources[]"]),
}
SIDECARS = {"csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "livenessprobe"}
VOLUME_SOURCES = {"emptyDir", "hostPath", "secret", "configMap", "projected"}


def get(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def load():
    docs = {}
    for name in sorted(os.listdir(DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(DIR, name)) as f:
                docs[name] = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs


DOCS = load()
ALL = [(f, d) for f, ds in DOCS.items() for d in ds]


def of_kind(kind):
    return [d for _, d in ALL if d.get("kind") == kind]


def image_name(c):
    return c["image"].rsplit("/", 1)[-1].split(":")[0]


class Manifests(unittest.TestCase):
    def test_every_object(self):
        self.assertGreater(len(ALL), 10)
        for f, d in ALL:
            where = "%s: %s %s" % (f, d.get("kind"), get(d, "metadata.name"))
            self.assertIn(d.get("kind"), KINDS, where)
            api, required = KINDS[d["kind"]]
            self.assertEqual(d.get("apiVersion"), api, where)
            if d["kind"] != "Kustomization":
                self.assertRegex(get(d, "metadata.name") or "", r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                                 where)
            for r in required:
                v = get(d, r.rstrip("[]"))
                self.assertIsNotNone(v, "%s: no %s" % (where, r))
                if r.endswith("[]"):
                    self.assertTrue(isinstance(v, list) and v, "%s: %s is no list" % (where, r))

    def test_kustomization_lists_every_file(self):
        k = of_kind("Kustomization")[0]
        for r in k["resources"]:
            self.assertIn(r, DOCS, r)
        # The example secret is for each namespace to copy, never applied as is.
        self.assertEqual(set(DOCS) - set(k["resources"]),
                         {"kustomization.yaml", "secret-example.yaml"})

    def test_one_driver_name(self):
        driver = of_kind("CSIDriver")[0]
        name = driver["metadata"]["name"]
        self.assertFalse(driver["spec"]["attachRequired"])
        self.assertEqual(driver["spec"]["volumeLifecycleModes"], ["Persistent"])
        classes = of_kind("StorageClass")
        self.assertEqual({c["metadata"]["name"] for c in classes},
                         {"kairos-share", "kairos-volume", "kairos-block"})
        for c in classes:
            self.assertEqual(c["provisioner"], name)
            self.assertTrue(c["allowVolumeExpansion"])
            self.assertIn(c["parameters"]["kind"], ("share", "volume"))
            for v in c["parameters"].values():
                self.assertIsInstance(v, str, "StorageClass parameters are strings")
        self.assertEqual(of_kind("VolumeSnapshotClass")[0]["driver"], name)
        for w in of_kind("Deployment") + of_kind("DaemonSet"):
            plugin = [c for c in w["spec"]["template"]["spec"]["containers"]
                      if c["name"] == "kairos-csi"][0]
            self.assertIn("--driver-name=" + name, plugin["args"])
        reg = [c for c in of_kind("DaemonSet")[0]["spec"]["template"]["spec"]["containers"]
               if image_name(c) == "csi-node-driver-registrar"][0]
        self.assertIn("--kubelet-registration-path=/var/lib/kubelet/plugins/%s/csi.sock" % name,
                      reg["args"])

    def test_secrets_per_namespace(self):
        # Every operation that calls kairosd gets the PVC's namespace's secret.
        for c in of_kind("StorageClass"):
            p = c["parameters"]
            for op in ("provisioner", "controller-expand", "node-stage"):
                self.assertEqual(p["csi.storage.k8s.io/%s-secret-name" % op], "kairos-project")
                self.assertEqual(p["csi.storage.k8s.io/%s-secret-namespace" % op],
                                 "${pvc.namespace}")
        p = of_kind("VolumeSnapshotClass")[0]["parameters"]
        self.assertEqual(p["csi.storage.k8s.io/snapshotter-secret-namespace"],
                         "${volumesnapshot.namespace}")
        example = [d for d in DOCS["secret-example.yaml"] if d["kind"] == "Secret"][0]
        self.assertEqual(set(example["stringData"]), {"project", "token"})

    def test_workloads(self):
        accounts = {(get(a, "metadata.namespace"), a["metadata"]["name"])
                    for a in of_kind("ServiceAccount")}
        for w in of_kind("Deployment") + of_kind("DaemonSet"):
            spec = w["spec"]["template"]["spec"]
            where = w["metadata"]["name"]
            labels = w["spec"]["template"]["metadata"]["labels"]
            for k, v in w["spec"]["selector"]["matchLabels"].items():
                self.assertEqual(labels.get(k), v, "%s: the selector misses its pods" % where)
            self.assertIn((w["metadata"]["namespace"], spec["serviceAccountName"]), accounts)
            volumes = {v["name"]: v for v in spec["volumes"]}
            for v in spec["volumes"]:
                self.assertTrue(VOLUME_SOURCES & set(v), "%s: volume %s has no source" %
                                (where, v["name"]))
            names = set()
            for c in spec["containers"]:
                self.assertTrue(c.get("name") and c.get("image"), where)
                self.assertNotIn(c["name"], names)
                names.add(c["name"])
                self.assertIn(":", c["image"], "%s: pin the image's tag" % c["name"])
                for m in c.get("volumeMounts", []):
                    self.assertIn(m["name"], volumes, "%s: %s mounts an undeclared volume" %
                                  (where, c["name"]))
                    self.assertTrue(m["mountPath"].startswith("/"))
                # Every container reaches the plugin through the one socket.
                sock = [m for m in c.get("volumeMounts", []) if m["name"] == "socket-dir"]
                self.assertTrue(sock, "%s: %s has no CSI socket" % (where, c["name"]))
                self.assertEqual(sock[0]["mountPath"], "/csi")

    def test_controller_sidecars(self):
        d = of_kind("Deployment")[0]
        containers = d["spec"]["template"]["spec"]["containers"]
        self.assertTrue(SIDECARS <= {image_name(c) for c in containers})
        plugin = [c for c in containers if c["name"] == "kairos-csi"][0]
        self.assertIn("--mode=controller", plugin["args"])
        prov = [c for c in containers if image_name(c) == "csi-provisioner"][0]
        self.assertIn("--extra-create-metadata", prov["args"])

    def test_node_plugin(self):
        ds = of_kind("DaemonSet")[0]
        spec = ds["spec"]["template"]["spec"]
        names = {image_name(c) for c in spec["containers"]}
        self.assertIn("csi-node-driver-registrar", names)
        self.assertIn("livenessprobe", names)
        plugin = [c for c in spec["containers"] if c["name"] == "kairos-csi"][0]
        self.assertTrue(plugin["securityContext"]["privileged"])
        self.assertIn("--mode=node", plugin["args"])
        mounts = {m["mountPath"]: m for m in plugin["volumeMounts"]}
        # The pods' mounts are made in the container and must reach the host.
        self.assertEqual(mounts["/var/lib/kubelet"]["mountPropagation"], "Bidirectional")
        self.assertEqual(mounts["/var/lib/kairos-csi"]["mountPropagation"], "Bidirectional")
        self.assertIn("/dev", mounts)
        volumes = {v["name"]: v for v in spec["volumes"]}
        self.assertEqual(volumes["kubelet-dir"]["hostPath"]["path"], "/var/lib/kubelet")
        self.assertEqual(volumes["registration-dir"]["hostPath"]["path"],
                         "/var/lib/kubelet/plugins_registry")

    def test_rbac(self):
        roles = {("ClusterRole", r["metadata"]["name"]) for r in of_kind("ClusterRole")}
        roles |= {("Role", r["metadata"]["name"]) for r in of_kind("Role")}
        accounts = {(get(a, "metadata.namespace"), a["metadata"]["name"])
                    for a in of_kind("ServiceAccount")}
        for b in of_kind("ClusterRoleBinding") + of_kind("RoleBinding"):
            self.assertIn((b["roleRef"]["kind"], b["roleRef"]["name"]), roles)
            self.assertEqual(b["roleRef"]["apiGroup"], "rbac.authorization.k8s.io")
            for s in b["subjects"]:
                self.assertEqual(s["kind"], "ServiceAccount")
                self.assertIn((s["namespace"], s["name"]), accounts)
        for r in of_kind("ClusterRole") + of_kind("Role"):
            for rule in r["rules"]:
                self.assertTrue(rule.get("resources") and rule.get("verbs"))
                self.assertIn("apiGroups", rule)
        # The provisioner reads the project secrets and makes PVs.
        prov = [r for r in of_kind("ClusterRole")
                if r["metadata"]["name"] == "kairos-csi-provisioner"][0]
        granted = {(res, v) for rule in prov["rules"] for res in rule["resources"]
                   for v in rule["verbs"]}
        for need in (("persistentvolumes", "create"), ("persistentvolumes", "delete"),
                     ("secrets", "get"), ("persistentvolumeclaims", "update")):
            self.assertIn(need, granted)
        self.assertNotIn(("secrets", "list"), granted, "secrets: get by name is enough")


if __name__ == "__main__":
    unittest.main(verbosity=2)
