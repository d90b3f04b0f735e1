/*
 * test_crash.c - kill -9 at random points between reserve and commit, many
 * times over; then one reconciler pass must leave the ledger exact.
 *
 * A worker process creates, resizes and deletes allocations in a loop:
 * reserve, then make or change the RADOS object behind it, then commit.
 * The parent kills it with SIGKILL after a random delay, forty times. Then
 * the reconciler runs with a tiny lease, and:
 *   - no intent is left open;
 *   - every project's counters equal the sum of its committed records;
 *   - the objects that exist are exactly the committed allocations, at
 *     their committed sizes (no leaked quota, no leaked object);
 *   - the cluster budget granted equals the sum of the projects' slices.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"

#define MiB      ((uint64_t)1 << 20)
#define KILLS    40
#define PROJECTS 2
#define NAMES    12

/* 1 GiB of budget: a chunk is 1 MiB, so slices move all the time. */
static const char policy[] = "[capacity]\nusable = 1G\nfull_ratio = 1\nheadroom = 0\n"
                             "[overcommit]\nvolume = 2\nshare = 1\nbucket = 1\n";

static void worker_op(struct kt *t, const char *project, unsigned r)
{
    struct kairos_reservation *res = NULL;
    struct kairos_error err = {0};
    char name[16];
    uint64_t bytes = (1 + (r >> 8) % 4) * MiB;
    int rc;

    snprintf(name, sizeof(name), "v%u", (r >> 4) % NAMES);
    switch (r % 3) {
    case 0: {
        struct kairos_alloc_req req = {
            .project = project, .kind = KAIROS_VOLUME, .name = name, .bytes = bytes};
        rc = kairos_ledger_reserve(t->k, &req, &res, &err);
        if (rc == 0 && !res->existing)
            rc = kt_object_create(t, project, name, bytes);
        break;
    }
    case 1:
        rc = kairos_ledger_reserve_resize(t->k, project, KAIROS_VOLUME, name, bytes, &res, &err);
        if (rc == 0 && !res->existing)
            rc = kt_object_create(t, project, name, bytes);
        break;
    default:
        rc = kairos_ledger_reserve_delete(t->k, project, KAIROS_VOLUME, name, &res, &err);
        if (rc == 0) {
            char oid[128];
            snprintf(oid, sizeof(oid), "obj.%s.%s", project, name);
            rc = rados_remove(t->objects, oid);
            rc = rc == -ENOENT ? 0 : rc;
        }
        break;
    }
    if (res && !res->existing) {
        if (rc == 0)
            kairos_ledger_commit(t->k, res, &err);
        else
            kairos_ledger_release(t->k, res, &err);
    }
    kairos_reservation_free(res);
}

/* Child: work until killed. argv: self --worker POOL PROJECT... */
static int worker_main(int argc, char **argv)
{
    struct kt t;
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

    kt_open_isolated(&t, policy, argv[2]);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        worker_op(&t, argv[3 + rand_r(&seed) % (unsigned)(argc - 3)], (unsigned)rand_r(&seed));
    return 0;
}

static void run_and_kill(const char *pool, char projects[][64], unsigned kill_ms)
{
    const char *argv[] = {"worker", "--worker", pool, projects[0], projects[1], NULL};
    struct timespec ts = {.tv_sec = kill_ms / 1000, .tv_nsec = (long)(kill_ms % 1000) * 1000000};
    char line[16];
    int fds[2], status;
    pid_t pid;
    FILE *out;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        execv("/proc/self/exe", (char **)argv);
        _exit(127);
    }
    close(fds[1]);
    out = fdopen(fds[0], "r");
    /* Kill only once it is connected, so each kill lands inside the work. */
    if (!fgets(line, sizeof(line), out))
        fail_msg("worker died before it was ready");
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fclose(out);
}

