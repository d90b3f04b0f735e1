/*
 * test_share.c - shares on the real cluster: the project directory with its
 * own data namespace and the project's quota, share quotas set and changed,
 * used bytes from rbytes, snapshots, recursive delete, clones from a
 * snapshot, and refusals that leave no directory.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <kairos/reconcile.h>

#define MiB ((uint64_t)1 << 20)

static struct kt T;
static struct ceph_mount_info *M; /* an admin mount, to look at what Kairos made */

static int setup(void **state)
{
    (void)state;
    kt_open(&T, NULL);
    assert_int_equal(ceph_create(&M, T.cfg->ceph.client + strlen("client.")), 0);
    assert_int_equal(ceph_conf_read_file(M, T.cfg->ceph.conf), 0);
    if (T.cfg->ceph.keyring)
        ceph_conf_set(M, "keyring", T.cfg->ceph.keyring);
    assert_int_equal(ceph_select_filesystem(M, T.cfg->pools.cephfs_name), 0);
    assert_int_equal(ceph_mount(M, "/"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ceph_unmount(M);
    ceph_release(M);
    kt_close(&T);
    return 0;
}

static void project(char *name, size_t len, uint64_t share_bytes)
{
    struct kairos_quota q;
    struct kairos_error err = {0};

    kairos_quota_unlimited(&q);
    q.kind[KAIROS_SHARE].bytes = share_bytes;
    q.kind[KAIROS_SNAPSHOT].count = 5;
    kt_name(name, len, "shr");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
}

static const char *xattr(const char *path, const char *name)
{
    static char v[256];
    int n = ceph_getxattr(M, path, name, v, sizeof(v) - 1);

    if (n < 0)
        return NULL;
    v[n] = '\0';
    return v;
}

static void write_file(const char *path, size_t len)
{
    char *buf = calloc(1, len);
    int fd = ceph_open(M, path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(ceph_write(M, fd, buf, (int64_t)len, 0), (int)len);
    assert_int_equal(ceph_fsync(M, fd, 0), 0);
    ceph_close(M, fd);
    free(buf);
}

static void create_info_resize(void **state)
{
    struct kairos_share_info si;
    struct kairos_error err = {0};
    struct kairos_quota q;
    char p[64], dir[256], path[512], ns[160];

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "home", 16 * MiB, 1000, &err), 0);
    assert_int_equal(kairos_share_create(T.k, p, "home", 16 * MiB, 1000, &err), 0);
    assert_int_equal(kairos_share_create(T.k, p, "home", 16 * MiB, 0, &err), -EEXIST);

    /* The project directory: its own data namespace, the project's share quota. */
    snprintf(dir, sizeof(dir), "%s/%s", T.cfg->pools.share_root, p);
    assert_string_equal(xattr(dir, "ceph.dir.layout.pool_namespace"), p);
    assert_string_equal(xattr(dir, "ceph.quota.max_bytes"), "67108864");
    snprintf(path, sizeof(path), "%s/home", dir);
    /* The share's own namespace: a binding of another share cannot reach its objects. */
    snprintf(ns, sizeof(ns), "%s.home", p);
    assert_string_equal(xattr(path, "ceph.dir.layout.pool_namespace"), ns);
    assert_string_equal(xattr(path, "ceph.quota.max_bytes"), "16777216");
    assert_string_equal(xattr(path, "ceph.quota.max_files"), "1000");

    /* A quota change reaches the project directory. */
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_SHARE].bytes = 80 * MiB;
    q.kind[KAIROS_SNAPSHOT].count = 5;
    assert_int_equal(kairos_project_set_quota(T.k, p, &q, 0, &err), 0);
    assert_string_equal(xattr(dir, "ceph.quota.max_bytes"), "83886080");

    snprintf(dir, sizeof(dir), "%s/f1", path);
    write_file(dir, 3 * MiB);
    /* Recursive stats reach other clients a moment after the write. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(kairos_share_info(T.k, p, "home", &si, &err), 0);
        if (si.used == 3 * MiB)
            break;
        usleep(100000);
    }
    assert_true(si.size == 16 * MiB);
    assert_true(si.max_files == 1000);
    assert_true(si.used == 3 * MiB);
    assert_true(si.entries >= 1);

    assert_int_equal(kairos_share_resize(T.k, p, "home", 32 * MiB, 0, &err), 0);
    assert_string_equal(xattr(path, "ceph.quota.max_bytes"), "33554432");
    kairos_error_clear(&err);
    assert_int_equal(kairos_share_resize(T.k, p, "home", 8 * MiB, 0, &err), -EINVAL);
    assert_int_equal(kairos_share_resize(T.k, p, "home", 81 * MiB, 0, &err), -EDQUOT);
    assert_string_equal(xattr(path, "ceph.quota.max_bytes"), "33554432");
    assert_int_equal(kairos_share_resize(T.k, p, "home", 8 * MiB, KAIROS_RESIZE_SHRINK, &err), 0);
    assert_string_equal(xattr(path, "ceph.quota.max_bytes"), "8388608");
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

/*
 * A share's top directory: 1777 by default (the sticky bit keeps users
 * from removing each other's files); owner, group and mode as the create
 * asks, kept on a repeat, and a repeat asking others is -EEXIST.
 */
static void owner_and_mode(void **state)
{
    struct kairos_share_access a = {.mode = 02770, .uid = 1234, .gid = 5678};
    struct kairos_share_access bad = {.mode = 010000, .uid = -1, .gid = -1};
    struct kairos_error err = {0};
    struct ceph_statx stx;
    char p[64], path[512];

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "plain", MiB, 0, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/plain", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE | CEPH_STATX_UID, 0), 0);
    assert_int_equal(stx.stx_mode & 07777, 01777);
    assert_int_equal(stx.stx_uid, 0);

    assert_int_equal(kairos_share_create_as(T.k, p, "team", MiB, 0, &a, &err), 0);
    assert_int_equal(kairos_share_create_as(T.k, p, "team", MiB, 0, &a, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/team", T.cfg->pools.share_root, p);
    assert_int_equal(
        ceph_statx(M, path, &stx, CEPH_STATX_MODE | CEPH_STATX_UID | CEPH_STATX_GID, 0), 0);
    assert_int_equal(stx.stx_mode & 07777, 02770);
    assert_int_equal(stx.stx_uid, 1234);
    assert_int_equal(stx.stx_gid, 5678);
    /* Another owner or mode for the same name: not this share. */
    a.mode = 0700;
    assert_int_equal(kairos_share_create_as(T.k, p, "team", MiB, 0, &a, &err), -EEXIST);
    assert_int_equal(kairos_share_create(T.k, p, "team", MiB, 0, &err), -EEXIST);
    /* Bad input: refused before anything is made. */
    assert_int_equal(kairos_share_create_as(T.k, p, "odd", MiB, 0, &bad, &err), -EINVAL);
    bad = (struct kairos_share_access){.mode = 0755, .uid = 4294967295LL, .gid = -1};
    assert_int_equal(kairos_share_create_as(T.k, p, "odd", MiB, 0, &bad, &err), -EINVAL);
    bad = (struct kairos_share_access){.mode = 0755, .uid = -1, .gid = -2};
    assert_int_equal(kairos_share_create_as(T.k, p, "odd", MiB, 0, &bad, &err), -EINVAL);
    snprintf(path, sizeof(path), "%s/%s/odd", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void snapshots_and_delete(void **state)
{
    struct kairos_share_snap *snaps;
    struct kairos_share_info si;
    struct kairos_error err = {0};
    struct ceph_statx stx;
    char p[64], path[512], file[600];
    size_t n;

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "data", 16 * MiB, 0, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/data", T.cfg->pools.share_root, p);
    snprintf(file, sizeof(file), "%s/sub", path);
    assert_int_equal(ceph_mkdir(M, file, 0755), 0);
    snprintf(file, sizeof(file), "%s/sub/f", path);
    write_file(file, MiB);
    assert_int_equal(kairos_share_snapshot_create(T.k, p, "data", "monday", &err), 0);
    assert_int_equal(kairos_share_snapshot_create(T.k, p, "data", "monday", &err), 0);
    snprintf(file, sizeof(file), "%s/.snap/monday/sub/f", path);
    assert_int_equal(ceph_statx(M, file, &stx, CEPH_STATX_SIZE, 0), 0);
    assert_true(stx.stx_size == MiB);
    assert_int_equal(kairos_share_snapshot_list(T.k, p, "data", &snaps, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(snaps[0].name, "monday");
    free(snaps);
    assert_int_equal(kairos_share_info(T.k, p, "data", &si, &err), 0);
    assert_int_equal(si.snapshots, 1);
    assert_int_equal(kairos_share_snapshot_delete(T.k, p, "data", "monday", &err), 0);
    assert_int_equal(ceph_statx(M, file, &stx, CEPH_STATX_SIZE, 0), -ENOENT);
    assert_int_equal(kairos_share_snapshot_create(T.k, p, "data", "tuesday", &err), 0);

    /* Delete takes files, subdirectories and snapshots, records included. */
    assert_int_equal(kairos_share_delete(T.k, p, "data", 0, &err), 0);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    kt_assert_consistent(&T, p);
    struct kairos_usage u;
    assert_int_equal(kairos_usage_get(T.k, p, &u, &err), 0);
    assert_true(u.kind[KAIROS_SNAPSHOT].alloc_count == 0);
    assert_int_equal(kairos_project_delete(T.k, p, 0, &err), 0);
    /* The project directory went with the project. */
    snprintf(path, sizeof(path), "%s/%s", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
}

/* Levels of DEEP_NAME-character directories: a path far past 4 KiB (and PATH_MAX). */
#define DEEP_LEVELS 90
#define DEEP_NAME   100

/* Build a tree DEEP_LEVELS deep under @path, a file at the bottom, walking by cwd. */
static void make_deep(const char *path)
{
    char name[DEEP_NAME + 1];
    int fd;

    assert_int_equal(ceph_chdir(M, path), 0);
    for (int i = 0; i < DEEP_LEVELS; i++) {
        memset(name, 'a' + i % 26, DEEP_NAME);
        name[DEEP_NAME] = '\0';
        assert_int_equal(ceph_mkdir(M, name, 0755), 0);
        /* A file beside each directory, so each level has more than one entry. */
        name[0] = '_';
        fd = ceph_open(M, name, O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        ceph_close(M, fd);
        name[0] = 'a' + i % 26;
        assert_int_equal(ceph_chdir(M, name), 0);
    }
    fd = ceph_open(M, "bottom", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    ceph_close(M, fd);
    assert_int_equal(ceph_chdir(M, "/"), 0);
}

/*
 * A share tree deeper than any path buffer is deleted by directory
 * handles: the share's own delete finishes, and so does a forced project
 * delete that meets another such tree.
 */
static void deep_tree_deleted(void **state)
{
    struct kairos_error err = {0};
    struct ceph_statx stx;
    char p[64], path[512];

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "deep", 8 * MiB, 0, &err), 0);
    assert_int_equal(kairos_share_create(T.k, p, "deeper", 8 * MiB, 0, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/deep", T.cfg->pools.share_root, p);
    make_deep(path);
    if (kairos_share_delete(T.k, p, "deep", 0, &err) < 0)
        fail_msg("deleting a deep share: %s", err.msg);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    snprintf(path, sizeof(path), "%s/%s/deeper", T.cfg->pools.share_root, p);
    make_deep(path);
    if (kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err) < 0)
        fail_msg("deleting a project with a deep share: %s", err.msg);
    snprintf(path, sizeof(path), "%s/%s", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
}

static void refused_leaves_nothing(void **state)
{
    struct kairos_error err = {0};
    struct ceph_statx stx;
    char p[64], path[512];

    (void)state;
    project(p, sizeof(p), 20 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "a", 15 * MiB, 0, &err), 0);
    kairos_error_clear(&err);
    assert_int_equal(kairos_share_create(T.k, p, "b", 10 * MiB, 0, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "share bytes quota exceeded"));
    snprintf(path, sizeof(path), "%s/%s/b", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    assert_int_equal(kairos_share_create(T.k, p, "..", MiB, 0, &err), -EINVAL);
    assert_int_equal(kairos_share_create(T.k, p, "a/b", MiB, 0, &err), -EINVAL);
    assert_int_equal(kairos_share_create(T.k, p, "c", 0, 0, &err), -EINVAL);
    assert_int_equal(kairos_share_create(T.k, p, "c", MiB, (uint64_t)INT64_MAX + 1, &err), -EINVAL);
    assert_int_equal(kairos_share_snapshot_create(T.k, p, "a", ".snap", &err), -EINVAL);
    assert_int_equal(kairos_share_delete(T.k, p, "zz", 0, &err), -ENOENT);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

/*
 * A create that died between mkdir and its quotas: the reconciler finishes
 * the directory as the ledger recorded it (namespace, file and byte quota)
 * before it commits, so no share lives without its quota.
 */
static void half_made_share_finished(void **state)
{
    struct kairos_alloc_req req = {
        .kind = KAIROS_SHARE, .name = "half", .bytes = 8 * MiB, .attrs = "{\"max_files\":77}"};
    struct kairos_reconcile_report rep;
    struct kairos_reservation *res = NULL;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64], path[512], ns[160];

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    req.project = p;
    assert_int_equal(kairos_share_create(T.k, p, "first", MiB, 0, &err), 0);
    assert_int_equal(kairos_ledger_reserve(T.k, &req, &res, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/half", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_mkdir(M, path, 0755), 0);
    assert_null(xattr(path, "ceph.quota.max_bytes"));
    usleep(5000);
    assert_int_equal(kairos_reconcile_run(T.k, 1, &rep, &err), 0);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_SHARE, "half", &a, &err), 0);
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    assert_string_equal(xattr(path, "ceph.quota.max_bytes"), "8388608");
    assert_string_equal(xattr(path, "ceph.quota.max_files"), "77");
    snprintf(ns, sizeof(ns), "%s.half", p);
    assert_string_equal(xattr(path, "ceph.dir.layout.pool_namespace"), ns);
    kairos_reservation_free(res);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

static void read_back(const char *path, size_t off, size_t len, unsigned char want)
{
    unsigned char *buf = malloc(len);
    int fd = ceph_open(M, path, O_RDONLY, 0);

    assert_true(fd >= 0);
    assert_int_equal(ceph_read(M, fd, (char *)buf, (int64_t)len, (int64_t)off), (int)len);
    for (size_t i = 0; i < len; i++)
        if (buf[i] != want)
            fail_msg("%s: byte %zu is %d, not %d", path, off + i, buf[i], want);
    ceph_close(M, fd);
    free(buf);
}

static void write_at(const char *path, size_t off, size_t len, unsigned char byte)
{
    char *buf = malloc(len);
    int fd = ceph_open(M, path, O_CREAT | O_WRONLY, 0640);

    memset(buf, byte, len);
    assert_true(fd >= 0);
    assert_int_equal(ceph_write(M, fd, buf, (int64_t)len, (int64_t)off), (int)len);
    assert_int_equal(ceph_fsync(M, fd, 0), 0);
    ceph_close(M, fd);
    free(buf);
}

/*
 * A share cloned from a snapshot of another: the snapshot's tree as it was
 * (directories, owners and modes, data, holes, symbolic links, fifos), in
 * a share of its own with its own quota and namespace; idempotent; and a
 * clone refused leaves neither a share nor a record.
 */
static void clone_from_snapshot(void **state)
{
    struct kairos_share_info si;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct ceph_statx stx;
    char p[64], src[512], dst[512], f[700], link[64], ns[160];

    (void)state;
    project(p, sizeof(p), 128 * MiB);
    assert_int_equal(kairos_share_create(T.k, p, "src", 32 * MiB, 0, &err), 0);
    snprintf(src, sizeof(src), "%s/%s/src", T.cfg->pools.share_root, p);
    snprintf(dst, sizeof(dst), "%s/%s/copy", T.cfg->pools.share_root, p);
    snprintf(f, sizeof(f), "%s/sub", src);
    assert_int_equal(ceph_mkdir(M, f, 0750), 0);
    assert_int_equal(ceph_chown(M, f, 1234, 5678), 0);
    snprintf(f, sizeof(f), "%s/sub/f", src);
    write_at(f, 0, MiB, 0xab);
    /* 12 MiB of hole, then 4 KiB of data. */
    snprintf(f, sizeof(f), "%s/sparse", src);
    write_at(f, 12 * MiB, 4096, 0x5a);
    snprintf(f, sizeof(f), "%s/link", src);
    assert_int_equal(ceph_symlink(M, "sub/f", f), 0);
    snprintf(f, sizeof(f), "%s/fifo", src);
    assert_int_equal(ceph_mknod(M, f, S_IFIFO | 0600, 0), 0);
    assert_int_equal(kairos_share_snapshot_create(T.k, p, "src", "s1", &err), 0);
    snprintf(f, sizeof(f), "%s/later", src);
    write_at(f, 0, 10, 1);

    assert_int_equal(kairos_share_clone(T.k, p, "copy", p, "src", "s1", 0, &err), 0);
    assert_int_equal(kairos_share_clone(T.k, p, "copy", p, "src", "s1", 0, &err), 0);
    assert_int_equal(kairos_share_info(T.k, p, "copy", &si, &err), 0);
    assert_true(si.size == 32 * MiB); /* the source's size */
    snprintf(ns, sizeof(ns), "%s.copy", p);
    assert_string_equal(xattr(dst, "ceph.dir.layout.pool_namespace"), ns);
    snprintf(f, sizeof(f), "%s/sub", dst);
    assert_int_equal(ceph_statx(M, f, &stx, CEPH_STATX_BASIC_STATS, 0), 0);
    assert_int_equal(stx.stx_mode & 07777, 0750);
    assert_int_equal(stx.stx_uid, 1234);
    assert_int_equal(stx.stx_gid, 5678);
    snprintf(f, sizeof(f), "%s/sub/f", dst);
    read_back(f, 0, MiB, 0xab);
    snprintf(f, sizeof(f), "%s/sparse", dst);
    assert_int_equal(ceph_statx(M, f, &stx, CEPH_STATX_SIZE, 0), 0);
    assert_true(stx.stx_size == 12 * MiB + 4096);
    read_back(f, 0, MiB, 0);
    read_back(f, 12 * MiB, 4096, 0x5a);
    snprintf(f, sizeof(f), "%s/link", dst);
    assert_int_equal(ceph_readlink(M, f, link, sizeof(link)), 5);
    assert_memory_equal(link, "sub/f", 5);
    snprintf(f, sizeof(f), "%s/fifo", dst);
    assert_int_equal(ceph_statx(M, f, &stx, CEPH_STATX_MODE, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISFIFO(stx.stx_mode));
    snprintf(f, sizeof(f), "%s/later", dst);
    assert_int_equal(ceph_statx(M, f, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    /* The copy is the clone's, not a window on the source. */
    snprintf(f, sizeof(f), "%s/sub/f", dst);
    write_at(f, 0, 10, 0xcd);
    snprintf(f, sizeof(f), "%s/sub/f", src);
    read_back(f, 0, MiB, 0xab);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_SHARE, "copy", &a, &err), 0);
    assert_false(a.pending);
    assert_non_null(strstr(a.attrs, "src@s1"));
    kairos_alloc_clear(&a);

    /* Refusals: another source under the name, no snapshot, no source share. */
    assert_int_equal(kairos_share_clone(T.k, p, "copy", p, "src", "s2", 0, &err), -EEXIST);
    assert_int_equal(kairos_share_clone(T.k, p, "other", p, "src", "s2", 0, &err), -ENOENT);
    assert_int_equal(kairos_share_clone(T.k, p, "other", p, "nope", "s1", 0, &err), -ENOENT);
    assert_int_equal(kairos_share_clone(T.k, p, "other", p, "src", "../x", 0, &err), -EINVAL);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_SHARE, "other", &a, &err), -ENOENT);
    snprintf(f, sizeof(f), "%s/%s/.clone-other", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_statx(M, f, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

/*
 * A clone that died mid-copy: its share does not exist yet (the copy sits
 * in .clone-<name>), so the reconciler releases the reservation and
 * removes the partial copy.
 */
static void dead_clone_rolled_back(void **state)
{
    struct kairos_alloc_req req = {.kind = KAIROS_SHARE,
                                   .name = "dead",
                                   .bytes = 8 * MiB,
                                   .attrs = "{\"source\":\"x/src@s1\"}"};
    struct kairos_reconcile_report rep;
    struct kairos_reservation *res = NULL;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct ceph_statx stx;
    char p[64], path[512], f[600];

    (void)state;
    project(p, sizeof(p), 64 * MiB);
    req.project = p;
    assert_int_equal(kairos_share_create(T.k, p, "first", MiB, 0, &err), 0);
    assert_int_equal(kairos_ledger_reserve(T.k, &req, &res, &err), 0);
    snprintf(path, sizeof(path), "%s/%s/.clone-dead", T.cfg->pools.share_root, p);
    assert_int_equal(ceph_mkdir(M, path, 0755), 0);
    snprintf(f, sizeof(f), "%s/partial", path);
    write_file(f, MiB);
    usleep(5000);
    assert_int_equal(kairos_reconcile_run(T.k, 1, &rep, &err), 0);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_SHARE, "dead", &a, &err), -ENOENT);
    assert_int_equal(ceph_statx(M, path, &stx, CEPH_STATX_MODE, 0), -ENOENT);
    kairos_reservation_free(res);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_info_resize),     cmocka_unit_test(snapshots_and_delete),
        cmocka_unit_test(refused_leaves_nothing), cmocka_unit_test(half_made_share_finished),
        cmocka_unit_test(clone_from_snapshot),    cmocka_unit_test(dead_clone_rolled_back),
        cmocka_unit_test(deep_tree_deleted),      cmocka_unit_test(owner_and_mode),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
