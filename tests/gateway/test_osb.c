/*
 * test_osb.c - the Open Service Broker API of a real kairosd on the local
 * cluster: version header and authentication, every status code the spec
 * gives, asynchronous deprovision and clone, and a Kubernetes-style flow
 * whose bound credentials are used against Ceph for real.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <cephfs/libcephfs.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include "kd.h"

static struct kd KD;
static unsigned seq;

static int setup(void **state)
{
    (void)state;
    kd_start(&KD, KAIROSD_BINARY);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Graceful stop on SIGTERM: exit status 0. */
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

/* A fresh instance id and a Kubernetes namespace of this run. */
static void ids(char *iid, char *ns)
{
    snprintf(iid, 64, "6a1f%04x-7c3e-4b2a-9d1e-%012x", (unsigned)getpid() & 0xffff, ++seq);
    snprintf(ns, 64, "osb-%x-%u", (unsigned)getpid(), seq);
}

static char *provision_body(const char *service, const char *plan, const char *ns,
                            const char *params)
{
    char *b;

    assert_true(asprintf(&b,
                         "{\"service_id\":\"%s\",\"plan_id\":\"%s\",\"context\":{\"platform\":"
                         "\"kubernetes\",\"namespace\":\"%s\"},\"organization_guid\":\"o\","
                         "\"space_guid\":\"s\"%s%s}",
                         service, plan, ns, params ? ",\"parameters\":" : "",
                         params ? params : "") > 0);
    return b;
}

static long put_instance(const char *iid, const char *body, bool async, json_t **out)
{
    char path[256];

    snprintf(path, sizeof(path), "/v2/service_instances/%s%s", iid,
             async ? "?accepts_incomplete=true" : "");
    return kd_call(&KD, "PUT", path, KD_OSB, NULL, body, out);
}

static long delete_instance(const char *iid, const char *service, const char *plan, bool async,
                            json_t **out)
{
    char path[512];

    snprintf(path, sizeof(path), "/v2/service_instances/%s?service_id=%s&plan_id=%s%s", iid,
             service, plan, async ? "&accepts_incomplete=true" : "");
    return kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, out);
}

/* Poll last_operation until it is no longer "in progress"; the final status. */
static long wait_last_operation(const char *iid, const char *op, char *state)
{
    char path[512];
    long s = 0;

    snprintf(path, sizeof(path), "/v2/service_instances/%s/last_operation?operation=%s", iid, op);
    for (int i = 0; i < 600; i++) {
        json_t *j = NULL;
        s = kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j);
        snprintf(state, 32, "%s", json_string_value(json_object_get(j, "state")) ?: "");
        /* Why it failed, should the test not expect it. */
        if (strcmp(state, "failed") == 0)
            fprintf(stderr, "last_operation %s: failed: %s\n", op,
                    json_string_value(json_object_get(j, "description")) ?: "(no description)");
        json_decref(j);
        if (s != 200 || strcmp(state, "in progress") != 0)
            return s;
        usleep(100 * 1000);
    }
    return s;
}

static void version_and_auth(void **state)
{
    const char *none[] = {NULL};
    const char *old[] = {"X-Broker-API-Version: 2.12", NULL};
    const char *future[] = {"X-Broker-API-Version: 3.0", NULL};
    const char *junk[] = {"X-Broker-API-Version: two", NULL};
    json_t *j = NULL;

    (void)state;
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", none, NULL, &j), 400);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "BadRequest");
    assert_non_null(json_object_get(j, "description"));
    json_decref(j);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", old, NULL, NULL), 412);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", future, NULL, NULL), 412);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", junk, NULL, NULL), 412);
    /* The right version without credentials, or with a bearer token: 401. */
    const char *noauth[] = {"X-Broker-API-Version: 2.17", NULL};
    const char *wrong[] = {"X-Broker-API-Version: 2.17",
                           "Authorization: Basic cGxhdGZvcm06d3Jvbmc=", NULL};
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", noauth, NULL, NULL), 401);
    assert_int_equal(kd_call_headers(&KD, "GET", "/v2/catalog", wrong, NULL, NULL), 401);
    assert_int_equal(kd_call(&KD, "GET", "/v2/catalog", KD_ADMIN, NULL, NULL, NULL), 400);
}

