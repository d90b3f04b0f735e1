/*
 * test_reload.c - SIGHUP reloads kairosd's tokens, policies and TLS pair
 * without dropping a connection: a keep-alive connection opened before
 * goes on after it, new connections get the new certificate (its SHA-256
 * fingerprint as openssl s_client sees it), a new token works and a
 * removed one no longer does, a new plan is in the catalog, a new
 * capacity headroom is what admission keeps, and a reload
 * that fails (a broken certificate, a key not the certificate's, a bad
 * plans file) changes nothing at all.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <kairos/kairos.h>

#include "kd.h"

#define NEW_TOKEN "kt-reload-token-7d865e959b2466918c9863afca942d0f"
#define NEW_PLAN  "kt-reload-plan"

static struct kd KD;
static char plans[160], capacity[160], tokens[160];
static char out[16384];

/* Run a shell line, its stdout into out[]; Return: its exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return kd_capture(cmd, out, sizeof(out));
}

static void write_file(const char *path, const char *text, const char *mode)
{
    FILE *f = fopen(path, mode);

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    char dir[] = "/tmp/kt-reload.XXXXXX", extra[256];

    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(plans, sizeof(plans), "%s/plans.ini", dir);
    write_file(plans,
               "[defaults]\nplan = small\n\n[small]\ndescription = Small\nvolume.size = 1G\n", "w");
    snprintf(capacity, sizeof(capacity), "%s/capacity.ini", dir);
    write_file(capacity, "[capacity]\nheadroom = 10%\n", "w");
    snprintf(extra, sizeof(extra), "[policy]\nplans = %s\ncapacity = %s", plans, capacity);
    kd_start_tls_conf(&KD, KAIROSD_BINARY, NULL, extra);
    snprintf(tokens, sizeof(tokens), "%s/tokens", KD.dir);
    return 0;
}

static int teardown(void **state)
{
    char dir[160];

    (void)state;
    assert_int_equal(kd_stop(&KD), 0);
    snprintf(dir, sizeof(dir), "%s", plans);
    *strrchr(dir, '/') = '\0';
    unlink(plans);
    unlink(capacity);
    rmdir(dir);
    return 0;
}

/* Lines of kairosd's log holding @s. */
static int log_count(const char *s)
{
    char line[2048];
    FILE *f = fopen(KD.log, "r");
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, s) != NULL;
    fclose(f);
    return n;
}

/* SIGHUP, and wait for kairosd to log the outcome; Return: true when it reloaded. */
static bool sighup(void)
{
    int ok = log_count("kairosd: reloaded "), failed = log_count("reload failed");

    assert_int_equal(kill(KD.pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        if (log_count("kairosd: reloaded ") > ok)
            return true;
        if (log_count("reload failed") > failed)
            return false;
        usleep(100 * 1000);
    }
    fail_msg("kairosd logged no reload within 10 s");
    return false;
}

/* The SHA-256 fingerprint of the certificate kairosd serves a new connection. */
static void served_fingerprint(char *buf, size_t len)
{
    assert_int_equal(run("openssl s_client -connect 127.0.0.1:%u </dev/null 2>/dev/null | "
                         "openssl x509 -noout -fingerprint -sha256",
                         KD.port),
                     0);
    snprintf(buf, len, "%s", out);
}

static void file_fingerprint(const char *cert, char *buf, size_t len)
{
    assert_int_equal(run("openssl x509 -noout -fingerprint -sha256 -in %s", cert), 0);
    snprintf(buf, len, "%s", out);
}

/* GET /healthz on @c: the status, and whether the connection was reused. */
static long get_on(CURL *c, bool *reused)
{
    long status = 0, connects = -1;
    char url[128];

    snprintf(url, sizeof(url), "https://127.0.0.1:%u/healthz", KD.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    *reused = connects == 0;
    return status;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/*
 * A new pair is served to new connections after SIGHUP, while a
 * keep-alive connection opened before goes on, on the same socket.
 */
static void new_certificate_keeps_connections(void **state)
{
    char before[256], after[256], want[256];
    CURL *c = curl_easy_init();
    bool reused;

    (void)state;
    curl_easy_setopt(c, CURLOPT_CAINFO, KD.cert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(get_on(c, &reused), 200);
    assert_false(reused);
    served_fingerprint(before, sizeof(before));
    file_fingerprint(KD.cert, want, sizeof(want));
    assert_string_equal(before, want);
    /* A new key and certificate, moved over the configured files. */
    assert_int_equal(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                         "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.new -out %s/cert.new "
                         "2>/dev/null && mv %s/key.new %s/key.pem && mv %s/cert.new %s",
                         KD.dir, KD.dir, KD.dir, KD.dir, KD.dir, KD.cert),
                     0);
    assert_true(sighup());
    /* The open connection goes on. */
    assert_int_equal(get_on(c, &reused), 200);
    assert_true(reused);
    curl_easy_cleanup(c);
    served_fingerprint(after, sizeof(after));
    file_fingerprint(KD.cert, want, sizeof(want));
    assert_string_equal(after, want);
    assert_string_not_equal(after, before);
    /* kd_call() trusts the new certificate only: a new connection. */
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL), 200);
}

/* A broken certificate, or a key that is not the certificate's: the pair in use stays. */
static void broken_certificate_keeps_the_old(void **state)
{
    char before[256], after[256], save[256];

    (void)state;
    served_fingerprint(before, sizeof(before));
    snprintf(save, sizeof(save), "%s/cert.good", KD.dir);
    assert_int_equal(run("cp %s %s", KD.cert, save), 0);
    write_file(KD.cert,
               "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", "w");
    assert_false(sighup());
    assert_int_equal(log_count("reload failed, nothing changed"), 1);
    served_fingerprint(after, sizeof(after));
    assert_string_equal(after, before);
    /* A certificate of another key. */
    assert_int_equal(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other "
                         "-keyout /dev/null -out %s 2>/dev/null",
                         KD.cert),
                     0);
    assert_false(sighup());
    served_fingerprint(after, sizeof(after));
    assert_string_equal(after, before);
    /* Still served, and trusted through the good certificate (kd_call()'s CA file). */
    assert_int_equal(run("mv %s %s", save, KD.cert), 0);
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL), 200);
}

