/*
 * test_project.c - projects against the real cluster: create, get, find by
 * owner, paged listing, quota changes, delete (refused, forced cascade), and
 * bad input that changes nothing.
 */
#include "harness.h"

#include <kairos/registry.h>
#include <kairos/token.h>

#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kt T;

static int setup(void **state)
{
    (void)state;
    kt_open(&T, NULL);
    kt_backend_register(&T, KAIROS_VOLUME);
    kt_backend_register(&T, KAIROS_SNAPSHOT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kt_close(&T);
    return 0;
}

static void create_get_find(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 10ULL << 30, 5);
    struct kairos_owner owner = {.platform = "openstack"};
    struct kairos_project p;
    struct kairos_error err = {0};
    char name[64], found[KAIROS_NAME_MAX + 1];

    (void)state;
    kt_name(name, sizeof(name), "proj");
    snprintf(owner.id, sizeof(owner.id), "%s-os-id", name);
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), 0);
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), 0);
    assert_string_equal(p.name, name);
    assert_string_equal(p.owner.platform, "openstack");
    assert_int_equal(p.state, KAIROS_PROJECT_ACTIVE);
    assert_true(p.quota.kind[KAIROS_VOLUME].bytes == 10ULL << 30);
    assert_true(p.quota.kind[KAIROS_SHARE].bytes == KAIROS_UNLIMITED);
    assert_true(p.created_ms > 0);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), 0);
    assert_string_equal(found, name);

    /* The name and the owner are taken now. */
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), -EEXIST);
    char other[64];
    kt_name(other, sizeof(other), "proj");
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_create(T.k, other, &owner, &q, &err), -EEXIST);
    assert_non_null(strstr(err.msg, name));
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_get(T.k, other, &p, &err), -ENOENT);

    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), -ENOENT);
    assert_int_equal(kairos_project_find(T.k, &owner, found, &err), -ENOENT);
    /* The owner is free again. */
    assert_int_equal(kairos_project_create(T.k, other, &owner, &q, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, other, 0, &err), 0);
}

static void bad_input_changes_nothing(void **state)
{
    static const char *bad_names[] = {
        "",     "A",   "-x",  "a.b",
        "../x", "a/b", "x y", "0123456789012345678901234567890123456789012345678901234567890123"};
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 1 << 20, 1);
    struct kairos_owner owner = {.platform = "openstack", .id = "bad id"};
    struct kairos_project_page *page;
    struct kairos_project p;
    struct kairos_error err = {0};
    char name[64];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        kairos_error_clear(&err);
        assert_int_equal(kairos_project_create(T.k, bad_names[i], NULL, &q, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "project name"));
        assert_int_equal(kairos_project_get(T.k, bad_names[i], &p, &err), -EINVAL);
        assert_int_equal(kairos_project_delete(T.k, bad_names[i], KAIROS_DELETE_FORCE, &err),
                         -EINVAL);
    }
    kt_name(name, sizeof(name), "bad");
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "owner id"));
    snprintf(owner.platform, sizeof(owner.platform), "Open Stack");
    snprintf(owner.id, sizeof(owner.id), "ok");
    assert_int_equal(kairos_project_create(T.k, name, &owner, &q, &err), -EINVAL);
    q.kind[KAIROS_SHARE].bytes = (uint64_t)INT64_MAX + 1;
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "share bytes quota"));
    assert_int_equal(kairos_project_create(T.k, name, NULL, NULL, &err), -EINVAL);
    /* None of it made a project. */
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), -ENOENT);
    assert_int_equal(kairos_project_list(T.k, name, 0, &page, &err), -EINVAL);
    assert_int_equal(kairos_project_list(T.k, "Bad Name", 10, &page, &err), -EINVAL);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), -ENOENT);
    assert_int_equal(kairos_project_delete(T.k, name, 0x80, &err), -EINVAL);
}

static void list_pages(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 1 << 20, 1);
    struct kairos_project_page *page;
    struct kairos_error err = {0};
    char prefix[64], names[25][64], after[64] = "";
    unsigned seen = 0;

    (void)state;
    kt_name(prefix, sizeof(prefix), "list");
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof(names[i]), "%s-%02d", prefix, i);
        assert_int_equal(kairos_project_create(T.k, names[i], NULL, &q, &err), 0);
    }
    /* Page from just before our names, 7 at a time; ours come in order. */
    snprintf(after, sizeof(after), "%s", prefix);
    for (;;) {
        assert_int_equal(kairos_project_list(T.k, after, 7, &page, &err), 0);
        assert_true(page->count <= 7);
        for (size_t i = 0; i < page->count && seen < 25; i++) {
            if (strncmp(page->items[i].name, prefix, strlen(prefix)) != 0)
                continue;
            assert_string_equal(page->items[i].name, names[seen]);
            assert_int_equal(page->items[i].state, KAIROS_PROJECT_ACTIVE);
            seen++;
        }
        if (!page->more || seen == 25) {
            kairos_project_page_free(page);
            break;
        }
        snprintf(after, sizeof(after), "%s", page->items[page->count - 1].name);
        kairos_project_page_free(page);
    }
    assert_int_equal(seen, 25);
    for (int i = 0; i < 25; i++)
        assert_int_equal(kairos_project_delete(T.k, names[i], 0, &err), 0);
}

