/*
 * api.c - from a request to a handler: route, version header, credentials
 * (see gateway.h). One place decides who may call what.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auditlog.h"
#include "auth.h"
#include "gateway.h"
#include "metrics.h"
#include "openapi.h"
#include "osb.h"
#include "rest.h"
#include "router.h"
#include "tenant.h"

int gateway_project_get(struct gateway *g, const char *name, struct kairos_project *out,
                        struct kairos_error *err)
{
    if (g->cache)
        return kairos_cache_project_get(g->cache, name, out, err);
    return kairos_project_get(g->k, name, out, err);
}

uint64_t gateway_retention_ms(const struct gateway *g)
{
    /* A day, as the config's default: also for a gateway made without a config (tests). */
    return g->cfg && g->cfg->registry.retention_ms ? g->cfg->registry.retention_ms
                                                   : 24ULL * 3600 * 1000;
}

static unsigned healthz(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};

    (void)req;
    if (kairos_ping(c->g->k, &err) < 0)
        return http_json(res, 503,
                         json_pack("{s:s,s:s}", "status", "unavailable", "description", err.msg));
    return http_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

static unsigned metrics(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;

    (void)req;
    res->text = metrics_render(c->g->metrics);
    if (!res->text)
        return http_error(res, 500, "InternalError", "out of memory");
    res->type = "text/plain; version=0.0.4";
    res->status = 200;
    return 200;
}

static unsigned openapi(void *ctx, struct http_request *req, struct http_response *res)
{
    json_error_t e;

    (void)ctx;
    (void)req;
    return http_json(res, 200, json_loads(kairosd_openapi_json, 0, &e));
}

static const struct route open_routes[] = {
    {HTTP_GET, "/healthz", healthz},
    {HTTP_GET, "/metrics", metrics},
    {HTTP_GET, "/v1/openapi.json", openapi},
};

enum area { AREA_OPEN, AREA_OSB, AREA_REST };

static const struct route *find(struct http_request *req, enum area *area, bool *known)
{
    static const struct {
        const struct route *routes;
        const size_t *n;
        enum area area;
    } tables[] = {{open_routes, NULL, AREA_OPEN},
                  {osb_routes, &osb_nroutes, AREA_OSB},
                  {tenant_routes, &tenant_nroutes, AREA_REST},
                  {rest_routes, &rest_nroutes, AREA_REST}};
    bool k;

    *known = false;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        size_t n = tables[i].n ? *tables[i].n : sizeof(open_routes) / sizeof(open_routes[0]);
        const struct route *r = router_match(tables[i].routes, n, req, &k);
        *known |= k;
        if (r) {
            *area = tables[i].area;
            return r;
        }
    }
    return NULL;
}

/* Is @type (a Content-Type value) JSON: "application/json", parameters allowed? */
static bool json_content(const char *type)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    return type && strncasecmp(type, json, n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

/* Route and check the version header; NULL after answering. */
static const struct route *route(struct http_request *req, struct http_response *res,
                                 enum area *area)
{
    const struct route *r;
    bool known;
    unsigned v;

    r = find(req, area, &known);
    if (!r) {
        snprintf(res->route, sizeof(res->route), "unmatched");
        if (known)
            http_error(res, 405, "MethodNotAllowed", "%s is not allowed here",
                       http_method_name(req->method));
        else
            http_error(res, 404, "NotFound", "no such route");
        return NULL;
    }
    snprintf(res->route, sizeof(res->route), "%s", r->pattern);
    /* REST v1 reads JSON bodies only; OSB platforms may leave the type out, as the spec allows. */
    if (*area == AREA_REST && req->body_len &&
        !json_content(req->header(req->lookup_arg, "Content-Type"))) {
        http_error(res, 415, "UnsupportedMediaType", "a request body must be application/json");
        return NULL;
    }
    if (*area == AREA_OSB) {
        v = osb_version_check(req->header(req->lookup_arg, "X-Broker-API-Version"));
        if (v) {
            http_error(res, v, v == 412 ? "PreconditionFailed" : "BadRequest",
                       "X-Broker-API-Version must be 2.%d or a later 2.x", OSB_VERSION_MIN);
            return NULL;
        }
    }
    return r;
}

/* The caller of @area, or false after answering 401/503. */
static bool authenticate(struct gateway *g, enum area area, struct http_request *req,
                         struct principal *who, struct http_response *res)
{
    const char *authz = req->header(req->lookup_arg, "Authorization");
    int rc;

    memset(who, 0, sizeof(*who));
    if (area == AREA_OPEN)
        return true;
    if (area == AREA_OSB) {
        if (auth_check_basic(g->auth, authz) == 0) {
            who->broker = true;
            return true;
        }
        http_error(res, 401, "Unauthorized", "HTTP Basic credentials of the broker are required");
        return false;
    }
    rc = auth_check_bearer(g->auth, g->k, g->cache, authz, who);
    if (rc == 0)
        return true;
    if (rc == -EACCES)
        http_error(res, 401, "Unauthorized", "a valid bearer token is required");
    else
        http_error(res, 503, "ServiceUnavailable", "cannot check the token: %s", strerror(-rc));
    return false;
}

const char *api_error_name(int rc)
{
    unsigned status = http_status_of(rc);

    if (rc == -EDQUOT || rc == -ENOSPC)
        return rc == -EDQUOT ? "QuotaExceeded" : "CapacityExceeded";
    if (rc == -ENOSYS || rc == -EOPNOTSUPP)
        return "NotImplemented";
    return status == 404   ? "NotFound"
           : status == 409 ? "Conflict"
           : status == 403 ? "Forbidden"
           : status >= 500 ? "ServiceUnavailable"
                           : "BadRequest";
}

unsigned api_fail(struct call *c, struct http_response *res, enum kairos_kind kind, int rc,
                  const struct kairos_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : strerror(-rc);

    if (rc == -EDQUOT || rc == -ENOSPC) {
        metrics_refusal(c->g->metrics, kind);
        return http_error(res, 422, api_error_name(rc), "%s", msg);
    }
    if (rc == -ENOSYS || rc == -EOPNOTSUPP)
        return http_error(res, 501, api_error_name(rc), "%s", msg);
    return http_error(res, http_status_of(rc), api_error_name(rc), "%s", msg);
}

/* Who @who is, and with which token, for the request's log line. */
static void note_principal(const struct principal *who, struct http_response *res)
{
    if (who->admin)
        snprintf(res->principal, sizeof(res->principal), "admin");
    else if (who->broker)
        snprintf(res->principal, sizeof(res->principal), "broker");
    else if (who->project[0])
        snprintf(res->principal, sizeof(res->principal), "project:%s", who->project);
    snprintf(res->token_id, sizeof(res->token_id), "%s", who->token_id);
}

void api_handle(struct gateway *g, struct http_request *req, struct http_response *res)
{
    struct call c = {.g = g};
    const struct route *r;
    enum area area;

    r = route(req, res, &area);
    if (!r || !authenticate(g, area, req, &c.who, res))
        return;
    note_principal(&c.who, res);
    r->handler(&c, req, res);
    if (!res->status)
        http_error(res, 500, "InternalError", "no answer");
    /* Here, once: the caller, the answer and what the handler found are all known. */
    auditlog_record(&c, req, res);
}

void api_route_only(struct http_request *req, struct http_response *res)
{
    enum area area;

    if (route(req, res, &area))
        res->status = 0;
}
