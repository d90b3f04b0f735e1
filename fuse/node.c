/*
 * node.c - FUSE inodes and their libcephfs references (see node.h).
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* libcephfs's snapshot ids of the head version and of a .snap directory. */
#define SNAPID_HEAD ((uint64_t)-2)
#define SNAPID_DIR  ((uint64_t)-1)

/* Buckets to start with; the table doubles when it holds two nodes per bucket. */
#define INITIAL_BUCKETS 4096

static size_t hash_ptr(const void *p, size_t nbuckets)
{
    uint64_t x = (uint64_t)(uintptr_t)p;

    /* Allocations are 16-byte aligned: mix the low bits away (Fibonacci hashing). */
    x = (x >> 4) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 20) & (nbuckets - 1);
}

static size_t hash_ino(const void *client, uint64_t ino, size_t nbuckets)
{
    uint64_t x = (ino ^ (uint64_t)(uintptr_t)client) * 0x9e3779b97f4a7c15ULL;

    return (size_t)(x >> 20) & (nbuckets - 1);
}

static size_t hash_id(uint64_t id, size_t nbuckets)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 20) & (nbuckets - 1);
}

int kfs_nodes_init(struct kfs_nodes *t)
{
    t->nbuckets = INITIAL_BUCKETS;
    t->count = 0;
    t->volatile_next = 1;
    t->by_in = calloc(t->nbuckets, sizeof(*t->by_in));
    t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
    t->by_id = calloc(t->nbuckets, sizeof(*t->by_id));
    if (!t->by_in || !t->by_ino || !t->by_id) {
        free(t->by_in);
        free(t->by_ino);
        free(t->by_id);
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

static void insert(struct kfs_node **by_in, struct kfs_node **by_ino, struct kfs_node **by_id,
                   size_t nbuckets, struct kfs_node *n)
{
    size_t a = hash_ptr(n->in, nbuckets), b = hash_ino(n->client, n->ino, nbuckets),
           c = hash_id(n->id, nbuckets);

    n->next_in = by_in[a];
    by_in[a] = n;
    n->next_ino = by_ino[b];
    by_ino[b] = n;
    n->next_id = by_id[c];
    by_id[c] = n;
}

/* Double the buckets; on -ENOMEM keep the old ones (longer chains, still correct). */
static void grow(struct kfs_nodes *t)
{
    size_t n = t->nbuckets * 2;
    struct kfs_node **by_in = calloc(n, sizeof(*by_in)), **by_ino = calloc(n, sizeof(*by_ino)),
                    **by_id = calloc(n, sizeof(*by_id));

    if (!by_in || !by_ino || !by_id) {
        free(by_in);
        free(by_ino);
        free(by_id);
        return;
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct kfs_node *node = t->by_in[i], *next;
        for (; node; node = next) {
            next = node->next_in;
            insert(by_in, by_ino, by_id, n, node);
        }
    }
    free(t->by_in);
    free(t->by_ino);
    free(t->by_id);
    t->by_in = by_in;
    t->by_ino = by_ino;
    t->by_id = by_id;
    t->nbuckets = n;
}

/* The snap field of an id for @snapid; KFS_SNAP_VOLATILE when it has none. */
static unsigned snap_code(uint64_t snapid)
{
    if (snapid == SNAPID_HEAD)
        return 0;
    if (snapid == SNAPID_DIR)
        return KFS_SNAP_DIR;
    return snapid >= 1 && snapid <= KFS_SNAP_MAX ? (unsigned)snapid : KFS_SNAP_VOLATILE;
}

/* Under the lock: the node of @in, or a new one with id @id (0: computed), nlookup @count. */
static struct kfs_node *get_locked(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                                   struct Inode *in, uint64_t ino, unsigned slot, uint64_t snapid,
                                   uint64_t id, uint64_t count, bool *dup)
{
    struct kfs_node *n;
    unsigned snap;

    *dup = false;
    for (n = t->by_in[hash_ptr(in, t->nbuckets)]; n; n = n->next_in) {
        if (n->in == in) {
            n->nlookup++;
            *dup = true;
            return n;
        }
    }
    if (!id) {
        snap = snap_code(snapid);
        if (ino > KFS_ID_INO_MASK)
            snap = KFS_SNAP_VOLATILE;
        id = (uint64_t)slot << KFS_ID_SLOT_SHIFT | (uint64_t)snap << KFS_ID_SNAP_SHIFT |
             (snap == KFS_SNAP_VOLATILE ? t->volatile_next++ & KFS_ID_INO_MASK : ino);
    }
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    *n = (struct kfs_node){.kind = KFS_NODE_CEPH,
                           .share = share,
                           .client = client,
                           .in = in,
                           .ino = ino,
                           .id = id,
                           .nlookup = count};
    if (t->count >= 2 * t->nbuckets)
        grow(t);
    insert(t->by_in, t->by_ino, t->by_id, t->nbuckets, n);
    t->count++;
    return n;
}

struct kfs_node *kfs_node_get(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                              struct Inode *in, uint64_t ino, unsigned slot, uint64_t snapid,
                              bool *dup)
{
    struct kfs_node *n;

    pthread_mutex_lock(&t->lock);
    n = get_locked(t, share, client, in, ino, slot, snapid, 0, 1, dup);
    pthread_mutex_unlock(&t->lock);
    return n;
}

struct kfs_node *kfs_node_revive(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                                 struct Inode *in, uint64_t ino, uint64_t id, bool *dup)
{
    struct kfs_node *n;

    pthread_mutex_lock(&t->lock);
    n = get_locked(t, share, client, in, ino, 0, 0, id, KFS_NLOOKUP_REVIVED, dup);
    /* Looked up already under this id: the kernel's count is unknown from now on. */
    if (n && *dup)
        n->nlookup = KFS_NLOOKUP_REVIVED + 1;
    pthread_mutex_unlock(&t->lock);
    return n;
}

struct kfs_node *kfs_node_find(struct kfs_nodes *t, uint64_t id)
{
    struct kfs_node *n;

    pthread_mutex_lock(&t->lock);
    for (n = t->by_id[hash_id(id, t->nbuckets)]; n; n = n->next_id)
        if (n->id == id)
            break;
    pthread_mutex_unlock(&t->lock);
    return n;
}

bool kfs_id_decode(uint64_t id, unsigned *slot, uint64_t *snapid, uint64_t *ino)
{
    unsigned snap = (unsigned)(id >> KFS_ID_SNAP_SHIFT) & 0xff;

    *slot = (unsigned)(id >> KFS_ID_SLOT_SHIFT);
    *ino = id & KFS_ID_INO_MASK;
    if (*slot == 0 || snap == KFS_SNAP_VOLATILE)
        return false;
    *snapid = snap == 0 ? SNAPID_HEAD : snap == KFS_SNAP_DIR ? SNAPID_DIR : snap;
    return true;
}

/* FNV-1a: a hash that stays the same from one build and process to the next. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* A name's fingerprint in a slot map; never 0, which marks a free slot. */
static uint64_t fingerprint(const char *name)
{
    /* Another hash than the slot's: names that share a home slot differ here. */
    uint64_t h = name_hash(name) * 0x9e3779b97f4a7c15ULL;

    h ^= h >> 29;
    return h ? h : 1;
}

static unsigned home_slot(const char *name)
{
    return (unsigned)(name_hash(name) % KFS_ID_SLOTS) + 1;
}

/*
 * The slot @map gives @name, or 0. Slots are never freed, so a name's
 * slot lies on its probe sequence before the first free one.
 */
static unsigned slot_find(const struct kfs_slot_map *map, const char *name)
{
    uint64_t fp = fingerprint(name);
    unsigned s = home_slot(name);

    for (unsigned tries = 0; tries < KFS_ID_SLOTS && map->fp[s]; tries++) {
        if (map->fp[s] == fp)
            return s;
        s = s % KFS_ID_SLOTS + 1;
    }
    return 0;
}

/* A free slot for @name, recorded in @map; 0 when all are taken. */
static unsigned slot_take(struct kfs_slot_map *map, const char *name)
{
    unsigned s = home_slot(name);

    for (unsigned tries = 0; tries < KFS_ID_SLOTS; tries++) {
        if (!map->fp[s]) {
            map->fp[s] = fingerprint(name);
            return s;
        }
        s = s % KFS_ID_SLOTS + 1;
    }
    return 0;
}

struct slot_name {
    const char *name;
    size_t index;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct slot_name *)a)->name, ((const struct slot_name *)b)->name);
}

