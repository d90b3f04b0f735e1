/*
 * registry.c - caller-named JSON records, sharded over omap objects and
 * guarded key by key (see kairos/registry.h).
 *
 * A record is key "<space>/<id>" of shard object "kairos.registry.<n>",
 * n = FNV-1a(id) % shards. Writes are kairos_txn_new_keyed() txns: an
 * omap_cmp on each key they rely on, nothing else, so the number of records
 * and of writers on other ids costs a write nothing.
 */
#include <kairos/kairos.h>
#include <kairos/registry.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kairos_int.h"
#include "registry_int.h"
#include "store.h"

#define REGISTRY_BASE   "kairos.registry"
#define REGISTRY_LEGACY "kairos.registry" /* the single object of before the shards */
#define REGISTRY_META   "kairos.registry.meta"
#define SPACE_MAX       32
#define KEY_MAX         (SPACE_MAX + 1 + KAIROS_REGISTRY_ID_MAX + 1)
/* Records read or written by one op: a txn carries at most 8 comparisons. */
#define BATCH_MAX 8
/* Keys a sweep or a migration reads per omap page. */
#define PAGE_KEYS 500
/* Passes a migration makes before it gives up on a single object still written to. */
#define MIGRATE_ROUNDS 5

int kairos_registry_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > KAIROS_REGISTRY_ID_MAX)
        return 0;
    for (const char *c = id; *c; c++) {
        if (*c < 0x21 || *c > 0x7e || *c == '/')
            return 0;
    }
    return 1;
}

unsigned kairos_registry_shard(const char *id, unsigned shards)
{
    /* FNV-1a, 32 bits: simple, stable across versions and hosts, well spread. */
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return shards ? h % shards : 0;
}

void kairos_shard_oid(char *buf, const char *base, unsigned shard)
{
    snprintf(buf, KAIROS_SHARD_OID_MAX, "%s.%u", base, shard);
}

unsigned kairos_shard_count(const struct kairos *k)
{
    return k->cfg->registry.shards ? (unsigned)k->cfg->registry.shards : 1;
}

static int make_key(char *key, const char *space, const char *id, struct kairos_error *err)
{
    if (!kairos_name_valid(space) || strlen(space) > SPACE_MAX)
        return kairos_error_set(err, -EINVAL, "bad registry space");
    if (!kairos_registry_id_valid(id))
        return kairos_error_set(err, -EINVAL,
                                "bad id: 1 to %d printable characters, no '/' or spaces",
                                KAIROS_REGISTRY_ID_MAX);
    snprintf(key, KEY_MAX, "%s/%s", space, id);
    return 0;
}

static void id_oid(const struct kairos *k, const char *id, char *oid)
{
    kairos_shard_oid(oid, REGISTRY_BASE, kairos_registry_shard(id, kairos_shard_count(k)));
}

static int json_object_text(const char *json, struct kairos_error *err)
{
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    int ok = json_is_object(j);

    json_decref(j);
    return ok ? 0 : kairos_error_set(err, -EINVAL, "a registry record is a JSON object");
}

int kairos_registry_put(struct kairos *k, const char *space, const char *id, const char *json,
                        unsigned flags, struct kairos_error *err)
{
    struct kairos_registry_change c = {space, NULL, json};
    char key[KEY_MAX], oid[KAIROS_SHARD_OID_MAX];
    struct kairos_txn *txn;
    int rc;

    if (json_object_text(json, err) < 0 || make_key(key, space, id, err) < 0)
        return -EINVAL;
    if (flags & KAIROS_REGISTRY_CREATE) {
        rc = kairos_registry_swap(k, id, &c, 1, err);
        if (rc == -ECANCELED)
            return kairos_error_set(err, -EEXIST, "%s %s exists", space, id);
        return rc;
    }
    id_oid(k, id, oid);
    txn = kairos_txn_new_keyed();
    if (!txn)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_txn_set(txn, key, json);
    rc = kairos_txn_commit(txn, k->meta, oid);
    kairos_txn_free(txn);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot store %s %s: %s", space, id, strerror(-rc));
    return 0;
}

