/*
 * ledger.c - reserve, commit, release (see kairos/ledger.h).
 *
 * All of a project's admission state sits in its one object: the quota,
 * the counters ("ledger"), one record per allocation ("a.<kind>.<name>")
 * and one index entry per open intent ("i.<kind>.<name>"). Each operation
 * is a step of kairos_store_update(): read those keys, decide, and write
 * counters, record and intent together in one gen-guarded RADOS write.
 * The counters include pending reservations, so what was admitted stays
 * counted until it is committed or released.
 */
#include <kairos/kairos.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "record.h"
#include "store.h"

/* Attribute documents beyond this are a caller bug, not data. */
#define ATTRS_MAX 4096
/* Rounds of "take more budget, try again" before giving up. */
#define BUDGET_ROUNDS 8
/* A step asks its caller to fetch cluster budget and run again. */
#define NEED_BUDGET 2
#define LIST_MAX    1000

struct step {
    struct kairos *k;
    const char *project;
    enum kairos_kind kind;
    const char *name;
    enum kairos_op op;
    uint64_t bytes; /* create, resize: the size asked for */
    json_t *attrs;  /* create */
    char akey[KAIROS_KEY_MAX];
    char ikey[KAIROS_KEY_MAX];
    const struct kairos_reservation *res; /* commit, release, touch */
    struct kairos_reservation *out;       /* reserve */
    uint64_t need;                        /* NEED_BUDGET: effective bytes missing */
    uint64_t held;                        /* NEED_BUDGET: the grant held now */
    uint64_t slack;                       /* grant beyond use after the step */
    struct kairos_error *err;
};

/* ---- names and requests ---- */

int kairos_alloc_name_check(enum kairos_kind kind, const char *name, struct kairos_error *err)
{
    char parent_kind[16], parent[KAIROS_NAME_MAX + 2], snap[KAIROS_NAME_MAX + 2];
    enum kairos_kind pk;
    int n = 0;

    if (kind != KAIROS_SNAPSHOT)
        return kairos_name_check(name, kairos_kind_name(kind), err);
    if (!name || strlen(name) > KAIROS_ALLOC_NAME_MAX ||
        sscanf(name, "%15[a-z]:%64[a-z0-9-]@%64[a-z0-9-]%n", parent_kind, parent, snap, &n) != 3 ||
        name[n] != '\0' || kairos_kind_parse(parent_kind, &pk) < 0 ||
        (pk != KAIROS_VOLUME && pk != KAIROS_SHARE))
        return kairos_error_set(err, -EINVAL,
                                "snapshot name must be <volume|share>:<parent>@<snapshot>");
    if (kairos_name_check(parent, parent_kind, err) < 0)
        return -EINVAL;
    return kairos_name_check(snap, "snapshot", err);
}

static int check_target(const char *project, enum kairos_kind kind, const char *name,
                        struct kairos_error *err)
{
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if ((unsigned)kind >= KAIROS_KIND_COUNT)
        return kairos_error_set(err, -EINVAL, "unknown kind of allocation");
    return kairos_alloc_name_check(kind, name, err);
}

static int check_bytes(enum kairos_kind kind, uint64_t bytes, struct kairos_error *err)
{
    char max[KAIROS_SIZE_STR_MAX];

    if (kind == KAIROS_SNAPSHOT)
        return bytes == 0 ? 0 : kairos_error_set(err, -EINVAL, "a snapshot has no size of its own");
    if (bytes == 0)
        return kairos_error_set(err, -EINVAL, "%s size must be above zero", kairos_kind_name(kind));
    if (bytes > KAIROS_SIZE_MAX)
        return kairos_error_set(err, -EINVAL, "%s size is above the %s maximum",
                                kairos_kind_name(kind),
                                kairos_size_format(KAIROS_SIZE_MAX, max, sizeof(max)));
    return 0;
}

static int parse_attrs(const char *text, json_t **out, struct kairos_error *err)
{
    json_error_t jerr;

    *out = NULL;
    if (!text)
        return (*out = json_object()) ? 0 : -ENOMEM;
    if (strlen(text) > ATTRS_MAX)
        return kairos_error_set(err, -EINVAL, "attributes longer than %d bytes", ATTRS_MAX);
    *out = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return kairos_error_set(err, -EINVAL, "attributes are not a JSON object");
    }
    return 0;
}

/* ---- reading a project's state inside a step ---- */

int kairos_ledger_project_open(const struct kairos_kvs *kvs, const char *project,
                               struct kairos_error *err)
{
    json_t *meta = kairos_kvs_json(kvs, "meta");
    const char *state = json_string_value(json_object_get(meta, "state"));
    int rc = 0;

    if (!meta)
        rc = kairos_error_set(err, -ENOENT, "no project %s", project);
    else if (state && strcmp(state, "active") != 0)
        rc = kairos_error_set(err, -ENOENT, "project %s is being deleted", project);
    json_decref(meta);
    return rc;
}

static void read_counts(const struct kairos_kvs *kvs, struct kairos_counts *c)
{
    json_t *l = kairos_kvs_json(kvs, "ledger");

    kairos_counts_from_json(l, c);
    json_decref(l);
}

