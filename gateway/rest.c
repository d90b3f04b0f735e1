/*
 * rest.c - REST v1 (see rest.h). Every handler checks the caller's reach
 * and the whole body before it changes anything.
 */
#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "gateway.h"
#include "metrics.h"
#include "ops.h"
#include "params.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

/* ---- common checks ---- */

static bool admin_only(struct call *c, struct http_response *res)
{
    if (c->who.admin)
        return true;
    http_error(res, 403, "Forbidden", "this needs the admin token");
    return false;
}

/* req->params[0] as a project the caller may reach, or NULL after answering. */
static const char *project_param(struct call *c, struct http_request *req,
                                 struct http_response *res)
{
    const char *p = req->params[0];

    if (!kairos_name_valid(p)) {
        http_error(res, 400, "BadRequest", "bad project name");
        return NULL;
    }
    if (!c->who.admin && strcmp(c->who.project, p) != 0) {
        http_error(res, 403, "Forbidden", "this token does not reach project %s", p);
        return NULL;
    }
    return p;
}

/* "volumes" -> KAIROS_VOLUME, or false after answering 404. */
static bool kind_param(const char *s, enum kairos_kind *kind, struct http_response *res)
{
    static const struct {
        const char *plural;
        enum kairos_kind kind;
    } kinds[] = {{"volumes", KAIROS_VOLUME}, {"shares", KAIROS_SHARE}, {"buckets", KAIROS_BUCKET}};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(s, kinds[i].plural) == 0) {
            *kind = kinds[i].kind;
            return true;
        }
    }
    http_error(res, 404, "NotFound", "no such collection '%.32s'", s);
    return false;
}

static bool name_param(const char *s, const char *what, struct http_response *res)
{
    if (kairos_name_valid(s))
        return true;
    http_error(res, 400, "BadRequest", "bad %s name: 1 to 63 of a-z, 0-9 and '-'", what);
    return false;
}

/* ?limit= and ?after= of a listing. */
static bool page_args(const struct http_request *req, unsigned *limit, const char **after,
                      struct http_response *res)
{
    const char *l = req->query(req->lookup_arg, "limit");
    char *end;

    *after = req->query(req->lookup_arg, "after");
    *limit = PAGE_DEFAULT;
    if (l) {
        unsigned long v = strtoul(l, &end, 10);
        if (*l < '0' || *l > '9' || *end || v == 0 || v > PAGE_MAX) {
            http_error(res, 400, "BadRequest", "limit must be 1 to %d", PAGE_MAX);
            return false;
        }
        *limit = (unsigned)v;
    }
    if (*after && strlen(*after) > KAIROS_ALLOC_NAME_MAX) {
        http_error(res, 400, "BadRequest", "after is too long");
        return false;
    }
    return true;
}

static json_t *page_json(json_t *items, bool more, const char *last)
{
    json_t *j = json_pack("{s:o}", "items", items);

    json_object_set_new(j, "next", more && last ? json_string(last) : json_null());
    return j;
}

/* ---- quotas ---- */

static json_t *limit_json(uint64_t v)
{
    return v == KAIROS_UNLIMITED ? json_null() : json_integer((json_int_t)v);
}

static json_t *quota_json(const struct kairos_quota *q)
{
    json_t *j = json_object();

    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        json_t *l = json_pack("{s:o}", "count", limit_json(q->kind[k].count));
        if (k != KAIROS_SNAPSHOT)
            json_object_set_new(l, "bytes", limit_json(q->kind[k].bytes));
        json_object_set_new(j, kairos_kind_name(k), l);
    }
    json_object_set_new(j, "total", json_pack("{s:o}", "bytes", limit_json(q->total_bytes)));
    return j;
}

/* One limit: null (no limit), bytes or a size string, or a count. */
static bool limit_parse(const json_t *obj, const char *key, bool bytes, uint64_t *out,
                        struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return true;
    if (json_is_null(v)) {
        *out = KAIROS_UNLIMITED;
        return true;
    }
    return bytes ? params_size(obj, key, out, res) : params_count(obj, key, out, res);
}

