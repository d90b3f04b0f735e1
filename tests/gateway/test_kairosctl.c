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
 * Run kairosctl as the admin, with @env (more assignments, or "") and
 * @args (shell words); its stdout into out[], its stderr after @redirect
 * ("2>&3": the test's, a copy made in setup; "2>&1": into out[] too).
 * Return: the exit status.
 */
static int run(const char *env, const char *redirect, const char *fmt, va_list ap)
{
    char args[1024], cmd[2048];

    vsnprintf(args, sizeof(args), fmt, ap);
    snprintf(cmd, sizeof(cmd),
             "KAIROS_URL=http://127.0.0.1:%u KAIROS_TOKEN=%s KAIROS_CONF= %s %s %s %s", KD.port,
             KD_ADMIN_TOKEN, env, KAIROSCTL_BINARY, args, redirect);
    return kd_capture(cmd, out, sizeof(out));
}

static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl(const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = run("", "2>&3", fmt, ap);
    va_end(ap);
    return rc;
}

/* ctl() with @env, and stderr into out[] too. */
static int ctl_all(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl_all(const char *env, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = run(env, "2>&1", fmt, ap);
    va_end(ap);
    print_message("%s", out);
    return rc;
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

/* Volumes, shares and buckets; snapshots, clones and bindings: each REST resource's command. */
static void allocation_commands(void **state)
{
    json_t *j;

    (void)state;
    assert_int_equal(ctl("quota set %s volume.bytes=1G share.bytes=1G share.count=5", P), 0);
    assert_int_equal(ctl("volume create %s vol1 --size 64M", P), 0);
    assert_non_null(strstr(out, "volume " /* P */));
    /* A bare number is bytes, as in the API. */
    assert_int_equal(ctl("volume create %s vol2 --size 33554432", P), 0);
    assert_int_equal(ctl("volume show %s vol2 -f json", P), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "size")), 33554432);
    json_decref(j);
    assert_int_equal(ctl("volume resize %s vol1 96M", P), 0);
    assert_non_null(strstr(out, "96MiB"));
    assert_int_equal(ctl("volume resize %s vol1 32M", P), 2); /* smaller needs --shrink */
    assert_int_equal(ctl("volume show %s vol1 -f value -c size", P), 0);
    assert_string_equal(out, "100663296\n");
    assert_int_equal(ctl("volume list %s", P), 0);
    assert_non_null(strstr(out, "vol1"));
    assert_non_null(strstr(out, "vol2"));

    assert_int_equal(ctl("snapshot create %s volume vol1 s1", P), 0);
    assert_int_equal(ctl("snapshot list %s volume vol1 -f value -c name", P), 0);
    assert_string_equal(out, "s1\n");
    assert_int_equal(ctl("volume create %s clone1 --from vol1@s1 --wait", P), 0);
    assert_non_null(strstr(out, "succeeded"));
    assert_int_equal(ctl("volume show %s clone1 -f json -c parent", P), 0);
    assert_non_null(strstr(out, "vol1"));
    assert_int_equal(ctl("volume flatten %s clone1 --wait", P), 0);
    assert_int_equal(ctl("snapshot delete %s volume vol1 s1", P), 0);
    assert_int_equal(ctl("snapshot list %s volume vol1 -f value", P), 0);
    assert_string_equal(out, "");

    assert_int_equal(ctl("binding create %s volume vol1 node1", P), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_non_null(json_string_value(json_object_get(json_object_get(j, "credentials"), "key")));
    json_decref(j);
    assert_int_equal(ctl("binding list %s volume vol1 -f value -c id", P), 0);
    assert_string_equal(out, "node1\n");
    assert_int_equal(ctl("binding show %s volume vol1 node1", P), 0);
    assert_null(strstr(out, "key"));
    assert_int_equal(ctl("volume delete %s vol1", P), 7); /* bound */
    assert_int_equal(ctl("binding delete %s volume vol1 node1", P), 0);
    assert_int_equal(ctl("binding show %s volume vol1 node1", P), 3);

    assert_int_equal(ctl("share create %s data --size 16M --max-files 100", P), 0);
    assert_int_equal(ctl("share show %s data -f json -c max_files", P), 0);
    assert_non_null(strstr(out, "100"));
    assert_int_equal(ctl("share delete %s data --wait", P), 0);
    assert_int_equal(ctl("share show %s data", P), 3);
    const char *vols[] = {"vol1", "vol2", "clone1"};
    for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++)
        assert_int_equal(ctl("volume delete %s %s", P, vols[i]), 0);
    assert_int_equal(ctl("cluster -f value -c fsid"), 0);
    assert_int_equal(strlen(out), 37); /* a UUID and a newline */

    /* Bad input: exit 2, nothing made. */
    assert_int_equal(ctl("volume create %s v3", P), 2);             /* no size */
    assert_int_equal(ctl("volume create %s v3 --size 1.5", P), 2);  /* no size at all */
    assert_int_equal(ctl("volume create %s v3 --from vol1", P), 2); /* no @SNAPSHOT */
    assert_int_equal(ctl("share create %s s3 --size 1G --max-files x", P), 2);
    assert_int_equal(ctl("volume create %s v3 --size 1G --max-files 3", P), 2);
    assert_int_equal(ctl("snapshot create %s bucket b s", P), 2);
    assert_int_equal(ctl("binding create %s disk d n", P), 2);
    assert_int_equal(ctl("operation show Not_An_Id"), 2);
    assert_int_equal(ctl("volume list %s -f value -c name", P), 0);
    assert_null(strstr(out, "v3"));
}

/* -f/--format, -c, errors on stdout, and the defects an operator met. */
static void output_formats(void **state)
{
    char digit[64], home[] = "/tmp/kairosctl-home-XXXXXX";
    json_t *j;

    (void)state;
    /* A name that starts with a digit stays left-aligned under NAME. */
    snprintf(digit, sizeof(digit), "7x-%x", (unsigned)getpid());
    assert_int_equal(ctl("project create %s", digit), 0);
    assert_int_equal(ctl("project list"), 0);
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", digit);
    assert_non_null(strstr(out, line));
    /* created_ms is the creation time in listings too. */
    assert_int_equal(ctl("project list -f json"), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    for (size_t i = 0; i < json_array_size(j); i++)
        assert_true(json_integer_value(json_object_get(json_array_get(j, i), "created_ms")) > 0);
    json_decref(j);
    /* project show says who owns it, also when nobody does. */
    assert_int_equal(ctl("project show %s", digit), 0);
    assert_non_null(strstr(out, "owner"));
    assert_non_null(strstr(out, "created"));
    /* value and -c: the cells alone. */
    assert_int_equal(ctl("project show %s -f value -c name -c state", digit), 0);
    snprintf(line, sizeof(line), "%s\nactive\n", digit);
    assert_string_equal(out, line);
    assert_int_equal(ctl("--format yaml project show %s -c name", digit), 0);
    snprintf(line, sizeof(line), "name: %s\n", digit);
    assert_non_null(strstr(out, line));
    assert_int_equal(ctl("project show %s -c colour", digit), 2);
    assert_int_equal(ctl("-f xml project list"), 2);
    /* --json is -f json. */
    assert_int_equal(ctl("project show %s --json", digit), 0);
    assert_non_null(strstr(out, "\"name\""));
    /* A machine format gets the error on stdout too, as JSON. */
    assert_int_equal(ctl("project show no-such-%s -f json", digit), 3);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "exit")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "no project"));
    json_decref(j);
    assert_int_equal(ctl("project show no-such-%s", digit), 3);
    assert_string_equal(out, "");
    /* No "0.00x" oversubscription beside unlimited quotas. */
    assert_int_equal(ctl("capacity"), 0);
    if (strstr(out, "unlimited"))
        assert_null(strstr(out, "0.00x"));
    /* A count is said to be a whole number, not a size. */
    assert_int_equal(ctl_all("", "quota set %s volume.count=2G", digit), 2);
    assert_non_null(strstr(out, "a whole number"));
    assert_null(strstr(out, "size"));
    /* An option error names the command. */
    assert_int_equal(ctl_all("", "project list --frobnicate"), 2);
    assert_non_null(strstr(out, "kairosctl project list: unrecognized option"));
    /* No token anywhere: kairosctl says where it looked. */
    char env[256], where[128];
    assert_non_null(mkdtemp(home));
    snprintf(env, sizeof(env), "HOME=%s KAIROS_TOKEN= KAIROS_TOKEN_FILE=", home);
    assert_int_equal(ctl_all(env, "project list"), 6);
    snprintf(where, sizeof(where), "%s/.kairos/token does not exist", home);
    assert_non_null(strstr(out, where));
    rmdir(home);
    /* "holds 1 volume", not "1 volumes". */
    assert_int_equal(ctl("volume create %s only --size 8M", digit), 0);
    assert_int_equal(ctl_all("", "project delete %s", digit), 7);
    assert_non_null(strstr(out, "holds 1 volume;"));
    assert_int_equal(ctl("project delete %s --force", digit), 0);
}