static void write_counts(struct step *st, struct kairos_txn *txn, const struct kairos_counts *c)
{
    json_t *l = kairos_counts_to_json(c);

    kairos_txn_set_json(txn, "ledger", l);
    json_decref(l);
    st->slack = c->grant > c->eff ? c->grant - c->eff : 0;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* ---- admission ---- */

static int over(uint64_t have, uint64_t add, uint64_t limit)
{
    uint64_t sum;

    if (limit == KAIROS_UNLIMITED)
        return 0;
    return __builtin_add_overflow(have, add, &sum) || sum > limit;
}

static int refuse_bytes(struct step *st, const char *what, uint64_t have, uint64_t add,
                        uint64_t limit)
{
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX], c[KAIROS_SIZE_STR_MAX];

    return kairos_error_set(
        st->err, -EDQUOT, "project %s: %s quota exceeded: %s allocated + %s requested > %s limit",
        st->project, what, kairos_size_format(have, a, sizeof(a)),
        kairos_size_format(add, b, sizeof(b)), kairos_size_format(limit, c, sizeof(c)));
}

/* May @add_bytes and @add_count more of st->kind be allocated? */
static int admit(struct step *st, const struct kairos_quota *q, const struct kairos_counts *c,
                 uint64_t add_bytes, uint64_t add_count)
{
    const struct kairos_limit *l = &q->kind[st->kind];
    const char *kname = kairos_kind_name(st->kind);
    uint64_t total = 0;
    char what[48];

    if (add_bytes && over(c->bytes[st->kind], add_bytes, l->bytes)) {
        snprintf(what, sizeof(what), "%s bytes", kname);
        return refuse_bytes(st, what, c->bytes[st->kind], add_bytes, l->bytes);
    }
    if (add_count && over(c->count[st->kind], add_count, l->count))
        return kairos_error_set(st->err, -EDQUOT,
                                "project %s: %s count quota exceeded: %llu of %llu in use",
                                st->project, kname, (unsigned long long)c->count[st->kind],
                                (unsigned long long)l->count);
    if (add_bytes && q->total_bytes != KAIROS_UNLIMITED) {
        for (int k = 0; k < KAIROS_KIND_COUNT; k++)
            total += k == KAIROS_SNAPSHOT ? 0 : c->bytes[k];
        if (over(total, add_bytes, q->total_bytes))
            return refuse_bytes(st, "total bytes", total, add_bytes, q->total_bytes);
    }
    return 0;
}

/* Admit against the quota, then make sure the project's grant covers @add_eff. */
static int admit_all(struct step *st, const struct kairos_kvs *kvs, struct kairos_counts *c,
                     uint64_t add_bytes, uint64_t add_count, uint64_t add_eff)
{
    struct kairos_quota q;
    json_t *qj = kairos_kvs_json(kvs, "quota");
    int rc;

    kairos_quota_from_json(qj, &q);
    json_decref(qj);
    rc = admit(st, &q, c, add_bytes, add_count);
    if (rc < 0)
        return rc;
    if (c->eff + add_eff > c->grant) {
        st->need = c->eff + add_eff - c->grant;
        st->held = c->grant;
        return NEED_BUDGET;
    }
    return 0;
}

/* ---- records ---- */

static json_t *record_get(const struct step *st, const struct kairos_kvs *kvs)
{
    return kairos_kvs_json(kvs, st->akey);
}

static const char *rec_op(const json_t *rec)
{
    return json_string_value(json_object_get(rec, "op"));
}

static const char *rec_intent(const json_t *rec)
{
    return json_string_value(json_object_get(rec, "intent"));
}

/* Open an intent on @rec (modified in place) and write record and index. */
static void open_intent(struct step *st, struct kairos_txn *txn, json_t *rec)
{
    uint64_t now = kairos_now_ms();
    json_t *idx;

    json_object_set_new(rec, "op", json_string(kairos_op_name(st->op)));
    json_object_set_new(rec, "intent", json_string(st->out->intent));
    json_object_set_new(rec, "ts", json_integer((json_int_t)now));
    kairos_txn_set_json(txn, st->akey, rec);
    /* The exact bytes written, which a one-write commit will expect. */
    free(st->out->record);
    st->out->record = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    st->out->intent_ms = now;
    idx = json_pack("{s:s,s:s,s:I}", "intent", st->out->intent, "op", kairos_op_name(st->op), "ts",
                    (json_int_t)now);
    kairos_txn_set_json(txn, st->ikey, idx);
    json_decref(idx);
}

/* Close the intent on @rec: it becomes a plain committed record. */
static void close_intent(struct kairos_txn *txn, const struct step *st, json_t *rec,
                         const char *intent)
{
    json_object_del(rec, "op");
    json_object_del(rec, "intent");
    json_object_del(rec, "ts");
    json_object_del(rec, "target");
    json_object_del(rec, "target_eff");
    if (intent)
        json_object_set_new(rec, "last", json_string(intent));
    kairos_txn_set_json(txn, st->akey, rec);
    kairos_txn_rm(txn, st->ikey);
}

static void fill_reservation(struct step *st, uint64_t bytes, uint64_t old_bytes)
{
    struct kairos_reservation *r = st->out;

    snprintf(r->project, sizeof(r->project), "%s", st->project);
    r->kind = st->kind;
    snprintf(r->name, sizeof(r->name), "%s", st->name);
    r->op = st->op;
    r->bytes = bytes;
    r->old_bytes = old_bytes;
}

