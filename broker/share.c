/*
 * share.c - the CephFS backend: shares, their snapshots, and path-limited
 * bindings (see kairos/share.h).
 *
 * One libcephfs mount of the file system's root serves the handle; it is
 * made on first use, so a broker without shares never needs an MDS.
 */
#include <kairos/kairos.h>
#include <kairos/share.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>

#include <cephfs/libcephfs.h>

#include "binding_int.h"
#include "cephx.h"
#include "evict.h"
#include "fault.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "nameset.h"
#include "share_int.h"
#include "store.h"

/*
 * A share's root unless its create says otherwise (KAIROS_SHARE_MODE):
 * cephx path caps decide who reaches the share at all; the sticky bit
 * keeps one user from deleting or renaming another's files at its top
 * when many users share a mount (kairosfs's allow_other).
 */
#define SHARE_MODE KAIROS_SHARE_MODE
#define SNAP_MAX   256
/* Room for one cap of a share key: a path and a namespace. */
#define SHARE_CAP_MAX (KAIROS_SHARE_PATH_MAX + 128)

struct kairos_shares {
    pthread_mutex_t lock;
    struct ceph_mount_info *cmount;
    /* Project directories made ready (namespace, quota) by this handle. */
    struct kairos_nameset ready;
};

/* ---- the mount and paths ---- */

/* Room for "<project>.<share>". */
#define KAIROS_SHARE_NS_MAX (2 * KAIROS_NAME_MAX + 2)

/*
 * Is every rank of the file system served by an active MDS? libcephfs has
 * no timeout for metadata requests: without an active MDS a mkdir or a
 * setxattr waits until one returns, however long. Asking the monitors
 * first (one command, bounded by [ceph] timeout) turns an MDS outage into
 * -ENOTCONN, which callers answer with "try again", before anything is
 * made. An MDS lost after this check still stalls the call that is on it.
 */
static int mds_active(struct kairos *k, struct kairos_error *err)
{
    const char *fs = k->cfg->pools.cephfs_name;
    char cmd[256];
    json_t *out = NULL, *map, *up, *info, *gid;
    const char *rank;
    size_t active = 0;
    int rc;

    snprintf(cmd, sizeof(cmd), "{\"prefix\":\"fs get\",\"fs_name\":\"%s\",\"format\":\"json\"}",
             fs);
    rc = kairos_mon_json(k, cmd, &out, err);
    if (rc < 0)
        goto out;
    map = json_object_get(out, "mdsmap");
    up = json_object_get(map, "up");
    info = json_object_get(map, "info");
    json_object_foreach(up, rank, gid)
    {
        char key[48];

        snprintf(key, sizeof(key), "gid_%" JSON_INTEGER_FORMAT, json_integer_value(gid));
        const char *state = json_string_value(json_object_get(json_object_get(info, key), "state"));
        if (state && strcmp(state, "up:active") == 0)
            active++;
    }
    if (active == 0 || json_array_size(json_object_get(map, "failed")) ||
        json_array_size(json_object_get(map, "damaged")) ||
        active < json_array_size(json_object_get(map, "in")))
        rc = kairos_error_set(err, -ENOTCONN,
                              "CephFS '%s' has no active MDS for every rank (%zu active, %zu "
                              "in): try again when the MDS is back",
                              fs, active, json_array_size(json_object_get(map, "in")));
out:
    json_decref(out);
    return rc;
}

/*
 * The broker makes and removes every project's directory, whatever uid runs
 * it (kairosd.service runs as the kairos system user): its CephFS calls act
 * as uid 0, so libcephfs's client-side permission checks never stand in the
 * way; the cephx caps of [ceph] client are what limit it, on the MDS.
 */
static int act_as_root(struct ceph_mount_info *cm)
{
    UserPerm *root = ceph_userperm_new(0, 0, 0, NULL);
    int rc;

    if (!root)
        return -ENOMEM;
    rc = ceph_mount_perms_set(cm, root);
    ceph_userperm_destroy(root);
    return rc;
}

static int mount_fs(struct kairos *k, struct ceph_mount_info **out, struct kairos_error *err)
{
    struct kairos_shares *s = k->shares;
    const struct kairos_config *cfg = k->cfg;
    struct ceph_mount_info *cm = NULL;
    char secs[32];
    int rc;

    *out = NULL;
    rc = mds_active(k, err);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->lock);
    if (s->cmount)
        goto out;
    rc = ceph_create(&cm, cfg->ceph.client + strlen("client."));
    if (rc == 0)
        rc = ceph_conf_read_file(cm, cfg->ceph.conf);
    if (rc == 0 && cfg->ceph.keyring)
        rc = ceph_conf_set(cm, "keyring", cfg->ceph.keyring);
    snprintf(secs, sizeof(secs), "%" PRIu64, (cfg->ceph.timeout_ms + 999) / 1000);
    if (rc == 0)
        rc = ceph_conf_set(cm, "client_mount_timeout", secs);
    if (rc == 0)
        rc = ceph_init(cm);
    if (rc == 0)
        rc = act_as_root(cm);
    if (rc == 0)
        rc = ceph_select_filesystem(cm, cfg->pools.cephfs_name);
    if (rc == 0)
        rc = ceph_mount(cm, "/");
    /* Modes are given exactly, so a directory needs no chmod after mkdir. */
    if (rc == 0)
        ceph_umask(cm, 0);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot mount CephFS '%s': %s", cfg->pools.cephfs_name,
                         strerror(-rc));
        if (cm)
            ceph_release(cm);
        goto out;
    }
    s->cmount = cm;
out:
    *out = s->cmount;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void project_path(struct kairos *k, char *buf, const char *project)
{
    const char *root = k->cfg->pools.share_root;

    snprintf(buf, KAIROS_SHARE_PATH_MAX, "%s/%s", strcmp(root, "/") ? root : "", project);
}

static void share_path(struct kairos *k, char *buf, const char *project, const char *name)
{
    char p[KAIROS_SHARE_PATH_MAX];

    project_path(k, p, project);
    snprintf(buf, KAIROS_SHARE_PATH_MAX, "%s/%s", p, name);
}

static int set_u64(struct ceph_mount_info *cm, const char *path, const char *xattr, uint64_t value,
                   struct kairos_error *err)
{
    char v[32];
    int rc;

    snprintf(v, sizeof(v), "%" PRIu64, value);
    rc = ceph_setxattr(cm, path, xattr, v, strlen(v), 0);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot set %s on %s: %s", xattr, path, strerror(-rc));
    return 0;
}

int kairos_share_xattr_u64(struct ceph_mount_info *cm, const char *path, const char *xattr,
                           uint64_t *out)
{
    char v[32];
    int n = ceph_getxattr(cm, path, xattr, v, sizeof(v) - 1);

    if (n < 0)
        return n;
    v[n] = '\0';
    *out = strtoull(v, NULL, 10);
    return 0;
}

/* 0 in a CephFS quota means "no limit". */
static uint64_t quota_value(uint64_t limit)
{
    return limit == KAIROS_UNLIMITED ? 0 : limit;
}

/* ---- intent tags ---- */

