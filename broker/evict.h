/*
 * evict.h - end the live sessions of a binding's cephx entity.
 *
 * Removing an entity only stops new connections: a client that is already
 * connected keeps its tickets and goes on. So unbind (and a drift
 * revocation) also blocklists the entity's clients at the OSDs and evicts
 * its CephFS sessions. Clients are found through the monitors' session
 * lists, which name each client's entity, global id and address; a watch
 * or lock on an image names the global id and address. Only clients of
 * the entity go, so another binding's client of the same image (the other
 * end of a live migration) keeps working.
 */
#ifndef KAIROS_EVICT_H
#define KAIROS_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <rbd/librbd.h>

struct kairos;

/* Room for "[v2:...]" or "127.0.0.1:0/123456789" forms of one address. */
#define KAIROS_ADDR_MAX 128

/* One client session of a monitor. */
struct kairos_session {
    char entity[256];           /* "client.kairos.p.volume.v.b" */
    uint64_t global_id;         /* the "client.N" of its watches and locks */
    char addr[KAIROS_ADDR_MAX]; /* "127.0.0.1:0/3142621394", as blocklists take it */
};

/*
 * kairos_mon_sessions() - the client sessions of every monitor.
 * @out: malloc'ed array of *@n; the caller frees it.
 * Return: 0, or the first monitor's error.
 */
int kairos_mon_sessions(struct kairos *k, struct kairos_session **out, size_t *n,
                        struct kairos_error *err);

/*
 * kairos_blocklist() - fence the client at @addr from the OSDs (for the
 * cluster's default time, an hour), waiting for the OSD map that says so.
 * Return: 0 or the monitor's error.
 */
int kairos_blocklist(struct kairos *k, const char *addr, struct kairos_error *err);

/*
 * kairos_image_watchers() - the watchers of open image @img.
 * @w: malloc'ed array of *@n; free with rbd_watchers_list_cleanup() and free().
 * Return: 0 or an RBD error.
 */
int kairos_image_watchers(rbd_image_t img, rbd_image_watcher_t **w, size_t *n);

/*
 * kairos_evict_volume_clients() - blocklist every client of @entity (a
 * binding @binding of volume @volume); with no other binding of the
 * volume left, also any client still watching the image that no monitor
 * knows (a key used elsewhere before, or a dead client's watch); then
 * break the exclusive lock if one of them held it, so that the next
 * binding's client takes it at once.
 * @count: clients blocklisted (may be NULL).
 * Return: 0, or an error (the caller's intent stays for a retry).
 */
int kairos_evict_volume_clients(struct kairos *k, const char *project, const char *volume,
                                const char *binding, const char *entity, unsigned *count,
                                struct kairos_error *err);

/*
 * kairos_evict_share_clients() - evict @entity's CephFS sessions from
 * every MDS (which blocklists them) and blocklist its other clients (raw
 * RADOS ones).
 * Return: 0 or an error.
 */
int kairos_evict_share_clients(struct kairos *k, const char *entity, unsigned *count,
                               struct kairos_error *err);

#endif
