/*
 * config.c - the shared configuration file (see kairos/config.h).
 *
 * One table lists every key with its type, default and place in struct
 * kairos_config, so the parser, the defaults and the checks cannot drift
 * apart. Values are checked as they are read, so an error names its line.
 */
#include <kairos/config.h>
#include <kairos/units.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inifile.h"

enum value_type {
    V_STR,      /* any non-empty text */
    V_PATH,     /* a file, relative to the config file's directory */
    V_DIR,      /* an absolute CephFS directory, no "." or ".." parts */
    V_POOL,     /* a Ceph pool or file system name */
    V_ENTITY,   /* a cephx client name: client.<id> */
    V_SIZE,     /* bytes: 1M, 4096 */
    V_DURATION, /* 30s, 5m */
    V_COUNT,    /* an integer from 1 to 1024 */
    V_RATE,     /* a rate per second from 0 (off) to 10,000,000 */
    V_ADDR,     /* host:port */
    V_URL,      /* http:// or https:// */
};

struct key_def {
    const char *section;
    const char *key;
    enum value_type type;
    size_t offset;
    const char *def; /* default, parsed like a value; NULL: none */
    int required;
};

#define F(member) offsetof(struct kairos_config, member)

/* Far above what one OSD serves: a bound, not a goal. */
#define RATE_MAX 10000000

static const struct key_def keys[] = {
    {"ceph", "conf", V_PATH, F(ceph.conf), NULL, 1},
    {"ceph", "client", V_ENTITY, F(ceph.client), "client.admin", 0},
    {"ceph", "keyring", V_PATH, F(ceph.keyring), NULL, 0},
    {"ceph", "timeout", V_DURATION, F(ceph.timeout_ms), "30s", 0},
    {"pools", "metadata", V_POOL, F(pools.metadata), "kairos_meta", 0},
    {"pools", "block", V_POOL, F(pools.block), "rbd", 0},
    {"pools", "cephfs_data", V_POOL, F(pools.cephfs_data), "cephfs_data", 0},
    {"pools", "cephfs_name", V_POOL, F(pools.cephfs_name), "cephfs", 0},
    {"pools", "share_root", V_DIR, F(pools.share_root), "/kairos", 0},
    {"rgw", "endpoint", V_URL, F(rgw.endpoint), NULL, 0},
    {"rgw", "access_key", V_STR, F(rgw.access_key), NULL, 0},
    {"rgw", "secret_key", V_STR, F(rgw.secret_key), NULL, 0},
    {"rgw", "region", V_STR, F(rgw.region), "default", 0},
    {"rgw", "connect_timeout", V_DURATION, F(rgw.connect_timeout_ms), "3s", 0},
    {"rgw", "timeout", V_DURATION, F(rgw.timeout_ms), "15s", 0},
    {"server", "listen", V_ADDR, F(server.listen), "127.0.0.1:8080", 0},
    {"server", "tls_cert", V_PATH, F(server.tls_cert), NULL, 0},
    {"server", "tls_key", V_PATH, F(server.tls_key), NULL, 0},
    {"server", "tokens", V_PATH, F(server.tokens), NULL, 0},
    {"server", "broker_user", V_STR, F(server.broker_user), NULL, 0},
    {"server", "broker_password", V_STR, F(server.broker_password), NULL, 0},
    {"server", "max_body", V_SIZE, F(server.max_body), "1M", 0},
    {"server", "threads", V_COUNT, F(server.threads), "4", 0},
    {"server", "timeout", V_DURATION, F(server.timeout_ms), "30s", 0},
    {"server", "request_timeout", V_DURATION, F(server.request_timeout_ms), "30s", 0},
    {"server", "async_bytes", V_SIZE, F(server.async_bytes), "1T", 0},
    {"registry", "shards", V_COUNT, F(registry.shards), "64", 0},
    {"registry", "retention", V_DURATION, F(registry.retention_ms), "1d", 0},
    {"policy", "capacity", V_PATH, F(policy.capacity), NULL, 0},
    {"policy", "plans", V_PATH, F(policy.plans), NULL, 0},
    {"reconcile", "lease", V_DURATION, F(reconcile.lease_ms), "5m", 0},
    {"reconcile", "interval", V_DURATION, F(reconcile.interval_ms), "1m", 0},
    {"reconcile", "scan_rate", V_RATE, F(reconcile.scan_rate), "1000", 0},
    {"audit", "max_age", V_DURATION, F(audit.max_age_ms), "90d", 0},
    {"client", "url", V_URL, F(client.url), "http://127.0.0.1:8080", 0},
    {"client", "token_file", V_PATH, F(client.token_file), NULL, 0},
    {"client", "cacert", V_PATH, F(client.cacert), NULL, 0},
    {"log", "format", V_STR, F(log.format), "text", 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int is_string_type(enum value_type t)
{
    return !(t == V_SIZE || t == V_DURATION || t == V_COUNT || t == V_RATE);
}

static int check_chars(const char *v, const char *extra)
{
    for (; *v; v++) {
        char c = *v;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(extra, c)))
            return 0;
    }
    return 1;
}

