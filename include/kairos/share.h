/*
 * kairos/share.h - shares: CephFS directories shared by many clients.
 *
 * Every project has a directory <share_root>/<project> carrying
 * ceph.quota.max_bytes equal to the project's share quota, so Ceph itself
 * holds the aggregate limit, and its own RADOS namespace in the data pool
 * (ceph.dir.layout.pool_namespace, set before anything is created under it),
 * so projects' file data are apart at the OSD level. A share is a directory
 * under it with ceph.quota.max_bytes equal to its size, and optionally
 * ceph.quota.max_files. A write past the size fails with EDQUOT.
 *
 * Every call reserves and commits through the ledger, is idempotent by
 * name, and leaves nothing behind when it fails. Thread-safe on a shared
 * handle (one CephFS mount per handle, made on first use).
 *
 * Every call that reaches CephFS first asks the monitors whether each rank
 * of the file system has an active MDS, and fails with -ENOTCONN ("try
 * again") when one has none: libcephfs itself would wait for an MDS
 * without a timeout.
 */
#ifndef KAIROS_SHARE_H
#define KAIROS_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>
#include <kairos/volume.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Room for <share_root>/<project>/<share>. */
#define KAIROS_SHARE_PATH_MAX 512

struct kairos_share_info {
    char name[KAIROS_NAME_MAX + 1];
    char path[KAIROS_SHARE_PATH_MAX]; /* in the file system */
    uint64_t size;                    /* ceph.quota.max_bytes */
    uint64_t max_files;               /* ceph.quota.max_files; 0 when unlimited */
    uint64_t used;                    /* ceph.dir.rbytes */
    uint64_t entries;                 /* ceph.dir.rentries: files and directories */
    unsigned snapshots;
};

struct kairos_share_snap {
    char name[KAIROS_NAME_MAX + 1];
    uint64_t created_ms;
};

/**
 * kairos_share_create() - a share of @bytes in @project.
 * @max_files: a limit on files and directories, or 0 for none.
 * Return: 0; -EINVAL; -ENOENT (no project); -EDQUOT; -ENOSPC; -EEXIST
 * (exists with another size or file limit); -EBUSY; or a CephFS error.
 */
int kairos_share_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                        uint64_t max_files, struct kairos_error *err);

/*
 * The mode of a share's top directory unless its create says otherwise:
 * anyone the share's caps let in may create there, and the sticky bit
 * keeps one user from removing or renaming another's files, as in /tmp.
 */
#define KAIROS_SHARE_MODE 01777
/* The largest uid or gid a share may be given ((uid_t)-1 means "none" to chown). */
#define KAIROS_ID_MAX 4294967294u

/* Who owns a new share's top directory, and its mode (Manila's and ceph-csi's). */
struct kairos_share_access {
    uint32_t mode; /* permission bits, 07777 at most; 0: KAIROS_SHARE_MODE */
    int64_t uid;   /* 0..KAIROS_ID_MAX; -1: root's */
    int64_t gid;   /* 0..KAIROS_ID_MAX; -1: root's */
};

/**
 * kairos_share_create_as() - kairos_share_create() with the top
 * directory's owner, group and mode (@access; NULL: root's, 1777). They
 * are part of what the share is asked to be: a repeat with others is
 * -EEXIST, as with another size.
 * Return: as kairos_share_create(); -EINVAL for a mode above 07777 or an
 * id out of range.
 */
int kairos_share_create_as(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                           uint64_t max_files, const struct kairos_share_access *access,
                           struct kairos_error *err);

/**
 * kairos_share_clone() - a new share @name in @project holding a copy of
 * snapshot @snap of share @src_share in @src_project.
 * @bytes: the new share's size; 0 for the source share's.
 *
 * Copies the snapshot's directories, files (a 4 MiB block of zeros stays a
 * hole), symbolic links and special files with their modes, owners and
 * times; hard links become separate files, extended attributes are not
 * copied. The copy is made beside the share and renamed into place when
 * whole: a clone exists entirely or not at all, and one that died is
 * rolled back by the reconciler with its partial copy. It takes time in
 * proportion to the data: run it off any request path. A repeat with the
 * same source and size returns 0. Deciding who may clone from whom is the
 * caller's job.
 * Return: 0; -EINVAL; -ENOENT (no project, source share or snapshot);
 * -EDQUOT (quota, or data larger than @bytes); -ENOSPC; -EEXIST (a share
 * of that name, not this clone); -EBUSY; or a CephFS error.
 */
int kairos_share_clone(struct kairos *k, const char *project, const char *name,
                       const char *src_project, const char *src_share, const char *snap,
                       uint64_t bytes, struct kairos_error *err);

/**
 * kairos_share_resize() - set the share's quota to @bytes. Going below the
 * current size needs KAIROS_RESIZE_SHRINK (files already there stay, new
 * writes fail while the share is past its size).
 * Return: 0, -EINVAL, -ENOENT, -EDQUOT, -ENOSPC, -EBUSY, or a CephFS error.
 */
int kairos_share_resize(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                        unsigned flags, struct kairos_error *err);

/**
 * kairos_share_delete() - delete a share, its files and its snapshots.
 * While it has bindings, refused with -EBUSY unless @flags has
 * KAIROS_ALLOC_DELETE_FORCE; while it has snapshots, if @flags has
 * KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS. A large share takes time: the intent is kept
 * fresh while files are removed, and run it off any request path.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or a CephFS error.
 */
int kairos_share_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                        struct kairos_error *err);

/**
 * kairos_share_info() - quota, use (ceph.dir.rbytes), entries, snapshots.
 * Return: 0, -EINVAL, -ENOENT, or a CephFS error.
 */
int kairos_share_info(struct kairos *k, const char *project, const char *name,
                      struct kairos_share_info *out, struct kairos_error *err);

/**
 * kairos_share_snapshot_create() - snapshot the share as @snap (.snap/@snap).
 * Return: 0, -EINVAL, -ENOENT, -EDQUOT (snapshot limit), -EBUSY, or a
 * CephFS error.
 */
int kairos_share_snapshot_create(struct kairos *k, const char *project, const char *share,
                                 const char *snap, struct kairos_error *err);

/**
 * kairos_share_snapshot_delete() - delete snapshot @snap of @share.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or a CephFS error.
 */
int kairos_share_snapshot_delete(struct kairos *k, const char *project, const char *share,
                                 const char *snap, struct kairos_error *err);

/**
 * kairos_share_snapshot_list() - the snapshots of @share.
 * @out: a malloc'ed array of @count entries; free() it.
 * Return: 0, -EINVAL, -ENOENT, or a CephFS error.
 */
int kairos_share_snapshot_list(struct kairos *k, const char *project, const char *share,
                               struct kairos_share_snap **out, size_t *count,
                               struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
