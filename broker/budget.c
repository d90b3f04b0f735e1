/*
 * budget.c - the cluster budget in per-project slices (see budget.h).
 */
#include "budget.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kairos/units.h>

#include "fault.h"
#include "kairos_int.h"
#include "record.h"
#include "store.h"

/*
 * A slice is the need plus some spare, so that a growing project does not
 * come back for every allocation. The spare is at most what the project
 * already holds (so holdings at most double), at most 1/CHUNK_DIVISOR of
 * the limit, and at most 1/SPARE_DIVISOR of what is still free, so slices
 * shrink to exact needs as the cluster fills.
 */
#define CHUNK_DIVISOR 1024
#define SPARE_DIVISOR 16
/*
 * A project's first slices are granted ahead of its needs: at least
 * 1/FLOOR_DIVISOR of the limit (still within the bounds above, so they
 * shrink as the cluster fills), so that a young project does not come back
 * to kairos.cluster for each of its first allocations. Projects without
 * use hold at most (projects / FLOOR_DIVISOR) of the limit in all, and give
 * it back when the cluster runs tight (see kairos_budget_tight()).
 */
#define FLOOR_DIVISOR 65536
/* A refused slice first takes back every project's spare, at most this often. */
#define RECLAIM_INTERVAL_MS 10000
#define TXID_BYTES          8
/* The cluster is tight when fewer than this many chunks are left to grant. */
#define TIGHT_CHUNKS 64

uint64_t kairos_budget_chunk(struct kairos *k)
{
    return kairos_budget_limit(k) / CHUNK_DIVISOR;
}

/*
 * The fence of a transfer (kairos_fence_ms()): its initiator may finish a
 * step only this long after the step it started from (give after take,
 * credit after shed, a reconciler's credit after its read). The reconciler
 * treats a transfer as abandoned only after a whole lease, and keeps each
 * marker a whole lease after the last step that could still read it, so a
 * paused or slow initiator is refused instead of applying a transfer twice
 * or too late.
 */
static uint64_t fence_ms(struct kairos *k)
{
    return kairos_fence_ms(k);
}

/* How long a marker ("void", "d.") outlives what may still read it. */
static uint64_t retention_ms(struct kairos *k, uint64_t lease_ms)
{
    return lease_ms > k->cfg->reconcile.lease_ms ? lease_ms : k->cfg->reconcile.lease_ms;
}

uint64_t kairos_budget_limit(struct kairos *k)
{
    const struct kairos_capacity_policy *c = &kairos_get_policy(k)->capacity;
    double ratio, limit;
    uint64_t usable;

    pthread_mutex_lock(&k->lock);
    usable = k->usable;
    ratio = k->full_ratio - c->headroom;
    pthread_mutex_unlock(&k->lock);
    if (ratio <= 0)
        return 0;
    limit = (double)usable * ratio;
    return limit >= (double)KAIROS_SIZE_MAX ? KAIROS_SIZE_MAX : (uint64_t)limit;
}

static void cluster_key(char *buf, const char *prefix, const char *project, const char *txid)
{
    snprintf(buf, KAIROS_KEY_MAX, "%s.%s.%s", prefix, project, txid);
}

static void project_key(char *buf, const char *txid)
{
    snprintf(buf, KAIROS_KEY_MAX, "t.%s", txid);
}

static uint64_t granted_of(const struct kairos_kvs *kvs)
{
    json_t *b = kairos_kvs_json(kvs, "budget");
    uint64_t g = kairos_json_u64(b, "granted", 0);

    json_decref(b);
    return g;
}

static void set_granted(struct kairos_txn *txn, uint64_t granted)
{
    json_t *b = json_pack("{s:I}", "granted", (json_int_t)granted);

    kairos_txn_set_json(txn, "budget", b);
    json_decref(b);
}

/* Record a transfer step; returns its time, which fences the next step. */
static uint64_t set_transfer(struct kairos_txn *txn, const char *key, const char *what,
                             uint64_t amount)
{
    uint64_t now = kairos_now_ms();
    json_t *t = json_pack("{s:I,s:I}", what, (json_int_t)amount, "ts", (json_int_t)now);

    kairos_txn_set_json(txn, key, t);
    json_decref(t);
    return now;
}

struct grant_step {
    struct kairos *k;
    const char *project;
    uint64_t need;
    uint64_t held; /* the project's grant when it asked */
    uint64_t amount;
    uint64_t take_ms; /* when the cluster side was taken */
    char key[KAIROS_KEY_MAX];
    struct kairos_error *err;
};

