/*
 * rest_tokens.c - REST v1: project tokens (kairos/token.h), admin only.
 */
#include <string.h>

#include "params.h"
#include "rest_int.h"

/* ---- tokens and operations ---- */

unsigned rest_tokens_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_token_info *t = NULL;
    const char *project;
    json_t *items;
    size_t n = 0;
    int rc;

    if (!rest_admin_only(c, res) || !(project = rest_project_param(c, req, res)))
        return res->status;
    rc = kairos_token_list(c->g->k, project, &t, &n, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, json_pack("{s:s}", "id", t[i].id));
    free(t);
    return http_json(res, 200, rest_page_json(items, false, NULL));
}

unsigned rest_token_create(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_token_info info;
    char token[KAIROS_TOKEN_LEN + 1];
    const char *project;
    json_t *body;
    int rc;

    if (!rest_admin_only(c, res) || !(project = rest_project_param(c, req, res)) ||
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

unsigned rest_token_revoke(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *project;
    int rc;

    if (!rest_admin_only(c, res) || !(project = rest_project_param(c, req, res)))
        return res->status;
    rc = kairos_token_revoke(c->g->k, project, req->params[1], &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}
