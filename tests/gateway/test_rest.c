/*
 * test_rest.c - the REST v1 API of a real kairosd on the local cluster:
 * projects, quotas, usage, capacity, volumes, shares, snapshots, clones,
 * bindings, tokens and operations; who may call what; every kind of bad
 * input answered with a 4xx JSON error that changes nothing; where clients
 * find the cluster (/v1/cluster); metrics, health and the OpenAPI document.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "kd.h"

static struct kd KD;
static char P[64], Q[64]; /* two projects of this run */
static char TOKEN_P[256]; /* a token of P */

#define MiB (1024 * 1024)

static long call(const char *method, const char *path, const char *body, json_t **out)
{
    return kd_call(&KD, method, path, KD_ADMIN, NULL, body, out);
}

static long callf(const char *method, const char *body, json_t **out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static long callf(const char *method, const char *body, json_t **out, const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return call(method, path, body, out);
}

static long as_p(const char *method, const char *path, const char *body, json_t **out)
{
    return kd_call(&KD, method, path, KD_TOKEN, TOKEN_P, body, out);
}

static int setup(void **state)
{
    char body[256];
    json_t *j = NULL;

    (void)state;
    kd_start(&KD, KAIROSD_BINARY);
    snprintf(P, sizeof(P), "rest-%x-p", (unsigned)getpid());
    snprintf(Q, sizeof(Q), "rest-%x-q", (unsigned)getpid());
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"quota\":{\"volume\":{\"bytes\":\"256M\",\"count\":8},"
             "\"share\":{\"bytes\":\"64M\"},\"snapshot\":{\"count\":4}}}",
             P);
    assert_int_equal(call("POST", "/v1/projects", body, NULL), 201);
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"plan\":\"small\"}", Q);
    assert_int_equal(call("POST", "/v1/projects", body, NULL), 201);
    assert_int_equal(callf("POST", "{}", &j, "/v1/projects/%s/tokens", P), 201);
    snprintf(TOKEN_P, sizeof(TOKEN_P), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    callf("DELETE", NULL, NULL, "/v1/projects/%s?force=true", P);
    callf("DELETE", NULL, NULL, "/v1/projects/%s?force=true", Q);
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

static void projects_quota_usage_capacity(void **state)
{
    json_t *j = NULL;
    char path[256];

    (void)state;
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s", P), 200);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "quota"), "volume"), "bytes")),
                     256 * MiB);
    json_decref(j);
    /* A repeat create is a conflict. */
    snprintf(path, sizeof(path), "{\"name\":\"%s\"}", P);
    assert_int_equal(call("POST", "/v1/projects", path, NULL), 409);
    /* Paged listing: one at a time, following "next". */
    assert_int_equal(call("GET", "/v1/projects?limit=1", NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    assert_true(json_is_string(json_object_get(j, "next")));
    json_decref(j);
    /* Quota: set a limit, leave the others. */
    assert_int_equal(callf("PUT", "{\"volume\":{\"count\":9}}", &j, "/v1/projects/%s/quota", P),
                     200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "volume"), "count")), 9);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "volume"), "bytes")),
                     256 * MiB);
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/usage", P), 200);
    assert_non_null(json_object_get(json_object_get(j, "volume"), "allocated_bytes"));
    json_decref(j);
    assert_int_equal(call("GET", "/v1/capacity", NULL, &j), 200);
    assert_true(json_integer_value(json_object_get(j, "usable")) > 0);
    assert_true(json_integer_value(json_object_get(j, "projects")) >= 2);
    json_decref(j);
}

/* One side of a quota race: set limit @kind.count to the round's number. */
struct quota_racer {
    const char *kind;
    pthread_barrier_t *round;
    unsigned rounds;
    long bad; /* a status other than 200, if any */
};

static void *race_quota(void *arg)
{
    struct quota_racer *r = arg;
    char body[64];

    for (unsigned i = 1; i <= r->rounds; i++) {
        snprintf(body, sizeof(body), "{\"%s\":{\"count\":%u}}", r->kind, i);
        pthread_barrier_wait(r->round);
        long st = callf("PUT", body, NULL, "/v1/projects/%s/quota", Q);
        if (st != 200)
            r->bad = st;
        pthread_barrier_wait(r->round);
        /* The main thread checks the round here. */
        pthread_barrier_wait(r->round);
    }
    return NULL;
}

