/*
 * bucket.c - the RGW backend: buckets, their quotas, and bucket-limited
 * bindings (see kairos/bucket.h).
 *
 * Each project is an RGW tenant whose user "owner" owns its buckets.
 * radosgw is reached over HTTP (rgw.h), so every step can fail on its own:
 * a create reserves first, makes the owner and the bucket, sets the
 * bucket's quota, and removes the bucket again if anything after its
 * creation fails, before the reservation is released.
 *
 * The project object records that the project has an RGW owner ("rgw"
 * key, written before the user is made). A project without buckets never
 * costs a request to radosgw, so deleting it or changing its quota works
 * while radosgw is down.
 *
 * A bucket's policy is shared by all its bindings. It is computed from the
 * binding records, never edited in place, and written again until a fresh
 * read of the records gives what was written, so concurrent binds and
 * unbinds (from any number of brokers) settle on the policy the records
 * say. A bind grants in the policy before it makes the binding's user; an
 * unbind removes the user before it withdraws the grant. A grant never
 * reaches a user with other access than its record says, and a stale grant
 * only ever names a user that does not exist.
 */
#include <kairos/bucket.h>
#include <kairos/kairos.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding_int.h"
#include "bucket_int.h"
#include "cephx.h"
#include "fault.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "nameset.h"
#include "record.h"
#include "rgw.h"
#include "store.h"

#define TENANT_PREFIX "kairos_"
/* The uid, within the tenant, of the user that owns the project's buckets. */
#define OWNER "owner"
/* Room for "tenant$bucket.binding". */
#define UID_MAX (KAIROS_BUCKET_TENANT_MAX + 2 * KAIROS_NAME_MAX + 3)
/* The project object's key that says the project has an RGW owner. */
#define RGW_KEY "rgw"
/* Rounds of "write the policy, read the records again" before leaving it to the others. */
#define POLICY_ROUNDS 5
#define LIST_MAX      1000
/*
 * The bucket tag naming the intent that made a bucket, so that a request,
 * its cleanup and the reconciler adopt or remove only what that intent
 * made (see kairos/kind.h, claim).
 */
#define TAG_KEY "kairos-intent"
/* radosgw's max_buckets: 0 is no limit, -1 forbids creating any. */
#define RGW_NO_LIMIT   0
#define RGW_NO_BUCKETS (-1)

struct kairos_buckets {
    struct kairos_rgw *rgw;
    /* Projects whose owner (user, quotas) this handle has made ready. */
    struct kairos_nameset ready;
};

/* ---- names ---- */

static void tenant_of(char *buf, const char *project)
{
    size_t n = strlen(TENANT_PREFIX);

    snprintf(buf, KAIROS_BUCKET_TENANT_MAX + 1, "%s%s", TENANT_PREFIX, project);
    for (char *c = buf + n; *c; c++) {
        if (*c == '-')
            *c = '_';
    }
}

static void owner_uid(char *buf, const char *project)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];

    tenant_of(tenant, project);
    snprintf(buf, UID_MAX, "%s$%s", tenant, OWNER);
}

/* The binding's user within the tenant; '.' keeps it apart from "owner" and other buckets'. */
static void binding_user(char *buf, const char *bucket, const char *id)
{
    snprintf(buf, UID_MAX, "%s.%s", bucket, id);
}

static void binding_uid(char *buf, const char *project, const char *bucket, const char *id)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1], user[UID_MAX];

    tenant_of(tenant, project);
    binding_user(user, bucket, id);
    snprintf(buf, UID_MAX, "%s$%s", tenant, user);
}

static int check_bucket_name(const char *name, struct kairos_error *err)
{
    size_t len;

    if (kairos_name_check(name, "bucket", err) < 0)
        return -EINVAL;
    len = strlen(name);
    if (len < KAIROS_BUCKET_NAME_MIN || name[len - 1] == '-')
        return kairos_error_set(err, -EINVAL,
                                "bad bucket name '%s': S3 needs at least %d characters, the "
                                "last a letter or digit",
                                name, KAIROS_BUCKET_NAME_MIN);
    return 0;
}

static int configured(struct kairos *k, struct kairos_error *err)
{
    if (!k->buckets)
        return kairos_error_set(err, -EOPNOTSUPP, "buckets need radosgw: no [rgw] endpoint in %s",
                                k->cfg->path ? k->cfg->path : "the configuration");
    return 0;
}

