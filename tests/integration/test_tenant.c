/*
 * test_tenant.c - a tenant holding binding keys, trying everything (issue
 * 14). Each attack runs for real with the keys kairos hands out, through
 * the real rbd, rados, ceph and qemu-io programs and through librados,
 * librbd and libcephfs, and is refused, or found and acted on by one
 * reconciler pass:
 *
 *   volume keys  open their image read-write (exclusive lock, object map,
 *                fast-diff) and do I/O, read through a clone's ancestors,
 *                and are refused resize, snapshots, features, metadata,
 *                image creation, blocklists, other images, pool snapshot
 *                ids, rbd_info and rbd_directory writes;
 *   drift        a rewritten header (size, features), objects of any name
 *                under the data prefix or named after the image id, clones
 *                of snapshots that never were, a snapshot the ledger does
 *                not count, raw objects in a share's namespace, a share
 *                past its quota; by the project's policy (revoke, report);
 *   unbind       a connected librbd and libcephfs client fail within 10 s,
 *                and a new binding of the same allocation works;
 *   lock         a replacement client takes the lock of a killed one;
 *   siblings     a binding is refused while another image's id extends
 *                the image's;
 *   share keys   no pool snapshot ids, no CephFS snapshots, no other pool.
 *
 * Needs the "cluster" fixture and the tenant_client program.
 */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rbd/librbd.h>

#include "rbdcaps.h"

#define MiB ((uint64_t)1 << 20)
/* Unbinding must end a connected client's access within this (issue 14). */
#define EVICT_SECONDS 10

static struct kt T;
static char A[64], B[64], G[64]; /* the attacker, a victim, a golden image's project */
static char dir[] = "/tmp/kairos-tenant-XXXXXX";

/* ---- set-up ---- */

static void admin_io(const char *ns, rados_ioctx_t *io)
{
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.block, io), 0);
    rados_ioctx_set_namespace(*io, ns);
}

