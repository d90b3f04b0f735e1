/*
 * test_version.c - the version macros and kairos_version() agree with the
 * project's version (CMakeLists.txt), passed in by the build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <kairos/kairos.h>

static void macros_match_project(void **state)
{
    char parts[64];

    (void)state;
    assert_string_equal(KAIROS_VERSION_STRING, KAIROS_PROJECT_VERSION);
    snprintf(parts, sizeof(parts), "%d.%d.%d", KAIROS_VERSION_MAJOR, KAIROS_VERSION_MINOR,
             KAIROS_VERSION_PATCH);
    assert_string_equal(parts, KAIROS_VERSION_STRING);
}

static void library_matches_headers(void **state)
{
    (void)state;
    assert_non_null(kairos_version());
    assert_string_equal(kairos_version(), KAIROS_VERSION_STRING);
}

static void number_orders_versions(void **state)
{
    (void)state;
    assert_int_equal(KAIROS_VERSION_ENCODE(0, 1, 0), 0x000100);
    assert_true(KAIROS_VERSION_ENCODE(1, 0, 0) > KAIROS_VERSION_ENCODE(0, 255, 255));
    assert_true(KAIROS_VERSION_ENCODE(0, 2, 0) > KAIROS_VERSION_ENCODE(0, 1, 9));
    assert_int_equal(
        KAIROS_VERSION_NUMBER,
        KAIROS_VERSION_ENCODE(KAIROS_VERSION_MAJOR, KAIROS_VERSION_MINOR, KAIROS_VERSION_PATCH));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(macros_match_project),
        cmocka_unit_test(library_matches_headers),
        cmocka_unit_test(number_orders_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
