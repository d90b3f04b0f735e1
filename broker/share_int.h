/*
 * share_int.h - the CephFS backend's hooks into the handle.
 */
#ifndef KAIROS_SHARE_INT_H
#define KAIROS_SHARE_INT_H

#include <stdint.h>

#include <kairos/error.h>

struct kairos;
struct ceph_mount_info;

/* Set up the backend (the mount waits for first use) and register it for KAIROS_SHARE. */
int kairos_shares_init(struct kairos *k, struct kairos_error *err);
void kairos_shares_fini(struct kairos *k);

/* Snapshot @snap of @share: 1 exists, 0 does not, <0 error. */
int kairos_share_snap_probe(struct kairos *k, const char *project, const char *share,
                            const char *snap, struct kairos_error *err);
int kairos_share_snap_destroy(struct kairos *k, const char *project, const char *share,
                              const char *snap, struct kairos_error *err);

/*
 * kairos_shares_mount() - the handle's libcephfs mount of the file
 * system's root, made on first use; owned by the handle.
 * Return: 0 or the mount's error.
 */
int kairos_shares_mount(struct kairos *k, struct ceph_mount_info **cm, struct kairos_error *err);

/*
 * kairos_share_xattr_u64() - a numeric CephFS virtual xattr of @path
 * (ceph.quota.max_bytes, ceph.dir.rbytes, ...) in @out.
 * Return: 0 or libcephfs's negative errno.
 */
int kairos_share_xattr_u64(struct ceph_mount_info *cm, const char *path, const char *xattr,
                           uint64_t *out);

#endif
