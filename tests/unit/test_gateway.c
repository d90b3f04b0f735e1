/*
 * test_gateway.c - kairosd's pure parts, no cluster: routing, the OSBAPI
 * version check, strict body reading, HTTP Basic, and the answer every
 * request gets before a handler runs (api_route_only).
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auditlog.h"
#include "auth.h"
#include "gateway.h"
#include "http.h"
#include "metrics.h"
#include "openapi.h"
#include "osb.h"
#include "params.h"
#include "reqlog.h"
#include "router.h"

static const char *no_lookup(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    return NULL;
}

static const char *version_217(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "X-Broker-API-Version") == 0 ? "2.17" : NULL;
}

static unsigned dummy(void *ctx, struct http_request *req, struct http_response *res)
{
    (void)ctx;
    (void)req;
    (void)res;
    return 0;
}

static struct http_request request(enum http_method m, const char *path, const char *body)
{
    struct http_request r = {.method = m,
                             .path = path,
                             .body = body ? body : "",
                             .body_len = body ? strlen(body) : 0,
                             .header = no_lookup,
                             .query = no_lookup};
    return r;
}

static void router_params(void **state)
{
    static const struct route routes[] = {
        {HTTP_GET, "/v1/projects/:p", dummy},
        {HTTP_GET, "/v1/projects/:p/:kind/:name", dummy},
        {HTTP_PUT, "/v1/projects/:p/quota", dummy},
    };
    struct http_request r = request(HTTP_GET, "/v1/projects/alpha/volumes/db", NULL);
    bool known;

    (void)state;
    assert_ptr_equal(router_match(routes, 3, &r, &known), &routes[1]);
    assert_string_equal(r.params[0], "alpha");
    assert_string_equal(r.params[1], "volumes");
    assert_string_equal(r.params[2], "db");
    /* Empty segments, trailing slashes and extra segments do not match. */
    r = request(HTTP_GET, "/v1/projects//volumes/db", NULL);
    assert_null(router_match(routes, 3, &r, &known));
    r = request(HTTP_GET, "/v1/projects/alpha/", NULL);
    assert_null(router_match(routes, 3, &r, &known));
    r = request(HTTP_GET, "/v1/projects/a/b/c/d", NULL);
    assert_null(router_match(routes, 3, &r, &known));
    assert_false(known);
    /* The path exists with another method: known, for a 405. */
    r = request(HTTP_DELETE, "/v1/projects/alpha", NULL);
    assert_null(router_match(routes, 3, &r, &known));
    assert_true(known);
}

static void osb_version(void **state)
{
    (void)state;
    assert_int_equal(osb_version_check("2.17"), 0);
    assert_int_equal(osb_version_check("2.13"), 0);
    assert_int_equal(osb_version_check(NULL), 400);
    assert_int_equal(osb_version_check("2.18"), 0);
    assert_int_equal(osb_version_check(""), 412);
    assert_int_equal(osb_version_check("2.17x"), 412);
    assert_int_equal(osb_version_check("abc"), 412);
    assert_int_equal(osb_version_check("2.12"), 412);
    assert_int_equal(osb_version_check("3.0"), 412);
    assert_int_equal(osb_version_check("3.0"), 412);
    assert_int_equal(osb_version_check("1.17"), 412);
}

static void strict_bodies(void **state)
{
    static const char *const keys[] = {"name", "size", NULL};
    struct http_response res = {0};
    struct http_request r = request(HTTP_POST, "/x", "{\"name\":\"a\",\"size\":\"1.5G\"}");
    uint64_t size = 0;
    json_t *j;

    (void)state;
    j = params_body(&r, &res, false);
    assert_non_null(j);
    assert_true(params_known(j, keys, "x", &res));
    assert_true(params_size(j, "size", &size, &res));
    assert_true(size == 1610612736ULL);
    json_decref(j);
    const char *bad[] = {"{", "[]", "{\"a\":1,\"a\":2}", "\"text\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = request(HTTP_POST, "/x", bad[i]);
        assert_null(params_body(&r, &res, false));
        assert_int_equal(res.status, 400);
        http_response_clear(&res);
    }
    r = request(HTTP_POST, "/x", "{\"name\":\"a\",\"colour\":1}");
    j = params_body(&r, &res, false);
    assert_false(params_known(j, keys, "x", &res));
    assert_int_equal(res.status, 400);
    http_response_clear(&res);
    json_decref(j);
    const char *sizes[] = {"{\"size\":0}",       "{\"size\":-1}",
                           "{\"size\":\"big\"}", "{\"size\":1.5}",
                           "{\"size\":\"1.5\"}", "{\"size\":\"1.5B\"}",
                           "{\"size\":\"1 G\"}", "{\"size\":\"99999999999P\"}"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        r = request(HTTP_POST, "/x", sizes[i]);
        j = params_body(&r, &res, false);
        assert_false(params_size(j, "size", &size, &res));
        assert_int_equal(res.status, 400);
        http_response_clear(&res);
        json_decref(j);
    }
}

