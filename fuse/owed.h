/*
 * owed.h - the requests a kairosfs daemon has read from the kernel and not
 * yet answered, kept where the next daemon on the same mount finds them.
 *
 * A daemon killed with requests in hand leaves their callers waiting. On
 * Linux 6.9 and later the next daemon asks the kernel to send them again
 * (FUSE_NOTIFY_RESEND, restart.h). An older kernel cannot: without this
 * table they would wait for ever. So the daemon notes each request's id
 * (the kernel's "unique") as it reads it and drops it once its answer is
 * written; the table lives in the mount's state memfd, which outlives the
 * daemon. The next daemon answers whatever is left with an error (EIO):
 * those requests fail, and only those.
 *
 *     struct kfs_owed *o;
 *     if (kfs_owed_open(state_fd, &o) == 0) {
 *         n = kfs_owed_take(o, left, max);    ... what the daemon before owed
 *         kfs_owed_attach(se, o);             ... note from now on
 *     }
 *
 * A request read but killed before it was noted (a few instructions after
 * read() returns) is not in the table: on an old kernel it still waits.
 *
 * Thread safety: kfs_owed_note() and the session's I/O hooks run on any
 * FUSE thread at once (atomic slots); kfs_owed_open(), kfs_owed_take() and
 * kfs_owed_attach() are called once, before the FUSE loop starts.
 */
#ifndef KFS_OWED_H
#define KFS_OWED_H

#include <stddef.h>
#include <stdint.h>

#include <fuse_lowlevel.h>

/* The most requests the table holds (the kernel's max_background is 12 by default). */
#define KFS_OWED_SLOTS 4096

struct kfs_owed;

/*
 * kfs_owed_open() - map the table of the state memfd @state_fd, growing the
 * file when it has none yet (a state written by an older daemon). The
 * mapping outlives @state_fd. Return: 0, or a negative errno.
 */
int kfs_owed_open(int state_fd, struct kfs_owed **out);

/*
 * kfs_owed_take() - move the ids in the table to @ids (at most @max) and
 * empty it. Return: how many.
 */
size_t kfs_owed_take(struct kfs_owed *o, uint64_t *ids, size_t max);

/*
 * kfs_owed_fail() - answer the requests @ids (@n) on the FUSE descriptor
 * @fd with -@error. A request the kernel no longer waits for is skipped.
 * Return: how many answers the kernel took.
 */
size_t kfs_owed_fail(int fd, const uint64_t *ids, size_t n, int error);

/*
 * kfs_owed_attach() - read and answer @se's requests through hooks that
 * keep @o up to date (fuse_session_custom_io() on the session's
 * descriptor): call it after the session has its descriptor (mounted) and
 * before the FUSE loop. @o stays in use until the process exits.
 * Return: 0, or a negative errno (then the session is unchanged).
 */
int kfs_owed_attach(struct fuse_session *se, struct kfs_owed *o);

#endif
