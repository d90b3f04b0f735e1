/*
 * test_kairosfs_broker.c - kairosfs with credentials fetched from a real
 * kairosd with a project token: the mount shows the project's share and
 * volume, writes reach Ceph, the node's bindings are listed by kairosd, a
 * bad token mounts nothing, and the mount is always undone.
 */
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

#include "kd.h"

static struct kd KD;
static char P[64], MNT[96], TOKEN_FILE[128];

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

static int setup(void **state)
{
    char path[256], body[256];

    (void)state;
    kd_start(&KD, KAIROSD_BINARY);
    snprintf(P, sizeof(P), "kfsb-%x", (unsigned)getpid());
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"plan\":\"small\"}", P);
    assert_int_equal(kd_call(&KD, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    snprintf(path, sizeof(path), "/v1/projects/%s/shares", P);
    assert_int_equal(
        kd_call(&KD, "POST", path, KD_ADMIN, NULL, "{\"name\":\"home\",\"size\":\"8M\"}", NULL),
        201);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    assert_int_equal(
        kd_call(&KD, "POST", path, KD_ADMIN, NULL, "{\"name\":\"disk\",\"size\":\"8M\"}", NULL),
        201);
    snprintf(TOKEN_FILE, sizeof(TOKEN_FILE), "%s/project-token", KD.dir);
    kd_token_file(&KD, P, TOKEN_FILE, NULL, 0);
    snprintf(MNT, sizeof(MNT), "/tmp/kairosfs-broker.XXXXXX");
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
    return 0;
}

static void mount_with_project_token(void **state)
{
    char path[256], buf[64] = "";
    struct stat st;
    json_t *j = NULL;
    int fd;

    (void)state;
    /* A token that kairosd refuses: no mount, a failing exit status. */
    assert_int_not_equal(run("KAIROS_TOKEN=kt_0000000000000000_00 %s -o project=%s,url=http://"
                             "127.0.0.1:%u %s 2>/dev/null",
                             KAIROSFS_BINARY, P, KD.port, MNT),
                         0);
    assert_int_equal(run("grep -q ' %s ' /proc/mounts", MNT), 1);

    assert_int_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s %s",
                         KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, MNT),
                     0);
    snprintf(path, sizeof(path), "%s/shares/home/hello", MNT);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "through a token", 15), 15);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof(buf)), 15);
    close(fd);
    assert_string_equal(buf, "through a token");
    snprintf(path, sizeof(path), "%s/volumes/disk", MNT);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 8 * 1024 * 1024);

    /* kairosd lists the node's bindings, one per allocation. */
    snprintf(path, sizeof(path), "/v1/projects/%s/shares/home/bindings", P);
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    assert_int_equal(strncmp(json_string_value(json_object_get(
                                 json_array_get(json_object_get(j, "items"), 0), "id")),
                             "kfs-", 4),
                     0);
    json_decref(j);
    unmount();
    assert_int_equal(run("grep -q ' %s ' /proc/mounts", MNT), 1);
}

/* Write and sync through the mount; 0 or -errno. */
static int write_sync(const char *path, off_t off)
{
    char buf[4096];
    int fd = open(path, O_WRONLY | O_CREAT, 0644), rc = 0;

    if (fd < 0)
        return -errno;
    memset(buf, 'k', sizeof(buf));
    if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) || fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Seconds until writing @path fails (-1: it still works after @secs); the error in @rc. */
static int until_refused(const char *path, off_t off, int secs, int *rc)
{
    for (int i = 0; i <= secs * 5; i++) {
        *rc = write_sync(path, off);
        if (*rc < 0)
            return i / 5;
        usleep(200000);
    }
    return -1;
}

/*
 * The node's bindings are deleted in kairosd while mounted: writes to the
 * share and the volume fail within 10 s (the broker blocklists the node's
 * clients), and once the mount's recheck sees the bindings gone, every
 * request on them is EACCES. A new mount binds again and writes.
 */
static void unbind_drops_the_mount(void **state)
{
    char share[256], disk[256], path[256], id[80];
    json_t *j = NULL;
    int rc = 0;

    (void)state;
    assert_int_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s,recheck=1 %s",
                         KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, MNT),
                     0);
    snprintf(share, sizeof(share), "%s/shares/home/unbind", MNT);
    snprintf(disk, sizeof(disk), "%s/volumes/disk", MNT);
    assert_int_equal(write_sync(share, 0), 0);
    assert_int_equal(write_sync(disk, 0), 0);
    snprintf(path, sizeof(path), "/v1/projects/%s/shares/home/bindings", P);
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, &j), 200);
    snprintf(
        id, sizeof(id), "%s",
        json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id")));
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/projects/%s/shares/home/bindings/%s", P, id);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/disk/bindings/%s", P, id);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    int secs = until_refused(share, 4096, 10, &rc);
    assert_true(secs >= 0);
    fprintf(stderr, "test_kairosfs_broker: the share refused writes %d s after unbind (%s)\n", secs,
            strerror(-rc));
    secs = until_refused(disk, 4096, 10, &rc);
    assert_true(secs >= 0);
    fprintf(stderr, "test_kairosfs_broker: the volume refused writes %d s later (%s)\n", secs,
            strerror(-rc));
    /* The recheck (every second here) turns what is left into EACCES. */
    int share_rc = 0, disk_rc = 0;
    for (int i = 0; i < 50 && (share_rc != -EACCES || disk_rc != -EACCES); i++) {
        share_rc = write_sync(share, 0);
        disk_rc = write_sync(disk, 0);
        if (share_rc != -EACCES || disk_rc != -EACCES)
            usleep(200000);
    }
    assert_int_equal(share_rc, -EACCES);
    assert_int_equal(disk_rc, -EACCES);
    unmount();
    /* A new mount is a new binding of the same allocations. */
    assert_int_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s %s",
                         KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, MNT),
                     0);
    assert_int_equal(write_sync(share, 0), 0);
    assert_int_equal(write_sync(disk, 0), 0);
    unmount();
    /* A bad interval mounts nothing. */
    assert_int_equal(run("%s -o project=%s,url=http://127.0.0.1:%u,token_file=%s,recheck=-1 %s "
                         "2>/dev/null",
                         KAIROSFS_BINARY, P, KD.port, TOKEN_FILE, MNT),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(mount_with_project_token),
                                       cmocka_unit_test(unbind_drops_the_mount)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