/* ---- reserve ---- */

/* An allocation of that name exists: the same one (a repeat) or a conflict. */
static int reserve_existing(struct step *st, json_t *rec)
{
    const char *kname = kairos_kind_name(st->kind);
    uint64_t bytes = kairos_json_u64(rec, "bytes", 0);
    json_t *attrs = json_object_get(rec, "attrs");
    json_t *have = attrs ? json_incref(attrs) : json_object();
    bool same_attrs = json_equal(have, st->attrs);
    char a[KAIROS_SIZE_STR_MAX];

    json_decref(have);

    if (rec_op(rec))
        return kairos_error_set(st->err, -EINPROGRESS, "%s %s: a %s is in progress", kname,
                                st->name, rec_op(rec));
    if (bytes != st->bytes)
        return kairos_error_set(st->err, -EEXIST, "%s %s exists with size %s", kname, st->name,
                                kairos_size_format(bytes, a, sizeof(a)));
    if (!same_attrs)
        return kairos_error_set(st->err, -EEXIST, "%s %s exists with other attributes", kname,
                                st->name);
    st->out->existing = true;
    fill_reservation(st, bytes, bytes);
    return KAIROS_STORE_NOOP;
}

static int reserve_create_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    struct kairos_counts c;
    json_t *rec;
    uint64_t eff = kairos_policy_effective(kairos_get_policy(st->k), st->kind, st->bytes);
    int rc = kairos_ledger_project_open(kvs, st->project, st->err);

    if (rc < 0)
        return rc;
    rec = record_get(st, kvs);
    if (rec) {
        rc = reserve_existing(st, rec);
        json_decref(rec);
        return rc;
    }
    read_counts(kvs, &c);
    rc = admit_all(st, kvs, &c, st->bytes, 1, eff);
    if (rc != 0)
        return rc;
    c.bytes[st->kind] += st->bytes;
    c.count[st->kind] += 1;
    c.eff += eff;
    write_counts(st, txn, &c);
    rec = json_pack("{s:I,s:I,s:I,s:O}", "bytes", (json_int_t)st->bytes, "eff", (json_int_t)eff,
                    "created", (json_int_t)kairos_now_ms(), "attrs", st->attrs);
    open_intent(st, txn, rec);
    json_decref(rec);
    fill_reservation(st, st->bytes, 0);
    return 0;
}

static int reserve_resize_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    struct kairos_counts c;
    json_t *rec = NULL;
    uint64_t old, old_eff,
        eff = kairos_policy_effective(kairos_get_policy(st->k), st->kind, st->bytes);
    int rc = kairos_ledger_project_open(kvs, st->project, st->err);

    if (rc < 0)
        return rc;
    rec = record_get(st, kvs);
    if (!rec)
        return kairos_error_set(st->err, -ENOENT, "no %s %s in project %s",
                                kairos_kind_name(st->kind), st->name, st->project);
    if (rec_op(rec)) {
        rc = kairos_error_set(st->err, -EINPROGRESS, "%s %s: a %s is in progress",
                              kairos_kind_name(st->kind), st->name, rec_op(rec));
        goto out;
    }
    old = kairos_json_u64(rec, "bytes", 0);
    old_eff = kairos_json_u64(rec, "eff", 0);
    fill_reservation(st, st->bytes, old);
    if (old == st->bytes) {
        st->out->existing = true;
        rc = KAIROS_STORE_NOOP;
        goto out;
    }
    read_counts(kvs, &c);
    /* Growing is admitted now; shrinking frees quota only once it is done. */
    if (st->bytes > old) {
        rc = admit_all(st, kvs, &c, st->bytes - old, 0, sub(eff, old_eff));
        if (rc != 0)
            goto out;
        c.bytes[st->kind] += st->bytes - old;
        c.eff += sub(eff, old_eff);
        write_counts(st, txn, &c);
    }
    json_object_set_new(rec, "target", json_integer((json_int_t)st->bytes));
    json_object_set_new(rec, "target_eff", json_integer((json_int_t)eff));
    open_intent(st, txn, rec);
out:
    json_decref(rec);
    return rc;
}

static int reserve_delete_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    json_t *meta = kairos_kvs_json(kvs, "meta");
    json_t *rec;
    int rc = 0;

    /* A project being deleted still lets its allocations go. */
    if (!meta)
        return kairos_error_set(st->err, -ENOENT, "no project %s", st->project);
    json_decref(meta);
    rec = record_get(st, kvs);
    if (!rec)
        return kairos_error_set(st->err, -ENOENT, "no %s %s in project %s",
                                kairos_kind_name(st->kind), st->name, st->project);
    if (rec_op(rec)) {
        rc = kairos_error_set(st->err, -EINPROGRESS, "%s %s: a %s is in progress",
                              kairos_kind_name(st->kind), st->name, rec_op(rec));
    } else {
        uint64_t bytes = kairos_json_u64(rec, "bytes", 0);
        fill_reservation(st, 0, bytes);
        open_intent(st, txn, rec);
    }
    json_decref(rec);
    return rc;
}

