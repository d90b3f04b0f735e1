/*
 * bench_provision.c - volume and share provisions per second through
 * libkairos, beside Ceph's own paths in the same run:
 *
 *   volumes  kairos_volume_create()  vs a bare rbd_create4() with the same
 *            features into a namespace (the floor: no quota, no ledger)
 *   shares   kairos_share_create()   vs the mgr's "fs subvolume create"
 *            sent with rados_mgr_command() (what ceph-csi and Manila use)
 *
 *   KAIROS_CONF=cluster/kairos.conf build/bench/bench_provision [seconds]
 *
 * At concurrency 1, 8 and 32. Everything made is removed at the end (not
 * timed, and minutes long), unless KAIROS_BENCH_DISPOSABLE is set because
 * the cluster is thrown away after the run, as scripts/bench.sh does.
 * Callers create in 8 projects, as tenants of a real cloud would.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kairos/kairos.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#define MiB         ((uint64_t)1 << 20)
#define SIZE        (64 * MiB)
#define PROJECTS    8
#define MAX_THREADS 32
#define NATIVE_NS   "bench-native"
#define MGR_GROUP   "kairos-bench"

enum path { KAIROS_VOLUMES, RBD_CREATE, KAIROS_SHARES, MGR_SUBVOLUME };

static const char *const path_names[] = {"kairos volume", "rbd_create", "kairos share",
                                         "mgr fs subvolume create"};

struct bench {
    struct kairos_config *cfg;
    struct kairos *k;
    rados_t rados;
    char projects[PROJECTS][32];
    char policy_path[128];
    double seconds;
    atomic_uint seq;
};

struct worker {
    struct bench *b;
    enum path path;
    unsigned id;
    atomic_bool *stop;
    uint64_t ops, errors;
    char first_error[256];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_provision: %s: %s\n", what, msg);
    exit(1);
}

static int mgr(struct bench *b, const char *cmd, char *errbuf, size_t len)
{
    const char *cmds[] = {cmd};
    char *o = NULL, *s = NULL;
    size_t ol, sl;
    int rc = rados_mgr_command(b->rados, cmds, 1, "", 0, &o, &ol, &s, &sl);

    if (rc < 0 && errbuf)
        snprintf(errbuf, len, "%.*s", (int)sl, s ? s : "");
    rados_buffer_free(o);
    rados_buffer_free(s);
    return rc;
}

static int one(struct worker *w, struct kairos_error *err)
{
    struct bench *b = w->b;
    unsigned n = atomic_fetch_add(&b->seq, 1);
    const char *project = b->projects[n % PROJECTS];
    char name[32], cmd[512];

    snprintf(name, sizeof(name), "b%u", n);
    switch (w->path) {
    case KAIROS_VOLUMES:
        return kairos_volume_create(b->k, project, name, SIZE, err);
    case KAIROS_SHARES:
        return kairos_share_create(b->k, project, name, SIZE, 0, err);
    case RBD_CREATE: {
        rados_ioctx_t io;
        rbd_image_options_t opts;
        int rc = rados_ioctx_create(b->rados, b->cfg->pools.block, &io);
        if (rc < 0)
            return rc;
        rados_ioctx_set_namespace(io, NATIVE_NS);
        rbd_image_options_create(&opts);
        rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, RBD_FEATURES_DEFAULT);
        rc = rbd_create4(io, name, SIZE, opts);
        rbd_image_options_destroy(opts);
        rados_ioctx_destroy(io);
        return rc;
    }
    case MGR_SUBVOLUME:
        snprintf(cmd, sizeof(cmd),
                 "{\"prefix\":\"fs subvolume create\",\"vol_name\":\"%s\",\"sub_name\":\"%s\","
                 "\"group_name\":\"%s\",\"size\":%" PRIu64 ",\"format\":\"json\"}",
                 b->cfg->pools.cephfs_name, name, MGR_GROUP, SIZE);
        return mgr(b, cmd, err->msg, sizeof(err->msg));
    }
    return -EINVAL;
}

static void *work(void *arg)
{
    struct worker *w = arg;

    while (!atomic_load(w->stop)) {
        struct kairos_error err = {0};
        int rc = one(w, &err);
        if (rc == 0) {
            w->ops++;
        } else if (!w->errors++) {
            snprintf(w->first_error, sizeof(w->first_error), "%d %s", rc, err.msg);
        }
    }
    return NULL;
}

static double measure(struct bench *b, enum path path, unsigned threads)
{
    static struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    atomic_bool stop = false;
    uint64_t ops = 0, errors = 0;
    double t0 = now();

    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){.b = b, .path = path, .id = i, .stop = &stop};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    usleep((useconds_t)(b->seconds * 1e6));
    atomic_store(&stop, true);
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ops += w[i].ops;
        errors += w[i].errors;
        if (w[i].errors && errors == w[i].errors)
            fprintf(stderr, "%s: first error: %s\n", path_names[path], w[i].first_error);
    }
    if (errors)
        fprintf(stderr, "%s x%u: %" PRIu64 " errors\n", path_names[path], threads, errors);
    return (double)ops / (now() - t0);
}

/* Half a second of @path with a caller per project, untimed. */
static void warm(struct bench *b, enum path path)
{
    double seconds = b->seconds;

    b->seconds = 0.5;
    measure(b, path, PROJECTS);
    b->seconds = seconds;
}

