/*
 * snapshot.c - the backend of the snapshot kind: a snapshot allocation is
 * named "<volume|share>:<parent>@<snap>", and this sends each question to
 * the backend of its parent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kairos/kairos.h>

#include "kairos_int.h"
#include "share_int.h"
#include "snapshot_int.h"
#include "volume_int.h"

struct snap_name {
    enum kairos_kind parent_kind;
    char parent[KAIROS_NAME_MAX + 1];
    char snap[KAIROS_NAME_MAX + 1];
};

static int split(const char *name, struct snap_name *out, struct kairos_error *err)
{
    char kind[16];
    int n = 0;

    if (kairos_alloc_name_check(KAIROS_SNAPSHOT, name, err) < 0)
        return -EINVAL;
    sscanf(name, "%15[a-z]:%63[a-z0-9-]@%63[a-z0-9-]%n", kind, out->parent, out->snap, &n);
    return kairos_kind_parse(kind, &out->parent_kind);
}

static int op_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                    struct kairos_error *err)
{
    struct snap_name s;
    int rc = split(name, &s, err);

    *bytes = 0;
    if (rc < 0)
        return rc;
    if (s.parent_kind == KAIROS_VOLUME)
        return kairos_volume_snap_probe(arg, project, s.parent, s.snap, err);
    return kairos_share_snap_probe(arg, project, s.parent, s.snap, err);
}

static int op_destroy(void *arg, const char *project, const char *name, struct kairos_error *err)
{
    struct snap_name s;
    int rc = split(name, &s, err);

    if (rc < 0)
        return rc;
    if (s.parent_kind == KAIROS_VOLUME)
        return kairos_volume_snap_destroy(arg, project, s.parent, s.snap, err);
    return kairos_share_snap_destroy(arg, project, s.parent, s.snap, err);
}

int kairos_snapshots_init(struct kairos *k, struct kairos_error *err)
{
    struct kairos_kind_ops ops = {.probe = op_probe, .destroy = op_destroy, .arg = k};
    int rc = kairos_kind_register(k, KAIROS_SNAPSHOT, &ops);

    return rc < 0 ? kairos_error_set(err, rc, "cannot register snapshots") : 0;
}
