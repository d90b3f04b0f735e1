/*
 * source.h - where kairosfs gets a project's storage and credentials from.
 *
 * A source says which shares and volumes the mount shows and with which
 * Ceph identity each is reached. Two sources exist:
 *
 *   kfs_source_from_file()    a credentials file: the JSON object
 *                               {"project": P,
 *                                "shares":  {NAME: BINDING, ...},
 *                                "volumes": {NAME: BINDING, ...}}
 *                             where each BINDING is the credentials JSON that
 *                             kairos_binding_create() returned for that share
 *                             or volume; or one BINDING on its own (a share if
 *                             it has "fs_name", a volume if it has "image").
 *   kfs_source_from_config()  the shared kairos.conf and a project name: the
 *                             config's [ceph] identity (an administrator)
 *                             reaches the project's committed shares and
 *                             volumes, listed from the ledger with libkairos.
 *
 * A source is plain data; connecting is connect.h's job. Not thread-safe to
 * modify; read-only sharing is fine.
 */
#ifndef KFS_SOURCE_H
#define KFS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <kairos/error.h>

/* Who to be towards the cluster. Either @mon_host and @key, or @conf (and @keyring). */
struct kfs_identity {
    char *entity;   /* "client.NAME" */
    char *mon_host; /* monitor addresses, or NULL to take them from @conf */
    char *key;      /* cephx secret, or NULL to take it from @keyring or @conf */
    char *conf;     /* a ceph.conf to read first, or NULL */
    char *keyring;  /* a keyring file, or NULL */
};

struct kfs_share_src {
    char *name; /* the directory name under /shares: a valid Kairos name */
    struct kfs_identity id;
    char *fs_name; /* CephFS file system */
    char *path;    /* the share's directory in the file system */
    bool read_only;
};

struct kfs_volume_src {
    char *name; /* the file name under /volumes: a valid Kairos name */
    struct kfs_identity id;
    char *pool;  /* RBD pool */
    char *ns;    /* RBD namespace (the project's) */
    char *image; /* RBD image */
    bool read_only;
};

struct kfs_source {
    char *project;
    /*
     * Set when one identity reaches every share (the config source): the
     * project's directory, mounted once, with the shares below it. NULL
     * when each share has its own binding and is mounted on its own.
     */
    char *project_path;
    uint64_t timeout_ms; /* the config's [ceph] timeout; 0 when the source has none */
    struct kfs_share_src *shares;
    size_t nshares;
    struct kfs_volume_src *volumes;
    size_t nvolumes;
};

/**
 * kfs_source_from_file() - read a credentials file.
 * @path: the JSON file (see above). It holds secrets: keep it 0600.
 * @out:  on success a new source; free it with kfs_source_free().
 * @err:  on failure, "PATH: what is wrong" (a JSON error has its line).
 *
 * Return: 0, -ENOENT/-EACCES (cannot read @path), -EINVAL (bad content:
 * not JSON, a missing field, a bad name, a name twice), or -ENOMEM.
 */
int kfs_source_from_file(const char *path, struct kfs_source **out, struct kairos_error *err);

/**
 * kfs_source_from_json() - kfs_source_from_file() of credentials already
 * parsed (those fetched from kairosd, say); @path names them in messages.
 */
int kfs_source_from_json(const char *path, json_t *root, struct kfs_source **out,
                         struct kairos_error *err);

/**
 * kfs_source_from_config() - the project's shares and volumes from the ledger.
 * @conf:    a kairos.conf (see kairos/config.h).
 * @project: the project to mount.
 * @out:     on success a new source; free it with kfs_source_free().
 *
 * Connects with libkairos as the config's [ceph] client, lists the
 * project's committed shares and volumes (allocations still being created
 * or deleted are left out) and disconnects again.
 *
 * Return: 0, -EINVAL (bad config or project name), -ENOENT (no such
 * project, or an unreadable @conf), -ETIMEDOUT (no cluster), -ENOMEM, or
 * a librados error.
 */
int kfs_source_from_config(const char *conf, const char *project, struct kfs_source **out,
                           struct kairos_error *err);

struct kairos;
struct kairos_config;

/**
 * kfs_source_from_kairos() - kfs_source_from_config() through a connection
 * already open (@k, of config @cfg), as a mount that follows its project
 * keeps one (refresh.h) instead of connecting every time.
 */
int kfs_source_from_kairos(struct kairos *k, const struct kairos_config *cfg, const char *project,
                           struct kfs_source **out, struct kairos_error *err);

/**
 * kfs_source_select() - keep only share @share or volume @volume of @src
 * (one of them is given): kairosfs -o share=NAME or -o volume=NAME.
 * Return: 0, or -ENOENT (@src has no such share or volume; @src unchanged).
 */
int kfs_source_select(struct kfs_source *src, const char *share, const char *volume,
                      struct kairos_error *err);

/* kfs_source_free() - free a source; NULL is a no-op. */
void kfs_source_free(struct kfs_source *src);

/* kfs_identity_equal() - do @a and @b name the same identity on the same cluster? */
bool kfs_identity_equal(const struct kfs_identity *a, const struct kfs_identity *b);

#endif
