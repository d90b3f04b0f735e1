/*
 * kairos/kind.h - what the broker core asks of the backend behind a kind.
 *
 * The ledger and the reconciler know quotas and intents, not RBD or CephFS.
 * When they must know whether the Ceph object behind an allocation exists,
 * remove it, or measure it, they call the ops registered for its kind. The
 * RBD, CephFS and RGW backends register theirs when the handle opens; a
 * caller (a test, a tool) may register its own in their place.
 *
 * Every op gets the @arg given at registration, must be thread-safe, and
 * returns a negative errno on failure with a message in @err.
 */
#ifndef KAIROS_KIND_H
#define KAIROS_KIND_H

#include <stdint.h>

#include <kairos/error.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

struct kairos_kind_ops {
    /*
     * probe: does the object behind (@project, @name) exist? On 1, *@bytes
     * is its current size (0 where size means nothing).
     * Return: 1 (exists), 0 (does not), or a negative errno (cannot tell;
     * the reconciler leaves the intent alone).
     */
    int (*probe)(void *arg, const char *project, const char *name, uint64_t *bytes,
                 struct kairos_error *err);
    /* destroy: remove the object; a missing object is success. */
    int (*destroy)(void *arg, const char *project, const char *name, struct kairos_error *err);
    /* used: bytes actually used by all of @project's allocations of this kind. */
    int (*used)(void *arg, const char *project, uint64_t *bytes, struct kairos_error *err);
    /* teardown: remove per-project resources (namespace, directory, user). Optional. */
    int (*teardown)(void *arg, const char *project, struct kairos_error *err);
    void *arg;
};

/**
 * kairos_kind_register() - make @ops the backend of @kind, replacing any
 * earlier one. @ops is copied. Thread-safe.
 * Return: 0 or -EINVAL (bad kind, or no probe).
 */
int kairos_kind_register(struct kairos *k, enum kairos_kind kind,
                         const struct kairos_kind_ops *ops);

#ifdef __cplusplus
}
#endif
#endif
