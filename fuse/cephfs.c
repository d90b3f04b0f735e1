/*
 * cephfs.c - the shares: POSIX operations on CephFS through the libcephfs
 * low-level (ceph_ll_*) API.
 *
 * Every operation runs as a guarded call (guard.h) on the libcephfs client
 * of its share and passes libcephfs's errno through unchanged (EDQUOT past
 * a quota, ENOTEMPTY, EXDEV...). A call that hands back a reference (an
 * Inode, an open file, an open directory) gives it to the node table or
 * the kernel, or releases it when the watchdog answered the request first.
 *
 * Permissions are the kernel's (default_permissions); libcephfs acts with
 * the mount's credentials, except that new files, directories and links
 * belong to the caller.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"

/* The attributes every reply carries. */
#define WANT CEPH_STATX_BASIC_STATS
/* Longest xattr list or value passed through in one piece (the VFS limit). */
#define XATTR_LIST_MAX_BYTES 65536
/*
 * ceph.* xattrs set quotas, layouts and data namespaces: a share's user
 * must not lift its own quota or leave its namespace, whatever key the
 * mount holds (the config source mounts with an administrator's key).
 */
#define CEPH_XATTR_PREFIX "ceph."

static struct ceph_mount_info *cm_of(const struct kfs_share *s)
{
    return s->fs->cm;
}

static UserPerm *mount_perms(const struct kfs_share *s)
{
    return ceph_mount_perms(s->fs->cm);
}

/* The caller's credentials, for what a request creates; NULL on -ENOMEM. */
static UserPerm *caller_perms(fuse_req_t req)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);

    return ceph_userperm_new(ctx->uid, ctx->gid, 0, NULL);
}

/* What a call handed back, released if its request was answered meanwhile. */
struct made {
    struct kfs_share *share;
    struct Inode *in;
    struct Fh *fh;
    struct ceph_dir_result *dir;
};

static bool begin(struct kfs *fs, struct kfs_call *c, fuse_req_t req, struct kfs_share *s,
                  unsigned weight)
{
    return kfs_call_begin_on(&fs->guard, c, req, &s->fs->health, &s->gate, weight);
}

/* True when the caller must reply; otherwise what @m holds is released. */
static bool end(struct kfs *fs, struct kfs_call *c, int rc, const struct made *m)
{
    if (kfs_call_end(&fs->guard, c, rc))
        return true;
    if (rc >= 0 && m) {
        if (m->fh)
            ceph_ll_close(cm_of(m->share), m->fh);
        if (m->dir)
            ceph_ll_releasedir(cm_of(m->share), m->dir);
        if (m->in)
            ceph_ll_put(cm_of(m->share), m->in);
    }
    return false;
}

/* Names the kernel resolves itself; never let libcephfs climb out of a share. */
static bool is_dot(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static bool writes(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static void fill_entry(struct kfs *fs, struct fuse_entry_param *e, struct kfs_node *n,
                       const struct ceph_statx *stx)
{
    memset(e, 0, sizeof(*e));
    e->ino = n->id;
    kfs_stat_from_statx(&e->attr, stx);
    e->attr_timeout = fs->opt.attr_timeout;
    e->entry_timeout = fs->opt.entry_timeout;
}

/* The node for a new reference @in; the reference is the table's or dropped. */
static struct kfs_node *adopt(struct kfs *fs, struct kfs_share *s, struct Inode *in,
                              const struct ceph_statx *stx)
{
    bool dup;
    /* libcephfs gives the snapshot id as the device (CEPH_NOSNAP for the head). */
    struct kfs_node *n =
        kfs_node_get(&fs->nodes, s, s->fs, in, stx->stx_ino, s->slot, stx->stx_dev, &dup);

    if (!n || dup)
        ceph_ll_put(cm_of(s), in);
    return n;
}

struct kfs_node *kfs_cephfs_revive(struct kfs *fs, struct kfs_share *s, uint64_t id,
                                   uint64_t snapid, uint64_t ino)
{
    vinodeno_t vino = {.ino = {.val = ino}, .snapid = {.val = snapid}};
    struct Inode *in = NULL;
    struct kfs_node *n;
    bool dup;
    int rc;

    rc = ceph_ll_lookup_vino(cm_of(s), vino, &in);
    if (rc < 0) {
        kfs_log(LOG_INFO, "node 0x%" PRIx64 " of share %s not found again: %s", id, s->name,
                strerror(-rc));
        return NULL;
    }
    n = kfs_node_revive(&fs->nodes, s, s->fs, in, ino, id, &dup);
    if (!n || dup)
        ceph_ll_put(cm_of(s), in);
    return n;
}

/* Reply to a call that made or found @in: an entry, or the error. */
static void reply_entry(struct kfs *fs, fuse_req_t req, struct kfs_share *s, int rc,
                        struct Inode *in, const struct ceph_statx *stx)
{
    struct fuse_entry_param e;
    struct kfs_node *n;

    if (rc == -ENOENT && fs->opt.negative_timeout > 0) {
        /* ino 0: the kernel remembers that the name does not exist. */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = fs->opt.negative_timeout;
        fuse_reply_entry(req, &e);
        return;
    }
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    n = adopt(fs, s, in, stx);
    if (!n) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    fill_entry(fs, &e, n, stx);
    fuse_reply_entry(req, &e);
}

static void reply_attr(struct kfs *fs, fuse_req_t req, int rc, const struct ceph_statx *stx)
{
    struct stat st;

    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    kfs_stat_from_statx(&st, stx);
    fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

/* ---- names ---- */

void kfs_cephfs_lookup_share(struct kfs *fs, fuse_req_t req, struct kfs_share *s)
{
    struct ceph_statx stx;
    struct Inode *in = NULL;
    struct made m = {.share = s};
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, s, 1))
        return;
    /* "." gives one more reference on the share's directory, for the node. */
    rc = ceph_ll_lookup(cm_of(s), s->root, ".", &in, &stx, WANT, 0, mount_perms(s));
    m.in = in;
    if (end(fs, &c, rc, &m))
        reply_entry(fs, req, s, rc, in, &stx);
}

void kfs_cephfs_lookup(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name)
{
    struct kfs_share *s = parent->share;
    struct ceph_statx stx;
    struct Inode *in = NULL;
    struct made m = {.share = s};
    struct kfs_call c;
    int rc;

    if (is_dot(name)) {
        kfs_reply_err(req, -ENOENT);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        return;
    rc = ceph_ll_lookup(cm_of(s), parent->in, name, &in, &stx, WANT, 0, mount_perms(s));
    m.in = in;
    if (end(fs, &c, rc, &m))
        reply_entry(fs, req, s, rc, in, &stx);
}

static void put_node(struct kfs_node *n)
{
    ceph_ll_put(cm_of(n->share), n->in);
}

void kfs_cephfs_forget(struct kfs *fs, struct kfs_node *n, uint64_t nlookup)
{
    /* No guard: putting a reference never waits on the cluster. */
    if (kfs_node_forget(&fs->nodes, n, nlookup)) {
        put_node(n);
        kfs_node_free(n);
    }
}

/* ---- attributes ---- */

void kfs_cephfs_getattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n)
{
    struct ceph_statx stx;
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, n->share, 1))
        return;
    rc = ceph_ll_getattr(cm_of(n->share), n->in, &stx, WANT, 0, mount_perms(n->share));
    if (end(fs, &c, rc, NULL))
        reply_attr(fs, req, rc, &stx);
}

