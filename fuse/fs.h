/*
 * fs.h - the kairosfs file system: what one mount holds, and the FUSE
 * low-level operations.
 *
 * The tree a mount shows:
 *   /                    fixed directory
 *   /shares/<share>/...  the project's CephFS shares (cephfs.c)
 *   /volumes/<volume>    the project's RBD volumes, one file each (rbd.c)
 * Nothing else is reachable: the only Ceph inodes ever handed to the
 * kernel are reached from the share directories, and the only images are
 * the project's volumes.
 *
 * fs.c owns the fixed directories and dispatches every operation by the
 * kind of node it is on (node.h). A request is answered exactly once: by
 * its handler, or by the watchdog when Ceph does not answer in time
 * (guard.h).
 */
#ifndef KFS_FS_H
#define KFS_FS_H

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "connect.h"
#include "guard.h"
#include "node.h"
#include "source.h"

/* Largest read or write the kernel sends, and the I/O size statfs advises. */
#define KFS_IO_MAX ((size_t)1 << 20)
/* The unit of statfs block counts: fine enough for a small quota. */
#define KFS_STATFS_FRSIZE 4096

struct kfs_options {
    double attr_timeout;     /* seconds the kernel may cache attributes */
    double entry_timeout;    /* seconds the kernel may cache a name */
    double negative_timeout; /* seconds the kernel may cache "no such name" */
    bool writeback;          /* the kernel's writeback cache */
    bool keep_cache;         /* keep cached file data across opens (CephFS) */
    uint64_t timeout_ms;     /* limit on any one request to Ceph; 0 for none */
};

/* The open files and directories of shares, by the key the kernel holds (cephfs.c). */
#define KFS_FILE_BUCKETS 4096
struct kfs_file;
struct kfs_files {
    pthread_mutex_t lock;
    struct kfs_file *buckets[KFS_FILE_BUCKETS];
    uint64_t epoch; /* this process's: random, in the upper half of its keys */
    uint64_t next;
};

struct kfs {
    struct kfs_options opt;
    struct kfs_backends b;
    struct kfs_nodes nodes;
    struct kfs_files files;
    struct kfs_guard guard;
    struct fuse_session *se;
    struct kfs_node root, shares, volumes; /* the fixed directories */
    uid_t uid;                             /* owner of the fixed nodes */
    gid_t gid;
    struct timespec started; /* their times */
    pthread_key_t buf_key;   /* each worker thread's read buffer */
    /* The slots of the share and volume names (node.h); set before kfs_fs_init(). */
    struct kfs_slot_map *slots[2];
};

/* The FUSE operations of a kairosfs mount; userdata is the struct kfs. */
extern const struct fuse_lowlevel_ops kfs_ops;

/*
 * kfs_fs_init() - set up @fs around connected backends (@fs->b) and
 * options; the session is attached later with kfs_fs_attach().
 * Return: 0 or -ENOMEM.
 */
int kfs_fs_init(struct kfs *fs);

/*
 * kfs_fs_attach() - start using @se: libcephfs cache invalidations reach
 * the kernel from now on.
 */
void kfs_fs_attach(struct kfs *fs, struct fuse_session *se);

/*
 * kfs_fs_destroy() - free the nodes still known, once the Ceph clients are
 * closed (kfs_disconnect() drops their libcephfs references and ends the
 * invalidation callbacks that read the table).
 */
void kfs_fs_destroy(struct kfs *fs);

/* ---- shared by the operation files ---- */

/*
 * kfs_node_of() - the node of FUSE inode @ino; one that a process before
 * this one handed to the kernel is found again from its id (node.h).
 * Return: the node, or NULL when it cannot be (the caller answers ESTALE).
 */
struct kfs_node *kfs_node_of(struct kfs *fs, fuse_ino_t ino);

/* kfs_node_find_id() - the node of @ino if this process knows it, else NULL. */
struct kfs_node *kfs_node_find_id(struct kfs *fs, fuse_ino_t ino);

/*
 * A share or volume deleted while mounted (refresh.h) is cut with this:
 * hidden from /shares and /volumes, and ESTALE for what still holds it.
 * One whose binding is revoked is cut with -EACCES and stays listed.
 */
#define KFS_GONE (-ESTALE)

/* Is a share or volume listed (not deleted)? */
static inline bool kfs_shown(struct kfs_gate *g)
{
    return atomic_load(&g->cut) != KFS_GONE;
}

/* The share or volume listed as @name, or NULL. */
struct kfs_share *kfs_find_share(struct kfs *fs, const char *name);
struct kfs_volume *kfs_find_volume(struct kfs *fs, const char *name);

/*
 * kfs_fs_changed() - a share (@share) or volume @name came or went: drop
 * the kernel's cache of the name and of its directory. Not from a request's
 * handler (the kernel waits for the handler while it takes the notice).
 */
void kfs_fs_changed(struct kfs *fs, bool share, const char *name);

/* The one place an error becomes a reply: @rc is a negative errno (or 0). */
void kfs_reply_err(fuse_req_t req, int rc);

