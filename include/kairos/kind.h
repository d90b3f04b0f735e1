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
    /*
     * claim: for the reconciler settling a create made under intent
     * @intent. A backend tags what it creates with the intent's id (image
     * metadata, a directory xattr, a bucket tag); claim counts only an
     * object with @intent's tag, finished as the ledger records it. One
     * with no tag yet (the create died right after making it) is given
     * @intent's tag first, by a write that fails if another tag got there
     * first. One with another tag belongs to another request and is left
     * alone. Return: 1 (ours; *@bytes its size), 0 (none of ours), or a
     * negative errno. Optional: without it, probe decides.
     */
    int (*claim)(void *arg, const char *project, const char *name, const char *intent,
                 uint64_t *bytes, struct kairos_error *err);
    /*
     * destroy: revoke the allocation's bindings and remove its object (with
     * what hangs on it, such as an image's snapshots); a missing object is
     * success.
     */
    int (*destroy)(void *arg, const char *project, const char *name, struct kairos_error *err);
    /* used: bytes actually used by all of @project's allocations of this kind. */
    int (*used)(void *arg, const char *project, uint64_t *bytes, struct kairos_error *err);
    /* teardown: remove per-project resources (namespace, directory, user). Optional. */
    int (*teardown)(void *arg, const char *project, struct kairos_error *err);
    /*
     * apply_quota: mirror @project's quota where Ceph can hold it natively
     * (CephFS quota on the project directory, RGW user quota). Called after
     * the quota changes; a project with no such resource yet is success.
     * Optional.
     */
    int (*apply_quota)(void *arg, const char *project, const struct kairos_quota *quota,
                       struct kairos_error *err);
    /*
     * bind: create (or, for the same @id, return again) credentials that
     * reach allocation @name and nothing else. @flags: KAIROS_BIND_*.
     * *@credentials is a malloc'ed JSON object with all a client needs.
     * Optional: a kind without it cannot be bound.
     */
    int (*bind)(void *arg, const char *project, const char *name, const char *id, unsigned flags,
                char **credentials, struct kairos_error *err);
    /* unbind: revoke what bind made for @id; nothing to revoke is success. */
    int (*unbind)(void *arg, const char *project, const char *name, const char *id,
                  struct kairos_error *err);
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
