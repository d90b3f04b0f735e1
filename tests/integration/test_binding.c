/*
 * test_binding.c - credentials that reach one allocation and nothing more,
 * used for real: a volume binding's key writes its own image and cannot
 * open another project's or make a new one; a share binding's key mounts
 * its share, writes until EDQUOT and cannot reach another project's
 * directory; after unbind the key no longer authenticates.
 */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <jansson.h>
#include <rbd/librbd.h>

#define MiB ((uint64_t)1 << 20)

static struct kt T;
static char P1[64], P2[64]; /* two projects, each with a volume and a share */

static int setup(void **state)
{
    struct kairos_quota q;
    struct kairos_error err = {0};

    (void)state;
    kt_open(&T, NULL);
    kairos_quota_unlimited(&q);
    kt_name(P1, sizeof(P1), "bind");
    kt_name(P2, sizeof(P2), "bind");
    assert_int_equal(kairos_project_create(T.k, P1, NULL, &q, &err), 0);
    assert_int_equal(kairos_project_create(T.k, P2, NULL, &q, &err), 0);
    for (int i = 0; i < 2; i++) {
        const char *p = i ? P2 : P1;
        assert_int_equal(kairos_volume_create(T.k, p, "disk", 16 * MiB, &err), 0);
        assert_int_equal(kairos_share_create(T.k, p, "home", 4 * MiB, 0, &err), 0);
    }
    return 0;
}

static int teardown(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    kairos_project_delete(T.k, P1, KAIROS_DELETE_FORCE, &err);
    kairos_project_delete(T.k, P2, KAIROS_DELETE_FORCE, &err);
    kt_close(&T);
    return 0;
}

static int open_image_as(rados_t r, const json_t *creds, const char *ns, const char *image,
                         rados_ioctx_t *io, rbd_image_t *img)
{
    int rc = rados_ioctx_create(r, kt_field(creds, "pool"), io);

    if (rc < 0)
        return rc;
    rados_ioctx_set_namespace(*io, ns);
    rc = rbd_open(*io, image, img, NULL);
    if (rc < 0)
        rados_ioctx_destroy(*io);
    return rc;
}

static void volume_binding_isolation(void **state)
{
    json_t *creds = kt_bind(&T, P1, KAIROS_VOLUME, "disk", "vm-1", 0), *again;
    char buf[4096] = "written through the binding";
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    int order = 0;

    (void)state;
    assert_string_equal(kt_field(creds, "namespace"), P1);
    assert_string_equal(kt_field(creds, "image"), "disk");
    assert_int_equal(kt_connect_as(creds, &r), 0);
    /* Its own image: open, write, read back. */
    assert_int_equal(open_image_as(r, creds, P1, "disk", &io, &img), 0);
    assert_int_equal(rbd_write(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    memset(buf, 0, sizeof(buf));
    assert_int_equal(rbd_read(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_string_equal(buf, "written through the binding");
    /* A new image in its namespace would escape the quota: refused. */
    assert_true(rbd_create2(io, "sneaky", MiB, RBD_FEATURE_LAYERING, &order) < 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
    /* Another project's image: refused. */
    assert_true(open_image_as(r, creds, P2, "disk", &io, &img) < 0);
    rados_shutdown(r);

    /* The same binding again: the same key. Other access: a conflict. */
    again = kt_bind(&T, P1, KAIROS_VOLUME, "disk", "vm-1", 0);
    assert_string_equal(kt_field(again, "key"), kt_field(creds, "key"));
    json_decref(again);
    struct kairos_error err = {0};
    char *c = NULL;
    assert_int_equal(kairos_binding_create(T.k, P1, KAIROS_VOLUME, "disk", "vm-1",
                                           KAIROS_BIND_READ_ONLY, &c, &err),
                     -EEXIST);
    assert_null(c);

    /* Unbound, the key no longer authenticates. */
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_VOLUME, "disk", "vm-1", &err), 0);
    assert_true(kt_connect_as(creds, &r) < 0);
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_VOLUME, "disk", "vm-1", &err), -ENOENT);
    json_decref(creds);
}

/*
 * A clone of a clone reads through to its grandparent where neither wrote:
 * the binding's key reaches every ancestor, read-only.
 */
static void clone_of_clone_reads_grandparent(void **state)
{
    struct kairos_error err = {0};
    char buf[4096], back[4096];
    json_t *creds;
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;

    (void)state;
    memset(buf, 'g', sizeof(buf));
    assert_int_equal(kairos_volume_create(T.k, P2, "gold", 16 * MiB, &err), 0);
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, P2);
    assert_int_equal(rbd_open(io, "gold", &img, NULL), 0);
    assert_int_equal(rbd_write(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    rbd_close(img);
    rados_ioctx_destroy(io);
    assert_int_equal(kairos_volume_snapshot_create(T.k, P2, "gold", "s1", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, P1, "child", P2, "gold", "s1", &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, P1, "child", "s2", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, P1, "grandchild", P1, "child", "s2", &err), 0);

    creds = kt_bind(&T, P1, KAIROS_VOLUME, "grandchild", "gc", 0);
    assert_int_equal(kt_connect_as(creds, &r), 0);
    assert_int_equal(open_image_as(r, creds, P1, "grandchild", &io, &img), 0);
    assert_int_equal(rbd_read(img, 0, sizeof(back), back), (ssize_t)sizeof(back));
    assert_memory_equal(back, buf, sizeof(buf));
    rbd_close(img);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_VOLUME, "grandchild", "gc", &err), 0);
    json_decref(creds);
}

