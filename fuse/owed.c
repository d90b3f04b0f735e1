/*
 * owed.c - requests read and not yet answered, in the mount's state memfd
 * (see owed.h).
 */
#include "owed.h"

#include "restart.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * The table sits past the state (restart.h, KFS_STATE_OWED_AT). The kernel
 * numbers requests one after another (by 2: the low bit marks interrupts),
 * so a request's home slot is its number modulo the table: the requests in
 * flight, a window of recent numbers, rarely meet. One that finds its home
 * taken (a request older than a table's worth) takes the next free slot,
 * and its answer then looks through the whole table.
 */
#define OWED_SLOTS KFS_OWED_SLOTS
#define OWED_MAGIC 0x4b46534fu /* "KFSO" */

struct kfs_owed {
    uint32_t magic;
    uint32_t slots;
    _Atomic uint64_t id[OWED_SLOTS]; /* 0: free */
};

/* The one session of this process: libfuse's I/O hooks get no other argument. */
static struct kfs_owed *attached;

int kfs_owed_open(int state_fd, struct kfs_owed **out)
{
    struct kfs_owed *o = kfs_state_map(state_fd, KFS_STATE_OWED_AT, sizeof(*o));

    if (!o)
        return -errno;
    /* A new table, or one of another layout: start empty. */
    if (o->magic != OWED_MAGIC || o->slots != OWED_SLOTS) {
        memset(o, 0, sizeof(*o));
        o->magic = OWED_MAGIC;
        o->slots = OWED_SLOTS;
    }
    *out = o;
    return 0;
}

static size_t home(uint64_t id)
{
    return (size_t)(id >> 1) % OWED_SLOTS;
}

static void note(struct kfs_owed *o, uint64_t id)
{
    for (size_t i = 0, h = home(id); i < OWED_SLOTS; i++) {
        uint64_t free = 0;
        if (atomic_compare_exchange_strong(&o->id[(h + i) % OWED_SLOTS], &free, id))
            return;
    }
    /* Full: this request fails to be noted, and on an old kernel waits. */
}

static void done(struct kfs_owed *o, uint64_t id)
{
    uint64_t want = id;
    size_t h = home(id);

    if (atomic_compare_exchange_strong(&o->id[h], &want, 0))
        return;
    for (size_t i = 1; i < OWED_SLOTS; i++) {
        want = id;
        if (atomic_compare_exchange_strong(&o->id[(h + i) % OWED_SLOTS], &want, 0))
            return;
    }
}

size_t kfs_owed_take(struct kfs_owed *o, uint64_t *ids, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < OWED_SLOTS; i++) {
        uint64_t id = atomic_exchange(&o->id[i], 0);
        if (id && n < max)
            ids[n++] = id;
    }
    return n;
}

size_t kfs_owed_fail(int fd, const uint64_t *ids, size_t n, int error)
{
    size_t taken = 0;

    for (size_t i = 0; i < n; i++) {
        struct fuse_out_header oh = {.len = sizeof(oh), .error = -error, .unique = ids[i]};
        /* ENOENT: the kernel answered it itself meanwhile (interrupted, aborted). */
        taken += write(fd, &oh, sizeof(oh)) == (ssize_t)sizeof(oh);
    }
    return taken;
}

/* Requests that the kernel expects no answer to. */
static int answered(uint32_t opcode)
{
    return opcode != FUSE_FORGET && opcode != FUSE_BATCH_FORGET && opcode != FUSE_INTERRUPT &&
           opcode != FUSE_NOTIFY_REPLY;
}

static ssize_t owed_read(int fd, void *buf, size_t len, void *userdata)
{
    ssize_t n = read(fd, buf, len);
    const struct fuse_in_header *in = buf;

    (void)userdata;
    if (n >= (ssize_t)sizeof(*in) && answered(in->opcode))
        note(attached, in->unique);
    return n;
}

/*
 * The id is dropped once the answer is written, not before: a daemon
 * killed in between leaves an id the kernel no longer knows, which the next
 * one's answer meets as ENOENT, harmlessly; the other order would lose it.
 */
static ssize_t owed_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    ssize_t n = writev(fd, iov, count);
    int saved = errno;
    const struct fuse_out_header *out = count > 0 ? iov[0].iov_base : NULL;

    (void)userdata;
    /* Unique 0: a notification, not an answer. */
    if (out && iov[0].iov_len >= sizeof(*out) && out->unique)
        done(attached, out->unique);
    errno = saved;
    return n;
}

int kfs_owed_attach(struct fuse_session *se, struct kfs_owed *o)
{
    /* No splice hooks: libfuse then reads and writes through these alone. */
    static const struct fuse_custom_io io = {.read = owed_read, .writev = owed_writev};

    attached = o;
    return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
