/*
 * lock.c - the exclusive lock of a volume whose owner died (see
 * kairos_volume_break_lock() in kairos/volume.h).
 *
 * librbd takes over a lock from a dead owner by blocklisting it and
 * breaking the lock; a binding's key may not blocklist (it could fence
 * anyone), so a replacement VM would wait and fail with EACCES. The
 * broker does those two steps with its own credentials. An owner is dead
 * when its watch on the header is gone, or when no monitor has a session
 * for it (asked twice, a moment apart: a live client that lost its
 * monitor finds another within that time; its watch outlives a kill -9
 * by the OSD's watch timeout, 30 s).
 */
#include <kairos/kairos.h>
#include <kairos/volume.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbd/librbd.h>

#include "evict.h"
#include "kairos_int.h"

/* Room for the lockers of an image (one exclusive lock, a few advisory ones). */
#define LOCKERS_BUF 4096
/* Between the two looks at the monitors' sessions. */
#define SESSION_RECHECK_US 1000000

/* Has some monitor a session of client @id? */
static int has_session(struct kairos *k, uint64_t id, struct kairos_error *err)
{
    struct kairos_session *s = NULL;
    size_t n = 0;
    int rc = kairos_mon_sessions(k, &s, &n, err), found = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        found |= s[i].global_id == id;
    free(s);
    return rc < 0 ? rc : found;
}

/* Is the owner at @addr (client @id) alive: watching @img with a monitor session? */
static int owner_alive(struct kairos *k, rbd_image_t img, uint64_t id, const char *addr,
                       struct kairos_error *err)
{
    rbd_image_watcher_t *w = NULL;
    size_t n = 0;
    bool watching = false;
    int rc = kairos_image_watchers(img, &w, &n);

    for (size_t i = 0; rc == 0 && i < n; i++)
        watching |= strcmp(w[i].addr, addr) == 0;
    if (w)
        rbd_watchers_list_cleanup(w, n);
    free(w);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot list the watchers: %s", strerror(-rc));
    if (!watching)
        return 0;
    rc = has_session(k, id, err);
    if (rc == 0) {
        usleep(SESSION_RECHECK_US);
        rc = has_session(k, id, err);
    }
    return rc;
}

int kairos_volume_break_lock(struct kairos *k, const char *project, const char *name,
                             unsigned flags, struct kairos_lock_break *out,
                             struct kairos_error *err)
{
    char tag[256], clients[LOCKERS_BUF], cookies[LOCKERS_BUF], addrs[LOCKERS_BUF];
    size_t tlen = sizeof(tag), clen = sizeof(clients), klen = sizeof(cookies), alen = sizeof(addrs);
    struct kairos_lock_break dummy;
    unsigned long long id = 0;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int exclusive = 0, rc;
    ssize_t n;

    if (!out)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    if (kairos_name_check(project, "project", err) < 0 ||
        kairos_name_check(name, "volume", err) < 0)
        return -EINVAL;
    if (flags & ~KAIROS_BREAK_LOCK_FORCE)
        return kairos_error_set(err, -EINVAL, "unknown break-lock flags");
    rc = rados_ioctx_create(k->rados, k->cfg->pools.block, &io);
    if (rc == 0) {
        rados_ioctx_set_namespace(io, project);
        /* Read-write, to break a lock; opening takes none. */
        rc = rbd_open(io, name, &img, NULL);
    }
    if (rc < 0) {
        kairos_error_set(err, rc,
                         rc == -ENOENT ? "no volume %s in project %s" : "cannot open %s/%s: %s",
                         name, project, strerror(-rc));
        goto out;
    }
    n = rbd_list_lockers(img, &exclusive, tag, &tlen, clients, &clen, cookies, &klen, addrs, &alen);
    if (n < 0) {
        rc = kairos_error_set(err, (int)n, "cannot list the lockers of %s/%s: %s", project, name,
                              strerror(-(int)n));
        goto out;
    }
    /* The exclusive-lock feature's lock is exclusive: one holder at most. */
    if (n == 0 || !exclusive)
        goto out;
    out->held = true;
    snprintf(out->owner, sizeof(out->owner), "%s", clients);
    snprintf(out->addr, sizeof(out->addr), "%s", addrs);
    if (sscanf(clients, "client.%llu", &id) != 1) {
        rc = kairos_error_set(err, -EIO, "%s/%s is locked by '%s', not a client", project, name,
                              clients);
        goto out;
    }
    rc = owner_alive(k, img, id, addrs, err);
    if (rc < 0)
        goto out;
    out->alive = rc == 1;
    rc = 0;
    if (out->alive && !(flags & KAIROS_BREAK_LOCK_FORCE)) {
        rc = kairos_error_set(err, -EBUSY,
                              "the lock of %s/%s is held by %s at %s, which is alive; forcing "
                              "fences it",
                              project, name, clients, addrs);
        goto out;
    }
    /* Fence first: a paused owner that wakes must not write beside the next one. */
    rc = kairos_blocklist(k, addrs, err);
    if (rc == 0) {
        rc = rbd_break_lock(img, clients, cookies);
        /* Released meanwhile: nothing is left to break. */
        if (rc == -ENOENT)
            rc = 0;
        if (rc < 0)
            kairos_error_set(err, rc, "cannot break the lock of %s/%s: %s", project, name,
                             strerror(-rc));
    }
    out->broken = rc == 0;
out:
    if (img)
        rbd_close(img);
    if (io)
        rados_ioctx_destroy(io);
    return rc;
}