static void share_binding_isolation(void **state)
{
    json_t *creds = kt_bind(&T, P1, KAIROS_SHARE, "home", "job-7", 0);
    struct ceph_mount_info *m;
    char other[512], buf[MiB];
    int fd, rc = 0;
    uint64_t written = 0;

    (void)state;
    assert_int_equal(kt_mount_as(creds, kt_field(creds, "path"), &m), 0);
    fd = ceph_open(m, "/results", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    memset(buf, 'r', sizeof(buf));
    /* Writing past the share's 4 MiB ends in EDQUOT. */
    for (int i = 0; i < 64 && rc >= 0; i++) {
        rc = ceph_write(m, fd, buf, sizeof(buf), (int64_t)written);
        if (rc > 0)
            written += (uint64_t)rc;
        if (rc >= 0)
            rc = ceph_fsync(m, fd, 0);
    }
    assert_int_equal(rc, -EDQUOT);
    assert_true(written >= 4 * MiB && written < 16 * MiB);
    ceph_close(m, fd);
    /* It cannot change its own quota (no "p" in its mds cap). */
    assert_true(ceph_setxattr(m, "/", "ceph.quota.max_bytes", "0", 1, 0) < 0);
    ceph_unmount(m);
    ceph_release(m);

    /* Another project's directory, or the root: refused. */
    snprintf(other, sizeof(other), "%s/%s/home", T.cfg->pools.share_root, P2);
    assert_true(kt_mount_as(creds, other, &m) < 0);
    assert_true(kt_mount_as(creds, "/", &m) < 0);

    struct kairos_error err = {0};
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_SHARE, "home", "job-7", &err), 0);
    assert_true(kt_mount_as(creds, kt_field(creds, "path"), &m) < 0);
    json_decref(creds);
}

/*
 * A binding id names a binding of one allocation: "twin" of the volume and
 * "twin" of the share are two keys, each reaching its own allocation, and
 * revoking one leaves the other working.
 */
static void same_id_two_allocations(void **state)
{
    json_t *vol = kt_bind(&T, P1, KAIROS_VOLUME, "disk", "twin", 0);
    json_t *fs = kt_bind(&T, P1, KAIROS_SHARE, "home", "twin", 0);
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;

    (void)state;
    assert_string_not_equal(kt_field(vol, "entity"), kt_field(fs, "entity"));
    assert_string_not_equal(kt_field(vol, "key"), kt_field(fs, "key"));
    assert_int_equal(kt_mount_as(fs, kt_field(fs, "path"), &m), 0);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kt_connect_as(vol, &r), 0);
    assert_int_equal(open_image_as(r, vol, P1, "disk", &io, &img), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
    rados_shutdown(r);

    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_VOLUME, "disk", "twin", &err), 0);
    assert_true(kt_connect_as(vol, &r) < 0);
    assert_int_equal(kt_mount_as(fs, kt_field(fs, "path"), &m), 0);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_SHARE, "home", "twin", &err), 0);
    json_decref(vol);
    json_decref(fs);
}

/*
 * Each share's data is in its own RADOS namespace: a share's key reads its
 * own file's objects straight from the pool, and not another share's of
 * the same project.
 */
