/*
 * osb_update.c - updating a service instance: a new plan and/or
 * parameters.size (with parameters.shrink to make a volume or share
 * smaller). The size given wins; else a new plan's size; the same plan and
 * no size change nothing. A bucket keeps its size (its plans are not
 * plan_updateable).
 *
 * "Large": a volume resize by [server] async_bytes (1 TiB) or more is an
 * operation (202; accepts_incomplete=true required): growing rewrites the
 * object map, shrinking removes every object past the new end, both in
 * proportion to the bytes moved. Everything else answers at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "osb_int.h"
#include "params.h"

struct update_job {
    char id[KAIROS_REGISTRY_ID_MAX + 1];
    char op[OPS_ID_LEN + 1]; /* "" when synchronous */
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
    char plan_id[128];    /* the new plan, or "" */
    char old_plan[128];   /* the plan before */
    uint64_t from, bytes; /* the size now and the new size, when resize */
    bool resize, shrink;
};

/* The update, done: into the record, which leaves "updating". */
static void apply(json_t *rec, void *arg)
{
    const struct update_job *j = arg;

    json_object_del(rec, "pending");
    if (j->plan_id[0] && strcmp(j->plan_id, j->old_plan) != 0) {
        json_object_set_new(rec, "previous_plan_id", json_string(j->old_plan));
        json_object_set_new(rec, "plan_id", json_string(j->plan_id));
    }
    if (j->resize) {
        json_t *kept = json_object_get(rec, "parameters");
        if (!json_is_object(kept)) {
            kept = json_object();
            json_object_set_new(rec, "parameters", kept);
        }
        json_object_set_new(kept, "size", json_integer((json_int_t)j->bytes));
    }
}

static void abandon(json_t *rec, void *arg)
{
    (void)arg;
    json_object_del(rec, "pending");
}

static int update_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct update_job *j = arg;
    struct call c = {.g = g};
    const char *op = j->op[0] ? j->op : NULL;
    int rc = 0;

    if (j->resize)
        rc = alloc_resize(g, j->project, j->kind, j->name, j->bytes, j->shrink, err);
    /* Failed: the instance is as it was, and usable (the operation says why). */
    instance_set_state(&c, j->id, "updating", "ready", op, rc == 0 ? apply : abandon, j, NULL);
    return rc;
}

/* The request's service, plan and previous_values against @in. False after answering 400. */
static bool update_ids(struct call *c, const json_t *body, const struct instance *in,
                       const struct kairos_plan **plan, struct http_response *res)
{
    const json_t *prev = json_object_get(body, "previous_values");
    const char *sid = osb_string(body, "service_id");
    const char *pid = osb_string(body, "plan_id");
    enum kairos_kind kind;

    if (!sid || strcmp(sid, in->service_id) != 0) {
        http_error(res, 400, "BadRequest", "service_id is required and must be the instance's");
        return false;
    }
    if (prev &&
        (!json_is_object(prev) ||
         (osb_string(prev, "service_id") &&
          strcmp(osb_string(prev, "service_id"), in->service_id) != 0) ||
         (osb_string(prev, "plan_id") && strcmp(osb_string(prev, "plan_id"), in->plan_id) != 0))) {
        http_error(res, 400, "BadRequest",
                   "previous_values must be an object naming the instance's service and plan");
        return false;
    }
    /* An empty plan_id is absent, as platforms send it: the plan stays. */
    return osb_resolve_plan(c, sid, pid ? pid : in->plan_id, &kind, plan, res);
}

/* The same update as the one running? */
static bool same_pending(const struct instance *in, const json_t *pending)
{
    return json_equal(json_object_get(in->rec, "pending"), (json_t *)pending);
}

/* Can @in be updated now? False after answering. */
static bool update_allowed(struct call *c, const char *id, const struct instance *in,
                           const json_t *pending, bool async_ok, struct http_response *res)
{
    bool running = instance_running(c, in, NULL);

    if (strcmp(in->state, "updating") == 0 && running && in->operation &&
        same_pending(in, pending)) {
        if (async_ok)
            osb_accepted(res, in->operation);
        else
            osb_async_required(res, "this update");
        return false;
    }
    if (running || strcmp(in->state, "deprovisioning") == 0) {
        osb_busy(res, "instance", id, in->state);
        return false;
    }
    if (strcmp(in->state, "ready") != 0 && strcmp(in->state, "updating") != 0) {
        http_error(res, 422, "NotReady", "instance %.64s is %s: provision it again first", id,
                   in->state);
        return false;
    }
    return true;
}

