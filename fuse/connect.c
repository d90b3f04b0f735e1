/*
 * connect.c - libcephfs mounts and librados/librbd clients for a source
 * (see connect.h).
 */
#include "connect.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- settings shared by both kinds of client ---- */

struct setting {
    const char *name;
    const char *value;
};

/*
 * Ceph's clients format their debug messages into an in-memory log even
 * when they write none (the "/5" of debug_client = 0/5): on a busy mount
 * that is a measurable share of the CPU for every request. Errors are
 * still logged.
 */
static const struct setting quiet_settings[] = {
    {"debug_client", "0/0"},    {"debug_objectcacher", "0/0"},
    {"debug_objecter", "0/0"},  {"debug_rados", "0/0"},
    {"debug_rbd", "0/0"},       {"debug_monc", "0/0"},
    {"debug_journaler", "0/0"}, {"debug_auth", "0/0"},
    {"debug_ms", "0/0"},        {NULL, NULL},
};

/*
 * Each client gets its identity and these settings; @secs is the timeout.
 * @set is ceph_conf_set() or rados_conf_set() behind a common signature.
 */
static int configure(void *h, int (*set)(void *, const char *, const char *),
                     int (*read_file)(void *, const char *), const struct kfs_identity *id,
                     const struct setting *extra, uint64_t timeout_ms)
{
    char secs[32];
    const struct setting timeouts[] = {
        {"client_mount_timeout", secs},
        {"rados_mon_op_timeout", secs},
        {"rados_osd_op_timeout", secs},
        {"client_shutdown_timeout", secs},
        {NULL, NULL},
    };
    int rc = 0;

    snprintf(secs, sizeof(secs), "%" PRIu64, (timeout_ms + 999) / 1000);
    if (id->conf)
        rc = read_file(h, id->conf);
    if (rc == 0 && id->keyring)
        rc = set(h, "keyring", id->keyring);
    if (rc == 0 && id->mon_host)
        rc = set(h, "mon_host", id->mon_host);
    if (rc == 0 && id->key)
        rc = set(h, "key", id->key);
    for (const struct setting *s = timeout_ms ? timeouts : timeouts + 4; rc == 0 && s->name; s++)
        rc = set(h, s->name, s->value);
    for (const struct setting *s = quiet_settings; rc == 0 && s->name; s++)
        rc = set(h, s->name, s->value);
    for (const struct setting *s = extra; rc == 0 && s->name; s++)
        rc = set(h, s->name, s->value);
    return rc;
}

static int cephfs_set(void *h, const char *k, const char *v)
{
    return ceph_conf_set(h, k, v);
}

static int cephfs_read_file(void *h, const char *path)
{
    return ceph_conf_read_file(h, path);
}

static int rados_set_opt(void *h, const char *k, const char *v)
{
    return rados_conf_set(h, k, v);
}

static int rados_read_file(void *h, const char *path)
{
    return rados_conf_read_file(h, path);
}

/* ---- CephFS ---- */

static const struct setting cephfs_settings[] = {
    /* The kernel checks permissions, with the caller's supplementary groups. */
    {"client_permissions", "false"},
    /* Writes past a directory quota fail with EDQUOT. */
    {"client_quota", "true"},
    {NULL, NULL},
};

/* A statfs asks the monitors and a quota read the MDS: both must answer. */
static int cephfs_probe(void *arg)
{
    struct kfs_cephfs *fs = arg;
    struct statvfs vfs;
    char v[32];
    int rc = ceph_ll_statfs(fs->cm, fs->root, &vfs);

    if (rc == 0)
        rc = ceph_ll_getxattr(fs->cm, fs->root, "ceph.dir.rbytes", v, sizeof(v),
                              ceph_mount_perms(fs->cm));
    return rc < 0 ? rc : 0;
}

static void cephfs_close(struct kfs_cephfs *fs)
{
    if (!fs)
        return;
    if (fs->cm) {
        if (fs->root)
            ceph_ll_put(fs->cm, fs->root);
        ceph_unmount(fs->cm);
        ceph_release(fs->cm);
    }
    free(fs->callback_ctx);
    free(fs->path);
    free(fs);
}

