/*
 * test_rgw.c - the radosgw client without a radosgw: endpoints it refuses,
 * a refused connection and a silent server turned into -ECONNREFUSED and
 * -ETIMEDOUT with a message naming the endpoint, and error answers
 * (XML from S3, JSON from admin ops) turned into errnos by their code. A
 * local socket stands in for radosgw and answers one canned response.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rgw.h"

static struct kairos_config cfg_for(char *endpoint)
{
    struct kairos_config cfg = {0};

    cfg.rgw.endpoint = endpoint;
    cfg.rgw.access_key = "AKIDEXAMPLE";
    cfg.rgw.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    cfg.rgw.region = "default";
    cfg.rgw.connect_timeout_ms = 1000;
    cfg.rgw.timeout_ms = 500;
    return cfg;
}

/* A listening socket on 127.0.0.1 and its port. */
static int listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void endpoints(void **state)
{
    struct kairos_error err = {0};
    struct kairos_rgw *rgw = NULL;
    struct kairos_config cfg;

    (void)state;
    cfg = cfg_for(NULL);
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), -EINVAL);
    cfg = cfg_for("http://rgw.example.org:8080/s3");
    kairos_error_clear(&err);
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "without a path"));
    cfg = cfg_for("not a url");
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), -EINVAL);
    assert_null(rgw);
    cfg = cfg_for("http://rgw.example.org:8080/");
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), 0);
    assert_string_equal(kairos_rgw_endpoint(rgw), "http://rgw.example.org:8080/");
    assert_string_equal(kairos_rgw_region(rgw), "default");
    kairos_rgw_close(rgw);
}

static void refused(void **state)
{
    struct kairos_error err = {0};
    struct kairos_rgw *rgw;
    struct kairos_config cfg;
    char url[64], want[96];
    int port, fd = listener(&port);

    (void)state;
    /* The port was free a moment ago and nobody listens on it now. */
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cfg = cfg_for(url);
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), 0);
    assert_int_equal(kairos_rgw_user_get(rgw, "t$u", NULL, &err), -ECONNREFUSED);
    snprintf(want, sizeof(want), "radosgw at %s: GET /admin/user: connection refused", url);
    assert_string_equal(err.msg, want);
    kairos_rgw_close(rgw);
}