static void catalog(void **state)
{
    json_t *j = NULL, *services;
    size_t i;
    json_t *s;

    (void)state;
    assert_int_equal(kd_call(&KD, "GET", "/v2/catalog", KD_OSB, NULL, NULL, &j), 200);
    services = json_object_get(j, "services");
    assert_int_equal(json_array_size(services), 3);
    json_array_foreach(services, i, s)
    {
        assert_true(json_is_true(json_object_get(s, "bindable")));
        assert_true(json_array_size(json_object_get(s, "plans")) >= 1);
        json_t *p = json_array_get(json_object_get(s, "plans"), 0);
        assert_non_null(json_string_value(json_object_get(p, "id")));
        assert_true(json_integer_value(json_object_get(json_object_get(p, "metadata"), "size")) >
                    0);
        /* Each plan says which of its operations answer 202 (issue 15), in words and in data. */
        json_t *async = json_object_get(json_object_get(p, "metadata"), "asynchronous");
        const char *kind = json_string_value(json_object_get(s, "id"));
        assert_non_null(json_object_get(async, "provision"));
        assert_string_equal(json_string_value(json_object_get(async, "bind")), "never");
        assert_string_equal(json_string_value(json_object_get(async, "unbind")), "never");
        const char *description = json_string_value(json_object_get(p, "description"));
        assert_non_null(description);
        assert_non_null(strstr(description, "Asynchronous (202, accepts_incomplete=true)"));
        if (strcmp(kind, "kairos-volume") == 0) {
            assert_string_equal(json_string_value(json_object_get(async, "provision")),
                                "a clone (parameters.source)");
            const char *update = json_string_value(json_object_get(async, "update"));
            assert_non_null(update);
            assert_non_null(strstr(update, "resize"));
        } else {
            assert_string_equal(json_string_value(json_object_get(async, "provision")), "never");
            assert_string_equal(json_string_value(json_object_get(async, "update")), "never");
            assert_string_equal(json_string_value(json_object_get(async, "deprovision")), "always");
        }
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(services, 1), "id")),
                        "kairos-share");
    json_decref(j);
}

/* Use a volume binding's credentials: connect as its entity, write its image. */
static void use_volume_credentials(const json_t *creds, bool expect_ok)
{
    rados_t r;
    rados_ioctx_t io;
    rbd_image_t img;
    char buf[512] = "via the broker";
    int rc;

    assert_int_equal(
        rados_create2(&r, "ceph", json_string_value(json_object_get(creds, "entity")), 0), 0);
    rados_conf_set(r, "mon_host", json_string_value(json_object_get(creds, "mon_host")));
    rados_conf_set(r, "key", json_string_value(json_object_get(creds, "key")));
    rados_conf_set(r, "client_mount_timeout", "10");
    rc = rados_connect(r);
    if (!expect_ok) {
        assert_true(rc < 0);
        rados_shutdown(r);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rados_ioctx_create(r, json_string_value(json_object_get(creds, "pool")), &io),
                     0);
    rados_ioctx_set_namespace(io, json_string_value(json_object_get(creds, "namespace")));
    assert_int_equal(rbd_open(io, json_string_value(json_object_get(creds, "image")), &img, NULL),
                     0);
    assert_int_equal(rbd_write(img, 0, sizeof(buf), buf), (ssize_t)sizeof(buf));
    rbd_close(img);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
}

