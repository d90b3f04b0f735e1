/*
 * test_bucket.c - buckets on the real radosgw of the "cluster" fixture,
 * used through a real S3 client (boto3, via tests/integration/s3client.py)
 * with nothing but the keys bindings hand out:
 *
 *   - an object uploaded with a binding's key downloads as the same bytes;
 *     a read-only key reads and cannot write; an upload past the bucket's
 *     size or object limit is refused by radosgw (QuotaExceeded);
 *   - a binding's key reaches its bucket only: not another bucket of the
 *     same project, not another project's bucket (same name or tenant:name),
 *     and it cannot create a bucket; after unbind the key is refused;
 *   - the project's RGW owner carries the project's bucket quota, also
 *     after a quota change; delete is refused while bound or not empty
 *     unless forced; a project delete takes buckets, keys and owner along;
 *   - the reconciler finishes a bucket made by a crashed create (it sets
 *     the quota the ledger records) and rolls back one never made;
 *   - with radosgw stopped, a create fails with -ECONNREFUSED naming the
 *     endpoint and leaves no reservation; projects without buckets do not
 *     notice; once radosgw is back, the create works;
 *   - bad names, sizes of 0 and unknown projects change nothing.
 *
 * The test talks to radosgw's admin API itself (rgw.h) to look at what
 * libkairos made, and stops and starts radosgw with scripts/minicluster.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "rgw.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

/* s3client.py exit statuses. */
#define S3_OK      0
#define S3_REFUSED 2
#define S3_QUOTA   3
#define S3_MISSING 4

static struct kt T;
static struct kairos_rgw *R; /* the admin API beside libkairos, to look at what it made */
static char TMP[] = "/tmp/kairos-bucket.XXXXXX"; /* scratch files */
static char CLUSTER[PATH_MAX];                   /* the minicluster's directory */
/* One s3client.py --serve for the whole test: boto3 loads once. */
static FILE *S3_IN, *S3_OUT;
static pid_t S3_PID;

