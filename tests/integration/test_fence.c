/*
 * test_fence.c - steps that outlive their lease are refused.
 *
 * A broker can stall (a paused VM, a swapping host, SIGSTOP) between two
 * steps of a budget transfer for longer than the reconciler's lease. The
 * reconciler then finishes or undoes the transfer; when the broker wakes,
 * its next step must be refused, or the cluster budget no longer counts
 * what projects hold and the cluster can be over-admitted (invariant 2).
 * Children stop themselves at the fault points "budget.taken" (an
 * acquirer between take and give) and "budget.shed" (a trimmer between
 * its project and cluster steps); the test runs the reconciler past the
 * lease, resumes them, and checks that the budget is exact and that the
 * cluster admits no more than its limit.
 *
 * The same for requests against the real backends: a create or resize
 * paused past its lease, whose intent the reconciler rolled back, wakes up
 * after another request has made or resized the same allocation. It must
 * neither adopt nor remove what the other made (intent tags), and a resize
 * it no longer owns goes back to the size the ledger holds now, never
 * shrinking the volume.
 *
 * Also: the reconciler's lock stays held through a backend call longer
 * than the lock's own duration, so no second pass runs beside it.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <kairos/bucket.h>
#include <kairos/share.h>
#include <kairos/volume.h>
#include <rbd/librbd.h>

#include "budget.h"
#include "rgw.h"

#define MiB ((uint64_t)1 << 20)
/* A short lease, so that "past the lease" takes seconds. */
#define LEASE_MS 2000
/* Waiting for a child to reach its fault point. */
#define STOP_WAIT_S 60

/* 64 MiB of budget, volumes counted in full. */
static const char policy[] = "[capacity]\nusable = 64M\nfull_ratio = 1\nheadroom = 0\n"
                             "[overcommit]\nvolume = 1\nshare = 1\nbucket = 1\n";
static const char *self;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* The test's lease; a child takes its parent's from KT_LEASE_MS. */
static uint64_t lease_ms = LEASE_MS;

static void open_fenced(struct kt *t, const char *pool)
{
    const char *lease = getenv("KT_LEASE_MS");

    if (lease)
        lease_ms = strtoull(lease, NULL, 10);
    kt_open_isolated(t, policy, pool);
    t->cfg->reconcile.lease_ms = lease_ms;
}

static void new_project(struct kt *t, char *name, size_t len)
{
    struct kairos_error err = {0};
    struct kairos_quota q;

    kairos_quota_unlimited(&q);
    kt_name(name, len, "fence");
    if (kairos_project_create(t->k, name, NULL, &q, &err) < 0)
        fail_msg("project create: %s", err.msg);
}

static void reserve_commit(struct kt *t, const char *project, const char *name, uint64_t bytes)
{
    struct kairos_alloc_req req = {
        .project = project, .kind = KAIROS_VOLUME, .name = name, .bytes = bytes};
    struct kairos_reservation *res;
    struct kairos_error err = {0};

    if (kairos_ledger_reserve(t->k, &req, &res, &err) < 0)
        fail_msg("reserve %s/%s: %s", project, name, err.msg);
    assert_int_equal(kairos_ledger_commit(t->k, res, &err), 0);
    kairos_reservation_free(res);
}

/*
 * Child: one step, stopped at the fault point the parent chose.
 * argv: self --what POOL PROJECT [NAME BYTES]
 */