/* The objects behind committed allocations are exactly those that exist. */
static void assert_objects_match(struct kt *t, const char *project)
{
    struct kairos_error err = {0};
    unsigned committed = 0;

    for (unsigned i = 0; i < NAMES; i++) {
        char name[16];
        struct kairos_alloc a;
        int rc;
        snprintf(name, sizeof(name), "v%u", i);
        rc = kairos_ledger_get(t->k, project, KAIROS_VOLUME, name, &a, &err);
        int exists = kt_object_exists(t, project, name);
        if (rc == -ENOENT) {
            if (exists)
                fail_msg("%s/%s: object exists without an allocation (leaked)", project, name);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_false(a.pending);
        if (!exists)
            fail_msg("%s/%s: allocation without its object", project, name);
        char oid[128], size[32] = "";
        snprintf(oid, sizeof(oid), "obj.%s.%s", project, name);
        int n = rados_getxattr(t->objects, oid, "size", size, sizeof(size) - 1);
        assert_true(n > 0);
        if (strtoull(size, NULL, 10) != a.bytes)
            fail_msg("%s/%s: object is %s bytes, ledger says %" PRIu64, project, name, size,
                     a.bytes);
        committed++;
        kairos_alloc_clear(&a);
    }
    print_message("%s: %u committed allocations match their objects\n", project, committed);
}

static void kill_between_reserve_and_commit(void **state)
{
    struct kt t;
    struct kairos_quota q;
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    char projects[PROJECTS][64];
    unsigned seed = (unsigned)time(NULL);
    uint64_t granted = 0, grants = 0;

    (void)state;
    kt_open_isolated(&t, policy, NULL);
    kt_backend_register(&t, KAIROS_VOLUME);
    kairos_quota_unlimited(&q);
    /* A quota small enough that refusals happen too. */
    q.kind[KAIROS_VOLUME].bytes = 24 * MiB;
    for (int i = 0; i < PROJECTS; i++) {
        kt_name(projects[i], sizeof(projects[i]), "crash");
        assert_int_equal(kairos_project_create(t.k, projects[i], NULL, &q, &err), 0);
    }
    for (int i = 0; i < KILLS; i++)
        run_and_kill(t.pool, projects, (unsigned)(rand_r(&seed) % 400));

    assert_int_equal(kairos_reconcile_run(t.k, 1, &rep, &err), 0);
    print_message("reconciler: %u projects, %u committed, %u released, %u left, %u transfers, "
                  "%u errors %s\n",
                  rep.projects, rep.committed, rep.released, rep.left, rep.transfers, rep.errors,
                  rep.last_error);
    assert_false(rep.skipped);
    assert_int_equal(rep.left, 0);
    assert_int_equal(rep.errors, 0);
    for (int i = 0; i < PROJECTS; i++) {
        struct kairos_audit a;
        assert_int_equal(kairos_ledger_audit(t.k, projects[i], &a, &err), 0);
        assert_true(a.pending == 0);
        kt_assert_consistent(&t, projects[i]);
        assert_objects_match(&t, projects[i]);
        grants += a.grant;
    }
    assert_int_equal(kairos_budget_granted(t.k, &granted, &err), 0);
    if (granted != grants)
        fail_msg("cluster granted %" PRIu64 " bytes, projects hold %" PRIu64, granted, grants);
    /*
     * A second pass settles nothing; it may only drop the returns' markers
     * the first one stamped (each outlives its return by a lease). A third
     * finds nothing at all.
     */
    assert_int_equal(kairos_reconcile_run(t.k, 1, &rep, &err), 0);
    if (rep.committed + rep.released + rep.left + rep.errors != 0)
        fail_msg("a second pass: %u committed, %u released, %u left, %u errors %s", rep.committed,
                 rep.released, rep.left, rep.errors, rep.last_error);
    usleep(2000);
    assert_int_equal(kairos_reconcile_run(t.k, 1, &rep, &err), 0);
    if (rep.committed + rep.released + rep.transfers + rep.left + rep.errors != 0)
        fail_msg("a third pass: %u committed, %u released, %u transfers, %u left, %u errors %s",
                 rep.committed, rep.released, rep.transfers, rep.left, rep.errors, rep.last_error);
    for (int i = 0; i < PROJECTS; i++)
        assert_int_equal(kairos_project_delete(t.k, projects[i], KAIROS_DELETE_FORCE, &err), 0);
    assert_int_equal(kairos_budget_granted(t.k, &granted, &err), 0);
    assert_true(granted == 0);
    kt_close(&t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_between_reserve_and_commit),
    };

    if (argc > 3 && strcmp(argv[1], "--worker") == 0)
        return worker_main(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