/* Two partial quota updates at the same moment both land, round after round. */
static void concurrent_quota_updates(void **state)
{
    enum { ROUNDS = 30 };
    pthread_barrier_t round;
    struct quota_racer a = {"bucket", &round, ROUNDS, 0}, b = {"share", &round, ROUNDS, 0};
    pthread_t ta, tb;
    json_t *j = NULL;

    (void)state;
    pthread_barrier_init(&round, NULL, 3);
    pthread_create(&ta, NULL, race_quota, &a);
    pthread_create(&tb, NULL, race_quota, &b);
    for (unsigned i = 1; i <= ROUNDS; i++) {
        pthread_barrier_wait(&round);
        pthread_barrier_wait(&round);
        assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/quota", Q), 200);
        json_int_t bucket =
            json_integer_value(json_object_get(json_object_get(j, "bucket"), "count"));
        json_int_t share =
            json_integer_value(json_object_get(json_object_get(j, "share"), "count"));
        json_decref(j);
        if (bucket != (json_int_t)i || share != (json_int_t)i)
            fail_msg("round %u: bucket.count %lld, share.count %lld: an update was lost", i,
                     (long long)bucket, (long long)share);
        pthread_barrier_wait(&round);
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&round);
    assert_int_equal(a.bad, 0);
    assert_int_equal(b.bad, 0);
}

static void volumes_snapshots_clones(void **state)
{
    json_t *j = NULL;
    char body[256];
    const char *st;

    (void)state;
    assert_int_equal(
        callf("POST", "{\"name\":\"db\",\"size\":\"32M\"}", &j, "/v1/projects/%s/volumes", P), 201);
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 32 * MiB);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
    json_decref(j);
    /* Idempotent by name: the same create again is fine, another size is a conflict. */
    assert_int_equal(
        callf("POST", "{\"name\":\"db\",\"size\":\"32M\"}", NULL, "/v1/projects/%s/volumes", P),
        201);
    assert_int_equal(
        callf("POST", "{\"name\":\"db\",\"size\":\"48M\"}", NULL, "/v1/projects/%s/volumes", P),
        409);
    assert_int_equal(callf("PATCH", "{\"size\":\"64M\"}", &j, "/v1/projects/%s/volumes/db", P),
                     200);
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 64 * MiB);
    json_decref(j);
    assert_int_equal(callf("PATCH", "{\"size\":\"16M\"}", NULL, "/v1/projects/%s/volumes/db", P),
                     400);
    assert_int_equal(
        callf("POST", "{\"name\":\"s1\"}", NULL, "/v1/projects/%s/volumes/db/snapshots", P), 201);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/volumes/db/snapshots", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    /* When it was taken, in wall-clock milliseconds (CSI reports it). */
    assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(j, "items"), 0),
                                                   "created_ms")) > 1700000000000LL);
    json_decref(j);
    /* A clone is an operation: 202, then polled to success. */
    snprintf(body, sizeof(body),
             "{\"name\":\"db-copy\",\"source\":{\"volume\":\"db\",\"snapshot\":\"s1\"}}");
    assert_int_equal(callf("POST", body, &j, "/v1/projects/%s/volumes", P), 202);
    st = kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation")));
    assert_string_equal(st, "succeeded");
    json_decref(j);
    assert_int_equal(callf("POST", NULL, &j, "/v1/projects/%s/volumes/db-copy/flatten", P), 202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "succeeded");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/volumes?limit=1", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "next")), "db");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/volumes?limit=5&after=db", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    /* Past the quota: 422, and no volume. */
    assert_int_equal(
        callf("POST", "{\"name\":\"big\",\"size\":\"1G\"}", &j, "/v1/projects/%s/volumes", P), 422);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "QuotaExceeded");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/big", P), 404);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/db-copy", P), 200);
    /* unless_snapshots: refused while s1 exists, and nothing is deleted. */
    assert_int_equal(
        callf("DELETE", NULL, &j, "/v1/projects/%s/volumes/db?unless_snapshots=true", P), 409);
    assert_non_null(strstr(json_string_value(json_object_get(j, "description")), "snapshot"));
    json_decref(j);
    assert_int_equal(
        callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/db?unless_snapshots=maybe", P), 400);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/volumes/db/snapshots", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/db/snapshots/s1", P),
                     200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/db", P), 200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/db", P), 404);
}

