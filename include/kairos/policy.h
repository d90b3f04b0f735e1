/*
 * kairos/policy.h - the capacity policy and quota plans, shipped as INI
 * files in policies/ and loaded at start.
 *
 * Capacity policy (policies/capacity.ini):
 *
 *   [capacity]
 *   usable = auto        ; raw capacity / replica count of the block pool,
 *                        ; read from the cluster; or a size: 147T
 *   full_ratio = auto    ; Ceph's full ratio, from the OSD map; or 0.95
 *   headroom = 10%       ; of capacity, kept free below the full ratio
 *   [overcommit]
 *   volume = 3           ; thin RBD: 3 bytes provisioned per byte of budget
 *   share = 1
 *   bucket = 1
 *
 * Admission keeps the sum of allocated "effective bytes" (bytes divided by
 * the kind's overcommit) at or below usable * (full_ratio - headroom).
 *
 * Plans (policies/plans.ini): one section per plan with a project quota
 * (volume.bytes, volume.count, share.bytes, share.count, bucket.bytes,
 * bucket.count, snapshot.count, total.bytes) and the size of one allocation
 * provisioned through the broker API (volume.size, share.size, bucket.size);
 * a [defaults] section names the plan given to projects that the broker
 * API creates. The service catalog is built from the plans.
 *
 * Errors name the file and line. A loaded policy is read-only and may be
 * shared between threads.
 */
#ifndef KAIROS_POLICY_H
#define KAIROS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos_capacity_policy {
    uint64_t usable;   /* bytes; 0 means "read from the cluster" */
    double full_ratio; /* 0 means "read from the OSD map" */
    double headroom;   /* fraction of usable capacity */
    double overcommit[KAIROS_KIND_COUNT];
};

struct kairos_plan {
    char *name; /* a valid Kairos name */
    char *description;
    struct kairos_quota quota;
    uint64_t size[KAIROS_KIND_COUNT]; /* 0: the plan offers no such allocation */
};

struct kairos_policy {
    struct kairos_capacity_policy capacity;
    struct kairos_plan *plans; /* in file order */
    size_t nplans;
    char *default_plan; /* NULL when there are no plans */
};

/**
 * kairos_policy_load() - read the capacity policy and the plans.
 * @capacity_path: NULL for the built-in default (auto capacity and full
 *                 ratio, 10% headroom, volumes overcommitted 2x).
 * @plans_path:    NULL for no plans.
 * @out:           a new policy; free with kairos_policy_free().
 *
 * Return: 0, -ENOENT/-EACCES (unreadable file), -EINVAL ("FILE:LINE: ..."
 * in @err), -ENOMEM.
 */
int kairos_policy_load(const char *capacity_path, const char *plans_path,
                       struct kairos_policy **out, struct kairos_error *err);

void kairos_policy_free(struct kairos_policy *policy);

/**
 * kairos_policy_plan() - the plan named @name, or NULL. Owned by @policy.
 */
const struct kairos_plan *kairos_policy_plan(const struct kairos_policy *policy, const char *name);

/**
 * kairos_policy_effective() - the share of the cluster budget that @bytes
 * of @kind take: @bytes / overcommit, rounded up; 0 for snapshots.
 */
uint64_t kairos_policy_effective(const struct kairos_policy *policy, enum kairos_kind kind,
                                 uint64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
