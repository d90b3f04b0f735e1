/*
 * test_kill9.c - kill -9 with the real backends: brokers SIGKILLed at every
 * step of every operation, then one reconciler pass must leave the ledger
 * equal to what exists in Ceph.
 *
 * Child processes run the create, clone, resize, snapshot, bind, unbind
 * and delete of volumes, shares and buckets against the real cluster, on a
 * small set of names in one project, so that each operation meets the
 * leftovers of earlier killed ones. Each child dies with SIGKILL: half of
 * them at a fault point (fault.h) chosen in turn from every step of every
 * operation, the others at a random moment while doing random operations.
 * Between kills the parent runs the reconciler once per lease, as the
 * broker's background reconciler would, and evicts each killed child's
 * CephFS session. After KT_KILLS kills (40 by default; ctest sets 200 in
 * the plain build) and one last reconciler pass:
 *   - no intent is left open, and the counters equal the records;
 *   - RBD images in the project's namespace are exactly the committed
 *     volumes, at their committed sizes, with exactly the committed
 *     snapshots, and no snapshot waits in RBD's trash without a clone;
 *   - the project's directories are exactly the committed shares, with
 *     their byte quota, and exactly the committed snapshots;
 *   - the RGW owner's buckets are exactly the committed buckets, with their
 *     quota;
 *   - the cephx entities of the project are exactly the bindings of volumes
 *     and shares, and each bucket binding's RGW user exists exactly when
 *     the binding does.
 * The seed (KT_SEED to replay) and every kill point are printed.
 */
#include "harness.h"

#include <cephfs/libcephfs.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rbd/librbd.h>

#include "rgw.h"

#define MiB              ((uint64_t)1 << 20)
#define LEASE_MS         3000
#define WATCH_TIMEOUT_MS 32000
#define NAMES            2
#define CHILD_OPS        6
#define CHILD_WAIT       60 /* s before a child that reaches no point is killed anyway */

static const char policy[] = "[capacity]\nusable = 64G\nfull_ratio = 1\nheadroom = 0\n";

/* Every step a child can be killed at, by the operation that reaches it. */
static const char *const points[] = {
    "volume.create.reserved",
    "volume.create.made",
    "volume.create.tagged",
    "volume.clone.reserved",
    "volume.clone.made",
    "volume.clone.tagged",
    "volume.resize.reserved",
    "volume.resize.done",
    "volume.snapshot.reserved",
    "volume.snapshot.made",
    "volume.snapshot-delete.reserved",
    "volume.snapshot-delete.removed",
    "volume.delete.reserved",
    "volume.delete.unbound",
    "volume.delete.snapshot-removed",
    "volume.delete.removed",
    "share.create.reserved",
    "share.create.mounted",
    "share.create.mkdir",
    "share.create.namespace",
    "share.create.quota",
    "share.resize.reserved",
    "share.resize.done",
    "share.snapshot.reserved",
    "share.snapshot.made",
    "share.snapshot-delete.reserved",
    "share.snapshot-delete.removed",
    "share.delete.reserved",
    "share.delete.unbound",
    "share.delete.snapshot-removed",
    "share.delete.removed",
    "bucket.owner.marked",
    "bucket.owner.made",
    "bucket.owner.quota",
    "bucket.create.reserved",
    "bucket.create.made",
    "bucket.create.tagged",
    "bucket.create.quota",
    "bucket.delete.reserved",
    "bucket.delete.removed",
    "binding.create.recorded",
    "binding.create.granted",
    "binding.delete.recorded",
    "binding.delete.revoked",
};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

static const char *self;

static const char *const vols[] = {"v0", "v1", "c0", "c1"};
static const char *const shares[] = {"s0", "s1"};
static const char *const buckets[] = {"kb-0", "kb-1"};
static const char *const snaps[] = {"p0", "p1"};
static const char *const ids[] = {"b0", "b1"};

/* ---- the child ---- */

static unsigned next(unsigned *r)
{
    *r = *r * 1103515245u + 12345u;
    return *r >> 8;
}

