/*
 * project.c - projects: create, get, find, list, set quota, delete
 * (see kairos/project.h).
 *
 * A project touches two objects, the index and its own object, so both
 * create and delete move through states the reconciler can finish:
 *
 *   create: index "creating" -> project object -> index "active"
 *   delete: object "deleting" -> cascade -> budget back -> object removed
 *           -> index entries removed
 *
 * The project object is the truth for admission; the index serves
 * listings and owner lookups.
 */
#include <kairos/kairos.h>
#include <kairos/token.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "cache_int.h"
#include "fault.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "project_int.h"
#include "record.h"
#include "store.h"

#define LIST_MAX 1000
/* Kinds in the order a cascade removes them: snapshots before their parents. */
static const enum kairos_kind cascade_order[] = {KAIROS_SNAPSHOT, KAIROS_VOLUME, KAIROS_SHARE,
                                                 KAIROS_BUCKET};
/* Passes over the allocations: a clone must go before its parent can. */
#define CASCADE_PASSES 3

static void index_key(char *buf, const char *name)
{
    snprintf(buf, KAIROS_KEY_MAX, "p.%s", name);
}

static void owner_key(char *buf, const struct kairos_owner *o)
{
    snprintf(buf, KAIROS_KEY_MAX, "o.%s:%s", o->platform, o->id);
}

static bool has_owner(const struct kairos_owner *o)
{
    return o && (o->platform[0] || o->id[0]);
}

static int check_owner(const struct kairos_owner *o, struct kairos_error *err)
{
    if (!has_owner(o))
        return 0;
    if (!kairos_name_valid(o->platform) || strlen(o->platform) > KAIROS_PLATFORM_MAX)
        return kairos_error_set(err, -EINVAL,
                                "owner platform must be a short name such as "
                                "'openstack' or 'kubernetes'");
    if (!kairos_owner_id_valid(o->id))
        return kairos_error_set(err, -EINVAL,
                                "owner id must be 1 to %d characters of [A-Za-z0-9._:/-]",
                                KAIROS_OWNER_ID_MAX);
    return 0;
}

int kairos_quota_check(const struct kairos_quota *q, struct kairos_error *err)
{
    if (!q)
        return kairos_error_set(err, -EINVAL, "no quota");
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        const struct kairos_limit *l = &q->kind[k];
        if (k != KAIROS_SNAPSHOT && l->bytes != KAIROS_UNLIMITED && l->bytes > KAIROS_SIZE_MAX)
            return kairos_error_set(err, -EINVAL, "%s bytes quota is above 2^63-1",
                                    kairos_kind_name(k));
        if (l->count != KAIROS_UNLIMITED && l->count > KAIROS_SIZE_MAX)
            return kairos_error_set(err, -EINVAL, "%s count quota is above 2^63-1",
                                    kairos_kind_name(k));
    }
    if (q->total_bytes != KAIROS_UNLIMITED && q->total_bytes > KAIROS_SIZE_MAX)
        return kairos_error_set(err, -EINVAL, "total bytes quota is above 2^63-1");
    return 0;
}

static const char *meta_state(const json_t *meta)
{
    const char *s = json_string_value(json_object_get(meta, "state"));

    return s ? s : "active";
}

/* ---- create ---- */

struct create_step {
    const char *name;
    const struct kairos_owner *owner;
    const struct kairos_quota *quota;
    char pkey[KAIROS_KEY_MAX];
    char okey[KAIROS_KEY_MAX];
    const char *state; /* index state to write */
    uint64_t ts;       /* of the "creating" entry this call wrote */
    json_t *creating;  /* index_add_step(): the entry of another create, if any */
    struct kairos_error *err;
};

static void set_index_entry(struct kairos_txn *txn, struct create_step *st)
{
    static const struct kairos_owner nobody;
    json_t *o = kairos_owner_to_json(st->owner ? st->owner : &nobody);
    json_t *e;

    st->ts = kairos_now_ms();
    e = json_pack("{s:o,s:s,s:I}", "owner", o, "state", st->state, "ts", (json_int_t)st->ts);
    kairos_txn_set_json(txn, st->pkey, e);
    json_decref(e);
}

