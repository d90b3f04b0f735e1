/*
 * supervise.c - the supervisor of `kairosfs --supervise` (see supervise.h).
 */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "restart.h"

struct daemon_fds {
    int fuse;
    int state;
    int ready; /* the first daemon's; -1 afterwards */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setenv_fd(const char *name, int fd)
{
    char v[16];

    snprintf(v, sizeof(v), "%d", fd);
    setenv(name, v, 1);
}

/* Start the binary at @exe (re-read from disk: an upgrade takes effect) on the connection. */
static pid_t start_daemon(const char *exe, char *argv[], const struct daemon_fds *fds,
                          const sigset_t *mask)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* The child: single-threaded like its parent, so setenv() is safe here. */
    fcntl(fds->fuse, F_SETFD, 0);
    fcntl(fds->state, F_SETFD, 0);
    setenv_fd(KFS_ENV_FUSE_FD, fds->fuse);
    setenv_fd(KFS_ENV_STATE_FD, fds->state);
    if (fds->ready >= 0) {
        fcntl(fds->ready, F_SETFD, 0);
        setenv_fd(KFS_ENV_READY_FD, fds->ready);
    }
    sigprocmask(SIG_SETMASK, mask, NULL);
    execv(exe, argv);
    fprintf(stderr, "kairosfs: cannot start %s: %s\n", exe, strerror(errno));
    _exit(127);
}

static void log_death(pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        kfs_log(LOG_WARNING, "daemon %d killed by signal %d; starting it again", (int)pid,
                WTERMSIG(status));
    else
        kfs_log(LOG_WARNING, "daemon %d exited with status %d; starting it again", (int)pid,
                WEXITSTATUS(status));
}

int kfs_supervise(struct fuse_session *se, char *argv[], void (*ready)(void *arg), void *arg)
{
    unsigned char init[KFS_INIT_MAX];
    char exe[PATH_MAX];
    struct kfs_state st = {0};
    struct daemon_fds fds = {.fuse = fuse_session_fd(se), .state = -1, .ready = -1};
    sigset_t set, old;
    bool stopping = false, upgrading = false;
    double started;
    int pipefd[2] = {-1, -1}, status = 0, ws, len, rc = 1;
    pid_t pid = -1, w, dead = -1;
    ssize_t n;
    char b;

    /* The path, not /proc/self/exe: a package upgrade puts a new file there. */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        kfs_log(LOG_ERR, "cannot find this program's path: %s", strerror(errno));
        goto out;
    }
    exe[n] = '\0';
    len = kfs_init_receive(se, init, sizeof(init));
    if (len < 0) {
        kfs_log(LOG_ERR, "no INIT from the kernel: %s", strerror(-len));
        goto out;
    }
    fds.state = kfs_state_new(&st, init, (size_t)len);
    if (fds.state < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
        kfs_log(LOG_ERR, "cannot keep the mount's state: %s",
                strerror(fds.state < 0 ? -fds.state : errno));
        goto out;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);

    fds.ready = pipefd[1];
    started = now_s();
    pid = start_daemon(exe, argv, &fds, &old);
    close(pipefd[1]);
    fds.ready = -1;
    if (pid < 0) {
        kfs_log(LOG_ERR, "cannot start the daemon: %s", strerror(errno));
        goto unblock;
    }
    /* One byte once it serves; end of file if it died first. */
    do
        n = read(pipefd[0], &b, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status))
            kfs_log(LOG_ERR, "the daemon was killed by signal %d while starting", WTERMSIG(status));
        else
            kfs_log(LOG_ERR, "the daemon failed to start");
        pid = -1;
        goto unblock;
    }
    kfs_log(LOG_INFO, "supervising daemon %d", (int)pid);
    ready(arg);
    rc = 0;
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);

        if (sig == SIGUSR1 && pid > 0) {
            upgrading = true;
            kill(pid, SIGTERM);
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
            stopping = true;
            if (pid <= 0)
                break;
            kill(pid, SIGTERM);
        } else if (sig == SIGCHLD) {
            while ((w = waitpid(-1, &ws, WNOHANG)) > 0)
                if (w == pid) {
                    dead = pid;
                    status = ws;
                    pid = -1;
                }
            if (pid > 0)
                continue;
            if (stopping)
                break;
            /* Exit 0 of its own: the mount went away under it. */
            if (!upgrading && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                break;
            if (!upgrading)
                log_death(dead, status);
            else
                kfs_log(LOG_INFO, "starting %s in place of the daemon", exe);
            /* A daemon that cannot start must not spin. */
            if (!upgrading && now_s() - started < 1.0)
                sleep(1);
            upgrading = false;
            started = now_s();
            pid = start_daemon(exe, argv, &fds, &old);
            if (pid < 0) {
                kfs_log(LOG_ERR, "cannot start the daemon again: %s", strerror(errno));
                rc = 1;
                break;
            }
        }
    }
unblock:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (fds.state >= 0)
        close(fds.state);
    fuse_session_unmount(se);
    return rc;
}
