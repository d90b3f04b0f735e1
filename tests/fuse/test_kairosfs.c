/*
 * test_kairosfs.c - kairosfs mounted for real on the cluster of the ctest
 * fixture "cluster": a project with two shares and a volume is made with
 * libkairos, kairosfs mounts it on a temporary directory, and ordinary
 * system calls on the mount must behave as POSIX says, with the data
 * where Ceph keeps it:
 *
 *   rename over an existing file; unlink of an open file; sparse files
 *   (holes read as zeros and take no RADOS object); EDQUOT past a share's
 *   quota; symlink/readlink; link counts; chmod, chown and utimens; user.*
 *   xattrs (ceph.* ones refused); fsync'd data seen by another client;
 *   statfs reporting the quotas; the volume as a file of its size whose
 *   bytes librbd reads back; nothing of another project reachable; a
 *   mount from bindings' credentials; a cluster outage answered with
 *   ETIMEDOUT and recovered from; SIGTERM unmounting cleanly.
 *
 * Needs: $KAIROS_CONF (the fixture), $KAIROSFS (the binary) and
 * $KAIROSFS_TEST_DIR (an empty directory for mount points and logs, which
 * run_test.sh checks and cleans after the test, whatever happened).
 * Every mount is undone in teardown, by SIGTERM or else fusermount3 -u.
 */
#include "harness.h"
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <jansson.h>
#include <rbd/librbd.h>

#define MiB ((uint64_t)1 << 20)

/* The project under test: a small share for quota tests, a larger one, a volume. */
#define PROJECT_SHARE_QUOTA (64 * MiB)
#define HOME_BYTES          (8 * MiB)
#define DATA_BYTES          (32 * MiB)
#define DISK_BYTES          (32 * MiB)
/* kairosfs's request timeout in these tests: short, for the outage test. */
#define TIMEOUT_S 5
static struct kt T;
static char P1[64], P2[64];
static const char *test_dir;
static struct mount M;  /* P1 through the config (admin identity) */
static struct mount B;  /* P1 through bindings' credentials */
static pid_t paused[2]; /* cluster daemons stopped by the outage test */

/* ---- set-up ---- */

static bool mds_stopped; /* by mds_stopped_times_out(), until it starts it again */

/* scripts/minicluster @verb DIR mds.a, on the fixture's cluster; its exit status. */
static int minicluster_mds(const char *verb)
{
    char cmd[1024], dir[512], *slash;

    snprintf(dir, sizeof(dir), "%s", kt_conf_path());
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(cmd, sizeof(cmd), "%s %s %s mds.a", MINICLUSTER, verb, dir);
    return system(cmd);
}

static void resume_cluster(void)
{
    for (int i = 0; i < 2; i++)
        if (paused[i] > 0) {
            kill(paused[i], SIGCONT);
            paused[i] = 0;
        }
    if (mds_stopped && minicluster_mds("start-daemon") == 0)
        mds_stopped = false;
}

static int setup(void **state)
{
    struct kairos_quota q;
    struct kairos_error err = {0};
    char opts[1024];

    (void)state;
    test_dir = test_dir_get();
    kt_open(&T, NULL);
    kt_name(P1, sizeof(P1), "kfs");
    kt_name(P2, sizeof(P2), "kfs");
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_SHARE].bytes = PROJECT_SHARE_QUOTA;
    assert_int_equal(kairos_project_create(T.k, P1, NULL, &q, &err), 0);
    assert_int_equal(kairos_project_create(T.k, P2, NULL, &q, &err), 0);
    if (kairos_share_create(T.k, P1, "home", HOME_BYTES, 0, &err) < 0 ||
        kairos_share_create(T.k, P1, "data", DATA_BYTES, 0, &err) < 0 ||
        kairos_volume_create(T.k, P1, "disk", DISK_BYTES, &err) < 0 ||
        kairos_share_create(T.k, P2, "secret", HOME_BYTES, 0, &err) < 0 ||
        kairos_volume_create(T.k, P2, "vm", DISK_BYTES, &err) < 0)
        fail_msg("provisioning: %s", err.msg);
    snprintf(opts, sizeof(opts), "conf=%s,project=%s,timeout=%d", kt_conf_path(), P1, TIMEOUT_S);
    mount_fs(&M, "mnt", opts);
    return 0;
}

