/*
 * bench_osb.c - OSB cycles per second through kairosd: each of C
 * connections provisions a volume instance, binds it, unbinds it and
 * deprovisions it, over and over, spread over the kairosd given; after
 * first preloading the registry with N instance records written straight
 * into its shards through RADOS (as many kairosd would have made them, only
 * faster).
 *
 *   KAIROS_CONF=... KAIROS_BROKER=user:password \
 *   bench_osb [-p PRELOAD] [-s SECONDS] [-c CONNECTIONS] URL...
 *
 * Prints one Markdown table row: registered instances, cycles/s, cycle p50
 * and p99, and errors. Run by bench/bench_osb.sh.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kairos/kairos.h>
#include <rados/librados.h>

#define MAX_CONNECTIONS 128
#define MAX_URLS        8
#define PRELOAD_BATCH   1000 /* keys per omap write */
#define MAX_CYCLES      100000

struct bench {
    const char *urls[MAX_URLS];
    unsigned nurls, connections;
    double seconds;
    char userpwd[256];
    unsigned run; /* tells this run's ids from another's */
    atomic_bool stop;
    pthread_barrier_t warm; /* every connection warmed up: the clock starts */
};

struct worker {
    struct bench *b;
    unsigned n;
    uint64_t cycles, errors;
    double *lat; /* seconds, one per cycle */
    char first_error[256];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_osb: %s\n", what);
    exit(1);
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* One call on @c (its connection kept alive); the HTTP status, 0 when none. */
static long call(CURL *c, struct bench *b, const char *url, const char *method, const char *path,
                 const char *body, struct curl_slist *h)
{
    char full[512];
    long status = 0;

    snprintf(full, sizeof(full), "%s%s", url, path);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERPWD, b->userpwd);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Provision, bind, unbind, deprovision: true when every step answered as it should. */
static bool cycle(struct worker *w, CURL *c, struct curl_slist *h, unsigned i)
{
    struct bench *b = w->b;
    const char *url = b->urls[w->n % b->nurls];
    char iid[96], body[512], path[384];
    const char *q = "service_id=kairos-volume&plan_id=kairos-volume-small";
    long s;

    snprintf(iid, sizeof(iid), "bench-%x-%u-%u", b->run, w->n, i);
    snprintf(body, sizeof(body),
             "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
             "\"organization_guid\":\"bench\",\"space_guid\":\"bench\",\"context\":{\"platform\":"
             "\"kubernetes\",\"namespace\":\"bench-%u\"},\"parameters\":{\"size\":\"4M\"}}",
             w->n);
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    if ((s = call(c, b, url, "PUT", path, body, h)) != 201)
        goto fail;
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s-b", iid, iid);
    if ((s = call(c, b, url, "PUT", path,
                  "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"}", h)) !=
        201)
        goto fail;
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s-b?%s", iid, iid, q);
    if ((s = call(c, b, url, "DELETE", path, NULL, h)) != 200)
        goto fail;
    snprintf(path, sizeof(path), "/v2/service_instances/%s?%s", iid, q);
    if ((s = call(c, b, url, "DELETE", path, NULL, h)) != 200)
        goto fail;
    return true;
fail:
    if (!w->first_error[0])
        snprintf(w->first_error, sizeof(w->first_error), "%s answered %ld", path, s);
    return false;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    unsigned i = 0;

    h = curl_slist_append(h, "X-Broker-API-Version: 2.17");
    h = curl_slist_append(h, "Content-Type: application/json");
    /* Untimed: the namespace's project is made on first use, the connection opened. */
    cycle(w, c, h, i++);
    w->first_error[0] = '\0';
    pthread_barrier_wait(&w->b->warm);
    while (!atomic_load(&w->b->stop) && w->cycles < MAX_CYCLES) {
        double t0 = now();
        if (cycle(w, c, h, i++))
            w->lat[w->cycles++] = now() - t0;
        else
            w->errors++;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* @n ready instance records of this run, written into their shards directly. */
static void preload(unsigned n, unsigned run)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    rados_t r;
    rados_ioctx_t io;
    unsigned shards;
    char *keys, *vals;
    const char **kp, **vp;
    size_t *kl, *vl;

    if (n == 0)
        return;
    if (!getenv("KAIROS_CONF") || kairos_config_load(getenv("KAIROS_CONF"), &cfg, &err) < 0)
        die("KAIROS_CONF: a kairos.conf of the cluster is needed to preload");
    shards = (unsigned)cfg->registry.shards;
    if (rados_create2(&r, "ceph", cfg->ceph.client, 0) < 0 ||
        rados_conf_read_file(r, cfg->ceph.conf) < 0 ||
        (cfg->ceph.keyring && rados_conf_set(r, "keyring", cfg->ceph.keyring) < 0) ||
        rados_connect(r) < 0 || rados_ioctx_create(r, cfg->pools.metadata, &io) < 0)
        die("cannot reach the cluster");
    keys = malloc((size_t)PRELOAD_BATCH * 96);
    vals = malloc((size_t)PRELOAD_BATCH * 320);
    kp = calloc(PRELOAD_BATCH, sizeof(*kp));
    vp = calloc(PRELOAD_BATCH, sizeof(*vp));
    kl = calloc(PRELOAD_BATCH, sizeof(*kl));
    vl = calloc(PRELOAD_BATCH, sizeof(*vl));
    if (!keys || !vals || !kp || !vp || !kl || !vl)
        die("out of memory");
    /* Shard by shard, so that one write carries a batch of one object's keys. */
    for (unsigned shard = 0; shard < shards; shard++) {
        char oid[64];
        size_t batch = 0;
        snprintf(oid, sizeof(oid), "kairos.registry.%u", shard);
        for (unsigned i = 0; i <= n; i++) {
            char id[64];
            if (i < n) {
                snprintf(id, sizeof(id), "pre-%x-%u", run, i);
                if (kairos_registry_shard(id, shards) != shard)
                    continue;
                char *k = keys + batch * 96, *v = vals + batch * 320;
                kl[batch] = (size_t)snprintf(k, 96, "instance/%s", id);
                vl[batch] = (size_t)snprintf(
                    v, 320,
                    "{\"kind\":\"volume\",\"name\":\"%s\",\"parameters\":{\"size\":\"4M\"},"
                    "\"plan_id\":\"kairos-volume-small\",\"project\":\"bench-preload\","
                    "\"service_id\":\"kairos-volume\",\"state\":\"ready\"}",
                    id);
                kp[batch] = k;
                vp[batch] = v;
                batch++;
            }
            if (batch && (batch == PRELOAD_BATCH || i == n)) {
                rados_write_op_t op = rados_create_write_op();
                rados_write_op_omap_set2(op, kp, vp, kl, vl, batch);
                if (rados_write_op_operate(op, io, oid, NULL, 0) < 0)
                    die("preload write failed");
                rados_release_write_op(op);
                batch = 0;
            }
        }
    }
    free(keys);
    free(vals);
    free(kp);
    free(vp);
    free(kl);
    free(vl);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    kairos_config_free(cfg);
}

/* Instance records in the registry now (every shard's "instance/" keys). */
static uint64_t registered(void)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    rados_t r;
    rados_ioctx_t io;
    uint64_t total = 0;

    if (kairos_config_load(getenv("KAIROS_CONF"), &cfg, &err) < 0 ||
        rados_create2(&r, "ceph", cfg->ceph.client, 0) < 0 ||
        rados_conf_read_file(r, cfg->ceph.conf) < 0 ||
        (cfg->ceph.keyring && rados_conf_set(r, "keyring", cfg->ceph.keyring) < 0) ||
        rados_connect(r) < 0 || rados_ioctx_create(r, cfg->pools.metadata, &io) < 0)
        die("cannot reach the cluster");
    for (unsigned shard = 0; shard < cfg->registry.shards; shard++) {
        char oid[64], after[256] = "";
        unsigned char more = 1;
        snprintf(oid, sizeof(oid), "kairos.registry.%u", shard);
        while (more) {
            rados_read_op_t op = rados_create_read_op();
            rados_omap_iter_t it = NULL;
            int prval = 0;
            more = 0;
            rados_read_op_omap_get_keys2(op, after, 10000, &it, &more, &prval);
            if (rados_read_op_operate(op, io, oid, 0) == 0 && prval == 0) {
                char *key;
                size_t len;
                while (rados_omap_get_next2(it, &key, NULL, &len, NULL) == 0 && key) {
                    total += strncmp(key, "instance/", 9) == 0;
                    snprintf(after, sizeof(after), "%.*s", (int)len, key);
                }
            } else {
                more = 0;
            }
            if (it)
                rados_omap_get_end(it);
            rados_release_read_op(op);
        }
    }
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    kairos_config_free(cfg);
    return total;
}

int main(int argc, char **argv)
{
    static struct bench b = {.seconds = 30, .connections = 32};
    struct worker *w;
    pthread_t th[MAX_CONNECTIONS];
    unsigned preload_n = 0;
    uint64_t cycles = 0, errors = 0, in_registry;
    double *all, t0, elapsed;
    size_t nall = 0;
    int c;

    while ((c = getopt(argc, argv, "p:s:c:")) != -1) {
        if (c == 'p')
            preload_n = (unsigned)strtoul(optarg, NULL, 10);
        else if (c == 's')
            b.seconds = atof(optarg);
        else if (c == 'c')
            b.connections = (unsigned)strtoul(optarg, NULL, 10);
        else
            die("usage: bench_osb [-p PRELOAD] [-s SECONDS] [-c CONNECTIONS] URL...");
    }
    for (; optind < argc && b.nurls < MAX_URLS; optind++)
        b.urls[b.nurls++] = argv[optind];
    if (!b.nurls || !getenv("KAIROS_BROKER") || b.connections == 0 ||
        b.connections > MAX_CONNECTIONS)
        die("need KAIROS_BROKER=user:password, 1 to 128 connections and a kairosd URL");
    snprintf(b.userpwd, sizeof(b.userpwd), "%s", getenv("KAIROS_BROKER"));
    b.run = (unsigned)getpid() ^ (unsigned)time(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    preload(preload_n, b.run);
    in_registry = registered();
    w = calloc(b.connections, sizeof(*w));
    pthread_barrier_init(&b.warm, NULL, b.connections + 1);
    for (unsigned i = 0; i < b.connections; i++) {
        w[i] = (struct worker){.b = &b, .n = i, .lat = calloc(MAX_CYCLES, sizeof(double))};
        if (pthread_create(&th[i], NULL, work, &w[i]) != 0)
            die("pthread_create");
    }
    pthread_barrier_wait(&b.warm);
    t0 = now();
    usleep((useconds_t)(b.seconds * 1e6));
    atomic_store(&b.stop, true);
    for (unsigned i = 0; i < b.connections; i++)
        pthread_join(th[i], NULL);
    elapsed = now() - t0;
    for (unsigned i = 0; i < b.connections; i++) {
        cycles += w[i].cycles;
        errors += w[i].errors;
        if (w[i].first_error[0])
            fprintf(stderr, "bench_osb: connection %u: %s\n", i, w[i].first_error);
    }
    all = calloc(cycles ? cycles : 1, sizeof(double));
    for (unsigned i = 0; i < b.connections; i++) {
        memcpy(all + nall, w[i].lat, w[i].cycles * sizeof(double));
        nall += w[i].cycles;
        free(w[i].lat);
    }
    qsort(all, nall, sizeof(double), by_value);
    printf("| %" PRIu64 " | %.1f | %.0f ms | %.0f ms | %" PRIu64 " |\n", in_registry,
           (double)cycles / elapsed, nall ? all[nall / 2] * 1000 : 0,
           nall ? all[(size_t)((double)nall * 0.99)] * 1000 : 0, errors);
    free(all);
    free(w);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
