/*
 * osb.c - Open Service Broker API v2.17 (see osb.h).
 *
 * Each handler validates everything before it changes anything, so a 4xx
 * leaves the ledger, the registry and the cluster as they were.
 */
#include "osb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "metrics.h"
#include "ops.h"
#include "params.h"

#define SPACE_INSTANCE "instance"
#define SPACE_BINDING  "binding"

static const enum kairos_kind service_kinds[] = {KAIROS_VOLUME, KAIROS_SHARE, KAIROS_BUCKET};

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

/* ---- catalog ---- */

static void service_id(char *buf, size_t len, enum kairos_kind kind)
{
    snprintf(buf, len, "kairos-%s", kairos_kind_name(kind));
}

static void plan_id(char *buf, size_t len, enum kairos_kind kind, const char *plan)
{
    snprintf(buf, len, "kairos-%s-%s", kairos_kind_name(kind), plan);
}

static json_t *plan_json(enum kairos_kind kind, const struct kairos_plan *p)
{
    char id[128];
    json_t *quota = json_object();

    plan_id(id, sizeof(id), kind, p->name);
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        const struct kairos_limit *l = &p->quota.kind[k];
        json_t *q = json_object();
        if (l->bytes != KAIROS_UNLIMITED)
            json_object_set_new(q, "bytes", json_integer((json_int_t)l->bytes));
        if (l->count != KAIROS_UNLIMITED)
            json_object_set_new(q, "count", json_integer((json_int_t)l->count));
        json_object_set_new(quota, kairos_kind_name(k), q);
    }
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:{s:I,s:o}}", "id", id, "name", p->name,
                     "description", p->description ? p->description : p->name, "free", 1,
                     "bindable", 1, "plan_updateable", 1, "metadata", "size",
                     (json_int_t)p->size[kind], "project_quota", quota);
}

static const char *const service_text[] = {
    [KAIROS_VOLUME] = "Block volumes (Ceph RBD) for VMs and pods",
    [KAIROS_SHARE] = "Shared POSIX file systems (CephFS) for many clients",
    [KAIROS_BUCKET] = "S3 object storage (Ceph RGW)",
};

static unsigned catalog(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    json_t *services = json_array();

    (void)req;
    for (size_t i = 0; i < sizeof(service_kinds) / sizeof(service_kinds[0]); i++) {
        enum kairos_kind kind = service_kinds[i];
        json_t *plans = json_array();
        char id[64];
        for (size_t p = 0; p < c->g->policy->nplans; p++) {
            if (c->g->policy->plans[p].size[kind])
                json_array_append_new(plans, plan_json(kind, &c->g->policy->plans[p]));
        }
        if (json_array_size(plans) == 0) {
            json_decref(plans);
            continue;
        }
        service_id(id, sizeof(id), kind);
        json_t *s = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:[s,s],s:o}", "id", id, "name", id,
                              "description", service_text[kind], "bindable", 1, "plan_updateable",
                              kind != KAIROS_BUCKET, "instances_retrievable", 1,
                              "bindings_retrievable", 1, "allow_context_updates", 0, "tags", "ceph",
                              kairos_kind_name(kind), "plans", plans);
        if (kind == KAIROS_SHARE)
            json_object_set_new(s, "requires", json_pack("[s]", "volume_mount"));
        json_array_append_new(services, s);
    }
    return http_json(res, 200, json_pack("{s:o}", "services", services));
}

/* ---- ids, plans and projects ---- */

/*
 * A Kairos name for an outside id: the id itself when it is one, else a hash
 * of it. Not lowercased: ids "ABC" and "abc" are two instances.
 */
static void name_of(char *buf, const char *prefix, const char *id)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1];

    if (kairos_name_valid(id)) {
        snprintf(buf, KAIROS_NAME_MAX + 1, "%s", id);
        return;
    }
    kairos_token_hash(id, hash);
    snprintf(buf, KAIROS_NAME_MAX + 1, "%s-%.24s", prefix, hash);
}

/* The kind and plan named by (@service, @plan), or false after answering 400. */
static bool resolve_plan(struct call *c, const char *service, const char *plan,
                         enum kairos_kind *kind, const struct kairos_plan **out,
                         struct http_response *res)
{
    char id[128];

    for (size_t i = 0; i < sizeof(service_kinds) / sizeof(service_kinds[0]); i++) {
        service_id(id, sizeof(id), service_kinds[i]);
        if (!service || strcmp(id, service) != 0)
            continue;
        *kind = service_kinds[i];
        for (size_t p = 0; p < c->g->policy->nplans; p++) {
            plan_id(id, sizeof(id), *kind, c->g->policy->plans[p].name);
            if (plan && strcmp(id, plan) == 0 && c->g->policy->plans[p].size[*kind]) {
                *out = &c->g->policy->plans[p];
                return true;
            }
        }
        http_error(res, 400, "BadRequest", "unknown plan_id for service %s", service);
        return false;
    }
    http_error(res, 400, "BadRequest", "unknown service_id");
    return false;
}