/* The whole Kubernetes flow: provision, bind, use, unbind, deprovision. */
static void kubernetes_volume_flow(void **state)
{
    char iid[64], ns[64], path[512];
    char *body, *other;
    json_t *j = NULL, *creds;

    (void)state;
    ids(iid, ns);
    body = provision_body("kairos-volume", "kairos-volume-small", ns, "{\"size\":\"64M\"}");
    assert_int_equal(put_instance(iid, body, false, &j), 201);
    json_decref(j);
    /* Identical PUT: 200. Same id, other attributes: 409. */
    assert_int_equal(put_instance(iid, body, false, NULL), 200);
    other = provision_body("kairos-volume", "kairos-volume-small", ns, "{\"size\":\"65M\"}");
    assert_int_equal(put_instance(iid, other, false, &j), 409);
    json_decref(j);
    free(other);
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "plan_id")), "kairos-volume-small");
    json_decref(j);
    assert_int_equal(
        kd_call(&KD, "GET", "/v2/service_instances/nope-never-made", KD_OSB, NULL, NULL, NULL),
        404);

    /* Bind, and the credentials open the image for real. */
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s-pod", iid, iid);
    const char *bbody = "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"}";
    assert_int_equal(kd_call(&KD, "PUT", path, KD_OSB, NULL, bbody, &j), 201);
    creds = json_incref(json_object_get(j, "credentials"));
    json_decref(j);
    assert_non_null(json_object_get(creds, "key"));
    use_volume_credentials(creds, true);
    assert_int_equal(kd_call(&KD, "PUT", path, KD_OSB, NULL, bbody, NULL), 200);
    assert_int_equal(
        kd_call(&KD, "PUT", path, KD_OSB, NULL,
                "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\","
                "\"parameters\":{\"read_only\":true}}",
                NULL),
        409);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "credentials"), "key")),
        json_string_value(json_object_get(creds, "key")));
    json_decref(j);
    strcat(path, "/last_operation");
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    json_decref(j);

    /* Deprovision while bound: refused, nothing changes. */
    assert_int_equal(delete_instance(iid, "kairos-volume", "kairos-volume-small", false, NULL),
                     409);

    /* Unbind: 200, then 410; the key no longer authenticates. */
    snprintf(path, sizeof(path),
             "/v2/service_instances/%s/service_bindings/%s-pod?service_id=kairos-volume&plan_id="
             "kairos-volume-small",
             iid, iid);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 200);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 410);
    use_volume_credentials(creds, false);
    json_decref(creds);

    /* Update: grow through parameters. */
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(
        kd_call(&KD, "PATCH", path, KD_OSB, NULL,
                "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"128M\"}}", NULL),
        200);
    assert_int_equal(kd_call(&KD, "PATCH", path, KD_OSB, NULL,
                             "{\"service_id\":\"kairos-volume\",\"parameters\":{\"size\":\"64M\"}}",
                             NULL),
                     400);
    /* The same plan again, no size (an empty plan_id is absent): the size stays 128M. */
    assert_int_equal(kd_call(&KD, "PATCH", path, KD_OSB, NULL,
                             "{\"service_id\":\"kairos-volume\",\"plan_id\":\"\"}", NULL),
                     200);
    assert_int_equal(kd_call(&KD, "PATCH", path, KD_OSB, NULL,
                             "{\"service_id\":\"kairos-volume\",\"plan_id\":"
                             "\"kairos-volume-small\"}",
                             NULL),
                     200);
    snprintf(path, sizeof(path), "/v1/projects/k8s-%s/volumes/%s", ns, iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 128 * 1024 * 1024);
    json_decref(j);

    /* Deprovision: 200, then 410; last_operation says "succeeded" for the retention. */
    assert_int_equal(delete_instance(iid, "kairos-volume", "kairos-volume-small", false, NULL),
                     200);
    assert_int_equal(delete_instance(iid, "kairos-volume", "kairos-volume-small", false, NULL),
                     410);
    snprintf(path, sizeof(path), "/v2/service_instances/%s/last_operation", iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    json_decref(j);
    free(body);
}