/* Cluster side of an acquire: take the slice and record it as in flight. */
static int take_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct grant_step *st = arg;
    uint64_t limit = kairos_budget_limit(st->k);
    uint64_t granted = granted_of(kvs);
    uint64_t left = limit > granted ? limit - granted : 0;
    uint64_t spare, cap;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX], c[KAIROS_SIZE_STR_MAX];

    if (st->need > left)
        return kairos_error_set(st->err, -ENOSPC,
                                "cluster capacity reached: %s of the %s budget is allocated, "
                                "%s more needed",
                                kairos_size_format(granted, a, sizeof(a)),
                                kairos_size_format(limit, b, sizeof(b)),
                                kairos_size_format(st->need, c, sizeof(c)));
    /* Holdings at most double, but never below the floor granted ahead. */
    cap = st->held > st->need ? st->held : st->need;
    if (cap < limit / FLOOR_DIVISOR)
        cap = limit / FLOOR_DIVISOR;
    spare = (left - st->need) / SPARE_DIVISOR;
    if (spare > kairos_budget_chunk(st->k))
        spare = kairos_budget_chunk(st->k);
    if (spare > cap)
        spare = cap;
    st->amount = st->need + spare;
    if (st->amount == 0)
        return KAIROS_STORE_NOOP;
    set_granted(txn, granted + st->amount);
    st->take_ms = set_transfer(txn, st->key, "amount", st->amount);
    return 0;
}

/*
 * Project side of an acquire: add the slice unless the reconciler voided
 * it, the project is being deleted (its final trim may already be done),
 * or the take is older than the fence (the reconciler may have taken the
 * slice back, and its void marker may be gone).
 */
static int give_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct grant_step *st = arg;
    struct kairos_counts c;
    json_t *l, *meta;
    const char *state;
    int deleting;

    if (kairos_kvs_get(kvs, st->key))
        return -ESTALE;
    if (kairos_now_ms() >= st->take_ms + fence_ms(st->k))
        return -ESTALE;
    meta = kairos_kvs_json(kvs, "meta");
    state = json_string_value(json_object_get(meta, "state"));
    deleting = state && strcmp(state, "deleting") == 0;
    json_decref(meta);
    if (deleting)
        return -ENOENT;
    l = kairos_kvs_json(kvs, "ledger");
    kairos_counts_from_json(l, &c);
    json_decref(l);
    c.grant += st->amount;
    l = kairos_counts_to_json(&c);
    kairos_txn_set_json(txn, "ledger", l);
    json_decref(l);
    set_transfer(txn, st->key, "applied", st->amount);
    return 0;
}

/* May this process sweep all projects for spare budget now? */
static bool reclaim_due(struct kairos *k)
{
    uint64_t now = kairos_now_ms();
    bool due;

    pthread_mutex_lock(&k->lock);
    due = now >= k->last_reclaim_ms + RECLAIM_INTERVAL_MS;
    if (due)
        k->last_reclaim_ms = now;
    pthread_mutex_unlock(&k->lock);
    return due;
}

/* Take the slice from the cluster; when it is short, reclaim spare first. */
static int take(struct kairos *k, struct grant_step *st)
{
    const char *ckeys[] = {"budget"};
    struct kairos_error first = {0};
    struct kairos_error *err = st->err;
    int rc;

    st->err = &first;
    rc = kairos_store_update(k->meta, KAIROS_CLUSTER_OID, ckeys, 1, true, take_step, st);
    st->err = err;
    if (rc == -ENOSPC && reclaim_due(k) && kairos_budget_reclaim(k, NULL) == 0)
        rc = kairos_store_update(k->meta, KAIROS_CLUSTER_OID, ckeys, 1, true, take_step, st);
    else if (rc == -ENOSPC)
        kairos_error_set(err, rc, "%s", first.msg);
    return rc;
}

int kairos_budget_acquire(struct kairos *k, const char *project, uint64_t need, uint64_t held,
                          struct kairos_error *err)
{
    struct grant_step st = {.k = k, .project = project, .need = need, .held = held, .err = err};
    char txid[2 * TXID_BYTES + 1], oid[KAIROS_KEY_MAX];
    const char *pkeys[] = {"meta", "ledger", st.key};
    int rc;