static bool quota_parse(const json_t *j, struct kairos_quota *q, struct http_response *res)
{
    static const char *const top[] = {"volume", "share", "bucket", "snapshot", "total", NULL};
    static const char *const both[] = {"bytes", "count", NULL};
    static const char *const count_only[] = {"count", NULL};
    static const char *const bytes_only[] = {"bytes", NULL};
    const json_t *t;

    if (!params_known(j, top, "the quota", res))
        return false;
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        const json_t *l = json_object_get(j, kairos_kind_name(k));
        if (!l)
            continue;
        if (!json_is_object(l)) {
            http_error(res, 400, "BadRequest", "quota.%s must be an object", kairos_kind_name(k));
            return false;
        }
        if (!params_known(l, k == KAIROS_SNAPSHOT ? count_only : both, kairos_kind_name(k), res) ||
            !limit_parse(l, "bytes", true, &q->kind[k].bytes, res) ||
            !limit_parse(l, "count", false, &q->kind[k].count, res))
            return false;
    }
    t = json_object_get(j, "total");
    if (t && (!json_is_object(t) || !params_known(t, bytes_only, "total", res) ||
              !limit_parse(t, "bytes", true, &q->total_bytes, res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "quota.total must be an object");
        return false;
    }
    return true;
}

/* ---- projects ---- */

static json_t *project_json(const struct kairos_project *p, bool with_quota)
{
    static const char *const states[] = {"active", "creating", "deleting"};
    json_t *j = json_pack("{s:s,s:s,s:I}", "name", p->name, "state", states[p->state], "created_ms",
                          (json_int_t)p->created_ms);

    if (p->owner.platform[0])
        json_object_set_new(
            j, "owner", json_pack("{s:s,s:s}", "platform", p->owner.platform, "id", p->owner.id));
    if (with_quota)
        json_object_set_new(j, "quota", quota_json(&p->quota));
    return j;
}

static unsigned projects_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_project_page *page;
    const char *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!admin_only(c, res) || !page_args(req, &limit, &after, res))
        return res->status;
    rc = kairos_project_list(c->g->k, after, limit, &page, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < page->count; i++)
        json_array_append_new(items, project_json(&page->items[i], false));
    http_json(res, 200,
              page_json(items, page->more, page->count ? page->items[page->count - 1].name : NULL));
    kairos_project_page_free(page);
    return 200;
}

static unsigned projects_create(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"name", "plan", "quota", "owner", NULL};
    static const char *const okeys[] = {"platform", "id", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_owner owner = {0};
    struct kairos_project p;
    struct kairos_quota q;
    const char *name, *plan, *platform = NULL, *oid = NULL;
    const json_t *quota, *ow;
    json_t *body;
    bool ok = true;
    int rc;

    if (!admin_only(c, res) || !(body = params_body(req, res, false)))
        return res->status;
    if (!params_known(body, keys, "the request", res))
        goto out;
    name = params_string(body, "name", &ok, res);
    plan = params_string(body, "plan", &ok, res);
    if (!ok)
        goto out;
    if (!name || !kairos_name_valid(name)) {
        http_error(res, 400, "BadRequest", "name: 1 to 63 of a-z, 0-9 and '-' is required");
        goto out;
    }
    kairos_quota_unlimited(&q);
    if (plan) {
        const struct kairos_plan *pl = kairos_policy_plan(c->g->policy, plan);
        if (!pl) {
            http_error(res, 400, "BadRequest", "no plan '%.63s'", plan);
            goto out;
        }
        q = pl->quota;
    }
    quota = json_object_get(body, "quota");
    if (quota && (!json_is_object(quota) || !quota_parse(quota, &q, res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "quota must be an object");
        goto out;
    }
    ow = json_object_get(body, "owner");
    if (ow) {
        if (!json_is_object(ow) || !params_known(ow, okeys, "owner", res)) {
            if (!res->status)
                http_error(res, 400, "BadRequest", "owner must be an object");
            goto out;
        }
        platform = params_string(ow, "platform", &ok, res);
        oid = params_string(ow, "id", &ok, res);
        if (!ok)
            goto out;
        if (!platform || !oid || !kairos_name_valid(platform) || !kairos_owner_id_valid(oid) ||
            strlen(platform) > KAIROS_PLATFORM_MAX) {
            http_error(res, 400, "BadRequest", "owner needs a valid platform and id");
            goto out;
        }
        snprintf(owner.platform, sizeof(owner.platform), "%s", platform);
        snprintf(owner.id, sizeof(owner.id), "%s", oid);
    }
    rc = kairos_project_create(c->g->k, name, ow ? &owner : NULL, &q, &err);
    if (rc == 0)
        rc = kairos_project_get(c->g->k, name, &p, &err);
    if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    else
        http_json(res, 201, project_json(&p, true));
out:
    json_decref(body);
    return res->status;
}

static unsigned project_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_project p;
    const char *name = project_param(c, req, res);
    int rc;

    if (!name)
        return res->status;
    rc = kairos_project_get(c->g->k, name, &p, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, project_json(&p, true));
}

