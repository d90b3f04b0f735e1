/*
 * fs.c - the kairosfs tree: the fixed directories /, /shares and /volumes,
 * and the FUSE operations, each sent to the code of the node it is on
 * (cephfs.c for shares, rbd.c for volumes).
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"

/* The fixed directories never change while mounted: the kernel may keep them long. */
#define FIXED_TIMEOUT 3600.0
/* Read-ahead and write-back requests the kernel keeps in flight. */
#define MAX_BACKGROUND       64
#define CONGESTION_THRESHOLD 48

/* st_ino of the fixed directories (CephFS numbers its inodes from 2^40). */
enum { INO_ROOT = 1, INO_SHARES = 2, INO_VOLUMES = 3 };

static struct kfs_node *fixed_node(struct kfs *fs, fuse_ino_t ino)
{
    if (ino == INO_ROOT)
        return &fs->root;
    if (ino == INO_SHARES)
        return &fs->shares;
    if (ino == INO_VOLUMES)
        return &fs->volumes;
    for (size_t i = 0; i < fs->b.nvolumes; i++)
        if (fs->b.volumes[i].node.id == ino)
            return &fs->b.volumes[i].node;
    return NULL;
}

struct kfs_node *kfs_node_find_id(struct kfs *fs, fuse_ino_t ino)
{
    return ino >> KFS_ID_SLOT_SHIFT ? kfs_node_find(&fs->nodes, ino) : fixed_node(fs, ino);
}

struct kfs_node *kfs_node_of(struct kfs *fs, fuse_ino_t ino)
{
    struct kfs_node *n = kfs_node_find_id(fs, ino);
    unsigned slot;
    uint64_t snapid, cino;

    if (n || !kfs_id_decode(ino, &slot, &snapid, &cino))
        return n;
    /* An id a process before this one gave the kernel (restart.h). */
    for (size_t i = 0; i < fs->b.nshares; i++)
        if (fs->b.shares[i].slot == slot)
            return kfs_cephfs_revive(fs, &fs->b.shares[i], ino, snapid, cino);
    return NULL;
}

static fuse_ino_t ino_of(struct kfs *fs, struct kfs_node *n)
{
    (void)fs;
    return n->id;
}

void kfs_reply_err(fuse_req_t req, int rc)
{
    fuse_reply_err(req, -rc);
}

char *kfs_thread_buf(struct kfs *fs)
{
    char *buf = pthread_getspecific(fs->buf_key);

    if (!buf) {
        buf = malloc(KFS_IO_MAX);
        if (buf && pthread_setspecific(fs->buf_key, buf) != 0) {
            free(buf);
            buf = NULL;
        }
    }
    return buf;
}

void kfs_stat_from_statx(struct stat *st, const struct ceph_statx *stx)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = stx->stx_ino;
    st->st_mode = stx->stx_mode;
    st->st_nlink = stx->stx_nlink;
    st->st_uid = stx->stx_uid;
    st->st_gid = stx->stx_gid;
    st->st_rdev = stx->stx_rdev;
    st->st_size = (off_t)stx->stx_size;
    st->st_blksize = stx->stx_blksize;
    st->st_blocks = (blkcnt_t)stx->stx_blocks;
    st->st_atim = stx->stx_atime;
    st->st_mtim = stx->stx_mtime;
    st->st_ctim = stx->stx_ctime;
}

void kfs_statfs_fill(struct statvfs *vfs, uint64_t total, uint64_t used, uint64_t files,
                     uint64_t ffree)
{
    uint64_t avail = total > used ? total - used : 0;

    memset(vfs, 0, sizeof(*vfs));
    /* Tools take f_bsize as the size to do I/O in: the largest request. */
    vfs->f_bsize = KFS_IO_MAX;
    vfs->f_frsize = KFS_STATFS_FRSIZE;
    vfs->f_blocks = total / KFS_STATFS_FRSIZE;
    vfs->f_bfree = avail / KFS_STATFS_FRSIZE;
    vfs->f_bavail = vfs->f_bfree;
    vfs->f_files = files;
    vfs->f_ffree = ffree;
    vfs->f_favail = ffree;
    vfs->f_namemax = 255;
}

/* ---- the fixed directories ---- */

