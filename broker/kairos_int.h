/*
 * kairos_int.h - the inside of struct kairos, shared by the broker modules.
 */
#ifndef KAIROS_INT_H
#define KAIROS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <kairos/kairos.h>
#include <kairos/reconcile.h>
#include <rados/librados.h>

struct kairos_volumes;
struct kairos_shares;
struct kairos_buckets;

/*
 * Ledger writes to one project from threads of one process queue on a
 * stripe of these instead of colliding on the project object and retrying:
 * a lost omap_cmp costs the OSD as much as a write. Other processes are
 * still arbitrated by RADOS alone.
 */
#define KAIROS_PROJECT_STRIPES 64

struct kairos {
    const struct kairos_config *cfg;
    struct kairos_policy *policy;
    rados_t rados;
    rados_ioctx_t meta;             /* metadata pool, default namespace; never re-targeted */
    struct kairos_volumes *volumes; /* volume.c */
    struct kairos_shares *shares;   /* share.c */
    struct kairos_buckets *buckets; /* bucket.c; NULL without [rgw] */
    pthread_mutex_t project_stripes[KAIROS_PROJECT_STRIPES];

    pthread_mutex_t lock; /* guards everything below */
    struct kairos_kind_ops kinds[KAIROS_KIND_COUNT];
    uint64_t usable;          /* bytes, from the policy or the cluster */
    double full_ratio;        /* from the policy or the OSD map */
    uint64_t last_reclaim_ms; /* last sweep for spare budget (budget.c) */
    json_t *pools;            /* "osd pool ls detail" as last read (capacity.c), or NULL */
    uint64_t pools_ms;        /* when it was read */

    /* Background reconciler. */
    pthread_t reconciler;
    bool reconciler_running;
    bool reconciler_stop;
    pthread_cond_t reconciler_wake;
    kairos_reconcile_cb reconciler_cb;
    void *reconciler_arg;
    /* The newest day this handle named in the audit index (audit.c): "YYYYMMDD" or "". */
    char audit_day[9];
};

/* The stripe lock of @project's ledger writes (see KAIROS_PROJECT_STRIPES). */
pthread_mutex_t *kairos_project_stripe(struct kairos *k, const char *project);

/*
 * kairos_kind_ops_get() - a copy of @kind's ops.
 * Return: 0, or -ENOSYS when no backend is registered.
 */
int kairos_kind_ops_get(struct kairos *k, enum kairos_kind kind, struct kairos_kind_ops *out);

/*
 * kairos_mon_json() - send a monitor command (JSON text) and parse the
 * JSON answer into @out (may be NULL to ignore it).
 * Return: 0 or the command's negative errno, with the monitor's words in @err.
 */
int kairos_mon_json(struct kairos *k, const char *cmd, json_t **out, struct kairos_error *err);

/*
 * kairos_fence_ms() - how long after it opened its intent (or started a
 * budget transfer) a request may still act on what the intent covers: half
 * a lease. The reconciler settles an intent only a whole lease after it,
 * so the two never act on the same thing at once, with clocks up to half a
 * lease apart.
 */
uint64_t kairos_fence_ms(const struct kairos *k);

/*
 * kairos_budget_limit() - effective bytes the cluster admits in all:
 * usable * (full_ratio - headroom).
 */
uint64_t kairos_budget_limit(struct kairos *k);

/*
 * kairos_capacity_refresh() - re-read usable capacity and the full ratio
 * from the cluster where the policy says "auto".
 */
int kairos_capacity_refresh(struct kairos *k, struct kairos_error *err);

/*
 * kairos_capacity_writable() - may a new or larger allocation of @kind be
 * made, as far as Ceph's full flags go? Ceph flags a pool "full" when an
 * OSD it maps to is past the cluster's full ratio (or the pool reached
 * its own quota), and then holds every write to it that is not marked
 * FULL_TRY until the flag clears: librbd would wait for [ceph] timeout and
 * fail with -ETIMEDOUT, and the MDS would make a share that nobody can
 * write to. The pools asked about: the metadata pool, and the block pool
 * (volumes), the CephFS data pool (shares) or every pool of radosgw
 * (buckets). The flags are read from the monitors at most once a second;
 * a failed read lets the allocation go on (its own steps then report).
 * Return: 0, or -ENOSPC naming the full pool.
 */
int kairos_capacity_writable(struct kairos *k, enum kairos_kind kind, struct kairos_error *err);

#endif
