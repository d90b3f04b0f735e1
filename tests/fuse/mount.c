/*
 * mount.c - kairosfs mounts for the kairosfs tests (see mount.h).
 */
#include "mount.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

const char *test_dir_get(void)
{
    const char *dir = getenv("KAIROSFS_TEST_DIR");

    if (!dir || !dir[0])
        fail_msg("KAIROSFS_TEST_DIR is not set: run this test through run_test.sh");
    return dir;
}

bool mounted(const char *dir)
{
    char line[2048], dev[512], mnt[512];
    FILE *f = fopen("/proc/mounts", "r");
    bool found = false;

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f))
        found = sscanf(line, "%511s %511s", dev, mnt) == 2 && strcmp(mnt, dir) == 0;
    fclose(f);
    return found;
}

/* run_test.sh ends these processes, by pid, if the test could not. */
static void record_pid(pid_t pid)
{
    char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/kairosfs.pids", test_dir_get());
    f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
}

void show_log(const struct mount *m)
{
    char line[1024];
    FILE *f = fopen(m->log, "r");

    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", m->log);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

void mount_fs_with(struct mount *m, const char *name, const char *flag, const char *opts)
{
    const char *bin = getenv("KAIROSFS");
    int status;

    assert_non_null(bin);
    snprintf(m->dir, sizeof(m->dir), "%s/%s", test_dir_get(), name);
    snprintf(m->log, sizeof(m->log), "%s/%s.log", test_dir_get(), name);
    assert_int_equal(mkdir(m->dir, 0755), 0);
    m->pid = fork();
    assert_true(m->pid >= 0);
    if (m->pid == 0) {
        int fd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        if (flag)
            execl(bin, bin, "-f", flag, "-o", opts, m->dir, (char *)NULL);
        else
            execl(bin, bin, "-f", "-o", opts, m->dir, (char *)NULL);
        _exit(127);
    }
    record_pid(m->pid);
    for (int i = 0; i < MOUNT_WAIT_S * 10; i++) {
        if (mounted(m->dir))
            return;
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
            m->pid = 0;
            show_log(m);
            fail_msg("kairosfs exited (status %d) before mounting %s", status, m->dir);
        }
        usleep(100000);
    }
    show_log(m);
    fail_msg("kairosfs did not mount %s within %d s", m->dir, MOUNT_WAIT_S);
}

void mount_fs(struct mount *m, const char *name, const char *opts)
{
    mount_fs_with(m, name, NULL, opts);
}

int wait_exit(pid_t pid, int secs)
{
    int status;

    for (int i = 0; i < secs * 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(100000);
    }
    return -1;
}

int unmount_fs(struct mount *m)
{
    int status = -1;
    pid_t pid;

    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        status = wait_exit(m->pid, MOUNT_WAIT_S);
        if (status < 0) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, NULL, 0);
        }
        if (status != 0)
            show_log(m);
        m->pid = 0;
    }
    if (m->dir[0] && mounted(m->dir)) {
        pid = fork();
        if (pid == 0) {
            execlp("fusermount3", "fusermount3", "-u", "-z", m->dir, (char *)NULL);
            _exit(127);
        }
        waitpid(pid, NULL, 0);
    }
    if (m->dir[0])
        rmdir(m->dir);
    return status;
}