    rc = kairos_random_hex(txid, TXID_BYTES);
    if (rc < 0)
        return kairos_error_set(err, rc, "no random transfer id: %s", strerror(-rc));
    cluster_key(st.key, "t", project, txid);
    rc = take(k, &st);
    if (rc < 0)
        return rc == -ENOSPC ? rc : kairos_error_set(err, rc, "cluster budget: %s", strerror(-rc));
    if (st.amount == 0)
        return 0;
    kairos_fault("budget.taken");

    kairos_project_oid(oid, project);
    project_key(st.key, txid);
    rc = kairos_store_update(k->meta, oid, pkeys, 3, false, give_step, &st);
    if (rc < 0)
        /* The cluster record stays; the reconciler gives the slice back. */
        return kairos_error_set(err, rc, "project %s: budget transfer failed: %s", project,
                                strerror(-rc));
    /*
     * Both records now say "applied". Clearing them would cost two more
     * writes on every slice, one of them on the shared cluster object; the
     * reconciler clears them in bulk once they are older than the lease.
     */
    return 0;
}

struct return_step {
    struct kairos *k;
    const char *project;
    uint64_t keep;
    uint64_t amount;
    uint64_t deadline_ms; /* credit: refused from then on (the fence) */
    uint64_t shed_ms;     /* shed: when the project side gave the slack up */
    char key[KAIROS_KEY_MAX];
};

/* Project side of a return: give up the slack, recording it as in flight. */
static int shed_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct return_step *st = arg;
    struct kairos_counts c;
    json_t *l = kairos_kvs_json(kvs, "ledger");

    /* A retry may find nothing to shed: never credit an earlier attempt's amount. */
    st->amount = 0;
    kairos_counts_from_json(l, &c);
    json_decref(l);
    if (c.grant <= c.eff + st->keep)
        return KAIROS_STORE_NOOP;
    st->amount = c.grant - c.eff - st->keep;
    c.grant -= st->amount;
    l = kairos_counts_to_json(&c);
    kairos_txn_set_json(txn, "ledger", l);
    json_decref(l);
    st->shed_ms = set_transfer(txn, st->key, "return", st->amount);
    return 0;
}

/*
 * Cluster side of a return, at most once: the "d." marker says it was
 * applied. Past its deadline a credit is refused: the marker may be gone
 * by then, and the reconciler finishes the return instead.
 */
static int credit_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct return_step *st = arg;
    uint64_t granted = granted_of(kvs);

    if (kairos_kvs_get(kvs, st->key))
        return KAIROS_STORE_NOOP;
    if (kairos_now_ms() >= st->deadline_ms)
        return -ESTALE;
    set_granted(txn, granted > st->amount ? granted - st->amount : 0);
    set_transfer(txn, st->key, "returned", st->amount);
    return 0;
}

/* Remove a key of a project's object while the step's deadline holds. */
static int rm_fenced_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct return_step *st = arg;

    if (!kairos_kvs_get(kvs, st->key))
        return KAIROS_STORE_NOOP;
    if (kairos_now_ms() >= st->deadline_ms)
        return -ESTALE;
    kairos_txn_rm(txn, st->key);
    return 0;
}

/*
 * Credit the cluster (once, by the "d." marker) and drop the project's
 * record, both before @deadline_ms. The marker outlives both: the
 * reconciler removes it only a whole lease after it saw the project's
 * record gone, so a late second credit always finds it.
 */
static int finish_return(struct kairos *k, const char *project, const char *txid, uint64_t amount,
                         uint64_t deadline_ms)
{
    struct return_step st = {
        .k = k, .project = project, .amount = amount, .deadline_ms = deadline_ms};
    const char *ckeys[] = {"budget", st.key};
    const char *pkeys[] = {st.key};
    char oid[KAIROS_KEY_MAX];
    int rc;

    cluster_key(st.key, "d", project, txid);
    rc = kairos_store_update(k->meta, KAIROS_CLUSTER_OID, ckeys, 2, true, credit_step, &st);
    if (rc < 0)
        return rc;
    kairos_fault("budget.credited");
    kairos_project_oid(oid, project);
    project_key(st.key, txid);
    rc = kairos_store_update(k->meta, oid, pkeys, 1, false, rm_fenced_step, &st);
    return rc == -ENOENT ? 0 : rc;
}

int kairos_budget_trim(struct kairos *k, const char *project, uint64_t keep,
                       struct kairos_error *err)
{
    struct return_step st = {.k = k, .project = project, .keep = keep};
    const char *pkeys[] = {"ledger"};
    char txid[2 * TXID_BYTES + 1], oid[KAIROS_KEY_MAX];
    int rc;

