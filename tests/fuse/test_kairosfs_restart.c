/*
 * test_kairosfs_restart.c - a kairosfs mount outlives its daemon: mounted
 * with --supervise on the cluster of the ctest fixture, its daemon is
 * killed with SIGKILL at random moments, RESTARTS times, while
 *   - a writer loop overwrites 4 KiB blocks of a file on a share,
 *   - another does the same on a volume's file, each on one descriptor
 *     opened before the first kill (a handle the new daemons never saw),
 *     with an fdatasync now and then and a stat() of its file,
 *   - fio writes and verifies a file on the share, run after run (when fio
 *     is installed; scripts/install-deps installs it).
 * After each kill the supervisor starts a new daemon; every writer must go
 * on writing (within RESTART_WAIT_S). At the end:
 *   - no request failed (the kernel sends the dead daemon's requests again,
 *     FUSE_NOTIFY_RESEND, Linux 6.9 and later; on older kernels only those
 *     in flight may fail, one per writer and kill),
 *   - every fio run passed its verification,
 *   - a fresh mount reads back, block by block, the last write that each
 *     writer saw acknowledged: nothing acknowledged was lost.
 * The seed of the kill times is printed; KAIROSFS_RESTART_SEED replays it.
 * A second test plays a kernel before 6.9 (-o noresend): a request the
 * killed daemon owed fails with EIO, and only it. A third adds two shares
 * of one slot while mounted, kills the daemon, and checks that each keeps
 * its inode number.
 *
 * Needs: $KAIROS_CONF (the fixture), $KAIROSFS and $KAIROSFS_TEST_DIR
 * (run_test.sh).
 */
#include "harness.h"
#include "mount.h"
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)

#define RESTARTS 20
/* How long the writers may wait for a new daemon before the test fails. */
#define RESTART_WAIT_S 60
#define BLOCK          4096
#define NBLOCKS        256 /* a 1 MiB region of each file */
#define SHARE_BYTES    (64 * MiB)
#define DISK_BYTES     (16 * MiB)
#define OWED_AT        ((off_t)(NBLOCKS / 2) * BLOCK)

enum { W_SHARE, W_VOLUME, NWRITERS };

/* What a writer did, in memory it shares with the test. */
struct writer {
    char path[600];
    atomic_ulong acked;  /* writes that returned success */
    atomic_ulong failed; /* writes or syncs that returned an error */
    atomic_int last_errno;
    uint32_t seq[NBLOCKS];         /* per block: the last acknowledged write's number */
    unsigned char unsure[NBLOCKS]; /* a failed write may or may not have landed */
    pid_t pid;
};

struct shared {
    atomic_int stop;
    struct writer w[NWRITERS];
    atomic_ulong fio_runs;
    atomic_ulong fio_failed;
};

static struct kt T;
static char P[64];
static struct mount M; /* --supervise */
static struct shared *S;
static pid_t fio_pid;
static struct mount *M_OWED; /* a later test's own mount, while it is up */
static pid_t paused;         /* the OSD, stopped: teardown must let it go on */

/* ---- the writers ---- */

/* Block @b holds write @seq: the pair, again and again. */
static void fill(uint32_t *buf, uint32_t seq, uint32_t b)
{
    for (size_t i = 0; i < BLOCK / sizeof(*buf); i += 2) {
        buf[i] = seq;
        buf[i + 1] = b;
    }
}

static void writer_main(struct writer *w, unsigned seed)
{
    uint32_t buf[BLOCK / sizeof(uint32_t)];
    struct stat st;
    int fd = open(w->path, O_RDWR);

    if (fd < 0) {
        perror(w->path);
        _exit(2);
    }
    for (uint32_t seq = 1; !atomic_load(&S->stop); seq++) {
        uint32_t b = (uint32_t)rand_r(&seed) % NBLOCKS;

        fill(buf, seq, b);
        if (pwrite(fd, buf, BLOCK, (off_t)b * BLOCK) == BLOCK) {
            w->seq[b] = seq;
            w->unsure[b] = 0;
            atomic_fetch_add(&w->acked, 1);
        } else {
            w->unsure[b] = 1;
            atomic_store(&w->last_errno, errno);
            atomic_fetch_add(&w->failed, 1);
        }
        if (seq % 32 == 0 && fdatasync(fd) < 0) {
            atomic_store(&w->last_errno, errno);
            atomic_fetch_add(&w->failed, 1);
        }
        if (seq % 50 == 0 && stat(w->path, &st) < 0) {
            atomic_store(&w->last_errno, errno);
            atomic_fetch_add(&w->failed, 1);
        }
    }
    close(fd);
    _exit(0);
}