static void tokens_and_denials(void **state)
{
    char cmd[512], token[256];
    int status;

    (void)state;
    assert_int_equal(ctl("token create %s", P), 0);
    snprintf(token, sizeof(token), "%s", out);
    token[strcspn(token, "\n")] = '\0';
    assert_int_equal(strncmp(token, "kt_", 3), 0);
    assert_int_equal(ctl("token list %s", P), 0);
    assert_non_null(strstr(out, "ID"));
    /* With a description: listed with it and its creation time. */
    assert_int_equal(ctl("token create %s --description 'nightly backup'", P), 0);
    assert_int_equal(ctl("token list %s -f value -c description", P), 0);
    assert_non_null(strstr(out, "nightly backup\n"));
    assert_int_equal(ctl("token list %s -f json", P), 0);
    assert_non_null(strstr(out, "created_ms"));
    assert_int_equal(ctl("token create %s --description \"$(printf 'a\\tb')\"", P), 2);
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
    assert_int_equal(kd_capture(cmd, out, sizeof(out)), 5);
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
        cmocka_unit_test(projects_and_quotas), cmocka_unit_test(usage_capacity_allocations),
        cmocka_unit_test(allocation_commands), cmocka_unit_test(output_formats),
        cmocka_unit_test(tokens_and_denials),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