/* What a malformed body is told names no library internals (jansson's options, its wording). */
static void json_errors_in_our_words(void **state)
{
    const char *bad[] = {"{\"a\":\"\\u0000\"}", "{\"a\\u0000b\":1}",
                         "{\"a\":1}x",          "{\"a\":",
                         "{\"a\":\"\xff\"}",    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                         "{\"a\":1,\"a\":2}",   "{\"a\":1e999999}"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_response res = {0};
        struct http_request r = request(HTTP_POST, "/x", bad[i]);
        const char *d;
        assert_null(params_body(&r, &res, false));
        assert_int_equal(res.status, 400);
        d = json_string_value(json_object_get(res.body, "description"));
        assert_non_null(d);
        if (strstr(d, "JSON_") || strstr(d, "near") || strstr(d, "jansson"))
            fail_msg("body %zu: '%s' leaks the parser's words", i, d);
        http_response_clear(&res);
    }
}

/* Contention asks the client to come back (503, Retry-After); a conflict is 409. */
static void status_of_errors(void **state)
{
    struct http_response res = {0};

    (void)state;
    assert_int_equal(http_status_of(-EAGAIN), 503);
    assert_int_equal(http_status_of(-EINPROGRESS), 503);
    assert_int_equal(http_status_of(-EBUSY), 409);
    assert_int_equal(http_status_of(-EEXIST), 409);
    assert_int_equal(http_status_of(-ENOENT), 404);
    assert_int_equal(http_status_of(-EIO), 500);
    http_error(&res, 503, "ServiceUnavailable", "busy");
    assert_non_null(res.retry);
    http_response_clear(&res);
    http_error(&res, 409, "Conflict", "no");
    assert_null(res.retry);
    http_response_clear(&res);
}

static const char *plain_text(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "Content-Type") == 0 ? "text/plain" : NULL;
}

static const char *json_utf8(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "Content-Type") == 0 ? "Application/JSON; charset=utf-8" : NULL;
}

static const char *osb_no_type(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "X-Broker-API-Version") == 0 ? "2.14" : NULL;
}

/* REST v1 reads application/json bodies only (415); OSB platforms may leave the type out. */
static void content_types(void **state)
{
    struct http_response res = {0};
    struct http_request r = request(HTTP_POST, "/v1/projects", "{\"name\":\"a\"}");

    (void)state;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 415);
    http_response_clear(&res);
    r.header = plain_text;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 415);
    assert_string_equal(json_string_value(json_object_get(res.body, "error")),
                        "UnsupportedMediaType");
    http_response_clear(&res);
    r.header = json_utf8;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 0);
    http_response_clear(&res);
    /* No body, no type needed. */
    r = request(HTTP_POST, "/v1/projects/p/volumes/v/flatten", NULL);
    api_route_only(&r, &res);
    assert_int_equal(res.status, 0);
    http_response_clear(&res);
    r = request(HTTP_PUT, "/v2/service_instances/x", "{}");
    r.header = osb_no_type;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 0);
    http_response_clear(&res);
}

