/*
 * token.c - hashed bearer tokens, sharded over omap objects (see
 * kairos/token.h).
 *
 * A token lives in shard "kairos.tokens.<n>", n chosen by its id (which the
 * token itself carries, so a lookup knows the shard) with the registry's
 * hash and shard count. Keys: "h.<sha256>" -> {"id","project","created","life"[,"description"]}
 * for lookups, and "p.<project>/<id>" -> "<sha256>" for listings and
 * revocations; both are written and removed in one write guarded by those
 * two keys alone. A listing reads the project's keys of every shard.
 *
 * A token belongs to one life of its project: "life" is the creation time
 * of the project it was made for. A lookup accepts it only while that
 * very project exists and is not being deleted, so a token that a delete
 * missed (made while the delete listed the tokens) reaches neither the
 * dying project nor a new one of the same name.
 */
#include <kairos/kairos.h>
#include <kairos/token.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cache_int.h"
#include "kairos_int.h"
#include "record.h"
#include "registry_int.h"
#include "store.h"

#define TOKEN_BASE   "kairos.tokens"
#define TOKEN_LEGACY "kairos.tokens" /* the single object of before the shards */
#define TOKENS_MAX   1000

/* The shard object of token @id. */
static void token_oid(const struct kairos *k, const char *id, char *oid)
{
    kairos_shard_oid(oid, TOKEN_BASE, kairos_registry_shard(id, kairos_shard_count(k)));
}

/* A write of both keys of a token, each required absent: a new token. */
static int put_token(struct kairos *k, const char *oid, const char *hkey, const char *pkey,
                     const json_t *rec)
{
    struct kairos_txn *txn = kairos_txn_new_keyed();
    int rc;

    if (!txn)
        return -ENOMEM;
    kairos_txn_expect(txn, hkey, NULL);
    kairos_txn_expect(txn, pkey, NULL);
    kairos_txn_set_json(txn, hkey, rec);
    kairos_txn_set(txn, pkey, hkey + 2);
    rc = kairos_txn_commit(txn, k->meta, oid);
    kairos_txn_free(txn);
    return rc;
}

/*
 * SHA-256, fetched from OpenSSL's provider once: EVP_sha256() would look it
 * up at every digest, under a lock all request threads share.
 */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void kairos_token_hash(const char *token, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    static const char digits[] = "0123456789abcdef";

    pthread_once(&sha256_once, fetch_sha256);
    EVP_Digest(token, strlen(token), md, &n, sha256 ? sha256 : EVP_sha256(), NULL);
    /* By hand: on every request, sprintf() per byte costs more than the digest. */
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }
    hex[2 * n] = '\0';
}

int kairos_secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static int id_valid(const char *id)
{
    if (!id || strlen(id) != KAIROS_TOKEN_ID_LEN)
        return 0;
    return strspn(id, "0123456789abcdef") == KAIROS_TOKEN_ID_LEN;
}

/* Is @p the live project of life @life (0: any life)? */
static int project_live(const struct kairos_project *p, uint64_t life, struct kairos_error *err)
{
    if (p->state == KAIROS_PROJECT_DELETING)
        return kairos_error_set(err, -ENOENT, "project %s is being deleted", p->name);
    if (life && p->created_ms != life)
        return kairos_error_set(err, -ENOENT, "project %s was deleted and made again", p->name);
    return 0;
}

/* Printable text: no control characters (a description shows in tables and logs). */
static int description_check(const char *d, struct kairos_error *err)
{
    if (!d)
        return 0;
    if (strlen(d) > KAIROS_TOKEN_DESC_MAX)
        return kairos_error_set(err, -EINVAL, "a token description holds at most %d bytes",
                                KAIROS_TOKEN_DESC_MAX);
    for (const unsigned char *c = (const unsigned char *)d; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            return kairos_error_set(err, -EINVAL, "a token description has no control characters");
    }
    return 0;
}

int kairos_token_create(struct kairos *k, const char *project, const char *description, char *token,
                        struct kairos_token_info *info, struct kairos_error *err)
{
    char id[KAIROS_TOKEN_ID_LEN + 1], secret[65], oid[KAIROS_SHARD_OID_MAX];
    char hkey[2 + KAIROS_TOKEN_HASH_LEN + 1] = "h.", pkey[KAIROS_KEY_MAX];
    struct kairos_project p;
    uint64_t created, life;
    json_t *rec;
    int rc;

