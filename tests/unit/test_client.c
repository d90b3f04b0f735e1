/*
 * test_client.c - kairos_client_call() against a libmicrohttpd server of
 * the test's own on 127.0.0.1: what it sends (method, path, bearer token,
 * JSON body), what it hands back for a 2xx and for a refusal, the input it
 * refuses before connecting, and connections kept alive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <kairos/client.h>
#include <microhttpd.h>

static struct MHD_Daemon *D;
static unsigned Port;
static unsigned Connections; /* TCP connections the server accepted */

/* What the server saw of the last request. */
static struct {
    char method[16];
    char url[256];
    char authz[256];
    char body[256];
} Seen;

struct upload {
    char buf[256];
    size_t len;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
    struct upload *up = *ctx;
    struct MHD_Response *r;
    const char *authz, *text;
    unsigned status;
    enum MHD_Result ret;

    (void)cls;
    (void)version;
    if (!up) {
        *ctx = calloc(1, sizeof(*up));
        return *ctx ? MHD_YES : MHD_NO;
    }
    if (*size) {
        size_t n = *size < sizeof(up->buf) - 1 - up->len ? *size : sizeof(up->buf) - 1 - up->len;
        memcpy(up->buf + up->len, data, n);
        up->len += n;
        *size = 0;
        return MHD_YES;
    }
    authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    snprintf(Seen.method, sizeof(Seen.method), "%s", method);
    snprintf(Seen.url, sizeof(Seen.url), "%s", url);
    snprintf(Seen.authz, sizeof(Seen.authz), "%s", authz ? authz : "");
    snprintf(Seen.body, sizeof(Seen.body), "%s", up->buf);
    if (strcmp(url, "/v1/missing") == 0) {
        status = 404;
        text = "{\"error\":\"NotFound\",\"description\":\"no such thing\"}";
    } else if (strcmp(url, "/v1/empty") == 0) {
        status = 204;
        text = "";
    } else {
        status = 200;
        text = "{\"ok\":true}";
    }
    r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void done(void *cls, struct MHD_Connection *conn, void **ctx,
                 enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    free(*ctx);
    *ctx = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)conn;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        __atomic_add_fetch(&Connections, 1, __ATOMIC_SEQ_CST);
}

static int setup(void **state)
{
    /* Loopback only, on a port the kernel picks. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    (void)state;
    D = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer,
                         NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&sin, MHD_OPTION_END);
    if (!D)
        return -1;
    Port = MHD_get_daemon_info(D, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(D);
    return 0;
}

static void calls_and_answers(void **state)
{
    char url[64];
    struct kairos_client c = {.url = url, .token = "kt-abc"};
    struct kairos_error err = {0};
    json_t *body = json_pack("{s:s}", "id", "n1"), *a;
    long status;

    (void)state;
    /* A trailing '/' on the URL is not doubled. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", Port);
    assert_int_equal(kairos_client_call(&c, "POST", "/v1/things", body, &status, &a, &err), 0);
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(a, "ok")));
    json_decref(a);
    assert_string_equal(Seen.method, "POST");
    assert_string_equal(Seen.url, "/v1/things");
    assert_string_equal(Seen.authz, "Bearer kt-abc");
    assert_string_equal(Seen.body, "{\"id\":\"n1\"}");
    /* A refusal is an answer: its status and its JSON come back. */
    assert_int_equal(kairos_client_call(&c, "GET", "/v1/missing", NULL, &status, &a, &err), 0);
    assert_int_equal(status, 404);
    assert_string_equal(json_string_value(json_object_get(a, "description")), "no such thing");
    json_decref(a);
    /* No body, no JSON; no token, no Authorization. */
    c.token = NULL;
    assert_int_equal(kairos_client_call(&c, "DELETE", "/v1/empty", NULL, &status, &a, &err), 0);
    assert_int_equal(status, 204);
    assert_null(a);
    assert_string_equal(Seen.authz, "");
    json_decref(body);
}

static void bad_input_refused_before_connecting(void **state)
{
    char long_token[600];
    const char *urls[] = {NULL, "ftp://127.0.0.1:1", "127.0.0.1:1", "file:///etc/passwd"};
    const char *tokens[] = {"to ken", "tok\r\nX-Evil: 1", "tök", long_token};
    struct kairos_client c = {0};
    json_t *a = (json_t *)1;
    long status = -1;

    (void)state;
    memset(long_token, 'a', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct kairos_error err = {0};

        c.url = urls[i];
        assert_int_equal(kairos_client_call(&c, "GET", "/v1/x", NULL, &status, &a, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "URL"));
        assert_null(a);
        assert_int_equal(status, 0);
    }
    c.url = "http://127.0.0.1:1";
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        struct kairos_error err = {0};

        c.token = tokens[i];
        assert_int_equal(kairos_client_call(&c, "GET", "/v1/x", NULL, &status, &a, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "token"));
    }
}

static void unreachable_is_econnrefused(void **state)
{
    struct kairos_client c = {.url = "http://127.0.0.1:1", .token = "t"};
    struct kairos_error err = {0};
    json_t *a;
    long status;

    (void)state;
    assert_int_equal(kairos_client_call(&c, "GET", "/v1/x", NULL, &status, &a, &err),
                     -ECONNREFUSED);
    assert_non_null(strstr(err.msg, "cannot reach kairosd at http://127.0.0.1:1"));
    assert_null(a);
}

/* keep_alive: a thread's calls share one connection; without it, one each. */
static void keep_alive(void **state)
{
    char url[64];
    struct kairos_client c = {.url = url, .token = "kt-abc"};
    struct kairos_error err = {0};
    unsigned before;
    json_t *a;
    long status;

    (void)state;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", Port);
    before = __atomic_load_n(&Connections, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kairos_client_call(&c, "GET", "/v1/x", NULL, &status, &a, &err), 0);
        json_decref(a);
    }
    assert_int_equal(__atomic_load_n(&Connections, __ATOMIC_SEQ_CST) - before, 3);
    c.keep_alive = 1;
    before = __atomic_load_n(&Connections, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kairos_client_call(&c, "POST", "/v1/things", NULL, &status, &a, &err), 0);
        assert_int_equal(status, 200);
        json_decref(a);
        /* Each call carries its own token, not the one a kept handle saw before. */
        assert_string_equal(Seen.authz, "Bearer kt-abc");
    }
    assert_int_equal(__atomic_load_n(&Connections, __ATOMIC_SEQ_CST) - before, 1);
    c.token = NULL;
    assert_int_equal(kairos_client_call(&c, "DELETE", "/v1/empty", NULL, &status, &a, &err), 0);
    assert_int_equal(status, 204);
    assert_string_equal(Seen.authz, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_and_answers),
        cmocka_unit_test(bad_input_refused_before_connecting),
        cmocka_unit_test(unreachable_is_econnrefused),
        cmocka_unit_test(keep_alive),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