static void fixed_stat(struct kfs *fs, struct kfs_node *n, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = n->ino;
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    if (n == &fs->root)
        st->st_nlink += 2;
    else if (n == &fs->shares)
        for (size_t i = 0, count = fs->b.nshares; i < count; i++)
            st->st_nlink += kfs_shown(&fs->b.shares[i].gate);
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_blksize = KFS_IO_MAX;
    st->st_atim = st->st_mtim = st->st_ctim = fs->started;
}

static void reply_fixed_entry(struct kfs *fs, fuse_req_t req, struct kfs_node *n)
{
    struct fuse_entry_param e;
    int rc = 0;

    memset(&e, 0, sizeof(e));
    e.ino = ino_of(fs, n);
    e.attr_timeout = FIXED_TIMEOUT;
    e.entry_timeout = FIXED_TIMEOUT;
    if (n->kind == KFS_NODE_VOLUME) {
        /* The size may change (a resize by the broker): the usual attribute timeout. */
        e.attr_timeout = fs->opt.attr_timeout;
        rc = kfs_rbd_stat(fs, n->volume, &e.attr);
    } else {
        fixed_stat(fs, n, &e.attr);
    }
    if (rc < 0)
        kfs_reply_err(req, rc);
    else
        fuse_reply_entry(req, &e);
}

struct kfs_share *kfs_find_share(struct kfs *fs, const char *name)
{
    for (size_t i = 0, n = fs->b.nshares; i < n; i++)
        if (kfs_shown(&fs->b.shares[i].gate) && strcmp(fs->b.shares[i].name, name) == 0)
            return &fs->b.shares[i];
    return NULL;
}

struct kfs_volume *kfs_find_volume(struct kfs *fs, const char *name)
{
    for (size_t i = 0, n = fs->b.nvolumes; i < n; i++)
        if (kfs_shown(&fs->b.volumes[i].gate) && strcmp(fs->b.volumes[i].name, name) == 0)
            return &fs->b.volumes[i];
    return NULL;
}

static void fixed_lookup(struct kfs *fs, fuse_req_t req, struct kfs_node *parent, const char *name)
{
    struct kfs_share *s;
    struct kfs_volume *v;

    if (parent == &fs->root && strcmp(name, "shares") == 0)
        reply_fixed_entry(fs, req, &fs->shares);
    else if (parent == &fs->root && strcmp(name, "volumes") == 0)
        reply_fixed_entry(fs, req, &fs->volumes);
    else if (parent == &fs->shares && (s = kfs_find_share(fs, name)))
        kfs_cephfs_lookup_share(fs, req, s);
    else if (parent == &fs->volumes && (v = kfs_find_volume(fs, name)))
        reply_fixed_entry(fs, req, &v->node);
    else
        kfs_reply_err(req, -ENOENT);
}

/*
 * The name of entry @i of fixed directory @n (after "." and ".."), "" for
 * one deleted (refresh.h: entries keep their place), or NULL past the end.
 */
static const char *fixed_entry(struct kfs *fs, struct kfs_node *n, size_t i, mode_t *mode)
{
    static const char *const top[] = {"shares", "volumes"};

    *mode = S_IFDIR;
    if (n == &fs->root)
        return i < 2 ? top[i] : NULL;
    if (n == &fs->shares) {
        if (i >= fs->b.nshares)
            return NULL;
        return kfs_shown(&fs->b.shares[i].gate) ? fs->b.shares[i].name : "";
    }
    *mode = S_IFREG;
    if (i >= fs->b.nvolumes)
        return NULL;
    return kfs_shown(&fs->b.volumes[i].gate) ? fs->b.volumes[i].name : "";
}

