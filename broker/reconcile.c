/*
 * reconcile.c - finish or roll back stale intents (see kairos/reconcile.h).
 */
#include <kairos/reconcile.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <kairos/audit.h>

#include "binding_int.h"
#include "budget.h"
#include "drift_int.h"
#include "kairos_int.h"
#include "project_int.h"
#include "record.h"
#include "store.h"

#define LOCK_NAME "reconcile"
#define PAGE      256

struct pass {
    struct kairos *k;
    uint64_t lease_ms;
    bool tight;
    struct kairos_reconcile_report *rep;
    char cookie[17];         /* of the pass's lock */
    struct timeval duration; /* of the lock */

    /* The keeper renews the lock while the pass runs (see keep_lock()). */
    pthread_t keeper;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool done; /* the pass is over: the keeper stops */
    bool lost; /* a renewal failed: another pass may hold the lock */
};

/*
 * Keep the pass's lock, renewed every third of its duration, for as long
 * as the pass runs: a single backend call (a destroy of a big share tree,
 * a purge of a full bucket) may outlast the lock, and a second pass must
 * not start beside it. If the process stops (SIGSTOP, a frozen VM), the
 * keeper stops too and the lock lapses, as it should; a renewal then fails
 * and the pass gives up at its next step.
 */
static void *keep_lock(void *arg)
{
    struct pass *p = arg;
    uint64_t every_ms = (uint64_t)p->duration.tv_sec * 1000 / 3;

    pthread_mutex_lock(&p->mu);
    while (!p->done && !p->lost) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(every_ms / 1000);
        until.tv_nsec += (long)(every_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&p->wake, &p->mu, &until) == 0 || p->done)
            continue;
        pthread_mutex_unlock(&p->mu);
        int rc =
            rados_lock_exclusive(p->k->meta, KAIROS_RECONCILER_OID, LOCK_NAME, p->cookie,
                                 "kairos reconciler pass", &p->duration, LIBRADOS_LOCK_FLAG_RENEW);
        pthread_mutex_lock(&p->mu);
        if (rc < 0)
            p->lost = true;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* False when the lock may have gone to another pass: stop. */
static bool hold_lock(struct pass *p)
{
    bool held;

    pthread_mutex_lock(&p->mu);
    held = !p->lost;
    pthread_mutex_unlock(&p->mu);
    return held;
}

static void note_error(struct pass *p, int rc, const char *what, const char *msg)
{
    p->rep->errors++;
    snprintf(p->rep->last_error, sizeof(p->rep->last_error), "%s: %s", what,
             msg && msg[0] ? msg : strerror(-rc));
}

static bool is_stale(const struct pass *p, uint64_t ts)
{
    return ts + p->lease_ms <= kairos_now_ms();
}

/* ---- intents ---- */

/* Decide a stale intent from what the backend sees. */
static int settle_intent(struct pass *p, struct kairos_reservation *res, uint64_t target,
                         struct kairos_error *err)
{
    struct kairos_kind_ops ops;
    uint64_t bytes = 0;
    int exists, rc;

    if (kairos_kind_ops_get(p->k, res->kind, &ops) < 0) {
        p->rep->left++;
        return 0;
    }
    /* A create counts only what carries its own intent's tag. */
    if (res->op == KAIROS_OP_CREATE && ops.claim)
        exists = ops.claim(ops.arg, res->project, res->name, res->intent, &bytes, err);
    else
        exists = ops.probe(ops.arg, res->project, res->name, &bytes, err);
    if (exists < 0) {
        p->rep->left++;
        return exists;
    }
    switch (res->op) {
    case KAIROS_OP_CREATE:
        rc = exists ? kairos_ledger_commit(p->k, res, err) : kairos_ledger_release(p->k, res, err);
        break;
    case KAIROS_OP_RESIZE:
        rc = exists && bytes == target ? kairos_ledger_commit(p->k, res, err)
                                       : kairos_ledger_release(p->k, res, err);
        exists = exists && bytes == target;
        break;
    case KAIROS_OP_DELETE:
        /* A requested delete is rolled forward. */
        rc = 0;
        if (exists)
            rc = ops.destroy ? ops.destroy(ops.arg, res->project, res->name, err) : -ENOSYS;
        if (rc == 0)
            rc = kairos_ledger_commit(p->k, res, err);
        exists = 1;
        break;
    default:
        return -EINVAL;
    }
    if (rc == 0) {
        if (exists)
            p->rep->committed++;
        else
            p->rep->released++;
    }
    return rc == -ESTALE ? 0 : rc;
}

