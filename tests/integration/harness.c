/*
 * harness.c - shared set-up of integration tests (see harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBJECT_NS "kairos-test-objects"

const char *kt_conf_path(void)
{
    const char *path = getenv("KAIROS_CONF");

    if (!path || !path[0] || access(path, R_OK) != 0) {
        fprintf(stderr,
                "FATAL: no local cluster: KAIROS_CONF is %s%s%s.\n"
                "Integration tests need the real cluster that the ctest fixture starts:\n"
                "  ctest -L integration   (or scripts/minicluster start DIR and\n"
                "  KAIROS_CONF=DIR/kairos.conf)\n",
                path ? "'" : "", path ? path : "not set", path ? "' and unreadable" : "");
        exit(1);
    }
    return path;
}

pid_t kt_daemon_pid(const char *name)
{
    char dir[512], path[600], *slash;
    FILE *f;
    int pid = 0;

    /* The fixture's cluster keeps DIR/run/NAME.pid beside DIR/kairos.conf. */
    snprintf(dir, sizeof(dir), "%s", kt_conf_path());
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    snprintf(path, sizeof(path), "%s/run/%s.pid", dir, name);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

/*
 * A cluster that stops answering fails the call at its line, as libkairos's
 * own client does (with a shorter timeout), instead of hanging the test
 * until ctest kills it.
 */
static void kt_client_timeouts(rados_t r)
{
    rados_conf_set(r, "client_mount_timeout", "15");
    rados_conf_set(r, "rados_mon_op_timeout", "60");
    rados_conf_set(r, "rados_osd_op_timeout", "60");
}

rados_t kt_connect(const struct kairos_config *cfg)
{
    rados_t r;
    int rc;

    assert_int_equal(rados_create2(&r, "ceph", cfg->ceph.client, 0), 0);
    assert_int_equal(rados_conf_read_file(r, cfg->ceph.conf), 0);
    if (cfg->ceph.keyring)
        assert_int_equal(rados_conf_set(r, "keyring", cfg->ceph.keyring), 0);
    kt_client_timeouts(r);
    rc = rados_connect(r);
    if (rc < 0)
        fail_msg("cannot reach the cluster of %s: %s (is it up?)", cfg->ceph.conf, strerror(-rc));
    return r;
}

void kt_open(struct kt *t, const char *capacity_policy)
{
    struct kairos_error err = {0};
    int rc;

    memset(t, 0, sizeof(*t));
    rc = kairos_config_load(kt_conf_path(), &t->cfg, &err);
    if (rc < 0)
        fail_msg("config: %s", err.msg);
    if (capacity_policy) {
        free(t->cfg->policy.capacity);
        t->cfg->policy.capacity = strdup(capacity_policy);
    }
    rc = kairos_open(t->cfg, &t->k, &err);
    if (rc < 0)
        fail_msg("kairos_open: %s (is the cluster up?)", err.msg);
    t->rados = kt_connect(t->cfg);
    assert_int_equal(rados_ioctx_create(t->rados, t->cfg->pools.metadata, &t->objects), 0);
    rados_ioctx_set_namespace(t->objects, OBJECT_NS);
}

static int mon_command(rados_t r, const char *cmd)
{
    const char *cmds[] = {cmd};
    char *outbuf = NULL, *outs = NULL;
    size_t outbuf_len, outs_len;
    int rc = rados_mon_command(r, cmds, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len);

    if (rc < 0)
        fprintf(stderr, "mon command %s: %s (%.*s)\n", cmd, strerror(-rc), (int)outs_len,
                outs ? outs : "");
    rados_buffer_free(outbuf);
    rados_buffer_free(outs);
    return rc;
}

void kt_open_isolated(struct kt *t, const char *policy, const char *pool)
{
    struct kairos_config *cfg;
    struct kairos_error err = {0};
    char name[64], cmd[256], *file = kt_write_temp("capacity.ini", policy);
    rados_t r;

    if (kairos_config_load(kt_conf_path(), &cfg, &err) < 0)
        fail_msg("config: %s", err.msg);
    if (pool) {
        snprintf(name, sizeof(name), "%s", pool);
    } else {
        kt_name(name, sizeof(name), "kt-meta");
        r = kt_connect(cfg);
        snprintf(cmd, sizeof(cmd), "{\"prefix\":\"osd pool create\",\"pool\":\"%s\",\"pg_num\":8}",
                 name);
        assert_int_equal(mon_command(r, cmd), 0);
        /* Wait until the new pool's PGs serve: the first write would block otherwise. */
        rados_ioctx_t io;
        assert_int_equal(rados_ioctx_create(r, name, &io), 0);
        assert_int_equal(rados_write_full(io, "kt.ready", "1", 1), 0);
        rados_ioctx_destroy(io);
        rados_shutdown(r);
    }
    kairos_config_free(cfg);
    kt_open(t, file);
    /* Reopen libkairos on the test's own pool. */
    kairos_close(t->k);
    t->k = NULL;
    free(t->cfg->pools.metadata);
    t->cfg->pools.metadata = strdup(name);
    if (kairos_open(t->cfg, &t->k, &err) < 0)
        fail_msg("kairos_open on %s: %s", name, err.msg);
    rados_ioctx_destroy(t->objects);
    assert_int_equal(rados_ioctx_create(t->rados, name, &t->objects), 0);
    rados_ioctx_set_namespace(t->objects, OBJECT_NS);
    if (!pool)
        snprintf(t->pool, sizeof(t->pool), "%s", name);
    /* Read at open only: gone now, so a worker killed with SIGKILL leaves no file behind. */
    unlink(file);
    *strrchr(file, '/') = '\0';
    rmdir(file);
    free(file);
}