static int check_dir(const char *v)
{
    const char *p;

    if (v[0] != '/' || !check_chars(v, "/._-"))
        return 0;
    if (strcmp(v, "/") == 0)
        return 1;
    if (v[strlen(v) - 1] == '/' || strstr(v, "//"))
        return 0;
    /* No "." or ".." component: the root must not climb or alias. */
    for (p = v; (p = strchr(p, '/')); p++) {
        if (strncmp(p, "/./", 3) == 0 || strcmp(p, "/.") == 0 || strncmp(p, "/../", 4) == 0 ||
            strcmp(p, "/..") == 0)
            return 0;
    }
    return 1;
}

static int check_addr(const char *v)
{
    const char *colon = strrchr(v, ':');
    char *end;
    long port;

    if (!colon || colon == v)
        return 0;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port < 0 || port > 65535)
        return 0;
    return check_chars(colon + 1, "") && (size_t)(colon - v) < 256;
}

static int check_url(const char *v)
{
    const char *host;

    if (strncmp(v, "http://", 7) == 0)
        host = v + 7;
    else if (strncmp(v, "https://", 8) == 0)
        host = v + 8;
    else
        return 0;
    return host[0] && host[0] != '/' && check_chars(host, ".:-_/[]%");
}

/* Parse @value as @def says into @cfg. On error, explain into @msg. */
static int set_value(struct kairos_config *cfg, const struct key_def *def, const char *value,
                     char *msg, size_t msg_len)
{
    void *field = (char *)cfg + def->offset;
    uint64_t n;
    const char *want = NULL;
    int rc;

    if (!value[0]) {
        snprintf(msg, msg_len, "[%s] %s: empty value", def->section, def->key);
        return -EINVAL;
    }
    switch (def->type) {
    case V_STR:
    case V_PATH:
        break;
    case V_DIR:
        want = check_dir(value) ? NULL : "an absolute path without . or .. parts";
        break;
    case V_POOL:
        want = check_chars(value, "._-") && strlen(value) < 128 ? NULL : "a pool name";
        break;
    case V_ENTITY:
        want = strncmp(value, "client.", 7) == 0 && value[7] && check_chars(value, "._-")
                   ? NULL
                   : "a cephx client name such as client.admin";
        break;
    case V_ADDR:
        want = check_addr(value) ? NULL : "host:port";
        break;
    case V_URL:
        want = check_url(value) ? NULL : "an http:// or https:// URL";
        break;
    case V_SIZE:
        rc = kairos_size_parse(value, &n);
        want = rc < 0 ? "a size such as 1M or 4096" : NULL;
        break;
    case V_DURATION:
        rc = kairos_duration_parse(value, &n);
        want = rc < 0 || n == 0 ? "a positive duration such as 30s or 5m" : NULL;
        break;
    case V_COUNT:
        rc = kairos_size_parse(value, &n);
        want = rc < 0 || n < 1 || n > 1024 || value[strspn(value, "0123456789")]
                   ? "a number from 1 to 1024"
                   : NULL;
        break;
    case V_RATE:
        rc = kairos_size_parse(value, &n);
        want = rc < 0 || n > RATE_MAX || value[strspn(value, "0123456789")]
                   ? "a number of objects per second from 0 (off) to 10000000"
                   : NULL;
        break;
    }
    if (want) {
        snprintf(msg, msg_len, "[%s] %s: '%s' is not %s", def->section, def->key, value, want);
        return -EINVAL;
    }
    if (is_string_type(def->type)) {
        char **s = field;
        free(*s);
        *s = def->type == V_PATH ? kairos_path_resolve(cfg->path, value) : strdup(value);
        if (!*s) {
            snprintf(msg, msg_len, "out of memory");
            return -ENOMEM;
        }
    } else {
        *(uint64_t *)field = n;
    }
    return 0;
}