static void share_async_and_mounts(void **state)
{
    char iid[64], ns[64], path[512], op[64], st[32];
    char *body;
    json_t *j = NULL, *mounts, *creds;
    struct ceph_mount_info *m;

    (void)state;
    ids(iid, ns);
    body = provision_body("kairos-share", "kairos-share-small", ns, "{\"size\":\"32M\"}");
    assert_int_equal(put_instance(iid, body, false, NULL), 201);
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s-job", iid, iid);
    assert_int_equal(kd_call(&KD, "PUT", path, KD_OSB, NULL,
                             "{\"service_id\":\"kairos-share\",\"plan_id\":\"kairos-share-small\"}",
                             &j),
                     201);
    mounts = json_object_get(j, "volume_mounts");
    assert_int_equal(json_array_size(mounts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "driver")),
                        "cephfs");
    creds = json_object_get(j, "credentials");
    /* Mount the share with nothing but the credentials. */
    assert_int_equal(ceph_create(&m, json_string_value(json_object_get(creds, "user"))), 0);
    ceph_conf_set(m, "mon_host", json_string_value(json_object_get(creds, "mon_host")));
    ceph_conf_set(m, "key", json_string_value(json_object_get(creds, "key")));
    ceph_conf_set(m, "client_mount_timeout", "10");
    assert_int_equal(
        ceph_select_filesystem(m, json_string_value(json_object_get(creds, "fs_name"))), 0);
    assert_int_equal(ceph_mount(m, json_string_value(json_object_get(creds, "path"))), 0);
    int fd = ceph_open(m, "/hello", O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ceph_write(m, fd, "hi", 2, 0), 2);
    ceph_close(m, fd);
    ceph_unmount(m);
    ceph_release(m);
    json_decref(j);
    /* Deleting while bound: the operation fails, the instance stays, and says why. */
    assert_int_equal(delete_instance(iid, "kairos-share", "kairos-share-small", true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(wait_last_operation(iid, op, st), 200);
    assert_string_equal(st, "failed");
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path),
             "/v2/service_instances/%s/service_bindings/%s-job?service_id=kairos-share&plan_id="
             "kairos-share-small",
             iid, iid);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 200);

    /* Deleting a share is slow: it needs accepts_incomplete (422), then runs as an operation. */
    assert_int_equal(delete_instance(iid, "kairos-share", "kairos-share-small", false, &j), 422);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "AsyncRequired");
    json_decref(j);
    assert_int_equal(delete_instance(iid, "kairos-share", "kairos-share-small", true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    /* Done: the instance is gone, and its operation answers 200 "succeeded". */
    assert_int_equal(wait_last_operation(iid, op, st), 200);
    assert_string_equal(st, "succeeded");
    assert_int_equal(delete_instance(iid, "kairos-share", "kairos-share-small", true, NULL), 410);
    free(body);
}

static void clone_is_async(void **state)
{
    char iid[64], ns[64], cid[64], path[512], op[64], st[32], project[80];
    char *body, *clone;
    json_t *j = NULL;

    (void)state;
    ids(iid, ns);
    body = provision_body("kairos-volume", "kairos-volume-small", ns, "{\"size\":\"16M\"}");
    assert_int_equal(put_instance(iid, body, false, NULL), 201);
    /* The project the namespace mapped to, and a snapshot there through REST. */
    snprintf(project, sizeof(project), "k8s-%s", ns);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/snapshots", project, iid);
    assert_int_equal(kd_call(&KD, "POST", path, KD_ADMIN, NULL, "{\"name\":\"gold\"}", NULL), 201);
    snprintf(cid, sizeof(cid), "%.50s-c", iid);
    char params[256];
    snprintf(params, sizeof(params), "{\"source\":{\"volume\":\"%s\",\"snapshot\":\"gold\"}}", iid);
    clone = provision_body("kairos-volume", "kairos-volume-small", ns, params);
    assert_int_equal(put_instance(cid, clone, false, &j), 422);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "AsyncRequired");
    json_decref(j);
    assert_int_equal(put_instance(cid, clone, true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(wait_last_operation(cid, op, st), 200);
    assert_string_equal(st, "succeeded");
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s", project, cid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, &j), 200);
    assert_non_null(strstr(json_string_value(json_object_get(j, "parent")), "@gold"));
    json_decref(j);
    assert_int_equal(delete_instance(cid, "kairos-volume", "kairos-volume-small", false, NULL),
                     200);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/snapshots/gold", project, iid);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_ADMIN, NULL, NULL, NULL), 200);
    assert_int_equal(delete_instance(iid, "kairos-volume", "kairos-volume-small", false, NULL),
                     200);
    free(body);
    free(clone);
}

static size_t sink(char *data, size_t size, size_t n, void *arg)
{
    strncat(arg, data, size * n < 255 ? size * n : 255);
    return size * n;
}

/* An S3 request signed with a binding's key (libcurl's SigV4); the HTTP status. */
static long s3(const json_t *creds, const char *method, const char *key, const char *body,
               char *got)
{
    char url[512], sigv4[128], userpwd[256];
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    long status = 0;

    snprintf(url, sizeof(url), "%s/%s/%s", json_string_value(json_object_get(creds, "endpoint")),
             json_string_value(json_object_get(creds, "bucket")), key);
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3",
             json_string_value(json_object_get(creds, "region")));
    snprintf(userpwd, sizeof(userpwd), "%s:%s",
             json_string_value(json_object_get(creds, "access_key")),
             json_string_value(json_object_get(creds, "secret_key")));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    /* radosgw wants the payload hash header; curl signs the value given. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    got[0] = '\0';
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, got);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}

/* A bucket for a pod: the bound key writes and reads, and stops at unbind. */
static void bucket_flow(void **state)
{
    char iid[64], ns[64], path[512], op[64], st[32], got[512];
    char *body;
    json_t *j = NULL, *creds;

    (void)state;
    ids(iid, ns);
    body = provision_body("kairos-bucket", "kairos-bucket-small", ns, "{\"size\":\"8M\"}");
    long made = put_instance(iid, body, false, &j);
    if (made != 201)
        fail_msg("provision %ld: %s", made, json_dumps(j, 0));
    json_decref(j);
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s-app", iid, iid);
    made = kd_call(&KD, "PUT", path, KD_OSB, NULL,
                   "{\"service_id\":\"kairos-bucket\",\"plan_id\":\"kairos-bucket-small\"}", &j);
    if (made != 201)
        fail_msg("bind %ld: %s", made, json_dumps(j, 0));
    creds = json_incref(json_object_get(j, "credentials"));
    json_decref(j);
    long put = s3(creds, "PUT", "hello.txt", "kairos over s3", got);
    if (put != 200)
        fail_msg("PUT %ld: %s", put, got);
    assert_int_equal(s3(creds, "GET", "hello.txt", NULL, got), 200);
    assert_string_equal(got, "kairos over s3");
    /* Deprovision while bound: the operation fails and the bucket stays. */
    assert_int_equal(delete_instance(iid, "kairos-bucket", "kairos-bucket-small", true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(wait_last_operation(iid, op, st), 200);
    assert_string_equal(st, "failed");
    snprintf(path, sizeof(path),
             "/v2/service_instances/%s/service_bindings/%s-app?service_id=kairos-bucket&plan_id="
             "kairos-bucket-small",
             iid, iid);
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 200);
    assert_int_equal(s3(creds, "GET", "hello.txt", NULL, got), 403);
    json_decref(creds);
    /* Unbound and not empty: deprovision destroys the objects with the bucket. */
    assert_int_equal(delete_instance(iid, "kairos-bucket", "kairos-bucket-small", true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(wait_last_operation(iid, op, st), 200);
    assert_string_equal(st, "succeeded");
    assert_int_equal(delete_instance(iid, "kairos-bucket", "kairos-bucket-small", true, NULL), 410);
    free(body);
}

/*
 * A deprovision refused (still bound) ends "failed", whenever it is asked.
 * Its work puts the instance back to ready, then records the operation's
 * outcome; a poll between the two used to read the ready instance as the
 * operation's success. Polled here without pause, many times over.
 */
static void refused_deprovision_never_succeeds(void **state)
{
    char iid[64], ns[64], path[512], bpath[512], op[64], st[32] = "";
    char *body;
    json_t *j = NULL;

    (void)state;
    ids(iid, ns);
    body = provision_body("kairos-bucket", "kairos-bucket-small", ns, "{\"size\":\"8M\"}");
    assert_int_equal(put_instance(iid, body, false, NULL), 201);
    snprintf(bpath, sizeof(bpath), "/v2/service_instances/%s/service_bindings/%s-app", iid, iid);
    assert_int_equal(kd_call(&KD, "PUT", bpath, KD_OSB, NULL,
                             "{\"service_id\":\"kairos-bucket\",\"plan_id\":\"kairos-bucket-"
                             "small\"}",
                             NULL),
                     201);
    for (int round = 0; round < 20; round++) {
        assert_int_equal(delete_instance(iid, "kairos-bucket", "kairos-bucket-small", true, &j),
                         202);
        snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
        json_decref(j);
        snprintf(path, sizeof(path), "/v2/service_instances/%s/last_operation?operation=%s", iid,
                 op);
        for (int i = 0; i < 5000; i++) {
            assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, &j), 200);
            snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(j, "state")) ?: "");
            json_decref(j);
            if (strcmp(st, "in progress") != 0)
                break;
        }
        if (strcmp(st, "failed") != 0)
            fail_msg("round %d: the refused deprovision reads \"%s\"", round, st);
    }
    strcat(bpath, "?service_id=kairos-bucket&plan_id=kairos-bucket-small");
    assert_int_equal(kd_call(&KD, "DELETE", bpath, KD_OSB, NULL, NULL, NULL), 200);
    assert_int_equal(delete_instance(iid, "kairos-bucket", "kairos-bucket-small", true, &j), 202);
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(j, "operation")));
    json_decref(j);
    assert_int_equal(wait_last_operation(iid, op, st), 200);
    assert_string_equal(st, "succeeded");
    free(body);
}