static unsigned project_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *name;
    bool ok = true, force;
    int rc;

    if (!admin_only(c, res) || !(name = project_param(c, req, res)))
        return res->status;
    force = params_query_bool(req, "force", &ok, res);
    if (!ok)
        return res->status;
    rc = kairos_project_delete(c->g->k, name, force ? KAIROS_DELETE_FORCE : 0, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}

static unsigned quota_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_project p;
    const char *name = project_param(c, req, res);
    int rc;

    if (!name)
        return res->status;
    rc = kairos_project_get(c->g->k, name, &p, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, quota_json(&p.quota));
}

static unsigned quota_set(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_quota patch, q;
    const char *name;
    json_t *body = NULL;
    bool ok = true, below;
    int rc;

    if (!admin_only(c, res) || !(name = project_param(c, req, res)))
        return res->status;
    below = params_query_bool(req, "below_usage", &ok, res);
    if (!ok || !(body = params_body(req, res, false)))
        return res->status;
    /* Limits left out of the body keep their value, as read in the same guarded write. */
    for (int k = 0; k < KAIROS_KIND_COUNT; k++)
        patch.kind[k].bytes = patch.kind[k].count = KAIROS_QUOTA_KEEP;
    patch.total_bytes = KAIROS_QUOTA_KEEP;
    if (!quota_parse(body, &patch, res))
        goto out;
    rc = kairos_project_update_quota(c->g->k, name, &patch, below ? KAIROS_QUOTA_BELOW_USAGE : 0,
                                     &q, &err);
    /* A limit below what is allocated: the quota would be exceeded at once. */
    if (rc == -EBUSY)
        http_error(res, 422, "QuotaExceeded", "%s; below_usage=true sets it anyway", err.msg);
    else if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    else
        http_json(res, 200, quota_json(&q));
out:
    json_decref(body);
    return res->status;
}

static json_t *usage_json(const struct kairos_usage *u)
{
    json_t *j = json_object();

    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        const struct kairos_usage_kind *uk = &u->kind[k];
        json_t *e =
            json_pack("{s:o,s:o,s:I,s:I}", "quota_bytes", limit_json(uk->quota.bytes),
                      "quota_count", limit_json(uk->quota.count), "allocated_bytes",
                      (json_int_t)uk->alloc_bytes, "allocated_count", (json_int_t)uk->alloc_count);
        json_object_set_new(e, "used_bytes",
                            uk->used_bytes < 0 ? json_null() : json_integer(uk->used_bytes));
        json_object_set_new(j, kairos_kind_name(k), e);
    }
    json_object_set_new(
        j, "total",
        json_pack("{s:o,s:I,s:o}", "quota_bytes", limit_json(u->total_quota_bytes),
                  "allocated_bytes", (json_int_t)u->total_alloc_bytes, "used_bytes",
                  u->total_used_bytes < 0 ? json_null() : json_integer(u->total_used_bytes)));
    return j;
}

static unsigned usage_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_usage u;
    const char *name = project_param(c, req, res);
    int rc;

    if (!name)
        return res->status;
    rc = kairos_usage_get(c->g->k, name, &u, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, usage_json(&u));
}

static unsigned capacity_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_capacity_report r;
    json_t *kinds;
    int rc;

    (void)req;
    if (!admin_only(c, res))
        return res->status;
    rc = kairos_capacity_get(c->g->k, &r, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    kinds = json_object();
    for (int k = 0; k < KAIROS_KIND_COUNT; k++)
        json_object_set_new(kinds, kairos_kind_name(k),
                            json_pack("{s:o,s:I,s:I}", "quota_bytes", limit_json(r.quota_bytes[k]),
                                      "allocated_bytes", (json_int_t)r.allocated_bytes[k],
                                      "allocated_count", (json_int_t)r.allocated_count[k]));
    return http_json(
        res, 200,
        json_pack("{s:I,s:f,s:f,s:I,s:I,s:I,s:o,s:I,s:I,s:f,s:i,s:o}", "usable",
                  (json_int_t)r.usable, "full_ratio", r.full_ratio, "headroom", r.headroom, "limit",
                  (json_int_t)r.limit, "granted", (json_int_t)r.granted, "allocated_effective",
                  (json_int_t)r.allocated_eff, "quota_total", limit_json(r.quota_total),
                  "allocated_total", (json_int_t)r.allocated_total, "used", (json_int_t)r.used,
                  "oversubscription", r.oversubscription, "projects", (int)r.projects, "kinds",
                  kinds));
}

