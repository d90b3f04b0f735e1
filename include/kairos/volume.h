/*
 * kairos/volume.h - volumes: RBD images for VMs and pods.
 *
 * Every project has its own RBD namespace (named after the project) in the
 * block pool. A volume is a thin image with the layering, exclusive-lock,
 * object-map, fast-diff and deep-flatten features. Its provisioned size
 * counts against the project's volume quota; each snapshot counts against
 * the snapshot limit. Clones are copy-on-write children of a snapshot
 * (clone format 2, so a golden image in another project can be a parent).
 *
 * Every call reserves and commits through the ledger, is idempotent by
 * name (a repeat returns success and changes nothing), and leaves nothing
 * behind when it fails. Thread-safe on a shared handle.
 */
#ifndef KAIROS_VOLUME_H
#define KAIROS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* kairos_volume_resize() flags. */
#define KAIROS_RESIZE_SHRINK 0x1 /* allow a smaller size: data past the end is lost */

/* kairos_volume_delete() flags (also for shares and buckets). */
#define KAIROS_ALLOC_DELETE_FORCE 0x1 /* revoke bindings first instead of refusing */
/* Refuse (-EBUSY) a volume or share that has snapshots, instead of deleting them along. */
#define KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS 0x2

struct kairos_volume_info {
    char name[KAIROS_NAME_MAX + 1];
    char image_id[32]; /* RBD image id */
    uint64_t size;     /* provisioned bytes */
    uint64_t used;     /* allocated bytes, from fast-diff */
    uint64_t features; /* RBD_FEATURE_* */
    unsigned snapshots;
    char parent[3 * KAIROS_NAME_MAX + 3]; /* "project/volume@snap" of a clone, or "" */
};

struct kairos_volume_snap {
    char name[KAIROS_NAME_MAX + 1];
    uint64_t size; /* of the volume when taken */
    uint64_t created_ms;
    unsigned clones; /* volumes cloned from it */
};

/**
 * kairos_volume_create() - a new thin volume of @bytes in @project.
 * Return: 0; -EINVAL; -ENOENT (no project); -EDQUOT; -ENOSPC; -EEXIST
 * (exists with another size); -EBUSY (a request on it is in flight); or an
 * RBD or librados error.
 */
int kairos_volume_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         struct kairos_error *err);

/**
 * kairos_volume_clone() - a new volume @name in @project, copy-on-write
 * from snapshot @src_snap of volume @src_volume in @src_project (which may
 * be another project, such as one holding golden images). It is as large
 * as the snapshot. Deciding who may clone from whom is the caller's job.
 * Return: as kairos_volume_create(), and -ENOENT for no such snapshot.
 */
int kairos_volume_clone(struct kairos *k, const char *project, const char *name,
                        const char *src_project, const char *src_volume, const char *src_snap,
                        struct kairos_error *err);

/**
 * kairos_volume_resize() - grow, or with KAIROS_RESIZE_SHRINK shrink, to @bytes.
 * Return: 0; -EINVAL (a smaller size without the flag); -ENOENT; -EDQUOT;
 * -ENOSPC; -EBUSY; or an RBD error.
 */
int kairos_volume_resize(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         unsigned flags, struct kairos_error *err);

/**
 * kairos_volume_delete() - delete a volume and its snapshots.
 * Refused with -EBUSY while a clone depends on one of its snapshots, while
 * it has bindings unless @flags has KAIROS_ALLOC_DELETE_FORCE, and while
 * it has any snapshot if @flags has KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or an RBD error.
 */
int kairos_volume_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                         struct kairos_error *err);

/**
 * kairos_volume_flatten() - copy the parent's data into a clone, so that
 * it no longer depends on the parent. Takes time in proportion to the size.
 * Return: 0 (also when it has no parent), -EINVAL, -ENOENT, or an RBD error.
 */
int kairos_volume_flatten(struct kairos *k, const char *project, const char *name,
                          struct kairos_error *err);

/* kairos_volume_break_lock() flags. */
#define KAIROS_BREAK_LOCK_FORCE 0x1 /* also fence an owner that still watches the image */

/* What kairos_volume_break_lock() found and did. */
struct kairos_lock_break {
    bool held;      /* a client held the exclusive lock */
    bool alive;     /* and it still watched the image, with a monitor session */
    bool broken;    /* the lock was broken and its owner blocklisted */
    char owner[32]; /* "client.<global id>" of the owner, or "" */
    char addr[128]; /* its address, as blocklisted */
};

/**
 * kairos_volume_break_lock() - let a new client take the exclusive lock of
 * @name that a dead one holds (a VM killed or its host lost). Bindings'
 * keys carry no blocklist cap, so librbd in a replacement VM cannot break
 * the lock itself: the broker blocklists the owner with its own
 * credentials, so that it can never write again, and breaks the lock. An
 * owner that still watches the image and has a monitor session is alive:
 * it is left alone (-EBUSY) unless @flags has KAIROS_BREAK_LOCK_FORCE. A
 * read-write bind does this by itself, without force.
 * @out: may be NULL.
 * Return: 0 (also when no lock was held), -EINVAL, -ENOENT, -EBUSY (held
 * by a live client), or an RBD or librados error.
 */
int kairos_volume_break_lock(struct kairos *k, const char *project, const char *name,
                             unsigned flags, struct kairos_lock_break *out,
                             struct kairos_error *err);

/**
 * kairos_volume_info() - size, use (fast-diff), features, parent, snapshots.
 * Return: 0, -EINVAL, -ENOENT, or an RBD error.
 */
int kairos_volume_info(struct kairos *k, const char *project, const char *name,
                       struct kairos_volume_info *out, struct kairos_error *err);

/**
 * kairos_volume_snapshot_create() - snapshot @volume as @snap.
 * Return: 0, -EINVAL, -ENOENT (no volume), -EDQUOT (snapshot limit),
 * -EBUSY, or an RBD error.
 */
int kairos_volume_snapshot_create(struct kairos *k, const char *project, const char *volume,
                                  const char *snap, struct kairos_error *err);

/**
 * kairos_volume_snapshot_delete() - delete snapshot @snap of @volume.
 * Refused with -EBUSY while a clone depends on it.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or an RBD error.
 */
int kairos_volume_snapshot_delete(struct kairos *k, const char *project, const char *volume,
                                  const char *snap, struct kairos_error *err);

/**
 * kairos_volume_snapshot_list() - the snapshots of @volume, oldest first.
 * @out: a malloc'ed array of @count entries; free() it.
 * Return: 0, -EINVAL, -ENOENT, or an RBD error.
 */
int kairos_volume_snapshot_list(struct kairos *k, const char *project, const char *volume,
                                struct kairos_volume_snap **out, size_t *count,
                                struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
