/*
 * test_csi_node.c - the node plugin's parts that need no cluster and no
 * kernel module: the mount table as it is read back after a restart
 * (csi/mounts.c), loop devices found by their backing file (csi/loop.c),
 * what krbd gets written to sysfs and what rbd-nbd is given (csi/rbdmap.c,
 * untested on a real kernel: no rbd or nbd module here), running helper
 * programs with a secret on descriptor 3 (csi/exec.c), and the busy set
 * (csi/inflight.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec.h"
#include "inflight.h"
#include "loop.h"
#include "mounts.h"
#include "rbdmap.h"

/* ---- a sysfs of the test's own ---- */

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[512], dir[512];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(csi_mkdir_p(dir), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *rel)
{
    static char buf[4096];
    char path[512];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "r");
    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/kairos-csi-unit.XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- mountinfo ---- */

static const char *MOUNTINFO =
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "90 27 0:52 / /var/lib/kubelet/pv/x/globalmount rw,nosuid,nodev,relatime shared:61 - fuse "
    "kairos:climate rw,user_id=0,group_id=0,default_permissions,allow_other\n"
    "91 27 0:52 /shares/home /var/lib/kubelet/pods/p1/vol rw,nosuid,nodev,relatime shared:61 - "
    "fuse kairos:climate rw\n"
    "92 27 0:52 /shares/home /var/lib/kubelet/pods/p2/vol ro,nosuid,nodev,relatime shared:61 - "
    "fuse kairos:climate rw\n"
    "93 27 7:3 / /mnt/with\\040space ro,relatime master:1 shared:2 - ext4 /dev/loop3 rw\n"
    "94 93 7:3 / /mnt/with\\040space rw,relatime - ext4 /dev/loop3 rw\n";

static void mountinfo(void **state)
{
    struct csi_mounts t;
    const struct csi_mount *m;

    (void)state;
    assert_int_equal(csi_mounts_parse(MOUNTINFO, &t), 0);
    assert_int_equal(t.n, 6);
    m = csi_mounts_at(&t, "/var/lib/kubelet/pv/x/globalmount");
    assert_non_null(m);
    assert_string_equal(m->fstype, "fuse");
    assert_string_equal(m->source, "kairos:climate");
    assert_string_equal(m->root, "/");
    assert_int_equal(m->major, 0);
    assert_int_equal(m->minor, 52);
    /* The share's two pods: binds of the same device. */
    assert_int_equal(csi_mounts_count_dev(&t, 0, 52), 3);
    m = csi_mounts_at(&t, "/var/lib/kubelet/pods/p2/vol");
    assert_string_equal(m->root, "/shares/home");
    assert_true(csi_mount_has_option(m, "ro"));
    assert_false(csi_mount_has_option(m, "r"));
    assert_true(csi_mount_has_option(m, "relatime"));
    /* Escaped spaces; the last mount at a point is the one on top. */
    m = csi_mounts_at(&t, "/mnt/with space");
    assert_non_null(m);
    assert_false(csi_mount_has_option(m, "ro"));
    assert_string_equal(m->source, "/dev/loop3");
    assert_null(csi_mounts_at(&t, "/mnt"));
    csi_mounts_free(&t);
    assert_int_equal(csi_mounts_parse("22 27 0:21 / /proc rw\n", &t), -EINVAL);
    assert_int_equal(csi_mounts_parse("x y z\n", &t), -EINVAL);
    /* The real table reads. */
    assert_int_equal(csi_mounts_read(NULL, &t), 0);
    assert_true(t.n > 0);
    /* /proc, which the table itself comes from ("/" is no mount in a chroot). */
    assert_non_null(csi_mounts_at(&t, "/proc"));
    csi_mounts_free(&t);
    assert_true(csi_is_mounted("/proc"));
    assert_false(csi_is_mounted(root));
    assert_int_equal(csi_unmount_all(root), 0); /* nothing there: done */
}