static void shares_and_bindings(void **state)
{
    json_t *j = NULL;

    (void)state;
    assert_int_equal(callf("POST", "{\"name\":\"home\",\"size\":\"8M\",\"max_files\":100}", &j,
                           "/v1/projects/%s/shares", P),
                     201);
    assert_int_equal(json_integer_value(json_object_get(j, "max_files")), 100);
    json_decref(j);
    /* A share's top directory's owner and mode, kept as asked; a repeat asking others: 409. */
    assert_int_equal(callf("POST",
                           "{\"name\":\"team\",\"size\":\"8M\",\"mode\":\"2770\","
                           "\"uid\":1234,\"gid\":5678}",
                           &j, "/v1/projects/%s/shares", P),
                     201);
    json_decref(j);
    assert_int_equal(callf("POST",
                           "{\"name\":\"team\",\"size\":\"8M\",\"mode\":\"2770\","
                           "\"uid\":1234,\"gid\":5678}",
                           NULL, "/v1/projects/%s/shares", P),
                     201);
    assert_int_equal(callf("POST", "{\"name\":\"team\",\"size\":\"8M\",\"mode\":\"0700\"}", NULL,
                           "/v1/projects/%s/shares", P),
                     409);
    assert_int_equal(callf("POST", "{\"id\":\"node-1\",\"read_only\":true}", &j,
                           "/v1/projects/%s/shares/home/bindings", P),
                     201);
    assert_true(json_is_true(json_object_get(json_object_get(j, "credentials"), "read_only")));
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/shares/home/bindings", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/shares/home/bindings/node-1", P),
                     200);
    /* A share from a share's snapshot: an operation (a copy), polled to success. */
    assert_int_equal(
        callf("POST", "{\"name\":\"s1\"}", NULL, "/v1/projects/%s/shares/home/snapshots", P), 201);
    assert_int_equal(callf("POST",
                           "{\"name\":\"home2\",\"source\":{\"share\":\"home\","
                           "\"snapshot\":\"s1\"}}",
                           &j, "/v1/projects/%s/shares", P),
                     202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "succeeded");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/shares/home2", P), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 8 * MiB);
    char source[128];
    snprintf(source, sizeof(source), "%s/home@s1", P);
    assert_string_equal(json_string_value(json_object_get(j, "source")), source);
    json_decref(j);
    /* A share is never made from a volume's snapshot, nor a volume from a share's. */
    assert_int_equal(callf("POST",
                           "{\"name\":\"home3\",\"source\":{\"volume\":\"home\","
                           "\"snapshot\":\"s1\"}}",
                           NULL, "/v1/projects/%s/shares", P),
                     400);
    assert_int_equal(callf("POST",
                           "{\"name\":\"v3\",\"source\":{\"share\":\"home\","
                           "\"snapshot\":\"s1\"}}",
                           NULL, "/v1/projects/%s/volumes", P),
                     400);
    assert_int_equal(callf("DELETE", NULL, &j, "/v1/projects/%s/shares/home2", P), 202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "succeeded");
    json_decref(j);
    /* Bound: a delete is refused until unbound (or forced). */
    assert_int_equal(callf("DELETE", NULL, &j, "/v1/projects/%s/shares/home", P), 202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "failed");
    /* The failed operation carries the status the refusal has when answered at once. */
    json_t *op = NULL;
    assert_int_equal(callf("GET", NULL, &op, "/v1/operations/%s",
                           json_string_value(json_object_get(j, "operation"))),
                     200);
    assert_int_equal(json_integer_value(json_object_get(op, "status")), 409);
    json_decref(op);
    json_decref(j);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/shares/home/bindings/node-1", P),
                     200);
    assert_int_equal(callf("DELETE", NULL, &j, "/v1/projects/%s/shares/home", P), 202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "succeeded");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/shares/home", P), 404);
}

static void buckets(void **state)
{
    json_t *j = NULL;

    (void)state;
    assert_int_equal(callf("POST", "{\"name\":\"data\",\"size\":\"4M\",\"max_objects\":10}", &j,
                           "/v1/projects/%s/buckets", P),
                     201);
    assert_int_equal(json_integer_value(json_object_get(j, "max_objects")), 10);
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/buckets/data", P), 200);
    assert_non_null(json_string_value(json_object_get(j, "tenant")));
    assert_int_equal(json_integer_value(json_object_get(j, "objects")), 0);
    json_decref(j);
    assert_int_equal(callf("PATCH", "{\"size\":\"8M\"}", &j, "/v1/projects/%s/buckets/data", P),
                     501);
    json_decref(j);
    assert_int_equal(callf("POST", "{\"name\":\"x\",\"size\":\"4M\",\"max_objects\":1}", NULL,
                           "/v1/projects/%s/volumes", P),
                     400);
    assert_int_equal(callf("DELETE", NULL, &j, "/v1/projects/%s/buckets/data", P), 202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "succeeded");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/buckets/data", P), 404);
}

