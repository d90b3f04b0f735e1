/*
 * osb_bindings.c - binding, fetching and unbinding.
 *
 * A binding is a key that reaches its instance's allocation only
 * (kairos/binding.h); binding and unbinding are always synchronous (201 or
 * 200 at once; accepts_incomplete changes nothing). The binding record
 * ties the binding id to its instance; unbinding swaps it for a tombstone
 * in one write, which last_operation reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osb_int.h"
#include "params.h"

struct binding {
    char *text, *gone; /* as stored, or NULL */
    json_t *rec;
    char name[KAIROS_NAME_MAX + 1];
    bool read_only;
};

static void binding_clear(struct binding *b)
{
    json_decref(b->rec);
    free(b->text);
    free(b->gone);
    memset(b, 0, sizeof(*b));
}

/* The record of binding @bid and its tombstone. b->rec is NULL when there is none. */
static int binding_load(struct call *c, const char *bid, struct binding *b,
                        struct kairos_error *err)
{
    const char *spaces[] = {SPACE_BINDING, SPACE_BINDING_GONE};
    char *texts[2] = {NULL, NULL};
    int rc = kairos_registry_get_many(c->g->k, spaces, 2, bid, texts, err);

    memset(b, 0, sizeof(*b));
    if (rc < 0)
        return rc;
    b->text = texts[0];
    b->gone = texts[1];
    if (b->text) {
        b->rec = json_loads(b->text, 0, NULL);
        snprintf(b->name, sizeof(b->name), "%s",
                 json_string_value(json_object_get(b->rec, "binding")) ?: "");
        b->read_only = json_is_true(json_object_get(b->rec, "read_only"));
    }
    return 0;
}

/* Is @b a binding of instance @iid? */
static bool binding_of(const struct binding *b, const char *iid)
{
    const char *i = json_string_value(json_object_get(b->rec, "instance"));

    return b->rec && i && strcmp(i, iid) == 0 && b->name[0];
}

/*
 * The instance @iid of a binding request; with @usable, one that can be
 * bound now (ready, or an update abandoned by a dead kairosd). False after
 * answering.
 */
static bool bound_instance(struct call *c, const char *iid, struct instance *in, bool usable,
                           struct http_response *res)
{
    struct kairos_error err = {0};
    int rc = instance_load(c, iid, in, &err);

    if (rc < 0)
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
    else if (!in->rec)
        http_error(res, 404, "NotFound", "no instance %.64s", iid);
    else if (!usable || strcmp(in->state, "ready") == 0)
        return true;
    else if (instance_running(c, in, NULL))
        osb_busy(res, "instance", iid, in->state);
    else if (strcmp(in->state, "updating") == 0)
        return true;
    else
        http_error(res, 422, "NotReady", "instance %.64s is %s", iid, in->state);
    return false;
}

/* The answer to a bind: the credentials, and for a share the volume mount. */
static json_t *bind_answer(const struct instance *in, const char *iid, const char *creds, bool ro)
{
    json_t *cj = json_loads(creds, 0, NULL);
    json_t *out = json_pack("{s:o}", "credentials", cj ? json_incref(cj) : json_object());

    if (in->kind == KAIROS_SHARE && cj) {
        json_t *mc = json_deep_copy(cj);
        json_object_set_new(out, "volume_mounts",
                            json_pack("[{s:s,s:s,s:s,s:s,s:{s:s,s:o}}]", "driver", "cephfs",
                                      "container_dir", "/mnt/kairos", "mode", ro ? "r" : "rw",
                                      "device_type", "shared", "device", "volume_id", iid,
                                      "mount_config", mc));
    }
    json_decref(cj);
    return out;
}

/* Make the key of the binding @want names, and answer @status with it. */
static unsigned bind_key(struct call *c, const struct instance *in, const char *iid,
                         const char *bid, const struct binding *b, bool made_now,
                         struct http_response *res)
{
    struct kairos_error err = {0};
    char *creds = NULL;
    int rc;

    rc = kairos_binding_create(c->g->k, in->project, in->kind, in->name, b->name,
                               b->read_only ? KAIROS_BIND_READ_ONLY : 0, &creds, &err);
    if (rc < 0) {
        /* Nothing made: the record this request wrote goes again. */
        if (made_now) {
            struct kairos_registry_change ch = {SPACE_BINDING, b->text, NULL};
            kairos_registry_swap(c->g->k, bid, &ch, 1, NULL);
        }
        return osb_fail(c, res, in->kind, rc, &err);
    }
    http_json(res, made_now ? 201 : 200, bind_answer(in, iid, creds, b->read_only));
    explicit_bzero(creds, strlen(creds));
    free(creds);
    return res->status;
}

