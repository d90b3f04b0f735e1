/*
 * store.h - records in RADOS omap, updated by guarded atomic writes.
 *
 * Every record object carries a "gen" key: a random 64-bit value that every
 * write replaces. A reader gets gen together with the keys it needs in one
 * read op; a writer builds a kairos_txn on that gen, and the txn applies
 * only if gen is unchanged (omap_cmp), replacing it in the same atomic
 * write. A conflict returns -ECANCELED and the caller reads again. This is
 * optimistic concurrency across any number of threads and kairosd
 * processes, with RADOS as the only arbiter (DESIGN.md, invariant 2).
 * Being random rather than a counter, gen can also be moved by a "blind"
 * txn that did not read it but guards itself on the exact value of the
 * record it changes: every reader of the old state then fails its write.
 *
 * Values are NUL-terminated text (JSON or decimal); an empty value is never
 * stored, because omap_cmp sees a missing key as empty.
 *
 * Thread safety: functions are safe on a shared ioctx; a txn or kvs belongs
 * to one thread.
 */
#ifndef KAIROS_STORE_H
#define KAIROS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <rados/librados.h>

struct kairos_kv {
    char *key;
    char *val; /* NUL-terminated */
};

/* Keys and values read from one object; free with kairos_kvs_free(). */
struct kairos_kvs {
    struct kairos_kv *v;
    size_t n;
    bool more; /* a paged listing stopped before the end */
};

void kairos_kvs_free(struct kairos_kvs *kvs);

/* The value of @key, or NULL. Owned by @kvs. */
const char *kairos_kvs_get(const struct kairos_kvs *kvs, const char *key);

/* The value of @key parsed as JSON, or NULL if absent or not JSON. Caller decrefs. */
json_t *kairos_kvs_json(const struct kairos_kvs *kvs, const char *key);

/*
 * kairos_store_read() - gen and the @n @keys of @oid, in one read op.
 * Keys that do not exist are absent from @out; gen is 0 when unset.
 * Return: 0, -ENOENT (no object), or a librados error.
 */
int kairos_store_read(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n,
                      uint64_t *gen, struct kairos_kvs *out);

/*
 * kairos_store_read_many() - kairos_store_read() of @n objects at once,
 * with up to KAIROS_STORE_AIO_WINDOW reads in flight: for scans over many
 * projects. out[i] is empty for an object that does not exist.
 * Return: 0, or the first error other than -ENOENT.
 */
#define KAIROS_STORE_AIO_WINDOW 64
int kairos_store_read_many(rados_ioctx_t io, const char *const *oids, size_t n,
                           const char *const *keys, size_t nkeys, struct kairos_kvs *out);

/*
 * kairos_store_scan_many() - kairos_store_read_many() that also lists, in
 * the same read op of each object, up to @max keys under each of the
 * @nprefixes @prefixes (at most 4). out[i].more is set when a listing
 * was cut at @max.
 */
int kairos_store_scan_many(rados_ioctx_t io, const char *const *oids, size_t n,
                           const char *const *keys, size_t nkeys, const char *const *prefixes,
                           size_t nprefixes, unsigned max, struct kairos_kvs *out);

/*
 * kairos_store_list() - up to @max keys starting with @prefix, after
 * @start_after (NULL or "" for the first page), in key order. out->more
 * says whether another page follows.
 * Return: 0, -ENOENT (no object), or a librados error.
 */
int kairos_store_list(rados_ioctx_t io, const char *oid, const char *prefix,
                      const char *start_after, unsigned max, struct kairos_kvs *out);

/*
 * kairos_store_each() - every key under @prefix of @oid after @start_after
 * (NULL or "" for all), in key order, handed to @fn a page of up to @page
 * keys at a time (never an empty one). The page belongs to the iterator and is freed after @fn
 * returns. Stops at the first non-zero return of @fn and returns it.
 * Return: 0 after the last page, @fn's non-zero value, -ENOENT (no
 * object), or a librados error.
 */
typedef int (*kairos_store_page_fn)(void *arg, const struct kairos_kvs *page);
int kairos_store_each(rados_ioctx_t io, const char *oid, const char *prefix,
                      const char *start_after, unsigned page, kairos_store_page_fn fn, void *arg);

/* A guarded write to one object. */
struct kairos_txn;