/* Keep @e's message in @err under @rc (the first message wins there). */
static int pass(struct kairos_error *err, int rc, const struct kairos_error *e)
{
    return rc < 0 ? kairos_error_set(err, rc, "%s", e->msg[0] ? e->msg : strerror(-rc)) : rc;
}

/* ---- the project's owner ---- */

struct mark_step {
    const char *project;
    struct kairos_error *err;
};

static int mark_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct mark_step *st = arg;
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];
    json_t *j;

    if (!kairos_kvs_get(kvs, "meta"))
        return kairos_error_set(st->err, -ENOENT, "no project %s", st->project);
    if (kairos_kvs_get(kvs, RGW_KEY))
        return KAIROS_STORE_NOOP;
    tenant_of(tenant, st->project);
    j = json_pack("{s:s,s:I}", "tenant", tenant, "since", (json_int_t)kairos_now_ms());
    kairos_txn_set_json(txn, RGW_KEY, j);
    json_decref(j);
    return 0;
}

/* Record that @project has (or is about to have) an RGW owner. */
static int mark_project(struct kairos *k, const char *project, struct kairos_error *err)
{
    struct mark_step st = {.project = project, .err = err};
    const char *keys[] = {"meta", RGW_KEY};
    char oid[KAIROS_KEY_MAX];
    int rc;

    kairos_project_oid(oid, project);
    rc = kairos_store_update(k->meta, oid, keys, 2, false, mark_step, &st);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", project);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    return 0;
}

/* 1 when @project has an RGW owner (or had one made), 0 when not, or a librados error. */
static int has_owner(struct kairos *k, const char *project)
{
    const char *keys[] = {RGW_KEY};
    char oid[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc;

    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 1, &gen, &kvs);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    rc = kairos_kvs_get(&kvs, RGW_KEY) != NULL;
    kairos_kvs_free(&kvs);
    return rc;
}

static int64_t max_buckets(const struct kairos_quota *q)
{
    uint64_t n = q->kind[KAIROS_BUCKET].count;

    if (n == KAIROS_UNLIMITED)
        return RGW_NO_LIMIT;
    return n == 0 ? RGW_NO_BUCKETS : (int64_t)n;
}

/* The project's bucket quota on its owner: bytes in all, and how many buckets. */
static int owner_quota(struct kairos *k, const char *project, const struct kairos_quota *q,
                       struct kairos_error *err)
{
    uint64_t bytes = q->kind[KAIROS_BUCKET].bytes;
    char uid[UID_MAX];
    int rc;

    owner_uid(uid, project);
    rc = kairos_rgw_user_quota(k->buckets->rgw, uid, KAIROS_RGW_USER_QUOTA,
                               bytes == KAIROS_UNLIMITED ? -1 : (int64_t)bytes, -1, err);
    if (rc == 0)
        rc = kairos_rgw_user_set_max_buckets(k->buckets->rgw, uid, max_buckets(q), err);
    return rc;
}

/*
 * Make @project's owner: the marker first (so teardown finds it), then the
 * user, its quota, and a default bucket quota of nothing, which holds any
 * bucket that has no quota of its own yet.
 */
static int make_owner(struct kairos *k, const char *project, struct kairos_error *err)
{
    struct kairos_rgw *rgw = k->buckets->rgw;
    struct kairos_error e = {0};
    char uid[UID_MAX], display[64 + KAIROS_NAME_MAX];
    struct kairos_project p;
    int rc;

    rc = kairos_project_get(k, project, &p, err);
    if (rc == 0)
        rc = mark_project(k, project, err);
    if (rc < 0)
        return rc;
    kairos_fault("bucket.owner.marked");
    owner_uid(uid, project);
    snprintf(display, sizeof(display), "Kairos project %s", project);
    rc = kairos_rgw_user_create(rgw, uid, display, max_buckets(&p.quota), NULL, &e);
    if (rc < 0 && rc != -EEXIST)
        return pass(err, rc, &e);
    kairos_fault("bucket.owner.made");
    rc = owner_quota(k, project, &p.quota, err);
    if (rc == 0)
        rc = kairos_rgw_user_quota(rgw, uid, KAIROS_RGW_BUCKET_QUOTA, 0, 0, err);
    if (rc == 0)
        kairos_fault("bucket.owner.quota");
    return rc;
}

