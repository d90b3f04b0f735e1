/*
 * test_kairosctl.c - every kairosctl command against a real kairosd on the
 * local cluster: table output, --json output, and the exit code of each
 * kind of failure (bad input, not found, quota, unreachable, denied,
 * conflict).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kd.h"

static struct kd KD;
static char P[64];
static char out[65536];

/*
 * Run kairosctl with @args (shell words); its stdout into out[], its stderr
 * to the test's (fd 3, a copy made in setup). Return: the exit status.
 */
static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    size_t n;
    FILE *f;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd),
             "KAIROS_URL=http://127.0.0.1:%u KAIROS_TOKEN=%s KAIROS_CONF= %s %s 2>&3", KD.port,
             KD_ADMIN_TOKEN, KAIROSCTL_BINARY, args);
    f = popen(cmd, "r");
    assert_non_null(f);
    n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    status = pclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
    (void)state;
    kd_start(&KD, KAIROSD_BINARY);
    snprintf(P, sizeof(P), "ctl-%x", (unsigned)getpid());
    /* kairosctl's messages (and any sanitizer report) reach the test's log. */
    dup2(STDERR_FILENO, 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ctl("project delete %s --force", P);
    assert_int_equal(kd_stop(&KD), 0);
    return 0;
}

static void projects_and_quotas(void **state)
{
    json_t *j;

    (void)state;
    assert_int_equal(ctl("project create %s --plan small --quota volume.bytes=64M", P), 0);
    assert_int_equal(ctl("project create %s", P), 7); /* conflict */
    assert_int_equal(ctl("project list"), 0);
    assert_non_null(strstr(out, "NAME"));
    assert_non_null(strstr(out, P));
    assert_int_equal(ctl("project show %s", P), 0);
    assert_non_null(strstr(out, "64MiB"));
    assert_int_equal(ctl("quota set %s volume.bytes=1.5PiB share.count=none total.bytes=2T", P), 0);
    assert_non_null(strstr(out, "1.5PiB"));
    assert_int_equal(ctl("quota show %s --json", P), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "volume"), "bytes")) ==
                1688849860263936LL);
    assert_true(json_is_null(json_object_get(json_object_get(j, "share"), "count")));
    json_decref(j);
    assert_int_equal(ctl("quota set %s volume.bytes=64M", P), 0);
    /* Bad input: exit 2, and nothing changed. */
    assert_int_equal(ctl("quota set %s volume.bytes=12Q", P), 2);
    /* Sizes read as kairosd reads them (one parser): "1.5" is no size, here as there. */
    assert_int_equal(ctl("quota set %s volume.bytes=1.5", P), 2);
    assert_int_equal(ctl("quota set %s volume.bytes=1.5B", P), 2);
    assert_int_equal(ctl("quota set %s colour=red", P), 2);
    assert_int_equal(ctl("project create Bad_Name"), 2);
    assert_int_equal(ctl("project"), 2);
    assert_int_equal(ctl("frobnicate"), 2);
    assert_int_equal(ctl("project show %s", P), 0);
    assert_non_null(strstr(out, "64MiB"));
    /* Not found: 3. */
    assert_int_equal(ctl("project show no-such-%s", P), 3);
    assert_int_equal(ctl("quota show no-such-%s", P), 3);
}

