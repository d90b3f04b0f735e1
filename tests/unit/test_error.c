/*
 * test_error.c - error codes with messages; the first message wins.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/error.h>

static void first_wins(void **state)
{
    struct kairos_error err = {0};

    (void)state;
    assert_int_equal(kairos_error_set(&err, -EDQUOT, "inner %d", 1), -EDQUOT);
    assert_int_equal(kairos_error_set(&err, -EIO, "outer"), -EIO);
    assert_int_equal(err.code, -EDQUOT);
    assert_string_equal(err.msg, "inner 1");
    kairos_error_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
}

static void null_and_fallback(void **state)
{
    struct kairos_error err = {0};
    char big[2 * KAIROS_ERROR_MSG_MAX];

    (void)state;
    assert_int_equal(kairos_error_set(NULL, -ENOENT, "ignored"), -ENOENT);
    kairos_error_clear(NULL);
    assert_string_equal(kairos_error_msg(NULL, -ENOENT), strerror(ENOENT));
    assert_string_equal(kairos_error_msg(&err, -EDQUOT), strerror(EDQUOT));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kairos_error_set(&err, -EINVAL, "%s", big);
    assert_int_equal(strlen(err.msg), KAIROS_ERROR_MSG_MAX - 1);
    assert_string_equal(kairos_error_msg(&err, -EIO), err.msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_wins),
        cmocka_unit_test(null_and_fallback),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
