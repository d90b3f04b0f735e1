/*
 * cache.c - project records and token lookups cached in memory, dropped on
 * RADOS notifies from whichever process changed them (see kairos/cache.h).
 *
 * Two direct-mapped tables under one read-write lock (lookups share it,
 * drops and stores take it alone): a lookup hashes its key to a slot; a
 * colliding key simply takes the slot. A notify names one key, or
 * nothing we understand, which empties everything.
 *
 * A read-through races with a notify: a thread reads the old record from
 * RADOS, the notify drops nothing (the entry is not there yet), then the
 * thread stores what it read. Every drop bumps a generation, and a thread
 * stores its read only if the generation it saw before reading is still
 * the current one.
 */
#include <kairos/kairos.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_int.h"
#include "kairos_int.h"

#define NOTIFY_OID "kairos.notify"
/* Slots per table: more than the projects and tokens one kairosd serves hot. */
#define SLOTS 4096
/* Seconds without a heartbeat after which the OSD drops our watch. */
#define WATCH_TIMEOUT_S 30
/* While the watch is broken, how often a lookup tries to watch again. */
#define REWATCH_MS 1000

/* One cached record: a project (keyed by name) or a token lookup (keyed by the token's hash). */
struct slot {
    bool used;
    uint64_t fetched_ms;
    char key[KAIROS_TOKEN_HASH_LEN + 1];
    union {
        struct kairos_project project;
        struct kairos_token_info token;
    } v;
};

struct kairos_cache {
    struct kairos *k;
    uint64_t ttl_ms;
    pthread_rwlock_t lock;  /* readers: lookups; writers: drops and stores */
    uint64_t gen;           /* bumped by every drop */
    bool watching;          /* the watch is up: entries may be served */
    uint64_t handle;        /* of the watch, while watching */
    uint64_t last_watch_ms; /* last attempt to watch */
    struct slot *projects;
    struct slot *tokens;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned slot_of(const char *key)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h % SLOTS;
}

void kairos_cache_notify(struct kairos *k, const char *what, const char *key)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "%s %s", what, key);

    if (n <= 0 || (size_t)n >= sizeof(msg))
        return;
    /* The answer (who acknowledged) does not matter: the ttl covers a straggler. */
    (void)rados_notify2(k->meta, NOTIFY_OID, msg, (size_t)n, KAIROS_NOTIFY_TIMEOUT_MS, NULL, NULL);
}

/* Drop what @msg names (everything when it names nothing we know). Lock held. */
static void drop(struct kairos_cache *c, const char *msg, size_t len)
{
    char buf[128];

    c->gen++;
    if (len >= sizeof(buf))
        len = 0;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    if (strncmp(buf, "project ", 8) == 0) {
        struct slot *s = &c->projects[slot_of(buf + 8)];
        if (s->used && strcmp(s->key, buf + 8) == 0)
            s->used = false;
    } else if (strncmp(buf, "token ", 6) == 0) {
        struct slot *s = &c->tokens[slot_of(buf + 6)];
        if (s->used && strcmp(s->key, buf + 6) == 0)
            s->used = false;
    } else {
        for (unsigned i = 0; i < SLOTS; i++) {
            c->projects[i].used = false;
            c->tokens[i].used = false;
        }
    }
}

static void on_notify(void *arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id,
                      void *data, size_t len)
{
    struct kairos_cache *c = arg;

    (void)notifier_id;
    pthread_rwlock_wrlock(&c->lock);
    drop(c, data, len);
    pthread_rwlock_unlock(&c->lock);
    /* Only now: the notifier waits for this, so its caller sees the change everywhere. */
    rados_notify_ack(c->k->meta, NOTIFY_OID, notify_id, handle, NULL, 0);
}

static void on_watch_error(void *arg, uint64_t handle, int err)
{
    struct kairos_cache *c = arg;

    (void)handle;
    (void)err;
    /* Notifies may be lost from here on: serve nothing cached until watching again. */
    pthread_rwlock_wrlock(&c->lock);
    c->watching = false;
    drop(c, "", 0);
    pthread_rwlock_unlock(&c->lock);
}