static void fixed_readdir(struct kfs *fs, fuse_req_t req, struct kfs_node *n, size_t size,
                          off_t off, bool plus)
{
    char *buf = kfs_thread_buf(fs);
    struct fuse_entry_param e;
    size_t used = 0, len;
    const char *name;
    mode_t mode;

    if (!buf) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    if (size > KFS_IO_MAX)
        size = KFS_IO_MAX;
    /* Offsets: 1 after ".", 2 after "..", 3 + i after entry i. */
    for (off_t i = off; i >= 0; i++) {
        memset(&e, 0, sizeof(e));
        if (i < 2) {
            name = i ? ".." : ".";
            mode = S_IFDIR;
        } else if (!(name = fixed_entry(fs, n, (size_t)(i - 2), &mode))) {
            break;
        } else if (!name[0]) {
            continue;
        }
        e.attr.st_mode = mode;
        /* ino 0 in a readdirplus entry: a name only, no lookup to forget. */
        e.attr.st_ino = (ino_t)(i + 1);
        len = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1)
                   : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, i + 1);
        if (len > size - used)
            break;
        used += len;
    }
    fuse_reply_buf(req, buf, used);
}

void kfs_fs_changed(struct kfs *fs, bool share, const char *name)
{
    fuse_ino_t dir = share ? INO_SHARES : INO_VOLUMES;
    int rc;

    if (!fs->se)
        return;
    /* -ENOENT: the kernel holds nothing of it; nothing to drop. */
    rc = fuse_lowlevel_notify_inval_entry(fs->se, dir, name, strlen(name));
    if (rc == 0 || rc == -ENOENT)
        rc = fuse_lowlevel_notify_inval_inode(fs->se, dir, 0, 0);
    if (rc < 0 && rc != -ENOENT)
        kfs_log(LOG_INFO, "cannot tell the kernel that %s/%s changed: %s",
                share ? "shares" : "volumes", name, strerror(-rc));
}

/* ---- dispatch ---- */

static struct kfs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

/*
 * True (and answered) when a request names a node that cannot be found:
 * one a process before this one made and that a restart cannot rebuild.
 */
static bool stale(fuse_req_t req, const struct kfs_node *n)
{
    if (n)
        return false;
    kfs_reply_err(req, -ESTALE);
    return true;
}