static int bind_one(struct kairos *k, const char *project, enum kairos_kind kind, const char *alloc,
                    const char *id, struct kairos_error *err)
{
    char *creds = NULL;
    int rc = kairos_binding_create(k, project, kind, alloc, id, 0, &creds, err);

    free(creds);
    return rc;
}

/* With KT_VERBOSE set, a child says why its steps fail. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) < 0 && getenv("KT_VERBOSE"))                                                    \
            fprintf(stderr, "child: %s\n", err.msg);                                               \
        kairos_error_clear(&err);                                                                  \
    } while (0)

/* One operation of @family ("volume.clone", "binding.delete", "*" for any), on random names. */
static void child_op(struct kairos *k, const char *project, const char *family, unsigned *r)
{
    static const char *const families[] = {
        "volume.create",          "volume.clone",          "volume.resize", "volume.snapshot",
        "volume.snapshot-delete", "volume.delete",         "share.create",  "share.resize",
        "share.snapshot",         "share.snapshot-delete", "share.delete",  "bucket.create",
        "bucket.delete",          "binding.create",        "binding.delete"};
    struct kairos_error err = {0};
    const char *v = vols[next(r) % NAMES], *s = shares[next(r) % NAMES];
    const char *b = buckets[next(r) % NAMES], *snap = snaps[next(r) % NAMES];
    const char *id = ids[next(r) % NAMES];
    uint64_t bytes = (4 + 4 * (next(r) % 3)) * MiB;
    enum kairos_kind kind = next(r) % 3;
    const char *alloc = kind == KAIROS_VOLUME ? v : kind == KAIROS_SHARE ? s : b;

    if (strcmp(family, "*") == 0 || strcmp(family, "bucket.owner") == 0)
        family = strcmp(family, "*") == 0 ? families[next(r) % 15] : "bucket.create";
    /* Each runs what it needs first; those steps fail harmlessly when already done. */
    if (strncmp(family, "volume.", 7) == 0) {
        /* A create of what exists does nothing: make room for it first. */
        if (strcmp(family, "volume.create") == 0) {
            /* Clones first: a volume with a clone of its snapshots stays. */
            for (int i = 2; i < 4; i++)
                TRY(kairos_volume_delete(k, project, vols[i], KAIROS_ALLOC_DELETE_FORCE, &err));
            TRY(kairos_volume_delete(k, project, v, KAIROS_ALLOC_DELETE_FORCE, &err));
        }
        TRY(kairos_volume_create(k, project, v, bytes, &err));
        if (strcmp(family, "volume.clone") == 0) {
            const char *c = vols[2 + next(r) % 2];
            TRY(kairos_volume_delete(k, project, c, KAIROS_ALLOC_DELETE_FORCE, &err));
            TRY(kairos_volume_snapshot_create(k, project, v, snap, &err));
            TRY(kairos_volume_clone(k, project, c, project, v, snap, &err));
        } else if (strcmp(family, "volume.resize") == 0) {
            TRY(kairos_volume_resize(k, project, v, bytes + 4 * MiB, KAIROS_RESIZE_SHRINK, &err));
        } else if (strncmp(family, "volume.snapshot", 15) == 0) {
            if (strcmp(family, "volume.snapshot") == 0)
                TRY(kairos_volume_snapshot_delete(k, project, v, snap, &err));
            TRY(kairos_volume_snapshot_create(k, project, v, snap, &err));
            if (strcmp(family, "volume.snapshot-delete") == 0)
                TRY(kairos_volume_snapshot_delete(k, project, v, snap, &err));
        } else if (strcmp(family, "volume.delete") == 0) {
            TRY(bind_one(k, project, KAIROS_VOLUME, v, id, &err));
            TRY(kairos_volume_snapshot_create(k, project, v, snap, &err));
            for (int i = 2; i < 4; i++)
                TRY(kairos_volume_delete(k, project, vols[i], KAIROS_ALLOC_DELETE_FORCE, &err));
            TRY(kairos_volume_delete(k, project, v, KAIROS_ALLOC_DELETE_FORCE, &err));
        }
    } else if (strncmp(family, "share.", 6) == 0) {
        if (strcmp(family, "share.create") == 0)
            TRY(kairos_share_delete(k, project, s, KAIROS_ALLOC_DELETE_FORCE, &err));
        TRY(kairos_share_create(k, project, s, bytes, 0, &err));
        if (strcmp(family, "share.resize") == 0) {
            TRY(kairos_share_resize(k, project, s, bytes + 4 * MiB, KAIROS_RESIZE_SHRINK, &err));
        } else if (strncmp(family, "share.snapshot", 14) == 0) {
            if (strcmp(family, "share.snapshot") == 0)
                TRY(kairos_share_snapshot_delete(k, project, s, snap, &err));
            TRY(kairos_share_snapshot_create(k, project, s, snap, &err));
            if (strcmp(family, "share.snapshot-delete") == 0)
                TRY(kairos_share_snapshot_delete(k, project, s, snap, &err));
        } else if (strcmp(family, "share.delete") == 0) {
            TRY(bind_one(k, project, KAIROS_SHARE, s, id, &err));
            TRY(kairos_share_snapshot_create(k, project, s, snap, &err));
            TRY(kairos_share_delete(k, project, s, KAIROS_ALLOC_DELETE_FORCE, &err));
        }
    } else if (strncmp(family, "bucket.", 7) == 0) {
        if (strcmp(family, "bucket.create") == 0)
            TRY(kairos_bucket_delete(k, project, b, KAIROS_ALLOC_DELETE_FORCE, &err));
        TRY(kairos_bucket_create(k, project, b, bytes, 0, &err));
        if (strcmp(family, "bucket.delete") == 0) {
            TRY(bind_one(k, project, KAIROS_BUCKET, b, id, &err));
            TRY(kairos_bucket_delete(k, project, b, KAIROS_ALLOC_DELETE_FORCE, &err));
        }
    } else {
        if (kind == KAIROS_VOLUME)
            TRY(kairos_volume_create(k, project, v, bytes, &err));
        else if (kind == KAIROS_SHARE)
            TRY(kairos_share_create(k, project, s, bytes, 0, &err));
        else
            TRY(kairos_bucket_create(k, project, b, bytes, 0, &err));
        if (strcmp(family, "binding.create") == 0)
            TRY(kairos_binding_delete(k, project, kind, alloc, id, &err));
        TRY(bind_one(k, project, kind, alloc, id, &err));
        if (strcmp(family, "binding.delete") == 0)
            TRY(kairos_binding_delete(k, project, kind, alloc, id, &err));
    }
}