static void start_writer(struct writer *w, unsigned seed)
{
    w->pid = fork();
    assert_true(w->pid >= 0);
    if (w->pid == 0)
        writer_main(w, seed);
}

/* fio writes a file and reads it back, verified, run after run until told to stop. */
static void fio_main(const char *dir)
{
    char file[700], arg[800];

    snprintf(file, sizeof(file), "%s/shares/work/fio.dat", dir);
    snprintf(arg, sizeof(arg), "--filename=%s", file);
    while (!atomic_load(&S->stop)) {
        int status;
        pid_t pid = fork();

        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execlp("fio", "fio", "--name=restart", arg, "--size=4M", "--bs=64k", "--rw=randwrite",
                   "--direct=1", "--ioengine=psync", "--verify=crc32c", "--verify_fatal=1",
                   "--do_verify=1", "--verify_state_save=0", (char *)NULL);
            _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fio run failed (status %d)\n", status);
            atomic_fetch_add(&S->fio_failed, 1);
        }
        atomic_fetch_add(&S->fio_runs, 1);
    }
    _exit(0);
}

static bool have_fio(void)
{
    return system("command -v fio >/dev/null 2>&1") == 0;
}

/* ---- the daemon ---- */

/* The daemon @supervisor runs now; 0 if none. */
static pid_t supervised_daemon(pid_t supervisor)
{
    char path[128];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)supervisor, (int)supervisor);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