static void share_keys_stay_in_their_namespace(void **state)
{
    json_t *mine, *theirs;
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    struct ceph_statx stx;
    char obj[64], buf[16];
    rados_ioctx_t io;
    rados_t r;
    int fd;

    (void)state;
    assert_int_equal(kairos_share_create(T.k, P1, "other", 4 * MiB, 0, &err), 0);
    mine = kt_bind(&T, P1, KAIROS_SHARE, "home", "ns-mine", 0);
    theirs = kt_bind(&T, P1, KAIROS_SHARE, "other", "ns-theirs", 0);
    assert_string_not_equal(kt_field(mine, "namespace"), kt_field(theirs, "namespace"));
    /* A file in the other share, and the name of its first object. */
    assert_int_equal(kt_mount_as(theirs, kt_field(theirs, "path"), &m), 0);
    fd = ceph_open(m, "/secret", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ceph_write(m, fd, "their data", 10, 0), 10);
    assert_int_equal(ceph_fsync(m, fd, 0), 0);
    ceph_close(m, fd);
    assert_int_equal(ceph_statx(m, "/secret", &stx, CEPH_STATX_INO, 0), 0);
    ceph_unmount(m);
    ceph_release(m);
    snprintf(obj, sizeof(obj), "%llx.00000000", (unsigned long long)stx.stx_ino);

    /* Its own key reads the object; this share's key is refused. */
    assert_int_equal(kt_connect_as(theirs, &r), 0);
    assert_int_equal(rados_ioctx_create(r, kt_field(theirs, "pool"), &io), 0);
    rados_ioctx_set_namespace(io, kt_field(theirs, "namespace"));
    assert_int_equal(rados_read(io, obj, buf, 10, 0), 10);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    assert_int_equal(kt_connect_as(mine, &r), 0);
    assert_int_equal(rados_ioctx_create(r, kt_field(mine, "pool"), &io), 0);
    rados_ioctx_set_namespace(io, kt_field(theirs, "namespace"));
    assert_int_equal(rados_read(io, obj, buf, 10, 0), -EPERM);
    rados_ioctx_destroy(io);
    rados_shutdown(r);

    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_SHARE, "home", "ns-mine", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_SHARE, "other", "ns-theirs", &err), 0);
    json_decref(mine);
    json_decref(theirs);
}

static void read_only_share(void **state)
{
    json_t *creds = kt_bind(&T, P2, KAIROS_SHARE, "home", "reader", KAIROS_BIND_READ_ONLY);
    struct kairos_error err = {0};
    struct ceph_mount_info *m;

    (void)state;
    assert_true(json_is_true(json_object_get(creds, "read_only")));
    assert_int_equal(kt_mount_as(creds, kt_field(creds, "path"), &m), 0);
    assert_true(ceph_open(m, "/nope", O_CREAT | O_WRONLY, 0644) < 0);
    assert_true(ceph_mkdir(m, "/nodir", 0755) < 0);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_binding_delete(T.k, P2, KAIROS_SHARE, "home", "reader", &err), 0);
    json_decref(creds);
}

static void list_and_delete_rules(void **state)
{
    struct kairos_binding_page *page;
    struct kairos_binding b;
    struct kairos_error err = {0};
    json_t *c1 = kt_bind(&T, P2, KAIROS_VOLUME, "disk", "a", 0);
    json_t *c2 = kt_bind(&T, P2, KAIROS_VOLUME, "disk", "b", KAIROS_BIND_READ_ONLY);
    char *c = NULL;
    rados_t r;

    (void)state;
    assert_int_equal(kairos_binding_list(T.k, P2, KAIROS_VOLUME, "disk", NULL, 10, &page, &err), 0);
    assert_int_equal(page->count, 2);
    assert_string_equal(page->items[0].id, "a");
    assert_string_equal(page->items[1].id, "b");
    assert_int_equal(page->items[1].flags, KAIROS_BIND_READ_ONLY);
    kairos_binding_page_free(page);
    assert_int_equal(kairos_binding_get(T.k, P2, KAIROS_VOLUME, "disk", "a", &b, &err), 0);
    assert_false(b.pending);

    /* A bound volume is not deleted from under its users, unless forced. */
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_delete(T.k, P2, "disk", 0, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "2 bindings"));
    assert_int_equal(kairos_volume_delete(T.k, P2, "disk", KAIROS_ALLOC_DELETE_FORCE, &err), 0);
    assert_true(kt_connect_as(c1, &r) < 0);
    assert_true(kt_connect_as(c2, &r) < 0);
    assert_int_equal(kairos_binding_list(T.k, P2, KAIROS_VOLUME, "disk", NULL, 10, &page, &err), 0);
    assert_int_equal(page->count, 0);
    kairos_binding_page_free(page);

    /* Bad input changes nothing. */
    assert_int_equal(kairos_binding_create(T.k, P2, KAIROS_VOLUME, "disk", "x", 0, &c, &err),
                     -ENOENT);
    assert_int_equal(kairos_binding_create(T.k, P2, KAIROS_SHARE, "home", "Bad", 0, &c, &err),
                     -EINVAL);
    assert_int_equal(kairos_binding_create(T.k, P2, KAIROS_SHARE, "home", "x", 0x80, &c, &err),
                     -EINVAL);
    assert_int_equal(
        kairos_binding_create(T.k, P2, KAIROS_SNAPSHOT, "volume:disk@s", "x", 0, &c, &err),
        -EINVAL);
    assert_int_equal(kairos_binding_delete(T.k, P2, KAIROS_SHARE, "home", "ghost", &err), -ENOENT);
    assert_null(c);
    json_decref(c1);
    json_decref(c2);
}