/* Every bad request: a 4xx with {"error","description"}, and no instance appears. */
static void bad_input_changes_nothing(void **state)
{
    char iid[64], ns[64], path[256];
    char *good;
    const char *bad[] = {
        "{",
        "[]",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-huge\",\"context\":{"
        "\"platform\":\"kubernetes\",\"namespace\":\"x\"}}",
        "{\"service_id\":\"nope\",\"plan_id\":\"kairos-volume-small\"}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\"}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"context\":{"
        "\"platform\":\"mainframe\"}}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"context\":{"
        "\"platform\":\"kubernetes\",\"namespace\":\"x\"},\"parameters\":{\"size\":\"lots\"}}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"context\":{"
        "\"platform\":\"kubernetes\",\"namespace\":\"x\"},\"parameters\":{\"colour\":1}}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"context\":{"
        "\"platform\":\"kubernetes\",\"namespace\":\"x\"},\"parameters\":{\"size\":-5}}",
        "{\"service_id\":\"kairos-volume\",\"plan_id\":\"kairos-volume-small\",\"context\":{"
        "\"platform\":\"kubernetes\",\"namespace\":\"x\"},\"surprise\":true}",
        "{\"service_id\":\"kairos-volume\",\"service_id\":\"kairos-volume\"}",
    };

    (void)state;
    ids(iid, ns);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = NULL;
        long s = put_instance(iid, bad[i], false, &j);
        if (s != 400)
            fail_msg("body %zu answered %ld, not 400", i, s);
        assert_non_null(json_string_value(json_object_get(j, "error")));
        assert_non_null(json_string_value(json_object_get(j, "description")));
        json_decref(j);
    }
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, NULL), 404);
    /* A quota refusal is a 422 and leaves no instance either. */
    good = provision_body("kairos-volume", "kairos-volume-small", ns, "{\"size\":\"100T\"}");
    assert_int_equal(put_instance(iid, good, false, NULL), 422);
    assert_int_equal(kd_call(&KD, "GET", path, KD_OSB, NULL, NULL, NULL), 404);
    free(good);
    /* DELETE without service_id and plan_id; unknown binding; bad method. */
    assert_int_equal(kd_call(&KD, "DELETE", path, KD_OSB, NULL, NULL, NULL), 400);
    assert_int_equal(kd_call(&KD, "POST", path, KD_OSB, NULL, "{}", NULL), 405);
}

