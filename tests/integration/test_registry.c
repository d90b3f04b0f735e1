/*
 * test_registry.c - the sharded registry and token store on the real
 * cluster: records guarded key by key (writers of other ids never collide,
 * even in one shard), atomic swaps, expiry, the move from the older
 * single-object layout (idempotent, never overwriting a newer record), the
 * fixed shard count, and the watch/notify cache of project records and
 * tokens between two handles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define THREADS     16
#define PER_THREAD  25
#define RETENTION_1 "{\"expires\":1}"

static struct kt T;

static int setup(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    kt_open(&T, NULL);
    /* The shard count of the fixture's config: recorded on first use, as kairosd does. */
    if (kairos_registry_open(T.k, NULL, &err) < 0)
        fail_msg("registry open: %s", err.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_close(&T);
    return 0;
}

static void id(char *buf, const char *what, unsigned n)
{
    snprintf(buf, 96, "%s-%d-%u-6A1F", what, (int)getpid(), n);
}

static void put_get_swap_delete(void **state)
{
    struct kairos_error err = {0};
    char iid[96], *json = NULL, *both[2] = {NULL, NULL};
    const char *spaces[] = {"instance", "instance-gone"};

    (void)state;
    id(iid, "rec", 0);
    assert_int_equal(kairos_registry_get(T.k, "instance", iid, &json, &err), -ENOENT);
    assert_int_equal(
        kairos_registry_put(T.k, "instance", iid, "{\"a\":1}", KAIROS_REGISTRY_CREATE, &err), 0);
    assert_int_equal(
        kairos_registry_put(T.k, "instance", iid, "{\"a\":2}", KAIROS_REGISTRY_CREATE, &err),
        -EEXIST);
    assert_int_equal(kairos_registry_get(T.k, "instance", iid, &json, &err), 0);
    assert_string_equal(json, "{\"a\":1}");
    /* A swap from a stale value changes nothing. */
    struct kairos_registry_change stale[] = {{"instance", "{\"a\":0}", "{\"a\":3}"}};
    assert_int_equal(kairos_registry_swap(T.k, iid, stale, 1, &err), -ECANCELED);
    /* Gone and its tombstone in one write: both or neither. */
    struct kairos_registry_change gone[] = {{"instance", json, NULL},
                                            {"instance-gone", NULL, "{\"deleted\":1}"}};
    assert_int_equal(kairos_registry_swap(T.k, iid, gone, 2, &err), 0);
    assert_int_equal(kairos_registry_swap(T.k, iid, gone, 2, &err), -ECANCELED);
    free(json);
    assert_int_equal(kairos_registry_get_many(T.k, spaces, 2, iid, both, &err), 0);
    assert_null(both[0]);
    assert_string_equal(both[1], "{\"deleted\":1}");
    free(both[1]);
    assert_int_equal(kairos_registry_delete(T.k, "instance-gone", iid, &err), 0);
    assert_int_equal(kairos_registry_delete(T.k, "instance-gone", iid, &err), 0);
    /* Bad ids, spaces and records: -EINVAL, nothing written. */
    assert_int_equal(kairos_registry_put(T.k, "instance", "a/b", "{}", 0, &err), -EINVAL);
    assert_int_equal(kairos_registry_put(T.k, "Instance", iid, "{}", 0, &err), -EINVAL);
    assert_int_equal(kairos_registry_put(T.k, "instance", iid, "[1]", 0, &err), -EINVAL);
    assert_int_equal(kairos_registry_get(T.k, "instance", iid, &json, &err), -ENOENT);
}

struct racer {
    unsigned n;
    int failures;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct kairos_error err = {0};
    char iid[96];

    for (unsigned i = 0; i < PER_THREAD; i++) {
        id(iid, "race", r->n * PER_THREAD + i);
        /* A swap never retries: any write of another id that got in its way would fail it. */
        struct kairos_registry_change c[] = {{"instance", NULL, "{\"state\":\"ready\"}"}};
        if (kairos_registry_swap(T.k, iid, c, 1, &err) != 0)
            r->failures++;
        struct kairos_registry_change d[] = {{"instance", "{\"state\":\"ready\"}", NULL}};
        if (kairos_registry_swap(T.k, iid, d, 1, &err) != 0)
            r->failures++;
    }
    return NULL;
}

/* 16 threads writing different ids, many into the same shard: not one write collides. */
static void writers_of_other_ids_never_collide(void **state)
{
    pthread_t th[THREADS];
    struct racer r[THREADS];
    unsigned shards = (unsigned)T.cfg->registry.shards, same = 0;
    char a[96], b[96];

    (void)state;
    for (unsigned i = 0; i < THREADS; i++) {
        r[i] = (struct racer){.n = i};
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }
    /* The test means something only if ids shared shards: they did. */
    for (unsigned i = 1; i < THREADS * PER_THREAD; i++) {
        id(a, "race", 0);
        id(b, "race", i);
        same += kairos_registry_shard(a, shards) == kairos_registry_shard(b, shards);
    }
    assert_true(same > 0);
}

