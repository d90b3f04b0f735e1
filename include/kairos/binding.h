/*
 * kairos/binding.h - credentials that reach one allocation and nothing more.
 *
 * A binding of a volume or a share is a cephx entity
 * ("client.kairos.<project>.<kind>.<allocation>.<id>") whose caps reach that
 * one RBD image (and, read-only, a clone's ancestors) or that one CephFS
 * directory and its RADOS namespace; a binding of a bucket is an RGW key
 * limited to that bucket (DESIGN.md, invariant 5). A binding id names a
 * binding of one allocation: the same id on two allocations is two keys.
 * Unbinding revokes it: the key no longer authenticates.
 *
 * Bindings are recorded in the project object like allocations, with an
 * intent while they are made or revoked, so a crash leaves nothing behind
 * once the reconciler has run. Secrets are never stored by Kairos: they
 * live in Ceph, and asking again for the same binding returns them again.
 *
 * All functions are thread-safe on a shared handle.
 */
#ifndef KAIROS_BINDING_H
#define KAIROS_BINDING_H

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

/* kairos_binding_create() flags. */
#define KAIROS_BIND_READ_ONLY 0x1 /* read access only (shares, buckets) */

struct kairos_binding {
    char project[KAIROS_NAME_MAX + 1];
    enum kairos_kind kind;
    char alloc[KAIROS_NAME_MAX + 1];
    char id[KAIROS_NAME_MAX + 1];
    unsigned flags;
    bool pending; /* being made or revoked */
    uint64_t created_ms;
};

struct kairos_binding_page {
    struct kairos_binding *items;
    size_t count;
    bool more; /* pass items[count-1].id as @start_after for the next page */
};

/**
 * kairos_binding_create() - bind allocation @alloc of @kind in @project as @id.
 * @id:          a valid Kairos name, chosen by the caller (an OSB binding id).
 * @credentials: on success a malloc'ed JSON object (free() it) with what a
 *               client needs: monitors, user and key, and the pool, namespace
 *               and image, or the file system and path, or the S3 endpoint,
 *               keys and bucket.
 *
 * Repeating a create with the same @id and @flags returns the same
 * credentials; other @flags give -EEXIST.
 *
 * Return: 0; -EINVAL (bad names or flags); -ENOENT (no such allocation, it
 * is still being created, or the project is being deleted); -EEXIST (bound
 * already with other access); -EINPROGRESS (that binding is being made or
 * revoked: try again); -EOPNOTSUPP (the kind cannot be bound); or a backend or
 * librados error (nothing is left behind).
 */
int kairos_binding_create(struct kairos *k, const char *project, enum kairos_kind kind,
                          const char *alloc, const char *id, unsigned flags, char **credentials,
                          struct kairos_error *err);

/**
 * kairos_binding_delete() - revoke binding @id and forget it.
 * Return: 0, -EINVAL, -ENOENT (no such binding), or a backend error (the
 * binding stays, marked, and the reconciler finishes the revocation).
 */
int kairos_binding_delete(struct kairos *k, const char *project, enum kairos_kind kind,
                          const char *alloc, const char *id, struct kairos_error *err);

/**
 * kairos_binding_get() - read binding @id into @out.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_binding_get(struct kairos *k, const char *project, enum kairos_kind kind,
                       const char *alloc, const char *id, struct kairos_binding *out,
                       struct kairos_error *err);

/**
 * kairos_binding_list() - up to @max (1..1000) bindings of one allocation
 * after @start_after (NULL for the first), in id order.
 * @out: free with kairos_binding_page_free().
 * Return: 0, -EINVAL, -ENOENT (no project), or a librados error.
 */
int kairos_binding_list(struct kairos *k, const char *project, enum kairos_kind kind,
                        const char *alloc, const char *start_after, unsigned max,
                        struct kairos_binding_page **out, struct kairos_error *err);

void kairos_binding_page_free(struct kairos_binding_page *page);

#ifdef __cplusplus
}
#endif
#endif