int kairos_registry_get_many(struct kairos *k, const char *const *spaces, size_t n, const char *id,
                             char **json, struct kairos_error *err)
{
    char keys[BATCH_MAX][KEY_MAX], oid[KAIROS_SHARD_OID_MAX];
    const char *kp[BATCH_MAX];
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc;

    if (n == 0 || n > BATCH_MAX)
        return kairos_error_set(err, -EINVAL, "1 to %d spaces at a time", BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        json[i] = NULL;
        if (make_key(keys[i], spaces[i], id, err) < 0)
            return -EINVAL;
        kp[i] = keys[i];
    }
    id_oid(k, id, oid);
    rc = kairos_store_read(k->meta, oid, kp, n, &gen, &kvs);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read %s: %s", id, strerror(-rc));
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *v = kairos_kvs_get(&kvs, keys[i]);
        if (v && !(json[i] = strdup(v)))
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
    }
    kairos_kvs_free(&kvs);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++) {
            free(json[i]);
            json[i] = NULL;
        }
    }
    return rc;
}

int kairos_registry_get(struct kairos *k, const char *space, const char *id, char **json,
                        struct kairos_error *err)
{
    int rc = kairos_registry_get_many(k, &space, 1, id, json, err);

    if (rc == 0 && !*json)
        return kairos_error_set(err, -ENOENT, "no %s %s", space, id);
    return rc;
}

int kairos_registry_swap(struct kairos *k, const char *id,
                         const struct kairos_registry_change *changes, size_t n,
                         struct kairos_error *err)
{
    char key[KEY_MAX], oid[KAIROS_SHARD_OID_MAX];
    struct kairos_txn *txn;
    int rc = 0;

    if (n == 0 || n > BATCH_MAX)
        return kairos_error_set(err, -EINVAL, "1 to %d changes at a time", BATCH_MAX);
    txn = kairos_txn_new_keyed();
    if (!txn)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = make_key(key, changes[i].space, id, err);
        if (rc == 0 && changes[i].json)
            rc = json_object_text(changes[i].json, err);
        if (rc < 0)
            break;
        kairos_txn_expect(txn, key, changes[i].expect);
        if (changes[i].json)
            kairos_txn_set(txn, key, changes[i].json);
        else
            kairos_txn_rm(txn, key);
    }
    if (rc == 0) {
        id_oid(k, id, oid);
        rc = kairos_txn_commit(txn, k->meta, oid);
        if (rc == -ECANCELED)
            kairos_error_set(err, rc, "%s changed meanwhile", id);
        else if (rc < 0)
            kairos_error_set(err, rc, "cannot store %s: %s", id, strerror(-rc));
    }
    kairos_txn_free(txn);
    return rc;
}

int kairos_registry_delete(struct kairos *k, const char *space, const char *id,
                           struct kairos_error *err)
{
    char key[KEY_MAX], oid[KAIROS_SHARD_OID_MAX];
    struct kairos_txn *txn;
    int rc;

    if (make_key(key, space, id, err) < 0)
        return -EINVAL;
    id_oid(k, id, oid);
    txn = kairos_txn_new_keyed();
    if (!txn)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_txn_rm(txn, key);
    rc = kairos_txn_commit(txn, k->meta, oid);
    kairos_txn_free(txn);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot forget %s %s: %s", space, id, strerror(-rc));
    return 0;
}

/* ---- expiry ---- */

struct sweep {
    struct kairos *k;
    const char *oid;
    uint64_t now_ms, removed;
};

/* Remove @n expired keys of one page at once, each guarded by the value read. */
static int remove_expired(struct sweep *s, const struct kairos_kv *const *kv, size_t n)
{
    struct kairos_txn *txn;
    int rc;

    if (n == 0)
        return 0;
    txn = kairos_txn_new_keyed();
    if (!txn)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        kairos_txn_expect(txn, kv[i]->key, kv[i]->val);
        kairos_txn_rm(txn, kv[i]->key);
    }
    rc = kairos_txn_commit(txn, s->k->meta, s->oid);
    kairos_txn_free(txn);
    /* One was renewed meanwhile: the others go at the next sweep. */
    if (rc == -ECANCELED)
        return 0;
    if (rc == 0)
        s->removed += n;
    return rc;
}