static void start_s3client(void)
{
    char script[PATH_MAX];
    int in[2], out[2];

    snprintf(script, sizeof(script), "%s/tests/integration/s3client.py", KAIROS_SOURCE_DIR);
    /* Close-on-exec: radosgw, restarted by this test, must not hold the pipe open. */
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    S3_PID = fork();
    assert_true(S3_PID >= 0);
    if (S3_PID == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execlp("python3", "python3", script, "--serve", (char *)NULL);
        perror("python3");
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    S3_IN = fdopen(in[1], "w");
    S3_OUT = fdopen(out[0], "r");
    assert_non_null(S3_IN);
    assert_non_null(S3_OUT);
}

static void stop_s3client(void)
{
    if (S3_IN)
        fclose(S3_IN); /* end of input: it exits */
    if (S3_OUT)
        fclose(S3_OUT);
    if (S3_PID > 0)
        waitpid(S3_PID, NULL, 0);
}

static int setup(void **state)
{
    struct kairos_error err = {0};
    char conf[PATH_MAX];

    (void)state;
    kt_open(&T, NULL);
    if (!T.cfg->rgw.endpoint)
        fail_msg("%s has no [rgw] endpoint: the cluster fixture must run radosgw", kt_conf_path());
    if (kairos_rgw_open(T.cfg, &R, &err) < 0)
        fail_msg("rgw: %s", err.msg);
    if (!mkdtemp(TMP))
        fail_msg("mkdtemp: %s", strerror(errno));
    /* minicluster writes kairos.conf into the cluster's directory. */
    if (!realpath(kt_conf_path(), conf))
        fail_msg("realpath: %s", strerror(errno));
    snprintf(CLUSTER, sizeof(CLUSTER), "%s", dirname(conf));
    start_s3client();
    return 0;
}

static int minicluster(const char *verb)
{
    char cmd[2 * PATH_MAX];

    snprintf(cmd, sizeof(cmd), "%s/scripts/minicluster %s %s radosgw", KAIROS_SOURCE_DIR, verb,
             CLUSTER);
    return system(cmd);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    /* A failed fault test must not leave the other tests without radosgw. */
    minicluster("start-daemon");
    stop_s3client();
    kairos_rgw_close(R);
    kt_close(&T);
    nftw(TMP, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- helpers ---- */

static void project(char *name, size_t len, uint64_t bucket_bytes, uint64_t buckets)
{
    struct kairos_error err = {0};
    struct kairos_quota q;

    kairos_quota_unlimited(&q);
    q.kind[KAIROS_BUCKET].bytes = bucket_bytes;
    q.kind[KAIROS_BUCKET].count = buckets;
    kt_name(name, len, "bkt");
    if (kairos_project_create(T.k, name, NULL, &q, &err) < 0)
        fail_msg("project %s: %s", name, err.msg);
}

static void delete_project(const char *p)
{
    struct kairos_error err = {0};

    if (kairos_project_delete(T.k, p, KAIROS_DELETE_FORCE, &err) < 0)
        fail_msg("delete project %s: %s", p, err.msg);
}

static void create(const char *p, const char *name, uint64_t bytes, uint64_t max_objects)
{
    struct kairos_error err = {0};

    if (kairos_bucket_create(T.k, p, name, bytes, max_objects, &err) < 0)
        fail_msg("bucket %s/%s: %s", p, name, err.msg);
}

static void tenant(char *buf, size_t len, const char *project)
{
    snprintf(buf, len, "kairos_%s", project);
    for (char *c = buf; *c; c++) {
        if (*c == '-')
            *c = '_';
    }
}

static char *bind_bucket(const char *p, const char *bucket, const char *id, unsigned flags)
{
    struct kairos_error err = {0};
    char *creds = NULL;

    if (kairos_binding_create(T.k, p, KAIROS_BUCKET, bucket, id, flags, &creds, &err) < 0)
        fail_msg("bind %s/%s as %s: %s", p, bucket, id, err.msg);
    return creds;
}

static void unbind(const char *p, const char *bucket, const char *id)
{
    struct kairos_error err = {0};

    if (kairos_binding_delete(T.k, p, KAIROS_BUCKET, bucket, id, &err) < 0)
        fail_msg("unbind %s/%s %s: %s", p, bucket, id, err.msg);
}

static const char *field(const char *creds, const char *name, char *buf, size_t len)
{
    json_t *j = json_loads(creds, 0, NULL);
    const char *v = json_string_value(json_object_get(j, name));

    if (!v)
        fail_msg("credentials without %s: %s", name, creds);
    snprintf(buf, len, "%s", v);
    json_decref(j);
    return buf;
}

/* One S3 request with @creds through s3client.py; its status (S3_*). */
static int s3(const char *creds, const char *op, const char *bucket, const char *key,
              const char *file)
{
    static unsigned n;
    char path[PATH_MAX], line[64];
    FILE *f;

    snprintf(path, sizeof(path), "%s/creds-%u.json", TMP, n++);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(creds, f);
    fclose(f);
    fprintf(S3_IN, "%s\t%s\t%s\t%s\t%s\n", path, op, bucket, key ? key : "", file ? file : "");
    fflush(S3_IN);
    if (!fgets(line, sizeof(line), S3_OUT))
        fail_msg("s3client.py stopped answering");
    unlink(path);
    return atoi(line);
}

/* A scratch file of @len pseudo-random bytes; its path in @path. */
static void make_file(char *path, size_t plen, const char *name, size_t len, unsigned seed)
{
    FILE *f;

    snprintf(path, plen, "%s/%s", TMP, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    srand(seed);
    for (size_t i = 0; i < len; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
}

static void assert_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb;

    assert_non_null(fa);
    assert_non_null(fb);
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        assert_int_equal(ca, cb);
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);
}

static json_t *rgw_user(const char *uid)
{
    struct kairos_error err = {0};
    json_t *u = NULL;

    if (kairos_rgw_user_get(R, uid, &u, &err) < 0)
        fail_msg("RGW user %s: %s", uid, err.msg);
    return u;
}

static int rgw_user_exists(const char *uid)
{
    json_t *u = NULL;
    int rc = kairos_rgw_user_get(R, uid, &u, NULL);

    json_decref(u);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

static int rgw_bucket_exists(const char *project, const char *bucket)
{
    char t[128];
    json_t *b = NULL;
    int rc;

    tenant(t, sizeof(t), project);
    rc = kairos_rgw_bucket_stats(R, t, bucket, &b, NULL);
    json_decref(b);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

static json_int_t quota_of(json_t *user, const char *which, const char *name)
{
    return json_integer_value(json_object_get(json_object_get(user, which), name));
}

/* ---- tests ---- */

static void create_info_delete(void **state)
{
    struct kairos_bucket_info bi;
    struct kairos_alloc_page *page;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    struct kairos_usage u;
    struct kairos_quota q;
    char p[64], t[128], uid[256];
    json_t *owner;

    (void)state;
    project(p, sizeof(p), 8 * MiB, 3);
    create(p, "data", MiB, 10);
    create(p, "data", MiB, 10); /* a repeat is the same bucket */
    assert_int_equal(kairos_bucket_create(T.k, p, "data", 2 * MiB, 10, &err), -EEXIST);
    assert_int_equal(kairos_bucket_create(T.k, p, "data", MiB, 0, &err), -EEXIST);

    assert_int_equal(kairos_bucket_info(T.k, p, "data", &bi, &err), 0);
    tenant(t, sizeof(t), p);
    assert_string_equal(bi.name, "data");
    assert_string_equal(bi.tenant, t);
    assert_true(bi.size == MiB);
    assert_true(bi.max_objects == 10);
    assert_true(bi.used == 0 && bi.objects == 0);

    /* The owner holds the project's bucket quota, and the default that freezes quota-less buckets.
     */
    snprintf(uid, sizeof(uid), "%s$owner", t);
    owner = rgw_user(uid);
    assert_true(json_is_true(json_object_get(json_object_get(owner, "user_quota"), "enabled")));
    assert_int_equal(quota_of(owner, "user_quota", "max_size"), 8 * MiB);
    assert_int_equal(json_integer_value(json_object_get(owner, "max_buckets")), 3);
    assert_int_equal(quota_of(owner, "bucket_quota", "max_objects"), 0);
    json_decref(owner);
    kairos_quota_unlimited(&q);
    q.kind[KAIROS_BUCKET].bytes = 16 * MiB;
    assert_int_equal(kairos_project_set_quota(T.k, p, &q, 0, &err), 0);
    owner = rgw_user(uid);
    assert_int_equal(quota_of(owner, "user_quota", "max_size"), 16 * MiB);
    assert_int_equal(json_integer_value(json_object_get(owner, "max_buckets")), 0);
    json_decref(owner);

    assert_int_equal(kairos_bucket_list(T.k, p, NULL, 10, &page, &err), 0);
    assert_int_equal(page->count, 1);
    assert_string_equal(page->items[0].name, "data");
    assert_true(page->items[0].bytes == MiB);
    kairos_alloc_page_free(page);
    assert_int_equal(kairos_usage_get(T.k, p, &u, &err), 0);
    assert_true(u.kind[KAIROS_BUCKET].alloc_bytes == MiB);
    assert_int_equal(u.kind[KAIROS_BUCKET].used_bytes, 0);

    assert_int_equal(kairos_bucket_delete(T.k, p, "data", 0, &err), 0);
    assert_int_equal(kairos_bucket_info(T.k, p, "data", &bi, &err), -ENOENT);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "data", &a, &err), -ENOENT);
    assert_false(rgw_bucket_exists(p, "data"));
    kt_assert_consistent(&T, p);
    delete_project(p);
    assert_false(rgw_user_exists(uid));
}

static void bindings_and_quota(void **state)
{
    struct kairos_bucket_info bi;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64], t[128], uid[256], f16[PATH_MAX], f100[PATH_MAX], fsmall[PATH_MAX];
    char out[PATH_MAX], k1[128], k2[128];
    char *rw, *ro, *other, *again, *few, *forced;

    (void)state;
    project(p, sizeof(p), 16 * MiB, 10);
    tenant(t, sizeof(t), p);
    create(p, "files", 64 * KiB, 0);
    create(p, "other", MiB, 0);
    create(p, "few", MiB, 2);
    rw = bind_bucket(p, "files", "app", 0);
    ro = bind_bucket(p, "files", "reader", KAIROS_BIND_READ_ONLY);
    other = bind_bucket(p, "other", "o1", 0);
    assert_string_equal(field(rw, "bucket", k1, sizeof(k1)), "files");
    assert_string_equal(field(rw, "tenant", k1, sizeof(k1)), t);
    assert_string_equal(field(rw, "endpoint", k1, sizeof(k1)), T.cfg->rgw.endpoint);
    /* Asking again hands out the same key. */
    again = bind_bucket(p, "files", "app", 0);
    assert_string_equal(field(again, "access_key", k1, sizeof(k1)),
                        field(rw, "access_key", k2, sizeof(k2)));
    assert_string_equal(field(again, "secret_key", k1, sizeof(k1)),
                        field(rw, "secret_key", k2, sizeof(k2)));
    free(again);

    /* Up and down with the read-write key: the same bytes. */
    make_file(f16, sizeof(f16), "16k", 16 * KiB, 1);
    snprintf(out, sizeof(out), "%s/out", TMP);
    assert_int_equal(s3(rw, "put", "-", "a.bin", f16), S3_OK);
    assert_int_equal(s3(rw, "get", "-", "a.bin", out), S3_OK);
    assert_same_file(f16, out);
    assert_int_equal(s3(rw, "list", "-", NULL, NULL), S3_OK);
    /* The read-only key reads what the other wrote, and writes nothing. */
    unlink(out);
    assert_int_equal(s3(ro, "get", "-", "a.bin", out), S3_OK);
    assert_same_file(f16, out);
    assert_int_equal(s3(ro, "put", "-", "b.bin", f16), S3_REFUSED);
    assert_int_equal(s3(ro, "delete", "-", "a.bin", NULL), S3_REFUSED);

    /* radosgw holds the size: 16 KiB in, 100 KiB more would pass 64 KiB. */
    make_file(f100, sizeof(f100), "100k", 100 * KiB, 2);
    assert_int_equal(s3(rw, "put", "-", "big.bin", f100), S3_QUOTA);
    assert_int_equal(kairos_bucket_info(T.k, p, "files", &bi, &err), 0);
    assert_true(bi.objects == 1);
    assert_true(bi.used == 16 * KiB);
    /* ... and the object limit. */
    few = bind_bucket(p, "few", "f", 0);
    make_file(fsmall, sizeof(fsmall), "small", 100, 3);
    assert_int_equal(s3(few, "put", "-", "1", fsmall), S3_OK);
    assert_int_equal(s3(few, "put", "-", "2", fsmall), S3_OK);
    assert_int_equal(s3(few, "put", "-", "3", fsmall), S3_QUOTA);

    /* A key reaches its own bucket only, and makes none. */
    assert_int_equal(s3(other, "list", "files", NULL, NULL), S3_REFUSED);
    assert_int_equal(s3(other, "get", "files", "a.bin", out), S3_REFUSED);
    assert_int_equal(s3(other, "put", "files", "x.bin", fsmall), S3_REFUSED);
    assert_int_equal(s3(rw, "list", "other", NULL, NULL), S3_REFUSED);
    assert_int_equal(s3(rw, "mkbucket", "newbucket", NULL, NULL), S3_REFUSED);

    /* Delete: refused while bound, then while not empty; nothing changes. */
    assert_int_equal(kairos_bucket_delete(T.k, p, "files", 0, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "2 bindings"));
    unbind(p, "files", "app");
    assert_int_equal(s3(rw, "list", "-", NULL, NULL), S3_REFUSED);
    assert_int_equal(s3(ro, "list", "-", NULL, NULL), S3_OK);
    snprintf(uid, sizeof(uid), "%s$files.app", t);
    assert_false(rgw_user_exists(uid));
    unbind(p, "files", "reader");
    kairos_error_clear(&err);
    assert_int_equal(kairos_bucket_delete(T.k, p, "files", 0, &err), -ENOTEMPTY);
    assert_non_null(strstr(err.msg, "1 object"));
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "files", &a, &err), 0);
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    assert_true(rgw_bucket_exists(p, "files"));
    assert_int_equal(kairos_bucket_delete(T.k, p, "files", KAIROS_ALLOC_DELETE_FORCE, &err), 0);
    assert_false(rgw_bucket_exists(p, "files"));

    /* Forced, a bound bucket goes with its keys. */
    forced = bind_bucket(p, "other", "o2", KAIROS_BIND_READ_ONLY);
    assert_int_equal(kairos_bucket_delete(T.k, p, "other", KAIROS_ALLOC_DELETE_FORCE, &err), 0);
    assert_int_equal(s3(forced, "list", "-", NULL, NULL), S3_REFUSED);
    snprintf(uid, sizeof(uid), "%s$other.o1", t);
    assert_false(rgw_user_exists(uid));
    kt_assert_consistent(&T, p);

    /* The project goes with its last bucket, binding, and owner. */
    delete_project(p);
    assert_int_equal(s3(few, "list", "-", NULL, NULL), S3_REFUSED);
    snprintf(uid, sizeof(uid), "%s$owner", t);
    assert_false(rgw_user_exists(uid));
    free(rw);
    free(ro);
    free(other);
    free(few);
    free(forced);
}

