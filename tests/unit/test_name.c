/*
 * test_name.c - project, allocation and owner names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/ledger.h>
#include <kairos/name.h>

static void valid_names(void **state)
{
    (void)state;
    assert_true(kairos_name_valid("a"));
    assert_true(kairos_name_valid("0"));
    assert_true(kairos_name_valid("proj-1"));
    assert_true(kairos_name_valid("a-0"));
    /* 63 characters: the longest. */
    assert_true(
        kairos_name_valid("abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abc"));
}

static void invalid_names(void **state)
{
    static const char *bad[] = {
        "",
        "-a",
        "a-",
        "proj--",
        "A",
        "a_b",
        "a.b",
        "a/b",
        "../etc",
        "a b",
        "a\nb",
        "é",
        "a\\b",
        "a:b",
        "a@b",
        "client.admin",
        /* 64 characters: one too many. */
        "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcd",
    };
    struct kairos_error err = {0};

    (void)state;
    assert_false(kairos_name_valid(NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(kairos_name_valid(bad[i]));
        kairos_error_clear(&err);
        assert_int_equal(kairos_name_check(bad[i], "project", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "project name"));
    }
}

static void owner_ids(void **state)
{
    char long_id[KAIROS_OWNER_ID_MAX + 2];

    (void)state;
    assert_true(kairos_owner_id_valid("9f3c1d2e4b5a49c8a7e6d5c4b3a29180"));
    assert_true(kairos_owner_id_valid("prod-cluster/team-ml"));
    assert_true(kairos_owner_id_valid("Default:proj.1"));
    assert_false(kairos_owner_id_valid(""));
    assert_false(kairos_owner_id_valid(NULL));
    assert_false(kairos_owner_id_valid("a b"));
    assert_false(kairos_owner_id_valid("a\"b"));
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(kairos_owner_id_valid(long_id));
    long_id[KAIROS_OWNER_ID_MAX] = '\0';
    assert_true(kairos_owner_id_valid(long_id));
}

static void snapshot_names(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:db@daily", &err), 0);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "share:home@s1", &err), 0);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "bucket:b@s1", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:db", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:db@", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:DB@x", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:db@x@y", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_SNAPSHOT, "volume:-db@x", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_VOLUME, "volume:db@x", &err), -EINVAL);
    assert_int_equal(kairos_alloc_name_check(KAIROS_VOLUME, "db", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_names),
        cmocka_unit_test(invalid_names),
        cmocka_unit_test(owner_ids),
        cmocka_unit_test(snapshot_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