static void setup(struct bench *b)
{
    struct kairos_error err = {0};
    const char *conf = getenv("KAIROS_CONF");
    struct kairos_quota q;
    rados_ioctx_t io;
    char cmd[256];
    FILE *f;

    if (!conf)
        die("KAIROS_CONF", "not set; start a cluster with scripts/minicluster");
    if (kairos_config_load(conf, &b->cfg, &err) < 0)
        die("config", err.msg);
    /* Thin images take no space: measure provisioning, not the laptop's 4 GiB. */
    snprintf(b->policy_path, sizeof(b->policy_path), "/tmp/kairos-bench-%d.ini", (int)getpid());
    f = fopen(b->policy_path, "w");
    if (!f)
        die("policy", strerror(errno));
    fputs("[capacity]\nusable = 1P\nfull_ratio = 1\nheadroom = 0\n", f);
    fclose(f);
    free(b->cfg->policy.capacity);
    b->cfg->policy.capacity = strdup(b->policy_path);
    if (kairos_open(b->cfg, &b->k, &err) < 0)
        die("open", err.msg);
    rados_create2(&b->rados, "ceph", b->cfg->ceph.client, 0);
    rados_conf_read_file(b->rados, b->cfg->ceph.conf);
    if (b->cfg->ceph.keyring)
        rados_conf_set(b->rados, "keyring", b->cfg->ceph.keyring);
    if (rados_connect(b->rados) < 0)
        die("rados_connect", "no cluster");
    kairos_quota_unlimited(&q);
    for (int i = 0; i < PROJECTS; i++) {
        snprintf(b->projects[i], sizeof(b->projects[i]), "bench-%d-%d", (int)getpid(), i);
        if (kairos_project_create(b->k, b->projects[i], NULL, &q, &err) < 0)
            die("project", err.msg);
    }
    rados_ioctx_create(b->rados, b->cfg->pools.block, &io);
    rbd_namespace_create(io, NATIVE_NS);
    rados_ioctx_destroy(io);
    snprintf(cmd, sizeof(cmd),
             "{\"prefix\":\"fs subvolumegroup create\",\"vol_name\":\"%s\",\"group_name\":\"%s\"}",
             b->cfg->pools.cephfs_name, MGR_GROUP);
    if (mgr(b, cmd, err.msg, sizeof(err.msg)) < 0)
        die("subvolume group", err.msg);
}

static void cleanup(struct bench *b)
{
    struct kairos_error err = {0};
    char cmd[256], name[64];
    rados_ioctx_t io;
    rbd_image_spec_t *images;
    size_t n = 0;

    fprintf(stderr, "cleaning up...\n");
    for (int i = 0; i < PROJECTS; i++) {
        kairos_error_clear(&err);
        if (kairos_project_delete(b->k, b->projects[i], KAIROS_DELETE_FORCE, &err) < 0)
            fprintf(stderr, "delete %s: %s\n", b->projects[i], err.msg);
    }
    rados_ioctx_create(b->rados, b->cfg->pools.block, &io);
    rados_ioctx_set_namespace(io, NATIVE_NS);
    rbd_list2(io, NULL, &n);
    images = calloc(n + 1, sizeof(*images));
    if (rbd_list2(io, images, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            rbd_remove(io, images[i].name);
        rbd_image_spec_list_cleanup(images, n);
    }
    free(images);
    rados_ioctx_set_namespace(io, "");
    rbd_namespace_remove(io, NATIVE_NS);
    rados_ioctx_destroy(io);
    for (unsigned i = 0; i < atomic_load(&b->seq); i++) {
        snprintf(name, sizeof(name), "b%u", i);
        snprintf(cmd, sizeof(cmd),
                 "{\"prefix\":\"fs subvolume rm\",\"vol_name\":\"%s\",\"sub_name\":\"%s\","
                 "\"group_name\":\"%s\",\"force\":true}",
                 b->cfg->pools.cephfs_name, name, MGR_GROUP);
        mgr(b, cmd, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd),
             "{\"prefix\":\"fs subvolumegroup rm\",\"vol_name\":\"%s\",\"group_name\":\"%s\","
             "\"force\":true}",
             b->cfg->pools.cephfs_name, MGR_GROUP);
    mgr(b, cmd, NULL, 0);
    kairos_close(b->k);
    rados_shutdown(b->rados);
    unlink(b->policy_path);
    kairos_config_free(b->cfg);
}

int main(int argc, char **argv)
{
    static const unsigned concurrency[] = {1, 8, 32};
    struct bench b = {.seconds = argc > 1 ? atof(argv[1]) : 5};

    setup(&b);
    /* Warm up, untimed: the first create in a project makes its RBD namespace. */
    for (int p = KAIROS_VOLUMES; p <= MGR_SUBVOLUME; p++)
        warm(&b, (enum path)p);
    printf("# bench_provision: %.0f s per figure, %d projects, %" PRIu64 " MiB each\n\n", b.seconds,
           PROJECTS, SIZE / MiB);
    printf("| callers | kairos volumes/s | bare rbd_create/s | ratio (goal >= 0.8) | kairos "
           "shares/s | mgr subvolume create/s | ratio (goal >= 3) |\n"
           "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(concurrency) / sizeof(concurrency[0]); i++) {
        unsigned c = concurrency[i];
        double kv = measure(&b, KAIROS_VOLUMES, c);
        double rv = measure(&b, RBD_CREATE, c);
        double ks = measure(&b, KAIROS_SHARES, c);
        double ms = measure(&b, MGR_SUBVOLUME, c);
        printf("| %u | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f |\n", c, kv, rv, kv / rv, ks, ms,
               ks / ms);
        fflush(stdout);
    }
    if (!getenv("KAIROS_BENCH_DISPOSABLE"))
        cleanup(&b);
    return 0;
}
