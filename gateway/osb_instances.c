/*
 * osb_instances.c - provisioning and fetching service instances.
 *
 * A provision is synchronous (201) except a volume clone, which answers
 * 202 with an operation (and needs accepts_incomplete=true). One
 * operation runs on an instance at a time: an identical PUT while its
 * asynchronous provision runs answers 202 with the same operation, other
 * requests that would change it 422 ConcurrencyError. An identical PUT of
 * a ready instance is 200, a different one 409. A provision that failed
 * asynchronously, or whose kairosd died, is run again by a repeat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "metrics.h"
#include "osb_int.h"
#include "params.h"

struct provision_job {
    char id[KAIROS_REGISTRY_ID_MAX + 1];
    char op[OPS_ID_LEN + 1]; /* "" when synchronous */
    struct alloc_spec spec;
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    char src_volume[KAIROS_NAME_MAX + 1], src_snap[KAIROS_NAME_MAX + 1];
};

static int provision_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct provision_job *j = arg;
    struct call c = {.g = g};
    struct instance in;
    int rc = alloc_create(g, &j->spec, err);

    if (rc == 0) {
        metrics_provision(g->metrics, j->spec.kind);
        if (instance_set_state(&c, j->id, "provisioning", "ready", j->op[0] ? j->op : NULL, NULL,
                               NULL, NULL) == -ESTALE &&
            instance_load(&c, j->id, &in, NULL) == 0) {
            /* Deprovisioned meanwhile (after this went stale): nothing may own it. */
            if (!in.rec)
                alloc_delete(g, j->spec.project, j->spec.kind, j->spec.name, false, NULL);
            instance_clear(&in);
        }
    } else if (j->op[0]) {
        /* Asynchronous: the platform learns it from last_operation, then retries or deletes. */
        instance_set_state(&c, j->id, "provisioning", "failed", j->op, NULL, NULL, NULL);
    } else {
        /* Synchronous: the platform has the error; no instance stays behind. */
        instance_forget(&c, j->id, "provisioning", false, NULL, NULL);
    }
    return rc;
}

/* Read the "parameters" of a provision into @job. False after answering 400. */
static bool read_parameters(const json_t *params, struct provision_job *job,
                            struct http_response *res)
{
    static const char *const vol_keys[] = {"size", "source", NULL};
    static const char *const share_keys[] = {"size", "max_files", "mode", "uid", "gid", NULL};
    static const char *const bucket_keys[] = {"size", "max_objects", NULL};
    static const char *const src_keys[] = {"volume", "snapshot", NULL};
    struct alloc_spec *spec = &job->spec;
    const char *const *keys = spec->kind == KAIROS_VOLUME  ? vol_keys
                              : spec->kind == KAIROS_SHARE ? share_keys
                                                           : bucket_keys;
    const json_t *src;
    bool ok = true;

    if (!params)
        return true;
    if (!json_is_object(params)) {
        http_error(res, 400, "BadRequest", "parameters must be an object");
        return false;
    }
    if (!params_known(params, keys, "parameters", res) ||
        !params_size(params, "size", &spec->bytes, res) ||
        !params_count(params, "max_files", &spec->max_files, res) ||
        !params_count(params, "max_objects", &spec->max_objects, res) ||
        !params_share_access(params, &spec->access, &spec->has_access, res))
        return false;
    src = json_object_get(params, "source");
    if (!src)
        return true;
    if (!json_is_object(src) || !params_known(src, src_keys, "parameters.source", res)) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "parameters.source must be an object");
        return false;
    }
    const char *v = params_string(src, "volume", &ok, res);
    const char *s = params_string(src, "snapshot", &ok, res);
    if (!ok)
        return false;
    if (!v || !s || !kairos_name_valid(v) || !kairos_name_valid(s)) {
        http_error(res, 400, "BadRequest",
                   "parameters.source needs a volume and a snapshot, both valid names");
        return false;
    }
    snprintf(job->src_volume, sizeof(job->src_volume), "%s", v);
    snprintf(job->src_snap, sizeof(job->src_snap), "%s", s);
    spec->src_volume = job->src_volume;
    spec->src_snap = job->src_snap;
    return true;
}