/*
 * A mount that outlives its daemon (restart.h) acknowledges a write only
 * once it is in RADOS: a write held in the process's cache would die with
 * it while the writer goes on as if it were kept. No libcephfs object
 * cache, no librbd cache.
 */
static int durable(void *h, int (*set)(void *, const char *, const char *), const char *option,
                   struct kairos_error *err)
{
    int rc = set(h, option, "false");

    if (rc < 0)
        kairos_error_set(err, rc, "cannot turn the client's write cache off: %s", strerror(-rc));
    return rc;
}

/*
 * Give the client the mount's stable uuid and, for a daemon started again,
 * end the session its predecessor left (restart.h): the MDS then hands this
 * client the caps at once instead of after the dead session's timeout.
 */
static int cephfs_identify(struct ceph_mount_info *cm, const struct kfs_backends *b,
                           const char *fs_name, const char *path, struct kairos_error *err)
{
    char uuid[512];
    int rc;

    if (!b->uuid)
        return 0;
    rc = durable(cm, cephfs_set, "client_oc", err);
    if (rc < 0)
        return rc;
    snprintf(uuid, sizeof(uuid), "%s:%s:%s", b->uuid, fs_name, path);
    /* The uuid lives in the client, which ceph_init() makes. */
    rc = ceph_init(cm);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot start the CephFS client: %s", strerror(-rc));
    if (b->reclaim) {
        rc = ceph_start_reclaim(cm, uuid, CEPH_RECLAIM_RESET);
        /* ENOENT: the session before ended cleanly (or timed out). */
        if (rc < 0 && rc != -ENOENT)
            return kairos_error_set(err, rc, "cannot end the previous session of %s: %s", path,
                                    strerror(-rc));
        if (rc == 0)
            ceph_finish_reclaim(cm);
    }
    ceph_set_uuid(cm, uuid);
    return 0;
}

static int cephfs_open(const struct kfs_backends *b, const struct kfs_identity *id,
                       const char *fs_name, const char *path, uint64_t timeout_ms,
                       struct kfs_cephfs **out, struct kairos_error *err)
{
    struct kfs_cephfs *fs = calloc(1, sizeof(*fs));
    int rc;

    *out = NULL;
    if (!fs || !(fs->path = strdup(path))) {
        free(fs);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    rc = ceph_create(&fs->cm, id->entity + strlen("client."));
    if (rc < 0) {
        fs->cm = NULL;
        kairos_error_set(err, rc, "cannot create a CephFS client: %s", strerror(-rc));
        goto fail;
    }
    rc = configure(fs->cm, cephfs_set, cephfs_read_file, id, cephfs_settings, timeout_ms);
    if (rc == 0)
        rc = ceph_select_filesystem(fs->cm, fs_name);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot configure the CephFS client %s: %s", id->entity,
                         strerror(-rc));
        goto fail;
    }
    rc = cephfs_identify(fs->cm, b, fs_name, path, err);
    if (rc < 0)
        goto fail;
    rc = ceph_mount(fs->cm, path);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot mount %s of CephFS '%s' as %s: %s", path, fs_name,
                         id->entity, strerror(-rc));
        ceph_release(fs->cm);
        fs->cm = NULL;
        goto fail;
    }
    rc = ceph_ll_lookup_root(fs->cm, &fs->root);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot open %s: %s", path, strerror(-rc));
        goto fail;
    }
    snprintf(fs->health.name, sizeof(fs->health.name), "CephFS %s", path);
    fs->health.probe = cephfs_probe;
    fs->health.probe_arg = fs;
    *out = fs;
    return 0;
fail:
    cephfs_close(fs);
    return rc;
}

static int add_fs(struct kfs_backends *b, struct kfs_cephfs *fs)
{
    size_t n = b->nfss;

    if (n >= KFS_CAPACITY)
        return -ENOSPC;
    b->fss[n] = fs;
    b->nfss = n + 1;
    return 0;
}