/* The owner a context names, or false after answering 400. */
static bool owner_of(const json_t *ctx, struct kairos_owner *o, char *name,
                     struct http_response *res)
{
    const char *platform = json_string_value(json_object_get(ctx, "platform"));
    const char *key = NULL, *prefix = NULL, *id;

    memset(o, 0, sizeof(*o));
    if (platform && strcmp(platform, "kubernetes") == 0)
        key = "namespace", prefix = "k8s";
    else if (platform && strcmp(platform, "openstack") == 0)
        key = "project_id", prefix = "os";
    else if (platform && strcmp(platform, "cloudfoundry") == 0)
        key = "space_guid", prefix = "cf";
    if (!key) {
        http_error(res, 400, "BadRequest",
                   "context.platform must be kubernetes, openstack or cloudfoundry");
        return false;
    }
    id = json_string_value(json_object_get(ctx, key));
    if (!id || !kairos_owner_id_valid(id)) {
        http_error(res, 400, "BadRequest", "context.%s is missing or not a valid id", key);
        return false;
    }
    snprintf(o->platform, sizeof(o->platform), "%s", platform);
    snprintf(o->id, sizeof(o->id), "%s", id);
    {
        char raw[KAIROS_OWNER_ID_MAX + 8];
        snprintf(raw, sizeof(raw), "%s-%s", prefix, id);
        name_of(name, prefix, raw);
    }
    return true;
}

/* The project of @owner, made with the default plan's quota on first use. */
static int project_for(struct call *c, const struct kairos_owner *o, const char *name, char *out,
                       struct kairos_error *err)
{
    const struct kairos_policy *pol = c->g->policy;
    const struct kairos_plan *def =
        pol->default_plan ? kairos_policy_plan(pol, pol->default_plan) : NULL;
    struct kairos_quota q;
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = kairos_project_find(c->g->k, o, out, err);
        if (rc != -ENOENT)
            return rc;
        kairos_error_clear(err);
        if (def)
            q = def->quota;
        else
            kairos_quota_unlimited(&q);
        rc = kairos_project_create(c->g->k, name, o, &q, err);
        if (rc == 0) {
            snprintf(out, KAIROS_NAME_MAX + 1, "%s", name);
            return 0;
        }
        /* Another broker made it at the same moment: find it again. */
        if (rc != -EEXIST)
            return rc;
        kairos_error_clear(err);
    }
    return rc;
}

/* ---- instance records ---- */

struct instance {
    json_t *rec; /* as stored */
    const char *project, *name, *state, *operation;
    enum kairos_kind kind;
};

static int instance_load(struct call *c, const char *id, struct instance *in,
                         struct kairos_error *err)
{
    char *text = NULL;
    const char *kind;
    int rc = kairos_registry_get(c->g->k, SPACE_INSTANCE, id, &text, err);

    memset(in, 0, sizeof(*in));
    if (rc < 0)
        return rc;
    in->rec = json_loads(text, 0, NULL);
    free(text);
    kind = json_string_value(json_object_get(in->rec, "kind"));
    in->project = json_string_value(json_object_get(in->rec, "project"));
    in->name = json_string_value(json_object_get(in->rec, "name"));
    in->state = json_string_value(json_object_get(in->rec, "state"));
    in->operation = json_string_value(json_object_get(in->rec, "operation"));
    if (!kind || kairos_kind_parse(kind, &in->kind) < 0 || !in->project || !in->name ||
        !in->state) {
        json_decref(in->rec);
        in->rec = NULL;
        return kairos_error_set(err, -EIO, "corrupt instance record %s", id);
    }
    return 0;
}

static int instance_save(struct call *c, const char *id, json_t *rec, unsigned flags,
                         struct kairos_error *err)
{
    char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;

    if (!text)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = kairos_registry_put(c->g->k, SPACE_INSTANCE, id, text, flags, err);
    free(text);
    return rc;
}

static int instance_set_state(struct call *c, const char *id, json_t *rec, const char *state,
                              const char *operation, struct kairos_error *err)
{
    json_object_set_new(rec, "state", json_string(state));
    if (operation)
        json_object_set_new(rec, "operation", json_string(operation));
    else
        json_object_del(rec, "operation");
    return instance_save(c, id, rec, 0, err);
}

/* An operation that could not be started: @id goes back to @state, with none. */
static void instance_not_started(struct call *c, const char *id, const char *state)
{
    struct instance in;

    if (instance_load(c, id, &in, NULL) == 0) {
        instance_set_state(c, id, in.rec, state, NULL, NULL);
        json_decref(in.rec);
    }
}

