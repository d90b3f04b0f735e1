/*
 * exec.c - posix_spawn of helper programs with their output collected
 * (see exec.h).
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How often a silent child is checked on, in milliseconds. */
#define POLL_MS 50

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Append one read of @fd to @out. Return: bytes read, 0 at EOF, or -errno. */
static ssize_t drain(int fd, char *out, size_t len, size_t *used)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0)
        return -errno;
    if (out && *used + 1 < len) {
        size_t room = len - 1 - *used, take = (size_t)n < room ? (size_t)n : room;
        memcpy(out + *used, buf, take);
        *used += take;
        out[*used] = '\0';
    }
    return n;
}

static int status_of(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int csi_run(const char *const argv[], const char *fd3, unsigned timeout_s, char *out, size_t len)
{
    posix_spawn_file_actions_t fa;
    int pout[2] = {-1, -1}, p3[2] = {-1, -1}, st = 0, rc;
    long deadline = timeout_s ? now_ms() + (long)timeout_s * 1000 : 0;
    bool open_pipe = true, exited = false;
    size_t used = 0;
    pid_t pid;

    if (out && len)
        out[0] = '\0';
    if (pipe2(pout, O_CLOEXEC) < 0 || (fd3 && pipe2(p3, O_CLOEXEC) < 0)) {
        rc = -errno;
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 2);
    if (fd3)
        posix_spawn_file_actions_adddup2(&fa, p3[0], 3);
    /* Nothing of ours but what was given above. */
    posix_spawn_file_actions_addclosefrom_np(&fa, fd3 ? 4 : 3);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        rc = -rc;
        goto out;
    }
    close(pout[1]);
    pout[1] = -1;
    if (fd3) {
        close(p3[0]);
        p3[0] = -1;
        /* A token is far smaller than a pipe's buffer: this never blocks. */
        if (write(p3[1], fd3, strlen(fd3)) < 0)
            rc = -errno;
        close(p3[1]);
        p3[1] = -1;
    }
    while (!exited) {
        struct pollfd p = {.fd = pout[0], .events = POLLIN};

        if (open_pipe && poll(&p, 1, POLL_MS) > 0) {
            ssize_t n = drain(pout[0], out, len, &used);
            open_pipe = n > 0 || n == -EINTR || n == -EAGAIN;
        } else if (!open_pipe)
            poll(NULL, 0, POLL_MS);
        if (waitpid(pid, &st, WNOHANG) == pid)
            exited = true;
        else if (deadline && now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            exited = true;
        }
    }
    /* What the program wrote before it ended; a daemon it left may hold the pipe open. */
    fcntl(pout[0], F_SETFL, O_NONBLOCK);
    while (open_pipe && drain(pout[0], out, len, &used) > 0)
        ;
    if (rc == 0)
        rc = status_of(st);
out:
    for (int i = 0; i < 2; i++) {
        if (pout[i] >= 0)
            close(pout[i]);
        if (p3[i] >= 0)
            close(p3[i]);
    }
    return rc;
}