static void silent_server(void **state)
{
    struct kairos_error err = {0};
    struct kairos_rgw *rgw;
    struct kairos_config cfg;
    char url[64];
    int port, fd = listener(&port);

    (void)state;
    /* The kernel completes the connection; nobody ever answers. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cfg = cfg_for(url);
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, &err), 0);
    assert_int_equal(kairos_rgw_bucket_remove(rgw, "t", "b", false, &err), -ETIMEDOUT);
    assert_non_null(strstr(err.msg, "no answer in time"));
    kairos_rgw_close(rgw);
    close(fd);
}

struct canned {
    int fd;
    char response[1024];
    char request[4096];
};

/* Accept one connection, read its request head, answer, close. */
static void *answer_once(void *arg)
{
    struct canned *c = arg;
    size_t n = 0;
    int s = accept(c->fd, NULL, NULL);

    if (s < 0)
        return NULL;
    while (n < sizeof(c->request) - 1 && !strstr(c->request, "\r\n\r\n")) {
        ssize_t r = read(s, c->request + n, sizeof(c->request) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        c->request[n] = '\0';
    }
    if (write(s, c->response, strlen(c->response)) < 0)
        perror("write");
    close(s);
    return NULL;
}

/* Answer @status with @body to what @fn sends; c->request receives the request head. */
static int against(const char *status, const char *body, struct canned *c,
                   int (*fn)(struct kairos_rgw *, struct kairos_error *), struct kairos_error *err)
{
    struct kairos_rgw *rgw;
    struct kairos_config cfg;
    pthread_t t;
    char url[64];
    int port, rc;

    memset(c, 0, sizeof(*c));
    c->fd = listener(&port);
    snprintf(c->response, sizeof(c->response), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n\r\n%s",
             status, strlen(body), body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    cfg = cfg_for(url);
    assert_int_equal(kairos_rgw_open(&cfg, &rgw, err), 0);
    assert_int_equal(pthread_create(&t, NULL, answer_once, c), 0);
    rc = fn(rgw, err);
    pthread_join(t, NULL);
    close(c->fd);
    kairos_rgw_close(rgw);
    return rc;
}

static int remove_bucket(struct kairos_rgw *rgw, struct kairos_error *err)
{
    return kairos_rgw_bucket_remove(rgw, "kairos_p", "data", false, err);
}

static int create_user(struct kairos_rgw *rgw, struct kairos_error *err)
{
    json_t *user = NULL;
    int rc = kairos_rgw_user_create(rgw, "kairos_p$owner", "Kairos p", 0, &user, err);

    json_decref(user);
    return rc;
}

static int get_user(struct kairos_rgw *rgw, struct kairos_error *err)
{
    struct kairos_rgw_key key;
    json_t *user = NULL;
    int rc = kairos_rgw_user_get(rgw, "kairos_p$owner", &user, err);

    if (rc == 0) {
        assert_int_equal(kairos_rgw_user_s3_key(user, &key), 0);
        assert_string_equal(key.access_key, "AK");
        assert_string_equal(key.secret_key, "SK");
    }
    json_decref(user);
    return rc;
}

static void answers(void **state)
{
    struct kairos_error err = {0};
    struct canned c;

    (void)state;
    /* S3 errors are XML; the code decides. */
    assert_int_equal(against("409 Conflict", "<Error><Code>BucketNotEmpty</Code></Error>\n", &c,
                             remove_bucket, &err),
                     -ENOTEMPTY);
    assert_non_null(strstr(err.msg, "409 BucketNotEmpty"));
    /* What was signed went out: tenant/bucket encoded, the Host header, the signature. */
    assert_non_null(strstr(c.request, "DELETE /admin/bucket?bucket=kairos_p%2Fdata&purge-objects="
                                      "false HTTP/1.1\r\n"));
    assert_non_null(strstr(c.request, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert_non_null(strstr(c.request, "/default/s3/aws4_request, SignedHeaders=host;"
                                      "x-amz-content-sha256;x-amz-date, Signature="));

    /* Admin errors are JSON. */
    kairos_error_clear(&err);
    assert_int_equal(
        against("409 Conflict", "{\"Code\":\"UserAlreadyExists\"}\n", &c, create_user, &err),
        -EEXIST);
    assert_non_null(strstr(c.request, "PUT /admin/user?uid=kairos_p%24owner&display-name=Kairos%"
                                      "20p&max-buckets=0&"));
    assert_non_null(strstr(c.request, "Content-Length: 0\r\n"));
    kairos_error_clear(&err);
    assert_int_equal(
        against("403 Forbidden", "{\"Code\":\"AccessDenied\"}\n", &c, create_user, &err), -EACCES);
    assert_non_null(strstr(err.msg, "check [rgw] access_key"));

    /* A missing bucket is gone already. */
    assert_int_equal(
        against("404 Not Found", "{\"Code\":\"NoSuchBucket\"}\n", &c, remove_bucket, &err), 0);

    /* A 2xx answer is parsed. */
    assert_int_equal(against("200 OK",
                             "{\"keys\":[{\"access_key\":\"AK\",\"secret_key\":\"SK\"}]}\n\n\n", &c,
                             get_user, &err),
                     0);
}

static void errno_table(void **state)
{
    (void)state;
    assert_int_equal(kairos_rgw_errno(404, "NoSuchUser"), -ENOENT);
    assert_int_equal(kairos_rgw_errno(403, "QuotaExceeded"), -EDQUOT);
    assert_int_equal(kairos_rgw_errno(400, "InvalidBucketName"), -EINVAL);
    assert_int_equal(kairos_rgw_errno(409, "BucketAlreadyExists"), -EEXIST);
    assert_int_equal(kairos_rgw_errno(403, NULL), -EACCES);
    assert_int_equal(kairos_rgw_errno(501, NULL), -EOPNOTSUPP);
    assert_int_equal(kairos_rgw_errno(503, "SlowDown"), -EAGAIN);
    assert_int_equal(kairos_rgw_errno(500, "UnknownError"), -EIO);
    assert_int_equal(kairos_rgw_errno(418, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endpoints), cmocka_unit_test(refused),     cmocka_unit_test(silent_server),
        cmocka_unit_test(answers),   cmocka_unit_test(errno_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
