/*
 * bench_cycle.c - volume create + delete cycles per second through
 * libkairos: the baseline of kairos-csi's CreateVolume + DeleteVolume
 * (bench/bench_csi.sh runs both in the same run, on the same cluster).
 *
 *   KAIROS_CONF=kairos.conf build/bench/bench_cycle SECONDS CALLERS PROJECT
 *
 * Each caller creates a 64 MiB volume in PROJECT (which must exist) and
 * deletes it, again and again, for SECONDS. Only cycles finished within
 * SECONDS count (bench_csi.py counts alike). Prints one line:
 * "cycles/s p50_ms p99_ms errors".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kairos/kairos.h>

#define SIZE        (64ULL << 20)
#define MAX_CALLERS 64
#define MAX_SAMPLES 100000

struct caller {
    struct kairos *k;
    double deadline;
    const char *project;
    unsigned id;
    atomic_bool *stop;
    unsigned long cycles, errors;
    double *lat; /* ms, one per cycle */
    char first_error[256];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    struct caller *c = arg;
    char name[64];

    while (!atomic_load(c->stop)) {
        struct kairos_error err = {0};
        double t0 = now();
        int rc;

        snprintf(name, sizeof(name), "lk-%u-%lu", c->id, c->cycles + c->errors);
        rc = kairos_volume_create(c->k, c->project, name, SIZE, &err);
        if (rc == 0)
            rc = kairos_volume_delete(c->k, c->project, name, 0, &err);
        if (rc < 0) {
            if (!c->errors++)
                snprintf(c->first_error, sizeof(c->first_error), "%s", err.msg);
            continue;
        }
        if (now() > c->deadline)
            break;
        if (c->cycles < MAX_SAMPLES)
            c->lat[c->cycles] = (now() - t0) * 1000;
        c->cycles++;
    }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    struct kairos *k = NULL;
    struct caller callers[MAX_CALLERS];
    pthread_t t[MAX_CALLERS];
    atomic_bool stop = false;
    double seconds, t0, elapsed, *all;
    unsigned n;
    unsigned long total = 0, errors = 0, samples = 0;

    if (argc != 4 || (seconds = atof(argv[1])) <= 0 || (n = (unsigned)atoi(argv[2])) == 0 ||
        n > MAX_CALLERS || !getenv("KAIROS_CONF")) {
        fprintf(stderr, "usage: KAIROS_CONF=FILE bench_cycle SECONDS CALLERS(1-%d) PROJECT\n",
                MAX_CALLERS);
        return 2;
    }
    if (kairos_config_load(getenv("KAIROS_CONF"), &cfg, &err) < 0 ||
        kairos_open(cfg, &k, &err) < 0) {
        fprintf(stderr, "bench_cycle: %s\n", err.msg);
        return 1;
    }
    memset(callers, 0, sizeof(callers));
    t0 = now();
    for (unsigned i = 0; i < n; i++) {
        callers[i] = (struct caller){
            .k = k, .deadline = t0 + seconds, .project = argv[3], .id = i, .stop = &stop};
        callers[i].lat = calloc(MAX_SAMPLES, sizeof(double));
        pthread_create(&t[i], NULL, run, &callers[i]);
    }
    while (now() - t0 < seconds) {
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    elapsed = seconds;
    all = calloc(MAX_SAMPLES * n, sizeof(double));
    for (unsigned i = 0; i < n; i++) {
        unsigned long m = callers[i].cycles < MAX_SAMPLES ? callers[i].cycles : MAX_SAMPLES;
        memcpy(all + samples, callers[i].lat, m * sizeof(double));
        samples += m;
        total += callers[i].cycles;
        errors += callers[i].errors;
        if (callers[i].errors)
            fprintf(stderr, "bench_cycle: caller %u: %s\n", i, callers[i].first_error);
        free(callers[i].lat);
    }
    qsort(all, samples, sizeof(double), by_value);
    printf("%.2f %.1f %.1f %lu\n", total / elapsed, samples ? all[samples / 2] : 0,
           samples ? all[samples * 99 / 100] : 0, errors);
    free(all);
    kairos_close(k);
    kairos_config_free(cfg);
    return 0;
}