static void tokens_reach_one_project(void **state)
{
    char path[256], other[256];
    json_t *j = NULL;
    char id[64], token[256];

    (void)state;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    snprintf(other, sizeof(other), "/v1/projects/%s/volumes", Q);
    assert_int_equal(as_p("GET", path, NULL, NULL), 200);
    assert_int_equal(as_p("POST", path, "{\"name\":\"mine\",\"size\":\"4M\"}", NULL), 201);
    /* Another project, the admin routes, and tokens: 403. */
    assert_int_equal(as_p("GET", other, NULL, &j), 403);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "Forbidden");
    json_decref(j);
    assert_int_equal(as_p("POST", other, "{\"name\":\"theirs\",\"size\":\"4M\"}", NULL), 403);
    assert_int_equal(as_p("GET", "/v1/projects", NULL, NULL), 403);
    assert_int_equal(as_p("GET", "/v1/capacity", NULL, NULL), 403);
    snprintf(other, sizeof(other), "/v1/projects/%s/quota", P);
    assert_int_equal(as_p("PUT", other, "{}", NULL), 403);
    /* Cloning from another project's volume through a project token: 403. */
    snprintf(other, sizeof(other),
             "{\"name\":\"x\",\"source\":{\"project\":\"%s\",\"volume\":\"a\",\"snapshot\":\"b\"}}",
             Q);
    assert_int_equal(as_p("POST", path, other, NULL), 403);
    snprintf(other, sizeof(other), "/v1/projects/%s/volumes/mine", P);
    assert_int_equal(as_p("DELETE", other, NULL, NULL), 200);
    /* No token, a malformed one, a made-up one: 401. */
    assert_int_equal(kd_call(&KD, "GET", path, KD_NOBODY, NULL, NULL, NULL), 401);
    assert_int_equal(kd_call(&KD, "GET", path, KD_TOKEN, "garbage", NULL, NULL), 401);
    assert_int_equal(kd_call(&KD, "GET", path, KD_TOKEN,
                             "kt_0123456789abcdef_"
                             "0000000000000000000000000000000000000000000000000000000000000000",
                             NULL, NULL),
                     401);
    /* A description is checked, and nothing is made for a bad one. */
    assert_int_equal(
        callf("POST", "{\"description\":\"tab\\there\"}", NULL, "/v1/projects/%s/tokens", P), 400);
    assert_int_equal(callf("POST", "{\"description\":7}", NULL, "/v1/projects/%s/tokens", P), 400);
    assert_int_equal(callf("POST", "{\"colour\":\"red\"}", NULL, "/v1/projects/%s/tokens", P), 400);
    /* A second token, with a description, listed by id, revoked: refused from then on. */
    assert_int_equal(
        callf("POST", "{\"description\":\"CI runner\"}", &j, "/v1/projects/%s/tokens", P), 201);
    assert_string_equal(json_string_value(json_object_get(j, "description")), "CI runner");
    assert_true(json_integer_value(json_object_get(j, "created_ms")) > 0);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    assert_int_equal(kd_call(&KD, "GET", path, KD_TOKEN, token, NULL, NULL), 200);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/tokens", P), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2);
    bool described = false;
    for (size_t i = 0; i < 2; i++) {
        const json_t *t = json_array_get(json_object_get(j, "items"), i);
        assert_true(json_integer_value(json_object_get(t, "created_ms")) > 0);
        if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0)
            described =
                strcmp(json_string_value(json_object_get(t, "description")), "CI runner") == 0;
    }
    assert_true(described);
    char *listed = json_dumps(j, 0);
    assert_null(strstr(listed, token));
    free(listed);
    json_decref(j);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/tokens/%s", P, id), 200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/tokens/%s", P, id), 404);
    /* At once: the revocation's notify emptied the cache before the DELETE answered. */
    assert_int_equal(kd_call(&KD, "GET", path, KD_TOKEN, token, NULL, NULL), 401);
}

static void bad_input_changes_nothing(void **state)
{
    char path[256], *huge;
    json_t *j = NULL;
    const char *bodies[] = {
        "{",
        "[1]",
        "{\"name\":\"ok\"}",
        "{\"name\":\"ok\",\"size\":\"12Q\"}",
        "{\"name\":\"ok\",\"size\":0}",
        "{\"name\":\"ok\",\"size\":-1}",
        "{\"name\":\"ok\",\"size\":\"9999999999P\"}",
        "{\"name\":\"Bad_Name\",\"size\":\"1M\"}",
        "{\"name\":\"../etc\",\"size\":\"1M\"}",
        "{\"name\":7,\"size\":\"1M\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"colour\":\"red\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"max_files\":5}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"name\":\"dup\"}",
    };

    (void)state;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        long s = call("POST", path, bodies[i], &j);
        if (s != 400)
            fail_msg("body %zu answered %ld, not 400", i, s);
        assert_non_null(json_string_value(json_object_get(j, "description")));
        json_decref(j);
    }
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/ok", P), 404);
    /* A share's owner and mode: octal strings and ids in range, for shares only. */
    const char *share_bodies[] = {
        "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":2770}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":\"9\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":\"17777\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":\"-777\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":\"\"}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"uid\":-1}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"uid\":4294967295}",
        "{\"name\":\"ok\",\"size\":\"1M\",\"gid\":\"100\"}",
    };
    snprintf(path, sizeof(path), "/v1/projects/%s/shares", P);
    for (size_t i = 0; i < sizeof(share_bodies) / sizeof(share_bodies[0]); i++) {
        long s = call("POST", path, share_bodies[i], &j);
        if (s != 400)
            fail_msg("share body %zu answered %ld, not 400", i, s);
        json_decref(j);
    }
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/shares/ok", P), 404);
    assert_int_equal(callf("POST", "{\"name\":\"ok\",\"size\":\"1M\",\"mode\":\"0755\"}", NULL,
                           "/v1/projects/%s/volumes", P),
                     400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/ok", P), 404);
    /* Bad names in the path, unknown collections, bad paging. */
    assert_int_equal(call("GET", "/v1/projects/BAD/volumes", NULL, NULL), 400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/disks", P), 404);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes?limit=0", P), 400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes?limit=x", P), 400);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s?force=maybe", P), 400);
    assert_int_equal(call("GET", "/v1/nowhere", NULL, NULL), 404);
    assert_int_equal(call("PATCH", "/v1/capacity", "{}", NULL), 405);
    assert_int_equal(call("GET", "/v1/operations/xyz", NULL, NULL), 400);
    assert_int_equal(call("GET", "/v1/operations/0123456789abcdef0123456789abcdef", NULL, NULL),
                     404);
    /* Quota bodies: wrong types and unknown kinds. */
    assert_int_equal(
        callf("PUT", "{\"volume\":{\"bytes\":\"x\"}}", NULL, "/v1/projects/%s/quota", P), 400);
    assert_int_equal(callf("PUT", "{\"disk\":{}}", NULL, "/v1/projects/%s/quota", P), 400);
    assert_int_equal(callf("PUT", "{\"snapshot\":{\"bytes\":1}}", NULL, "/v1/projects/%s/quota", P),
                     400);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/quota", P), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "volume"), "bytes")),
                     256 * MiB);
    json_decref(j);
    /* A body past max_body (64K in the test's config): 413. */
    huge = malloc(200 * 1024);
    memset(huge, ' ', 200 * 1024 - 1);
    huge[200 * 1024 - 1] = '\0';
    huge[0] = '{';
    assert_int_equal(call("POST", path, huge, &j), 413);
    json_decref(j);
    free(huge);
    /* A bad admin of projects: a name taken by nothing, a bad plan, a bad owner. */
    assert_int_equal(call("POST", "/v1/projects", "{\"name\":\"x-y\",\"plan\":\"gold\"}", NULL),
                     400);
    assert_int_equal(call("POST", "/v1/projects",
                          "{\"name\":\"x-y\",\"owner\":{\"platform\":\"k\",\"id\":7}}", NULL),
                     400);
    assert_int_equal(call("GET", "/v1/projects/x-y", NULL, NULL), 404);
}

