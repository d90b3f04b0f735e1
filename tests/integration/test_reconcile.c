/*
 * test_reconcile.c - each kind of stale state, and what the reconciler makes
 * of it: creates committed or released by what the backend sees, resizes
 * kept or rolled back, deletes rolled forward, fresh intents left alone,
 * interrupted project creates and deletes finished, and one pass at a time.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define MiB ((uint64_t)1 << 20)

static const char policy[] = "[capacity]\nusable = 10G\nfull_ratio = 1\nheadroom = 0\n";

static struct kt T;

static int setup(void **state)
{
    (void)state;
    kt_open_isolated(&T, policy, NULL);
    kt_backend_register(&T, KAIROS_VOLUME);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_close(&T);
    return 0;
}

static void project(char *name, size_t len)
{
    struct kairos_quota q;
    struct kairos_error err = {0};

    kairos_quota_unlimited(&q);
    kt_name(name, len, "rec");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
}

static struct kairos_reservation *reserve(const char *p, const char *name, uint64_t bytes)
{
    struct kairos_alloc_req req = {
        .project = p, .kind = KAIROS_VOLUME, .name = name, .bytes = bytes};
    struct kairos_reservation *res;
    struct kairos_error err = {0};

    if (kairos_ledger_reserve(T.k, &req, &res, &err) < 0)
        fail_msg("reserve: %s", err.msg);
    return res;
}

static void run(struct kairos_reconcile_report *rep)
{
    struct kairos_error err = {0};

    if (kairos_reconcile_run(T.k, 1, rep, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    assert_false(rep->skipped);
}

static bool exists(const char *p, const char *name, struct kairos_alloc *a)
{
    struct kairos_error err = {0};
    int rc = kairos_ledger_get(T.k, p, KAIROS_VOLUME, name, a, &err);

    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

static void stale_creates(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_reservation *made, *lost;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64];

    (void)state;
    project(p, sizeof(p));
    /* One died after making its object, one before. */
    made = reserve(p, "made", 3 * MiB);
    assert_int_equal(kt_object_create(&T, p, "made", 3 * MiB), 0);
    lost = reserve(p, "lost", 5 * MiB);
    usleep(5000);
    run(&rep);
    assert_int_equal(rep.committed, 1);
    assert_int_equal(rep.released, 1);
    assert_true(exists(p, "made", &a));
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    assert_false(exists(p, "lost", &a));
    /* The slow requester finds out at commit, and must undo its side. */
    assert_int_equal(kairos_ledger_commit(T.k, lost, &err), -ESTALE);
    assert_int_equal(kairos_ledger_commit(T.k, made, &err), 0);
    kairos_reservation_free(made);
    kairos_reservation_free(lost);
    kt_assert_consistent(&T, p);
}

static void stale_resizes_and_deletes(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_reservation *res;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64];
    const char *names[] = {"grown", "notgrown", "deleted", "notdeleted"};

    (void)state;
    project(p, sizeof(p));
    for (int i = 0; i < 4; i++) {
        res = reserve(p, names[i], 2 * MiB);
        assert_int_equal(kt_object_create(&T, p, names[i], 2 * MiB), 0);
        assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
        kairos_reservation_free(res);
    }
    /* Resized on the Ceph side before the crash, and not. */
    assert_int_equal(
        kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "grown", 8 * MiB, &res, &err), 0);
    kairos_reservation_free(res);
    assert_int_equal(kt_object_create(&T, p, "grown", 8 * MiB), 0);
    assert_int_equal(
        kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "notgrown", 8 * MiB, &res, &err), 0);
    kairos_reservation_free(res);
    /* Deleted on the Ceph side before the crash, and not yet: both finish. */
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "deleted", &res, &err), 0);
    kairos_reservation_free(res);
    char oid[128];
    snprintf(oid, sizeof(oid), "obj.%s.deleted", p);
    assert_int_equal(rados_remove(T.objects, oid), 0);
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "notdeleted", &res, &err),
                     0);
    kairos_reservation_free(res);
    usleep(5000);
    run(&rep);
    assert_int_equal(rep.committed, 3);
    assert_int_equal(rep.released, 1);
    assert_true(exists(p, "grown", &a));
    assert_true(a.bytes == 8 * MiB && !a.pending);
    kairos_alloc_clear(&a);
    assert_true(exists(p, "notgrown", &a));
    assert_true(a.bytes == 2 * MiB && !a.pending);
    kairos_alloc_clear(&a);
    assert_false(exists(p, "deleted", &a));
    assert_false(exists(p, "notdeleted", &a));
    assert_int_equal(kt_object_exists(&T, p, "notdeleted"), 0);
    kt_assert_consistent(&T, p);
}