static void expired_records_are_swept(void **state)
{
    struct kairos_error err = {0};
    char old[96], fresh[96], plain[96], *json = NULL;
    uint64_t removed = 0;

    (void)state;
    id(old, "exp", 1);
    id(fresh, "exp", 2);
    id(plain, "exp", 3);
    assert_int_equal(kairos_registry_put(T.k, "operation", old, RETENTION_1, 0, &err), 0);
    assert_int_equal(
        kairos_registry_put(T.k, "operation", fresh, "{\"expires\":99999999999999}", 0, &err), 0);
    assert_int_equal(kairos_registry_put(T.k, "operation", plain, "{\"state\":\"x\"}", 0, &err), 0);
    assert_int_equal(
        kairos_registry_sweep(T.k, "operation", (uint64_t)time(NULL) * 1000, &removed, &err), 0);
    assert_true(removed >= 1);
    assert_int_equal(kairos_registry_get(T.k, "operation", old, &json, &err), -ENOENT);
    assert_int_equal(kairos_registry_get(T.k, "operation", fresh, &json, &err), 0);
    free(json);
    assert_int_equal(kairos_registry_get(T.k, "operation", plain, &json, &err), 0);
    free(json);
    kairos_registry_delete(T.k, "operation", fresh, &err);
    kairos_registry_delete(T.k, "operation", plain, &err);
}

/* The metadata pool's default namespace, where the registry lives, through the plain client. */
static rados_ioctx_t meta_io(void)
{
    rados_ioctx_t io;

    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &io), 0);
    return io;
}

static void omap_put(rados_ioctx_t io, const char *oid, const char *key, const char *val)
{
    rados_write_op_t op = rados_create_write_op();
    size_t klen = strlen(key), vlen = strlen(val);

    rados_write_op_omap_set2(op, &key, &val, &klen, &vlen, 1);
    assert_int_equal(rados_write_op_operate(op, io, oid, NULL, 0), 0);
    rados_release_write_op(op);
}

/* The older layout (one object each), written by hand, moves into the shards once. */
static void single_objects_move_into_shards(void **state)
{
    struct kairos_registry_report rep;
    struct kairos_error err = {0};
    struct kairos_token_info info, *list = NULL;
    char iid[96], kept[96], bid[96], op[96], key[256], rec[256], *json = NULL;
    char token[KAIROS_TOKEN_LEN + 1], tid[KAIROS_TOKEN_ID_LEN + 1], hash[KAIROS_TOKEN_HASH_LEN + 1];
    char project[64];
    rados_ioctx_t io = meta_io();
    uint64_t size;
    time_t mtime;
    size_t n = 0;

    (void)state;
    id(iid, "legacy", 1);
    id(kept, "legacy", 2);
    id(bid, "legacy", 3);
    id(op, "legacy", 4);
    kt_name(project, sizeof(project), "legacy");
    /* A token reaches only a live project (of any life: the old records name none). */
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 1 << 20, 5);
    assert_int_equal(kairos_project_create(T.k, project, NULL, &q, &err), 0);
    /* A record already in its shard is newer than the single object's copy. */
    assert_int_equal(kairos_registry_put(T.k, "instance", kept, "{\"v\":\"new\"}", 0, &err), 0);
    omap_put(io, "kairos.registry", "gen", "12345");
    snprintf(key, sizeof(key), "instance/%s", iid);
    omap_put(io, "kairos.registry", key, "{\"state\":\"ready\",\"kind\":\"volume\"}");
    snprintf(key, sizeof(key), "instance/%s", kept);
    omap_put(io, "kairos.registry", key, "{\"v\":\"old\"}");
    snprintf(key, sizeof(key), "binding/%s", bid);
    omap_put(io, "kairos.registry", key, "{\"instance\":\"x\"}");
    snprintf(key, sizeof(key), "operation/%s", op);
    omap_put(io, "kairos.registry", key, "{\"state\":\"succeeded\"}");
    /* A token of the older layout: its hash, and the project's index entry. */
    snprintf(tid, sizeof(tid), "%08x%08x", (unsigned)getpid(), 0x5eedu);
    snprintf(token, sizeof(token), "kt_%s_%064d", tid, 7);
    kairos_token_hash(token, hash);
    omap_put(io, "kairos.tokens", "gen", "777");
    snprintf(key, sizeof(key), "h.%s", hash);
    snprintf(rec, sizeof(rec), "{\"id\":\"%s\",\"project\":\"%s\",\"created\":1}", tid, project);
    omap_put(io, "kairos.tokens", key, rec);
    snprintf(key, sizeof(key), "p.%s/%s", project, tid);
    omap_put(io, "kairos.tokens", key, hash);

    assert_int_equal(kairos_registry_open(T.k, &rep, &err), 0);
    assert_int_equal(rep.records_moved, 3);
    assert_int_equal(rep.tokens_moved, 1);
    assert_int_equal(rep.shards, T.cfg->registry.shards);
    assert_int_equal(rados_stat(io, "kairos.registry", &size, &mtime), -ENOENT);
    assert_int_equal(rados_stat(io, "kairos.tokens", &size, &mtime), -ENOENT);
    assert_int_equal(kairos_registry_get(T.k, "instance", iid, &json, &err), 0);
    assert_non_null(strstr(json, "ready"));
    free(json);
    assert_int_equal(kairos_registry_get(T.k, "instance", kept, &json, &err), 0);
    assert_string_equal(json, "{\"v\":\"new\"}");
    free(json);
    assert_int_equal(kairos_registry_get(T.k, "binding", bid, &json, &err), 0);
    free(json);
    assert_int_equal(kairos_registry_get(T.k, "operation", op, &json, &err), 0);
    free(json);
    assert_int_equal(kairos_token_lookup(T.k, token, &info, &err), 0);
    assert_string_equal(info.project, project);
    assert_int_equal(kairos_token_list(T.k, project, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, tid);
    free(list);
    /* Again: nothing left to move, nothing changes. */
    assert_int_equal(kairos_registry_open(T.k, &rep, &err), 0);
    assert_int_equal(rep.records_moved, 0);
    assert_int_equal(rep.tokens_moved, 0);
    assert_int_equal(kairos_token_revoke(T.k, project, tid, &err), 0);
    assert_int_equal(kairos_token_lookup(T.k, token, &info, &err), -EACCES);
    const char *spaces[] = {"instance", "binding", "operation"};
    const char *ids[] = {iid, bid, op};
    for (int i = 0; i < 3; i++)
        kairos_registry_delete(T.k, spaces[i], ids[i], &err);
    kairos_registry_delete(T.k, "instance", kept, &err);
    assert_int_equal(kairos_project_delete(T.k, project, 0, &err), 0);
    rados_ioctx_destroy(io);
}