/* The client of the project's directory (config source), mounted on first use. */
static int project_fs(struct kfs_backends *b, const struct kfs_source *src,
                      const struct kfs_share_src *ss, uint64_t timeout_ms, struct kfs_cephfs **out,
                      struct kairos_error *err)
{
    int rc;

    for (size_t i = 0; i < b->nfss; i++)
        if (b->fss[i]->project) {
            *out = b->fss[i];
            return 0;
        }
    rc = cephfs_open(b, &ss->id, ss->fs_name, src->project_path, timeout_ms, out, err);
    if (rc < 0)
        return rc;
    (*out)->project = true;
    rc = add_fs(b, *out);
    if (rc < 0) {
        cephfs_close(*out);
        return kairos_error_set(err, rc, "too many CephFS clients");
    }
    return 0;
}

/*
 * Share @ss: below the one mount of the project's directory (config
 * source), or a mount of its own with its own binding.
 */
int kfs_connect_share(struct kfs_backends *b, const struct kfs_source *src,
                      const struct kfs_share_src *ss, unsigned slot, uint64_t timeout_ms,
                      struct kairos_error *err)
{
    size_t n = b->nshares;
    struct kfs_share *s = &b->shares[n];
    struct kfs_cephfs *fs = NULL;
    struct ceph_statx stx;
    int rc;

    if (n >= KFS_CAPACITY)
        return kairos_error_set(err, -ENOSPC, "share %s: too many shares", ss->name);
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", ss->name);
    s->read_only = ss->read_only;
    s->slot = slot;
    if (src->project_path) {
        rc = project_fs(b, src, ss, timeout_ms, &fs, err);
        if (rc < 0)
            return rc;
        rc = ceph_ll_lookup(fs->cm, fs->root, ss->name, &s->root, &stx, CEPH_STATX_INO, 0,
                            ceph_mount_perms(fs->cm));
        if (rc < 0)
            return kairos_error_set(err, rc, "share %s: cannot open %s/%s: %s", ss->name,
                                    src->project_path, ss->name, strerror(-rc));
    } else {
        rc = cephfs_open(b, &ss->id, ss->fs_name, ss->path, timeout_ms, &fs, err);
        if (rc < 0)
            return rc;
        /* A reference of the share's own, apart from the mount's. */
        rc = ceph_ll_lookup(fs->cm, fs->root, ".", &s->root, &stx, CEPH_STATX_INO, 0,
                            ceph_mount_perms(fs->cm));
        if (rc == 0)
            rc = add_fs(b, fs);
        if (rc < 0) {
            if (s->root)
                ceph_ll_put(fs->cm, s->root);
            cephfs_close(fs);
            return kairos_error_set(err, rc, "share %s: cannot open %s: %s", ss->name, ss->path,
                                    strerror(-rc));
        }
    }
    s->fs = fs;
    /* Published complete: readers take the count, then the entries below it. */
    b->nshares = n + 1;
    return 0;
}

/* ---- RBD ---- */

static const struct setting rados_settings[] = {
    /* rbd_aio_write() copies the data: the FUSE request buffer is free at once. */
    {"rbd_disable_zero_copy_writes", "true"},
    {NULL, NULL},
};

/* Any answer from an OSD will do, "no such object" included. */
static int rados_probe(void *arg)
{
    struct kfs_rados *r = arg;
    uint64_t size;
    time_t mtime;
    int rc = rados_stat(r->probe_io, "rbd_directory", &size, &mtime);

    return rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -ESHUTDOWN ? rc : 0;
}

static void rados_close(struct kfs_rados *r)
{
    if (!r)
        return;
    if (r->cluster)
        rados_shutdown(r->cluster);
    free(r);
}

/* The connection of identity @id, made on first use. */
static int rados_for(struct kfs_backends *b, const struct kfs_identity *id, uint64_t timeout_ms,
                     struct kfs_rados **out, struct kairos_error *err)
{
    struct kfs_rados *r;
    int rc;