static int sweep_page(void *arg, const struct kairos_kvs *page)
{
    struct sweep *s = arg;
    const struct kairos_kv *batch[BATCH_MAX];
    size_t n = 0;
    int rc = 0;

    for (size_t i = 0; i < page->n && rc == 0; i++) {
        json_t *j = json_loads(page->v[i].val, 0, NULL);
        json_t *e = json_object_get(j, "expires");
        bool expired = json_is_integer(e) && (uint64_t)json_integer_value(e) <= s->now_ms;
        json_decref(j);
        if (!expired)
            continue;
        batch[n++] = &page->v[i];
        if (n == BATCH_MAX) {
            rc = remove_expired(s, batch, n);
            n = 0;
        }
    }
    if (rc == 0)
        rc = remove_expired(s, batch, n);
    return rc;
}

int kairos_registry_sweep(struct kairos *k, const char *space, uint64_t now_ms, uint64_t *removed,
                          struct kairos_error *err)
{
    char prefix[SPACE_MAX + 2], oid[KAIROS_SHARD_OID_MAX];
    struct sweep s = {.k = k, .now_ms = now_ms};
    int rc = 0;

    if (removed)
        *removed = 0;
    if (!kairos_name_valid(space) || strlen(space) > SPACE_MAX)
        return kairos_error_set(err, -EINVAL, "bad registry space");
    snprintf(prefix, sizeof(prefix), "%s/", space);
    for (unsigned shard = 0; shard < kairos_shard_count(k) && rc == 0; shard++) {
        kairos_shard_oid(oid, REGISTRY_BASE, shard);
        s.oid = oid;
        rc = kairos_store_each(k->meta, oid, prefix, NULL, PAGE_KEYS, sweep_page, &s);
        if (rc == -ENOENT)
            rc = 0;
    }
    if (removed)
        *removed = s.removed;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot sweep the %s records: %s", space, strerror(-rc));
    return 0;
}

/* ---- opening, and the move from one object into shards ---- */

struct migration {
    struct kairos *k;
    kairos_migrate_fn copy;
    uint64_t *moved;
};

static int migrate_page(void *arg, const struct kairos_kvs *page)
{
    struct migration *m = arg;

    return m->copy(m->k, page, m->moved);
}

int kairos_shard_migrate(struct kairos *k, const char *legacy, kairos_migrate_fn copy,
                         uint64_t *moved)
{
    struct migration m = {k, copy, moved};

    for (int round = 0; round < MIGRATE_ROUNDS; round++) {
        struct kairos_kvs none;
        struct kairos_txn *txn;
        uint64_t gen;
        int rc = kairos_store_read(k->meta, legacy, NULL, 0, &gen, &none);

        if (rc == -ENOENT)
            return 0;
        if (rc < 0)
            return rc;
        kairos_kvs_free(&none);
        rc = kairos_store_each(k->meta, legacy, "", NULL, PAGE_KEYS, migrate_page, &m);
        if (rc == -ENOENT)
            return 0;
        if (rc < 0)
            return rc;
        /* Removed only if nobody wrote since the copy began: else copy again. */
        txn = kairos_txn_new(gen, false);
        if (!txn)
            return -ENOMEM;
        kairos_txn_remove(txn);
        rc = kairos_txn_commit(txn, k->meta, legacy);
        kairos_txn_free(txn);
        if (rc == 0 || rc == -ENOENT)
            return 0;
        if (rc != -ECANCELED)
            return rc;
    }
    return -EAGAIN;
}

/* Copy @n records of one shard, none of which may be there yet; -ECANCELED if one is. */
static int copy_absent(struct kairos *k, const char *oid, const struct kairos_kv *const *kv,
                       size_t n)
{
    struct kairos_txn *txn = kairos_txn_new_keyed();
    int rc;

    if (!txn)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        kairos_txn_expect(txn, kv[i]->key, NULL);
        kairos_txn_set(txn, kv[i]->key, kv[i]->val);
    }
    rc = kairos_txn_commit(txn, k->meta, oid);
    kairos_txn_free(txn);
    return rc;
}

