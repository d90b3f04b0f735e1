/*
 * node.h - the inodes kairosfs shows the kernel, and their lookup counts.
 *
 * A FUSE inode number (node id) says what it stands for without this
 * process's memory, so that a kairosfs started again on the same FUSE
 * connection (restart.h) understands the ids the kernel still holds:
 *
 *   63      52 51   44 43                     0
 *   [  slot  ][ snap  ][   Ceph inode number   ]
 *
 *   slot 0:    the fixed nodes: 1 /, 2 /shares, 3 /volumes, and
 *              KFS_ID_VOLUME + the volume's slot for each volume file;
 *   slot 1..:  a share (its slot, kfs_slots_assign()): snap is 0 for the
 *              head version, KFS_SNAP_DIR for a .snap directory, the
 *              snapshot id itself up to KFS_SNAP_MAX; the low bits are the
 *              Ceph inode number (CephFS numbers its inodes below 2^44
 *              unless it has more than 15 active MDS ranks).
 *   snap KFS_SNAP_VOLATILE: what the scheme cannot say (a snapshot id
 *              above KFS_SNAP_MAX, a larger inode number) gets a counter
 *              instead; a process started again answers ESTALE for it.
 *
 * The fixed nodes (/, /shares, /volumes and one per volume)
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
 * A node the kernel knew before a restart is revived from its id
 * (kfs_node_revive()) with a lookup count the kernel cannot exhaust: its
 * true count died with the process before. It stays until unmount.
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

#define KFS_ID_INO_BITS   44
#define KFS_ID_SNAP_SHIFT 44
#define KFS_ID_SLOT_SHIFT 52
#define KFS_ID_INO_MASK   ((UINT64_C(1) << KFS_ID_INO_BITS) - 1)
#define KFS_ID_SLOTS      4095 /* slots 1..4095 */
#define KFS_SNAP_MAX      0xfd
#define KFS_SNAP_DIR      0xfe
#define KFS_SNAP_VOLATILE 0xff
/* Node ids of the volume files: KFS_ID_VOLUME + slot (1..KFS_ID_SLOTS). */
#define KFS_ID_VOLUME 0x1000

/* The lookup count of a revived node: more than a kernel ever forgets. */
#define KFS_NLOOKUP_REVIVED (UINT64_C(1) << 62)
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
    uint64_t id;               /* the FUSE node id (see above) */
    uint64_t nlookup;          /* KFS_NODE_CEPH: the kernel's lookup count */
    struct kfs_node *next_in;  /* chain of the Inode index */
    struct kfs_node *next_ino; /* chain of the inode number index */
    struct kfs_node *next_id;  /* chain of the node id index */
};

struct kfs_nodes {
    pthread_mutex_t lock;
    struct kfs_node **by_in;
    struct kfs_node **by_ino;
    struct kfs_node **by_id;
    uint64_t volatile_next; /* the next KFS_SNAP_VOLATILE counter */
    size_t nbuckets;        /* a power of two */
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
 * @slot:   the share's slot (1..KFS_ID_SLOTS).
 * @snapid: the version of the inode (stx_dev: CEPH_NOSNAP for the head).
 * Return: the node, or NULL for -ENOMEM (the caller still owns @in).
 */
struct kfs_node *kfs_node_get(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                              struct Inode *in, uint64_t ino, unsigned slot, uint64_t snapid,
                              bool *dup);

/* kfs_node_find() - the node of FUSE id @id, or NULL when this process never made it. */
struct kfs_node *kfs_node_find(struct kfs_nodes *t, uint64_t id);

/*
 * kfs_node_revive() - the node of id @id, which a process before this one
 * handed to the kernel, now that @in (a reference the caller got for the
 * id's inode) is found again. As kfs_node_get() for @dup and the return.
 */
struct kfs_node *kfs_node_revive(struct kfs_nodes *t, struct kfs_share *share, const void *client,
                                 struct Inode *in, uint64_t ino, uint64_t id, bool *dup);

/*
 * kfs_id_decode() - the parts of a share node's id.
 * Return: false when @id names no share inode a new process can find again.
 */
bool kfs_id_decode(uint64_t id, unsigned *slot, uint64_t *snapid, uint64_t *ino);

/*
 * The slots given out on a mount, for one kind (shares or volumes): a
 * fingerprint of the name in each slot taken (0: free). It lives in the
 * mount's state when the mount can outlive its daemon (restart.h), so that
 * a daemon started again gives each name the slot it had, whatever came
 * and went meanwhile; the kernel may hold node ids of any of them. A slot
 * is never given to another name on the same mount.
 */
struct kfs_slot_map {
    uint64_t fp[KFS_ID_SLOTS + 1]; /* [0] unused */
};

/*
 * kfs_slots_assign() - slots 1..KFS_ID_SLOTS for @n names: the one in
 * @map, else a hash of the name, collisions resolved in name order and
 * recorded in @map. 0 for a name when every slot is taken.
 * @names:  the names, any order; @stride bytes apart.
 * @out:    @n slots, in the order of @names.
 */
void kfs_slots_assign(struct kfs_slot_map *map, const char *names, size_t stride, size_t n,
                      unsigned *out);

/*
 * kfs_slot_pick() - the slot of a name added after the others (refresh.h),
 * as kfs_slots_assign() gives it. Return: the slot, 0 if none is free.
 */
unsigned kfs_slot_pick(struct kfs_slot_map *map, const char *name);

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