/* ---- allocations ---- */

static unsigned allocs_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_alloc_page *page;
    enum kairos_kind kind;
    const char *project, *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !page_args(req, &limit, &after, res))
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
    http_json(res, 200,
              page_json(items, page->more, page->count ? page->items[page->count - 1].name : NULL));
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
    static const char *const keys[] = {"project", "volume", "snapshot", NULL};
    const char *p, *v, *s;
    bool ok = true;

    if (!json_is_object(src) || !params_known(src, keys, "source", res)) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "source must be an object");
        return false;
    }
    p = params_string(src, "project", &ok, res);
    v = params_string(src, "volume", &ok, res);
    s = params_string(src, "snapshot", &ok, res);
    if (!ok)
        return false;
    if (j->spec.kind != KAIROS_VOLUME || !v || !s || !kairos_name_valid(v) ||
        !kairos_name_valid(s) || (p && !kairos_name_valid(p))) {
        http_error(res, 400, "BadRequest",
                   "only volumes are cloned, from a source with a volume and a snapshot");
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
    j->spec.src_volume = j->src_volume;
    j->spec.src_snap = j->src_snap;
    return true;
}

static unsigned submit(struct call *c, const char *what, ops_fn fn, void *job,
                       struct http_response *res)
{
    struct kairos_error err = {0};
    char op[OPS_ID_LEN + 1];
    int rc;

    ops_id_new(op);
    rc = ops_submit(c->g->ops, op, what, fn, job, &err);
    if (rc < 0)
        return http_error(res, 503, "ServiceUnavailable", "%s", err.msg);
    return http_json(res, 202, json_pack("{s:s,s:s}", "operation", op, "state", "in progress"));
}

static unsigned alloc_create_handler(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"name", "size", "max_files", "max_objects", "source", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct create_job *j = NULL;
    const char *project, *name;
    json_t *body = NULL, *info;
    bool ok = true;
    int rc;

    if (!(project = project_param(c, req, res)))
        return res->status;
    j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(res, 500, "InternalError", "out of memory");
    if (!kind_param(req->params[1], &j->spec.kind, res) || !(body = params_body(req, res, false)) ||
        !params_known(body, keys, "the request", res))
        goto out;
    name = params_string(body, "name", &ok, res);
    if (!ok || !name_param(name ? name : "", "allocation", res) ||
        !params_size(body, "size", &j->spec.bytes, res) ||
        !params_count(body, "max_files", &j->spec.max_files, res) ||
        !params_count(body, "max_objects", &j->spec.max_objects, res))
        goto out;
    snprintf(j->project, sizeof(j->project), "%s", project);
    snprintf(j->name, sizeof(j->name), "%s", name);
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
    if (j->spec.max_objects && j->spec.kind != KAIROS_BUCKET) {
        http_error(res, 400, "BadRequest", "max_objects is for buckets");
        goto out;
    }
    if (alloc_create_is_slow(&j->spec)) {
        submit(c, "clone", create_work, j, res);
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

static unsigned alloc_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    json_t *info;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res))
        return res->status;
    rc = alloc_info(c->g, project, kind, req->params[2], true, &info, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, info);
}

static unsigned alloc_patch(void *ctx, struct http_request *req, struct http_response *res)
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

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !(body = params_body(req, res, false)))
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
    bool force;
};

static int delete_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct delete_job *j = arg;

    return alloc_delete(g, j->project, j->kind, j->name, j->force, err);
}

static unsigned alloc_delete_handler(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct delete_job *j;
    const char *project;
    enum kairos_kind kind;
    bool ok = true, force;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res))
        return res->status;
    force = params_query_bool(req, "force", &ok, res);
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
    j->force = force;
    if (alloc_delete_is_slow(kind))
        return submit(c, "delete", delete_work, j, res);
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

static unsigned volume_flatten(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct flatten_job *j;
    struct kairos_alloc a;
    const char *project;
    int rc;

    if (!(project = project_param(c, req, res)) || !name_param(req->params[1], "volume", res))
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
    return submit(c, "flatten", flatten_work, j, res);
}

/* ---- snapshots ---- */