static void other_project_cannot_reach(void **state)
{
    char p1[64], p2[64], t1[128], other[200], f[PATH_MAX], out[PATH_MAX];
    char *c1, *c2;

    (void)state;
    project(p1, sizeof(p1), 8 * MiB, 5);
    project(p2, sizeof(p2), 8 * MiB, 5);
    tenant(t1, sizeof(t1), p1);
    /* The same name in two projects: two tenants, two buckets. */
    create(p1, "shared", MiB, 0);
    create(p2, "shared", MiB, 0);
    c1 = bind_bucket(p1, "shared", "one", 0);
    c2 = bind_bucket(p2, "shared", "two", 0);
    make_file(f, sizeof(f), "secret", 4 * KiB, 4);
    snprintf(out, sizeof(out), "%s/out2", TMP);
    assert_int_equal(s3(c1, "put", "-", "secret.bin", f), S3_OK);
    /* By name, p2's key reaches p2's own bucket, which does not hold p1's object. */
    assert_int_equal(s3(c2, "get", "-", "secret.bin", out), S3_MISSING);
    /* Named in p1's tenant, p1's bucket refuses p2's key. */
    snprintf(other, sizeof(other), "%s:shared", t1);
    assert_int_equal(s3(c2, "list", other, NULL, NULL), S3_REFUSED);
    assert_int_equal(s3(c2, "get", other, "secret.bin", out), S3_REFUSED);
    assert_int_equal(s3(c2, "put", other, "x.bin", f), S3_REFUSED);
    /* p1's own key names it either way. */
    assert_int_equal(s3(c1, "get", other, "secret.bin", out), S3_OK);
    assert_same_file(f, out);
    delete_project(p1);
    delete_project(p2);
    free(c1);
    free(c2);
}

