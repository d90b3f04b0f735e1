/*
 * rest.c - REST v1 (see rest.h): the route table and the checks every
 * handler shares (see rest_int.h for the modules). Every handler checks
 * the caller's reach and the whole body before it changes anything.
 */
#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rest_int.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

/* ---- common checks ---- */

bool rest_admin_only(struct call *c, struct http_response *res)
{
    if (c->who.admin)
        return true;
    http_error(res, 403, "Forbidden", "this needs the admin token");
    return false;
}

/* req->params[0] as a project the caller may reach, or NULL after answering. */
const char *rest_project_param(struct call *c, struct http_request *req, struct http_response *res)
{
    const char *p = req->params[0];

    if (!kairos_name_valid(p)) {
        http_error(res, 400, "BadRequest", "bad project name");
        return NULL;
    }
    call_note(c, p, KAIROS_VOLUME, NULL);
    if (!c->who.admin && strcmp(c->who.project, p) != 0) {
        http_error(res, 403, "Forbidden", "this token does not reach project %s", p);
        return NULL;
    }
    return p;
}

/* "volumes" -> KAIROS_VOLUME, or false after answering 404. */
bool rest_kind_param(const char *s, enum kairos_kind *kind, struct http_response *res)
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

bool rest_name_param(const char *s, const char *what, struct http_response *res)
{
    if (kairos_name_valid(s))
        return true;
    http_error(res, 400, "BadRequest",
               "bad %s name: 1 to 63 of a-z, 0-9 and '-', starting and ending with a letter or "
               "digit",
               what);
    return false;
}

/* The path /v1/projects/P/KIND/NAME: P (the caller's reach), KIND and NAME checked. */
const char *rest_alloc_param(struct call *c, struct http_request *req, enum kairos_kind *kind,
                             struct http_response *res)
{
    const char *project = rest_project_param(c, req, res);

    if (!project || !rest_kind_param(req->params[1], kind, res) ||
        !rest_name_param(req->params[2], kairos_kind_name(*kind), res))
        return NULL;
    call_note(c, NULL, *kind, req->params[2]);
    return project;
}

/* ?limit= and ?after= of a listing. */
bool rest_page_args(const struct http_request *req, unsigned *limit, const char **after,
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

json_t *rest_page_json(json_t *items, bool more, const char *last)
{
    json_t *j = json_pack("{s:o}", "items", items);

    json_object_set_new(j, "next", more && last ? json_string(last) : json_null());
    return j;
}

const struct route rest_routes[] = {
    {HTTP_GET, "/v1/projects", rest_projects_list},
    {HTTP_POST, "/v1/projects", rest_projects_create},
    {HTTP_GET, "/v1/projects/:p", rest_project_show},
    {HTTP_DELETE, "/v1/projects/:p", rest_project_delete},
    {HTTP_GET, "/v1/projects/:p/quota", rest_quota_show},
    {HTTP_PUT, "/v1/projects/:p/quota", rest_quota_set},
    {HTTP_GET, "/v1/projects/:p/usage", rest_usage_show},
    {HTTP_GET, "/v1/projects/:p/tokens", rest_tokens_list},
    {HTTP_POST, "/v1/projects/:p/tokens", rest_token_create},
    {HTTP_DELETE, "/v1/projects/:p/tokens/:id", rest_token_revoke},
    {HTTP_GET, "/v1/capacity", rest_capacity_show},
    {HTTP_GET, "/v1/cluster", rest_cluster_show},
    {HTTP_GET, "/v1/operations/:id", rest_operation_show},
    {HTTP_GET, "/v1/audit", rest_audit_list},
    {HTTP_POST, "/v1/audit/trim", rest_audit_trim},
    {HTTP_POST, "/v1/projects/:p/volumes/:v/flatten", rest_volume_flatten},
    {HTTP_GET, "/v1/projects/:p/:kind", rest_allocs_list},
    {HTTP_POST, "/v1/projects/:p/:kind", rest_alloc_create},
    {HTTP_GET, "/v1/projects/:p/:kind/:name", rest_alloc_show},
    {HTTP_PATCH, "/v1/projects/:p/:kind/:name", rest_alloc_patch},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name", rest_alloc_delete},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/snapshots", rest_snapshots_list},
    {HTTP_POST, "/v1/projects/:p/:kind/:name/snapshots", rest_snapshot_create},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name/snapshots/:snap", rest_snapshot_delete},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/bindings", rest_bindings_list},
    {HTTP_POST, "/v1/projects/:p/:kind/:name/bindings", rest_binding_create},
    {HTTP_GET, "/v1/projects/:p/:kind/:name/bindings/:id", rest_binding_show},
    {HTTP_DELETE, "/v1/projects/:p/:kind/:name/bindings/:id", rest_binding_delete},
};
const size_t rest_nroutes = sizeof(rest_routes) / sizeof(rest_routes[0]);
