/*
 * test_units.c - human sizes, durations and ratios.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/units.h>

static void assert_size(const char *s, uint64_t want)
{
    uint64_t got = 0;

    assert_int_equal(kairos_size_parse(s, &got), 0);
    assert_true(got == want);
}

static void assert_bad_size(const char *s, int want_rc)
{
    uint64_t got = 12345;

    assert_int_equal(kairos_size_parse(s, &got), want_rc);
    assert_true(got == 12345); /* untouched on error */
}

static void size_units(void **state)
{
    (void)state;
    assert_size("0", 0);
    assert_size("4096", 4096);
    assert_size("4096B", 4096);
    assert_size("1K", 1024);
    assert_size("1k", 1024);
    assert_size("1KB", 1000);
    assert_size("500G", 500ULL << 30);
    assert_size("500GiB", 500ULL << 30);
    assert_size("500GB", 500000000000ULL);
    assert_size("10T", 10ULL << 40);
    assert_size("147TB", 147000000000000ULL);
    assert_size("1.5PiB", (3ULL << 50) / 2);
    assert_size("1.5P", (3ULL << 50) / 2);
    assert_size("0.5K", 512);
    /* Fractions round down to whole bytes. */
    assert_size("0.1K", 102);
    assert_size("7E", 7ULL << 60);
    assert_size("9223372036854775807", INT64_MAX);
}

static void size_rejects(void **state)
{
    (void)state;
    assert_bad_size("", -EINVAL);
    assert_bad_size("-1", -EINVAL);
    assert_bad_size("+1", -EINVAL);
    assert_bad_size(" 1G", -EINVAL);
    assert_bad_size("1G ", -EINVAL);
    assert_bad_size("1 G", -EINVAL);
    assert_bad_size("G", -EINVAL);
    assert_bad_size("1X", -EINVAL);
    assert_bad_size("1.G", -EINVAL);
    assert_bad_size(".5G", -EINVAL);
    assert_bad_size("1..5G", -EINVAL);
    assert_bad_size("1e9", -EINVAL);
    assert_bad_size("0x10", -EINVAL);
    assert_bad_size("1.0000000000000000001G", -EINVAL);
    /* A fraction of a byte: refused, bare or with B. */
    assert_bad_size("1.5", -EINVAL);
    assert_bad_size("1.5B", -EINVAL);
    assert_bad_size("0.0", -EINVAL);
    /* More than 2^63 - 1. */
    assert_bad_size("9223372036854775808", -ERANGE);
    assert_bad_size("8E", -ERANGE);
    assert_bad_size("99999999999999999999999", -ERANGE);
    assert_bad_size("18446744073709551616", -ERANGE);
    assert_int_equal(kairos_size_parse(NULL, NULL), -EINVAL);
}

static void size_format(void **state)
{
    char buf[KAIROS_SIZE_STR_MAX];

    (void)state;
    assert_string_equal(kairos_size_format(0, buf, sizeof(buf)), "0B");
    assert_string_equal(kairos_size_format(512, buf, sizeof(buf)), "512B");
    assert_string_equal(kairos_size_format(1024, buf, sizeof(buf)), "1KiB");
    assert_string_equal(kairos_size_format(500ULL << 30, buf, sizeof(buf)), "500GiB");
    assert_string_equal(kairos_size_format((3ULL << 50) / 2, buf, sizeof(buf)), "1.5PiB");
    assert_string_equal(kairos_size_format((1ULL << 30) - 1, buf, sizeof(buf)), "1023.9MiB");
    assert_string_equal(kairos_size_format(INT64_MAX, buf, sizeof(buf)), "7.9EiB");
    assert_string_equal(kairos_size_format(UINT64_MAX, buf, sizeof(buf)), "15.9EiB");
}

static void size_round_trip(void **state)
{
    static const uint64_t sizes[] = {1, 1023, 1024, 1ULL << 30, 10ULL << 40, 1ULL << 62};
    char buf[KAIROS_SIZE_STR_MAX];
    uint64_t back;

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(kairos_size_parse(kairos_size_format(sizes[i], buf, sizeof(buf)), &back),
                         0);
        assert_true(back == sizes[i]);
    }
}

static void durations(void **state)
{
    uint64_t ms = 0;

    (void)state;
    assert_int_equal(kairos_duration_parse("30", &ms), 0);
    assert_true(ms == 30000);
    assert_int_equal(kairos_duration_parse("250ms", &ms), 0);
    assert_true(ms == 250);
    assert_int_equal(kairos_duration_parse("1.5s", &ms), 0);
    assert_true(ms == 1500);
    assert_int_equal(kairos_duration_parse("5m", &ms), 0);
    assert_true(ms == 300000);
    assert_int_equal(kairos_duration_parse("2h", &ms), 0);
    assert_true(ms == 7200000);
    assert_int_equal(kairos_duration_parse("1d", &ms), 0);
    assert_true(ms == 86400000);
    assert_int_equal(kairos_duration_parse("5M", &ms), -EINVAL);
    assert_int_equal(kairos_duration_parse("-5s", &ms), -EINVAL);
    assert_int_equal(kairos_duration_parse("s", &ms), -EINVAL);
    assert_int_equal(kairos_duration_parse("", &ms), -EINVAL);
    assert_int_equal(kairos_duration_parse("99999999999999999d", &ms), -ERANGE);
}

static void ratios(void **state)
{
    double r = 0;

    (void)state;
    assert_int_equal(kairos_ratio_parse("0.85", &r), 0);
    assert_true(r > 0.8499 && r < 0.8501);
    assert_int_equal(kairos_ratio_parse("85%", &r), 0);
    assert_true(r > 0.8499 && r < 0.8501);
    assert_int_equal(kairos_ratio_parse("3", &r), 0);
    assert_true(r == 3.0);
    assert_int_equal(kairos_ratio_parse("-1", &r), -EINVAL);
    assert_int_equal(kairos_ratio_parse("1x", &r), -EINVAL);
    assert_int_equal(kairos_ratio_parse("", &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_units),  cmocka_unit_test(size_rejects),
        cmocka_unit_test(size_format), cmocka_unit_test(size_round_trip),
        cmocka_unit_test(durations),   cmocka_unit_test(ratios),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
