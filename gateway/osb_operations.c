/*
 * osb_operations.c - last_operation of a service instance (bindings are
 * synchronous; theirs is in osb_bindings.c).
 *
 * What it answers, as spec v2.17 says:
 *   an instance never seen (or forgotten): 404;
 *   deprovisioned: 200 "succeeded" for [registry] retention, then 410
 *     until its tombstone is swept (twice the retention), then 404;
 *   an operation given that is one of this instance's: its state, and "in
 *     progress" until its outcome is recorded (not the instance's state);
 *   an operation given that we never handed out: ignored;
 *   otherwise the instance's state: "in progress" (with Retry-After) while
 *     an operation runs, "succeeded" when ready, "failed" when a provision
 *     failed or the kairosd running an operation died.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "osb_int.h"

/* The operation @opq names, if it is one of instance @id's; else NULL. */
static json_t *operation_of(struct call *c, const char *id, const char *opq)
{
    json_t *op = NULL;
    const char *of;

    if (!opq || !ops_id_valid(opq) || ops_get(c->g, opq, &op, NULL) < 0)
        return NULL;
    of = json_string_value(json_object_get(op, "instance"));
    if (of && strcmp(of, id) == 0)
        return op;
    json_decref(op);
    return NULL;
}

/* The answer from a finished operation's record. */
static unsigned finished(struct http_response *res, const json_t *op)
{
    const char *state = json_string_value(json_object_get(op, "state"));
    const char *what = json_string_value(json_object_get(op, "what"));

    osb_state(res, state, json_string_value(json_object_get(op, "description")));
    /* A failed update or deprovision leaves the instance as it was: usable. */
    if (strcmp(state, "failed") == 0 && what && strcmp(what, "provision") != 0)
        json_object_set_new(res->body, "instance_usable", json_true());
    return res->status;
}

/* An operation whose kairosd died: did it get there before? The ledger says. */
static unsigned abandoned(struct call *c, const struct instance *in, struct http_response *res)
{
    struct kairos_alloc a;
    int rc;

    if (strcmp(in->state, "provisioning") != 0)
        return osb_state(res, "failed", "the broker running it stopped: ask again");
    rc = kairos_ledger_get(c->g->k, in->project, in->kind, in->name, &a, NULL);
    if (rc == 0 && !a.pending) {
        kairos_alloc_clear(&a);
        return osb_state(res, "succeeded", NULL);
    }
    if (rc == 0)
        kairos_alloc_clear(&a);
    return osb_state(res, "failed", "the broker running it stopped; provision again");
}

/* No instance: deprovisioned (a tombstone), or never seen. */
static unsigned gone(struct call *c, const struct http_request *req, const char *tomb,
                     struct http_response *res)
{
    struct instance dead = {0};
    json_t *t = tomb ? json_loads(tomb, 0, NULL) : NULL;

    if (!t)
        return http_error(res, 404, "NotFound", "no instance %.64s", req->params[0]);
    dead.service_id = json_string_value(json_object_get(t, "service_id")) ?: "";
    dead.plan_id = json_string_value(json_object_get(t, "plan_id")) ?: "";
    if (osb_ids_match(req, NULL, &dead, NULL, false, res)) {
        if (osb_gone_recently(c, tomb))
            osb_state(res, "succeeded", NULL);
        else
            http_json(res, 410, json_object());
    }
    json_decref(t);
    return res->status;
}

unsigned osb_instance_last_operation(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    const char *opq = req->query(req->lookup_arg, "operation");
    struct kairos_error err = {0};
    struct instance in;
    json_t *op = NULL;
    int rc;

    if (!osb_id_ok(id, "instance_id", res))
        return res->status;
    if (opq && !opq[0])
        return http_error(res, 400, "BadRequest", "operation must not be empty");
    rc = instance_load(c, id, &in, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    if (!in.rec) {
        gone(c, req, in.gone, res);
        instance_clear(&in);
        return res->status;
    }
    if (!osb_ids_match(req, NULL, &in,
                       json_string_value(json_object_get(in.rec, "previous_plan_id")), false,
                       res)) {
        instance_clear(&in);
        return res->status;
    }
    op = operation_of(c, id, opq);
    if (op && strcmp(json_string_value(json_object_get(op, "state")) ?: "", "in progress") != 0)
        finished(res, op);
    else if (op && ops_running(op))
        /*
         * Its work puts the instance back (or forward) before its outcome
         * is recorded: between the two, the instance's state is not the
         * operation's answer. Its record will be, in a moment.
         */
        osb_state(res, "in progress", in.state);
    else if (osb_state_running(in.state) && instance_running(c, &in, NULL))
        osb_state(res, "in progress", in.state);
    else if (osb_state_running(in.state))
        abandoned(c, &in, res);
    else if (strcmp(in.state, "failed") == 0) {
        /* Why, if its operation still says. */
        json_decref(op);
        op = operation_of(c, id, in.operation);
        if (op)
            finished(res, op);
        else
            osb_state(res, "failed", "the provision failed: provision again or deprovision");
    } else
        osb_state(res, "succeeded", NULL);
    json_decref(op);
    instance_clear(&in);
    return res->status;
}