/* A page of "kairos.registry": "<space>/<id>" keys go to the shard of <id>. */
static int copy_records(struct kairos *k, const struct kairos_kvs *page, uint64_t *moved)
{
    unsigned shards = kairos_shard_count(k);

    for (unsigned shard = 0; shard < shards; shard++) {
        const struct kairos_kv *batch[BATCH_MAX];
        char oid[KAIROS_SHARD_OID_MAX];
        size_t n = 0;

        kairos_shard_oid(oid, REGISTRY_BASE, shard);
        for (size_t i = 0; i <= page->n; i++) {
            const char *slash = i < page->n ? strchr(page->v[i].key, '/') : NULL;
            int rc = 0;
            if (i < page->n && (!slash || kairos_registry_shard(slash + 1, shards) != shard))
                continue;
            if (i < page->n)
                batch[n++] = &page->v[i];
            if (n == 0 || (n < BATCH_MAX && i < page->n))
                continue;
            rc = copy_absent(k, oid, batch, n);
            /* Some are in the shard already, newer: copy the others one by one. */
            for (size_t j = 0; rc == -ECANCELED && j < n; j++) {
                int one = copy_absent(k, oid, &batch[j], 1);
                if (one < 0 && one != -ECANCELED)
                    return one;
                *moved += one == 0;
            }
            if (rc < 0 && rc != -ECANCELED)
                return rc;
            if (rc == 0)
                *moved += n;
            n = 0;
        }
    }
    return 0;
}

/* The shard count is the registry's for ever: recorded once, then checked. */
static int check_shards(struct kairos *k, unsigned *out, struct kairos_error *err)
{
    const char *keys[] = {"shards"};
    char want[16];

    snprintf(want, sizeof(want), "%u", kairos_shard_count(k));
    for (int attempt = 0; attempt < 2; attempt++) {
        struct kairos_kvs kvs;
        struct kairos_txn *txn;
        uint64_t gen;
        int rc = kairos_store_read(k->meta, REGISTRY_META, keys, 1, &gen, &kvs);

        if (rc == 0) {
            const char *have = kairos_kvs_get(&kvs, "shards");
            unsigned n = have ? (unsigned)strtoul(have, NULL, 10) : 0;
            kairos_kvs_free(&kvs);
            *out = n;
            if (n == kairos_shard_count(k))
                return 0;
            return kairos_error_set(err, -EINVAL,
                                    "the registry has %u shards, but [registry] shards is %u: "
                                    "the count cannot change once in use",
                                    n, kairos_shard_count(k));
        }
        if (rc != -ENOENT)
            return kairos_error_set(err, rc, "registry: %s", strerror(-rc));
        txn = kairos_txn_new(0, true);
        if (!txn)
            return kairos_error_set(err, -ENOMEM, "out of memory");
        kairos_txn_set(txn, "shards", want);
        rc = kairos_txn_commit(txn, k->meta, REGISTRY_META);
        kairos_txn_free(txn);
        /* EEXIST: another kairosd recorded it first; read what it wrote. */
        if (rc < 0 && rc != -EEXIST)
            return kairos_error_set(err, rc, "registry: %s", strerror(-rc));
    }
    return kairos_error_set(err, -EIO, "registry: cannot read its shard count");
}

int kairos_registry_open(struct kairos *k, struct kairos_registry_report *rep,
                         struct kairos_error *err)
{
    struct kairos_registry_report r = {0};
    int rc;

    rc = check_shards(k, &r.shards, err);
    if (rc < 0)
        return rc;
    rc = kairos_shard_migrate(k, REGISTRY_LEGACY, copy_records, &r.records_moved);
    if (rc < 0)
        return kairos_error_set(err, rc, "moving the registry into %u shards: %s", r.shards,
                                strerror(-rc));
    rc = kairos_token_migrate(k, &r.tokens_moved, err);
    if (rc < 0)
        return rc;
    if (rep)
        *rep = r;
    return 0;
}