static int index_add_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct create_step *st = arg;
    const char *mapped = has_owner(st->owner) ? kairos_kvs_get(kvs, st->okey) : NULL;
    json_t *entry = kairos_kvs_json(kvs, st->pkey);
    const char *state = json_string_value(json_object_get(entry, "state"));
    int rc = 0;

    json_decref(st->creating);
    st->creating = NULL;
    if (entry && state && strcmp(state, "deleting") == 0) {
        rc = kairos_error_set(st->err, -EBUSY, "project %s is still being deleted", st->name);
    } else if (entry && state && strcmp(state, "creating") == 0) {
        /* Another create, perhaps long dead: the caller settles it first. */
        st->creating = json_incref(entry);
        rc = -EINPROGRESS;
    } else if (entry)
        rc = kairos_error_set(st->err, -EEXIST, "project %s exists", st->name);
    else if (mapped)
        rc = kairos_error_set(st->err, -EEXIST, "owner %s:%s already belongs to project %s",
                              st->owner->platform, st->owner->id, mapped);
    json_decref(entry);
    if (rc < 0)
        return rc;
    set_index_entry(txn, st);
    if (has_owner(st->owner))
        kairos_txn_set(txn, st->okey, st->name);
    return 0;
}

static int index_state_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct create_step *st = arg;
    json_t *entry = kairos_kvs_json(kvs, st->pkey);

    if (!entry)
        return KAIROS_STORE_NOOP;
    json_object_set_new(entry, "state", json_string(st->state));
    kairos_txn_set_json(txn, st->pkey, entry);
    json_decref(entry);
    return 0;
}

static int object_create_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct create_step *st = arg;
    static const struct kairos_owner nobody;
    struct kairos_counts zero = {0};
    json_t *meta, *q, *l;

    if (kairos_kvs_get(kvs, "meta"))
        return kairos_error_set(st->err, -EEXIST, "project %s exists", st->name);
    meta = json_pack("{s:s,s:o,s:s,s:I}", "name", st->name, "owner",
                     kairos_owner_to_json(st->owner ? st->owner : &nobody), "state", "active",
                     "created", (json_int_t)kairos_now_ms());
    q = kairos_quota_to_json(st->quota);
    l = kairos_counts_to_json(&zero);
    kairos_txn_set_json(txn, "meta", meta);
    kairos_txn_set_json(txn, "quota", q);
    kairos_txn_set_json(txn, "ledger", l);
    json_decref(meta);
    json_decref(q);
    json_decref(l);
    return 0;
}

/* ---- a create cut short ---- */

struct rollback_step {
    const char *name;
    uint64_t ts; /* of the "creating" entry to remove */
    char pkey[KAIROS_KEY_MAX];
    char okey[KAIROS_KEY_MAX];
};

/* Remove a "creating" index entry, and its owner's mapping, if it is still the one at @ts. */
static int rollback_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct rollback_step *st = arg;
    json_t *entry = kairos_kvs_json(kvs, st->pkey);
    const char *state = json_string_value(json_object_get(entry, "state"));
    const char *mapped = kairos_kvs_get(kvs, st->okey);
    int rc = 0;

    if (!entry || !state || strcmp(state, "creating") != 0 ||
        kairos_json_u64(entry, "ts", 0) != st->ts) {
        rc = KAIROS_STORE_NOOP;
    } else {
        kairos_txn_rm(txn, st->pkey);
        if (mapped && strcmp(mapped, st->name) == 0)
            kairos_txn_rm(txn, st->okey);
    }
    json_decref(entry);
    return rc;
}

static int forget_creating(struct kairos *k, const char *name, const json_t *entry, uint64_t ts)
{
    struct rollback_step st = {.name = name, .ts = ts};
    const char *keys[] = {st.pkey, st.okey};
    struct kairos_owner owner;

    index_key(st.pkey, name);
    kairos_owner_from_json(json_object_get(entry, "owner"), &owner);
    if (has_owner(&owner))
        owner_key(st.okey, &owner);
    else
        snprintf(st.okey, sizeof(st.okey), "o.");
    return kairos_store_update(k->meta, KAIROS_INDEX_OID, keys, 2, false, rollback_step, &st);
}

static int project_exists(struct kairos *k, const char *oid);

/*
 * A "creating" index entry, as the reconciler would settle it: the object
 * exists (the create got through) -> active; no object and the entry is
 * older than the lease (its creator is past its fence) -> forgotten.
 * Return: 1 (active), 0 (forgotten: the name is free), -EAGAIN (fresh:
 * its creator may still be at work), or a librados error.
 */
static int settle_creating(struct kairos *k, const char *name, const json_t *entry)
{
    uint64_t ts = kairos_json_u64(entry, "ts", 0);
    char oid[KAIROS_KEY_MAX];
    int rc;

    kairos_project_oid(oid, name);
    rc = project_exists(k, oid);
    if (rc == 0)
        return kairos_project_mark_active(k, name) < 0 ? -EAGAIN : 1;
    if (rc != -ENOENT)
        return rc;
    if (ts + k->cfg->reconcile.lease_ms > kairos_now_ms())
        return -EAGAIN;
    rc = forget_creating(k, name, entry, ts);
    return rc < 0 ? rc : 0;
}

