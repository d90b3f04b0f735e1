/*
 * test_audit.c - the audit log on the fixture's cluster: changes made
 * through REST (admin and project tokens) and OSB (with an originating
 * identity) through one kairosd are read back through another, over REST
 * and with kairosctl, with who, what and the result, a refused change
 * included; secrets never reach it; bad queries are 400; a project token
 * reads its own project only; a trim removes old day objects and keeps
 * today's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rados/librados.h>

#include <kairos/kairos.h>

#include "kd.h"

#define DAY_MS (24ULL * 3600 * 1000)
/* {"username":"alice","uid":"42"} in base64, as a Kubernetes platform sends it. */
#define ORIGIN "kubernetes eyJ1c2VybmFtZSI6ImFsaWNlIiwidWlkIjoiNDIifQ=="

static struct kd A, B;
static struct kairos_config *CFG;
static struct kairos *K;
static char P[64], NS[64], IID[64], TOKEN[256], TID[32];
static char out[262144];

static int setup(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    if (kairos_config_load(getenv("KAIROS_CONF"), &CFG, &err) < 0 || kairos_open(CFG, &K, &err) < 0)
        fail_msg("no cluster: %s", err.msg);
    /* Their reconcilers trim nothing this test writes: the test trims itself. */
    kd_start_conf(&A, KAIROSD_BINARY, NULL, "[audit]\nmax_age = 400d");
    kd_start_conf(&B, KAIROSD_BINARY, NULL, "[audit]\nmax_age = 400d");
    snprintf(P, sizeof(P), "aud-%x", (unsigned)getpid());
    snprintf(NS, sizeof(NS), "aud-%x-ns", (unsigned)getpid());
    snprintf(IID, sizeof(IID), "aud-%x-instance", (unsigned)getpid());
    return 0;
}

static int teardown(void **state)
{
    char path[128];

    (void)state;
    kd_delete_project(&A, P);
    snprintf(path, sizeof(path), "k8s-%s", NS);
    kd_delete_project(&A, path);
    assert_int_equal(kd_stop(&A), 0);
    assert_int_equal(kd_stop(&B), 0);
    kairos_close(K);
    kairos_config_free(CFG);
    return 0;
}

static long callf(struct kd *kd, const char *method, enum kd_as as, const char *body, json_t **j,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static long callf(struct kd *kd, const char *method, enum kd_as as, const char *body, json_t **j,
                  const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return kd_call(kd, method, path, as, as == KD_TOKEN ? TOKEN : NULL, body, j);
}

/* The entry of @items with @method, @path_end and @status, or fail. */
static const json_t *find(const json_t *items, const char *method, const char *path_end,
                          long status)
{
    size_t i, n = strlen(path_end);
    const json_t *e;

    json_array_foreach(items, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "method"));
        const char *p = json_string_value(json_object_get(e, "path"));
        if (m && p && strcmp(m, method) == 0 && strlen(p) >= n &&
            strcmp(p + strlen(p) - n, path_end) == 0 &&
            json_integer_value(json_object_get(e, "status")) == status)
            return e;
    }
    fail_msg("no audit entry %s ...%s -> %ld", method, path_end, status);
    return NULL;
}

static const char *str(const json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    return s ? s : "(null)";
}

