/*
 * rgw.h - a client of radosgw: the admin ops API and the few S3 calls the
 * bucket backend needs, over libcurl, signed with SigV4 (sigv4.h).
 *
 * Admin ops are signed with the [rgw] access_key/secret_key of the config
 * (a radosgw user with "users=*;buckets=*" caps); S3 calls are signed with
 * the key they are given. Every request has the config's connect timeout
 * and total timeout, so a radosgw that is down or stuck gives an error,
 * not a hang:
 *
 *   radosgw refuses the connection        -ECONNREFUSED
 *   host or network unreachable           -EHOSTUNREACH / -ENETUNREACH
 *   no answer in time                     -ETIMEDOUT
 *   connection lost mid-request           -ECONNRESET
 *
 * with "radosgw at http://host:port: METHOD PATH: connection refused" in
 * the error. An answer other than 2xx becomes an errno from its S3 error
 * code (radosgw leaves <Message> empty; the code says it all):
 *
 *   NoSuchUser, NoSuchBucket, NoSuchKey, NoSuchBucketPolicy   -ENOENT
 *   UserAlreadyExists, BucketAlreadyExists, KeyExists         -EEXIST
 *   BucketNotEmpty                                            -ENOTEMPTY
 *   AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId   -EACCES
 *   QuotaExceeded, TooManyBuckets                             -EDQUOT
 *   InvalidBucketName, InvalidArgument, MalformedPolicy, ...  -EINVAL
 *   SlowDown, ServiceUnavailable                              -EAGAIN
 *   anything else: by HTTP status (4xx -EINVAL/-EACCES/-ENOENT/-EEXIST,
 *   501 -EOPNOTSUPP, 5xx -EIO)
 *
 * User ids are "tenant$user" (RGW's own spelling); a bucket of a tenant is
 * named to the admin API as "tenant/bucket", and to S3 as the bare name by
 * a user of that tenant.
 *
 * Thread safety: a struct kairos_rgw is read-only once open and may be
 * shared; each request uses its own curl handle.
 */
#ifndef KAIROS_RGW_H
#define KAIROS_RGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <kairos/config.h>
#include <kairos/error.h>

struct kairos_rgw;

/* An S3 key pair; the strings are the caller's. */
struct kairos_rgw_key {
    const char *access_key;
    const char *secret_key;
};

/**
 * kairos_rgw_open() - a client of the radosgw in @cfg's [rgw] section.
 * Does not connect: a radosgw that is down fails the first request, not this.
 * @cfg: must outlive the client.
 * Return: 0, -EINVAL (no endpoint or key, or an endpoint with a path), or -ENOMEM.
 */
int kairos_rgw_open(const struct kairos_config *cfg, struct kairos_rgw **out,
                    struct kairos_error *err);

/* kairos_rgw_close() - free the client; NULL is a no-op. */
void kairos_rgw_close(struct kairos_rgw *rgw);

/* The endpoint URL and the signing region; owned by the client. */
const char *kairos_rgw_endpoint(const struct kairos_rgw *rgw);
const char *kairos_rgw_region(const struct kairos_rgw *rgw);

/* One request, for what the helpers below do not cover. */
struct kairos_rgw_call {
    const char *method; /* "GET", "PUT", "POST", "DELETE" */
    const char *path;   /* "/admin/user", "/bucket"; not yet encoded */
    const char *query;  /* encoded query string without '?', or NULL */
    const char *body;   /* NULL for none */
    size_t body_len;
    const char *content_type;        /* of the body, or NULL */
    const struct kairos_rgw_key *as; /* NULL: sign with the admin key */
};

/**
 * kairos_rgw_request() - send @call and wait for the answer.
 * @answer: if not NULL and the answer has a body, the body parsed as JSON
 *          (decref it); NULL for an empty body.
 * Return: 0 for a 2xx answer, or a negative errno as in the table above.
 */
int kairos_rgw_request(struct kairos_rgw *rgw, const struct kairos_rgw_call *call, json_t **answer,
                       struct kairos_error *err);

/* kairos_rgw_errno() - the errno for an S3 error @code (may be NULL) with @status. */
int kairos_rgw_errno(long status, const char *code);

/* ---- admin ops: users ---- */

/**
 * kairos_rgw_user_create() - create user @uid with a generated S3 key.
 * @max_buckets: 0 for no limit, -1 for none at all (it can create no bucket).
 * @user: if not NULL, the new user as radosgw describes it (keys included).
 * Return: 0, -EEXIST, or a request error.
 */
int kairos_rgw_user_create(struct kairos_rgw *rgw, const char *uid, const char *display_name,
                           int64_t max_buckets, json_t **user, struct kairos_error *err);

/* kairos_rgw_user_get() - user @uid with its keys. Return: 0, -ENOENT, or a request error. */
int kairos_rgw_user_get(struct kairos_rgw *rgw, const char *uid, json_t **user,
                        struct kairos_error *err);