/* docs/openapi.json's size pattern and kairos_size_parse() accept the same strings. */
static void size_grammar_is_the_documented_one(void **state)
{
    static const char *const samples[] = {
        "0",
        "4096",
        "4096B",
        "4096b",
        "1K",
        "1k",
        "1KB",
        "1KiB",
        "1kib",
        "500G",
        "1.5P",
        "1.5PiB",
        "0.5K",
        "147TB",
        "7E",
        "1.5",
        "1.5B",
        "1.5b",
        "1 G",
        " 1G",
        "1G ",
        "G",
        "1X",
        "1.G",
        ".5G",
        "1..5G",
        "1e9",
        "0x10",
        "-1",
        "+1",
        "",
        "1GiBB",
        "1iB",
        "1.0000000000000000001G",
        "1.000000000000000001G",
    };
    json_t *doc = json_loads(kairosd_openapi_json, 0, NULL);
    const char *pattern = json_string_value(json_object_get(
        json_array_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                                "Size"),
                "oneOf"),
            1),
        "pattern"));
    regex_t re;

    (void)state;
    assert_non_null(pattern);
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        uint64_t n;
        bool documented = regexec(&re, samples[i], 0, NULL, 0) == 0;
        bool parsed = kairos_size_parse(samples[i], &n) == 0;
        if (documented != parsed)
            fail_msg("'%s': the pattern says %d, the parser %d", samples[i], documented, parsed);
    }
    regfree(&re);
    json_decref(doc);
}

static void basic_auth(void **state)
{
    struct kairos_error err = {0};
    struct auth *a;

    (void)state;
    assert_int_equal(auth_open(NULL, "platform", "pw", &a, &err), 0);
    assert_int_equal(auth_check_basic(a, "Basic cGxhdGZvcm06cHc="), 0); /* platform:pw */
    assert_int_equal(auth_check_basic(a, "Basic cGxhdGZvcm06cHg="), -EACCES);
    assert_int_equal(auth_check_basic(a, "Basic cGxhdGZvcm06"), -EACCES);
    assert_int_equal(auth_check_basic(a, "Basic !!!!"), -EACCES);
    assert_int_equal(auth_check_basic(a, "Bearer cGxhdGZvcm06cHc="), -EACCES);
    assert_int_equal(auth_check_basic(a, NULL), -EACCES);
    auth_close(a);
    /* A tokens file with a bad line is refused with its line number. */
    assert_int_equal(
        auth_open(KAIROS_SOURCE_DIR "/tests/unit/data/bad-tokens", NULL, NULL, &a, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "bad-tokens:3:"));
}

static void answers_before_handlers(void **state)
{
    struct http_response res = {0};
    struct http_request r = request(HTTP_GET, "/nowhere", NULL);

    (void)state;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 404);
    http_response_clear(&res);
    r = request(HTTP_POST, "/v2/catalog", NULL);
    api_route_only(&r, &res);
    assert_int_equal(res.status, 405);
    http_response_clear(&res);
    r = request(HTTP_GET, "/v2/catalog", NULL);
    api_route_only(&r, &res);
    assert_int_equal(res.status, 400); /* no X-Broker-API-Version */
    http_response_clear(&res);
    r.header = version_217;
    api_route_only(&r, &res);
    assert_int_equal(res.status, 0); /* on to the handler */
    assert_string_equal(res.route, "/v2/catalog");
    http_response_clear(&res);
}

/* A message quoting bytes that are not UTF-8 still makes a JSON body. */
static void error_bodies_are_json(void **state)
{
    struct http_response res = {0};

    (void)state;
    http_error(&res, 400, "BadRequest", "bad name '%s'", "ab\xff\xfe\ncd");
    assert_int_equal(res.status, 400);
    assert_non_null(res.body);
    assert_string_equal(json_string_value(json_object_get(res.body, "description")),
                        "bad name 'ab???cd'");
    http_response_clear(&res);
}

/* A caller's sane X-Request-Id is kept; anything else is replaced by 32 random hex digits. */
static void request_ids(void **state)
{
    char id[REQID_MAX + 1], other[REQID_MAX + 1], longest[REQID_MAX + 2];
    const char *bad[] = {NULL, "", "a b", "a\nb", "caf\xc3\xa9", "x;y", "<script>", "a\"b"};
    regex_t hex;

    (void)state;
    assert_int_equal(regcomp(&hex, "^[0-9a-f]{32}$", REG_EXTENDED | REG_NOSUB), 0);
    reqid_take("3f2a9c1e-7b4d-4e0a-9c55-0d1e2f3a4b5c", id);
    assert_string_equal(id, "3f2a9c1e-7b4d-4e0a-9c55-0d1e2f3a4b5c");
    reqid_take("req_1.2:3+4/5=6@x", id);
    assert_string_equal(id, "req_1.2:3+4/5=6@x");
    memset(longest, 'a', REQID_MAX);
    longest[REQID_MAX] = '\0';
    reqid_take(longest, id);
    assert_string_equal(id, longest);
    /* One character too long is not cut: it is replaced. */
    longest[REQID_MAX] = 'a';
    longest[REQID_MAX + 1] = '\0';
    assert_false(reqid_valid(longest));
    reqid_take(longest, id);
    assert_int_equal(regexec(&hex, id, 0, NULL, 0), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(reqid_valid(bad[i]));
        reqid_take(bad[i], id);
        assert_int_equal(regexec(&hex, id, 0, NULL, 0), 0);
    }
    /* Made ids differ. */
    reqid_take(NULL, other);
    assert_string_not_equal(id, other);
    regfree(&hex);
}

