/*
 * binding.c - bindings: records and intents around the backends' bind and
 * unbind (see kairos/binding.h).
 *
 * A binding is the record "b.<kind>.<alloc>/<id>" in the project object.
 * While it is being made or revoked, "j.<kind>.<alloc>/<id>" marks it for
 * the reconciler, which rolls back a binding that was never handed out
 * (the client never saw its key) and finishes a revocation.
 */
#include <kairos/binding.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding_int.h"
#include "fault.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "record.h"
#include "store.h"

#define LIST_MAX 1000

struct bstep {
    struct kairos *k;
    const char *project;
    enum kairos_kind kind;
    const char *alloc;
    const char *id;
    unsigned flags;
    char akey[KAIROS_KEY_MAX]; /* the allocation's record */
    char bkey[KAIROS_KEY_MAX]; /* the binding's record */
    char jkey[KAIROS_KEY_MAX]; /* the binding's intent marker */
    uint64_t ts;               /* of the intent this call opened */
    uint64_t stale_ts;         /* reconciler: the intent judged stale; 0 for an unbind */
    bool moved_on;             /* reconciler: that intent was closed meanwhile */
    bool exists;               /* create: already bound as asked */
    struct kairos_error *err;
};

static void binding_key(char *buf, const char *prefix, enum kairos_kind kind, const char *alloc,
                        const char *id)
{
    snprintf(buf, KAIROS_KEY_MAX, "%s.%s.%s/%s", prefix, kairos_kind_name(kind), alloc, id);
}

static int bstep_init(struct bstep *st, struct kairos *k, const char *project,
                      enum kairos_kind kind, const char *alloc, const char *id,
                      struct kairos_error *err)
{
    memset(st, 0, sizeof(*st));
    st->k = k;
    st->project = project;
    st->kind = kind;
    st->alloc = alloc;
    st->id = id;
    st->err = err;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if ((unsigned)kind >= KAIROS_KIND_COUNT || kind == KAIROS_SNAPSHOT)
        return kairos_error_set(err, -EINVAL, "only volumes, shares and buckets can be bound");
    if (kairos_name_check(alloc, kairos_kind_name(kind), err) < 0 ||
        kairos_name_check(id, "binding", err) < 0)
        return -EINVAL;
    kairos_alloc_key(st->akey, kind, alloc);
    binding_key(st->bkey, "b", kind, alloc, id);
    binding_key(st->jkey, "j", kind, alloc, id);
    return 0;
}

static const char *state_of(const json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "state"));

    return s ? s : "active";
}

static void set_intent(struct bstep *st, struct kairos_txn *txn, json_t *rec, const char *state)
{
    json_t *j;

    st->ts = kairos_now_ms();
    json_object_set_new(rec, "state", json_string(state));
    json_object_set_new(rec, "ts", json_integer((json_int_t)st->ts));
    kairos_txn_set_json(txn, st->bkey, rec);
    j = json_pack("{s:I}", "ts", (json_int_t)st->ts);
    kairos_txn_set_json(txn, st->jkey, j);
    json_decref(j);
}

/* ---- create ---- */

static int open_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct bstep *st = arg;
    json_t *alloc, *rec;
    const char *op;
    /* Not while deleted: its delete revokes bindings once; a later key would outlive it. */
    int rc = kairos_ledger_project_open(kvs, st->project, st->err);

    st->exists = false;
    if (rc < 0)
        return rc;
    alloc = kairos_kvs_json(kvs, st->akey);
    rec = kairos_kvs_json(kvs, st->bkey);
    op = json_string_value(json_object_get(alloc, "op"));
    if (!alloc || (op && (strcmp(op, "create") == 0 || strcmp(op, "delete") == 0))) {
        rc = kairos_error_set(st->err, -ENOENT, "no %s %s in project %s%s",
                              kairos_kind_name(st->kind), st->alloc, st->project,
                              alloc ? " (it is being created or deleted)" : "");
    } else if (rec && strcmp(state_of(rec), "active") != 0) {
        rc = kairos_error_set(st->err, -EINPROGRESS, "binding %s of %s %s is being %s", st->id,
                              kairos_kind_name(st->kind), st->alloc,
                              strcmp(state_of(rec), "pending") == 0 ? "made" : "revoked");
    } else if (rec && kairos_json_u64(rec, "flags", 0) != st->flags) {
        rc = kairos_error_set(st->err, -EEXIST, "binding %s of %s %s exists with other access",
                              st->id, kairos_kind_name(st->kind), st->alloc);
    } else if (rec) {
        st->exists = true;
        rc = KAIROS_STORE_NOOP;
    } else {
        rec = json_pack("{s:I,s:I}", "flags", (json_int_t)st->flags, "created",
                        (json_int_t)kairos_now_ms());
        set_intent(st, txn, rec, "pending");
    }
    json_decref(alloc);
    json_decref(rec);
    return rc;
}

