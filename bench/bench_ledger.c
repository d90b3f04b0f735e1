/*
 * bench_ledger.c - reservations per second through libkairos, beside the
 * bare RADOS write they are built on, in the same run.
 *
 *   KAIROS_CONF=cluster/kairos.conf build/bench/bench_ledger [seconds]
 *
 * 1. Concurrency 1, 8 and 32: callers loop reserve + commit of a 1 MiB
 *    share in random projects (of 1000). Beside it, the Ceph-native floor:
 *    the same callers each doing one omap_set write op to a random object.
 * 2. Projects 10, 100, 1,000 and 10,000: reserve + commit at concurrency 8,
 *    beside bare omap_set writes spread over as many objects, the time to
 *    list every project (pages of 1000), and a capacity report.
 *    Each project has had its first reservation before it is measured (the
 *    one that takes its first slice of cluster budget); that first one is
 *    measured on its own, while growing to 10,000.
 *
 * Works in a metadata pool of its own, created here and deleted at the end,
 * so it neither sees nor disturbs real projects.
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

#define MiB          ((uint64_t)1 << 20)
#define MAX_THREADS  32
#define MAX_PROJECTS 10000

static const char policy[] = "[capacity]\nusable = 1P\nfull_ratio = 1\nheadroom = 0\n";

struct bench {
    struct kairos_config *cfg;
    struct kairos *k;
    rados_t rados;
    rados_ioctx_t io;
    char pool[64];
    char policy_path[128];
    unsigned nprojects; /* projects that exist: bench-00000 ... */
    double seconds;
};

struct worker {
    struct bench *b;
    unsigned id;
    unsigned projects; /* pick among the first this many */
    int native;        /* 1: bare omap_set instead of libkairos */
    atomic_bool *stop;
    uint64_t ops;
    uint64_t errors;
    double *lat; /* per-op seconds, up to lat_cap */
    size_t nlat, lat_cap;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "bench_ledger: %s: %s\n", what, msg && msg[0] ? msg : strerror(-rc));
    exit(1);
}

static void mon(struct bench *b, const char *cmd)
{
    const char *cmds[] = {cmd};
    char *o = NULL, *s = NULL;
    size_t ol, sl;
    int rc = rados_mon_command(b->rados, cmds, 1, "", 0, &o, &ol, &s, &sl);

    if (rc < 0)
        die(cmd, rc, NULL);
    rados_buffer_free(o);
    rados_buffer_free(s);
}

