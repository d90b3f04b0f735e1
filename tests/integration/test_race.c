/*
 * test_race.c - two processes with 16 threads each race to reserve against
 * a small project quota, then against a small cluster capacity. However
 * they interleave, the total granted never passes the limit, and every
 * refusal is -EDQUOT (project) or -ENOSPC (cluster).
 *
 * The racers are separate processes (this program re-executed), each with
 * its own libkairos handle and RADOS client, as two kairosd would be.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"

#define MiB              ((uint64_t)1 << 20)
#define PROCS            2
#define THREADS          16
#define TRIES            12 /* per thread: 2 * 16 * 12 MiB asked of a 64 MiB limit */
#define LIMIT            (64 * MiB)
#define CLUSTER_PROJECTS 4

static const char cluster_policy[] = "[capacity]\nusable = 64M\nfull_ratio = 1\nheadroom = 0\n"
                                     "[overcommit]\nvolume = 1\nshare = 1\nbucket = 1\n";

struct result {
    uint64_t granted; /* bytes reserved and committed */
    unsigned refused; /* the expected refusal */
    unsigned wrong;   /* any other error */
    int first_wrong;
    char wrong_msg[256];
};

struct racer {
    struct kt *t;
    char projects[CLUSTER_PROJECTS][64];
    unsigned nprojects;
    int expect; /* -EDQUOT or -ENOSPC */
    unsigned id;
    struct result r;
};

static void *race(void *arg)
{
    struct racer *rc = arg;
    struct kairos_error err = {0};

    for (unsigned i = 0; i < TRIES; i++) {
        char name[64];
        struct kairos_reservation *res;
        struct kairos_alloc_req req = {
            .project = rc->projects[(rc->id + i) % rc->nprojects],
            .kind = KAIROS_SHARE,
            .name = name,
            .bytes = MiB,
        };
        snprintf(name, sizeof(name), "p%d-t%u-%u", (int)getpid(), rc->id, i);
        kairos_error_clear(&err);
        int ret = kairos_ledger_reserve(rc->t->k, &req, &res, &err);
        if (ret == 0) {
            ret = kairos_ledger_commit(rc->t->k, res, &err);
            kairos_reservation_free(res);
        }
        if (ret == 0) {
            rc->r.granted += MiB;
        } else if (ret == rc->expect) {
            rc->r.refused++;
        } else {
            if (!rc->r.wrong++) {
                rc->r.first_wrong = ret;
                snprintf(rc->r.wrong_msg, sizeof(rc->r.wrong_msg), "%s", err.msg);
            }
        }
    }
    return NULL;
}

/* Child: race THREADS threads on @pool (or the shared pool) and print a result line. */
static int child_main(int argc, char **argv)
{
    /* argv: self --racer <expect> <pool|-> <project>... */
    static struct racer racers[THREADS];
    pthread_t threads[THREADS];
    struct result sum = {0};
    struct kt t;
    int expect = atoi(argv[2]);

    if (strcmp(argv[3], "-") == 0)
        kt_open(&t, NULL);
    else
        kt_open_isolated(&t, cluster_policy, argv[3]);
    for (unsigned i = 0; i < THREADS; i++) {
        racers[i].t = &t;
        racers[i].expect = expect;
        racers[i].id = i;
        racers[i].nprojects = (unsigned)(argc - 4);
        for (int p = 4; p < argc; p++)
            snprintf(racers[i].projects[p - 4], sizeof(racers[i].projects[0]), "%s", argv[p]);
        pthread_create(&threads[i], NULL, race, &racers[i]);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        sum.granted += racers[i].r.granted;
        sum.refused += racers[i].r.refused;
        if (racers[i].r.wrong && !sum.wrong) {
            sum.first_wrong = racers[i].r.first_wrong;
            memcpy(sum.wrong_msg, racers[i].r.wrong_msg, sizeof(sum.wrong_msg));
        }
        sum.wrong += racers[i].r.wrong;
    }
    printf("%" PRIu64 " %u %u %d %s\n", sum.granted, sum.refused, sum.wrong, sum.first_wrong,
           sum.wrong_msg);
    kt_close(&t);
    return 0;
}

/* Start PROCS racers and add up what they report. */
static struct result run_racers(int expect, const char *pool, char projects[][64], unsigned n)
{
    struct result total = {0};
    FILE *out[PROCS];
    pid_t pids[PROCS];
    char expect_s[16];

    snprintf(expect_s, sizeof(expect_s), "%d", expect);
    for (int p = 0; p < PROCS; p++) {
        int fds[2];
        const char *argv[4 + CLUSTER_PROJECTS + 1] = {"racer", "--racer", expect_s, pool};
        for (unsigned i = 0; i < n; i++)
            argv[4 + i] = projects[i];
        assert_int_equal(pipe(fds), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            execv("/proc/self/exe", (char **)argv);
            _exit(127);
        }
        close(fds[1]);
        out[p] = fdopen(fds[0], "r");
    }
    for (int p = 0; p < PROCS; p++) {
        struct result r = {0};
        int status;
        uint64_t granted;
        char line[512] = "";

        if (!fgets(line, sizeof(line), out[p]))
            line[0] = '\0';
        fclose(out[p]);
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("racer %d died (status 0x%x)", p, status);
        if (sscanf(line, "%" SCNu64 " %u %u %d %255[^\n]", &granted, &r.refused, &r.wrong,
                   &r.first_wrong, r.wrong_msg) < 4)
            fail_msg("racer %d said '%s'", p, line);
        total.granted += granted;
        total.refused += r.refused;
        if (r.wrong && !total.wrong) {
            total.first_wrong = r.first_wrong;
            memcpy(total.wrong_msg, r.wrong_msg, sizeof(r.wrong_msg));
        }
        total.wrong += r.wrong;
    }
    return total;
}

