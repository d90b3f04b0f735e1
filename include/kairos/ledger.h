/*
 * kairos/ledger.h - the quota ledger: reserve, then commit or release.
 *
 * Every allocation passes through here (DESIGN.md, invariants 2-4):
 *
 *   kairos_ledger_reserve()   admission against the project quota and the
 *                             cluster budget; writes the reservation and its
 *                             intent record in one atomic RADOS write
 *   ... create the Ceph object ...
 *   kairos_ledger_commit()    the allocation is real
 *   kairos_ledger_release()   it is not (the create failed): undo
 *
 * A crash between reserve and commit leaves an intent that the reconciler
 * finishes or rolls back. Counters include pending reservations, so racing
 * requests from any number of processes never take a project or the
 * cluster past its limit. Updates are omap_cmp-guarded and retried on
 * conflict.
 *
 * Requests are idempotent by (project, kind, name): repeating a create that
 * was committed with the same size and attributes returns that allocation
 * with existing set; a different size or attributes is -EEXIST.
 *
 * Snapshot allocations are named "<volume|share>:<parent>@<snap>", carry
 * no bytes, and count against the snapshot limit.
 *
 * All functions are thread-safe on a shared handle.
 */
#ifndef KAIROS_LEDGER_H
#define KAIROS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

enum kairos_op {
    KAIROS_OP_NONE, /* no intent pending */
    KAIROS_OP_CREATE,
    KAIROS_OP_RESIZE,
    KAIROS_OP_DELETE,
};

#define KAIROS_INTENT_ID_LEN 16

/* What to allocate. Strings are copied; the caller keeps them. */
struct kairos_alloc_req {
    const char *project;
    enum kairos_kind kind;
    const char *name;
    uint64_t bytes;    /* 1..KAIROS_SIZE_MAX; 0 for snapshots */
    const char *attrs; /* a JSON object kept with the allocation, or NULL */
};