static bool catalog_has_plan(const char *name)
{
    json_t *cat = NULL;
    bool found = false;
    size_t i, k;
    json_t *svc, *plan;

    assert_int_equal(kd_call(&KD, "GET", "/v2/catalog", KD_OSB, NULL, NULL, &cat), 200);
    json_array_foreach(json_object_get(cat, "services"), i, svc)
    {
        json_array_foreach(json_object_get(svc, "plans"), k, plan)
        {
            found |= strcmp(json_string_value(json_object_get(plan, "name")), name) == 0;
        }
    }
    json_decref(cat);
    return found;
}

/* The headroom admission keeps, as GET /v1/capacity reports it. */
static double headroom(void)
{
    json_t *j = NULL;
    double h;

    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, &j), 200);
    h = json_real_value(json_object_get(j, "headroom"));
    json_decref(j);
    return h;
}

/* The capacity policy changes admission (the library's copy) with SIGHUP. */
static void capacity_policy(void **state)
{
    (void)state;
    assert_true(headroom() > 0.099 && headroom() < 0.101);
    write_file(capacity, "[capacity]\nheadroom = 25%\n", "w");
    assert_true(sighup());
    assert_true(headroom() > 0.249 && headroom() < 0.251);
    /* A bad one changes nothing. */
    write_file(capacity, "[capacity]\nheadroom = lots\n", "w");
    assert_false(sighup());
    assert_true(headroom() > 0.249 && headroom() < 0.251);
    write_file(capacity, "[capacity]\nheadroom = 10%\n", "w");
    assert_true(sighup());
}

/* Tokens and plans change with SIGHUP, all together or, when one part is bad, not at all. */
static void tokens_and_policies(void **state)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1], line[128];

    (void)state;
    kairos_token_hash(NEW_TOKEN, hash);
    snprintf(line, sizeof(line), "%s admin\n", hash);
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_TOKEN, NEW_TOKEN, NULL, NULL), 401);
    assert_false(catalog_has_plan(NEW_PLAN));
    /* A bad plans file fails the whole reload: the new token does not come in either. */
    write_file(tokens, line, "a");
    write_file(plans, "[" NEW_PLAN "]\nvolume.size = lots\n", "a");
    assert_false(sighup());
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_TOKEN, NEW_TOKEN, NULL, NULL), 401);
    assert_false(catalog_has_plan(NEW_PLAN));
    /* Fixed: both come in. */
    write_file(plans,
               "[defaults]\nplan = small\n\n[small]\ndescription = Small\nvolume.size = 1G\n\n"
               "[" NEW_PLAN "]\ndescription = Added by a reload\nvolume.size = 2G\n",
               "w");
    assert_true(sighup());
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_TOKEN, NEW_TOKEN, NULL, NULL), 200);
    assert_true(catalog_has_plan(NEW_PLAN));
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL), 200);
    /* A token taken out of the file is refused after the next reload. */
    kairos_token_hash(KD_ADMIN_TOKEN, hash);
    snprintf(line, sizeof(line), "%s admin\n", hash);
    write_file(tokens, line, "w");
    assert_true(sighup());
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_TOKEN, NEW_TOKEN, NULL, NULL), 401);
    assert_int_equal(kd_call(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(new_certificate_keeps_connections),
                                       cmocka_unit_test(broken_certificate_keeps_the_old),
                                       cmocka_unit_test(tokens_and_policies),
                                       cmocka_unit_test(capacity_policy)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
