/*
 * osb_deprovision.c - deprovisioning a service instance: its allocation
 * and data go, and a tombstone stays for last_operation.
 *
 * Asynchronous (202; accepts_incomplete=true required): a share or a
 * bucket, whose files or objects go one by one, and a volume of [server]
 * async_bytes (1 TiB) or more, whose objects librbd removes one by one.
 * A smaller volume answers 200 at once. A bucket's objects go with it, but
 * never from under a binding: the platform unbinds first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "osb_int.h"
#include "params.h"

struct deprovision_job {
    char id[KAIROS_REGISTRY_ID_MAX + 1];
    char op[OPS_ID_LEN + 1]; /* "" when synchronous */
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    char prior[16]; /* the state to go back to if it fails: ready, or failed */
    enum kairos_kind kind;
};

static int deprovision_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct deprovision_job *j = arg;
    struct call c = {.g = g};
    struct kairos_binding_page *page = NULL;
    const char *op = j->op[0] ? j->op : NULL;
    int rc = 0;

    if (j->kind == KAIROS_BUCKET) {
        rc = kairos_binding_list(g->k, j->project, j->kind, j->name, NULL, 1, &page, err);
        if (rc == 0 && page->count)
            rc = kairos_error_set(err, -EBUSY, "bucket %s is still bound; unbind first", j->name);
        kairos_binding_page_free(page);
    }
    if (rc == 0)
        rc = alloc_delete(g, j->project, j->kind, j->name, j->kind == KAIROS_BUCKET, err);
    if (rc == -ENOENT)
        rc = 0;
    if (rc == 0)
        return instance_forget(&c, j->id, "deprovisioning", true, op, err);
    /* Still there: as before, and the operation's record (or the answer) says why. */
    instance_set_state(&c, j->id, "deprovisioning", j->prior, op, NULL, NULL, NULL);
    return rc;
}

/* Does deleting @in's allocation take long enough to be an operation? */
static bool delete_is_slow(struct call *c, const struct instance *in)
{
    struct kairos_alloc a;
    bool slow;

    if (in->kind != KAIROS_VOLUME)
        return true;
    if (kairos_ledger_get(c->g->k, in->project, in->kind, in->name, &a, NULL) < 0)
        return false;
    slow = a.bytes >= osb_async_bytes(c);
    kairos_alloc_clear(&a);
    return slow;
}

/* Can @in be deprovisioned now? False after answering (202 for one under way). */
static bool deprovision_allowed(struct call *c, const char *id, const struct instance *in,
                                bool async_ok, struct http_response *res)
{
    if (!instance_running(c, in, NULL))
        return true;
    if (strcmp(in->state, "deprovisioning") == 0 && in->operation) {
        if (async_ok)
            osb_accepted(res, in->operation);
        else
            osb_async_required(res, "this deprovision");
    } else {
        osb_busy(res, "instance", id, in->state);
    }
    return false;
}

/* Mark @j's instance deprovisioning and run it, synchronously or as an operation. */
static unsigned deprovision_run(struct call *c, struct deprovision_job *j, const char *from,
                                struct http_response *res)
{
    struct kairos_error err = {0};
    enum kairos_kind kind = j->kind;
    int rc;

    if (!osb_begin(c, j->id, from, "deprovisioning", j->op[0] ? j->op : NULL, NULL, NULL, res)) {
        free(j);
        return res->status;
    }
    if (j->op[0])
        return osb_submit(c, j->op, "deprovision", j->project, j->id, "deprovisioning", j->prior,
                          NULL, deprovision_work, j, res);
    rc = deprovision_work(c->g, j, &err);
    free(j);
    if (rc < 0)
        return osb_fail(c, res, kind, rc, &err);
    return http_json(res, 200, json_object());
}

unsigned osb_deprovision(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    struct deprovision_job *j;
    struct instance in;
    bool ok = true, async_ok = params_query_bool(req, "accepts_incomplete", &ok, res);
    int rc;

    if (!ok || !osb_id_ok(id, "instance_id", res))
        return res->status;
    rc = instance_load(c, id, &in, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    if (!in.rec) {
        /* Gone, or never there: the spec's 410 either way. The ids cannot be checked. */
        if (!osb_query(req, "service_id") || !osb_query(req, "plan_id"))
            http_error(res, 400, "BadRequest", "service_id and plan_id are required");
        else
            http_json(res, 410, json_object());
    } else if (osb_ids_match(req, NULL, &in, NULL, true, res) &&
               deprovision_allowed(c, id, &in, async_ok, res)) {
        bool slow = delete_is_slow(c, &in);
        if (slow && !async_ok)
            osb_async_required(res, in.kind == KAIROS_VOLUME ? "deleting a volume this large"
                                                             : "deleting a share or a bucket");
        else if (!(j = calloc(1, sizeof(*j))))
            http_error(res, 500, "InternalError", "out of memory");
        else {
            snprintf(j->id, sizeof(j->id), "%s", id);
            snprintf(j->project, sizeof(j->project), "%s", in.project);
            snprintf(j->name, sizeof(j->name), "%s", in.name);
            /* An abandoned provision was never ready; an abandoned update or delete was. */
            snprintf(j->prior, sizeof(j->prior), "%s",
                     strcmp(in.state, "provisioning") == 0 || strcmp(in.state, "failed") == 0
                         ? "failed"
                         : "ready");
            j->kind = in.kind;
            if (slow)
                ops_id_new(j->op);
            deprovision_run(c, j, in.state, res);
        }
    }
    instance_clear(&in);
    return res->status;
}
