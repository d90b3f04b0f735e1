/*
 * test_kairosfs_live.c - a kairosfs mount made with a project token
 * follows the project while it runs (fuse/refresh.h), against a real
 * kairosd and cluster: a share and a volume made after the mount appear,
 * a deleted share vanishes, an unbound volume answers EACCES on a file
 * already open and nothing more reaches its image (read back as the
 * admin), a stopped kairosd changes nothing and a restarted one is
 * followed again, and a revoked token cuts everything with EACCES.
 *
 * The mount refreshes every second; every wait is a poll with a generous
 * bound, so that a slow machine is no failure (no timed assertion).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <kairos/config.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "kd.h"

/* The bound on any wait for the mount to follow a change (it refreshes every 1 s). */
#define WAIT_S 60
#define BLOCK  4096

static struct kd KD;
static struct kairos_config *CFG;
static rados_t ADMIN;
static char P[64], MNT[96], TOKEN_FILE[128], TOKEN_ID[64];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void unmount(void)
{
    run("fusermount3 -u -q %s 2>/dev/null || fusermount3 -u -z -q %s 2>/dev/null", MNT, MNT);
}

static const char *at(const char *rel)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];

    snprintf(p, 256, "%s/%s", MNT, rel);
    return p;
}

/* POST @body to /v1/projects/P/@what as the admin; assert @want. */
static void make(const char *what, const char *body)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/projects/%s/%s", P, what);
    assert_int_equal(kd_call(&KD, "POST", path, KD_ADMIN, NULL, body, NULL), 201);
}

/* Is @name an entry of directory @dir (readdir, as ls does)? */
static bool listed(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    if (!d)
        return false;
    while ((e = readdir(d)))
        found |= strcmp(e->d_name, name) == 0;
    closedir(d);
    return found;
}

/*
 * Wait until @rel exists (@present) or is gone (ENOENT), by stat and by
 * readdir of its directory. On the way other errors may show: the broker
 * evicts a deleted share's clients before the mount's refresh hides it.
 */
static void wait_for(const char *rel, bool present)
{
    char dir[256];
    struct stat st;
    int err = 0;

    snprintf(dir, sizeof(dir), "%s", at(rel));
    *strrchr(dir, '/') = '\0';
    for (int i = 0; i < WAIT_S * 5; i++) {
        err = stat(at(rel), &st) == 0 ? 0 : errno;
        if ((present ? err == 0 : err == ENOENT) && listed(dir, strrchr(rel, '/') + 1) == present)
            return;
        usleep(200000);
    }
    fail_msg("%s did not %s within %d s (stat: %s)", rel, present ? "appear" : "vanish", WAIT_S,
             strerror(err));
}

/* Write one block of @c at @off of open @fd and sync it: 0 or -errno. */
static int put(int fd, char c, off_t off)
{
    char buf[BLOCK];

    memset(buf, c, sizeof(buf));
    if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) || fsync(fd) < 0)
        return -errno;
    return 0;
}

/* The first byte of the block at @off of @P's volume @name, read as the admin. */
static char image_byte(const char *name, off_t off)
{
    rados_ioctx_t io;
    rbd_image_t img;
    char buf[BLOCK];

    assert_int_equal(rados_ioctx_create(ADMIN, CFG->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, P);
    assert_int_equal(rbd_open_read_only(io, name, &img, NULL), 0);
    assert_int_equal(rbd_read(img, (uint64_t)off, sizeof(buf), buf), (ssize_t)sizeof(buf));
    rbd_close(img);
    rados_ioctx_destroy(io);
    return buf[0];
}

static void mount_it(void)
{
    assert_int_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s,refresh=1 %s",
                         KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, MNT),
                     0);
}

