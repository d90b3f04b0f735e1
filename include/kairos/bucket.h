/*
 * kairos/bucket.h - buckets: S3 object storage through radosgw.
 *
 * Every project is an RGW tenant, "kairos_<project>" with each '-' written
 * '_' (tenant names allow only [A-Za-z0-9_], and a Kairos name never holds
 * '_', so the mapping is one to one). The tenant's user "owner" owns the
 * project's buckets; it is made on the project's first bucket, with an RGW
 * user quota equal to the project's bucket quota, so radosgw itself holds
 * the project's aggregate limit, and a bucket limit equal to its bucket
 * count. Its default bucket quota is zero objects: a bucket caught half
 * made by a crash holds nothing until Kairos gives it its own quota.
 *
 * A bucket is named in S3 by its Kairos name: names are unique within a
 * tenant, and a user of the tenant (a binding) reaches the bucket by that
 * name alone; from outside the tenant it is "kairos_<project>:<name>". S3
 * wants 3 to 63 characters ending in a letter or digit, so a bucket name is
 * a Kairos name of at least 3 characters that does not end in '-'. Each
 * bucket carries an RGW bucket quota of its size (radosgw counts in KiB:
 * rounded up) and optionally a number of objects. radosgw refuses a write
 * that would pass either, counting each object as at least 4 KiB.
 *
 * A binding of a bucket (kairos/binding.h) is an RGW user of the tenant,
 * "<bucket>.<binding>", that may create no bucket, with its own S3 key.
 * The bucket's policy grants it that bucket and nothing else: read and
 * write (objects, listing, multipart uploads) or, read-only,
 * s3:GetObject, s3:ListBucket and s3:GetBucketLocation. Unbinding removes
 * the user and its key.
 * The credentials are JSON: endpoint, region, bucket, tenant, user,
 * access_key, secret_key, read_only, addressing_style ("path").
 *
 * Buckets need [rgw] in the configuration; without it create, delete,
 * info and binding give -EOPNOTSUPP. A radosgw that is down gives
 * -ECONNREFUSED, -EHOSTUNREACH or -ETIMEDOUT with the endpoint in the
 * message, within [rgw] connect_timeout and timeout.
 *
 * Every call reserves and commits through the ledger, is idempotent by
 * name, and leaves nothing behind when it fails. Thread-safe on a shared
 * handle.
 */
#ifndef KAIROS_BUCKET_H
#define KAIROS_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/ledger.h>
#include <kairos/name.h>
#include <kairos/volume.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Shortest bucket name S3 accepts. */
#define KAIROS_BUCKET_NAME_MIN 3
/* Room for the tenant "kairos_<project>". */
#define KAIROS_BUCKET_TENANT_MAX (8 + KAIROS_NAME_MAX)

struct kairos_bucket_info {
    char name[KAIROS_NAME_MAX + 1];            /* also its S3 name within the tenant */
    char tenant[KAIROS_BUCKET_TENANT_MAX + 1]; /* RGW tenant of the project */
    uint64_t size;                             /* RGW bucket quota, bytes */
    uint64_t max_objects;                      /* RGW bucket quota; 0 when unlimited */
    uint64_t used;    /* bytes as the quota counts them (each object at least 4 KiB) */
    uint64_t objects; /* incomplete multipart uploads included */
};

/**
 * kairos_bucket_create() - a bucket of @bytes in @project.
 * @max_objects: a limit on objects, or 0 for none.
 * Return: 0; -EINVAL (bad name or size); -ENOENT (no project); -EDQUOT;
 * -ENOSPC; -EEXIST (exists with another size or object limit); -EBUSY;
 * -EOPNOTSUPP (no radosgw configured); or a radosgw error such as
 * -ECONNREFUSED (see rgw.h). Nothing is left reserved, except when
 * radosgw failed after making the bucket and would not remove it again:
 * then the intent stays and the reconciler finishes the bucket, as a
 * repeat of the request would.
 */
int kairos_bucket_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         uint64_t max_objects, struct kairos_error *err);

/**
 * kairos_bucket_delete() - delete a bucket.
 * Without KAIROS_ALLOC_DELETE_FORCE it is refused with -EBUSY while it has
 * bindings and with -ENOTEMPTY while it holds objects (incomplete multipart
 * uploads included); with it, bindings are revoked and objects deleted.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, -ENOTEMPTY, or a radosgw error.
 */
int kairos_bucket_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                         struct kairos_error *err);

/**
 * kairos_bucket_info() - quota and use of a bucket, from radosgw's stats.
 * Return: 0, -EINVAL, -ENOENT, -EOPNOTSUPP, or a radosgw error.
 */
int kairos_bucket_info(struct kairos *k, const char *project, const char *name,
                       struct kairos_bucket_info *out, struct kairos_error *err);

/**
 * kairos_bucket_list() - up to @max (1..1000) of @project's buckets after
 * @start_after (NULL for the first), in name order, as the ledger records
 * them (size and state; kairos_bucket_info() has the use).
 * @out: free with kairos_alloc_page_free().
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_bucket_list(struct kairos *k, const char *project, const char *start_after, unsigned max,
                       struct kairos_alloc_page **out, struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
