/*
 * rest_audit.c - REST v1: the audit log (kairos/audit.h). An admin token
 * reads every project's entries; a project token reads its own project's
 * only (the changes made to it, by anyone). Trimming is admin only.
 */
#include <stdlib.h>
#include <string.h>

#include <kairos/audit.h>

#include "rest_int.h"

/* @s, or null when empty. */
static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *entry_json(const struct kairos_audit_entry *e)
{
    char when[KAIROS_AUDIT_TIME_LEN];
    json_t *identity = e->identity[0] ? json_loads(e->identity, 0, NULL) : NULL;

    kairos_audit_time_format(e->time_ms, when);
    /* The originating identity as the object the platform sent; as text if it does not parse. */
    if (!identity)
        identity = str_or_null(e->identity);
    return json_pack("{s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o}", "id", e->id,
                     "time", when, "time_ms", (json_int_t)e->time_ms, "request_id",
                     str_or_null(e->request_id), "actor", str_or_null(e->actor), "token_id",
                     str_or_null(e->token_id), "platform", str_or_null(e->platform), "identity",
                     identity, "method", str_or_null(e->method), "path", str_or_null(e->path),
                     "project", str_or_null(e->project), "kind", str_or_null(e->kind), "name",
                     str_or_null(e->name), "status", (json_int_t)e->status, "error",
                     str_or_null(e->error));
}

/* ?project, ?since and ?limit into @q, checked against the caller's reach; false after answering.
 */
static bool audit_args(struct call *c, const struct http_request *req, struct kairos_audit_query *q,
                       struct http_response *res)
{
    const char *project = req->query(req->lookup_arg, "project");
    const char *since = req->query(req->lookup_arg, "since");
    const char *after;

    if (!rest_page_args(req, &q->limit, &after, res))
        return false;
    if (since && kairos_audit_time_parse(since, ops_now_ms(), &q->since_ms) < 0) {
        http_error(res, 400, "BadRequest",
                   "since must be an ISO 8601 time such as 2026-12-05T04:00:00Z, or an age "
                   "such as 90m or 2d, not in the future");
        return false;
    }
    if (project && !kairos_name_valid(project)) {
        http_error(res, 400, "BadRequest", "bad project name");
        return false;
    }
    if (!c->who.admin) {
        if (project && strcmp(project, c->who.project) != 0) {
            http_error(res, 403, "Forbidden", "this token does not reach project %s", project);
            return false;
        }
        project = c->who.project;
    }
    q->project = project;
    return true;
}

unsigned rest_audit_list(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_audit_query q = {0};
    struct kairos_audit_entry *e = NULL;
    struct kairos_error err = {0};
    json_t *items;
    size_t n = 0;
    bool more = false;
    int rc;

    if (!audit_args(c, req, &q, res))
        return res->status;
    rc = kairos_audit_read(c->g->k, &q, &e, &n, &more, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, entry_json(&e[i]));
    free(e);
    return http_json(res, 200, json_pack("{s:o,s:b}", "items", items, "more", more));
}

unsigned rest_audit_trim(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    unsigned removed = 0;
    int rc;

    (void)req;
    if (!rest_admin_only(c, res))
        return res->status;
    rc = kairos_audit_trim(c->g->k, 0, &removed, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_pack("{s:i}", "removed_days", (int)removed));
}