/*
 * The owner's user description (decref it) and S3 key (pointing into it).
 * With @make (the reservation of a create), the owner is made first unless
 * this handle already did.
 * Return: 0, -ENOENT (no owner and not @make), or a radosgw error.
 */
static int owner_key(struct kairos *k, const char *project, const struct kairos_reservation *make,
                     json_t **user, struct kairos_rgw_key *key, struct kairos_error *err)
{
    struct kairos_buckets *b = k->buckets;
    struct kairos_error e = {0};
    char uid[UID_MAX];
    int rc = 0;

    *user = NULL;
    owner_uid(uid, project);
    for (int attempt = 0; attempt < 2; attempt++) {
        /* Past its fence the project may be torn down: never make its owner again then. */
        if (make && kairos_now_ms() >= make->intent_ms + kairos_fence_ms(k))
            return kairos_error_set(err, -ETIMEDOUT, "bucket %s/%s: the request outlived its fence",
                                    project, make->name);
        if (make && !kairos_nameset_has(&b->ready, project)) {
            rc = make_owner(k, project, err);
            if (rc < 0)
                return rc;
            kairos_nameset_add(&b->ready, project);
        }
        kairos_error_clear(&e);
        rc = kairos_rgw_user_get(b->rgw, uid, user, &e);
        /* The owner went under another broker (project deleted and made again): make it anew. */
        if (rc != -ENOENT || !make)
            break;
        kairos_nameset_remove(&b->ready, project);
    }
    if (rc < 0)
        return pass(err, rc, &e);
    if (kairos_rgw_user_s3_key(*user, key) < 0) {
        json_decref(*user);
        *user = NULL;
        return kairos_error_set(err, -EIO, "RGW user %s has no S3 key", uid);
    }
    return 0;
}

/* ---- create ---- */

/* Set @name's quota; radosgw only writes to it from then on. */
static int bucket_quota(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                        uint64_t max_objects, struct kairos_error *err)
{
    char uid[UID_MAX];

    owner_uid(uid, project);
    return kairos_rgw_bucket_quota(k->buckets->rgw, uid, name, (int64_t)bytes,
                                   max_objects ? (int64_t)max_objects : -1, err);
}

static int remove_bucket(struct kairos *k, const char *project, const char *name, bool purge,
                         struct kairos_error *err)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];

    tenant_of(tenant, project);
    return kairos_rgw_bucket_remove(k->buckets->rgw, tenant, name, purge, err);
}

/*
 * The intent tag of bucket @name into @tag ("" when untagged).
 * Return: 0, -ENOENT (no such bucket), or a request error.
 */
static int read_tag(struct kairos *k, const char *project, const char *name,
                    char tag[KAIROS_INTENT_ID_LEN + 1], struct kairos_error *err)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];
    struct kairos_error e = {0};
    const char *t;
    json_t *b = NULL;
    int rc;

    tenant_of(tenant, project);
    rc = kairos_rgw_bucket_stats(k->buckets->rgw, tenant, name, &b, &e);
    if (rc == 0) {
        t = kairos_rgw_bucket_tag(b, TAG_KEY);
        snprintf(tag, KAIROS_INTENT_ID_LEN + 1, "%s", t ? t : "");
    }
    json_decref(b);
    return rc == -ENOENT ? rc : pass(err, rc, &e);
}

/* Remove bucket @name if @intent made it; another request's bucket stays. */
static int remove_ours(struct kairos *k, const char *project, const char *name, const char *intent)
{
    char tag[KAIROS_INTENT_ID_LEN + 1];
    int rc = read_tag(k, project, name, tag, NULL);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0 || strcmp(tag, intent) != 0)
        return rc;
    return remove_bucket(k, project, name, true, NULL);
}

/*
 * A create that failed after radosgw may have made its bucket: remove the
 * bucket if it is there untagged, while the request is within its fence.
 * Return: 0 (the name is free), or a negative errno (it may not be).
 */
static int drop_untagged(struct kairos *k, const struct kairos_reservation *res)
{
    char tag[KAIROS_INTENT_ID_LEN + 1];
    int rc;

    if (kairos_now_ms() >= res->intent_ms + kairos_fence_ms(k))
        return -ETIMEDOUT;
    rc = read_tag(k, res->project, res->name, tag, NULL);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0 && tag[0])
        return -EEXIST;
    return rc < 0 ? rc : remove_bucket(k, res->project, res->name, true, NULL);
}