/* What the update does, into @j: resize (and how much), a new plan. False after answering. */
static bool update_plan(struct call *c, const json_t *params, const struct instance *in,
                        const struct kairos_plan *plan, struct update_job *j,
                        struct http_response *res)
{
    struct kairos_error err = {0};
    struct kairos_alloc a;
    bool ok = true;
    int rc;

    j->bytes = plan->size[in->kind];
    j->shrink = params_bool(params, "shrink", false, &ok, res);
    if (!ok || !params_size(params, "size", &j->bytes, res))
        return false;
    j->resize = json_object_get(params, "size") || strcmp(j->plan_id, j->old_plan) != 0;
    if (j->resize && in->kind == KAIROS_BUCKET) {
        osb_fail(c, res, in->kind, -EOPNOTSUPP,
                 &(struct kairos_error){.msg = "a bucket keeps the size it was made with"});
        return false;
    }
    if (!j->resize)
        return true;
    rc = kairos_ledger_get(c->g->k, in->project, in->kind, in->name, &a, &err);
    if (rc < 0) {
        osb_fail(c, res, in->kind, rc, &err);
        return false;
    }
    j->from = a.bytes;
    j->resize = a.bytes != j->bytes;
    kairos_alloc_clear(&a);
    return true;
}

/* Is resizing from @from to @to large enough to run as an operation? */
static bool resize_is_slow(const struct call *c, enum kairos_kind kind, uint64_t from, uint64_t to)
{
    return kind == KAIROS_VOLUME && (to > from ? to - from : from - to) >= osb_async_bytes(c);
}

static void mark_pending(json_t *rec, void *arg)
{
    /* Kept so that a re-sent PATCH is recognised while it runs. */
    json_object_set(rec, "pending", arg);
}

/* Mark @j's instance updating and run it, synchronously or as an operation. */
static unsigned update_run(struct call *c, struct update_job *j, const struct instance *in,
                           json_t *pending, struct http_response *res)
{
    struct kairos_error err = {0};
    int rc;

    if (!osb_begin(c, j->id, in->state, "updating", j->op[0] ? j->op : NULL, mark_pending, pending,
                   res)) {
        free(j);
        return res->status;
    }
    if (j->op[0])
        return osb_submit(c, j->op, "update", j->project, j->id, "updating", "ready", abandon,
                          update_work, j, res);
    rc = update_work(c->g, j, &err);
    free(j);
    if (rc < 0)
        return osb_fail(c, res, in->kind, rc, &err);
    return http_json(res, 200, json_object());
}

unsigned osb_update(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const pkeys[] = {"size", "shrink", NULL};
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    const struct kairos_plan *plan;
    struct update_job *j = NULL;
    struct instance in = {0};
    json_t *body = NULL, *params, *pending = NULL;
    bool ok = true, async_ok = params_query_bool(req, "accepts_incomplete", &ok, res);
    int rc;

    if (!ok || !osb_id_ok(id, "instance_id", res) || !(body = params_body(req, res, false)))
        goto out;
    params = json_object_get(body, "parameters");
    if (params && (!json_is_object(params) || !params_known(params, pkeys, "parameters", res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "parameters must be an object");
        goto out;
    }
    rc = instance_load(c, id, &in, &err);
    if (rc < 0 || !in.rec) {
        if (rc < 0)
            api_fail(c, res, KAIROS_VOLUME, rc, &err);
        else
            http_error(res, 404, "NotFound", "no instance %.64s", id);
        goto out;
    }
    if (!update_ids(c, body, &in, &plan, res))
        goto out;
    pending = json_pack("{s:o,s:o}", "plan_id",
                        osb_string(body, "plan_id") ? json_string(osb_string(body, "plan_id"))
                                                    : json_null(),
                        "parameters", params ? json_deep_copy(params) : json_null());
    if (!update_allowed(c, id, &in, pending, async_ok, res) || !(j = calloc(1, sizeof(*j))))
        goto out;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->project, sizeof(j->project), "%s", in.project);
    snprintf(j->name, sizeof(j->name), "%s", in.name);
    j->kind = in.kind;
    snprintf(j->old_plan, sizeof(j->old_plan), "%s", in.plan_id);
    osb_plan_id(j->plan_id, sizeof(j->plan_id), in.kind, plan->name);
    if (!update_plan(c, params, &in, plan, j, res))
        goto out;
    if (j->resize && resize_is_slow(c, in.kind, j->from, j->bytes)) {
        if (!async_ok) {
            osb_async_required(res, "a resize this large");
            goto out;
        }
        ops_id_new(j->op);
    }
    update_run(c, j, &in, pending, res);
    j = NULL;
out:
    if (!res->status)
        http_error(res, 500, "InternalError", "out of memory");
    free(j);
    json_decref(pending);
    instance_clear(&in);
    json_decref(body);
    return res->status;
}
