/*
 * kairos/project.h - projects: the unit that owns storage and has a quota.
 *
 * A project is one RADOS object in the metadata pool ("project.<name>")
 * whose omap holds its owner, quota, ledger counters and allocation
 * records, so admission touches one object however many projects exist.
 * An index object lists names (paged) and maps a platform owner (an
 * OpenStack project id, a Kubernetes namespace) to its project.
 *
 * Names match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? and are checked before they reach any
 * object name. All functions are thread-safe on a shared handle and safe
 * against other kairosd processes.
 */
#ifndef KAIROS_PROJECT_H
#define KAIROS_PROJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Longest platform name ("openstack", "kubernetes"). */
#define KAIROS_PLATFORM_MAX 31

/* Who a project belongs to on the calling platform. Both empty: nobody. */
struct kairos_owner {
    char platform[KAIROS_PLATFORM_MAX + 1]; /* a valid Kairos name, or "" */
    char id[KAIROS_OWNER_ID_MAX + 1];       /* see kairos_owner_id_valid() */
};

enum kairos_project_state {
    KAIROS_PROJECT_ACTIVE,
    KAIROS_PROJECT_CREATING, /* in the index, object not yet confirmed */
    KAIROS_PROJECT_DELETING, /* refuses new allocations; cleanup under way */
};

struct kairos_project {
    char name[KAIROS_NAME_MAX + 1];
    struct kairos_owner owner;
    enum kairos_project_state state;
    uint64_t created_ms;
    struct kairos_quota quota;
};

/* One page of kairos_project_list(): names, owners and states. */
struct kairos_project_page {
    struct kairos_project *items; /* quota is not filled in a listing */
    size_t count;
    bool more; /* pass items[count-1].name as @start_after for the next page */
};

/* kairos_project_delete() flags. */
#define KAIROS_DELETE_FORCE 0x1 /* remove every allocation first (cascade) */

/* kairos_project_set_quota() flags. */
#define KAIROS_QUOTA_BELOW_USAGE 0x1 /* allow a limit below what is allocated */

/**
 * kairos_project_create() - create a project with @quota.
 * @owner: may be NULL. An owner already mapped to another project is refused.
 *
 * Return: 0; -EINVAL (bad name, owner or quota); -EEXIST (name or owner
 * taken); -EBUSY (a project of that name is still being deleted); or a
 * librados error.
 */
int kairos_project_create(struct kairos *k, const char *name, const struct kairos_owner *owner,
                          const struct kairos_quota *quota, struct kairos_error *err);

/**
 * kairos_project_get() - read a project into @out.
 * Return: 0, -EINVAL (bad name), -ENOENT, or a librados error.
 */
int kairos_project_get(struct kairos *k, const char *name, struct kairos_project *out,
                       struct kairos_error *err);

/**
 * kairos_project_find() - the project that @owner maps to.
 * @name: receives the project name (KAIROS_NAME_MAX + 1 bytes).
 * Return: 0, -EINVAL, -ENOENT (no mapping), or a librados error.
 */
int kairos_project_find(struct kairos *k, const struct kairos_owner *owner, char *name,
                        struct kairos_error *err);

/**
 * kairos_project_list() - up to @max projects after @start_after (NULL for
 * the first page), in name order. One omap read per page.
 * @out: free with kairos_project_page_free().
 * Return: 0, -EINVAL (max 0 or over 1000), -ENOMEM, or a librados error.
 */
int kairos_project_list(struct kairos *k, const char *start_after, unsigned max,
                        struct kairos_project_page **out, struct kairos_error *err);

void kairos_project_page_free(struct kairos_project_page *page);

/**
 * kairos_project_set_quota() - replace the quota of @name, in the ledger
 * and where Ceph holds it natively (the CephFS quota of the project's
 * directory, the RGW user quota).
 * A limit below what is already allocated is refused with -EBUSY unless
 * @flags has KAIROS_QUOTA_BELOW_USAGE (then only new allocations are held).
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or a librados error; or a backend
 * error after the ledger took the new quota (admission follows it; the
 * native limit is behind until the next change).
 */
int kairos_project_set_quota(struct kairos *k, const char *name, const struct kairos_quota *quota,
                             unsigned flags, struct kairos_error *err);

/* In a quota patch: leave this limit as it is. */
#define KAIROS_QUOTA_KEEP (UINT64_MAX - 1)

/**
 * kairos_project_update_quota() - change some limits of @name's quota.
 * @patch: each limit is a new value, KAIROS_UNLIMITED, or KAIROS_QUOTA_KEEP
 *         to leave it as it is. Read and written in one guarded step, so
 *         concurrent updates of different limits all land.
 * @out:   if not NULL, the quota as written.
 * The native limits (CephFS, RGW) follow as kairos_project_set_quota() says.
 * Return: as kairos_project_set_quota().
 */
int kairos_project_update_quota(struct kairos *k, const char *name,
                                const struct kairos_quota *patch, unsigned flags,
                                struct kairos_quota *out, struct kairos_error *err);

/**
 * kairos_project_delete() - delete @name.
 * Refused with -EBUSY while the project holds allocations, unless @flags
 * has KAIROS_DELETE_FORCE: then each allocation's Ceph object is destroyed
 * through its kind's backend and released, the backends tear down the
 * project's namespace, directory and user, and the project's share of the
 * cluster budget is returned. An interrupted delete is finished by the
 * reconciler. So is the teardown when a create was under way as the
 * delete began (it could make the namespace, directory or user again):
 * the project shows as deleting until the reconciler's pass a lease later.
 * Return: 0, -EINVAL, -ENOENT, -EBUSY, or a backend or librados error.
 */
int kairos_project_delete(struct kairos *k, const char *name, unsigned flags,
                          struct kairos_error *err);

/**
 * kairos_quota_check() - is @q a sane quota? Limits are bytes up to
 * KAIROS_SIZE_MAX or KAIROS_UNLIMITED.
 * Return: 0 or -EINVAL with the offending field in @err.
 */
int kairos_quota_check(const struct kairos_quota *q, struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
