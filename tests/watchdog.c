/*
 * watchdog.c - a test that hangs says where, before ctest kills it.
 *
 * ctest kills a test at its TIMEOUT and shows only what the test printed,
 * which for a call stuck inside librados or librbd is the name of the test
 * case and nothing more. Compiled into every cluster test: when
 * $KAIROS_TEST_WATCHDOG is a number of seconds (CMake sets it a little under
 * the TIMEOUT), a thread waits that long, runs $KAIROS_TEST_WATCHDOG_REPORT
 * (the cluster's side: tests/watchdog-report.sh), prints every thread's
 * stack with gdb (the main thread last, so a truncated log still shows it)
 * and aborts. kt_watchdog_report() (watchdog.h) gives the same report on
 * another process, such as a kairosd the test started, when it stalls.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watchdog.h"

static unsigned watchdog_secs;

/* Run @argv with its output on our stderr, and wait for it. */
static void watchdog_run(char *const argv[])
{
    pid_t child = fork();

    if (child == 0) {
        sigset_t none;

        /* This thread blocks every signal; timeout(1) in the report needs them. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "WATCHDOG: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (child > 0)
        waitpid(child, NULL, 0);
}

void kt_watchdog_report(pid_t pid)
{
    const char *report = getenv("KAIROS_TEST_WATCHDOG_REPORT");
    char id[24];
    char *gdb[] = {"gdb",
                   "-nx",
                   "-batch",
                   "-p",
                   id,
                   "-ex",
                   "set pagination off",
                   "-ex",
                   "thread apply all bt",
                   "-ex",
                   "thread 1",
                   "-ex",
                   "bt",
                   NULL};

    snprintf(id, sizeof(id), "%d", (int)pid);
    if (report) {
        char *cmd[] = {(char *)report, id, NULL};
        watchdog_run(cmd);
    }
    fprintf(stderr, "WATCHDOG: the stack of every thread of pid %s follows, the main thread last\n",
            id);
    watchdog_run(gdb);
}

static void *watchdog(void *arg)
{
    struct timespec left = {.tv_sec = watchdog_secs};

    (void)arg;
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
        ;
    fprintf(stderr, "\nWATCHDOG: test still running after %u s (pid %d)\n", watchdog_secs,
            (int)getpid());
    kt_watchdog_report(getpid());
    fprintf(stderr, "WATCHDOG: aborting the hung test\n");
    abort();
}

__attribute__((constructor)) static void watchdog_arm(void)
{
    const char *s = getenv("KAIROS_TEST_WATCHDOG");
    sigset_t all, old;
    pthread_t t;

    if (!s || (watchdog_secs = (unsigned)strtoul(s, NULL, 10)) == 0)
        return;
    /* gdb runs as our child: let it attach even under Yama's ptrace_scope=1. */
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    /* The test's signals (SIGCHLD, SIGPIPE, ...) must go to its own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&t, NULL, watchdog, NULL) == 0)
        pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
