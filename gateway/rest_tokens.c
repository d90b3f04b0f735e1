/*
 * rest_tokens.c - REST v1: project tokens (kairos/token.h), admin only.
 */
#include <string.h>

#include "params.h"
#include "rest_int.h"

/* ---- tokens and operations ---- */

/* A token as listed: id, creation time, and its description if it has one. */
static json_t *token_json(const struct kairos_token_info *t)
{
    json_t *j = json_pack("{s:s,s:I}", "id", t->id, "created_ms", (json_int_t)t->created_ms);

    if (t->description[0])
        json_object_set_new(j, "description", json_string(t->description));
    return j;
}

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
        json_array_append_new(items, token_json(&t[i]));
    free(t);
    return http_json(res, 200, rest_page_json(items, false, NULL));
}

unsigned rest_token_create(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    static const char *const keys[] = {"description", NULL};
    struct kairos_token_info info;
    char token[KAIROS_TOKEN_LEN + 1];
    const char *project;
    const json_t *d;
    json_t *body, *answer;
    int rc;

    if (!rest_admin_only(c, res) || !(project = rest_project_param(c, req, res)) ||
        !(body = params_body(req, res, true)))
        return res->status;
    if (!params_known(body, keys, "token", res)) {
        json_decref(body);
        return res->status;
    }
    d = json_object_get(body, "description");
    if (d && !json_is_string(d)) {
        json_decref(body);
        return http_error(res, 400, "BadRequest", "description must be a string");
    }
    rc = kairos_token_create(c->g->k, project, json_string_value(d), token, &info, &err);
    json_decref(body);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    answer = token_json(&info);
    json_object_set_new(answer, "project", json_string(project));
    json_object_set_new(answer, "token", json_string(token));
    http_json(res, 201, answer);
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