    rc = kairos_random_hex(txid, TXID_BYTES);
    if (rc < 0)
        return kairos_error_set(err, rc, "no random transfer id: %s", strerror(-rc));
    project_key(st.key, txid);
    kairos_project_oid(oid, project);
    rc = kairos_store_update(k->meta, oid, pkeys, 1, false, shed_step, &st);
    if (rc == 0 && st.amount) {
        kairos_fault("budget.shed");
        rc = finish_return(k, project, txid, st.amount, st.shed_ms + fence_ms(k));
    }
    /* Past its fence: the record stays, and the reconciler credits it once. */
    if (rc == -ESTALE)
        rc = 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: returning budget failed: %s", project,
                                strerror(-rc));
    return 0;
}

static int trim_page(void *arg, const struct kairos_kvs *idx)
{
    for (size_t i = 0; i < idx->n; i++)
        kairos_budget_trim(arg, idx->v[i].key + 2, 0, NULL);
    return 0;
}

int kairos_budget_reclaim(struct kairos *k, struct kairos_error *err)
{
    int rc = kairos_store_each(k->meta, KAIROS_INDEX_OID, "p.", NULL, 256, trim_page, k);

    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    return 0;
}

bool kairos_budget_tight(struct kairos *k)
{
    uint64_t granted = 0, limit = kairos_budget_limit(k);

    if (kairos_budget_granted(k, &granted, NULL) < 0)
        return true;
    return granted + TIGHT_CHUNKS * kairos_budget_chunk(k) > limit;
}

int kairos_budget_granted(struct kairos *k, uint64_t *granted, struct kairos_error *err)
{
    const char *keys[] = {"budget"};
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc = kairos_store_read(k->meta, KAIROS_CLUSTER_OID, keys, 1, &gen, &kvs);

    *granted = 0;
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read the cluster budget: %s", strerror(-rc));
    *granted = granted_of(&kvs);
    kairos_kvs_free(&kvs);
    return 0;
}

/* ---- reconciliation ---- */

static bool older_than(const json_t *t, const char *field, uint64_t ms)
{
    uint64_t ts = kairos_json_u64(t, field, 0);

    return ts + ms <= kairos_now_ms();
}

static bool stale(const json_t *t, uint64_t lease_ms)
{
    return older_than(t, "ts", lease_ms);
}

/* Parse "<prefix>.<project>.<txid>" from a cluster key. */
static int split_cluster_key(const char *key, char *project, char *txid)
{
    const char *a = strchr(key, '.'), *b = a ? strrchr(key, '.') : NULL;

    if (!a || b == a || (size_t)(b - a - 1) > KAIROS_NAME_MAX || strlen(b + 1) > 2 * TXID_BYTES)
        return -EINVAL;
    memcpy(project, a + 1, (size_t)(b - a - 1));
    project[b - a - 1] = '\0';
    strcpy(txid, b + 1);
    return kairos_name_valid(project) ? 0 : -EINVAL;
}

/* void_step(): the slice was applied after all. */
#define SLICE_APPLIED 2

/*
 * Void an unapplied slice on the project, so a slow acquirer that read the
 * project before this write cannot apply it later (its guarded write
 * fails, and it reads the marker). One that reads later is past its fence.
 */
static int void_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    const char *key = arg;
    json_t *t = kairos_kvs_json(kvs, key);
    int applied = json_object_get(t, "applied") != NULL;

    json_decref(t);
    if (kairos_kvs_get(kvs, key))
        return applied ? SLICE_APPLIED : KAIROS_STORE_NOOP;
    t = json_pack("{s:b,s:I}", "void", 1, "ts", (json_int_t)kairos_now_ms());
    kairos_txn_set_json(txn, key, t);
    json_decref(t);
    return 0;
}

struct undo_step {
    const char *key;
    uint64_t amount;
};

/* Cluster side: take back a voided slice, once. */
static int undo_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct undo_step *st = arg;
    uint64_t granted = granted_of(kvs);

    if (!kairos_kvs_get(kvs, st->key))
        return KAIROS_STORE_NOOP;
    set_granted(txn, granted > st->amount ? granted - st->amount : 0);
    kairos_txn_rm(txn, st->key);
    return 0;
}