/*
 * Make the owner if need be, the bucket, its intent tag and its quota. A
 * bucket of that name this intent did not make is never adopted: it is
 * another request's, and -EEXIST. radosgw has no compare-and-set for
 * tags, so the tag is written only within the request's fence, while no
 * reconciler may act on the intent. *@made: the bucket may exist because
 * of this call; *@tagged: it carries the intent's tag.
 */
static int make_bucket(struct kairos *k, const struct kairos_reservation *res, uint64_t max_objects,
                       bool *made, bool *tagged, struct kairos_error *err)
{
    const char *project = res->project, *name = res->name;
    char tag[KAIROS_INTENT_ID_LEN + 1];
    struct kairos_rgw_key key;
    json_t *owner = NULL;
    int rc;

    *made = *tagged = false;
    rc = owner_key(k, project, res, &owner, &key, err);
    if (rc < 0)
        return rc;
    rc = read_tag(k, project, name, tag, err);
    if (rc == 0) {
        if (strcmp(tag, res->intent) != 0) {
            rc = kairos_error_set(err, -EEXIST, "bucket %s exists, not made by this request", name);
            goto out;
        }
        *tagged = true;
    } else if (rc == -ENOENT) {
        kairos_error_clear(err);
        rc = kairos_rgw_s3_create_bucket(k->buckets->rgw, &key, name, err);
        /* Lost in the middle, radosgw may have made it all the same. */
        *made = rc == 0 || rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EIO;
        if (rc == 0)
            kairos_fault("bucket.create.made");
        if (rc == 0 && kairos_now_ms() >= res->intent_ms + kairos_fence_ms(k))
            rc = kairos_error_set(err, -ETIMEDOUT,
                                  "bucket %s: the request outlived its fence; the reconciler "
                                  "settles it",
                                  name);
        if (rc == 0)
            rc = kairos_rgw_s3_tag_bucket(k->buckets->rgw, &key, name, TAG_KEY, res->intent, err);
        *tagged = rc == 0;
        if (rc == 0)
            kairos_fault("bucket.create.tagged");
    }
    if (rc == 0)
        rc = bucket_quota(k, project, name, res->bytes, max_objects, err);
out:
    json_decref(owner);
    return rc;
}

int kairos_bucket_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         uint64_t max_objects, struct kairos_error *err)
{
    struct kairos_alloc_req req = {
        .project = project, .kind = KAIROS_BUCKET, .name = name, .bytes = bytes};
    struct kairos_reservation *res = NULL;
    bool made = false, tagged = false;
    char attrs[64];
    int rc;

    rc = configured(k, err);
    if (rc < 0)
        return rc;
    if (kairos_name_check(project, "project", err) < 0 || check_bucket_name(name, err) < 0)
        return -EINVAL;
    if (max_objects > KAIROS_SIZE_MAX)
        return kairos_error_set(err, -EINVAL, "max_objects is above 2^63-1");
    if (max_objects) {
        snprintf(attrs, sizeof(attrs), "{\"max_objects\":%" PRIu64 "}", max_objects);
        req.attrs = attrs;
    }
    rc = kairos_ledger_reserve(k, &req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("bucket.create.reserved");
    rc = make_bucket(k, res, max_objects, &made, &tagged, err);
    if (rc < 0) {
        /*
         * What this request made goes, before the reservation: tagged,
         * or untagged while the request is within its fence (nothing else
         * acts on the name then). A bucket radosgw would not take back
         * stays under the intent, not forgotten: the reconciler claims or
         * drops it (see op_claim()).
         */
        if (tagged && remove_bucket(k, project, name, true, NULL) < 0)
            goto out;
        if (made && !tagged && drop_untagged(k, res) < 0)
            goto out;
        kairos_ledger_release(k, res, NULL);
        goto out;
    }
    kairos_fault("bucket.create.quota");
    rc = kairos_ledger_commit(k, res, err);
    /* The reconciler gave up on us: the bucket must not outlive its record. */
    if (rc == -ESTALE)
        remove_ours(k, project, name, res->intent);
out:
    kairos_reservation_free(res);
    return rc;
}

/* ---- delete ---- */

static int destroy(struct kairos *k, const char *project, const char *name, bool purge,
                   struct kairos_error *err)
{
    int rc = kairos_binding_purge(k, project, KAIROS_BUCKET, name, err);

    if (rc == 0)
        rc = remove_bucket(k, project, name, purge, err);
    return rc;
}

/* Objects in the bucket, incomplete multipart uploads included; missing is 0. */
static int count_objects(struct kairos *k, const char *project, const char *name, uint64_t *n,
                         struct kairos_error *err)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];
    struct kairos_error e = {0};
    json_t *b = NULL;
    int rc;

    *n = 0;
    tenant_of(tenant, project);
    rc = kairos_rgw_bucket_stats(k->buckets->rgw, tenant, name, &b, &e);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        *n = kairos_rgw_usage_sum(b, "num_objects");
    json_decref(b);
    return pass(err, rc, &e);
}