void kt_close(struct kt *t)
{
    char cmd[256];

    kairos_close(t->k);
    if (t->objects)
        rados_ioctx_destroy(t->objects);
    if (t->rados && t->pool[0]) {
        snprintf(cmd, sizeof(cmd),
                 "{\"prefix\":\"osd pool rm\",\"pool\":\"%s\",\"pool2\":\"%s\","
                 "\"yes_i_really_really_mean_it\":true}",
                 t->pool, t->pool);
        mon_command(t->rados, cmd);
    }
    if (t->rados)
        rados_shutdown(t->rados);
    kairos_config_free(t->cfg);
    memset(t, 0, sizeof(*t));
}

void kt_name(char *buf, size_t len, const char *prefix)
{
    static unsigned n;

    snprintf(buf, len, "%s-%x-%u", prefix, (unsigned)getpid(),
             __atomic_fetch_add(&n, 1, __ATOMIC_SEQ_CST));
}

char *kt_write_temp(const char *name, const char *text)
{
    char dir[] = "/tmp/kairos-it.XXXXXX";
    char *path;
    FILE *f;

    if (!mkdtemp(dir))
        fail_msg("mkdtemp: %s", strerror(errno));
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        fail_msg("out of memory");
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

struct kairos_quota kt_quota(enum kairos_kind kind, uint64_t bytes, uint64_t count)
{
    struct kairos_quota q;

    kairos_quota_unlimited(&q);
    q.kind[kind].bytes = bytes;
    q.kind[kind].count = count;
    return q;
}

static void object_oid(char *buf, size_t len, const char *project, const char *name)
{
    snprintf(buf, len, "obj.%s.%s", project, name);
}

int kt_object_create(struct kt *t, const char *project, const char *name, uint64_t bytes)
{
    char oid[256], size[32];

    object_oid(oid, sizeof(oid), project, name);
    snprintf(size, sizeof(size), "%" PRIu64, bytes);
    return rados_setxattr(t->objects, oid, "size", size, strlen(size));
}

int kt_object_exists(struct kt *t, const char *project, const char *name)
{
    char oid[256];
    uint64_t psize;
    time_t mtime;
    int rc;

    object_oid(oid, sizeof(oid), project, name);
    rc = rados_stat(t->objects, oid, &psize, &mtime);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

static int backend_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                         struct kairos_error *err)
{
    struct kt *t = arg;
    char oid[256], size[32] = "";
    int rc;

    object_oid(oid, sizeof(oid), project, name);
    rc = rados_getxattr(t->objects, oid, "size", size, sizeof(size) - 1);
    if (rc == -ENOENT || rc == -ENODATA)
        return 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "probe %s: %s", oid, strerror(-rc));
    *bytes = strtoull(size, NULL, 10);
    return 1;
}

static int backend_destroy(void *arg, const char *project, const char *name,
                           struct kairos_error *err)
{
    struct kt *t = arg;
    char oid[256];
    int rc;

    object_oid(oid, sizeof(oid), project, name);
    rc = rados_remove(t->objects, oid);
    if (rc < 0 && rc != -ENOENT)
        return kairos_error_set(err, rc, "destroy %s: %s", oid, strerror(-rc));
    return 0;
}

static int backend_probe_unsure(void *arg, const char *project, const char *name, uint64_t *bytes,
                                struct kairos_error *err)
{
    (void)arg;
    (void)bytes;
    return kairos_error_set(err, -EIO, "probe %s/%s: backend unreachable", project, name);
}

void kt_backend_register_unsure(struct kt *t, enum kairos_kind kind)
{
    struct kairos_kind_ops ops = {.probe = backend_probe_unsure, .arg = t};

    assert_int_equal(kairos_kind_register(t->k, kind, &ops), 0);
}

void kt_backend_register(struct kt *t, enum kairos_kind kind)
{
    struct kairos_kind_ops ops = {
        .probe = backend_probe,
        .destroy = backend_destroy,
        .arg = t,
    };

    assert_int_equal(kairos_kind_register(t->k, kind, &ops), 0);
}

void kt_assert_consistent(struct kt *t, const char *project)
{
    struct kairos_audit a;
    struct kairos_error err = {0};

    if (kairos_ledger_audit(t->k, project, &a, &err) < 0)
        fail_msg("audit %s: %s", project, err.msg);
    for (int i = 0; i < KAIROS_KIND_COUNT; i++) {
        if (a.counted_bytes[i] != a.summed_bytes[i] || a.counted_count[i] != a.summed_count[i])
            fail_msg("project %s %s: counted %" PRIu64 " bytes / %" PRIu64
                     " allocations, records sum to %" PRIu64 " / %" PRIu64,
                     project, kairos_kind_name(i), a.counted_bytes[i], a.counted_count[i],
                     a.summed_bytes[i], a.summed_count[i]);
    }
    if (a.counted_eff != a.summed_eff || a.grant < a.counted_eff)
        fail_msg("project %s: effective %" PRIu64 " counted, %" PRIu64 " summed, %" PRIu64
                 " granted",
                 project, a.counted_eff, a.summed_eff, a.grant);
    assert_true(a.consistent);
}
