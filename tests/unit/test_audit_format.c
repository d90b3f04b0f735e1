/*
 * test_audit_format.c - the audit log's formats (kairos/audit.h): entry keys that
 * sort by time, UTC days, and the times a query accepts. The log in RADOS
 * is tested in tests/gateway/test_audit.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <kairos/audit.h>

/* Times and keys as the log stores and reads them. */
static void formats(void **state)
{
    char key[KAIROS_AUDIT_ID_LEN + 1], day[9], when[KAIROS_AUDIT_TIME_LEN];
    uint64_t t, now = 1764909059123ULL; /* 2025-12-05T04:30:59.123Z */

    (void)state;
    kairos_audit_key(now, 0xabcULL, key);
    assert_string_equal(key, "0001764909059123-0000000000000abc");
    kairos_audit_day(now, day);
    assert_string_equal(day, "20251205");
    kairos_audit_time_format(now, when);
    assert_string_equal(when, "2025-12-05T04:30:59.123Z");
    assert_int_equal(kairos_audit_time_parse(when, now, &t), 0);
    assert_int_equal(t, now);
    assert_int_equal(kairos_audit_time_parse("2025-12-05T06:30:59.1+02:00", now, &t), 0);
    assert_int_equal(t, now - 23);
    assert_int_equal(kairos_audit_time_parse("2025-12-05", now, &t), 0);
    assert_int_equal(t, now - (4 * 3600 + 30 * 60 + 59) * 1000ULL - 123);
    assert_int_equal(kairos_audit_time_parse("2h", now, &t), 0);
    assert_int_equal(t, now - 2 * 3600 * 1000ULL);
    assert_int_equal(kairos_audit_time_parse("2d", now, &t), 0);
    assert_int_equal(kairos_audit_time_parse("2025-12-06", now, &t), -EINVAL);
    assert_int_equal(kairos_audit_time_parse("", now, &t), -EINVAL);
    assert_int_equal(kairos_audit_time_parse("60", now, &t), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
