/*
 * kairos/registry.h - small JSON records under ids chosen by a caller, such
 * as the broker API's service instance and binding ids (which are GUIDs, not
 * Kairos names) and its asynchronous operations.
 *
 * Records live in RADOS beside the ledger, so every kairosd sees the same
 * ones and a restarted kairosd finds them again. A space ("instance",
 * "binding", "operation") keeps unrelated ids apart. The ledger stays the
 * authority on what is allocated: a registry record only says which
 * allocation an outside id means.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef KAIROS_REGISTRY_H
#define KAIROS_REGISTRY_H

#include <stddef.h>

#include <kairos/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Longest id: printable ASCII without '/', 1 to 200 characters. */
#define KAIROS_REGISTRY_ID_MAX 200

/* kairos_registry_put() flags. */
#define KAIROS_REGISTRY_CREATE 0x1 /* fail with -EEXIST if @id is taken */

/**
 * kairos_registry_put() - store @json (a JSON object's text) under
 * (@space, @id), replacing what was there unless @flags has
 * KAIROS_REGISTRY_CREATE.
 * Return: 0, -EINVAL (bad space, id or JSON), -EEXIST, or a librados error.
 */
int kairos_registry_put(struct kairos *k, const char *space, const char *id, const char *json,
                        unsigned flags, struct kairos_error *err);

/**
 * kairos_registry_get() - the record under (@space, @id).
 * @json: receives malloc'ed text; the caller frees it.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_registry_get(struct kairos *k, const char *space, const char *id, char **json,
                        struct kairos_error *err);

/**
 * kairos_registry_delete() - forget (@space, @id). A missing record is success.
 * Return: 0, -EINVAL, or a librados error.
 */
int kairos_registry_delete(struct kairos *k, const char *space, const char *id,
                           struct kairos_error *err);

/* Is @id acceptable as a registry id? */
int kairos_registry_id_valid(const char *id);

#ifdef __cplusplus
}
#endif
#endif