/* The request, checked: its job (owned), and the record it asks for. NULL after answering. */
static struct provision_job *provision_request(struct call *c, const char *id, const json_t *body,
                                               json_t **want, struct http_response *res)
{
    const struct kairos_plan *plan;
    struct provision_job *job = calloc(1, sizeof(*job));
    const json_t *params = json_object_get(body, "parameters");

    if (!job) {
        http_error(res, 500, "InternalError", "out of memory");
        return NULL;
    }
    if (!osb_resolve_plan(c, osb_string(body, "service_id"), osb_string(body, "plan_id"),
                          &job->spec.kind, &plan, res)) {
        free(job);
        return NULL;
    }
    job->spec.bytes = plan->size[job->spec.kind];
    if (!read_parameters(params, job, res) || !osb_context_valid(body, res)) {
        free(job);
        return NULL;
    }
    snprintf(job->id, sizeof(job->id), "%s", id);
    osb_name_of(job->name, "i", id);
    *want = json_pack("{s:s,s:s,s:s,s:s}", "service_id", osb_string(body, "service_id"), "plan_id",
                      osb_string(body, "plan_id"), "kind", kairos_kind_name(job->spec.kind), "name",
                      job->name);
    if (params && json_object_size(params))
        json_object_set(*want, "parameters", (json_t *)params);
    return job;
}

/* Does the request @want (with the project its context maps to) match instance @in? */
static bool same_instance(const struct instance *in, const json_t *want, const char *project)
{
    static const char *const keys[] = {"service_id", "plan_id", "parameters"};

    if (!project || strcmp(project, in->project) != 0)
        return false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const json_t *a = json_object_get(in->rec, keys[i]), *b = json_object_get(want, keys[i]);
        if ((a || b) && !json_equal((json_t *)a, (json_t *)b))
            return false;
    }
    return true;
}

/* Run @job (taken): synchronously (201) or as an operation (202). */
static unsigned provision_run(struct call *c, struct provision_job *job, struct http_response *res)
{
    struct kairos_error err = {0};
    enum kairos_kind kind = job->spec.kind;
    int rc;

    /* Not started: failed, which a repeat runs again and a deprovision removes. */
    if (job->op[0])
        return osb_submit(c, job->op, "provision", job->project, job->id, "provisioning", "failed",
                          NULL, provision_work, job, res);
    rc = provision_work(c->g, job, &err);
    free(job);
    if (rc < 0)
        return osb_fail(c, res, kind, rc, &err);
    return http_json(res, 201, json_object());
}

/*
 * Record the job's instance as provisioning (new, or a failed or abandoned
 * one made again), take the job and run it. -ECANCELED, the job left with
 * the caller, when the record changed first.
 */
static int provision_start(struct call *c, struct provision_job **jobp, const struct instance *in,
                           const json_t *want, struct http_response *res)
{
    struct provision_job *job = *jobp;
    struct kairos_error err = {0};
    json_t *rec = json_deep_copy(want);
    int rc;

    job->spec.project = job->spec.src_project = job->project;
    job->spec.name = job->name;
    job->op[0] = '\0';
    if (alloc_create_is_slow(&job->spec))
        ops_id_new(job->op);
    json_object_set_new(rec, "project", json_string(job->project));
    json_object_set_new(rec, "state", json_string("provisioning"));
    json_object_set_new(rec, "started", json_integer((json_int_t)ops_now_ms()));
    if (job->op[0])
        json_object_set_new(rec, "operation", json_string(job->op));
    rc = instance_swap(c, job->id, in, rec, NULL, &err);
    json_decref(rec);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err), 0;
    *jobp = NULL;
    provision_run(c, job, res);
    return 0;
}