/*
 * A stale "t." record on the cluster: an acquire that did not finish. The
 * project's void marker stays; the project's own reconciliation removes it
 * once no acquirer can read it any more (kairos_budget_reconcile_project()).
 */
static int reconcile_take(struct kairos *k, const char *ckey, const json_t *t)
{
    char project[KAIROS_NAME_MAX + 1], txid[2 * TXID_BYTES + 1];
    char oid[KAIROS_KEY_MAX], pkey[KAIROS_KEY_MAX];
    struct undo_step undo = {.key = ckey, .amount = kairos_json_u64(t, "amount", 0)};
    const char *ckeys[] = {"budget", ckey};
    const char *pkeys[] = {pkey};
    int rc;

    if (split_cluster_key(ckey, project, txid) < 0)
        return kairos_store_rm_key(k->meta, KAIROS_CLUSTER_OID, ckey);
    kairos_project_oid(oid, project);
    project_key(pkey, txid);
    rc = kairos_store_update(k->meta, oid, pkeys, 1, false, void_step, pkey);
    if (rc == SLICE_APPLIED) {
        /* Applied: only the bookkeeping is left. */
        rc = kairos_store_rm_key(k->meta, KAIROS_CLUSTER_OID, ckey);
        return rc == 0 ? kairos_store_rm_key(k->meta, oid, pkey) : rc;
    }
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return kairos_store_update(k->meta, KAIROS_CLUSTER_OID, ckeys, 2, false, undo_step, &undo);
}

/* Remove @key of @oid if present; *@had says whether it was. */
struct rm_had {
    const char *key;
    bool had;
};

static int rm_had_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct rm_had *st = arg;

    st->had = kairos_kvs_get(kvs, st->key) != NULL;
    if (!st->had)
        return KAIROS_STORE_NOOP;
    kairos_txn_rm(txn, st->key);
    return 0;
}

/* Stamp a "d." marker with the time its project record was seen gone. */
static int clear_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    const char *key = arg;
    json_t *t = kairos_kvs_json(kvs, key);

    if (!t)
        return KAIROS_STORE_NOOP;
    json_object_set_new(t, "cleared", json_integer((json_int_t)kairos_now_ms()));
    kairos_txn_set_json(txn, key, t);
    json_decref(t);
    return 0;
}

/*
 * A stale "d." marker: a return whose cluster side is done. First its
 * project record goes (if a crash left it) and the marker notes when;
 * the marker itself goes a whole lease later, once no reader of that
 * record can still be before its deadline.
 * Return: 1 (done something), 0 (not yet), or a negative errno.
 */
static int reconcile_returned(struct kairos *k, const char *ckey, const json_t *t,
                              uint64_t retention)
{
    char project[KAIROS_NAME_MAX + 1], txid[2 * TXID_BYTES + 1];
    char oid[KAIROS_KEY_MAX], pkey[KAIROS_KEY_MAX];
    const char *ckeys[] = {ckey};
    const char *pkeys[] = {pkey};
    struct rm_had rm = {.key = pkey};
    int rc;

    if (json_object_get(t, "cleared")) {
        if (!older_than(t, "cleared", retention))
            return 0;
        rc = kairos_store_rm_key(k->meta, KAIROS_CLUSTER_OID, ckey);
        return rc < 0 ? rc : 1;
    }
    if (split_cluster_key(ckey, project, txid) == 0) {
        kairos_project_oid(oid, project);
        project_key(pkey, txid);
        rc = kairos_store_update(k->meta, oid, pkeys, 1, false, rm_had_step, &rm);
        if (rc < 0 && rc != -ENOENT)
            return rc;
    }
    rc =
        kairos_store_update(k->meta, KAIROS_CLUSTER_OID, ckeys, 1, false, clear_step, (void *)ckey);
    return rc < 0 ? rc : 1;
}

struct cluster_walk {
    struct kairos *k;
    uint64_t lease_ms;
    struct kairos_reconcile_report *rep;
    bool returns; /* "d." markers rather than "t." transfers */
};

static int cluster_page(void *arg, const struct kairos_kvs *kvs)
{
    struct cluster_walk *w = arg;

    for (size_t i = 0; i < kvs->n; i++) {
        json_t *t = json_loads(kvs->v[i].val, 0, NULL);
        int r = 0;
        if (stale(t, w->lease_ms)) {
            if (w->returns)
                r = reconcile_returned(w->k, kvs->v[i].key, t, retention_ms(w->k, w->lease_ms));
            else
                r = reconcile_take(w->k, kvs->v[i].key, t) == 0 ? 1 : -EIO;
            if (r > 0)
                w->rep->transfers++;
        }
        json_decref(t);
        if (r < 0) {
            w->rep->errors++;
            snprintf(w->rep->last_error, sizeof(w->rep->last_error), "budget transfer %s: %s",
                     kvs->v[i].key, strerror(-r));
        }
    }
    return 0;
}