static int reconcile_intent(struct pass *p, const char *project, const char *ikey, const char *ival)
{
    struct kairos_reservation res = {0};
    struct kairos_alloc a = {0};
    struct kairos_error err = {0};
    char kname[16];
    const char *name;
    json_t *idx = json_loads(ival, 0, NULL);
    uint64_t ts = kairos_json_u64(idx, "ts", 0);
    int rc;

    json_decref(idx);
    if (!is_stale(p, ts))
        return 0;
    if (sscanf(ikey, "i.%15[a-z].", kname) != 1 || kairos_kind_parse(kname, &res.kind) < 0)
        return -EINVAL;
    name = ikey + 3 + strlen(kname);
    rc = kairos_ledger_get(p->k, project, res.kind, name, &a, &err);
    if (rc == 0 && !a.pending)
        rc = -ENOENT;
    if (rc == -ENOENT) {
        /* An index entry without an open record: only the entry is left. */
        char oid[KAIROS_KEY_MAX];
        kairos_project_oid(oid, project);
        kairos_alloc_clear(&a);
        return kairos_store_rm_key(p->k->meta, oid, ikey);
    }
    if (rc == 0) {
        snprintf(res.project, sizeof(res.project), "%s", project);
        snprintf(res.name, sizeof(res.name), "%s", a.name);
        snprintf(res.intent, sizeof(res.intent), "%s", a.intent);
        res.op = a.op;
        res.bytes = a.target_bytes;
        res.old_bytes = a.bytes;
        rc = settle_intent(p, &res, a.target_bytes, &err);
    }
    kairos_alloc_clear(&a);
    if (rc < 0)
        note_error(p, rc, ikey, err.msg);
    return 0;
}

/* A page of one project's keys, for one of the handlers below. */
struct key_walk {
    struct pass *p;
    const char *project;
    int (*fn)(struct pass *, const char *, const struct kairos_kvs *);
};

static int key_page(void *arg, const struct kairos_kvs *kvs)
{
    struct key_walk *w = arg;

    return w->fn(w->p, w->project, kvs);
}

/* Every "i.", "j." or "t." key of one project object, page by page. */
static int for_each_key(struct pass *p, const char *project, const char *prefix,
                        int (*fn)(struct pass *, const char *, const struct kairos_kvs *))
{
    struct key_walk w = {p, project, fn};
    char oid[KAIROS_KEY_MAX];

    kairos_project_oid(oid, project);
    return kairos_store_each(p->k->meta, oid, prefix, NULL, PAGE, key_page, &w);
}

static void reconcile_binding(struct pass *p, const char *project, const char *jkey,
                              const char *jval)
{
    struct kairos_error err = {0};
    int rc = kairos_binding_reconcile(p->k, project, jkey, jval, p->lease_ms, &err);

    if (rc > 0)
        p->rep->bindings++;
    else if (rc < 0)
        note_error(p, rc, jkey, err.msg);
}

/* Allocation intents ("i.") and binding intents ("j."). */
static int intents_page(struct pass *p, const char *project, const struct kairos_kvs *kvs)
{
    for (size_t i = 0; i < kvs->n; i++) {
        /* Each may call a backend: stop as soon as the lock may be another pass's. */
        if (!hold_lock(p))
            return -ENOLCK;
        if (strncmp(kvs->v[i].key, "i.", 2) == 0)
            reconcile_intent(p, project, kvs->v[i].key, kvs->v[i].val);
        else if (strncmp(kvs->v[i].key, "j.", 2) == 0)
            reconcile_binding(p, project, kvs->v[i].key, kvs->v[i].val);
    }
    return 0;
}

static int transfers_page(struct pass *p, const char *project, const struct kairos_kvs *kvs)
{
    return kairos_budget_reconcile_project(p->k, project, kvs, p->lease_ms, p->rep);
}

/* ---- projects ---- */

static int forget_index_entry(struct pass *p, const char *name, const json_t *entry)
{
    struct kairos_owner owner;

    kairos_owner_from_json(json_object_get(entry, "owner"), &owner);
    /* finish_delete on a missing object only clears the index. */
    return kairos_project_finish_delete(p->k, name, &owner, NULL);
}

/*
 * One project, from @scan: its gen, meta and the first of its "i." and "t."
 * keys, read for a whole page of projects at once. Most projects have
 * nothing open, and cost nothing more.
 */
