/*
 * kairos/capacity.h - the cluster's capacity beside what is promised and used.
 *
 * usable      raw capacity / replica count (or the declared size)
 * limit       usable * (full_ratio - headroom): what admission allows, in
 *             effective bytes (bytes / the kind's overcommit)
 * quota       the sum of project quotas (can exceed usable: oversubscription)
 * allocated   the sum of allocations (pending ones included)
 * used        what the pools really store
 *
 * Thread-safe. A report reads every project: it is for dashboards and
 * the CLI, not request paths.
 */
#ifndef KAIROS_CAPACITY_H
#define KAIROS_CAPACITY_H

#include <stdint.h>

#include <kairos/error.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

struct kairos_capacity_report {
    uint64_t usable; /* bytes */
    double full_ratio;
    double headroom;
    uint64_t limit;                          /* effective bytes admission allows */
    uint64_t granted;                        /* effective bytes handed to projects' budgets */
    uint64_t allocated_eff;                  /* effective bytes allocated */
    uint64_t quota_bytes[KAIROS_KIND_COUNT]; /* KAIROS_UNLIMITED if any project is */
    uint64_t allocated_bytes[KAIROS_KIND_COUNT];
    uint64_t allocated_count[KAIROS_KIND_COUNT];
    uint64_t quota_total; /* sum over projects of their byte quotas; KAIROS_UNLIMITED if any is */
    uint64_t allocated_total; /* bytes over all kinds */
    uint64_t used;            /* bytes stored, as the cluster reports (raw / replicas) */
    double oversubscription;  /* quota_total / usable; 0 when unlimited */
    unsigned projects;
};

/**
 * kairos_capacity_get() - build the report.
 * Return: 0 or a librados error.
 */
int kairos_capacity_get(struct kairos *k, struct kairos_capacity_report *out,
                        struct kairos_error *err);

/* One project as the report's scan read it (for per-project metrics). */
struct kairos_capacity_project {
    const char *name;          /* valid during the call only */
    struct kairos_quota quota; /* KAIROS_UNLIMITED where there is no limit */
    uint64_t allocated_bytes[KAIROS_KIND_COUNT];
    uint64_t allocated_count[KAIROS_KIND_COUNT];
};

typedef void (*kairos_capacity_project_fn)(void *arg, const struct kairos_capacity_project *p);

/**
 * kairos_capacity_get_each() - kairos_capacity_get() that also hands each
 * project it reads to @fn (called from this thread, in index order; may be
 * NULL). No more RADOS reads than kairos_capacity_get().
 * Return: 0 or a librados error.
 */
int kairos_capacity_get_each(struct kairos *k, struct kairos_capacity_report *out,
                             kairos_capacity_project_fn fn, void *arg, struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
