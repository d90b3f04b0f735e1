/*
 * kairos.c - the libkairos handle: cluster connection, policy, backends.
 */
#include "kairos_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kairos/capacity.h>

#include "bucket_int.h"
#include "cephx.h"
#include "record.h"
#include "share_int.h"
#include "snapshot_int.h"
#include "volume_int.h"

static int connect_cluster(struct kairos *k, struct kairos_error *err)
{
    const struct kairos_config *cfg = k->cfg;
    char secs[32];
    int rc;

    rc = rados_create2(&k->rados, "ceph", cfg->ceph.client, 0);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot create a RADOS handle for %s: %s",
                                cfg->ceph.client, strerror(-rc));
    rc = rados_conf_read_file(k->rados, cfg->ceph.conf);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read %s: %s", cfg->ceph.conf, strerror(-rc));
    if (cfg->ceph.keyring && (rc = rados_conf_set(k->rados, "keyring", cfg->ceph.keyring)) < 0)
        return kairos_error_set(err, rc, "bad keyring %s", cfg->ceph.keyring);
    /* A lost cluster must give -ETIMEDOUT, not a caller stuck forever. */
    snprintf(secs, sizeof(secs), "%" PRIu64, (cfg->ceph.timeout_ms + 999) / 1000);
    rados_conf_set(k->rados, "client_mount_timeout", secs);
    rados_conf_set(k->rados, "rados_mon_op_timeout", secs);
    rados_conf_set(k->rados, "rados_osd_op_timeout", secs);
    /* Clones of golden images in another namespace need clone format 2. */
    rados_conf_set(k->rados, "rbd_default_clone_format", "2");
    rc = rados_connect(k->rados);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot connect to the cluster of %s as %s: %s",
                                cfg->ceph.conf, cfg->ceph.client, strerror(-rc));
    rc = rados_ioctx_create(k->rados, cfg->pools.metadata, &k->meta);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc,
                                "metadata pool '%s' does not exist; create it with "
                                "'ceph osd pool create %s'",
                                cfg->pools.metadata, cfg->pools.metadata);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot open pool '%s': %s", cfg->pools.metadata,
                                strerror(-rc));
    return 0;
}

int kairos_open(const struct kairos_config *cfg, struct kairos **out, struct kairos_error *err)
{
    struct kairos *k;
    int rc;

    *out = NULL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    k->cfg = cfg;
    pthread_mutex_init(&k->lock, NULL);
    for (int i = 0; i < KAIROS_PROJECT_STRIPES; i++)
        pthread_mutex_init(&k->project_stripes[i], NULL);
    pthread_cond_init(&k->reconciler_wake, NULL);
    rc = kairos_policy_load(cfg->policy.capacity, cfg->policy.plans, &k->policy, err);
    if (rc < 0)
        goto fail;
    rc = connect_cluster(k, err);
    if (rc < 0)
        goto fail;
    rc = kairos_capacity_refresh(k, err);
    if (rc == 0)
        rc = kairos_volumes_init(k, err);
    if (rc == 0)
        rc = kairos_shares_init(k, err);
    if (rc == 0)
        rc = kairos_buckets_init(k, err);
    if (rc == 0)
        rc = kairos_snapshots_init(k, err);
    if (rc < 0)
        goto fail;
    *out = k;
    return 0;
fail:
    kairos_close(k);
    return rc;
}

void kairos_close(struct kairos *k)
{
    if (!k)
        return;
    kairos_reconciler_stop(k);
    kairos_buckets_fini(k);
    kairos_shares_fini(k);
    kairos_volumes_fini(k);
    if (k->meta)
        rados_ioctx_destroy(k->meta);
    if (k->rados)
        rados_shutdown(k->rados);
    kairos_policy_free(k->policy);
    json_decref(k->pools);
    pthread_cond_destroy(&k->reconciler_wake);
    pthread_mutex_destroy(&k->lock);
    for (int i = 0; i < KAIROS_PROJECT_STRIPES; i++)
        pthread_mutex_destroy(&k->project_stripes[i]);
    free(k);
}