static struct timespec now_realtime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

/* FUSE_SET_ATTR_* into CEPH_SETATTR_* and the fields of @stx. */
static int setattr_mask(const struct stat *attr, int to_set, struct ceph_statx *stx)
{
    int mask = 0;

    memset(stx, 0, sizeof(*stx));
    if (to_set & FUSE_SET_ATTR_MODE) {
        mask |= CEPH_SETATTR_MODE;
        stx->stx_mode = (uint16_t)attr->st_mode;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        mask |= CEPH_SETATTR_UID;
        stx->stx_uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        mask |= CEPH_SETATTR_GID;
        stx->stx_gid = attr->st_gid;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        mask |= CEPH_SETATTR_SIZE;
        stx->stx_size = (uint64_t)attr->st_size;
    }
    if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
        mask |= CEPH_SETATTR_ATIME;
        stx->stx_atime = to_set & FUSE_SET_ATTR_ATIME_NOW ? now_realtime() : attr->st_atim;
    }
    if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
        mask |= CEPH_SETATTR_MTIME;
        stx->stx_mtime = to_set & FUSE_SET_ATTR_MTIME_NOW ? now_realtime() : attr->st_mtim;
    }
    if (to_set & FUSE_SET_ATTR_CTIME) {
        mask |= CEPH_SETATTR_CTIME;
        stx->stx_ctime = attr->st_ctim;
    }
    return mask;
}

void kfs_cephfs_setattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct stat *attr,
                        int to_set)
{
    struct kfs_share *s = n->share;
    struct ceph_statx stx;
    struct kfs_call c;
    int mask = setattr_mask(attr, to_set, &stx), rc;

    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    /* A truncate may have to wait for data to be written back first. */
    if (!begin(fs, &c, req, s, mask & CEPH_SETATTR_SIZE ? 2 : 1))
        return;
    rc = mask ? ceph_ll_setattr(cm_of(s), n->in, &stx, mask, mount_perms(s)) : 0;
    if (rc == 0)
        rc = ceph_ll_getattr(cm_of(s), n->in, &stx, WANT, 0, mount_perms(s));
    if (end(fs, &c, rc, NULL))
        reply_attr(fs, req, rc, &stx);
}

void kfs_cephfs_readlink(struct kfs *fs, fuse_req_t req, struct kfs_node *n)
{
    char buf[PATH_MAX + 1];
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, n->share, 1))
        return;
    rc = ceph_ll_readlink(cm_of(n->share), n->in, buf, sizeof(buf) - 1, mount_perms(n->share));
    if (!end(fs, &c, rc, NULL))
        return;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    buf[rc] = '\0';
    fuse_reply_readlink(req, buf);
}

/* ---- making and removing names ---- */

enum make_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK };

static void make(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                 enum make_kind kind, mode_t mode, dev_t rdev, const char *target)
{
    struct kfs_share *s = parent->share;
    struct ceph_mount_info *cm = cm_of(s);
    struct ceph_statx stx;
    struct Inode *in = NULL;
    struct made m = {.share = s};
    struct kfs_call c;
    UserPerm *perms;
    int rc;

    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    perms = caller_perms(req);
    if (!perms) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        goto out;
    switch (kind) {
    case MAKE_NODE:
        rc = ceph_ll_mknod(cm, parent->in, name, mode, rdev, &in, &stx, WANT, 0, perms);
        break;
    case MAKE_DIR:
        rc = ceph_ll_mkdir(cm, parent->in, name, mode, &in, &stx, WANT, 0, perms);
        break;
    default:
        rc = ceph_ll_symlink(cm, parent->in, name, target, &in, &stx, WANT, 0, perms);
        break;
    }
    m.in = in;
    if (end(fs, &c, rc, &m))
        reply_entry(fs, req, s, rc, in, &stx);
out:
    ceph_userperm_destroy(perms);
}

void kfs_cephfs_mknod(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                      mode_t mode, dev_t rdev)
{
    make(fs, req, parent, name, MAKE_NODE, mode, rdev, NULL);
}

void kfs_cephfs_mkdir(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                      mode_t mode)
{
    make(fs, req, parent, name, MAKE_DIR, mode, 0, NULL);
}

void kfs_cephfs_symlink(struct kfs *fs, fuse_req_t req, const char *link, struct kfs_node *parent,
                        const char *name)
{
    make(fs, req, parent, name, MAKE_SYMLINK, 0, 0, link);
}