/*
 * A share's directory carries the id of the intent that made it, so that a
 * request, its cleanup and the reconciler adopt or remove only what that
 * intent made.
 */
#define TAG_XATTR "user.kairos.intent"

/* The tag of @path into @tag: 0, -ENODATA (untagged), -ENOENT, or an error. */
static int dir_tag(struct ceph_mount_info *cm, const char *path, char tag[KAIROS_INTENT_ID_LEN + 1])
{
    int n = ceph_getxattr(cm, path, TAG_XATTR, tag, KAIROS_INTENT_ID_LEN);

    if (n == -ERANGE) {
        snprintf(tag, KAIROS_INTENT_ID_LEN + 1, "?");
        return 0;
    }
    tag[n > 0 ? n : 0] = '\0';
    return n < 0 ? n : 0;
}

/*
 * Tag @path with @intent unless it carries a tag already (the MDS makes
 * XATTR_CREATE atomic): of a request and the reconciler racing for an
 * untagged directory exactly one wins.
 * Return: 0 (tagged @intent now or before), -EEXIST (another tag), or an error.
 */
static int claim_dir(struct ceph_mount_info *cm, const char *path, const char *intent)
{
    char tag[KAIROS_INTENT_ID_LEN + 1];
    int rc = ceph_setxattr(cm, path, TAG_XATTR, intent, strlen(intent), XATTR_CREATE);

    if (rc != -EEXIST)
        return rc;
    rc = dir_tag(cm, path, tag);
    if (rc < 0)
        return rc;
    return strcmp(tag, intent) == 0 ? 0 : -EEXIST;
}

/* 1 when @path carries @intent's tag, 0 when not (or is gone), or an error. */
static int dir_is_ours(struct ceph_mount_info *cm, const char *path, const char *intent)
{
    char tag[KAIROS_INTENT_ID_LEN + 1];
    int rc = dir_tag(cm, path, tag);

    if (rc == -ENOENT || rc == -ENODATA)
        return 0;
    return rc < 0 ? rc : strcmp(tag, intent) == 0;
}

/* A share's RADOS namespace in the data pool: "<project>.<share>" ('.' is in no name). */
static void share_namespace(char *buf, const char *project, const char *name)
{
    snprintf(buf, KAIROS_SHARE_NS_MAX, "%s.%s", project, name);
}

/*
 * Give directory @path the data namespace @ns before anything is created
 * under it: a file keeps the namespace it was born with, and a binding
 * limited to the namespace cannot read older files.
 */
static int ensure_namespace(struct ceph_mount_info *cm, const char *path, const char *ns,
                            struct kairos_error *err)
{
    char cur[KAIROS_SHARE_NS_MAX] = "";
    int rc, n;

    n = ceph_getxattr(cm, path, "ceph.dir.layout.pool_namespace", cur, sizeof(cur) - 1);
    if (n >= 0 && (size_t)n == strlen(ns) && memcmp(cur, ns, (size_t)n) == 0)
        return 0;
    rc = ceph_setxattr(cm, path, "ceph.dir.layout.pool_namespace", ns, strlen(ns), 0);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot set the data namespace of %s: %s", path,
                                strerror(-rc));
    return 0;
}

/*
 * The namespace a share's data lives in: its directory's own, or for a
 * share made before shares had their own, the project's.
 */
static int data_namespace(struct ceph_mount_info *cm, const char *path, const char *project,
                          char *ns, struct kairos_error *err)
{
    int n = ceph_getxattr(cm, path, "ceph.dir.layout.pool_namespace", ns, KAIROS_SHARE_NS_MAX - 1);

    if (n == -ENODATA || n == 0) {
        snprintf(ns, KAIROS_SHARE_NS_MAX, "%s", project);
        return 0;
    }
    if (n < 0)
        return kairos_error_set(err, n, "cannot read the data namespace of %s: %s", path,
                                strerror(-n));
    ns[n] = '\0';
    return 0;
}

/*
 * Make the project's directory, in a namespace of its own (older shares'
 * data is there), with the project's share quota.
 */
static int ensure_project_dir(struct kairos *k, struct ceph_mount_info *cm, const char *project,
                              struct kairos_error *err)
{
    char path[KAIROS_SHARE_PATH_MAX];
    struct kairos_project p;
    int rc;

    project_path(k, path, project);
    rc = ceph_mkdirs(cm, path, 0755);
    if (rc < 0 && rc != -EEXIST)
        return kairos_error_set(err, rc, "cannot make %s: %s", path, strerror(-rc));
    rc = ensure_namespace(cm, path, project, err);
    if (rc < 0)
        return rc;
    rc = kairos_project_get(k, project, &p, err);
    if (rc == 0)
        rc = set_u64(cm, path, "ceph.quota.max_bytes",
                     quota_value(p.quota.kind[KAIROS_SHARE].bytes), err);
    return rc;
}

/* ---- create and resize ---- */

/*
 * mkdir the share, with its project directory made ready first if need
 * be, and tag it with @intent. A directory of that name this intent did
 * not make is never adopted: it is another request's, and -EEXIST.
 * *@made: made here; *@tagged: it carries @intent's tag.
 */
static int make_share_dir(struct kairos *k, struct ceph_mount_info *cm,
                          const struct kairos_reservation *res, const char *path, bool *made,
                          bool *tagged, struct kairos_error *err)
{
    const char *project = res->project, *intent = res->intent;
    int rc = 0;

    *made = *tagged = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        /* Past its fence the project may be torn down: never make its directory again then. */
        if (kairos_now_ms() >= res->intent_ms + kairos_fence_ms(k))
            return kairos_error_set(err, -ETIMEDOUT, "share %s/%s: the request outlived its fence",
                                    project, res->name);
        if (!kairos_nameset_has(&k->shares->ready, project)) {
            rc = ensure_project_dir(k, cm, project, err);
            if (rc < 0)
                return rc;
            kairos_nameset_add(&k->shares->ready, project);
        }
        rc = ceph_mkdir(cm, path, SHARE_MODE);
        /* The project directory went under another broker: make it again. */
        if (rc != -ENOENT)
            break;
        kairos_nameset_remove(&k->shares->ready, project);
    }
    if (rc == -EEXIST) {
        rc = dir_is_ours(cm, path, intent);
        if (rc == 0)
            return kairos_error_set(err, -EEXIST, "%s exists, not made by this request", path);
        if (rc < 0)
            return kairos_error_set(err, rc, "cannot read %s: %s", path, strerror(-rc));
        *tagged = true;
        return 0;
    }
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot make %s: %s", path, strerror(-rc));
    *made = true;
    kairos_fault("share.create.mkdir");
    rc = claim_dir(cm, path, intent);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot tag %s: %s", path, strerror(-rc));
    *tagged = true;
    return 0;
}

/*
 * Settle a share's directory: its own data namespace, so that a binding's
 * key reaches this share's objects and no other share's, then its quotas.
 * The byte quota goes last: the reconciler takes a directory without one
 * for a create that did not finish (see op_probe()).
 */
static int finish_share(struct ceph_mount_info *cm, const char *path, const char *project,
                        const char *name, uint64_t bytes, uint64_t max_files, bool existed,
                        struct kairos_error *err)
{
    char ns[KAIROS_SHARE_NS_MAX];
    int rc;