/* The shard count is fixed once recorded: another count is refused, and says why. */
static void another_shard_count_is_refused(void **state)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    struct kairos *k = NULL;

    (void)state;
    assert_int_equal(kairos_config_load(kt_conf_path(), &cfg, &err), 0);
    cfg->registry.shards = T.cfg->registry.shards + 1;
    assert_int_equal(kairos_open(cfg, &k, &err), 0);
    assert_int_equal(kairos_registry_open(k, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "shards"));
    kairos_close(k);
    kairos_config_free(cfg);
}

/*
 * Two handles, as two kairosd: the second's cache holds a project and a
 * token for a minute, yet a quota change and a revocation through the first
 * are seen by it at once (the notify, not the ttl, let them go).
 */
static void caches_drop_what_another_process_changed(void **state)
{
    struct kairos_error err = {0};
    struct kairos_cache *cache = NULL;
    struct kairos_token_info info, tinfo;
    struct kairos_project p;
    struct kairos *k2 = NULL;
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 1 << 20, 5);
    char name[64], token[KAIROS_TOKEN_LEN + 1];

    (void)state;
    kt_name(name, sizeof(name), "cache");
    assert_int_equal(kairos_open(T.cfg, &k2, &err), 0);
    assert_int_equal(kairos_cache_open(k2, 60 * 1000, &cache, &err), 0);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    assert_int_equal(kairos_token_create(T.k, name, NULL, token, &tinfo, &err), 0);
    assert_int_equal(kairos_cache_project_get(cache, name, &p, &err), 0);
    assert_true(p.quota.kind[KAIROS_VOLUME].bytes == 1 << 20);
    assert_int_equal(kairos_cache_token_lookup(cache, token, &info, &err), 0);
    assert_string_equal(info.project, name);

    q.kind[KAIROS_VOLUME].bytes = 2 << 20;
    assert_int_equal(kairos_project_set_quota(T.k, name, &q, 0, &err), 0);
    assert_int_equal(kairos_cache_project_get(cache, name, &p, &err), 0);
    assert_true(p.quota.kind[KAIROS_VOLUME].bytes == 2 << 20);
    assert_int_equal(kairos_token_revoke(T.k, name, tinfo.id, &err), 0);
    assert_int_equal(kairos_cache_token_lookup(cache, token, &info, &err), -EACCES);
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    assert_int_equal(kairos_cache_project_get(cache, name, &p, &err), -ENOENT);
    kairos_cache_close(cache);
    kairos_close(k2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_swap_delete),
        cmocka_unit_test(writers_of_other_ids_never_collide),
        cmocka_unit_test(expired_records_are_swept),
        cmocka_unit_test(single_objects_move_into_shards),
        cmocka_unit_test(another_shard_count_is_refused),
        cmocka_unit_test(caches_drop_what_another_process_changed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