static void usage_capacity_allocations(void **state)
{
    char path[256];
    json_t *j;

    (void)state;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes", P);
    assert_int_equal(
        kd_call(&KD, "POST", path, KD_ADMIN, NULL, "{\"name\":\"disk\",\"size\":\"48M\"}", NULL),
        201);
    /* Past the quota through the API: kairosctl shows it in usage. */
    assert_int_equal(ctl("usage %s", P), 0);
    assert_non_null(strstr(out, "PERCENT"));
    assert_non_null(strstr(out, "48MiB"));
    assert_non_null(strstr(out, "75.0%"));
    /* No colour codes when stdout is not a terminal. */
    assert_null(strchr(out, '\033'));
    assert_int_equal(ctl("usage %s --sort percent --desc", P), 0);
    assert_true(strstr(out, "75.0%") < strstr(out, "0.0%"));
    assert_int_equal(ctl("usage %s --sort colour", P), 2);
    assert_int_equal(ctl("usage %s --json", P), 0);
    j = json_loads(out, 0, NULL);
    assert_true(json_integer_value(json_object_get(json_object_get(json_object_get(j, P), "volume"),
                                                   "allocated_bytes")) == 48 * 1024 * 1024);
    json_decref(j);
    assert_int_equal(ctl("usage"), 0);
    assert_non_null(strstr(out, P));
    assert_int_equal(ctl("capacity"), 0);
    assert_non_null(strstr(out, "oversubscription"));
    assert_non_null(strstr(out, "headroom left"));
    assert_int_equal(ctl("capacity --json"), 0);
    j = json_loads(out, 0, NULL);
    assert_true(json_integer_value(json_object_get(j, "usable")) > 0);
    json_decref(j);
    assert_int_equal(ctl("volumes %s", P), 0);
    assert_non_null(strstr(out, "disk"));
    assert_non_null(strstr(out, "48MiB"));
    assert_int_equal(ctl("shares %s --json", P), 0);
    assert_string_equal(out, "[]\n");
    assert_int_equal(ctl("buckets %s", P), 0);
    /* Drift: a DRIFT column, the findings, the policy; a volume's lock. */
    assert_int_equal(ctl("usage %s", P), 0);
    assert_non_null(strstr(out, "DRIFT"));
    assert_int_equal(ctl("usage %s --sort drift --desc", P), 0);
    assert_int_equal(ctl("drift policy %s", P), 0);
    assert_non_null(strstr(out, "drift policy revoke"));
    assert_int_equal(ctl("drift policy %s report", P), 0);
    assert_non_null(strstr(out, "drift policy report"));
    assert_int_equal(ctl("drift policy %s lenient", P), 2);
    assert_int_equal(ctl("drift policy %s", P), 0);
    assert_non_null(strstr(out, "report"));
    assert_int_equal(ctl("drift show %s", P), 0);
    assert_non_null(strstr(out, "drift policy report"));
    assert_non_null(strstr(out, "ACTION"));
    assert_int_equal(ctl("drift show %s --json", P), 0);
    j = json_loads(out, 0, NULL);
    assert_true(json_is_array(json_object_get(j, "findings")));
    json_decref(j);
    assert_int_equal(ctl("drift show no-such-%s", P), 3);
    assert_int_equal(ctl("drift policy %s revoke", P), 0);
    assert_int_equal(ctl("volume break-lock %s disk", P), 0);
    assert_non_null(strstr(out, "no lock held"));
    assert_int_equal(ctl("volume break-lock %s nosuch --force", P), 3);
    assert_int_equal(ctl("volume break-lock %s Bad", P), 2);
    assert_int_equal(ctl("volume break-lock %s", P), 2);
    /* Quota exceeded: 4 (a limit below what is allocated is refused). */
    assert_int_equal(ctl("quota set %s volume.bytes=16M", P), 4);
    assert_int_equal(ctl("quota set %s volume.bytes=16M --below-usage", P), 0);
    assert_int_equal(ctl("quota set %s volume.bytes=64M", P), 0);
}

static void tokens_and_denials(void **state)
{
    char cmd[512], token[256];
    FILE *f;
    int status;

    (void)state;
    assert_int_equal(ctl("token create %s", P), 0);
    snprintf(token, sizeof(token), "%s", out);
    token[strcspn(token, "\n")] = '\0';
    assert_int_equal(strncmp(token, "kt_", 3), 0);
    assert_int_equal(ctl("token list %s", P), 0);
    assert_non_null(strstr(out, "ID"));
    /* The project token is not an admin token: 6. */
    snprintf(cmd, sizeof(cmd),
             "KAIROS_URL=http://127.0.0.1:%u KAIROS_TOKEN=%s %s capacity >/dev/null 2>&1", KD.port,
             token, KAIROSCTL_BINARY);
    status = system(cmd);
    assert_int_equal(WEXITSTATUS(status), 6);
    char id[17];
    snprintf(id, sizeof(id), "%.16s", token + 3);
    assert_int_equal(ctl("token revoke %s %s", P, id), 0);
    assert_int_equal(ctl("token revoke %s %s", P, id), 3);
    assert_int_equal(ctl("token revoke %s nothex", P), 2);
    /* Unreachable: 5. */
    snprintf(cmd, sizeof(cmd), "KAIROS_URL=http://127.0.0.1:1 KAIROS_TOKEN=x %s capacity 2>&1",
             KAIROSCTL_BINARY);
    f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    status = pclose(f);
    assert_int_equal(WEXITSTATUS(status), 5);
    assert_non_null(strstr(out, "cannot reach kairosd"));
    /* The drift policy is the admin's: a project token is denied, 6. */
    snprintf(cmd, sizeof(cmd),
             "KAIROS_URL=http://127.0.0.1:%u KAIROS_TOKEN=%s %s drift policy %s report "
             ">/dev/null 2>&1",
             KD.port, token, KAIROSCTL_BINARY, P);
    status = system(cmd);
    assert_int_equal(WEXITSTATUS(status), 6);
    /* --help needs no server and succeeds for every command. */
    const char *cmds[] = {"project create",   "project list", "project show", "project delete",
                          "quota set",        "quota show",   "usage",        "capacity",
                          "volumes",          "shares",       "buckets",      "token create",
                          "token list",       "token revoke", "drift show",   "drift policy",
                          "volume break-lock"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(ctl("%s --help", cmds[i]), 0);
        assert_non_null(strstr(out, "usage: kairosctl"));
    }
    assert_int_equal(ctl("--help"), 0);
    assert_non_null(strstr(out, "Exit codes"));
    assert_int_equal(ctl("project delete %s", P), 7); /* it holds a volume */
    assert_int_equal(ctl("project delete %s --force", P), 0);
    assert_int_equal(ctl("project show %s", P), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(projects_and_quotas),
        cmocka_unit_test(usage_capacity_allocations),
        cmocka_unit_test(tokens_and_denials),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