static int child_main(int argc, char **argv)
{
    struct kairos_error err = {0};
    const char *what = argv[1], *project = argv[3];
    const char *name = argc > 4 ? argv[4] : NULL;
    uint64_t bytes = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    struct kt t;
    int rc;

    open_fenced(&t, argv[2]);
    if (strcmp(what, "--volume-create") == 0) {
        rc = kairos_volume_create(t.k, project, name, bytes, &err);
    } else if (strcmp(what, "--volume-resize") == 0) {
        rc = kairos_volume_resize(t.k, project, name, bytes, 0, &err);
    } else if (strcmp(what, "--share-create") == 0) {
        rc = kairos_share_create(t.k, project, name, bytes, 0, &err);
    } else if (strcmp(what, "--share-resize") == 0) {
        rc = kairos_share_resize(t.k, project, name, bytes, 0, &err);
    } else if (strcmp(what, "--bucket-create") == 0) {
        rc = kairos_bucket_create(t.k, project, name, bytes, 0, &err);
    } else if (strcmp(what, "--acquire") == 0) {
        struct kairos_alloc_req req = {
            .project = argv[3], .kind = KAIROS_VOLUME, .name = "acquired", .bytes = 8 * MiB};
        struct kairos_reservation *res = NULL;
        rc = kairos_ledger_reserve(t.k, &req, &res, &err);
        if (rc == 0)
            rc = kairos_ledger_commit(t.k, res, &err);
        kairos_reservation_free(res);
    } else {
        rc = kairos_budget_trim(t.k, project, 0, &err);
    }
    if (rc < 0)
        fprintf(stderr, "child %s: %s\n", what, err.msg);
    kt_close(&t);
    return rc < 0 ? 1 : 0;
}

/* Start a child that stops itself at @point; return once it has. */
static pid_t start_stopped_op(const char *what, const char *pool, const char *project,
                              const char *name, uint64_t bytes, const char *point)
{
    char fault[128], size[32];
    int status;
    pid_t pid;

    snprintf(fault, sizeof(fault), "%s=stop", point);
    snprintf(size, sizeof(size), "%" PRIu64, bytes);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char lease[32];
        snprintf(lease, sizeof(lease), "%" PRIu64, lease_ms);
        setenv("KT_LEASE_MS", lease, 1);
        setenv("KAIROS_FAULT", fault, 1);
        if (name)
            execl("/proc/self/exe", self, what, pool, project, name, size, (char *)NULL);
        else
            execl("/proc/self/exe", self, what, pool, project, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < STOP_WAIT_S * 10; i++) {
        pid_t r = waitpid(pid, &status, WUNTRACED | WNOHANG);
        if (r == pid && WIFSTOPPED(status))
            return pid;
        if (r == pid)
            fail_msg("the %s child ended before %s (status %d)", what, point, status);
        sleep_ms(100);
    }
    kill(pid, SIGKILL);
    fail_msg("the %s child did not reach %s", what, point);
    return -1;
}

static pid_t start_stopped(const char *what, const char *pool, const char *project,
                           const char *point)
{
    return start_stopped_op(what, pool, project, NULL, 0, point);
}

