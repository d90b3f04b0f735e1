/*
 * test_cephx.c - a binding's mon_host from the monitor map, however many
 * monitors and addresses the map holds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cephx.h"

static json_t *mon(const char *v2, const char *v1)
{
    json_t *vec = json_array();

    if (v2)
        json_array_append_new(vec, json_pack("{s:s,s:s}", "type", "v2", "addr", v2));
    if (v1)
        json_array_append_new(vec, json_pack("{s:s,s:s}", "type", "v1", "addr", v1));
    return json_pack("{s:{s:o}}", "public_addrs", "addrvec", vec);
}

static void small_map(void **state)
{
    json_t *map = json_pack("{s:[o,o]}", "mons", mon("10.0.0.1:3300/0", "10.0.0.1:6789/0"),
                            mon(NULL, "10.0.0.2:6789/0"));
    char *host = NULL;

    (void)state;
    assert_int_equal(kairos_cephx_mon_host(map, &host), 0);
    assert_string_equal(host, "[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0],[v1:10.0.0.2:6789/0]");
    free(host);
    json_decref(map);
}

/* A monitor map far past the 2 KiB that once was the limit. */
static void large_map(void **state)
{
    json_t *mons = json_array(), *map;
    char v2[64], v1[64], *host = NULL, *want = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&want, &len);

    (void)state;
    for (int i = 0; i < 300; i++) {
        snprintf(v2, sizeof(v2), "[fd00:1234:5678::%x]:3300/0", i);
        snprintf(v1, sizeof(v1), "[fd00:1234:5678::%x]:6789/0", i);
        json_array_append_new(mons, mon(v2, v1));
        fprintf(f, "%s[v2:%s,v1:%s]", i ? "," : "", v2, v1);
    }
    fclose(f);
    map = json_pack("{s:o}", "mons", mons);
    assert_int_equal(kairos_cephx_mon_host(map, &host), 0);
    assert_true(strlen(host) > 8192);
    assert_string_equal(host, want);
    free(host);
    free(want);
    json_decref(map);
}

static void no_monitors(void **state)
{
    json_t *map = json_pack("{s:[]}", "mons");
    char *host = (char *)"unchanged";

    (void)state;
    assert_int_equal(kairos_cephx_mon_host(map, &host), -EIO);
    assert_null(host);
    assert_int_equal(kairos_cephx_mon_host(NULL, &host), -EIO);
    json_decref(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_map),
        cmocka_unit_test(large_map),
        cmocka_unit_test(no_monitors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