/* Child: argv: self --child POOL PROJECT FAMILY SEED; works until killed. */
static int child_main(char **argv)
{
    unsigned r = (unsigned)strtoul(argv[5], NULL, 10);
    struct kt t;

    kt_open_isolated(&t, policy, argv[2]);
    t.cfg->reconcile.lease_ms = LEASE_MS;
    for (int i = 0; i < CHILD_OPS; i++)
        child_op(t.k, argv[3], argv[4], &r);
    kt_close(&t);
    return 0;
}

/* ---- the parent ---- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/*
 * A killed client's CephFS session keeps its capabilities until the MDS
 * times it out (session_timeout, 60 s), and every other client waits on
 * the directories it held meanwhile. An operator evicts a dead broker's
 * session; so does the test, found by the pid in its metadata.
 */
static void evict_dead(struct ceph_mount_info *m, pid_t pid)
{
    const char *ls[] = {"{\"prefix\": \"client ls\"}"};
    char *out = NULL, *outs = NULL, cmd[128], want[16];
    size_t outlen = 0, outslen = 0, i;
    json_t *sessions, *s;
    int rc;

    rc = ceph_mds_command(m, "*", ls, 1, "", 0, &out, &outlen, &outs, &outslen);
    if (rc < 0)
        fail_msg("mds client ls: %s", strerror(-rc));
    sessions = json_loadb(out, outlen, 0, NULL);
    ceph_buffer_free(out);
    ceph_buffer_free(outs);
    snprintf(want, sizeof(want), "%d", (int)pid);
    json_array_foreach(sessions, i, s)
    {
        const char *spid =
            json_string_value(json_object_get(json_object_get(s, "client_metadata"), "pid"));
        const char *evict[] = {cmd};

        if (!spid || strcmp(spid, want) != 0)
            continue;
        snprintf(cmd, sizeof(cmd),
                 "{\"prefix\": \"client evict\", \"filters\": [\"id=%" JSON_INTEGER_FORMAT "\"]}",
                 json_integer_value(json_object_get(s, "id")));
        out = outs = NULL;
        rc = ceph_mds_command(m, "*", evict, 1, "", 0, &out, &outlen, &outs, &outslen);
        ceph_buffer_free(out);
        ceph_buffer_free(outs);
        if (rc < 0)
            fail_msg("mds client evict: %s", strerror(-rc));
    }
    json_decref(sessions);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Keep the last complete line of what @fd has to read in @last. */
static void read_points(int fd, char *last, size_t len, unsigned *lines)
{
    static char part[256];
    static size_t have;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof(buf));

    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            part[have] = 0;
            snprintf(last, len, "%s", part);
            have = 0;
            (*lines)++;
        } else if (have < sizeof(part) - 1) {
            part[have++] = buf[i];
        }
    }
}