/* Write @len bytes of @c at @off of image @project/@name as the admin. */
static void admin_fill(const char *project, const char *name, uint64_t off, size_t len, char c)
{
    rados_ioctx_t io;
    rbd_image_t img;
    char *buf = malloc(len);

    assert_non_null(buf);
    memset(buf, c, len);
    admin_io(project, &io);
    assert_int_equal(rbd_open(io, name, &img, NULL), 0);
    assert_int_equal(rbd_write(img, off, len, buf), (ssize_t)len);
    assert_int_equal(rbd_flush(img), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
    free(buf);
}

static void image_id(const char *project, const char *name, char *id, size_t len)
{
    rados_ioctx_t io;
    rbd_image_t img;

    admin_io(project, &io);
    assert_int_equal(rbd_open_read_only(io, name, &img, NULL), 0);
    assert_int_equal(rbd_get_id(img, id, len), 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
}

static int setup(void **state)
{
    struct kairos_quota q;
    struct kairos_error err = {0};

    (void)state;
    kt_open(&T, NULL);
    assert_non_null(mkdtemp(dir));
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_VOLUME].bytes = 512 * MiB;
    q.kind[KAIROS_SNAPSHOT].count = 2;
    kt_name(A, sizeof(A), "tenant");
    kt_name(B, sizeof(B), "victim");
    kt_name(G, sizeof(G), "golden");
    assert_int_equal(kairos_project_create(T.k, A, NULL, &q, &err), 0);
    kairos_quota_unlimited(&q);
    assert_int_equal(kairos_project_create(T.k, B, NULL, &q, &err), 0);
    assert_int_equal(kairos_project_create(T.k, G, NULL, &q, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, A, "vola", 64 * MiB, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, A, "other", 16 * MiB, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, B, "volb", 16 * MiB, &err), 0);
    admin_fill(B, "volb", 0, MiB, 'b');
    assert_int_equal(kairos_volume_snapshot_create(T.k, B, "volb", "s", &err), 0);
    /* A golden image in its own project; a clone of it in A, and a clone of that. */
    assert_int_equal(kairos_volume_create(T.k, G, "gold", 16 * MiB, &err), 0);
    admin_fill(G, "gold", 0, MiB, 'g');
    assert_int_equal(kairos_volume_snapshot_create(T.k, G, "gold", "s1", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, A, "mid", G, "gold", "s1", &err), 0);
    assert_int_equal(kairos_volume_snapshot_create(T.k, A, "mid", "s2", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, A, "leaf", A, "mid", "s2", &err), 0);
    assert_int_equal(kairos_share_create(T.k, A, "home", 8 * MiB, 0, &err), 0);
    assert_int_equal(kairos_share_create(T.k, B, "home", 8 * MiB, 0, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    struct kairos_error err = {0};
    char cmd[128];

    (void)state;
    kairos_project_delete(T.k, A, KAIROS_DELETE_FORCE, &err);
    kairos_project_delete(T.k, B, KAIROS_DELETE_FORCE, &err);
    kairos_project_delete(T.k, G, KAIROS_DELETE_FORCE, &err);
    kt_close(&T);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return 0;
}

/* ---- the tenant's tools ---- */

/* The binding's keyring and credentials as files: <dir>/<user>.keyring, .json. */
static void creds_files(const json_t *creds, char *keyring, char *json)
{
    FILE *f;

    snprintf(keyring, 512, "%s/%s.keyring", dir, kt_field(creds, "user"));
    snprintf(json, 512, "%s/%s.json", dir, kt_field(creds, "user"));
    f = fopen(keyring, "w");
    assert_non_null(f);
    fputs(kt_field(creds, "keyring"), f);
    fclose(f);
    assert_int_equal(json_dump_file(creds, json, 0), 0);
}

static char out_path[600];

/*
 * Run "rbd ...", "rados ...", "ceph ..." as the binding (its key alone),
 * or a qemu-io command line with KEYRING and USER filled in by the caller.
 * Return: the exit status; the output is in out_path.
 */
static int as_tenant(const json_t *creds, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int as_tenant(const json_t *creds, const char *fmt, ...)
{
    char keyring[512], json[512], rest[2048], cmd[4096];
    const char *space;
    va_list ap;
    int status;

    creds_files(creds, keyring, json);
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    space = strchr(rest, ' ');
    assert_non_null(space);
    if (strncmp(rest, "qemu-", 5) == 0)
        snprintf(cmd, sizeof(cmd), "timeout 60 %s >%s 2>&1", rest, out_path);
    else
        snprintf(cmd, sizeof(cmd), "timeout 60 %.*s --conf %s --id %s --keyring %s%s >%s 2>&1",
                 (int)(space - rest), rest, T.cfg->ceph.conf, kt_field(creds, "user"), keyring,
                 space, out_path);
    status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool output_has(const char *what)
{
    char buf[8192] = "";
    FILE *f = fopen(out_path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, what) != NULL;
}

static void show_output(const char *why)
{
    char cmd[700];

    fprintf(stderr, "---- %s; output:\n", why);
    snprintf(cmd, sizeof(cmd), "cat %s >&2", out_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no output)\n");
}

/* The command must fail for lack of permission, not for any other reason. */
#define REFUSED(creds, ...)                                                                        \
    do {                                                                                           \
        int st_ = as_tenant(creds, __VA_ARGS__);                                                   \
        if (st_ == 0 ||                                                                            \
            !(output_has("not permitted") || output_has("ermission denied") ||                     \
              output_has("access denied") || output_has("EACCES") || output_has("EPERM"))) {       \
            show_output("not refused for lack of permission");                                     \
            fail_msg("%s: exit %d", #__VA_ARGS__, st_);                                            \
        }                                                                                          \
    } while (0)

#define ALLOWED(creds, ...)                                                                        \
    do {                                                                                           \
        int st_ = as_tenant(creds, __VA_ARGS__);                                                   \
        if (st_ != 0) {                                                                            \
            show_output("refused");                                                                \
            fail_msg("%s: exit %d", #__VA_ARGS__, st_);                                            \
        }                                                                                          \
    } while (0)

/* ---- a tenant's clients in processes of their own ---- */

struct child {
    pid_t pid;
    int fd;
};

static void spawn(struct child *c, const char *mode, const json_t *creds)
{
    char keyring[512], json[512];
    int p[2];

    creds_files(creds, keyring, json);
    assert_int_equal(pipe(p), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(KAIROS_TENANT_CLIENT, "tenant_client", mode, json, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    c->fd = p[0];
}

/* Wait up to @secs for a line starting with @want from the child. */
static bool child_says(struct child *c, const char *want, int secs)
{
    char line[256];
    size_t n = 0;
    time_t end = time(NULL) + secs;

    while (time(NULL) < end) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        char ch;
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        if (read(c->fd, &ch, 1) != 1)
            return false;
        if (ch != '\n') {
            if (n < sizeof(line) - 1)
                line[n++] = ch;
            continue;
        }
        line[n] = '\0';
        n = 0;
        if (strncmp(line, want, strlen(want)) == 0)
            return true;
    }
    return false;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Seconds from @t0 until the child exits (-1: still running @secs after @t0); its status. */
static double child_exit(struct child *c, const struct timespec *t0, int secs, int *status)
{
    for (;;) {
        double spent = seconds_since(t0);
        if (waitpid(c->pid, status, WNOHANG) == c->pid)
            return spent;
        if (spent > secs)
            return -1;
        usleep(50000);
    }
}

static void child_kill(struct child *c)
{
    int status;

    kill(c->pid, SIGKILL);
    waitpid(c->pid, &status, 0);
    close(c->fd);
}

/*
 * The child must stop writing within EVICT_SECONDS of @t0 (when its access
 * was taken: the unbind, the revoking pass, the forced break) because its
 * write failed (exit 3, "failed <errno>"), and not because an
 * op timed out: a stalled cluster is no proof of a fence. Prints how long
 * it took, the figure the issue asks about.
 */
static void child_fenced(struct child *c, const struct timespec *t0, const char *what)
{
    char out[512];
    const char *at;
    ssize_t n;
    int status = 0, err = 0;
    double t = child_exit(c, t0, EVICT_SECONDS, &status);

    if (t < 0) {
        child_kill(c);
        fail_msg("%s: still writing %d s after it lost its binding", what, EVICT_SECONDS);
    }
    n = read(c->fd, out, sizeof(out) - 1);
    close(c->fd);
    out[n > 0 ? n : 0] = '\0';
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    at = strstr(out, "failed ");
    assert_non_null(at);
    err = atoi(at + 7);
    assert_true(err > 0);
    assert_int_not_equal(err, ETIMEDOUT);
    fprintf(stderr, "test_tenant: %s: its write failed %.1f s later (%s)\n", what, t,
            strerror(err));
}

/* ---- librados as the tenant ---- */

static void tenant_io(const json_t *creds, const char *pool, const char *ns, rados_t *r,
                      rados_ioctx_t *io)
{
    assert_int_equal(kt_connect_as(creds, r), 0);
    assert_int_equal(rados_ioctx_create(*r, pool, io), 0);
    rados_ioctx_set_namespace(*io, ns);
}

static void tenant_close(rados_t r, rados_ioctx_t io)
{
    rados_ioctx_destroy(io);
    rados_shutdown(r);
}

/* A monitor command as the tenant. */
static int mon_as(rados_t r, const char *cmd)
{
    const char *cmds[] = {cmd};
    char *out = NULL, *outs = NULL;
    size_t outlen = 0, outslen = 0;
    int rc = rados_mon_command(r, cmds, 1, "", 0, &out, &outlen, &outs, &outslen);

    rados_buffer_free(out);
    rados_buffer_free(outs);
    return rc;
}

/* Ceph's encoding of a string: le32 length, bytes. */
static size_t enc_str(char *buf, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);

    for (int i = 0; i < 4; i++)
        buf[i] = (char)(n >> (8 * i));
    memcpy(buf + 4, s, n);
    return 4 + n;
}

static size_t enc_u64(char *buf, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (char)(v >> (8 * i));
    return 8;
}

static int omap_set(rados_ioctx_t io, const char *oid, const char *key, const char *val, size_t len)
{
    rados_write_op_t op = rados_create_write_op();
    const char *keys[] = {key}, *vals[] = {val};
    int rc;

    rados_write_op_omap_set(op, keys, vals, &len, 1);
    rc = rados_write_op_operate(op, io, oid, NULL, 0);
    rados_release_write_op(op);
    return rc;
}

/* The value of omap @key of @oid, malloc'ed into *@val (*@len bytes). */
static int omap_get(rados_ioctx_t io, const char *oid, const char *key, char **val, size_t *len)
{
    rados_read_op_t op = rados_create_read_op();
    const char *keys[] = {key};
    rados_omap_iter_t it = NULL;
    char *k = NULL, *v = NULL;
    int prval = 0, rc;

    *val = NULL;
    *len = 0;
    rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
    rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0 && rados_omap_get_next(it, &k, &v, len) == 0 && k) {
        *val = malloc(*len + 1);
        assert_non_null(*val);
        memcpy(*val, v, *len);
    } else if (rc == 0) {
        rc = -ENOENT;
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    return rc;
}

static int omap_get_u64(rados_ioctx_t io, const char *oid, const char *key, uint64_t *v)
{
    char *val;
    size_t len;
    int rc = omap_get(io, oid, key, &val, &len);

    if (rc == 0 && len < 8)
        rc = -EIO;
    if (rc == 0) {
        *v = 0;
        for (int i = 7; i >= 0; i--)
            *v = *v << 8 | (unsigned char)val[i];
    }
    free(val);
    return rc;
}

static uint64_t admin_size(const char *project, const char *name, uint64_t *features)
{
    rados_ioctx_t io;
    rbd_image_t img;
    uint64_t size = 0, flags = 1;

    admin_io(project, &io);
    assert_int_equal(rbd_open_read_only(io, name, &img, NULL), 0);
    assert_int_equal(rbd_get_size(img, &size), 0);
    if (features)
        assert_int_equal(rbd_get_features(img, features), 0);
    assert_int_equal(rbd_get_flags(img, &flags), 0);
    /* The object map is valid: it still keeps the writes counted. */
    assert_int_equal(flags & RBD_FLAG_OBJECT_MAP_INVALID, 0);
    rbd_close(img);
    rados_ioctx_destroy(io);
    return size;
}

static bool gone(const char *ns, const char *oid)
{
    rados_ioctx_t io;
    uint64_t size;
    time_t mtime;
    int rc;

    admin_io(ns, &io);
    rc = rados_stat(io, oid, &size, &mtime);
    rados_ioctx_destroy(io);
    return rc == -ENOENT;
}

/* One reconciler pass that is not skipped (no other process runs one here). */
static void reconcile(struct kairos_reconcile_report *rep)
{
    struct kairos_error err = {0};

    for (int i = 0; i < 30; i++) {
        assert_int_equal(kairos_reconcile_run(T.k, 0, rep, &err), 0);
        if (!rep->skipped)
            return;
        sleep(1);
    }
    fail_msg("the reconciler lock stayed taken");
}

static const struct kairos_drift_finding *finding(const struct kairos_drift_finding *f, size_t n,
                                                  const char *alloc, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].alloc, alloc) == 0 && strcmp(f[i].what, what) == 0)
            return &f[i];
    }
    return NULL;
}

static bool binding_exists(const char *project, enum kairos_kind kind, const char *alloc,
                           const char *id)
{
    struct kairos_binding b;
    int rc = kairos_binding_get(T.k, project, kind, alloc, id, &b, NULL);

    /* Only "no such binding" is an answer: an error must not read as "gone". */
    if (rc != 0 && rc != -ENOENT)
        fail_msg("cannot look up binding %s of %s/%s: %d", id, project, alloc, rc);
    return rc == 0;
}

/* ---- volume keys ---- */

/*
 * A volume key opens its image read-write and does I/O through librbd,
 * `rbd bench` and QEMU, and every change to what is counted is refused.
 */
static void volume_key_does_io_and_nothing_else(void **state)
{
    const char *pool = T.cfg->pools.block;
    json_t *c = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-1", 0);
    char keyring[512], json[512], idb[64], ido[64], buf[4096], in[256];
    struct kairos_error err = {0};
    uint64_t features = 0, snapid = 0;
    rados_ioctx_t io, bio;
    rbd_image_t img;
    rados_t r;
    size_t n;

    (void)state;
    creds_files(c, keyring, json);
    /* Read-write with the exclusive lock, object map and fast-diff, through three clients. */
    ALLOWED(c, "rbd bench --io-type write --io-size 4K --io-total 1M --io-pattern rand %s/%s/vola",
            pool, A);
    ALLOWED(c,
            "qemu-io -f raw -c 'write -P 0x5a 0 64k' -c 'read -P 0x5a 0 64k' "
            "rbd:%s/%s/vola:id=%s:keyring=%s:conf=%s",
            pool, A, kt_field(c, "user"), keyring, T.cfg->ceph.conf);
    assert_false(output_has("Pattern verification failed"));
    assert_true(output_has("read 65536/65536"));
    tenant_io(c, pool, A, &r, &io);
    assert_int_equal(rbd_open(io, "vola", &img, NULL), 0);
    memset(buf, 'v', sizeof(buf));
    assert_int_equal(rbd_write(img, 8 * MiB, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(rbd_flush(img), 0);
    int owner = 0;
    assert_int_equal(rbd_is_exclusive_lock_owner(img, &owner), 0);
    assert_true(owner);
    rbd_close(img);
    assert_int_equal(admin_size(A, "vola", &features), 64 * MiB);
    assert_int_equal(
        features & (RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF),
        RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF);

    /* Size, snapshots, features, metadata: refused, by the rbd tool and by librbd. */
    REFUSED(c, "rbd resize --size 100G %s/%s/vola", pool, A);
    REFUSED(c, "qemu-img resize rbd:%s/%s/vola:id=%s:keyring=%s:conf=%s 1G", pool, A,
            kt_field(c, "user"), keyring, T.cfg->ceph.conf);
    REFUSED(c, "rbd snap create %s/%s/vola@t0", pool, A);
    REFUSED(c, "rbd feature disable %s/%s/vola fast-diff", pool, A);
    REFUSED(c, "rbd image-meta set %s/%s/vola conf_rbd_cache false", pool, A);
    /*
     * A snapshot, then a resize by the broker: rolling back would change the
     * size, and is refused. (A rollback to a snapshot of the same size is
     * RADOS's rollback op on each data object, a write caps cannot tell from
     * others; it gives nothing that reading the snapshot and writing it back
     * would not, and changes nothing counted.)
     */
    assert_int_equal(kairos_volume_snapshot_create(T.k, A, "vola", "keep", &err), 0);
    assert_int_equal(kairos_volume_resize(T.k, A, "vola", 96 * MiB, 0, &err), 0);
    assert_int_equal(rbd_open(io, "vola", &img, NULL), 0);
    assert_true(rbd_resize(img, 100ULL << 30) < 0);
    assert_true(rbd_snap_create(img, "t1") < 0);
    assert_true(rbd_snap_create(img, "t2") < 0);
    assert_true(rbd_snap_protect(img, "keep") < 0);
    assert_true(rbd_snap_rollback(img, "keep") < 0);
    assert_true(rbd_snap_remove(img, "keep") < 0);
    assert_true(rbd_update_features(img, RBD_FEATURE_JOURNALING, 1) < 0);
    assert_true(rbd_update_features(img, RBD_FEATURE_OBJECT_MAP, 0) < 0);
    assert_true(rbd_metadata_set(img, "conf_rbd_cache", "false") < 0);
    rbd_close(img);
    /* No image that no quota counts, and no listing. */
    REFUSED(c, "rbd create --size 1G %s/%s/sneaky", pool, A);
    int order = 0;
    assert_true(rbd_create2(io, "sneaky", MiB, RBD_FEATURE_LAYERING, &order) < 0);
    assert_true(rbd_clone(io, "vola", "keep", io, "sneaky", RBD_FEATURE_LAYERING, &order) < 0);
    size_t max = 8;
    rbd_image_spec_t specs[8];
    assert_true(rbd_list2(io, specs, &max) < 0);
    /* No blocklist: no fencing of kairosd or another tenant's VM, one or a subnet. */
    REFUSED(c, "ceph osd blocklist add 127.0.0.2:0/1");
    assert_int_equal(mon_as(r, "{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\","
                               "\"addr\":\"127.0.0.2:0/1\"}"),
                     -EACCES);
    assert_int_equal(mon_as(r, "{\"prefix\":\"osd blocklist\",\"range\":\"range\","
                               "\"blocklistop\":\"add\",\"addr\":\"127.0.0.0/24\"}"),
                     -EACCES);
    /* Other images: another project's and its own project's other one. */
    image_id(B, "volb", idb, sizeof(idb));
    image_id(A, "other", ido, sizeof(ido));
    REFUSED(c, "rados -p %s -N %s get rbd_header.%s %s/x", pool, B, idb, dir);
    rados_ioctx_set_namespace(io, B);
    snprintf(in, sizeof(in), "rbd_data.%s.0000000000000000", idb);
    assert_int_equal(rados_read(io, in, buf, sizeof(buf), 0), -EPERM);
    assert_true(rbd_open(io, "volb", &img, NULL) < 0);
    assert_true(rbd_open_read_only(io, "volb", &img, NULL) < 0);
    rados_ioctx_set_namespace(io, A);
    snprintf(in, sizeof(in), "rbd_header.%s", ido);
    assert_int_equal(rados_read(io, in, buf, sizeof(buf), 0), -EPERM);
    assert_true(rbd_open(io, "other", &img, NULL) < 0);

    /* Pool snapshot ids: neither made nor removed (a removal trims every image's). */
    admin_io(B, &bio);
    assert_int_equal(rbd_open_read_only(bio, "volb", &img, NULL), 0);
    assert_int_equal(rbd_snap_get_id(img, "s", &snapid), 0);
    rbd_close(img);
    rados_snap_t made = 0;
    assert_int_equal(rados_ioctx_selfmanaged_snap_create(io, &made), -EPERM);
    assert_int_equal(rados_ioctx_selfmanaged_snap_remove(io, snapid), -EPERM);
    /* Pool-wide librbd settings and the namespace's listing: not writable. */
    rados_ioctx_set_namespace(io, "");
    n = enc_str(in, "conf_rbd_cache");
    n += enc_str(in + n, "false");
    assert_int_equal(rados_exec(io, "rbd_info", "rbd", "metadata_set", in, n, buf, 0), -EPERM);
    rados_ioctx_set_namespace(io, A);
    n = enc_str(in, "fake");
    n += enc_str(in + n, "0123456789ab");
    assert_int_equal(rados_exec(io, "rbd_directory", "rbd", "dir_add_image", in, n, buf, 0),
                     -EPERM);
    tenant_close(r, io);

    /* Nothing changed: B's snapshot still holds its data, A counts what it did. */
    assert_int_equal(rbd_open_read_only(bio, "volb", &img, "s"), 0);
    assert_int_equal(rbd_read(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(buf[0], 'b');
    rbd_close(img);
    rados_ioctx_destroy(bio);
    assert_int_equal(admin_size(A, "vola", NULL), 96 * MiB);
    struct kairos_volume_info vi;
    assert_int_equal(kairos_volume_info(T.k, A, "vola", &vi, &err), 0);
    assert_int_equal(vi.snapshots, 1);
    assert_int_equal(kairos_volume_snapshot_delete(T.k, A, "vola", "keep", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "vola", "vm-1", &err), 0);
    assert_int_equal(kairos_volume_resize(T.k, A, "vola", 64 * MiB, KAIROS_RESIZE_SHRINK, &err), 0);
    json_decref(c);
}

/*
 * A clone of a clone reads through to its grandparent and writes (copy-up);
 * its read-only key reads and cannot write. A key that rewrote its header's
 * parent gets no binding that would reach the named image.
 */
static void clone_keys(void **state)
{
    const char *pool = T.cfg->pools.block;
    json_t *rw = kt_bind(&T, A, KAIROS_VOLUME, "leaf", "vm-c", 0);
    json_t *ro = kt_bind(&T, A, KAIROS_VOLUME, "leaf", "viewer", KAIROS_BIND_READ_ONLY);
    struct kairos_error err = {0};
    char buf[4096], *parent = NULL, *saved = NULL, *c = NULL, hid[64], mid[64], oid[96];
    rados_ioctx_t io, aio;
    rbd_image_t img;
    rados_t r;
    size_t plen = 0, slen = 0;

    (void)state;
    tenant_io(rw, pool, A, &r, &io);
    assert_int_equal(rbd_open(io, "leaf", &img, NULL), 0);
    assert_int_equal(rbd_read(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(buf[0], 'g');
    memset(buf, 'c', sizeof(buf));
    assert_int_equal(rbd_write(img, 4096, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(rbd_flush(img), 0);
    rbd_close(img);
    tenant_close(r, io);
    /* The grandparent is untouched by the copy-up. */
    admin_io(G, &aio);
    assert_int_equal(rbd_open_read_only(aio, "gold", &img, NULL), 0);
    assert_int_equal(rbd_read(img, 4096, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(buf[0], 'g');
    rbd_close(img);
    rados_ioctx_destroy(aio);
    REFUSED(rw, "rbd resize --size 1G %s/%s/leaf", pool, A);
    REFUSED(rw, "rbd flatten %s/%s/leaf", pool, A);

    /* Read-only: reads (through the ancestors), cannot open for writing. */
    tenant_io(ro, pool, A, &r, &io);
    assert_int_equal(rbd_open_read_only(io, "leaf", &img, NULL), 0);
    assert_int_equal(rbd_read(img, 4096, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(buf[0], 'c');
    assert_true(rbd_write(img, 0, sizeof(buf), buf) < 0);
    rbd_close(img);
    assert_true(rbd_open(io, "leaf", &img, NULL) < 0);
    tenant_close(r, io);

    /* The key rewrites its header's parent to mid's (the golden image itself). */
    image_id(A, "leaf", hid, sizeof(hid));
    image_id(A, "mid", mid, sizeof(mid));
    admin_io(A, &aio);
    snprintf(oid, sizeof(oid), "rbd_header.%s", mid);
    assert_int_equal(omap_get(aio, oid, "parent", &parent, &plen), 0);
    snprintf(oid, sizeof(oid), "rbd_header.%s", hid);
    assert_int_equal(omap_get(aio, oid, "parent", &saved, &slen), 0);
    tenant_io(rw, pool, A, &r, &io);
    assert_int_equal(omap_set(io, oid, "parent", parent, plen), 0);
    tenant_close(r, io);
    kairos_error_clear(&err);
    assert_int_equal(kairos_binding_create(T.k, A, KAIROS_VOLUME, "leaf", "vm-d", 0, &c, &err),
                     -EPERM);
    assert_non_null(strstr(err.msg, "parent"));
    assert_null(c);
    assert_false(binding_exists(A, KAIROS_VOLUME, "leaf", "vm-d"));
    assert_int_equal(omap_set(aio, oid, "parent", saved, slen), 0);
    rados_ioctx_destroy(aio);
    free(parent);
    free(saved);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "leaf", "vm-c", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "leaf", "viewer", &err), 0);
    json_decref(rw);
    json_decref(ro);
}

/* ---- drift ---- */

/* The block pool's newest snapshot id, as the monitors say. */
static uint64_t pool_snap_seq(void)
{
    const char *cmd[] = {"{\"prefix\":\"osd dump\",\"format\":\"json\"}"};
    char *out = NULL, *outs = NULL;
    size_t outlen = 0, outslen = 0;
    json_t *dump, *p;
    uint64_t seq = 0;
    size_t i;

    assert_int_equal(rados_mon_command(T.rados, cmd, 1, "", 0, &out, &outlen, &outs, &outslen), 0);
    dump = json_loadb(out, outlen, 0, NULL);
    json_array_foreach(json_object_get(dump, "pools"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "pool_name")), T.cfg->pools.block) == 0)
            seq = (uint64_t)json_integer_value(json_object_get(p, "snap_seq"));
    }
    json_decref(dump);
    rados_buffer_free(out);
    rados_buffer_free(outs);
    return seq;
}

/*
 * Volumes as the broker left them are no drift. The broker tags each image
 * with its intent (image metadata "kairos.intent.<project>.<name>"), and a
 * clone also carries its parents' tags: a pass must not call those a raw
 * header write, revoke the bindings, or remove the tags. (It did: every
 * pass revoked every volume binding it reached, within a minute of bind.)
 */
static void clean_volumes_are_no_drift(void **state)
{
    const char *names[] = {"other", "leaf"};
    struct kairos_reconcile_report rep;
    struct kairos_drift_finding *f = NULL;
    struct kairos_error err = {0};
    char id[64], header[96], key[160], *val;
    json_t *c[2];
    rados_ioctx_t aio;
    size_t n = 0, len;
    rados_t r;

    (void)state;
    for (int i = 0; i < 2; i++)
        c[i] = kt_bind(&T, A, KAIROS_VOLUME, names[i], "quiet", 0);
    reconcile(&rep);
    assert_int_equal(kairos_drift_list(T.k, A, &f, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].alloc, "other") == 0 || strcmp(f[i].alloc, "leaf") == 0)
            fail_msg("drift found in a clean volume: %s %s: %s (%s)", f[i].alloc, f[i].what,
                     f[i].detail, f[i].action);
    }
    free(f);
    admin_io(A, &aio);
    for (int i = 0; i < 2; i++) {
        assert_true(binding_exists(A, KAIROS_VOLUME, names[i], "quiet"));
        assert_int_equal(kt_connect_as(c[i], &r), 0);
        rados_shutdown(r);
        image_id(A, names[i], id, sizeof(id));
        snprintf(header, sizeof(header), "rbd_header.%s", id);
        snprintf(key, sizeof(key), "metadata_kairos.intent.%s.%s", A, names[i]);
        assert_int_equal(omap_get(aio, header, key, &val, &len), 0);
        free(val);
        assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, names[i], "quiet", &err), 0);
        json_decref(c[i]);
    }
    rados_ioctx_destroy(aio);
}

/*
 * A project used only through its bindings is no drift, pass after pass:
 * a volume written through its key, snapshotted and cloned, a share
 * written through its key and snapshotted, all bound. No finding, and
 * every binding (and its key) still there.
 */
static void clean_project_is_no_drift(void **state)
{
    const char *kinds[] = {"volume", "volume", "share"}, *names[] = {"v", "c", "h"};
    char project[64], buf[4096] = "through the key";
    struct kairos_reconcile_report rep;
    struct kairos_drift_finding *f = NULL;
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    struct kairos_quota q;
    rados_ioctx_t io;
    rbd_image_t img;
    json_t *c[3];
    rados_t r;
    size_t n = 0;
    int fd;

    (void)state;
    kt_name(project, sizeof(project), "clean");
    kairos_quota_unlimited(&q);
    assert_int_equal(kairos_project_create(T.k, project, NULL, &q, &err), 0);
    assert_int_equal(kairos_volume_create(T.k, project, "v", 16 * MiB, &err), 0);
    assert_int_equal(kairos_share_create(T.k, project, "h", 16 * MiB, 0, &err), 0);
    c[0] = kt_bind(&T, project, KAIROS_VOLUME, "v", "w", 0);
    tenant_io(c[0], T.cfg->pools.block, project, &r, &io);
    assert_int_equal(rbd_open(io, "v", &img, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(rbd_write(img, (uint64_t)i * 2 * MiB, sizeof(buf), buf),
                         (ssize_t)sizeof(buf));
    rbd_close(img);
    tenant_close(r, io);
    assert_int_equal(kairos_volume_snapshot_create(T.k, project, "v", "s", &err), 0);
    assert_int_equal(kairos_volume_clone(T.k, project, "c", project, "v", "s", &err), 0);
    c[1] = kt_bind(&T, project, KAIROS_VOLUME, "c", "w", 0);
    c[2] = kt_bind(&T, project, KAIROS_SHARE, "h", "w", 0);
    assert_int_equal(kt_mount_as(c[2], kt_field(c[2], "path"), &m), 0);
    fd = ceph_open(m, "/f", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(ceph_write(m, fd, buf, sizeof(buf), (int64_t)i * (int64_t)MiB),
                         (int)sizeof(buf));
    ceph_close(m, fd);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_share_snapshot_create(T.k, project, "h", "s", &err), 0);

    for (int pass = 0; pass < 2; pass++) {
        reconcile(&rep);
        assert_int_equal(kairos_drift_list(T.k, project, &f, &n, &err), 0);
        for (size_t i = 0; i < n; i++)
            print_error("pass %d: %s %s: %s (%s)\n", pass, f[i].alloc, f[i].what, f[i].detail,
                        f[i].action);
        free(f);
        assert_int_equal(n, 0);
    }
    for (int i = 0; i < 3; i++) {
        enum kairos_kind kind = strcmp(kinds[i], "share") == 0 ? KAIROS_SHARE : KAIROS_VOLUME;
        assert_true(binding_exists(project, kind, names[i], "w"));
        assert_int_equal(kt_connect_as(c[i], &r), 0);
        rados_shutdown(r);
        json_decref(c[i]);
    }
    assert_int_equal(kairos_project_delete(T.k, project, KAIROS_DELETE_FORCE, &err), 0);
}

/*
 * Objects of a project's RBD namespace that no volume explains (no key
 * can write them: a create cut short left them) are judged once older than
 * the lease. A younger one may be a create in flight since the pass read
 * the ledger: it is neither counted nor removed. (A pass removed the
 * header of an image being made, and the create failed.)
 */
static void namespace_debris_judged_once_old(void **state)
{
    const char *young = "rbd_header.0f0f0f0f0f0f", *old = "rbd_data.0e0e0e0e0e0e.0000000000000000";
    struct kairos_reconcile_report rep;
    struct kairos_drift_finding *f = NULL;
    struct kairos_error err = {0};
    const struct kairos_drift_finding *found;
    time_t then = time(NULL) - (time_t)(T.cfg->reconcile.lease_ms / 1000) - 60;
    rados_write_op_t op;
    rados_ioctx_t aio;
    size_t n = 0;

    (void)state;
    admin_io(A, &aio);
    assert_int_equal(rados_write_full(aio, young, "x", 1), 0);
    op = rados_create_write_op();
    rados_write_op_write_full(op, "x", 1);
    assert_int_equal(rados_write_op_operate(op, aio, old, &then, 0), 0);
    rados_release_write_op(op);
    reconcile(&rep);
    assert_int_equal(kairos_drift_list(T.k, A, &f, &n, &err), 0);
    found = finding(f, n, "", "foreign");
    assert_non_null(found);
    assert_int_equal(found->objects, 1);
    free(f);
    assert_true(gone(A, old));
    assert_false(gone(A, young));
    assert_int_equal(rados_remove(aio, young), 0);
    rados_ioctx_destroy(aio);
}

/*
 * What caps cannot stop, done with a volume key: the header's size and
 * features rewritten, objects of any name under the data prefix and named
 * after the image id, writes with a snapshot context the image never had;
 * and a snapshot made behind the broker. One pass finds it all, puts the
 * header back, removes the strays, and (policy "revoke", the default)
 * revokes the binding, whose connected client is blocklisted.
 */
static void volume_drift_revoked(void **state)
{
    const char *pool = T.cfg->pools.block;
    json_t *c = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-2", 0);
    struct kairos_reconcile_report rep;
    struct kairos_drift_finding *f = NULL;
    struct kairos_error err = {0};
    char id[64], header[96], junk[128], beyond[128], named[128], data0[128], val[8], blk[MiB / 4];
    uint64_t features = 0, seq;
    enum kairos_drift_policy policy;
    rados_ioctx_t io, aio;
    rbd_image_t img;
    rados_t r;
    size_t n = 0;
    time_t t0;

    (void)state;
    assert_int_equal(kairos_drift_policy_get(T.k, A, &policy, &err), 0);
    assert_int_equal(policy, KAIROS_DRIFT_REVOKE);
    image_id(A, "vola", id, sizeof(id));
    snprintf(header, sizeof(header), "rbd_header.%s", id);
    snprintf(junk, sizeof(junk), "rbd_data.%s.junk", id);
    snprintf(beyond, sizeof(beyond), "rbd_data.%s.00000000000000ff", id);
    snprintf(named, sizeof(named), "rbd_header.%szz", id);
    snprintf(data0, sizeof(data0), "rbd_data.%s.0000000000000000", id);
    memset(blk, 'x', sizeof(blk));
    /* A snapshot the ledger does not count (an old key's, or an operator's). */
    admin_io(A, &aio);
    assert_int_equal(rbd_open(aio, "vola", &img, NULL), 0);
    assert_int_equal(rbd_snap_create(img, "rogue"), 0);
    rbd_close(img);
    tenant_io(c, pool, A, &r, &io);
    /* The header: 100 GiB, and no object map. */
    enc_u64(val, 100ULL << 30);
    assert_int_equal(omap_set(io, header, "size", val, 8), 0);
    assert_int_equal(omap_get_u64(io, header, "features", &features), 0);
    enc_u64(val, features & ~(uint64_t)(RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF));
    assert_int_equal(omap_set(io, header, "features", val, 8), 0);
    /* Image metadata (librbd options) that `rbd image-meta set` would be refused. */
    assert_int_equal(omap_set(io, header, "metadata_conf_rbd_cache", "false", 5), 0);
    /* Objects no image holds, counted nowhere. */
    assert_int_equal(rados_write_full(io, junk, blk, sizeof(blk)), 0);
    assert_int_equal(rados_write_full(io, beyond, blk, sizeof(blk)), 0);
    assert_int_equal(rados_write_full(io, named, blk, sizeof(blk)), 0);
    /* A write under a snapshot context of a snapshot that does not exist: a hidden clone. */
    assert_int_equal(rados_write_full(io, data0, blk, sizeof(blk)), 0);
    seq = pool_snap_seq() + 1000;
    rados_snap_t snaps[] = {seq};
    assert_int_equal(rados_ioctx_selfmanaged_snap_set_write_ctx(io, seq, snaps, 1), 0);
    assert_int_equal(rados_write(io, data0, blk, sizeof(blk), 0), 0);
    rados_ioctx_selfmanaged_snap_set_write_ctx(io, 0, NULL, 0);

    reconcile(&rep);
    assert_true(rep.drift >= 7);
    assert_true(rep.drift_revoked >= 1);
    /*
     * The pass's audit names what it found and did (its first lines only:
     * other tests' projects on the shared cluster may come first).
     */
    bool audited = false;
    for (unsigned i = 0; i < rep.naudit; i++)
        audited |= strstr(rep.audit[i], A) && strstr(rep.audit[i], "vola") &&
                   strstr(rep.audit[i], "revoked");
    if (rep.drift <= KAIROS_DRIFT_AUDIT_MAX && !audited)
        fail_msg("no audit line of the pass says vola's binding was revoked");
    assert_int_equal(rep.naudit,
                     rep.drift < KAIROS_DRIFT_AUDIT_MAX ? rep.drift : KAIROS_DRIFT_AUDIT_MAX);
    assert_int_equal(kairos_drift_list(T.k, A, &f, &n, &err), 0);
    const struct kairos_drift_finding *size = finding(f, n, "vola", "size");
    assert_non_null(size);
    assert_non_null(strstr(size->action, "size put back"));
    assert_non_null(strstr(size->action, "revoked 1"));
    assert_non_null(finding(f, n, "vola", "features"));
    assert_non_null(finding(f, n, "vola", "objects"));
    assert_int_equal(finding(f, n, "vola", "objects")->objects, 2);
    assert_non_null(finding(f, n, "vola", "foreign"));
    assert_non_null(finding(f, n, "vola", "clones"));
    assert_non_null(finding(f, n, "vola", "snapshots"));
    assert_non_null(finding(f, n, "vola", "metadata"));
    free(f);
    /* Put back: the ledger's size, the features, a valid object map; strays gone. */
    assert_int_equal(admin_size(A, "vola", &features), 64 * MiB);
    assert_true(features & RBD_FEATURE_OBJECT_MAP);
    assert_true(features & RBD_FEATURE_FAST_DIFF);
    assert_true(gone(A, junk));
    assert_true(gone(A, beyond));
    assert_true(gone(A, named));
    char *meta = NULL;
    size_t mlen = 0;
    assert_int_equal(omap_get(aio, header, "metadata_conf_rbd_cache", &meta, &mlen), -ENOENT);
    free(meta);
    /* The broker's own tag stays. */
    char tag[160];
    snprintf(tag, sizeof(tag), "metadata_kairos.intent.%s.vola", A);
    assert_int_equal(omap_get(aio, header, tag, &meta, &mlen), 0);
    free(meta);
    /* Revoked: no binding, no new connection, and the connected client is fenced. */
    assert_false(binding_exists(A, KAIROS_VOLUME, "vola", "vm-2"));
    t0 = time(NULL);
    int rc;
    while ((rc = rados_write_full(io, data0, blk, 4096)) == 0 && time(NULL) - t0 < EVICT_SECONDS)
        usleep(200000);
    assert_true(rc < 0);
    tenant_close(r, io);
    assert_true(kt_connect_as(c, &r) < 0);
    assert_int_equal(rbd_open(aio, "vola", &img, NULL), 0);
    assert_int_equal(rbd_snap_remove(img, "rogue"), 0);
    rbd_close(img);
    rados_ioctx_destroy(aio);
    json_decref(c);
}

/*
 * A share key's raw objects in its data namespace, and a client that
 * ignores the quota: under "revoke" (A) the objects go and the binding with
 * its connected client; under "report" (B) both are recorded and left.
 */
static void share_drift_by_policy(void **state)
{
    json_t *ca = kt_bind(&T, A, KAIROS_SHARE, "home", "job-d", 0);
    json_t *cb = kt_bind(&T, B, KAIROS_SHARE, "home", "job-e", 0);
    struct kairos_reconcile_report rep;
    struct kairos_drift_finding *f = NULL;
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    struct child writer;
    char blk[MiB];
    rados_ioctx_t io;
    rados_t r;
    size_t n = 0;
    struct timespec t0;
    int fd;

    (void)state;
    memset(blk, 's', sizeof(blk));
    assert_int_equal(kairos_drift_policy_set(T.k, B, KAIROS_DRIFT_REPORT, &err), 0);
    /* A's share: a connected client writing, and raw objects beside CephFS's. */
    spawn(&writer, "cephfs", ca);
    assert_true(child_says(&writer, "writing", 30));
    tenant_io(ca, T.cfg->pools.cephfs_data, kt_field(ca, "namespace"), &r, &io);
    assert_int_equal(rados_write_full(io, "junk", blk, sizeof(blk)), 0);
    assert_int_equal(rados_write_full(io, "10000ffffff.00000000", blk, 4096), 0);
    tenant_close(r, io);
    /* B's share: raw objects, and 40 MiB past an 8 MiB quota by a client that ignores it. */
    tenant_io(cb, T.cfg->pools.cephfs_data, kt_field(cb, "namespace"), &r, &io);
    assert_int_equal(rados_write_full(io, "junk", blk, sizeof(blk)), 0);
    tenant_close(r, io);
    assert_int_equal(ceph_create(&m, kt_field(cb, "user")), 0);
    ceph_conf_set(m, "mon_host", kt_field(cb, "mon_host"));
    ceph_conf_set(m, "key", kt_field(cb, "key"));
    assert_int_equal(ceph_conf_set(m, "client_quota", "false"), 0);
    assert_int_equal(ceph_select_filesystem(m, kt_field(cb, "fs_name")), 0);
    assert_int_equal(ceph_mount(m, kt_field(cb, "path")), 0);
    fd = ceph_open(m, "/big", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(ceph_write(m, fd, blk, sizeof(blk), (int64_t)i * (int64_t)MiB),
                         (int)sizeof(blk));
    assert_int_equal(ceph_fsync(m, fd, 0), 0);
    ceph_close(m, fd);
    ceph_unmount(m);
    ceph_release(m);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    reconcile(&rep);
    /* A, revoke: the raw object removed, the binding and its client gone. */
    assert_int_equal(kairos_drift_list(T.k, A, &f, &n, &err), 0);
    const struct kairos_drift_finding *fa = finding(f, n, "home", "objects");
    assert_non_null(fa);
    assert_int_equal(fa->objects, 1);
    assert_non_null(strstr(fa->action, "revoked 1"));
    assert_non_null(finding(f, n, "home", "orphans"));
    free(f);
    assert_false(binding_exists(A, KAIROS_SHARE, "home", "job-d"));
    child_fenced(&writer, &t0, "a libcephfs writer, revoked by a pass");
    assert_true(kt_connect_as(ca, &r) < 0);
    {
        rados_ioctx_t aio;
        uint64_t size;
        time_t mtime;
        assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.cephfs_data, &aio), 0);
        rados_ioctx_set_namespace(aio, kt_field(ca, "namespace"));
        assert_int_equal(rados_stat(aio, "junk", &size, &mtime), -ENOENT);
        /* An orphan is only reported at first: a file being purged looks the same. */
        assert_int_equal(rados_stat(aio, "10000ffffff.00000000", &size, &mtime), 0);
        rados_remove(aio, "10000ffffff.00000000");
        rados_ioctx_set_namespace(aio, kt_field(cb, "namespace"));
        assert_int_equal(rados_stat(aio, "junk", &size, &mtime), 0);
        rados_remove(aio, "junk");
        rados_ioctx_destroy(aio);
    }
    /* B, report: recorded, nothing revoked. */
    assert_int_equal(kairos_drift_list(T.k, B, &f, &n, &err), 0);
    const struct kairos_drift_finding *fb = finding(f, n, "home", "objects");
    assert_non_null(fb);
    assert_string_equal(fb->action, "reported");
    assert_non_null(finding(f, n, "home", "usage"));
    free(f);
    assert_true(binding_exists(B, KAIROS_SHARE, "home", "job-e"));
    assert_int_equal(kt_mount_as(cb, kt_field(cb, "path"), &m), 0);
    assert_int_equal(ceph_unlink(m, "/big"), 0);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_binding_delete(T.k, B, KAIROS_SHARE, "home", "job-e", &err), 0);
    json_decref(ca);
    json_decref(cb);
}

/* ---- unbind ---- */

/*
 * Unbinding ends what is connected: a librbd writer and a libcephfs writer
 * in processes of their own each fail within 10 s; then a new binding of
 * the same allocation works (the fenced writer's lock was broken).
 */
static void unbind_ends_access(void **state)
{
    json_t *cv = kt_bind(&T, A, KAIROS_VOLUME, "other", "vm-3", 0);
    json_t *cs = kt_bind(&T, A, KAIROS_SHARE, "home", "job-1", 0);
    struct kairos_error err = {0};
    struct child vw, sw;
    struct ceph_mount_info *m;
    char buf[4096];
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    struct timespec t0;
    int fd;

    (void)state;
    spawn(&vw, "rbd", cv);
    spawn(&sw, "cephfs", cs);
    assert_true(child_says(&vw, "writing", 30));
    assert_true(child_says(&sw, "writing", 30));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "other", "vm-3", &err), 0);
    fprintf(stderr, "test_tenant: unbinding a volume took %.1f s\n", seconds_since(&t0));
    child_fenced(&vw, &t0, "a librbd writer, unbound");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_SHARE, "home", "job-1", &err), 0);
    fprintf(stderr, "test_tenant: unbinding a share took %.1f s\n", seconds_since(&t0));
    child_fenced(&sw, &t0, "a libcephfs writer, unbound");
    json_decref(cv);
    json_decref(cs);

    /* New bindings of the same allocations work at once. */
    cv = kt_bind(&T, A, KAIROS_VOLUME, "other", "vm-4", 0);
    tenant_io(cv, T.cfg->pools.block, A, &r, &io);
    assert_int_equal(rbd_open(io, "other", &img, NULL), 0);
    memset(buf, 'n', sizeof(buf));
    assert_int_equal(rbd_write(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(rbd_flush(img), 0);
    rbd_close(img);
    tenant_close(r, io);
    cs = kt_bind(&T, A, KAIROS_SHARE, "home", "job-2", 0);
    assert_int_equal(kt_mount_as(cs, kt_field(cs, "path"), &m), 0);
    fd = ceph_open(m, "/after", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ceph_write(m, fd, buf, sizeof(buf), 0), (int)sizeof(buf));
    assert_int_equal(ceph_fsync(m, fd, 0), 0);
    ceph_close(m, fd);
    ceph_unmount(m);
    ceph_release(m);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "other", "vm-4", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_SHARE, "home", "job-2", &err), 0);
    json_decref(cv);
    json_decref(cs);
}

/* ---- the lock of a dead VM ---- */

/*
 * A writer holding the exclusive lock is killed with SIGKILL; the
 * replacement's binding breaks the dead owner's lock (the key cannot
 * blocklist), and the replacement writes at once. A live owner keeps its
 * lock unless an administrator forces the break, which fences it.
 */
static void lock_takeover(void **state)
{
    json_t *old = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-5", 0), *c;
    struct kairos_lock_break lb;
    struct kairos_error err = {0};
    struct child w;
    char buf[4096];
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    struct timespec t0;
    int owner = 0;

    (void)state;
    spawn(&w, "rbd", old);
    assert_true(child_says(&w, "writing", 30));
    child_kill(&w);
    /* The replacement VM's binding. */
    c = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-6", 0);
    tenant_io(c, T.cfg->pools.block, A, &r, &io);
    assert_int_equal(rbd_open(io, "vola", &img, NULL), 0);
    memset(buf, 'r', sizeof(buf));
    assert_int_equal(rbd_write(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    assert_int_equal(rbd_flush(img), 0);
    assert_int_equal(rbd_is_exclusive_lock_owner(img, &owner), 0);
    assert_true(owner);
    rbd_close(img);
    tenant_close(r, io);

    /* A live owner: left alone without force, fenced with it. */
    spawn(&w, "rbd", c);
    assert_true(child_says(&w, "writing", 30));
    kairos_error_clear(&err);
    assert_int_equal(kairos_volume_break_lock(T.k, A, "vola", 0, &lb, &err), -EBUSY);
    assert_true(lb.held && lb.alive && !lb.broken);
    kairos_error_clear(&err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(kairos_volume_break_lock(T.k, A, "vola", KAIROS_BREAK_LOCK_FORCE, &lb, &err),
                     0);
    assert_true(lb.broken);
    child_fenced(&w, &t0, "a live lock owner, force-broken");
    /* No lock left: nothing to do. Bad input changes nothing. */
    assert_int_equal(kairos_volume_break_lock(T.k, A, "vola", 0, &lb, &err), 0);
    assert_false(lb.held);
    assert_int_equal(kairos_volume_break_lock(T.k, A, "Bad", 0, &lb, &err), -EINVAL);
    assert_int_equal(kairos_volume_break_lock(T.k, A, "vola", 0x10, &lb, &err), -EINVAL);
    assert_int_equal(kairos_volume_break_lock(T.k, A, "nosuch", 0, &lb, &err), -ENOENT);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "vola", "vm-5", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "vola", "vm-6", &err), 0);
    json_decref(old);
    json_decref(c);
}

/* ---- siblings ---- */

/*
 * "rbd_header.<id>" is a prefix: an image whose id extends <id> is reached
 * by <id>'s grants. Crafted for real (its RBD metadata written as the
 * admin): an existing key writes the sibling's header, and a new binding
 * is refused while the sibling exists.
 */
static void sibling_id_refused(void **state)
{
    json_t *c = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-7", 0);
    struct kairos_error err = {0};
    char id[64], sib[80], oid[128], in[256], val[8], out[16], *creds = NULL;
    rados_ioctx_t io, aio;
    rados_t r;
    size_t n;

    (void)state;
    image_id(A, "vola", id, sizeof(id));
    snprintf(sib, sizeof(sib), "%sab", id);
    admin_io(A, &aio);
    /* As librbd makes an image: the id object (it must exist first), header, directory. */
    assert_int_equal(rados_write_full(aio, "rbd_id.sibling", "", 0), 0);
    n = enc_str(in, sib);
    assert_int_equal(rados_exec(aio, "rbd_id.sibling", "rbd", "set_id", in, n, out, 0), 0);
    snprintf(oid, sizeof(oid), "rbd_header.%s", sib);
    n = enc_u64(in, 16 * MiB);
    in[n++] = 22; /* order: 4 MiB objects */
    n += enc_u64(in + n, RBD_FEATURE_LAYERING);
    {
        char prefix[96];
        snprintf(prefix, sizeof(prefix), "rbd_data.%s", sib);
        n += enc_str(in + n, prefix);
    }
    n += enc_u64(in + n, (uint64_t)-1); /* no separate data pool */
    assert_int_equal(rados_exec(aio, oid, "rbd", "create", in, n, out, 0), 0);
    n = enc_str(in, "sibling");
    n += enc_str(in + n, sib);
    assert_int_equal(rados_exec(aio, "rbd_directory", "rbd", "dir_add_image", in, n, out, 0), 0);

    /* Both ways round, as a create checks: the sibling extends vola; nothing extends it. */
    char other[KAIROS_RBD_ID_MAX];
    assert_int_equal(kairos_rbd_id_clash(aio, id, false, other), 1);
    assert_string_equal(other, sib);
    assert_int_equal(kairos_rbd_id_clash(aio, sib, false, other), 0);
    assert_int_equal(kairos_rbd_id_clash(aio, sib, true, other), 1);
    assert_string_equal(other, id);
    assert_int_equal(kairos_rbd_id_clash(aio, "not-hex", true, other), -EINVAL);
    /* The hole: vola's key writes the sibling's header. */
    tenant_io(c, T.cfg->pools.block, A, &r, &io);
    enc_u64(val, 32 * MiB);
    assert_int_equal(omap_set(io, oid, "size", val, 8), 0);
    tenant_close(r, io);
    /* So no binding of vola is made while the sibling is there. */
    kairos_error_clear(&err);
    assert_int_equal(kairos_binding_create(T.k, A, KAIROS_VOLUME, "vola", "vm-8", 0, &creds, &err),
                     -EEXIST);
    assert_non_null(strstr(err.msg, sib));
    assert_null(creds);
    assert_false(binding_exists(A, KAIROS_VOLUME, "vola", "vm-8"));
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "vola", "vm-7", &err), 0);
    /* Without it, binding works again. */
    assert_int_equal(rbd_remove(aio, "sibling"), 0);
    rados_ioctx_destroy(aio);
    json_decref(c);
    c = kt_bind(&T, A, KAIROS_VOLUME, "vola", "vm-8", 0);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_VOLUME, "vola", "vm-8", &err), 0);
    json_decref(c);
}