static void remove_name(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                        bool dir)
{
    struct kfs_share *s = parent->share;
    struct kfs_call c;
    int rc;

    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        return;
    rc = dir ? ceph_ll_rmdir(cm_of(s), parent->in, name, mount_perms(s))
             : ceph_ll_unlink(cm_of(s), parent->in, name, mount_perms(s));
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

void kfs_cephfs_unlink(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name)
{
    remove_name(fs, req, parent, name, false);
}

void kfs_cephfs_rmdir(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name)
{
    remove_name(fs, req, parent, name, true);
}

void kfs_cephfs_rename(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                       struct kfs_node *newparent, const char *newname, unsigned flags)
{
    struct kfs_share *s = parent->share;
    struct kfs_call c;
    int rc;

    /* libcephfs has neither RENAME_NOREPLACE nor RENAME_EXCHANGE; mv falls back. */
    if (flags) {
        kfs_reply_err(req, -EINVAL);
        return;
    }
    /* Each share is its own quota: moving between them is a copy (mv does it). */
    if (newparent->share != s) {
        kfs_reply_err(req, -EXDEV);
        return;
    }
    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        return;
    rc = ceph_ll_rename(cm_of(s), parent->in, name, newparent->in, newname, mount_perms(s));
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

void kfs_cephfs_link(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct kfs_node *newparent,
                     const char *newname)
{
    struct kfs_share *s = n->share;
    struct fuse_entry_param e;
    struct ceph_statx stx;
    struct kfs_call c;
    UserPerm *perms;
    int rc;

    if (newparent->share != s) {
        kfs_reply_err(req, -EXDEV);
        return;
    }
    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    perms = caller_perms(req);
    if (!perms) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        goto out;
    rc = ceph_ll_link(cm_of(s), n->in, newparent->in, newname, perms);
    if (rc == 0)
        rc = ceph_ll_getattr(cm_of(s), n->in, &stx, WANT, 0, mount_perms(s));
    if (!end(fs, &c, rc, NULL))
        goto out;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        goto out;
    }
    /* The kernel counts the new name as one more lookup of the same node. */
    kfs_node_ref(&fs->nodes, n);
    fill_entry(fs, &e, n, &stx);
    fuse_reply_entry(req, &e);
out:
    ceph_userperm_destroy(perms);
}

/* ---- files ---- */

/* The flags to open with, and what the kernel is told about caching. */
static int open_flags(struct kfs *fs, struct fuse_file_info *fi)
{
    int flags = fi->flags;

    if (fs->opt.writeback) {
        /* With a writeback cache the kernel reads to fill pages and does appends itself. */
        if ((flags & O_ACCMODE) == O_WRONLY)
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        flags &= ~O_APPEND;
    }
    /* Safe because libcephfs tells the kernel to drop pages when another client writes. */
    fi->keep_cache = fs->opt.keep_cache;
    /* A close needs nothing from libcephfs (its caps order other clients): no FLUSH request. */
    fi->noflush = 1;
    return flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
}

/*
 * An open file or directory. The watchdog may answer a request while its
 * worker is still inside libcephfs with the handle, and the kernel may then
 * send RELEASE: the handle is closed when the last of the open and the
 * calls using it lets go, never under a worker.
 *
 * The kernel's handle (fi->fh) is a key into fs->files, not an address:
 * after a restart (restart.h) the kernel still sends the keys of the
 * process before, which this one has never seen. Such a key is opened
 * again, lazily, on the node it comes with and the flags the kernel sends
 * with a read or write, and kept under the old key until RELEASE.
 */
struct kfs_file {
    struct ceph_mount_info *cm;
    struct Fh *fh;               /* a file, or */
    struct ceph_dir_result *dir; /* a directory */
    atomic_uint refs;
    uint64_t key;
    struct kfs_file *next;
};

/* What a handle is wanted for, when it must be opened again. */
enum reopen { REOPEN_FLAGS, REOPEN_WRITE, REOPEN_DIR };

static struct kfs_file **file_slot(struct kfs_files *t, uint64_t key)
{
    struct kfs_file **p = &t->buckets[(key * 0x9e3779b97f4a7c15ULL >> 20) % KFS_FILE_BUCKETS];

    while (*p && (*p)->key != key)
        p = &(*p)->next;
    return p;
}

static void file_put(struct kfs_file *f)
{
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    if (f->fh)
        ceph_ll_close(f->cm, f->fh);
    else
        ceph_ll_releasedir(f->cm, f->dir);
    free(f);
}

static struct kfs_file *file_new(struct ceph_mount_info *cm, struct Fh *fh,
                                 struct ceph_dir_result *dir)
{
    struct kfs_file *f = malloc(sizeof(*f));

    if (!f) {
        if (fh)
            ceph_ll_close(cm, fh);
        else
            ceph_ll_releasedir(cm, dir);
        return NULL;
    }
    *f = (struct kfs_file){.cm = cm, .fh = fh, .dir = dir};
    atomic_init(&f->refs, 1);
    return f;
}

/*
 * Hand @fh or @dir to the kernel as @fi's; false (and it closed) when out
 * of memory.
 */
static bool file_attach(struct kfs *fs, struct ceph_mount_info *cm, struct Fh *fh,
                        struct ceph_dir_result *dir, struct fuse_file_info *fi)
{
    struct kfs_files *t = &fs->files;
    struct kfs_file *f = file_new(cm, fh, dir);

    if (!f)
        return false;
    pthread_mutex_lock(&t->lock);
    /* This process's keys: its epoch above, a counter below (never 0). */
    do
        f->key = t->epoch << 32 | (++t->next & 0xffffffffu);
    while (*file_slot(t, f->key) || (uint32_t)f->key == 0);
    f->next = NULL;
    *file_slot(t, f->key) = f;
    pthread_mutex_unlock(&t->lock);
    fi->fh = f->key;
    return true;
}

/* Open @n again for a key of a process before this one. */
static int file_reopen(struct kfs *fs, struct kfs_node *n, const struct fuse_file_info *fi,
                       enum reopen how, struct kfs_file **out)
{
    struct ceph_mount_info *cm;
    struct ceph_dir_result *dir = NULL;
    struct fuse_file_info copy = *fi;
    struct Fh *fh = NULL;
    int flags, rc;

    if (!n || n->kind != KFS_NODE_CEPH)
        return -EBADF;
    cm = cm_of(n->share);
    if (how == REOPEN_DIR) {
        rc = ceph_ll_opendir(cm, n->in, &dir, mount_perms(n->share));
    } else {
        flags = open_flags(fs, &copy) & ~O_TRUNC;
        /* fsync and fallocate come without flags: the kernel let them through for a writer. */
        if (how == REOPEN_WRITE && !n->share->read_only)
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        rc = ceph_ll_open(cm, n->in, flags, &fh, mount_perms(n->share));
    }
    if (rc < 0)
        return rc;
    *out = file_new(cm, fh, dir);
    return *out ? 0 : -ENOMEM;
}

/* The open file of @fi's key, one reference more; opened again if this process never saw it. */
static int file_get(struct kfs *fs, struct kfs_node *n, const struct fuse_file_info *fi,
                    enum reopen how, struct kfs_file **out)
{
    struct kfs_files *t = &fs->files;
    struct kfs_file *f, *other;
    int rc;

    pthread_mutex_lock(&t->lock);
    f = *file_slot(t, fi->fh);
    if (f)
        atomic_fetch_add(&f->refs, 1);
    pthread_mutex_unlock(&t->lock);
    if (f) {
        *out = f;
        return 0;
    }
    rc = file_reopen(fs, n, fi, how, &f);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&t->lock);
    other = *file_slot(t, fi->fh);
    if (other) {
        /* Another request on the same key was first. */
        atomic_fetch_add(&other->refs, 1);
    } else {
        f->key = fi->fh;
        f->next = NULL;
        *file_slot(t, f->key) = f;
        atomic_fetch_add(&f->refs, 1);
    }
    pthread_mutex_unlock(&t->lock);
    if (other) {
        file_put(f);
        f = other;
    } else {
        kfs_log(LOG_INFO, "reopened a handle of inode 0x%" PRIx64 " after a restart", n->ino);
    }
    *out = f;
    return 0;
}

/*
 * begin() for a request on @fi's open file, held until file_put(); NULL:
 * answered already (the handle could not be opened again, or the watchdog).
 */