void kfs_slots_assign(struct kfs_slot_map *map, const char *names, size_t stride, size_t n,
                      unsigned *out)
{
    struct slot_name *sorted = calloc(n ? n : 1, sizeof(*sorted));

    /* Names with a slot keep it first; the others take free ones, in name order. */
    for (size_t i = 0; i < n; i++)
        out[i] = slot_find(map, names + i * stride);
    if (!sorted) {
        /* Out of memory: in the given order, stable only for the names recorded. */
        for (size_t i = 0; i < n; i++)
            out[i] = out[i] ? out[i] : slot_take(map, names + i * stride);
        return;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (struct slot_name){.name = names + i * stride, .index = i};
    if (n > 1)
        qsort(sorted, n, sizeof(*sorted), by_name);
    for (size_t i = 0; i < n; i++) {
        size_t at = sorted[i].index;
        if (!out[at])
            out[at] = slot_take(map, sorted[i].name);
    }
    free(sorted);
}

unsigned kfs_slot_pick(struct kfs_slot_map *map, const char *name)
{
    unsigned s = slot_find(map, name);

    return s ? s : slot_take(map, name);
}

void kfs_node_ref(struct kfs_nodes *t, struct kfs_node *n)
{
    pthread_mutex_lock(&t->lock);
    n->nlookup++;
    pthread_mutex_unlock(&t->lock);
}

static void unlink_node(struct kfs_nodes *t, struct kfs_node *n)
{
    struct kfs_node **p;

    for (p = &t->by_in[hash_ptr(n->in, t->nbuckets)]; *p; p = &(*p)->next_in)
        if (*p == n) {
            *p = n->next_in;
            break;
        }
    for (p = &t->by_ino[hash_ino(n->client, n->ino, t->nbuckets)]; *p; p = &(*p)->next_ino)
        if (*p == n) {
            *p = n->next_ino;
            break;
        }
    for (p = &t->by_id[hash_id(n->id, t->nbuckets)]; *p; p = &(*p)->next_id)
        if (*p == n) {
            *p = n->next_id;
            break;
        }
    t->count--;
}

bool kfs_node_forget(struct kfs_nodes *t, struct kfs_node *n, uint64_t nlookup)
{
    bool last;

    pthread_mutex_lock(&t->lock);
    /* The kernel never forgets more than it looked up; if it did, forget all. */
    n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
    last = n->nlookup == 0;
    if (last)
        unlink_node(t, n);
    pthread_mutex_unlock(&t->lock);
    return last;
}

void kfs_node_free(struct kfs_node *n)
{
    free(n);
}

size_t kfs_nodes_find_ino(struct kfs_nodes *t, const void *client, uint64_t ino, uint64_t *out,
                          size_t max)
{
    size_t found = 0;

    pthread_mutex_lock(&t->lock);
    for (struct kfs_node *n = t->by_ino[hash_ino(client, ino, t->nbuckets)]; n && found < max;
         n = n->next_ino)
        if (n->ino == ino && n->client == client)
            out[found++] = n->id;
    pthread_mutex_unlock(&t->lock);
    return found;
}

void kfs_nodes_destroy(struct kfs_nodes *t, void (*put)(struct kfs_node *n))
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct kfs_node *n = t->by_in[i], *next;
        for (; n; n = next) {
            next = n->next_in;
            put(n);
            free(n);
        }
    }
    free(t->by_in);
    free(t->by_ino);
    free(t->by_id);
    t->by_in = t->by_ino = t->by_id = NULL;
    t->count = 0;
    pthread_mutex_destroy(&t->lock);
}
