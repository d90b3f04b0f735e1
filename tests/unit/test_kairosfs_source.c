/*
 * test_kairosfs_source.c - kairosfs's credentials file: a project's
 * bindings, or one binding on its own, and the errors that name what is
 * wrong (fuse/source.c), and what kairosd's source refuses before it calls
 * anyone (fuse/broker.c). The config and kairosd sources need a cluster and
 * are covered by tests/fuse and tests/gateway.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kairos/token.h>

#include "broker.h"
#include "source.h"
#include "tmpfile.h"

#define SHARE_CREDS                                                                                \
    "{\"entity\":\"client.kairos.p.b1\",\"user\":\"kairos.p.b1\",\"key\":\"AQBk\","                \
    "\"mon_host\":\"[v2:127.0.0.1:3300]\",\"fs_name\":\"cephfs\",\"path\":\"/kairos/p/home\","     \
    "\"pool\":\"cephfs_data\",\"namespace\":\"p.home\",\"read_only\":false}"
#define VOLUME_CREDS                                                                               \
    "{\"entity\":\"client.kairos.p.b2\",\"key\":\"AQBv\",\"mon_host\":\"10.0.0.1\","               \
    "\"pool\":\"rbd\",\"namespace\":\"p\",\"image\":\"disk\",\"read_only\":true}"

/* Read @text as a credentials file; expect @rc and, on error, @needle in the message. */
static struct kfs_source *load(const char *text, int want_rc, const char *needle)
{
    const char *path = tmpfile_with("creds.json", text);
    struct kfs_source *src = NULL;
    struct kairos_error err = {0};
    int rc = kfs_source_from_file(path, &src, &err);

    if (rc != want_rc || (needle && !strstr(err.msg, needle)))
        fail_msg("load: rc %d (want %d), message '%s' (want '%s')", rc, want_rc, err.msg,
                 needle ? needle : "");
    if (rc < 0)
        assert_null(src);
    tmpfile_remove(path);
    return src;
}

static void project_file(void **state)
{
    struct kfs_source *src =
        load("{\"project\":\"p\",\"shares\":{\"home\":" SHARE_CREDS ",\"work\":" SHARE_CREDS
             "},\"volumes\":{\"vm\":" VOLUME_CREDS "}}",
             0, NULL);

    (void)state;
    assert_string_equal(src->project, "p");
    assert_null(src->project_path);
    assert_int_equal(src->nshares, 2);
    assert_string_equal(src->shares[0].name, "home");
    assert_string_equal(src->shares[1].name, "work");
    assert_string_equal(src->shares[0].path, "/kairos/p/home");
    assert_string_equal(src->shares[0].fs_name, "cephfs");
    assert_string_equal(src->shares[0].id.entity, "client.kairos.p.b1");
    assert_string_equal(src->shares[0].id.key, "AQBk");
    assert_null(src->shares[0].id.conf);
    assert_false(src->shares[0].read_only);
    assert_int_equal(src->nvolumes, 1);
    /* The name in the file wins over the image's. */
    assert_string_equal(src->volumes[0].name, "vm");
    assert_string_equal(src->volumes[0].image, "disk");
    assert_string_equal(src->volumes[0].ns, "p");
    assert_true(src->volumes[0].read_only);
    assert_true(kfs_identity_equal(&src->shares[0].id, &src->shares[1].id));
    assert_false(kfs_identity_equal(&src->shares[0].id, &src->volumes[0].id));
    kfs_source_free(src);
}

static void one_binding(void **state)
{
    struct kfs_source *src = load(SHARE_CREDS, 0, NULL);

    (void)state;
    /* Named after its directory; the project is its RADOS namespace. */
    assert_int_equal(src->nshares, 1);
    assert_int_equal(src->nvolumes, 0);
    assert_string_equal(src->shares[0].name, "home");
    assert_string_equal(src->project, "p");
    kfs_source_free(src);
    src = load(VOLUME_CREDS, 0, NULL);
    assert_int_equal(src->nvolumes, 1);
    assert_string_equal(src->volumes[0].name, "disk");
    kfs_source_free(src);
}

static void user_without_entity(void **state)
{
    struct kfs_source *src = load("{\"user\":\"kairos.p.b\",\"key\":\"k\",\"mon_host\":\"m\","
                                  "\"pool\":\"rbd\",\"namespace\":\"p\",\"image\":\"disk\"}",
                                  0, NULL);

    (void)state;
    assert_string_equal(src->volumes[0].id.entity, "client.kairos.p.b");
    kfs_source_free(src);
}