/* Resume a stopped child and wait for its exit status (1: its request failed). */
static int resume(pid_t pid)
{
    int status;

    kill(pid, SIGCONT);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void pass_after_lease(struct kt *t)
{
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};

    sleep_ms((unsigned)lease_ms + 200);
    if (kairos_reconcile_run(t->k, 0, &rep, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    assert_false(rep.skipped);
    print_message("reconciler: %u transfers, %u errors %s\n", rep.transfers, rep.errors,
                  rep.last_error);
    assert_int_equal(rep.errors, 0);
}

/*
 * Invariant 2, as it can be checked from outside: the cluster counts
 * exactly what the projects hold, and filling the cluster to refusal never
 * admits more effective bytes than its limit.
 */
static void assert_budget_exact(struct kt *t, char projects[][64], int n)
{
    struct kairos_capacity_report cap;
    struct kairos_error err = {0};
    uint64_t granted = 0, grants = 0, eff = 0;
    char filler[64];
    int i, refused = 0;

    for (i = 0; i < n; i++) {
        struct kairos_audit a;
        assert_int_equal(kairos_ledger_audit(t->k, projects[i], &a, &err), 0);
        kt_assert_consistent(t, projects[i]);
        grants += a.grant;
    }
    assert_int_equal(kairos_budget_granted(t->k, &granted, &err), 0);
    if (granted != grants)
        fail_msg("the cluster counts %" PRIu64 " bytes granted, projects hold %" PRIu64, granted,
                 grants);
    /* Fill what is left, 1 MiB at a time, until the cluster refuses. */
    new_project(t, filler, sizeof(filler));
    for (i = 0; i < 128 && !refused; i++) {
        struct kairos_alloc_req req = {
            .project = filler, .kind = KAIROS_VOLUME, .name = NULL, .bytes = MiB};
        struct kairos_reservation *res;
        char name[32];
        int rc;
        snprintf(name, sizeof(name), "fill-%d", i);
        req.name = name;
        kairos_error_clear(&err);
        rc = kairos_ledger_reserve(t->k, &req, &res, &err);
        if (rc == -ENOSPC) {
            refused = 1;
            break;
        }
        if (rc < 0)
            fail_msg("fill: %s", err.msg);
        kairos_ledger_commit(t->k, res, &err);
        kairos_reservation_free(res);
    }
    assert_true(refused);
    for (i = 0; i < n; i++) {
        struct kairos_audit a;
        assert_int_equal(kairos_ledger_audit(t->k, projects[i], &a, &err), 0);
        eff += a.counted_eff;
    }
    {
        struct kairos_audit a;
        assert_int_equal(kairos_ledger_audit(t->k, filler, &a, &err), 0);
        eff += a.counted_eff;
    }
    assert_int_equal(kairos_capacity_get(t->k, &cap, &err), 0);
    print_message("admitted %" PRIu64 " of a %" PRIu64 " byte limit\n", eff, cap.limit);
    if (eff > cap.limit)
        fail_msg("over-admitted: %" PRIu64 " effective bytes allocated, limit %" PRIu64, eff,
                 cap.limit);
    assert_int_equal(kairos_project_delete(t->k, filler, KAIROS_DELETE_FORCE, &err), 0);
}

static void paused_acquirer_refused(void **state)
{
    char projects[1][64];
    struct kt t;
    pid_t pid;

    (void)state;
    open_fenced(&t, NULL);
    new_project(&t, projects[0], sizeof(projects[0]));
    /* The acquirer takes its slice from the cluster, then stops. */
    pid = start_stopped("--acquire", t.pool, projects[0], "budget.taken");
    /* Past the lease the reconciler voids the slice and takes it back... */
    pass_after_lease(&t);
    /* ...and a lease later forgets the void marker. */
    pass_after_lease(&t);
    pass_after_lease(&t);
    /* Awake, the acquirer's stale give must be refused; it takes a new slice. */
    assert_int_equal(resume(pid), 0);
    assert_budget_exact(&t, projects, 1);
    assert_int_equal(kairos_project_delete(t.k, projects[0], KAIROS_DELETE_FORCE, NULL), 0);
    kt_close(&t);
}

static void paused_trimmer_refused(void **state)
{
    struct kairos_error err = {0};
    char projects[2][64];
    struct kairos_reservation *res;
    struct kt t;
    pid_t pid;

    (void)state;
    open_fenced(&t, NULL);
    new_project(&t, projects[0], sizeof(projects[0]));
    /* A bystander holds budget, so a second credit cannot hide below zero. */
    new_project(&t, projects[1], sizeof(projects[1]));
    reserve_commit(&t, projects[1], "held", 8 * MiB);
    /* Hold a large slice, then free what it was for: all slack. */
    reserve_commit(&t, projects[0], "big", 16 * MiB);
    assert_int_equal(
        kairos_ledger_reserve_delete(t.k, projects[0], KAIROS_VOLUME, "big", &res, &err), 0);
    assert_int_equal(kairos_ledger_commit(t.k, res, &err), 0);
    kairos_reservation_free(res);
    /* The trimmer gives the slack up on the project's side, then stops. */
    pid = start_stopped("--trim", t.pool, projects[0], "budget.shed");
    /* The reconciler credits the cluster, then clears and forgets its marker. */
    pass_after_lease(&t);
    pass_after_lease(&t);
    pass_after_lease(&t);
    pass_after_lease(&t);
    /* Awake, the trimmer's stale credit must be refused. */
    assert_int_equal(resume(pid), 0);
    assert_budget_exact(&t, projects, 2);
    assert_int_equal(kairos_project_delete(t.k, projects[0], KAIROS_DELETE_FORCE, NULL), 0);
    assert_int_equal(kairos_project_delete(t.k, projects[1], KAIROS_DELETE_FORCE, NULL), 0);
    kt_close(&t);
}

/* ---- requests against the real backends ---- */

/*
 * In these, the reconciler rolls a paused request back while the request
 * is still within its fence (a pass with a lease of 1 ms, as when clocks
 * disagree), so that what guards the backend objects themselves is tested:
 * intent tags, and resizes that follow the committed size. Past its fence
 * a request stops before touching anything (forced_delete_races_creates).
 */
#define OPEN_FENCE_LEASE_MS 20000

static void pass_now(struct kt *t)
{
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};

    if (kairos_reconcile_run(t->k, 1, &rep, &err) < 0)
        fail_msg("reconcile: %s", err.msg);
    assert_false(rep.skipped);
    assert_int_equal(rep.errors, 0);
    assert_true(rep.released >= 1);
}

static void backend_project(struct kt *t, char *name, size_t len)
{
    new_project(t, name, len);
}

/* Open @image in @project's RBD namespace with the test's own client. */
static void open_image(struct kt *t, const char *project, const char *image, rados_ioctx_t *io,
                       rbd_image_t *img)
{
    assert_int_equal(rados_ioctx_create(t->rados, t->cfg->pools.block, io), 0);
    rados_ioctx_set_namespace(*io, project);
    if (rbd_open(*io, image, img, NULL) < 0)
        fail_msg("volume %s/%s is gone", project, image);
}

static uint64_t ledger_bytes(struct kt *t, const char *project, enum kairos_kind kind,
                             const char *name)
{
    struct kairos_error err = {0};
    struct kairos_alloc a;

    if (kairos_ledger_get(t->k, project, kind, name, &a, &err) < 0)
        fail_msg("%s %s/%s: %s", kairos_kind_name(kind), project, name, err.msg);
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    return a.bytes;
}

static void volume_create_race(void **state)
{
    struct kairos_error err = {0};
    char project[64], buf[16];
    rados_ioctx_t io;
    rbd_image_t img;
    struct kt t;
    pid_t pid;

    (void)state;
    lease_ms = OPEN_FENCE_LEASE_MS;
    open_fenced(&t, NULL);
    backend_project(&t, project, sizeof(project));
    /* A's create stops after its reservation; the reconciler rolls it back. */
    pid = start_stopped_op("--volume-create", t.pool, project, "race", 8 * MiB,
                           "volume.create.reserved");
    pass_now(&t);
    /* B makes the volume of that name, committed, and writes to it. */
    assert_int_equal(kairos_volume_create(t.k, project, "race", 8 * MiB, &err), 0);
    open_image(&t, project, "race", &io, &img);
    assert_int_equal(rbd_write(img, 0, 4, "data"), 4);
    rbd_close(img);
    rados_ioctx_destroy(io);
    /* A wakes: the image it meets is B's, neither adopted nor removed. */
    assert_int_equal(resume(pid), 1);
    assert_int_equal(ledger_bytes(&t, project, KAIROS_VOLUME, "race"), 8 * MiB);
    open_image(&t, project, "race", &io, &img);
    assert_int_equal(rbd_read(img, 0, 4, buf), 4);
    assert_memory_equal(buf, "data", 4);
    rbd_close(img);
    rados_ioctx_destroy(io);
    assert_int_equal(kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

static void volume_resize_rolled_back(void **state)
{
    struct kairos_error err = {0};
    char project[64], buf[4];
    uint64_t size;
    rados_ioctx_t io;
    rbd_image_t img;
    struct kt t;
    pid_t pid;

    (void)state;
    lease_ms = OPEN_FENCE_LEASE_MS;
    open_fenced(&t, NULL);
    backend_project(&t, project, sizeof(project));
    assert_int_equal(kairos_volume_create(t.k, project, "grow", 8 * MiB, &err), 0);
    /* A's grow to 16 MiB stops after its reservation; the reconciler rolls it back. */
    pid = start_stopped_op("--volume-resize", t.pool, project, "grow", 16 * MiB,
                           "volume.resize.reserved");
    pass_now(&t);
    /* B grows it to 12 MiB, committed, and writes past the old end. */
    assert_int_equal(kairos_volume_resize(t.k, project, "grow", 12 * MiB, 0, &err), 0);
    open_image(&t, project, "grow", &io, &img);
    assert_int_equal(rbd_write(img, 10 * MiB, 4, "past"), 4);
    assert_int_equal(rbd_flush(img), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
    /* A wakes, grows to 16 MiB and finds its intent gone: no shrink, data kept. */
    resume(pid);
    open_image(&t, project, "grow", &io, &img);
    assert_int_equal(rbd_get_size(img, &size), 0);
    assert_int_equal(rbd_read(img, 10 * MiB, 4, buf), 4);
    assert_memory_equal(buf, "past", 4);
    rbd_close(img);
    rados_ioctx_destroy(io);
    if (size < 12 * MiB)
        fail_msg("the rollback shrank the volume to %" PRIu64 " bytes", size);
    assert_int_equal(ledger_bytes(&t, project, KAIROS_VOLUME, "grow"), size);
    assert_int_equal(kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

static struct ceph_mount_info *mount_cephfs(struct kt *t)
{
    struct ceph_mount_info *m;

    assert_int_equal(ceph_create(&m, t->cfg->ceph.client + strlen("client.")), 0);
    assert_int_equal(ceph_conf_read_file(m, t->cfg->ceph.conf), 0);
    if (t->cfg->ceph.keyring)
        ceph_conf_set(m, "keyring", t->cfg->ceph.keyring);
    assert_int_equal(ceph_select_filesystem(m, t->cfg->pools.cephfs_name), 0);
    assert_int_equal(ceph_mount(m, "/"), 0);
    return m;
}

static uint64_t share_quota(struct ceph_mount_info *m, const char *path)
{
    char v[32];
    int n = ceph_getxattr(m, path, "ceph.quota.max_bytes", v, sizeof(v) - 1);

    assert_true(n > 0);
    v[n] = '\0';
    return strtoull(v, NULL, 10);
}

static void share_create_race(void **state)
{
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    char project[64], path[256], file[300];
    struct ceph_statx stx;
    struct kt t;
    pid_t pid;
    int fd;

    (void)state;
    lease_ms = OPEN_FENCE_LEASE_MS;
    open_fenced(&t, NULL);
    m = mount_cephfs(&t);
    backend_project(&t, project, sizeof(project));
    pid = start_stopped_op("--share-create", t.pool, project, "race", 8 * MiB,
                           "share.create.reserved");
    pass_now(&t);
    /* B makes the share of that name, committed, with a file in it. */
    assert_int_equal(kairos_share_create(t.k, project, "race", 4 * MiB, 0, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/race", t.cfg->pools.share_root, project);
    snprintf(file, sizeof(file), "%s/kept", path);
    fd = ceph_open(m, file, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    ceph_close(m, fd);
    /* A wakes: the directory it meets is B's, neither adopted nor removed. */
    assert_int_equal(resume(pid), 1);
    assert_int_equal(ceph_statx(m, file, &stx, CEPH_STATX_MODE, 0), 0);
    assert_int_equal(share_quota(m, path), 4 * MiB);
    assert_int_equal(ledger_bytes(&t, project, KAIROS_SHARE, "race"), 4 * MiB);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

static void share_resize_rolled_back(void **state)
{
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    char project[64], path[256];
    struct kt t;
    pid_t pid;

    (void)state;
    lease_ms = OPEN_FENCE_LEASE_MS;
    open_fenced(&t, NULL);
    m = mount_cephfs(&t);
    backend_project(&t, project, sizeof(project));
    assert_int_equal(kairos_share_create(t.k, project, "grow", 8 * MiB, 0, &err), 0);
    pid = start_stopped_op("--share-resize", t.pool, project, "grow", 16 * MiB,
                           "share.resize.reserved");
    pass_now(&t);
    assert_int_equal(kairos_share_resize(t.k, project, "grow", 12 * MiB, 0, &err), 0);
    /* A wakes, sets 16 MiB and finds its intent gone: the quota follows the ledger. */
    resume(pid);
    snprintf(path, sizeof(path), "%s/%s/grow", t.cfg->pools.share_root, project);
    assert_int_equal(share_quota(m, path), ledger_bytes(&t, project, KAIROS_SHARE, "grow"));
    assert_int_equal(share_quota(m, path), 12 * MiB);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

static void bucket_create_race(void **state)
{
    struct kairos_error err = {0};
    struct kairos_bucket_info info;
    char project[64];
    struct kt t;
    pid_t pid;

    (void)state;
    lease_ms = OPEN_FENCE_LEASE_MS;
    open_fenced(&t, NULL);
    backend_project(&t, project, sizeof(project));
    pid = start_stopped_op("--bucket-create", t.pool, project, "race-bucket", 8 * MiB,
                           "bucket.create.reserved");
    pass_now(&t);
    assert_int_equal(kairos_bucket_create(t.k, project, "race-bucket", 4 * MiB, 0, &err), 0);
    /* A wakes: the bucket it meets is B's, neither adopted nor removed. */
    assert_int_equal(resume(pid), 1);
    if (kairos_bucket_info(t.k, project, "race-bucket", &info, &err) < 0)
        fail_msg("bucket race-bucket: %s", err.msg);
    assert_int_equal(info.size, 4 * MiB);
    assert_int_equal(ledger_bytes(&t, project, KAIROS_BUCKET, "race-bucket"), 4 * MiB);
    assert_int_equal(kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

/*
 * Creates of each kind reserved just before a forced project delete, and
 * still at work after it: none may leave the project's RBD namespace, its
 * directory or its RGW owner behind once the delete is done.
 */
static void forced_delete_races_creates(void **state)
{
    struct kairos_error err = {0};
    struct kairos_project pr;
    struct ceph_mount_info *m;
    struct kairos_rgw *rgw;
    struct ceph_statx stx;
    char project[64], path[256], uid[128];
    json_t *user = NULL;
    rados_ioctx_t io;
    bool exists = true;
    pid_t pids[3];
    struct kt t;

    (void)state;
    /* A lease long enough for the creates to work within their fences. */
    lease_ms = 10000;
    open_fenced(&t, NULL);
    m = mount_cephfs(&t);
    assert_int_equal(kairos_rgw_open(t.cfg, &rgw, &err), 0);
    backend_project(&t, project, sizeof(project));
    pids[0] = start_stopped_op("--volume-create", t.pool, project, "late", 4 * MiB,
                               "volume.create.reserved");
    pids[1] = start_stopped_op("--share-create", t.pool, project, "late", 4 * MiB,
                               "share.create.reserved");
    pids[2] = start_stopped_op("--bucket-create", t.pool, project, "late-bucket", 4 * MiB,
                               "bucket.owner.marked");
    if (kairos_project_delete(t.k, project, KAIROS_DELETE_FORCE, &err) < 0)
        fail_msg("forced delete: %s", err.msg);
    /* The creates go on: namespace, directory, owner made again, then found rolled back. */
    for (int i = 0; i < 3; i++)
        resume(pids[i]);
    /* The reconciler finishes the delete a lease after it began. */
    pass_after_lease(&t);
    assert_int_equal(kairos_project_get(t.k, project, &pr, &err), -ENOENT);
    assert_int_equal(rados_ioctx_create(t.rados, t.cfg->pools.block, &io), 0);
    assert_int_equal(rbd_namespace_exists(io, project, &exists), 0);
    rados_ioctx_destroy(io);
    if (exists)
        fail_msg("the RBD namespace of deleted project %s was made again", project);
    snprintf(path, sizeof(path), "%s/%s", t.cfg->pools.share_root, project);
    if (ceph_statx(m, path, &stx, CEPH_STATX_MODE, 0) != -ENOENT)
        fail_msg("the directory of deleted project %s was made again", project);
    snprintf(uid, sizeof(uid), "kairos_%s$owner", project);
    for (char *c = uid; *c != '$'; c++)
        *c = *c == '-' ? '_' : *c;
    if (kairos_rgw_user_get(rgw, uid, &user, &err) != -ENOENT)
        fail_msg("the RGW owner %s of deleted project %s was made again", uid, project);
    json_decref(user);
    kairos_rgw_close(rgw);
    ceph_unmount(m);
    ceph_release(m);
    kt_close(&t);
    lease_ms = LEASE_MS;
}

/* ---- the reconciler's lock ---- */

struct slow {
    struct kt *t;
    unsigned ms;
};

static int slow_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                      struct kairos_error *err)
{
    (void)arg;
    (void)project;
    (void)name;
    (void)err;
    *bytes = 0;
    return 1;
}

/* A destroy slower than the reconciler's lock lasts. */
static int slow_destroy(void *arg, const char *project, const char *name, struct kairos_error *err)
{
    struct slow *s = arg;

    (void)project;
    (void)name;
    (void)err;
    sleep_ms(s->ms);
    return 0;
}

struct second {
    struct kt *t;
    struct kairos_reconcile_report rep;
    int rc;
};

static void *second_pass(void *arg)
{
    struct second *s = arg;
    struct kairos_error err = {0};
    struct kairos *k2;

    /* Well inside the first pass's slow destroy, past its lock's first term. */
    sleep_ms(LEASE_MS + 1500);
    /* The policy file was read at open and removed since: a new one for this handle. */
    free(s->t->cfg->policy.capacity);
    s->t->cfg->policy.capacity = kt_write_temp("capacity.ini", policy);
    s->rc = kairos_open(s->t->cfg, &k2, &err);
    if (s->rc == 0) {
        s->rc = kairos_reconcile_run(k2, 1, &s->rep, &err);
        kairos_close(k2);
    }
    return NULL;
}

static void lock_held_through_slow_call(void **state)
{
    struct slow s;
    struct kairos_kind_ops ops = {.probe = slow_probe, .destroy = slow_destroy, .arg = &s};
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct kairos_reservation *res;
    struct second sec = {0};
    char project[64];
    pthread_t th;
    struct kt t;

    (void)state;
    open_fenced(&t, NULL);
    /* The lock lasts lease + 1 s = 3 s; the destroy takes three times that. */
    s = (struct slow){&t, 3 * (LEASE_MS + 1000)};
    new_project(&t, project, sizeof(project));
    kt_backend_register(&t, KAIROS_VOLUME);
    reserve_commit(&t, project, "doomed", MiB);
    assert_int_equal(kt_object_create(&t, project, "doomed", MiB), 0);
    /* A delete that died: the reconciler rolls it forward through the slow destroy. */
    assert_int_equal(
        kairos_ledger_reserve_delete(t.k, project, KAIROS_VOLUME, "doomed", &res, &err), 0);
    kairos_reservation_free(res);
    assert_int_equal(kairos_kind_register(t.k, KAIROS_VOLUME, &ops), 0);
    sec.t = &t;
    pthread_create(&th, NULL, second_pass, &sec);
    assert_int_equal(kairos_reconcile_run(t.k, 1, &rep, &err), 0);
    pthread_join(th, NULL);
    assert_int_equal(sec.rc, 0);
    assert_false(rep.skipped);
    assert_int_equal(rep.committed, 1);
    if (!sec.rep.skipped)
        fail_msg("a second reconciler pass ran beside the first: its lock lapsed");
    kt_close(&t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paused_acquirer_refused),
        cmocka_unit_test(paused_trimmer_refused),
        cmocka_unit_test(volume_create_race),
        cmocka_unit_test(volume_resize_rolled_back),
        cmocka_unit_test(share_create_race),
        cmocka_unit_test(share_resize_rolled_back),
        cmocka_unit_test(bucket_create_race),
        cmocka_unit_test(forced_delete_races_creates),
        cmocka_unit_test(lock_held_through_slow_call),
    };

    self = argv[0];
    if (argc >= 4 && strncmp(argv[1], "--", 2) == 0)
        return child_main(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
