/*
 * capacity.c - usable capacity from policy or cluster, and the capacity
 * report (see kairos/capacity.h).
 */
#include <kairos/capacity.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "kairos_int.h"
#include "record.h"
#include "store.h"

#define PAGE 256
/* Ceph's default full ratio, when the OSD map cannot be read. */
#define DEFAULT_FULL_RATIO 0.95

static int pool_replicas(struct kairos *k, uint64_t *size, struct kairos_error *err)
{
    char cmd[256];
    json_t *out = NULL;
    int rc;

    snprintf(cmd, sizeof(cmd),
             "{\"prefix\":\"osd pool get\",\"pool\":\"%s\",\"var\":\"size\",\"format\":\"json\"}",
             k->cfg->pools.block);
    rc = kairos_mon_json(k, cmd, &out, err);
    if (rc == 0) {
        *size = kairos_json_u64(out, "size", 0);
        if (*size == 0)
            rc = kairos_error_set(err, -EIO, "pool %s reports no replica count",
                                  k->cfg->pools.block);
    }
    json_decref(out);
    return rc;
}

static int osd_full_ratio(struct kairos *k, double *ratio, struct kairos_error *err)
{
    json_t *out = NULL;
    int rc = kairos_mon_json(k, "{\"prefix\":\"osd dump\",\"format\":\"json\"}", &out, err);

    if (rc == 0) {
        json_t *r = json_object_get(out, "full_ratio");
        *ratio = json_is_number(r) && json_number_value(r) > 0 ? json_number_value(r)
                                                               : DEFAULT_FULL_RATIO;
    }
    json_decref(out);
    return rc;
}

/* Raw capacity / replica count of the block pool. */
static int cluster_usable(struct kairos *k, uint64_t *usable, struct kairos_error *err)
{
    struct rados_cluster_stat_t st;
    uint64_t replicas = 1;
    int rc = rados_cluster_stat(k->rados, &st);

    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read cluster capacity: %s", strerror(-rc));
    rc = pool_replicas(k, &replicas, err);
    if (rc < 0)
        return rc;
    *usable = st.kb * 1024 / replicas;
    return 0;
}