/* Close this call's intent: to "active", or away (@remove). */
static int close_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn, bool remove)
{
    struct bstep *st = arg;
    json_t *rec = kairos_kvs_json(kvs, st->bkey);
    int rc = 0;

    if (!rec || kairos_json_u64(rec, "ts", 0) != st->ts) {
        rc = kairos_error_set(st->err, -ESTALE, "binding %s of %s %s was rolled back meanwhile",
                              st->id, kairos_kind_name(st->kind), st->alloc);
    } else if (remove) {
        kairos_txn_rm(txn, st->bkey);
        kairos_txn_rm(txn, st->jkey);
    } else {
        json_object_set_new(rec, "state", json_string("active"));
        json_object_del(rec, "ts");
        kairos_txn_set_json(txn, st->bkey, rec);
        kairos_txn_rm(txn, st->jkey);
    }
    json_decref(rec);
    return rc;
}

static int activate_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    return close_step(arg, kvs, txn, false);
}

static int forget_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    return close_step(arg, kvs, txn, true);
}

static int update(struct bstep *st, kairos_store_step fn)
{
    const char *keys[] = {"meta", st->akey, st->bkey, st->jkey};
    char oid[KAIROS_KEY_MAX];

    kairos_project_oid(oid, st->project);
    return kairos_store_update(st->k->meta, oid, keys, 4, false, fn, st);
}

static int backend(struct bstep *st, struct kairos_kind_ops *ops)
{
    if (kairos_kind_ops_get(st->k, st->kind, ops) < 0 || !ops->bind || !ops->unbind)
        return kairos_error_set(st->err, -EOPNOTSUPP, "%s allocations cannot be bound here",
                                kairos_kind_name(st->kind));
    return 0;
}

int kairos_binding_create(struct kairos *k, const char *project, enum kairos_kind kind,
                          const char *alloc, const char *id, unsigned flags, char **credentials,
                          struct kairos_error *err)
{
    struct kairos_kind_ops ops;
    struct bstep st;
    char *creds = NULL;
    int rc;

    *credentials = NULL;
    rc = bstep_init(&st, k, project, kind, alloc, id, err);
    if (rc < 0)
        return rc;
    if (flags & ~KAIROS_BIND_READ_ONLY)
        return kairos_error_set(err, -EINVAL, "unknown binding flags");
    st.flags = flags;
    rc = backend(&st, &ops);
    if (rc < 0)
        return rc;
    rc = update(&st, open_step);
    if (rc < 0)
        goto out;
    kairos_fault("binding.create.recorded");
    /* Bound before: the backend's get-or-create hands out the same key. */
    rc = ops.bind(ops.arg, project, alloc, id, flags, &creds, err);
    if (rc == 0)
        kairos_fault("binding.create.granted");
    if (rc == 0 && !st.exists)
        rc = update(&st, activate_step);
    if (rc < 0 && !st.exists) {
        /* Revoke first: a record without credentials is harmless, the reverse is not. */
        if (ops.unbind(ops.arg, project, alloc, id, NULL) == 0 && rc != -ESTALE)
            update(&st, forget_step);
    }
out:
    if (rc < 0) {
        free(creds);
        if (rc != -ESTALE)
            kairos_error_set(err, rc, "binding %s of %s %s: %s", id, kairos_kind_name(kind), alloc,
                             strerror(-rc));
        return rc;
    }
    *credentials = creds;
    return 0;
}

/* ---- delete ---- */

