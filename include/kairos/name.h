/*
 * kairos/name.h - the names Kairos accepts for projects and allocations.
 *
 * A name becomes part of a RADOS object name, an RBD namespace, a CephFS
 * path and a cephx entity, so it is checked before it reaches any of them:
 * [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? (DNS-label style, as docs/openapi.json
 * says: no trailing '-'). No dot, slash, space or upper case, so it can
 * never climb a path, split a key, or alias another name.
 *
 * Pure functions; thread-safe.
 *
 * In libkairos-client (pkg-config kairos-client), which needs no Ceph library.
 */
#ifndef KAIROS_NAME_H
#define KAIROS_NAME_H

#include <stdbool.h>

#include <kairos/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest valid name, NUL not included. */
#define KAIROS_NAME_MAX 63

/* Longest platform owner id (an OpenStack project id, a Kubernetes namespace). */
#define KAIROS_OWNER_ID_MAX 128

/**
 * kairos_name_valid() - true when @name matches [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?.
 * @name: may be NULL (not valid).
 */
bool kairos_name_valid(const char *name);

/**
 * kairos_name_check() - kairos_name_valid() with an explanation.
 * @what: what the name is for, for the message ("project", "volume").
 *
 * Return: 0, or -EINVAL with a message in @err saying what is wrong.
 */
int kairos_name_check(const char *name, const char *what, struct kairos_error *err);

/**
 * kairos_owner_id_valid() - true for 1..128 characters of [A-Za-z0-9._:/-],
 * which covers OpenStack project ids, Kubernetes namespaces and
 * "cluster/namespace" pairs.
 */
bool kairos_owner_id_valid(const char *id);

#ifdef __cplusplus
}
#endif
#endif