int kairos_bucket_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                         struct kairos_error *err)
{
    bool force = flags & KAIROS_ALLOC_DELETE_FORCE;
    struct kairos_reservation *res = NULL;
    struct kairos_alloc cur;
    unsigned bindings = 0;
    uint64_t objects = 0;
    int rc;

    rc = configured(k, err);
    if (rc < 0)
        return rc;
    if (flags & ~KAIROS_ALLOC_DELETE_FORCE)
        return kairos_error_set(err, -EINVAL, "unknown delete flags");
    rc = kairos_ledger_get(k, project, KAIROS_BUCKET, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    if (!force) {
        rc = kairos_binding_count(k, project, KAIROS_BUCKET, name, &bindings, err);
        if (rc == 0 && bindings)
            rc = kairos_error_set(err, -EBUSY, "bucket %s has %u binding%s; unbind first or force",
                                  name, bindings, bindings == 1 ? "" : "s");
        if (rc == 0)
            rc = count_objects(k, project, name, &objects, err);
        if (rc == 0 && objects)
            rc = kairos_error_set(err, -ENOTEMPTY,
                                  "bucket %s holds %" PRIu64 " object%s; empty it first or force",
                                  name, objects, objects == 1 ? "" : "s");
        if (rc < 0)
            return rc;
    }
    rc = kairos_ledger_reserve_delete(k, project, KAIROS_BUCKET, name, &res, err);
    if (rc < 0)
        return rc;
    kairos_fault("bucket.delete.reserved");
    /* Unforced, radosgw itself refuses a bucket that filled meanwhile. */
    rc = destroy(k, project, name, force, err);
    if (rc == 0)
        kairos_fault("bucket.delete.removed");
    return kairos_ledger_settle(k, res, rc, err);
}

/* ---- info and list ---- */

static uint64_t quota_field(const json_t *bucket, const char *field)
{
    const json_t *q = json_object_get(bucket, "bucket_quota");
    json_int_t v = json_integer_value(json_object_get(q, field));

    return json_is_true(json_object_get(q, "enabled")) && v > 0 ? (uint64_t)v : 0;
}

int kairos_bucket_info(struct kairos *k, const char *project, const char *name,
                       struct kairos_bucket_info *out, struct kairos_error *err)
{
    struct kairos_error e = {0};
    json_t *b = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = configured(k, err);
    if (rc < 0)
        return rc;
    if (kairos_name_check(project, "project", err) < 0 || check_bucket_name(name, err) < 0)
        return -EINVAL;
    snprintf(out->name, sizeof(out->name), "%s", name);
    tenant_of(out->tenant, project);
    rc = kairos_rgw_bucket_stats(k->buckets->rgw, out->tenant, name, &b, &e);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no bucket %s in project %s", name, project);
    if (rc < 0)
        return pass(err, rc, &e);
    out->size = quota_field(b, "max_size");
    out->max_objects = quota_field(b, "max_objects");
    out->used = kairos_rgw_usage_sum(b, "size_actual");
    out->objects = kairos_rgw_usage_sum(b, "num_objects");
    json_decref(b);
    return 0;
}

int kairos_bucket_list(struct kairos *k, const char *project, const char *start_after, unsigned max,
                       struct kairos_alloc_page **out, struct kairos_error *err)
{
    return kairos_ledger_list(k, project, KAIROS_BUCKET, start_after, max, out, err);
}

/* ---- bindings and the bucket policy ---- */

static json_t *statement(const char *sid, json_t *principals, bool read_only, const char *bucket)
{
    static const char *const rw[] = {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        NULL,
    };
    static const char *const ro[] = {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", NULL};
    json_t *actions = json_array(), *resources = json_array();
    char arn[64 + KAIROS_NAME_MAX];

    for (const char *const *a = read_only ? ro : rw; *a; a++)
        json_array_append_new(actions, json_string(*a));
    snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
    json_array_append_new(resources, json_string(arn));
    snprintf(arn, sizeof(arn), "arn:aws:s3:::%s/*", bucket);
    json_array_append_new(resources, json_string(arn));
    return json_pack("{s:s,s:s,s:{s:O},s:o,s:o}", "Sid", sid, "Effect", "Allow", "Principal", "AWS",
                     principals, "Action", actions, "Resource", resources);
}

/*
 * The policy the binding records of @bucket call for, but for binding
 * @except (being revoked): one statement for read-write users, one for
 * read-only ones. *@out is NULL when no binding is left.
 */
static int policy_text(struct kairos *k, const char *project, const char *bucket,
                       const char *except, char **out, struct kairos_error *err)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1], user[UID_MAX], arn[2 * UID_MAX];
    char after[KAIROS_NAME_MAX + 1] = "";
    json_t *rw = json_array(), *ro = json_array(), *stmts = json_array(), *policy = NULL;
    struct kairos_binding_page *page;
    bool more;
    int rc;

    *out = NULL;
    tenant_of(tenant, project);
    do {
        rc = kairos_binding_list(k, project, KAIROS_BUCKET, bucket, after, LIST_MAX, &page, err);
        if (rc < 0)
            goto out;
        for (size_t i = 0; i < page->count; i++) {
            const struct kairos_binding *b = &page->items[i];
            if (except && strcmp(b->id, except) == 0)
                continue;
            binding_user(user, bucket, b->id);
            snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/%s", tenant, user);
            json_array_append_new(b->flags & KAIROS_BIND_READ_ONLY ? ro : rw, json_string(arn));
        }
        more = page->more && page->count;
        if (page->count)
            snprintf(after, sizeof(after), "%s", page->items[page->count - 1].id);
        kairos_binding_page_free(page);
    } while (more);
    if (json_array_size(rw))
        json_array_append_new(stmts, statement("kairos-rw", rw, false, bucket));
    if (json_array_size(ro))
        json_array_append_new(stmts, statement("kairos-ro", ro, true, bucket));
    if (json_array_size(stmts)) {
        policy = json_pack("{s:s,s:O}", "Version", "2012-10-17", "Statement", stmts);
        *out = policy ? json_dumps(policy, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!*out)
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
    }
out:
    json_decref(policy);
    json_decref(stmts);
    json_decref(rw);
    json_decref(ro);
    return rc;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Write the policy the records call for until the records stop changing under it. */
static int sync_policy(struct kairos *k, const char *project, const char *bucket,
                       const char *except, const struct kairos_rgw_key *owner,
                       struct kairos_error *err)
{
    char *last = NULL, *text = NULL;
    bool written = false;
    int rc = 0;

    for (int round = 0; rc == 0 && round < POLICY_ROUNDS; round++) {
        rc = policy_text(k, project, bucket, except, &text, err);
        if (rc < 0 || (written && same_text(text, last)))
            break;
        rc = kairos_rgw_s3_set_policy(k->buckets->rgw, owner, bucket, text, err);
        free(last);
        last = text;
        text = NULL;
        written = true;
    }
    free(text);
    free(last);
    return rc;
}

static json_t *credentials(struct kairos *k, const char *project, const char *bucket,
                           const char *uid, const struct kairos_rgw_key *key, bool read_only)
{
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];

    tenant_of(tenant, project);
    /* Path-style: a tenant's bucket has no DNS name of its own. */
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "endpoint",
                     kairos_rgw_endpoint(k->buckets->rgw), "region",
                     kairos_rgw_region(k->buckets->rgw), "bucket", bucket, "tenant", tenant, "user",
                     uid, "access_key", key->access_key, "secret_key", key->secret_key, "read_only",
                     read_only, "addressing_style", "path");
}

