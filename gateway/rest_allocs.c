/*
 * rest_allocs.c - REST v1: volumes, shares and buckets, one code path for
 * the three (/v1/projects/:p/:kind): list, create (a volume clone with
 * "source"), show, resize, delete, and flatten a clone. Clones, flattens
 * and share and bucket deletes are operations (202).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "metrics.h"
#include "params.h"
#include "rest_int.h"

/* ---- allocations ---- */

unsigned rest_allocs_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_alloc_page *page;
    enum kairos_kind kind;
    const char *project, *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!(project = rest_project_param(c, req, res)) ||
        !rest_kind_param(req->params[1], &kind, res) || !rest_page_args(req, &limit, &after, res))
        return res->status;
    rc = kairos_ledger_list(c->g->k, project, kind, after, limit, &page, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    items = json_array();
    for (size_t i = 0; i < page->count; i++) {
        const struct kairos_alloc *a = &page->items[i];
        json_array_append_new(items, json_pack("{s:s,s:I,s:s,s:I}", "name", a->name, "size",
                                               (json_int_t)a->bytes, "state",
                                               a->pending ? "pending" : "ready", "created_ms",
                                               (json_int_t)a->created_ms));
    }
    http_json(
        res, 200,
        rest_page_json(items, page->more, page->count ? page->items[page->count - 1].name : NULL));
    kairos_alloc_page_free(page);
    return 200;
}

struct create_job {
    struct alloc_spec spec;
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    char src_project[KAIROS_NAME_MAX + 1], src_volume[KAIROS_NAME_MAX + 1];
    char src_snap[KAIROS_NAME_MAX + 1];
};

static int create_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct create_job *j = arg;
    int rc = alloc_create(g, &j->spec, err);

    if (rc == 0)
        metrics_provision(g->metrics, j->spec.kind);
    return rc;
}

/* Read a create's "source" into @j, or answer 400. */
static bool read_source(struct call *c, const json_t *src, struct create_job *j,
                        struct http_response *res)
{
    static const char *const keys[] = {"project", "volume", "share", "snapshot", NULL};
    const char *p, *v, *s, *sh;
    bool ok = true;

    if (!json_is_object(src) || !params_known(src, keys, "source", res)) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "source must be an object");
        return false;
    }
    p = params_string(src, "project", &ok, res);
    v = params_string(src, "volume", &ok, res);
    sh = params_string(src, "share", &ok, res);
    s = params_string(src, "snapshot", &ok, res);
    if (!ok)
        return false;
    /* A volume from a volume's snapshot, a share from a share's: never the other. */
    if (j->spec.kind == KAIROS_SHARE) {
        const char *swap = v;
        v = sh;
        sh = swap;
    }
    if ((j->spec.kind != KAIROS_VOLUME && j->spec.kind != KAIROS_SHARE) || !v || sh || !s ||
        !kairos_name_valid(v) || !kairos_name_valid(s) || (p && !kairos_name_valid(p))) {
        http_error(res, 400, "BadRequest",
                   "a volume is cloned from a source with a volume and a snapshot, a share from "
                   "one with a share and a snapshot");
        return false;
    }
    /* A project token clones only from its own project. */
    if (p && !c->who.admin && strcmp(p, c->who.project) != 0) {
        http_error(res, 403, "Forbidden", "this token does not reach project %s", p);
        return false;
    }
    snprintf(j->src_project, sizeof(j->src_project), "%s", p ? p : j->project);
    snprintf(j->src_volume, sizeof(j->src_volume), "%s", v);
    snprintf(j->src_snap, sizeof(j->src_snap), "%s", s);
    j->spec.src_project = j->src_project;
    if (j->spec.kind == KAIROS_SHARE)
        j->spec.src_share = j->src_volume;
    else
        j->spec.src_volume = j->src_volume;
    j->spec.src_snap = j->src_snap;
    return true;
}

unsigned rest_submit(struct call *c, const char *what, const char *project, ops_fn fn, void *job,
                     struct http_response *res)
{
    struct kairos_error err = {0};
    struct ops_owner owner = {project, NULL};
    char op[OPS_ID_LEN + 1];
    int rc;

    ops_id_new(op);
    rc = ops_submit(c->g->ops, op, what, &owner, fn, job, &err);
    if (rc < 0)
        return http_error(res, 503, "ServiceUnavailable", "%s", err.msg);
    return http_json(res, 202, json_pack("{s:s,s:s}", "operation", op, "state", "in progress"));
}