/* GET /v1/cluster for any token; capacity's overcommit; a failed operation's "error". */
static void cluster_overcommit_failed_operation(void **state)
{
    const char *none[] = {NULL};
    json_t *j = NULL, *op = NULL, *vol;
    const char *fsid, *mons;
    char path[128];

    (void)state;
    assert_int_equal(call("GET", "/v1/cluster", NULL, &j), 200);
    fsid = json_string_value(json_object_get(j, "fsid"));
    mons = json_string_value(json_object_get(j, "mon_host"));
    assert_non_null(fsid);
    assert_int_equal(strlen(fsid), 36);
    assert_non_null(mons);
    assert_non_null(strstr(mons, "v1:127.0.0.1:"));
    assert_string_equal(json_string_value(json_object_get(j, "block_pool")), "rbd");
    assert_string_equal(json_string_value(json_object_get(j, "cephfs_name")), "cephfs");
    json_decref(j);
    assert_int_equal(as_p("GET", "/v1/cluster", NULL, NULL), 200);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v1/cluster", none, NULL, NULL), 401);
    /* The shipped policy overcommits thin volumes 2x and shares not at all. */
    assert_int_equal(call("GET", "/v1/capacity", NULL, &j), 200);
    vol = json_object_get(json_object_get(j, "kinds"), "volume");
    assert_true(json_number_value(json_object_get(vol, "overcommit")) == 2.0);
    assert_true(json_number_value(json_object_get(
                    json_object_get(json_object_get(j, "kinds"), "share"), "overcommit")) == 1.0);
    json_decref(j);
    /* A clone of a snapshot that does not exist fails as an operation, named as a 404 would be. */
    assert_int_equal(callf("POST",
                           "{\"name\":\"orphan\",\"source\":{\"volume\":\"none\","
                           "\"snapshot\":\"none\"}}",
                           &j, "/v1/projects/%s/volumes", P),
                     202);
    assert_string_equal(kd_wait_operation(&KD, json_string_value(json_object_get(j, "operation"))),
                        "failed");
    snprintf(path, sizeof(path), "/v1/operations/%s",
             json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(call("GET", path, NULL, &op), 200);
    assert_string_equal(json_string_value(json_object_get(op, "error")), "NotFound");
    json_decref(op);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/orphan", P), 404);
}

/* Start `rbd bench` as a VM would, with nothing but the binding's credentials. */
static pid_t start_writer(const json_t *creds, const char *spec, char *keyring, size_t len)
{
    const json_t *c = json_object_get(creds, "credentials");
    FILE *f;
    pid_t pid;

    snprintf(keyring, len, "/tmp/kairos-rest-%d.keyring", (int)getpid());
    f = fopen(keyring, "w");
    assert_non_null(f);
    fputs(json_string_value(json_object_get(c, "keyring")), f);
    fclose(f);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("rbd", "rbd", "--conf", "/dev/null", "-m",
               json_string_value(json_object_get(c, "mon_host")), "--id",
               json_string_value(json_object_get(c, "user")), "--keyring", keyring, "bench",
               "--io-type", "write", "--io-size", "4K", "--io-total", "100G", "--io-threads", "1",
               "--io-pattern", "rand", spec, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/*
 * A VM killed with SIGKILL holds its volume's exclusive lock: a live owner
 * is refused a plain break (409), a dead one's lock is broken (and it is
 * blocklisted). The drift routes: findings, the policy (admin only),
 * usage's summary; bad input changes nothing.
 */
static void drift_and_locks(void **state)
{
    char spec[256], keyring[128];
    json_t *j = NULL, *creds = NULL;
    int status;
    long code = 0;
    pid_t pid;

    (void)state;
    assert_int_equal(
        callf("POST", "{\"name\":\"lk\",\"size\":\"16M\"}", NULL, "/v1/projects/%s/volumes", P),
        201);
    assert_int_equal(
        callf("POST", "{\"id\":\"vm-a\"}", &creds, "/v1/projects/%s/volumes/lk/bindings", P), 201);
    snprintf(spec, sizeof(spec), "rbd/%s/lk", P);
    pid = start_writer(creds, spec, keyring, sizeof(keyring));
    /* Until the writer holds the lock: a plain break is refused while it lives. */
    for (int i = 0; i < 60 && code != 409; i++) {
        json_decref(j);
        j = NULL;
        code = callf("POST", NULL, &j, "/v1/projects/%s/volumes/lk/lock/break", P);
        if (code != 409)
            usleep(500000);
    }
    assert_int_equal(code, 409);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "LockHeld");
    json_decref(j);
    /*
     * The writer's key may not resize or snapshot: librbd must not hand
     * these to the lock's owner (EPERM), so the broker takes the lock for
     * them, and gives it back: a new writer takes it again.
     */
    assert_int_equal(callf("PATCH", "{\"size\":\"32M\"}", NULL, "/v1/projects/%s/volumes/lk", P),
                     200);
    assert_int_equal(
        callf("POST", "{\"name\":\"s1\"}", NULL, "/v1/projects/%s/volumes/lk/snapshots", P), 201);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/lk/snapshots/s1", P),
                     200);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(callf("POST", NULL, NULL, "/v1/projects/%s/volumes/lk/lock/break", P), 200);
    pid = start_writer(creds, spec, keyring, sizeof(keyring));
    code = 0;
    for (int i = 0; i < 60 && code != 409; i++) {
        code = callf("POST", NULL, NULL, "/v1/projects/%s/volumes/lk/lock/break", P);
        if (code != 409)
            usleep(500000);
    }
    assert_int_equal(code, 409);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    unlink(keyring);
    assert_int_equal(callf("POST", NULL, &j, "/v1/projects/%s/volumes/lk/lock/break", P), 200);
    assert_true(json_is_true(json_object_get(j, "held")));
    assert_true(json_is_true(json_object_get(j, "broken")));
    json_decref(j);
    assert_int_equal(as_p("POST", "/v1/projects/nosuch/volumes/lk/lock/break", NULL, NULL), 403);
    assert_int_equal(callf("POST", NULL, &j, "/v1/projects/%s/volumes/lk/lock/break", P), 200);
    assert_false(json_is_true(json_object_get(j, "held")));
    json_decref(j);
    assert_int_equal(callf("POST", NULL, NULL, "/v1/projects/%s/volumes/nosuch/lock/break", P),
                     404);
    assert_int_equal(callf("POST", NULL, NULL, "/v1/projects/%s/volumes/Bad/lock/break", P), 400);
    assert_int_equal(
        callf("POST", NULL, NULL, "/v1/projects/%s/volumes/lk/lock/break?force=maybe", P), 400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/lk/lock/break", P), 405);

    /* Drift: the findings and the policy, revoke by default; only the admin sets it. */
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/drift", P), 200);
    assert_string_equal(json_string_value(json_object_get(j, "policy")), "revoke");
    assert_true(json_is_array(json_object_get(j, "findings")));
    json_decref(j);
    char path[256];
    snprintf(path, sizeof(path), "/v1/projects/%s/drift/policy", P);
    assert_int_equal(as_p("GET", path, NULL, NULL), 200);
    assert_int_equal(as_p("PUT", path, "{\"policy\":\"report\"}", NULL), 403);
    assert_int_equal(call("PUT", path, "{\"policy\":\"nope\"}", NULL), 400);
    assert_int_equal(call("PUT", path, "{\"policy\":\"report\",\"colour\":1}", NULL), 400);
    assert_int_equal(call("PUT", path, "{\"policy\":", NULL), 400);
    assert_int_equal(call("PUT", path, "{\"policy\":7}", NULL), 400);
    assert_int_equal(call("GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "policy")), "revoke");
    json_decref(j);
    assert_int_equal(call("PUT", path, "{\"policy\":\"report\"}", &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "policy")), "report");
    json_decref(j);
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s/usage", P), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "drift"), "policy")),
                        "report");
    assert_true(json_is_integer(json_object_get(json_object_get(j, "drift"), "findings")));
    json_decref(j);
    assert_int_equal(
        call("PUT", "/v1/projects/nosuch-project/drift/policy", "{\"policy\":\"report\"}", NULL),
        404);
    assert_int_equal(call("PUT", path, "{\"policy\":\"revoke\"}", NULL), 200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/lk/bindings/vm-a", P),
                     200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/lk", P), 200);
    json_decref(creds);
}

/* REST v1's strict input: each rule of issue 15 answered 4xx, and nothing made. */
static void strict_input(void **state)
{
    const char *plain[] = {"Content-Type: text/plain", NULL};
    const char *none[] = {"Content-Type:", NULL};
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *utf8[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char *bad_sizes[] = {"\"1.5\"", "1.5",     "\"1.5B\"", "\"1 G\"",
                               "\"-1G\"", "\"1GG\"", "\"\"",     "\"0x10\""};
    const char *bad_names[] = {"db-", "-db", "Db", "d_b", "d.b", ""};
    char path[256], body[256];
    struct kd_reply r;
    json_t *j = NULL;

    (void)state;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    /* A body that is not application/json: 415, and no volume. */
    kd_request(&KD, "POST", path, KD_ADMIN, NULL, plain, "{\"name\":\"t415\",\"size\":\"1M\"}", &r);
    assert_int_equal(r.status, 415);
    assert_string_equal(json_string_value(json_object_get(r.body, "error")),
                        "UnsupportedMediaType");
    json_decref(r.body);
    kd_request(&KD, "POST", path, KD_ADMIN, NULL, none, "{\"name\":\"t415\",\"size\":\"1M\"}", &r);
    assert_int_equal(r.status, 415);
    json_decref(r.body);
    kd_request(&KD, "POST", path, KD_ADMIN, NULL, form, "name=t415&size=1M", &r);
    assert_int_equal(r.status, 415);
    json_decref(r.body);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/t415", P), 404);
    kd_request(&KD, "POST", path, KD_ADMIN, NULL, utf8, "{\"name\":\"t415\",\"size\":\"1M\"}", &r);
    assert_int_equal(r.status, 201);
    json_decref(r.body);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/t415", P), 200);

    /* An encoded '/' in a segment is 400, never decoded into another route. */
    assert_int_equal(callf("GET", NULL, &j, "/v1/projects/%s%%2Fvolumes", P), 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "description")), "%2F"));
    json_decref(j);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s%%2fvolumes", P), 400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/a%%2Fb", P), 400);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s%%2Fvolumes%%2Fx", P), 400);
    /* Elsewhere percent-encoding is decoded as usual, and %2F in a query value is fine. */
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%%72est-%x-p", (unsigned)getpid()),
                     200);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes?after=a%%2Fb", P), 200);

    /* Sizes follow the grammar, numbers are whole; the same refusals as kairosctl's. */
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        snprintf(body, sizeof(body), "{\"name\":\"tsize\",\"size\":%s}", bad_sizes[i]);
        if (call("POST", path, body, &j) != 400)
            fail_msg("size %s was not refused", bad_sizes[i]);
        json_decref(j);
    }
    assert_int_equal(
        callf("PUT", "{\"volume\":{\"bytes\":\"1.5\"}}", NULL, "/v1/projects/%s/quota", P), 400);
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/tsize", P), 404);

    /* Names follow docs/openapi.json everywhere: in bodies and in paths. */
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        snprintf(body, sizeof(body), "{\"name\":\"%s\",\"size\":\"1M\"}", bad_names[i]);
        if (call("POST", path, body, &j) != 400)
            fail_msg("name '%s' was not refused", bad_names[i]);
        json_decref(j);
    }
    assert_int_equal(callf("GET", NULL, NULL, "/v1/projects/%s/volumes/db-", P), 400);
    assert_int_equal(call("POST", "/v1/projects", "{\"name\":\"x-\"}", NULL), 400);
    assert_int_equal(call("GET", "/v1/projects/x-", NULL, NULL), 400);

    /* Error texts are ours: no jansson option names or wording. */
    assert_int_equal(call("POST", path, "{\"name\":\"a\\u0000b\",\"size\":1}", &j), 400);
    assert_null(strstr(json_string_value(json_object_get(j, "description")), "JSON_"));
    json_decref(j);
    assert_int_equal(call("POST", path, "{\"name\":\"x\"} trailing", &j), 400);
    assert_null(strstr(json_string_value(json_object_get(j, "description")), "near"));
    json_decref(j);
}

