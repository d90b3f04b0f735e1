/*
 * recheck.h - a mount made with a project token keeps asking kairosd
 * whether its bindings still exist, and drops each one that is gone.
 *
 * Unbinding blocklists the node's Ceph clients already (the broker evicts
 * them), which makes their requests fail with ESHUTDOWN; this turns the
 * loss into a clear EACCES for every later request on the share or
 * volume, and also covers a revoked token. A kairosd that does not answer
 * changes nothing: access ends only on kairosd's word.
 *
 * Thread safety: one thread, started and stopped by the mount's main thread.
 */
#ifndef KFS_RECHECK_H
#define KFS_RECHECK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "connect.h"

struct kfs_recheck {
    /* Set by the caller. */
    const char *url;        /* kairosd */
    const char *token_file; /* the token, read again each time (NULL: $KAIROS_TOKEN) */
    const char *cacert;     /* NULL: the system's CAs */
    const char *project;
    uint64_t interval_ms;
    struct kfs_backends *b;

    /* Kept by the thread. */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, running;
};

/* kfs_recheck_start() - start checking every r->interval_ms. Return: 0 or -errno. */
int kfs_recheck_start(struct kfs_recheck *r);

/* kfs_recheck_stop() - stop and wait for the thread; a no-op when none runs. */
void kfs_recheck_stop(struct kfs_recheck *r);

#endif