static void reserve_commit(struct kairos *k, const char *project, enum kairos_kind kind,
                           const char *name, uint64_t bytes)
{
    struct kairos_alloc_req req = {.project = project, .kind = kind, .name = name, .bytes = bytes};
    struct kairos_reservation *res;
    struct kairos_error err = {0};

    if (kairos_ledger_reserve(k, &req, &res, &err) < 0)
        fail_msg("reserve %s: %s", name, err.msg);
    assert_int_equal(kt_object_create(&T, project, name, bytes), 0);
    assert_int_equal(kairos_ledger_commit(k, res, &err), 0);
    kairos_reservation_free(res);
}

static void quota_updates(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 10 << 20, 5);
    struct kairos_project p;
    struct kairos_error err = {0};
    char name[64];

    (void)state;
    kt_name(name, sizeof(name), "quota");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    reserve_commit(T.k, name, KAIROS_VOLUME, "v1", 6 << 20);
    /* Below what is allocated: refused unless asked for, and nothing changes. */
    q.kind[KAIROS_VOLUME].bytes = 4 << 20;
    assert_int_equal(kairos_project_set_quota(T.k, name, &q, 0, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "below the 6MiB allocated"));
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), 0);
    assert_true(p.quota.kind[KAIROS_VOLUME].bytes == 10 << 20);
    assert_int_equal(kairos_project_set_quota(T.k, name, &q, KAIROS_QUOTA_BELOW_USAGE, &err), 0);
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), 0);
    assert_true(p.quota.kind[KAIROS_VOLUME].bytes == 4 << 20);
    q.kind[KAIROS_VOLUME].bytes = 100 << 20;
    assert_int_equal(kairos_project_set_quota(T.k, name, &q, 0, &err), 0);
    assert_int_equal(kairos_project_set_quota(T.k, "no-such-project-x", &q, 0, &err), -ENOENT);
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
}

static void delete_refused_then_forced(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 100 << 20, 10);
    struct kairos_project p;
    struct kairos_error err = {0};
    char name[64];
    uint64_t granted_before, granted_after;

    (void)state;
    kt_name(name, sizeof(name), "cascade");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    reserve_commit(T.k, name, KAIROS_VOLUME, "a", 1 << 20);
    reserve_commit(T.k, name, KAIROS_VOLUME, "b", 2 << 20);
    reserve_commit(T.k, name, KAIROS_SNAPSHOT, "volume:a@s1", 0);
    kairos_error_clear(&err);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "holds 2 volumes"));
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), 0);
    assert_int_equal(p.state, KAIROS_PROJECT_ACTIVE);
    assert_int_equal(kt_object_exists(&T, name, "a"), 1);

    struct kairos_capacity_report before, after;
    assert_int_equal(kairos_capacity_get(T.k, &before, &err), 0);
    granted_before = before.granted;
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    /* The cascade destroyed the objects behind the allocations... */
    assert_int_equal(kt_object_exists(&T, name, "a"), 0);
    assert_int_equal(kt_object_exists(&T, name, "b"), 0);
    assert_int_equal(kt_object_exists(&T, name, "volume:a@s1"), 0);
    assert_int_equal(kairos_project_get(T.k, name, &p, &err), -ENOENT);
    /* ... and gave the project's slice of the cluster budget back. */
    assert_int_equal(kairos_capacity_get(T.k, &after, &err), 0);
    granted_after = after.granted;
    assert_true(granted_after < granted_before);
}