    for (size_t i = 0; i < b->nradoses; i++)
        if (kfs_identity_equal(b->radoses[i]->id, id)) {
            *out = b->radoses[i];
            return 0;
        }
    if (b->nradoses >= KFS_CAPACITY)
        return kairos_error_set(err, -ENOSPC, "too many RADOS clients");
    r = calloc(1, sizeof(*r));
    if (!r)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    r->id = id;
    rc = rados_create2(&r->cluster, "ceph", id->entity, 0);
    if (rc < 0) {
        free(r);
        return kairos_error_set(err, rc, "cannot create a RADOS client: %s", strerror(-rc));
    }
    rc = configure(r->cluster, rados_set_opt, rados_read_file, id, rados_settings, timeout_ms);
    if (rc < 0)
        kairos_error_set(err, rc, "cannot configure the RADOS client %s: %s", id->entity,
                         strerror(-rc));
    if (rc == 0 && b->uuid)
        rc = durable(r->cluster, rados_set_opt, "rbd_cache", err);
    if (rc == 0) {
        rc = rados_connect(r->cluster);
        if (rc < 0)
            kairos_error_set(err, rc, "cannot connect to the cluster as %s: %s", id->entity,
                             strerror(-rc));
    }
    if (rc < 0) {
        rados_shutdown(r->cluster);
        free(r);
        return rc;
    }
    snprintf(r->health.name, sizeof(r->health.name), "RADOS client %s", id->entity);
    r->health.probe = rados_probe;
    r->health.probe_arg = r;
    b->radoses[b->nradoses++] = r;
    *out = r;
    return 0;
}

int kfs_connect_volume(struct kfs_backends *b, const struct kfs_volume_src *vs, unsigned slot,
                       uint64_t timeout_ms, struct kairos_error *err)
{
    size_t n = b->nvolumes;
    struct kfs_volume *v = &b->volumes[n];
    int rc;

    if (n >= KFS_CAPACITY)
        return kairos_error_set(err, -ENOSPC, "volume %s: too many volumes", vs->name);
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", vs->name);
    v->read_only = vs->read_only;
    v->slot = slot;
    v->node = (struct kfs_node){.kind = KFS_NODE_VOLUME,
                                .volume = v,
                                .id = KFS_ID_VOLUME + slot,
                                .ino = KFS_ID_VOLUME + slot};
    rc = rados_for(b, &vs->id, timeout_ms, &v->rados, err);
    if (rc < 0)
        return rc;
    rc = rados_ioctx_create(v->rados->cluster, vs->pool, &v->io);
    if (rc < 0)
        return kairos_error_set(err, rc, "volume %s: cannot open pool %s: %s", vs->name, vs->pool,
                                strerror(-rc));
    rados_ioctx_set_namespace(v->io, vs->ns);
    rc = vs->read_only ? rbd_open_read_only(v->io, vs->image, &v->image, NULL)
                       : rbd_open(v->io, vs->image, &v->image, NULL);
    if (rc < 0) {
        rados_ioctx_destroy(v->io);
        return kairos_error_set(err, rc, "volume %s: cannot open image %s/%s/%s: %s", vs->name,
                                vs->pool, vs->ns, vs->image, strerror(-rc));
    }
    /* Every ioctx lives until kfs_disconnect(), a closed image's too: the probe's may be any. */
    if (!v->rados->probe_io)
        v->rados->probe_io = v->io;
    b->nvolumes = n + 1;
    return 0;
}

void kfs_connect_close_volume(struct kfs_volume *v)
{
    int rc;

    if (!v->image)
        return;
    /* Closing releases the image's lock and watch; what it cached is of a dead key. */
    rc = rbd_close(v->image);
    if (rc < 0)
        kfs_log(LOG_WARNING, "volume %s: closing failed: %s", v->name, strerror(-rc));
    v->image = NULL;
}

/* ---- both ---- */

