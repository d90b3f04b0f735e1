/*
 * mount.h - kairosfs mounts for the kairosfs tests: start the binary
 * ($KAIROSFS) on a new directory of the test's $KAIROSFS_TEST_DIR, wait for
 * the mount, and undo it whatever happened. Every pid started is listed in
 * $KAIROSFS_TEST_DIR/kairosfs.pids, which run_test.sh kills if the test
 * could not. cmocka assertions: call from a test or its set-up.
 */
#ifndef KFS_TEST_MOUNT_H
#define KFS_TEST_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

/* How long a mount may take to appear or go away. */
#define MOUNT_WAIT_S 60

struct mount {
    char dir[512];
    char log[512];
    pid_t pid;
};

/* The test's directory ($KAIROSFS_TEST_DIR); fails the test when unset. */
const char *test_dir_get(void);

/* True when @dir is a mount point now. */
bool mounted(const char *dir);

/* Print @m's log to stderr. */
void show_log(const struct mount *m);

/*
 * Start kairosfs -f [@flag] -o @opts on a new directory @name; wait until it
 * is mounted. @flag: an extra argument ("--supervise"), or NULL.
 */
void mount_fs_with(struct mount *m, const char *name, const char *flag, const char *opts);

/* mount_fs_with() without a flag. */
void mount_fs(struct mount *m, const char *name, const char *opts);

/* Wait up to @secs for @pid to exit; its exit status, or -1 if it did not. */
int wait_exit(pid_t pid, int secs);

/*
 * Unmount whatever happens: SIGTERM, then fusermount3 -u, then SIGKILL.
 * Return: kairosfs's exit status, or -1 when it had to be killed.
 */
int unmount_fs(struct mount *m);

#endif