/* The index entry of @name (decref it), or NULL; *@rc a read error. */
static json_t *index_entry(struct kairos *k, const char *name, int *rc)
{
    char pkey[KAIROS_KEY_MAX];
    const char *keys[] = {pkey};
    struct kairos_kvs kvs;
    json_t *entry;
    uint64_t gen;

    index_key(pkey, name);
    *rc = kairos_store_read(k->meta, KAIROS_INDEX_OID, keys, 1, &gen, &kvs);
    if (*rc == -ENOENT)
        *rc = 0;
    entry = *rc == 0 ? kairos_kvs_json(&kvs, pkey) : NULL;
    kairos_kvs_free(&kvs);
    return entry;
}

static bool is_creating(const json_t *entry)
{
    const char *state = json_string_value(json_object_get(entry, "state"));

    return state && strcmp(state, "creating") == 0;
}

int kairos_project_create(struct kairos *k, const char *name, const struct kairos_owner *owner,
                          const struct kairos_quota *quota, struct kairos_error *err)
{
    struct create_step st = {.name = name, .owner = owner, .quota = quota, .err = err};
    const char *ikeys[] = {st.pkey, st.okey};
    char oid[KAIROS_KEY_MAX];
    int rc;

    if (kairos_name_check(name, "project", err) < 0 || check_owner(owner, err) < 0 ||
        kairos_quota_check(quota, err) < 0)
        return -EINVAL;
    index_key(st.pkey, name);
    if (has_owner(owner))
        owner_key(st.okey, owner);
    else
        snprintf(st.okey, sizeof(st.okey), "o.");
    st.state = "creating";
    rc = kairos_store_update(k->meta, KAIROS_INDEX_OID, ikeys, 2, true, index_add_step, &st);
    /* A create cut short before: settle it as the reconciler would, then try once more. */
    if (rc == -EINPROGRESS) {
        rc = settle_creating(k, name, st.creating);
        if (rc == 0)
            rc =
                kairos_store_update(k->meta, KAIROS_INDEX_OID, ikeys, 2, true, index_add_step, &st);
        else if (rc == 1)
            rc = kairos_error_set(err, -EEXIST, "project %s exists", name);
        if (rc == -EAGAIN || rc == -EINPROGRESS)
            rc = kairos_error_set(err, -EBUSY, "project %s is being created; try again", name);
    }
    json_decref(st.creating);
    if (rc < 0)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    kairos_fault("project.create.indexed");
    kairos_project_oid(oid, name);
    rc = kairos_fault_error("project.create.object");
    /* Within the fence only: past it, the reconciler may have forgotten the entry. */
    if (rc == 0 && kairos_now_ms() >= st.ts + kairos_fence_ms(k))
        rc = -ETIMEDOUT;
    if (rc == 0)
        rc = kairos_store_update(k->meta, oid, NULL, 0, true, object_create_step, &st);
    if (rc < 0) {
        /* Undone at once: no project stays "creating" after a failed create. */
        json_t *entry = json_pack("{s:o}", "owner",
                                  kairos_owner_to_json(owner ? owner : &(struct kairos_owner){0}));
        forget_creating(k, name, entry, st.ts);
        json_decref(entry);
        return kairos_error_set(err, rc, "project %s: %s", name, strerror(-rc));
    }
    st.state = "active";
    rc = kairos_store_update(k->meta, KAIROS_INDEX_OID, ikeys, 1, false, index_state_step, &st);
    /* The project exists and admits; a stale "creating" is only cosmetic. */
    (void)rc;
    /*
     * Its first slice of cluster budget, ahead of its first allocation, so
     * that the first allocations of many new projects do not all meet on
     * kairos.cluster. Best effort: without it, the first allocation takes one.
     */
    kairos_budget_acquire(k, name, 0, 0, NULL);
    return 0;
}

/* ---- get, find, list ---- */

static void project_from_meta(struct kairos_project *p, const char *name, const json_t *meta)
{
    const char *state = meta_state(meta);

    snprintf(p->name, sizeof(p->name), "%s", name);
    kairos_owner_from_json(json_object_get(meta, "owner"), &p->owner);
    p->state = kairos_project_state_parse(state);
    /* An index entry (a listing) has no "created": its "ts" was written as the
       project was created and made active, within moments of its creation. */
    p->created_ms = kairos_json_u64(meta, "created", kairos_json_u64(meta, "ts", 0));
}