/* Reconciler failures and errors are counted, and exposed from the start at 0. */
static void reconcile_failure_metrics(void **state)
{
    struct kairos_reconcile_report rep = {.errors = 2};
    struct metrics *m = metrics_new();
    char *text;

    (void)state;
    assert_non_null(m);
    text = metrics_render(m);
    assert_non_null(strstr(text, "\nkairos_reconcile_failures_total 0\n"));
    assert_non_null(strstr(text, "\nkairos_reconcile_errors_total 0\n"));
    free(text);
    metrics_reconcile_failure(m);
    metrics_reconcile_failure(m);
    metrics_reconcile(m, &rep);
    text = metrics_render(m);
    assert_non_null(strstr(text, "# TYPE kairos_reconcile_failures_total counter\n"));
    assert_non_null(strstr(text, "\nkairos_reconcile_failures_total 2\n"));
    assert_non_null(strstr(text, "\nkairos_reconcile_errors_total 2\n"));
    free(text);
    metrics_free(m);
}

/* The OSB originating identity as the audit log keeps it: decoded, bounded, or dropped. */
static void originating_identity(void **state)
{
    char platform[64], identity[257], big[2048];

    (void)state;
    /* {"username":"alice","uid":"42"} */
    auditlog_identity("kubernetes eyJ1c2VybmFtZSI6ImFsaWNlIiwidWlkIjoiNDIifQ==", platform,
                      sizeof(platform), identity, sizeof(identity));
    assert_string_equal(platform, "kubernetes");
    assert_string_equal(identity, "{\"uid\":\"42\",\"username\":\"alice\"}");
    /* Not base64, base64 of no JSON, no value, no header. */
    auditlog_identity("cloudfoundry !!!!", platform, sizeof(platform), identity, sizeof(identity));
    assert_string_equal(platform, "cloudfoundry");
    assert_string_equal(identity, "");
    auditlog_identity("kubernetes aGVsbG8=", platform, sizeof(platform), identity,
                      sizeof(identity));
    assert_string_equal(identity, "");
    auditlog_identity("kubernetes", platform, sizeof(platform), identity, sizeof(identity));
    assert_string_equal(platform, "kubernetes");
    assert_string_equal(identity, "");
    auditlog_identity(NULL, platform, sizeof(platform), identity, sizeof(identity));
    assert_string_equal(platform, "");
    /* Longer than the buffers: cut, never overrun. */
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    auditlog_identity(big, platform, sizeof(platform), identity, sizeof(identity));
    assert_int_equal(strlen(platform), sizeof(platform) - 1);
    memcpy(big, "k ", 2);
    memset(big + 2, 'A', sizeof(big) - 3);
    auditlog_identity(big, platform, sizeof(platform), identity, sizeof(identity));
    assert_string_equal(platform, "k");
    assert_string_equal(identity, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_params),
        cmocka_unit_test(originating_identity),
        cmocka_unit_test(osb_version),
        cmocka_unit_test(strict_bodies),
        cmocka_unit_test(basic_auth),
        cmocka_unit_test(answers_before_handlers),
        cmocka_unit_test(error_bodies_are_json),
        cmocka_unit_test(json_errors_in_our_words),
        cmocka_unit_test(status_of_errors),
        cmocka_unit_test(content_types),
        cmocka_unit_test(size_grammar_is_the_documented_one),
        cmocka_unit_test(request_ids),
        cmocka_unit_test(reconcile_failure_metrics),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