static int revoke_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct bstep *st = arg;
    json_t *rec = kairos_kvs_json(kvs, st->bkey);

    if (!rec)
        return kairos_error_set(st->err, -ENOENT, "no binding %s of %s %s in project %s", st->id,
                                kairos_kind_name(st->kind), st->alloc, st->project);
    /*
     * The reconciler takes over only the intent it found stale. A bind that
     * outlived the lease may have closed it since and handed its key out;
     * revoking that binding would cut a client that was told it is bound.
     */
    if (st->stale_ts &&
        (strcmp(state_of(rec), "active") == 0 || kairos_json_u64(rec, "ts", 0) != st->stale_ts)) {
        json_decref(rec);
        st->moved_on = true;
        return -ESTALE;
    }
    set_intent(st, txn, rec, "deleting");
    json_decref(rec);
    return 0;
}

static int revoke_binding(struct bstep *st)
{
    struct kairos_kind_ops ops;
    int rc = backend(st, &ops);

    if (rc == 0)
        rc = update(st, revoke_step);
    if (rc == 0) {
        kairos_fault("binding.delete.recorded");
        rc = ops.unbind(ops.arg, st->project, st->alloc, st->id, st->err);
    }
    if (rc == 0) {
        kairos_fault("binding.delete.revoked");
        rc = update(st, forget_step);
    }
    return rc == -ESTALE ? 0 : rc;
}

int kairos_binding_delete(struct kairos *k, const char *project, enum kairos_kind kind,
                          const char *alloc, const char *id, struct kairos_error *err)
{
    struct bstep st;
    int rc = bstep_init(&st, k, project, kind, alloc, id, err);

    if (rc < 0)
        return rc;
    rc = revoke_binding(&st);
    if (rc < 0)
        kairos_error_set(err, rc, "unbinding %s of %s %s: %s", id, kairos_kind_name(kind), alloc,
                         strerror(-rc));
    return rc;
}

/* ---- reading ---- */

static void binding_from_record(struct kairos_binding *b, const char *project,
                                enum kairos_kind kind, const char *alloc, const char *id,
                                const json_t *rec)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->project, sizeof(b->project), "%s", project);
    b->kind = kind;
    snprintf(b->alloc, sizeof(b->alloc), "%s", alloc);
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->flags = (unsigned)kairos_json_u64(rec, "flags", 0);
    b->pending = strcmp(state_of(rec), "active") != 0;
    b->created_ms = kairos_json_u64(rec, "created", 0);
}

int kairos_binding_get(struct kairos *k, const char *project, enum kairos_kind kind,
                       const char *alloc, const char *id, struct kairos_binding *out,
                       struct kairos_error *err)
{
    struct bstep st;
    struct kairos_kvs kvs;
    const char *keys[1];
    char oid[KAIROS_KEY_MAX];
    json_t *rec;
    uint64_t gen;
    int rc = bstep_init(&st, k, project, kind, alloc, id, err);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    keys[0] = st.bkey;
    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    rec = kairos_kvs_json(&kvs, st.bkey);
    if (!rec)
        rc = kairos_error_set(err, -ENOENT, "no binding %s of %s %s in project %s", id,
                              kairos_kind_name(kind), alloc, project);
    else
        binding_from_record(out, project, kind, alloc, id, rec);
    json_decref(rec);
    kairos_kvs_free(&kvs);
    return rc;
}

void kairos_binding_page_free(struct kairos_binding_page *page)
{
    if (!page)
        return;
    free(page->items);
    free(page);
}

int kairos_binding_list(struct kairos *k, const char *project, enum kairos_kind kind,
                        const char *alloc, const char *start_after, unsigned max,
                        struct kairos_binding_page **out, struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX], prefix[KAIROS_KEY_MAX], after[KAIROS_KEY_MAX];
    struct kairos_binding_page *page;
    struct kairos_kvs kvs;
    struct bstep st;
    int rc;

    *out = NULL;
    rc = bstep_init(&st, k, project, kind, alloc, "x", err);
    if (rc < 0)
        return rc;
    if (max == 0 || max > LIST_MAX)
        return kairos_error_set(err, -EINVAL, "page size must be 1 to %d", LIST_MAX);
    if (start_after && start_after[0] && !kairos_name_valid(start_after))
        return kairos_error_set(err, -EINVAL, "bad start_after: not a binding id");
    binding_key(prefix, "b", kind, alloc, "");
    snprintf(after, sizeof(after), "%s%s", prefix, start_after ? start_after : "");
    kairos_project_oid(oid, project);
    rc = kairos_store_list(k->meta, oid, prefix, after, max, &kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    page = calloc(1, sizeof(*page));
    if (page)
        page->items = calloc(kvs.n ? kvs.n : 1, sizeof(*page->items));
    if (!page || !page->items) {
        kairos_binding_page_free(page);
        kairos_kvs_free(&kvs);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < kvs.n; i++) {
        json_t *rec = json_loads(kvs.v[i].val, 0, NULL);
        binding_from_record(&page->items[page->count++], project, kind, alloc,
                            kvs.v[i].key + strlen(prefix), rec);
        json_decref(rec);
    }
    page->more = kvs.more;
    kairos_kvs_free(&kvs);
    *out = page;
    return 0;
}