/* ---- loop devices ---- */

static void loop_find(void **state)
{
    char dev[CSI_DEV_MAX];

    (void)state;
    put("block/loop0/loop/backing_file", "/var/lib/kairos-csi/volumes/1vp.a/volumes/a\n");
    put("block/loop7/loop/backing_file", "/var/lib/kairos-csi/volumes/1vp.b/volumes/b\n");
    put("block/loop3/size", "0\n"); /* free: no backing file */
    put("block/sda/size", "100\n");
    assert_int_equal(csi_loop_find(root, "/var/lib/kairos-csi/volumes/1vp.b/volumes/b", dev), 0);
    assert_string_equal(dev, "/dev/loop7");
    assert_int_equal(csi_loop_find(root, "/var/lib/kairos-csi/volumes/1vp.a/volumes/a", dev), 0);
    assert_string_equal(dev, "/dev/loop0");
    assert_int_equal(csi_loop_find(root, "/var/lib/kairos-csi/volumes/1vp.a/volumes/ab", dev),
                     -ENOENT);
    assert_int_equal(csi_loop_find("/nonexistent", "/x", dev), -ENOENT);
}

/* ---- krbd ---- */

static const struct csi_rbd_creds CREDS = {
    .entity = "client.kairos.climate.volume.db.csi-node1",
    .key = "AQBxzZFjAAAAABAA8VpO0i1L1G5Q==",
    .mon_host = "[v2:10.0.0.1:3300,v1:10.0.0.1:6789] [v2:10.0.0.2:3300,v1:10.0.0.2:6789]",
    .pool = "rbd",
    .ns = "climate",
    .image = "db",
};

static void krbd_mons(void **state)
{
    char out[256];
    bool v2;

    (void)state;
    assert_int_equal(csi_krbd_mons(CREDS.mon_host, out, sizeof(out), &v2), 0);
    assert_string_equal(out, "10.0.0.1:6789,10.0.0.2:6789");
    assert_false(v2);
    assert_int_equal(csi_krbd_mons("10.0.0.1,10.0.0.2:6790", out, sizeof(out), &v2), 0);
    assert_string_equal(out, "10.0.0.1,10.0.0.2:6790");
    assert_int_equal(csi_krbd_mons("10.0.0.1 10.0.0.2", out, sizeof(out), &v2), 0);
    assert_string_equal(out, "10.0.0.1,10.0.0.2");
    /* Only msgr2: the kernel needs ms_mode (Linux 5.11 and later). */
    assert_int_equal(csi_krbd_mons("[v2:10.0.0.1:3300]", out, sizeof(out), &v2), 0);
    assert_string_equal(out, "10.0.0.1:3300");
    assert_true(v2);
    assert_int_equal(csi_krbd_mons("", out, sizeof(out), &v2), -EINVAL);
    assert_int_equal(csi_krbd_mons("[]", out, sizeof(out), &v2), -EINVAL);
    assert_int_equal(csi_krbd_mons(CREDS.mon_host, out, 8, &v2), -ENAMETOOLONG);
}