struct load_state {
    struct kairos_config *cfg;
    unsigned seen[NKEYS]; /* line each key was set on, 0 if not */
};

static int on_key(void *user, const char *section, const char *key, const char *value,
                  unsigned line, char *msg, size_t msg_len)
{
    struct load_state *st = user;
    int known_section = 0;

    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        known_section = 1;
        if (strcmp(keys[i].key, key) != 0)
            continue;
        if (st->seen[i]) {
            snprintf(msg, msg_len, "[%s] %s is set twice (first on line %u)", section, key,
                     st->seen[i]);
            return -EINVAL;
        }
        st->seen[i] = line;
        return set_value(st->cfg, &keys[i], value, msg, msg_len);
    }
    if (!section[0])
        snprintf(msg, msg_len, "key '%s' is outside any [section]", key);
    else if (!known_section)
        snprintf(msg, msg_len, "unknown section [%s]", section);
    else
        snprintf(msg, msg_len, "unknown key '%s' in [%s]", key, section);
    return -EINVAL;
}

static int apply_defaults(struct kairos_config *cfg, struct kairos_error *err)
{
    char msg[256];

    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].def && set_value(cfg, &keys[i], keys[i].def, msg, sizeof(msg)) < 0)
            return kairos_error_set(err, -ENOMEM, "%s: %s", cfg->path, msg);
    }
    return 0;
}

/* Rules that involve more than one key. */
static int check_whole(const struct kairos_config *cfg, const struct load_state *st,
                       struct kairos_error *err)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].required && !st->seen[i])
            return kairos_error_set(err, -EINVAL, "%s: [%s] %s is required", cfg->path,
                                    keys[i].section, keys[i].key);
    }
    if (!cfg->server.tls_cert != !cfg->server.tls_key)
        return kairos_error_set(err, -EINVAL, "%s: [server] tls_cert and tls_key go together",
                                cfg->path);
    if (!cfg->server.broker_user != !cfg->server.broker_password)
        return kairos_error_set(
            err, -EINVAL, "%s: [server] broker_user and broker_password go together", cfg->path);
    if (strcmp(cfg->log.format, "text") != 0 && strcmp(cfg->log.format, "json") != 0)
        return kairos_error_set(err, -EINVAL, "%s: [log] format must be text or json, not '%s'",
                                cfg->path, cfg->log.format);
    if (cfg->rgw.endpoint && (!cfg->rgw.access_key || !cfg->rgw.secret_key))
        return kairos_error_set(err, -EINVAL, "%s: [rgw] endpoint needs access_key and secret_key",
                                cfg->path);
    return 0;
}

int kairos_config_load(const char *path, struct kairos_config **out, struct kairos_error *err)
{
    struct load_state st = {0};
    int rc;

    *out = NULL;
    st.cfg = calloc(1, sizeof(*st.cfg));
    if (!st.cfg || !(st.cfg->path = strdup(path))) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    rc = apply_defaults(st.cfg, err);
    if (rc < 0)
        goto fail;
    rc = kairos_ini_parse(path, on_key, &st, err);
    if (rc < 0)
        goto fail;
    rc = check_whole(st.cfg, &st, err);
    if (rc < 0)
        goto fail;
    *out = st.cfg;
    return 0;
fail:
    kairos_config_free(st.cfg);
    return rc;
}

void kairos_config_free(struct kairos_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (is_string_type(keys[i].type))
            free(*(char **)((char *)cfg + keys[i].offset));
    }
    free(cfg->path);
    free(cfg);
}