/* Does cephx entity @name exist? */
static bool entity_exists(const char *name)
{
    char cmd[256], *outbuf = NULL, *outs = NULL;
    const char *cmds[] = {cmd};
    size_t outlen = 0, outslen = 0;
    int rc;

    snprintf(cmd, sizeof(cmd), "{\"prefix\":\"auth get\",\"entity\":\"%s\"}", name);
    rc = rados_mon_command(T.rados, cmds, 1, "", 0, &outbuf, &outlen, &outs, &outslen);
    rados_buffer_free(outbuf);
    rados_buffer_free(outs);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

/*
 * A broker that died after making the cephx entity and before handing it
 * out leaves a pending binding: the reconciler revokes the entity and
 * forgets the binding, so no key outlives its record.
 */
static void crash_mid_bind_revoked(void **state)
{
    char oid[128], bkey[128], jkey[128], entity[128], cmd[512], rec[128];
    const char *keys[2] = {bkey, jkey}, *vals[2] = {rec, "{\"ts\":1}"};
    size_t klens[2], vlens[2];
    const char *cmds[] = {cmd};
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct kairos_binding b;
    rados_write_op_t op;
    rados_ioctx_t meta;

    (void)state;
    snprintf(oid, sizeof(oid), "project.%s", P1);
    snprintf(bkey, sizeof(bkey), "b.volume.disk/crashed");
    snprintf(jkey, sizeof(jkey), "j.volume.disk/crashed");
    snprintf(rec, sizeof(rec), "{\"created\":1,\"flags\":0,\"state\":\"pending\",\"ts\":1}");
    snprintf(entity, sizeof(entity), "client.kairos.%s.volume.disk.crashed", P1);
    snprintf(cmd, sizeof(cmd),
             "{\"prefix\":\"auth get-or-create\",\"entity\":\"%s\",\"caps\":[\"mon\","
             "\"allow r\"]}",
             entity);
    assert_int_equal(rados_mon_command(T.rados, cmds, 1, "", 0, NULL, NULL, NULL, NULL), 0);
    assert_true(entity_exists(entity));
    for (int i = 0; i < 2; i++) {
        klens[i] = strlen(keys[i]);
        vlens[i] = strlen(vals[i]);
    }
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &meta), 0);
    op = rados_create_write_op();
    rados_write_op_omap_set2(op, keys, vals, klens, vlens, 2);
    assert_int_equal(rados_write_op_operate(op, meta, oid, NULL, 0), 0);
    rados_release_write_op(op);
    rados_ioctx_destroy(meta);
    assert_int_equal(kairos_binding_get(T.k, P1, KAIROS_VOLUME, "disk", "crashed", &b, &err), 0);
    assert_true(b.pending);

    assert_int_equal(kairos_reconcile_run(T.k, 1000, &rep, &err), 0);
    assert_true(rep.bindings >= 1);
    assert_false(entity_exists(entity));
    assert_int_equal(kairos_binding_get(T.k, P1, KAIROS_VOLUME, "disk", "crashed", &b, &err),
                     -ENOENT);
}

