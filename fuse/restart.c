/*
 * restart.c - handing a live FUSE connection to a new kairosfs daemon
 * (see restart.h).
 */
#include "restart.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

/* Linux 6.9's notification; the headers of Debian 12 predate it. */
#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7
#endif

/*
 * The state is read by the next daemon, which may be a newer binary: its
 * layout only grows, and the magic says which layout it is.
 */
#define STATE_MAGIC 0x4b465331u /* "KFS1" */

struct state_file {
    uint32_t magic;
    struct kfs_state st;
};

int kfs_state_write(int fd, const struct kfs_state *st)
{
    struct state_file f = {.magic = STATE_MAGIC, .st = *st};

    return pwrite(fd, &f, sizeof(f), 0) == (ssize_t)sizeof(f) ? 0 : -EIO;
}

void *kfs_state_map(int fd, off_t offset, size_t len)
{
    const off_t end = offset + (off_t)len;
    struct stat st;
    void *p;

    if (fstat(fd, &st) < 0 || (st.st_size < end && ftruncate(fd, end) < 0))
        return NULL;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    return p == MAP_FAILED ? NULL : p;
}

#define SLOTS_MAGIC 0x4b46534cu /* "KFSL" */

struct kfs_state_slots *kfs_state_slots(int fd)
{
    struct kfs_state_slots *m = kfs_state_map(fd, KFS_STATE_SLOTS_AT, sizeof(*m));

    if (m && (m->magic != SLOTS_MAGIC || m->slots != KFS_ID_SLOTS)) {
        memset(m, 0, sizeof(*m));
        m->magic = SLOTS_MAGIC;
        m->slots = KFS_ID_SLOTS;
    }
    return m;
}

int kfs_state_uuid(struct kfs_state *st)
{
    unsigned char r[14];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -EIO;
    /* The MDS knows the mount's clients by this; a restart reclaims their sessions. */
    snprintf(st->uuid, sizeof(st->uuid),
             "kairosfs-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13]);
    return 0;
}

int kfs_state_new(struct kfs_state *st, const void *init, size_t len)
{
    int fd, rc;

    if (len > sizeof(st->init))
        return -E2BIG;
    if (!st->uuid[0] && kfs_state_uuid(st) < 0)
        return -EIO;
    memset(st->init, 0, sizeof(st->init));
    memcpy(st->init, init, len);
    st->init_len = (uint32_t)len;
    /* Not close-on-exec: the supervisor hands it to each daemon it starts. */
    fd = memfd_create("kairosfs-state", 0);
    if (fd < 0)
        return -errno;
    rc = kfs_state_write(fd, st);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

static int state_read(int fd, struct kfs_state *st)
{
    struct state_file f;

    if (pread(fd, &f, sizeof(f), 0) != (ssize_t)sizeof(f) || f.magic != STATE_MAGIC ||
        f.st.init_len > sizeof(f.st.init) || f.st.init_len == 0)
        return -EINVAL;
    f.st.uuid[sizeof(f.st.uuid) - 1] = '\0';
    *st = f.st;
    return 0;
}

/* A descriptor number from the environment; -1 if unset, -EINVAL if not a number. */
static int env_fd(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (!v)
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < 0 || n > INT_MAX || fcntl((int)n, F_GETFD) < 0)
        return -EINVAL;
    return (int)n;
}

/* Descriptors in systemd's store, passed back as LISTEN_FDS with their names. */
static void from_systemd(struct kfs_handover *h)
{
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names);

    for (int i = 0; i < n; i++) {
        if (names && strcmp(names[i], KFS_FDNAME_FUSE) == 0)
            h->fuse_fd = SD_LISTEN_FDS_START + i;
        else if (names && strcmp(names[i], KFS_FDNAME_STATE) == 0)
            h->state_fd = SD_LISTEN_FDS_START + i;
    }
    if (h->fuse_fd >= 0 && h->state_fd >= 0)
        h->systemd = true;
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int kfs_handover_find(struct kfs_handover *h)
{
    int rc;

    *h = (struct kfs_handover){.fuse_fd = -1, .state_fd = -1, .ready_fd = -1};
    h->fuse_fd = env_fd(KFS_ENV_FUSE_FD);
    h->state_fd = env_fd(KFS_ENV_STATE_FD);
    h->ready_fd = env_fd(KFS_ENV_READY_FD);
    unsetenv(KFS_ENV_FUSE_FD);
    unsetenv(KFS_ENV_STATE_FD);
    unsetenv(KFS_ENV_READY_FD);
    if (h->fuse_fd == -EINVAL || h->state_fd == -EINVAL || h->ready_fd == -EINVAL ||
        (h->fuse_fd >= 0) != (h->state_fd >= 0))
        return -EINVAL;
    if (h->fuse_fd < 0)
        from_systemd(h);
    if (h->fuse_fd < 0) {
        h->state_fd = -1;
        return 0;
    }
    rc = state_read(h->state_fd, &h->state);
    if (rc < 0)
        return rc;
    /* Neither goes to what this process starts (a fusermount3, say). */
    fcntl(h->fuse_fd, F_SETFD, FD_CLOEXEC);
    fcntl(h->state_fd, F_SETFD, FD_CLOEXEC);
    if (h->ready_fd >= 0)
        fcntl(h->ready_fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

int kfs_init_receive(struct fuse_session *se, unsigned char *buf, size_t size)
{
    struct fuse_buf fbuf = {.mem = NULL};
    const struct fuse_in_header *in;
    int rc;

    /* EINTR: a signal before the kernel's first request; ENOENT: one interrupted. */
    do
        rc = fuse_session_receive_buf(se, &fbuf);
    while (rc == -EINTR || rc == -ENOENT);
    if (rc <= 0) {
        rc = rc < 0 ? rc : -ENODEV;
        goto out;
    }
    in = fbuf.mem;
    if ((size_t)rc < sizeof(*in) || in->opcode != FUSE_INIT) {
        rc = -EPROTO;
        goto out;
    }
    if ((size_t)rc > size) {
        rc = -E2BIG;
        goto out;
    }
    memcpy(buf, fbuf.mem, (size_t)rc);
out:
    free(fbuf.mem);
    return rc;
}

void kfs_init_process(struct fuse_session *se, const unsigned char *init, size_t len)
{
    unsigned char copy[KFS_INIT_MAX];
    struct fuse_buf fbuf = {.mem = copy, .size = len};

    memcpy(copy, init, len);
    fuse_session_process_buf(se, &fbuf);
}

int kfs_resend(int fd)
{
    struct fuse_out_header oh = {.len = sizeof(oh), .error = FUSE_NOTIFY_RESEND, .unique = 0};

    return write(fd, &oh, sizeof(oh)) == (ssize_t)sizeof(oh) ? 0 : -errno;
}

bool kfs_fdstore_put(int fuse_fd, int state_fd)
{
    if (!getenv("NOTIFY_SOCKET"))
        return false;
    return sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" KFS_FDNAME_FUSE, &fuse_fd, 1) > 0 &&
           sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" KFS_FDNAME_STATE, &state_fd, 1) > 0;
}

void kfs_fdstore_drop(void)
{
    if (getenv("NOTIFY_SOCKET"))
        sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" KFS_FDNAME_FUSE "\n"
                     "FDSTOREREMOVE=1\nFDNAME=" KFS_FDNAME_STATE);
}

void kfs_notify_ready(void)
{
    if (getenv("NOTIFY_SOCKET"))
        sd_notify(0, "READY=1");
}