/* Changes through A, by the admin, a project token and the platform; read through B. */
static void changes_are_recorded_and_seen_by_every_kairosd(void **state)
{
    char body[512], admin_id[32], *dump;
    const char *hdrs[] = {"X-Broker-API-Originating-Identity: " ORIGIN,
                          "X-Request-Id: audit-osb-provision", NULL};
    struct kd_reply r = {0};
    const json_t *e;
    json_t *j = NULL;

    (void)state;
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"quota\":{\"volume\":{\"bytes\":\"8M\"}}}", P);
    assert_int_equal(callf(&A, "POST", KD_ADMIN, body, NULL, "/v1/projects"), 201);
    assert_int_equal(
        callf(&A, "POST", KD_ADMIN, "{\"description\":\"ci\"}", &j, "/v1/projects/%s/tokens", P),
        201);
    snprintf(TOKEN, sizeof(TOKEN), "%s", str(j, "token"));
    snprintf(TID, sizeof(TID), "%s", str(j, "id"));
    json_decref(j);
    assert_int_equal(callf(&A, "POST", KD_TOKEN, "{\"name\":\"v1\",\"size\":\"4M\"}", NULL,
                           "/v1/projects/%s/volumes", P),
                     201);
    /* Refused: past the quota. */
    assert_int_equal(callf(&A, "POST", KD_TOKEN, "{\"name\":\"v2\",\"size\":\"64M\"}", NULL,
                           "/v1/projects/%s/volumes", P),
                     422);
    /* A read is no change: not recorded. */
    assert_int_equal(callf(&A, "GET", KD_TOKEN, NULL, NULL, "/v1/projects/%s/volumes/v1", P), 200);
    /* OSB, with the identity of the user the platform acts for. */
    snprintf(body, sizeof(body),
             "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
             "\"organization_guid\":\"o\",\"space_guid\":\"s\",\"context\":{\"platform\":"
             "\"kubernetes\",\"namespace\":\"%s\"},\"parameters\":{\"size\":\"4M\"}}",
             NS);
    snprintf(out, sizeof(out), "/v2/service_instances/%s", IID);
    kd_request(&A, "PUT", out, KD_OSB, NULL, hdrs, body, &r);
    assert_int_equal(r.status, 201);
    json_decref(r.body);

    /* Through B: the project's entries, oldest first. */
    assert_int_equal(callf(&B, "GET", KD_ADMIN, NULL, &j, "/v1/audit?project=%s", P), 200);
    dump = json_dumps(j, JSON_COMPACT);
    print_message("%s\n", dump);
    /* No secret: neither token, nor a body. */
    assert_null(strstr(dump, TOKEN));
    assert_null(strstr(dump, KD_ADMIN_TOKEN));
    assert_null(strstr(dump, "\"4M\""));
    free(dump);
    e = find(json_object_get(j, "items"), "POST", "/v1/projects", 201);
    assert_string_equal(str(e, "actor"), "admin");
    assert_string_equal(str(e, "project"), P);
    /* The admin token of the tokens file: "file:" and the start of its hash. */
    assert_int_equal(strncmp(str(e, "token_id"), "file:", 5), 0);
    assert_int_equal(strlen(str(e, "token_id")), 17);
    snprintf(admin_id, sizeof(admin_id), "%s", str(e, "token_id"));
    /* kairosd's id for a request that brought none: 32 hex digits. */
    assert_int_equal(strlen(str(e, "request_id")), 32);
    assert_true(json_integer_value(json_object_get(e, "time_ms")) > 1700000000000LL);
    assert_non_null(strchr(str(e, "time"), 'T'));
    e = find(json_object_get(j, "items"), "POST", "/tokens", 201);
    assert_string_equal(str(e, "token_id"), admin_id);
    e = find(json_object_get(j, "items"), "POST", "/volumes", 201);
    assert_string_equal(str(e, "actor"), "project");
    assert_string_equal(str(e, "token_id"), TID);
    assert_string_equal(str(e, "kind"), "volume");
    assert_string_equal(str(e, "name"), "v1");
    assert_true(json_is_null(json_object_get(e, "error")));
    e = find(json_object_get(j, "items"), "POST", "/volumes", 422);
    assert_string_equal(str(e, "name"), "v2");
    assert_string_equal(str(e, "error"), "QuotaExceeded");
    assert_string_equal(str(e, "token_id"), TID);
    /* Four changes, no read. */
    assert_int_equal(json_array_size(json_object_get(j, "items")), 4);
    json_decref(j);

    /* The platform's change, with the identity decoded. */
    assert_int_equal(callf(&B, "GET", KD_ADMIN, NULL, &j, "/v1/audit?project=k8s-%s", NS), 200);
    e = find(json_object_get(j, "items"), "PUT", IID, 201);
    assert_string_equal(str(e, "actor"), "platform");
    assert_string_equal(str(e, "platform"), "kubernetes");
    assert_string_equal(str(json_object_get(e, "identity"), "username"), "alice");
    assert_string_equal(str(e, "kind"), "volume");
    assert_true(json_is_null(json_object_get(e, "token_id")));
    /* The caller's id, as its answer carried it. */
    assert_string_equal(str(e, "request_id"), "audit-osb-provision");
    json_decref(j);
    snprintf(out, sizeof(out),
             "/v2/service_instances/%s?service_id=kairos-volume&plan_id=kairos-"
             "volume-small",
             IID);
    assert_int_equal(kd_call(&A, "DELETE", out, KD_OSB, NULL, NULL, NULL), 200);
}

