/*
 * test_osb_conformance.c - the Open Service Broker API v2.17 rules of
 * README.md, one table row each, against a real kairosd on the local
 * cluster: versions, required and empty fields, ids checked against the
 * instance on every route, context optional (and how it picks the project,
 * clusterid included), synchronous and asynchronous plans and operations,
 * conflicts and concurrency, last_operation for instances and bindings
 * (never seen, in progress with Retry-After, deleted: succeeded for the
 * retention, then 410).
 *
 * This kairosd runs with [registry] retention = 3s (so "then 410" comes
 * within the test) and [server] async_bytes = 256M (so a large resize and
 * a large volume's deletion are operations on small thin volumes).
 * Instances in a running state are written straight into the registry, so
 * that "while an operation runs" holds for as long as the rows need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <kairos/kairos.h>

#include "kd.h"

#define RETENTION_S 3

static struct kd KD;
static struct kairos_config *CFG;
static struct kairos *K;

/* Placeholders of the rows: {NAME} in paths and bodies. */
struct var {
    const char *name;
    char value[160];
};
static struct var V[] = {
    {"NS"},   /* the Kubernetes namespace of this run */
    {"SP"},   /* the space_guid of this run (no context) */
    {"VOL"},  /* a ready volume instance (kubernetes context) */
    {"SHR"},  /* a ready share instance (no context) */
    {"BKT"},  /* a ready bucket instance */
    {"NEW"},  /* an instance id never used */
    {"BV"},   /* a binding of VOL */
    {"BN"},   /* a binding id never used */
    {"BUSY"}, /* provisioning, its operation running */
    {"OPB"},  /* that operation */
    {"DEP"},  /* deprovisioning, its operation running */
    {"OPD"},  /* that operation */
    {"UPD"},  /* updating, its operation running */
    {"OPU"},  /* that operation */
    {"SYNC"}, /* provisioning synchronously right now */
    {"OLD"},  /* provisioning, abandoned long ago by a dead kairosd */
    {"PV"},   /* VOL's project */
};

static char *var(const char *name)
{
    for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
        if (strcmp(V[i].name, name) == 0)
            return V[i].value;
    }
    fail_msg("no variable %s", name);
    return NULL;
}

/* @in with every {NAME} replaced, into a malloc'ed string. */
static char *expand(const char *in)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    for (const char *p = in; p && *p; p++) {
        const char *end = *p == '{' ? strchr(p, '}') : NULL;
        if (end && end - p > 1 && end - p < 8 && p[1] >= 'A' && p[1] <= 'Z') {
            char name[8];
            snprintf(name, sizeof(name), "%.*s", (int)(end - p - 1), p + 1);
            fputs(var(name), f);
            p = end;
        } else {
            fputc(*p, f);
        }
    }
    fclose(f);
    return out;
}

struct row {
    const char *rule; /* what the row checks */
    const char *method;
    const char *path;
    const char *body;    /* NULL: none */
    const char *version; /* NULL: 2.17; "-": no header; "": an empty one */
    long status;
    const char *error; /* the "error" expected, or NULL */
    const char *state; /* the "state" expected (last_operation), or NULL */
    const char *op;    /* the "operation" expected (a variable's name), or NULL */
    bool retry;        /* a Retry-After header expected */
};

static void run(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char *path = expand(r->path), *body = r->body ? expand(r->body) : NULL, vh[64];
        const char *hdrs[2] = {NULL, NULL};
        struct kd_reply rep;

        /* curl: "Name:" sends no such header, "Name;" an empty one. */
        if (r->version && strcmp(r->version, "-") == 0)
            snprintf(vh, sizeof(vh), "X-Broker-API-Version:");
        else if (r->version && !r->version[0])
            snprintf(vh, sizeof(vh), "X-Broker-API-Version;");
        else if (r->version)
            snprintf(vh, sizeof(vh), "X-Broker-API-Version: %s", r->version);
        if (r->version)
            hdrs[0] = vh;
        kd_request(&KD, r->method, path, KD_OSB, NULL, hdrs, body, &rep);
        const char *error = json_string_value(json_object_get(rep.body, "error"));
        const char *state = json_string_value(json_object_get(rep.body, "state"));
        const char *op = json_string_value(json_object_get(rep.body, "operation"));
        char *dump = rep.body ? json_dumps(rep.body, JSON_COMPACT) : strdup("(none)");
        if (rep.status != r->status || (r->error && (!error || strcmp(error, r->error) != 0)) ||
            (r->state && (!state || strcmp(state, r->state) != 0)) ||
            (r->op && (!op || strcmp(op, var(r->op)) != 0)) || (r->retry && !rep.retry[0]) ||
            (rep.status >= 400 && !json_string_value(json_object_get(rep.body, "description")) &&
             rep.status != 409 && rep.status != 410))
            fail_msg("rule \"%s\": %s %s answered %ld %s (Retry-After '%s'), expected %ld %s%s",
                     r->rule, r->method, path, rep.status, dump, rep.retry, r->status,
                     r->error ? r->error : "", r->retry ? " with Retry-After" : "");
        free(dump);
        json_decref(rep.body);
        free(path);
        free(body);
    }
}

