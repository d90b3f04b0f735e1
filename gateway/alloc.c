/*
 * alloc.c - kind dispatch for the API handlers (see alloc.h).
 */
#include "alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int no_kind(enum kairos_kind kind, struct kairos_error *err)
{
    return kairos_error_set(err, -ENOSYS, "%ss are not available on this broker",
                            kairos_kind_name(kind));
}

bool alloc_kind_ok(enum kairos_kind kind)
{
    return kind == KAIROS_VOLUME || kind == KAIROS_SHARE || kind == KAIROS_BUCKET;
}

bool alloc_create_is_slow(const struct alloc_spec *s)
{
    /* A volume's clone flattens nothing yet but opens images; a share's copies its files. */
    return (s->kind == KAIROS_VOLUME || s->kind == KAIROS_SHARE) && s->src_snap;
}

bool alloc_delete_is_slow(enum kairos_kind kind)
{
    /* A share's files and a bucket's objects go one by one: their number has no bound. */
    return kind == KAIROS_SHARE || kind == KAIROS_BUCKET;
}

int alloc_create(struct gateway *g, const struct alloc_spec *s, struct kairos_error *err)
{
    switch (s->kind) {
    case KAIROS_VOLUME:
        if (s->src_snap)
            return kairos_volume_clone(g->k, s->project, s->name,
                                       s->src_project ? s->src_project : s->project, s->src_volume,
                                       s->src_snap, err);
        return kairos_volume_create(g->k, s->project, s->name, s->bytes, err);
    case KAIROS_SHARE:
        if (s->src_snap)
            return kairos_share_clone(g->k, s->project, s->name,
                                      s->src_project ? s->src_project : s->project, s->src_share,
                                      s->src_snap, s->bytes, err);
        return kairos_share_create_as(g->k, s->project, s->name, s->bytes, s->max_files,
                                      s->has_access ? &s->access : NULL, err);
    case KAIROS_BUCKET:
        return kairos_bucket_create(g->k, s->project, s->name, s->bytes, s->max_objects, err);
    default:
        return no_kind(s->kind, err);
    }
}

int alloc_resize(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
                 uint64_t bytes, bool shrink, struct kairos_error *err)
{
    switch (kind) {
    case KAIROS_VOLUME:
        return kairos_volume_resize(g->k, project, name, bytes, shrink ? KAIROS_RESIZE_SHRINK : 0,
                                    err);
    case KAIROS_SHARE:
        return kairos_share_resize(g->k, project, name, bytes, shrink ? KAIROS_RESIZE_SHRINK : 0,
                                   err);
    case KAIROS_BUCKET:
        return kairos_error_set(err, -EOPNOTSUPP,
                                "a bucket keeps the size it was made with; make another");
    default:
        return no_kind(kind, err);
    }
}

int alloc_delete(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
                 bool force, struct kairos_error *err)
{
    return alloc_delete_flags(g, project, kind, name, force ? KAIROS_ALLOC_DELETE_FORCE : 0, err);
}

int alloc_delete_flags(struct gateway *g, const char *project, enum kairos_kind kind,
                       const char *name, unsigned flags, struct kairos_error *err)
{
    switch (kind) {
    case KAIROS_VOLUME:
        return kairos_volume_delete(g->k, project, name, flags, err);
    case KAIROS_SHARE:
        return kairos_share_delete(g->k, project, name, flags, err);
    case KAIROS_BUCKET:
        return kairos_bucket_delete(g->k, project, name, flags, err);
    default:
        return no_kind(kind, err);
    }
}

static const char *op_name(enum kairos_op op)
{
    switch (op) {
    case KAIROS_OP_CREATE:
        return "create";
    case KAIROS_OP_RESIZE:
        return "resize";
    case KAIROS_OP_DELETE:
        return "delete";
    default:
        return "none";
    }
}

static void add_backend_view(struct gateway *g, const char *project, enum kairos_kind kind,
                             const char *name, json_t *j)
{
    struct kairos_volume_info vi;
    struct kairos_share_info si;
    struct kairos_bucket_info bi;

    if (kind == KAIROS_VOLUME && kairos_volume_info(g->k, project, name, &vi, NULL) == 0) {
        json_object_set_new(j, "used", json_integer((json_int_t)vi.used));
        json_object_set_new(j, "snapshots", json_integer(vi.snapshots));
        json_object_set_new(j, "image_id", json_string(vi.image_id));
        if (vi.parent[0])
            json_object_set_new(j, "parent", json_string(vi.parent));
    } else if (kind == KAIROS_SHARE && kairos_share_info(g->k, project, name, &si, NULL) == 0) {
        json_object_set_new(j, "used", json_integer((json_int_t)si.used));
        json_object_set_new(j, "entries", json_integer((json_int_t)si.entries));
        json_object_set_new(j, "snapshots", json_integer(si.snapshots));
        json_object_set_new(j, "path", json_string(si.path));
        if (si.max_files)
            json_object_set_new(j, "max_files", json_integer((json_int_t)si.max_files));
    } else if (kind == KAIROS_BUCKET && kairos_bucket_info(g->k, project, name, &bi, NULL) == 0) {
        json_object_set_new(j, "used", json_integer((json_int_t)bi.used));
        json_object_set_new(j, "objects", json_integer((json_int_t)bi.objects));
        json_object_set_new(j, "tenant", json_string(bi.tenant));
        if (bi.max_objects)
            json_object_set_new(j, "max_objects", json_integer((json_int_t)bi.max_objects));
    }
}

int alloc_info(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
               bool measured, json_t **out, struct kairos_error *err)
{
    struct kairos_alloc a;
    json_t *j;
    int rc;

    *out = NULL;
    rc = kairos_ledger_get(g->k, project, kind, name, &a, err);
    if (rc < 0)
        return rc;
    j = json_pack("{s:s,s:s,s:I,s:I,s:s}", "name", a.name, "kind", kairos_kind_name(kind), "size",
                  (json_int_t)a.bytes, "created_ms", (json_int_t)a.created_ms, "state",
                  a.pending ? "pending" : "ready");
    if (a.pending)
        json_object_set_new(j, "operation", json_string(op_name(a.op)));
    /* What the create was asked for beyond its size (max_files, max_objects, parent). */
    json_t *attrs = a.attrs ? json_loads(a.attrs, 0, NULL) : NULL;
    if (json_is_object(attrs))
        json_object_update_missing(j, attrs);
    json_decref(attrs);
    kairos_alloc_clear(&a);
    if (!a.pending && measured)
        add_backend_view(g, project, kind, name, j);
    *out = j;
    return 0;
}
