/*
 * exec.h - run a helper program (kairosfs, mkfs, resize2fs, blkid, rbd-nbd)
 * from a worker thread and collect what it says.
 *
 * The child gets /dev/null as stdin, one pipe for stdout and stderr, and
 * no other descriptor of the plugin (gRPC's sockets stay ours). A secret
 * goes to it on descriptor 3 through a pipe, never on its command line
 * or in its environment, where ps and /proc would show it.
 */
#ifndef KAIROS_CSI_EXEC_H
#define KAIROS_CSI_EXEC_H

#include <stddef.h>

/**
 * csi_run() - run @argv[0] (looked up in PATH) with @argv and wait for it.
 * @argv:      NULL-terminated.
 * @fd3:       NULL, or text the program reads from descriptor 3.
 * @timeout_s: SIGKILL it after this many seconds; 0 waits for ever.
 * @out:       its stdout and stderr, NUL-terminated and cut to @len - 1
 *             bytes; NULL when not wanted. A daemon the program leaves
 *             behind may keep the pipe open: what it writes once the
 *             program has exited is not waited for.
 *
 * Thread-safe.
 * Return: the exit status (0-255), 128 + the signal that ended it, or
 * -errno when it could not be started (-ENOENT: no such program).
 */
int csi_run(const char *const argv[], const char *fd3, unsigned timeout_s, char *out, size_t len);

#endif
