"""Kairos storage drivers for OpenStack.

Two drivers that OpenStack services load, both thin clients of kairosd's
REST API v1 (docs/openapi.json in the Kairos repository):

- ``kairos.cinder.KairosDriver``: Cinder volumes are Kairos volumes (RBD
  images in the project's RBD namespace).
- ``kairos.manila.KairosShareDriver``: Manila CEPHFS shares are Kairos
  shares (CephFS directories with their own quota and RADOS namespace).

Every allocation passes Kairos's admission (the project's quota and the
cluster's capacity), so a project has one quota whether it allocates
through OpenStack, Kubernetes or the Kairos API. The drivers make no Ceph
call for anything the broker does. See contrib/openstack/README.md.
"""

__version__ = "1.0.0"
