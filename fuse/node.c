/*
 * node.c - FUSE inodes and their libcephfs references (see node.h).
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>

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

int kfs_nodes_init(struct kfs_nodes *t)
{
    t->nbuckets = INITIAL_BUCKETS;
    t->count = 0;
    t->by_in = calloc(t->nbuckets, sizeof(*t->by_in));
    t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
    if (!t->by_in || !t->by_ino) {
        free(t->by_in);
        free(t->by_ino);
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

static void insert(struct kfs_node **by_in, struct kfs_node **by_ino, size_t nbuckets,
                   struct kfs_node *n)
{
    size_t a = hash_ptr(n->in, nbuckets), b = hash_ino(n->client, n->ino, nbuckets);

    n->next_in = by_in[a];
    by_in[a] = n;
    n->next_ino = by_ino[b];
    by_ino[b] = n;
}

/* Double the buckets; on -ENOMEM keep the old ones (longer chains, still correct). */
static void grow(struct kfs_nodes *t)
{
    size_t n = t->nbuckets * 2;
    struct kfs_node **by_in = calloc(n, sizeof(*by_in)), **by_ino = calloc(n, sizeof(*by_ino));

    if (!by_in || !by_ino) {
        free(by_in);
        free(by_ino);
        return;
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct kfs_node *node = t->by_in[i], *next;
        for (; node; node = next) {
            next = node->next_in;
            insert(by_in, by_ino, n, node);
        }
    }
    free(t->by_in);
    free(t->by_ino);
    t->by_in = by_in;
    t->by_ino = by_ino;
    t->nbuckets = n;
}

struct kfs_node *kfs_node_get(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                              struct Inode *in, uint64_t ino, bool *dup)
{
    struct kfs_node *n;

    *dup = false;
    pthread_mutex_lock(&t->lock);
    for (n = t->by_in[hash_ptr(in, t->nbuckets)]; n; n = n->next_in) {
        if (n->in == in) {
            n->nlookup++;
            *dup = true;
            goto out;
        }
    }
    n = calloc(1, sizeof(*n));
    if (!n)
        goto out;
    *n = (struct kfs_node){.kind = KFS_NODE_CEPH,
                           .share = share,
                           .client = client,
                           .in = in,
                           .ino = ino,
                           .nlookup = 1};
    if (t->count >= 2 * t->nbuckets)
        grow(t);
    insert(t->by_in, t->by_ino, t->nbuckets, n);
    t->count++;
out:
    pthread_mutex_unlock(&t->lock);
    return n;
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
            out[found++] = (uint64_t)(uintptr_t)n;
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
    t->by_in = t->by_ino = NULL;
    t->count = 0;
    pthread_mutex_destroy(&t->lock);
}
