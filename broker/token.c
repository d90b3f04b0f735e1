/*
 * token.c - hashed bearer tokens in one omap object (see kairos/token.h).
 *
 * Keys: "h.<sha256>" -> {"id","project","created"} for lookups, and
 * "p.<project>/<id>" -> "<sha256>" for listings and revocations; both are
 * written and removed in one guarded write.
 */
#include <kairos/kairos.h>
#include <kairos/token.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kairos_int.h"
#include "record.h"
#include "store.h"

#define TOKEN_OID  "kairos.tokens"
#define TOKENS_MAX 1000

void kairos_token_hash(const char *token, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
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

struct tstep {
    const char *project, *id;
    char hkey[2 + KAIROS_TOKEN_HASH_LEN + 1];
    char pkey[KAIROS_KEY_MAX];
    uint64_t created;
    struct kairos_error *err;
};

static int create_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct tstep *st = arg;
    json_t *rec;

    (void)kvs;
    rec = json_pack("{s:s,s:s,s:I}", "id", st->id, "project", st->project, "created",
                    (json_int_t)st->created);
    if (!rec)
        return -ENOMEM;
    kairos_txn_set_json(txn, st->hkey, rec);
    kairos_txn_set(txn, st->pkey, st->hkey + 2);
    json_decref(rec);
    return 0;
}

int kairos_token_create(struct kairos *k, const char *project, char *token,
                        struct kairos_token_info *info, struct kairos_error *err)
{
    char id[KAIROS_TOKEN_ID_LEN + 1], secret[65];
    struct kairos_project p;
    struct tstep st = {.project = project, .id = id, .err = err};
    const char *keys[] = {st.hkey};
    int rc;

    token[0] = '\0';
    rc = kairos_project_get(k, project, &p, err);
    if (rc < 0)
        return rc;
    rc = kairos_random_hex(id, KAIROS_TOKEN_ID_LEN / 2);
    if (rc == 0)
        rc = kairos_random_hex(secret, 32);
    if (rc < 0)
        return kairos_error_set(err, rc, "no random token: %s", strerror(-rc));
    snprintf(token, KAIROS_TOKEN_LEN + 1, "kt_%s_%s", id, secret);
    memcpy(st.hkey, "h.", 2);
    kairos_token_hash(token, st.hkey + 2);
    snprintf(st.pkey, sizeof(st.pkey), "p.%s/%s", project, id);
    st.created = kairos_now_ms();
    rc = kairos_store_update(k->meta, TOKEN_OID, keys, 1, true, create_step, &st);
    if (rc < 0) {
        token[0] = '\0';
        return kairos_error_set(err, rc, "cannot store the token: %s", strerror(-rc));
    }
    if (info) {
        snprintf(info->id, sizeof(info->id), "%s", id);
        snprintf(info->project, sizeof(info->project), "%s", project);
        info->created_ms = st.created;
    }
    return 0;
}

static int token_wellformed(const char *token)
{
    return token && strlen(token) == KAIROS_TOKEN_LEN && strncmp(token, "kt_", 3) == 0 &&
           token[3 + KAIROS_TOKEN_ID_LEN] == '_';
}

static int info_from_json(const char *text, struct kairos_token_info *out)
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
    }
    json_decref(j);
    return rc;
}

int kairos_token_lookup(struct kairos *k, const char *token, struct kairos_token_info *out,
                        struct kairos_error *err)
{
    char hkey[2 + KAIROS_TOKEN_HASH_LEN + 1] = "h.";
    const char *keys[] = {hkey};
    struct kairos_kvs kvs;
    const char *v;
    uint64_t gen;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!token_wellformed(token))
        return kairos_error_set(err, -EACCES, "invalid token");
    kairos_token_hash(token, hkey + 2);
    rc = kairos_store_read(k->meta, TOKEN_OID, keys, 1, &gen, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, -EACCES, "invalid token");
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot check the token: %s", strerror(-rc));
    v = kairos_kvs_get(&kvs, hkey);
    if (!v)
        rc = kairos_error_set(err, -EACCES, "invalid token");
    else if (info_from_json(v, out) < 0)
        rc = kairos_error_set(err, -EIO, "corrupt token record");
    kairos_kvs_free(&kvs);
    return rc;
}

static int revoke_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct tstep *st = arg;
    const char *hash = kairos_kvs_get(kvs, st->pkey);

    if (!hash)
        return kairos_error_set(st->err, -ENOENT, "no token %s in project %s", st->id, st->project);
    snprintf(st->hkey, sizeof(st->hkey), "h.%s", hash);
    kairos_txn_rm(txn, st->hkey);
    kairos_txn_rm(txn, st->pkey);
    return 0;
}

int kairos_token_revoke(struct kairos *k, const char *project, const char *id,
                        struct kairos_error *err)
{
    struct tstep st = {.project = project, .id = id, .err = err};
    const char *keys[] = {st.pkey};
    int rc;

    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if (!id_valid(id))
        return kairos_error_set(err, -EINVAL, "bad token id: %d hex digits", KAIROS_TOKEN_ID_LEN);
    snprintf(st.pkey, sizeof(st.pkey), "p.%s/%s", project, id);
    rc = kairos_store_update(k->meta, TOKEN_OID, keys, 1, false, revoke_step, &st);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no token %s in project %s", id, project);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot revoke the token: %s", strerror(-rc));
    return 0;
}

int kairos_token_list(struct kairos *k, const char *project, struct kairos_token_info **out,
                      size_t *count, struct kairos_error *err)
{
    char prefix[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    int rc;

    *out = NULL;
    *count = 0;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    snprintf(prefix, sizeof(prefix), "p.%s/", project);
    rc = kairos_store_list(k->meta, TOKEN_OID, prefix, NULL, TOKENS_MAX, &kvs);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot list tokens: %s", strerror(-rc));
    *out = calloc(kvs.n ? kvs.n : 1, sizeof(**out));
    if (!*out) {
        kairos_kvs_free(&kvs);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < kvs.n; i++) {
        struct kairos_token_info *t = &(*out)[*count];
        snprintf(t->id, sizeof(t->id), "%s", kvs.v[i].key + strlen(prefix));
        snprintf(t->project, sizeof(t->project), "%s", project);
        (*count)++;
    }
    kairos_kvs_free(&kvs);
    return 0;
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

int kairos_token_read(const char *path, char *buf, size_t len, struct kairos_error *err)
{
    FILE *f = fopen(path, "r");

    buf[0] = '\0';
    if (!f)
        return kairos_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0])
        return kairos_error_set(err, -EINVAL, "%s: no token", path);
    return 0;
}