static void fresh_and_unknown_left_alone(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_reservation *res, *snap;
    struct kairos_alloc_req req = {.kind = KAIROS_SNAPSHOT, .name = "volume:x@s"};
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64];

    (void)state;
    project(p, sizeof(p));
    res = reserve(p, "young", MiB);
    /* A lease of an hour: the intent is young and must not be touched. */
    assert_int_equal(kairos_reconcile_run(T.k, 3600 * 1000, &rep, &err), 0);
    assert_int_equal(rep.committed + rep.released, 0);
    assert_true(exists(p, "young", &a));
    assert_true(a.pending);
    kairos_alloc_clear(&a);
    /* A backend that cannot tell: the intent is reported, not guessed at. */
    kt_backend_register_unsure(&T, KAIROS_SNAPSHOT);
    req.project = p;
    assert_int_equal(kairos_ledger_reserve(T.k, &req, &snap, &err), 0);
    usleep(5000);
    run(&rep);
    assert_int_equal(rep.left, 1);
    assert_int_equal(rep.released, 1); /* "young", now stale, had no object */
    assert_int_equal(kairos_ledger_release(T.k, snap, &err), 0);
    kairos_reservation_free(res);
    kairos_reservation_free(snap);
    kt_assert_consistent(&T, p);
}

static void interrupted_project_create(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_project_page *page;
    struct kairos_project pr;
    struct kairos_error err = {0};
    rados_ioctx_t io;
    char name[64], key[80];
    const char *val = "{\"owner\":{\"platform\":\"kubernetes\",\"id\":\"ns-x\"},"
                      "\"state\":\"creating\",\"ts\":1}";
    const char *keys[1] = {key};
    size_t klen, vlen = strlen(val);

    (void)state;
    /* The index got its entry, then the creator died before the object. */
    kt_name(name, sizeof(name), "half");
    snprintf(key, sizeof(key), "p.%s", name);
    klen = strlen(key);
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &io), 0);
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_omap_set2(op, keys, &val, &klen, &vlen, 1);
    assert_int_equal(rados_write_op_operate(op, io, "kairos.projects", NULL, 0), 0);
    rados_release_write_op(op);
    rados_ioctx_destroy(io);
    assert_int_equal(kairos_project_list(T.k, name, 1, &page, &err), 0);
    kairos_project_page_free(page);
    /* Shown as what it is, not as missing. */
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), 0);
    assert_int_equal(pr.state, KAIROS_PROJECT_CREATING);

    run(&rep);
    assert_true(rep.projects_done >= 1);
    assert_int_equal(kairos_project_list(T.k, NULL, 1000, &page, &err), 0);
    for (size_t i = 0; i < page->count; i++)
        assert_string_not_equal(page->items[i].name, name);
    kairos_project_page_free(page);
    /* The name is free to use again. */
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, MiB, 1);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);
}