/* A project's tokens die with it: a new project of the same name inherits none. */
static void tokens_die_with_their_project(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 100 << 20, 10);
    struct kairos_token_info info, *list = NULL;
    struct kairos_error err = {0};
    char name[64], token[KAIROS_TOKEN_LEN + 1];
    size_t n = 1;

    (void)state;
    kt_name(name, sizeof(name), "tokens");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    assert_int_equal(kairos_token_create(T.k, name, NULL, token, NULL, &err), 0);
    assert_int_equal(kairos_token_lookup(T.k, token, &info, &err), 0);
    assert_string_equal(info.project, name);
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    assert_int_equal(kairos_token_lookup(T.k, token, &info, &err), -EACCES);
    assert_int_equal(kairos_token_list(T.k, name, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(list);
    assert_int_equal(kairos_project_delete(T.k, name, 0, &err), 0);
}

/* Raw omap access to the metadata pool, as a racing or crashed broker leaves it. */
static void meta_get(rados_ioctx_t io, const char *oid, const char *key, char *val, size_t len)
{
    rados_omap_iter_t it;
    rados_read_op_t op = rados_create_read_op();
    const char *keys[] = {key};
    char *k = NULL, *v = NULL;
    size_t vlen = 0;
    int prval = 0;

    rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
    assert_int_equal(rados_read_op_operate(op, io, oid, 0), 0);
    assert_int_equal(rados_omap_get_next(it, &k, &v, &vlen), 0);
    assert_non_null(k);
    assert_true(vlen < len);
    memcpy(val, v, vlen);
    val[vlen] = '\0';
    rados_omap_get_end(it);
    rados_release_read_op(op);
}

static void meta_set(rados_ioctx_t io, const char *oid, const char *key, const char *val)
{
    rados_write_op_t op = rados_create_write_op();
    const char *keys[] = {key}, *vals[] = {val};
    size_t lens[] = {strlen(val)};

    rados_write_op_omap_set(op, keys, vals, lens, 1);
    assert_int_equal(rados_write_op_operate(op, io, oid, NULL, 0), 0);
    rados_release_write_op(op);
}

#define ACTIVE   "\"state\":\"active\""
#define DELETING "\"state\":\"deleting\""

/*
 * A token belongs to one life of its project: none is made while the
 * project is being deleted, one made then is refused, and one whose record
 * a racing delete missed does not reach the new project of that name.
 */
static void tokens_belong_to_one_life(void **state)
{
    struct kairos_quota q = kt_quota(KAIROS_VOLUME, 100 << 20, 10);
    struct kairos_token_info info;
    struct kairos_error err = {0};
    char name[64], oid[128], toid[128], hkey[80], pkey[128], rec[512], meta[1024], rec2[1024];
    char early[KAIROS_TOKEN_LEN + 1], missed[KAIROS_TOKEN_LEN + 1], token[KAIROS_TOKEN_LEN + 1];
    rados_ioctx_t io;
    char *at;

    (void)state;
    assert_int_equal(rados_ioctx_create(T.rados, T.cfg->pools.metadata, &io), 0);
    kt_name(name, sizeof(name), "life");
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    assert_int_equal(kairos_token_create(T.k, name, NULL, early, NULL, &err), 0);
    assert_int_equal(kairos_token_create(T.k, name, NULL, missed, &info, &err), 0);
    /* The record of "missed", as a delete that listed the tokens before it was written leaves it.
     */
    memcpy(hkey, "h.", 2);
    kairos_token_hash(missed, hkey + 2);
    snprintf(pkey, sizeof(pkey), "p.%s/%s", name, info.id);
    /* The token's shard, as kairos_token_create() picks it by the token's id. */
    snprintf(toid, sizeof(toid), "kairos.tokens.%u",
             kairos_registry_shard(info.id, T.cfg->registry.shards));
    meta_get(io, toid, hkey, rec, sizeof(rec));

    /* A delete under way (the state a crash or a slow cascade leaves). */
    kairos_project_oid(oid, name);
    meta_get(io, oid, "meta", meta, sizeof(meta));
    at = strstr(meta, ACTIVE);
    assert_non_null(at);
    snprintf(rec2, sizeof(rec2), "%.*s%s%s", (int)(at - meta), meta, DELETING, at + strlen(ACTIVE));
    snprintf(meta, sizeof(meta), "%s", rec2);
    meta_set(io, oid, "meta", meta);
    kairos_error_clear(&err);
    assert_int_equal(kairos_token_create(T.k, name, NULL, token, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "being deleted"));
    assert_string_equal(token, "");
    kairos_error_clear(&err);
    assert_int_equal(kairos_token_lookup(T.k, early, &info, &err), -EACCES);

    /* The delete ends; the missed record comes back, as the race would have left it. */
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    meta_set(io, toid, hkey, rec);
    meta_set(io, toid, pkey, hkey + 2);
    assert_int_equal(kairos_project_create(T.k, name, NULL, &q, &err), 0);
    kairos_error_clear(&err);
    assert_int_equal(kairos_token_lookup(T.k, missed, &info, &err), -EACCES);
    assert_int_equal(kairos_token_lookup(T.k, early, &info, &err), -EACCES);
    /* The new life's own tokens work. */
    assert_int_equal(kairos_token_create(T.k, name, NULL, token, NULL, &err), 0);
    assert_int_equal(kairos_token_lookup(T.k, token, &info, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, name, KAIROS_DELETE_FORCE, &err), 0);
    rados_ioctx_destroy(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_get_find),
        cmocka_unit_test(bad_input_changes_nothing),
        cmocka_unit_test(list_pages),
        cmocka_unit_test(quota_updates),
        cmocka_unit_test(delete_refused_then_forced),
        cmocka_unit_test(tokens_die_with_their_project),
        cmocka_unit_test(tokens_belong_to_one_life),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