static void race_project_quota(void **state)
{
    struct kt t;
    struct kairos_quota q;
    struct kairos_usage u;
    struct kairos_error err = {0};
    char projects[1][64];
    struct result r;

    (void)state;
    kt_open(&t, NULL);
    kt_backend_register(&t, KAIROS_SHARE);
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_SHARE].bytes = LIMIT;
    kt_name(projects[0], sizeof(projects[0]), "race");
    assert_int_equal(kairos_project_create(t.k, projects[0], NULL, &q, &err), 0);

    r = run_racers(-EDQUOT, "-", projects, 1);
    if (r.wrong)
        fail_msg("%u refusals were not -EDQUOT: first %d (%s)", r.wrong, r.first_wrong,
                 r.wrong_msg);
    /* Demand was 6x the limit: the limit is reached exactly, never passed. */
    assert_true(r.granted == LIMIT);
    assert_int_equal(r.refused, PROCS * THREADS * TRIES - LIMIT / MiB);
    assert_int_equal(kairos_usage_get(t.k, projects[0], &u, &err), 0);
    assert_true(u.kind[KAIROS_SHARE].alloc_bytes == LIMIT);
    assert_true(u.kind[KAIROS_SHARE].alloc_count == LIMIT / MiB);
    kt_assert_consistent(&t, projects[0]);
    assert_int_equal(kairos_project_delete(t.k, projects[0], KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
}

static void race_cluster_capacity(void **state)
{
    struct kt t;
    struct kairos_quota q;
    struct kairos_capacity_report rep;
    struct kairos_error err = {0};
    char projects[CLUSTER_PROJECTS][64];
    struct result r;

    (void)state;
    kt_open_isolated(&t, cluster_policy, NULL);
    kt_backend_register(&t, KAIROS_SHARE);
    kairos_quota_unlimited(&q);
    for (int i = 0; i < CLUSTER_PROJECTS; i++) {
        kt_name(projects[i], sizeof(projects[i]), "crace");
        assert_int_equal(kairos_project_create(t.k, projects[i], NULL, &q, &err), 0);
    }

    r = run_racers(-ENOSPC, t.pool, projects, CLUSTER_PROJECTS);
    if (r.wrong)
        fail_msg("%u refusals were not -ENOSPC: first %d (%s)", r.wrong, r.first_wrong,
                 r.wrong_msg);
    assert_int_equal(kairos_capacity_get(t.k, &rep, &err), 0);
    if (r.granted > LIMIT)
        fail_msg("granted %" PRIu64 " MiB of %" PRIu64 " MiB; cluster says %" PRIu64
                 " effective allocated, %" PRIu64 " granted",
                 r.granted / MiB, LIMIT / MiB, rep.allocated_eff / MiB, rep.granted / MiB);
    print_message("cluster race: %" PRIu64 " MiB of %" PRIu64 " MiB granted, %u refused\n",
                  r.granted / MiB, LIMIT / MiB, r.refused);
    assert_true(rep.allocated_eff == r.granted);
    assert_true(rep.granted <= rep.limit);
    for (int i = 0; i < CLUSTER_PROJECTS; i++)
        kt_assert_consistent(&t, projects[i]);
    /* Spare budget left in other projects is reclaimed when asked for: fill the rest. */
    while (rep.allocated_eff < LIMIT) {
        struct kairos_alloc_req req = {
            .project = projects[0], .kind = KAIROS_SHARE, .bytes = LIMIT - rep.allocated_eff};
        struct kairos_reservation *res;
        char name[64];
        kt_name(name, sizeof(name), "rest");
        req.name = name;
        assert_int_equal(kairos_budget_reclaim(t.k, &err), 0);
        if (kairos_ledger_reserve(t.k, &req, &res, &err) < 0)
            fail_msg("the last %" PRIu64 " bytes could not be reserved: %s", req.bytes, err.msg);
        assert_int_equal(kairos_ledger_commit(t.k, res, &err), 0);
        kairos_reservation_free(res);
        rep.allocated_eff = LIMIT;
    }
    for (int i = 0; i < CLUSTER_PROJECTS; i++)
        assert_int_equal(kairos_project_delete(t.k, projects[i], KAIROS_DELETE_FORCE, &err), 0);
    kt_close(&t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(race_project_quota),
        cmocka_unit_test(race_cluster_capacity),
    };

    if (argc > 4 && strcmp(argv[1], "--racer") == 0)
        return child_main(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
