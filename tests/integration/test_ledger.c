/*
 * test_ledger.c - reserve, commit and release against the real cluster:
 * admission per kind, count and total, idempotent repeats, resize and
 * delete, the cluster capacity bound, and bad input that changes nothing.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kairos/reconcile.h>

#include "budget.h"
#include "kairos_int.h"
#include "store.h"

#define MiB (1ULL << 20)

static struct kt T;

static int setup(void **state)
{
    (void)state;
    kt_open(&T, NULL);
    kt_backend_register(&T, KAIROS_VOLUME);
    kt_backend_register(&T, KAIROS_SHARE);
    kt_backend_register(&T, KAIROS_SNAPSHOT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_close(&T);
    return 0;
}

static void new_project(struct kt *t, char *name, size_t len, const struct kairos_quota *q)
{
    struct kairos_error err = {0};

    kt_name(name, len, "ledger");
    if (kairos_project_create(t->k, name, NULL, q, &err) < 0)
        fail_msg("project create: %s", err.msg);
}

static int reserve(struct kt *t, const char *project, enum kairos_kind kind, const char *name,
                   uint64_t bytes, const char *attrs, struct kairos_reservation **res,
                   struct kairos_error *err)
{
    struct kairos_alloc_req req = {
        .project = project, .kind = kind, .name = name, .bytes = bytes, .attrs = attrs};

    kairos_error_clear(err);
    return kairos_ledger_reserve(t->k, &req, res, err);
}

static void create(struct kt *t, const char *project, enum kairos_kind kind, const char *name,
                   uint64_t bytes)
{
    struct kairos_reservation *res;
    struct kairos_error err = {0};

    if (reserve(t, project, kind, name, bytes, NULL, &res, &err) < 0)
        fail_msg("reserve %s: %s", name, err.msg);
    assert_false(res->existing);
    assert_int_equal(kt_object_create(t, project, name, bytes), 0);
    assert_int_equal(kairos_ledger_commit(t->k, res, &err), 0);
    kairos_reservation_free(res);
}

static void usage(struct kt *t, const char *project, struct kairos_usage *u)
{
    struct kairos_error err = {0};

    if (kairos_usage_get(t->k, project, u, &err) < 0)
        fail_msg("usage: %s", err.msg);
}

static void reserve_commit_release(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 100 * MiB, 10);
    struct kairos_reservation *res, *again;
    struct kairos_alloc a;
    struct kairos_usage u;
    struct kairos_error err = {0};
    char p[64];

    (void)state;
    new_project(&T, p, sizeof(p), &q);
    assert_int_equal(
        reserve(&T, p, KAIROS_VOLUME, "vol", 10 * MiB, "{\"plan\":\"small\"}", &res, &err), 0);
    /* A reservation counts at once, and is visible as pending. */
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 10 * MiB);
    assert_true(u.kind[KAIROS_VOLUME].alloc_count == 1);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "vol", &a, &err), 0);
    assert_true(a.pending);
    assert_int_equal(a.op, KAIROS_OP_CREATE);
    kairos_alloc_clear(&a);
    /* The same request while it is in flight: busy, not a second reservation. */
    assert_int_equal(
        reserve(&T, p, KAIROS_VOLUME, "vol", 10 * MiB, "{\"plan\":\"small\"}", &again, &err),
        -EINPROGRESS);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    /* Committing twice is harmless; releasing what was committed is not allowed. */
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    assert_int_equal(kairos_ledger_release(T.k, res, &err), -ESTALE);
    kairos_reservation_free(res);

    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "vol", &a, &err), 0);
    assert_false(a.pending);
    assert_true(a.bytes == 10 * MiB);
    assert_string_equal(a.attrs, "{\"plan\":\"small\"}");
    kairos_alloc_clear(&a);

    /* A repeat returns the existing allocation; a conflicting one is refused. */
    assert_int_equal(
        reserve(&T, p, KAIROS_VOLUME, "vol", 10 * MiB, "{\"plan\": \"small\"}", &again, &err), 0);
    assert_true(again->existing);
    assert_int_equal(kairos_ledger_commit(T.k, again, &err), 0);
    kairos_reservation_free(again);
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "vol", 20 * MiB, NULL, &again, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "exists with size 10MiB"));
    assert_int_equal(
        reserve(&T, p, KAIROS_VOLUME, "vol", 10 * MiB, "{\"plan\":\"large\"}", &again, &err),
        -EEXIST);

    /* A release undoes a reservation completely. */
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "gone", 5 * MiB, NULL, &res, &err), 0);
    assert_int_equal(kairos_ledger_release(T.k, res, &err), 0);
    assert_int_equal(kairos_ledger_release(T.k, res, &err), 0);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), -ESTALE);
    kairos_reservation_free(res);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "gone", &a, &err), -ENOENT);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 10 * MiB);
    assert_true(u.kind[KAIROS_VOLUME].alloc_count == 1);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void quota_refusals(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 30 * MiB, 3);
    struct kairos_reservation *res;
    struct kairos_error err = {0};
    struct kairos_usage before, after;
    char p[64];

    (void)state;
    q.kind[KAIROS_SHARE].bytes = 50 * MiB;
    q.kind[KAIROS_SNAPSHOT].count = 1;
    q.total_bytes = 60 * MiB;
    new_project(&T, p, sizeof(p), &q);
    create(&T, p, KAIROS_VOLUME, "v1", 20 * MiB);
    usage(&T, p, &before);

    /* Per-kind bytes. */
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "v2", 11 * MiB, NULL, &res, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "volume bytes quota exceeded: 20MiB allocated + 11MiB "
                                    "requested > 30MiB limit"));
    /* Exactly up to the limit is allowed. */
    create(&T, p, KAIROS_VOLUME, "v2", 10 * MiB);
    /* Count. */
    q.kind[KAIROS_VOLUME].bytes = KAIROS_UNLIMITED;
    assert_int_equal(kairos_project_set_quota(T.k, p, &q, 0, &err), 0);
    create(&T, p, KAIROS_VOLUME, "v3", 1 * MiB);
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "v4", 1 * MiB, NULL, &res, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "volume count quota exceeded: 3 of 3"));
    /* Total bytes across kinds: 31 MiB of volumes + 30 MiB of shares > 60 MiB. */
    assert_int_equal(reserve(&T, p, KAIROS_SHARE, "s1", 30 * MiB, NULL, &res, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "total bytes quota exceeded"));
    create(&T, p, KAIROS_SHARE, "s1", 29 * MiB);
    /* Snapshots. */
    create(&T, p, KAIROS_SNAPSHOT, "volume:v1@a", 0);
    assert_int_equal(reserve(&T, p, KAIROS_SNAPSHOT, "volume:v1@b", 0, NULL, &res, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "snapshot count quota exceeded"));

    usage(&T, p, &after);
    assert_true(after.kind[KAIROS_VOLUME].alloc_bytes == 31 * MiB);
    assert_true(after.kind[KAIROS_SHARE].alloc_bytes == 29 * MiB);
    assert_true(after.total_alloc_bytes == 60 * MiB);
    assert_true(after.kind[KAIROS_SNAPSHOT].alloc_count == 1);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void bad_input_changes_nothing(void **state)
{
    static const char *bad_names[] = {"", "Vol", "a.b", "../etc", "a/b", "-v", "v@s"};
    static const uint64_t bad_sizes[] = {0, (uint64_t)INT64_MAX + 1, UINT64_MAX, (uint64_t)-1024};
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 100 * MiB, 10);
    struct kairos_reservation *res = NULL;
    struct kairos_error err = {0};
    struct kairos_usage u;
    char p[64];

    (void)state;
    new_project(&T, p, sizeof(p), &q);
    create(&T, p, KAIROS_VOLUME, "keep", 1 * MiB);
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "v", bad_sizes[i], NULL, &res, &err),
                         -EINVAL);
        assert_null(res);
        assert_non_null(strstr(err.msg, "size"));
    }
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        assert_int_equal(reserve(&T, p, KAIROS_VOLUME, bad_names[i], MiB, NULL, &res, &err),
                         -EINVAL);
    assert_int_equal(reserve(&T, "No-Such", KAIROS_VOLUME, "v", MiB, NULL, &res, &err), -EINVAL);
    assert_int_equal(reserve(&T, "no-such-project-zz", KAIROS_VOLUME, "v", MiB, NULL, &res, &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "no project no-such-project-zz"));
    assert_int_equal(reserve(&T, p, (enum kairos_kind)42, "v", MiB, NULL, &res, &err), -EINVAL);
    assert_int_equal(reserve(&T, p, KAIROS_SNAPSHOT, "volume:keep@s", MiB, NULL, &res, &err),
                     -EINVAL);
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "v", MiB, "[1,2]", &res, &err), -EINVAL);
    assert_int_equal(reserve(&T, p, KAIROS_VOLUME, "v", MiB, "{not json", &res, &err), -EINVAL);
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "keep", 0, &res, &err),
                     -EINVAL);
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "nope", MiB, &res, &err),
                     -ENOENT);
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "nope", &res, &err),
                     -ENOENT);
    assert_int_equal(kairos_ledger_commit(T.k, NULL, &err), -EINVAL);

    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 1 * MiB);
    assert_true(u.kind[KAIROS_VOLUME].alloc_count == 1);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void resize_and_delete(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 50 * MiB, 10);
    struct kairos_reservation *res, *other;
    struct kairos_alloc a;
    struct kairos_usage u;
    struct kairos_error err = {0};
    char p[64];

    (void)state;
    new_project(&T, p, sizeof(p), &q);
    create(&T, p, KAIROS_VOLUME, "v", 20 * MiB);

    /* Growing is admitted at reserve time. */
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "v", 51 * MiB, &res, &err),
                     -EDQUOT);
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "v", 40 * MiB, &res, &err),
                     0);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 40 * MiB);
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "v", &other, &err),
                     -EINPROGRESS);
    assert_int_equal(kairos_ledger_release(T.k, res, &err), 0);
    kairos_reservation_free(res);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 20 * MiB);

    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "v", 40 * MiB, &res, &err),
                     0);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    kairos_reservation_free(res);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "v", &a, &err), 0);
    assert_true(a.bytes == 40 * MiB);
    kairos_alloc_clear(&a);

    /* Shrinking frees quota only once committed. */
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "v", 5 * MiB, &res, &err),
                     0);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 40 * MiB);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    kairos_reservation_free(res);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 5 * MiB);
    /* Resizing to the current size changes nothing. */
    assert_int_equal(kairos_ledger_reserve_resize(T.k, p, KAIROS_VOLUME, "v", 5 * MiB, &res, &err),
                     0);
    assert_true(res->existing);
    kairos_reservation_free(res);

    /* A delete frees quota at commit; a released delete keeps the volume. */
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "v", &res, &err), 0);
    assert_int_equal(kairos_ledger_release(T.k, res, &err), 0);
    kairos_reservation_free(res);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "v", &a, &err), 0);
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    assert_int_equal(kairos_ledger_reserve_delete(T.k, p, KAIROS_VOLUME, "v", &res, &err), 0);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    assert_int_equal(kairos_ledger_commit(T.k, res, &err), 0);
    kairos_reservation_free(res);
    usage(&T, p, &u);
    assert_true(u.kind[KAIROS_VOLUME].alloc_bytes == 0);
    assert_true(u.kind[KAIROS_VOLUME].alloc_count == 0);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, 0, &err), 0);
}