static bool snapshot_kind(enum kairos_kind kind, struct http_response *res)
{
    if (kind == KAIROS_VOLUME || kind == KAIROS_SHARE)
        return true;
    http_error(res, 404, "NotFound", "only volumes and shares have snapshots");
    return false;
}

static unsigned snapshots_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    json_t *items = NULL;
    size_t n = 0;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !snapshot_kind(kind, res) || !name_param(req->params[2], kairos_kind_name(kind), res))
        return res->status;
    items = json_array();
    if (kind == KAIROS_VOLUME) {
        struct kairos_volume_snap *s = NULL;
        rc = kairos_volume_snapshot_list(c->g->k, project, req->params[2], &s, &n, &err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            json_array_append_new(
                items, json_pack("{s:s,s:I}", "name", s[i].name, "size", (json_int_t)s[i].size));
        free(s);
    } else {
        struct kairos_share_snap *s = NULL;
        rc = kairos_share_snapshot_list(c->g->k, project, req->params[2], &s, &n, &err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            json_array_append_new(items, json_pack("{s:s}", "name", s[i].name));
        free(s);
    }
    if (rc < 0) {
        json_decref(items);
        return api_fail(c, res, KAIROS_SNAPSHOT, rc, &err);
    }
    return http_json(res, 200, page_json(items, false, NULL));
}

static unsigned snapshot_create(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"name", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project, *name;
    json_t *body;
    bool ok = true;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !snapshot_kind(kind, res) || !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !(body = params_body(req, res, false)))
        return res->status;
    name = params_string(body, "name", &ok, res);
    if (!ok || !params_known(body, keys, "the request", res) ||
        !name_param(name ? name : "", "snapshot", res))
        goto out;
    rc = kind == KAIROS_VOLUME
             ? kairos_volume_snapshot_create(c->g->k, project, req->params[2], name, &err)
             : kairos_share_snapshot_create(c->g->k, project, req->params[2], name, &err);
    if (rc < 0)
        api_fail(c, res, KAIROS_SNAPSHOT, rc, &err);
    else
        http_json(res, 201, json_pack("{s:s}", "name", name));
out:
    json_decref(body);
    return res->status;
}

static unsigned snapshot_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !snapshot_kind(kind, res) || !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !name_param(req->params[3], "snapshot", res))
        return res->status;
    rc = kind == KAIROS_VOLUME
             ? kairos_volume_snapshot_delete(c->g->k, project, req->params[2], req->params[3], &err)
             : kairos_share_snapshot_delete(c->g->k, project, req->params[2], req->params[3], &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_SNAPSHOT, rc, &err);
    return http_json(res, 200, json_object());
}

/* ---- bindings ---- */

static json_t *binding_json(const struct kairos_binding *b)
{
    return json_pack("{s:s,s:b,s:s,s:I}", "id", b->id, "read_only",
                     (b->flags & KAIROS_BIND_READ_ONLY) != 0, "state",
                     b->pending ? "pending" : "active", "created_ms", (json_int_t)b->created_ms);
}

static unsigned bindings_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_binding_page *page;
    enum kairos_kind kind;
    const char *project, *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !page_args(req, &limit, &after, res))
        return res->status;
    rc = kairos_binding_list(c->g->k, project, kind, req->params[2], after, limit, &page, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    items = json_array();
    for (size_t i = 0; i < page->count; i++)
        json_array_append_new(items, binding_json(&page->items[i]));
    http_json(res, 200,
              page_json(items, page->more, page->count ? page->items[page->count - 1].id : NULL));
    kairos_binding_page_free(page);
    return 200;
}

static unsigned binding_create(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"id", "read_only", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project, *id;
    char *creds = NULL;
    json_t *body, *cj;
    bool ok = true, ro;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !(body = params_body(req, res, false)))
        return res->status;
    id = params_string(body, "id", &ok, res);
    ro = params_bool(body, "read_only", false, &ok, res);
    if (!ok || !params_known(body, keys, "the request", res) ||
        !name_param(id ? id : "", "binding", res))
        goto out;
    rc = kairos_binding_create(c->g->k, project, kind, req->params[2], id,
                               ro ? KAIROS_BIND_READ_ONLY : 0, &creds, &err);
    if (rc < 0) {
        api_fail(c, res, kind, rc, &err);
        goto out;
    }
    cj = json_loads(creds, 0, NULL);
    explicit_bzero(creds, strlen(creds));
    free(creds);
    http_json(res, 201,
              json_pack("{s:s,s:b,s:o}", "id", id, "read_only", ro, "credentials",
                        cj ? cj : json_object()));