/* The binding record a bind asks for. NULL after answering 400. */
static json_t *bind_request(struct call *c, const json_t *body, const struct instance *in,
                            const char *iid, const char *bid, struct http_response *res)
{
    static const char *const pkeys[] = {"read_only", NULL};
    const json_t *params = json_object_get(body, "parameters");
    const struct kairos_plan *plan;
    enum kairos_kind kind;
    char bname[KAIROS_NAME_MAX + 1];
    bool ok = true, ro;

    if (!osb_resolve_plan(c, osb_string(body, "service_id"), osb_string(body, "plan_id"), &kind,
                          &plan, res) ||
        !osb_ids_match(NULL, body, in, NULL, true, res))
        return NULL;
    if (params && (!json_is_object(params) || !params_known(params, pkeys, "parameters", res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "parameters must be an object");
        return NULL;
    }
    ro = params_bool(params, "read_only", false, &ok, res);
    if (!ok)
        return NULL;
    osb_name_of(bname, "b", bid);
    return json_pack("{s:s,s:s,s:b,s:s}", "instance", iid, "binding", bname, "read_only", ro,
                     "plan_id", in->plan_id);
}

/* Same binding as @b? The plan it was made under may have changed since. */
static bool same_binding(const struct binding *b, const json_t *want)
{
    static const char *const keys[] = {"instance", "binding", "read_only"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!json_equal(json_object_get(b->rec, keys[i]), json_object_get(want, keys[i])))
            return false;
    }
    return true;
}

unsigned osb_bind(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *iid = req->params[0], *bid = req->params[1];
    struct kairos_error err = {0};
    struct instance in = {0};
    struct binding b = {0};
    json_t *body = NULL, *want = NULL;
    char *text = NULL;
    bool ok = true;
    int rc = -ECANCELED;

    params_query_bool(req, "accepts_incomplete", &ok, res);
    if (!ok || !osb_id_ok(iid, "instance_id", res) || !osb_id_ok(bid, "binding_id", res) ||
        !(body = params_body(req, res, false)) || !bound_instance(c, iid, &in, true, res) ||
        !(want = bind_request(c, body, &in, iid, bid, res)))
        goto out;
    text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    /* Made here, or there already: two racing binds cannot both make it. */
    for (int attempt = 0; rc == -ECANCELED && attempt < OSB_SWAP_ATTEMPTS; attempt++) {
        binding_clear(&b);
        rc = binding_load(c, bid, &b, &err);
        if (rc < 0)
            break;
        if (b.rec) {
            if (!same_binding(&b, want))
                http_json(res, 409, json_object());
            else
                bind_key(c, &in, iid, bid, &b, false, res);
            goto out;
        }
        struct kairos_registry_change ch[2] = {{SPACE_BINDING, NULL, text},
                                               {SPACE_BINDING_GONE, b.gone, NULL}};
        rc = kairos_registry_swap(c->g->k, bid, ch, b.gone ? 2 : 1, &err);
    }
    if (rc < 0) {
        api_fail(c, res, in.kind, rc == -ECANCELED ? -EAGAIN : rc, &err);
        goto out;
    }
    binding_clear(&b);
    b.text = strdup(text);
    b.rec = json_incref(want);
    snprintf(b.name, sizeof(b.name), "%s", json_string_value(json_object_get(want, "binding")));
    b.read_only = json_is_true(json_object_get(want, "read_only"));
    bind_key(c, &in, iid, bid, &b, true, res);
out:
    free(text);
    binding_clear(&b);
    json_decref(want);
    instance_clear(&in);
    json_decref(body);
    return res->status;
}

/* The binding @bid of instance @iid, with the request's ids checked. False after answering. */
static bool load_pair(struct call *c, const struct http_request *req, bool required,
                      struct instance *in, struct binding *b, unsigned missing,
                      struct http_response *res)
{
    const char *iid = req->params[0], *bid = req->params[1];
    struct kairos_error err = {0};
    int rc;

