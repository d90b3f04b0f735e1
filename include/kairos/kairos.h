/*
 * kairos/kairos.h - the libkairos handle, and the umbrella header.
 *
 * A struct kairos is one connection to the cluster (one rados_t), the
 * loaded policy, and the backends that stand behind each kind of
 * allocation. Open one per process and share it between threads:
 *
 *   struct kairos_config *cfg;
 *   struct kairos *k;
 *   kairos_config_load("/etc/kairos/kairos.conf", &cfg, &err);
 *   kairos_open(cfg, &k, &err);
 *   ... kairos_project_create(k, ...), kairos_ledger_reserve(k, ...) ...
 *   kairos_close(k);
 *   kairos_config_free(cfg);
 *
 * All state lives in RADOS; nothing is kept on local disk, so any number of
 * processes may open the same cluster at once.
 */
#ifndef KAIROS_KAIROS_H
#define KAIROS_KAIROS_H

#include <kairos/audit.h>
#include <kairos/binding.h>
#include <kairos/bucket.h>
#include <kairos/cache.h>
#include <kairos/capacity.h>
#include <kairos/config.h>
#include <kairos/drift.h>
#include <kairos/error.h>
#include <kairos/kind.h>
#include <kairos/ledger.h>
#include <kairos/name.h>
#include <kairos/policy.h>
#include <kairos/process.h>
#include <kairos/project.h>
#include <kairos/reconcile.h>
#include <kairos/registry.h>
#include <kairos/share.h>
#include <kairos/token.h>
#include <kairos/types.h>
#include <kairos/units.h>
#include <kairos/version.h>
#include <kairos/volume.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/**
 * kairos_open() - connect to the cluster named in @cfg and load its policy.
 * @cfg: must outlive the handle; kairos_close() does not free it.
 * @out: the new handle; close it with kairos_close(). Thread-safe.
 *
 * Connects as [ceph] client with [ceph] timeout applied to monitor and OSD
 * operations, so a lost cluster gives -ETIMEDOUT rather than a hang. Loads
 * the [policy] files. Checks that the metadata pool exists.
 *
 * Return: 0; -ENOENT (metadata pool missing), -ETIMEDOUT / -ENOTCONN (no
 * cluster), -EINVAL (bad policy; "FILE:LINE" in @err), -ENOMEM, or a
 * librados error.
 */
int kairos_open(const struct kairos_config *cfg, struct kairos **out, struct kairos_error *err);

/**
 * kairos_close() - stop background work, disconnect, free. NULL is a no-op.
 * No other call on @k may be running or start after this.
 */
void kairos_close(struct kairos *k);

/* The config and policy the handle was opened with; owned by the handle's caller/handle. */
const struct kairos_config *kairos_get_config(const struct kairos *k);
const struct kairos_policy *kairos_get_policy(const struct kairos *k);

/**
 * kairos_swap_policy() - admit by @policy from now on (kairosd's reload).
 * @policy: from kairos_policy_load(); owned by @k from now on.
 *
 * Calls already running may still read the policy replaced, so it is
 * returned rather than freed: the caller frees it with
 * kairos_policy_free() once no such call can run (after kairos_close()).
 * Thread-safe against every other call on @k.
 */
struct kairos_policy *kairos_swap_policy(struct kairos *k, struct kairos_policy *policy);

/**
 * kairos_ping() - is the cluster reachable and the metadata pool usable?
 * Return: 0, or the error that a real request would meet.
 */
int kairos_ping(struct kairos *k, struct kairos_error *err);

/* Room for a monitor map's addresses: a handful of monitors, two addresses each. */
#define KAIROS_MON_HOST_MAX 2048

/* Where clients find the cluster (not secret: no key in it). */
struct kairos_cluster_info {
    char fsid[40];                      /* the cluster's fsid, a UUID */
    char mon_host[KAIROS_MON_HOST_MAX]; /* "[v2:a:p,v1:a:p],[...]", as ceph.conf takes it */
};

/**
 * kairos_cluster_info() - the cluster's fsid and monitor addresses, read
 * from the cluster now (the monitor map can change). Clients outside
 * libkairos, such as the OpenStack drivers, need them to name an image by
 * its cluster and to build a share's export location.
 * Return: 0, or the monitors' error (-ETIMEDOUT for a lost cluster).
 */
int kairos_cluster_info(struct kairos *k, struct kairos_cluster_info *out,
                        struct kairos_error *err);

#ifdef __cplusplus
}
#endif
#endif
