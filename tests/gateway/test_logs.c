/*
 * test_logs.c - request ids and JSON log lines: kairosd with [log] format
 * = json returns the caller's sane X-Request-Id, replaces a bad one (never
 * echoed nor logged), makes one when none is given, on every answer,
 * errors and the deadline path's included, and writes the same id in the
 * request's JSON log line, parsed here with jansson.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kd.h"

static struct kd KD;

static int setup(void **state)
{
    (void)state;
    kd_start_conf(&KD, KAIROSD_BINARY, NULL, "[log]\nformat = json");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

/*
 * The JSON log line whose request_id is @id, waiting out the access log's
 * batching; every line kairosd wrote must be a JSON object. NULL if none.
 */
static json_t *log_line(const char *id)
{
    char line[4096];

    for (int tries = 0; tries < 50; tries++) {
        FILE *f = fopen(KD.log, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            json_error_t e;
            json_t *j = json_loads(line, 0, &e);
            /* Ceph's libraries may write lines of their own; kairosd's are all JSON. */
            if (!j && strncmp(line, "kairosd", 7) == 0)
                fail_msg("a log line that is not JSON: %s (%s)", line, e.text);
            if (!j)
                continue;
            assert_true(json_is_object(j));
            assert_non_null(json_string_value(json_object_get(j, "time")));
            assert_non_null(json_string_value(json_object_get(j, "level")));
            const char *rid = json_string_value(json_object_get(j, "request_id"));
            if (rid && strcmp(rid, id) == 0) {
                fclose(f);
                return j;
            }
            json_decref(j);
        }
        fclose(f);
        usleep(100 * 1000);
    }
    return NULL;
}

static bool is_made_id(const char *id)
{
    regex_t re;
    bool ok;

    assert_int_equal(regcomp(&re, "^[0-9a-f]{32}$", REG_EXTENDED | REG_NOSUB), 0);
    ok = regexec(&re, id, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The log's whole text holds @s. */
static bool log_holds(const char *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(KD.log, "r");
    bool found;

    assert_non_null(f);
    assert_true(getdelim(&text, &len, '\0', f) >= 0);
    fclose(f);
    found = strstr(text, s) != NULL;
    free(text);
    return found;
}

static void caller_id_echoed_and_logged(void **state)
{
    const char *hdrs[] = {"X-Request-Id: kt-caller-0001", NULL};
    struct kd_reply r;
    json_t *line;

    (void)state;
    kd_request(&KD, "GET", "/v1/capacity?x=1", KD_ADMIN, NULL, hdrs, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.request_id, "kt-caller-0001");
    json_decref(r.body);
    line = log_line("kt-caller-0001");
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "method")), "GET");
    /* The path, never the query. */
    assert_string_equal(json_string_value(json_object_get(line, "path")), "/v1/capacity");
    assert_int_equal(json_integer_value(json_object_get(line, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(line, "principal")), "admin");
    /* The admin token of the tokens file, named by its hash's first digits, never itself. */
    const char *tid = json_string_value(json_object_get(line, "token_id"));
    assert_non_null(tid);
    assert_int_equal(strncmp(tid, "file:", 5), 0);
    assert_int_equal(strlen(tid), 5 + 12);
    assert_true(json_is_number(json_object_get(line, "duration_ms")));
    json_decref(line);
}

/* A project token's request: the line names the project and the token's id, never the token. */
static void project_token_named_by_id(void **state)
{
    const char *hdrs[] = {"X-Request-Id: kt-project-token-0001", NULL};
    char project[64], body[128], path[128], token[128], tid[64];
    struct kd_reply r;
    json_t *line;

    (void)state;
    snprintf(project, sizeof(project), "logs-%x", (unsigned)getpid());
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", project);
    assert_int_equal(kd_call(&KD, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    kd_project_token(&KD, project, token, sizeof(token), tid, sizeof(tid));
    snprintf(path, sizeof(path), "/v1/projects/%s", project);
    kd_request(&KD, "GET", path, KD_TOKEN, token, hdrs, NULL, &r);
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    line = log_line("kt-project-token-0001");
    assert_non_null(line);
    char principal[96];
    snprintf(principal, sizeof(principal), "project:%s", project);
    assert_string_equal(json_string_value(json_object_get(line, "principal")), principal);
    assert_string_equal(json_string_value(json_object_get(line, "token_id")), tid);
    json_decref(line);
    assert_false(log_holds(token));
    kd_delete_project(&KD, project);
}

static void bad_id_replaced(void **state)
{
    const char *bad[] = {"X-Request-Id: kt bad id", "X-Request-Id: kt-<script>",
                         "X-Request-Id: "
                         "kt-toolong-0123456789012345678901234567890123456789012345678901234567"};
    struct kd_reply r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *hdrs[] = {bad[i], NULL};
        kd_request(&KD, "GET", "/healthz", KD_NOBODY, NULL, hdrs, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_true(is_made_id(r.request_id));
        json_decref(r.body);
        json_t *line = log_line(r.request_id);
        assert_non_null(line);
        json_decref(line);
    }
    assert_false(log_holds("kt bad id"));
    assert_false(log_holds("kt-<script>"));
    assert_false(log_holds("kt-toolong"));
}

/* Made when not given, on errors too: 401, 404 and a change's deadline path. */
static void made_id_on_every_answer(void **state)
{
    struct {
        const char *method, *path;
        enum kd_as as;
        long status;
        const char *level;
    } calls[] = {
        {"GET", "/healthz", KD_NOBODY, 200, "info"},
        {"GET", "/v1/capacity", KD_NOBODY, 401, "warning"},
        /* A change runs under [server] request_timeout, on a thread of its own. */
        {"POST", "/v1/projects", KD_NOBODY, 401, "warning"},
        {"DELETE", "/v1/projects/kt-no-such-project-log", KD_ADMIN, 404, "warning"},
        {"GET", "/v1/no-such-thing", KD_ADMIN, 404, "warning"},
    };
    char seen[5][96];
    struct kd_reply r;

    (void)state;
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        kd_request(&KD, calls[i].method, calls[i].path, calls[i].as, NULL, NULL,
                   calls[i].method[0] == 'P' ? "{}" : NULL, &r);
        assert_int_equal(r.status, calls[i].status);
        assert_true(is_made_id(r.request_id));
        json_decref(r.body);
        snprintf(seen[i], sizeof(seen[i]), "%s", r.request_id);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(seen[k], seen[i]);
        json_t *line = log_line(r.request_id);
        assert_non_null(line);
        assert_int_equal(json_integer_value(json_object_get(line, "status")), calls[i].status);
        assert_string_equal(json_string_value(json_object_get(line, "method")), calls[i].method);
        assert_string_equal(json_string_value(json_object_get(line, "level")), calls[i].level);
        if (calls[i].status >= 400)
            assert_non_null(json_string_value(json_object_get(line, "error")));
        json_decref(line);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(caller_id_echoed_and_logged), cmocka_unit_test(project_token_named_by_id),
        cmocka_unit_test(bad_id_replaced), cmocka_unit_test(made_id_on_every_answer)};

    return cmocka_run_group_tests(tests, setup, teardown);
}