/* A project without its object: one still being created shows as such. */
static int creating_project(struct kairos *k, const char *name, struct kairos_project *out,
                            struct kairos_error *err)
{
    int rc;
    json_t *entry = index_entry(k, name, &rc);

    if (rc < 0)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    if (!is_creating(entry)) {
        json_decref(entry);
        return kairos_error_set(err, -ENOENT, "no project %s", name);
    }
    project_from_meta(out, name, entry);
    out->created_ms = kairos_json_u64(entry, "ts", 0);
    kairos_quota_unlimited(&out->quota);
    json_decref(entry);
    return 0;
}

int kairos_project_get(struct kairos *k, const char *name, struct kairos_project *out,
                       struct kairos_error *err)
{
    const char *keys[] = {"meta", "quota"};
    char oid[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    json_t *meta, *q;
    uint64_t gen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kairos_name_check(name, "project", err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, name);
    rc = kairos_store_read(k->meta, oid, keys, 2, &gen, &kvs);
    if (rc == -ENOENT)
        return creating_project(k, name, out, err);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", name, strerror(-rc));
    meta = kairos_kvs_json(&kvs, "meta");
    q = kairos_kvs_json(&kvs, "quota");
    if (!meta) {
        rc = -ENOENT;
    } else {
        project_from_meta(out, name, meta);
        kairos_quota_from_json(q, &out->quota);
    }
    json_decref(meta);
    json_decref(q);
    kairos_kvs_free(&kvs);
    return rc == -ENOENT ? creating_project(k, name, out, err) : rc;
}

int kairos_project_find(struct kairos *k, const struct kairos_owner *owner, char *name,
                        struct kairos_error *err)
{
    char okey[KAIROS_KEY_MAX];
    const char *keys[] = {okey};
    struct kairos_kvs kvs;
    const char *v;
    uint64_t gen;
    int rc;

    name[0] = '\0';
    if (!has_owner(owner))
        return kairos_error_set(err, -EINVAL, "no owner given");
    if (check_owner(owner, err) < 0)
        return -EINVAL;
    owner_key(okey, owner);
    rc = kairos_store_read(k->meta, KAIROS_INDEX_OID, keys, 1, &gen, &kvs);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    v = rc == 0 ? kairos_kvs_get(&kvs, okey) : NULL;
    if (v && kairos_name_valid(v))
        snprintf(name, KAIROS_NAME_MAX + 1, "%s", v);
    else
        rc = kairos_error_set(err, -ENOENT, "no project belongs to %s:%s", owner->platform,
                              owner->id);
    kairos_kvs_free(&kvs);
    if (rc < 0)
        return rc;
    /* Being created: wait for it, or settle a create that was cut short. */
    json_t *entry = index_entry(k, name, &rc);
    if (rc == 0 && is_creating(entry)) {
        rc = settle_creating(k, name, entry);
        if (rc == 0) {
            /* Forgotten: the owner has no project now. */
            name[0] = '\0';
            rc = kairos_error_set(err, -ENOENT, "no project belongs to %s:%s", owner->platform,
                                  owner->id);
        } else if (rc == 1) {
            rc = 0;
        }
    }
    json_decref(entry);
    if (rc == -EAGAIN)
        kairos_error_set(err, rc, "project %s is being created; try again", name);
    else if (rc < 0)
        kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    if (rc < 0 && rc != -ENOENT)
        name[0] = '\0';
    return rc;
}

void kairos_project_page_free(struct kairos_project_page *page)
{
    if (!page)
        return;
    free(page->items);
    free(page);
}

int kairos_project_list(struct kairos *k, const char *start_after, unsigned max,
                        struct kairos_project_page **out, struct kairos_error *err)
{
    char after[KAIROS_KEY_MAX];
    struct kairos_project_page *page = NULL;
    struct kairos_kvs kvs = {0};
    int rc;

