/*
 * test_kairos.c - the process helpers of the handle module: no cluster.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <kairos/kairos.h>

/* Where descriptor @fd points, as /proc shows it. */
static void fd_target(int fd, char *buf, size_t len)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, buf, len - 1);
    buf[n < 0 ? 0 : n] = '\0';
}

/* In a child: close @closed (a bitmask of 0, 1, 2), repair, report by exit code. */
static int repaired_in_child(unsigned closed)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        char target[PATH_MAX];
        int next;

        for (int fd = 0; fd <= 2; fd++)
            if (closed & (1u << fd))
                close(fd);
        if (kairos_std_fds_open() < 0)
            _exit(10);
        for (int fd = 0; fd <= 2; fd++) {
            if (fcntl(fd, F_GETFD) < 0)
                _exit(20 + fd);
            fd_target(fd, target, sizeof(target));
            if ((closed & (1u << fd)) && strcmp(target, "/dev/null") != 0)
                _exit(30 + fd);
        }
        /* The next file opened takes a number past the standard three. */
        next = open("/dev/null", O_RDONLY);
        _exit(next > 2 ? 0 : 40);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void closed_stdin_gets_dev_null(void **state)
{
    (void)state;
    assert_int_equal(repaired_in_child(1u << 0), 0);
}

static void all_three_closed(void **state)
{
    (void)state;
    assert_int_equal(repaired_in_child(7u), 0);
}

static void open_ones_are_left_alone(void **state)
{
    char before[PATH_MAX], after[PATH_MAX];

    (void)state;
    fd_target(2, before, sizeof(before));
    assert_int_equal(kairos_std_fds_open(), 0);
    fd_target(2, after, sizeof(after));
    assert_string_equal(before, after);
    assert_int_equal(repaired_in_child(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_stdin_gets_dev_null),
        cmocka_unit_test(all_three_closed),
        cmocka_unit_test(open_ones_are_left_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