/* A buffer of KFS_IO_MAX bytes for the calling worker thread; NULL on -ENOMEM. */
char *kfs_thread_buf(struct kfs *fs);

/* Fill @st (zeroed first) from a libcephfs statx. */
void kfs_stat_from_statx(struct stat *st, const struct ceph_statx *stx);

/*
 * kfs_statfs_fill() - @vfs for @total bytes of which @used are used, and
 * @files entries of which @ffree are free.
 */
void kfs_statfs_fill(struct statvfs *vfs, uint64_t total, uint64_t used, uint64_t files,
                     uint64_t ffree);

/* ---- CephFS shares (cephfs.c): @n is a KFS_NODE_CEPH node ---- */

/*
 * The node of id @id in share @s (inode @ino, snapshot @snapid), which a
 * process before this one handed to the kernel; NULL when Ceph has it no more.
 */
struct kfs_node *kfs_cephfs_revive(struct kfs *fs, struct kfs_share *s, uint64_t id,
                                   uint64_t snapid, uint64_t ino);
/* The table of open handles: @epoch marks this process's keys. */
void kfs_cephfs_files_init(struct kfs_files *t, uint32_t epoch);
/* Free what is left once the Ceph clients are closed. */
void kfs_cephfs_files_destroy(struct kfs_files *t);
/* Lookup of the share's directory itself, from /shares. */
void kfs_cephfs_lookup_share(struct kfs *fs, fuse_req_t req, struct kfs_share *s);
void kfs_cephfs_lookup(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name);
void kfs_cephfs_forget(struct kfs *fs, struct kfs_node *n, uint64_t nlookup);
void kfs_cephfs_getattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n);
void kfs_cephfs_setattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct stat *attr,
                        int to_set);
void kfs_cephfs_readlink(struct kfs *fs, fuse_req_t req, struct kfs_node *n);
void kfs_cephfs_mknod(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                      mode_t mode, dev_t rdev);
void kfs_cephfs_mkdir(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                      mode_t mode);
void kfs_cephfs_unlink(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name);
void kfs_cephfs_rmdir(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name);
void kfs_cephfs_symlink(struct kfs *fs, fuse_req_t req, const char *link, struct kfs_node *parent,
                        const char *name);
void kfs_cephfs_rename(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                       struct kfs_node *newparent, const char *newname, unsigned flags);
void kfs_cephfs_link(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct kfs_node *newparent,
                     const char *newname);
void kfs_cephfs_open(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct fuse_file_info *fi);
void kfs_cephfs_create(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                       mode_t mode, struct fuse_file_info *fi);
void kfs_cephfs_read(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size, off_t off,
                     struct fuse_file_info *fi);
void kfs_cephfs_write(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *buf,
                      size_t size, off_t off, struct fuse_file_info *fi);
void kfs_cephfs_fsync(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                      struct fuse_file_info *fi);
void kfs_cephfs_release(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                        struct fuse_file_info *fi);
void kfs_cephfs_fallocate(struct kfs *fs, fuse_req_t req, struct kfs_node *n, int mode,
                          off_t offset, off_t length, struct fuse_file_info *fi);
void kfs_cephfs_opendir(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                        struct fuse_file_info *fi);
void kfs_cephfs_readdir(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size, off_t off,
                        struct fuse_file_info *fi, bool plus);
void kfs_cephfs_releasedir(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                           struct fuse_file_info *fi);
void kfs_cephfs_fsyncdir(struct kfs *fs, fuse_req_t req, struct kfs_node *n);
void kfs_cephfs_setxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name,
                         const char *value, size_t size, int flags);
void kfs_cephfs_getxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name,
                         size_t size);
void kfs_cephfs_listxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size);
void kfs_cephfs_removexattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name);
/* statfs inside a share: the share's quota and use. */
void kfs_cephfs_statfs(struct kfs *fs, fuse_req_t req, struct kfs_share *s);
/* statfs of / and /shares: the project's quota and use over all its shares. */
void kfs_cephfs_statfs_project(struct kfs *fs, fuse_req_t req);
/* Route libcephfs cache invalidations of @cfs to the kernel. */
void kfs_cephfs_register_invalidation(struct kfs *fs, struct kfs_cephfs *cfs);

/* ---- RBD volumes (rbd.c): @v is the volume of a KFS_NODE_VOLUME node ---- */

/* @st of the volume's file; 0 or a negative errno. */
int kfs_rbd_stat(struct kfs *fs, struct kfs_volume *v, struct stat *st);
void kfs_rbd_getattr(struct kfs *fs, fuse_req_t req, struct kfs_volume *v);
void kfs_rbd_setattr(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, struct stat *attr,
                     int to_set);
void kfs_rbd_open(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, struct fuse_file_info *fi);
void kfs_rbd_read(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, size_t size, off_t off);
void kfs_rbd_write(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, const char *buf,
                   size_t size, off_t off);
/* flush and fsync: what librbd caches reaches the OSDs. */
void kfs_rbd_flush(struct kfs *fs, fuse_req_t req, struct kfs_volume *v);
void kfs_rbd_statfs(struct kfs *fs, fuse_req_t req);

#endif