#define ROWS(t) run(t, sizeof(t) / sizeof(t[0]))

/* The usual bodies. */
#define VOLUME_K8S(extra)                                                                          \
    "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"organization_guid\":" \
    "\"org\",\"space_guid\":\"{SP}\",\"context\":{\"platform\":\"kubernetes\",\"namespace\":"      \
    "\"{NS}\"},\"parameters\":{\"size\":\"64M\"}" extra "}"
#define SHARE_NO_CONTEXT                                                                           \
    "{\"service_id\":\"kairos-share\",\"plan_id\":\"kairos-share-small\",\"organization_guid\":"   \
    "\"org\",\"space_guid\":\"{SP}\",\"parameters\":{\"size\":\"16M\"}}"
#define BIND_VOL "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"}"
#define Q_VOL    "service_id=kairos-volume&plan_id=kairos-volume-small"
#define Q_SHR    "service_id=kairos-share&plan_id=kairos-share-small"

static void put_record(const char *space, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_record(const char *space, const char *id, const char *fmt, ...)
{
    struct kairos_error err = {0};
    char json[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(json, sizeof(json), fmt, ap);
    va_end(ap);
    if (kairos_registry_put(K, space, id, json, 0, &err) < 0)
        fail_msg("registry: %s", err.msg);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An instance of VOL's project in @state since @since, with operation @op (or none). */
static void craft(const char *id, const char *state, uint64_t since, const char *op,
                  const char *what, const char *pending)
{
    char opfield[96] = "";

    if (op) {
        snprintf(opfield, sizeof(opfield), ",\"operation\":\"%s\"", op);
        put_record("operation", op,
                   "{\"state\":\"in progress\",\"what\":\"%s\",\"description\":\"%s\","
                   "\"started\":%llu,\"project\":\"%s\",\"instance\":\"%s\",\"expires\":%llu}",
                   what, what, (unsigned long long)since, var("PV"), id,
                   (unsigned long long)(since + 3600 * 1000));
    }
    put_record("instance", id,
               "{\"kind\":\"volume\",\"name\":\"%s\",\"parameters\":{\"size\":\"64M\"},"
               "\"plan_id\":\"kairos-volume-small\",\"project\":\"%s\","
               "\"service_id\":\"kairos-volume\",\"started\":%llu,\"state\":\"%s\"%s%s}",
               id, var("PV"), (unsigned long long)since, state, opfield, pending ? pending : "");
}

/* Poll last_operation of @iid until it is no longer "in progress"; its final state. */
static const char *settle(const char *iid, const char *op)
{
    static char state[32];
    char path[512];

    snprintf(path, sizeof(path), "/v2/service_instances/%s/last_operation?operation=%s", iid, op);
    for (int i = 0; i < 1200; i++) {
        json_t *j = NULL;
        long s = kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j);
        snprintf(state, sizeof(state), "%s",
                 s == 200 ? json_string_value(json_object_get(j, "state")) ?: "?" : "status");
        json_decref(j);
        if (strcmp(state, "in progress") != 0)
            return state;
        usleep(100 * 1000);
    }
    return state;
}

static int setup(void **state)
{
    struct kairos_error err = {0};
    unsigned pid = (unsigned)getpid();

    (void)state;
    kd_start_conf(&KD, KAIROSD_BINARY, "async_bytes = 256M", "[registry]\nretention = 3s\n");
    if (kairos_config_load(getenv("KAIROS_CONF"), &CFG, &err) < 0 || kairos_open(CFG, &K, &err) < 0)
        fail_msg("libkairos: %s", err.msg);
    snprintf(var("NS"), 160, "conf-%x", pid);
    snprintf(var("SP"), 160, "space-%x", pid);
    snprintf(var("PV"), 160, "k8s-conf-%x", pid);
    const char *ids[] = {"VOL",  "SHR", "BKT", "NEW",  "BV", "BN",
                         "BUSY", "DEP", "UPD", "SYNC", "OLD"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        snprintf(var(ids[i]), 160, "c%x-%s", pid, ids[i]);
        for (char *p = var(ids[i]); *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    const char *ops[] = {"OPB", "OPD", "OPU"};
    for (size_t i = 0; i < 3; i++)
        snprintf(var(ops[i]), 160, "%08x%08x%016x", pid, (unsigned)i, 0xc0ffeeu);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kairos_close(K);
    kairos_config_free(CFG);
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

#define V_ROW(rule, ver, st, err)                                                                  \
    {                                                                                              \
        rule, "GET", "/v2/catalog", NULL, ver, st, err, NULL, NULL, false                          \
    }

static void versions(void **state)
{
    static const struct row rows[] = {
        V_ROW("a missing X-Broker-API-Version is 400", "-", 400, "BadRequest"),
        V_ROW("an empty X-Broker-API-Version is 412", "", 412, "PreconditionFailed"),
        V_ROW("2.12 is older than 2.13: 412", "2.12", 412, "PreconditionFailed"),
        V_ROW("2.13 is accepted", "2.13", 200, NULL),
        V_ROW("2.17 is accepted", "2.17", 200, NULL),
        V_ROW("any later 2.x is accepted", "2.99", 200, NULL),
        V_ROW("3.0 is 412", "3.0", 412, "PreconditionFailed"),
        V_ROW("a malformed version is 412", "2.17.1", 412, "PreconditionFailed"),
    };

    (void)state;
    ROWS(rows);
}

#define PUT_NEW(rule, body)                                                                        \
    {                                                                                              \
        rule, "PUT", "/v2/service_instances/{NEW}", body, NULL, 400, "BadRequest"                  \
    }
#define K8S_CTX   "\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"{NS}\"}"
#define ORG_SPACE "\"organization_guid\":\"org\",\"space_guid\":\"{SP}\""

/* Required fields present, non-empty, naming this catalog; else 400 and nothing made. */
static void provision_refusals(void **state)
{
    static const struct row rows[] = {
        PUT_NEW("service_id is required",
                "{\"plan_id\":\"kairos-volume-small\"," ORG_SPACE "," K8S_CTX "}"),
        PUT_NEW("an empty service_id is absent",
                "{\"service_id\":\"\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE "}"),
        PUT_NEW("service_id must name this catalog",
                "{\"service_id\":\"mysql\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE "}"),
        PUT_NEW("an empty plan_id is absent",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"\"," ORG_SPACE "}"),
        PUT_NEW("plan_id must be a plan of that service",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-share-small\"," ORG_SPACE
                "}"),
        PUT_NEW("organization_guid is required",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
                "\"space_guid\":\"s\"," K8S_CTX "}"),
        PUT_NEW("an empty organization_guid is absent",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
                "\"organization_guid\":\"\",\"space_guid\":\"s\"," K8S_CTX "}"),
        PUT_NEW("an empty space_guid is absent",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
                "\"organization_guid\":\"o\",\"space_guid\":\"\"}"),
        PUT_NEW("space_guid must be a string",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
                "\"organization_guid\":\"o\",\"space_guid\":7}"),
        PUT_NEW("context must be an object",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                ",\"context\":\"k8s\"}"),
        PUT_NEW("an unknown platform is refused",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                ",\"context\":{\"platform\":\"mainframe\"}}"),
        PUT_NEW("a kubernetes context needs its namespace",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                ",\"context\":{\"platform\":\"kubernetes\"}}"),
        PUT_NEW("a clusterid holds no '/'",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                ",\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"a\",\"clusterid\":"
                "\"x/y\"}}"),
        PUT_NEW("a size string follows the grammar: \"1.5\" is no size",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                "," K8S_CTX ",\"parameters\":{\"size\":\"1.5\"}}"),
        PUT_NEW("an unknown parameter is refused",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                "," K8S_CTX ",\"parameters\":{\"colour\":\"red\"}}"),
        PUT_NEW("parameters is an object",
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
                "," K8S_CTX ",\"parameters\":[1]}"),
        PUT_NEW("the body is an object", "[]"),
        {"nothing was made by any of them", "GET", "/v2/service_instances/{NEW}", NULL, NULL, 404,
         "NotFound"},
    };

    (void)state;
    ROWS(rows);
}

/* Provision: context optional, sync plans 201, identical 200, different 409. */
static void provision_and_conflicts(void **state)
{
    static const struct row rows[] = {
        {"without a context, the project is the space's (cf-<space_guid>)", "PUT",
         "/v2/service_instances/{SHR}", SHARE_NO_CONTEXT, NULL, 201},
        {"an identical PUT is 200", "PUT", "/v2/service_instances/{SHR}", SHARE_NO_CONTEXT, NULL,
         200},
        {"a different PUT of the same id is 409", "PUT", "/v2/service_instances/{SHR}",
         "{\"service_id\":\"kairos-share\",\"plan_id\":\"kairos-share-small\"," ORG_SPACE
         ",\"parameters\":{\"size\":\"17M\"}}",
         NULL, 409},
        {"a vendor field is ignored, as the spec wants", "PUT", "/v2/service_instances/{VOL}",
         VOLUME_K8S(",\"x-vendor-extension\":{\"a\":1}"), NULL, 201},
        {"identical but for the vendor field: 200", "PUT", "/v2/service_instances/{VOL}",
         VOLUME_K8S(""), NULL, 200},
        {"the same id in another project (another namespace) is 409", "PUT",
         "/v2/service_instances/{VOL}",
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
         ",\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"{NS}-other\"},"
         "\"parameters\":{\"size\":\"64M\"}}",
         NULL, 409},
        {"a fast plan answers at once even with accepts_incomplete; empty maintenance_info is "
         "fine",
         "PUT", "/v2/service_instances/{BKT}?accepts_incomplete=true",
         "{\"service_id\":\"kairos-bucket\",\"plan_id\":\"kairos-bucket-small\"," ORG_SPACE
         "," K8S_CTX ",\"parameters\":{\"size\":\"4M\"},\"maintenance_info\":{}}",
         NULL, 201},
    };
    char path[256];

    (void)state;
    ROWS(rows);
    /* Where they landed: the share in cf-<space>, the volume in k8s-<namespace>. */
    snprintf(path, sizeof(path), "/v1/projects/cf-%s/shares/%s", var("SP"), var("SHR"));
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s", var("PV"), var("VOL"));
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, NULL), 200);
}

#define Q(x)  "?" x
#define IPATH "/v2/service_instances/{VOL}"
#define BPATH "/v2/service_instances/{VOL}/service_bindings/{BV}"

/* Every route checks the service_id and plan_id it is given against the instance. */
static void ids_against_the_instance(void **state)
{
    static const struct row rows[] = {
        {"fetch: 200", "GET", IPATH, NULL, NULL, 200},
        {"fetch with the instance's ids: 200", "GET", IPATH Q(Q_VOL), NULL, NULL, 200},
        {"fetch with another service: 400", "GET", IPATH Q("service_id=kairos-share"), NULL, NULL,
         400, "BadRequest"},
        {"fetch with an empty plan_id: 400", "GET", IPATH Q("plan_id="), NULL, NULL, 400,
         "BadRequest"},
        {"fetch of an id never seen: 404", "GET", "/v2/service_instances/{NEW}", NULL, NULL, 404},
        {"bind with another service: 400", "PUT", BPATH,
         "{\"service_id\":\"kairos-share\",\"plan_id\":\"kairos-share-small\"}", NULL, 400,
         "BadRequest"},
        {"bind with a plan not the instance's: 400", "PUT", BPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-medium\"}", NULL, 400,
         "BadRequest"},
        {"bind with a plan of no catalog: 400", "PUT", BPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"gold\"}", NULL, 400, "BadRequest"},
        {"bind with an empty plan_id: 400", "PUT", BPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"\"}", NULL, 400, "BadRequest"},
        {"bind without plan_id: 400", "PUT", BPATH, "{\"service_id\":\"kairos-volume\"}", NULL, 400,
         "BadRequest"},
        {"bind to an instance never seen: 404", "PUT",
         "/v2/service_instances/{NEW}/service_bindings/{BN}", BIND_VOL, NULL, 404},
        {"binding last_operation of a binding never seen: 404", "GET", BPATH "/last_operation",
         NULL, NULL, 404},
        {"bind: 201 (synchronous even with accepts_incomplete)", "PUT",
         BPATH "?accepts_incomplete=true", BIND_VOL, NULL, 201},
        {"an identical bind: 200", "PUT", BPATH, BIND_VOL, NULL, 200},
        {"a different bind of the same id: 409", "PUT", BPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
         "\"parameters\":{\"read_only\":true}}",
         NULL, 409},
        {"fetch binding: 200", "GET", BPATH, NULL, NULL, 200},
        {"fetch binding with another service: 400", "GET", BPATH Q("service_id=kairos-share"), NULL,
         NULL, 400, "BadRequest"},
        {"fetch of a binding never seen: 404", "GET",
         "/v2/service_instances/{VOL}/service_bindings/{BN}", NULL, NULL, 404},
        {"binding last_operation: succeeded", "GET", BPATH "/last_operation", NULL, NULL, 200, NULL,
         "succeeded"},
        {"binding last_operation with another plan: 400", "GET",
         BPATH "/last_operation" Q("plan_id=kairos-share-small"), NULL, NULL, 400, "BadRequest"},
        {"binding last_operation with an empty operation: 400", "GET",
         BPATH "/last_operation" Q("operation="), NULL, NULL, 400, "BadRequest"},
        {"unbind without the ids: 400", "DELETE", BPATH, NULL, NULL, 400, "BadRequest"},
        {"unbind with another plan: 400", "DELETE",
         BPATH Q("service_id=kairos-volume&plan_id=kairos-volume-large"), NULL, NULL, 400,
         "BadRequest"},
        {"update without service_id: 400", "PATCH", IPATH, "{\"parameters\":{\"size\":\"65M\"}}",
         NULL, 400, "BadRequest"},
        {"update of another service: 400", "PATCH", IPATH,
         "{\"service_id\":\"kairos-share\",\"parameters\":{\"size\":\"65M\"}}", NULL, 400,
         "BadRequest"},
        {"update to a plan of another service: 400", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-share-small\"}", NULL, 400,
         "BadRequest"},
        {"update whose previous_values name another plan: 400", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"previous_values\":{\"plan_id\":"
         "\"kairos-volume-large\"}}",
         NULL, 400, "BadRequest"},
        {"update to size \"1.5\": 400", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"1.5\"}}", NULL, 400,
         "BadRequest"},
        {"update with an unknown parameter: 400", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"colour\":1}}", NULL, 400,
         "BadRequest"},
        {"deprovision as another service (issue 15): 400", "DELETE",
         IPATH Q("service_id=kairos-share&plan_id=kairos-share-small"), NULL, NULL, 400,
         "BadRequest"},
        {"deprovision without plan_id: 400", "DELETE", IPATH Q("service_id=kairos-volume"), NULL,
         NULL, 400, "BadRequest"},
        {"deprovision with an empty service_id: 400", "DELETE",
         IPATH Q("service_id=&plan_id=kairos-volume-small"), NULL, NULL, 400, "BadRequest"},
        {"last_operation with another service: 400", "GET",
         IPATH "/last_operation" Q("service_id=kairos-share"), NULL, NULL, 400, "BadRequest"},
        {"last_operation with an empty operation: 400", "GET",
         IPATH "/last_operation" Q("operation="), NULL, NULL, 400, "BadRequest"},
        {"last_operation ignores an operation it never handed out", "GET",
         IPATH "/last_operation" Q("operation=made-up"), NULL, NULL, 200, NULL, "succeeded"},
        {"last_operation of an instance never seen: 404", "GET",
         "/v2/service_instances/{NEW}/last_operation", NULL, NULL, 404},
        {"none of the refusals changed anything", "GET", IPATH Q(Q_VOL), NULL, NULL, 200},
        {"...the binding is there too", "GET", BPATH, NULL, NULL, 200},
    };

    (void)state;
    ROWS(rows);
}

/* Run @method @path (accepts_incomplete=true): 202 with an operation and Retry-After; its id. */
static void accepted(const char *method, const char *path, const char *body, char *op)
{
    char *p = expand(path), *b = body ? expand(body) : NULL;
    struct kd_reply rep;

    kd_request(&KD, method, p, KD_OSB, NULL, NULL, b, &rep);
    if (rep.status != 202 || !json_string_value(json_object_get(rep.body, "operation")) ||
        !rep.retry[0])
        fail_msg("%s %s: %ld, Retry-After '%s', not 202 with an operation", method, p, rep.status,
                 rep.retry);
    snprintf(op, 64, "%s", json_string_value(json_object_get(rep.body, "operation")));
    json_decref(rep.body);
    free(p);
    free(b);
}

#define CLONE_NEW                                                                                  \
    "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE "," K8S_CTX \
    ",\"parameters\":{\"source\":{\"volume\":\"{VOL}\",\"snapshot\":\"nope\"}}}"

/* accepts_incomplete, plan by plan; last_operation; deletions remembered for the retention. */
static void async_and_retention(void **state)
{
    static const struct row before[] = {
        {"unbind: 200", "DELETE", BPATH Q(Q_VOL), NULL, NULL, 200},
        {"unbind again: 410", "DELETE", BPATH Q(Q_VOL), NULL, NULL, 410},
        {"binding last_operation after unbind: succeeded", "GET", BPATH "/last_operation", NULL,
         NULL, 200, NULL, "succeeded"},
        {"a small resize answers at once", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"128M\"}}", NULL, 200},
        {"a large resize (>= async_bytes) without accepts_incomplete: 422", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"1G\"}}", NULL, 422,
         "AsyncRequired"},
        {"a bucket keeps its size: 422, not to be repeated", "PATCH", "/v2/service_instances/{BKT}",
         "{\"service_id\":\"kairos-bucket\",\"parameters\":{\"size\":\"8M\"}}", NULL, 422,
         "NotSupported"},
        {"deleting a share without accepts_incomplete: 422", "DELETE",
         "/v2/service_instances/{SHR}" Q(Q_SHR), NULL, NULL, 422, "AsyncRequired"},
        {"deleting a bucket without accepts_incomplete: 422", "DELETE",
         "/v2/service_instances/{BKT}" Q("service_id=kairos-bucket&plan_id=kairos-bucket-small"),
         NULL, NULL, 422, "AsyncRequired"},
        {"a clone without accepts_incomplete: 422", "PUT", "/v2/service_instances/{NEW}", CLONE_NEW,
         NULL, 422, "AsyncRequired"},
    };
    static const struct row after_resize[] = {
        {"the large resize is done", "GET", IPATH, NULL, NULL, 200},
        {"a new plan with the size given: the size wins, the plan changes", "PATCH", IPATH,
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-medium\","
         "\"parameters\":{\"size\":\"1G\"}}",
         NULL, 200},
        {"last_operation with the plan before the update: accepted", "GET",
         IPATH "/last_operation" Q(Q_VOL), NULL, NULL, 200, NULL, "succeeded"},
        {"last_operation with the plan after it: accepted", "GET",
         IPATH "/last_operation" Q("service_id=kairos-volume&plan_id=kairos-volume-medium"), NULL,
         NULL, 200, NULL, "succeeded"},
        {"last_operation with a plan it never had: 400", "GET",
         IPATH "/last_operation" Q("plan_id=kairos-volume-large"), NULL, NULL, 400, "BadRequest"},
        {"deleting a volume >= async_bytes without accepts_incomplete: 422", "DELETE",
         IPATH Q("service_id=kairos-volume&plan_id=kairos-volume-medium"), NULL, NULL, 422,
         "AsyncRequired"},
        {"a failed asynchronous provision: last_operation says failed", "GET",
         "/v2/service_instances/{NEW}/last_operation", NULL, NULL, 200, NULL, "failed"},
        {"a failed provision is not an instance to fetch", "GET", "/v2/service_instances/{NEW}",
         NULL, NULL, 404},
        {"orphan mitigation deletes it: 200", "DELETE", "/v2/service_instances/{NEW}" Q(Q_VOL),
         NULL, NULL, 200},
    };
    static const struct row gone[] = {
        {"a deprovisioned instance: last_operation succeeded", "GET", IPATH "/last_operation", NULL,
         NULL, 200, NULL, "succeeded"},
        {"deprovisioned: DELETE again is 410", "DELETE",
         IPATH Q("service_id=kairos-volume&plan_id=kairos-volume-medium"), NULL, NULL, 410},
        {"deprovisioned share: last_operation succeeded", "GET",
         "/v2/service_instances/{SHR}/last_operation", NULL, NULL, 200, NULL, "succeeded"},
        {"deprovisioned: fetch is 404", "GET", IPATH, NULL, NULL, 404},
    };
    /* A fresh instance and binding, deleted just now, for the retention's end. */
    static const struct row fresh[] = {
        {"provision", "PUT", "/v2/service_instances/{NEW}", VOLUME_K8S(""), NULL, 201},
        {"bind", "PUT", "/v2/service_instances/{NEW}/service_bindings/{BN}", BIND_VOL, NULL, 201},
        {"unbind", "DELETE", "/v2/service_instances/{NEW}/service_bindings/{BN}?" Q_VOL, NULL, NULL,
         200},
        {"deprovision", "DELETE", "/v2/service_instances/{NEW}?" Q_VOL, NULL, NULL, 200},
        {"within the retention: the binding's last_operation succeeded", "GET",
         "/v2/service_instances/{NEW}/service_bindings/{BN}/last_operation", NULL, NULL, 200, NULL,
         "succeeded"},
    };
    static const struct row later[] = {
        {"past the retention: last_operation 410", "GET",
         "/v2/service_instances/{NEW}/last_operation", NULL, NULL, 410},
        {"past the retention: the binding's 410", "GET",
         "/v2/service_instances/{NEW}/service_bindings/{BN}/last_operation", NULL, NULL, 410},
        {"an instance never seen is still 404", "GET",
         "/v2/service_instances/{NEW}-x/last_operation", NULL, NULL, 404},
    };
    char op[64], sop[64], bop[64];

    (void)state;
    ROWS(before);
    accepted("PATCH", IPATH "?accepts_incomplete=true",
             "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"1G\"}}", op);
    assert_string_equal(settle(var("VOL"), op), "succeeded");
    accepted("PUT", "/v2/service_instances/{NEW}?accepts_incomplete=true", CLONE_NEW, op);
    assert_string_equal(settle(var("NEW"), op), "failed");
    ROWS(after_resize);
    accepted("DELETE",
             IPATH "?accepts_incomplete=true&service_id=kairos-volume&plan_id=kairos-volume-medium",
             NULL, op);
    accepted("DELETE", "/v2/service_instances/{SHR}?accepts_incomplete=true&" Q_SHR, NULL, sop);
    accepted("DELETE",
             "/v2/service_instances/{BKT}?accepts_incomplete=true&service_id=kairos-bucket&"
             "plan_id=kairos-bucket-small",
             NULL, bop);
    assert_string_equal(settle(var("VOL"), op), "succeeded");
    assert_string_equal(settle(var("SHR"), sop), "succeeded");
    assert_string_equal(settle(var("BKT"), bop), "succeeded");
    ROWS(gone);
    ROWS(fresh);
    /* The retention of this kairosd, and a little (tombstones go at twice the retention). */
    sleep(RETENTION_S + 1);
    ROWS(later);
}

/*
 * One operation at a time on an instance: PUT, PATCH and DELETE while one
 * runs are 422 ConcurrencyError, except the identical request, which gets
 * the running operation back (202).
 */
static void concurrency(void **state)
{
    static const struct row rows[] = {
        {"identical PUT while its provision runs: 202, the same operation", "PUT",
         "/v2/service_instances/{BUSY}?accepts_incomplete=true", VOLUME_K8S(""), NULL, 202, NULL,
         NULL, "OPB", true},
        {"...without accepts_incomplete: 422 AsyncRequired", "PUT", "/v2/service_instances/{BUSY}",
         VOLUME_K8S(""), NULL, 422, "AsyncRequired"},
        {"a different PUT while it is being provisioned: 409", "PUT",
         "/v2/service_instances/{BUSY}",
         "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"," ORG_SPACE
         "," K8S_CTX ",\"parameters\":{\"size\":\"65M\"}}",
         NULL, 409},
        {"DELETE while it is being provisioned: 422", "DELETE",
         "/v2/service_instances/{BUSY}?accepts_incomplete=true&" Q_VOL, NULL, NULL, 422,
         "ConcurrencyError"},
        {"PATCH while it is being provisioned: 422", "PATCH", "/v2/service_instances/{BUSY}",
         "{\"service_id\":\"kairos-volume\"}", NULL, 422, "ConcurrencyError"},
        {"fetch while it is being provisioned: 404", "GET", "/v2/service_instances/{BUSY}", NULL,
         NULL, 404},
        {"last_operation: in progress, with Retry-After", "GET",
         "/v2/service_instances/{BUSY}/last_operation?operation={OPB}", NULL, NULL, 200, NULL,
         "in progress", NULL, true},
        {"bind while it is being provisioned: 422", "PUT",
         "/v2/service_instances/{BUSY}/service_bindings/{BN}", BIND_VOL, NULL, 422,
         "ConcurrencyError"},
        {"PUT while it is being deprovisioned: 422", "PUT", "/v2/service_instances/{DEP}",
         VOLUME_K8S(""), NULL, 422, "ConcurrencyError"},
        {"DELETE again while it is being deprovisioned: 202, the same operation", "DELETE",
         "/v2/service_instances/{DEP}?accepts_incomplete=true&" Q_VOL, NULL, NULL, 202, NULL, NULL,
         "OPD", true},
        {"...without accepts_incomplete: 422 AsyncRequired", "DELETE",
         "/v2/service_instances/{DEP}?" Q_VOL, NULL, NULL, 422, "AsyncRequired"},
        {"fetch while it is being deprovisioned: 422", "GET", "/v2/service_instances/{DEP}", NULL,
         NULL, 422, "ConcurrencyError"},
        {"the same PATCH while it runs: 202, the same operation", "PATCH",
         "/v2/service_instances/{UPD}?accepts_incomplete=true",
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"1G\"}}", NULL, 202, NULL,
         NULL, "OPU", true},
        {"another PATCH while an update runs: 422", "PATCH",
         "/v2/service_instances/{UPD}?accepts_incomplete=true",
         "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"2G\"}}", NULL, 422,
         "ConcurrencyError"},
        {"DELETE while an update runs: 422", "DELETE",
         "/v2/service_instances/{UPD}?accepts_incomplete=true&" Q_VOL, NULL, NULL, 422,
         "ConcurrencyError"},
        {"fetch while an update runs: 422 (the spec's rule)", "GET", "/v2/service_instances/{UPD}",
         NULL, NULL, 422, "ConcurrencyError"},
        {"identical PUT while a synchronous provision runs: 422", "PUT",
         "/v2/service_instances/{SYNC}", VOLUME_K8S(""), NULL, 422, "ConcurrencyError"},
        {"DELETE while a synchronous provision runs: 422", "DELETE",
         "/v2/service_instances/{SYNC}?" Q_VOL, NULL, NULL, 422, "ConcurrencyError"},
        {"a provision whose kairosd died long ago: failed", "GET",
         "/v2/service_instances/{OLD}/last_operation", NULL, NULL, 200, NULL, "failed"},
        {"...and an identical PUT runs it again: 201", "PUT", "/v2/service_instances/{OLD}",
         VOLUME_K8S(""), NULL, 201},
        {"...after which it is ready", "GET", "/v2/service_instances/{OLD}", NULL, NULL, 200},
        {"...and deprovisioned", "DELETE", "/v2/service_instances/{OLD}?" Q_VOL, NULL, NULL, 200},
    };
    const char *ids[] = {"BUSY", "DEP", "UPD", "SYNC"}, *ops[] = {"OPB", "OPD", "OPU"};
    struct kairos_error err = {0};
    uint64_t now = now_ms();

    (void)state;
    craft(var("BUSY"), "provisioning", now, var("OPB"), "provision", NULL);
    craft(var("DEP"), "deprovisioning", now, var("OPD"), "deprovision", NULL);
    craft(var("UPD"), "updating", now, var("OPU"), "update",
          ",\"pending\":{\"plan_id\":null,\"parameters\":{\"size\":\"1G\"}}");
    craft(var("SYNC"), "provisioning", now, NULL, NULL, NULL);
    craft(var("OLD"), "provisioning", now - 3600 * 1000, NULL, NULL, NULL);
    ROWS(rows);
    for (size_t i = 0; i < 4; i++)
        kairos_registry_delete(K, "instance", var(ids[i]), &err);
    for (size_t i = 0; i < 3; i++)
        kairos_registry_delete(K, "operation", var(ops[i]), &err);
}

/* PUT a small volume instance @iid in namespace @ns of cluster @cluster (NULL: none). */
static void provision_in(const char *iid, const char *ns, const char *cluster)
{
    char path[256], body[512], cl[128] = "";

    if (cluster)
        snprintf(cl, sizeof(cl), ",\"clusterid\":\"%s\"", cluster);
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    snprintf(body, sizeof(body),
             "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
             "\"organization_guid\":\"o\",\"space_guid\":\"s\",\"context\":{\"platform\":"
             "\"kubernetes\",\"namespace\":\"%s\"%s},\"parameters\":{\"size\":\"8M\"}}",
             ns, cl);
    assert_int_equal(kd_call(&KD, "PUT", path, KD_OSB, NULL, body, NULL), 201);
}

/* Is instance @iid's volume in project @project? */
static bool lives_in(const char *project, const char *iid)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s", project, iid);
    return kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, NULL) == 200;
}

static void deprovision(const char *iid)
{
    char path[256];

    snprintf(path, sizeof(path), "/v2/service_instances/%s?" Q_VOL, iid);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 200);
}

