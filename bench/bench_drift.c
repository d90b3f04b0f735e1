/*
 * bench_drift.c - the drift scan's speed: objects scanned per second, and
 * the time of a full pass over many images, beside a plain listing of the
 * same pool in the same run (the floor of visiting every object).
 *
 *   KAIROS_CONF=cluster/kairos.conf build/bench/bench_drift [images] [projects] [rate]
 *
 * Makes @images volumes (default 10000) of 1 MiB in @projects projects
 * (default 100), each with one written block (a data object, as a used
 * image has), then measures:
 *
 *   listing   rados_nobjects_list over the block pool, every namespace
 *   + stat    the same listing with a rados_stat of each object, one at a
 *             time: the baseline, one op per object as the scan makes
 *   unpaced   one reconciler pass with scan_rate at its maximum: its drift
 *             scan reads each header and lists and checks each object
 *   paced     one pass at @rate reads per second (default 2000): the
 *             rate it kept
 *
 * Nothing made is removed when KAIROS_BENCH_DISPOSABLE is set (the cluster
 * is thrown away after the run, as scripts/bench.sh does); otherwise the
 * projects are deleted at the end (not timed).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kairos/kairos.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#define MiB ((uint64_t)1 << 20)
/* Small, so that 10000 fit the minicluster's budget (scripts/bench.sh gives it 16 GiB). */
#define SIZE     (1 * MiB)
#define THREADS  8
#define BLOCK    4096
#define RATE_MAX 10000000
#define HOUR_MS  (3600 * 1000)
#define PREFIX   "bench-drift"

struct bench {
    struct kairos_config *cfg;
    struct kairos *k;
    rados_t rados;
    unsigned images, projects;
    atomic_uint next;
    atomic_uint failed;
};

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void project_name(char *buf, size_t len, unsigned i)
{
    snprintf(buf, len, PREFIX "-%u", i);
}

/* A volume with one written block: a header, an object map, one data object. */
static int make_one(struct bench *b, unsigned i)
{
    struct kairos_error err = {0};
    char project[64], name[64], buf[BLOCK];
    rados_ioctx_t io;
    rbd_image_t img;
    int rc;

    project_name(project, sizeof(project), i % b->projects);
    snprintf(name, sizeof(name), "v%u", i);
    rc = kairos_volume_create(b->k, project, name, SIZE, &err);
    if (rc < 0) {
        fprintf(stderr, "bench_drift: %s/%s: %s\n", project, name, err.msg);
        return rc;
    }
    rc = rados_ioctx_create(b->rados, b->cfg->pools.block, &io);
    if (rc < 0)
        return rc;
    rados_ioctx_set_namespace(io, project);
    memset(buf, 'd', sizeof(buf));
    rc = rbd_open(io, name, &img, NULL);
    if (rc == 0) {
        if (rbd_write(img, 0, sizeof(buf), buf) != (ssize_t)sizeof(buf))
            rc = -EIO;
        rbd_close(img);
    }
    rados_ioctx_destroy(io);
    return rc;
}

static void *maker(void *arg)
{
    struct bench *b = arg;
    unsigned i;

    while ((i = atomic_fetch_add(&b->next, 1)) < b->images) {
        if (make_one(b, i) < 0)
            atomic_fetch_add(&b->failed, 1);
    }
    return NULL;
}

