/*
 * test_tls.c - kairosd over TLS when tls_cert and tls_key are configured:
 * HTTPS answers with the configured certificate, plain HTTP gets nothing,
 * and a client that does not trust the certificate is refused; kairosctl
 * and kairosfs trust it when told to (--cacert, -o cacert=, $KAIROS_CACERT)
 * and only then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "kd.h"

static struct kd KD;
static char out[16384];

/* Run a shell line, its stdout and stderr into out[]; Return: its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    status = kd_capture(cmd, out, sizeof(out));
    print_message("%s\n", out);
    return status;
}

static int setup(void **state)
{
    (void)state;
    kd_start_tls(&KD, KAIROSD_BINARY);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

static void https_only(void **state)
{
    char url[128];
    json_t *j = NULL;
    CURL *c;

    (void)state;
    /* Trusting the test's certificate: the API answers. */
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, &j), 200);
    assert_true(json_integer_value(json_object_get(j, "usable")) > 0);
    json_decref(j);
    /* Plain HTTP on the TLS port gets no HTTP answer. */
    c = curl_easy_init();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", KD.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_not_equal(status, 200);
    /* Without the certificate as CA, the client refuses the server. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/healthz", KD.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, "/dev/null");
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
}

/* kairosctl: trusts kairosd's certificate only when told which CA signs it. */
static void kairosctl_cacert(void **state)
{
    const char *env = "KAIROS_CONF= KAIROS_CACERT= KAIROS_TOKEN=" KD_ADMIN_TOKEN;

    (void)state;
    /* The system's trust store does not know the test's certificate: unreachable (5). */
    assert_int_equal(
        run("%s %s --url https://127.0.0.1:%u capacity 2>&1", env, KAIROSCTL_BINARY, KD.port), 5);
    assert_non_null(strstr(out, "cannot reach kairosd"));
    assert_non_null(strstr(out, "certificate"));
    assert_int_equal(run("%s %s --url https://127.0.0.1:%u --cacert %s capacity 2>&1", env,
                         KAIROSCTL_BINARY, KD.port, KD.cert),
                     0);
    assert_non_null(strstr(out, "usable"));
    /* The same from the environment. */
    assert_int_equal(run("%s KAIROS_CACERT=%s %s --url https://127.0.0.1:%u capacity 2>&1", env,
                         KD.cert, KAIROSCTL_BINARY, KD.port),
                     0);
    /* A CA file that is not there is no way around verification either. */
    assert_int_equal(run("%s %s --url https://127.0.0.1:%u --cacert /nonexistent capacity 2>&1",
                         env, KAIROSCTL_BINARY, KD.port),
                     5);
}

/*
 * kairosfs fetches credentials over HTTPS with -o cacert=: a project that
 * does not exist gets kairosd's own 404 through TLS, so nothing is mounted
 * either way, and without the CA it never gets as far as asking.
 */
static void kairosfs_cacert(void **state)
{
    char dir[] = "/tmp/kairos-tls-mnt.XXXXXX";
    const char *env = "KAIROS_CACERT= KAIROS_TOKEN=" KD_ADMIN_TOKEN;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(run("%s %s -f -o project=no-such-project,url=https://127.0.0.1:%u %s 2>&1",
                         env, KAIROSFS_BINARY, KD.port, dir),
                     1);
    assert_non_null(strstr(out, "certificate"));
    assert_int_equal(
        run("%s %s -f -o project=no-such-project,url=https://127.0.0.1:%u,cacert=%s %s 2>&1", env,
            KAIROSFS_BINARY, KD.port, KD.cert, dir),
        1);
    assert_non_null(strstr(out, "HTTP 404"));
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(https_only),
                                       cmocka_unit_test(kairosctl_cacert),
                                       cmocka_unit_test(kairosfs_cacert)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