static int step_init(struct step *st, struct kairos *k, const char *project, enum kairos_kind kind,
                     const char *name, enum kairos_op op, struct kairos_error *err)
{
    memset(st, 0, sizeof(*st));
    st->k = k;
    st->project = project;
    st->kind = kind;
    st->name = name;
    st->op = op;
    st->err = err;
    if (check_target(project, kind, name, err) < 0)
        return -EINVAL;
    kairos_alloc_key(st->akey, kind, name);
    kairos_intent_key(st->ikey, kind, name);
    return 0;
}

/*
 * Give back budget slack beyond a chunk, or all of it when the cluster is
 * nearly full. An error here only delays the return.
 */
static void trim_slack(struct kairos *k, const struct step *st)
{
    uint64_t chunk = kairos_budget_chunk(k);

    if (st->slack > 2 * chunk)
        kairos_budget_trim(k, st->project, kairos_budget_tight(k) ? 0 : chunk, NULL);
}

static int run_reserve(struct step *st, kairos_store_step fn, struct kairos_reservation **out)
{
    const char *keys[] = {"meta", "quota", "ledger", st->akey};
    char oid[KAIROS_KEY_MAX];
    int rc;

    *out = NULL;
    st->out = calloc(1, sizeof(*st->out));
    if (!st->out)
        return kairos_error_set(st->err, -ENOMEM, "out of memory");
    rc = kairos_random_hex(st->out->intent, KAIROS_INTENT_ID_LEN / 2);
    if (rc < 0) {
        kairos_reservation_free(st->out);
        return kairos_error_set(st->err, rc, "no random intent id: %s", strerror(-rc));
    }
    kairos_project_oid(oid, st->project);
    for (int round = 0; round < BUDGET_ROUNDS; round++) {
        pthread_mutex_t *stripe = kairos_project_stripe(st->k, st->project);
        pthread_mutex_lock(stripe);
        rc = kairos_store_update(st->k->meta, oid, keys, 4, false, fn, st);
        pthread_mutex_unlock(stripe);
        if (rc != NEED_BUDGET)
            break;
        rc = kairos_budget_acquire(st->k, st->project, st->need, st->held, st->err);
        if (rc < 0 && rc != -ESTALE)
            break;
        rc = -EAGAIN;
    }
    if (rc == -ENOENT)
        rc = kairos_error_set(st->err, -ENOENT, "no project %s", st->project);
    else if (rc == -EAGAIN)
        kairos_error_set(st->err, rc, "project %s is too busy: try again", st->project);
    else if (rc < 0)
        kairos_error_set(st->err, rc, "project %s: ledger update failed: %s", st->project,
                         strerror(-rc));
    if (rc < 0) {
        kairos_reservation_free(st->out);
        return rc;
    }
    *out = st->out;
    return 0;
}

/*
 * May @bytes of @kind be reserved for @name, as far as Ceph's full flags go
 * (kairos_capacity_writable())? On a full pool only what changes no data
 * goes on: a repeat of a create that exists (@grow false: it answers as
 * before) or a resize that grows nothing.
 */
static int writable(struct kairos *k, const char *project, enum kairos_kind kind, const char *name,
                    uint64_t bytes, bool grow, struct kairos_error *err)
{
    struct kairos_alloc a;
    int rc;

    if (kind == KAIROS_SNAPSHOT || !bytes)
        return 0;
    rc = kairos_capacity_writable(k, kind, err);
    if (rc == 0 || kairos_ledger_get(k, project, kind, name, &a, NULL) < 0)
        return rc;
    if (!grow || a.bytes >= bytes)
        rc = 0;
    kairos_alloc_clear(&a);
    if (rc == 0)
        kairos_error_clear(err);
    return rc;
}

int kairos_ledger_reserve(struct kairos *k, const struct kairos_alloc_req *req,
                          struct kairos_reservation **out, struct kairos_error *err)
{
    struct step st;
    int rc;

    *out = NULL;
    if (!req)
        return kairos_error_set(err, -EINVAL, "no request");
    rc = step_init(&st, k, req->project, req->kind, req->name, KAIROS_OP_CREATE, err);
    if (rc < 0)
        return rc;
    if (check_bytes(req->kind, req->bytes, err) < 0)
        return -EINVAL;
    rc = writable(k, req->project, req->kind, req->name, req->bytes, false, err);
    if (rc < 0)
        return rc;
    if (parse_attrs(req->attrs, &st.attrs, err) < 0)
        return -EINVAL;
    st.bytes = req->bytes;
    rc = run_reserve(&st, reserve_create_step, out);
    json_decref(st.attrs);
    return rc;
}

int kairos_ledger_reserve_resize(struct kairos *k, const char *project, enum kairos_kind kind,
                                 const char *name, uint64_t bytes, struct kairos_reservation **out,
                                 struct kairos_error *err)
{
    struct step st;
    int rc;

    *out = NULL;
    rc = step_init(&st, k, project, kind, name, KAIROS_OP_RESIZE, err);
    if (rc < 0)
        return rc;
    if (kind == KAIROS_SNAPSHOT)
        return kairos_error_set(err, -EINVAL, "a snapshot cannot be resized");
    if (check_bytes(kind, bytes, err) < 0)
        return -EINVAL;
    rc = writable(k, project, kind, name, bytes, true, err);
    if (rc < 0)
        return rc;
    st.bytes = bytes;
    return run_reserve(&st, reserve_resize_step, out);
}

