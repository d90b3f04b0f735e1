/*
 * refresh.h - a mount follows its project while it runs: shares and
 * volumes made after the mount appear, deleted ones vanish, and one whose
 * binding is revoked is cut off, each within one interval.
 *
 * Every interval one thread asks where the mount's credentials came from:
 *   - kairosd (url=): lists the project's shares and volumes, binds and
 *     connects each new ready one as this node, and asks whether each
 *     binding it holds still exists. A binding gone, a token refused
 *     (401/403) or a project gone (404) cuts the allocations concerned:
 *     EACCES for every request on them from then on. A kairosd that does
 *     not answer (down, 5xx, timeout) changes nothing: an outage of the
 *     broker is no revocation.
 *   - the ledger (conf=): the project's committed shares and volumes, as
 *     at mount time.
 * With share= or volume= no other allocation is added. A credentials file
 * (creds=) has nothing to follow.
 *
 * A deleted allocation is hidden from /shares or /volumes (lookups
 * ENOENT) and what still holds it gets ESTALE (fs.h: KFS_GONE). Once a cut
 * volume is idle (guard.h: its gate), its image is closed. The kernel's
 * cache of the changed names is dropped at once.
 *
 * Thread safety: one thread, started and stopped by the mount's main
 * thread; it alone appends to the backends (connect.h).
 */
#ifndef KFS_REFRESH_H
#define KFS_REFRESH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kairos/config.h>
#include <kairos/kairos.h>

#include "fs.h"
#include "source.h"

struct kfs_refresh {
    /* Set by the caller. */
    struct kfs *fs;
    uint64_t interval_ms;
    const char *project;
    const char *url;        /* kairosd; NULL: the ledger through @conf */
    const char *token_file; /* the token, read again each time (NULL: $KAIROS_TOKEN) */
    const char *cacert;     /* NULL: the system's CAs */
    const char *conf;       /* kairos.conf, without @url */
    const char *share;      /* the one share or volume mounted alone, or NULL */
    const char *volume;

    /* Kept by the thread. */
    struct kairos_config *cfg; /* without @url: the ledger's, opened at the first pass */
    struct kairos *k;
    struct kfs_source **sources; /* of what was added: its identities stay in use */
    size_t nsources;
    bool unreachable; /* the last pass could not ask: said once */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool inited, stop, running, kicked;
};

/* kfs_refresh_start() - refresh every r->interval_ms. Return: 0 or -errno. */
int kfs_refresh_start(struct kfs_refresh *r);

/* kfs_refresh_stop() - stop and wait for the thread; a no-op when none runs. */
void kfs_refresh_stop(struct kfs_refresh *r);

/*
 * kfs_refresh_kick() - refresh now rather than at the end of the interval
 * (a Ceph client was blocklisted: a binding may be gone). @arg is the
 * struct kfs_refresh; callable from any thread, while it runs.
 */
void kfs_refresh_kick(void *arg);

/*
 * kfs_refresh_free() - free the sources kept and the lock, once the
 * backends are disconnected (no Ceph completion kicks any more).
 */
void kfs_refresh_free(struct kfs_refresh *r);

#endif
