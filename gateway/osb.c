/*
 * osb.c - Open Service Broker API v2.17 (see osb.h): the routes, the
 * version header, and the checks and answers every OSB handler shares
 * (see osb_int.h for the modules).
 *
 * Each handler validates everything before it changes anything, so a 4xx
 * leaves the ledger, the registry and the cluster as they were.
 */
#include "osb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "osb_int.h"

/* Seconds a platform should wait before polling an operation again. */
#define OSB_RETRY_AFTER "2"

unsigned osb_version_check(const char *version)
{
    unsigned major, minor;
    char tail;

    if (!version)
        return 400;
    if (sscanf(version, "%u.%u%c", &major, &minor, &tail) != 2 || major != 2 ||
        minor < OSB_VERSION_MIN)
        return 412;
    return 0;
}

uint64_t osb_async_bytes(const struct call *c)
{
    /* 1 TiB, the config's default, also for a gateway made without a config (tests). */
    return c->g->cfg ? c->g->cfg->server.async_bytes : 1ULL << 40;
}

const char *osb_string(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));

    return v && v[0] ? v : NULL;
}

const char *osb_query(const struct http_request *req, const char *name)
{
    const char *v = req->query(req->lookup_arg, name);

    return v && v[0] ? v : NULL;
}

bool osb_id_ok(const char *id, const char *what, struct http_response *res)
{
    if (kairos_registry_id_valid(id))
        return true;
    http_error(res, 400, "BadRequest", "bad %s: 1 to %d printable characters, no '/'", what,
               KAIROS_REGISTRY_ID_MAX);
    return false;
}

/* A service_id or plan_id given in the query or body: NULL when absent, "" when empty. */
static const char *given(const struct http_request *req, const json_t *body, const char *key)
{
    if (body) {
        const json_t *v = json_object_get(body, key);
        if (v && !json_is_string(v))
            return "";
        return json_string_value(v);
    }
    return req->query(req->lookup_arg, key);
}

bool osb_ids_match(const struct http_request *req, const json_t *body, const struct instance *in,
                   const char *plan_alt, bool required, struct http_response *res)
{
    const char *sid = given(req, body, "service_id"), *pid = given(req, body, "plan_id");

    if ((required && (!sid || !pid)) || (sid && !sid[0]) || (pid && !pid[0])) {
        http_error(res, 400, "BadRequest", "service_id and plan_id %s non-empty strings",
                   required ? "are required," : "must be");
        return false;
    }
    if (sid && strcmp(sid, in->service_id) != 0) {
        http_error(res, 400, "BadRequest", "service_id %.64s is not this instance's (%s)", sid,
                   in->service_id);
        return false;
    }
    if (pid && strcmp(pid, in->plan_id) != 0 && !(plan_alt && strcmp(pid, plan_alt) == 0)) {
        http_error(res, 400, "BadRequest", "plan_id %.64s is not this instance's (%s)", pid,
                   in->plan_id);
        return false;
    }
    return true;
}

bool osb_begin(struct call *c, const char *id, const char *from, const char *state,
               const char *operation, instance_edit_fn edit, void *arg, struct http_response *res)
{
    struct kairos_error err = {0};
    int rc = instance_set_state(c, id, from, state, operation, edit, arg, &err);

    if (rc == -ESTALE || rc == -ECANCELED)
        osb_busy(res, "instance", id, "changing");
    else if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return rc == 0;
}

unsigned osb_submit(struct call *c, const char *op, const char *what, const char *project,
                    const char *id, const char *running, const char *back, instance_edit_fn edit,
                    ops_fn fn, void *job, struct http_response *res)
{
    char opid[OPS_ID_LEN + 1], iid[KAIROS_REGISTRY_ID_MAX + 1], pname[KAIROS_NAME_MAX + 1];
    struct ops_owner owner = {pname, iid};
    struct kairos_error err = {0};

    /* Copies: a submit that fails frees the job they may live in. */
    snprintf(opid, sizeof(opid), "%s", op);
    snprintf(iid, sizeof(iid), "%s", id);
    snprintf(pname, sizeof(pname), "%s", project);
    if (ops_submit(c->g->ops, opid, what, &owner, fn, job, &err) < 0) {
        /* Nothing runs: the instance is as it was. */
        instance_set_state(c, iid, running, back, NULL, edit, NULL, NULL);
        return http_error(res, 503, "ServiceUnavailable", "%s", err.msg);
    }
    return osb_accepted(res, opid);
}

unsigned osb_accepted(struct http_response *res, const char *op)
{
    res->retry = OSB_RETRY_AFTER;
    return http_json(res, 202, json_pack("{s:s}", "operation", op));
}

unsigned osb_state(struct http_response *res, const char *state, const char *description)
{
    json_t *j = json_pack("{s:s}", "state", state);

    if (description && description[0])
        json_object_set_new(j, "description", json_string(description));
    if (strcmp(state, "in progress") == 0)
        res->retry = OSB_RETRY_AFTER;
    return http_json(res, 200, j);
}

unsigned osb_busy(struct http_response *res, const char *what, const char *id, const char *state)
{
    return http_error(res, 422, "ConcurrencyError", "%s %.64s is %s: another operation runs on it",
                      what, id, state);
}

unsigned osb_async_required(struct http_response *res, const char *what)
{
    return http_error(res, 422, "AsyncRequired",
                      "%s takes time: it needs accepts_incomplete=true and runs as an operation",
                      what);
}

unsigned osb_fail(struct call *c, struct http_response *res, enum kairos_kind kind, int rc,
                  const struct kairos_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : strerror(-rc);

    /* The spec's word for "another request is on it". */
    if (rc == -EINPROGRESS)
        return http_error(res, 422, "ConcurrencyError", "%s", msg);
    /* "The requested change is not supported": 422, and repeating it will not help. */
    if (rc == -EOPNOTSUPP || rc == -ENOSYS) {
        http_error(res, 422, "NotSupported", "%s", msg);
        json_object_set_new(res->body, "update_repeatable", json_false());
        return 422;
    }
    return api_fail(c, res, kind, rc, err);
}

const char *const osb_swept_spaces[] = {SPACE_INSTANCE_GONE, SPACE_BINDING_GONE, NULL};

const struct route osb_routes[] = {
    {HTTP_GET, "/v2/catalog", osb_catalog},
    {HTTP_PUT, "/v2/service_instances/:id", osb_provision},
    {HTTP_GET, "/v2/service_instances/:id", osb_fetch_instance},
    {HTTP_PATCH, "/v2/service_instances/:id", osb_update},
    {HTTP_DELETE, "/v2/service_instances/:id", osb_deprovision},
    {HTTP_GET, "/v2/service_instances/:id/last_operation", osb_instance_last_operation},
    {HTTP_PUT, "/v2/service_instances/:id/service_bindings/:bid", osb_bind},
    {HTTP_GET, "/v2/service_instances/:id/service_bindings/:bid", osb_fetch_binding},
    {HTTP_DELETE, "/v2/service_instances/:id/service_bindings/:bid", osb_unbind},
    {HTTP_GET, "/v2/service_instances/:id/service_bindings/:bid/last_operation",
     osb_binding_last_operation},
};
const size_t osb_nroutes = sizeof(osb_routes) / sizeof(osb_routes[0]);