/* ---- provision ---- */

struct provision_job {
    char id[KAIROS_REGISTRY_ID_MAX + 1];
    struct alloc_spec spec;
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    char src_volume[KAIROS_NAME_MAX + 1], src_snap[KAIROS_NAME_MAX + 1];
};

static int provision_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct provision_job *j = arg;
    struct call c = {.g = g};
    struct instance in;
    int rc = alloc_create(g, &j->spec, err), lrc;

    lrc = instance_load(&c, j->id, &in, NULL);
    if (lrc < 0) {
        /* Deprovisioned meanwhile (after this operation went stale): nothing may own it. */
        if (rc == 0 && lrc == -ENOENT)
            alloc_delete(g, j->spec.project, j->spec.kind, j->spec.name, false, NULL);
        return rc;
    }
    if (rc == 0) {
        metrics_provision(g->metrics, j->spec.kind);
        instance_set_state(&c, j->id, in.rec, "ready", NULL, NULL);
    } else if (in.operation) {
        /* Asynchronous: the platform learns it from last_operation, then retries or deletes. */
        instance_set_state(&c, j->id, in.rec, "failed", in.operation, NULL);
    } else {
        /* Synchronous: the platform has the error; no instance stays behind. */
        kairos_registry_delete(g->k, SPACE_INSTANCE, j->id, NULL);
    }
    json_decref(in.rec);
    return rc;
}

/* Read the "parameters" of a provision or update into @spec. */
static bool read_parameters(const json_t *params, struct alloc_spec *spec,
                            struct provision_job *job, struct http_response *res)
{
    static const char *const vol_keys[] = {"size", "source", NULL};
    static const char *const share_keys[] = {"size", "max_files", NULL};
    static const char *const bucket_keys[] = {"size", "max_objects", NULL};
    static const char *const src_keys[] = {"volume", "snapshot", NULL};
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
        !params_count(params, "max_objects", &spec->max_objects, res))
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

/* The same request as the one that made @in? */
static bool same_instance(const struct instance *in, const json_t *want)
{
    static const char *const keys[] = {"service_id", "plan_id", "parameters", "project"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const json_t *a = json_object_get(in->rec, keys[i]), *b = json_object_get(want, keys[i]);
        if (!json_equal((json_t *)a, (json_t *)b) && (a || b))
            return false;
    }
    return true;
}

/*
 * An operation still open this long lost its kairosd (kill -9: a stopping
 * kairosd finishes its operations): a clone is copy-on-write, quick, and a
 * repeated request may then run the work again, which is idempotent.
 */
#define OPS_STALE_MS (30 * 60 * 1000ULL)

