/*
 * creds.c - clients made from a binding's credentials alone (see creds.h).
 */
#include "creds.h"

#include <stdlib.h>

/* A refused or vanished key fails within this many seconds rather than hanging. */
#define CREDS_TIMEOUT "10"

const char *kt_field(const json_t *creds, const char *name)
{
    const char *v = json_string_value(json_object_get(creds, name));

    assert_non_null(v);
    return v;
}

json_t *kt_bind(struct kt *t, const char *project, enum kairos_kind kind, const char *alloc,
                const char *id, unsigned flags)
{
    struct kairos_error err = {0};
    char *creds = NULL;
    json_t *j;

    if (kairos_binding_create(t->k, project, kind, alloc, id, flags, &creds, &err) < 0)
        fail_msg("bind %s/%s/%s: %s", project, alloc, id, err.msg);
    j = json_loads(creds, 0, NULL);
    free(creds);
    assert_non_null(j);
    return j;
}

int kt_connect_as(const json_t *creds, rados_t *r)
{
    int rc = rados_create2(r, "ceph", kt_field(creds, "entity"), 0);

    if (rc < 0)
        return rc;
    rc = rados_conf_set(*r, "mon_host", kt_field(creds, "mon_host"));
    if (rc == 0)
        rc = rados_conf_set(*r, "key", kt_field(creds, "key"));
    rados_conf_set(*r, "client_mount_timeout", CREDS_TIMEOUT);
    rados_conf_set(*r, "rados_osd_op_timeout", CREDS_TIMEOUT);
    if (rc == 0)
        rc = rados_connect(*r);
    if (rc < 0)
        rados_shutdown(*r);
    return rc;
}

int kt_mount_as(const json_t *creds, const char *path, struct ceph_mount_info **m)
{
    int rc = ceph_create(m, kt_field(creds, "user"));

    if (rc < 0)
        return rc;
    ceph_conf_set(*m, "mon_host", kt_field(creds, "mon_host"));
    ceph_conf_set(*m, "key", kt_field(creds, "key"));
    ceph_conf_set(*m, "client_mount_timeout", CREDS_TIMEOUT);
    rc = ceph_select_filesystem(*m, kt_field(creds, "fs_name"));
    if (rc == 0)
        rc = ceph_mount(*m, path);
    if (rc < 0)
        ceph_release(*m);
    return rc;
}
