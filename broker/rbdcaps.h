/*
 * rbdcaps.h - the cephx caps of a volume binding (see rbdcaps.c and
 * docs/DESIGN.md, "Volume keys").
 */
#ifndef KAIROS_RBDCAPS_H
#define KAIROS_RBDCAPS_H

#include <stdbool.h>

#include <kairos/error.h>
#include <rados/librados.h>

struct kairos;

/*
 * The monitor cap of a volume key: the monitor, OSD and PG maps a RADOS
 * client needs, nothing else (no blocklist, no pool snapshot ids, no
 * file-system map).
 */
#define KAIROS_RBD_MON_CAP "profile simple-rados-client"

/* Room for an RBD image id (librbd makes them 12 to 20 hex digits). */
#define KAIROS_RBD_ID_MAX 64

/*
 * kairos_rbd_binding_caps() - the osd cap of a binding of volume @name of
 * @project: the class methods that opening and I/O need on the image's
 * own objects, read-only grants on each ancestor a clone reads through,
 * writes only for a read-write binding. The ancestry comes from the
 * ledger and must match the image headers (a key can write its own
 * header, so the header alone is not trusted).
 * @osd: receives the cap, malloc'ed.
 * Return: 0; -ENOENT (no such image); -EEXIST (another image's id extends
 * this one's, so the caps would reach it); -EPERM (a header's parent is
 * not the ledger's); -E2BIG; or an RBD error.
 */
int kairos_rbd_binding_caps(struct kairos *k, const char *project, const char *name, bool read_only,
                            char **osd, struct kairos_error *err);

/*
 * kairos_rbd_id_clash() - is image id @id of namespace @io extended by the
 * id of another image there (listed or in the trash), or with @both, does
 * it extend one? Grants name objects by prefix, so "rbd_header.<id>" also
 * names the header of an image whose id extends <id>.
 * @other: receives that image's id (KAIROS_RBD_ID_MAX bytes), may be NULL.
 * Two omap reads, whatever the number of images.
 * Return: 1 (yes), 0 (no), -EINVAL (@id is no image id), or a librados error.
 */
int kairos_rbd_id_clash(rados_ioctx_t io, const char *id, bool both, char *other);

/*
 * kairos_rbd_image_id() - the id of image @name of namespace @io, from its
 * "rbd_id.<name>" object (one read, no open).
 * @id: KAIROS_RBD_ID_MAX bytes.
 * Return: 0, -ENOENT, -EIO (not an id), or a librados error.
 */
int kairos_rbd_image_id(rados_ioctx_t io, const char *name, char *id);

/* Is @id an image id as librbd makes them (lower-case hex, not empty)? */
bool kairos_rbd_id_valid(const char *id);

#endif
