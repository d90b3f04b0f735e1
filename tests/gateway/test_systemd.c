/*
 * test_systemd.c - kairosd under systemd's notify protocol, with a socket
 * of our own in $NOTIFY_SOCKET as systemd would give it: READY=1 once it
 * listens (the port in STATUS=), WATCHDOG=1 while it runs with
 * $WATCHDOG_USEC, RELOADING=1 then READY=1 around a reload (SIGHUP, as
 * ExecReload= sends), STOPPING=1 on SIGTERM, then a clean exit.
 */
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kd.h"

/* kairosd pings at half of this: several pings within a second. */
#define WATCHDOG_USEC "400000"
/* How long to wait for any one message: kairosd connects to Ceph first. */
#define MESSAGE_WAIT_MS 60000

/* Receive datagrams into @buf until one contains @needle; Return: 0 or -ETIMEDOUT. */
static int wait_for(int fd, const char *needle, char *buf, size_t size)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    while (poll(&p, 1, MESSAGE_WAIT_MS) == 1) {
        n = recv(fd, buf, size - 1, 0);
        if (n < 0)
            return -errno;
        buf[n] = '\0';
        print_message("notify: %s\n", buf);
        if (strstr(buf, needle))
            return 0;
    }
    return -ETIMEDOUT;
}

static void notify_ready_watchdog_stopping(void **state)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct kd kd = {0};
    char buf[512], want[64], dir[] = "/tmp/kairos-notify-XXXXXX";
    int fd, pings = 0;
    struct timespec t0, t1;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

    /* kd_start() forks kairosd with our environment. */
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    setenv("WATCHDOG_USEC", WATCHDOG_USEC, 1);
    kd_start(&kd, KAIROSD_BINARY);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");

    assert_int_equal(wait_for(fd, "READY=1", buf, sizeof(buf)), 0);
    snprintf(want, sizeof(want), "STATUS=serving on port %u", kd.port);
    assert_non_null(strstr(buf, want));

    /* Pings keep coming while it serves: three within about a second. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (pings < 3 && wait_for(fd, "WATCHDOG=1", buf, sizeof(buf)) == 0)
        pings++;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(pings, 3);
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    /* And it still answers requests. */
    assert_int_equal(kd_call(&kd, "GET", "/v1/cluster", KD_ADMIN, NULL, NULL, NULL), 200);

    /* systemctl reload: RELOADING=1, then READY=1 again, and it serves on. */
    assert_int_equal(kill(kd.pid, SIGHUP), 0);
    assert_int_equal(wait_for(fd, "RELOADING=1", buf, sizeof(buf)), 0);
    assert_int_equal(wait_for(fd, "READY=1", buf, sizeof(buf)), 0);
    assert_int_equal(kd_call(&kd, "GET", "/v1/cluster", KD_ADMIN, NULL, NULL, NULL), 200);

    assert_int_equal(kill(kd.pid, SIGTERM), 0);
    assert_int_equal(wait_for(fd, "STOPPING=1", buf, sizeof(buf)), 0);
    /* A second SIGTERM from kd_stop() changes nothing: it waits for a clean exit. */
    assert_int_equal(kd_stop(&kd), 0);

    close(fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(notify_ready_watchdog_stopping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