static void errors(void **state)
{
    (void)state;
    load("{\"shares\":{\"home\":{\"fs_name\":\"cephfs\",\"path\":\"/a/b\",\"mon_host\":\"m\","
         "\"entity\":\"client.x\"}}}",
         -EINVAL, "shares.home: \"key\" is missing");
    /* A share name becomes a directory entry: never a path. */
    load("{\"shares\":{\"..\":" SHARE_CREDS "}}", -EINVAL, "share name has a bad character");
    load("{\"shares\":{\"a/b\":" SHARE_CREDS "}}", -EINVAL, "share");
    load("{\"shares\":{\"home\":" SHARE_CREDS ",\"home\":" SHARE_CREDS "}}", -EINVAL, "duplicate");
    load("{\"volumes\":{\"v\":{\"entity\":\"osd.0\",\"key\":\"k\",\"mon_host\":\"m\","
         "\"pool\":\"rbd\",\"namespace\":\"p\",\"image\":\"v\"}}}",
         -EINVAL, "is not a client");
    load("{\"shares\":{\"home\":{\"fs_name\":\"cephfs\",\"path\":\"rel\",\"mon_host\":\"m\","
         "\"entity\":\"client.x\",\"key\":\"k\"}}}",
         -EINVAL, "not absolute");
    load("{\"project\":\"p\",\"shares\":{}}", -EINVAL, "no shares and no volumes");
    load("{\"mon_host\":\"m\"}", -EINVAL, "neither");
    load("[1,2]", -EINVAL, "not a JSON object");
    load("{\"shares\":", -EINVAL, ":1:");
    load("{\"shares\":[]}", -EINVAL, "\"shares\" is not an object");
}

static void unreadable(void **state)
{
    struct kfs_source *src = NULL;
    struct kairos_error err = {0};

    (void)state;
    assert_int_equal(kfs_source_from_file("/nonexistent/creds.json", &src, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/creds.json"));
    assert_null(src);
    kfs_source_free(NULL);
}

/* Refused before any connection: port 1 would answer ECONNREFUSED instead. */
static void broker_bad_input(void **state)
{
    static const char *const bad[][3] = {
        {"http://127.0.0.1:1", "tok", "Bad"}, {"http://127.0.0.1:1", "tok", "../p"},
        {"ftp://127.0.0.1:1", "tok", "p"},    {"127.0.0.1:1", "tok", "p"},
        {"http://127.0.0.1:1", "to k", "p"},  {"http://127.0.0.1:1", "tok\r\nX-Evil: 1", "p"},
    };
    struct kairos_error err = {0};
    json_t *out = (json_t *)1;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(kfs_broker_fetch(bad[i][0], bad[i][1], NULL, bad[i][2], &out, &err),
                         -EINVAL);
        assert_null(out);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(kfs_broker_fetch("http://127.0.0.1:1/", "tok", NULL, "p", &out, &err),
                     -ECONNREFUSED);
    assert_null(out);
}

/* -o share=NAME, -o volume=NAME: one allocation of a loaded source, the others freed. */
static void select_one(void **state)
{
    const char *text =
        "{\"project\":\"p\",\"shares\":{\"home\":" SHARE_CREDS ",\"work\":" SHARE_CREDS
        "},\"volumes\":{\"vm\":" VOLUME_CREDS ",\"db\":" VOLUME_CREDS "}}";
    struct kairos_error err = {0};
    struct kfs_source *src = load(text, 0, NULL);

    (void)state;
    assert_int_equal(kfs_source_select(src, "work", NULL, &err), 0);
    assert_int_equal(src->nshares, 1);
    assert_int_equal(src->nvolumes, 0);
    assert_string_equal(src->shares[0].name, "work");
    assert_string_equal(src->shares[0].id.key, "AQBk");
    kfs_source_free(src);
    src = load(text, 0, NULL);
    assert_int_equal(kfs_source_select(src, NULL, "db", &err), 0);
    assert_int_equal(src->nshares, 0);
    assert_int_equal(src->nvolumes, 1);
    assert_string_equal(src->volumes[0].name, "db");
    /* Not there: refused, the source as it was. */
    assert_int_equal(kfs_source_select(src, "home", NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no share 'home' in project p"));
    assert_int_equal(kfs_source_select(src, NULL, "vm", &err), -ENOENT);
    assert_int_equal(src->nvolumes, 1);
    kfs_source_free(src);
    /* kairosd's single mode refuses a bad name before calling anyone. */
    json_t *out = (json_t *)1;
    assert_int_equal(kfs_broker_fetch_one("http://127.0.0.1:1", "tok", NULL, "p", "shares",
                                          "Bad/../x", &out, &err),
                     -EINVAL);
    assert_null(out);
    assert_int_equal(
        kfs_broker_fetch_one("http://127.0.0.1:1", "tok", NULL, "p", "buckets", "b", &out, &err),
        -EINVAL);
    assert_int_equal(
        kfs_broker_fetch_one("http://127.0.0.1:1", "tok", NULL, "p", "volumes", "v", &out, &err),
        -ECONNREFUSED);
}

/* The token file of -o token_file= (and kairosctl's): its first line, or a clear error. */
static void token_files(void **state)
{
    struct kairos_error err = {0};
    char buf[128];
    const char *path;

    (void)state;
    path = tmpfile_with("token", "kt_0123_abc\r\nsecond line\n");
    assert_int_equal(kairos_token_read(path, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "kt_0123_abc");
    tmpfile_remove(path);
    path = tmpfile_with("token", "\n");
    assert_int_equal(kairos_token_read(path, buf, sizeof(buf), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no token"));
    tmpfile_remove(path);
    kairos_error_clear(&err);
    assert_int_equal(kairos_token_read("/nonexistent/token", buf, sizeof(buf), &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/token"));
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(project_file),        cmocka_unit_test(one_binding),
        cmocka_unit_test(user_without_entity), cmocka_unit_test(errors),
        cmocka_unit_test(unreadable),          cmocka_unit_test(broker_bad_input),
        cmocka_unit_test(token_files),         cmocka_unit_test(select_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