/* Ids that differ in case only are two instances, never one allocation. */
static void ids_keep_their_case(void **state)
{
    char iid[64], upper[64], ns[64], path[256];
    char *body;

    (void)state;
    ids(iid, ns);
    snprintf(upper, sizeof(upper), "%s", iid);
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    body = provision_body("kairos-volume", "kairos-volume-small", ns, "{\"size\":\"8M\"}");
    assert_int_equal(put_instance(iid, body, false, NULL), 201);
    assert_int_equal(put_instance(upper, body, false, NULL), 201);
    assert_int_equal(delete_instance(upper, "kairos-volume", "kairos-volume-small", false, NULL),
                     200);
    /* The lowercase one's volume is still there. */
    snprintf(path, sizeof(path), "/v1/projects/k8s-%s/volumes/%s", ns, iid);
    assert_int_equal(kd_call(&KD, "GET", path, KD_ADMIN, NULL, NULL, NULL), 200);
    assert_int_equal(delete_instance(iid, "kairos-volume", "kairos-volume-small", false, NULL),
                     200);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_and_auth),
        cmocka_unit_test(catalog),
        cmocka_unit_test(kubernetes_volume_flow),
        cmocka_unit_test(share_async_and_mounts),
        cmocka_unit_test(clone_is_async),
        cmocka_unit_test(bucket_flow),
        cmocka_unit_test(refused_deprovision_never_succeeds),
        cmocka_unit_test(bad_input_changes_nothing),
        cmocka_unit_test(ids_keep_their_case),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
