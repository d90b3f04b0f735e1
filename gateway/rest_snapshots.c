/*
 * rest_snapshots.c - REST v1: snapshots of volumes and shares.
 */
#include <stdlib.h>

#include "params.h"
#include "rest_int.h"

/* ---- snapshots ---- */

static bool snapshot_kind(enum kairos_kind kind, struct http_response *res)
{
    if (kind == KAIROS_VOLUME || kind == KAIROS_SHARE)
        return true;
    http_error(res, 404, "NotFound", "only volumes and shares have snapshots");
    return false;
}

unsigned rest_snapshots_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    json_t *items = NULL;
    size_t n = 0;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) || !snapshot_kind(kind, res))
        return res->status;
    items = json_array();
    if (kind == KAIROS_VOLUME) {
        struct kairos_volume_snap *s = NULL;
        rc = kairos_volume_snapshot_list(c->g->k, project, req->params[2], &s, &n, &err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            json_array_append_new(items, json_pack("{s:s,s:I,s:I}", "name", s[i].name, "size",
                                                   (json_int_t)s[i].size, "created_ms",
                                                   (json_int_t)s[i].created_ms));
        free(s);
    } else {
        struct kairos_share_snap *s = NULL;
        rc = kairos_share_snapshot_list(c->g->k, project, req->params[2], &s, &n, &err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            json_array_append_new(items, json_pack("{s:s,s:I}", "name", s[i].name, "created_ms",
                                                   (json_int_t)s[i].created_ms));
        free(s);
    }
    if (rc < 0) {
        json_decref(items);
        return api_fail(c, res, KAIROS_SNAPSHOT, rc, &err);
    }
    return http_json(res, 200, rest_page_json(items, false, NULL));
}

unsigned rest_snapshot_create(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"name", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project, *name;
    json_t *body;
    bool ok = true;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) || !snapshot_kind(kind, res) ||
        !(body = params_body(req, res, false)))
        return res->status;
    name = params_string(body, "name", &ok, res);
    if (!ok || !params_known(body, keys, "the request", res) ||
        !rest_name_param(name ? name : "", "snapshot", res))
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

unsigned rest_snapshot_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) || !snapshot_kind(kind, res) ||
        !rest_name_param(req->params[3], "snapshot", res))
        return res->status;
    rc = kind == KAIROS_VOLUME
             ? kairos_volume_snapshot_delete(c->g->k, project, req->params[2], req->params[3], &err)
             : kairos_share_snapshot_delete(c->g->k, project, req->params[2], req->params[3], &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_SNAPSHOT, rc, &err);
    return http_json(res, 200, json_object());
}
