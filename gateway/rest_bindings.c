/*
 * rest_bindings.c - REST v1: bindings, keys that reach one allocation
 * (kairos/binding.h).
 */
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "rest_int.h"

/* ---- bindings ---- */

static json_t *binding_json(const struct kairos_binding *b)
{
    return json_pack("{s:s,s:b,s:s,s:I}", "id", b->id, "read_only",
                     (b->flags & KAIROS_BIND_READ_ONLY) != 0, "state",
                     b->pending ? "pending" : "active", "created_ms", (json_int_t)b->created_ms);
}

unsigned rest_bindings_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_binding_page *page;
    enum kairos_kind kind;
    const char *project, *after;
    unsigned limit;
    json_t *items;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) ||
        !rest_page_args(req, &limit, &after, res))
        return res->status;
    rc = kairos_binding_list(c->g->k, project, kind, req->params[2], after, limit, &page, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    items = json_array();
    for (size_t i = 0; i < page->count; i++)
        json_array_append_new(items, binding_json(&page->items[i]));
    http_json(
        res, 200,
        rest_page_json(items, page->more, page->count ? page->items[page->count - 1].id : NULL));
    kairos_binding_page_free(page);
    return 200;
}

unsigned rest_binding_create(void *ctx, struct http_request *req, struct http_response *res)
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

    if (!(project = rest_alloc_param(c, req, &kind, res)) || !(body = params_body(req, res, false)))
        return res->status;
    id = params_string(body, "id", &ok, res);
    ro = params_bool(body, "read_only", false, &ok, res);
    if (!ok || !params_known(body, keys, "the request", res) ||
        !rest_name_param(id ? id : "", "binding", res))
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

unsigned rest_binding_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_binding b;
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) ||
        !rest_name_param(req->params[3], "binding", res))
        return res->status;
    rc = kairos_binding_get(c->g->k, project, kind, req->params[2], req->params[3], &b, &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, binding_json(&b));
}

unsigned rest_binding_delete(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_kind kind;
    const char *project;
    int rc;

    if (!(project = rest_alloc_param(c, req, &kind, res)) ||
        !rest_name_param(req->params[3], "binding", res))
        return res->status;
    rc = kairos_binding_delete(c->g->k, project, kind, req->params[2], req->params[3], &err);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 200, json_object());
}