/* An operation belongs to its project: another project's token does not see it. */
static void operations_are_scoped(void **state)
{
    char op[64], path[128];
    json_t *j = NULL;

    (void)state;
    assert_int_equal(
        callf("POST", "{\"name\":\"flat\",\"size\":\"4M\"}", NULL, "/v1/projects/%s/volumes", Q),
        201);
    assert_int_equal(callf("POST", NULL, &j, "/v1/projects/%s/volumes/flat/flatten", Q), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    kd_wait_operation(&KD, op);
    snprintf(path, sizeof(path), "/v1/operations/%s", op);
    assert_int_equal(call("GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "project")), Q);
    json_decref(j);
    assert_int_equal(as_p("GET", path, NULL, &j), 404);
    json_decref(j);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/flat", Q), 200);
    /* P's own operation: its token sees it. */
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    assert_int_equal(as_p("POST", path, "{\"name\":\"pflat\",\"size\":\"4M\"}", NULL), 201);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/pflat/flatten", P);
    assert_int_equal(as_p("POST", path, NULL, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    kd_wait_operation(&KD, op);
    snprintf(path, sizeof(path), "/v1/operations/%s", op);
    assert_int_equal(as_p("GET", path, NULL, NULL), 200);
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/pflat", P), 200);
}

struct racer {
    long status[4];
    bool retry_missing;
};

/* Identical creates at once: contention is 503 with Retry-After, never 409; retried, all 201. */
static void *create_same(void *arg)
{
    struct racer *r = arg;
    char path[128];

    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    for (int i = 0; i < 4; i++) {
        struct kd_reply rep;
        for (int tries = 0; tries < 600; tries++) {
            kd_request(&KD, "POST", path, KD_ADMIN, NULL, NULL,
                       "{\"name\":\"same\",\"size\":\"4M\"}", &rep);
            json_decref(rep.body);
            if (rep.status != 503)
                break;
            r->retry_missing |= !rep.retry[0];
            usleep(20 * 1000);
        }
        r->status[i] = rep.status;
    }
    return NULL;
}

static void contention_is_503_not_409(void **state)
{
    pthread_t th[8];
    struct racer r[8];

    (void)state;
    for (int i = 0; i < 8; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        assert_int_equal(pthread_create(&th[i], NULL, create_same, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_false(r[i].retry_missing);
        for (int k = 0; k < 4; k++)
            if (r[i].status[k] != 201)
                fail_msg("an identical create answered %ld", r[i].status[k]);
    }
    assert_int_equal(callf("DELETE", NULL, NULL, "/v1/projects/%s/volumes/same", P), 200);
}

static void operations_health_metrics_openapi(void **state)
{
    const char *none[] = {NULL};
    json_t *j = NULL;

    (void)state;
    assert_int_equal(kd_call_headers(&KD, "GET", "/healthz", none, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v1/openapi.json", none, NULL, &j), 200);
    assert_non_null(strstr(json_string_value(json_object_get(j, "openapi")), "3."));
    assert_non_null(json_object_get(json_object_get(j, "paths"), "/v1/projects/{project}/{kind}"));
    json_decref(j);
}

static void metrics_text(void **state)
{
    char cmd[256], line[1024];
    bool requests = false, histogram = false, refusals = false, gauges = false, drift = false;
    bool per_project = false, failures = false;
    FILE *f;

    (void)state;
    snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%u/metrics", KD.port);
    /* The drift lines come with this kairosd's first reconciler pass. */
    for (int i = 0; i < 60 && !drift; i++) {
        if (i)
            sleep(1);
        requests = histogram = refusals = gauges = per_project = false;
        f = popen(cmd, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            requests |=
                strstr(line, "kairos_http_requests_total{route=\"/v1/projects/:p/:kind\"") != NULL;
            histogram |= strstr(line, "kairos_http_request_duration_seconds_bucket") != NULL;
            refusals |= strncmp(line, "kairos_quota_refusals_total{kind=\"volume\"} ", 43) == 0 &&
                        atoi(line + 43) >= 1;
            gauges |= strncmp(line, "kairos_capacity_usable_bytes ", 29) == 0;
            drift |= strncmp(line, "kairos_drift_findings ", 22) == 0;
            /* For the reconciler alert: there from the start, 0 on a healthy cluster. */
            failures |= strcmp(line, "kairos_reconcile_failures_total 0\n") == 0;
            /* Each project's quota and allocation, for the quota alerts. */
            per_project |= strncmp(line, "kairos_project_allocations{project=\"", 36) == 0 &&
                           strstr(line, "kind=\"volume\"} ") != NULL;
        }
        assert_int_equal(pclose(f), 0);
    }
    assert_true(requests);
    assert_true(histogram);
    assert_true(refusals);
    assert_true(gauges);
    assert_true(drift);
    assert_true(per_project);
    assert_true(failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(projects_quota_usage_capacity),
        cmocka_unit_test(concurrent_quota_updates),
        cmocka_unit_test(volumes_snapshots_clones),
        cmocka_unit_test(shares_and_bindings),
        cmocka_unit_test(buckets),
        cmocka_unit_test(tokens_reach_one_project),
        cmocka_unit_test(bad_input_changes_nothing),
        cmocka_unit_test(cluster_overcommit_failed_operation),
        cmocka_unit_test(drift_and_locks),
        cmocka_unit_test(strict_input),
        cmocka_unit_test(operations_are_scoped),
        cmocka_unit_test(contention_is_503_not_409),
        cmocka_unit_test(operations_health_metrics_openapi),
        cmocka_unit_test(metrics_text),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
