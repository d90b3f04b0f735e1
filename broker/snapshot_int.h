/*
 * snapshot_int.h - registers the snapshot kind, which routes to the
 * volume and share backends.
 */
#ifndef KAIROS_SNAPSHOT_INT_H
#define KAIROS_SNAPSHOT_INT_H

#include <kairos/error.h>

struct kairos;

int kairos_snapshots_init(struct kairos *k, struct kairos_error *err);

#endif
