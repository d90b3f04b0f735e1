/*
 * gateway.h - the state kairosd's modules share: the libkairos handle, the
 * config, and the parts (auth, metrics, operations) each module owns.
 */
#ifndef KAIROSD_GATEWAY_H
#define KAIROSD_GATEWAY_H

#include <stdbool.h>

#include <kairos/kairos.h>

#include "http.h"

struct auth;
struct metrics;
struct ops;

struct gateway {
    struct kairos *k;
    const struct kairos_config *cfg;
    const struct kairos_policy *policy;
    struct kairos_cache *cache; /* project records and token lookups; NULL: read through */
    struct auth *auth;
    struct metrics *metrics;
    struct ops *ops;
};

/*
 * The plans and capacity policy in force: one read per request, used
 * throughout it. A reload (SIGHUP) swaps g->policy; the policy replaced
 * stays valid until exit, but two reads may see two policies.
 */
static inline const struct kairos_policy *gateway_policy(const struct gateway *g)
{
    return __atomic_load_n(&g->policy, __ATOMIC_ACQUIRE);
}

/* The project record @name, through the gateway's cache when it has one. */
int gateway_project_get(struct gateway *g, const char *name, struct kairos_project *out,
                        struct kairos_error *err);

/* How long finished operations and deletions are remembered ([registry] retention). */
uint64_t gateway_retention_ms(const struct gateway *g);

/* Who is calling, once authenticated. */
struct principal {
    bool admin;
    bool broker; /* the OSBAPI platform (HTTP Basic) */
    char project[KAIROS_NAME_MAX + 1];
    char token_id[24]; /* a RADOS token's id, or "file:" and 12 hex of a tokens file hash */
};

/*
 * What a request is about, as far as its handler found out: for the audit
 * log (auditlog.h). Set through call_note() by the shared checks that
 * resolve a project or an allocation, never by each handler.
 */
struct call_note {
    char project[KAIROS_NAME_MAX + 1];
    const char *kind; /* kairos_kind_name(), or NULL */
    char name[KAIROS_ALLOC_NAME_MAX + 1];
};

/* Per request: the gateway and the caller. */
struct call {
    struct gateway *g;
    struct principal who;
    struct call_note note;
};

/* call_note() - note @project (NULL: keep), and @kind with @name when @name is not NULL. */
void call_note(struct call *c, const char *project, enum kairos_kind kind, const char *name);

/*
 * api_handle() - route @req, check its credentials, and run its handler.
 * Every outcome, errors included, ends up in @res.
 */
void api_handle(struct gateway *g, struct http_request *req, struct http_response *res);

/*
 * api_fail() - answer a libkairos error: 422 QuotaExceeded/CapacityExceeded
 * (counted in the metrics for @kind), 404, 409, 400, 501 or 503, with the
 * library's message as the description. Return: the status.
 */
unsigned api_fail(struct call *c, struct http_response *res, enum kairos_kind kind, int rc,
                  const struct kairos_error *err);

/* api_error_name() - the "error" api_fail() answers for @rc, such as "QuotaExceeded". */
const char *api_error_name(int rc);

/*
 * api_route_only() - route and validate @req as api_handle() would, without
 * a cluster: handlers are not run. For the fuzz target and unit tests.
 */
void api_route_only(struct http_request *req, struct http_response *res);

#endif
