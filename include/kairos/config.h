/*
 * kairos/config.h - the one configuration file of kairosd, kairosfs and
 * kairosctl.
 *
 * An INI file (parsed with inih). Sections and keys, with defaults:
 *
 *   [ceph]      conf (required), client = client.admin, keyring, timeout = 30s
 *   [pools]     metadata = kairos_meta, block = rbd, cephfs_data = cephfs_data,
 *               cephfs_name = cephfs, share_root = /kairos
 *   [rgw]       endpoint, access_key, secret_key, region = default,
 *               connect_timeout = 3s, timeout = 15s
 *   [server]    listen = 127.0.0.1:8080, tls_cert, tls_key, tokens,
 *               broker_user, broker_password, max_body = 1M, threads = 4,
 *               timeout = 30s, async_bytes = 1T
 *   [registry]  shards = 64, retention = 1d
 *   [policy]    capacity = policies/capacity.ini, plans = policies/plans.ini
 *   [reconcile] lease = 5m, interval = 1m, scan_rate = 1000
 *   [audit]     max_age = 90d
 *   [client]    url = http://127.0.0.1:8080, token_file
 *   [log]       format = text (or json)
 *
 * Relative paths are taken relative to the directory of the config file.
 * README.md documents every key. An unknown section or key, a key given
 * twice, or a bad value fails the load with "FILE:LINE: ..." in the error.
 *
 * Thread safety: a loaded config is read-only and may be shared.
 *
 * In libkairos-client (pkg-config kairos-client), which needs no Ceph library.
 */
#ifndef KAIROS_CONFIG_H
#define KAIROS_CONFIG_H

#include <stdint.h>

#include <kairos/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos_config {
    char *path; /* the file this was loaded from */

    struct {
        char *conf;    /* ceph.conf */
        char *client;  /* cephx entity, "client.admin" */
        char *keyring; /* NULL: whatever ceph.conf says */
        uint64_t timeout_ms;
    } ceph;

    struct {
        char *metadata;    /* RADOS pool of the ledger (omap records) */
        char *block;       /* RBD pool for volumes */
        char *cephfs_data; /* data pool of the file system */
        char *cephfs_name; /* file system for shares */
        char *share_root;  /* absolute CephFS directory holding project dirs */
    } pools;

    struct {
        char *endpoint; /* http(s)://host:port; NULL: buckets unavailable */
        char *access_key;
        char *secret_key;
        char *region;
        uint64_t connect_timeout_ms;
        uint64_t timeout_ms;
    } rgw;

    struct {
        char *listen; /* host:port */
        char *tls_cert;
        char *tls_key;
        char *tokens; /* file of hashed bearer tokens */
        char *broker_user;
        char *broker_password;
        uint64_t max_body;
        uint64_t threads;
        uint64_t timeout_ms;         /* an idle connection is closed after this */
        uint64_t request_timeout_ms; /* a change not done by then answers 503 */
        uint64_t async_bytes; /* a resize by this much, or a volume delete this large, is async */
    } server;

    struct {
        char *capacity; /* capacity policy file */
        char *plans;    /* quota plans file */
    } policy;

    struct {
        uint64_t shards;       /* omap objects the registry and tokens spread over */
        uint64_t retention_ms; /* finished operations and deletions are remembered this long */
    } registry;

    struct {
        uint64_t lease_ms;    /* an intent older than this is stale */
        uint64_t interval_ms; /* between two background passes */
        uint64_t scan_rate;   /* drift scan: objects per second, 0 off */
    } reconcile;

    struct {
        uint64_t max_age_ms; /* audit day objects older than this are trimmed */
    } audit;

    struct {
        char *url; /* kairosd for kairosctl and kairosfs */
        char *token_file;
        char *cacert; /* CAs that sign kairosd's certificate; NULL: the system's */
    } client;

    struct {
        char *format; /* kairosd's log lines: "text" or "json" */
    } log;
};

/**
 * kairos_config_load() - read and check a config file.
 * @path: the file.
 * @out:  on success a new config; free it with kairos_config_free().
 * @err:  on failure, "PATH:LINE: what is wrong" (or "PATH: ..." for a
 *        missing required key or an unreadable file).
 *
 * Return: 0, -ENOENT/-EACCES (cannot read @path), -EINVAL (bad content),
 * or -ENOMEM.
 */
int kairos_config_load(const char *path, struct kairos_config **out, struct kairos_error *err);

/**
 * kairos_config_free() - free a config from kairos_config_load(); NULL is a no-op.
 */
void kairos_config_free(struct kairos_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
