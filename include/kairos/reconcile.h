/*
 * kairos/reconcile.h - finish or roll back what a crash left half done.
 *
 * An intent older than the lease belongs to a request that died (kill -9,
 * a lost host) or hung. For each, the kind's probe decides:
 *
 *   create  object exists -> commit;  missing -> release
 *   resize  size is the target -> commit;  otherwise -> roll back
 *   delete  rolled forward: destroy (if still there), then commit
 *
 * Then it scans for drift (kairos/drift.h): what exists in Ceph against
 * what the ledger holds, paced, resuming where the last pass stopped.
 *
 * The reconciler also revokes bindings that were never handed out,
 * finishes revocations, interrupted project creations and deletions, and
 * transfers of cluster budget between the cluster and a project. One pass at a time runs across all
 * kairosd processes (a RADOS lock); the others skip.
 *
 * The lease must exceed the longest create a backend performs; a request
 * that outlives it finds its intent gone at commit (-ESTALE) and undoes
 * its Ceph object.
 */
#ifndef KAIROS_RECONCILE_H
#define KAIROS_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include <kairos/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

struct kairos_reconcile_report {
    bool skipped;           /* another process holds the reconciler lock */
    unsigned projects;      /* projects scanned */
    unsigned committed;     /* stale intents rolled forward */
    unsigned released;      /* stale intents rolled back */
    unsigned left;          /* stale intents left: probe failed or no backend */
    unsigned transfers;     /* budget transfers finished or undone */
    unsigned bindings;      /* bindings rolled back or revocations finished */
    unsigned projects_done; /* creations and deletions finished or undone */
    unsigned audit_trimmed; /* audit day objects removed ([audit] max_age) */
    unsigned errors;
    char last_error[256]; /* the latest error, "" if none */

    /* The drift scan (kairos/drift.h), paced by [reconcile] scan_rate. */
    unsigned drift;          /* findings */
    unsigned drift_acted;    /* of them, put back or revoked */
    unsigned drift_revoked;  /* bindings revoked for drift */
    unsigned trash_swept;    /* childless snapshots removed from RBD's trash namespace */
    uint64_t scanned;        /* objects and headers read */
    unsigned drift_projects; /* projects scanned in full */
    bool drift_partial;      /* stopped at the pass's time; the next pass goes on from there */
    /* The audit: one line per finding (the first KAIROS_DRIFT_AUDIT_MAX). */
#define KAIROS_DRIFT_AUDIT_MAX 16
    unsigned naudit;
    char audit[KAIROS_DRIFT_AUDIT_MAX][320];
};

/**
 * kairos_reconcile_run() - one pass over every project.
 * @lease_ms: intents older than this are stale; 0 uses the config's lease.
 * Return: 0 (see @rep, which also counts errors met on the way), -EBUSY
 * never (a held lock gives 0 with rep->skipped), or a librados error that
 * stopped the pass.
 */
int kairos_reconcile_run(struct kairos *k, uint64_t lease_ms, struct kairos_reconcile_report *rep,
                         struct kairos_error *err);

/* Called after each background pass; must not block for long. */
typedef void (*kairos_reconcile_cb)(void *arg, int rc, const struct kairos_reconcile_report *rep);

/**
 * kairos_reconciler_start() - run a pass now and then every [reconcile]
 * interval on a thread of the handle, until kairos_reconciler_stop() or
 * kairos_close().
 * @cb: may be NULL.
 * Return: 0, -EALREADY, or -errno from pthread_create.
 */
int kairos_reconciler_start(struct kairos *k, kairos_reconcile_cb cb, void *arg);

/**
 * kairos_reconciler_stop() - stop the background thread, waiting for a pass
 * in progress. A no-op when none runs.
 */
void kairos_reconciler_stop(struct kairos *k);

#ifdef __cplusplus
}
#endif
#endif