    share_namespace(ns, project, name);
    rc = ensure_namespace(cm, path, ns, err);
    if (rc == 0)
        kairos_fault("share.create.namespace");
    /* A new directory has no file limit; an old one may have a stale one. */
    if (rc == 0 && (max_files || existed))
        rc = set_u64(cm, path, "ceph.quota.max_files", max_files, err);
    if (rc == 0)
        rc = set_u64(cm, path, "ceph.quota.max_bytes", bytes, err);
    return rc;
}

/*
 * The owner and mode asked for, on a directory made now or by an earlier
 * try of the same request; before the quotas, which mark the share done.
 */
static int set_access(struct ceph_mount_info *cm, const char *path,
                      const struct kairos_share_access *a, struct kairos_error *err)
{
    int rc = 0;

    if (!a)
        return 0;
    if (a->uid >= 0 || a->gid >= 0)
        rc = ceph_chown(cm, path, a->uid >= 0 ? (int)a->uid : -1, a->gid >= 0 ? (int)a->gid : -1);
    /* After chown, which clears the setgid bit. */
    if (rc == 0)
        rc = ceph_chmod(cm, path, a->mode ? a->mode : SHARE_MODE);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot set the owner and mode of %s: %s", path,
                                strerror(-rc));
    return 0;
}

static int make_share(struct kairos *k, struct ceph_mount_info *cm,
                      const struct kairos_reservation *res, uint64_t max_files,
                      const struct kairos_share_access *access, bool *made, bool *tagged,
                      struct kairos_error *err)
{
    char path[KAIROS_SHARE_PATH_MAX];
    int rc;

    share_path(k, path, res->project, res->name);
    rc = make_share_dir(k, cm, res, path, made, tagged, err);
    if (rc == 0)
        rc = set_access(cm, path, access, err);
    if (rc == 0)
        rc = finish_share(cm, path, res->project, res->name, res->bytes, max_files, !*made, err);
    return rc;
}

static int remove_tree(struct kairos *k, struct ceph_mount_info *cm, const char *path,
                       const struct kairos_reservation *res, struct kairos_error *err);

int kairos_share_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                        uint64_t max_files, struct kairos_error *err)
{
    return kairos_share_create_as(k, project, name, bytes, max_files, NULL, err);
}

/*
 * What the create asks beyond the size, as the ledger keeps it: a repeat
 * that asks something else is -EEXIST. A default field is left out, so
 * that shares made before these fields existed still compare equal.
 */
static void share_attrs(char *buf, size_t size, uint64_t max_files,
                        const struct kairos_share_access *a)
{
    size_t n = 0;

    n += (size_t)snprintf(buf + n, size - n, "{");
    if (max_files)
        n += (size_t)snprintf(buf + n, size - n, "\"max_files\":%" PRIu64 ",", max_files);
    if (a && a->mode && a->mode != SHARE_MODE)
        n += (size_t)snprintf(buf + n, size - n, "\"mode\":\"%04" PRIo32 "\",", a->mode);
    if (a && a->uid >= 0)
        n += (size_t)snprintf(buf + n, size - n, "\"uid\":%" PRId64 ",", a->uid);
    if (a && a->gid >= 0)
        n += (size_t)snprintf(buf + n, size - n, "\"gid\":%" PRId64 ",", a->gid);
    /* Over the last comma, or after the brace when nothing was added. */
    snprintf(buf + (n > 1 ? n - 1 : n), size - (n > 1 ? n - 1 : n), "}");
}

int kairos_share_create_as(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                           uint64_t max_files, const struct kairos_share_access *access,
                           struct kairos_error *err)
{
    struct kairos_alloc_req req = {
        .project = project, .kind = KAIROS_SHARE, .name = name, .bytes = bytes};
    struct kairos_reservation *res = NULL;
    struct ceph_mount_info *cm;
    char attrs[160], path[KAIROS_SHARE_PATH_MAX];
    bool made = false, tagged = false;
    int rc;

