/*
 * test_listen.c - kairosd on IPv6: "[::]:port" answers on ::1 and on
 * 127.0.0.1 (one dual-stack socket), "[::1]:port" on ::1 only, and a
 * listen address that is not one stops kairosd at start with the reason.
 * The sandbox and CI have the IPv6 loopback (checked first: a test of
 * IPv6 without ::1 fails loudly rather than passing).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "kd.h"

static struct kd KD;

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* Stop the test's kairosd, also after a failed assertion. */
static int stop(void **state)
{
    (void)state;
    if (KD.pid > 0)
        assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

/* GET /healthz at @host (a literal, "[::1]" for IPv6); Return: the status, 0 when unreachable. */
static long healthz(const char *host, unsigned port)
{
    char url[128];
    long status = 0;
    CURL *c = curl_easy_init();

    snprintf(url, sizeof(url), "http://%s:%u/healthz", host, port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

/* The IPv6 loopback exists: a socket binds to ::1. */
static void have_ipv6_loopback(void)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("this machine has no IPv6 loopback (::1): IPv6 cannot be tested here");
    close(fd);
}

static void dual_stack(void **state)
{
    (void)state;
    have_ipv6_loopback();
    kd_start_conf(&KD, KAIROSD_BINARY, "listen = [::]:0", NULL);
    assert_int_equal(healthz("[::1]", KD.port), 200);
    assert_int_equal(healthz("127.0.0.1", KD.port), 200);
    /* The API over IPv4, through kd_call(). */
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL), 200);
}

static void ipv6_loopback_only(void **state)
{
    (void)state;
    have_ipv6_loopback();
    kd_start_conf(&KD, KAIROSD_BINARY, "listen = [::1]:0", NULL);
    assert_int_equal(healthz("[::1]", KD.port), 200);
    assert_int_equal(healthz("127.0.0.1", KD.port), 0);
}

/* Bad addresses: kairosd does not start, and says why. */
static void bad_listen_refused(void **state)
{
    const char *bad[] = {"[::1", "[zz::1]:0", "[]:0", "::1:0", "127.0.0.300:0"};
    char conf[] = "/tmp/kt-listen.XXXXXX", cmd[1024], line[512];

    (void)state;
    assert_true(mkstemp(conf) >= 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* The cluster's config with the listen address replaced: only that is wrong. */
        FILE *in = fopen(getenv("KAIROS_CONF"), "r"), *f = fopen(conf, "w");
        assert_non_null(in);
        assert_non_null(f);
        while (fgets(line, sizeof(line), in)) {
            if (strncmp(line, "listen =", 8) == 0)
                snprintf(line, sizeof(line), "listen = %s\n", bad[i]);
            else if (strncmp(line, "tokens =", 8) == 0)
                continue; /* a file the cluster's config may name without making it */
            fputs(line, f);
        }
        fclose(in);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "%s -c %s 2>&1", KAIROSD_BINARY, conf);
        f = popen(cmd, "r");
        assert_non_null(f);
        line[0] = '\0';
        while (fgets(line, sizeof(line), f) && !strstr(line, "listen"))
            ;
        int status = pclose(f);
        print_message("%s -> %s", bad[i], line);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        assert_non_null(strstr(line, "listen"));
    }
    unlink(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test_teardown(dual_stack, stop),
                                       cmocka_unit_test_teardown(ipv6_loopback_only, stop),
                                       cmocka_unit_test(bad_listen_refused)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