/* Watch "kairos.notify"; a broken watch is replaced. Lock not held. */
static int watch(struct kairos_cache *c)
{
    uint64_t handle = 0, old = 0;
    bool had;
    int rc;

    pthread_rwlock_wrlock(&c->lock);
    had = c->handle != 0;
    old = c->handle;
    c->handle = 0;
    c->last_watch_ms = mono_ms();
    pthread_rwlock_unlock(&c->lock);
    if (had)
        rados_unwatch2(c->k->meta, old);
    /* The object must exist to be watched; making it twice is harmless. */
    rc = rados_write_full(c->k->meta, NOTIFY_OID, "", 0);
    if (rc == 0)
        rc = rados_watch3(c->k->meta, NOTIFY_OID, &handle, on_notify, on_watch_error,
                          WATCH_TIMEOUT_S, c);
    pthread_rwlock_wrlock(&c->lock);
    c->handle = rc == 0 ? handle : 0;
    c->watching = rc == 0;
    drop(c, "", 0);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int kairos_cache_open(struct kairos *k, uint64_t ttl_ms, struct kairos_cache **out,
                      struct kairos_error *err)
{
    struct kairos_cache *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    c->k = k;
    c->ttl_ms = ttl_ms;
    pthread_rwlock_init(&c->lock, NULL);
    c->projects = calloc(SLOTS, sizeof(*c->projects));
    c->tokens = calloc(SLOTS, sizeof(*c->tokens));
    if (!c->projects || !c->tokens) {
        kairos_cache_close(c);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    rc = watch(c);
    if (rc < 0) {
        kairos_cache_close(c);
        return kairos_error_set(err, rc, "cannot watch %s: %s", NOTIFY_OID, strerror(-rc));
    }
    *out = c;
    return 0;
}

void kairos_cache_close(struct kairos_cache *c)
{
    if (!c)
        return;
    if (c->handle)
        rados_unwatch2(c->k->meta, c->handle);
    /* No callback may run on @c once it is freed. */
    rados_watch_flush(c->k->rados);
    pthread_rwlock_destroy(&c->lock);
    free(c->projects);
    free(c->tokens);
    free(c);
}

/*
 * May entries be served now? If the watch is broken, one caller a second
 * tries to watch again. Returns the generation to store a read-through
 * under, or 0 when nothing may be cached. Lock not held.
 */
static uint64_t usable(struct kairos_cache *c)
{
    bool retry;
    uint64_t gen;

    /* The usual case, watching: a read lock, which the connection threads share. */
    pthread_rwlock_rdlock(&c->lock);
    gen = c->watching ? c->gen + 1 : 0;
    pthread_rwlock_unlock(&c->lock);
    if (gen)
        return gen;
    pthread_rwlock_wrlock(&c->lock);
    retry = !c->watching && mono_ms() - c->last_watch_ms >= REWATCH_MS;
    if (retry)
        c->last_watch_ms = mono_ms();
    gen = c->watching ? c->gen + 1 : 0;
    pthread_rwlock_unlock(&c->lock);
    if (retry && watch(c) == 0) {
        pthread_rwlock_wrlock(&c->lock);
        gen = c->watching ? c->gen + 1 : 0;
        pthread_rwlock_unlock(&c->lock);
    }
    return gen;
}

/* Reads a record from RADOS into @out: kairos_project_get() or kairos_token_lookup(). */
typedef int (*fetch_fn)(struct kairos_cache *c, const void *what, void *out,
                        struct kairos_error *err);

/*
 * The record under @key of @table (@size bytes into @out): from the cache
 * when it may serve it, else fetched, and kept if nothing was dropped
 * meanwhile.
 */
static int lookup(struct kairos_cache *c, struct slot *table, const char *key, const void *what,
                  fetch_fn fetch, void *out, size_t size, struct kairos_error *err)
{
    uint64_t gen = usable(c), now = mono_ms();
    struct slot *s = &table[slot_of(key)];
    int rc;

    if (gen) {
        pthread_rwlock_rdlock(&c->lock);
        bool hit = s->used && strcmp(s->key, key) == 0 && now - s->fetched_ms < c->ttl_ms;
        if (hit)
            memcpy(out, &s->v, size);
        pthread_rwlock_unlock(&c->lock);
        if (hit)
            return 0;
    }
    rc = fetch(c, what, out, err);
    if (rc < 0 || !gen)
        return rc;
    pthread_rwlock_wrlock(&c->lock);
    /* Nothing was dropped while we read: what we read is current. */
    if (c->gen + 1 == gen && c->watching) {
        s->used = true;
        s->fetched_ms = now;
        snprintf(s->key, sizeof(s->key), "%s", key);
        memcpy(&s->v, out, size);
    }
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

static int fetch_project(struct kairos_cache *c, const void *name, void *out,
                         struct kairos_error *err)
{
    return kairos_project_get(c->k, name, out, err);
}

static int fetch_token(struct kairos_cache *c, const void *token, void *out,
                       struct kairos_error *err)
{
    return kairos_token_lookup(c->k, token, out, err);
}

int kairos_cache_project_get(struct kairos_cache *c, const char *name, struct kairos_project *out,
                             struct kairos_error *err)
{
    if (!kairos_name_valid(name))
        return kairos_project_get(c->k, name, out, err);
    return lookup(c, c->projects, name, name, fetch_project, out, sizeof(*out), err);
}

int kairos_cache_token_lookup(struct kairos_cache *c, const char *token,
                              struct kairos_token_info *out, struct kairos_error *err)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1];

    kairos_token_hash(token, hash);
    return lookup(c, c->tokens, hash, token, fetch_token, out, sizeof(*out), err);
}
