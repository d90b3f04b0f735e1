/*
 * drift_int.h - the drift scan, for the reconciler and the benchmark.
 */
#ifndef KAIROS_DRIFT_INT_H
#define KAIROS_DRIFT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <kairos/drift.h>
#include <kairos/reconcile.h>

/*
 * One run of the scan. It spends a budget of RADOS operations per second:
 * each object listed or checked, each header and directory entry read
 * costs one. It sleeps when it runs ahead, so its load on the cluster is
 * set by the rate alone, whatever the request rate.
 */
struct kairos_drift_ctx {
    double rate;          /* operations per second; 0: no limit */
    uint64_t deadline_ms; /* start no project past this (0: never) */
    /* Called while waiting: keep what the caller holds (its lock); false stops. */
    bool (*keep)(void *arg);
    void *keep_arg;

    /* Kept by the scan. */
    uint64_t start_ms;
    uint64_t spent;
    uint64_t block_snap_seq; /* the block pool's newest snapshot id, read at the start */
    bool have_snap_seq;
};

/*
 * kairos_drift_run() - scan projects from where the last run stopped,
 * starting none past ctx->deadline_ms, then save where it stopped (or
 * start over next time). Counts into @rep.
 * Return: 0, -ENOLCK (ctx->keep said stop), or a librados error.
 */
int kairos_drift_run(struct kairos *k, struct kairos_drift_ctx *ctx,
                     struct kairos_reconcile_report *rep, struct kairos_error *err);

/*
 * kairos_drift_project() - scan one project in full, act by its policy,
 * record the findings, count into @rep (may be NULL).
 * Return: 0, -ENOLCK, -ENOENT (no project), or a librados error.
 */
int kairos_drift_project(struct kairos *k, const char *project, struct kairos_drift_ctx *ctx,
                         struct kairos_reconcile_report *rep, struct kairos_error *err);

#endif