/* ---- share keys ---- */

/*
 * A share key: its directory and its data namespace, no pool snapshot ids
 * (on the data pool, the monitor refuses them for CephFS anyway), no
 * CephFS snapshots (they count against the quota), no quota or layout, no
 * namespace of that name in another pool, no blocklist.
 */
static void share_key_caps(void **state)
{
    json_t *c = kt_bind(&T, A, KAIROS_SHARE, "home", "job-3", 0);
    json_t *other = kt_bind(&T, B, KAIROS_SHARE, "home", "job-4", 0);
    struct kairos_error err = {0};
    struct ceph_mount_info *m;
    rados_snap_t snap = 0;
    rados_ioctx_t io;
    rados_t r;
    int fd;

    (void)state;
    assert_int_equal(kt_mount_as(c, kt_field(c, "path"), &m), 0);
    fd = ceph_open(m, "/mine", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ceph_write(m, fd, "data", 4, 0), 4);
    ceph_close(m, fd);
    assert_int_equal(ceph_mkdir(m, "/.snap/mine", 0755), -EACCES);
    assert_true(ceph_setxattr(m, "/", "ceph.quota.max_bytes", "0", 1, 0) < 0);
    assert_true(ceph_setxattr(m, "/", "ceph.dir.layout.pool_namespace", "x", 1, 0) < 0);
    ceph_unmount(m);
    ceph_release(m);
    tenant_io(c, T.cfg->pools.cephfs_data, kt_field(c, "namespace"), &r, &io);
    assert_int_equal(rados_ioctx_selfmanaged_snap_create(io, &snap), -EPERM);
    assert_int_equal(rados_ioctx_selfmanaged_snap_remove(io, 1), -EPERM);
    /* Another share's namespace, and its own namespace's name in other pools. */
    rados_ioctx_set_namespace(io, kt_field(other, "namespace"));
    assert_int_equal(rados_write_full(io, "x", "x", 1), -EPERM);
    rados_ioctx_destroy(io);
    assert_int_equal(rados_ioctx_create(r, T.cfg->pools.block, &io), 0);
    rados_ioctx_set_namespace(io, kt_field(c, "namespace"));
    assert_int_equal(rados_write_full(io, "x", "x", 1), -EPERM);
    rados_ioctx_destroy(io);
    assert_int_equal(rados_ioctx_create(r, T.cfg->pools.metadata, &io), 0);
    rados_ioctx_set_namespace(io, kt_field(c, "namespace"));
    assert_int_equal(rados_write_full(io, "x", "x", 1), -EPERM);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    assert_int_equal(kt_connect_as(c, &r), 0);
    assert_int_equal(mon_as(r, "{\"prefix\":\"osd blocklist\",\"blocklistop\":\"add\","
                               "\"addr\":\"127.0.0.2:0/1\"}"),
                     -EACCES);
    rados_shutdown(r);
    assert_int_equal(kairos_binding_delete(T.k, A, KAIROS_SHARE, "home", "job-3", &err), 0);
    assert_int_equal(kairos_binding_delete(T.k, B, KAIROS_SHARE, "home", "job-4", &err), 0);
    json_decref(c);
    json_decref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(volume_key_does_io_and_nothing_else),
        cmocka_unit_test(clone_keys),
        cmocka_unit_test(share_key_caps),
        cmocka_unit_test(sibling_id_refused),
        cmocka_unit_test(lock_takeover),
        cmocka_unit_test(unbind_ends_access),
        cmocka_unit_test(clean_volumes_are_no_drift),
        cmocka_unit_test(clean_project_is_no_drift),
        cmocka_unit_test(namespace_debris_judged_once_old),
        cmocka_unit_test(volume_drift_revoked),
        cmocka_unit_test(share_drift_by_policy),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