/* A project token reads its own project only; bad queries are 400; trim is the admin's. */
static void reach_and_bad_queries(void **state)
{
    static const char *const bad[] = {"since=yesterday",
                                      "since=12",
                                      "since=2026-13-01",
                                      "since=2026-02-30T00:00:00Z",
                                      "since=2999-01-01",
                                      "since=-1h",
                                      "since=2026-01-01T10:00:00",
                                      "limit=0",
                                      "limit=1001",
                                      "limit=abc",
                                      "limit=",
                                      "project=Bad_Name",
                                      "since=1h&limit=-5"};
    json_t *j = NULL;
    size_t i;
    const json_t *e;

    (void)state;
    assert_int_equal(callf(&B, "GET", KD_TOKEN, NULL, &j, "/v1/audit"), 200);
    assert_true(json_array_size(json_object_get(j, "items")) >= 4);
    json_array_foreach(json_object_get(j, "items"), i, e) assert_string_equal(str(e, "project"), P);
    json_decref(j);
    assert_int_equal(callf(&B, "GET", KD_TOKEN, NULL, NULL, "/v1/audit?project=k8s-%s", NS), 403);
    assert_int_equal(callf(&B, "GET", KD_TOKEN, NULL, NULL, "/v1/audit?project=%s", P), 200);
    assert_int_equal(callf(&B, "POST", KD_TOKEN, NULL, NULL, "/v1/audit/trim"), 403);
    assert_int_equal(callf(&B, "GET", KD_NOBODY, NULL, NULL, "/v1/audit"), 401);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("GET /v1/audit?%s\n", bad[i]);
        assert_int_equal(callf(&B, "GET", KD_ADMIN, NULL, &j, "/v1/audit?%s", bad[i]), 400);
        assert_string_equal(str(j, "error"), "BadRequest");
        json_decref(j);
    }
    /* since and limit: the first entries from then on, and "more". */
    assert_int_equal(
        callf(&B, "GET", KD_ADMIN, NULL, &j, "/v1/audit?project=%s&since=1h&limit=2", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    assert_true(json_is_true(json_object_get(j, "more")));
    assert_string_equal(str(json_array_get(json_object_get(j, "items"), 0), "path"),
                        "/v1/projects");
    json_decref(j);
    /* Without since: the newest, still oldest first. */
    assert_int_equal(callf(&B, "GET", KD_ADMIN, NULL, &j, "/v1/audit?project=%s&limit=1", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(j, "items"), 0), "status")),
                     422);
    json_decref(j);
}

static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
    char args[512], cmd[1024];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "KAIROS_URL=http://127.0.0.1:%u KAIROS_TOKEN=%s KAIROS_CONF= %s %s",
             B.port, KD_ADMIN_TOKEN, KAIROSCTL_BINARY, args);
    status = kd_capture(cmd, out, sizeof(out));
    print_message("kairosctl %s:\n%s", args, out);
    return status;
}

static void kairosctl_audit(void **state)
{
    json_t *j;

    (void)state;
    assert_int_equal(ctl("audit --project %s", P), 0);
    assert_non_null(strstr(out, "QuotaExceeded"));
    assert_non_null(strstr(out, TID));
    assert_int_equal(ctl("audit --project %s --since 1h -f json", P), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 4);
    json_decref(j);
    assert_int_equal(ctl("audit --project %s --limit 1 -f value -c status -c error", P), 0);
    assert_string_equal(out, "422 QuotaExceeded\n");
    /* An offset goes through the URL intact ('+' is not a space). */
    assert_int_equal(ctl("audit --project %s --since 2020-01-01T02:00:00+02:00 -f json", P), 0);
    assert_int_equal(ctl("audit --since soon 2>/dev/null"), 2);
    assert_int_equal(ctl("audit --limit 5000 2>/dev/null"), 2);
    assert_int_equal(ctl("audit --project Bad_Name 2>/dev/null"), 2);
}

