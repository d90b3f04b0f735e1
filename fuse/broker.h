/*
 * broker.h - kairosfs's credentials fetched from kairosd with a project
 * token: the project's shares and volumes are listed over the REST API and
 * each is bound, as this node, to get a key that reaches it alone.
 *
 * A node's binding id is "kfs-<hostname>" (with a hash of the hostname when
 * that is no valid name), so a remount on the same node gets the same keys
 * back instead of piling up new ones.
 */
#ifndef KAIROSFS_BROKER_H
#define KAIROSFS_BROKER_H

#include <jansson.h>
#include <kairos/error.h>

/**
 * kfs_broker_fetch() - the credentials of @project's shares and volumes.
 * @url:   kairosd ("https://host:port").
 * @token: a token of @project (or the admin token).
 * @cacert: PEM file of the CAs that sign kairosd's certificate; NULL: the system's.
 * @out:   {"project", "shares": {name: creds}, "volumes": {name: creds}}
 *         as a credentials file holds them; the caller decrefs.
 * Return: 0, -EINVAL (a bad project name, URL or token), -EACCES (token refused), -ENOENT (no
 * project), -ECONNREFUSED (kairosd unreachable), -EIO (an unexpected answer), -ENOMEM.
 */
int kfs_broker_fetch(const char *url, const char *token, const char *cacert, const char *project,
                     json_t **out, struct kairos_error *err);

/**
 * kfs_broker_fetch_one() - kfs_broker_fetch() of one share or volume alone
 * (kairosfs -o share=NAME or -o volume=NAME): only that one is bound, so
 * the node gets no key to the project's other allocations.
 * @kind: "shares" or "volumes".
 * @name: the share or volume.
 * @out:  as kfs_broker_fetch()'s, with that one allocation.
 * Return: as kfs_broker_fetch(); -ENOENT also when there is no such @name.
 */
int kfs_broker_fetch_one(const char *url, const char *token, const char *cacert,
                         const char *project, const char *kind, const char *name, json_t **out,
                         struct kairos_error *err);

/**
 * kfs_broker_bound() - is this node's binding of @name (@kind: "shares" or
 * "volumes") of @project still there?
 * Return: 1 (bound), 0 (unbound, the allocation gone, or the token
 * refused: access must end), or a negative errno when kairosd cannot tell
 * (unreachable, an unexpected answer).
 */
int kfs_broker_bound(const char *url, const char *token, const char *cacert, const char *project,
                     const char *kind, const char *name, struct kairos_error *err);

/**
 * kfs_broker_list() - the shares or volumes (@kind) of @project, bound or not.
 * @out: {name: state} ("ready", "creating", "deleting", ...); the caller decrefs.
 * Return: as kfs_broker_fetch(): -EACCES (token refused) and -ENOENT (no
 * project) are kairosd's word; -ECONNREFUSED, -EIO and the like are not.
 */
int kfs_broker_list(const char *url, const char *token, const char *cacert, const char *project,
                    const char *kind, json_t **out, struct kairos_error *err);

#endif
