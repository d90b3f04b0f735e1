/*
 * auth.c - HTTP Basic and bearer tokens (see auth.h).
 */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct file_token {
    char hash[KAIROS_TOKEN_HASH_LEN + 1];
    struct principal who;
};

struct auth {
    /* auth_replace() swaps the tokens and the broker credentials under it. */
    pthread_rwlock_t lock;
    struct file_token *tokens;
    size_t ntokens;
    char *basic; /* "user:password", or NULL: OSBAPI refused */
};

static int parse_line(char *line, struct file_token *t, const char *path, unsigned lineno,
                      struct kairos_error *err)
{
    char hash[80], scope[96], extra[2];
    int n = sscanf(line, "%79s %95s %1s", hash, scope, extra);

    memset(t, 0, sizeof(*t));
    if (n != 2 || strlen(hash) != KAIROS_TOKEN_HASH_LEN ||
        strspn(hash, "0123456789abcdef") != KAIROS_TOKEN_HASH_LEN)
        return kairos_error_set(err, -EINVAL, "%s:%u: expected '<sha256-hex> admin|project:<name>'",
                                path, lineno);
    memcpy(t->hash, hash, sizeof(t->hash));
    if (strcmp(scope, "admin") == 0) {
        t->who.admin = true;
    } else if (strncmp(scope, "project:", 8) == 0 && kairos_name_valid(scope + 8)) {
        snprintf(t->who.project, sizeof(t->who.project), "%s", scope + 8);
    } else {
        return kairos_error_set(err, -EINVAL, "%s:%u: bad scope '%s': admin or project:<name>",
                                path, lineno, scope);
    }
    return 0;
}

static int load_file(struct auth *a, const char *path, struct kairos_error *err)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned lineno = 0;
    int rc = 0;

    if (!f)
        return kairos_error_set(err, -errno, "%s: %s", path, strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char *s = line;
        struct file_token *grown;
        lineno++;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        grown = realloc(a->tokens, (a->ntokens + 1) * sizeof(*grown));
        if (!grown) {
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
            break;
        }
        a->tokens = grown;
        rc = parse_line(s, &a->tokens[a->ntokens], path, lineno, err);
        if (rc == 0)
            a->ntokens++;
    }
    fclose(f);
    return rc;
}

int auth_open(const char *path, const char *broker_user, const char *broker_password,
              struct auth **out, struct kairos_error *err)
{
    struct auth *a = calloc(1, sizeof(*a));
    int rc = 0;

    *out = NULL;
    if (!a)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    pthread_rwlock_init(&a->lock, NULL);
    if (path)
        rc = load_file(a, path, err);
    if (rc == 0 && broker_user && broker_password &&
        asprintf(&a->basic, "%s:%s", broker_user, broker_password) < 0)
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        auth_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void auth_close(struct auth *a)
{
    if (!a)
        return;
    free(a->tokens);
    if (a->basic) {
        explicit_bzero(a->basic, strlen(a->basic));
        free(a->basic);
    }
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

void auth_replace(struct auth *a, struct auth *fresh)
{
    struct file_token *tokens;
    size_t ntokens;
    char *basic;

    pthread_rwlock_wrlock(&a->lock);
    tokens = a->tokens;
    ntokens = a->ntokens;
    basic = a->basic;
    a->tokens = fresh->tokens;
    a->ntokens = fresh->ntokens;
    a->basic = fresh->basic;
    pthread_rwlock_unlock(&a->lock);
    fresh->tokens = tokens;
    fresh->ntokens = ntokens;
    fresh->basic = basic;
    auth_close(fresh);
}

size_t auth_file_tokens(struct auth *a)
{
    size_t n;

    pthread_rwlock_rdlock(&a->lock);
    n = a->ntokens;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

int auth_base64_decode(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    int n;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 >= cap)
        return -EINVAL;
    n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -EINVAL;
    /* EVP_DecodeBlock counts the padding as zero bytes: drop them. */
    while (n > 0 && in[len - 1] == '=') {
        n--;
        len--;
    }
    out[n] = '\0';
    return n;
}

int auth_check_basic(struct auth *a, const char *authorization)
{
    char decoded[512];
    int rc = -EACCES;

    if (!authorization || strncmp(authorization, "Basic ", 6) != 0)
        return -EACCES;
    if (auth_base64_decode(authorization + 6, decoded, sizeof(decoded)) >= 0) {
        pthread_rwlock_rdlock(&a->lock);
        rc = a->basic && kairos_secret_equal(decoded, a->basic) ? 0 : -EACCES;
        pthread_rwlock_unlock(&a->lock);
    }
    explicit_bzero(decoded, sizeof(decoded));
    return rc;
}

int auth_check_bearer(struct auth *a, struct kairos *k, struct kairos_cache *cache,
                      const char *authorization, struct principal *who)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1];
    struct kairos_token_info info;
    const char *token;
    int found = -1, rc;

    memset(who, 0, sizeof(*who));
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return -EACCES;
    token = authorization + 7;
    if (*token == '\0' || strlen(token) > 256)
        return -EACCES;
    kairos_token_hash(token, hash);
    /* Every line is compared, so the time says nothing of which matched. */
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->ntokens; i++) {
        if (kairos_secret_equal(a->tokens[i].hash, hash) && found < 0)
            found = (int)i;
    }
    if (found >= 0) {
        *who = a->tokens[found].who;
        /* The tokens file's line, as its hash begins: enough to find it, nothing to guess from. */
        snprintf(who->token_id, sizeof(who->token_id), "file:%.12s", a->tokens[found].hash);
    }
    pthread_rwlock_unlock(&a->lock);
    if (found >= 0)
        return 0;
    rc = cache ? kairos_cache_token_lookup(cache, token, &info, NULL)
               : kairos_token_lookup(k, token, &info, NULL);
    if (rc < 0)
        return rc;
    snprintf(who->project, sizeof(who->project), "%s", info.project);
    snprintf(who->token_id, sizeof(who->token_id), "%s", info.id);
    return 0;
}