/* ---- for the backends and the reconciler ---- */

int kairos_binding_count(struct kairos *k, const char *project, enum kairos_kind kind,
                         const char *alloc, unsigned *count, struct kairos_error *err)
{
    struct kairos_binding_page *page;
    int rc = kairos_binding_list(k, project, kind, alloc, NULL, LIST_MAX, &page, err);

    *count = 0;
    if (rc < 0)
        return rc;
    *count = (unsigned)page->count;
    kairos_binding_page_free(page);
    return 0;
}

int kairos_binding_purge(struct kairos *k, const char *project, enum kairos_kind kind,
                         const char *alloc, struct kairos_error *err)
{
    struct kairos_binding_page *page;
    int rc;

    /* Bindings of a kind that cannot bind cannot exist. */
    if (kind == KAIROS_SNAPSHOT)
        return 0;
    do {
        rc = kairos_binding_list(k, project, kind, alloc, NULL, LIST_MAX, &page, err);
        if (rc < 0)
            return rc == -ENOENT ? 0 : rc;
        for (size_t i = 0; rc == 0 && i < page->count; i++)
            rc = kairos_binding_delete(k, project, kind, alloc, page->items[i].id, err);
        bool more = page->count > 0;
        kairos_binding_page_free(page);
        if (rc < 0 || !more)
            return rc;
    } while (1);
}

/*
 * An intent whose binding is settled (active, or gone): drop it, unless a
 * new bind or unbind of the same id has opened it again since it was read.
 */
static int drop_intent_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct bstep *st = arg;
    json_t *rec = kairos_kvs_json(kvs, st->bkey);
    bool settled = !rec || strcmp(state_of(rec), "active") == 0;

    json_decref(rec);
    if (!settled || !kairos_kvs_get(kvs, st->jkey))
        return KAIROS_STORE_NOOP;
    kairos_txn_rm(txn, st->jkey);
    return 0;
}

/* "j.<kind>.<alloc>/<id>" -> its parts. */
static int split_intent(const char *jkey, enum kairos_kind *kind, char *alloc, char *id)
{
    char kname[16];

    if (sscanf(jkey, "j.%15[a-z].%63[a-z0-9-]/%63[a-z0-9-]", kname, alloc, id) != 3)
        return -EINVAL;
    return kairos_kind_parse(kname, kind);
}

int kairos_binding_reconcile(struct kairos *k, const char *project, const char *jkey,
                             const char *jval, uint64_t lease_ms, struct kairos_error *err)
{
    char alloc[KAIROS_NAME_MAX + 1], id[KAIROS_NAME_MAX + 1], oid[KAIROS_KEY_MAX];
    json_t *j = json_loads(jval, 0, NULL);
    uint64_t ts = kairos_json_u64(j, "ts", 0);
    struct kairos_binding b;
    enum kairos_kind kind;
    struct bstep st;
    int rc;

    json_decref(j);
    if (ts + lease_ms > kairos_now_ms())
        return 0;
    if (split_intent(jkey, &kind, alloc, id) < 0) {
        kairos_project_oid(oid, project);
        return kairos_store_rm_key(k->meta, oid, jkey);
    }
    rc = bstep_init(&st, k, project, kind, alloc, id, err);
    if (rc < 0)
        return rc;
    st.stale_ts = ts;
    rc = kairos_binding_get(k, project, kind, alloc, id, &b, err);
    if (rc == -ENOENT || (rc == 0 && !b.pending)) {
        rc = update(&st, drop_intent_step);
        return rc == -ENOENT ? 0 : rc;
    }
    if (rc < 0)
        return rc;
    kairos_fault("binding.reconcile.pending");
    /* Pending or being revoked: either way the credentials must go. */
    rc = revoke_binding(&st);
    return rc == 0 && !st.moved_on ? 1 : rc;
}