int kairos_budget_reconcile_cluster(struct kairos *k, uint64_t lease_ms,
                                    struct kairos_reconcile_report *rep)
{
    struct cluster_walk w = {k, lease_ms, rep, false};
    int rc = kairos_store_each(k->meta, KAIROS_CLUSTER_OID, "t.", NULL, 256, cluster_page, &w);

    if (rc == 0) {
        w.returns = true;
        rc = kairos_store_each(k->meta, KAIROS_CLUSTER_OID, "d.", NULL, 256, cluster_page, &w);
    }
    return rc == -ENOENT ? 0 : rc;
}

/*
 * One stale "t." record of a project, read afresh (a page of records may
 * be old by now): the deadline of any credit it leads to starts here.
 * Return: 1 (settled), 0 (nothing to do yet), or a negative errno.
 */
static int reconcile_record(struct kairos *k, const char *project, const char *oid,
                            const char *pkey, uint64_t lease_ms)
{
    const char *txid = pkey + 2, *keys[] = {pkey};
    char ckey[KAIROS_KEY_MAX];
    const char *ckeys[] = {ckey};
    struct kairos_kvs kvs, ckvs;
    uint64_t gen, read_ms = kairos_now_ms();
    json_t *t;
    int rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);

    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    t = kairos_kvs_json(&kvs, pkey);
    kairos_kvs_free(&kvs);
    if (!t || !stale(t, lease_ms)) {
        json_decref(t);
        return 0;
    }
    cluster_key(ckey, "t", project, txid);
    if (json_object_get(t, "return")) {
        rc =
            finish_return(k, project, txid, kairos_json_u64(t, "return", 0), read_ms + fence_ms(k));
    } else if (json_object_get(t, "applied")) {
        /*
         * Applied: the cluster's record is bookkeeping too. It goes
         * first, so that once the project object is gone (a delete
         * settles here) no pass can take it for an acquire that never
         * reached the project and credit the slice a second time.
         */
        rc = kairos_store_rm_key(k->meta, KAIROS_CLUSTER_OID, ckey);
        if (rc == 0)
            rc = kairos_store_rm_key(k->meta, oid, pkey);
    } else if (!older_than(t, "ts", retention_ms(k, lease_ms))) {
        /* "void", not yet a lease old: a paused acquirer may still read it. */
        rc = 1;
    } else {
        /* "void": the cluster side undoes it; once its record is gone, this goes. */
        rc = kairos_store_read(k->meta, KAIROS_CLUSTER_OID, ckeys, 1, &gen, &ckvs);
        if (rc == -ENOENT)
            memset(&ckvs, 0, sizeof(ckvs));
        if (rc == 0 || rc == -ENOENT)
            rc = kairos_kvs_get(&ckvs, ckey) ? 1 : kairos_store_rm_key(k->meta, oid, pkey);
        kairos_kvs_free(&ckvs);
    }
    json_decref(t);
    /* 1 above means "not yet": nothing was settled. */
    return rc < 0 ? rc : rc == 0;
}

int kairos_budget_reconcile_project(struct kairos *k, const char *project,
                                    const struct kairos_kvs *transfers, uint64_t lease_ms,
                                    struct kairos_reconcile_report *rep)
{
    char oid[KAIROS_KEY_MAX];

    kairos_project_oid(oid, project);
    for (size_t i = 0; i < transfers->n; i++) {
        const char *key = transfers->v[i].key;
        json_t *t;
        int rc;

        if (strncmp(key, "t.", 2) != 0)
            continue;
        t = json_loads(transfers->v[i].val, 0, NULL);
        rc = stale(t, lease_ms) ? reconcile_record(k, project, oid, key, lease_ms) : 0;
        json_decref(t);
        if (rc > 0) {
            rep->transfers++;
        } else if (rc < 0) {
            rep->errors++;
            snprintf(rep->last_error, sizeof(rep->last_error), "project %s transfer %s: %s",
                     project, key + 2, strerror(-rc));
        }
    }
    return 0;
}
