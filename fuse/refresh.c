/*
 * refresh.c - follow the project's shares and volumes while mounted (see
 * refresh.h).
 */
#include "refresh.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kairos/token.h>

#include "broker.h"
#include "log.h"

/* Room for a token and its line end. */
#define TOKEN_BUF 512
/* How long a pass waits for the requests on a volume just cut to end before closing it. */
#define CLOSE_WAIT_MS 2000
#define CLOSE_POLL_MS 50

static const char *const kinds[] = {"shares", "volumes"};
static const char *const kind1[] = {"share", "volume"};

static int read_token(const struct kfs_refresh *r, char *buf, size_t len)
{
    struct kairos_error err = {0};
    const char *env = getenv("KAIROS_TOKEN");

    if (r->token_file)
        return kairos_token_read(r->token_file, buf, len, &err);
    if (!env || !*env)
        return -EINVAL;
    snprintf(buf, len, "%s", env);
    return 0;
}

/* ---- the allocations held ---- */

/* Entry @i of kind @k (0 shares, 1 volumes): its name and gate. */
static struct kfs_gate *entry(struct kfs_refresh *r, int k, size_t i, const char **name)
{
    struct kfs_backends *b = &r->fs->b;

    if (k == 0) {
        *name = b->shares[i].name;
        return &b->shares[i].gate;
    }
    *name = b->volumes[i].name;
    return &b->volumes[i].gate;
}

static size_t count(struct kfs_refresh *r, int k)
{
    return k == 0 ? r->fs->b.nshares : r->fs->b.nvolumes;
}

/* Cut entry @i of kind @k with @rc (KFS_GONE: deleted, hidden as well). */
static void cut(struct kfs_refresh *r, int k, size_t i, int rc, const char *why)
{
    const char *name;
    struct kfs_gate *g = entry(r, k, i, &name);
    int was = atomic_load(&g->cut);

    if (was == rc || was == KFS_GONE)
        return;
    /* A deletion overrides a revocation: the name must vanish too. */
    if (rc == KFS_GONE)
        atomic_store(&g->cut, rc);
    else
        kfs_gate_cut(g, rc);
    kfs_log(LOG_WARNING, "%s %s: %s: %s from now on", kind1[k], name, why, strerror(-rc));
    kfs_fs_changed(r->fs, k == 0, name);
}

static void cut_all(struct kfs_refresh *r, int rc, const char *why)
{
    for (int k = 0; k < 2; k++)
        for (size_t i = 0, n = count(r, k); i < n; i++)
            cut(r, k, i, rc, why);
}

/*
 * A cut volume's image is closed once no request uses it: no watch, lock
 * or cache of a dead key stays with the cluster. Shares keep their client:
 * the kernel may still hold its inodes (their references go at FORGET).
 */
static void close_cut_volumes(struct kfs_refresh *r)
{
    struct kfs_backends *b = &r->fs->b;

    for (size_t i = 0, n = b->nvolumes; i < n; i++) {
        struct kfs_volume *v = &b->volumes[i];

        for (unsigned waited = 0; v->image && atomic_load(&v->gate.cut) < 0;
             waited += CLOSE_POLL_MS) {
            if (kfs_gate_idle(&v->gate)) {
                kfs_connect_close_volume(v);
                kfs_log(LOG_INFO, "volume %s: image closed", v->name);
            } else if (waited >= CLOSE_WAIT_MS) {
                break; /* still in use: the next pass */
            } else {
                usleep(CLOSE_POLL_MS * 1000);
            }
        }
    }
}

/* ---- adding ---- */

static int keep_source(struct kfs_refresh *r, struct kfs_source *src)
{
    struct kfs_source **grown = realloc(r->sources, (r->nsources + 1) * sizeof(*grown));

    if (!grown)
        return -ENOMEM;
    r->sources = grown;
    r->sources[r->nsources++] = src;
    return 0;
}

/* @name's slot among kind @k's: its own if it had one (the kernel may hold its ids), else a new
 * one. */
static unsigned free_slot(struct kfs_refresh *r, int k, const char *name)
{
    return kfs_slot_pick(r->fs->slots[k], name);
}