static struct kfs_file *begin_file(struct kfs *fs, struct kfs_call *c, fuse_req_t req,
                                   struct kfs_node *n, unsigned weight,
                                   const struct fuse_file_info *fi, enum reopen how)
{
    struct kfs_file *f = NULL;
    int rc;

    if (!begin(fs, c, req, n->share, weight))
        return NULL;
    rc = file_get(fs, n, fi, how, &f);
    if (rc == 0)
        return f;
    if (end(fs, c, rc, NULL))
        kfs_reply_err(req, rc);
    return NULL;
}

/* The kernel is done with @fi's handle (RELEASE, or a reply it never got). */
static void file_release(struct kfs *fs, struct fuse_file_info *fi)
{
    struct kfs_files *t = &fs->files;
    struct kfs_file **p, *f;

    pthread_mutex_lock(&t->lock);
    p = file_slot(t, fi->fh);
    f = *p;
    if (f)
        *p = f->next;
    pthread_mutex_unlock(&t->lock);
    /* Not found: a key of a process before this one, never used since. */
    if (f)
        file_put(f);
}

void kfs_cephfs_files_init(struct kfs_files *t, uint32_t epoch)
{
    memset(t->buckets, 0, sizeof(t->buckets));
    t->epoch = epoch;
    t->next = 0;
    pthread_mutex_init(&t->lock, NULL);
}

void kfs_cephfs_files_destroy(struct kfs_files *t)
{
    for (size_t i = 0; i < KFS_FILE_BUCKETS; i++) {
        struct kfs_file *f = t->buckets[i], *next;

        for (; f; f = next) {
            next = f->next;
            free(f); /* the clients are closed: their handles with them */
        }
        t->buckets[i] = NULL;
    }
    pthread_mutex_destroy(&t->lock);
}

void kfs_cephfs_open(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct fuse_file_info *fi)
{
    struct kfs_share *s = n->share;
    struct Fh *fh = NULL;
    struct made m = {.share = s};
    struct kfs_call c;
    int flags = open_flags(fs, fi), rc;

    if (s->read_only && writes(flags)) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    if (!begin(fs, &c, req, s, flags & O_TRUNC ? 2 : 1))
        return;
    rc = ceph_ll_open(cm_of(s), n->in, flags, &fh, mount_perms(s));
    m.fh = fh;
    if (!end(fs, &c, rc, &m))
        return;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    if (!file_attach(fs, cm_of(s), fh, NULL, fi)) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (fuse_reply_open(req, fi) < 0)
        file_release(fs, fi); /* the opener is gone (interrupted) */
}

void kfs_cephfs_create(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name,
                       mode_t mode, struct fuse_file_info *fi)
{
    struct kfs_share *s = parent->share;
    struct fuse_entry_param e;
    struct ceph_statx stx;
    struct Inode *in = NULL;
    struct Fh *fh = NULL;
    struct made m = {.share = s};
    struct kfs_node *n;
    struct kfs_call c;
    UserPerm *perms;
    int flags = open_flags(fs, fi) | O_CREAT | (fi->flags & O_EXCL), rc;

    if (s->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    perms = caller_perms(req);
    if (!perms) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (!begin(fs, &c, req, s, 1))
        goto out;
    rc = ceph_ll_create(cm_of(s), parent->in, name, mode, flags, &in, &fh, &stx, WANT, 0, perms);
    m.in = in;
    m.fh = fh;
    if (!end(fs, &c, rc, &m))
        goto out;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        goto out;
    }
    n = adopt(fs, s, in, &stx);
    if (!n) {
        ceph_ll_close(cm_of(s), fh);
        kfs_reply_err(req, -ENOMEM);
        goto out;
    }
    fill_entry(fs, &e, n, &stx);
    if (!file_attach(fs, cm_of(s), fh, NULL, fi)) {
        kfs_cephfs_forget(fs, n, 1);
        kfs_reply_err(req, -ENOMEM);
        goto out;
    }
    if (fuse_reply_create(req, &e, fi) < 0) {
        file_release(fs, fi);
        kfs_cephfs_forget(fs, n, 1);
    }
out:
    ceph_userperm_destroy(perms);
}

void kfs_cephfs_read(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    char *buf = kfs_thread_buf(fs);
    struct kfs_file *f;
    struct kfs_call c;
    int rc;

    if (!buf) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (size > KFS_IO_MAX)
        size = KFS_IO_MAX;
    f = begin_file(fs, &c, req, n, 1, fi, REOPEN_FLAGS);
    if (!f)
        return;
    rc = ceph_ll_read(f->cm, f->fh, off, size, buf);
    file_put(f);
    if (!end(fs, &c, rc, NULL))
        return;
    if (rc < 0)
        kfs_reply_err(req, rc);
    else
        fuse_reply_buf(req, buf, (size_t)rc);
}

