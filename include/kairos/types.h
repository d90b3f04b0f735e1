/*
 * kairos/types.h - the vocabulary shared by every libkairos module: kinds of
 * allocation, quotas and usage.
 *
 * Plain data; no functions here touch the cluster. Thread-safe.
 *
 * In libkairos-client (pkg-config kairos-client), which needs no Ceph library.
 */
#ifndef KAIROS_TYPES_H
#define KAIROS_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include <kairos/name.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a project can hold. Snapshots count against their own limit. */
enum kairos_kind {
    KAIROS_VOLUME,   /* RBD image */
    KAIROS_SHARE,    /* CephFS directory */
    KAIROS_BUCKET,   /* RGW bucket */
    KAIROS_SNAPSHOT, /* of a volume or a share; counted, not sized */
    KAIROS_KIND_COUNT
};

/* A limit that is not set. */
#define KAIROS_UNLIMITED UINT64_MAX

/* Room for an allocation name: a snapshot is "<kind>:<parent>@<snap>". */
#define KAIROS_ALLOC_NAME_MAX (16 + 2 * KAIROS_NAME_MAX + 2)

struct kairos_limit {
    uint64_t bytes; /* KAIROS_UNLIMITED when not set; unused for snapshots */
    uint64_t count; /* KAIROS_UNLIMITED when not set */
};

/* A project's quota: bytes and count per kind, and optionally total bytes. */
struct kairos_quota {
    struct kairos_limit kind[KAIROS_KIND_COUNT];
    uint64_t total_bytes; /* volumes + shares + buckets; KAIROS_UNLIMITED if not set */
};

struct kairos_usage_kind {
    struct kairos_limit quota;
    uint64_t alloc_bytes; /* provisioned, pending reservations included */
    uint64_t alloc_count;
    int64_t used_bytes; /* measured by the backend; -1 when not measured */
};

/* One project's quota, allocation and measured use, per kind and in total. */
struct kairos_usage {
    struct kairos_usage_kind kind[KAIROS_KIND_COUNT];
    uint64_t total_quota_bytes; /* KAIROS_UNLIMITED when not set */
    uint64_t total_alloc_bytes;
    int64_t total_used_bytes; /* -1 when no kind was measured */
};

/**
 * kairos_kind_name() - "volume", "share", "bucket", "snapshot"; "?" if out
 * of range. Static storage.
 */
const char *kairos_kind_name(enum kairos_kind kind);

/**
 * kairos_kind_parse() - the kind named @s.
 * Return: 0, or -EINVAL for an unknown name.
 */
int kairos_kind_parse(const char *s, enum kairos_kind *out);

/**
 * kairos_quota_unlimited() - fill @q with "no limit" everywhere.
 */
void kairos_quota_unlimited(struct kairos_quota *q);

#ifdef __cplusplus
}
#endif
#endif