static int reconcile_project(struct pass *p, const char *name, const json_t *entry,
                             const struct kairos_kvs *scan)
{
    const char *istate = json_string_value(json_object_get(entry, "state"));
    const char *mstate;
    struct kairos_error err = {0};
    json_t *meta;
    int rc = 0;

    if (scan->n == 0) {
        /* No object: a create that never got there, or a delete near its end. */
        bool creating = istate && strcmp(istate, "creating") == 0;
        if (creating && !is_stale(p, kairos_json_u64(entry, "ts", 0)))
            return 0;
        rc = forget_index_entry(p, name, entry);
        if (rc == 0)
            p->rep->projects_done++;
        return rc;
    }
    meta = kairos_kvs_json(scan, "meta");
    p->rep->projects++;
    if (scan->more) {
        rc = for_each_key(p, name, "i.", intents_page);
        if (rc == 0)
            rc = for_each_key(p, name, "j.", intents_page);
        if (rc == 0)
            rc = for_each_key(p, name, "t.", transfers_page);
    } else {
        rc = intents_page(p, name, scan);
        if (rc == 0)
            transfers_page(p, name, scan);
    }
    mstate = json_string_value(json_object_get(meta, "state"));
    if (rc == 0 && mstate && strcmp(mstate, "deleting") == 0 &&
        is_stale(p, kairos_json_u64(meta, "deleting_since", 0))) {
        struct kairos_owner owner;
        kairos_owner_from_json(json_object_get(meta, "owner"), &owner);
        rc = kairos_project_finish_delete(p->k, name, &owner, &err);
        if (rc == 0)
            p->rep->projects_done++;
    } else if (rc == 0 && istate && strcmp(istate, "creating") == 0 &&
               is_stale(p, kairos_json_u64(entry, "ts", 0))) {
        /* The object exists: the create got through; mark it so. */
        rc = kairos_project_mark_active(p->k, name);
        if (rc == 0)
            p->rep->projects_done++;
    } else if (rc == 0 && p->tight) {
        kairos_budget_trim(p->k, name, 0, NULL);
    }
    json_decref(meta);
    if (rc < 0)
        note_error(p, rc, name, err.msg);
    return 0;
}

/* Keys under these prefixes come with each project's scan. */
#define SCAN_PER_PREFIX 64

static int reconcile_page(void *arg, const struct kairos_kvs *idx)
{
    struct pass *p = arg;
    static const char *const keys[] = {"meta"};
    static const char *const prefixes[] = {"i.", "j.", "t."};
    char(*oids)[KAIROS_KEY_MAX] = calloc(idx->n ? idx->n : 1, sizeof(*oids));
    const char **names = calloc(idx->n ? idx->n : 1, sizeof(*names));
    struct kairos_kvs *scan = calloc(idx->n ? idx->n : 1, sizeof(*scan));
    int rc = -ENOMEM;

    if (oids && names && scan) {
        for (size_t i = 0; i < idx->n; i++) {
            kairos_project_oid(oids[i], idx->v[i].key + 2);
            names[i] = oids[i];
        }
        rc = kairos_store_scan_many(p->k->meta, names, idx->n, keys, 1, prefixes, 3,
                                    SCAN_PER_PREFIX, scan);
        for (size_t i = 0; rc == 0 && i < idx->n; i++) {
            if (!hold_lock(p)) {
                rc = -ENOLCK;
                break;
            }
            json_t *entry = json_loads(idx->v[i].val, 0, NULL);
            const char *name = idx->v[i].key + 2;
            if (kairos_name_valid(name))
                reconcile_project(p, name, entry, &scan[i]);
            json_decref(entry);
        }
        for (size_t i = 0; i < idx->n; i++)
            kairos_kvs_free(&scan[i]);
    }
    free(oids);
    free(names);
    free(scan);
    return rc;
}

static int reconcile_projects(struct pass *p)
{
    int rc = kairos_store_each(p->k->meta, KAIROS_INDEX_OID, "p.", NULL, PAGE, reconcile_page, p);

    return rc == -ENOENT ? 0 : rc;
}

/* The drift scan's check between steps: the pass still holds its lock. */
static bool still_locked(void *arg)
{
    return hold_lock(arg);
}

/*
 * The drift scan, after the intents: paced by [reconcile] scan_rate and
 * starting no project after one interval, so a pass stays about one
 * interval long however many objects there are; the next goes on.
 */
static int scan_drift(struct pass *p)
{
    const struct kairos_config *cfg = p->k->cfg;
    struct kairos_drift_ctx ctx = {.rate = (double)cfg->reconcile.scan_rate,
                                   .deadline_ms = kairos_now_ms() + cfg->reconcile.interval_ms,
                                   .keep = still_locked,
                                   .keep_arg = p};
    struct kairos_error err = {0};
    int rc;

    if (!cfg->reconcile.scan_rate)
        return 0;
    rc = kairos_drift_run(p->k, &ctx, p->rep, &err);
    if (rc < 0 && rc != -ENOLCK)
        note_error(p, rc, "drift", err.msg);
    return rc == -ENOLCK ? rc : 0;
}