static void refusals_change_nothing(void **state)
{
    static const char *const bad[] = {"ab", "ab-", "Abc", "a/b/c", "x.yz", "..", "", NULL};
    struct kairos_bucket_info bi;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    char p[64], t[128], uid[256];

    (void)state;
    project(p, sizeof(p), 2 * MiB, 2);
    for (int i = 0; bad[i]; i++) {
        kairos_error_clear(&err);
        assert_int_equal(kairos_bucket_create(T.k, p, bad[i], MiB, 0, &err), -EINVAL);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(kairos_bucket_create(T.k, p, "okay", 0, 0, &err), -EINVAL);
    assert_int_equal(kairos_bucket_create(T.k, p, "okay", MiB, (uint64_t)INT64_MAX + 1, &err),
                     -EINVAL);
    assert_int_equal(kairos_bucket_create(T.k, p, "okay", (uint64_t)INT64_MAX + 1, 0, &err),
                     -EINVAL);
    assert_int_equal(kairos_bucket_create(T.k, "no-such-project-x", "okay", MiB, 0, &err), -ENOENT);
    kairos_error_clear(&err);
    assert_int_equal(kairos_bucket_create(T.k, p, "big", 3 * MiB, 0, &err), -EDQUOT);
    assert_non_null(strstr(err.msg, "bucket bytes quota exceeded"));
    assert_int_equal(kairos_bucket_delete(T.k, p, "zzz", 0, &err), -ENOENT);
    assert_int_equal(kairos_bucket_delete(T.k, p, "zzz", 0x80, &err), -EINVAL);
    assert_int_equal(kairos_bucket_info(T.k, p, "zzz", &bi, &err), -ENOENT);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "okay", &a, &err), -ENOENT);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "big", &a, &err), -ENOENT);
    assert_false(rgw_bucket_exists(p, "okay"));
    assert_false(rgw_bucket_exists(p, "big"));
    /* Not even the project's RGW owner was made. */
    tenant(t, sizeof(t), p);
    snprintf(uid, sizeof(uid), "%s$owner", t);
    assert_false(rgw_user_exists(uid));
    kt_assert_consistent(&T, p);
    delete_project(p);
}

