/*
 * kairos/cache.h - a read cache of project records and token lookups for a
 * long-running process (kairosd), kept right across processes by RADOS
 * watch/notify.
 *
 * Whenever libkairos changes a project's record (quota, delete) or revokes
 * a token, it sends a notify on the object "kairos.notify" naming what
 * changed, and waits (up to KAIROS_NOTIFY_TIMEOUT_MS) until every watcher
 * has acknowledged it. A cache watches that object and drops the named
 * entry before it acknowledges, so once the changing call has returned, no
 * cache of any process serves the old value any more. Two nets catch what
 * a notify could miss: if the watch breaks (a lost connection), the cache
 * empties and reads through until it watches again; and no entry is served
 * older than the cache's ttl.
 *
 * Negative answers (no such project, unknown token) are never cached.
 *
 * Thread-safety: a cache may be shared by any number of threads.
 */
#ifndef KAIROS_CACHE_H
#define KAIROS_CACHE_H

#include <stdint.h>

#include <kairos/error.h>
#include <kairos/project.h>
#include <kairos/token.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;
struct kairos_cache;

/* How long a change waits for every cache to drop what it changed. */
#define KAIROS_NOTIFY_TIMEOUT_MS 1000

/* The longest an entry is served, whatever the notifies say (kairosd's choice). */
#define KAIROS_CACHE_TTL_MS 1000

/**
 * kairos_cache_open() - a cache on @k (which must outlive it) whose entries
 * live at most @ttl_ms. Starts watching "kairos.notify" (made if missing).
 * @out: free with kairos_cache_close().
 * Return: 0, or a librados error (the watch could not be set up).
 */
int kairos_cache_open(struct kairos *k, uint64_t ttl_ms, struct kairos_cache **out,
                      struct kairos_error *err);

/* kairos_cache_close() - stop watching and free; NULL is a no-op. */
void kairos_cache_close(struct kairos_cache *c);

/**
 * kairos_cache_project_get() - kairos_project_get() through the cache.
 * Return: as kairos_project_get().
 */
int kairos_cache_project_get(struct kairos_cache *c, const char *name, struct kairos_project *out,
                             struct kairos_error *err);

/**
 * kairos_cache_token_lookup() - kairos_token_lookup() through the cache
 * (keyed by the token's hash; the token itself is never kept).
 * Return: as kairos_token_lookup().
 */
int kairos_cache_token_lookup(struct kairos_cache *c, const char *token,
                              struct kairos_token_info *out, struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