/* Connect every allocation of @src the mount does not show yet; @src is kept if one is. */
static void add_new(struct kfs_refresh *r, struct kfs_source *src)
{
    struct kfs *fs = r->fs;
    struct kfs_backends *b = &fs->b;
    struct kairos_error err = {0};
    bool used = false;
    unsigned slot;
    int rc;

    for (size_t i = 0; i < src->nshares; i++) {
        const struct kfs_share_src *ss = &src->shares[i];
        size_t nfss = b->nfss;

        if (kfs_find_share(fs, ss->name))
            continue;
        slot = free_slot(r, 0, ss->name);
        rc = slot ? kfs_connect_share(b, src, ss, slot, fs->opt.timeout_ms, &err)
                  : kairos_error_set(&err, -ENOSPC, "no slot left");
        /* A new client (its own, or the project's mounted now) tells the kernel of changes. */
        for (size_t j = nfss; j < b->nfss; j++) {
            kfs_cephfs_register_invalidation(fs, b->fss[j]);
            used = true;
        }
        if (rc < 0) {
            kfs_log(LOG_WARNING, "share %s: cannot add it: %s", ss->name,
                    kairos_error_msg(&err, rc));
            continue;
        }
        used = true;
        kfs_log(LOG_INFO, "share %s added", ss->name);
        kfs_fs_changed(fs, true, ss->name);
    }
    for (size_t i = 0; i < src->nvolumes; i++) {
        const struct kfs_volume_src *vs = &src->volumes[i];
        size_t nradoses = b->nradoses;

        if (kfs_find_volume(fs, vs->name))
            continue;
        slot = free_slot(r, 1, vs->name);
        rc = slot ? kfs_connect_volume(b, vs, slot, fs->opt.timeout_ms, &err)
                  : kairos_error_set(&err, -ENOSPC, "no slot left");
        /* A RADOS client made for it keeps a pointer to its identity. */
        used |= b->nradoses != nradoses;
        if (rc < 0) {
            kfs_log(LOG_WARNING, "volume %s: cannot add it: %s", vs->name,
                    kairos_error_msg(&err, rc));
            continue;
        }
        used = true;
        kfs_log(LOG_INFO, "volume %s added", vs->name);
        kfs_fs_changed(fs, false, vs->name);
    }
    if (!used || keep_source(r, src) < 0) {
        /* Not kept but in use: leak it rather than leave a dangling identity. */
        if (!used)
            kfs_source_free(src);
    }
}

/* ---- through kairosd ---- */

/* kairosd did not answer, or not as it should: said once, until it answers again. */
static void unreachable(struct kfs_refresh *r, struct kairos_error *err, int rc)
{
    if (r->unreachable)
        return;
    r->unreachable = true;
    kfs_log(LOG_WARNING, "kairosd cannot tell now (%s): the mount serves on as it is",
            kairos_error_msg(err, rc));
}

static void reachable(struct kfs_refresh *r)
{
    if (r->unreachable)
        kfs_log(LOG_WARNING, "kairosd answers again");
    r->unreachable = false;
}

/* Does this node's binding of each allocation still exist? */
static void check_bindings(struct kfs_refresh *r, const char *token)
{
    struct kairos_error err = {0};
    const char *name;

    for (int k = 0; k < 2; k++)
        for (size_t i = 0, n = count(r, k); i < n; i++) {
            if (atomic_load(&entry(r, k, i, &name)->cut))
                continue;
            int rc = kfs_broker_bound(r->url, token, r->cacert, r->project, kinds[k], name, &err);
            if (rc < 0) {
                unreachable(r, &err, rc);
                continue;
            }
            reachable(r);
            if (rc == 0)
                cut(r, k, i, -EACCES, "this node's binding is gone");
        }
}

/* Bind and connect @name of kind @k, ready in kairosd and not shown here. */
static void bind_new(struct kfs_refresh *r, const char *token, int k, const char *name)
{
    struct kairos_error err = {0};
    struct kfs_source *src = NULL;
    json_t *root = NULL;
    int rc =
        kfs_broker_fetch_one(r->url, token, r->cacert, r->project, kinds[k], name, &root, &err);

    if (rc == 0)
        rc = kfs_source_from_json(r->url, root, &src, &err);
    json_decref(root);
    if (rc < 0) {
        kfs_log(LOG_WARNING, "%s %s: cannot bind it: %s", kind1[k], name,
                kairos_error_msg(&err, rc));
        return;
    }
    add_new(r, src);
}