    token[0] = '\0';
    rc = description_check(description, err);
    if (rc == 0)
        rc = kairos_project_get(k, project, &p, err);
    if (rc == 0)
        rc = project_live(&p, 0, err);
    if (rc < 0)
        return rc;
    life = p.created_ms;
    rc = kairos_random_hex(id, KAIROS_TOKEN_ID_LEN / 2);
    if (rc == 0)
        rc = kairos_random_hex(secret, 32);
    if (rc < 0)
        return kairos_error_set(err, rc, "no random token: %s", strerror(-rc));
    snprintf(token, KAIROS_TOKEN_LEN + 1, "kt_%s_%s", id, secret);
    kairos_token_hash(token, hkey + 2);
    snprintf(pkey, sizeof(pkey), "p.%s/%s", project, id);
    created = kairos_now_ms();
    rec = json_pack("{s:s,s:s,s:I,s:I}", "id", id, "project", project, "created",
                    (json_int_t)created, "life", (json_int_t)life);
    if (rec && description && *description)
        json_object_set_new(rec, "description", json_string(description));
    token_oid(k, id, oid);
    rc = rec ? put_token(k, oid, hkey, pkey, rec) : -ENOMEM;
    json_decref(rec);
    if (rc < 0) {
        token[0] = '\0';
        return kairos_error_set(err, rc, "cannot store the token: %s", strerror(-rc));
    }
    /*
     * A delete marks the project, then revokes its tokens. Still live after
     * the write: the delete's revocation comes later and finds this token.
     */
    rc = kairos_project_get(k, project, &p, err);
    if (rc == 0)
        rc = project_live(&p, life, err);
    if (rc < 0) {
        kairos_token_revoke(k, project, id, NULL);
        token[0] = '\0';
        return rc;
    }
    if (info) {
        snprintf(info->id, sizeof(info->id), "%s", id);
        snprintf(info->project, sizeof(info->project), "%s", project);
        info->created_ms = created;
        snprintf(info->description, sizeof(info->description), "%s",
                 description ? description : "");
    }
    return 0;
}

static int token_wellformed(const char *token)
{
    return token && strlen(token) == KAIROS_TOKEN_LEN && strncmp(token, "kt_", 3) == 0 &&
           token[3 + KAIROS_TOKEN_ID_LEN] == '_';
}

static int info_from_json(const char *text, struct kairos_token_info *out, uint64_t *life)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *project = json_string_value(json_object_get(j, "project"));
    int rc = 0;

    if (!id || !project)
        rc = -EIO;
    else {
        snprintf(out->id, sizeof(out->id), "%s", id);
        snprintf(out->project, sizeof(out->project), "%s", project);
        out->created_ms = kairos_json_u64(j, "created", 0);
        snprintf(out->description, sizeof(out->description), "%s",
                 json_string_value(json_object_get(j, "description"))
                     ? json_string_value(json_object_get(j, "description"))
                     : "");
        *life = kairos_json_u64(j, "life", 0);
    }
    json_decref(j);
    return rc;
}

int kairos_token_lookup(struct kairos *k, const char *token, struct kairos_token_info *out,
                        struct kairos_error *err)
{
    char hkey[2 + KAIROS_TOKEN_HASH_LEN + 1] = "h.", id[KAIROS_TOKEN_ID_LEN + 1];
    char oid[KAIROS_SHARD_OID_MAX];
    const char *keys[] = {hkey};
    struct kairos_project p;
    struct kairos_kvs kvs;
    const char *v;
    uint64_t gen, life = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token_wellformed(token))
        return kairos_error_set(err, -EACCES, "invalid token");
    kairos_token_hash(token, hkey + 2);
    /* The id in the token picks the shard; the hash, not the id, finds the record. */
    memcpy(id, token + 3, KAIROS_TOKEN_ID_LEN);
    id[KAIROS_TOKEN_ID_LEN] = '\0';
    token_oid(k, id, oid);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, -EACCES, "invalid token");
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot check the token: %s", strerror(-rc));
    v = kairos_kvs_get(&kvs, hkey);
    if (!v)
        rc = kairos_error_set(err, -EACCES, "invalid token");
    else if (info_from_json(v, out, &life) < 0)
        rc = kairos_error_set(err, -EIO, "corrupt token record");
    kairos_kvs_free(&kvs);
    if (rc < 0)
        return rc;
    /* Its project's life, not only its name (a record made before lives were kept: any). */
    rc = kairos_project_get(k, out->project, &p, NULL);
    if (rc == 0)
        rc = project_live(&p, life, NULL);
    if (rc == -ENOENT) {
        memset(out, 0, sizeof(*out));
        return kairos_error_set(err, -EACCES, "invalid token");
    }
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot check the token's project: %s", strerror(-rc));
    return 0;
}

