/*
 * ops.h - asynchronous operations: slow work (deleting a large share,
 * cloning, flattening) runs on a few worker threads off the request path,
 * and its state lives in the registry ("operation" space), so any kairosd
 * answers a poll for it.
 *
 * An operation record is {"state": "in progress"|"succeeded"|"failed",
 * "description", "started", "finished"}. A kairosd killed mid-operation
 * leaves "in progress"; the ledger's intent is settled by the reconciler,
 * and pollers that know the allocation (OSBAPI last_operation) read the
 * ledger's verdict instead.
 *
 * Thread-safety: ops_submit() may be called from any thread.
 */
#ifndef KAIROSD_OPS_H
#define KAIROSD_OPS_H

#include <kairos/kairos.h>

#include "gateway.h"

#define OPS_ID_LEN 32

/* The work: 0 or a negative errno with a message in @err. */
typedef int (*ops_fn)(struct gateway *g, void *arg, struct kairos_error *err);

struct ops;

int ops_start(struct gateway *g, unsigned workers, struct ops **out);
/* Finish every queued and running operation, then stop the workers. */
void ops_stop(struct ops *o);

/*
 * ops_id_new() - a fresh random operation id into @id (OPS_ID_LEN + 1
 * bytes); "" when the kernel gives no random bytes, which ops_submit()
 * refuses with -EIO.
 */
void ops_id_new(char *id);

/*
 * ops_submit() - record operation @id as in progress and queue @fn(@arg).
 * @arg is freed with free() when done, or now if the submit fails.
 * Return: 0, -ESHUTDOWN (stopping), -EIO (an empty @id), or the registry's error.
 */
int ops_submit(struct ops *o, const char *id, const char *description, ops_fn fn, void *arg,
               struct kairos_error *err);

/* ops_get() - the record of operation @id as JSON (caller decrefs). Return: 0 or -errno. */
int ops_get(struct gateway *g, const char *id, json_t **out, struct kairos_error *err);

#endif