uint64_t kairos_fence_ms(const struct kairos *k)
{
    return k->cfg->reconcile.lease_ms / 2;
}

const struct kairos_config *kairos_get_config(const struct kairos *k)
{
    return k->cfg;
}

const struct kairos_policy *kairos_get_policy(const struct kairos *k)
{
    return __atomic_load_n(&k->policy, __ATOMIC_ACQUIRE);
}

struct kairos_policy *kairos_swap_policy(struct kairos *k, struct kairos_policy *policy)
{
    /* One pointer store: a call reads the old policy or the new, whole. */
    return __atomic_exchange_n(&k->policy, policy, __ATOMIC_ACQ_REL);
}

int kairos_ping(struct kairos *k, struct kairos_error *err)
{
    rados_read_op_t op = rados_create_read_op();
    int rc;

    if (!op)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    /* A stat of the index reaches the monitors' map and an OSD. */
    rados_read_op_assert_exists(op);
    rc = rados_read_op_operate(op, k->meta, KAIROS_INDEX_OID, 0);
    rados_release_read_op(op);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cluster unreachable: %s", strerror(-rc));
    return 0;
}

int kairos_cluster_info(struct kairos *k, struct kairos_cluster_info *out, struct kairos_error *err)
{
    char *hosts = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = rados_cluster_fsid(k->rados, out->fsid, sizeof(out->fsid));
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read the cluster's fsid: %s", strerror(-rc));
    rc = kairos_cephx_cluster_mon_host(k, &hosts, err);
    if (rc < 0)
        return rc;
    snprintf(out->mon_host, sizeof(out->mon_host), "%s", hosts);
    free(hosts);
    return 0;
}

pthread_mutex_t *kairos_project_stripe(struct kairos *k, const char *project)
{
    /* FNV-1a: short names, and only an even spread matters. */
    uint32_t h = 2166136261u;

    for (const unsigned char *c = (const unsigned char *)project; *c; c++)
        h = (h ^ *c) * 16777619u;
    return &k->project_stripes[h % KAIROS_PROJECT_STRIPES];
}

int kairos_kind_register(struct kairos *k, enum kairos_kind kind, const struct kairos_kind_ops *ops)
{
    if ((unsigned)kind >= KAIROS_KIND_COUNT || !ops || !ops->probe)
        return -EINVAL;
    pthread_mutex_lock(&k->lock);
    k->kinds[kind] = *ops;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

int kairos_kind_ops_get(struct kairos *k, enum kairos_kind kind, struct kairos_kind_ops *out)
{
    int rc = 0;

    pthread_mutex_lock(&k->lock);
    *out = k->kinds[kind];
    if (!out->probe)
        rc = -ENOSYS;
    pthread_mutex_unlock(&k->lock);
    return rc;
}

int kairos_mon_json(struct kairos *k, const char *cmd, json_t **out, struct kairos_error *err)
{
    char *outbuf = NULL, *outs = NULL;
    size_t outbuf_len = 0, outs_len = 0;
    const char *cmds[1] = {cmd};
    json_error_t jerr;
    int rc;

    if (out)
        *out = NULL;
    rc = rados_mon_command(k->rados, cmds, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len);
    if (rc < 0) {
        kairos_error_set(err, rc, "monitor refused %s: %.*s", cmd, (int)outs_len, outs ? outs : "");
        goto out;
    }
    if (out) {
        *out = json_loadb(outbuf ? outbuf : "", outbuf_len, 0, &jerr);
        if (!*out)
            rc = kairos_error_set(err, -EIO, "monitor answered %s with bad JSON: %s", cmd,
                                  jerr.text);
    }
out:
    rados_buffer_free(outbuf);
    rados_buffer_free(outs);
    return rc;
}
