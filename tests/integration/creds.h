/*
 * creds.h - a tenant's side of a binding, for the integration tests: the
 * credentials JSON that kairos_binding_create() hands out, and Ceph
 * clients that use nothing else.
 */
#ifndef KAIROS_TEST_CREDS_H
#define KAIROS_TEST_CREDS_H

#include <cephfs/libcephfs.h>
#include <jansson.h>
#include <rados/librados.h>

#include "harness.h"

/* Field @name of @creds; fails the test when it is missing. */
const char *kt_field(const json_t *creds, const char *name);

/* Bind (fails the test on error) and return the credentials; json_decref() them. */
json_t *kt_bind(struct kt *t, const char *project, enum kairos_kind kind, const char *alloc,
                const char *id, unsigned flags);

/* A RADOS client that knows nothing but the monitors and the key of @creds. */
int kt_connect_as(const json_t *creds, rados_t *r);

/* A libcephfs mount of @path with @creds alone. */
int kt_mount_as(const json_t *creds, const char *path, struct ceph_mount_info **m);

#endif