int kairos_token_revoke(struct kairos *k, const char *project, const char *id,
                        struct kairos_error *err)
{
    char pkey[KAIROS_KEY_MAX], hkey[2 + KAIROS_TOKEN_HASH_LEN + 1], oid[KAIROS_SHARD_OID_MAX];
    const char *keys[] = {pkey};
    struct kairos_kvs kvs;
    struct kairos_txn *txn;
    const char *hash;
    uint64_t gen;
    int rc;

    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if (!id_valid(id))
        return kairos_error_set(err, -EINVAL, "bad token id: %d hex digits", KAIROS_TOKEN_ID_LEN);
    snprintf(pkey, sizeof(pkey), "p.%s/%s", project, id);
    token_oid(k, id, oid);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    hash = rc == 0 ? kairos_kvs_get(&kvs, pkey) : NULL;
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "cannot revoke the token: %s", strerror(-rc));
    if (!hash) {
        kairos_kvs_free(&kvs);
        return kairos_error_set(err, -ENOENT, "no token %s in project %s", id, project);
    }
    snprintf(hkey, sizeof(hkey), "h.%s", hash);
    txn = kairos_txn_new_keyed();
    if (txn) {
        /* A token's keys only change together, so one guard is enough. */
        kairos_txn_expect(txn, pkey, hash);
        kairos_txn_rm(txn, hkey);
        kairos_txn_rm(txn, pkey);
    }
    rc = txn ? kairos_txn_commit(txn, k->meta, oid) : -ENOMEM;
    kairos_txn_free(txn);
    kairos_kvs_free(&kvs);
    /* Revoked meanwhile by another caller: gone all the same. */
    if (rc == -ECANCELED)
        return kairos_error_set(err, -ENOENT, "no token %s in project %s", id, project);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot revoke the token: %s", strerror(-rc));
    kairos_cache_notify(k, "token", hkey + 2);
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct kairos_token_info *)a)->id,
                  ((const struct kairos_token_info *)b)->id);
}

/*
 * The creation time and description of @n tokens listed from one shard
 * (@listed: their "p." keys, whose values are the records' hashes), read
 * from their records in one read of the shard.
 */
static int fill_records(struct kairos *k, const char *oid, const struct kairos_kvs *listed,
                        const char *prefix, struct kairos_token_info *t, size_t n,
                        struct kairos_error *err)
{
    char(*hkeys)[2 + KAIROS_TOKEN_HASH_LEN + 1] = calloc(n, sizeof(*hkeys));
    const char **keys = calloc(n, sizeof(*keys));
    struct kairos_kvs recs = {0};
    char pkey[KAIROS_KEY_MAX];
    uint64_t life, gen;
    int rc = 0;

    if (!hkeys || !keys) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(pkey, sizeof(pkey), "%s%s", prefix, t[i].id);
        const char *hash = kairos_kvs_get(listed, pkey);
        snprintf(hkeys[i], sizeof(hkeys[i]), "h.%s", hash ? hash : "");
        keys[i] = hkeys[i];
    }
    rc = kairos_store_read(k->meta, oid, keys, n, &gen, &recs);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot read tokens: %s", strerror(-rc));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct kairos_token_info rec;
        const char *text = kairos_kvs_get(&recs, keys[i]);
        /* A token revoked between the listing and this read keeps its id alone. */
        if (text && info_from_json(text, &rec, &life) == 0) {
            t[i].created_ms = rec.created_ms;
            snprintf(t[i].description, sizeof(t[i].description), "%s", rec.description);
        }
    }
out:
    kairos_kvs_free(&recs);
    free(keys);
    free(hkeys);
    return rc;
}

