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
 * Scale: records are spread over [registry] shards omap objects
 * ("kairos.registry.<n>", n = FNV-1a of the id modulo the shard count), and
 * every write is guarded by the one key it changes (omap_cmp on that key),
 * never by a whole object, so writers of different ids never collide
 * however many records there are. The records of one id in different
 * spaces share a shard, so kairos_registry_swap() can change them together
 * atomically. The shard count is fixed when the registry is first opened
 * and recorded in "kairos.registry.meta"; a config that disagrees is refused.
 *
 * Expiry: a record may carry "expires" (milliseconds since the epoch);
 * kairos_registry_sweep() removes the records of a space past it.
 *
 * Thread-safety: every function may be called from any thread and from
 * any number of processes at once.
 */
#ifndef KAIROS_REGISTRY_H
#define KAIROS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Longest id: printable ASCII without '/', 1 to 200 characters. */
#define KAIROS_REGISTRY_ID_MAX 200

/* kairos_registry_put() flags. */
#define KAIROS_REGISTRY_CREATE 0x1 /* fail with -EEXIST if @id is taken */

/* What kairos_registry_open() found and did. */
struct kairos_registry_report {
    unsigned shards;        /* the registry's shard count */
    uint64_t records_moved; /* records moved from the single-object layout */
    uint64_t tokens_moved;  /* tokens moved likewise (kairos/token.h) */
};

/**
 * kairos_registry_open() - make the registry ready: record the shard count
 * on first use (or check it against the config's), create the shard
 * objects, and move records and tokens kept in the older single-object
 * layout ("kairos.registry", "kairos.tokens") into the shards. Safe to run
 * any number of times and from several kairosd at once; a record already in
 * its shard is never overwritten by an older copy.
 * @rep: may be NULL.
 * Return: 0, -EINVAL (the config's shard count is not the registry's), or
 * a librados error.
 */
int kairos_registry_open(struct kairos *k, struct kairos_registry_report *rep,
                         struct kairos_error *err);

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
 * @json: receives malloc'ed text, exactly as stored (so it can be given
 *        back as the expected value of kairos_registry_swap()); the caller
 *        frees it.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_registry_get(struct kairos *k, const char *space, const char *id, char **json,
                        struct kairos_error *err);

/**
 * kairos_registry_get_many() - the records of @id in each of the @n
 * @spaces (at most 8), in one read. json[i] is NULL where there is none.
 * Return: 0 (even when none exists), -EINVAL, or a librados error.
 */
int kairos_registry_get_many(struct kairos *k, const char *const *spaces, size_t n, const char *id,
                             char **json, struct kairos_error *err);

/* One change of kairos_registry_swap(). */
struct kairos_registry_change {
    const char *space;
    const char *expect; /* the value it must hold now, NULL: it must be absent */
    const char *json;   /* the new value, NULL: remove it */
};

/**
 * kairos_registry_swap() - apply the @n changes (at most 8) to @id's
 * records at once, if and only if each record holds what it is expected to.
 * Return: 0, -ECANCELED (some record changed meanwhile: read again and
 * decide again), -EINVAL, or a librados error.
 */
int kairos_registry_swap(struct kairos *k, const char *id,
                         const struct kairos_registry_change *changes, size_t n,
                         struct kairos_error *err);

/**
 * kairos_registry_delete() - forget (@space, @id). A missing record is success.
 * Return: 0, -EINVAL, or a librados error.
 */
int kairos_registry_delete(struct kairos *k, const char *space, const char *id,
                           struct kairos_error *err);

/**
 * kairos_registry_sweep() - remove every record of @space whose "expires"
 * is at or before @now_ms (each removal guarded by the value read, so a
 * record renewed meanwhile stays). Reads every shard a page at a time.
 * @removed: may be NULL; receives how many went.
 * Return: 0, -EINVAL, or a librados error.
 */
int kairos_registry_sweep(struct kairos *k, const char *space, uint64_t now_ms, uint64_t *removed,
                          struct kairos_error *err);

/* Is @id acceptable as a registry id? */
int kairos_registry_id_valid(const char *id);

/* The shard of @id among @shards (FNV-1a 32-bit of its bytes, modulo): stable for ever. */
unsigned kairos_registry_shard(const char *id, unsigned shards);

#ifdef __cplusplus
}
#endif
#endif
