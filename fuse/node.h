/*
 * node.h - the inodes kairosfs shows the kernel, and their lookup counts.
 *
 * A FUSE inode number is the address of a struct kfs_node (the root is
 * FUSE_ROOT_ID). The fixed nodes (/, /shares, /volumes and one per volume)
 * live as long as the mount and ignore lookup counts. A node of a share's
 * file or directory stands for one libcephfs Inode and holds exactly one
 * libcephfs reference on it while the kernel holds any lookup on the node:
 *
 *   ceph_ll_lookup()          -> one new libcephfs reference
 *   kfs_node_get()            -> the node for it, lookup count + 1; when the
 *                                node existed already, the caller drops the
 *                                extra reference (dup is set)
 *   FORGET(n)                 -> kfs_node_forget(); at zero the node is
 *                                unlinked and its Inode returned to be put
 *
 * The table is keyed by Inode pointer, which libcephfs keeps unique per
 * (inode, snapshot) while referenced, so hard links share a node and a
 * file seen in a snapshot is apart from its head version. A second index
 * by (client, inode number) finds the nodes that a libcephfs cache
 * invalidation names.
 *
 * Thread-safe: one mutex, held only for table updates.
 */
#ifndef KFS_NODE_H
#define KFS_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct Inode;
struct kfs_share;
struct kfs_volume;

enum kfs_node_kind {
    KFS_NODE_ROOT,    /* / */
    KFS_NODE_SHARES,  /* /shares */
    KFS_NODE_VOLUMES, /* /volumes */
    KFS_NODE_VOLUME,  /* /volumes/<volume> */
    KFS_NODE_CEPH,    /* a file or directory of a share, its root included */
};

struct kfs_node {
    enum kfs_node_kind kind;
    struct kfs_share *share;   /* KFS_NODE_CEPH: the share it was reached through */
    struct kfs_volume *volume; /* KFS_NODE_VOLUME */
    struct Inode *in;          /* KFS_NODE_CEPH: one libcephfs reference */
    const void *client;        /* KFS_NODE_CEPH: the libcephfs client of @in */
    uint64_t ino;              /* st_ino */
    uint64_t nlookup;          /* KFS_NODE_CEPH: the kernel's lookup count */
    struct kfs_node *next_in;  /* chain of the Inode index */
    struct kfs_node *next_ino; /* chain of the inode number index */
};

struct kfs_nodes {
    pthread_mutex_t lock;
    struct kfs_node **by_in;
    struct kfs_node **by_ino;
    size_t nbuckets; /* a power of two */
    size_t count;
};

/* kfs_nodes_init() - an empty table. Return: 0 or -ENOMEM. */
int kfs_nodes_init(struct kfs_nodes *t);

/*
 * kfs_nodes_destroy() - free every node left, handing each one's Inode to
 * @put first (at unmount, when the kernel forgets no more).
 */
void kfs_nodes_destroy(struct kfs_nodes *t, void (*put)(struct kfs_node *n));

/*
 * kfs_node_get() - the node of @in in @share, with its lookup count raised.
 * @client: the libcephfs client @in belongs to.
 * @in:     a libcephfs reference the caller got; the table keeps it for a
 *          new node. When the node existed, *@dup is set and the caller
 *          drops it.
 * @ino:    the inode number (stx_ino).
 * Return: the node, or NULL for -ENOMEM (the caller still owns @in).
 */
struct kfs_node *kfs_node_get(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                              struct Inode *in, uint64_t ino, bool *dup);

/* kfs_node_ref() - one more kernel lookup on a node the kernel knows (a new hard link). */
void kfs_node_ref(struct kfs_nodes *t, struct kfs_node *n);

/*
 * kfs_node_forget() - the kernel forgets @nlookup lookups of @n.
 * Return: true when that was the last: @n is out of the table and the
 * caller puts n->in and frees @n with kfs_node_free().
 */
bool kfs_node_forget(struct kfs_nodes *t, struct kfs_node *n, uint64_t nlookup);

void kfs_node_free(struct kfs_node *n);

/*
 * kfs_nodes_find_ino() - FUSE inode numbers of up to @max nodes that stand
 * for inode number @ino of the libcephfs client @fs (every snapshot of it).
 * Return: how many were written to @out.
 */
size_t kfs_nodes_find_ino(struct kfs_nodes *t, const void *fs, uint64_t ino, uint64_t *out,
                          size_t max);

#endif
