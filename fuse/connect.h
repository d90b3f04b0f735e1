/*
 * connect.h - the Ceph clients behind a mount: libcephfs mounts for the
 * shares, librados connections and open RBD images for the volumes.
 *
 * kfs_connect() turns a source (source.h) into live clients, each set up
 * so that a lost cluster fails its operations instead of hanging them
 * (client_mount_timeout, rados_mon_op_timeout, rados_osd_op_timeout and
 * client_shutdown_timeout are the mount's timeout), and with what the FUSE
 * side relies on:
 *   - client_permissions off: the kernel checks permissions
 *     (default_permissions) with the caller's supplementary groups, which
 *     libcephfs would not see;
 *   - rbd_disable_zero_copy_writes on: rbd_aio_write() copies the data
 *     before it returns, so the FUSE request buffer is free at once.
 *
 * Only the project's data is reachable: with a source from the config, one
 * mount of the project's directory serves every share; with bindings, each
 * share is a mount of its own directory, and each volume is opened in the
 * project's RBD namespace.
 *
 * Thread safety: the clients are libcephfs/librados handles, thread-safe.
 * The arrays are allocated once, for KFS_ID_SLOTS entries, so that an
 * entry never moves: one thread (refresh.h) may append shares and volumes
 * while the mount serves, each published by the store of its count once
 * it is complete. Entries are never removed before kfs_disconnect(): one
 * let go of is cut (its gate, guard.h) and hidden.
 */
#ifndef KFS_CONNECT_H
#define KFS_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cephfs/libcephfs.h>
#include <kairos/error.h>
#include <kairos/name.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "guard.h"
#include "node.h"
#include "source.h"

/* The most shares, volumes, CephFS or RADOS clients a mount holds. */
#define KFS_CAPACITY KFS_ID_SLOTS

/* One libcephfs client, mounted at one directory. */
struct kfs_cephfs {
    struct ceph_mount_info *cm;
    struct Inode *root; /* the mounted directory; one reference */
    char *path;         /* its path in the file system */
    bool project;       /* @path is the project's directory (quota of all shares) */
    struct kfs_health health;
    void *callback_ctx; /* of its cache invalidation callbacks; freed after it */
};

/* One librados client. */
struct kfs_rados {
    rados_t cluster;
    const struct kfs_identity *id;
    rados_ioctx_t probe_io; /* an ioctx of one of its volumes, for health probes */
    struct kfs_health health;
};

struct kfs_share {
    char name[KAIROS_NAME_MAX + 1];
    struct kfs_cephfs *fs;
    struct Inode *root; /* the share's directory; one reference */
    bool read_only;
    unsigned slot; /* in its nodes' ids (node.h) */
    struct kfs_gate gate;
};

struct kfs_volume {
    char name[KAIROS_NAME_MAX + 1];
    struct kfs_rados *rados;
    rados_ioctx_t io;
    rbd_image_t image;
    bool read_only;
    unsigned slot;        /* its node id is KFS_ID_VOLUME + slot (node.h) */
    struct kfs_node node; /* its file in /volumes */
    struct kfs_gate gate;
};

struct kfs_backends {
    struct kfs_cephfs **fss;
    _Atomic size_t nfss;
    struct kfs_rados **radoses;
    _Atomic size_t nradoses;
    struct kfs_share *shares;
    _Atomic size_t nshares;
    struct kfs_volume *volumes;
    _Atomic size_t nvolumes;
    /*
     * Set by the caller before kfs_connect(), for a mount that can be
     * handed to a new daemon (restart.h): the base of its CephFS clients'
     * uuids, and whether a daemon before this one left sessions to end.
     */
    const char *uuid;
    bool reclaim;
};

/**
 * kfs_connect() - mount the shares and open the volumes of @src.
 * @timeout_ms: the limit on any one monitor or OSD operation (rounded up
 *              to seconds), and on mounting.
 * @out:        zeroed by the caller; on success the clients; close them with
 *              kfs_disconnect(). On failure nothing is left open.
 *
 * Return: 0, or the first error with what failed in @err: -ETIMEDOUT /
 * -ENOTCONN (no cluster), -EACCES / -EPERM (credentials refused), -ENOENT
 * (no such file system, directory, pool or image), -ENOMEM.
 */
int kfs_connect(const struct kfs_source *src, uint64_t timeout_ms, struct kfs_backends *out,
                struct kairos_error *err);

/**
 * kfs_connect_share() - mount share @ss of @src (@src->shares[i]) while
 * the mount serves, and append it to @b with @slot.
 * Return: 0, -ENOSPC (@b is full), or as kfs_connect(). On failure @b is
 * as it was but for a client of @src's project directory, kept for later.
 */
int kfs_connect_share(struct kfs_backends *b, const struct kfs_source *src,
                      const struct kfs_share_src *ss, unsigned slot, uint64_t timeout_ms,
                      struct kairos_error *err);

/* kfs_connect_volume() - kfs_connect_share() of volume @vs (its node id follows @slot). */
int kfs_connect_volume(struct kfs_backends *b, const struct kfs_volume_src *vs, unsigned slot,
                       uint64_t timeout_ms, struct kairos_error *err);

/**
 * kfs_connect_close_volume() - close the image of volume @v, cut and idle
 * (guard.h): its lock and watch end, nothing more reaches the cluster
 * through it. Its RADOS client stays until kfs_disconnect().
 */
void kfs_connect_close_volume(struct kfs_volume *v);

/**
 * kfs_connect_addrs() - the addresses of @b's RADOS clients, as librbd names
 * a lock's owner, into @out (up to @max of @size bytes each).
 * Return: how many.
 */
size_t kfs_connect_addrs(const struct kfs_backends *b, char *out, size_t size, size_t max);

/**
 * kfs_connect_break_locks() - break the exclusive lock of any volume of @b
 * that a client at one of @n addresses @addrs (@size bytes apart) holds:
 * the clients of a daemon that died (restart.h). librbd blocklists the
 * dead client, so that nothing it had in flight lands later. Failures are
 * logged: the volume then waits for the dead client's watch to expire.
 */
void kfs_connect_break_locks(struct kfs_backends *b, const char *addrs, size_t size, size_t n);

/* kfs_disconnect() - close every image, unmount, disconnect; frees the arrays. */
void kfs_disconnect(struct kfs_backends *b);

#endif