static void refresh_broker(struct kfs_refresh *r)
{
    struct kairos_error err = {0};
    char token[TOKEN_BUF];
    json_t *states[2] = {NULL, NULL}, *state;
    const char *name;
    int rc = 0;

    if (read_token(r, token, sizeof(token)) < 0) {
        kfs_log(LOG_INFO, "no token to refresh the mount with");
        return;
    }
    /* Mounted alone: only its binding matters. */
    if (r->share || r->volume) {
        check_bindings(r, token);
        goto out;
    }
    for (int k = 0; rc == 0 && k < 2; k++)
        rc = kfs_broker_list(r->url, token, r->cacert, r->project, kinds[k], &states[k], &err);
    if (rc == -EACCES || rc == -ENOENT) {
        cut_all(r, -EACCES, rc == -EACCES ? "the token is refused" : "the project is gone");
        goto out;
    }
    if (rc < 0) {
        unreachable(r, &err, rc);
        goto out;
    }
    reachable(r);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0, n = count(r, k); i < n; i++) {
            entry(r, k, i, &name);
            const char *s = json_string_value(json_object_get(states[k], name));
            if (!s || strcmp(s, "deleting") == 0)
                cut(r, k, i, KFS_GONE, "deleted");
        }
    }
    check_bindings(r, token);
    for (int k = 0; k < 2; k++)
        json_object_foreach(states[k], name, state)
        {
            bool shown =
                k == 0 ? kfs_find_share(r->fs, name) != NULL : kfs_find_volume(r->fs, name) != NULL;
            if (!shown && strcmp(json_string_value(state), "ready") == 0)
                bind_new(r, token, k, name);
        }
out:
    json_decref(states[0]);
    json_decref(states[1]);
    explicit_bzero(token, sizeof(token));
}

/* ---- through the ledger ---- */

static bool listed(const struct kfs_source *src, int k, const char *name)
{
    size_t n = k == 0 ? src->nshares : src->nvolumes;

    for (size_t i = 0; i < n; i++)
        if (strcmp(k == 0 ? src->shares[i].name : src->volumes[i].name, name) == 0)
            return true;
    return false;
}

static void refresh_ledger(struct kfs_refresh *r)
{
    struct kairos_error err = {0};
    struct kfs_source *src = NULL;
    const char *name;
    int rc = 0;

    /* One connection for every pass: the monitors see no new client each time. */
    if (!r->cfg)
        rc = kairos_config_load(r->conf, &r->cfg, &err);
    if (rc == 0 && !r->k)
        rc = kairos_open(r->cfg, &r->k, &err);
    if (rc == 0)
        rc = kfs_source_from_kairos(r->k, r->cfg, r->project, &src, &err);
    if (rc == -ENOENT && r->k) {
        cut_all(r, -EACCES, "the project is gone");
        return;
    }
    if (rc < 0) {
        if (!r->unreachable)
            kfs_log(LOG_WARNING, "the ledger cannot tell now (%s): the mount serves on as it is",
                    kairos_error_msg(&err, rc));
        r->unreachable = true;
        return;
    }
    r->unreachable = false;
    /* Mounted alone: only that one, if it is still there. */
    if ((r->share || r->volume) && kfs_source_select(src, r->share, r->volume, &err) < 0) {
        src->nshares = src->nvolumes = 0;
    }
    for (int k = 0; k < 2; k++)
        for (size_t i = 0, n = count(r, k); i < n; i++)
            if (!listed(src, k, (entry(r, k, i, &name), name)))
                cut(r, k, i, KFS_GONE, "deleted");
    add_new(r, src);
}

/* ---- the thread ---- */

static void *refresh_main(void *arg)
{
    struct kfs_refresh *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(r->interval_ms / 1000);
        until.tv_nsec += (long)(r->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!r->stop && !r->kicked && pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0)
            ;
        if (r->stop)
            break;
        r->kicked = false;
        pthread_mutex_unlock(&r->lock);
        if (r->url)
            refresh_broker(r);
        else
            refresh_ledger(r);
        close_cut_volumes(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int kfs_refresh_start(struct kfs_refresh *r)
{
    int rc;

    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->inited = true;
    r->stop = false;
    rc = pthread_create(&r->thread, NULL, refresh_main, r);
    r->running = rc == 0;
    return -rc;
}

void kfs_refresh_kick(void *arg)
{
    struct kfs_refresh *r = arg;

    pthread_mutex_lock(&r->lock);
    r->kicked = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

void kfs_refresh_stop(struct kfs_refresh *r)
{
    if (!r->running)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->running = false;
}

void kfs_refresh_free(struct kfs_refresh *r)
{
    for (size_t i = 0; i < r->nsources; i++)
        kfs_source_free(r->sources[i]);
    free(r->sources);
    r->sources = NULL;
    r->nsources = 0;
    kairos_close(r->k);
    r->k = NULL;
    kairos_config_free(r->cfg);
    r->cfg = NULL;
    /* Kept until now: a Ceph completion may kick after the thread stopped. */
    if (r->inited) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        r->inited = false;
    }
}