void kfs_cephfs_write(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *buf,
                      size_t size, off_t off, struct fuse_file_info *fi)
{
    struct kfs_file *f;
    struct kfs_call c;
    int rc;

    if (n->share->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    f = begin_file(fs, &c, req, n, 1, fi, REOPEN_FLAGS);
    if (!f)
        return;
    rc = ceph_ll_write(f->cm, f->fh, off, size, buf);
    file_put(f);
    if (!end(fs, &c, rc, NULL))
        return;
    if (rc < 0)
        kfs_reply_err(req, rc);
    else
        fuse_reply_write(req, (size_t)rc);
}

/* fsync waits for all of the file's data to be written out: it weighs more. */
#define FSYNC_WEIGHT 4

void kfs_cephfs_fsync(struct kfs *fs, fuse_req_t req, struct kfs_node *n, struct fuse_file_info *fi)
{
    struct kfs_call c;
    struct kfs_file *f = begin_file(fs, &c, req, n, FSYNC_WEIGHT, fi, REOPEN_WRITE);
    int rc;

    if (!f)
        return;
    /* Always the whole file, size and times included, even for fdatasync. */
    rc = ceph_ll_fsync(f->cm, f->fh, 0);
    file_put(f);
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

void kfs_cephfs_release(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                        struct fuse_file_info *fi)
{
    (void)n;
    /* Nobody waits on a release: answer first; the last user closes the Fh. */
    kfs_reply_err(req, 0);
    file_release(fs, fi);
}

void kfs_cephfs_fallocate(struct kfs *fs, fuse_req_t req, struct kfs_node *n, int mode,
                          off_t offset, off_t length, struct fuse_file_info *fi)
{
    struct kfs_file *f;
    struct kfs_call c;
    int rc;

    if (n->share->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    f = begin_file(fs, &c, req, n, 1, fi, REOPEN_WRITE);
    if (!f)
        return;
    rc = ceph_ll_fallocate(f->cm, f->fh, mode, offset, length);
    file_put(f);
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

/* ---- directories ---- */

void kfs_cephfs_opendir(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                        struct fuse_file_info *fi)
{
    struct ceph_dir_result *dir = NULL;
    struct made m = {.share = n->share};
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, n->share, 1))
        return;
    rc = ceph_ll_opendir(cm_of(n->share), n->in, &dir, mount_perms(n->share));
    m.dir = dir;
    if (!end(fs, &c, rc, &m))
        return;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    if (!file_attach(fs, cm_of(n->share), NULL, dir, fi)) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (fuse_reply_open(req, fi) < 0)
        file_release(fs, fi);
}

/*
 * Fill @buf with entries from the directory's position; with @plus, each
 * entry but "." and ".." is a lookup the kernel will forget later.
 * Return: bytes filled, or a negative errno when nothing was.
 */
static long fill_dir(struct kfs *fs, struct kfs_share *s, struct ceph_dir_result *dir, char *buf,
                     size_t size, bool plus)
{
    struct ceph_mount_info *cm = cm_of(s);
    struct fuse_entry_param e;
    struct ceph_statx stx;
    struct dirent de;
    size_t used = 0, need;
    int64_t pos;
    int rc = 0;

    for (;;) {
        struct Inode *in = NULL;
        struct kfs_node *n = NULL;

        pos = ceph_telldir(cm, dir);
        /* Attributes as the readdir reply brought them: no round trip per entry. */
        rc = ceph_readdirplus_r(cm, dir, &de, &stx, WANT, AT_STATX_DONT_SYNC, plus ? &in : NULL);
        if (rc <= 0)
            break;
        if (in && is_dot(de.d_name)) {
            ceph_ll_put(cm, in);
            in = NULL;
        }
        memset(&e, 0, sizeof(e));
        kfs_stat_from_statx(&e.attr, &stx);
        need = plus ? fuse_add_direntry_plus(NULL, NULL, 0, de.d_name, NULL, 0)
                    : fuse_add_direntry(NULL, NULL, 0, de.d_name, NULL, 0);
        if (used + need > size) {
            /* Full: this entry comes first in the next call. */
            if (in)
                ceph_ll_put(cm, in);
            ceph_seekdir(cm, dir, pos);
            break;
        }
        if (in) {
            n = adopt(fs, s, in, &stx);
            if (n)
                fill_entry(fs, &e, n, &stx);
        }
        if (plus)
            used += fuse_add_direntry_plus(NULL, buf + used, size - used, de.d_name, &e,
                                           ceph_telldir(cm, dir));
        else
            used += fuse_add_direntry(NULL, buf + used, size - used, de.d_name, &e.attr,
                                      ceph_telldir(cm, dir));
    }
    return rc < 0 && used == 0 ? rc : (long)used;
}

void kfs_cephfs_readdir(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size, off_t off,
                        struct fuse_file_info *fi, bool plus)
{
    struct kfs_share *s = n->share;
    char *buf = kfs_thread_buf(fs);
    struct kfs_file *f;
    struct kfs_call c;
    long got;

    if (!buf) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (size > KFS_IO_MAX)
        size = KFS_IO_MAX;
    f = begin_file(fs, &c, req, n, 1, fi, REOPEN_DIR);
    if (!f)
        return;
    if (ceph_telldir(f->cm, f->dir) != off)
        ceph_seekdir(f->cm, f->dir, off);
    got = fill_dir(fs, s, f->dir, buf, size, plus);
    file_put(f);
    /*
     * Answered meanwhile: the kernel never sees these entries, so the
     * lookups fill_dir() counted for them are never forgotten. A rare leak
     * of references, on a cluster that failed; they go at unmount.
     */
    if (!end(fs, &c, 0, NULL))
        return;
    if (got < 0)
        kfs_reply_err(req, (int)got);
    else
        fuse_reply_buf(req, buf, (size_t)got);
}

void kfs_cephfs_releasedir(struct kfs *fs, fuse_req_t req, struct kfs_node *n,
                           struct fuse_file_info *fi)
{
    (void)n;
    kfs_reply_err(req, 0);
    file_release(fs, fi);
}

void kfs_cephfs_fsyncdir(struct kfs *fs, fuse_req_t req, struct kfs_node *n)
{
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, n->share, FSYNC_WEIGHT))
        return;
    /* Waits until the MDS has journaled every change to the directory. */
    rc = ceph_ll_sync_inode(cm_of(n->share), n->in, 0);
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

/* ---- extended attributes ---- */

static bool ceph_xattr(const char *name)
{
    return strncmp(name, CEPH_XATTR_PREFIX, strlen(CEPH_XATTR_PREFIX)) == 0;
}

void kfs_cephfs_setxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name,
                         const char *value, size_t size, int flags)
{
    struct kfs_call c;
    int rc;

    if (ceph_xattr(name)) {
        kfs_reply_err(req, -EPERM);
        return;
    }
    if (n->share->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    if (!begin(fs, &c, req, n->share, 1))
        return;
    rc = ceph_ll_setxattr(cm_of(n->share), n->in, name, value, size, flags, mount_perms(n->share));
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

/* Reply with @rc bytes of @buf, or their count when the caller asked for the size only. */
static void reply_xattr(fuse_req_t req, size_t size, int rc, const char *buf)
{
    if (rc < 0)
        kfs_reply_err(req, rc);
    else if (size == 0)
        fuse_reply_xattr(req, (size_t)rc);
    else
        fuse_reply_buf(req, buf, (size_t)rc);
}

void kfs_cephfs_getxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name,
                         size_t size)
{
    char *buf = NULL;
    struct kfs_call c;
    int rc;

    if (size > XATTR_LIST_MAX_BYTES)
        size = XATTR_LIST_MAX_BYTES;
    if (size && !(buf = malloc(size))) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (!begin(fs, &c, req, n->share, 1))
        goto out;
    rc = ceph_ll_getxattr(cm_of(n->share), n->in, name, buf, size, mount_perms(n->share));
    if (end(fs, &c, rc, NULL))
        reply_xattr(req, size, rc, buf);
out:
    free(buf);
}

void kfs_cephfs_listxattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size)
{
    char *buf = NULL;
    size_t len = 0;
    struct kfs_call c;
    int rc;

    if (size > XATTR_LIST_MAX_BYTES)
        size = XATTR_LIST_MAX_BYTES;
    if (size && !(buf = malloc(size))) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (!begin(fs, &c, req, n->share, 1))
        goto out;
    rc = ceph_ll_listxattr(cm_of(n->share), n->in, buf, size, &len, mount_perms(n->share));
    if (end(fs, &c, rc, NULL))
        reply_xattr(req, size, rc < 0 ? rc : (int)len, buf);
out:
    free(buf);
}