int kairos_capacity_refresh(struct kairos *k, struct kairos_error *err)
{
    const struct kairos_capacity_policy *c = &kairos_get_policy(k)->capacity;
    uint64_t usable = c->usable;
    double ratio = c->full_ratio;
    int rc = 0;

    if (!usable)
        rc = cluster_usable(k, &usable, err);
    if (rc == 0 && !ratio)
        rc = osd_full_ratio(k, &ratio, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&k->lock);
    k->usable = usable;
    k->full_ratio = ratio;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

/* How long a reading of the pools' flags is trusted. */
#define POOLS_TTL_MS 1000

/* Does the comma-separated list @names hold @flag? */
static bool has_flag(const char *names, const char *flag)
{
    size_t n = strlen(flag);

    for (const char *p = names; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != '\0')) {
        if (strncmp(p, flag, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    }
    return false;
}

/*
 * Does an allocation of @kind write to @pool (an entry of "osd pool ls
 * detail")? @meta: ask about the metadata pool, else about the kind's own.
 */
static bool pool_used_by(const struct kairos *k, enum kairos_kind kind, const json_t *pool,
                         bool meta)
{
    const char *name = json_string_value(json_object_get(pool, "pool_name"));

    if (!name)
        return false;
    if (meta)
        return strcmp(name, k->cfg->pools.metadata) == 0;
    switch (kind) {
    case KAIROS_VOLUME:
        return strcmp(name, k->cfg->pools.block) == 0;
    case KAIROS_SHARE:
        return strcmp(name, k->cfg->pools.cephfs_data) == 0;
    case KAIROS_BUCKET:
        return json_object_get(json_object_get(pool, "application_metadata"), "rgw") != NULL;
    default:
        return false;
    }
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kairos_capacity_writable(struct kairos *k, enum kairos_kind kind, struct kairos_error *err)
{
    uint64_t now = monotonic_ms();
    json_t *fresh = NULL, *pool;
    size_t i;
    int rc = 0;

    pthread_mutex_lock(&k->lock);
    bool stale = !k->pools || now >= k->pools_ms + POOLS_TTL_MS;
    pthread_mutex_unlock(&k->lock);
    /* Read outside the lock: a slow monitor must not hold up the budget. */
    if (stale &&
        kairos_mon_json(k, "{\"prefix\":\"osd pool ls\",\"detail\":\"detail\",\"format\":\"json\"}",
                        &fresh, NULL) == 0 &&
        json_is_array(fresh)) {
        pthread_mutex_lock(&k->lock);
        json_decref(k->pools);
        k->pools = fresh;
        k->pools_ms = now;
        pthread_mutex_unlock(&k->lock);
    } else {
        json_decref(fresh);
    }
    pthread_mutex_lock(&k->lock);
    /* The kind's own pools first: their names say more to the caller than the ledger's. */
    for (int meta = 0; rc == 0 && meta < 2; meta++)
        json_array_foreach(k->pools, i, pool)
        {
            const char *flags = json_string_value(json_object_get(pool, "flags_names"));
            const char *name = json_string_value(json_object_get(pool, "pool_name"));

            if (!pool_used_by(k, kind, pool, meta) || !has_flag(flags, "full"))
                continue;
            if (has_flag(flags, "full_quota"))
                rc = kairos_error_set(err, -ENOSPC,
                                      "Ceph pool '%s' has reached its quota (ceph osd pool "
                                      "set-quota): it takes no new data",
                                      name);
            else
                rc = kairos_error_set(err, -ENOSPC,
                                      "the cluster is full: Ceph pool '%s' takes no new data while "
                                      "an OSD it uses is past the full ratio (ceph health detail)",
                                      name);
            break;
        }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static uint64_t add_limit(uint64_t sum, uint64_t limit)
{
    if (sum == KAIROS_UNLIMITED || limit == KAIROS_UNLIMITED || sum + limit < sum)
        return KAIROS_UNLIMITED;
    return sum + limit;
}

struct scan {
    struct kairos *k;
    struct kairos_capacity_report *r;
    kairos_capacity_project_fn fn;
    void *arg;
};

static void add_project(const struct scan *s, const char *name, const struct kairos_kvs *kvs)
{
    json_t *qj = kairos_kvs_json(kvs, "quota"), *lj = kairos_kvs_json(kvs, "ledger");
    struct kairos_capacity_report *r = s->r;
    struct kairos_quota q;
    struct kairos_counts c;
    uint64_t total_limit = 0;

    kairos_quota_from_json(qj, &q);
    kairos_counts_from_json(lj, &c);
    json_decref(qj);
    json_decref(lj);
    if (s->fn) {
        struct kairos_capacity_project p = {.name = name, .quota = q};
        memcpy(p.allocated_bytes, c.bytes, sizeof(p.allocated_bytes));
        memcpy(p.allocated_count, c.count, sizeof(p.allocated_count));
        s->fn(s->arg, &p);
    }
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        if (i == KAIROS_SNAPSHOT) {
            r->allocated_count[i] += c.count[i];
            continue;
        }
        r->quota_bytes[i] = add_limit(r->quota_bytes[i], q.kind[i].bytes);
        total_limit = add_limit(total_limit, q.kind[i].bytes);
        r->allocated_bytes[i] += c.bytes[i];
        r->allocated_count[i] += c.count[i];
        r->allocated_total += c.bytes[i];
    }
    /* A project's promise is the smaller of its total and its per-kind sum. */
    if (q.total_bytes < total_limit)
        total_limit = q.total_bytes;
    r->quota_total = add_limit(r->quota_total, total_limit);
    r->allocated_eff += c.eff;
    r->projects++;
}

/* Read one page of projects in parallel and add them up. */
static int add_page(const struct scan *s, const struct kairos_kvs *idx, const char *const *keys)
{
    struct kairos *k = s->k;
    char(*oids)[KAIROS_KEY_MAX] = calloc(idx->n ? idx->n : 1, sizeof(*oids));
    const char **names = calloc(idx->n ? idx->n : 1, sizeof(*names));
    struct kairos_kvs *kvs = calloc(idx->n ? idx->n : 1, sizeof(*kvs));
    int rc = -ENOMEM;

    if (oids && names && kvs) {
        for (size_t i = 0; i < idx->n; i++) {
            kairos_project_oid(oids[i], idx->v[i].key + 2);
            names[i] = oids[i];
        }
        rc = kairos_store_read_many(k->meta, names, idx->n, keys, 2, kvs);
        for (size_t i = 0; i < idx->n; i++) {
            if (kvs[i].n)
                add_project(s, idx->v[i].key + 2, &kvs[i]);
            kairos_kvs_free(&kvs[i]);
        }
    }
    free(oids);
    free(names);
    free(kvs);
    return rc;
}

static int scan_page(void *arg, const struct kairos_kvs *idx)
{
    static const char *const keys[] = {"quota", "ledger"};

    return add_page(arg, idx, keys);
}

static int scan_projects(struct scan *s)
{
    int rc = kairos_store_each(s->k->meta, KAIROS_INDEX_OID, "p.", NULL, PAGE, scan_page, s);

    return rc == -ENOENT ? 0 : rc;
}

/* Bytes stored, on the same scale as usable (raw used / replicas). */
static int cluster_used(struct kairos *k, uint64_t *used, struct kairos_error *err)
{
    json_t *out = NULL;
    uint64_t replicas = 1;
    int rc = kairos_mon_json(k, "{\"prefix\":\"df\",\"format\":\"json\"}", &out, err);

    if (rc == 0)
        rc = pool_replicas(k, &replicas, err);
    if (rc == 0)
        *used =
            kairos_json_u64(json_object_get(out, "stats"), "total_used_raw_bytes", 0) / replicas;
    json_decref(out);
    return rc;
}

int kairos_capacity_get(struct kairos *k, struct kairos_capacity_report *out,
                        struct kairos_error *err)
{
    return kairos_capacity_get_each(k, out, NULL, NULL, err);
}

int kairos_capacity_get_each(struct kairos *k, struct kairos_capacity_report *out,
                             kairos_capacity_project_fn fn, void *arg, struct kairos_error *err)
{
    struct scan s = {k, out, fn, arg};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = kairos_capacity_refresh(k, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&k->lock);
    out->usable = k->usable;
    out->full_ratio = k->full_ratio;
    pthread_mutex_unlock(&k->lock);
    out->headroom = kairos_get_policy(k)->capacity.headroom;
    out->limit = kairos_budget_limit(k);
    rc = kairos_budget_granted(k, &out->granted, err);
    if (rc == 0)
        rc = scan_projects(&s);
    if (rc == 0)
        rc = cluster_used(k, &out->used, err);
    if (rc < 0)
        return kairos_error_set(err, rc, "capacity report: %s", strerror(-rc));
    out->oversubscription = out->quota_total == KAIROS_UNLIMITED || !out->usable
                                ? 0
                                : (double)out->quota_total / (double)out->usable;
    return 0;
}