    *out = NULL;
    if (max == 0 || max > LIST_MAX)
        return kairos_error_set(err, -EINVAL, "page size must be 1 to %d", LIST_MAX);
    if (start_after && start_after[0] && !kairos_name_valid(start_after))
        return kairos_error_set(err, -EINVAL, "bad start_after: not a project name");
    index_key(after, start_after ? start_after : "");
    rc = kairos_store_list(k->meta, KAIROS_INDEX_OID, "p.", after, max, &kvs);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    page = calloc(1, sizeof(*page));
    if (page)
        page->items = calloc(kvs.n ? kvs.n : 1, sizeof(*page->items));
    if (!page || !page->items) {
        kairos_project_page_free(page);
        kairos_kvs_free(&kvs);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < kvs.n; i++) {
        json_t *e = json_loads(kvs.v[i].val, 0, NULL);
        struct kairos_project *p = &page->items[page->count++];
        project_from_meta(p, kvs.v[i].key + 2, e);
        kairos_quota_unlimited(&p->quota);
        json_decref(e);
    }
    page->more = kvs.more;
    kairos_kvs_free(&kvs);
    *out = page;
    return 0;
}

/* ---- quota ---- */

struct quota_step {
    const char *name;
    const struct kairos_quota *patch; /* KAIROS_QUOTA_KEEP: leave as it is */
    struct kairos_quota merged;       /* what was written */
    unsigned flags;
    struct kairos_error *err;
};

static int below_usage(const struct quota_step *st, const struct kairos_counts *c)
{
    const struct kairos_quota *q = &st->merged;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX];
    uint64_t total = 0;

    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        if (i != KAIROS_SNAPSHOT && q->kind[i].bytes != KAIROS_UNLIMITED &&
            q->kind[i].bytes < c->bytes[i])
            return kairos_error_set(
                st->err, -EBUSY, "project %s: new %s bytes limit %s is below the %s allocated",
                st->name, kairos_kind_name(i), kairos_size_format(q->kind[i].bytes, a, sizeof(a)),
                kairos_size_format(c->bytes[i], b, sizeof(b)));
        if (q->kind[i].count != KAIROS_UNLIMITED && q->kind[i].count < c->count[i])
            return kairos_error_set(
                st->err, -EBUSY, "project %s: new %s count limit %llu is below the %llu in use",
                st->name, kairos_kind_name(i), (unsigned long long)q->kind[i].count,
                (unsigned long long)c->count[i]);
        total += i == KAIROS_SNAPSHOT ? 0 : c->bytes[i];
    }
    if (q->total_bytes != KAIROS_UNLIMITED && q->total_bytes < total)
        return kairos_error_set(st->err, -EBUSY,
                                "project %s: new total bytes limit %s is below the %s allocated",
                                st->name, kairos_size_format(q->total_bytes, a, sizeof(a)),
                                kairos_size_format(total, b, sizeof(b)));
    return 0;
}

static void merge_limit(uint64_t *into, uint64_t patch)
{
    if (patch != KAIROS_QUOTA_KEEP)
        *into = patch;
}

/* The patch applied to the quota as read in the same guarded step. */
static int set_quota_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct quota_step *st = arg;
    json_t *meta = kairos_kvs_json(kvs, "meta");
    json_t *l, *q;
    struct kairos_counts c;
    int rc = 0;

    if (!meta)
        return kairos_error_set(st->err, -ENOENT, "no project %s", st->name);
    if (strcmp(meta_state(meta), "active") != 0)
        rc = kairos_error_set(st->err, -ENOENT, "project %s is being deleted", st->name);
    json_decref(meta);
    if (rc < 0)
        return rc;
    q = kairos_kvs_json(kvs, "quota");
    kairos_quota_from_json(q, &st->merged);
    json_decref(q);
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        merge_limit(&st->merged.kind[i].bytes, st->patch->kind[i].bytes);
        merge_limit(&st->merged.kind[i].count, st->patch->kind[i].count);
    }
    merge_limit(&st->merged.total_bytes, st->patch->total_bytes);
    l = kairos_kvs_json(kvs, "ledger");
    kairos_counts_from_json(l, &c);
    json_decref(l);
    if (!(st->flags & KAIROS_QUOTA_BELOW_USAGE) && below_usage(st, &c) < 0)
        return -EBUSY;
    q = kairos_quota_to_json(&st->merged);
    kairos_txn_set_json(txn, "quota", q);
    json_decref(q);
    return 0;
}

/* Rounds of "apply the quota, read it again" before leaving it to the next change. */
#define APPLY_ROUNDS 3

/*
 * Let each backend mirror the quota where Ceph can hold it (CephFS, RGW),
 * as the ledger holds it now: two updates racing each apply the latest
 * quota they can read, and one that finds it changed after applying
 * applies it again.
 */
static int apply_quota(struct kairos *k, const char *name, struct kairos_error *err)
{
    struct kairos_project p, again;
    int rc = kairos_project_get(k, name, &p, err);

    for (int round = 0; rc == 0 && round < APPLY_ROUNDS; round++) {
        for (int kind = 0; rc == 0 && kind < KAIROS_KIND_COUNT; kind++) {
            struct kairos_kind_ops ops;
            if (kairos_kind_ops_get(k, kind, &ops) < 0 || !ops.apply_quota)
                continue;
            rc = ops.apply_quota(ops.arg, name, &p.quota, err);
        }
        if (rc == 0)
            rc = kairos_project_get(k, name, &again, err);
        if (rc < 0 || memcmp(&again.quota, &p.quota, sizeof(p.quota)) == 0)
            break;
        p = again;
    }
    return rc;
}

