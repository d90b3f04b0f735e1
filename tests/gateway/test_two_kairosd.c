/*
 * test_two_kairosd.c - two kairosd on one cluster, as behind a load
 * balancer: what one changes the other sees at once (its caches are
 * emptied by RADOS notifies, not by time), and the registry holds up under
 * contention over HTTP: many clients provisioning, binding, unbinding and
 * deprovisioning through both at once never collide on unrelated ids, and
 * racing on one id gives exactly one winner.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kd.h"

#define THREADS 8 /* per kairosd */
#define CYCLES  3 /* provision+bind+unbind+deprovision, per thread */

static struct kd A, B;
static char NS[64], P[64];

static int setup(void **state)
{
    (void)state;
    kd_start(&A, KAIROSD_BINARY);
    kd_start(&B, KAIROSD_BINARY);
    snprintf(NS, sizeof(NS), "two-%x", (unsigned)getpid());
    snprintf(P, sizeof(P), "two-%x-p", (unsigned)getpid());
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
    return 0;
}

/* A quota change and a revocation through A are seen by B on the very next request. */
static void changes_are_seen_everywhere_at_once(void **state)
{
    char path[128], body[128], token[256], id[64];
    json_t *j = NULL;

    (void)state;
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"quota\":{\"volume\":{\"count\":3}}}", P);
    assert_int_equal(kd_call(&A, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    kd_project_token(&A, P, token, sizeof(token), id, sizeof(id));
    /* B reads both, and keeps them in its caches. */
    snprintf(path, sizeof(path), "/v1/projects/%s", P);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kd_call(&B, "GET", path, KD_TOKEN, token, NULL, &j), 200);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(json_object_get(j, "quota"), "volume"), "count")),
                         3);
        json_decref(j);
    }
    snprintf(path, sizeof(path), "/v1/projects/%s/quota", P);
    assert_int_equal(kd_call(&A, "PUT", path, KD_ADMIN, NULL, "{\"volume\":{\"count\":7}}", NULL),
                     200);
    snprintf(path, sizeof(path), "/v1/projects/%s", P);
    assert_int_equal(kd_call(&B, "GET", path, KD_TOKEN, token, NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "quota"), "volume"), "count")),
                     7);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens/%s", P, id);
    assert_int_equal(kd_call(&A, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s", P);
    assert_int_equal(kd_call(&B, "GET", path, KD_TOKEN, token, NULL, NULL), 401);
}

struct worker {
    unsigned n;
    char failure[512];
};

static bool expect(struct worker *w, struct kd *kd, const char *method, const char *path,
                   const char *body, long want)
{
    json_t *j = NULL;
    long got = kd_call(kd, method, path, KD_OSB, NULL, body, &j);

    if (got != want && !w->failure[0]) {
        char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
        snprintf(w->failure, sizeof(w->failure), "%s %s: %ld %s, expected %ld", method, path, got,
                 d ? d : "", want);
        free(d);
    }
    json_decref(j);
    return got == want;
}

#define PROVISION                                                                                  \
    "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"organization_guid\":" \
    "\"o\",\"space_guid\":\"s\",\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"%s\"},"   \
    "\"parameters\":{\"size\":\"4M\"}}"
#define BIND "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"}"
#define Q    "service_id=kairos-volume&plan_id=kairos-volume-small"

/* Full cycles on ids of its own, through A and B in turn. */
static void *cycles(void *arg)
{
    struct worker *w = arg;
    char body[512], ipath[160], bpath[256];

    snprintf(body, sizeof(body), PROVISION, NS);
    for (unsigned i = 0; i < CYCLES && !w->failure[0]; i++) {
        struct kd *one = (w->n + i) % 2 ? &A : &B, *other = one == &A ? &B : &A;
        snprintf(ipath, sizeof(ipath), "/v2/service_instances/%x-%u-%u", (unsigned)getpid(), w->n,
                 i);
        snprintf(bpath, sizeof(bpath), "%s/service_bindings/b-%x-%u-%u", ipath, (unsigned)getpid(),
                 w->n, i);
        if (!expect(w, one, "PUT", ipath, body, 201) || !expect(w, other, "PUT", bpath, BIND, 201))
            break;
        snprintf(bpath + strlen(bpath), sizeof(bpath) - strlen(bpath), "?%s", Q);
        snprintf(ipath + strlen(ipath), sizeof(ipath) - strlen(ipath), "?%s", Q);
        if (!expect(w, one, "DELETE", bpath, NULL, 200) ||
            !expect(w, other, "DELETE", ipath, NULL, 200))
            break;
    }
    return NULL;
}

/* Everyone on one id at once, through both kairosd. */
struct racer {
    unsigned n;
    const char *method, *path, *body;
    long status;
};

static void *race(void *arg)
{
    struct racer *r = arg;

    r->status = kd_call(r->n % 2 ? &A : &B, r->method, r->path, KD_OSB, NULL, r->body, NULL);
    return NULL;
}

static void run_race(struct racer *r, size_t n)
{
    pthread_t th[2 * THREADS];

    for (size_t i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static void registry_under_contention(void **state)
{
    pthread_t th[2 * THREADS];
    struct worker w[2 * THREADS];
    struct racer r[2 * THREADS];
    char body[512], path[160], del[256];
    unsigned won = 0;

    (void)state;
    /* The namespace's project, made ahead with room for every worker's volume. */
    snprintf(body, sizeof(body),
             "{\"name\":\"k8s-%s\",\"owner\":{\"platform\":\"kubernetes\",\"id\":\"%s\"},"
             "\"quota\":{\"volume\":{\"count\":100}}}",
             NS, NS);
    assert_int_equal(kd_call(&A, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    for (unsigned i = 0; i < 2 * THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].n = i;
        assert_int_equal(pthread_create(&th[i], NULL, cycles, &w[i]), 0);
    }
    for (unsigned i = 0; i < 2 * THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failure[0])
            fail_msg("worker %u: %s", i, w[i].failure);
    }
    /* One id, sixteen identical PUTs: one 201; the rest 200, or 422 while it is made. */
    snprintf(body, sizeof(body), PROVISION, NS);
    snprintf(path, sizeof(path), "/v2/service_instances/%x-one", (unsigned)getpid());
    for (unsigned i = 0; i < 2 * THREADS; i++)
        r[i] = (struct racer){i, "PUT", path, body, 0};
    run_race(r, 2 * THREADS);
    for (unsigned i = 0; i < 2 * THREADS; i++) {
        won += r[i].status == 201;
        if (r[i].status != 201 && r[i].status != 200 && r[i].status != 422)
            fail_msg("a racing PUT answered %ld", r[i].status);
    }
    assert_int_equal(won, 1);
    /* Sixteen DELETEs: one 200; the rest 410 once it is gone, or 422 while it goes. */
    snprintf(del, sizeof(del), "%s?%s", path, Q);
    for (unsigned i = 0; i < 2 * THREADS; i++)
        r[i] = (struct racer){i, "DELETE", del, NULL, 0};
    run_race(r, 2 * THREADS);
    won = 0;
    for (unsigned i = 0; i < 2 * THREADS; i++) {
        won += r[i].status == 200;
        if (r[i].status != 200 && r[i].status != 410 && r[i].status != 422)
            fail_msg("a racing DELETE answered %ld", r[i].status);
    }
    assert_int_equal(won, 1);
    assert_int_equal(kd_call(&A, "DELETE", del, KD_OSB, NULL, NULL, NULL), 410);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(changes_are_seen_everywhere_at_once),
        cmocka_unit_test(registry_under_contention),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
