/*
 * ops.h - asynchronous operations: slow work (deleting a share or a
 * bucket, cloning, flattening, a large resize) runs on a few worker threads
 * off the request path, and its state lives in the registry ("operation"
 * space), so any kairosd answers a poll for it.
 *
 * An operation record is {"state": "in progress"|"succeeded"|"failed",
 * "what" ("provision", "delete", ...), "description" (what, or why it
 * failed), "started", "finished", "project", "instance", "expires"}, and for a failed
 * one "status" and "error", the HTTP status and name a synchronous call
 * answers (422 "QuotaExceeded", 404 "NotFound", ...), so a client tells a
 * quota refusal from a fault without reading the description:
 * "project" scopes it (a project token sees its own project's operations
 * only), "instance" ties it to an OSB service instance. A finished record
 * is kept for [registry] retention, then forgotten (a background sweep,
 * run by every kairosd, removes it; until then ops_get() already hides it).
 * A kairosd killed mid-operation leaves "in progress"; the ledger's intent
 * is settled by the reconciler, and pollers that know the allocation (OSB
 * last_operation) read the ledger's verdict instead.
 *
 * Thread-safety: ops_submit() and ops_get() may be called from any thread.
 */
#ifndef KAIROSD_OPS_H
#define KAIROSD_OPS_H

#include <kairos/kairos.h>

#include "gateway.h"

#define OPS_ID_LEN 32

/*
 * An operation still "in progress" this long lost its kairosd (kill -9: a
 * stopping kairosd finishes its operations): a repeated request may then
 * run the work again, which is idempotent.
 */
#define OPS_STALE_MS (30 * 60 * 1000ULL)

/* The work: 0 or a negative errno with a message in @err. */
typedef int (*ops_fn)(struct gateway *g, void *arg, struct kairos_error *err);

struct ops;

/*
 * ops_start() - @workers threads for the work, and one that sweeps expired
 * operation records and the deletion records @sweep_spaces (NULL-terminated)
 * names, every quarter of the retention (1 s to 10 min).
 */
int ops_start(struct gateway *g, unsigned workers, const char *const *sweep_spaces,
              struct ops **out);
/* Finish every queued and running operation, then stop the workers and the sweeper. */
void ops_stop(struct ops *o);

/*
 * ops_id_new() - a fresh random operation id into @id (OPS_ID_LEN + 1
 * bytes); "" when the kernel gives no random bytes, which ops_submit()
 * refuses with -EIO.
 */
void ops_id_new(char *id);

/* Is @id shaped like an operation id (OPS_ID_LEN lower-case hex digits)? */
bool ops_id_valid(const char *id);

/* Who an operation belongs to. */
struct ops_owner {
    const char *project;  /* the project it works in */
    const char *instance; /* the OSB instance it is for, or NULL */
};

/*
 * ops_submit() - record operation @id as in progress and queue @fn(@arg).
 * @arg is freed with free() when done, or now if the submit fails.
 * Return: 0, -ESHUTDOWN (stopping), -EIO (an empty @id), or the registry's error.
 */
int ops_submit(struct ops *o, const char *id, const char *description,
               const struct ops_owner *owner, ops_fn fn, void *arg, struct kairos_error *err);

/*
 * ops_get() - the record of operation @id as JSON (caller decrefs); a
 * finished one past the retention is gone (-ENOENT) even before the sweep.
 * Return: 0 or -errno.
 */
int ops_get(struct gateway *g, const char *id, json_t **out, struct kairos_error *err);

/* The "started" of an operation record (ms), or 0. */
uint64_t ops_started(const json_t *op);

/* Is the operation @op (a record) still running somewhere: in progress and not stale? */
bool ops_running(const json_t *op);

/* Milliseconds since the epoch (wall clock: records are compared across hosts). */
uint64_t ops_now_ms(void);

#endif