/* kairos_rgw_user_set_max_buckets() - as in kairos_rgw_user_create(). */
int kairos_rgw_user_set_max_buckets(struct kairos_rgw *rgw, const char *uid, int64_t max_buckets,
                                    struct kairos_error *err);

/**
 * kairos_rgw_user_remove() - remove @uid and its keys; with @purge_data its
 * buckets and objects too (otherwise a user with buckets is refused).
 * Return: 0 (also when there is no such user), or a request error.
 */
int kairos_rgw_user_remove(struct kairos_rgw *rgw, const char *uid, bool purge_data,
                           struct kairos_error *err);

/* Which quota of a user kairos_rgw_user_quota() sets. */
enum kairos_rgw_quota_scope {
    KAIROS_RGW_USER_QUOTA,   /* all the user's buckets together */
    KAIROS_RGW_BUCKET_QUOTA, /* each bucket of the user that has no quota of its own */
};

/**
 * kairos_rgw_user_quota() - enable a quota of @max_size bytes and
 * @max_objects objects (-1: no limit on that) on @uid.
 * Return: 0, -ENOENT, or a request error.
 */
int kairos_rgw_user_quota(struct kairos_rgw *rgw, const char *uid,
                          enum kairos_rgw_quota_scope scope, int64_t max_size, int64_t max_objects,
                          struct kairos_error *err);

/**
 * kairos_rgw_user_s3_key() - the first S3 key of a user as radosgw describes it.
 * The strings point into @user.
 * Return: 0, or -ENOENT (the user has no S3 key).
 */
int kairos_rgw_user_s3_key(const json_t *user, struct kairos_rgw_key *out);

/* ---- admin ops: buckets ---- */

/**
 * kairos_rgw_bucket_quota() - enable a quota on bucket @bucket of @uid:
 * @max_size bytes (radosgw takes KiB here: rounded up) and @max_objects
 * (-1: no limit).
 * Return: 0, -ENOENT, or a request error.
 */
int kairos_rgw_bucket_quota(struct kairos_rgw *rgw, const char *uid, const char *bucket,
                            int64_t max_size, int64_t max_objects, struct kairos_error *err);

/**
 * kairos_rgw_bucket_stats() - bucket @bucket of @tenant with its "usage"
 * and "bucket_quota", as radosgw describes it.
 * Return: 0, -ENOENT, or a request error.
 */
int kairos_rgw_bucket_stats(struct kairos_rgw *rgw, const char *tenant, const char *bucket,
                            json_t **out, struct kairos_error *err);

/* kairos_rgw_user_buckets() - an array of kairos_rgw_bucket_stats() of every bucket of @uid. */
int kairos_rgw_user_buckets(struct kairos_rgw *rgw, const char *uid, json_t **out,
                            struct kairos_error *err);

/**
 * kairos_rgw_bucket_remove() - remove bucket @bucket of @tenant; with
 * @purge_objects its objects too.
 * Return: 0 (also when there is no such bucket), -ENOTEMPTY (objects and
 * no @purge_objects), or a request error.
 */
int kairos_rgw_bucket_remove(struct kairos_rgw *rgw, const char *tenant, const char *bucket,
                             bool purge_objects, struct kairos_error *err);

/* ---- S3, signed as a given user ---- */

/**
 * kairos_rgw_s3_create_bucket() - create @bucket as the user of @key.
 * Return: 0 (also when that user owns it already), -EEXIST (someone else
 * does), -EDQUOT (the user may create no more), or a request error.
 */
int kairos_rgw_s3_create_bucket(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                                const char *bucket, struct kairos_error *err);

/**
 * kairos_rgw_s3_set_policy() - set @bucket's bucket policy to @policy (JSON
 * text) as the owner of @key; NULL @policy removes it.
 * Return: 0, -ENOENT (no such bucket), -EINVAL (a policy radosgw refuses),
 * or a request error.
 */
int kairos_rgw_s3_set_policy(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                             const char *bucket, const char *policy, struct kairos_error *err);

/**
 * kairos_rgw_s3_tag_bucket() - set @bucket's tags to the one tag @tag =
 * @value (names and ids: no XML special characters), as the owner of @key.
 * Return: 0, -ENOENT (no such bucket), -EINVAL, or a request error.
 */
int kairos_rgw_s3_tag_bucket(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                             const char *bucket, const char *tag, const char *value,
                             struct kairos_error *err);

/* kairos_rgw_bucket_tag() - the value of tag @tag in kairos_rgw_bucket_stats() JSON, or NULL. */
const char *kairos_rgw_bucket_tag(const json_t *bucket, const char *tag);

/* kairos_rgw_usage_sum() - the sum of @field over the categories of a bucket's "usage". */
uint64_t kairos_rgw_usage_sum(const json_t *bucket, const char *field);

#endif
