/*
 * volume_int.h - the RBD backend's hooks into the handle.
 */
#ifndef KAIROS_VOLUME_INT_H
#define KAIROS_VOLUME_INT_H

#include <kairos/error.h>

#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

struct kairos;

/*
 * The image metadata key prefix of the broker's intent tags (volume.c):
 * "kairos.intent.<project>.<name>", kept for the image's life. A clone
 * also carries its parent's. librbd takes only "conf_" keys as options.
 */
#define KAIROS_VOLUME_TAG_PREFIX "kairos.intent."

/* Set up the backend and register it for KAIROS_VOLUME. */
int kairos_volumes_init(struct kairos *k, struct kairos_error *err);
void kairos_volumes_fini(struct kairos *k);

/* Snapshot @snap of @volume: 1 exists, 0 does not (nor its volume), <0 error. */
int kairos_volume_snap_probe(struct kairos *k, const char *project, const char *volume,
                             const char *snap, struct kairos_error *err);
/* Remove it; already gone is success. */
int kairos_volume_snap_destroy(struct kairos *k, const char *project, const char *volume,
                               const char *snap, struct kairos_error *err);

/*
 * kairos_volume_open_owned() - open @name read-write and take its exclusive
 * lock from whoever holds it, before a resize, snapshot, flatten or a
 * header put back.
 *
 * Without the lock librbd hands such an operation to the lock's owner, a
 * tenant's client whose key may not resize or snapshot (the caps of
 * docs/DESIGN.md), and the operation fails with EPERM. A cooperative owner
 * (librbd, krbd) gives the lock up, its I/O waits, and it takes the lock
 * back after rbd_close(). An image without exclusive-lock is only opened.
 * Return: 0, or a negative errno: -ENOENT (no image), -EROFS (the owner
 * keeps its lock: an explicitly locked client), others from librbd.
 */
int kairos_volume_open_owned(rados_ioctx_t io, const char *name, rbd_image_t *img);

/*
 * Clones of snapshot @snap_id of the open image @img; those in RBD's trash
 * count only if @with_trash (they still pin the snapshot, but a user can
 * no longer reach them). Leaves @img at its head. Return: the count
 * (capped at a few dozen), or a negative errno: -ENOENT (no such snapshot).
 */
int kairos_volume_snap_clones(rbd_image_t img, uint64_t snap_id, bool with_trash);

#endif