static int check_patch(const struct kairos_quota *patch, struct kairos_error *err)
{
    struct kairos_quota q;

    if (!patch)
        return kairos_error_set(err, -EINVAL, "no quota");
    /* KEEP is no limit of its own: check the rest as a quota. */
    q = *patch;
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        if (q.kind[i].bytes == KAIROS_QUOTA_KEEP)
            q.kind[i].bytes = KAIROS_UNLIMITED;
        if (q.kind[i].count == KAIROS_QUOTA_KEEP)
            q.kind[i].count = KAIROS_UNLIMITED;
    }
    if (q.total_bytes == KAIROS_QUOTA_KEEP)
        q.total_bytes = KAIROS_UNLIMITED;
    return kairos_quota_check(&q, err);
}

int kairos_project_update_quota(struct kairos *k, const char *name,
                                const struct kairos_quota *patch, unsigned flags,
                                struct kairos_quota *out, struct kairos_error *err)
{
    struct quota_step st = {.name = name, .patch = patch, .flags = flags, .err = err};
    const char *keys[] = {"meta", "ledger", "quota"};
    char oid[KAIROS_KEY_MAX];
    int rc;

    if (kairos_name_check(name, "project", err) < 0 || check_patch(patch, err) < 0)
        return -EINVAL;
    if (flags & ~KAIROS_QUOTA_BELOW_USAGE)
        return kairos_error_set(err, -EINVAL, "unknown quota flags");
    kairos_project_oid(oid, name);
    rc = kairos_store_update(k->meta, oid, keys, 3, false, set_quota_step, &st);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", name);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", name, strerror(-rc));
    kairos_cache_notify(k, "project", name);
    if (out)
        *out = st.merged;
    /*
     * The ledger holds the new quota already; a backend that could not
     * follow keeps the old native limit until the next change, and says so.
     */
    return apply_quota(k, name, err);
}

int kairos_project_set_quota(struct kairos *k, const char *name, const struct kairos_quota *quota,
                             unsigned flags, struct kairos_error *err)
{
    if (kairos_quota_check(quota, err) < 0)
        return -EINVAL;
    return kairos_project_update_quota(k, name, quota, flags, NULL, err);
}

/* ---- delete ---- */

struct delete_step {
    const char *name;
    unsigned flags;
    struct kairos_owner owner;
    struct kairos_error *err;
};

/* "1 volume and 2 snapshots": what a project holds, only the kinds it has, in English. */
static const char *holdings(const struct kairos_counts *c, char *buf, size_t len)
{
    static const int kinds[] = {KAIROS_VOLUME, KAIROS_SHARE, KAIROS_BUCKET, KAIROS_SNAPSHOT};
    size_t n = 0, total = 0, done = 0;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        total += c->count[kinds[i]] != 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && n < len; i++) {
        uint64_t k = c->count[kinds[i]];
        if (!k)
            continue;
        done++;
        n += (size_t)snprintf(buf + n, len - n, "%s%" PRIu64 " %s%s",
                              done == 1       ? ""
                              : done == total ? " and "
                                              : ", ",
                              k, kairos_kind_name(kinds[i]), k == 1 ? "" : "s");
    }
    return buf;
}

static int holds_allocations(const struct kairos_counts *c)
{
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        if (c->count[i])
            return 1;
    }
    return 0;
}

static int mark_deleting_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct delete_step *st = arg;
    json_t *meta = kairos_kvs_json(kvs, "meta");
    json_t *l = kairos_kvs_json(kvs, "ledger");
    struct kairos_counts c;
    int rc = 0;

    kairos_counts_from_json(l, &c);
    json_decref(l);
    if (!meta)
        return kairos_error_set(st->err, -ENOENT, "no project %s", st->name);
    kairos_owner_from_json(json_object_get(meta, "owner"), &st->owner);
    if (!(st->flags & KAIROS_DELETE_FORCE) && holds_allocations(&c)) {
        char held[160];
        rc = kairos_error_set(st->err, -EBUSY, "project %s holds %s; delete those first, or force",
                              st->name, holdings(&c, held, sizeof(held)));
    } else if (strcmp(meta_state(meta), "deleting") == 0) {
        rc = KAIROS_STORE_NOOP;
    } else {
        json_object_set_new(meta, "state", json_string("deleting"));
        json_object_set_new(meta, "deleting_since", json_integer((json_int_t)kairos_now_ms()));
        kairos_txn_set_json(txn, "meta", meta);
    }
    json_decref(meta);
    return rc;
}