static void list_allocations(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 1000 * MiB, 100);
    struct kairos_alloc_page *page;
    struct kairos_error err = {0};
    char p[64], name[32], after[64] = "";
    int seen = 0;

    (void)state;
    new_project(&T, p, sizeof(p), &q);
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "v%02d", i);
        create(&T, p, KAIROS_VOLUME, name, MiB);
    }
    create(&T, p, KAIROS_SHARE, "not-a-volume", MiB);
    do {
        assert_int_equal(kairos_ledger_list(T.k, p, KAIROS_VOLUME, after, 5, &page, &err), 0);
        for (size_t i = 0; i < page->count; i++, seen++) {
            snprintf(name, sizeof(name), "v%02d", seen);
            assert_string_equal(page->items[i].name, name);
        }
        if (page->count)
            snprintf(after, sizeof(after), "%s", page->items[page->count - 1].name);
        bool more = page->more;
        kairos_alloc_page_free(page);
        if (!more)
            break;
    } while (1);
    assert_int_equal(seen, 12);
    assert_int_equal(kairos_ledger_list(T.k, p, KAIROS_VOLUME, NULL, 0, &page, &err), -EINVAL);
    assert_int_equal(
        kairos_ledger_list(T.k, "no-such-project-zz", KAIROS_VOLUME, NULL, 5, &page, &err),
        -ENOENT);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

