/*
 * bench_restart.c - what a kill -9 of kairosfs's daemon costs the programs
 * using the mount, under `kairosfs --supervise` (bench/bench_restart.sh).
 *
 *   bench_restart FILE SUPERVISOR_PID KILLS JOBS
 *
 * JOBS threads write random 4 KiB blocks of FILE (O_DIRECT, each its own
 * 16 MiB region) and note when each write returned. Every 4 s the daemon
 * (the supervisor's child) is killed with SIGKILL; KILLS times. Then, per
 * kill:
 *   first answer   time from the kill to the first write that returned
 *                  afterwards (a write in flight is sent again to the new
 *                  daemon, FUSE_NOTIFY_RESEND)
 *   before         writes/s in the 2 s before the kill
 *   second 1, 2    writes/s in the first and second second after it
 * and prints the medians, and the same for each kill, as Markdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK     4096
#define REGION    (16 << 20)
#define MAX_JOBS  16
#define MAX_KILLS 64
#define MAX_OPS   (1 << 22) /* per thread */
#define PERIOD_S  4

struct job {
    int fd;
    unsigned index;
    uint64_t *done; /* completion times, ns */
    size_t n;
    unsigned long errors;
};

static atomic_int stop;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *writer(void *arg)
{
    struct job *j = arg;
    unsigned seed = j->index + 1;
    void *buf;

    if (posix_memalign(&buf, BLOCK, BLOCK) != 0)
        return NULL;
    memset(buf, 0x5a, BLOCK);
    while (!atomic_load(&stop) && j->n < MAX_OPS) {
        off_t off = (off_t)j->index * REGION + (off_t)(rand_r(&seed) % (REGION / BLOCK)) * BLOCK;

        if (pwrite(j->fd, buf, BLOCK, off) == BLOCK)
            j->done[j->n++] = now_ns();
        else
            j->errors++;
    }
    free(buf);
    return NULL;
}

static pid_t daemon_of(pid_t supervisor)
{
    char path[128];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)supervisor, (int)supervisor);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

/* Writes that returned in [from, to). */
static size_t count(const struct job *jobs, unsigned njobs, uint64_t from, uint64_t to)
{
    size_t n = 0;

    for (unsigned i = 0; i < njobs; i++)
        for (size_t k = 0; k < jobs[i].n; k++)
            n += jobs[i].done[k] >= from && jobs[i].done[k] < to;
    return n;
}

static uint64_t first_after(const struct job *jobs, unsigned njobs, uint64_t t)
{
    uint64_t best = UINT64_MAX;

    for (unsigned i = 0; i < njobs; i++)
        for (size_t k = 0; k < jobs[i].n; k++)
            if (jobs[i].done[k] > t && jobs[i].done[k] < best)
                best = jobs[i].done[k];
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char *argv[])
{
    struct job jobs[MAX_JOBS];
    pthread_t threads[MAX_JOBS];
    uint64_t kills[MAX_KILLS];
    double first[MAX_KILLS], before[MAX_KILLS], s1[MAX_KILLS], s2[MAX_KILLS];
    unsigned nkills, njobs;
    unsigned long errors = 0;
    pid_t supervisor;
    int fd;

    if (argc != 5) {
        fprintf(stderr, "usage: bench_restart FILE SUPERVISOR_PID KILLS JOBS\n");
        return 2;
    }
    supervisor = (pid_t)atoi(argv[2]);
    nkills = (unsigned)atoi(argv[3]);
    njobs = (unsigned)atoi(argv[4]);
    if (nkills < 1 || nkills > MAX_KILLS || njobs < 1 || njobs > MAX_JOBS || supervisor <= 0) {
        fprintf(stderr, "bench_restart: 1..%d kills, 1..%d jobs, a supervisor's pid\n", MAX_KILLS,
                MAX_JOBS);
        return 2;
    }
    fd = open(argv[1], O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)njobs * REGION) < 0) {
        perror(argv[1]);
        return 1;
    }
    for (unsigned i = 0; i < njobs; i++) {
        jobs[i] = (struct job){.fd = fd, .index = i, .done = malloc(MAX_OPS * sizeof(uint64_t))};
        if (!jobs[i].done || pthread_create(&threads[i], NULL, writer, &jobs[i]) != 0) {
            fprintf(stderr, "bench_restart: out of memory or threads\n");
            return 1;
        }
    }
    for (unsigned k = 0; k < nkills; k++) {
        pid_t d;

        sleep(PERIOD_S);
        d = daemon_of(supervisor);
        if (d <= 0) {
            fprintf(stderr, "bench_restart: no daemon under supervisor %d\n", (int)supervisor);
            return 1;
        }
        kills[k] = now_ns();
        kill(d, SIGKILL);
    }
    sleep(PERIOD_S);
    atomic_store(&stop, 1);
    for (unsigned i = 0; i < njobs; i++) {
        pthread_join(threads[i], NULL);
        errors += jobs[i].errors;
    }
    printf("| kill | first answer (ms) | before (writes/s) | second 1 (writes/s) | "
           "second 2 (writes/s) |\n|---|---|---|---|---|\n");
    for (unsigned k = 0; k < nkills; k++) {
        uint64_t t = kills[k], f = first_after(jobs, njobs, t);

        first[k] = f == UINT64_MAX ? -1 : (double)(f - t) / 1e6;
        before[k] = (double)count(jobs, njobs, t - 2000000000u, t) / 2;
        s1[k] = (double)count(jobs, njobs, t, t + 1000000000u);
        s2[k] = (double)count(jobs, njobs, t + 1000000000u, t + 2000000000u);
        printf("| %u | %.0f | %.0f | %.0f | %.0f |\n", k + 1, first[k], before[k], s1[k], s2[k]);
    }
    printf("| median | %.0f | %.0f | %.0f | %.0f |\n", median(first, nkills),
           median(before, nkills), median(s1, nkills), median(s2, nkills));
    printf("\n%u jobs, %u kills, %lu writes failed\n", njobs, nkills, errors);
    return errors ? 1 : 0;
}