static void krbd_map(void **state)
{
    struct csi_rbd_creds c = CREDS;
    char text[1024], dev[CSI_DEV_MAX];

    (void)state;
    assert_int_equal(csi_krbd_add_string(&c, false, text, sizeof(text)), 0);
    assert_string_equal(text, "10.0.0.1:6789,10.0.0.2:6789 "
                              "name=kairos.climate.volume.db.csi-node1,"
                              "secret=AQBxzZFjAAAAABAA8VpO0i1L1G5Q==,_pool_ns=climate rbd db -");
    assert_int_equal(csi_krbd_add_string(&c, true, text, sizeof(text)), 0);
    assert_non_null(strstr(text, ",_pool_ns=climate,ro rbd db -"));
    /* A space in a field would move the fields after it. */
    c.image = "db 2";
    assert_int_equal(csi_krbd_add_string(&c, false, text, sizeof(text)), -EINVAL);
    c = CREDS;
    c.key = "AQB,x";
    assert_int_equal(csi_krbd_add_string(&c, false, text, sizeof(text)), -EINVAL);

    /* What the kernel gets: the string on add_single_major, the device found after. */
    put("bus/rbd/add_single_major", "");
    put("bus/rbd/remove_single_major", "");
    put("bus/rbd/devices/0/pool", "rbd\n");
    put("bus/rbd/devices/0/pool_ns", "other\n");
    put("bus/rbd/devices/0/name", "db\n");
    put("bus/rbd/devices/4/pool", "rbd\n");
    put("bus/rbd/devices/4/pool_ns", "climate\n");
    put("bus/rbd/devices/4/name", "db\n");
    assert_int_equal(csi_krbd_map(root, &CREDS, false, dev), 0);
    assert_string_equal(dev, "/dev/rbd4");
    assert_string_equal(slurp("bus/rbd/add_single_major"),
                        "10.0.0.1:6789,10.0.0.2:6789 name=kairos.climate.volume.db.csi-node1,"
                        "secret=AQBxzZFjAAAAABAA8VpO0i1L1G5Q==,_pool_ns=climate rbd db -");
    assert_int_equal(csi_krbd_find(root, NULL, "climate", "db", dev), 0);
    assert_string_equal(dev, "/dev/rbd4");
    assert_int_equal(csi_krbd_find(root, "rbd", "other", "db", dev), 0);
    assert_string_equal(dev, "/dev/rbd0");
    assert_int_equal(csi_krbd_find(root, NULL, "climate", "dc", dev), -ENOENT);
    assert_int_equal(csi_krbd_unmap(root, "/dev/rbd4"), 0);
    assert_string_equal(slurp("bus/rbd/remove_single_major"), "4");
    assert_int_equal(csi_krbd_unmap(root, "/dev/sda"), -EINVAL);
    assert_int_equal(csi_krbd_unmap(root, "/dev/rbd4x"), -EINVAL);
    /* Older kernels: "add" and "remove". */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm %s/bus/rbd/add_single_major %s/bus/rbd/remove_single_major",
             root, root);
    assert_int_equal(system(cmd), 0);
    put("bus/rbd/add", "");
    put("bus/rbd/remove", "");
    assert_int_equal(csi_krbd_map(root, &CREDS, true, dev), 0);
    assert_non_null(strstr(slurp("bus/rbd/add"), ",ro rbd db -"));
    assert_int_equal(csi_krbd_unmap(root, "/dev/rbd0"), 0);
    assert_string_equal(slurp("bus/rbd/remove"), "0");
}

/* ---- rbd-nbd ---- */