int kairos_ledger_reserve_delete(struct kairos *k, const char *project, enum kairos_kind kind,
                                 const char *name, struct kairos_reservation **out,
                                 struct kairos_error *err)
{
    struct step st;
    int rc;

    *out = NULL;
    rc = step_init(&st, k, project, kind, name, KAIROS_OP_DELETE, err);
    if (rc < 0)
        return rc;
    return run_reserve(&st, reserve_delete_step, out);
}

void kairos_reservation_free(struct kairos_reservation *res)
{
    if (!res)
        return;
    free(res->record);
    free(res);
}

/* ---- commit, release, touch ---- */

/* The record, if it still carries the intent of st->res. */
static json_t *own_record(const struct step *st, const struct kairos_kvs *kvs, bool *committed)
{
    json_t *rec = record_get(st, kvs);
    const char *intent = rec_intent(rec);
    const char *last = json_string_value(json_object_get(rec, "last"));

    *committed = last && strcmp(last, st->res->intent) == 0;
    if (rec && intent && strcmp(intent, st->res->intent) == 0)
        return rec;
    json_decref(rec);
    return NULL;
}

static int commit_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    const struct kairos_reservation *res = st->res;
    struct kairos_counts c;
    bool committed;
    json_t *rec = own_record(st, kvs, &committed);
    uint64_t bytes, eff, target, target_eff;

    st->slack = 0;
    if (!rec) {
        /* Committed already, or a delete the reconciler finished: done. */
        if (committed || (res->op == KAIROS_OP_DELETE && !kairos_kvs_get(kvs, st->akey)))
            return KAIROS_STORE_NOOP;
        return kairos_error_set(st->err, -ESTALE, "%s %s: the %s was rolled back meanwhile",
                                kairos_kind_name(st->kind), st->name, kairos_op_name(res->op));
    }
    read_counts(kvs, &c);
    bytes = kairos_json_u64(rec, "bytes", 0);
    eff = kairos_json_u64(rec, "eff", 0);
    target = kairos_json_u64(rec, "target", bytes);
    target_eff = kairos_json_u64(rec, "target_eff", eff);
    if (res->op == KAIROS_OP_DELETE) {
        c.bytes[st->kind] = sub(c.bytes[st->kind], bytes);
        c.count[st->kind] = sub(c.count[st->kind], 1);
        c.eff = sub(c.eff, eff);
        kairos_txn_rm(txn, st->akey);
        kairos_txn_rm(txn, st->ikey);
    } else {
        if (res->op == KAIROS_OP_RESIZE && target < bytes) {
            c.bytes[st->kind] = sub(c.bytes[st->kind], bytes - target);
            c.eff = sub(c.eff, sub(eff, target_eff));
        }
        if (res->op == KAIROS_OP_RESIZE) {
            json_object_set_new(rec, "bytes", json_integer((json_int_t)target));
            json_object_set_new(rec, "eff", json_integer((json_int_t)target_eff));
        }
        close_intent(txn, st, rec, res->intent);
    }
    write_counts(st, txn, &c);
    json_decref(rec);
    return 0;
}

static int release_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    const struct kairos_reservation *res = st->res;
    struct kairos_counts c;
    bool committed;
    json_t *rec = own_record(st, kvs, &committed);
    uint64_t bytes, eff, target, target_eff;

    st->slack = 0;
    if (!rec) {
        if (committed)
            return kairos_error_set(st->err, -ESTALE, "%s %s: the %s was committed meanwhile",
                                    kairos_kind_name(st->kind), st->name, kairos_op_name(res->op));
        return KAIROS_STORE_NOOP;
    }
    read_counts(kvs, &c);
    bytes = kairos_json_u64(rec, "bytes", 0);
    eff = kairos_json_u64(rec, "eff", 0);
    target = kairos_json_u64(rec, "target", bytes);
    target_eff = kairos_json_u64(rec, "target_eff", eff);
    if (res->op == KAIROS_OP_CREATE) {
        c.bytes[st->kind] = sub(c.bytes[st->kind], bytes);
        c.count[st->kind] = sub(c.count[st->kind], 1);
        c.eff = sub(c.eff, eff);
        kairos_txn_rm(txn, st->akey);
        kairos_txn_rm(txn, st->ikey);
    } else {
        if (res->op == KAIROS_OP_RESIZE && target > bytes) {
            c.bytes[st->kind] = sub(c.bytes[st->kind], target - bytes);
            c.eff = sub(c.eff, sub(target_eff, eff));
        }
        close_intent(txn, st, rec, NULL);
    }
    write_counts(st, txn, &c);
    json_decref(rec);
    return 0;
}

static int touch_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    bool committed;
    json_t *rec = own_record(st, kvs, &committed);
    json_t *idx = kairos_kvs_json(kvs, st->ikey);
    json_t *now = json_integer((json_int_t)kairos_now_ms());
    int rc = 0;

    if (!rec || !idx) {
        rc = kairos_error_set(st->err, -ESTALE, "%s %s: the intent is gone",
                              kairos_kind_name(st->kind), st->name);
    } else {
        json_object_set(rec, "ts", now);
        json_object_set(idx, "ts", now);
        kairos_txn_set_json(txn, st->akey, rec);
        kairos_txn_set_json(txn, st->ikey, idx);
    }
    json_decref(now);
    json_decref(idx);
    json_decref(rec);
    return rc;
}

