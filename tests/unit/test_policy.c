/*
 * test_policy.c - capacity policy and plans: values, the shipped files, and
 * errors with file and line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/policy.h>

#include "tmpfile.h"

#ifndef KAIROS_SOURCE_DIR
#error "KAIROS_SOURCE_DIR must point at the source tree"
#endif

static struct kairos_policy *load_cap(const char *text, int want_rc, const char *needle)
{
    const char *path = tmpfile_with("capacity.ini", text);
    struct kairos_policy *p = NULL;
    struct kairos_error err = {0};
    int rc = kairos_policy_load(path, NULL, &p, &err);

    if (rc != want_rc || (needle && !strstr(err.msg, needle)))
        fail_msg("rc %d (want %d), message '%s' (want '%s')", rc, want_rc, err.msg,
                 needle ? needle : "");
    tmpfile_remove(path);
    return p;
}

static struct kairos_policy *load_plans(const char *text, int want_rc, const char *needle)
{
    const char *path = tmpfile_with("plans.ini", text);
    struct kairos_policy *p = NULL;
    struct kairos_error err = {0};
    int rc = kairos_policy_load(NULL, path, &p, &err);

    if (rc != want_rc || (needle && !strstr(err.msg, needle)))
        fail_msg("rc %d (want %d), message '%s' (want '%s')", rc, want_rc, err.msg,
                 needle ? needle : "");
    tmpfile_remove(path);
    return p;
}

static void shipped_files(void **state)
{
    struct kairos_policy *p = NULL;
    struct kairos_error err = {0};
    const struct kairos_plan *small;

    (void)state;
    assert_int_equal(kairos_policy_load(KAIROS_SOURCE_DIR "/policies/capacity.ini",
                                        KAIROS_SOURCE_DIR "/policies/plans.ini", &p, &err),
                     0);
    assert_true(p->capacity.usable == 0);
    assert_true(p->capacity.full_ratio == 0);
    assert_true(p->capacity.headroom > 0.099 && p->capacity.headroom < 0.101);
    assert_true(p->capacity.overcommit[KAIROS_VOLUME] == 2.0);
    assert_true(p->capacity.overcommit[KAIROS_SHARE] == 1.0);
    assert_int_equal(p->nplans, 3);
    assert_string_equal(p->plans[0].name, "small");
    assert_string_equal(p->default_plan, "small");
    small = kairos_policy_plan(p, "small");
    assert_non_null(small);
    assert_true(small->quota.kind[KAIROS_VOLUME].bytes == 500ULL << 30);
    assert_true(small->quota.kind[KAIROS_SNAPSHOT].count == 50);
    assert_true(small->quota.total_bytes == 800ULL << 30);
    assert_true(small->size[KAIROS_VOLUME] == 20ULL << 30);
    assert_null(kairos_policy_plan(p, "huge"));
    kairos_policy_free(p);
}

static void declared_capacity(void **state)
{
    struct kairos_policy *p = load_cap("[capacity]\nusable = 147TB\nfull_ratio = 0.95\n"
                                       "headroom = 0.1\n[overcommit]\nvolume = 3\n",
                                       0, NULL);

    (void)state;
    assert_true(p->capacity.usable == 147000000000000ULL);
    assert_true(p->capacity.full_ratio == 0.95);
    assert_true(kairos_policy_effective(p, KAIROS_VOLUME, 300) == 100);
    assert_true(kairos_policy_effective(p, KAIROS_VOLUME, 301) == 101);
    assert_true(kairos_policy_effective(p, KAIROS_SHARE, 301) == 301);
    assert_true(kairos_policy_effective(p, KAIROS_SNAPSHOT, 301) == 0);
    kairos_policy_free(p);
}

static void capacity_errors(void **state)
{
    (void)state;
    load_cap("[capacity]\nusable = lots\n", -EINVAL, "capacity.ini:2: [capacity] usable");
    load_cap("[capacity]\nusable = 0\n", -EINVAL, ":2:");
    load_cap("[capacity]\nfull_ratio = 1.5\n", -EINVAL, ":2: [capacity] full_ratio");
    load_cap("[capacity]\nheadroom = 100%\n", -EINVAL, ":2: [capacity] headroom");
    load_cap("[capacity]\nfull_ratio = 0.5\nheadroom = 0.6\n", -EINVAL, "leaves nothing");
    load_cap("[capacity]\nreserve = 1\n", -EINVAL, ":2: unknown key 'reserve'");
    load_cap("[overcommit]\nsnapshot = 2\n", -EINVAL, ":2: [overcommit] snapshot: not a kind");
    load_cap("[overcommit]\nvolume = 0\n", -EINVAL, ":2: [overcommit] volume");
    load_cap("\n\n[limits]\nx = 1\n", -EINVAL, ":4: unknown section [limits]");
}

static void plan_errors(void **state)
{
    struct kairos_policy *p;

    (void)state;
    load_plans("", -EINVAL, "no plan defined");
    load_plans("[Big]\nvolume.size = 1G\n", -EINVAL, ":2: plan name [Big]");
    load_plans("[a]\nvolume.size = 0\n", -EINVAL, ":2: [a] volume.size");
    load_plans("[a]\nvolume.size = 1G\n[b]\nvolume.colour = red\n", -EINVAL,
               ":4: unknown key 'volume.colour' in plan [b]");
    load_plans("[a]\nsnapshot.bytes = 1G\n", -EINVAL, ":2: unknown key");
    load_plans("[a]\nvolume.bytes = many\n", -EINVAL, ":2: [a] volume.bytes");
    load_plans("[a]\nvolume.size = 1G\n[a]\nshare.size = 1G\n", -EINVAL,
               ":3: section [a] appears twice (first on line 1)");
    load_plans("[defaults]\nplan = gold\n[a]\nvolume.size = 1G\n", -EINVAL,
               "[defaults] plan 'gold' is not defined");
    load_plans("[defaults]\ncolour = 1\n", -EINVAL, ":2: unknown key 'colour' in [defaults]");
    p = load_plans("[a]\nvolume.count = 3\n", 0, NULL);
    assert_string_equal(p->default_plan, "a");
    assert_true(p->plans[0].quota.kind[KAIROS_VOLUME].bytes == KAIROS_UNLIMITED);
    assert_true(p->plans[0].quota.kind[KAIROS_VOLUME].count == 3);
    kairos_policy_free(p);
}

static void builtin_default(void **state)
{
    struct kairos_policy *p = NULL;

    (void)state;
    assert_int_equal(kairos_policy_load(NULL, NULL, &p, NULL), 0);
    assert_true(p->capacity.usable == 0);
    assert_true(p->capacity.overcommit[KAIROS_VOLUME] == 2.0);
    assert_int_equal(p->nplans, 0);
    assert_null(p->default_plan);
    kairos_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_files),   cmocka_unit_test(declared_capacity),
        cmocka_unit_test(capacity_errors), cmocka_unit_test(plan_errors),
        cmocka_unit_test(builtin_default),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
