/*
 * rest_projects.c - REST v1: projects, their quota and usage, and the
 * cluster's capacity. A project record is read through the gateway's cache
 * (kairos/cache.h): the authenticated read path never waits on RADOS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "rest_int.h"
#include "tenant.h"

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

unsigned rest_projects_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_project_page *page;
    const char *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!rest_admin_only(c, res) || !rest_page_args(req, &limit, &after, res))
        return res->status;
    rc = kairos_project_list(c->g->k, after, limit, &page, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < page->count; i++)
        json_array_append_new(items, project_json(&page->items[i], false));
    http_json(
        res, 200,
        rest_page_json(items, page->more, page->count ? page->items[page->count - 1].name : NULL));
    kairos_project_page_free(page);
    return 200;
}

unsigned rest_projects_create(void *ctx, struct http_request *req, struct http_response *res)
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

    if (!rest_admin_only(c, res) || !(body = params_body(req, res, false)))
        return res->status;
    if (!params_known(body, keys, "the request", res))
        goto out;
    name = params_string(body, "name", &ok, res);
    plan = params_string(body, "plan", &ok, res);
    if (!ok)
        goto out;
    if (!name || !kairos_name_valid(name)) {
        http_error(res, 400, "BadRequest",
                   "name is required: 1 to 63 of a-z, 0-9 and '-', starting and ending with a "
                   "letter or digit");
        goto out;
    }
    call_note(c, name, KAIROS_VOLUME, NULL);
    kairos_quota_unlimited(&q);
    if (plan) {
        const struct kairos_plan *pl = kairos_policy_plan(gateway_policy(c->g), plan);
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

/* The project of the path, read (from the cache), or false after answering. */
static bool project_read(struct call *c, struct http_request *req, struct kairos_project *p,
                         struct http_response *res)
{
    struct kairos_error err = {0};
    const char *name = rest_project_param(c, req, res);
    int rc;

    if (!name)
        return false;
    rc = gateway_project_get(c->g, name, p, &err);
    if (rc < 0) {
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
        return false;
    }
    return true;
}

unsigned rest_project_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct kairos_project p;

    if (!project_read(ctx, req, &p, res))
        return res->status;
    return http_json(res, 200, project_json(&p, true));
}

unsigned rest_project_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *name;
    bool ok = true, force;
    int rc;

    if (!rest_admin_only(c, res) || !(name = rest_project_param(c, req, res)))
        return res->status;
    force = params_query_bool(req, "force", &ok, res);
    if (!ok)
        return res->status;
    rc = kairos_project_delete(c->g->k, name, force ? KAIROS_DELETE_FORCE : 0, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}

unsigned rest_quota_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct kairos_project p;

    if (!project_read(ctx, req, &p, res))
        return res->status;
    return http_json(res, 200, quota_json(&p.quota));
}

unsigned rest_quota_set(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_quota patch, q;
    const char *name;
    json_t *body = NULL;
    bool ok = true, below;
    int rc;

    if (!rest_admin_only(c, res) || !(name = rest_project_param(c, req, res)))
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

unsigned rest_usage_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_usage u;
    json_t *j;
    const char *name = rest_project_param(c, req, res);
    int rc;

    if (!name)
        return res->status;
    rc = kairos_usage_get(c->g->k, name, &u, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    j = usage_json(&u);
    /* What the drift scan found, beside what the ledger counts. */
    json_object_set_new(j, "drift", tenant_drift_summary(c->g->k, name));
    return http_json(res, 200, j);
}

unsigned rest_capacity_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_capacity_report r;
    json_t *kinds;
    int rc;

    (void)req;
    if (!rest_admin_only(c, res))
        return res->status;
    rc = kairos_capacity_get(c->g->k, &r, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    kinds = json_object();
    /* overcommit: what admission divides a kind's bytes by (clients report thin provisioning). */
    for (int k = 0; k < KAIROS_KIND_COUNT; k++)
        json_object_set_new(kinds, kairos_kind_name(k),
                            json_pack("{s:o,s:I,s:I,s:f}", "quota_bytes",
                                      limit_json(r.quota_bytes[k]), "allocated_bytes",
                                      (json_int_t)r.allocated_bytes[k], "allocated_count",
                                      (json_int_t)r.allocated_count[k], "overcommit",
                                      gateway_policy(c->g)->capacity.overcommit[k]));
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

/* Where clients find the cluster: any token may ask (no secret in it). */
unsigned rest_cluster_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const struct kairos_config *cfg = kairos_get_config(c->g->k);
    struct kairos_error err = {0};
    struct kairos_cluster_info *info = malloc(sizeof(*info));
    int rc;

    (void)req;
    if (!info)
        return http_error(res, 500, "InternalError", "out of memory");
    rc = kairos_cluster_info(c->g->k, info, &err);
    if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    else
        http_json(res, 200,
                  json_pack("{s:s,s:s,s:s,s:s,s:s}", "fsid", info->fsid, "mon_host", info->mon_host,
                            "block_pool", cfg->pools.block, "cephfs_name", cfg->pools.cephfs_name,
                            "share_root", cfg->pools.share_root));
    free(info);
    return res->status;
}