static void reconciler_finishes_crashed_creates(void **state)
{
    struct kairos_alloc_req half = {
        .kind = KAIROS_BUCKET, .name = "half", .bytes = 2 * MiB, .attrs = "{\"max_objects\":7}"};
    struct kairos_alloc_req never = {.kind = KAIROS_BUCKET, .name = "never", .bytes = MiB};
    struct kairos_reservation *r1 = NULL, *r2 = NULL;
    struct kairos_reconcile_report rep;
    struct kairos_bucket_info bi;
    struct kairos_error err = {0};
    struct kairos_rgw_key key;
    struct kairos_alloc a;
    char p[64], t[128], uid[256];
    json_t *owner;

    (void)state;
    project(p, sizeof(p), 8 * MiB, 5);
    create(p, "first", MiB, 0);
    /* A create that died after radosgw made the bucket, before its quota and the commit. */
    half.project = never.project = p;
    assert_int_equal(kairos_ledger_reserve(T.k, &half, &r1, &err), 0);
    tenant(t, sizeof(t), p);
    snprintf(uid, sizeof(uid), "%s$owner", t);
    owner = rgw_user(uid);
    assert_int_equal(kairos_rgw_user_s3_key(owner, &key), 0);
    assert_int_equal(kairos_rgw_s3_create_bucket(R, &key, "half", &err), 0);
    json_decref(owner);
    /* And one that died before making anything. */
    assert_int_equal(kairos_ledger_reserve(T.k, &never, &r2, &err), 0);
    kairos_reservation_free(r1);
    kairos_reservation_free(r2);

    usleep(20000);
    assert_int_equal(kairos_reconcile_run(T.k, 10, &rep, &err), 0);
    assert_true(rep.committed >= 1 && rep.released >= 1);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "half", &a, &err), 0);
    assert_false(a.pending);
    kairos_alloc_clear(&a);
    assert_int_equal(kairos_bucket_info(T.k, p, "half", &bi, &err), 0);
    assert_true(bi.size == 2 * MiB);
    assert_true(bi.max_objects == 7);
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "never", &a, &err), -ENOENT);
    assert_false(rgw_bucket_exists(p, "never"));
    kt_assert_consistent(&T, p);
    delete_project(p);
    assert_false(rgw_bucket_exists(p, "half"));
}