static void nbd(void **state)
{
    struct csi_rbd_creds c = CREDS;
    const char *argv[12];
    char spec[CSI_SPEC_MAX], dev[CSI_DEV_MAX], joined[1024] = "";

    (void)state;
    csi_nbd_argv(&c, "/run/k/key.1", true, argv, spec);
    for (int i = 0; argv[i]; i++)
        snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", i ? " " : "",
                 argv[i]);
    /* The key is in the file, never on the command line. */
    assert_string_equal(joined, "rbd-nbd map --read-only --id kairos.climate.volume.db.csi-node1 "
                                "--keyfile /run/k/key.1 -m [v2:10.0.0.1:3300,v1:10.0.0.1:6789] "
                                "[v2:10.0.0.2:3300,v1:10.0.0.2:6789] rbd/climate/db");
    assert_null(strstr(joined, CREDS.key));
    c.ns = "";
    csi_nbd_argv(&c, "/k", false, argv, spec);
    assert_string_equal(argv[2], "--id");
    assert_string_equal(spec, "rbd/db");
    static const char *LIST =
        "[{\"id\":\"1\",\"pool\":\"rbd\",\"namespace\":\"other\",\"image\":\"db\",\"snap\":\"-\","
        "\"device\":\"/dev/nbd0\"},{\"id\":\"2\",\"pool\":\"rbd\",\"namespace\":\"climate\","
        "\"image\":\"db\",\"snap\":\"-\",\"device\":\"/dev/nbd3\"}]";
    assert_int_equal(csi_nbd_find_in(LIST, NULL, "climate", "db", dev), 0);
    assert_string_equal(dev, "/dev/nbd3");
    assert_int_equal(csi_nbd_find_in(LIST, "rbd", "other", "db", dev), 0);
    assert_string_equal(dev, "/dev/nbd0");
    assert_int_equal(csi_nbd_find_in(LIST, NULL, "climate", "web", dev), -ENOENT);
    assert_int_equal(csi_nbd_find_in("[]", NULL, "climate", "db", dev), -ENOENT);
    assert_int_equal(csi_nbd_find_in("no json", NULL, "climate", "db", dev), -EINVAL);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "entity", "client.x", "key", "k", "mon_host",
                          "m", "pool", "p", "namespace", "n", "image", "i");
    assert_int_equal(csi_rbd_creds_from_json(j, &c), 0);
    assert_string_equal(c.image, "i");
    json_object_set_new(j, "entity", json_string("osd.0"));
    assert_int_equal(csi_rbd_creds_from_json(j, &c), -EINVAL);
    json_object_del(j, "entity");
    assert_int_equal(csi_rbd_creds_from_json(j, &c), -EINVAL);
    json_decref(j);
}

/* ---- running programs ---- */

static void run_programs(void **state)
{
    const char *echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    const char *fd3[] = {"sh", "-c", "read t <&3; echo \"got $t\"", NULL};
    const char *fds[] = {"sh", "-c", "ls /proc/self/fd | wc -l", NULL};
    const char *slow[] = {"sleep", "30", NULL};
    const char *none[] = {"/nonexistent/program", NULL};
    char out[256];
    int keep = open("/dev/null", O_RDONLY); /* not CLOEXEC: must not reach the child */

    (void)state;
    assert_int_equal(csi_run(echo, NULL, 10, out, sizeof(out)), 3);
    assert_string_equal(out, "out\nerr\n");
    assert_int_equal(csi_run(fd3, "s3cret\n", 10, out, sizeof(out)), 0);
    assert_string_equal(out, "got s3cret\n");
    /* 0, 1, 2 and the one ls opens: nothing of ours leaks in. */
    assert_int_equal(csi_run(fds, NULL, 10, out, sizeof(out)), 0);
    assert_string_equal(out, "4\n");
    assert_int_equal(csi_run(slow, NULL, 1, NULL, 0), 128 + 9);
    assert_int_equal(csi_run(none, NULL, 10, out, sizeof(out)), -ENOENT);
    /* Output past the buffer is cut, not overflowed. */
    const char *big[] = {"sh", "-c", "yes | head -c 100000", NULL};
    assert_int_equal(csi_run(big, NULL, 10, out, 8), 0);
    assert_int_equal(strlen(out), 7);
    close(keep);
}

static void inflight(void **state)
{
    struct csi_inflight f;
    char key[32];

    (void)state;
    csi_inflight_init(&f);
    assert_true(csi_inflight_begin(&f, "1vp.a"));
    assert_false(csi_inflight_begin(&f, "1vp.a"));
    assert_true(csi_inflight_begin(&f, "1vp.b"));
    csi_inflight_end(&f, "1vp.a");
    assert_true(csi_inflight_begin(&f, "1vp.a"));
    /* Grows past its first room. */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(csi_inflight_begin(&f, key));
    }
    assert_false(csi_inflight_begin(&f, "k99"));
    csi_inflight_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mountinfo), cmocka_unit_test(loop_find), cmocka_unit_test(krbd_mons),
        cmocka_unit_test(krbd_map),  cmocka_unit_test(nbd),       cmocka_unit_test(run_programs),
        cmocka_unit_test(inflight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