    if (max_files > KAIROS_SIZE_MAX)
        return kairos_error_set(err, -EINVAL, "max_files is above 2^63-1");
    if (access && access->mode > 07777)
        return kairos_error_set(err, -EINVAL, "mode %o has more than permission bits",
                                access->mode);
    if (access && (access->uid < -1 || access->uid > (int64_t)KAIROS_ID_MAX || access->gid < -1 ||
                   access->gid > (int64_t)KAIROS_ID_MAX))
        return kairos_error_set(err, -EINVAL, "uid and gid are 0 to %u", KAIROS_ID_MAX);
    share_attrs(attrs, sizeof(attrs), max_files, access);
    if (strcmp(attrs, "{}") != 0)
        req.attrs = attrs;
    rc = kairos_ledger_reserve(k, &req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("share.create.reserved");
    share_path(k, path, project, name);
    rc = mount_fs(k, &cm, err);
    if (rc == 0) {
        /* Past the check that an MDS is active, before any CephFS call. */
        kairos_fault("share.create.mounted");
        rc = make_share(k, cm, res, max_files, access, &made, &tagged, err);
    }
    if (rc < 0) {
        /*
         * No half-made share stays behind: what this request made and
         * tagged goes; a directory made but not tagged stays under the
         * intent, for the reconciler to claim or remove.
         */
        if (tagged && remove_tree(k, cm, path, NULL, NULL) < 0)
            goto out;
        if (!made || tagged)
            kairos_ledger_release(k, res, NULL);
        goto out;
    }
    kairos_fault("share.create.quota");
    rc = kairos_ledger_commit(k, res, err);
    if (rc == -ESTALE && dir_is_ours(cm, path, res->intent) == 1)
        remove_tree(k, cm, path, NULL, NULL);
out:
    kairos_reservation_free(res);
    return rc;
}

/* ---- clones ---- */

/*
 * A clone is copied into "<project dir>/.clone-<share>" ('.' is in no
 * name: no share is ever called so) and renamed into place when whole. The
 * rename is the clone's commit point in CephFS: before it the share does
 * not exist, and the reconciler rolls the reservation back and removes the
 * partial copy (op_probe()); after it the share exists, with its quota.
 */
static void clone_path(struct kairos *k, char *buf, const char *project, const char *name)
{
    char p[KAIROS_SHARE_PATH_MAX];

    project_path(k, p, project);
    snprintf(buf, KAIROS_SHARE_PATH_MAX, "%s/.clone-%s", p, name);
}

/* Bytes read and written at a time; a block of zeros in the source stays a hole. */
#define COPY_CHUNK (4u << 20)

struct copy {
    struct kairos *k;
    struct ceph_mount_info *cm;
    const struct kairos_reservation *res; /* kept fresh while the copy runs */
    uint64_t touched_ms;
    char *buf; /* COPY_CHUNK bytes */
    char src[4096], dst[4096];
};

static int for_each_entry(struct ceph_mount_info *cm, const char *dir,
                          int (*fn)(void *arg, const struct dirent *de), void *arg);
static void snap_path(struct kairos *k, char *buf, const char *project, const char *share,
                      const char *snap);

static bool all_zero(const char *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int copy_file(struct copy *c, const struct ceph_statx *st)
{
    int in = ceph_open(c->cm, c->src, O_RDONLY, 0), out, rc = 0;
    int64_t off = 0, n;

    if (in < 0)
        return in;
    out = ceph_open(c->cm, c->dst, O_WRONLY | O_CREAT | O_EXCL, st->stx_mode & 07777);
    if (out < 0) {
        ceph_close(c->cm, in);
        return out;
    }
    while ((n = ceph_read(c->cm, in, c->buf, COPY_CHUNK, off)) > 0) {
        if (!all_zero(c->buf, (size_t)n)) {
            rc = ceph_write(c->cm, out, c->buf, n, off);
            if (rc >= 0 && rc != n)
                rc = -EIO;
            if (rc < 0)
                break;
        }
        off += n;
    }
    if (n < 0)
        rc = (int)n;
    /* The length, holes at the end included. */
    if (rc >= 0)
        rc = ceph_ftruncate(c->cm, out, (int64_t)st->stx_size);
    ceph_close(c->cm, in);
    if (ceph_close(c->cm, out) < 0 && rc >= 0)
        rc = -EIO;
    return rc < 0 ? rc : 0;
}

static int copy_entry(void *arg, const struct dirent *de);

/* Copy c->src's entries into c->dst, an existing directory. */
static int copy_dir(struct copy *c)
{
    return for_each_entry(c->cm, c->src, copy_entry, c);
}

static int copy_entry(void *arg, const struct dirent *de)
{
    struct copy *c = arg;
    size_t ls = strlen(c->src), ld = strlen(c->dst);
    struct ceph_statx st;
    struct timeval times[2];
    char link[4096];
    int rc;

    if (ls + 1 + strlen(de->d_name) >= sizeof(c->src) ||
        ld + 1 + strlen(de->d_name) >= sizeof(c->dst))
        return -ENAMETOOLONG;
    snprintf(c->src + ls, sizeof(c->src) - ls, "/%s", de->d_name);
    snprintf(c->dst + ld, sizeof(c->dst) - ld, "/%s", de->d_name);
    rc = ceph_statx(c->cm, c->src, &st, CEPH_STATX_BASIC_STATS, AT_SYMLINK_NOFOLLOW);
    if (rc == 0) {
        switch (st.stx_mode & S_IFMT) {
        case S_IFDIR:
            rc = ceph_mkdir(c->cm, c->dst, st.stx_mode & 07777);
            if (rc == 0)
                rc = copy_dir(c);
            break;
        case S_IFREG:
            rc = copy_file(c, &st);
            break;
        case S_IFLNK:
            rc = ceph_readlink(c->cm, c->src, link, sizeof(link) - 1);
            if (rc >= 0) {
                link[rc] = '\0';
                rc = ceph_symlink(c->cm, link, c->dst);
            }
            break;
        default: /* fifos, sockets, device nodes */
            rc = ceph_mknod(c->cm, c->dst, st.stx_mode, st.stx_rdev);
        }
    }
    /* Owner, then times last: writing the entries below changed the directory's. */
    if (rc == 0)
        rc = ceph_lchown(c->cm, c->dst, (int)st.stx_uid, (int)st.stx_gid);
    if (rc == 0 && !S_ISLNK(st.stx_mode))
        rc = ceph_chmod(c->cm, c->dst, st.stx_mode & 07777);
    if (rc == 0) {
        times[0] = (struct timeval){st.stx_atime.tv_sec, st.stx_atime.tv_nsec / 1000};
        times[1] = (struct timeval){st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec / 1000};
        rc = ceph_lutimes(c->cm, c->dst, times);
    }
    c->src[ls] = '\0';
    c->dst[ld] = '\0';
    /* A long copy must not look like a dead one to the reconciler. */
    if (c->res && kairos_now_ms() - c->touched_ms > c->k->cfg->reconcile.lease_ms / 4) {
        kairos_ledger_touch(c->k, c->res, NULL);
        c->touched_ms = kairos_now_ms();
    }
    return rc;
}

/* Copy the tree at @from into the existing directory @to. */
static int copy_tree(struct kairos *k, struct ceph_mount_info *cm, const char *from, const char *to,
                     const struct kairos_reservation *res, struct kairos_error *err)
{
    struct copy *c = calloc(1, sizeof(*c));
    int rc;

    if (c)
        c->buf = malloc(COPY_CHUNK);
    if (!c || !c->buf) {
        free(c);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    c->k = k;
    c->cm = cm;
    c->res = res;
    c->touched_ms = kairos_now_ms();
    snprintf(c->src, sizeof(c->src), "%s", from);
    snprintf(c->dst, sizeof(c->dst), "%s", to);
    rc = copy_dir(c);
    if (rc < 0)
        kairos_error_set(err, rc, "cannot copy %s%s%s: %s", c->src, rc == -EDQUOT ? "" : " to ",
                         rc == -EDQUOT ? "" : c->dst,
                         rc == -EDQUOT ? "the data is larger than the share" : strerror(-rc));
    free(c->buf);
    free(c);
    return rc;
}

int kairos_share_clone(struct kairos *k, const char *project, const char *name,
                       const char *src_project, const char *src_share, const char *snap,
                       uint64_t bytes, struct kairos_error *err)
{
    struct kairos_alloc_req req = {.project = project, .kind = KAIROS_SHARE, .name = name};
    struct kairos_reservation *res = NULL;
    struct ceph_mount_info *cm = NULL;
    char attrs[4 * KAIROS_NAME_MAX + 32], from[KAIROS_SHARE_PATH_MAX];
    char stage[KAIROS_SHARE_PATH_MAX], path[KAIROS_SHARE_PATH_MAX];
    struct ceph_statx stx;
    struct kairos_alloc src;
    bool made = false, tagged = false;
    int rc;

    if (kairos_name_check(project, "project", err) < 0 ||
        kairos_name_check(src_project, "project", err) < 0 ||
        kairos_name_check(src_share, "share", err) < 0 ||
        kairos_name_check(snap, "snapshot", err) < 0 || kairos_name_check(name, "share", err) < 0)
        return -EINVAL;
    rc = kairos_ledger_get(k, src_project, KAIROS_SHARE, src_share, &src, err);
    if (rc < 0)
        return rc;
    /* The source's size by default: what the snapshot holds fits in it. */
    req.bytes = bytes ? bytes : src.bytes;
    kairos_alloc_clear(&src);
    rc = mount_fs(k, &cm, err);
    if (rc < 0)
        return rc;
    snprintf(attrs, sizeof(attrs), "{\"source\":\"%s/%s@%s\"}", src_project, src_share, snap);
    req.attrs = attrs;
    rc = kairos_ledger_reserve(k, &req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    snap_path(k, from, src_project, src_share, snap);
    rc = ceph_statx(cm, from, &stx, CEPH_STATX_MODE, 0);
    if (rc < 0) {
        kairos_error_set(err, rc,
                         rc == -ENOENT ? "no snapshot %s of share %s/%s"
                                       : "cannot read snapshot %s of %s/%s",
                         snap, src_project, src_share);
        kairos_ledger_release(k, res, NULL);
        goto out;
    }
    clone_path(k, stage, project, name);
    share_path(k, path, project, name);
    /* What an attempt that died left here is not worth keeping. */
    rc = remove_tree(k, cm, stage, NULL, err);
    if (rc == 0)
        rc = make_share_dir(k, cm, res, stage, &made, &tagged, err);
    if (rc == 0)
        rc = finish_share(cm, stage, project, name, req.bytes, 0, false, err);
    if (rc == 0)
        rc = copy_tree(k, cm, from, stage, res, err);
    if (rc == 0) {
        rc = ceph_rename(cm, stage, path);
        if (rc < 0)
            kairos_error_set(err, rc, "cannot move %s to %s: %s", stage, path, strerror(-rc));
    }
    if (rc < 0) {
        remove_tree(k, cm, stage, NULL, NULL);
        kairos_ledger_release(k, res, NULL);
        goto out;
    }
    rc = kairos_ledger_commit(k, res, err);
    if (rc == -ESTALE)
        remove_tree(k, cm, path, NULL, NULL);
out:
    kairos_reservation_free(res);
    return rc;
}

int kairos_share_resize(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                        unsigned flags, struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX], path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    struct kairos_alloc cur;
    int rc;

    if (flags & ~KAIROS_RESIZE_SHRINK)
        return kairos_error_set(err, -EINVAL, "unknown resize flags");
    rc = kairos_ledger_get(k, project, KAIROS_SHARE, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    if (bytes < cur.bytes && !(flags & KAIROS_RESIZE_SHRINK))
        return kairos_error_set(err, -EINVAL,
                                "share %s: %s is smaller than its %s; shrinking needs the shrink "
                                "flag",
                                name, kairos_size_format(bytes, a, sizeof(a)),
                                kairos_size_format(cur.bytes, b, sizeof(b)));
    rc = kairos_ledger_reserve_resize(k, project, KAIROS_SHARE, name, bytes, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("share.resize.reserved");
    share_path(k, path, project, name);
    /* Past its fence the resize may be rolled back: never touch the quota then. */
    if (kairos_now_ms() >= res->intent_ms + kairos_fence_ms(k))
        rc = kairos_error_set(err, -ETIMEDOUT, "share %s/%s: the request outlived its fence",
                              project, name);
    else
        rc = mount_fs(k, &cm, err);
    if (rc == 0)
        rc = set_u64(cm, path, "ceph.quota.max_bytes", bytes, err);
    if (rc == 0)
        kairos_fault("share.resize.done");
    if (rc < 0)
        kairos_ledger_release(k, res, NULL);
    else
        rc = kairos_ledger_commit(k, res, err);
    /*
     * Rolled back by the reconciler meanwhile: the quota follows the size
     * the ledger holds now, which a later resize may have set, not the one
     * read before this request's reservation.
     */
    if (rc == -ESTALE && kairos_ledger_get(k, project, KAIROS_SHARE, name, &cur, NULL) == 0) {
        if (!cur.pending)
            set_u64(cm, path, "ceph.quota.max_bytes", cur.bytes, NULL);
        kairos_alloc_clear(&cur);
    }
out:
    kairos_reservation_free(res);
    return rc;
}

/* ---- snapshots ---- */

static void snap_alloc_name(char *buf, size_t len, const char *share, const char *snap)
{
    snprintf(buf, len, "share:%s@%s", share, snap);
}

static void snap_path(struct kairos *k, char *buf, const char *project, const char *share,
                      const char *snap)
{
    char p[KAIROS_SHARE_PATH_MAX];

    share_path(k, p, project, share);
    snprintf(buf, KAIROS_SHARE_PATH_MAX, "%s/.snap/%s", p, snap);
}

int kairos_share_snapshot_create(struct kairos *k, const char *project, const char *share,
                                 const char *snap, struct kairos_error *err)
{
    struct kairos_alloc_req req = {.project = project, .kind = KAIROS_SNAPSHOT};
    struct kairos_reservation *res = NULL;
    char sname[KAIROS_ALLOC_NAME_MAX + 1], path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    struct kairos_alloc cur;
    int rc;

    if (kairos_name_check(snap, "snapshot", err) < 0)
        return -EINVAL;
    rc = kairos_ledger_get(k, project, KAIROS_SHARE, share, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    snap_alloc_name(sname, sizeof(sname), share, snap);
    req.name = sname;
    rc = kairos_ledger_reserve(k, &req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("share.snapshot.reserved");
    snap_path(k, path, project, share, snap);
    rc = mount_fs(k, &cm, err);
    /* A snapshot this request did not make is another's: never adopted. */
    if (rc == 0 && (rc = ceph_mkdir(cm, path, 0755)) < 0)
        kairos_error_set(err, rc,
                         rc == -EEXIST ? "snapshot %s exists, not made by this request"
                                       : "cannot snapshot %s",
                         path);
    if (rc == 0)
        kairos_fault("share.snapshot.made");
    if (rc < 0)
        kairos_ledger_release(k, res, NULL);
    else
        rc = kairos_ledger_commit(k, res, err);
    /* Made here, so ours to remove. */
    if (rc == -ESTALE)
        ceph_rmdir(cm, path);
out:
    kairos_reservation_free(res);
    return rc;
}

static int remove_snap(struct kairos *k, const char *project, const char *share, const char *snap,
                       struct kairos_error *err)
{
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc = mount_fs(k, &cm, err);

    if (rc < 0)
        return rc;
    snap_path(k, path, project, share, snap);
    rc = ceph_rmdir(cm, path);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "cannot remove snapshot %s: %s", path, strerror(-rc));
    return rc;
}

int kairos_share_snapshot_delete(struct kairos *k, const char *project, const char *share,
                                 const char *snap, struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    char sname[KAIROS_ALLOC_NAME_MAX + 1];
    int rc;

    if (kairos_name_check(share, "share", err) < 0 || kairos_name_check(snap, "snapshot", err) < 0)
        return -EINVAL;
    snap_alloc_name(sname, sizeof(sname), share, snap);
    rc = kairos_ledger_reserve_delete(k, project, KAIROS_SNAPSHOT, sname, &res, err);
    if (rc < 0)
        return rc;
    kairos_fault("share.snapshot-delete.reserved");
    rc = remove_snap(k, project, share, snap, err);
    if (rc == 0)
        kairos_fault("share.snapshot-delete.removed");
    return kairos_ledger_settle(k, res, rc, err);
}

/* Call @fn for each entry of @dir but "." and "..". */
static int for_each_entry(struct ceph_mount_info *cm, const char *dir,
                          int (*fn)(void *arg, const struct dirent *de), void *arg)
{
    struct ceph_dir_result *d;
    struct dirent de;
    int rc = ceph_opendir(cm, dir, &d);

    if (rc < 0)
        return rc;
    while ((rc = ceph_readdir_r(cm, d, &de)) == 1) {
        if (strcmp(de.d_name, ".") == 0 || strcmp(de.d_name, "..") == 0)
            continue;
        rc = fn(arg, &de);
        if (rc < 0)
            break;
    }
    ceph_closedir(cm, d);
    return rc < 0 ? rc : 0;
}

struct snap_list {
    struct ceph_mount_info *cm;
    const char *dir;
    struct kairos_share_snap *items;
    size_t count;
};

static int add_snap(void *arg, const struct dirent *de)
{
    struct snap_list *l = arg;
    struct kairos_share_snap *s;
    struct ceph_statx stx;
    char path[KAIROS_SHARE_PATH_MAX + 256];

    if (l->count >= SNAP_MAX || !kairos_name_valid(de->d_name))
        return 0;
    s = &l->items[l->count++];
    snprintf(s->name, sizeof(s->name), "%s", de->d_name);
    snprintf(path, sizeof(path), "%s/%s", l->dir, de->d_name);
    if (ceph_statx(l->cm, path, &stx, CEPH_STATX_BTIME, 0) == 0)
        s->created_ms =
            (uint64_t)stx.stx_btime.tv_sec * 1000 + (uint64_t)stx.stx_btime.tv_nsec / 1000000;
    return 0;
}

int kairos_share_snapshot_list(struct kairos *k, const char *project, const char *share,
                               struct kairos_share_snap **out, size_t *count,
                               struct kairos_error *err)
{
    char dir[KAIROS_SHARE_PATH_MAX];
    struct snap_list l = {0};
    int rc;

    *out = NULL;
    *count = 0;
    if (kairos_name_check(project, "project", err) < 0 ||
        kairos_name_check(share, "share", err) < 0)
        return -EINVAL;
    rc = mount_fs(k, &l.cm, err);
    if (rc < 0)
        return rc;
    share_path(k, dir, project, share);
    strncat(dir, "/.snap", sizeof(dir) - strlen(dir) - 1);
    l.dir = dir;
    l.items = calloc(SNAP_MAX, sizeof(*l.items));
    if (!l.items)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = for_each_entry(l.cm, dir, add_snap, &l);
    if (rc < 0) {
        free(l.items);
        return kairos_error_set(
            err, rc, rc == -ENOENT ? "no share %s in project %s" : "cannot list snapshots of %s",
            share, project);
    }
    *out = l.items;
    *count = l.count;
    return 0;
}

/* ---- delete ---- */

static int count_snap(void *arg, const struct dirent *de);

/* How many snapshots share @name has (.snap's entries). */
static int count_snapshots(struct kairos *k, const char *project, const char *name, unsigned *count,
                           struct kairos_error *err)
{
    char dir[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc = mount_fs(k, &cm, err);

    *count = 0;
    if (rc < 0)
        return rc;
    share_path(k, dir, project, name);
    strncat(dir, "/.snap", sizeof(dir) - strlen(dir) - 1);
    rc = for_each_entry(cm, dir, count_snap, count);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "cannot list snapshots of %s/%s: %s", project, name,
                                strerror(-rc));
    return 0;
}

/*
 * A tree is removed by directory handles, never by path strings: a share
 * may hold a tree far deeper than any path buffer (or PATH_MAX), and its
 * delete must still finish. Each level is an open directory and its inode
 * reference; the walk goes down into a subdirectory as it meets it, and
 * removes a directory from its parent's handle once it is empty.
 */
struct level {
    struct Inode *in;
    struct ceph_dir_result *dir;
    char name[NAME_MAX + 1]; /* in the parent */
};

struct tree {
    struct kairos *k;
    struct ceph_mount_info *cm;
    const UserPerm *perms;
    const struct kairos_reservation *res; /* kept fresh while the tree goes */
    uint64_t touched_ms;
    struct level *levels;
    size_t depth, cap;
};

/* A long delete must not look like a dead one to the reconciler. */
static void keep_fresh(struct tree *t)
{
    if (t->res && kairos_now_ms() - t->touched_ms > t->k->cfg->reconcile.lease_ms / 4) {
        kairos_ledger_touch(t->k, t->res, NULL);
        t->touched_ms = kairos_now_ms();
    }
}

/* Open directory @in (a reference the level takes over) as the next level down. */
static int push_level(struct tree *t, struct Inode *in, const char *name)
{
    struct level *l;
    int rc;

    if (t->depth == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        struct level *grown = realloc(t->levels, cap * sizeof(*grown));
        if (!grown) {
            ceph_ll_put(t->cm, in);
            return -ENOMEM;
        }
        t->levels = grown;
        t->cap = cap;
    }
    l = &t->levels[t->depth];
    l->in = in;
    snprintf(l->name, sizeof(l->name), "%s", name);
    rc = ceph_ll_opendir(t->cm, in, &l->dir, t->perms);
    if (rc < 0) {
        ceph_ll_put(t->cm, in);
        return rc;
    }
    t->depth++;
    return 0;
}

static void pop_level(struct tree *t)
{
    struct level *l = &t->levels[--t->depth];

    ceph_ll_releasedir(t->cm, l->dir);
    ceph_ll_put(t->cm, l->in);
}

/*
 * One pass over the tree under the top level: files unlinked, directories
 * emptied and removed. Return: 0, or the first error (levels stay open for
 * the caller to close).
 */
static int empty_tree(struct tree *t)
{
    size_t top = t->depth;

    while (t->depth >= top) {
        struct level *l = &t->levels[t->depth - 1];
        struct ceph_statx stx;
        struct dirent de;
        struct Inode *in = NULL;
        int rc = ceph_readdirplus_r(t->cm, l->dir, &de, &stx, CEPH_STATX_MODE, 0, &in);

        if (rc < 0)
            return rc;
        if (rc == 0) {
            /* This level is empty: up, and remove it from its parent. */
            char name[NAME_MAX + 1];
            if (t->depth == top)
                return 0;
            snprintf(name, sizeof(name), "%s", l->name);
            pop_level(t);
            rc = ceph_ll_rmdir(t->cm, t->levels[t->depth - 1].in, name, t->perms);
            if (rc < 0 && rc != -ENOENT)
                return rc;
            keep_fresh(t);
            continue;
        }
        if (strcmp(de.d_name, ".") == 0 || strcmp(de.d_name, "..") == 0) {
            ceph_ll_put(t->cm, in);
            continue;
        }
        if (S_ISDIR(stx.stx_mode)) {
            rc = push_level(t, in, de.d_name);
        } else {
            rc = ceph_ll_unlink(t->cm, l->in, de.d_name, t->perms);
            ceph_ll_put(t->cm, in);
            keep_fresh(t);
        }
        if (rc < 0 && rc != -ENOENT)
            return rc;
    }
    return 0;
}

/* Passes over a tree before giving up: entries removed under a listing may hide others. */
#define TREE_PASSES 3

static int remove_tree(struct kairos *k, struct ceph_mount_info *cm, const char *path,
                       const struct kairos_reservation *res, struct kairos_error *err)
{
    struct tree t = {
        .k = k, .cm = cm, .perms = ceph_mount_perms(cm), .res = res, .touched_ms = kairos_now_ms()};
    struct ceph_statx stx;
    struct Inode *in;
    int rc = 0;

    for (int pass = 0; pass < TREE_PASSES; pass++) {
        rc = ceph_ll_walk(cm, path, &in, &stx, CEPH_STATX_MODE, 0, t.perms);
        if (rc == 0)
            rc = push_level(&t, in, "");
        if (rc == 0)
            rc = empty_tree(&t);
        while (t.depth)
            pop_level(&t);
        if (rc == 0)
            rc = ceph_rmdir(cm, path);
        if (rc != -ENOTEMPTY)
            break;
    }
    free(t.levels);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "cannot remove %s: %s", path, strerror(-rc));
    return rc;
}

/* Revoke bindings, drop snapshots (and their records), remove the tree. */
static int destroy(struct kairos *k, const char *project, const char *name,
                   const struct kairos_reservation *res, struct kairos_error *err)
{
    char path[KAIROS_SHARE_PATH_MAX], sname[KAIROS_ALLOC_NAME_MAX + 1];
    struct kairos_share_snap *snaps = NULL;
    struct ceph_mount_info *cm;
    size_t n = 0;
    int rc;

    rc = kairos_binding_purge(k, project, KAIROS_SHARE, name, err);
    if (rc == 0)
        rc = mount_fs(k, &cm, err);
    if (rc < 0)
        return rc;
    kairos_fault("share.delete.unbound");
    rc = kairos_share_snapshot_list(k, project, name, &snaps, &n, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = remove_snap(k, project, name, snaps[i].name, err);
        if (rc == 0)
            kairos_fault("share.delete.snapshot-removed");
        snap_alloc_name(sname, sizeof(sname), name, snaps[i].name);
        if (rc == 0)
            rc = kairos_ledger_purge(k, project, KAIROS_SNAPSHOT, sname, err);
    }
    free(snaps);
    if (rc == -ENOENT)
        rc = 0;
    share_path(k, path, project, name);
    if (rc == 0)
        rc = remove_tree(k, cm, path, res, err);
    /* Records of snapshots removed by a broker killed before it purged them. */
    if (rc == 0) {
        snap_alloc_name(sname, sizeof(sname), name, "");
        rc = kairos_ledger_purge_prefix(k, project, KAIROS_SNAPSHOT, sname, err);
    }
    return rc;
}

int kairos_share_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                        struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    struct kairos_alloc cur;
    unsigned bindings = 0, snaps = 0;
    int rc;

    if (flags & ~(KAIROS_ALLOC_DELETE_FORCE | KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS))
        return kairos_error_set(err, -EINVAL, "unknown delete flags");
    rc = kairos_ledger_get(k, project, KAIROS_SHARE, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    if (flags & KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS) {
        rc = count_snapshots(k, project, name, &snaps, err);
        if (rc < 0)
            return rc;
        if (snaps)
            return kairos_error_set(err, -EBUSY, "share %s has %u snapshot%s; delete them first",
                                    name, snaps, snaps == 1 ? "" : "s");
    }
    if (!(flags & KAIROS_ALLOC_DELETE_FORCE)) {
        rc = kairos_binding_count(k, project, KAIROS_SHARE, name, &bindings, err);
        if (rc < 0)
            return rc;
        if (bindings)
            return kairos_error_set(err, -EBUSY, "share %s has %u binding%s; unbind first or force",
                                    name, bindings, bindings == 1 ? "" : "s");
    }
    rc = kairos_ledger_reserve_delete(k, project, KAIROS_SHARE, name, &res, err);
    if (rc < 0)
        return rc;
    kairos_fault("share.delete.reserved");
    rc = destroy(k, project, name, res, err);
    if (rc == 0)
        kairos_fault("share.delete.removed");
    return kairos_ledger_settle(k, res, rc, err);
}

/* ---- info ---- */

static int count_snap(void *arg, const struct dirent *de)
{
    (void)de;
    (*(unsigned *)arg)++;
    return 0;
}

int kairos_share_info(struct kairos *k, const char *project, const char *name,
                      struct kairos_share_info *out, struct kairos_error *err)
{
    char snaps[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kairos_name_check(project, "project", err) < 0 || kairos_name_check(name, "share", err) < 0)
        return -EINVAL;
    rc = mount_fs(k, &cm, err);
    if (rc < 0)
        return rc;
    snprintf(out->name, sizeof(out->name), "%s", name);
    share_path(k, out->path, project, name);
    rc = kairos_share_xattr_u64(cm, out->path, "ceph.quota.max_bytes", &out->size);
    if (rc < 0)
        return kairos_error_set(
            err, rc, rc == -ENOENT ? "no share %s in project %s" : "cannot read share %s/%s", name,
            project);
    kairos_share_xattr_u64(cm, out->path, "ceph.quota.max_files", &out->max_files);
    kairos_share_xattr_u64(cm, out->path, "ceph.dir.rbytes", &out->used);
    kairos_share_xattr_u64(cm, out->path, "ceph.dir.rentries", &out->entries);
    snprintf(snaps, sizeof(snaps), "%s/.snap", out->path);
    for_each_entry(cm, snaps, count_snap, &out->snapshots);
    return 0;
}

/* ---- backend ops ---- */

/* Finish a share a create left without its quota, from its ledger record. */
static int finish_recorded(struct kairos *k, struct ceph_mount_info *cm, const char *path,
                           const char *project, const char *name, uint64_t *bytes,
                           struct kairos_error *err)
{
    uint64_t max_files;
    int rc =
        kairos_ledger_recorded(k, project, KAIROS_SHARE, name, "max_files", bytes, &max_files, err);

    return rc < 0 ? rc : finish_share(cm, path, project, name, *bytes, max_files, false, err);
}

static int op_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                    struct kairos_error *err)
{
    struct kairos *k = arg;
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc = mount_fs(k, &cm, err);

    if (rc < 0)
        return rc;
    share_path(k, path, project, name);
    rc = kairos_share_xattr_u64(cm, path, "ceph.quota.max_bytes", bytes);
    /* Not there: a clone that died before its rename may have left its partial copy. */
    if (rc == -ENOENT) {
        clone_path(k, path, project, name);
        rc = remove_tree(k, cm, path, NULL, err);
        return rc < 0 ? rc : 0;
    }
    /* A directory without a quota yet: made, not finished; finish it as recorded. */
    if (rc == -ENODATA)
        rc = finish_recorded(k, cm, path, project, name, bytes, err);
    return rc < 0 ? kairos_error_set(err, rc, "cannot probe %s: %s", path, strerror(-rc)) : 1;
}

static int op_claim(void *arg, const char *project, const char *name, const char *intent,
                    uint64_t *bytes, struct kairos_error *err)
{
    struct kairos *k = arg;
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc = mount_fs(k, &cm, err);

    if (rc < 0)
        return rc;
    share_path(k, path, project, name);
    rc = claim_dir(cm, path, intent);
    /* None: a clone that died before its rename may have left its partial copy. */
    if (rc == -ENOENT) {
        clone_path(k, path, project, name);
        rc = remove_tree(k, cm, path, NULL, err);
        return rc < 0 ? rc : 0;
    }
    /* Another request's: not ours to adopt or remove. */
    if (rc == -EEXIST)
        return 0;
    if (rc == 0)
        rc = kairos_share_xattr_u64(cm, path, "ceph.quota.max_bytes", bytes);
    /* Made, not finished: finish it as recorded. */
    if (rc == -ENODATA)
        rc = finish_recorded(k, cm, path, project, name, bytes, err);
    return rc < 0 ? kairos_error_set(err, rc, "cannot claim %s: %s", path, strerror(-rc)) : 1;
}

static int op_destroy(void *arg, const char *project, const char *name, struct kairos_error *err)
{
    return destroy(arg, project, name, NULL, err);
}

static int op_used(void *arg, const char *project, uint64_t *bytes, struct kairos_error *err)
{
    struct kairos *k = arg;
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc = mount_fs(k, &cm, err);

    *bytes = 0;
    if (rc < 0)
        return rc;
    project_path(k, path, project);
    rc = kairos_share_xattr_u64(cm, path, "ceph.dir.rbytes", bytes);
    return rc == -ENOENT ? 0 : rc;
}

static int op_teardown(void *arg, const char *project, struct kairos_error *err)
{
    struct kairos *k = arg;
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    int rc;

    /* Mounted even if this handle never made a share: another broker may have. */
    rc = mount_fs(k, &cm, err);
    if (rc < 0)
        return rc;
    kairos_nameset_remove(&k->shares->ready, project);
    project_path(k, path, project);
    return remove_tree(k, cm, path, NULL, err);
}

static int op_apply_quota(void *arg, const char *project, const struct kairos_quota *quota,
                          struct kairos_error *err)
{
    struct kairos *k = arg;
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    struct ceph_statx stx;
    int rc = mount_fs(k, &cm, err);

    if (rc < 0)
        return rc;
    project_path(k, path, project);
    if (ceph_statx(cm, path, &stx, CEPH_STATX_MODE, 0) == -ENOENT)
        return 0;
    return set_u64(cm, path, "ceph.quota.max_bytes", quota_value(quota->kind[KAIROS_SHARE].bytes),
                   err);
}

/*
 * A share key's caps (docs/DESIGN.md, "Share keys"): the file system's map
 * only; its directory, without "p" (quotas, layouts) or "s" (snapshots,
 * which count against the quota); and the share's data namespace in the
 * file system's data pools, named by tag rather than by pool, so that the
 * grant reaches no other pool's namespace of that name and gives no pool
 * snapshot ids.
 */
static void share_caps(struct kairos *k, const char *path, const char *ns, bool ro, char *mon,
                       char *mds, char *osd)
{
    const char *fs = k->cfg->pools.cephfs_name;

    snprintf(mon, SHARE_CAP_MAX, "allow r fsname=%s", fs);
    snprintf(mds, SHARE_CAP_MAX, "allow %s fsname=%s path=%s", ro ? "r" : "rw", fs, path);
    snprintf(osd, SHARE_CAP_MAX, "allow %s namespace=%s tag cephfs data=%s", ro ? "r" : "rw", ns,
             fs);
}

static int op_bind(void *arg, const char *project, const char *name, const char *id, unsigned flags,
                   char **credentials, struct kairos_error *err)
{
    struct kairos *k = arg;
    bool ro = flags & KAIROS_BIND_READ_ONLY;
    char entity[KAIROS_ENTITY_MAX], path[KAIROS_SHARE_PATH_MAX], ns[KAIROS_SHARE_NS_MAX];
    char mon[SHARE_CAP_MAX], mds[SHARE_CAP_MAX], osd[SHARE_CAP_MAX], *key = NULL;
    const char *caps[] = {"mon", mon, "mds", mds, "osd", osd, NULL};
    struct ceph_mount_info *cm;
    json_t *creds = NULL;
    int rc;

    share_path(k, path, project, name);
    kairos_cephx_entity(entity, project, "share", name, id);
    rc = mount_fs(k, &cm, err);
    if (rc == 0)
        rc = data_namespace(cm, path, project, ns, err);
    if (rc < 0)
        return rc;
    share_caps(k, path, ns, ro, mon, mds, osd);
    rc = kairos_cephx_grant(k, entity, caps, &key, err);
    if (rc == 0)
        creds = kairos_cephx_credentials(k, entity, key, err);
    if (creds) {
        json_object_set_new(creds, "fs_name", json_string(k->cfg->pools.cephfs_name));
        json_object_set_new(creds, "path", json_string(path));
        json_object_set_new(creds, "pool", json_string(k->cfg->pools.cephfs_data));
        json_object_set_new(creds, "namespace", json_string(ns));
        json_object_set_new(creds, "project", json_string(project));
        json_object_set_new(creds, "read_only", json_boolean(ro));
        *credentials = kairos_credentials_dump(creds);
        if (!*credentials)
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = -EIO;
    }
    free(key);
    return rc;
}

/* Revoke the key, then end the sessions it opened: removing it stops new ones only. */
static int op_unbind(void *arg, const char *project, const char *name, const char *id,
                     struct kairos_error *err)
{
    char entity[KAIROS_ENTITY_MAX];
    int rc;

    kairos_cephx_entity(entity, project, "share", name, id);
    rc = kairos_cephx_revoke(arg, entity, err);
    if (rc == 0)
        rc = kairos_evict_share_clients(arg, entity, NULL, err);
    return rc;
}

int kairos_shares_mount(struct kairos *k, struct ceph_mount_info **cm, struct kairos_error *err)
{
    return mount_fs(k, cm, err);
}

int kairos_share_snap_probe(struct kairos *k, const char *project, const char *share,
                            const char *snap, struct kairos_error *err)
{
    char path[KAIROS_SHARE_PATH_MAX];
    struct ceph_mount_info *cm;
    struct ceph_statx stx;
    int rc = mount_fs(k, &cm, err);

    if (rc < 0)
        return rc;
    snap_path(k, path, project, share, snap);
    rc = ceph_statx(cm, path, &stx, CEPH_STATX_MODE, 0);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? kairos_error_set(err, rc, "cannot probe %s: %s", path, strerror(-rc)) : 1;
}

int kairos_share_snap_destroy(struct kairos *k, const char *project, const char *share,
                              const char *snap, struct kairos_error *err)
{
    return remove_snap(k, project, share, snap, err);
}

int kairos_shares_init(struct kairos *k, struct kairos_error *err)
{
    struct kairos_kind_ops ops = {
        .probe = op_probe,
        .claim = op_claim,
        .destroy = op_destroy,
        .used = op_used,
        .teardown = op_teardown,
        .apply_quota = op_apply_quota,
        .bind = op_bind,
        .unbind = op_unbind,
        .arg = k,
    };

    k->shares = calloc(1, sizeof(*k->shares));
    if (!k->shares)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&k->shares->lock, NULL);
    kairos_nameset_init(&k->shares->ready);
    return kairos_kind_register(k, KAIROS_SHARE, &ops);
}

void kairos_shares_fini(struct kairos *k)
{
    if (!k->shares)
        return;
    if (k->shares->cmount) {
        ceph_unmount(k->shares->cmount);
        ceph_release(k->shares->cmount);
    }
    kairos_nameset_destroy(&k->shares->ready);
    pthread_mutex_destroy(&k->shares->lock);
    free(k->shares);
    k->shares = NULL;
}