static uint64_t op_started(const json_t *op)
{
    const json_t *v = json_object_get(op, "started");

    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static bool stale(uint64_t started_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return started_ms && (uint64_t)ts.tv_sec * 1000 > started_ms + OPS_STALE_MS;
}

/* Is @in's operation running, here or in another kairosd? */
static bool op_running(struct call *c, const struct instance *in)
{
    const char *state;
    json_t *op = NULL;
    bool running = false;

    if (in->operation && kairos_registry_id_valid(in->operation) &&
        ops_get(c->g, in->operation, &op, NULL) == 0) {
        state = json_string_value(json_object_get(op, "state"));
        running = state && strcmp(state, "in progress") == 0 && !stale(op_started(op));
    }
    json_decref(op);
    return running;
}

/* Run the provision of @job (owned), synchronously or as an operation. */
static unsigned provision_answer(struct call *c, const char *id, struct provision_job *job,
                                 struct http_response *res)
{
    struct kairos_error err = {0};
    enum kairos_kind kind = job->spec.kind;
    struct instance in;
    char op[OPS_ID_LEN + 1];
    int rc;

    if (alloc_create_is_slow(&job->spec)) {
        ops_id_new(op);
        /* Recorded before the work starts, so that a quick worker's "ready" is not overwritten. */
        if (instance_load(c, id, &in, &err) == 0) {
            rc = instance_set_state(c, id, in.rec, "provisioning", op, &err);
            json_decref(in.rec);
        }
        rc = ops_submit(c->g->ops, op, "provision", provision_work, job, &err);
        if (rc < 0) {
            /* Nothing runs: failed, which a repeat runs again and a deprovision removes. */
            instance_not_started(c, id, "failed");
            return http_error(res, 503, "ServiceUnavailable", "%s", err.msg);
        }
        return http_json(res, 202, json_pack("{s:s}", "operation", op));
    }
    rc = provision_work(c->g, job, &err);
    free(job);
    if (rc < 0)
        return api_fail(c, res, kind, rc, &err);
    return http_json(res, 201, json_object());
}

static unsigned provision(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"service_id",        "plan_id",    "context",
                                       "organization_guid", "space_guid", "parameters",
                                       "maintenance_info",  NULL};
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    struct provision_job *job = NULL;
    const struct kairos_plan *plan;
    struct kairos_owner owner;
    struct instance in;
    char pname[KAIROS_NAME_MAX + 1];
    json_t *body = NULL, *want = NULL;
    bool ok = true, async_ok = params_query_bool(req, "accepts_incomplete", &ok, res);
    unsigned status;
    int rc;

    if (!ok)
        return res->status;
    if (!kairos_registry_id_valid(id))
        return http_error(res, 400, "BadRequest", "bad instance_id");
    body = params_body(req, res, false);
    if (!body || !params_known(body, keys, "the request", res))
        goto out;
    job = calloc(1, sizeof(*job));
    if (!job) {
        http_error(res, 500, "InternalError", "out of memory");
        goto out;
    }
    if (!resolve_plan(c, json_string_value(json_object_get(body, "service_id")),
                      json_string_value(json_object_get(body, "plan_id")), &job->spec.kind, &plan,
                      res))
        goto out;
    job->spec.bytes = plan->size[job->spec.kind];
    if (!read_parameters(json_object_get(body, "parameters"), &job->spec, job, res) ||
        !owner_of(json_object_get(body, "context"), &owner, pname, res))
        goto out;
    if (alloc_create_is_slow(&job->spec) && !async_ok) {
        http_error(res, 422, "AsyncRequired", "cloning needs accepts_incomplete=true");
        goto out;
    }
    rc = project_for(c, &owner, pname, job->project, &err);
    if (rc < 0) {
        api_fail(c, res, job->spec.kind, rc, &err);
        goto out;
    }
    snprintf(job->id, sizeof(job->id), "%s", id);
    name_of(job->name, "i", id);
    job->spec.project = job->spec.src_project = job->project;
    job->spec.name = job->name;
    want = json_pack("{s:O,s:O,s:s,s:s,s:s,s:s}", "service_id", json_object_get(body, "service_id"),
                     "plan_id", json_object_get(body, "plan_id"), "project", job->project, "kind",
                     kairos_kind_name(job->spec.kind), "name", job->name, "state", "provisioning");
    if (json_object_get(body, "parameters"))
        json_object_set(want, "parameters", json_object_get(body, "parameters"));
    rc = instance_save(c, id, want, KAIROS_REGISTRY_CREATE, &err);
    if (rc == -EEXIST) {
        kairos_error_clear(&err);
        rc = instance_load(c, id, &in, &err);
        if (rc == 0 && !same_instance(&in, want)) {
            http_json(res, 409, json_object());
        } else if (rc == 0 && strcmp(in.state, "ready") == 0) {
            http_json(res, 200, json_object());
        } else if (rc == 0 && op_running(c, &in)) {
            if (strcmp(in.state, "provisioning") == 0 && async_ok)
                http_json(res, 202, json_pack("{s:s}", "operation", in.operation));
            else
                http_error(res, 422, "ConcurrencyError", "instance %s is %s", id, in.state);
        } else if (rc == 0) {
            /* Interrupted earlier: the library's calls are idempotent, so run it again. */
            provision_answer(c, id, job, res);
            job = NULL;
            if (res->status == 201)
                res->status = 200;
        }
        json_decref(in.rec);
        if (rc < 0)
            api_fail(c, res, job ? job->spec.kind : KAIROS_VOLUME, rc, &err);
        goto out;
    }
    if (rc < 0) {
        api_fail(c, res, job->spec.kind, rc, &err);
        goto out;
    }
    provision_answer(c, id, job, res);
    job = NULL;
out:
    status = res->status;
    free(job);
    json_decref(want);
    json_decref(body);
    return status;
}

/* ---- fetch and update ---- */

static unsigned fetch_instance(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    struct instance in;
    json_t *out;
    int rc;

    if (!kairos_registry_id_valid(req->params[0]))
        return http_error(res, 400, "BadRequest", "bad instance_id");
    rc = instance_load(c, req->params[0], &in, &err);
    if (rc == -ENOENT)
        return http_error(res, 404, "NotFound", "no instance %s", req->params[0]);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    if (strcmp(in.state, "ready") != 0) {
        json_decref(in.rec);
        return http_error(res, strcmp(in.state, "provisioning") == 0 ? 404 : 422,
                          strcmp(in.state, "provisioning") == 0 ? "NotFound" : "ConcurrencyError",
                          "instance %s is %s", req->params[0], in.state);
    }
    out = json_pack("{s:O,s:O}", "service_id", json_object_get(in.rec, "service_id"), "plan_id",
                    json_object_get(in.rec, "plan_id"));
    json_object_set(out, "parameters",
                    json_object_get(in.rec, "parameters") ? json_object_get(in.rec, "parameters")
                                                          : json_object());
    json_decref(in.rec);
    return http_json(res, 200, out);
}