/* 100 MiB of budget, volumes count half (overcommit 2), shares in full. */
static const char small_cluster[] = "[capacity]\nusable = 100M\nfull_ratio = 1\nheadroom = 0\n"
                                    "[overcommit]\nvolume = 2\nshare = 1\nbucket = 1\n";

static void cluster_capacity(void **state)
{
    struct kt c;
    struct kairos_quota q;
    struct kairos_reservation *res;
    struct kairos_capacity_report rep;
    struct kairos_reconcile_report rrep;
    struct kairos_audit audit;
    struct kairos_error err = {0};
    char a[64], b[64], name[32];
    uint64_t granted = 0;

    (void)state;
    kt_open_isolated(&c, small_cluster, NULL);
    kt_backend_register(&c, KAIROS_VOLUME);
    kt_backend_register(&c, KAIROS_SHARE);
    kairos_quota_unlimited(&q);
    new_project(&c, a, sizeof(a), &q);
    new_project(&c, b, sizeof(b), &q);

    /* 20 volumes of 10 MiB take 100 MiB of budget: exactly the capacity. */
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        create(&c, a, KAIROS_VOLUME, name, 10 * MiB);
    }
    assert_int_equal(reserve(&c, b, KAIROS_SHARE, "s", 1, NULL, &res, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "cluster capacity reached"));
    assert_int_equal(reserve(&c, a, KAIROS_VOLUME, "v20", 2, NULL, &res, &err), -ENOSPC);

    /* Freed space goes to whoever asks next, even another project. */
    assert_int_equal(kairos_ledger_reserve_delete(c.k, a, KAIROS_VOLUME, "v0", &res, &err), 0);
    assert_int_equal(kairos_ledger_commit(c.k, res, &err), 0);
    kairos_reservation_free(res);
    create(&c, b, KAIROS_SHARE, "s", 5 * MiB);
    assert_int_equal(reserve(&c, b, KAIROS_SHARE, "s2", 1, NULL, &res, &err), -ENOSPC);

    assert_int_equal(kairos_capacity_get(c.k, &rep, &err), 0);
    assert_true(rep.usable == 100 * MiB);
    assert_true(rep.limit == 100 * MiB);
    assert_true(rep.allocated_eff == 100 * MiB);
    assert_true(rep.granted <= rep.limit);
    assert_true(rep.allocated_bytes[KAIROS_VOLUME] == 190 * MiB);
    assert_true(rep.allocated_bytes[KAIROS_SHARE] == 5 * MiB);
    assert_true(rep.quota_total == KAIROS_UNLIMITED);
    assert_int_equal(rep.projects, 2);
    kt_assert_consistent(&c, a);
    kt_assert_consistent(&c, b);
    /*
     * A deleted project's slices come back once: a reconciler pass after
     * the delete finds no transfer of it to credit again.
     */
    assert_int_equal(kairos_ledger_audit(c.k, b, &audit, &err), 0);
    assert_int_equal(kairos_project_delete(c.k, a, KAIROS_DELETE_FORCE, &err), 0);
    usleep(5000);
    assert_int_equal(kairos_reconcile_run(c.k, 1, &rrep, &err), 0);
    assert_int_equal(rrep.errors, 0);
    assert_int_equal(kairos_budget_granted(c.k, &granted, &err), 0);
    if (granted != audit.grant)
        fail_msg("cluster granted %" PRIu64 " bytes, the one project left holds %" PRIu64, granted,
                 audit.grant);
    assert_int_equal(kairos_project_delete(c.k, b, KAIROS_DELETE_FORCE, &err), 0);
    /* With every project gone, every slice of budget is back. */
    assert_int_equal(kairos_capacity_get(c.k, &rep, &err), 0);
    assert_true(rep.granted == 0);
    kt_close(&c);
}