static int teardown(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    resume_cluster();
    unmount_fs(&B);
    unmount_fs(&M);
    kairos_project_delete(T.k, P1, KAIROS_DELETE_FORCE, &err);
    kairos_project_delete(T.k, P2, KAIROS_DELETE_FORCE, &err);
    kt_close(&T);
    return 0;
}

/* ---- helpers ---- */

static const char *at(const char *rel)
{
    static char path[4][1024];
    static int next;
    char *p = path[next++ % 4];

    snprintf(p, sizeof(path[0]), "%s/%s", M.dir, rel);
    return p;
}

static void put_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

/* The whole (small) file as a string, in a static buffer. */
static const char *get_file(const char *path)
{
    static char buf[4096];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

/* The names in @dir, sorted, joined by spaces. */
static const char *list_dir(const char *dir)
{
    static char out[4096];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);

    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            if (out[0])
                strncat(out, " ", sizeof(out) - strlen(out) - 1);
            strncat(out, names[i]->d_name, sizeof(out) - strlen(out) - 1);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A libcephfs client of our own, as the administrator: "another client". */
static struct ceph_mount_info *admin_cephfs(void)
{
    struct ceph_mount_info *cm;

    assert_int_equal(ceph_create(&cm, T.cfg->ceph.client + strlen("client.")), 0);
    assert_int_equal(ceph_conf_read_file(cm, T.cfg->ceph.conf), 0);
    if (T.cfg->ceph.keyring)
        ceph_conf_set(cm, "keyring", T.cfg->ceph.keyring);
    ceph_conf_set(cm, "client_mount_timeout", "30");
    assert_int_equal(ceph_select_filesystem(cm, T.cfg->pools.cephfs_name), 0);
    assert_int_equal(ceph_mount(cm, "/"), 0);
    return cm;
}

/* ---- the tests ---- */

static void layout_shows_the_project_only(void **state)
{
    struct stat st;

    (void)state;
    assert_string_equal(list_dir(M.dir), "shares volumes");
    assert_string_equal(list_dir(at("shares")), "data home");
    assert_string_equal(list_dir(at("volumes")), "disk");
    /* Another project's share and volume: not there, by any path. */
    assert_int_equal(stat(at("shares/secret"), &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(stat(at("volumes/vm"), &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(stat(at("shares/home/../../shares/secret"), &st), -1);
    /* ".." of a share is /shares, never the project's directory in CephFS. */
    assert_int_equal(stat(at("shares/home/.."), &st), 0);
    assert_int_equal(st.st_ino, 2);
    /* The fixed tree is not the user's to change. */
    assert_int_equal(mkdir(at("shares/mine"), 0755), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(rmdir(at("shares/home")), -1);
}

static void rename_over_existing(void **state)
{
    struct stat st;

    (void)state;
    put_file(at("shares/data/old"), "new contents");
    put_file(at("shares/data/target"), "to be replaced");
    assert_int_equal(rename(at("shares/data/old"), at("shares/data/target")), 0);
    assert_string_equal(get_file(at("shares/data/target")), "new contents");
    assert_int_equal(stat(at("shares/data/old"), &st), -1);
    assert_int_equal(errno, ENOENT);
    /* Between shares (two quotas) a rename is a copy: EXDEV, and mv copies. */
    assert_int_equal(rename(at("shares/data/target"), at("shares/home/target")), -1);
    assert_int_equal(errno, EXDEV);
    assert_int_equal(unlink(at("shares/data/target")), 0);
}

static void unlink_open_file(void **state)
{
    char buf[64] = "";
    struct stat st;
    int fd;

    (void)state;
    put_file(at("shares/data/open"), "still here");
    fd = open(at("shares/data/open"), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(unlink(at("shares/data/open")), 0);
    assert_int_equal(stat(at("shares/data/open"), &st), -1);
    assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 10);
    assert_string_equal(buf, "still here");
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_nlink, 0);
    close(fd);
}

static void sparse_file(void **state)
{
    const uint64_t off = 12 * MiB; /* past three whole 4 MiB RADOS objects */
    char buf[4096], zero[4096] = {0}, oid[64];
    rados_ioctx_t io;
    struct stat st;
    uint64_t size;
    time_t mtime;
    int fd;

    (void)state;
    memset(buf, 's', sizeof(buf));
    fd = open(at("shares/data/sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
    assert_int_equal(fsync(fd), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, (off_t)(off + sizeof(buf)));
    /* The hole reads as zeros, at its start, middle and end. */
    for (uint64_t o = 0; o < off; o += off / 2 - sizeof(buf)) {
        assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)o), (ssize_t)sizeof(buf));
        assert_memory_equal(buf, zero, sizeof(buf));
    }
    close(fd);
    /*
     * CephFS reports st_blocks from the size, not from what is stored, so
     * the proof that the hole takes no space is in RADOS: the objects of
     * the hole do not exist, the one written does.
     */
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.cephfs_data, &io), 0);
    snprintf(oid, sizeof(oid), "%s.data", P1); /* the share's own namespace */
    rados_ioctx_set_namespace(io, oid);
    for (unsigned obj = 0; obj < 4; obj++) {
        snprintf(oid, sizeof(oid), "%llx.%08x", (unsigned long long)st.st_ino, obj);
        assert_int_equal(rados_stat(io, oid, &size, &mtime), obj == 3 ? 0 : -ENOENT);
    }
    rados_ioctx_destroy(io);
    assert_int_equal(unlink(at("shares/data/sparse")), 0);
}

static void write_past_quota_is_edquot(void **state)
{
    static char buf[MiB];
    uint64_t written = 0;
    ssize_t n = 0;
    int fd, err = 0;

    (void)state;
    memset(buf, 'q', sizeof(buf));
    fd = open(at("shares/home/big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    /* Each fsync lets the MDS learn the size, so the client sees the quota fill. */
    for (int i = 0; i < 32 && err == 0; i++) {
        n = pwrite(fd, buf, sizeof(buf), (off_t)written);
        if (n < 0)
            err = errno;
        else if (fsync(fd) < 0)
            err = errno;
        if (n > 0)
            written += (uint64_t)n;
    }
    close(fd);
    assert_int_equal(err, EDQUOT);
    assert_true(written >= HOME_BYTES && written < 4 * HOME_BYTES);
    assert_int_equal(unlink(at("shares/home/big")), 0);
}

static void symlink_and_readlink(void **state)
{
    char buf[256];
    struct stat st;

    (void)state;
    assert_int_equal(symlink("some/where/else", at("shares/data/link")), 0);
    assert_int_equal(lstat(at("shares/data/link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(readlink(at("shares/data/link"), buf, sizeof(buf)), 15);
    assert_memory_equal(buf, "some/where/else", 15);
    put_file(at("shares/data/real"), "via link");
    assert_int_equal(symlink("real", at("shares/data/rel")), 0);
    assert_string_equal(get_file(at("shares/data/rel")), "via link");
    assert_int_equal(unlink(at("shares/data/link")), 0);
    assert_int_equal(unlink(at("shares/data/rel")), 0);
    assert_int_equal(unlink(at("shares/data/real")), 0);
}

static void hard_links_count(void **state)
{
    struct stat a, b;

    (void)state;
    put_file(at("shares/data/one"), "linked");
    assert_int_equal(link(at("shares/data/one"), at("shares/data/two")), 0);
    assert_int_equal(stat(at("shares/data/one"), &a), 0);
    assert_int_equal(stat(at("shares/data/two"), &b), 0);
    assert_int_equal(a.st_nlink, 2);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(unlink(at("shares/data/one")), 0);
    assert_int_equal(stat(at("shares/data/two"), &b), 0);
    assert_int_equal(b.st_nlink, 1);
    assert_string_equal(get_file(at("shares/data/two")), "linked");
    assert_int_equal(unlink(at("shares/data/two")), 0);
    /* A directory has 2 + one link per subdirectory. */
    assert_int_equal(mkdir(at("shares/data/dir"), 0755), 0);
    assert_int_equal(mkdir(at("shares/data/dir/sub"), 0755), 0);
    assert_int_equal(stat(at("shares/data/dir"), &a), 0);
    assert_int_equal(a.st_nlink, 3);
    assert_int_equal(rmdir(at("shares/data/dir")), -1);
    assert_int_equal(errno, ENOTEMPTY);
    assert_int_equal(rmdir(at("shares/data/dir/sub")), 0);
    assert_int_equal(rmdir(at("shares/data/dir")), 0);
}

static void chmod_chown_utimens(void **state)
{
    struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 123456789},
                                {.tv_sec = 1200000000, .tv_nsec = 987654321}};
    struct stat st;

    (void)state;
    put_file(at("shares/data/attrs"), "x");
    assert_int_equal(chmod(at("shares/data/attrs"), 0640), 0);
    assert_int_equal(chown(at("shares/data/attrs"), 1234, 5678), 0);
    assert_int_equal(utimensat(AT_FDCWD, at("shares/data/attrs"), times, 0), 0);
    assert_int_equal(stat(at("shares/data/attrs"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 5678);
    assert_int_equal(st.st_atim.tv_sec, times[0].tv_sec);
    assert_int_equal(st.st_mtim.tv_sec, times[1].tv_sec);
    assert_int_equal(st.st_mtim.tv_nsec, times[1].tv_nsec);
    assert_int_equal(truncate(at("shares/data/attrs"), 5000), 0);
    assert_int_equal(stat(at("shares/data/attrs"), &st), 0);
    assert_int_equal(st.st_size, 5000);
    assert_int_equal(unlink(at("shares/data/attrs")), 0);
}

static void user_xattrs(void **state)
{
    char buf[64];
    ssize_t n;

    (void)state;
    put_file(at("shares/data/xa"), "x");
    assert_int_equal(setxattr(at("shares/data/xa"), "user.color", "blue", 4, 0), 0);
    assert_int_equal(getxattr(at("shares/data/xa"), "user.color", buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "blue", 4);
    assert_int_equal(getxattr(at("shares/data/xa"), "user.color", NULL, 0), 4);
    n = listxattr(at("shares/data/xa"), buf, sizeof(buf));
    assert_true(n > 0 && memmem(buf, (size_t)n, "user.color", 11));
    assert_int_equal(setxattr(at("shares/data/xa"), "user.color", "red", 3, XATTR_CREATE), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(removexattr(at("shares/data/xa"), "user.color"), 0);
    assert_int_equal(getxattr(at("shares/data/xa"), "user.color", buf, sizeof(buf)), -1);
    assert_int_equal(errno, ENODATA);
    /* Quotas and layouts are the broker's: refused even to root on the mount. */
    assert_int_equal(setxattr(at("shares/home"), "ceph.quota.max_bytes", "0", 1, 0), -1);
    assert_int_equal(errno, EPERM);
    /* Reading them is fine. */
    assert_true(getxattr(at("shares/home"), "ceph.quota.max_bytes", buf, sizeof(buf)) > 0);
    assert_int_equal(unlink(at("shares/data/xa")), 0);
}

static void fsync_reaches_other_clients(void **state)
{
    char path[512], buf[64] = "";
    struct ceph_mount_info *cm;
    int fd;

    (void)state;
    fd = open(at("shares/data/durable"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "acknowledged", 12), 12);
    assert_int_equal(fsync(fd), 0);
    /* Another CephFS client reads it while the file is still open here. */
    cm = admin_cephfs();
    snprintf(path, sizeof(path), "%s/%s/data/durable", T.cfg->pools.share_root, P1);
    int cfd = ceph_open(cm, path, O_RDONLY, 0);
    assert_true(cfd >= 0);
    assert_int_equal(ceph_read(cm, cfd, buf, sizeof(buf) - 1, 0), 12);
    assert_string_equal(buf, "acknowledged");
    ceph_close(cm, cfd);
    ceph_unmount(cm);
    ceph_release(cm);
    close(fd);
    assert_int_equal(unlink(at("shares/data/durable")), 0);
}

/*
 * The mount reads ahead 4 MiB (the default of -o readahead_kb), not the
 * kernel's 128 KiB: set after INIT, whose answer would lower it again.
 */
static void readahead_is_set(void **state)
{
    char line[4096], dev[64] = "", mnt[4096], path[128], kb[32] = "";
    FILE *f = fopen("/proc/self/mountinfo", "r");

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%*s %*s %63s %*s %4095s", path, mnt) == 2 && strcmp(mnt, M.dir) == 0)
            snprintf(dev, sizeof(dev), "%s", path);
    fclose(f);
    assert_true(dev[0] != '\0');
    snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
    /* Set by a thread of the daemon once it answered: give it a moment. */
    for (int i = 0; i < 50 && strcmp(kb, "4096\n") != 0; i++) {
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(kb, sizeof(kb), f));
        fclose(f);
        if (strcmp(kb, "4096\n") != 0)
            usleep(100 * 1000);
    }
    assert_string_equal(kb, "4096\n");
}

static void statfs_reports_quotas(void **state)
{
    struct statvfs v;

    (void)state;
    /* The whole mount and /shares: the project's share quota. */
    assert_int_equal(statvfs(M.dir, &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, PROJECT_SHARE_QUOTA);
    assert_true(v.f_bavail <= v.f_blocks);
    assert_int_equal(statvfs(at("shares"), &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, PROJECT_SHARE_QUOTA);
    /* Inside a share: that share's quota. */
    assert_int_equal(statvfs(at("shares/home"), &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, HOME_BYTES);
    assert_int_equal(statvfs(at("shares/data"), &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, DATA_BYTES);
    assert_true(v.f_bsize >= MiB);
}

static void volume_is_a_file(void **state)
{
    static char buf[MiB], back[MiB];
    rados_ioctx_t io;
    rbd_image_t img;
    struct stat st;
    int fd;

    (void)state;
    assert_int_equal(stat(at("volumes/disk"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, (off_t)DISK_BYTES);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)(i * 7 + 3);
    fd = open(at("volumes/disk"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, sizeof(buf), (off_t)MiB), (ssize_t)sizeof(buf));
    assert_int_equal(fsync(fd), 0);
    /* A block device does not grow: writing at its end is ENOSPC, resizing EPERM. */
    assert_int_equal(pwrite(fd, buf, 16, (off_t)DISK_BYTES), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(ftruncate(fd, (off_t)MiB), -1);
    assert_int_equal(errno, EPERM);
    close(fd);
    /* librbd reads what the mount wrote. */
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, P1);
    assert_int_equal(rbd_open_read_only(io, "disk", &img, NULL), 0);
    assert_int_equal(rbd_read(img, MiB, sizeof(back), back), (ssize_t)sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));
    rbd_close(img);
    rados_ioctx_destroy(io);
    /* And the mount reads it back too, past the end short. */
    fd = open(at("volumes/disk"), O_RDONLY);
    assert_int_equal(pread(fd, back, sizeof(back), (off_t)MiB), (ssize_t)sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(pread(fd, back, sizeof(back), (off_t)(DISK_BYTES - 100)), 100);
    close(fd);
}

/* kairos_binding_create()'s JSON, as a "NAME": {...} member of a credentials file. */
/* Poll (a refresh is 5 s; 60 s at most) until @rel's directory lists it (@present) or not. */
static void wait_listed(const char *rel, bool present)
{
    char dir[1024];
    const char *name = strrchr(rel, '/') + 1;
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", at(rel));
    *strrchr(dir, '/') = '\0';
    for (int i = 0; i < 300; i++) {
        DIR *d = opendir(dir);
        struct dirent *e;
        bool found = false;

        while (d && (e = readdir(d)))
            found |= strcmp(e->d_name, name) == 0;
        if (d)
            closedir(d);
        if (found == present && (stat(at(rel), &st) == 0) == present)
            return;
        usleep(200000);
    }
    fail_msg("%s did not %s in 60 s", rel, present ? "appear" : "vanish");
}

/* The mount through the config follows the ledger: a new share and volume, a deleted share. */
static void follows_the_ledger(void **state)
{
    struct kairos_error err = {0};
    struct stat st;

    (void)state;
    assert_int_equal(kairos_share_create(T.k, P1, "late", HOME_BYTES, 0, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, P1, "extra", MiB, &err), 0);
    wait_listed("shares/late", true);
    wait_listed("volumes/extra", true);
    put_file(at("shares/late/f"), "late");
    assert_int_equal(stat(at("volumes/extra"), &st), 0);
    assert_int_equal(st.st_size, MiB);
    assert_int_equal(kairos_share_delete(T.k, P1, "late", KAIROS_DELETE_FORCE, &err), 0);
    wait_listed("shares/late", false);
    assert_int_equal(stat(at("shares/late/f"), &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(list_dir(at("shares")), "data home");
}

static void add_binding(FILE *f, enum kairos_kind kind, const char *alloc, const char *id,
                        unsigned flags, const char *name, bool comma)
{
    struct kairos_error err = {0};
    char *creds = NULL;

    if (kairos_binding_create(T.k, P1, kind, alloc, id, flags, &creds, &err) < 0)
        fail_msg("bind %s: %s", alloc, err.msg);
    fprintf(f, "%s\"%s\": %s", comma ? ", " : "", name, creds);
    free(creds);
}

static void mount_from_bindings(void **state)
{
    char path[600], opts[1024], buf[64] = "";
    struct statvfs v;
    FILE *f;
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "%s/creds.json", test_dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"project\": \"%s\", \"shares\": {", P1);
    add_binding(f, KAIROS_SHARE, "home", "fs-home", 0, "home", false);
    add_binding(f, KAIROS_SHARE, "data", "fs-data", 0, "data", true);
    /* The same share once more, read-only, under a name of the file's choosing. */
    add_binding(f, KAIROS_SHARE, "data", "fs-data-ro", KAIROS_BIND_READ_ONLY, "reader", true);
    fprintf(f, "}, \"volumes\": {");
    add_binding(f, KAIROS_VOLUME, "disk", "fs-disk", 0, "disk", false);
    fprintf(f, "}}\n");
    fclose(f);
    chmod(path, 0600);
    snprintf(opts, sizeof(opts), "creds=%s,timeout=%d", path, TIMEOUT_S);
    mount_fs(&B, "bound", opts);

    snprintf(path, sizeof(path), "%s/shares", B.dir);
    assert_string_equal(list_dir(path), "data home reader");
    /* A file written through one mount is read through the other. */
    put_file(at("shares/data/shared"), "both mounts");
    snprintf(path, sizeof(path), "%s/shares/data/shared", B.dir);
    assert_string_equal(get_file(path), "both mounts");
    /* A read-only binding reads and refuses every change with EROFS. */
    snprintf(path, sizeof(path), "%s/shares/reader/shared", B.dir);
    assert_string_equal(get_file(path), "both mounts");
    assert_int_equal(open(path, O_WRONLY), -1);
    assert_int_equal(errno, EROFS);
    snprintf(path, sizeof(path), "%s/shares/reader/new", B.dir);
    assert_int_equal(open(path, O_WRONLY | O_CREAT, 0644), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(mkdir(path, 0755), -1);
    assert_int_equal(errno, EROFS);
    snprintf(path, sizeof(path), "%s/volumes/disk", B.dir);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, 8, (off_t)MiB), 8);
    assert_int_equal(buf[1], (char)10);
    close(fd);
    /* Bindings reach only their shares: the project is what they add up to. */
    assert_int_equal(statvfs(B.dir, &v), 0);
    assert_int_equal((uint64_t)v.f_blocks * v.f_frsize, HOME_BYTES + 2 * DATA_BYTES);
    assert_int_equal(unlink(at("shares/data/shared")), 0);
    assert_int_equal(unmount_fs(&B), 0);
    assert_false(mounted(B.dir));
}

/*
 * A volume's key handed in as a share's: ceph_mount() would wait for an MDS
 * map it may not read forever; kairosfs gives up, says so and mounts nothing.
 */
static void wrong_caps_give_up(void **state)
{
    char path[600], dir[600], log[600], opts[1024], line[512] = "", *creds = NULL;
    const char *bin = getenv("KAIROSFS");
    struct kairos_error err = {0};
    json_t *j;
    int status;
    pid_t pid;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/wrong.json", test_dir);
    snprintf(dir, sizeof(dir), "%s/wrong", test_dir);
    snprintf(log, sizeof(log), "%s/wrong.log", test_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    /* Where the share is, and the volume binding's key to get there. */
    assert_int_equal(
        kairos_binding_create(T.k, P1, KAIROS_VOLUME, "disk", "fs-wrong", 0, &creds, &err), 0);
    j = json_loads(creds, 0, NULL);
    free(creds);
    assert_non_null(j);
    json_object_set_new(j, "fs_name", json_string(T.cfg->pools.cephfs_name));
    snprintf(line, sizeof(line), "%s/%s/home", T.cfg->pools.share_root, P1);
    json_object_set_new(j, "path", json_string(line));
    json_object_del(j, "image");
    creds = json_dumps(j, 0);
    json_decref(j);
    fprintf(f, "{\"project\": \"%s\", \"shares\": {\"home\": %s}}\n", P1, creds);
    free(creds);
    fclose(f);
    line[0] = '\0';
    snprintf(opts, sizeof(opts), "creds=%s,timeout=%d", path, TIMEOUT_S);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        execl(bin, bin, "-f", "-o", opts, dir, (char *)NULL);
        _exit(127);
    }
    /* One timeout per connection and a spare one, with room for a slow exit. */
    status = wait_exit(pid, 4 * TIMEOUT_S);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("kairosfs still waits after %d s on a key without MDS caps", 4 * TIMEOUT_S);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_false(mounted(dir));
    /* Either the deadline or Ceph's own refusal, but a reason, naming the key. */
    f = fopen(log, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) && !strstr(line, "kairosfs: "))
        ;
    fclose(f);
    fprintf(stderr, "wrong caps: %s", line);
    assert_true(strstr(line, "no answer from Ceph") || strstr(line, "fs-wrong"));
    rmdir(dir);
}

static void outage_times_out(void **state)
{
    char path[512], buf[65536];
    struct ceph_mount_info *cm;
    double t0, slow, fast;
    int err_slow = 0, err_fast = 0, recovered = -1, fd, cfd;

    (void)state;
    /* A file another client wrote: this mount has none of its data cached. */
    cm = admin_cephfs();
    snprintf(path, sizeof(path), "%s/%s/data/cold", T.cfg->pools.share_root, P1);
    cfd = ceph_open(cm, path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(cfd >= 0);
    memset(buf, 'c', sizeof(buf));
    assert_int_equal(ceph_write(cm, cfd, buf, sizeof(buf), 0), (int)sizeof(buf));
    assert_int_equal(ceph_fsync(cm, cfd, 0), 0);
    ceph_close(cm, cfd);
    ceph_unmount(cm);
    ceph_release(cm);
    fd = open(at("shares/data/cold"), O_RDONLY);
    assert_true(fd >= 0);

    paused[0] = kt_daemon_pid("osd.0");
    paused[1] = kt_daemon_pid("mds.a");
    assert_true(paused[0] > 0 && paused[1] > 0);
    /* The cluster stops answering (OSD and MDS frozen), briefly. */
    kill(paused[0], SIGSTOP);
    kill(paused[1], SIGSTOP);
    t0 = now_s();
    if (read(fd, buf, sizeof(buf)) < 0)
        err_slow = errno;
    slow = now_s() - t0;
    /*
     * The read's worker is still inside libcephfs with the file: closing
     * it now must not close the handle under that worker.
     */
    assert_int_equal(close(fd), 0);
    t0 = now_s();
    if (mkdir(at("shares/data/during-outage-2"), 0755) < 0)
        err_fast = errno;
    fast = now_s() - t0;
    resume_cluster();
    /* Back: within a few probes the mount works again. */
    for (int i = 0; i < 60 && recovered < 0; i++) {
        if (mkdir(at("shares/data/after-outage"), 0755) == 0)
            recovered = i;
        else
            sleep(1);
    }
    fprintf(stderr, "outage: first request %.1f s (%s), next %.1f s (%s), recovered after %d s\n",
            slow, strerror(err_slow), fast, strerror(err_fast), recovered);
    assert_int_equal(err_slow, ETIMEDOUT);
    assert_true(slow >= TIMEOUT_S - 1 && slow < TIMEOUT_S + 5);
    /* The client is known down: the next request fails at once, no thread waits. */
    assert_int_equal(err_fast, ETIMEDOUT);
    assert_true(fast < 1.0);
    assert_true(recovered >= 0);
    /* The worker came back to a file closed meanwhile, and the mount still serves. */
    assert_int_equal(unlink(at("shares/data/cold")), 0);
    rmdir(at("shares/data/after-outage"));
}

/* Two users of the node, neither root nor each other's group. */
#define ALICE   4101
#define MALLORY 4102

enum user_op { OP_CREATE, OP_UNLINK, OP_RENAME };

/*
 * Do @op on @path (to @path2), names in @dir, as @uid, with no
 * supplementary groups, in a child process. The child enters @dir while
 * still root, so the users need not traverse the test's ancestors (in CI
 * the tree sits under /root, mode 0700); the FUSE mount still checks them.
 * Return: 0, or the errno it failed with.
 */
static int as_user(uid_t uid, enum user_op op, const char *dir, const char *path, const char *path2)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int fd, rc = 0;

        if (chdir(dir) < 0 || setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
            setresuid(uid, uid, uid) < 0)
            _exit(200);
        if (op == OP_CREATE) {
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            rc = fd < 0 || write(fd, "mine\n", 5) != 5 || close(fd) < 0 ? -1 : 0;
        } else if (op == OP_UNLINK) {
            rc = unlink(path);
        } else {
            rc = rename(path, path2);
        }
        _exit(rc < 0 ? errno : 0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 200);
    return WEXITSTATUS(status);
}

/*
 * A root mount is every user's (allow_other), and a share's top is 1777:
 * one user cannot delete or rename another's files there. The attack runs
 * for real, as another uid.
 */
static void share_root_is_sticky_for_many_users(void **state)
{
    char top[700], a[800], b[800];
    struct stat st;

    (void)state;
    snprintf(top, sizeof(top), "%s/shares/home", M.dir);
    assert_int_equal(stat(top, &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);
    snprintf(a, sizeof(a), "%s/alice.txt", top);
    snprintf(b, sizeof(b), "%s/stolen.txt", top);
    /* Users other than the mounter reach the mount at all (allow_other). */
    assert_int_equal(as_user(ALICE, OP_CREATE, top, "alice.txt", NULL), 0);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(st.st_uid, ALICE);
    /* Mallory may create beside Alice's file, not remove or rename hers. */
    assert_int_equal(as_user(MALLORY, OP_CREATE, top, "mallory.txt", NULL), 0);
    assert_int_equal(as_user(MALLORY, OP_UNLINK, top, "alice.txt", NULL), EPERM);
    assert_int_equal(as_user(MALLORY, OP_RENAME, top, "alice.txt", "stolen.txt"), EPERM);
    assert_int_equal(stat(a, &st), 0);
    assert_int_equal(stat(b, &st), -1);
    /* Each removes what is theirs. */
    assert_int_equal(as_user(MALLORY, OP_UNLINK, top, "mallory.txt", NULL), 0);
    assert_int_equal(as_user(ALICE, OP_UNLINK, top, "alice.txt", NULL), 0);
}

/*
 * The MDS stopped (not frozen: its process is gone, its rank failed in the
 * MDS map): a request that needs it fails with EIO or ETIMEDOUT within the
 * mount's timeout, and once the MDS is started again the same mount serves
 * again, without a remount.
 */
static void mds_stopped_times_out(void **state)
{
    double t0, took;
    int err = 0, recovered = -1;

    (void)state;
    assert_int_equal(minicluster_mds("stop-daemon"), 0);
    mds_stopped = true;
    t0 = now_s();
    if (mkdir(at("shares/data/mds-gone"), 0755) < 0)
        err = errno;
    took = now_s() - t0;
    assert_int_equal(minicluster_mds("start-daemon"), 0);
    mds_stopped = false;
    for (int i = 0; i < 60 && recovered < 0; i++) {
        if (mkdir(at("shares/data/mds-back"), 0755) == 0)
            recovered = i;
        else
            sleep(1);
    }
    fprintf(stderr, "MDS stopped: mkdir %.1f s (%s); served again %d s after the restart\n", took,
            strerror(err), recovered);
    if (err != EIO && err != ETIMEDOUT)
        fail_msg("mkdir without an MDS: %s, not EIO or ETIMEDOUT", strerror(err));
    assert_true(took < TIMEOUT_S + 5);
    assert_true(recovered >= 0);
    rmdir(at("shares/data/mds-back"));
    rmdir(at("shares/data/mds-gone"));
}

static void sigterm_unmounts_cleanly(void **state)
{
    int status;

    (void)state;
    assert_true(mounted(M.dir));
    assert_int_equal(kill(M.pid, SIGTERM), 0);
    status = wait_exit(M.pid, MOUNT_WAIT_S);
    if (status != 0)
        show_log(&M);
    M.pid = 0;
    assert_true(status >= 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(mounted(M.dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_shows_the_project_only),
        cmocka_unit_test(rename_over_existing),
        cmocka_unit_test(unlink_open_file),
        cmocka_unit_test(sparse_file),
        cmocka_unit_test(write_past_quota_is_edquot),
        cmocka_unit_test(symlink_and_readlink),
        cmocka_unit_test(hard_links_count),
        cmocka_unit_test(chmod_chown_utimens),
        cmocka_unit_test(user_xattrs),
        cmocka_unit_test(fsync_reaches_other_clients),
        cmocka_unit_test(statfs_reports_quotas),
        cmocka_unit_test(readahead_is_set),
        cmocka_unit_test(volume_is_a_file),
        cmocka_unit_test(follows_the_ledger),
        cmocka_unit_test(mount_from_bindings),
        cmocka_unit_test(wrong_caps_give_up),
        cmocka_unit_test(share_root_is_sticky_for_many_users),
        cmocka_unit_test(outage_times_out),
        cmocka_unit_test(mds_stopped_times_out),
        cmocka_unit_test(sigterm_unmounts_cleanly),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
