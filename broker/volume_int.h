/*
 * volume_int.h - the RBD backend's hooks into the handle.
 */
#ifndef KAIROS_VOLUME_INT_H
#define KAIROS_VOLUME_INT_H

#include <kairos/error.h>

struct kairos;

/* Set up the backend and register it for KAIROS_VOLUME. */
int kairos_volumes_init(struct kairos *k, struct kairos_error *err);
void kairos_volumes_fini(struct kairos *k);

/* Snapshot @snap of @volume: 1 exists, 0 does not (nor its volume), <0 error. */
int kairos_volume_snap_probe(struct kairos *k, const char *project, const char *volume,
                             const char *snap, struct kairos_error *err);
/* Remove it; already gone is success. */
int kairos_volume_snap_destroy(struct kairos *k, const char *project, const char *volume,
                               const char *snap, struct kairos_error *err);

#endif