static int setup(struct bench *b)
{
    struct kairos_quota q;
    struct kairos_error err = {0};
    pthread_t t[THREADS];
    char project[64];
    double t0 = now_s();

    kairos_quota_unlimited(&q);
    for (unsigned p = 0; p < b->projects; p++) {
        project_name(project, sizeof(project), p);
        if (kairos_project_create(b->k, project, NULL, &q, &err) < 0) {
            fprintf(stderr, "bench_drift: %s\n", err.msg);
            return -1;
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, maker, b);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (atomic_load(&b->failed)) {
        fprintf(stderr, "bench_drift: %u volumes failed\n", atomic_load(&b->failed));
        return -1;
    }
    fprintf(stderr, "bench_drift: %u volumes in %u projects made in %.0f s\n", b->images,
            b->projects, now_s() - t0);
    return 0;
}

/*
 * Every object of the block pool, all namespaces, listed; with @stat, each
 * also stat'ed, one at a time (the floor of visiting every object with one
 * op, as the scan does). Return: seconds.
 */
static double list_pool(struct bench *b, bool stat, uint64_t *objects)
{
    rados_list_ctx_t ls;
    rados_ioctx_t io, one;
    const char *oid, *ns;
    uint64_t size;
    time_t mtime;
    double t0;

    *objects = 0;
    if (rados_ioctx_create(b->rados, b->cfg->pools.block, &io) < 0)
        return 0;
    if (rados_ioctx_create(b->rados, b->cfg->pools.block, &one) < 0) {
        rados_ioctx_destroy(io);
        return 0;
    }
    rados_ioctx_set_namespace(io, LIBRADOS_ALL_NSPACES);
    t0 = now_s();
    if (rados_nobjects_list_open(io, &ls) == 0) {
        while (rados_nobjects_list_next2(ls, &oid, NULL, &ns, NULL, NULL, NULL) == 0) {
            if (stat) {
                rados_ioctx_set_namespace(one, ns);
                rados_stat(one, oid, &size, &mtime);
            }
            (*objects)++;
        }
        rados_nobjects_list_close(ls);
    }
    t0 = now_s() - t0;
    rados_ioctx_destroy(one);
    rados_ioctx_destroy(io);
    return t0;
}

/* One reconciler pass at @rate; its report in @rep. Return: seconds. */
static double pass(struct bench *b, uint64_t rate, struct kairos_reconcile_report *rep)
{
    struct kairos_error err = {0};
    double t0;

    b->cfg->reconcile.scan_rate = rate;
    t0 = now_s();
    if (kairos_reconcile_run(b->k, 0, rep, &err) < 0 || rep->skipped)
        fprintf(stderr, "bench_drift: the pass failed: %s\n", rep->skipped ? "skipped" : err.msg);
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    struct bench b = {.images = 10000, .projects = 100};
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    const char *conf = getenv("KAIROS_CONF");
    uint64_t rate = 2000, listed, statted;
    double secs, list_secs, stat_secs, stat_rate;
    int rc;

    if (argc > 1)
        b.images = (unsigned)strtoul(argv[1], NULL, 10);
    if (argc > 2)
        b.projects = (unsigned)strtoul(argv[2], NULL, 10);
    if (argc > 3)
        rate = strtoull(argv[3], NULL, 10);
    if (!conf || !b.images || !b.projects || b.projects > b.images || !rate) {
        fprintf(stderr, "usage: KAIROS_CONF=FILE bench_drift [images] [projects] [rate]\n");
        return 2;
    }
    if (kairos_config_load(conf, &b.cfg, &err) < 0 || kairos_open(b.cfg, &b.k, &err) < 0) {
        fprintf(stderr, "bench_drift: %s\n", err.msg);
        return 1;
    }
    /* One pass covers everything: no time slice. */
    b.cfg->reconcile.interval_ms = HOUR_MS;
    rc = rados_create2(&b.rados, "ceph", b.cfg->ceph.client, 0);
    if (rc == 0)
        rc = rados_conf_read_file(b.rados, b.cfg->ceph.conf);
    if (rc == 0 && b.cfg->ceph.keyring)
        rc = rados_conf_set(b.rados, "keyring", b.cfg->ceph.keyring);
    if (rc == 0)
        rc = rados_connect(b.rados);
    if (rc < 0 || setup(&b) < 0) {
        fprintf(stderr, "bench_drift: set-up failed\n");
        return 1;
    }
    list_secs = list_pool(&b, false, &listed);
    stat_secs = list_pool(&b, true, &statted);
    stat_rate = (double)statted / stat_secs;
    printf("| path | objects | seconds | objects/s | ratio to listing + stat |\n"
           "|---|---|---|---|---|\n");
    printf("| rados listing, all namespaces | %" PRIu64 " | %.2f | %.0f | |\n", listed, list_secs,
           (double)listed / list_secs);
    printf("| rados listing + a stat of each object | %" PRIu64 " | %.2f | %.0f | 1 |\n", statted,
           stat_secs, stat_rate);
    secs = pass(&b, RATE_MAX, &rep);
    printf("| drift scan, unpaced (%u images, %u projects) | %" PRIu64 " | %.2f | %.0f | %.2f |\n",
           b.images, rep.drift_projects, rep.scanned, secs, (double)rep.scanned / secs,
           (double)rep.scanned / secs / stat_rate);
    fprintf(stderr, "bench_drift: unpaced pass: %u findings, %u errors%s%s\n", rep.drift,
            rep.errors, rep.errors ? ": " : "", rep.last_error);
    secs = pass(&b, rate, &rep);
    printf("| drift scan, scan_rate = %" PRIu64 " | %" PRIu64 " | %.2f | %.0f | %.2f |\n", rate,
           rep.scanned, secs, (double)rep.scanned / secs, (double)rep.scanned / secs / stat_rate);
    if (!getenv("KAIROS_BENCH_DISPOSABLE")) {
        for (unsigned p = 0; p < b.projects; p++) {
            char project[64];
            project_name(project, sizeof(project), p);
            kairos_project_delete(b.k, project, KAIROS_DELETE_FORCE, NULL);
        }
    }
    rados_shutdown(b.rados);
    kairos_close(b.k);
    kairos_config_free(b.cfg);
    return 0;
}
