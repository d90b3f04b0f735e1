/*
 * rbd.c - the volumes: each RBD image is a regular file of the image's
 * size under /volumes, read and written through librbd.
 *
 * Reads, writes and flushes are asynchronous (rbd_aio_*): the worker
 * thread submits and goes back for the next request, and librbd's
 * completion answers the kernel. A volume file behaves like a block device
 * node: its size is the image's and does not change through the mount
 * (resizing is the broker's, against the quota), O_TRUNC is ignored, a
 * write that starts at the end fails with ENOSPC and one that crosses it
 * is cut short.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"

enum vio_kind { VIO_READ, VIO_WRITE, VIO_FLUSH };

/* One request in flight in librbd; freed by its completion. */
struct vio {
    struct kfs_call call;
    struct kfs *fs;
    enum vio_kind kind;
    char *buf; /* VIO_READ: the data read */
    size_t len;
};

static void vio_free(struct vio *io)
{
    free(io->buf);
    free(io);
}

static void vio_done(rbd_completion_t comp, void *arg)
{
    struct vio *io = arg;
    ssize_t r = rbd_aio_get_return_value(comp);

    rbd_aio_release(comp);
    if (kfs_call_end(&io->fs->guard, &io->call, (int)r)) {
        if (r < 0)
            kfs_reply_err(io->call.req, (int)r);
        else if (io->kind == VIO_READ)
            fuse_reply_buf(io->call.req, io->buf, (size_t)r);
        else if (io->kind == VIO_WRITE)
            fuse_reply_write(io->call.req, io->len);
        else
            kfs_reply_err(io->call.req, 0);
    }
    vio_free(io);
}

/*
 * Start @io on @v: the reply comes from vio_done(). @buf is the data of a
 * write, copied by librbd before rbd_aio_write() returns (connect.h).
 */
static void submit(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, struct vio *io,
                   uint64_t off, const char *buf)
{
    rbd_completion_t comp;
    int rc;

    io->fs = fs;
    if (!kfs_call_begin_on(&fs->guard, &io->call, req, &v->rados->health, &v->gate, 1)) {
        vio_free(io);
        return;
    }
    rc = rbd_aio_create_completion(io, vio_done, &comp);
    if (rc == 0) {
        if (io->kind == VIO_READ)
            rc = rbd_aio_read(v->image, off, io->len, io->buf, comp);
        else if (io->kind == VIO_WRITE)
            rc = rbd_aio_write(v->image, off, io->len, buf, comp);
        else
            rc = rbd_aio_flush(v->image, comp);
        if (rc < 0)
            rbd_aio_release(comp);
    }
    if (rc < 0) {
        if (kfs_call_end(&fs->guard, &io->call, rc))
            kfs_reply_err(req, rc);
        vio_free(io);
    }
}

static struct vio *vio_new(enum vio_kind kind, size_t len)
{
    struct vio *io = calloc(1, sizeof(*io));

    if (!io)
        return NULL;
    io->kind = kind;
    io->len = len;
    if (kind == VIO_READ && len && !(io->buf = malloc(len))) {
        free(io);
        return NULL;
    }
    return io;
}

/* ---- attributes ---- */

int kfs_rbd_stat(struct kfs *fs, struct kfs_volume *v, struct stat *st)
{
    struct timespec created = fs->started, modified = fs->started;
    uint64_t size;
    int rc = kfs_gate_enter(&v->gate);

    if (rc < 0)
        return rc;
    rc = rbd_get_size(v->image, &size);
    /* Kept by librbd in the image's header: no round trip. */
    if (rc == 0) {
        rbd_get_create_timestamp(v->image, &created);
        rbd_get_modify_timestamp(v->image, &modified);
    }
    kfs_gate_leave(&v->gate);
    if (rc < 0)
        return rc;
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)v->node.ino;
    st->st_mode = S_IFREG | (v->read_only ? 0440 : 0660);
    st->st_nlink = 1;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_size = (off_t)size;
    st->st_blksize = KFS_IO_MAX;
    st->st_blocks = (blkcnt_t)((size + 511) / 512);
    st->st_atim = modified;
    st->st_mtim = modified;
    st->st_ctim = created;
    return 0;
}

void kfs_rbd_getattr(struct kfs *fs, fuse_req_t req, struct kfs_volume *v)
{
    struct stat st;
    int rc = kfs_rbd_stat(fs, v, &st);

    if (rc < 0)
        kfs_reply_err(req, rc);
    else
        fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

void kfs_rbd_setattr(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, struct stat *attr,
                     int to_set)
{
    struct stat st;
    int rc = kfs_rbd_stat(fs, v, &st);

    if (rc == 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
        rc = -EPERM;
    /* The size is the image's: only the broker resizes it (against the quota). */
    if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size)
        rc = -EPERM;
    /* Times are the image's own; setting them is accepted and has no effect. */
    if (rc < 0)
        kfs_reply_err(req, rc);
    else
        fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

/* ---- data ---- */

void kfs_rbd_open(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, struct fuse_file_info *fi)
{
    int rc = atomic_load(&v->gate.cut);

    (void)fs;
    if (rc == 0 && v->read_only && (fi->flags & O_ACCMODE) != O_RDONLY)
        rc = -EROFS;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    /* Another client may write the image between two opens: start afresh. */
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
}

/* The size of @v's image, under its gate: 0 or a negative errno (the gate's once cut). */
static int volume_size(struct kfs_volume *v, uint64_t *size)
{
    int rc = kfs_gate_enter(&v->gate);

    if (rc < 0)
        return rc;
    rc = rbd_get_size(v->image, size);
    kfs_gate_leave(&v->gate);
    return rc;
}

void kfs_rbd_read(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, size_t size, off_t off)
{
    uint64_t end;
    struct vio *io;
    int rc = volume_size(v, &end);

    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    if ((uint64_t)off >= end) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (size > end - (uint64_t)off)
        size = end - (uint64_t)off;
    io = vio_new(VIO_READ, size);
    if (!io) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    submit(fs, req, v, io, (uint64_t)off, NULL);
}

void kfs_rbd_write(struct kfs *fs, fuse_req_t req, struct kfs_volume *v, const char *buf,
                   size_t size, off_t off)
{
    uint64_t end;
    struct vio *io;
    int rc = v->read_only ? -EROFS : volume_size(v, &end);

    if (rc == 0 && (uint64_t)off >= end && size)
        rc = -ENOSPC;
    if (rc < 0) {
        kfs_reply_err(req, rc);
        return;
    }
    if (size > end - (uint64_t)off)
        size = end - (uint64_t)off;
    io = vio_new(VIO_WRITE, size);
    if (!io) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    submit(fs, req, v, io, (uint64_t)off, buf);
}

void kfs_rbd_flush(struct kfs *fs, fuse_req_t req, struct kfs_volume *v)
{
    struct vio *io = vio_new(VIO_FLUSH, 0);

    if (!io) {
        kfs_reply_err(req, -ENOMEM);
        return;
    }
    submit(fs, req, v, io, 0, NULL);
}

/* ---- space ---- */

void kfs_rbd_statfs(struct kfs *fs, fuse_req_t req)
{
    uint64_t total = 0, size;
    struct statvfs vfs;
    size_t n = fs->b.nvolumes, count = 0;

    /* The volumes are provisioned in full: all of it is theirs, none is free. */
    for (size_t i = 0; i < n; i++)
        if (volume_size(&fs->b.volumes[i], &size) == 0) {
            total += size;
            count++;
        }
    kfs_statfs_fill(&vfs, total, total, count, 0);
    fuse_reply_statfs(req, &vfs);
}