static int op_bind(void *arg, const char *project, const char *name, const char *id, unsigned flags,
                   char **out, struct kairos_error *err)
{
    struct kairos *k = arg;
    struct kairos_rgw *rgw;
    struct kairos_error e = {0};
    struct kairos_rgw_key owner_k, key;
    json_t *owner = NULL, *user = NULL, *creds;
    char uid[UID_MAX], display[64 + 2 * KAIROS_NAME_MAX];
    int rc;

    rc = configured(k, err);
    if (rc < 0)
        return rc;
    rgw = k->buckets->rgw;
    rc = owner_key(k, project, NULL, &owner, &owner_k, err);
    /* Granted before the user exists, so the user never has other access than its record says. */
    if (rc == 0)
        rc = sync_policy(k, project, name, NULL, &owner_k, err);
    json_decref(owner);
    if (rc < 0)
        return rc;
    binding_uid(uid, project, name, id);
    snprintf(display, sizeof(display), "Kairos binding %s of bucket %s/%s", id, project, name);
    rc = kairos_rgw_user_create(rgw, uid, display, RGW_NO_BUCKETS, &user, &e);
    /* Bound before: hand out the same key again. */
    if (rc == -EEXIST) {
        kairos_error_clear(&e);
        rc = kairos_rgw_user_get(rgw, uid, &user, &e);
    }
    if (rc < 0)
        return pass(err, rc, &e);
    rc = kairos_rgw_user_s3_key(user, &key) == 0
             ? 0
             : kairos_error_set(err, -EIO, "RGW user %s has no S3 key", uid);
    creds =
        rc == 0 ? credentials(k, project, name, uid, &key, flags & KAIROS_BIND_READ_ONLY) : NULL;
    if (rc == 0) {
        *out = kairos_credentials_dump(creds);
        if (!*out)
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
    }
    json_decref(user);
    return rc;
}