static int run_finish(struct kairos *k, const struct kairos_reservation *res, kairos_store_step fn,
                      struct kairos_error *err)
{
    struct step st;
    char oid[KAIROS_KEY_MAX];
    const char *keys[] = {"ledger", st.akey, st.ikey};
    int rc;

    if (!res)
        return kairos_error_set(err, -EINVAL, "no reservation");
    if (res->existing)
        return 0;
    rc = step_init(&st, k, res->project, res->kind, res->name, res->op, err);
    if (rc < 0)
        return rc;
    st.res = res;
    kairos_project_oid(oid, res->project);
    pthread_mutex_lock(kairos_project_stripe(k, res->project));
    rc = kairos_store_update(k->meta, oid, keys, 3, false, fn, &st);
    pthread_mutex_unlock(kairos_project_stripe(k, res->project));
    if (rc == 0)
        trim_slack(k, &st);
    else if (rc != -ESTALE)
        kairos_error_set(err, rc, "project %s: ledger update failed: %s", res->project,
                         strerror(-rc));
    return rc;
}

/*
 * Commit a create in one write, without reading first: a create's commit
 * changes no counter, only its own record, so it may apply exactly when the
 * record still holds the bytes the reserve wrote. Anything else (a touch, a
 * reconciler, a racing commit) makes it fail, and the caller takes the
 * read-modify-write path. Return: 0, -ECANCELED, or another negative errno.
 */
static int commit_create_blind(struct kairos *k, const struct kairos_reservation *res)
{
    struct step st;
    struct kairos_txn *txn;
    char oid[KAIROS_KEY_MAX];
    json_t *rec;
    int rc;

    if (res->op != KAIROS_OP_CREATE || !res->record)
        return -ECANCELED;
    rc = step_init(&st, k, res->project, res->kind, res->name, res->op, NULL);
    if (rc < 0)
        return rc;
    rec = json_loads(res->record, 0, NULL);
    txn = kairos_txn_new_blind();
    if (!rec || !txn) {
        rc = -ENOMEM;
        goto out;
    }
    kairos_txn_expect(txn, st.akey, res->record);
    close_intent(txn, &st, rec, res->intent);
    kairos_project_oid(oid, res->project);
    pthread_mutex_lock(kairos_project_stripe(k, res->project));
    rc = kairos_txn_commit(txn, k->meta, oid);
    pthread_mutex_unlock(kairos_project_stripe(k, res->project));
out:
    kairos_txn_free(txn);
    json_decref(rec);
    return rc;
}

int kairos_ledger_commit(struct kairos *k, const struct kairos_reservation *res,
                         struct kairos_error *err)
{
    if (res && !res->existing && commit_create_blind(k, res) == 0)
        return 0;
    return run_finish(k, res, commit_step, err);
}

int kairos_ledger_settle(struct kairos *k, struct kairos_reservation *res, int rc,
                         struct kairos_error *err)
{
    if (rc < 0)
        kairos_ledger_release(k, res, NULL);
    else
        rc = kairos_ledger_commit(k, res, err);
    kairos_reservation_free(res);
    return rc;
}

int kairos_ledger_release(struct kairos *k, const struct kairos_reservation *res,
                          struct kairos_error *err)
{
    return run_finish(k, res, release_step, err);
}

int kairos_ledger_touch(struct kairos *k, const struct kairos_reservation *res,
                        struct kairos_error *err)
{
    return run_finish(k, res, touch_step, err);
}

/* ---- reading ---- */

void kairos_alloc_clear(struct kairos_alloc *a)
{
    if (!a)
        return;
    free(a->attrs);
    a->attrs = NULL;
}

int kairos_ledger_get(struct kairos *k, const char *project, enum kairos_kind kind,
                      const char *name, struct kairos_alloc *out, struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX], akey[KAIROS_KEY_MAX];
    const char *keys[] = {akey};
    struct kairos_kvs kvs;
    const char *rec;
    uint64_t gen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (check_target(project, kind, name, err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, project);
    kairos_alloc_key(akey, kind, name);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", project);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    rec = kairos_kvs_get(&kvs, akey);
    if (!rec)
        rc = kairos_error_set(err, -ENOENT, "no %s %s in project %s", kairos_kind_name(kind), name,
                              project);
    else
        rc = kairos_alloc_from_record(out, project, kind, name, rec);
    kairos_kvs_free(&kvs);
    return rc;
}

void kairos_alloc_page_free(struct kairos_alloc_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->count; i++)
        kairos_alloc_clear(&page->items[i]);
    free(page->items);
    free(page);
}

static int page_from_kvs(const char *project, enum kairos_kind kind, size_t prefix_len,
                         const struct kairos_kvs *kvs, struct kairos_alloc_page *page)
{
    page->items = calloc(kvs->n ? kvs->n : 1, sizeof(*page->items));
    if (!page->items)
        return -ENOMEM;
    for (size_t i = 0; i < kvs->n; i++) {
        int rc = kairos_alloc_from_record(&page->items[page->count], project, kind,
                                          kvs->v[i].key + prefix_len, kvs->v[i].val);
        if (rc == -ENOMEM)
            return rc;
        if (rc == 0)
            page->count++;
    }
    page->more = kvs->more;
    return 0;
}