/*
 * kairos_txn_new() - a write that applies only while gen is @gen; it gives
 * gen a new value. @gen 0 means "gen not set yet". With @create, the write
 * creates the object instead, and fails with -EEXIST if it exists.
 * Return: NULL only when out of memory.
 */
struct kairos_txn *kairos_txn_new(uint64_t gen, bool create);

/*
 * kairos_txn_new_blind() - a write that gives gen a new value without
 * checking the old one. It must guard itself with kairos_txn_expect() on
 * every key whose value it relies on.
 */
struct kairos_txn *kairos_txn_new_blind(void);

/*
 * kairos_txn_new_keyed() - a write to an object whose keys are guarded one
 * by one (a registry shard) rather than by gen: it creates the object if
 * need be, leaves gen alone, and must guard itself with kairos_txn_expect()
 * on every key whose absence or value it relies on. Writers of different
 * keys of the object never collide.
 */
struct kairos_txn *kairos_txn_new_keyed(void);

/* Also require @key to be absent (@val NULL or ""), or to hold exactly @val. */
void kairos_txn_expect(struct kairos_txn *txn, const char *key, const char *val);

void kairos_txn_set(struct kairos_txn *txn, const char *key, const char *val);

/* Set @key to @val serialized compactly; steals nothing, @val stays the caller's. */
void kairos_txn_set_json(struct kairos_txn *txn, const char *key, const json_t *val);

void kairos_txn_rm(struct kairos_txn *txn, const char *key);

/* Remove the whole object in the same write (still guarded by gen); gen goes with it. */
void kairos_txn_remove(struct kairos_txn *txn);

/*
 * kairos_txn_commit() - apply atomically. The txn may be freed after.
 * Return: 0; -ECANCELED when gen moved (read again and retry); -ENOENT
 * (no object and no create); -EEXIST (create of an existing object);
 * -ENOMEM if building the txn failed; -ENOSPC when the cluster is full;
 * the kernel's errno when it gives no random bytes for the new gen; or a
 * librados error.
 */
int kairos_txn_commit(struct kairos_txn *txn, rados_ioctx_t io, const char *oid);

void kairos_txn_free(struct kairos_txn *txn);

/*
 * kairos_store_backoff() - sleep before retry @attempt of a conflicted
 * update: a random delay that doubles per attempt, from about 0.2 ms up
 * to about 20 ms, so racing writers spread out instead of colliding again.
 */
void kairos_store_backoff(unsigned attempt);

/* Conflicts one update tolerates before it gives up with -EAGAIN. */
#define KAIROS_STORE_MAX_ATTEMPTS 400

/*
 * kairos_random_hex() - @nbytes (1..KAIROS_RANDOM_MAX) random bytes from
 * the kernel as hex into @out (2*nbytes+1). There is no weaker fallback:
 * when the kernel gives none, no id is made and the caller fails.
 * Return: 0, -EINVAL (bad @nbytes), or the kernel's errno (@out is "").
 */
#define KAIROS_RANDOM_MAX 64
int kairos_random_hex(char *out, size_t nbytes);

/* Milliseconds since the epoch (wall clock: intents are compared across hosts). */
uint64_t kairos_now_ms(void);

#endif

/*
 * A step of kairos_store_update(): look at @kvs (gen and the keys asked
 * for) and fill @txn. Return 0 to write the txn, KAIROS_STORE_NOOP to stop
 * with success and write nothing, or a negative errno to stop with it.
 */
#define KAIROS_STORE_NOOP 1
typedef int (*kairos_store_step)(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn);

/*
 * kairos_store_update() - read @keys of @oid, run @step, write its txn
 * guarded by gen, and start over on a conflict (up to
 * KAIROS_STORE_MAX_ATTEMPTS times, with backoff). @step may run many times
 * and must recompute everything from @kvs each time.
 * With @create, a missing object is created by the same write, and @step
 * sees an empty @kvs. @step must not return -EAGAIN (reserved for retry).
 * Return: 0 (written or NOOP), @step's error, -ENOENT (no object and not
 * @create), -EAGAIN (too many conflicts: contention, try again later), or
 * a librados error.
 */
int kairos_store_update(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n,
                        bool create, kairos_store_step step, void *arg);

/*
 * kairos_store_rm_key() - remove @key from @oid under the gen guard.
 * Return: 0 (removed or already absent, or no object), or a librados error.
 */
int kairos_store_rm_key(rados_ioctx_t io, const char *oid, const char *key);