static pid_t daemon_pid(void)
{
    return supervised_daemon(M.pid);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Linux 6.9 and later send unanswered requests again (FUSE_NOTIFY_RESEND). */
static bool kernel_resends(void)
{
    struct utsname u;
    int major = 0, minor = 0;

    assert_int_equal(uname(&u), 0);
    sscanf(u.release, "%d.%d", &major, &minor);
    return major > 6 || (major == 6 && minor >= 9);
}

/* ---- set-up ---- */

static void make_file(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);

    assert_true(fd >= 0);
    /* Sized first: the blocks the writers overwrite exist before any kill. */
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

static int setup(void **state)
{
    struct kairos_quota q;
    struct kairos_error err = {0};
    char opts[1024];

    (void)state;
    test_dir_get();
    kt_open(&T, NULL);
    kt_name(P, sizeof(P), "kfr");
    kairos_quota_unlimited(&q);
    assert_int_equal(kairos_project_create(T.k, P, NULL, &q, &err), 0);
    if (kairos_share_create(T.k, P, "work", SHARE_BYTES, 0, &err) < 0 ||
        kairos_volume_create(T.k, P, "disk", DISK_BYTES, &err) < 0)
        fail_msg("provisioning: %s", err.msg);
    snprintf(opts, sizeof(opts), "conf=%s,project=%s,timeout=30", kt_conf_path(), P);
    mount_fs_with(&M, "mnt", "--supervise", opts);
    S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(S != MAP_FAILED);
    memset(S, 0, sizeof(*S));
    return 0;
}

static void stop_children(void)
{
    if (!S)
        return;
    atomic_store(&S->stop, 1);
    for (int i = 0; i < NWRITERS; i++)
        if (S->w[i].pid > 0 && wait_exit(S->w[i].pid, RESTART_WAIT_S) < 0) {
            kill(S->w[i].pid, SIGKILL);
            waitpid(S->w[i].pid, NULL, 0);
        }
    if (fio_pid > 0 && wait_exit(fio_pid, RESTART_WAIT_S) < 0) {
        kill(fio_pid, SIGKILL);
        waitpid(fio_pid, NULL, 0);
    }
    for (int i = 0; i < NWRITERS; i++)
        S->w[i].pid = 0;
    fio_pid = 0;
}

static int teardown(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    /* Every later test of the run shares the cluster. */
    if (paused > 0)
        kill(paused, SIGCONT);
    if (M_OWED)
        unmount_fs(M_OWED);
    if (M.pid > 0 || mounted(M.dir)) {
        /* Writers blocked on a dead mount end with it. */
        unmount_fs(&M);
    }
    stop_children();
    kairos_project_delete(T.k, P, KAIROS_DELETE_FORCE, &err);
    kt_close(&T);
    if (S)
        munmap(S, sizeof(*S));
    return 0;
}

/* ---- the test ---- */

/* Read back every block a writer wrote, through a fresh mount; count what differs. */
static int verify(const struct writer *w, const char *path)
{
    uint32_t buf[BLOCK / sizeof(uint32_t)], want[BLOCK / sizeof(uint32_t)];
    int fd = open(path, O_RDONLY), bad = 0;

    assert_true(fd >= 0);
    for (uint32_t b = 0; b < NBLOCKS; b++) {
        assert_int_equal(pread(fd, buf, BLOCK, (off_t)b * BLOCK), BLOCK);
        if (w->unsure[b])
            continue;
        if (w->seq[b] == 0)
            memset(want, 0, sizeof(want));
        else
            fill(want, w->seq[b], b);
        if (memcmp(buf, want, BLOCK) != 0) {
            fprintf(stderr, "%s: block %u holds write %u, not %u\n", path, b, buf[0], w->seq[b]);
            bad++;
        }
    }
    close(fd);
    return bad;
}

static void survives_kill9(void **state)
{
    const char *seed_env = getenv("KAIROSFS_RESTART_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
    unsigned long before[NWRITERS], failed = 0;
    double worst = 0, total = 0;
    char path[700], opts[1024];
    struct mount fresh = {0};
    bool fio = have_fio();

    (void)state;
    printf("restart test (%s): seed %u (KAIROSFS_RESTART_SEED=%u replays the kill times)\n", M.dir,
           seed, seed);
    fflush(stdout);
    snprintf(S->w[W_SHARE].path, sizeof(S->w[W_SHARE].path), "%s/shares/work/loop.dat", M.dir);
    snprintf(S->w[W_VOLUME].path, sizeof(S->w[W_VOLUME].path), "%s/volumes/disk", M.dir);
    make_file(S->w[W_SHARE].path, NBLOCKS * BLOCK);
    for (int i = 0; i < NWRITERS; i++)
        start_writer(&S->w[i], seed + (unsigned)i);
    if (fio) {
        fio_pid = fork();
        assert_true(fio_pid >= 0);
        if (fio_pid == 0)
            fio_main(M.dir);
    } else {
        fail_msg("fio is not installed (scripts/install-deps installs it)");
    }

    for (int k = 0; k < RESTARTS; k++) {
        pid_t old;
        double killed, back;
        bool moving = false;

        /* A random moment while the daemon serves: 50 to 650 ms into its work. */
        usleep(50000 + (useconds_t)(rand_r(&seed) % 600) * 1000);
        old = daemon_pid();
        assert_true(old > 0);
        for (int i = 0; i < NWRITERS; i++)
            before[i] = atomic_load(&S->w[i].acked);
        assert_int_equal(kill(old, SIGKILL), 0);
        killed = now_s();
        /* Every writer must write again, through a new daemon. */
        while (!moving && now_s() - killed < RESTART_WAIT_S) {
            usleep(10000);
            moving = daemon_pid() != old;
            for (int i = 0; moving && i < NWRITERS; i++)
                moving = atomic_load(&S->w[i].acked) > before[i] + 1;
        }
        if (!moving) {
            show_log(&M);
            fail_msg("restart %d: the writers stopped for %d s after kill -9 of daemon %d", k + 1,
                     RESTART_WAIT_S, (int)old);
        }
        back = now_s() - killed;
        printf("kill %d of daemon %d: writers going again after %.2f s\n", k + 1, (int)old, back);
        fflush(stdout);
        total += back;
        worst = back > worst ? back : worst;
    }
    /* Let fio finish a run on the last daemon. */
    for (unsigned long runs = atomic_load(&S->fio_runs), i = 0;
         atomic_load(&S->fio_runs) == runs && i < RESTART_WAIT_S * 20; i++)
        usleep(50000);
    stop_children();
    for (int i = 0; i < NWRITERS; i++) {
        printf("writer %s: %lu writes acknowledged, %lu failed (last errno %d)\n", S->w[i].path,
               atomic_load(&S->w[i].acked), atomic_load(&S->w[i].failed),
               atomic_load(&S->w[i].last_errno));
        failed += atomic_load(&S->w[i].failed);
    }
    printf("%d kills: writers going again after %.2f s on average, %.2f s at worst; "
           "fio: %lu runs, %lu failed\n",
           RESTARTS, total / RESTARTS, worst, atomic_load(&S->fio_runs),
           atomic_load(&S->fio_failed));
    fflush(stdout);
    if (kernel_resends())
        assert_int_equal(failed, 0);
    else
        assert_true(failed <= (unsigned long)RESTARTS * NWRITERS);
    assert_int_equal(atomic_load(&S->fio_failed), 0);
    assert_true(atomic_load(&S->fio_runs) > 0);

    /* The supervisor unmounts on SIGTERM. */
    assert_int_equal(unmount_fs(&M), 0);
    assert_false(mounted(M.dir));

    /* What every writer saw acknowledged is in Ceph. */
    snprintf(opts, sizeof(opts), "conf=%s,project=%s", kt_conf_path(), P);
    mount_fs(&fresh, "fresh", opts);
    snprintf(path, sizeof(path), "%s/shares/work/loop.dat", fresh.dir);
    assert_int_equal(verify(&S->w[W_SHARE], path), 0);
    snprintf(path, sizeof(path), "%s/volumes/disk", fresh.dir);
    assert_int_equal(verify(&S->w[W_VOLUME], path), 0);
    assert_int_equal(unmount_fs(&fresh), 0);
}

/* kill -9 @old, the daemon of @m's supervisor, and wait until a new one runs. */
static void kill_daemon(const struct mount *m, pid_t old)
{
    double t0;

    assert_int_equal(kill(old, SIGKILL), 0);
    t0 = now_s();
    while (supervised_daemon(m->pid) == old || supervised_daemon(m->pid) == 0) {
        if (now_s() - t0 > RESTART_WAIT_S)
            fail_msg("no new daemon %d s after kill -9 of %d", RESTART_WAIT_S, (int)old);
        usleep(10000);
    }
}

/*
 * On a kernel that cannot send them again (before 6.9; -o noresend acts
 * so), the requests a killed daemon had read and not answered fail with
 * EIO, and only those: with the OSD stopped (SIGSTOP), a read of a volume
 * waits in the daemon; the daemon is killed; its successor answers the
 * read EIO, and the same read then succeeds.
 */
static void owed_requests_fail_with_eio(void **state)
{
    struct mount m = {0};
    char opts[1024], path[700];
    struct {
        atomic_int done;
        ssize_t got;
        int err;
    } * r;
    pid_t reader, old, osd = kt_daemon_pid("osd.0");

    (void)state;
    r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(r != MAP_FAILED);
    memset(r, 0, sizeof(*r));
    snprintf(opts, sizeof(opts), "conf=%s,project=%s,timeout=0,noresend", kt_conf_path(), P);
    mount_fs_with(&m, "owed", "--supervise", opts);
    M_OWED = &m;
    snprintf(path, sizeof(path), "%s/volumes/disk", m.dir);
    /* The daemon serves (one that dies while starting is not started again). */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    assert_true(osd > 0);
    paused = osd;
    assert_int_equal(kill(osd, SIGSTOP), 0);
    reader = fork();
    assert_true(reader >= 0);
    if (reader == 0) {
        /*
         * O_DIRECT: the read itself is the request. A buffered read waits on
         * read-ahead instead, and when that fails the kernel reads again
         * (from the new daemon): it would not see the EIO at all.
         */
        static char buf[BLOCK] __attribute__((aligned(BLOCK)));
        int fd = open(path, O_RDONLY | O_DIRECT);
        /* Written by the first test (librbd answers a read of an object never written from
         * its object map, without the OSD); a new mount, so not in the page cache. */
        r->got = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), OWED_AT);
        r->err = errno;
        atomic_store(&r->done, 1);
        _exit(0);
    }
    /* The read waits in the daemon, on the stopped OSD. */
    sleep(2);
    if (atomic_load(&r->done))
        fail_msg("the read did not wait for the stopped OSD: %zd, %s", r->got, strerror(r->err));
    old = supervised_daemon(m.pid);
    assert_true(old > 0);
    kill_daemon(&m, old);
    assert_int_equal(kill(osd, SIGCONT), 0);
    paused = 0;
    assert_int_equal(wait_exit(reader, RESTART_WAIT_S), 0);
    printf("the read in flight at the kill: %zd, %s\n", r->got, strerror(r->err));
    assert_int_equal(r->got, -1);
    assert_int_equal(r->err, EIO);

    /* Only it: the mount serves, the same read now succeeds. */
    char buf[BLOCK];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, sizeof(buf), OWED_AT), BLOCK);
    close(fd);
    assert_int_equal(unmount_fs(&m), 0);
    M_OWED = NULL;
    munmap(r, sizeof(*r));
}