unsigned rest_alloc_create(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"name", "size", "max_files", "max_objects", "source",
                                       "mode", "uid",  "gid",       NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct create_job *j = NULL;
    const char *project, *name;
    json_t *body = NULL, *info;
    bool ok = true;
    int rc;

    if (!(project = rest_project_param(c, req, res)))
        return res->status;
    j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(res, 500, "InternalError", "out of memory");
    if (!rest_kind_param(req->params[1], &j->spec.kind, res) ||
        !(body = params_body(req, res, false)) || !params_known(body, keys, "the request", res))
        goto out;
    name = params_string(body, "name", &ok, res);
    if (!ok || !rest_name_param(name ? name : "", "allocation", res) ||
        !params_size(body, "size", &j->spec.bytes, res) ||
        !params_count(body, "max_files", &j->spec.max_files, res) ||
        !params_count(body, "max_objects", &j->spec.max_objects, res) ||
        !params_share_access(body, &j->spec.access, &j->spec.has_access, res))
        goto out;
    snprintf(j->project, sizeof(j->project), "%s", project);
    snprintf(j->name, sizeof(j->name), "%s", name);
    call_note(c, NULL, j->spec.kind, j->name);
    j->spec.project = j->project;
    j->spec.name = j->name;
    if (json_object_get(body, "source")) {
        if (!read_source(c, json_object_get(body, "source"), j, res))
            goto out;
    } else if (!j->spec.bytes) {
        http_error(res, 400, "BadRequest", "size is required");
        goto out;
    }
    if (j->spec.max_files && j->spec.kind != KAIROS_SHARE) {
        http_error(res, 400, "BadRequest", "max_files is for shares");
        goto out;
    }
    if (j->spec.has_access && (j->spec.kind != KAIROS_SHARE || json_object_get(body, "source"))) {
        http_error(res, 400, "BadRequest",
                   "mode, uid and gid are for a new share (a clone keeps its source's)");
        goto out;
    }
    if (j->spec.max_objects && j->spec.kind != KAIROS_BUCKET) {
        http_error(res, 400, "BadRequest", "max_objects is for buckets");
        goto out;
    }
    if (alloc_create_is_slow(&j->spec)) {
        rest_submit(c, "clone", project, create_work, j, res);
        j = NULL;
        goto out;
    }
    rc = create_work(c->g, j, &err);
    if (rc == 0)
        rc = alloc_info(c->g, project, j->spec.kind, j->name, false, &info, &err);
    if (rc < 0)
        api_fail(c, res, j->spec.kind, rc, &err);
    else
        http_json(res, 201, info);
out:
    free(j);
    json_decref(body);
    return res->status;
}

unsigned rest_alloc_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    json_t *info;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)))
        return res->status;
    rc = alloc_info(c->g, project, kind, req->params[2], true, &info, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, info);
}

unsigned rest_alloc_patch(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"size", "shrink", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    json_t *body = NULL, *info;
    uint64_t bytes = 0;
    bool ok = true, shrink;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) || !(body = params_body(req, res, false)))
        return res->status;
    shrink = params_bool(body, "shrink", false, &ok, res);
    if (!ok || !params_known(body, keys, "the request", res) ||
        !params_size(body, "size", &bytes, res))
        goto out;
    if (!bytes) {
        http_error(res, 400, "BadRequest", "size is required");
        goto out;
    }
    rc = alloc_resize(c->g, project, kind, req->params[2], bytes, shrink, &err);
    if (rc == 0)
        rc = alloc_info(c->g, project, kind, req->params[2], false, &info, &err);
    if (rc < 0)
        api_fail(c, res, kind, rc, &err);
    else
        http_json(res, 200, info);
out:
    json_decref(body);
    return res->status;
}

struct delete_job {
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
    unsigned flags; /* KAIROS_ALLOC_DELETE_* */
};

static int delete_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct delete_job *j = arg;

    return alloc_delete_flags(g, j->project, j->kind, j->name, j->flags, err);
}

unsigned rest_alloc_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct delete_job *j;
    const char *project;
    enum kairos_kind kind;
    bool ok = true, force, unless_snapshots;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)))
        return res->status;
    force = params_query_bool(req, "force", &ok, res);
    /* Refuse (409) rather than take the snapshots along: what a CSI driver needs. */
    unless_snapshots = ok ? params_query_bool(req, "unless_snapshots", &ok, res) : false;
    if (!ok)
        return res->status;
    /* Unknown names answer 404 now rather than as a failed operation later. */
    rc = kairos_ledger_get(c->g->k, project, kind, req->params[2], &a, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    kairos_alloc_clear(&a);
    j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(res, 500, "InternalError", "out of memory");
    snprintf(j->project, sizeof(j->project), "%s", project);
    snprintf(j->name, sizeof(j->name), "%s", req->params[2]);
    j->kind = kind;
    j->flags = (force ? KAIROS_ALLOC_DELETE_FORCE : 0) |
               (unless_snapshots ? KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS : 0);
    if (alloc_delete_is_slow(kind))
        return rest_submit(c, "delete", project, delete_work, j, res);
    rc = delete_work(c->g, j, &err);
    free(j);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, json_object());
}

struct flatten_job {
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
};

static int flatten_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct flatten_job *j = arg;

    return kairos_volume_flatten(g->k, j->project, j->name, err);
}

unsigned rest_volume_flatten(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct flatten_job *j;
    struct kairos_alloc a;
    const char *project;
    int rc;

    if (!(project = rest_project_param(c, req, res)) ||
        !rest_name_param(req->params[1], "volume", res))
        return res->status;
    rc = kairos_ledger_get(c->g->k, project, KAIROS_VOLUME, req->params[1], &a, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    kairos_alloc_clear(&a);
    j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(res, 500, "InternalError", "out of memory");
    snprintf(j->project, sizeof(j->project), "%s", project);
    snprintf(j->name, sizeof(j->name), "%s", req->params[1]);
    return rest_submit(c, "flatten", project, flatten_work, j, res);
}
