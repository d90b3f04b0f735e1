/*
 * test_cluster.c - the local cluster really works from C: RADOS omap,
 * CephFS quota, an RBD image in a namespace, and an S3 answer from RGW; and
 * it serves again after its OSD stalls.
 *
 * This is the first thing to fail when the cluster fixture is broken, so
 * it talks to Ceph directly, not through libkairos.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cephfs/libcephfs.h>
#include <curl/curl.h>
#include <rbd/librbd.h>

static struct kairos_config *cfg;

static int setup(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    if (kairos_config_load(kt_conf_path(), &cfg, &err) < 0) {
        fprintf(stderr, "config: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kairos_config_free(cfg);
    return 0;
}

static void rados_omap_round_trip(void **state)
{
    rados_t r = kt_connect(cfg);
    rados_ioctx_t io;
    rados_write_op_t w = rados_create_write_op();
    rados_read_op_t rd = rados_create_read_op();
    rados_omap_iter_t it;
    const char *key = "greeting", *val = "hello ceph";
    const char *keys[] = {key};
    size_t klen = strlen(key), vlen = strlen(val), key_lens[] = {klen};
    char *k, *v;
    size_t kl, vl;
    char oid[64];
    int prval = -1;

    (void)state;
    kt_name(oid, sizeof(oid), "smoke");
    assert_int_equal(rados_ioctx_create(r, cfg->pools.metadata, &io), 0);
    rados_write_op_omap_set2(w, &key, &val, &klen, &vlen, 1);
    assert_int_equal(rados_write_op_operate(w, io, oid, NULL, 0), 0);
    rados_read_op_omap_get_vals_by_keys2(rd, keys, 1, key_lens, &it, &prval);
    assert_int_equal(rados_read_op_operate(rd, io, oid, 0), 0);
    assert_int_equal(prval, 0);
    assert_int_equal(rados_omap_get_next2(it, &k, &v, &kl, &vl), 0);
    assert_non_null(k);
    assert_int_equal(vl, vlen);
    assert_memory_equal(v, val, vlen);
    rados_omap_get_end(it);
    rados_release_read_op(rd);
    rados_release_write_op(w);
    assert_int_equal(rados_remove(io, oid), 0);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
}

static void cephfs_quota(void **state)
{
    struct ceph_mount_info *m;
    char dir[128], got[64] = "";
    const char *want = "1048576";
    int n;

    (void)state;
    kt_name(dir, sizeof(dir), "/smoke");
    /* libcephfs takes the id without the "client." prefix. */
    assert_int_equal(ceph_create(&m, cfg->ceph.client + strlen("client.")), 0);
    assert_int_equal(ceph_conf_read_file(m, cfg->ceph.conf), 0);
    if (cfg->ceph.keyring)
        assert_int_equal(ceph_conf_set(m, "keyring", cfg->ceph.keyring), 0);
    ceph_conf_set(m, "client_mount_timeout", "15");
    assert_int_equal(ceph_select_filesystem(m, cfg->pools.cephfs_name), 0);
    n = ceph_mount(m, "/");
    if (n < 0)
        fail_msg("ceph_mount: %s", strerror(-n));
    assert_int_equal(ceph_mkdirs(m, dir, 0755), 0);
    assert_int_equal(ceph_setxattr(m, dir, "ceph.quota.max_bytes", want, strlen(want), 0), 0);
    n = ceph_getxattr(m, dir, "ceph.quota.max_bytes", got, sizeof(got) - 1);
    assert_true(n > 0);
    got[n] = '\0';
    assert_string_equal(got, want);
    assert_int_equal(ceph_rmdir(m, dir), 0);
    ceph_unmount(m);
    ceph_release(m);
}

static void rbd_image_in_namespace(void **state)
{
    rados_t r = kt_connect(cfg);
    rados_ioctx_t io;
    rbd_image_t img;
    rbd_image_info_t info;
    char ns[64];
    int order = 0;

    (void)state;
    kt_name(ns, sizeof(ns), "smoke");
    assert_int_equal(rados_ioctx_create(r, cfg->pools.block, &io), 0);
    assert_int_equal(rbd_namespace_create(io, ns), 0);
    rados_ioctx_set_namespace(io, ns);
    assert_int_equal(rbd_create2(io, "img", 64 << 20, RBD_FEATURE_LAYERING, &order), 0);
    assert_int_equal(rbd_open(io, "img", &img, NULL), 0);
    assert_int_equal(rbd_stat(img, &info, sizeof(info)), 0);
    assert_true(info.size == 64 << 20);
    assert_int_equal(rbd_close(img), 0);
    assert_int_equal(rbd_remove(io, "img"), 0);
    rados_ioctx_set_namespace(io, "");
    assert_int_equal(rbd_namespace_remove(io, ns), 0);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), take = size * n;

    if (have + take >= 4096)
        take = 4095 - have;
    memcpy(buf + have, data, take);
    buf[have + take] = '\0';
    return size * n;
}