/* Destroy one allocation through its backend, then drop its record. */
static int cascade_one(struct kairos *k, const char *project, enum kairos_kind kind,
                       const char *name, struct kairos_error *err)
{
    struct kairos_kind_ops ops;
    int rc;

    if (kairos_kind_ops_get(k, kind, &ops) < 0 || !ops.destroy)
        return kairos_error_set(err, -ENOSYS, "no backend can delete %s %s", kairos_kind_name(kind),
                                name);
    rc = ops.destroy(ops.arg, project, name, err);
    if (rc < 0)
        return rc;
    return kairos_ledger_purge(k, project, kind, name, err);
}

/* One pass over every allocation; *left counts those still there. */
struct cascade {
    struct kairos *k;
    unsigned left;
    int first_rc;
    uint64_t newest; /* the latest intent found open, in ms */
    struct kairos_error *err;
};

static int cascade_alloc(void *arg, const struct kairos_alloc *a)
{
    struct cascade *c = arg;
    int rc;

    if (a->pending && a->intent_ms > c->newest)
        c->newest = a->intent_ms;
    rc = cascade_one(c->k, a->project, a->kind, a->name, c->err);

    if (rc < 0) {
        c->left++;
        c->first_rc = c->first_rc ? c->first_rc : rc;
    }
    return 0;
}

static int cascade_pass(struct kairos *k, const char *project, unsigned *left, uint64_t *newest,
                        struct kairos_error *err)
{
    struct cascade c = {k, 0, 0, *newest, err};

    *left = 0;
    for (size_t i = 0; i < sizeof(cascade_order) / sizeof(cascade_order[0]); i++) {
        int rc = kairos_ledger_each(k, project, cascade_order[i], cascade_alloc, &c);
        if (rc < 0)
            return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    }
    *left = c.left;
    *newest = c.newest;
    return c.left ? c.first_rc : 0;
}

static int cascade(struct kairos *k, const char *project, uint64_t *newest,
                   struct kairos_error *err)
{
    unsigned left = 0;
    int rc = 0;

    *newest = 0;
    for (int pass = 0; pass < CASCADE_PASSES; pass++) {
        struct kairos_error pass_err = {0};
        rc = cascade_pass(k, project, &left, newest, &pass_err);
        if (rc == 0)
            return 0;
        if (pass == CASCADE_PASSES - 1)
            kairos_error_set(err, rc, "%s", pass_err.msg);
    }
    return rc;
}