static void setup(struct bench *b)
{
    struct kairos_error err = {0};
    const char *conf = getenv("KAIROS_CONF");
    char cmd[256];
    FILE *f;
    int rc;

    if (!conf)
        die("KAIROS_CONF", -EINVAL, "not set; start a cluster with scripts/minicluster");
    rc = kairos_config_load(conf, &b->cfg, &err);
    if (rc < 0)
        die("config", rc, err.msg);
    rados_create2(&b->rados, "ceph", b->cfg->ceph.client, 0);
    rados_conf_read_file(b->rados, b->cfg->ceph.conf);
    if (b->cfg->ceph.keyring)
        rados_conf_set(b->rados, "keyring", b->cfg->ceph.keyring);
    rc = rados_connect(b->rados);
    if (rc < 0)
        die("rados_connect", rc, NULL);
    snprintf(b->pool, sizeof(b->pool), "kairos-bench-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "{\"prefix\":\"osd pool create\",\"pool\":\"%s\",\"pg_num\":8}",
             b->pool);
    mon(b, cmd);
    rados_ioctx_create(b->rados, b->pool, &b->io);
    rados_write_full(b->io, "ready", "1", 1);
    snprintf(b->policy_path, sizeof(b->policy_path), "/tmp/kairos-bench-%d.ini", (int)getpid());
    f = fopen(b->policy_path, "w");
    fputs(policy, f);
    fclose(f);
    free(b->cfg->pools.metadata);
    b->cfg->pools.metadata = strdup(b->pool);
    free(b->cfg->policy.capacity);
    b->cfg->policy.capacity = strdup(b->policy_path);
    rc = kairos_open(b->cfg, &b->k, &err);
    if (rc < 0)
        die("kairos_open", rc, err.msg);
}

static void teardown(struct bench *b)
{
    char cmd[256];

    kairos_close(b->k);
    rados_ioctx_destroy(b->io);
    snprintf(cmd, sizeof(cmd),
             "{\"prefix\":\"osd pool rm\",\"pool\":\"%s\",\"pool2\":\"%s\","
             "\"yes_i_really_really_mean_it\":true}",
             b->pool, b->pool);
    mon(b, cmd);
    rados_shutdown(b->rados);
    unlink(b->policy_path);
    kairos_config_free(b->cfg);
}

struct creator {
    struct bench *b;
    unsigned from, to, step;
    int first_reservation; /* 0: create projects; 1: one reservation in each */
};

static void *create_projects(void *arg)
{
    struct creator *c = arg;
    struct kairos_quota q;
    struct kairos_error err = {0};
    char name[32];

    kairos_quota_unlimited(&q);
    for (unsigned i = c->from; i < c->to; i += c->step) {
        struct kairos_alloc_req req = {
            .project = name, .kind = KAIROS_SHARE, .name = "first", .bytes = MiB};
        struct kairos_reservation *res;
        int rc;
        snprintf(name, sizeof(name), "bench-%05u", i);
        kairos_error_clear(&err);
        if (!c->first_reservation) {
            rc = kairos_project_create(c->b->k, name, NULL, &q, &err);
        } else {
            rc = kairos_ledger_reserve(c->b->k, &req, &res, &err);
            if (rc == 0) {
                rc = kairos_ledger_commit(c->b->k, res, &err);
                kairos_reservation_free(res);
            }
        }
        if (rc < 0 && rc != -EEXIST)
            die(c->first_reservation ? "first reservation" : "project create", rc, err.msg);
    }
    return NULL;
}

/*
 * Grow the project set to @n, eight callers at a time, and give each new
 * project its first reservation (the one that takes its first slice of
 * cluster budget). Returns the rates of both steps through @create_s and
 * @first_s (per second).
 */
static void grow_projects(struct bench *b, unsigned n, double *create_s, double *first_s)
{
    pthread_t t[8];
    struct creator c[8];

    for (int phase = 0; phase < 2; phase++) {
        double t0 = now();
        for (unsigned i = 0; i < 8; i++) {
            c[i] = (struct creator){
                .b = b, .from = b->nprojects + i, .to = n, .step = 8, .first_reservation = phase};
            pthread_create(&t[i], NULL, create_projects, &c[i]);
        }
        for (unsigned i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        double rate = (double)(n - b->nprojects) / (now() - t0);
        *(phase ? first_s : create_s) = rate;
    }
    b->nprojects = n;
}

static int one_reservation(struct worker *w, unsigned *seed, uint64_t seq)
{
    struct kairos_error err = {0};
    struct kairos_reservation *res;
    char project[32], name[48];
    struct kairos_alloc_req req = {
        .project = project, .kind = KAIROS_SHARE, .name = name, .bytes = MiB};
    int rc;

    snprintf(project, sizeof(project), "bench-%05u", (unsigned)rand_r(seed) % w->projects);
    snprintf(name, sizeof(name), "w%u-%" PRIu64, w->id, seq);
    rc = kairos_ledger_reserve(w->b->k, &req, &res, &err);
    if (rc < 0)
        return rc;
    rc = kairos_ledger_commit(w->b->k, res, &err);
    kairos_reservation_free(res);
    return rc;
}

static int one_native(struct worker *w, unsigned *seed, uint64_t seq)
{
    char oid[32], key[48];
    const char *k = key, *v = "{\"bytes\":1048576}";
    size_t kl, vl = strlen(v);
    rados_write_op_t op = rados_create_write_op();
    int rc;

    snprintf(oid, sizeof(oid), "native-%05u", (unsigned)rand_r(seed) % w->projects);
    snprintf(key, sizeof(key), "w%u-%" PRIu64, w->id, seq);
    kl = strlen(key);
    rados_write_op_omap_set2(op, &k, &v, &kl, &vl, 1);
    rc = rados_write_op_operate(op, w->b->io, oid, NULL, 0);
    rados_release_write_op(op);
    return rc;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned seed = w->id * 7919u + (unsigned)getpid();

    for (uint64_t seq = 0; !atomic_load(w->stop); seq++) {
        double t0 = now();
        int rc = w->native ? one_native(w, &seed, seq) : one_reservation(w, &seed, seq);
        if (rc < 0) {
            w->errors++;
            continue;
        }
        w->ops++;
        if (w->nlat < w->lat_cap)
            w->lat[w->nlat++] = now() - t0;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

struct result {
    double per_sec, p50_ms, p99_ms;
    uint64_t errors;
};

static struct result measure(struct bench *b, unsigned threads, unsigned projects, int native)
{
    static struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    atomic_bool stop = false;
    struct result r = {0};
    size_t cap = 200000, n = 0;
    double *all = malloc(cap * MAX_THREADS * sizeof(double));
    uint64_t ops = 0;
    double t0;

    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){.b = b,
                               .id = i,
                               .projects = projects,
                               .native = native,
                               .stop = &stop,
                               .lat = all + i * cap,
                               .lat_cap = cap};
    }
    t0 = now();
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, &w[i]);
    usleep((useconds_t)(b->seconds * 1e6));
    atomic_store(&stop, true);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double elapsed = now() - t0;
    for (unsigned i = 0; i < threads; i++) {
        ops += w[i].ops;
        r.errors += w[i].errors;
        memmove(all + n, w[i].lat, w[i].nlat * sizeof(double));
        n += w[i].nlat;
    }
    qsort(all, n, sizeof(double), cmp_double);
    r.per_sec = (double)ops / elapsed;
    r.p50_ms = n ? all[n / 2] * 1e3 : 0;
    r.p99_ms = n ? all[n * 99 / 100] * 1e3 : 0;
    free(all);
    return r;
}

static double time_list(struct bench *b, unsigned *count)
{
    struct kairos_project_page *page;
    struct kairos_error err = {0};
    char after[64] = "";
    double t0 = now();

    *count = 0;
    for (;;) {
        int rc = kairos_project_list(b->k, after, 1000, &page, &err);
        if (rc < 0)
            die("list", rc, err.msg);
        *count += (unsigned)page->count;
        if (page->count)
            snprintf(after, sizeof(after), "%s", page->items[page->count - 1].name);
        bool more = page->more;
        kairos_project_page_free(page);
        if (!more)
            break;
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    static const unsigned concurrency[] = {1, 8, 32};
    static const unsigned scales[] = {10, 100, 1000, 10000};
    struct bench b = {.seconds = argc > 1 ? atof(argv[1]) : 5};
    struct kairos_capacity_report rep;
    struct kairos_error err = {0};
    double create_rate, first_rate, rate_1k = 1, bare_1k = 1;

    setup(&b);
    printf("# bench_ledger: %.0f s per figure, pool %s\n\n", b.seconds, b.pool);
    printf("## Reserve + commit vs a bare omap write, 1000 projects\n\n");
    printf("| callers | kairos reserve+commit/s | p50 ms | p99 ms | bare omap_set/s | p50 ms "
           "| ratio |\n|---|---|---|---|---|---|---|\n");
    grow_projects(&b, 1000, &create_rate, &first_rate);
    for (size_t i = 0; i < sizeof(concurrency) / sizeof(concurrency[0]); i++) {
        struct result k = measure(&b, concurrency[i], 1000, 0);
        struct result n = measure(&b, concurrency[i], 1000, 1);
        printf("| %u | %.0f | %.1f | %.1f | %.0f | %.1f | %.2f |\n", concurrency[i], k.per_sec,
               k.p50_ms, k.p99_ms, n.per_sec, n.p50_ms, k.per_sec / n.per_sec);
        if (k.errors)
            printf("|   | (%" PRIu64 " errors) | | | | | |\n", k.errors);
        fflush(stdout);
    }

    printf("\n## Growing the project count (8 callers)\n\n");
    printf("| projects | reserve+commit/s | p99 ms | bare omap_set/s (as many objects) | ratio "
           "| list all (ms) | capacity report (ms) | reconciler pass (ms) |\n"
           "|---|---|---|---|---|---|---|---|\n");
    /* Projects are named in order, so the first 1000 exist from the table above. */
    for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
        unsigned listed;
        if (b.nprojects < scales[i])
            grow_projects(&b, scales[i], &create_rate, &first_rate);
        struct result k = measure(&b, 8, scales[i], 0);
        struct result n = measure(&b, 8, scales[i], 1);
        double list_s = time_list(&b, &listed);
        double t0 = now();
        int rc = kairos_capacity_get(b.k, &rep, &err);
        double cap_s = now() - t0;
        if (rc < 0)
            die("capacity", rc, err.msg);
        struct kairos_reconcile_report rrep;
        t0 = now();
        rc = kairos_reconcile_run(b.k, 0, &rrep, &err);
        double rec_s = now() - t0;
        if (rc < 0)
            die("reconcile", rc, err.msg);
        printf("| %u | %.0f | %.1f | %.0f | %.2f | %.0f (%u listed) | %.0f | %.0f |\n", scales[i],
               k.per_sec, k.p99_ms, n.per_sec, k.per_sec / n.per_sec, list_s * 1e3, listed,
               cap_s * 1e3, rec_s * 1e3);
        fflush(stdout);
        if (scales[i] == 1000) {
            rate_1k = k.per_sec;
            bare_1k = n.per_sec;
        }
        if (scales[i] == 10000)
            printf("\n10,000 / 1,000 projects: reserve+commit %.2f, bare omap_set %.2f\n",
                   k.per_sec / rate_1k, n.per_sec / bare_1k);
    }
    printf("\nGrowing from 1,000 to 10,000 projects (8 callers): %.0f project creates/s, then "
           "%.0f first reservations/s (each takes the project's first slice of cluster "
           "budget).\n",
           create_rate, first_rate);
    teardown(&b);
    return 0;
}