/*
 * Run one child and kill it: at @point when given, else @delay_ms after it
 * passed its first point (it is at work on the cluster by then).
 * Return: true when it died by SIGKILL; @where gets the last point it passed.
 */
static bool one_kill(struct ceph_mount_info *m, const char *pool, const char *project,
                     const char *point, unsigned delay_ms, unsigned seed, char *where, size_t wlen)
{
    char family[64], fault[128], seedbuf[32];
    uint64_t start = now_ms(), deadline = 0;
    int fds[2], status = 0;
    unsigned lines = 0;
    pid_t pid;

    where[0] = 0;
    if (point) {
        snprintf(family, sizeof(family), "%s", point);
        *strrchr(family, '.') = 0;
        snprintf(fault, sizeof(fault), "%s=kill", point);
    } else {
        snprintf(family, sizeof(family), "*");
        snprintf(fault, sizeof(fault), "*=trace");
    }
    snprintf(seedbuf, sizeof(seedbuf), "%u", seed);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char fd[16];
        close(fds[0]);
        snprintf(fd, sizeof(fd), "%d", fds[1]);
        setenv("KAIROS_FAULT_FD", fd, 1);
        setenv("KAIROS_FAULT", fault, 1);
        execl("/proc/self/exe", self, "--child", pool, project, family, seedbuf, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        if (poll(&pfd, 1, 20) > 0)
            read_points(fds[0], where, wlen, &lines);
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (!point && lines && !deadline)
            deadline = now_ms() + delay_ms;
        if ((deadline && now_ms() >= deadline) || now_ms() - start > CHILD_WAIT * 1000) {
            kill(pid, SIGKILL);
            assert_int_equal(waitpid(pid, &status, 0), pid);
            break;
        }
    }
    {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
            read_points(fds[0], where, wlen, &lines);
    }
    close(fds[0]);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        return false;
    evict_dead(m, pid);
    return true;
}

/* ---- what must hold after the reconciler's pass ---- */

/* The committed allocations of @kind; none may be pending. */
static size_t committed(struct kt *t, const char *project, enum kairos_kind kind,
                        struct kairos_alloc_page **page)
{
    struct kairos_error err = {0};

    if (kairos_ledger_list(t->k, project, kind, NULL, 1000, page, &err) < 0)
        fail_msg("ledger list: %s", err.msg);
    assert_false((*page)->more);
    for (size_t i = 0; i < (*page)->count; i++) {
        if ((*page)->items[i].pending)
            fail_msg("%s %s/%s still has an open intent after the pass", kairos_kind_name(kind),
                     project, (*page)->items[i].name);
    }
    return (*page)->count;
}

static const struct kairos_alloc *find(const struct kairos_alloc_page *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->items[i].name, name) == 0)
            return &p->items[i];
    }
    return NULL;
}

