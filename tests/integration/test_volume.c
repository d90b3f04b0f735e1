/*
 * test_volume.c - volumes on the real cluster: RBD images in the project's
 * namespace with the required features, resize seen by a client, snapshots
 * and the snapshot limit, clones that read their parent's data, deletes
 * refused while clones depend on them, and refusals that leave no image.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbd/librbd.h>

#define MiB ((uint64_t)1 << 20)

static struct kt T;
static rados_t R; /* a plain client, to look at what Kairos made */

static int setup(void **state)
{
    (void)state;
    kt_open(&T, NULL);
    R = T.rados;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_close(&T);
    return 0;
}

static void project(char *name, size_t len, uint64_t volume_bytes, uint64_t snapshots)
{
    struct kairos_quota q;
    struct kairos_error err = {0};

    kairos_quota_unlimited(&q);
    q.kind[KAIROS_VOLUME].bytes = volume_bytes;
    q.kind[KAIROS_SNAPSHOT].count = snapshots;
    kt_name(name, len, "vol");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
}

/* Open @image in @project's namespace with the plain client; 0 or -errno. */
static int open_rbd(const char *project, const char *image, rados_ioctx_t *io, rbd_image_t *img)
{
    int rc = rados_ioctx_create(R, T.cfg->pools.block, io);

    if (rc < 0)
        return rc;
    rados_ioctx_set_namespace(*io, project);
    rc = rbd_open(*io, image, img, NULL);
    if (rc < 0)
        rados_ioctx_destroy(*io);
    return rc;
}

static void close_rbd(rados_ioctx_t io, rbd_image_t img)
{
    rbd_close(img);
    rados_ioctx_destroy(io);
}

static void fill(const char *project, const char *image, char byte, size_t len)
{
    rados_ioctx_t io;
    rbd_image_t img;
    char *buf = malloc(len);

    memset(buf, byte, len);
    assert_int_equal(open_rbd(project, image, &io, &img), 0);
    assert_int_equal(rbd_write(img, 0, len, buf), (ssize_t)len);
    assert_int_equal(rbd_flush(img), 0);
    close_rbd(io, img);
    free(buf);
}