/* One allocation as the ledger records it. */
struct kairos_alloc {
    char project[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
    char name[KAIROS_ALLOC_NAME_MAX + 1];
    uint64_t bytes;        /* committed size (a pending create: requested) */
    bool pending;          /* an intent is open on it */
    enum kairos_op op;     /* the open intent, or KAIROS_OP_NONE */
    uint64_t target_bytes; /* the size a pending resize goes to */
    uint64_t created_ms;
    uint64_t intent_ms; /* when the open intent was made or last touched */
    char intent[KAIROS_INTENT_ID_LEN + 1];
    char *attrs; /* JSON object text, malloc'ed; see kairos_alloc_clear() */
};

/* A reservation: the handle for one open intent. */
struct kairos_reservation {
    char project[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
    char name[KAIROS_ALLOC_NAME_MAX + 1];
    enum kairos_op op;
    uint64_t bytes;     /* size after the operation */
    uint64_t old_bytes; /* size before it (resize, delete) */
    char intent[KAIROS_INTENT_ID_LEN + 1];
    uint64_t intent_ms; /* when the intent was opened (wall clock, ms) */
    bool existing;      /* an identical committed allocation exists: nothing to do */
    char *record;       /* private: the record as reserved, for a one-write commit */
};

struct kairos_alloc_page {
    struct kairos_alloc *items;
    size_t count;
    bool more; /* pass items[count-1].name as @start_after for the next page */
};

/* Totals from the counters beside the totals summed from the records. */
struct kairos_audit {
    uint64_t counted_bytes[KAIROS_KIND_COUNT], summed_bytes[KAIROS_KIND_COUNT];
    uint64_t counted_count[KAIROS_KIND_COUNT], summed_count[KAIROS_KIND_COUNT];
    uint64_t counted_eff, summed_eff; /* cluster budget in use */
    uint64_t grant;                   /* cluster budget held by the project */
    uint64_t pending;                 /* open intents */
    bool consistent;                  /* every counted equals its summed */
};

/**
 * kairos_ledger_reserve() - reserve quota for a new allocation.
 * @out: on success the reservation; free with kairos_reservation_free().
 *       If (*out)->existing, the allocation already exists as asked and
 *       nothing is reserved: do not commit or release it.
 *
 * Return: 0; -EINVAL (bad name, kind or size); -ENOENT (no such project,
 * or it is being deleted); -EDQUOT (project quota; @err names the limit);
 * -ENOSPC (cluster capacity, or a Ceph pool the kind writes to is
 * flagged full: @err names it; a repeat of what exists is still answered);
 * -EEXIST (exists with other size or attributes); -EINPROGRESS (another request on that name is in
 * flight: try again); -EAGAIN (the project's record is too contended: try again); or a librados
 * error.
 */
int kairos_ledger_reserve(struct kairos *k, const struct kairos_alloc_req *req,
                          struct kairos_reservation **out, struct kairos_error *err);

/**
 * kairos_ledger_reserve_resize() - reserve a change of size. Growing is
 * admitted like a create of the difference; shrinking frees quota only at
 * commit. Resizing to the current size gives a reservation with existing.
 * Return: as kairos_ledger_reserve(), and -ENOENT for no such allocation.
 */
int kairos_ledger_reserve_resize(struct kairos *k, const char *project, enum kairos_kind kind,
                                 const char *name, uint64_t bytes, struct kairos_reservation **out,
                                 struct kairos_error *err);

/**
 * kairos_ledger_reserve_delete() - open a delete intent. Quota is freed at
 * commit. A stale delete intent is rolled forward by the reconciler.
 * Return: 0, -EINVAL, -ENOENT, -EINPROGRESS, -EAGAIN, or a librados error.
 */
int kairos_ledger_reserve_delete(struct kairos *k, const char *project, enum kairos_kind kind,
                                 const char *name, struct kairos_reservation **out,
                                 struct kairos_error *err);

/**
 * kairos_ledger_commit() - the operation happened: make it permanent.
 * Committing twice is 0.
 * Return: 0; -ESTALE (the intent was rolled back by the reconciler: undo
 * the Ceph side); or a librados error (the intent stays for the reconciler).
 */
int kairos_ledger_commit(struct kairos *k, const struct kairos_reservation *res,
                         struct kairos_error *err);

/**
 * kairos_ledger_release() - the operation did not happen: undo the
 * reservation. Releasing an intent that is already gone is 0.
 * Return: 0, -ESTALE (the intent was committed meanwhile), or a librados error.
 */
int kairos_ledger_release(struct kairos *k, const struct kairos_reservation *res,
                          struct kairos_error *err);

/**
 * kairos_ledger_touch() - refresh the intent's time, for operations that
 * legitimately run longer than the reconciler's lease.
 * Return: 0, -ESTALE (intent gone), or a librados error.
 */
int kairos_ledger_touch(struct kairos *k, const struct kairos_reservation *res,
                        struct kairos_error *err);

void kairos_reservation_free(struct kairos_reservation *res);

/**
 * kairos_ledger_get() - read one allocation.
 * @out: filled on success; release with kairos_alloc_clear().
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_ledger_get(struct kairos *k, const char *project, enum kairos_kind kind,
                      const char *name, struct kairos_alloc *out, struct kairos_error *err);

/* Free what kairos_ledger_get() put in @a. */
void kairos_alloc_clear(struct kairos_alloc *a);

/**
 * kairos_ledger_list() - up to @max (1..1000) allocations of @kind in
 * @project after @start_after (NULL for the first), in name order.
 * @out: free with kairos_alloc_page_free().
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_ledger_list(struct kairos *k, const char *project, enum kairos_kind kind,
                       const char *start_after, unsigned max, struct kairos_alloc_page **out,
                       struct kairos_error *err);

void kairos_alloc_page_free(struct kairos_alloc_page *page);

/**
 * kairos_ledger_audit() - compare @project's counters with the sum of its
 * allocation records. Reads every record: for tests, tools and the
 * reconciler, not for request paths.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_ledger_audit(struct kairos *k, const char *project, struct kairos_audit *out,
                        struct kairos_error *err);

/**
 * kairos_usage_get() - quota, allocated and measured use of @project, per
 * kind and in total. Use is measured by each kind's backend (used op);
 * a kind without one reports -1.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_usage_get(struct kairos *k, const char *project, struct kairos_usage *out,
                     struct kairos_error *err);

/**
 * kairos_alloc_name_check() - is @name valid for @kind? Snapshots are
 * "<volume|share>:<parent>@<snap>"; other kinds use kairos_name_check().
 * Return: 0 or -EINVAL.
 */
int kairos_alloc_name_check(enum kairos_kind kind, const char *name, struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