int kairos_token_list(struct kairos *k, const char *project, struct kairos_token_info **out,
                      size_t *count, struct kairos_error *err)
{
    char prefix[KAIROS_KEY_MAX];
    unsigned shards = kairos_shard_count(k);
    char(*oids)[KAIROS_SHARD_OID_MAX] = NULL;
    const char **oidp = NULL;
    const char *prefixes[] = {prefix};
    struct kairos_kvs *kvs = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    snprintf(prefix, sizeof(prefix), "p.%s/", project);
    oids = calloc(shards, sizeof(*oids));
    oidp = calloc(shards, sizeof(*oidp));
    kvs = calloc(shards, sizeof(*kvs));
    *out = calloc(TOKENS_MAX, sizeof(**out));
    if (!oids || !oidp || !kvs || !*out) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < shards; i++) {
        kairos_shard_oid(oids[i], TOKEN_BASE, i);
        oidp[i] = oids[i];
    }
    /* Every shard at once (a window of reads in flight): a listing is rare, a lookup is not. */
    rc = kairos_store_scan_many(k->meta, oidp, shards, NULL, 0, prefixes, 1, TOKENS_MAX, kvs);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot list tokens: %s", strerror(-rc));
        goto out;
    }
    for (unsigned i = 0; rc == 0 && i < shards; i++) {
        size_t first = *count;
        for (size_t j = 0; j < kvs[i].n && *count < TOKENS_MAX; j++) {
            struct kairos_token_info *t = &(*out)[*count];
            if (strncmp(kvs[i].v[j].key, prefix, strlen(prefix)) != 0)
                continue;
            snprintf(t->id, sizeof(t->id), "%s", kvs[i].v[j].key + strlen(prefix));
            snprintf(t->project, sizeof(t->project), "%s", project);
            (*count)++;
        }
        if (*count > first)
            rc = fill_records(k, oidp[i], &kvs[i], prefix, *out + first, *count - first, err);
    }
    qsort(*out, *count, sizeof(**out), by_id);
out:
    for (unsigned i = 0; kvs && i < shards; i++)
        kairos_kvs_free(&kvs[i]);
    free(kvs);
    free(oidp);
    free(oids);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return rc;
}

int kairos_token_revoke_all(struct kairos *k, const char *project, struct kairos_error *err)
{
    struct kairos_token_info *t = NULL;
    size_t n = 0;
    int rc;

    /* A page at a time: a listing holds at most TOKENS_MAX. */
    do {
        rc = kairos_token_list(k, project, &t, &n, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = kairos_token_revoke(k, project, t[i].id, err);
            if (rc == -ENOENT) {
                kairos_error_clear(err);
                rc = 0;
            }
        }
        free(t);
        t = NULL;
    } while (rc == 0 && n > 0);
    return rc;
}

/* A page of "kairos.tokens": each "h." record goes, with its "p." key, to the shard of its id. */
static int copy_tokens(struct kairos *k, const struct kairos_kvs *page, uint64_t *moved)
{
    for (size_t i = 0; i < page->n; i++) {
        char oid[KAIROS_SHARD_OID_MAX], pkey[KAIROS_KEY_MAX];
        struct kairos_token_info t;
        uint64_t life;
        json_t *rec;
        int rc;

        if (strncmp(page->v[i].key, "h.", 2) != 0 ||
            info_from_json(page->v[i].val, &t, &life) < 0 || !id_valid(t.id) ||
            !kairos_name_valid(t.project))
            continue;
        rec = json_loads(page->v[i].val, 0, NULL);
        snprintf(pkey, sizeof(pkey), "p.%s/%s", t.project, t.id);
        token_oid(k, t.id, oid);
        rc = rec ? put_token(k, oid, page->v[i].key, pkey, rec) : -ENOMEM;
        json_decref(rec);
        /* Already in its shard (an earlier, interrupted move): that copy stands. */
        if (rc < 0 && rc != -ECANCELED)
            return rc;
        *moved += rc == 0;
    }
    return 0;
}

int kairos_token_migrate(struct kairos *k, uint64_t *moved, struct kairos_error *err)
{
    int rc = kairos_shard_migrate(k, TOKEN_LEGACY, copy_tokens, moved);

    if (rc < 0)
        return kairos_error_set(err, rc, "moving the tokens into shards: %s", strerror(-rc));
    return 0;
}