/* The slot a new mount gives @name alone: its home. */
static unsigned home_of(const char *name)
{
    static struct kfs_slot_map m;
    char one[1][32];
    unsigned slot;

    memset(&m, 0, sizeof(m));
    snprintf(one[0], sizeof(one[0]), "%s", name);
    kfs_slots_assign(&m, one[0], sizeof(one[0]), 1, &slot);
    return slot;
}

/* Wait until @path exists (the mount's refresh shows it). */
static void wait_for(const char *path)
{
    struct stat st;
    double t0 = now_s();

    while (stat(path, &st) < 0) {
        if (now_s() - t0 > RESTART_WAIT_S)
            fail_msg("%s did not appear in %d s", path, RESTART_WAIT_S);
        usleep(100000);
    }
}

/*
 * Two shares whose names share a slot, made while mounted in the order
 * that a new mount would not give them (the later name first), of two
 * sizes. After kill -9 the new daemon gives each the slot it had (the
 * mount's state keeps them): a directory of each, open since before the
 * kill, still reports its own share's size. (A daemon that assigned the
 * slots afresh would take each for the other.)
 */
static void slots_outlive_the_daemon(void **state)
{
    char x[32] = "", y[32] = "", opts[1024], px[700], py[700];
    struct kairos_error err = {0};
    struct mount m = {0};
    struct statvfs vx, vy, v;
    int fx, fy;
    pid_t old;

    (void)state;
    /* Pigeonholes: two of KFS_ID_SLOTS + 1 names share a home. */
    static unsigned seen[KFS_ID_SLOTS + 1];
    for (unsigned i = 1; !y[0]; i++) {
        char n[32];
        snprintf(n, sizeof(n), "%s-s%u", P, i);
        unsigned h = home_of(n);
        if (seen[h]) {
            snprintf(x, sizeof(x), "%s-s%u", P, seen[h]);
            snprintf(y, sizeof(y), "%s", n);
        }
        seen[h] = i;
    }
    /* x sorts first, so a new mount would give it the home slot. */
    if (strcmp(x, y) > 0) {
        char t[32];
        memcpy(t, x, sizeof(t));
        memcpy(x, y, sizeof(x));
        memcpy(y, t, sizeof(y));
    }
    snprintf(opts, sizeof(opts), "conf=%s,project=%s,refresh=1", kt_conf_path(), P);
    mount_fs_with(&m, "slots", "--supervise", opts);
    M_OWED = &m;
    snprintf(px, sizeof(px), "%s/shares/%s", m.dir, x);
    snprintf(py, sizeof(py), "%s/shares/%s", m.dir, y);
    if (kairos_share_create(T.k, P, y, 16 * MiB, 0, &err) < 0)
        fail_msg("share %s: %s", y, err.msg);
    wait_for(py);
    if (kairos_share_create(T.k, P, x, 8 * MiB, 0, &err) < 0)
        fail_msg("share %s: %s", x, err.msg);
    wait_for(px);
    fx = open(px, O_RDONLY | O_DIRECTORY);
    fy = open(py, O_RDONLY | O_DIRECTORY);
    assert_true(fx >= 0 && fy >= 0);
    assert_int_equal(fstatvfs(fx, &vx), 0);
    assert_int_equal(fstatvfs(fy, &vy), 0);
    assert_int_equal((uint64_t)vx.f_blocks * vx.f_frsize, 8 * MiB);
    assert_int_equal((uint64_t)vy.f_blocks * vy.f_frsize, 16 * MiB);

    old = supervised_daemon(m.pid);
    assert_true(old > 0);
    kill_daemon(&m, old);
    /* The kernel asks the new daemon about the node ids it holds. */
    assert_int_equal(fstatvfs(fx, &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, 8 * MiB);
    assert_int_equal(fstatvfs(fy, &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, 16 * MiB);
    close(fx);
    close(fy);
    assert_int_equal(unmount_fs(&m), 0);
    M_OWED = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(survives_kill9),
        cmocka_unit_test(owed_requests_fail_with_eio),
        cmocka_unit_test(slots_outlive_the_daemon),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