/* What kairos_store_each() handed out, and what the test asks of it. */
struct walk {
    struct kt *t;
    const char *oid;
    unsigned seen, pages;
    char last[32];
    unsigned stop_at; /* return 7 once this many keys were seen; 0: never */
    bool remove_ahead;
};

static int walk_page(void *arg, const struct kairos_kvs *kvs)
{
    struct walk *w = arg;

    w->pages++;
    assert_true(kvs->n > 0);
    for (size_t i = 0; i < kvs->n; i++) {
        /* Strictly increasing and inside the prefix: no key twice, none skipped past. */
        assert_int_equal(strncmp(kvs->v[i].key, "x.", 2), 0);
        assert_true(strcmp(kvs->v[i].key, w->last) > 0);
        snprintf(w->last, sizeof(w->last), "%s", kvs->v[i].key);
        w->seen++;
        if (w->stop_at && w->seen == w->stop_at)
            return 7;
    }
    /* Keys removed behind and ahead of the cursor must not derail the walk. */
    if (w->remove_ahead) {
        char key[32];
        snprintf(key, sizeof(key), "x.%05u", (unsigned)atoi(w->last + 2) + 1);
        assert_int_equal(kairos_store_rm_key(w->t->k->meta, w->oid, key), 0);
        assert_int_equal(kairos_store_rm_key(w->t->k->meta, w->oid, w->last), 0);
    }
    return 0;
}