static int setup(void **state)
{
    struct kairos_error err = {0};
    char body[256];

    (void)state;
    assert_int_equal(kairos_config_load(getenv("KAIROS_CONF"), &CFG, &err), 0);
    assert_int_equal(rados_create2(&ADMIN, "ceph", CFG->ceph.client, 0), 0);
    assert_int_equal(rados_conf_read_file(ADMIN, CFG->ceph.conf), 0);
    if (CFG->ceph.keyring)
        assert_int_equal(rados_conf_set(ADMIN, "keyring", CFG->ceph.keyring), 0);
    assert_int_equal(rados_connect(ADMIN), 0);
    kd_start(&KD, KAIROSD_BINARY);
    snprintf(P, sizeof(P), "kfsl-%x", (unsigned)getpid());
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"plan\":\"small\"}", P);
    assert_int_equal(kd_call(&KD, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    make("shares", "{\"name\":\"home\",\"size\":\"8M\"}");
    snprintf(TOKEN_FILE, sizeof(TOKEN_FILE), "/tmp/kairosfs-live-token.%d", (int)getpid());
    kd_token_file(&KD, P, TOKEN_FILE, TOKEN_ID, sizeof(TOKEN_ID));
    snprintf(MNT, sizeof(MNT), "/tmp/kairosfs-live.XXXXXX");
    assert_non_null(mkdtemp(MNT));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unmount();
    rmdir(MNT);
    unlink(TOKEN_FILE);
    kd_delete_project(&KD, P);
    assert_int_equal(kd_stop(&KD), 0);
    rados_shutdown(ADMIN);
    kairos_config_free(CFG);
    return 0;
}

/* New allocations appear and a deleted one vanishes, without a remount. */
static void follows_new_and_deleted(void **state)
{
    const char *const bad[] = {"-1", "nan", "inf", "0.01", "1e9", "x"};
    char path[256];
    int fd;

    (void)state;
    /* A bad interval mounts nothing. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s,"
                                 "refresh=%s %s 2>/dev/null",
                                 KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, bad[i], MNT),
                             0);
        assert_int_equal(run("grep -q ' %s ' /proc/mounts", MNT), 1);
    }
    mount_it();
    assert_false(listed(at("shares"), "late"));
    make("shares", "{\"name\":\"late\",\"size\":\"8M\"}");
    make("volumes", "{\"name\":\"extra\",\"size\":\"8M\"}");
    wait_for("shares/late", true);
    wait_for("volumes/extra", true);
    /* They are usable, not only listed. */
    fd = open(at("shares/late/f"), O_CREAT | O_RDWR, 0644);
    assert_true(fd >= 0);
    assert_int_equal(put(fd, 's', 0), 0);
    close(fd);
    fd = open(at("volumes/extra"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(put(fd, 'a', 0), 0);
    close(fd);
    assert_int_equal(image_byte("extra", 0), 'a');

    /* A deleted share vanishes: ENOENT, and gone from the listing. */
    snprintf(path, sizeof(path), "/v1/projects/%s/shares/late?force=true", P);
    long status = kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL);
    assert_true(status == 200 || status == 202);
    wait_for("shares/late", false);
    assert_true(listed(at("shares"), "home"));
}

/* An unbound volume: EACCES on the file already open, and nothing more reaches the image. */
static void unbind_cuts_an_open_file(void **state)
{
    char path[256], host[128], id[160], back[BLOCK];
    int fd, rc = 0;

    (void)state;
    fd = open(at("volumes/extra"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(put(fd, 'b', BLOCK), 0);
    gethostname(host, sizeof(host));
    snprintf(id, sizeof(id), "kfs-%s", host);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/extra/bindings/%s", P, id);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    /* The broker blocklists the node's client at once; the mount's refresh makes it EACCES. */
    for (int i = 0; i < WAIT_S * 5 && rc != -EACCES; i++) {
        rc = put(fd, 'c', 2 * BLOCK);
        assert_true(rc < 0 || i == 0);
        if (rc != -EACCES)
            usleep(200000);
    }
    assert_int_equal(rc, -EACCES);
    assert_int_equal(pread(fd, back, sizeof(back), 0), -1);
    assert_int_equal(errno, EACCES);
    for (int i = 0; i < 5; i++)
        assert_int_equal(put(fd, 'd', 3 * BLOCK), -EACCES);
    close(fd);
    /* What was written before the cut is there; nothing after it is. */
    assert_int_equal(image_byte("extra", BLOCK), 'b');
    assert_int_equal(image_byte("extra", 3 * BLOCK), 0);
    /* The revoked volume stays listed (it exists) but refuses a new open. */
    assert_int_equal(open(at("volumes/extra"), O_RDONLY), -1);
    assert_int_equal(errno, EACCES);
}

/* kairosd down is no revocation: the mount serves; started again, it is followed again. */
static void outage_of_kairosd(void **state)
{
    char listen[64];
    unsigned port = KD.port;
    int fd;

    (void)state;
    assert_int_equal(kd_stop(&KD), 0);
    /* Several refreshes fail to reach kairosd meanwhile. */
    for (int i = 0; i < 4; i++) {
        fd = open(at("shares/home/during"), O_CREAT | O_RDWR, 0644);
        assert_true(fd >= 0);
        assert_int_equal(put(fd, 'o', 0), 0);
        close(fd);
        assert_true(listed(at("shares"), "home"));
        sleep(1);
    }
    snprintf(listen, sizeof(listen), "listen = 127.0.0.1:%u", port);
    kd_start_conf(&KD, KAIROSD_BINARY, listen, NULL);
    assert_int_equal(KD.port, port);
    make("shares", "{\"name\":\"after\",\"size\":\"8M\"}");
    wait_for("shares/after", true);
}

/* A revoked token cuts every allocation: EACCES. */
static void revoked_token_cuts_all(void **state)
{
    char path[256];
    int fd = open(at("shares/home/during"), O_RDWR), rc = 0;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(put(fd, 't', 0), 0);
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens/%s", P, TOKEN_ID);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    for (int i = 0; i < WAIT_S * 5 && rc != -EACCES; i++) {
        rc = put(fd, 'u', 0);
        if (rc != -EACCES)
            usleep(200000);
    }
    assert_int_equal(rc, -EACCES);
    close(fd);
    assert_int_equal(open(at("shares/after/x"), O_CREAT | O_RDWR, 0644), -1);
    assert_int_equal(errno, EACCES);
    unmount();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(follows_new_and_deleted), cmocka_unit_test(unbind_cuts_an_open_file),
        cmocka_unit_test(outage_of_kairosd), cmocka_unit_test(revoked_token_cuts_all)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
