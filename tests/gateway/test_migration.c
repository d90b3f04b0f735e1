/*
 * test_migration.c - a registry and tokens in the older layout (one omap
 * object each, "kairos.registry" and "kairos.tokens"), written by hand
 * through RADOS, then kairosd started on them: its instances, bindings,
 * operations and tokens answer as before, from the shards, and the single
 * objects are gone. A second start moves what a straggler wrote meanwhile
 * and changes nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <kairos/kairos.h>
#include <rados/librados.h>

#include "kd.h"

static struct kairos_config *CFG;
static struct kairos *K;
static rados_t R;
static rados_ioctx_t IO;

static void omap_put(const char *oid, const char *key, const char *val)
{
    rados_write_op_t op = rados_create_write_op();
    size_t klen = strlen(key), vlen = strlen(val);

    rados_write_op_omap_set2(op, &key, &val, &klen, &vlen, 1);
    assert_int_equal(rados_write_op_operate(op, IO, oid, NULL, 0), 0);
    rados_release_write_op(op);
}

static bool exists(const char *oid)
{
    uint64_t size;
    time_t mtime;

    return rados_stat(IO, oid, &size, &mtime) == 0;
}

static int setup(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    if (kairos_config_load(getenv("KAIROS_CONF"), &CFG, &err) < 0 || kairos_open(CFG, &K, &err) < 0)
        fail_msg("libkairos: %s (KAIROS_CONF: run through ctest -L integration)", err.msg);
    assert_int_equal(rados_create2(&R, "ceph", CFG->ceph.client, 0), 0);
    assert_int_equal(rados_conf_read_file(R, CFG->ceph.conf), 0);
    if (CFG->ceph.keyring)
        rados_conf_set(R, "keyring", CFG->ceph.keyring);
    rados_conf_set(R, "rados_osd_op_timeout", "30");
    assert_int_equal(rados_connect(R), 0);
    assert_int_equal(rados_ioctx_create(R, CFG->pools.metadata, &IO), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rados_ioctx_destroy(IO);
    rados_shutdown(R);
    kairos_close(K);
    kairos_config_free(CFG);
    return 0;
}

static void old_layout_moves_into_shards(void **state)
{
    struct kairos_error err = {0};
    struct kd kd;
    unsigned pid = (unsigned)getpid();
    char project[64], iid[64], bid[64], op[40], late[64], key[160], rec[512];
    char tid[KAIROS_TOKEN_ID_LEN + 1], token[KAIROS_TOKEN_LEN + 1], hash[KAIROS_TOKEN_HASH_LEN + 1];
    char path[256];
    unsigned long long now = (unsigned long long)time(NULL) * 1000;
    struct kairos_quota q;
    json_t *j = NULL;

    (void)state;
    snprintf(project, sizeof(project), "mig-%x", pid);
    snprintf(iid, sizeof(iid), "mig-%x-I", pid);
    snprintf(bid, sizeof(bid), "mig-%x-B", pid);
    snprintf(late, sizeof(late), "mig-%x-late", pid);
    snprintf(op, sizeof(op), "%08x%024x", pid, 0x5eedu);
    snprintf(tid, sizeof(tid), "%08x%08x", pid, 0xabcdu);
    snprintf(token, sizeof(token), "kt_%s_%064x", tid, 42u);
    kairos_token_hash(token, hash);
    kairos_quota_unlimited(&q);
    assert_int_equal(kairos_project_create(K, project, NULL, &q, &err), 0);

    /* The older layout, as an older kairosd left it. */
    omap_put("kairos.registry", "gen", "4242");
    snprintf(key, sizeof(key), "instance/%s", iid);
    snprintf(rec, sizeof(rec),
             "{\"kind\":\"volume\",\"name\":\"%s\",\"plan_id\":\"kairos-volume-small\","
             "\"project\":\"%s\",\"service_id\":\"kairos-volume\",\"state\":\"ready\"}",
             iid, project);
    omap_put("kairos.registry", key, rec);
    snprintf(key, sizeof(key), "binding/%s", bid);
    snprintf(rec, sizeof(rec), "{\"binding\":\"b1\",\"instance\":\"%s\",\"read_only\":false}", iid);
    omap_put("kairos.registry", key, rec);
    snprintf(key, sizeof(key), "operation/%s", op);
    snprintf(rec, sizeof(rec),
             "{\"state\":\"succeeded\",\"description\":\"delete\",\"started\":%llu,"
             "\"finished\":%llu}",
             now, now);
    omap_put("kairos.registry", key, rec);
    omap_put("kairos.tokens", "gen", "17");
    snprintf(key, sizeof(key), "h.%s", hash);
    snprintf(rec, sizeof(rec), "{\"id\":\"%s\",\"project\":\"%s\",\"created\":%llu}", tid, project,
             now);
    omap_put("kairos.tokens", key, rec);
    snprintf(key, sizeof(key), "p.%s/%s", project, tid);
    omap_put("kairos.tokens", key, hash);

    kd_start(&kd, KAIROSD_BINARY);
    assert_false(exists("kairos.registry"));
    assert_false(exists("kairos.tokens"));
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(kd_call(&kd, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "plan_id")), "kairos-volume-small");
    json_decref(j);
    snprintf(path, sizeof(path), "/v2/service_instances/%s/service_bindings/%s/last_operation", iid,
             bid);
    assert_int_equal(kd_call(&kd, "GET", path, KD_OSB, NULL, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/operations/%s", op);
    assert_int_equal(kd_call(&kd, "GET", path, KD_ADMIN, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s", project);
    assert_int_equal(kd_call(&kd, "GET", path, KD_TOKEN, token, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens", project);
    assert_int_equal(kd_call(&kd, "GET", path, KD_ADMIN, NULL, NULL, &j), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id")),
        tid);
    json_decref(j);
    assert_int_equal(kd_stop(&kd), 0);

    /* A straggler of the older version wrote once more: the next start moves just that. */
    snprintf(key, sizeof(key), "instance/%s", late);
    snprintf(rec, sizeof(rec),
             "{\"kind\":\"volume\",\"name\":\"%s\",\"plan_id\":\"kairos-volume-small\","
             "\"project\":\"%s\",\"service_id\":\"kairos-volume\",\"state\":\"ready\"}",
             late, project);
    omap_put("kairos.registry", key, rec);
    kd_start(&kd, KAIROSD_BINARY);
    assert_false(exists("kairos.registry"));
    snprintf(path, sizeof(path), "/v2/service_instances/%s", late);
    assert_int_equal(kd_call(&kd, "GET", path, KD_OSB, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    assert_int_equal(kd_call(&kd, "GET", path, KD_OSB, NULL, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/v1/projects/%s", project);
    assert_int_equal(kd_call(&kd, "GET", path, KD_TOKEN, token, NULL, NULL), 200);
    assert_int_equal(kd_stop(&kd), 0);

    const char *spaces[] = {"instance", "instance", "binding", "operation"};
    const char *ids[] = {iid, late, bid, op};
    for (int i = 0; i < 4; i++)
        kairos_registry_delete(K, spaces[i], ids[i], &err);
    assert_int_equal(kairos_project_delete(K, project, KAIROS_DELETE_FORCE, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_layout_moves_into_shards),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
