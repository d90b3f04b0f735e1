/*
 * rest_int.h - what the REST v1 modules share: the checks every handler
 * makes, paging, and the handlers the route table (rest.c) names.
 *
 *   rest.c             the route table and the shared checks
 *   rest_projects.c    projects, quotas, usage, capacity
 *   rest_tokens.c      project tokens
 *   rest_allocs.c      volumes, shares and buckets (one code path for the
 *                      three: /v1/projects/:p/:kind), clones, flatten
 *   rest_snapshots.c   snapshots of volumes and shares
 *   rest_bindings.c    bindings
 *   rest_operations.c  asynchronous operations
 *   rest_audit.c       the audit log
 *
 * Every check answers 4xx itself and returns false (or NULL), so handlers
 * read top to bottom.
 */
#ifndef KAIROSD_REST_INT_H
#define KAIROSD_REST_INT_H

#include <stdbool.h>

#include <kairos/kairos.h>

#include "gateway.h"
#include "http.h"
#include "ops.h"

/* The admin token, else 403. */
bool rest_admin_only(struct call *c, struct http_response *res);

/* req->params[0] as a project the caller may reach, or NULL after answering 400/403. */
const char *rest_project_param(struct call *c, struct http_request *req, struct http_response *res);

/* "volumes" -> KAIROS_VOLUME, or false after answering 404. */
bool rest_kind_param(const char *s, enum kairos_kind *kind, struct http_response *res);

/* A valid Kairos name (docs/openapi.json's pattern), or false after answering 400. */
bool rest_name_param(const char *s, const char *what, struct http_response *res);

/*
 * The project (as rest_project_param()), kind and allocation name of a path
 * /v1/projects/P/KIND/NAME[/...], or NULL after answering.
 */
const char *rest_alloc_param(struct call *c, struct http_request *req, enum kairos_kind *kind,
                             struct http_response *res);

/* ?limit= and ?after= of a listing. */
bool rest_page_args(const struct http_request *req, unsigned *limit, const char **after,
                    struct http_response *res);

/* {"items": @items (stolen), "next": @last when @more, else null}. */
json_t *rest_page_json(json_t *items, bool more, const char *last);

/*
 * rest_submit() - run @fn(@job) as an operation of @project and answer 202
 * {"operation", "state"} (503 when it cannot start; @job is freed then).
 */
unsigned rest_submit(struct call *c, const char *what, const char *project, ops_fn fn, void *job,
                     struct http_response *res);

/* ---- handlers ---- */

unsigned rest_projects_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_projects_create(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_project_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_project_delete(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_quota_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_quota_set(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_usage_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_capacity_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_cluster_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_tokens_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_token_create(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_token_revoke(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_allocs_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_alloc_create(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_alloc_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_alloc_patch(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_alloc_delete(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_volume_flatten(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_snapshots_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_snapshot_create(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_snapshot_delete(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_bindings_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_binding_create(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_binding_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_binding_delete(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_operation_show(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_audit_list(void *ctx, struct http_request *req, struct http_response *res);
unsigned rest_audit_trim(void *ctx, struct http_request *req, struct http_response *res);

#endif