static void create_and_info(void **state)
{
    struct kairos_volume_info vi;
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    uint64_t features = 0;
    char p[64];

    (void)state;
    project(p, sizeof(p), 1024 * MiB, 10);
    assert_int_equal(kairos_volume_create(T.k, p, "disk", 64 * MiB, &err), 0);
    /* A repeat is the same volume; another size is a conflict. */
    assert_int_equal(kairos_volume_create(T.k, p, "disk", 64 * MiB, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, p, "disk", 65 * MiB, &err), -EEXIST);

    /* The image is in the project's own namespace, with the features asked for. */
    assert_int_equal(open_rbd(p, "disk", &io, &img), 0);
    assert_int_equal(rbd_get_features(img, &features), 0);
    close_rbd(io, img);
    assert_true((features & RBD_FEATURES_DEFAULT) == RBD_FEATURES_DEFAULT);

    fill(p, "disk", 'x', 4 * MiB);
    assert_int_equal(kairos_volume_info(T.k, p, "disk", &vi, &err), 0);
    assert_true(vi.size == 64 * MiB);
    assert_true(vi.used >= 4 * MiB && vi.used < 64 * MiB);
    assert_string_equal(vi.parent, "");
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void resize_seen_by_client(void **state)
{
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    uint64_t size = 0;
    char p[64];

    (void)state;
    project(p, sizeof(p), 200 * MiB, 10);
    assert_int_equal(kairos_volume_create(T.k, p, "grow", 64 * MiB, &err), 0);
    /* A client that has the image open sees the new size. */
    assert_int_equal(open_rbd(p, "grow", &io, &img), 0);
    assert_int_equal(kairos_volume_resize(T.k, p, "grow", 128 * MiB, 0, &err), 0);
    assert_int_equal(rbd_get_size(img, &size), 0);
    assert_true(size == 128 * MiB);
    /* Past the quota: refused, and the image keeps its size. */
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_resize(T.k, p, "grow", 300 * MiB, 0, &err), -EDQUOT);
    assert_int_equal(rbd_get_size(img, &size), 0);
    assert_true(size == 128 * MiB);
    /* Shrinking needs the flag. */
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_resize(T.k, p, "grow", 32 * MiB, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "shrink"));
    assert_int_equal(kairos_volume_resize(T.k, p, "grow", 32 * MiB, KAIROS_RESIZE_SHRINK, &err), 0);
    assert_int_equal(rbd_get_size(img, &size), 0);
    assert_true(size == 32 * MiB);
    close_rbd(io, img);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void clone_reads_parent(void **state)
{
    struct kairos_volume_info vi;
    struct kairos_volume_snap *snaps;
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    char p[64], golden[64], buf[4096];
    size_t n;

    (void)state;
    /* A golden image in one project, cloned into another. */
    project(golden, sizeof(golden), 1024 * MiB, 10);
    project(p, sizeof(p), 1024 * MiB, 10);
    assert_int_equal(kairos_volume_create(T.k, golden, "ubuntu", 32 * MiB, &err), 0);
    fill(golden, "ubuntu", 'g', sizeof(buf));
    assert_int_equal(kairos_volume_snapshot_create(T.k, golden, "ubuntu", "gold", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, p, "vm1", golden, "ubuntu", "gold", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, p, "vm1", golden, "ubuntu", "gold", &err), 0);

    assert_int_equal(open_rbd(p, "vm1", &io, &img), 0);
    assert_int_equal(rbd_read(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    close_rbd(io, img);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 'g');
    assert_int_equal(kairos_volume_info(T.k, p, "vm1", &vi, &err), 0);
    assert_true(vi.size == 32 * MiB);
    assert_non_null(strstr(vi.parent, "/ubuntu@gold"));

    assert_int_equal(kairos_volume_snapshot_list(T.k, golden, "ubuntu", &snaps, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(snaps[0].name, "gold");
    assert_int_equal(snaps[0].clones, 1);
    free(snaps);

    /* The parent and its snapshot cannot go while the clone needs them... */
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_delete(T.k, golden, "ubuntu", 0, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "clone"));
    assert_int_equal(kairos_volume_snapshot_delete(T.k, golden, "ubuntu", "gold", &err), -EBUSY);
    /* ... and can once it is flattened, while the clone keeps the data. */
    assert_int_equal(kairos_volume_flatten(T.k, p, "vm1", &err), 0);
    assert_int_equal(kairos_volume_delete(T.k, golden, "ubuntu", 0, &err), 0);
    assert_int_equal(open_rbd(p, "vm1", &io, &img), 0);
    assert_int_equal(rbd_read(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    close_rbd(io, img);
    assert_int_equal(buf[0], 'g');
    /* A clone of something gone is refused. */
    assert_int_equal(kairos_volume_clone(T.k, p, "vm2", golden, "ubuntu", "gold", &err), -ENOENT);
    kt_assert_consistent(&T, p);
    kt_assert_consistent(&T, golden);
    assert_int_equal(kairos_project_delete(T.k, golden, KAIROS_DELETE_FORCE, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void snapshots_and_limit(void **state)
{
    struct kairos_usage u;
    struct kairos_volume_snap *snaps;
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    char p[64];
    size_t n;
    int max = 8;
    rbd_snap_info_t info[8];

    (void)state;
    project(p, sizeof(p), 1024 * MiB, 2);
    assert_int_equal(kairos_volume_create(T.k, p, "db", 16 * MiB, &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "a", &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "a", &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "b", &err), 0);
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "c", &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "snapshot count quota"));
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "nope", "c", &err), -ENOENT);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "Bad", &err), -EINVAL);
    /* The refused snapshot does not exist in RBD. */
    assert_int_equal(open_rbd(p, "db", &io, &img), 0);
    assert_int_equal(rbd_snap_list(img, info, &max), 2);
    rbd_snap_list_end(info);
    close_rbd(io, img);
    assert_int_equal(kairos_volume_snapshot_list(T.k, p, "db", &snaps, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(snaps[0].created_ms > 0);
    free(snaps);
    assert_int_equal(kairos_volume_snapshot_delete(T.k, p, "db", "a", &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, p, "db", "c", &err), 0);
    /* Deleting the volume takes its snapshots, records included. */
    assert_int_equal(kairos_volume_delete(T.k, p, "db", 0, &err), 0);
    assert_int_equal(kairos_usage_get(T.k, p, &u, &err), 0);
    assert_true(u.kind[KAIROS_SNAPSHOT].alloc_count == 0);
    assert_true(u.kind[KAIROS_VOLUME].alloc_count == 0);
    assert_int_equal(open_rbd(p, "db", &io, &img), -ENOENT);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, 0, &err), 0);
}

static void refused_leaves_nothing(void **state)
{
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    char p[64];

    (void)state;
    project(p, sizeof(p), 100 * MiB, 10);
    assert_int_equal(kairos_volume_create(T.k, p, "a", 60 * MiB, &err), 0);
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_create(T.k, p, "b", 60 * MiB, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "volume bytes quota exceeded"));
    assert_int_equal(open_rbd(p, "b", &io, &img), -ENOENT);
    assert_int_equal(kairos_volume_create(T.k, p, "c", 0, &err), -EINVAL);
    assert_int_equal(kairos_volume_create(T.k, p, "C", MiB, &err), -EINVAL);
    assert_int_equal(kairos_volume_create(T.k, p, "../x", MiB, &err), -EINVAL);
    assert_int_equal(kairos_volume_create(T.k, p, "d", (uint64_t)INT64_MAX + 1, &err), -EINVAL);
    assert_int_equal(kairos_volume_create(T.k, "no-such-project-q", "d", MiB, &err), -ENOENT);
    assert_int_equal(kairos_volume_resize(T.k, p, "a", MiB, 0x40, &err), -EINVAL);
    assert_int_equal(kairos_volume_delete(T.k, p, "zz", 0, &err), -ENOENT);
    assert_int_equal(kairos_volume_delete(T.k, p, "a", 0x40, &err), -EINVAL);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
    /* The project's namespace went with it. */
    assert_int_equal(rados_ioctx_create(R, T.cfg->pools.block, &io), 0);
    bool exists = true;
    assert_int_equal(rbd_namespace_exists(io, p, &exists), 0);
    assert_false(exists);
    rados_ioctx_destroy(io);
}