/* Write the index entry a create leaves before its project object: "creating" at @ts. */
static void index_creating(const char *name, const char *owner_id, uint64_t ts)
{
    char pkey[80], okey[160], entry[256];
    const char *keys[2] = {pkey, okey}, *vals[2] = {entry, name};
    size_t klens[2], vlens[2];
    rados_ioctx_t io;
    rados_write_op_t op;

    snprintf(pkey, sizeof(pkey), "p.%s", name);
    snprintf(okey, sizeof(okey), "o.kubernetes:%s", owner_id);
    snprintf(entry, sizeof(entry),
             "{\"owner\":{\"platform\":\"kubernetes\",\"id\":\"%s\"},"
             "\"state\":\"creating\",\"ts\":%" PRIu64 "}",
             owner_id, ts);
    for (int i = 0; i < 2; i++) {
        klens[i] = strlen(keys[i]);
        vlens[i] = strlen(vals[i]);
    }
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &io), 0);
    op = rados_create_write_op();
    rados_write_op_omap_set2(op, keys, vals, klens, vlens, 2);
    assert_int_equal(rados_write_op_operate(op, io, "kairos.projects", NULL, 0), 0);
    rados_release_write_op(op);
    rados_ioctx_destroy(io);
}

/*
 * A first use cut short between the index and the project object. Its
 * name is never left half-there: a failed object write is undone at once;
 * one cut short by a crash shows as "creating", makes lookups wait rather
 * than name a project that is not there, and past the lease is settled by
 * the next create, delete or lookup, or by the reconciler within a lease
 * and one interval.
 */
static void first_use_cut_short(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, MiB, 1);
    struct kairos_owner owner = {"kubernetes", ""};
    struct kairos_error err = {0};
    struct kairos_project pr;
    char name[64], found[KAIROS_NAME_MAX + 1];
    uint64_t lease = T.cfg->reconcile.lease_ms, interval = T.cfg->reconcile.interval_ms;

    (void)state;
    /* The object write fails: the create is undone at once, the name free. */
    kt_name(name, sizeof(name), "first");
    snprintf(owner.id, sizeof(owner.id), "ns-%s", name);
    setenv("KAIROS_FAULT", "project.create.object=fail", 1);
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), -EIO);
    unsetenv("KAIROS_FAULT");
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), -ENOENT);
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), -ENOENT);
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);

    /* A create that died after the index: fresh, its creator may be at work. */
    kt_name(name, sizeof(name), "first");
    snprintf(owner.id, sizeof(owner.id), "ns-%s", name);
    index_creating(name, owner.id, kairos_now_ms());
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), -EAGAIN);
    assert_non_null(strstr(err.msg, "being created"));
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), 0);
    assert_int_equal(pr.state, KAIROS_PROJECT_CREATING);
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), -EBUSY);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), -EBUSY);
    /* Past the lease: the next create settles it and goes through. */
    T.cfg->reconcile.lease_ms = 1000;
    usleep(1100 * 1000);
    kairos_error_clear(&err);
    if (kairos_project_create(T.k, name, &owner, &q, &err) < 0)
        fail_msg("create over a stale half-made one: %s", err.msg);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), 0);
    assert_string_equal(found, name);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);

    /* Or a delete, or a lookup. */
    kt_name(name, sizeof(name), "first");
    index_creating(name, "ns-deleted", 1);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), -ENOENT);
    kt_name(name, sizeof(name), "first");
    snprintf(owner.id, sizeof(owner.id), "ns-%s", name);
    index_creating(name, owner.id, 1);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), -ENOENT);
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), -ENOENT);

    /* Left alone, the background reconciler settles it within a lease and an interval. */
    kt_name(name, sizeof(name), "first");
    index_creating(name, "ns-left", kairos_now_ms());
    T.cfg->reconcile.interval_ms = 500;
    assert_int_equal(kairos_reconciler_start(T.k, NULL, NULL), 0);
    usleep((useconds_t)(1000 + 500 + 1500) * 1000);
    kairos_reconciler_stop(T.k);
    assert_int_equal(kairos_project_get(T.k, name, &pr, &err), -ENOENT);
    T.cfg->reconcile.lease_ms = lease;
    T.cfg->reconcile.interval_ms = interval;
}

static int failing_destroy(void *arg, const char *project, const char *name,
                           struct kairos_error *err)
{
    (void)arg;
    (void)project;
    return kairos_error_set(err, -EIO, "backend down while deleting %s", name);
}