int kairos_ledger_list(struct kairos *k, const char *project, enum kairos_kind kind,
                       const char *start_after, unsigned max, struct kairos_alloc_page **out,
                       struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX], prefix[KAIROS_KEY_MAX], after[KAIROS_KEY_MAX];
    struct kairos_alloc_page *page;
    struct kairos_kvs kvs;
    int rc;

    *out = NULL;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if ((unsigned)kind >= KAIROS_KIND_COUNT)
        return kairos_error_set(err, -EINVAL, "unknown kind of allocation");
    if (max == 0 || max > LIST_MAX)
        return kairos_error_set(err, -EINVAL, "page size must be 1 to %d", LIST_MAX);
    if (start_after && start_after[0] && strlen(start_after) > KAIROS_ALLOC_NAME_MAX)
        return kairos_error_set(err, -EINVAL, "bad start_after");
    kairos_project_oid(oid, project);
    snprintf(prefix, sizeof(prefix), "a.%s.", kairos_kind_name(kind));
    snprintf(after, sizeof(after), "%s%s", prefix, start_after ? start_after : "");
    rc = kairos_store_list(k->meta, oid, prefix, after, max, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", project);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    page = calloc(1, sizeof(*page));
    rc = page ? page_from_kvs(project, kind, strlen(prefix), &kvs, page) : -ENOMEM;
    kairos_kvs_free(&kvs);
    if (rc < 0) {
        kairos_alloc_page_free(page);
        return kairos_error_set(err, rc, "out of memory");
    }
    *out = page;
    return 0;
}

struct alloc_walk {
    const char *project;
    enum kairos_kind kind;
    size_t prefix_len;
    kairos_alloc_fn fn;
    void *arg;
};

static int alloc_page(void *arg, const struct kairos_kvs *kvs)
{
    struct alloc_walk *w = arg;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < kvs->n; i++) {
        struct kairos_alloc a;
        rc = kairos_alloc_from_record(&a, w->project, w->kind, kvs->v[i].key + w->prefix_len,
                                      kvs->v[i].val);
        if (rc == 0) {
            rc = w->fn(w->arg, &a);
            kairos_alloc_clear(&a);
        } else if (rc != -ENOMEM) {
            rc = 0; /* not an allocation record: skip it */
        }
    }
    return rc;
}

int kairos_ledger_each(struct kairos *k, const char *project, enum kairos_kind kind,
                       kairos_alloc_fn fn, void *arg)
{
    char oid[KAIROS_KEY_MAX], prefix[KAIROS_KEY_MAX];
    struct alloc_walk w = {project, kind, 0, fn, arg};

    if (!kairos_name_valid(project) || (unsigned)kind >= KAIROS_KIND_COUNT)
        return -EINVAL;
    kairos_project_oid(oid, project);
    snprintf(prefix, sizeof(prefix), "a.%s.", kairos_kind_name(kind));
    w.prefix_len = strlen(prefix);
    return kairos_store_each(k->meta, oid, prefix, NULL, LIST_MAX, alloc_page, &w);
}

/* Sum one page of "a." records into @arg (a struct kairos_audit). */
static int audit_page(void *arg, const struct kairos_kvs *kvs)
{
    struct kairos_audit *a = arg;

    for (size_t i = 0; i < kvs->n; i++) {
        char kname[16];
        enum kairos_kind kind;
        json_t *rec;

        if (sscanf(kvs->v[i].key, "a.%15[a-z].", kname) != 1 || kairos_kind_parse(kname, &kind))
            continue;
        rec = json_loads(kvs->v[i].val, 0, NULL);
        const char *op = rec_op(rec);
        uint64_t bytes = kairos_json_u64(rec, "bytes", 0);
        uint64_t eff = kairos_json_u64(rec, "eff", 0);
        /* A pending grow is counted at its target; a pending shrink at its old size. */
        if (op && strcmp(op, "resize") == 0) {
            uint64_t target = kairos_json_u64(rec, "target", bytes);
            uint64_t target_eff = kairos_json_u64(rec, "target_eff", eff);
            bytes = target > bytes ? target : bytes;
            eff = target_eff > eff ? target_eff : eff;
        }
        a->summed_bytes[kind] += bytes;
        a->summed_count[kind] += 1;
        a->summed_eff += eff;
        json_decref(rec);
    }
    return 0;
}

/* Count one page of "i." intents into @arg (a struct kairos_audit). */
static int intents_page(void *arg, const struct kairos_kvs *kvs)
{
    ((struct kairos_audit *)arg)->pending += kvs->n;
    return 0;
}

int kairos_ledger_audit(struct kairos *k, const char *project, struct kairos_audit *out,
                        struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX];
    const char *keys[] = {"ledger"};
    struct kairos_counts c;
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    read_counts(&kvs, &c);
    kairos_kvs_free(&kvs);
    rc = kairos_store_each(k->meta, oid, "a.", NULL, LIST_MAX, audit_page, out);
    if (rc == 0)
        rc = kairos_store_each(k->meta, oid, "i.", NULL, LIST_MAX, intents_page, out);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    out->consistent = c.eff == out->summed_eff;
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        out->counted_bytes[i] = c.bytes[i];
        out->counted_count[i] = c.count[i];
        out->consistent = out->consistent && c.bytes[i] == out->summed_bytes[i] &&
                          c.count[i] == out->summed_count[i];
    }
    out->counted_eff = c.eff;
    out->grant = c.grant;
    out->consistent = out->consistent && c.grant >= c.eff;
    return 0;
}