static int teardown(struct kairos *k, const char *project, struct kairos_error *err)
{
    for (int kind = 0; kind < KAIROS_KIND_COUNT; kind++) {
        struct kairos_kind_ops ops;
        if (kairos_kind_ops_get(k, kind, &ops) < 0 || !ops.teardown)
            continue;
        int rc = ops.teardown(ops.arg, project, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Remove the project object once nothing is counted, granted or in flight. */
static int remove_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct delete_step *st = arg;
    json_t *l = kairos_kvs_json(kvs, "ledger");
    struct kairos_counts c;

    kairos_counts_from_json(l, &c);
    json_decref(l);
    if (holds_allocations(&c) || c.grant || c.eff)
        return kairos_error_set(
            st->err, -EBUSY, "project %s: allocations or budget appeared during delete", st->name);
    kairos_txn_remove(txn);
    return 0;
}

/* Finish budget transfers recorded on the project before its object goes. */
static int settle_transfers(struct kairos *k, const char *oid, const char *project)
{
    struct kairos_reconcile_report rep = {0};
    struct kairos_kvs kvs;
    int rc = kairos_store_list(k->meta, oid, "t.", "", LIST_MAX, &kvs);

    if (rc < 0)
        return rc;
    if (kvs.n)
        kairos_budget_reconcile_project(k, project, &kvs, 0, &rep);
    kairos_kvs_free(&kvs);
    return rep.errors ? -EAGAIN : 0;
}

static int index_remove_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct delete_step *st = arg;
    char pkey[KAIROS_KEY_MAX], okey[KAIROS_KEY_MAX];
    const char *mapped;

    index_key(pkey, st->name);
    kairos_txn_rm(txn, pkey);
    if (has_owner(&st->owner)) {
        owner_key(okey, &st->owner);
        mapped = kairos_kvs_get(kvs, okey);
        if (mapped && strcmp(mapped, st->name) == 0)
            kairos_txn_rm(txn, okey);
    }
    return 0;
}

static int index_forget(struct kairos *k, struct delete_step *st)
{
    char pkey[KAIROS_KEY_MAX], okey[KAIROS_KEY_MAX];
    const char *keys[] = {pkey, okey};

    index_key(pkey, st->name);
    owner_key(okey, &st->owner);
    return kairos_store_update(k->meta, KAIROS_INDEX_OID, keys, 2, false, index_remove_step, st);
}

static int project_exists(struct kairos *k, const char *oid)
{
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc = kairos_store_read(k->meta, oid, NULL, 0, &gen, &kvs);

    kairos_kvs_free(&kvs);
    return rc;
}

int kairos_project_finish_delete(struct kairos *k, const char *name,
                                 const struct kairos_owner *owner, struct kairos_error *err)
{
    struct delete_step st = {.name = name, .err = err};
    const char *keys[] = {"ledger"};
    char oid[KAIROS_KEY_MAX];
    uint64_t newest = 0;
    int rc;

    if (owner)
        st.owner = *owner;
    kairos_project_oid(oid, name);
    rc = project_exists(k, oid);
    if (rc == -ENOENT)
        goto forget;
    if (rc == 0)
        rc = cascade(k, name, &newest, err);
    /*
     * A create reserved just before the delete may still be at work, and
     * would make the project's namespace, directory or RGW owner again
     * after a teardown now. It acts only within its fence; the teardown
     * waits until then, and the reconciler, which finishes a delete a
     * whole lease after it began, does it.
     */
    if (rc == 0 && newest && kairos_now_ms() < newest + kairos_fence_ms(k))
        return 0;
    if (rc == 0)
        rc = teardown(k, name, err);
    if (rc == 0)
        rc = kairos_budget_trim(k, name, 0, err);
    if (rc == 0)
        rc = settle_transfers(k, oid, name);
    if (rc == 0)
        rc = kairos_store_update(k->meta, oid, keys, 1, false, remove_step, &st);
    if (rc == -ENOENT)
        rc = 0;
forget:
    /* Its tokens go before its name is free again. */
    if (rc == 0 || rc == -ENOENT)
        rc = kairos_token_revoke_all(k, name, NULL);
    if (rc == 0 || rc == -ENOENT)
        rc = index_forget(k, &st);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        return kairos_error_set(err, rc,
                                "project %s: delete not finished (%s); the reconciler "
                                "will retry",
                                name, strerror(-rc));
    kairos_cache_notify(k, "project", name);
    return 0;
}

int kairos_project_mark_active(struct kairos *k, const char *name)
{
    struct create_step st = {.name = name, .state = "active"};
    const char *keys[] = {st.pkey};

    index_key(st.pkey, name);
    return kairos_store_update(k->meta, KAIROS_INDEX_OID, keys, 1, false, index_state_step, &st);
}

/* Delete a project that has no object: one whose create was cut short goes. */
static int delete_creating(struct kairos *k, const char *name, struct kairos_error *err)
{
    int rc;
    json_t *entry = index_entry(k, name, &rc);

    if (rc == 0 && !is_creating(entry))
        rc = kairos_error_set(err, -ENOENT, "no project %s", name);
    else if (rc == 0)
        rc = settle_creating(k, name, entry);
    json_decref(entry);
    if (rc == 1)
        return kairos_error_set(err, -EBUSY, "project %s was just created; try again", name);
    if (rc == -EAGAIN)
        return kairos_error_set(err, -EBUSY, "project %s is being created; try again", name);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "project index: %s", strerror(-rc));
    return rc;
}

int kairos_project_delete(struct kairos *k, const char *name, unsigned flags,
                          struct kairos_error *err)
{
    struct delete_step st = {.name = name, .flags = flags, .err = err};
    struct create_step idx = {.name = name, .state = "deleting"};
    const char *keys[] = {"meta", "ledger"};
    const char *ikeys[] = {idx.pkey};
    char oid[KAIROS_KEY_MAX];
    int rc;

    if (kairos_name_check(name, "project", err) < 0)
        return -EINVAL;
    if (flags & ~KAIROS_DELETE_FORCE)
        return kairos_error_set(err, -EINVAL, "unknown delete flags");
    kairos_project_oid(oid, name);
    rc = kairos_store_update(k->meta, oid, keys, 2, false, mark_deleting_step, &st);
    if (rc == -ENOENT)
        return delete_creating(k, name, err);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", name, strerror(-rc));
    kairos_cache_notify(k, "project", name);
    /* Listings show the state; the object already refuses new allocations. */
    index_key(idx.pkey, name);
    kairos_store_update(k->meta, KAIROS_INDEX_OID, ikeys, 1, false, index_state_step, &idx);
    return kairos_project_finish_delete(k, name, &st.owner, err);
}
