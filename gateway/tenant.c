/*
 * tenant.c - drift and lock routes of REST v1 (see tenant.h). Each handler
 * checks the caller's reach and the whole request before it changes
 * anything.
 */
#include "tenant.h"

#include <errno.h>
#include <string.h>

#include <kairos/kairos.h>

#include "gateway.h"
#include "params.h"
#include "rest_int.h"

static json_t *finding_json(const struct kairos_drift_finding *f)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "kind", kairos_kind_name(f->kind),
                     "allocation", f->alloc, "what", f->what, "detail", f->detail, "objects",
                     (json_int_t)f->objects, "bytes", (json_int_t)f->bytes, "first_ms",
                     (json_int_t)f->first_ms, "last_ms", (json_int_t)f->last_ms, "action",
                     f->action);
}

json_t *tenant_drift_summary(struct kairos *k, const char *project)
{
    struct kairos_drift_finding *f = NULL;
    enum kairos_drift_policy policy;
    json_t *kinds;
    size_t n = 0;

    if (kairos_drift_policy_get(k, project, &policy, NULL) < 0 ||
        kairos_drift_list(k, project, &f, &n, NULL) < 0)
        return NULL;
    kinds = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *kind = kairos_kind_name(f[i].kind);
        json_int_t have = json_integer_value(json_object_get(kinds, kind));
        json_object_set_new(kinds, kind, json_integer(have + 1));
    }
    free(f);
    return json_pack("{s:s,s:I,s:o}", "policy", kairos_drift_policy_name(policy), "findings",
                     (json_int_t)n, "by_kind", kinds);
}

static unsigned drift_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_drift_finding *f = NULL;
    enum kairos_drift_policy policy;
    const char *project = rest_project_param(c, req, res);
    json_t *items;
    size_t n = 0;
    int rc;

    if (!project)
        return res->status;
    rc = kairos_drift_policy_get(c->g->k, project, &policy, &err);
    if (rc == 0)
        rc = kairos_drift_list(c->g->k, project, &f, &n, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, finding_json(&f[i]));
    free(f);
    return http_json(
        res, 200,
        json_pack("{s:s,s:o}", "policy", kairos_drift_policy_name(policy), "findings", items));
}

static unsigned policy_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_drift_policy policy;
    const char *project = rest_project_param(c, req, res);
    int rc;

    if (!project)
        return res->status;
    rc = kairos_drift_policy_get(c->g->k, project, &policy, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_pack("{s:s}", "policy", kairos_drift_policy_name(policy)));
}

static unsigned policy_set(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"policy", NULL};
    struct call *c = ctx;
    struct kairos_error err = {0};
    enum kairos_drift_policy policy;
    const char *project, *name;
    json_t *body = NULL;
    bool ok = true;
    int rc;

    if (!rest_admin_only(c, res) || !(project = rest_project_param(c, req, res)) ||
        !(body = params_body(req, res, false)))
        return res->status;
    if (!params_known(body, keys, "the request", res))
        goto out;
    name = params_string(body, "policy", &ok, res);
    if (!ok)
        goto out;
    if (!name || kairos_drift_policy_parse(name, &policy) < 0) {
        http_error(res, 400, "BadRequest", "policy must be \"report\" or \"revoke\"");
        goto out;
    }
    rc = kairos_drift_policy_set(c->g->k, project, policy, &err);
    if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    else
        http_json(res, 200, json_pack("{s:s}", "policy", kairos_drift_policy_name(policy)));
out:
    json_decref(body);
    return res->status;
}

static unsigned lock_break(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct kairos_lock_break lb;
    const char *project;
    bool ok = true, force;
    int rc;

    if (!(project = rest_project_param(c, req, res)) ||
        !rest_name_param(req->params[1], "volume", res))
        return res->status;
    force = params_query_bool(req, "force", &ok, res);
    if (!ok)
        return res->status;
    rc = kairos_volume_break_lock(c->g->k, project, req->params[1],
                                  force ? KAIROS_BREAK_LOCK_FORCE : 0, &lb, &err);
    /* A live owner is not a request error: the caller may force, knowing it is alive. */
    if (rc == -EBUSY)
        return http_error(res, 409, "LockHeld", "%s", err.msg);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200,
                     json_pack("{s:b,s:b,s:b,s:s,s:s}", "held", lb.held, "alive", lb.alive,
                               "broken", lb.broken, "owner", lb.owner, "address", lb.addr));
}

/* Before rest_routes: "/v1/projects/:p/:kind" would take "drift" for a collection. */
const struct route tenant_routes[] = {
    {HTTP_GET, "/v1/projects/:p/drift", drift_show},
    {HTTP_GET, "/v1/projects/:p/drift/policy", policy_show},
    {HTTP_PUT, "/v1/projects/:p/drift/policy", policy_set},
    {HTTP_POST, "/v1/projects/:p/volumes/:v/lock/break", lock_break},
};

const size_t tenant_nroutes = sizeof(tenant_routes) / sizeof(tenant_routes[0]);