static void radosgw_down(void **state)
{
    struct kairos_reconcile_report rep;
    struct kairos_error err = {0};
    struct kairos_binding b;
    struct kairos_alloc a;
    struct kairos_usage u;
    struct kairos_quota q;
    char p[64], plain[64], want[256], *creds = NULL;

    (void)state;
    project(p, sizeof(p), 8 * MiB, 5);
    project(plain, sizeof(plain), 8 * MiB, 5);
    create(p, "before", MiB, 0);
    assert_int_equal(minicluster("stop-daemon"), 0);

    /* A clear error, and no reservation left behind. */
    assert_int_equal(kairos_bucket_create(T.k, p, "during", MiB, 0, &err), -ECONNREFUSED);
    snprintf(want, sizeof(want), "radosgw at %s: ", T.cfg->rgw.endpoint);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "connection refused"));
    assert_int_equal(kairos_ledger_get(T.k, p, KAIROS_BUCKET, "during", &a, &err), -ENOENT);
    kt_assert_consistent(&T, p);
    assert_int_equal(kairos_usage_get(T.k, p, &u, &err), 0);
    assert_true(u.kind[KAIROS_BUCKET].alloc_bytes == MiB);
    kairos_error_clear(&err);
    assert_int_equal(kairos_binding_create(T.k, p, KAIROS_BUCKET, "before", "b1", 0, &creds, &err),
                     -ECONNREFUSED);
    assert_null(creds);

    /* A project without buckets never asks radosgw. */
    kairos_quota_unlimited(&q);
    assert_int_equal(kairos_project_set_quota(T.k, plain, &q, 0, &err), 0);
    assert_int_equal(kairos_project_delete(T.k, plain, 0, &err), 0);

    assert_int_equal(minicluster("start-daemon"), 0);
    create(p, "during", MiB, 0);
    assert_true(rgw_bucket_exists(p, "during"));
    /* The binding that could not be made is rolled back by the reconciler. */
    usleep(20000);
    assert_int_equal(kairos_reconcile_run(T.k, 10, &rep, &err), 0);
    assert_int_equal(kairos_binding_get(T.k, p, KAIROS_BUCKET, "before", "b1", &b, &err), -ENOENT);
    kt_assert_consistent(&T, p);
    delete_project(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_info_delete),
        cmocka_unit_test(bindings_and_quota),
        cmocka_unit_test(other_project_cannot_reach),
        cmocka_unit_test(refusals_change_nothing),
        cmocka_unit_test(reconciler_finishes_crashed_creates),
        cmocka_unit_test(radosgw_down),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
