/*
 * kairos/process.h - what a Kairos program does first in main(), before it
 * opens a file, a socket or a cluster. In libkairos-client.
 */
#ifndef KAIROS_PROCESS_H
#define KAIROS_PROCESS_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * kairos_std_fds_open() - make sure descriptors 0, 1 and 2 are open.
 *
 * A program started with one of them closed (some CI runners and
 * supervisors start programs without stdin) hands that number to the next
 * file or socket it opens, Ceph's included; whatever later reads, writes or
 * redirects that standard stream then lands on it. Opens /dev/null on any that is
 * closed, as git and OpenSSH do. Call first in main(), before any thread.
 * Not thread-safe.
 *
 * Return: 0, or -errno when /dev/null cannot be opened.
 */
int kairos_std_fds_open(void);

#ifdef __cplusplus
}
#endif

#endif