/* Audit days past [audit] max_age go with the pass: one trimmer across all kairosd. */
static void trim_audit(struct pass *p)
{
    struct kairos_error e = {0};
    int rc = kairos_audit_trim(p->k, 0, &p->rep->audit_trimmed, &e);

    if (rc < 0)
        note_error(p, rc, "audit trim", e.msg);
}

int kairos_reconcile_run(struct kairos *k, uint64_t lease_ms, struct kairos_reconcile_report *rep,
                         struct kairos_error *err)
{
    struct pass p = {.k = k, .rep = rep};
    int rc;

    memset(rep, 0, sizeof(*rep));
    p.lease_ms = lease_ms ? lease_ms : k->cfg->reconcile.lease_ms;
    /* The lock lapses on its own if its holder dies mid-pass. */
    p.duration.tv_sec = (time_t)(k->cfg->reconcile.lease_ms / 1000 + 1);
    p.duration.tv_usec = 0;
    rc = kairos_random_hex(p.cookie, 8);
    if (rc < 0)
        return kairos_error_set(err, rc, "reconciler: no random lock cookie: %s", strerror(-rc));
    rc = rados_lock_exclusive(k->meta, KAIROS_RECONCILER_OID, LOCK_NAME, p.cookie,
                              "kairos reconciler pass", &p.duration, 0);
    if (rc == -EBUSY || rc == -EEXIST) {
        rep->skipped = true;
        return 0;
    }
    if (rc < 0)
        return kairos_error_set(err, rc, "reconciler lock: %s", strerror(-rc));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.wake, NULL);
    rc = -pthread_create(&p.keeper, NULL, keep_lock, &p);
    if (rc == 0) {
        kairos_capacity_refresh(k, NULL);
        p.tight = kairos_budget_tight(k);
        rc = reconcile_projects(&p);
        /* After the projects: their finished returns leave markers to clear. */
        if (rc == 0 && hold_lock(&p))
            kairos_budget_reconcile_cluster(k, p.lease_ms, rep);
        if (rc == 0 && hold_lock(&p))
            rc = scan_drift(&p);
        if (rc == 0 && hold_lock(&p))
            trim_audit(&p);
        pthread_mutex_lock(&p.mu);
        p.done = true;
        pthread_cond_signal(&p.wake);
        pthread_mutex_unlock(&p.mu);
        pthread_join(p.keeper, NULL);
    }
    pthread_cond_destroy(&p.wake);
    pthread_mutex_destroy(&p.mu);
    rados_unlock(k->meta, KAIROS_RECONCILER_OID, LOCK_NAME, p.cookie);
    if (rc == -ENOLCK)
        return kairos_error_set(err, rc, "reconciler: the pass outlived its lock and stopped");
    if (rc < 0)
        return kairos_error_set(err, rc, "reconciler: %s", strerror(-rc));
    return 0;
}

/* ---- background thread ---- */

static void *reconciler_main(void *arg)
{
    struct kairos *k = arg;

    pthread_mutex_lock(&k->lock);
    while (!k->reconciler_stop) {
        struct kairos_reconcile_report rep;
        struct kairos_error err = {0};
        struct timespec until;
        uint64_t ms = k->cfg->reconcile.interval_ms;
        int rc;

        pthread_mutex_unlock(&k->lock);
        rc = kairos_reconcile_run(k, 0, &rep, &err);
        if (k->reconciler_cb)
            k->reconciler_cb(k->reconciler_arg, rc, &rep);
        pthread_mutex_lock(&k->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!k->reconciler_stop &&
               pthread_cond_timedwait(&k->reconciler_wake, &k->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

int kairos_reconciler_start(struct kairos *k, kairos_reconcile_cb cb, void *arg)
{
    int rc;

    pthread_mutex_lock(&k->lock);
    if (k->reconciler_running) {
        pthread_mutex_unlock(&k->lock);
        return -EALREADY;
    }
    k->reconciler_cb = cb;
    k->reconciler_arg = arg;
    k->reconciler_stop = false;
    rc = pthread_create(&k->reconciler, NULL, reconciler_main, k);
    k->reconciler_running = rc == 0;
    pthread_mutex_unlock(&k->lock);
    return -rc;
}

void kairos_reconciler_stop(struct kairos *k)
{
    bool running;

    pthread_mutex_lock(&k->lock);
    running = k->reconciler_running;
    k->reconciler_stop = true;
    pthread_cond_broadcast(&k->reconciler_wake);
    pthread_mutex_unlock(&k->lock);
    if (running)
        pthread_join(k->reconciler, NULL);
    pthread_mutex_lock(&k->lock);
    k->reconciler_running = false;
    pthread_mutex_unlock(&k->lock);
}
