/*
 * test_record.c - the JSON shapes of ledger records survive a round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"

static void quota_round_trip(void **state)
{
    struct kairos_quota q, back;
    json_t *j;

    (void)state;
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_VOLUME].bytes = 10ULL << 30;
    q.kind[KAIROS_VOLUME].count = 3;
    q.kind[KAIROS_SNAPSHOT].count = 7;
    q.total_bytes = (uint64_t)INT64_MAX;
    j = kairos_quota_to_json(&q);
    /* Unlimited fields are left out, not written as a sentinel. */
    assert_null(json_object_get(json_object_get(j, "share"), "bytes"));
    assert_int_equal(kairos_quota_from_json(j, &back), 0);
    assert_memory_equal(&q, &back, sizeof(q));
    json_decref(j);
    assert_int_equal(kairos_quota_from_json(NULL, &back), -EIO);
}

static void counts_round_trip(void **state)
{
    struct kairos_counts c = {0}, back;
    json_t *j;

    (void)state;
    c.bytes[KAIROS_SHARE] = 123;
    c.count[KAIROS_SHARE] = 2;
    c.count[KAIROS_SNAPSHOT] = 5;
    c.eff = 99;
    c.grant = 1000;
    j = kairos_counts_to_json(&c);
    assert_int_equal(kairos_counts_from_json(j, &back), 0);
    assert_memory_equal(&c, &back, sizeof(c));
    json_decref(j);
}

static void alloc_record(void **state)
{
    struct kairos_alloc a;

    (void)state;
    assert_int_equal(kairos_alloc_from_record(&a, "p", KAIROS_VOLUME, "v",
                                              "{\"bytes\":10,\"op\":\"resize\",\"target\":20,"
                                              "\"intent\":\"abcd\",\"ts\":5,\"attrs\":{\"x\":1}}"),
                     0);
    assert_true(a.pending);
    assert_int_equal(a.op, KAIROS_OP_RESIZE);
    assert_true(a.bytes == 10 && a.target_bytes == 20 && a.intent_ms == 5);
    assert_string_equal(a.intent, "abcd");
    assert_string_equal(a.attrs, "{\"x\":1}");
    free(a.attrs);
    assert_int_equal(kairos_alloc_from_record(&a, "p", KAIROS_VOLUME, "v", "{\"bytes\":1}"), 0);
    assert_false(a.pending);
    assert_string_equal(a.attrs, "{}");
    free(a.attrs);
    assert_int_equal(kairos_alloc_from_record(&a, "p", KAIROS_VOLUME, "v", "not json"), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quota_round_trip),
        cmocka_unit_test(counts_round_trip),
        cmocka_unit_test(alloc_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