struct slow_bind {
    const char *id;
    char *creds;
    int rc;
    struct kairos_reconcile_report rep;
};

static void *bind_thread(void *arg)
{
    struct slow_bind *b = arg;
    struct kairos_error err = {0};

    b->rc = kairos_binding_create(T.k, P1, KAIROS_VOLUME, "disk", b->id, 0, &b->creds, &err);
    return NULL;
}

static void *reconcile_thread(void *arg)
{
    struct slow_bind *b = arg;
    struct kairos_error err = {0};

    b->rc = kairos_reconcile_run(T.k, 1, &b->rep, &err);
    return NULL;
}

/* The next fault point a thread of this process holds at (KAIROS_FAULT_FD). */
static void wait_held(FILE *points, const char *point)
{
    char line[128];

    assert_non_null(fgets(line, sizeof(line), points));
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, point);
}

/*
 * A bind slower than the lease: the reconciler finds its intent stale and
 * the binding pending, then the bind finishes and hands its key out. The
 * reconciler must leave that binding alone: its client was told it is
 * bound. (It used to revoke it: the key stopped working at once, and a
 * bucket could be deprovisioned as if unbound.)
 */
static void slow_bind_outlives_its_lease(void **state)
{
    const char *granted = "/tmp/kairos-test-binding-granted",
               *read = "/tmp/kairos-test-binding-read";
    struct slow_bind b = {.id = "slow"}, r = {0};
    struct kairos_binding got;
    struct kairos_error err = {0};
    char fault[256], fdstr[16], entity[160];
    pthread_t bt, rt;
    json_t *creds;
    FILE *points;
    rados_t cl;
    int fds[2];

    (void)state;
    assert_int_equal(pipe(fds), 0);
    points = fdopen(fds[0], "r");
    snprintf(fdstr, sizeof(fdstr), "%d", fds[1]);
    snprintf(fault, sizeof(fault),
             "binding.create.granted=hold:%s,binding.reconcile.pending=hold:%s", granted, read);
    assert_int_equal(close(open(granted, O_CREAT | O_WRONLY, 0600)), 0);
    assert_int_equal(close(open(read, O_CREAT | O_WRONLY, 0600)), 0);
    setenv("KAIROS_FAULT_FD", fdstr, 1);
    setenv("KAIROS_FAULT", fault, 1);

    /* The bind has its key and is held before it records the binding active. */
    assert_int_equal(pthread_create(&bt, NULL, bind_thread, &b), 0);
    wait_held(points, "binding.create.granted");
    usleep(20 * 1000);
    /* A pass with a 1 ms lease finds the intent stale and the binding pending. */
    assert_int_equal(pthread_create(&rt, NULL, reconcile_thread, &r), 0);
    wait_held(points, "binding.reconcile.pending");
    /* The bind ends first: its caller holds a key it was told works. */
    unlink(granted);
    assert_int_equal(pthread_join(bt, NULL), 0);
    assert_int_equal(b.rc, 0);
    unlink(read);
    assert_int_equal(pthread_join(rt, NULL), 0);
    unsetenv("KAIROS_FAULT");
    unsetenv("KAIROS_FAULT_FD");
    fclose(points);
    close(fds[1]);
    assert_int_equal(r.rc, 0);

    assert_int_equal(kairos_binding_get(T.k, P1, KAIROS_VOLUME, "disk", "slow", &got, &err), 0);
    assert_false(got.pending);
    snprintf(entity, sizeof(entity), "client.kairos.%s.volume.disk.slow", P1);
    assert_true(entity_exists(entity));
    creds = json_loads(b.creds, 0, NULL);
    assert_non_null(creds);
    assert_int_equal(kt_connect_as(creds, &cl), 0);
    rados_shutdown(cl);
    assert_int_equal(kairos_binding_delete(T.k, P1, KAIROS_VOLUME, "disk", "slow", &err), 0);
    json_decref(creds);
    free(b.creds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(volume_binding_isolation),
        cmocka_unit_test(share_binding_isolation),
        cmocka_unit_test(same_id_two_allocations),
        cmocka_unit_test(clone_of_clone_reads_grandparent),
        cmocka_unit_test(share_keys_stay_in_their_namespace),
        cmocka_unit_test(read_only_share),
        cmocka_unit_test(list_and_delete_rules),
        cmocka_unit_test(crash_mid_bind_revoked),
        cmocka_unit_test(slow_bind_outlives_its_lease),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