void kfs_cephfs_removexattr(struct kfs *fs, fuse_req_t req, struct kfs_node *n, const char *name)
{
    struct kfs_call c;
    int rc;

    if (ceph_xattr(name)) {
        kfs_reply_err(req, -EPERM);
        return;
    }
    if (n->share->read_only) {
        kfs_reply_err(req, -EROFS);
        return;
    }
    if (!begin(fs, &c, req, n->share, 1))
        return;
    rc = ceph_ll_removexattr(cm_of(n->share), n->in, name, mount_perms(n->share));
    if (end(fs, &c, rc, NULL))
        kfs_reply_err(req, rc);
}

/* ---- space ---- */

/* A decimal ceph.* xattr of @in; absent reads as 0 ("no limit" for quotas). */
static int xattr_u64(struct kfs_cephfs *cfs, struct Inode *in, const char *name, uint64_t *out)
{
    char v[32];
    int n = ceph_ll_getxattr(cfs->cm, in, name, v, sizeof(v) - 1, ceph_mount_perms(cfs->cm));

    *out = 0;
    if (n == -ENODATA)
        return 0;
    if (n < 0)
        return n;
    v[n] = '\0';
    *out = strtoull(v, NULL, 10);
    return 0;
}

struct space {
    uint64_t total, used, files, ffree;
};

/*
 * The quota and use of directory @in; without a quota, what the cluster
 * has. Quota reads go to the MDS (libcephfs forces a getattr for them), so
 * they are exact up to CephFS's lazy propagation of recursive stats.
 */