static int probe_any(void *arg, const char *project, const char *name, uint64_t *bytes,
                     struct kairos_error *err)
{
    (void)arg;
    (void)project;
    (void)name;
    (void)err;
    *bytes = 0;
    return 1;
}

static void interrupted_project_delete(void **state)
{
    struct kairos_kind_ops broken = {.probe = probe_any, .destroy = failing_destroy};
    struct kairos_reconcile_report rep;
    struct kairos_reservation *res;
    struct kairos_project pr;
    struct kairos_error err = {0};
    char p[64];

    (void)state;
    project(p, sizeof(p));
    res = reserve(p, "v", 4 * MiB);
    assert_int_equal(kt_object_create(&T, p, "v", 4 * MiB), 0);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    kairos_reservation_free(res);

    /* The backend fails mid-cascade: the project stays, marked deleting. */
    assert_int_equal(kairos_kind_register(T.k, KAIROS_VOLUME, &broken), 0);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), -EIO);
    assert_int_equal(kairos_project_get(T.k, p, &pr, &err), 0);
    assert_int_equal(pr.state, KAIROS_PROJECT_DELETING);
    /* A deleting project admits nothing new. */
    struct kairos_alloc_req req = {.project = p, .kind = KAIROS_VOLUME, .name = "w", .bytes = 1};
    kairos_error_clear(&err);
    assert_int_equal(kairos_ledger_reserve(T.k, &req, &res, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "being deleted"));

    /* The backend is back: the reconciler finishes the delete. */
    kt_backend_register(&T, KAIROS_VOLUME);
    usleep(5000);
    run(&rep);
    assert_true(rep.projects_done >= 1);
    assert_int_equal(kairos_project_get(T.k, p, &pr, &err), -ENOENT);
    assert_int_equal(kt_object_exists(&T, p, "v"), 0);
}

static void one_pass_at_a_time(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct timeval hold = {.tv_sec = 30};
    rados_ioctx_t io;

    (void)state;
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &io), 0);
    assert_int_equal(rados_lock_exclusive(io, "kairos.reconciler", "reconcile", "other-broker",
                                          "held by the test", &hold, 0),
                     0);
    assert_int_equal(kairos_reconcile_run(T.k, 1, &rep, &err), 0);
    assert_true(rep.skipped);
    assert_int_equal(rados_unlock(io, "kairos.reconciler", "reconcile", "other-broker"), 0);
    rados_ioctx_destroy(io);
    assert_int_equal(kairos_reconcile_run(T.k, 1, &rep, &err), 0);
    assert_false(rep.skipped);
}

struct seen {
    pthread_mutex_t lock;
    int passes;
};

static void on_pass(void *arg, int rc, const struct kairos_reconcile_report *rep)
{
    struct seen *s = arg;

    (void)rep;
    pthread_mutex_lock(&s->lock);
    if (rc == 0)
        s->passes++;
    pthread_mutex_unlock(&s->lock);
}

static void background_thread(void **state)
{
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    int passes;

    (void)state;
    assert_int_equal(kairos_reconciler_start(T.k, on_pass, &s), 0);
    assert_int_equal(kairos_reconciler_start(T.k, on_pass, &s), -EALREADY);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&s.lock);
        passes = s.passes;
        pthread_mutex_unlock(&s.lock);
        if (passes)
            break;
        usleep(100000);
    }
    kairos_reconciler_stop(T.k);
    kairos_reconciler_stop(T.k);
    assert_true(passes >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stale_creates),
        cmocka_unit_test(stale_resizes_and_deletes),
        cmocka_unit_test(fresh_and_unknown_left_alone),
        cmocka_unit_test(interrupted_project_create),
        cmocka_unit_test(first_use_cut_short),
        cmocka_unit_test(interrupted_project_delete),
        cmocka_unit_test(one_pass_at_a_time),
        cmocka_unit_test(background_thread),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
