/*
 * kairos/drift.h - what exists in Ceph compared with what the ledger holds.
 *
 * Caps cannot stop everything a binding's key can do: a volume key must
 * write its image's header (the watch needs it), so it can rewrite the
 * header's size or features; it may write objects of any name under its
 * data prefix; a share key may write raw objects into the share's data
 * namespace, and a client that ignores CephFS quotas may pass them. The
 * reconciler's drift scan finds these, paced by [reconcile] scan_rate, and
 * acts on them by the project's policy (docs/DESIGN.md, "Drift"):
 *
 *   always  put back: the header's size and features, a share's quota,
 *           objects under a volume's data prefix that are no object of it
 *   report  record the finding (REST, kairosctl, /metrics, the pass's audit)
 *   revoke  also revoke (and blocklist) the read-write bindings that could
 *           have caused it, and remove foreign objects
 *
 * Findings are kept in the project's object, replaced by each full scan of
 * the project.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef KAIROS_DRIFT_H
#define KAIROS_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

enum kairos_drift_policy {
    KAIROS_DRIFT_REPORT,
    KAIROS_DRIFT_REVOKE,
};

/* Without a policy of its own a project gets this one (docs/DESIGN.md says why). */
#define KAIROS_DRIFT_DEFAULT KAIROS_DRIFT_REVOKE

struct kairos_drift_finding {
    enum kairos_kind kind;           /* KAIROS_VOLUME or KAIROS_SHARE */
    char alloc[KAIROS_NAME_MAX + 1]; /* the allocation, "" for the project's namespace */
    char what[24];                   /* "size", "features", "snapshots", "objects", ... */
    char detail[256];                /* in words */
    uint64_t objects;                /* objects concerned, where it applies */
    uint64_t bytes;                  /* bytes concerned, where known */
    uint64_t first_ms;               /* first found */
    uint64_t last_ms;                /* last found */
    char action[160];                /* what was done, in words */
};

/* "report" or "revoke". */
const char *kairos_drift_policy_name(enum kairos_drift_policy policy);

/* Parse @s ("report", "revoke"). Return: 0 or -EINVAL. */
int kairos_drift_policy_parse(const char *s, enum kairos_drift_policy *out);

/**
 * kairos_drift_policy_get() - @project's drift policy (its own or the default).
 * Return: 0, -EINVAL, -ENOENT (no project), or a librados error.
 */
int kairos_drift_policy_get(struct kairos *k, const char *project, enum kairos_drift_policy *out,
                            struct kairos_error *err);

/**
 * kairos_drift_policy_set() - set @project's drift policy.
 * Return: 0, -EINVAL, -ENOENT (no project, or it is being deleted), or a
 * librados error.
 */
int kairos_drift_policy_set(struct kairos *k, const char *project, enum kairos_drift_policy policy,
                            struct kairos_error *err);

/**
 * kairos_drift_list() - the findings of @project's last scan.
 * @out: malloc'ed array of *@n (NULL when none); free() it.
 * Return: 0, -EINVAL, -ENOENT (no project), or a librados error.
 */
int kairos_drift_list(struct kairos *k, const char *project, struct kairos_drift_finding **out,
                      size_t *n, struct kairos_error *err);

/**
 * kairos_drift_scan() - scan @project now, act by its policy and record the
 * findings, as the reconciler does (not paced).
 * @found: findings (may be NULL).
 * Return: 0, -EINVAL, -ENOENT, or an error that stopped the scan.
 */
int kairos_drift_scan(struct kairos *k, const char *project, unsigned *found,
                      struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