/* A PUT of an id that exists: 409, 200, 202, 422, or the provision run again. */
static int provision_existing(struct call *c, struct provision_job **jobp,
                              const struct instance *in, const json_t *want, const json_t *body,
                              bool async_ok, struct http_response *res)
{
    struct provision_job *job = *jobp;
    struct kairos_error err = {0};
    char project[KAIROS_NAME_MAX + 1];
    int rc = osb_project_of(c, body, false, project, res, &err);

    if (rc == -EINVAL)
        return 0;
    if (rc < 0 && rc != -ENOENT)
        return api_fail(c, res, job->spec.kind, rc, &err), 0;
    if (!same_instance(in, want, rc == 0 ? project : NULL))
        return http_json(res, 409, json_object()), 0;
    if (strcmp(in->state, "deprovisioning") == 0)
        return osb_busy(res, "instance", job->id, in->state), 0;
    if (strcmp(in->state, "ready") == 0 || strcmp(in->state, "updating") == 0)
        return http_json(res, 200, json_object()), 0;
    if (instance_running(c, in, NULL)) {
        if (!in->operation)
            return osb_busy(res, "instance", job->id, in->state), 0;
        if (!async_ok)
            return osb_async_required(res, "this provision"), 0;
        return osb_accepted(res, in->operation), 0;
    }
    /* Failed, or abandoned by a kairosd that died: the library's calls are idempotent. */
    if (alloc_create_is_slow(&job->spec) && !async_ok)
        return osb_async_required(res, "cloning a volume"), 0;
    snprintf(job->project, sizeof(job->project), "%s", in->project);
    return provision_start(c, jobp, in, want, res);
}

/* A PUT of an id never provisioned (or deprovisioned). */
static int provision_new(struct call *c, struct provision_job **jobp, const struct instance *in,
                         const json_t *want, const json_t *body, bool async_ok,
                         struct http_response *res)
{
    struct provision_job *job = *jobp;
    struct kairos_error err = {0};
    int rc;

    job->spec.project = job->project;
    if (alloc_create_is_slow(&job->spec) && !async_ok)
        return osb_async_required(res, "cloning a volume"), 0;
    rc = osb_project_of(c, body, true, job->project, res, &err);
    call_note(c, rc == 0 ? job->project : NULL, job->spec.kind, job->name);
    if (rc == -EINVAL)
        return 0;
    if (rc < 0)
        return api_fail(c, res, job->spec.kind, rc, &err), 0;
    return provision_start(c, jobp, in, want, res);
}

unsigned osb_provision(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    struct provision_job *job = NULL;
    json_t *body = NULL, *want = NULL;
    bool ok = true, async_ok = params_query_bool(req, "accepts_incomplete", &ok, res);
    int rc = -ECANCELED;

    if (!ok || !osb_id_ok(id, "instance_id", res) || !(body = params_body(req, res, false)) ||
        !(job = provision_request(c, id, body, &want, res)))
        goto out;
    /* Until a run takes the job, it is ours; a record changed under us is read again. */
    for (int attempt = 0; rc == -ECANCELED && attempt < OSB_SWAP_ATTEMPTS; attempt++) {
        struct instance in;
        rc = instance_load(c, id, &in, &err);
        if (rc < 0) {
            api_fail(c, res, KAIROS_VOLUME, rc, &err);
            break;
        }
        rc = in.rec ? provision_existing(c, &job, &in, want, body, async_ok, res)
                    : provision_new(c, &job, &in, want, body, async_ok, res);
        instance_clear(&in);
    }
    if (rc == -ECANCELED)
        http_error(res, 503, "ServiceUnavailable", "instance %.64s keeps changing: try again", id);
out:
    free(job);
    json_decref(want);
    json_decref(body);
    return res->status;
}

unsigned osb_fetch_instance(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    struct instance in;
    json_t *out;
    int rc;

    if (!osb_id_ok(id, "instance_id", res))
        return res->status;
    rc = instance_load(c, id, &in, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    if (!in.rec) {
        instance_clear(&in);
        return http_error(res, 404, "NotFound", "no instance %.64s", id);
    }
    if (!osb_ids_match(req, NULL, &in, NULL, false, res)) {
        instance_clear(&in);
        return res->status;
    }
    /* Not there until provisioned; busy while it changes. */
    if (strcmp(in.state, "provisioning") == 0 || strcmp(in.state, "failed") == 0)
        http_error(res, 404, "NotFound", "instance %.64s is %s", id, in.state);
    else if (strcmp(in.state, "deprovisioning") == 0 ||
             (strcmp(in.state, "updating") == 0 && instance_running(c, &in, NULL)))
        osb_busy(res, "instance", id, in.state);
    if (res->status) {
        instance_clear(&in);
        return res->status;
    }
    out = json_pack("{s:s,s:s}", "service_id", in.service_id, "plan_id", in.plan_id);
    /* A record written before parameters were kept (an older kairosd's) has none. */
    json_t *params = json_object_get(in.rec, "parameters");
    json_object_set_new(out, "parameters", params ? json_incref(params) : json_object());
    instance_clear(&in);
    return http_json(res, 200, out);
}
