/*
 * bucket_int.h - the RGW backend's hooks into the handle.
 */
#ifndef KAIROS_BUCKET_INT_H
#define KAIROS_BUCKET_INT_H

#include <kairos/error.h>

struct kairos;

/*
 * Set up the backend and register it for KAIROS_BUCKET, when the config
 * names a radosgw ([rgw] endpoint); without one, buckets stay unavailable.
 * Nothing is sent to radosgw here: a radosgw that is down fails requests
 * for buckets, never the opening of the handle.
 */
int kairos_buckets_init(struct kairos *k, struct kairos_error *err);
void kairos_buckets_fini(struct kairos *k);

#endif
