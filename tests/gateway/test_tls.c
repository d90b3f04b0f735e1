/*
 * test_tls.c - kairosd over TLS when tls_cert and tls_key are configured:
 * HTTPS answers with the configured certificate, plain HTTP gets nothing,
 * and a client that does not trust the certificate is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "kd.h"

static struct kd KD;

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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(https_only)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
