/*
 * supervise.h - `kairosfs --supervise`: hold a mount's /dev/fuse descriptor
 * and run the daemon that serves it, again whenever it dies (restart.h).
 *
 * The supervisor does nothing but mount, wait and unmount: no Ceph client,
 * no thread, so it has little reason to die itself. Signals:
 *   SIGTERM, SIGINT, SIGHUP  the daemon ends, then the supervisor unmounts
 *   SIGUSR1                  the daemon ends and the binary on disk starts
 *                            in its place (an upgrade), the mount stays
 * A daemon that dies any other way is started again at once (after a
 * second if it died within a second of starting). A daemon that exits 0
 * by itself saw the mount go (fusermount3 -u): the supervisor leaves.
 */
#ifndef KFS_SUPERVISE_H
#define KFS_SUPERVISE_H

#include <fuse_lowlevel.h>

/*
 * kfs_supervise() - serve @se, just mounted, with daemons started from
 * @argv (this process's arguments) until it is unmounted or told to stop.
 * @ready: called once the first daemon serves (the daemon's parent may
 *         exit), with @arg.
 * Return: the exit status: 0, or 1 when the first daemon failed to start.
 * The mount is gone on return.
 */
int kfs_supervise(struct fuse_session *se, char *argv[], void (*ready)(void *arg), void *arg);

#endif