/*
 * A broker that died between its reserve and its commit: once the lease is
 * past, the reconciler asks RBD. The image that was made is committed; the
 * one that never was is released.
 */
static void crash_settled_by_rbd(void **state)
{
    struct kairos_alloc_req made = {.kind = KAIROS_VOLUME, .name = "made", .bytes = 8 * MiB};
    struct kairos_alloc_req lost = {.kind = KAIROS_VOLUME, .name = "lost", .bytes = 8 * MiB};
    struct kairos_reservation *r1, *r2;
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    rados_ioctx_t io;
    int order = 22;
    char p[64];

    (void)state;
    project(p, sizeof(p), 100 * MiB, 10);
    made.project = lost.project = p;
    /* One volume first, so that the project's namespace exists. */
    assert_int_equal(kairos_volume_create(T.k, p, "first", MiB, &err), 0);
    assert_int_equal(kairos_ledger_reserve(T.k, &made, &r1, &err), 0);
    assert_int_equal(kairos_ledger_reserve(T.k, &lost, &r2, &err), 0);
    assert_int_equal(rados_ioctx_create(R, T.cfg->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, p);
    assert_int_equal(rbd_create(io, "made", 8 * MiB, &order), 0);
    rados_ioctx_destroy(io);
    usleep(5000);
    assert_int_equal(kairos_reconcile_run(T.k, 1, &rep, &err), 0);
    assert_true(rep.committed >= 1 && rep.released >= 1);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "made", &a, &err), 0);
    assert_false(a.pending);
    assert_int_equal(a.bytes, 8 * MiB);
    kairos_alloc_clear(&a);
    kairos_error_clear(&err);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_VOLUME, "lost", &a, &err), -ENOENT);
    /* The dead broker's late commit is refused: the reconciler decided. */
    assert_int_equal(kairos_ledger_commit(T.k, r2, &err), -ESTALE);
    kairos_reservation_free(r1);
    kairos_reservation_free(r2);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

/*
 * RBD's trash keeps a namespace: an image whose removal was cut short
 * (source "removing") or that an admin moved there. A forced project
 * delete empties it and removes the namespace.
 */
static void delete_empties_the_trash(void **state)
{
    char name[64];
    struct kairos_error err = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    rbd_trash_image_info_t entries[4];
    size_t n = 4;

    (void)state;
    project(name, sizeof(name), 1ULL << 30, 4);
    assert_int_equal(kairos_volume_create(T.k, name, "kept", 8 * MiB, &err), 0);
    assert_int_equal(open_rbd(name, "kept", &io, &img), 0);
    rbd_close(img);
    assert_int_equal(rbd_create(io, "stray", 4 * MiB, &(int){22}), 0);
    assert_int_equal(rbd_trash_move(io, "stray", 0), 0);
    assert_int_equal(rbd_trash_list(io, entries, &n), 1);
    rbd_trash_list_cleanup(entries, n);

    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    n = 4;
    int left = rbd_trash_list(io, entries, &n);
    assert_true(left == 0 || left == -ENOENT);
    rados_ioctx_set_namespace(io, "");
    bool exists = true;
    assert_int_equal(rbd_namespace_exists(io, name, &exists), 0);
    assert_false(exists);
    rados_ioctx_destroy(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_and_info),          cmocka_unit_test(resize_seen_by_client),
        cmocka_unit_test(clone_reads_parent),       cmocka_unit_test(snapshots_and_limit),
        cmocka_unit_test(refused_leaves_nothing),   cmocka_unit_test(crash_settled_by_rbd),
        cmocka_unit_test(delete_empties_the_trash),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