/* kairos_store_each(): every key under a prefix once, in order, across pages. */
static void store_each_pages(void **state)
{
    char oid[64], key[32];
    struct kairos_txn *txn;
    struct walk w;
    int rc;

    (void)state;
    kt_name(oid, sizeof(oid), "each");
    /* 2,500 keys under "x." between keys of other prefixes, in three writes. */
    for (unsigned batch = 0; batch < 3; batch++) {
        txn = kairos_txn_new_blind();
        for (unsigned i = batch * 1000; i < (batch + 1) * 1000 && i < 2500; i++) {
            snprintf(key, sizeof(key), "x.%05u", i);
            kairos_txn_set(txn, key, "1");
        }
        kairos_txn_set(txn, batch ? "y.after" : "w.before", "1");
        assert_int_equal(kairos_txn_commit(txn, T.k->meta, oid), 0);
        kairos_txn_free(txn);
    }

    memset(&w, 0, sizeof(w));
    assert_int_equal(kairos_store_each(T.k->meta, oid, "x.", NULL, 1000, walk_page, &w), 0);
    assert_int_equal(w.seen, 2500);
    assert_int_equal(w.pages, 3);
    assert_string_equal(w.last, "x.02499");

    /* Starting after a key, and a page size that does not divide the count. */
    memset(&w, 0, sizeof(w));
    assert_int_equal(kairos_store_each(T.k->meta, oid, "x.", "x.00999", 300, walk_page, &w), 0);
    assert_int_equal(w.seen, 1500);
    assert_int_equal(w.pages, 5);

    /* The callback's non-zero value stops the walk and comes back. */
    memset(&w, 0, sizeof(w));
    w.stop_at = 1200;
    assert_int_equal(kairos_store_each(T.k->meta, oid, "x.", NULL, 1000, walk_page, &w), 7);
    assert_int_equal(w.seen, 1200);

    /*
     * Removing the page's last key and the next one unseen: pages of 500
     * end at 499, 1000, 1501 and 2002, so four keys are never seen.
     */
    memset(&w, 0, sizeof(w));
    w.t = &T;
    w.oid = oid;
    w.remove_ahead = true;
    assert_int_equal(kairos_store_each(T.k->meta, oid, "x.", NULL, 500, walk_page, &w), 0);
    assert_int_equal(w.seen, 2500 - 4);

    /* An empty prefix range and a missing object. */
    memset(&w, 0, sizeof(w));
    assert_int_equal(kairos_store_each(T.k->meta, oid, "z.", NULL, 10, walk_page, &w), 0);
    assert_int_equal(w.pages, 0);
    rc = kairos_store_each(T.k->meta, "kairos-it-no-such-object", "x.", NULL, 10, walk_page, &w);
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(rados_remove(T.k->meta, oid), 0);
}

/* kairos_store_read() names any number of keys: a drift record names every finding. */
static void store_read_many_keys(void **state)
{
    char oid[64], names[40][16];
    const char *keys[40];
    struct kairos_txn *txn;
    struct kairos_kvs kvs;
    uint64_t gen = 0;

    (void)state;
    kt_name(oid, sizeof(oid), "keys");
    txn = kairos_txn_new_blind();
    for (unsigned i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "k.%02u", i);
        keys[i] = names[i];
        /* Every other key exists; the rest are named but absent. */
        if (i % 2 == 0)
            kairos_txn_set(txn, names[i], names[i]);
    }
    assert_int_equal(kairos_txn_commit(txn, T.k->meta, oid), 0);
    kairos_txn_free(txn);
    assert_int_equal(kairos_store_read(T.k->meta, oid, keys, 40, &gen, &kvs), 0);
    unsigned found = 0;
    for (size_t i = 0; i < kvs.n; i++)
        found += strncmp(kvs.v[i].key, "k.", 2) == 0;
    assert_int_equal(found, 20);
    assert_string_equal(kairos_kvs_get(&kvs, "k.38"), "k.38");
    assert_null(kairos_kvs_get(&kvs, "k.39"));
    kairos_kvs_free(&kvs);
    assert_int_equal(rados_remove(T.k->meta, oid), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve_commit_release),    cmocka_unit_test(quota_refusals),
        cmocka_unit_test(bad_input_changes_nothing), cmocka_unit_test(resize_and_delete),
        cmocka_unit_test(list_allocations),          cmocka_unit_test(cluster_capacity),
        cmocka_unit_test(store_each_pages),          cmocka_unit_test(store_read_many_keys),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
