/*
 * cephx.h - cephx entities for bindings, through the monitors.
 *
 * A binding of a volume or share is
 * "client.kairos.<project>.<kind>.<allocation>.<id>": a binding id names a
 * binding of one allocation only, so "vm-1" of two volumes must be two
 * entities, or the second grant would move the first key's caps. Its caps
 * are computed from the allocation; making it again with the same caps
 * returns the same key, so a repeated bind hands out the same credentials.
 */
#ifndef KAIROS_CEPHX_H
#define KAIROS_CEPHX_H

#include <jansson.h>
#include <kairos/error.h>

struct kairos;

/* Room for "client.kairos.<project>.<kind>.<allocation>.<id>". */
#define KAIROS_ENTITY_MAX (16 + 16 + 3 * 64)

void kairos_cephx_entity(char *buf, const char *project, const char *kind, const char *alloc,
                         const char *id);

/*
 * kairos_cephx_grant() - create @entity with @caps ("mon", "...", "osd",
 * "...", ... NULL), or give an existing one exactly these caps.
 * @key: receives the secret, malloc'ed.
 * Return: 0 or the monitor's error.
 */
int kairos_cephx_grant(struct kairos *k, const char *entity, const char *const *caps, char **key,
                       struct kairos_error *err);

/* kairos_cephx_revoke() - remove @entity; a missing one is success. */
int kairos_cephx_revoke(struct kairos *k, const char *entity, struct kairos_error *err);

/*
 * kairos_cephx_credentials() - the part of a binding's credentials every
 * Ceph client needs: {"mon_host", "user", "entity", "key", "keyring"}.
 * Return: a new JSON object, or NULL (with @err set).
 */
json_t *kairos_cephx_credentials(struct kairos *k, const char *entity, const char *key,
                                 struct kairos_error *err);

/*
 * kairos_cephx_mon_host() - ceph.conf's mon_host for the monitor map
 * @monmap ("mon dump" as JSON): "[v2:ADDR,v1:ADDR],[...]", however long.
 * @out: malloc'ed on success.
 * Return: 0, -EIO (no monitor address in the map), or -ENOMEM.
 */
int kairos_cephx_mon_host(const json_t *monmap, char **out);

/**
 * kairos_cephx_cluster_mon_host() - that string from the cluster's monitor
 * map, as ceph.conf's mon_host takes it. @out: malloc'ed.
 * Return: 0 or the monitor's error (-EIO for an unreadable map).
 */
int kairos_cephx_cluster_mon_host(struct kairos *k, char **out, struct kairos_error *err);

/* kairos_credentials_dump() - @creds as malloc'ed JSON text; steals @creds. */
char *kairos_credentials_dump(json_t *creds);

#endif