static int op_unbind(void *arg, const char *project, const char *name, const char *id,
                     struct kairos_error *err)
{
    struct kairos *k = arg;
    struct kairos_error e = {0};
    struct kairos_rgw_key owner_k;
    json_t *owner = NULL;
    char uid[UID_MAX];
    int rc;

    rc = configured(k, err);
    if (rc < 0)
        return rc;
    /* The key stops working here; the grant goes after. */
    binding_uid(uid, project, name, id);
    rc = kairos_rgw_user_remove(k->buckets->rgw, uid, false, err);
    if (rc < 0)
        return rc;
    rc = owner_key(k, project, NULL, &owner, &owner_k, &e);
    if (rc == 0)
        rc = sync_policy(k, project, name, id, &owner_k, &e);
    json_decref(owner);
    /* No owner or no bucket any more: no policy to withdraw from. */
    return rc == -ENOENT ? 0 : pass(err, rc, &e);
}

/* ---- backend ops ---- */

/*
 * A bucket made by a create that crashed before setting its quota: set it
 * from the ledger's record, so that the reconciler can commit a finished
 * bucket. *@bytes is then its size.
 */
static int finish_quota(struct kairos *k, const char *project, const char *name, uint64_t *bytes,
                        struct kairos_error *err)
{
    uint64_t max_objects;
    int rc = kairos_ledger_recorded(k, project, KAIROS_BUCKET, name, "max_objects", bytes,
                                    &max_objects, err);

    return rc < 0 ? rc : bucket_quota(k, project, name, *bytes, max_objects, err);
}

static int op_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                    struct kairos_error *err)
{
    struct kairos *k = arg;
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];
    struct kairos_error e = {0};
    json_t *b = NULL;
    int rc;

    *bytes = 0;
    tenant_of(tenant, project);
    rc = kairos_rgw_bucket_stats(k->buckets->rgw, tenant, name, &b, &e);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return pass(err, rc, &e);
    if (json_is_true(json_object_get(json_object_get(b, "bucket_quota"), "enabled")))
        *bytes = quota_field(b, "max_size");
    else
        rc = finish_quota(k, project, name, bytes, err);
    json_decref(b);
    return rc < 0 ? rc : 1;
}

/*
 * A create's bucket, if it is the intent's: tagged by it, or not tagged at
 * all (the create died before its tag; no request acts on the name once
 * its intent is past the fence, so the tag written here stays).
 */