static void rgw_answers_s3(void **state)
{
    CURL *c = curl_easy_init();
    char body[4096] = "";
    long code = 0;
    CURLcode rc;

    (void)state;
    assert_non_null(cfg->rgw.endpoint);
    curl_easy_setopt(c, CURLOPT_URL, cfg->rgw.endpoint);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("GET %s: %s", cfg->rgw.endpoint, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    /* An anonymous S3 ListBuckets answer. */
    assert_non_null(strstr(body, "ListAllMyBucketsResult"));
    curl_easy_cleanup(c);
}

/* Placement groups in @state ("laggy", "wait"), as the manager last heard. */
static int pgs_in_state(rados_t r, const char *state)
{
    const char *cmd[] = {"{\"prefix\": \"pg dump\", \"dumpcontents\": [\"pgs_brief\"], "
                         "\"format\": \"json\"}"};
    char *out = NULL, *outs = NULL;
    size_t outlen = 0, outslen = 0, len = strlen(state);
    int n = 0;

    assert_int_equal(rados_mgr_command(r, cmd, 1, "", 0, &out, &outlen, &outs, &outslen), 0);
    for (const char *p = out; p && (p = memmem(p, outlen - (size_t)(p - out), state, len));
         p += len)
        n++;
    rados_buffer_free(out);
    rados_buffer_free(outs);
    return n;
}

#define PAUSE_OBJECTS 32
/* Longer than Ceph's default PG read lease (0.8 x 20 s heartbeat grace). */
#define PAUSE_S 18

/*
 * A stalled OSD (a busy machine; test_kairosfs pauses it on purpose) must
 * come back serving. With Ceph's default read lease, some PGs of a lone OSD
 * stay "laggy" after such a pause and park every request for good; one did
 * that to a test in CI. minicluster's long lease prevents it.
 */
static void paused_osd_serves_again(void **state)
{
    rados_t r;
    rados_ioctx_t io;
    pid_t osd = kt_daemon_pid("osd.0");
    struct timespec pause = {.tv_sec = PAUSE_S};
    char base[48], oid[64], buf[64];
    int laggy = 0;

    (void)state;
    assert_true(osd > 0);
    kt_name(base, sizeof(base), "pause");
    r = kt_connect(cfg);
    assert_int_equal(rados_ioctx_create(r, cfg->pools.metadata, &io), 0);
    for (int i = 0; i < PAUSE_OBJECTS; i++) {
        snprintf(oid, sizeof(oid), "%s.%d", base, i);
        assert_int_equal(rados_write_full(io, oid, oid, strlen(oid)), 0);
    }
    /* Nothing fails between stop and continue: the OSD is never left stopped. */
    kill(osd, SIGSTOP);
    nanosleep(&pause, NULL);
    kill(osd, SIGCONT);
    /* Every object answers within the client's op timeout... */
    for (int i = 0; i < PAUSE_OBJECTS; i++) {
        snprintf(oid, sizeof(oid), "%s.%d", base, i);
        int n = rados_read(io, oid, buf, sizeof(buf), 0);
        if (n < 0)
            fail_msg("read %s after the OSD's pause: %s", oid, strerror(-n));
        assert_int_equal(n, (int)strlen(oid));
        assert_int_equal(rados_remove(io, oid), 0);
    }
    /* ...and no PG turns or stays laggy once the OSD reports again. */
    for (int i = 0; i < 12 && laggy == 0; i++) {
        laggy = pgs_in_state(r, "laggy") + pgs_in_state(r, "+wait");
        sleep(1);
    }
    assert_int_equal(laggy, 0);
    rados_ioctx_destroy(io);
    rados_shutdown(r);
    /* The gateway, whose pools were frozen too, answers again. */
    rgw_answers_s3(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rados_omap_round_trip),   cmocka_unit_test(cephfs_quota),
        cmocka_unit_test(rbd_image_in_namespace),  cmocka_unit_test(rgw_answers_s3),
        cmocka_unit_test(paused_osd_serves_again),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