int kairos_usage_get(struct kairos *k, const char *project, struct kairos_usage *out,
                     struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX];
    const char *keys[] = {"quota", "ledger"};
    struct kairos_counts c;
    struct kairos_quota q;
    struct kairos_kvs kvs;
    json_t *qj;
    uint64_t gen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 2, &gen, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", project);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    qj = kairos_kvs_json(&kvs, "quota");
    kairos_quota_from_json(qj, &q);
    json_decref(qj);
    read_counts(&kvs, &c);
    kairos_kvs_free(&kvs);

    out->total_quota_bytes = q.total_bytes;
    out->total_used_bytes = -1;
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        struct kairos_usage_kind *u = &out->kind[i];
        struct kairos_kind_ops ops;
        uint64_t used;

        u->quota = q.kind[i];
        u->alloc_bytes = c.bytes[i];
        u->alloc_count = c.count[i];
        u->used_bytes = -1;
        if (i != KAIROS_SNAPSHOT)
            out->total_alloc_bytes += c.bytes[i];
        if (kairos_kind_ops_get(k, i, &ops) == 0 && ops.used &&
            ops.used(ops.arg, project, &used, NULL) == 0) {
            u->used_bytes = (int64_t)used;
            out->total_used_bytes =
                (out->total_used_bytes < 0 ? 0 : out->total_used_bytes) + (int64_t)used;
        }
    }
    return 0;
}

static int purge_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct step *st = arg;
    struct kairos_counts c;
    json_t *rec = record_get(st, kvs);
    uint64_t bytes, eff;

    if (!rec)
        return KAIROS_STORE_NOOP;
    read_counts(kvs, &c);
    /* Uncount what the record counts: a pending grow at its target. */
    bytes = kairos_json_u64(rec, "bytes", 0);
    eff = kairos_json_u64(rec, "eff", 0);
    if (rec_op(rec) && strcmp(rec_op(rec), "resize") == 0) {
        uint64_t target = kairos_json_u64(rec, "target", bytes);
        uint64_t target_eff = kairos_json_u64(rec, "target_eff", eff);
        bytes = target > bytes ? target : bytes;
        eff = target_eff > eff ? target_eff : eff;
    }
    c.bytes[st->kind] = sub(c.bytes[st->kind], bytes);
    c.count[st->kind] = sub(c.count[st->kind], 1);
    c.eff = sub(c.eff, eff);
    write_counts(st, txn, &c);
    kairos_txn_rm(txn, st->akey);
    kairos_txn_rm(txn, st->ikey);
    json_decref(rec);
    return 0;
}

int kairos_ledger_purge(struct kairos *k, const char *project, enum kairos_kind kind,
                        const char *name, struct kairos_error *err)
{
    struct step st;
    char oid[KAIROS_KEY_MAX];
    const char *keys[] = {"ledger", st.akey};
    int rc;

    rc = step_init(&st, k, project, kind, name, KAIROS_OP_DELETE, err);
    if (rc < 0)
        return rc;
    kairos_project_oid(oid, project);
    rc = kairos_store_update(k->meta, oid, keys, 2, false, purge_step, &st);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "project %s: ledger update failed: %s", project,
                                strerror(-rc));
    return 0;
}

struct purge_prefix {
    struct kairos *k;
    const char *prefix;
    struct kairos_error *err;
};

static int purge_if_prefixed(void *arg, const struct kairos_alloc *a)
{
    struct purge_prefix *pp = arg;

    if (strncmp(a->name, pp->prefix, strlen(pp->prefix)) != 0)
        return 0;
    return kairos_ledger_purge(pp->k, a->project, a->kind, a->name, pp->err);
}

int kairos_ledger_purge_prefix(struct kairos *k, const char *project, enum kairos_kind kind,
                               const char *prefix, struct kairos_error *err)
{
    struct purge_prefix pp = {k, prefix, err};
    int rc = kairos_ledger_each(k, project, kind, purge_if_prefixed, &pp);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0 && (!err || !err->code))
        kairos_error_set(err, rc, "project %s: cannot list %s records: %s", project,
                         kairos_kind_name(kind), strerror(-rc));
    return rc;
}

int kairos_ledger_recorded(struct kairos *k, const char *project, enum kairos_kind kind,
                           const char *name, const char *key, uint64_t *bytes, uint64_t *attr,
                           struct kairos_error *err)
{
    struct kairos_alloc a;
    json_t *attrs;
    int rc = kairos_ledger_get(k, project, kind, name, &a, err);

    if (rc < 0)
        return rc;
    attrs = a.attrs ? json_loads(a.attrs, 0, NULL) : NULL;
    *attr = kairos_json_u64(attrs, key, 0);
    json_decref(attrs);
    *bytes = a.op == KAIROS_OP_RESIZE ? a.target_bytes : a.bytes;
    kairos_alloc_clear(&a);
    return 0;
}
