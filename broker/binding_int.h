/*
 * binding_int.h - binding operations for the backends and the reconciler.
 */
#ifndef KAIROS_BINDING_INT_H
#define KAIROS_BINDING_INT_H

#include <kairos/binding.h>

/* How many bindings allocation @alloc has (at most 1000 counted). */
int kairos_binding_count(struct kairos *k, const char *project, enum kairos_kind kind,
                         const char *alloc, unsigned *count, struct kairos_error *err);

/*
 * kairos_binding_purge() - revoke and forget every binding of @alloc, before
 * the allocation itself goes. A missing project is success.
 */
int kairos_binding_purge(struct kairos *k, const char *project, enum kairos_kind kind,
                         const char *alloc, struct kairos_error *err);

/*
 * kairos_binding_reconcile() - settle the binding intent @jkey ("j." key of
 * @project) if older than @lease_ms: a binding never handed out is revoked
 * and forgotten, a revocation is finished.
 * Return: 1 (settled), 0 (nothing to do yet), or a negative errno.
 */
int kairos_binding_reconcile(struct kairos *k, const char *project, const char *jkey,
                             const char *jval, uint64_t lease_ms, struct kairos_error *err);

#endif