static int dir_space(struct kfs_cephfs *cfs, struct Inode *in, struct space *out)
{
    uint64_t max_bytes, max_files, rbytes, rentries;
    struct statvfs vfs;
    int rc;

    rc = xattr_u64(cfs, in, "ceph.quota.max_bytes", &max_bytes);
    if (rc == 0)
        rc = xattr_u64(cfs, in, "ceph.quota.max_files", &max_files);
    if (rc == 0)
        rc = xattr_u64(cfs, in, "ceph.dir.rbytes", &rbytes);
    if (rc == 0)
        rc = xattr_u64(cfs, in, "ceph.dir.rentries", &rentries);
    if (rc == 0 && (!max_bytes || !max_files))
        rc = ceph_ll_statfs(cfs->cm, in, &vfs);
    if (rc < 0)
        return rc;
    if (max_bytes) {
        out->total = max_bytes;
        out->used = rbytes;
    } else {
        out->total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        out->used = out->total - (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    if (max_files) {
        out->files = max_files;
        out->ffree = max_files > rentries ? max_files - rentries : 0;
    } else {
        out->files = vfs.f_files;
        out->ffree = vfs.f_ffree;
    }
    return 0;
}

static void reply_space(fuse_req_t req, int rc, const struct space *sp)
{
    struct statvfs vfs;

    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    kfs_statfs_fill(&vfs, sp->total, sp->used, sp->files, sp->ffree);
    fuse_reply_statfs(req, &vfs);
}

void kfs_cephfs_statfs(struct kfs *fs, fuse_req_t req, struct kfs_share *s)
{
    struct space sp = {0};
    struct kfs_call c;
    int rc;

    if (!begin(fs, &c, req, s, 1))
        return;
    rc = dir_space(s->fs, s->root, &sp);
    if (end(fs, &c, rc, NULL))
        reply_space(req, rc, &sp);
}

/* Saturating sum: an unlimited share makes the project's total unlimited. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

void kfs_cephfs_statfs_project(struct kfs *fs, fuse_req_t req)
{
    struct kfs_backends *b = &fs->b;
    struct space sp = {0}, one;
    struct kfs_share *first = NULL;
    size_t n = b->nshares;
    struct kfs_call c;
    int rc = 0;

    /* Shares let go of (refresh.h) count no more. */
    for (size_t i = 0; !first && i < n; i++)
        if (!atomic_load(&b->shares[i].gate.cut))
            first = &b->shares[i];
    if (!first) {
        reply_space(req, 0, &sp);
        return;
    }
    if (!begin(fs, &c, req, first, 1))
        return;
    if (first->fs->project) {
        /* The project's directory carries the project's share quota. */
        rc = dir_space(first->fs, first->fs->root, &sp);
    } else {
        /* Bindings reach only their shares: the project is what they add up to. */
        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct kfs_share *s = &b->shares[i];

            if (s != first && kfs_gate_enter(&s->gate) < 0)
                continue;
            rc = dir_space(s->fs, s->root, &one);
            if (s != first)
                kfs_gate_leave(&s->gate);
            sp.total = add_sat(sp.total, one.total);
            sp.used = add_sat(sp.used, one.used);
            sp.files = add_sat(sp.files, one.files);
            sp.ffree = add_sat(sp.ffree, one.ffree);
        }
    }
    if (end(fs, &c, rc, NULL))
        reply_space(req, rc, &sp);
}

/* ---- cache invalidation ---- */

/* Enough for every snapshot of one inode the kernel holds at once. */
#define INVAL_MAX 16

struct inval_ctx {
    struct kfs *fs;
    struct kfs_cephfs *cfs;
};

/* libcephfs lost the caps that let the kernel cache @vino's data or attributes. */
static void inval_inode(void *handle, vinodeno_t vino, int64_t off, int64_t len)
{
    struct inval_ctx *ctx = handle;
    uint64_t inos[INVAL_MAX];
    size_t n = kfs_nodes_find_ino(&ctx->fs->nodes, ctx->cfs, vino.ino.val, inos, INVAL_MAX);

    for (size_t i = 0; i < n && ctx->fs->se; i++)
        fuse_lowlevel_notify_inval_inode(ctx->fs->se, inos[i], off, len);
}

/* Another client changed the name @name in directory @dirino. */
static void inval_dentry(void *handle, vinodeno_t dirino, vinodeno_t ino, const char *name,
                         size_t len)
{
    struct inval_ctx *ctx = handle;
    uint64_t inos[INVAL_MAX];
    size_t n = kfs_nodes_find_ino(&ctx->fs->nodes, ctx->cfs, dirino.ino.val, inos, INVAL_MAX);

    (void)ino;
    for (size_t i = 0; i < n && ctx->fs->se; i++)
        fuse_lowlevel_notify_inval_entry(ctx->fs->se, inos[i], name, len);
}

void kfs_cephfs_register_invalidation(struct kfs *fs, struct kfs_cephfs *cfs)
{
    /* Freed with the client, which has no way to unregister. */
    struct inval_ctx *ctx = malloc(sizeof(*ctx));
    struct ceph_client_callback_args args = {0};

    if (!ctx) {
        kfs_log(LOG_WARNING, "%s: no cache invalidation (out of memory)", cfs->health.name);
        return;
    }
    *ctx = (struct inval_ctx){.fs = fs, .cfs = cfs};
    args.handle = ctx;
    args.ino_cb = inval_inode;
    args.dentry_cb = inval_dentry;
    cfs->callback_ctx = ctx;
    ceph_ll_register_callbacks(cfs->cm, &args);
}