/*
 * clusterid joins the Kubernetes mapping: namespace foo of two clusters is
 * two projects. The first cluster takes the short name (and a project made
 * before clusterid counted); the second gets "k8s-<ns>-<hash of its id>".
 */
static void clusterid_makes_two_projects(void **state)
{
    char ns[64], legacy[64], a[64], b[64], hash[KAIROS_TOKEN_HASH_LEN + 1];
    char pa[96], pb[96], pl[96], plb[96], iid[6][64];
    unsigned pid = (unsigned)getpid();

    (void)state;
    snprintf(ns, sizeof(ns), "clu-%x", pid);
    snprintf(legacy, sizeof(legacy), "old-%x", pid);
    snprintf(a, sizeof(a), "644e1dd7-%x-a", pid);
    snprintf(b, sizeof(b), "644e1dd7-%x-b", pid);
    for (int i = 0; i < 6; i++)
        snprintf(iid[i], sizeof(iid[i]), "clu-%x-%d", pid, i);
    kairos_token_hash(b, hash);
    snprintf(pa, sizeof(pa), "k8s-%s", ns);
    snprintf(pb, sizeof(pb), "k8s-%s-%.8s", ns, hash);
    snprintf(pl, sizeof(pl), "k8s-%s", legacy);
    snprintf(plb, sizeof(plb), "k8s-%s-%.8s", legacy, hash);

    provision_in(iid[0], ns, a);
    provision_in(iid[1], ns, b);
    assert_true(lives_in(pa, iid[0]));
    assert_true(lives_in(pb, iid[1]));
    assert_false(lives_in(pa, iid[1]));
    /* Each cluster's namespace keeps its project. */
    provision_in(iid[2], ns, b);
    assert_true(lives_in(pb, iid[2]));
    /* Made before clusterid counted: the first cluster to come keeps it, the next does not. */
    provision_in(iid[3], legacy, NULL);
    assert_true(lives_in(pl, iid[3]));
    provision_in(iid[4], legacy, a);
    assert_true(lives_in(pl, iid[4]));
    provision_in(iid[5], legacy, b);
    assert_true(lives_in(plb, iid[5]));
    for (int i = 0; i < 6; i++)
        deprovision(iid[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions),
        cmocka_unit_test(provision_refusals),
        cmocka_unit_test(provision_and_conflicts),
        cmocka_unit_test(ids_against_the_instance),
        cmocka_unit_test(async_and_retention),
        cmocka_unit_test(concurrency),
        cmocka_unit_test(clusterid_makes_two_projects),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
