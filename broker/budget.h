/*
 * budget.h - the cluster budget, handed to projects in slices.
 *
 * Admission must keep the sum over all projects of effective bytes at or
 * below the cluster limit. One counter object for the whole cluster would
 * be touched by every reservation and become the hot spot of the system
 * (DESIGN.md, invariant 2). Instead each project holds a grant: a slice of
 * the budget taken from kairos.cluster. A reservation that fits in its
 * project's grant touches only the project object; only when the grant
 * runs short does it take a further slice (the need plus a little spare,
 * less as the cluster fills), and slack beyond a chunk is given back when
 * allocations are freed. Sum(eff) <= sum(grant) <= granted <= limit.
 *
 * Moving budget touches two objects, so each move is an intent: the
 * cluster side records "t.<project>.<txid>" before the project side
 * applies it (and marks it applied), and a return records the project side
 * first, the cluster side keeping a "d." marker so it is credited once.
 * Every crash point errs on the side of less budget, never more. The
 * reconciler finishes or undoes what was cut short, and clears the records
 * of finished moves once they are older than the lease.
 *
 * Every step is fenced, so a broker that stalls between two steps for
 * longer than the lease (a paused VM, SIGSTOP) cannot apply a move the
 * reconciler has settled meanwhile: a give is refused half a lease after
 * its take, a credit half a lease after its shed (or after the read of the
 * record it finishes), and the reconciler's markers ("void" on the
 * project, "d." on the cluster) live a whole lease after the last moment
 * a fenced step could still read them.
 *
 * New projects get their first slice ahead, with the project, and at least
 * 1/65536 of the limit: their first allocations do not meet on
 * kairos.cluster.
 */
#ifndef KAIROS_BUDGET_H
#define KAIROS_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/reconcile.h>

struct kairos;
struct kairos_kvs;

/*
 * kairos_budget_acquire() - add at least @need effective bytes to
 * @project's grant, which is @held now.
 * Return: 0, -ENOSPC (the cluster cannot spare @need), -ENOENT (project
 * gone), -ESTALE (the reconciler cancelled this slow transfer: retry), or
 * a librados error.
 */
int kairos_budget_acquire(struct kairos *k, const char *project, uint64_t need, uint64_t held,
                          struct kairos_error *err);

/*
 * kairos_budget_reclaim() - take back every project's spare budget. For a
 * cluster that refuses a slice while projects sit on spare: O(projects).
 * Return: 0 or a librados error reading the index.
 */
int kairos_budget_reclaim(struct kairos *k, struct kairos_error *err);

/* Is the cluster close enough to its limit that spare should not be kept? */
bool kairos_budget_tight(struct kairos *k);

/*
 * kairos_budget_trim() - give back what @project's grant holds beyond its
 * use plus @keep.
 * Return: 0 or a librados error.
 */
int kairos_budget_trim(struct kairos *k, const char *project, uint64_t keep,
                       struct kairos_error *err);

/* Spare budget a project keeps when it frees some: the unit of slices. */
uint64_t kairos_budget_chunk(struct kairos *k);

/* Effective bytes granted to projects in all. */
int kairos_budget_granted(struct kairos *k, uint64_t *granted, struct kairos_error *err);

/*
 * kairos_budget_reconcile_cluster() - finish or undo stale transfers
 * recorded on the cluster object.
 */
int kairos_budget_reconcile_cluster(struct kairos *k, uint64_t lease_ms,
                                    struct kairos_reconcile_report *rep);

/*
 * kairos_budget_reconcile_project() - finish stale transfers recorded on
 * @project's object. @transfers holds its "t." keys (others are skipped).
 */
int kairos_budget_reconcile_project(struct kairos *k, const char *project,
                                    const struct kairos_kvs *transfers, uint64_t lease_ms,
                                    struct kairos_reconcile_report *rep);

#endif