    memset(in, 0, sizeof(*in));
    memset(b, 0, sizeof(*b));
    if (!osb_id_ok(iid, "instance_id", res) || !osb_id_ok(bid, "binding_id", res))
        return false;
    if (required && (!osb_query(req, "service_id") || !osb_query(req, "plan_id"))) {
        http_error(res, 400, "BadRequest", "service_id and plan_id are required, non-empty");
        return false;
    }
    rc = binding_load(c, bid, b, &err);
    if (rc < 0) {
        api_fail(c, res, KAIROS_VOLUME, rc, &err);
        return false;
    }
    if (!binding_of(b, iid) || !bound_instance(c, iid, in, false, res)) {
        if (!res->status)
            http_json(res, missing, missing == 410 ? json_object() : NULL);
        if (res->status == 404 && !res->body)
            http_error(res, 404, "NotFound", "no binding %.64s of instance %.64s", bid, iid);
        return false;
    }
    return osb_ids_match(req, NULL, in, json_string_value(json_object_get(b->rec, "plan_id")),
                         required, res);
}

unsigned osb_unbind(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *iid = req->params[0], *bid = req->params[1];
    struct kairos_error err = {0};
    struct instance in;
    struct binding b;
    char *gone = NULL;
    bool ok = true;
    int rc;

    params_query_bool(req, "accepts_incomplete", &ok, res);
    if (!ok || !load_pair(c, req, true, &in, &b, 410, res))
        goto out;
    rc = kairos_binding_delete(c->g->k, in.project, in.kind, in.name, b.name, &err);
    if (rc == 0 || rc == -ENOENT) {
        json_t *t =
            json_pack("{s:s,s:I,s:I}", "instance", iid, "deleted", (json_int_t)ops_now_ms(),
                      "expires", (json_int_t)(ops_now_ms() + 2 * gateway_retention_ms(c->g)));
        gone = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(t);
        struct kairos_registry_change ch[2] = {{SPACE_BINDING, b.text, NULL},
                                               {SPACE_BINDING_GONE, b.gone, gone}};
        kairos_error_clear(&err);
        rc = kairos_registry_swap(c->g->k, bid, ch, 2, &err);
        /* Unbound by another request meanwhile: gone all the same. */
        if (rc == -ECANCELED)
            rc = 0;
    }
    if (rc < 0)
        osb_fail(c, res, in.kind, rc, &err);
    else
        http_json(res, 200, json_object());
out:
    free(gone);
    binding_clear(&b);
    instance_clear(&in);
    return res->status;
}

unsigned osb_fetch_binding(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *bid = req->params[1];
    struct kairos_error err = {0};
    struct kairos_binding kb;
    struct instance in;
    struct binding b;
    int rc;

    if (!load_pair(c, req, false, &in, &b, 404, res))
        goto out;
    /*
     * Binding again with the same id hands back the same credentials; but
     * only while the binding is there: a fetch must never make a revoked
     * key again.
     */
    rc = kairos_binding_get(c->g->k, in.project, in.kind, in.name, b.name, &kb, &err);
    if (rc == 0 && kb.pending)
        rc = kairos_error_set(&err, -ENOENT, "binding %.64s is being made or revoked", bid);
    if (rc < 0)
        osb_fail(c, res, in.kind, rc, &err);
    else
        bind_key(c, &in, req->params[0], bid, &b, false, res);
out:
    binding_clear(&b);
    instance_clear(&in);
    return res->status;
}

unsigned osb_binding_last_operation(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *iid = req->params[0], *bid = req->params[1];
    struct kairos_error err = {0};
    struct instance in;
    struct binding b;
    json_t *t;
    int rc;

    if (!osb_id_ok(iid, "instance_id", res) || !osb_id_ok(bid, "binding_id", res))
        return res->status;
    if ((osb_query(req, "operation") == NULL) != (req->query(req->lookup_arg, "operation") == NULL))
        return http_error(res, 400, "BadRequest", "operation must not be empty");
    rc = binding_load(c, bid, &b, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    /* Deleted: succeeded for the retention, then gone (410); never made: 404. */
    t = b.gone && !b.rec ? json_loads(b.gone, 0, NULL) : NULL;
    if (t && strcmp(json_string_value(json_object_get(t, "instance")) ?: "", iid) == 0) {
        if (osb_gone_recently(c, b.gone))
            osb_state(res, "succeeded", NULL);
        else
            http_json(res, 410, json_object());
    }
    json_decref(t);
    binding_clear(&b);
    if (res->status)
        return res->status;
    /* Bindings are made synchronously: one that exists has succeeded. */
    if (!load_pair(c, req, false, &in, &b, 404, res))
        goto out;
    osb_state(res, "succeeded", NULL);
out:
    binding_clear(&b);
    instance_clear(&in);
    return res->status;
}