static bool has_snapshot(const struct kairos_alloc_page *snapp, const char *kind, const char *alloc,
                         const char *snap)
{
    char name[KAIROS_ALLOC_NAME_MAX + 1];

    snprintf(name, sizeof(name), "%s:%s@%s", kind, alloc, snap);
    return find(snapp, name) != NULL;
}

static void check_volumes(struct kt *t, const char *project, const struct kairos_alloc_page *vp,
                          const struct kairos_alloc_page *snapp, unsigned *n_snaps)
{
    char names[4096];
    size_t len = sizeof(names), seen = 0;
    rados_ioctx_t io;

    assert_int_equal(rados_ioctx_create(t->rados, t->cfg->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, project);
    int rc = rbd_list(io, names, &len);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        fail_msg("rbd list %s: %s", project, strerror(-rc));
    for (char *n = names; rc > 0 && n < names + rc && *n; n += strlen(n) + 1) {
        const struct kairos_alloc *a = find(vp, n);
        rbd_snap_info_t sn[16];
        int max = 16, ns;
        uint64_t size;
        rbd_image_t img;

        if (!a)
            fail_msg("leaked RBD image %s/%s: not in the ledger", project, n);
        seen++;
        assert_int_equal(rbd_open(io, n, &img, NULL), 0);
        assert_int_equal(rbd_get_size(img, &size), 0);
        if (size != a->bytes)
            fail_msg("volume %s/%s: image of %" PRIu64 " bytes, ledger %" PRIu64, project, n, size,
                     a->bytes);
        ns = rbd_snap_list(img, sn, &max);
        assert_true(ns >= 0);
        for (int i = 0; i < ns; i++) {
            rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;
            rbd_snap_get_namespace_type(img, sn[i].id, &type);
            /*
             * A snapshot removed while a clone used it waits in RBD's trash
             * until its last clone goes; the reconciler removes one whose
             * clones are all gone.
             */
            if (type == RBD_SNAP_NAMESPACE_TYPE_TRASH) {
                rbd_linked_image_spec_t children[4];
                size_t nc = 4;
                assert_int_equal(rbd_snap_set_by_id(img, sn[i].id), 0);
                rc = rbd_list_children3(img, children, &nc);
                assert_true(rc == 0 || rc == -ERANGE);
                if (rc == 0 && nc == 0)
                    fail_msg("leaked RBD trash snapshot %s/%s@%s: no clone uses it", project, n,
                             sn[i].name);
                if (rc == 0)
                    rbd_linked_image_spec_list_cleanup(children, nc);
                assert_int_equal(rbd_snap_set(img, NULL), 0);
                print_message("RBD trash snapshot %s/%s@%s waits for its clones\n", project, n,
                              sn[i].name);
                continue;
            }
            if (!has_snapshot(snapp, "volume", n, sn[i].name))
                fail_msg("leaked RBD snapshot %s/%s@%s", project, n, sn[i].name);
            (*n_snaps)++;
        }
        rbd_snap_list_end(sn);
        rbd_close(img);
    }
    rados_ioctx_destroy(io);
    if (seen != vp->count)
        fail_msg("%zu volumes in the ledger of %s, %zu RBD images", vp->count, project, seen);
}

static void check_shares(struct kt *t, struct ceph_mount_info *m, const char *project,
                         const struct kairos_alloc_page *sp, const struct kairos_alloc_page *snapp,
                         unsigned *n_snaps)
{
    struct ceph_dir_result *d;
    struct dirent *de;
    char path[512];
    size_t seen = 0;

    snprintf(path, sizeof(path), "%s/%s", t->cfg->pools.share_root, project);
    if (ceph_opendir(m, path, &d) < 0) {
        assert_int_equal(sp->count, 0);
        return;
    }
    while ((de = ceph_readdir(m, d)) != NULL) {
        const struct kairos_alloc *a;
        char sub[768], q[32], snapdir[800];
        struct ceph_dir_result *sd;
        struct dirent *se;
        int n;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        a = find(sp, de->d_name);
        if (!a)
            fail_msg("leaked directory %s/%s: not in the ledger", path, de->d_name);
        seen++;
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        n = ceph_getxattr(m, sub, "ceph.quota.max_bytes", q, sizeof(q) - 1);
        if (n < 0)
            fail_msg("share %s has no byte quota: %s", sub, strerror(-n));
        q[n] = 0;
        if (strtoull(q, NULL, 10) != a->bytes)
            fail_msg("share %s: quota %s, ledger %" PRIu64, sub, q, a->bytes);
        snprintf(snapdir, sizeof(snapdir), "%s/.snap", sub);
        assert_int_equal(ceph_opendir(m, snapdir, &sd), 0);
        while ((se = ceph_readdir(m, sd)) != NULL) {
            if (se->d_name[0] == '.' || se->d_name[0] == '_')
                continue;
            if (!has_snapshot(snapp, "share", de->d_name, se->d_name))
                fail_msg("leaked CephFS snapshot %s/%s", snapdir, se->d_name);
            (*n_snaps)++;
        }
        ceph_closedir(m, sd);
    }
    ceph_closedir(m, d);
    if (seen != sp->count)
        fail_msg("%zu shares in the ledger of %s, %zu directories", sp->count, project, seen);
}

static void check_buckets(struct kt *t, struct kairos_rgw *rgw, const char *project,
                          const struct kairos_alloc_page *bp)
{
    struct kairos_error err = {0};
    char uid[128];
    json_t *list = NULL, *b;
    size_t i, seen = 0;

    snprintf(uid, sizeof(uid), "kairos_%s$owner", project);
    for (char *c = uid; *c != '$'; c++)
        *c = *c == '-' ? '_' : *c;
    int rc = kairos_rgw_user_buckets(rgw, uid, &list, &err);
    if (rc == -ENOENT) {
        assert_int_equal(bp->count, 0);
        return;
    }
    if (rc < 0)
        fail_msg("bucket list of %s: %s", uid, err.msg);
    json_array_foreach(list, i, b)
    {
        const char *name = json_string_value(json_object_get(b, "bucket"));
        struct kairos_bucket_info info;

        assert_non_null(name);
        const struct kairos_alloc *a = find(bp, name);
        if (!a)
            fail_msg("leaked bucket %s of %s: not in the ledger", name, uid);
        seen++;
        if (kairos_bucket_info(t->k, project, name, &info, &err) < 0)
            fail_msg("bucket %s: %s", name, err.msg);
        if (info.size != a->bytes)
            fail_msg("bucket %s: quota %" PRIu64 ", ledger %" PRIu64, name, info.size, a->bytes);
    }
    json_decref(list);
    if (seen != bp->count)
        fail_msg("%zu buckets in the ledger of %s, %zu in radosgw", bp->count, project, seen);
}

/* The bindings of @kind's allocations named in @p; each entity prefix is checked against them. */
static unsigned check_bindings(struct kt *t, struct kairos_rgw *rgw, const char *project,
                               enum kairos_kind kind, const struct kairos_alloc_page *p,
                               const json_t *auth)
{
    static const char *const all[] = {"v0", "v1", "c0", "c1", "s0", "s1", "kb-0", "kb-1"};
    struct kairos_error err = {0};
    unsigned bound = 0;

    for (size_t a = 0; a < sizeof(all) / sizeof(all[0]); a++) {
        for (int i = 0; i < NAMES; i++) {
            struct kairos_binding bd;
            bool in_ledger = find(p, all[a]) && kairos_binding_get(t->k, project, kind, all[a],
                                                                   ids[i], &bd, &err) == 0;
            bool in_ceph = false;

            if (in_ledger && bd.pending)
                fail_msg("binding %s of %s still pending after the pass", ids[i], all[a]);
            if (kind == KAIROS_BUCKET) {
                char uid[256];
                json_t *u = NULL;
                snprintf(uid, sizeof(uid), "kairos_%s$%s.%s", project, all[a], ids[i]);
                for (char *c = uid; *c != '$'; c++)
                    *c = *c == '-' ? '_' : *c;
                in_ceph = kairos_rgw_user_get(rgw, uid, &u, &err) == 0;
                json_decref(u);
            } else {
                char entity[256];
                size_t j;
                json_t *e;
                snprintf(entity, sizeof(entity), "client.kairos.%s.%s.%s.%s", project,
                         kairos_kind_name(kind), all[a], ids[i]);
                json_array_foreach(json_object_get(auth, "auth_dump"), j, e)
                {
                    if (strcmp(json_string_value(json_object_get(e, "entity")), entity) == 0)
                        in_ceph = true;
                }
            }
            if (in_ledger != in_ceph)
                fail_msg("binding %s of %s %s/%s: %s in the ledger, %s in Ceph", ids[i],
                         kairos_kind_name(kind), project, all[a], in_ledger ? "" : "not",
                         in_ceph ? "present" : "absent");
            bound += in_ledger;
        }
    }
    return bound;
}

static void check_cephx_count(const json_t *auth, const char *project, unsigned expected)
{
    char prefix[128];
    unsigned n = 0;
    size_t j;
    json_t *e;

    snprintf(prefix, sizeof(prefix), "client.kairos.%s.", project);
    json_array_foreach(json_object_get(auth, "auth_dump"), j, e)
    {
        if (strncmp(json_string_value(json_object_get(e, "entity")), prefix, strlen(prefix)) == 0)
            n++;
    }
    if (n != expected)
        fail_msg("%u cephx entities of %s, %u volume and share bindings", n, project, expected);
}

static json_t *auth_list(struct kt *t)
{
    const char *cmd[] = {"{\"prefix\": \"auth ls\", \"format\": \"json\"}"};
    char *out = NULL, *status = NULL;
    size_t outlen = 0, slen = 0;
    json_t *j;

    assert_int_equal(rados_mon_command(t->rados, cmd, 1, "", 0, &out, &outlen, &status, &slen), 0);
    j = json_loadb(out, outlen, 0, NULL);
    rados_buffer_free(out);
    rados_buffer_free(status);
    assert_non_null(j);
    return j;
}

static void kill9_real_backends(void **state)
{
    const char *env_kills = getenv("KT_KILLS"), *env_seed = getenv("KT_SEED");
    unsigned kills = env_kills ? (unsigned)strtoul(env_kills, NULL, 10) : 40;
    unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : (unsigned)time(NULL);
    unsigned done = 0, at_point = 0, missed = 0, r = seed, vol_snaps = 0, share_snaps = 0;
    struct kairos_alloc_page *vp, *sp, *bp, *snapp;
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct kairos_quota q;
    struct ceph_mount_info *m;
    struct kairos_rgw *rgw;
    char project[64], pool[128];
    unsigned bound = 0, hits[NPOINTS] = {0}, passes = 0, swept = 0;
    uint64_t last_pass = now_ms();
    json_t *auth;
    struct kt t;

    (void)state;
    print_message("kill9: seed %u (KT_SEED=%u replays), %u kills (KT_KILLS)\n", seed, seed, kills);
    kt_open_isolated(&t, policy, NULL);
    t.cfg->reconcile.lease_ms = LEASE_MS;
    kairos_quota_unlimited(&q);
    kt_name(project, sizeof(project), "kill9");
    if (kairos_project_create(t.k, project, NULL, &q, &err) < 0)
        fail_msg("project create: %s", err.msg);
    snprintf(pool, sizeof(pool), "%s", t.pool);
    assert_int_equal(ceph_create(&m, t.cfg->ceph.client + strlen("client.")), 0);
    assert_int_equal(ceph_conf_read_file(m, t.cfg->ceph.conf), 0);
    if (t.cfg->ceph.keyring)
        ceph_conf_set(m, "keyring", t.cfg->ceph.keyring);
    assert_int_equal(ceph_select_filesystem(m, t.cfg->pools.cephfs_name), 0);
    assert_int_equal(ceph_mount(m, "/"), 0);
    for (unsigned i = 0; done < kills && i < kills * 3; i++) {
        size_t pi = (i / 2 + seed) % NPOINTS;
        const char *point = i % 2 == 0 ? points[pi] : NULL;
        char where[128];
        uint64_t t0 = now_ms();
        bool killed = one_kill(m, pool, project, point, 100 + next(&r) % 1500, next(&r), where,
                               sizeof(where));

        /* As the broker's background reconciler would, so that names stay usable. */
        if (now_ms() - last_pass >= LEASE_MS) {
            if (kairos_reconcile_run(t.k, LEASE_MS, &rep, &err) < 0)
                fail_msg("reconcile: %s", err.msg);
            /* Such as an image a killed child still watches: the next pass retries. */
            if (rep.errors)
                print_message("reconciler pass after kill %u: %u errors, last: %s\n", done,
                              rep.errors, rep.last_error);
            passes++;
            swept += rep.trash_swept;
            last_pass = now_ms();
        }
        if (!killed) {
            print_message("not killed: %s, last passed %s\n", point ? point : "random",
                          where[0] ? where : "(no point)");
            missed++;
            continue;
        }
        done++;
        if (point && strstr(where, point)) {
            at_point++;
            hits[pi]++;
        }
        print_message("kill %u: %s %s (%" PRIu64 " ms)\n", done,
                      point ? "at" : "random, last passed", where[0] ? where : "(no point yet)",
                      now_ms() - t0);
    }
    print_message("kill9: %u kills (%u at their chosen point), %u children not killed, %u "
                  "reconciler passes meanwhile\n",
                  done, at_point, missed, passes);
    for (size_t i = 0; i < NPOINTS; i++) {
        if (!hits[i])
            print_message("kill9: no kill at %s this run\n", points[i]);
    }
    assert_int_equal(done, kills);

    /*
     * One pass, once the killed children's RBD watches have timed out
     * (osd_client_watch_timeout, 30 s): until then an image they had open
     * cannot be removed, and a delete stays open for the next pass.
     */
    sleep_ms(WATCH_TIMEOUT_MS);
    if (kairos_reconcile_run(t.k, LEASE_MS, &rep, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    swept += rep.trash_swept;
    print_message("reconciler: %u released, %u errors %s\n", rep.released, rep.errors,
                  rep.last_error);
    print_message("kill9: %u childless snapshots swept from RBD's trash in the run\n", swept);
    assert_int_equal(rep.errors, 0);
    kt_assert_consistent(&t, project);

    committed(&t, project, KAIROS_VOLUME, &vp);
    committed(&t, project, KAIROS_SHARE, &sp);
    committed(&t, project, KAIROS_BUCKET, &bp);
    committed(&t, project, KAIROS_SNAPSHOT, &snapp);
    assert_int_equal(kairos_rgw_open(t.cfg, &rgw, &err), 0);
    check_volumes(&t, project, vp, snapp, &vol_snaps);
    check_shares(&t, m, project, sp, snapp, &share_snaps);
    check_buckets(&t, rgw, project, bp);
    if (vol_snaps + share_snaps != snapp->count) {
        for (size_t i = 0; i < snapp->count; i++)
            print_message("ledger snapshot %s\n", snapp->items[i].name);
        fail_msg("%zu snapshots in the ledger, %u in Ceph", snapp->count, vol_snaps + share_snaps);
    }
    auth = auth_list(&t);
    bound += check_bindings(&t, rgw, project, KAIROS_VOLUME, vp, auth);
    bound += check_bindings(&t, rgw, project, KAIROS_SHARE, sp, auth);
    check_cephx_count(auth, project, bound);
    check_bindings(&t, rgw, project, KAIROS_BUCKET, bp, auth);
    json_decref(auth);
    print_message("after the pass: %zu volumes, %zu shares, %zu buckets, %zu snapshots, %u "
                  "cephx bindings, all as in Ceph\n",
                  vp->count, sp->count, bp->count, snapp->count, bound);
    kairos_alloc_page_free(vp);
    kairos_alloc_page_free(sp);
    kairos_alloc_page_free(bp);
    kairos_alloc_page_free(snapp);

    if (kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err) < 0)
        fail_msg("forced delete: %s", err.msg);
    kairos_rgw_close(rgw);
    ceph_unmount(m);
    ceph_release(m);
    kt_close(&t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_real_backends),
    };

    self = argv[0];
    if (argc == 6 && strcmp(argv[1], "--child") == 0)
        return child_main(argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