/* An entry of 200 days ago lands in its day object; a trim removes that, not today's. */
static void trim_removes_old_days(void **state)
{
    struct kairos_audit_entry e = {0}, *got = NULL;
    struct kairos_audit_query q = {.project = P, .limit = 10};
    struct kairos_error err = {0};
    char day[9], oid[64];
    rados_t r;
    rados_ioctx_t io;
    uint64_t size;
    time_t mtime;
    size_t n = 0;
    unsigned removed = 0;
    bool more;
    json_t *j = NULL;

    (void)state;
    e.time_ms = (uint64_t)time(NULL) * 1000 - 200 * DAY_MS;
    snprintf(e.actor, sizeof(e.actor), "admin");
    snprintf(e.method, sizeof(e.method), "POST");
    snprintf(e.path, sizeof(e.path), "/v1/old");
    snprintf(e.project, sizeof(e.project), "%s", P);
    e.status = 201;
    assert_int_equal(kairos_audit_append(K, &e, &err), 0);
    q.since_ms = e.time_ms - 1000;
    assert_int_equal(kairos_audit_read(K, &q, &got, &n, &more, &err), 0);
    assert_true(n >= 1);
    assert_string_equal(got[0].path, "/v1/old");
    assert_string_equal(got[0].id, e.id);
    free(got);
    kairos_audit_day(e.time_ms, day);
    snprintf(oid, sizeof(oid), "kairos.audit.%s", day);
    assert_int_equal(rados_create(&r, NULL), 0);
    assert_int_equal(rados_conf_read_file(r, CFG->ceph.conf), 0);
    if (CFG->ceph.keyring)
        rados_conf_set(r, "keyring", CFG->ceph.keyring);
    assert_int_equal(rados_connect(r), 0);
    assert_int_equal(rados_ioctx_create(r, CFG->pools.metadata, &io), 0);
    assert_int_equal(rados_stat(io, oid, &size, &mtime), 0);
    /* On demand through kairosd: its max_age (400d) keeps a 200-day-old day. */
    assert_int_equal(callf(&B, "POST", KD_ADMIN, NULL, &j, "/v1/audit/trim"), 200);
    assert_true(json_is_integer(json_object_get(j, "removed_days")));
    json_decref(j);
    assert_int_equal(rados_stat(io, oid, &size, &mtime), 0);
    /* With a max_age of 100 days, as the reconciler runs it: the day object goes. */
    assert_int_equal(kairos_audit_trim(K, 100 * DAY_MS, &removed, &err), 0);
    assert_true(removed >= 1);
    assert_int_equal(rados_stat(io, oid, &size, &mtime), -ENOENT);
    /* The same past day again, after its trim: indexed again, and trimmed again. */
    e.time_ms = (uint64_t)time(NULL) * 1000 - 200 * DAY_MS;
    assert_int_equal(kairos_audit_append(K, &e, &err), 0);
    assert_int_equal(rados_stat(io, oid, &size, &mtime), 0);
    removed = 0;
    assert_int_equal(kairos_audit_trim(K, 100 * DAY_MS, &removed, &err), 0);
    assert_true(removed >= 1);
    assert_int_equal(rados_stat(io, oid, &size, &mtime), -ENOENT);
    /* Today's stay, and the trim itself is recorded. */
    q.since_ms = 0;
    q.project = NULL;
    q.limit = 1000;
    assert_int_equal(kairos_audit_read(K, &q, &got, &n, &more, &err), 0);
    assert_true(n >= 1);
    assert_string_equal(got[n - 1].path, "/v1/audit/trim");
    assert_int_equal(got[n - 1].status, 200);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(got[i].path, "/v1/old");
    free(got);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(changes_are_recorded_and_seen_by_every_kairosd),
        cmocka_unit_test(reach_and_bad_queries),
        cmocka_unit_test(kairosctl_audit),
        cmocka_unit_test(trim_removes_old_days),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
