/*
 * cache_int.h - the sending side of the caches' watch/notify: what changes
 * a cached record calls once the change is in RADOS (see kairos/cache.h).
 */
#ifndef KAIROS_CACHE_INT_H
#define KAIROS_CACHE_INT_H

struct kairos;

/*
 * kairos_cache_notify() - tell every cache that the record @what ("project"
 * or "token") named @key (a project name, a token's hash) changed, and
 * wait until each has dropped it (KAIROS_NOTIFY_TIMEOUT_MS at most).
 * Best effort: a cache that misses it still lets the entry go within its ttl.
 */
void kairos_cache_notify(struct kairos *k, const char *what, const char *key);

#endif