out:
    json_decref(body);
    return res->status;
}

static unsigned binding_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_binding b;
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !name_param(req->params[3], "binding", res))
        return res->status;
    rc = kairos_binding_get(c->g->k, project, kind, req->params[2], req->params[3], &b, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, binding_json(&b));
}

static unsigned binding_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = project_param(c, req, res)) || !kind_param(req->params[1], &kind, res) ||
        !name_param(req->params[2], kairos_kind_name(kind), res) ||
        !name_param(req->params[3], "binding", res))
        return res->status;
    rc = kairos_binding_delete(c->g->k, project, kind, req->params[2], req->params[3], &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, json_object());
}

/* ---- tokens and operations ---- */

static unsigned tokens_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_token_info *t = NULL;
    const char *project;
    json_t *items;
    size_t n = 0;
    int rc;

    if (!admin_only(c, res) || !(project = project_param(c, req, res)))
        return res->status;
    rc = kairos_token_list(c->g->k, project, &t, &n, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, json_pack("{s:s}", "id", t[i].id));
    free(t);
    return http_json(res, 200, page_json(items, false, NULL));
}

static unsigned token_create(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_token_info info;
    char token[KAIROS_TOKEN_LEN + 1];
    const char *project;
    json_t *body;
    int rc;

    if (!admin_only(c, res) || !(project = project_param(c, req, res)) ||
        !(body = params_body(req, res, true)))
        return res->status;
    if (json_object_size(body)) {
        json_decref(body);
        return http_error(res, 400, "BadRequest", "a token takes no fields");
    }
    json_decref(body);
    rc = kairos_token_create(c->g->k, project, token, &info, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    http_json(res, 201,
              json_pack("{s:s,s:s,s:s}", "id", info.id, "project", project, "token", token));
    explicit_bzero(token, sizeof(token));
    return 201;
}

static unsigned token_revoke(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *project;
    int rc;

    if (!admin_only(c, res) || !(project = project_param(c, req, res)))
        return res->status;
    rc = kairos_token_revoke(c->g->k, project, req->params[1], &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}

static unsigned operation_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *id = req->params[0];
    json_t *op;
    int rc;

    if (strlen(id) != OPS_ID_LEN || strspn(id, "0123456789abcdef") != OPS_ID_LEN)
        return http_error(res, 400, "BadRequest", "bad operation id");
    rc = ops_get(c->g, id, &op, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    json_object_set_new(op, "id", json_string(id));
    return http_json(res, 200, op);
}

const struct route rest_routes[] = {
    {HTTP_GET, "/v1/projects", projects_list},
    {HTTP_POST, "/v1/projects", projects_create},
    {HTTP_GET, "/v1/projects/:p", project_show},
    {HTTP_DELETE, "/v1/projects/:p", project_delete},
    {HTTP_GET, "/v1/projects/:p/quota", quota_show},
    {HTTP_PUT, "/v1/projects/:p/quota", quota_set},
    {HTTP_GET, "/v1/projects/:p/usage", usage_show},
    {HTTP_GET, "/v1/projects/:p/tokens", tokens_list},
    {HTTP_POST, "/v1/projects/:p/tokens", token_create},
    {HTTP_DELETE, "/v1/projects/:p/tokens/:id", token_revoke},
    {HTTP_GET, "/v1/capacity", capacity_show},
    {HTTP_GET, "/v1/operations/:id", operation_show},
    {HTTP_POST, "/v1/projects/:p/volumes/:v/flatten", volume_flatten},
    {HTTP_GET, "/v1/projects/:p/:kind", allocs_list},
    {HTTP_POST, "/v1/projects/:p/:kind", alloc_create_handler},
    {HTTP_GET, "/v1/projects/:p/:kind/:name", alloc_show},
    {HTTP_PATCH, "/v1/projects/:p/:kind/:name", alloc_patch},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name", alloc_delete_handler},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/snapshots", snapshots_list},
    {HTTP_POST, "/v1/projects/:p/:kind/:name/snapshots", snapshot_create},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name/snapshots/:snap", snapshot_delete},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/bindings", bindings_list},
    {HTTP_POST, "/v1/projects/:p/:kind/:name/bindings", binding_create},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/bindings/:id", binding_show},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name/bindings/:id", binding_delete},
};
const size_t rest_nroutes = sizeof(rest_routes) / sizeof(rest_routes[0]);