static unsigned update(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {
        "service_id", "plan_id",          "parameters", "previous_values",
        "context",    "maintenance_info", NULL};
    static const char *const pkeys[] = {"size", "shrink", NULL};
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    const struct kairos_plan *plan;
    enum kairos_kind kind;
    struct instance in = {0};
    json_t *body, *params;
    uint64_t bytes;
    bool ok = true, shrink, resize;
    int rc;

    params_query_bool(req, "accepts_incomplete", &ok, res);
    if (!ok)
        return res->status;
    if (!kairos_registry_id_valid(id))
        return http_error(res, 400, "BadRequest", "bad instance_id");
    body = params_body(req, res, false);
    if (!body || !params_known(body, keys, "the request", res))
        goto out;
    params = json_object_get(body, "parameters");
    if (params && (!json_is_object(params) || !params_known(params, pkeys, "parameters", res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "parameters must be an object");
        goto out;
    }
    rc = instance_load(c, id, &in, &err);
    if (rc < 0) {
        if (rc == -ENOENT)
            http_error(res, 404, "NotFound", "no instance %s", id);
        else
            api_fail(c, res, KAIROS_VOLUME, rc, &err);
        goto out;
    }
    if (strcmp(in.state, "ready") != 0) {
        http_error(res, 422, "ConcurrencyError", "instance %s is %s", id, in.state);
        goto out;
    }
    const json_t *sid = json_object_get(body, "service_id");
    json_t *pid = json_object_get(body, "plan_id");
    /* An empty string counts as absent, as platforms send it. */
    if (json_is_string(pid) && !json_string_value(pid)[0])
        pid = NULL;
    if (!json_is_string(sid) || !json_equal((json_t *)sid, json_object_get(in.rec, "service_id"))) {
        http_error(res, 400, "BadRequest", "service_id must be the instance's service");
        goto out;
    }
    if (!resolve_plan(c, json_string_value(sid),
                      json_string_value(pid ? pid : json_object_get(in.rec, "plan_id")), &kind,
                      &plan, res))
        goto out;
    /* The size given, else a new plan's; else the instance keeps its size. */
    bytes = plan->size[kind];
    resize = json_object_get(params, "size") ||
             (pid && !json_equal(pid, json_object_get(in.rec, "plan_id")));
    shrink = params_bool(params, "shrink", false, &ok, res);
    if (!ok || !params_size(params, "size", &bytes, res))
        goto out;
    rc = resize ? alloc_resize(c->g, in.project, in.kind, in.name, bytes, shrink, &err) : 0;
    if (rc < 0) {
        api_fail(c, res, in.kind, rc, &err);
        goto out;
    }
    if (pid)
        json_object_set(in.rec, "plan_id", pid);
    if (resize) {
        json_t *kept = json_object_get(in.rec, "parameters");
        if (!json_is_object(kept)) {
            kept = json_object();
            json_object_set_new(in.rec, "parameters", kept);
        }
        json_object_set_new(kept, "size", json_integer((json_int_t)bytes));
    }
    instance_save(c, id, in.rec, 0, NULL);
    http_json(res, 200, json_object());
out:
    json_decref(in.rec);
    json_decref(body);
    return res->status;
}

/* ---- deprovision ---- */

struct deprovision_job {
    char id[KAIROS_REGISTRY_ID_MAX + 1];
    char project[KAIROS_NAME_MAX + 1], name[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
};

static int deprovision_work(struct gateway *g, void *arg, struct kairos_error *err)
{
    struct deprovision_job *j = arg;
    struct call c = {.g = g};
    struct kairos_binding_page *page = NULL;
    struct instance in;
    int rc = 0;

    /*
     * A deprovision destroys the data, so a bucket's objects go with it; but
     * not from under a binding, which the platform removes first.
     */
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
        return kairos_registry_delete(g->k, SPACE_INSTANCE, j->id, err);
    /* Still there: ready again, and the operation's record says why it failed. */
    if (instance_load(&c, j->id, &in, NULL) == 0) {
        instance_set_state(&c, j->id, in.rec, "ready", in.operation, NULL);
        json_decref(in.rec);
    }
    return rc;
}

/* The service_id and plan_id query arguments the spec requires on DELETE. */
static bool ids_in_query(const struct http_request *req, struct http_response *res)
{
    if (!req->query(req->lookup_arg, "service_id") || !req->query(req->lookup_arg, "plan_id")) {
        http_error(res, 400, "BadRequest", "service_id and plan_id query arguments are required");
        return false;
    }
    return true;
}

static unsigned deprovision(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    struct kairos_error err = {0};
    struct deprovision_job *job;
    struct instance in;
    char op[OPS_ID_LEN + 1];
    bool ok = true, async_ok = params_query_bool(req, "accepts_incomplete", &ok, res);
    int rc;

    if (!ok || !ids_in_query(req, res))
        return res->status;
    if (!kairos_registry_id_valid(id))
        return http_error(res, 400, "BadRequest", "bad instance_id");
    rc = instance_load(c, id, &in, &err);
    if (rc == -ENOENT)
        return http_json(res, 410, json_object());
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    if (alloc_delete_is_slow(in.kind) && !async_ok) {
        json_decref(in.rec);
        return http_error(res, 422, "AsyncRequired",
                          "deleting a %s takes time: accepts_incomplete=true is required",
                          kairos_kind_name(in.kind));
    }
    /* One operation at a time: a deprovision under way is answered, a provision waited for. */
    if (op_running(c, &in)) {
        if (strcmp(in.state, "deprovisioning") == 0 && async_ok)
            http_json(res, 202, json_pack("{s:s}", "operation", in.operation));
        else
            http_error(res, 422, "ConcurrencyError", "instance %s is %s", id, in.state);
        json_decref(in.rec);
        return res->status;
    }
    job = calloc(1, sizeof(*job));
    if (!job) {
        json_decref(in.rec);
        return http_error(res, 500, "InternalError", "out of memory");
    }
    snprintf(job->id, sizeof(job->id), "%s", id);
    snprintf(job->project, sizeof(job->project), "%s", in.project);
    snprintf(job->name, sizeof(job->name), "%s", in.name);
    job->kind = in.kind;
    if (alloc_delete_is_slow(in.kind)) {
        ops_id_new(op);
        instance_set_state(c, id, in.rec, "deprovisioning", op, NULL);
        json_decref(in.rec);
        rc = ops_submit(c->g->ops, op, "deprovision", deprovision_work, job, &err);
        if (rc < 0) {
            /* Nothing runs: the instance is as it was. */
            instance_not_started(c, id, "ready");
            return http_error(res, 503, "ServiceUnavailable", "%s", err.msg);
        }
        return http_json(res, 202, json_pack("{s:s}", "operation", op));
    }
    json_decref(in.rec);
    rc = deprovision_work(c->g, job, &err);
    free(job);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}

/* ---- last_operation ---- */

static unsigned state_answer(struct http_response *res, const char *state, const char *desc)
{
    json_t *j = json_pack("{s:s}", "state", state);

    if (desc)
        json_object_set_new(j, "description", json_string(desc));
    return http_json(res, 200, j);
}

static unsigned instance_last_operation(void *ctx, struct http_request *req,
                                        struct http_response *res)
{
    struct call *c = ctx;
    const char *id = req->params[0];
    const char *opq = req->query(req->lookup_arg, "operation");
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct instance in;
    const char *opid, *state = NULL;
    json_t *op = NULL;
    int rc;

    if (!kairos_registry_id_valid(id))
        return http_error(res, 400, "BadRequest", "bad instance_id");
    rc = instance_load(c, id, &in, &err);
    /*
     * Gone: the deprovision named finished (200, which every platform takes
     * well), or nothing ever was (410).
     */
    if (rc == -ENOENT && opq && kairos_registry_id_valid(opq) && ops_get(c->g, opq, &op, NULL) == 0)
        state = json_string_value(json_object_get(op, "state"));
    if (state && strcmp(state, "succeeded") == 0) {
        json_decref(op);
        return state_answer(res, "succeeded", NULL);
    }
    json_decref(op);
    op = NULL;
    state = NULL;
    if (rc == -ENOENT)
        return http_json(res, 410, json_object());
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    opid = opq ? opq : in.operation;
    if (opid && kairos_registry_id_valid(opid) && ops_get(c->g, opid, &op, NULL) == 0)
        state = json_string_value(json_object_get(op, "state"));
    if (state && strcmp(state, "in progress") != 0) {
        state_answer(res, state, json_string_value(json_object_get(op, "description")));
    } else if (strcmp(in.state, "ready") == 0 && state && in.operation &&
               strcmp(in.operation, opid) == 0) {
        /* A failed deprovision is ready again before its record says "failed". */
        state_answer(res, "in progress", NULL);
    } else if (strcmp(in.state, "ready") == 0) {
        state_answer(res, "succeeded", NULL);
    } else if (strcmp(in.state, "failed") == 0) {
        state_answer(res, "failed", NULL);
    } else {
        /*
         * In progress as far as the records say. A kairosd that died mid-way
         * leaves them so; the ledger, settled by the reconciler, has the last word.
         */
        rc = kairos_ledger_get(c->g->k, in.project, in.kind, in.name, &a, NULL);
        if (rc == 0 && !a.pending && strcmp(in.state, "provisioning") == 0)
            state_answer(res, "succeeded", NULL);
        else if (rc == -ENOENT && strcmp(in.state, "provisioning") == 0 && op &&
                 stale(op_started(op)))
            state_answer(res, "failed", "the broker running it stopped; provision again");
        else
            state_answer(res, "in progress", NULL);
        if (rc == 0)
            kairos_alloc_clear(&a);
    }
    json_decref(op);
    json_decref(in.rec);
    return res->status;
}

/* ---- bindings ---- */

static unsigned bind(void *ctx, struct http_request *req, struct http_response *res)
{
    static const char *const keys[] = {"service_id", "plan_id", "app_guid", "bind_resource",
                                       "parameters", "context", NULL};
    static const char *const pkeys[] = {"read_only", NULL};
    struct call *c = ctx;
    const char *iid = req->params[0], *bid = req->params[1];
    struct kairos_error err = {0};
    struct instance in = {0};
    char bname[KAIROS_NAME_MAX + 1], *creds = NULL, *stored = NULL;
    json_t *body = NULL, *params, *cj = NULL, *want = NULL, *out;
    bool ok = true, ro;
    unsigned status = 201;
    int rc;

    if (!kairos_registry_id_valid(iid) || !kairos_registry_id_valid(bid))
        return http_error(res, 400, "BadRequest", "bad instance_id or binding_id");
    body = params_body(req, res, false);
    if (!body || !params_known(body, keys, "the request", res))
        goto out;
    params = json_object_get(body, "parameters");
    if (params && (!json_is_object(params) || !params_known(params, pkeys, "parameters", res))) {
        if (!res->status)
            http_error(res, 400, "BadRequest", "parameters must be an object");
        goto out;
    }
    ro = params_bool(params, "read_only", false, &ok, res);
    if (!ok)
        goto out;
    rc = instance_load(c, iid, &in, &err);
    if (rc < 0 || strcmp(in.state, "ready") != 0) {
        if (rc == -ENOENT || rc == 0)
            http_error(res, rc == 0 ? 422 : 404, rc == 0 ? "ConcurrencyError" : "NotFound",
                       "instance %s is %s", iid, rc == 0 ? in.state : "unknown");
        else
            api_fail(c, res, KAIROS_VOLUME, rc, &err);
        goto out;
    }
    name_of(bname, "b", bid);
    want = json_pack("{s:s,s:s,s:b}", "instance", iid, "binding", bname, "read_only", ro);
    /* Made here, or there already: two racing binds cannot both win. */
    char *text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    rc = text ? kairos_registry_put(c->g->k, SPACE_BINDING, bid, text, KAIROS_REGISTRY_CREATE, &err)
              : -ENOMEM;
    free(text);
    if (rc == -EEXIST) {
        kairos_error_clear(&err);
        rc = kairos_registry_get(c->g->k, SPACE_BINDING, bid, &stored, &err);
        json_t *have = rc == 0 ? json_loads(stored, 0, NULL) : NULL;
        bool same = json_equal(have, want);
        json_decref(have);
        if (rc == 0 && !same) {
            http_json(res, 409, json_object());
            goto out;
        }
        status = 200;
    }
    if (rc < 0) {
        api_fail(c, res, in.kind, rc, &err);
        goto out;
    }
    rc = kairos_binding_create(c->g->k, in.project, in.kind, in.name, bname,
                               ro ? KAIROS_BIND_READ_ONLY : 0, &creds, &err);
    if (rc < 0) {
        if (status == 201)
            kairos_registry_delete(c->g->k, SPACE_BINDING, bid, NULL);
        api_fail(c, res, in.kind, rc, &err);
        goto out;
    }
    cj = json_loads(creds, 0, NULL);
    out = json_pack("{s:o}", "credentials", cj ? json_incref(cj) : json_object());
    if (in.kind == KAIROS_SHARE && cj) {
        json_t *mc = json_deep_copy(cj);
        json_object_set_new(out, "volume_mounts",
                            json_pack("[{s:s,s:s,s:s,s:s,s:{s:s,s:o}}]", "driver", "cephfs",
                                      "container_dir", "/mnt/kairos", "mode", ro ? "r" : "rw",
                                      "device_type", "shared", "device", "volume_id", iid,
                                      "mount_config", mc));
    }
    http_json(res, status, out);
out:
    if (creds) {
        explicit_bzero(creds, strlen(creds));
        free(creds);
    }
    free(stored);
    json_decref(cj);
    json_decref(want);
    json_decref(in.rec);
    json_decref(body);
    return res->status;
}

/* The binding record of @bid under instance @iid, or an answer (404/410). */
static int binding_load(struct call *c, const char *iid, const char *bid, struct instance *in,
                        char *bname, bool *ro, unsigned gone, struct http_response *res)
{
    struct kairos_error err = {0};
    char *stored = NULL;
    json_t *b;
    int rc;

    if (!kairos_registry_id_valid(iid) || !kairos_registry_id_valid(bid))
        return http_error(res, 400, "BadRequest", "bad instance_id or binding_id"), -EINVAL;
    rc = kairos_registry_get(c->g->k, SPACE_BINDING, bid, &stored, &err);
    if (rc == -ENOENT)
        return http_json(res, gone, gone == 410 ? json_object() : NULL), rc;
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err), rc;
    b = json_loads(stored, 0, NULL);
    free(stored);
    if (strcmp(json_string_value(json_object_get(b, "instance")) ?: "", iid) != 0) {
        json_decref(b);
        return http_error(res, gone, "NotFound", "no binding %s of instance %s", bid, iid), -ENOENT;
    }
    snprintf(bname, KAIROS_NAME_MAX + 1, "%s",
             json_string_value(json_object_get(b, "binding")) ?: "");
    *ro = json_is_true(json_object_get(b, "read_only"));
    json_decref(b);
    rc = instance_load(c, iid, in, &err);
    if (rc < 0)
        return http_error(res, gone, "NotFound", "no instance %s", iid), rc;
    return 0;
}

static unsigned unbind(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    char bname[KAIROS_NAME_MAX + 1];
    struct instance in;
    bool ro, ok = true;
    int rc;

    params_query_bool(req, "accepts_incomplete", &ok, res);
    if (!ok || !ids_in_query(req, res))
        return res->status;
    if (binding_load(c, req->params[0], req->params[1], &in, bname, &ro, 410, res) < 0)
        return res->status;
    rc = kairos_binding_delete(c->g->k, in.project, in.kind, in.name, bname, &err);
    if (rc == 0 || rc == -ENOENT)
        rc = kairos_registry_delete(c->g->k, SPACE_BINDING, req->params[1], &err);
    json_decref(in.rec);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    return http_json(res, 200, json_object());
}

static unsigned fetch_binding(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    char bname[KAIROS_NAME_MAX + 1], *creds = NULL;
    struct kairos_binding b;
    struct instance in;
    bool ro;
    int rc;

    if (binding_load(c, req->params[0], req->params[1], &in, bname, &ro, 404, res) < 0) {
        if (res->status == 404 && !res->body)
            http_error(res, 404, "NotFound", "no binding %s", req->params[1]);
        return res->status;
    }
    /*
     * Binding again with the same id hands back the same credentials; but
     * only while the binding is there: a fetch must never make a revoked
     * key again.
     */
    rc = kairos_binding_get(c->g->k, in.project, in.kind, in.name, bname, &b, &err);
    if (rc == 0 && b.pending)
        rc = kairos_error_set(&err, -ENOENT, "binding %s is being made or revoked", req->params[1]);
    if (rc == 0)
        rc = kairos_binding_create(c->g->k, in.project, in.kind, in.name, bname,
                                   ro ? KAIROS_BIND_READ_ONLY : 0, &creds, &err);
    json_decref(in.rec);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    json_t *cj = json_loads(creds, 0, NULL);
    explicit_bzero(creds, strlen(creds));
    free(creds);
    return http_json(res, 200, json_pack("{s:o}", "credentials", cj ? cj : json_object()));
}

static unsigned binding_last_operation(void *ctx, struct http_request *req,
                                       struct http_response *res)
{
    struct call *c = ctx;
    char bname[KAIROS_NAME_MAX + 1];
    struct instance in;
    bool ro;

    /* Bindings are made synchronously: one that exists has succeeded. */
    if (binding_load(c, req->params[0], req->params[1], &in, bname, &ro, 410, res) < 0)
        return res->status;
    json_decref(in.rec);
    return state_answer(res, "succeeded", NULL);
}

const struct route osb_routes[] = {
    {HTTP_GET, "/v2/catalog", catalog},
    {HTTP_PUT, "/v2/service_instances/:id", provision},
    {HTTP_GET, "/v2/service_instances/:id", fetch_instance},
    {HTTP_PATCH, "/v2/service_instances/:id", update},
    {HTTP_DELETE, "/v2/service_instances/:id", deprovision},
    {HTTP_GET, "/v2/service_instances/:id/last_operation", instance_last_operation},
    {HTTP_PUT, "/v2/service_instances/:id/service_bindings/:bid", bind},
    {HTTP_GET, "/v2/service_instances/:id/service_bindings/:bid", fetch_binding},
    {HTTP_DELETE, "/v2/service_instances/:id/service_bindings/:bid", unbind},
    {HTTP_GET, "/v2/service_instances/:id/service_bindings/:bid/last_operation",
     binding_last_operation},
};
const size_t osb_nroutes = sizeof(osb_routes) / sizeof(osb_routes[0]);
