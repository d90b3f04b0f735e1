/*
 * restart.h - a kairosfs mount that outlives its daemon.
 *
 * The kernel keeps a FUSE mount alive as long as one process holds its
 * /dev/fuse descriptor. Something other than the daemon holds it:
 *   - `kairosfs --supervise`: a small supervisor mounts, holds the
 *     descriptor and starts the daemon again (re-executing the binary, so
 *     that an upgrade takes effect) whenever it dies;
 *   - systemd: the daemon puts the descriptor in its service's file
 *     descriptor store (FDSTORE=1) and gets it back when started again.
 *
 * Next to the descriptor travels a small state (a memfd): the INIT request
 * the kernel sent at mount time, and the identity the mount's libcephfs
 * clients have towards the MDS. A daemon started on a live connection
 *   1. replays the INIT through libfuse, so that libfuse negotiates what
 *      the kernel agreed to (the kernel drops the second reply);
 *   2. reclaims the Ceph sessions of the daemon before (CEPH_RECLAIM_RESET
 *      on the same client uuid), so that the MDS hands it their caps at
 *      once instead of after the dead session's timeout, and breaks the
 *      exclusive locks its RADOS clients held on volumes (their watches
 *      would hold them for another 30 s);
 *   3. asks the kernel to send again every request the dead daemon had
 *      read but not answered (FUSE_NOTIFY_RESEND, Linux 6.9 and later), or,
 *      on an older kernel, answers them with EIO from the table of owed.h.
 * Node ids and file handles mean something without the old process's
 * memory (node.h, cephfs.c), so the kernel's view stays valid.
 *
 * Not thread-safe: called from main() before the FUSE loop starts.
 */
#ifndef KFS_RESTART_H
#define KFS_RESTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include <fuse_lowlevel.h>

#include "node.h"

/* The environment a supervisor gives the daemon it starts. */
#define KFS_ENV_FUSE_FD  "KAIROSFS_FUSE_FD"
#define KFS_ENV_STATE_FD "KAIROSFS_STATE_FD"
#define KFS_ENV_READY_FD "KAIROSFS_READY_FD"

/* The names of the two descriptors in systemd's store. */
#define KFS_FDNAME_FUSE  "kairosfs-fuse"
#define KFS_FDNAME_STATE "kairosfs-state"

#define KFS_INIT_MAX 512
/* RADOS client addresses remembered, and their size ("IP:PORT/NONCE"). */
#define KFS_ADDRS     8
#define KFS_ADDR_SIZE 64

/* What a daemon started again needs besides the descriptor. */
struct kfs_state {
    uint32_t starts;   /* daemons started on this connection before this one */
    uint32_t init_len; /* bytes of @init */
    char uuid[40];     /* base of the Ceph client uuids of this mount */
    unsigned char init[KFS_INIT_MAX];
    /*
     * The RADOS clients of the daemons before: an exclusive lock on a
     * volume that one of them held is broken at once (restart.h, connect.h).
     */
    char addrs[KFS_ADDRS][KFS_ADDR_SIZE];
};

/* A mount handed over: the connection and its state. */
struct kfs_handover {
    int fuse_fd;  /* -1: none (a fresh mount) */
    int state_fd; /* the memfd of the state */
    int ready_fd; /* a supervisor waits for one byte on it once serving; -1: none */
    bool systemd; /* the descriptors came from systemd's store */
    struct kfs_state state;
};

/*
 * kfs_handover_find() - a connection left by a daemon before, from the
 * supervisor's environment or systemd's store. @h->fuse_fd is -1 when
 * there is none. Return: 0, or a negative errno for a broken handover.
 */
int kfs_handover_find(struct kfs_handover *h);

/* kfs_state_uuid() - a new uuid in @st. Return: 0 or -EIO. */
int kfs_state_uuid(struct kfs_state *st);

/*
 * kfs_state_new() - a state memfd for a fresh mount: @st as it is (a new
 * uuid if it has none), with the INIT request @init (@len bytes).
 * Return: the descriptor, or a negative errno.
 */
int kfs_state_new(struct kfs_state *st, const void *init, size_t len);

/* kfs_state_write() - write @st back to its memfd @fd (the count of starts). */
int kfs_state_write(int fd, const struct kfs_state *st);

/*
 * Past the state, the memfd holds what the daemons share while they run,
 * each at its own offset (page boundaries that any page size divides):
 * the requests in hand (owed.h) and the slots of the names (node.h).
 */
#define KFS_STATE_OWED_AT  (64 * 1024)
#define KFS_STATE_SLOTS_AT (128 * 1024)

/* The slot maps of a mount: [0] shares, [1] volumes. */
struct kfs_state_slots {
    uint32_t magic;
    uint32_t slots;
    struct kfs_slot_map kind[2];
};

/*
 * kfs_state_map() - map @len bytes at @offset of the state memfd @fd,
 * shared, growing the file to hold them (new bytes read as zeros). The
 * mapping outlives @fd. Return: the mapping, or NULL with errno set.
 */
void *kfs_state_map(int fd, off_t offset, size_t len);

/*
 * kfs_state_slots() - the slot maps in the state memfd @fd; empty when the
 * state had none (a daemon before this layout). Return: NULL with errno set.
 */
struct kfs_state_slots *kfs_state_slots(int fd);

/*
 * kfs_init_receive() - read the kernel's INIT request from @se, which has
 * just mounted; @buf gets a copy. Return: its length, or a negative errno.
 */
int kfs_init_receive(struct fuse_session *se, unsigned char *buf, size_t size);

/* kfs_init_process() - hand a saved INIT request to libfuse. */
void kfs_init_process(struct fuse_session *se, const unsigned char *init, size_t len);

/*
 * kfs_resend() - ask the kernel to send again the requests that were read
 * from @fd and never answered. Return: 0, or -EINVAL on a kernel older than
 * 6.9 (then answer them from owed.h's table).
 */
int kfs_resend(int fd);

/*
 * kfs_fdstore_put() - under systemd with a file descriptor store, keep
 * @fuse_fd and @state_fd there. Return: true if stored.
 */
bool kfs_fdstore_put(int fuse_fd, int state_fd);

/* kfs_fdstore_drop() - take both out of the store (a clean unmount). */
void kfs_fdstore_drop(void);

/* kfs_notify_ready() - tell systemd (Type=notify) that the mount serves. */
void kfs_notify_ready(void);

#endif