static bool is_fixed_dir(const struct kfs_node *n)
{
    return n->kind == KFS_NODE_ROOT || n->kind == KFS_NODE_SHARES || n->kind == KFS_NODE_VOLUMES;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct kfs *fs = userdata;

    conn->max_write = KFS_IO_MAX;
    /* Must equal the max_read mount option (main.c), or libfuse refuses. */
    conn->max_read = KFS_IO_MAX;
    conn->max_background = MAX_BACKGROUND;
    conn->congestion_threshold = CONGESTION_THRESHOLD;
    conn->time_gran = 1;
    /* O_TRUNC goes to libcephfs with the open: one MDS request, not two. */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    if (conn->capable & FUSE_CAP_ASYNC_DIO)
        conn->want |= FUSE_CAP_ASYNC_DIO;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
        conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    if (fs->opt.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    else if (fs->opt.writeback)
        kfs_log(LOG_WARNING, "the kernel has no writeback cache for FUSE; writing through");
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *p = kfs_node_of(fs, parent);

    if (stale(req, p))
        return;
    if (p->kind == KFS_NODE_CEPH)
        kfs_cephfs_lookup(fs, req, p, name);
    else if (is_fixed_dir(p))
        fixed_lookup(fs, req, p, name);
    else
        kfs_reply_err(req, -ENOTDIR);
}

static void forget_one(struct kfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
    /* A node of a process before this one, never revived: nothing to let go. */
    struct kfs_node *n = kfs_node_find_id(fs, ino);

    /* The fixed nodes live as long as the mount. */
    if (n && n->kind == KFS_NODE_CEPH)
        kfs_cephfs_forget(fs, n, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    forget_one(fs_of(req), ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);
    struct stat st;

    if (stale(req, n))
        return;
    (void)fi;
    if (n->kind == KFS_NODE_CEPH) {
        kfs_cephfs_getattr(fs, req, n);
    } else if (n->kind == KFS_NODE_VOLUME) {
        kfs_rbd_getattr(fs, req, n->volume);
    } else {
        fixed_stat(fs, n, &st);
        fuse_reply_attr(req, &st, FIXED_TIMEOUT);
    }
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    (void)fi;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_setattr(fs, req, n, attr, to_set);
    else if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_setattr(fs, req, n->volume, attr, to_set);
    else
        kfs_reply_err(req, -EPERM);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_readlink(fs, req, n);
    else
        kfs_reply_err(req, -EINVAL);
}

/*
 * The parent of a new name must be a share's directory: the fixed tree
 * is the project's layout, not the user's.
 */
static struct kfs_node *ceph_parent(fuse_req_t req, fuse_ino_t parent)
{
    struct kfs_node *p = kfs_node_of(fs_of(req), parent);

    if (stale(req, p))
        return NULL;
    if (p->kind == KFS_NODE_CEPH)
        return p;
    kfs_reply_err(req, is_fixed_dir(p) ? -EPERM : -ENOTDIR);
    return NULL;
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_mknod(fs_of(req), req, p, name, mode, rdev);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_mkdir(fs_of(req), req, p, name, mode);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_unlink(fs_of(req), req, p, name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_rmdir(fs_of(req), req, p, name);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_symlink(fs_of(req), req, link, p, name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *p = kfs_node_of(fs, parent), *np = p ? kfs_node_of(fs, newparent) : NULL;

    if (stale(req, np))
        return;
    if (p->kind == KFS_NODE_CEPH && np->kind == KFS_NODE_CEPH)
        kfs_cephfs_rename(fs, req, p, name, np, newname, flags);
    else
        kfs_reply_err(req, -EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino), *np = n ? kfs_node_of(fs, newparent) : NULL;

    if (stale(req, np))
        return;
    if (n->kind == KFS_NODE_CEPH && np->kind == KFS_NODE_CEPH)
        kfs_cephfs_link(fs, req, n, np, newname);
    else
        kfs_reply_err(req, -EPERM);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_open(fs, req, n, fi);
    else if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_open(fs, req, n->volume, fi);
    else
        kfs_reply_err(req, -EISDIR);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    struct kfs_node *p = ceph_parent(req, parent);

    if (p)
        kfs_cephfs_create(fs_of(req), req, p, name, mode, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_read(fs, req, n, size, off, fi);
    else if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_read(fs, req, n->volume, size, off);
    else
        kfs_reply_err(req, -EISDIR);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_write(fs, req, n, buf, size, off, fi);
    else if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_write(fs, req, n->volume, buf, size, off);
    else
        kfs_reply_err(req, -EISDIR);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    (void)fi;
    /*
     * librbd's cache is the process's own: a close pushes it to the OSDs so
     * that other clients read what was written. libcephfs needs nothing:
     * its caps make other clients wait for our data.
     */
    if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_flush(fs, req, n->volume);
    else
        kfs_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    /* Only the handle matters: a node that is gone need not be found again. */
    struct kfs_node *n = kfs_node_find_id(fs, ino);

    if (!n || n->kind == KFS_NODE_CEPH)
        kfs_cephfs_release(fs, req, n, fi);
    else
        kfs_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    (void)datasync;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_fsync(fs, req, n, fi);
    else if (n->kind == KFS_NODE_VOLUME)
        kfs_rbd_flush(fs, req, n->volume);
    else
        kfs_reply_err(req, 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_fallocate(fs, req, n, mode, offset, length, fi);
    else
        kfs_reply_err(req, -EOPNOTSUPP);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_opendir(fs, req, n, fi);
    else if (is_fixed_dir(n))
        fuse_reply_open(req, fi);
    else
        kfs_reply_err(req, -ENOTDIR);
}

static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi, bool plus)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_readdir(fs, req, n, size, off, fi, plus);
    else
        fixed_readdir(fs, req, n, size, off, plus);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    readdir_any(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    readdir_any(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    /* Only the handle matters: a node that is gone need not be found again. */
    struct kfs_node *n = kfs_node_find_id(fs, ino);

    if (!n || n->kind == KFS_NODE_CEPH)
        kfs_cephfs_releasedir(fs, req, n, fi);
    else
        kfs_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    (void)datasync;
    (void)fi;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_fsyncdir(fs, req, n);
    else
        kfs_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_statfs(fs, req, n->share);
    else if (n->kind == KFS_NODE_ROOT || n->kind == KFS_NODE_SHARES)
        kfs_cephfs_statfs_project(fs, req);
    else
        kfs_rbd_statfs(fs, req);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_setxattr(fs, req, n, name, value, size, flags);
    else
        kfs_reply_err(req, -ENOTSUP);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_getxattr(fs, req, n, name, size);
    else
        kfs_reply_err(req, -ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_listxattr(fs, req, n, size);
    else if (size == 0)
        fuse_reply_xattr(req, 0);
    else
        fuse_reply_buf(req, NULL, 0);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct kfs *fs = fs_of(req);
    struct kfs_node *n = kfs_node_of(fs, ino);

    if (stale(req, n))
        return;
    if (n->kind == KFS_NODE_CEPH)
        kfs_cephfs_removexattr(fs, req, n, name);
    else
        kfs_reply_err(req, -ENODATA);
}

const struct fuse_lowlevel_ops kfs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .fallocate = op_fallocate,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .fsyncdir = op_fsyncdir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
};

/* ---- life cycle ---- */

/* The Ceph clients are closed, and dropped the references of the nodes left. */
static void already_put(struct kfs_node *n)
{
    (void)n;
}

/* A number that marks this process's file handles apart from those of the one before. */
static uint32_t epoch(void)
{
    uint32_t e = 0;
    struct timespec ts;

    if (getrandom(&e, sizeof(e), 0) != (ssize_t)sizeof(e)) {
        clock_gettime(CLOCK_REALTIME, &ts);
        e = (uint32_t)(ts.tv_nsec ^ ts.tv_sec ^ getpid());
    }
    return e;
}

/* The names' slots, as the mount's slot maps keep them: node ids survive a restart. */
static int assign_slots(struct kfs *fs)
{
    size_t n = fs->b.nshares > fs->b.nvolumes ? fs->b.nshares : fs->b.nvolumes;
    unsigned *slots = calloc(n ? n : 1, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    if (!fs->slots[0] || !fs->slots[1]) {
        free(slots);
        return -EINVAL;
    }
    kfs_slots_assign(fs->slots[0], fs->b.shares ? fs->b.shares[0].name : NULL,
                     sizeof(struct kfs_share), fs->b.nshares, slots);
    for (size_t i = 0; i < fs->b.nshares; i++)
        fs->b.shares[i].slot = slots[i];
    kfs_slots_assign(fs->slots[1], fs->b.volumes ? fs->b.volumes[0].name : NULL,
                     sizeof(struct kfs_volume), fs->b.nvolumes, slots);
    for (size_t i = 0; i < fs->b.nvolumes; i++) {
        struct kfs_volume *v = &fs->b.volumes[i];

        v->slot = slots[i];
        v->node.id = v->node.ino = KFS_ID_VOLUME + slots[i];
    }
    free(slots);
    return 0;
}

int kfs_fs_init(struct kfs *fs)
{
    int rc = kfs_nodes_init(&fs->nodes);

    if (rc < 0)
        return rc;
    rc = -pthread_key_create(&fs->buf_key, free);
    if (rc < 0) {
        kfs_nodes_destroy(&fs->nodes, already_put);
        return rc;
    }
    fs->root = (struct kfs_node){.kind = KFS_NODE_ROOT, .ino = INO_ROOT, .id = INO_ROOT};
    fs->shares = (struct kfs_node){.kind = KFS_NODE_SHARES, .ino = INO_SHARES, .id = INO_SHARES};
    fs->volumes =
        (struct kfs_node){.kind = KFS_NODE_VOLUMES, .ino = INO_VOLUMES, .id = INO_VOLUMES};
    kfs_cephfs_files_init(&fs->files, epoch());
    rc = assign_slots(fs);
    if (rc < 0) {
        kfs_cephfs_files_destroy(&fs->files);
        pthread_key_delete(fs->buf_key);
        kfs_nodes_destroy(&fs->nodes, already_put);
        return rc;
    }
    fs->uid = getuid();
    fs->gid = getgid();
    clock_gettime(CLOCK_REALTIME, &fs->started);
    return 0;
}

void kfs_fs_attach(struct kfs *fs, struct fuse_session *se)
{
    fs->se = se;
    for (size_t i = 0; i < fs->b.nfss; i++)
        kfs_cephfs_register_invalidation(fs, fs->b.fss[i]);
}

void kfs_fs_destroy(struct kfs *fs)
{
    fs->se = NULL;
    kfs_nodes_destroy(&fs->nodes, already_put);
    kfs_cephfs_files_destroy(&fs->files);
    pthread_key_delete(fs->buf_key);
}