static int op_claim(void *arg, const char *project, const char *name, const char *intent,
                    uint64_t *bytes, struct kairos_error *err)
{
    struct kairos *k = arg;
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1];
    char tag[KAIROS_INTENT_ID_LEN + 1];
    struct kairos_error e = {0};
    struct kairos_rgw_key key;
    json_t *owner = NULL, *b = NULL;
    int rc;

    *bytes = 0;
    rc = read_tag(k, project, name, tag, err);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0 && !tag[0]) {
        rc = owner_key(k, project, NULL, &owner, &key, err);
        if (rc == 0)
            rc = kairos_rgw_s3_tag_bucket(k->buckets->rgw, &key, name, TAG_KEY, intent, err);
        json_decref(owner);
        if (rc == 0)
            rc = read_tag(k, project, name, tag, err);
    }
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    if (strcmp(tag, intent) != 0)
        return 0; /* another request's bucket: not ours to adopt or remove */
    tenant_of(tenant, project);
    rc = kairos_rgw_bucket_stats(k->buckets->rgw, tenant, name, &b, &e);
    if (rc == 0 && json_is_true(json_object_get(json_object_get(b, "bucket_quota"), "enabled")))
        *bytes = quota_field(b, "max_size");
    else if (rc == 0)
        rc = finish_quota(k, project, name, bytes, err);
    json_decref(b);
    return rc < 0 ? pass(err, rc, &e) : 1;
}

static int op_destroy(void *arg, const char *project, const char *name, struct kairos_error *err)
{
    return destroy(arg, project, name, true, err);
}

static int op_used(void *arg, const char *project, uint64_t *bytes, struct kairos_error *err)
{
    struct kairos *k = arg;
    struct kairos_error e = {0};
    char uid[UID_MAX];
    json_t *list = NULL, *b;
    size_t i;
    int rc = has_owner(k, project);

    *bytes = 0;
    if (rc <= 0)
        return rc;
    owner_uid(uid, project);
    rc = kairos_rgw_user_buckets(k->buckets->rgw, uid, &list, &e);
    if (rc == -ENOENT)
        return 0;
    json_array_foreach(list, i, b)
    {
        *bytes += kairos_rgw_usage_sum(b, "size_actual");
    }
    json_decref(list);
    return pass(err, rc, &e);
}

static int op_teardown(void *arg, const char *project, struct kairos_error *err)
{
    struct kairos *k = arg;
    char uid[UID_MAX];
    int rc = has_owner(k, project);

    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    kairos_nameset_remove(&k->buckets->ready, project);
    if (rc == 0)
        return 0;
    /* Its buckets went in the cascade; purge catches any a crash left behind. */
    owner_uid(uid, project);
    return kairos_rgw_user_remove(k->buckets->rgw, uid, true, err);
}

static int op_apply_quota(void *arg, const char *project, const struct kairos_quota *quota,
                          struct kairos_error *err)
{
    struct kairos *k = arg;
    struct kairos_error e = {0};
    int rc = has_owner(k, project);

    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    if (rc == 0)
        return 0;
    rc = owner_quota(k, project, quota, &e);
    /* No owner yet: the first bucket sets the quota when it makes it. */
    return rc == -ENOENT ? 0 : pass(err, rc, &e);
}

int kairos_buckets_init(struct kairos *k, struct kairos_error *err)
{
    struct kairos_kind_ops ops = {
        .probe = op_probe,
        .claim = op_claim,
        .destroy = op_destroy,
        .used = op_used,
        .teardown = op_teardown,
        .apply_quota = op_apply_quota,
        .bind = op_bind,
        .unbind = op_unbind,
        .arg = k,
    };
    int rc;

    /* No radosgw configured: no bucket backend, and the kind stays unregistered. */
    if (!k->cfg->rgw.endpoint)
        return 0;
    k->buckets = calloc(1, sizeof(*k->buckets));
    if (!k->buckets)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_nameset_init(&k->buckets->ready);
    rc = kairos_rgw_open(k->cfg, &k->buckets->rgw, err);
    if (rc < 0)
        return rc;
    return kairos_kind_register(k, KAIROS_BUCKET, &ops);
}

void kairos_buckets_fini(struct kairos *k)
{
    if (!k->buckets)
        return;
    kairos_rgw_close(k->buckets->rgw);
    kairos_nameset_destroy(&k->buckets->ready);
    free(k->buckets);
    k->buckets = NULL;
}