int kfs_connect(const struct kfs_source *src, uint64_t timeout_ms, struct kfs_backends *out,
                struct kairos_error *err)
{
    int rc = 0;

    /* Room for all there can be: calloc's untouched pages cost nothing. */
    out->fss = calloc(KFS_CAPACITY, sizeof(*out->fss));
    out->radoses = calloc(KFS_CAPACITY, sizeof(*out->radoses));
    out->shares = calloc(KFS_CAPACITY, sizeof(*out->shares));
    out->volumes = calloc(KFS_CAPACITY, sizeof(*out->volumes));
    if (!out->fss || !out->radoses || !out->shares || !out->volumes)
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < src->nshares; i++)
        rc = kfs_connect_share(out, src, &src->shares[i], 0, timeout_ms, err);
    for (size_t i = 0; rc == 0 && i < src->nvolumes; i++)
        rc = kfs_connect_volume(out, &src->volumes[i], 0, timeout_ms, err);
    if (rc < 0)
        kfs_disconnect(out);
    return rc;
}

size_t kfs_connect_addrs(const struct kfs_backends *b, char *out, size_t size, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < b->nradoses && n < max; i++) {
        char *addrs = NULL;

        if (rados_getaddrs(b->radoses[i]->cluster, &addrs) == 0 && addrs) {
            snprintf(out + n * size, size, "%s", addrs);
            n++;
        }
        free(addrs);
    }
    return n;
}

static bool listed(const char *addr, const char *addrs, size_t size, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (addrs[i * size] && strcmp(addr, addrs + i * size) == 0)
            return true;
    return false;
}

void kfs_connect_break_locks(struct kfs_backends *b, const char *addrs, size_t size, size_t n)
{
    for (size_t i = 0; i < b->nvolumes; i++) {
        struct kfs_volume *v = &b->volumes[i];
        char *owners[4];
        size_t nowners = 4;
        rbd_lock_mode_t mode;
        int rc = rbd_lock_get_owners(v->image, &mode, owners, &nowners);

        /* ENOENT: nobody holds it. */
        if (rc < 0) {
            if (rc != -ENOENT)
                kfs_log(LOG_WARNING, "volume %s: cannot read its lock: %s", v->name, strerror(-rc));
            continue;
        }
        for (size_t j = 0; j < nowners; j++) {
            if (mode != RBD_LOCK_MODE_EXCLUSIVE || !listed(owners[j], addrs, size, n))
                continue;
            rc = rbd_lock_break(v->image, mode, owners[j]);
            if (rc < 0)
                kfs_log(LOG_WARNING,
                        "volume %s: cannot break the lock of the daemon before "
                        "(%s): %s",
                        v->name, owners[j], strerror(-rc));
            else
                kfs_log(LOG_INFO, "volume %s: broke the lock of the daemon before (%s)", v->name,
                        owners[j]);
        }
        rbd_lock_get_owners_cleanup(owners, nowners);
    }
}

void kfs_disconnect(struct kfs_backends *b)
{
    for (size_t i = 0; i < b->nvolumes; i++) {
        struct kfs_volume *v = &b->volumes[i];
        /* Closing flushes what the image still caches and releases its lock. */
        if (v->image) {
            int rc = rbd_close(v->image);
            if (rc < 0)
                kfs_log(LOG_ERR, "volume %s: closing failed: %s", v->name, strerror(-rc));
        }
        rados_ioctx_destroy(v->io);
    }
    for (size_t i = 0; i < b->nradoses; i++)
        rados_close(b->radoses[i]);
    for (size_t i = 0; i < b->nshares; i++)
        if (b->shares[i].root)
            ceph_ll_put(b->shares[i].fs->cm, b->shares[i].root);
    /* Unmounting flushes the data libcephfs still holds. */
    for (size_t i = 0; i < b->nfss; i++)
        cephfs_close(b->fss[i]);
    free(b->volumes);
    free(b->radoses);
    free(b->shares);
    free(b->fss);
    memset(b, 0, sizeof(*b));
}
