/*
 * evict.c - end the live sessions of a binding's entity (see evict.h).
 *
 * Verified on Pacific 16.2.15: a monitor's "sessions" lists each client
 * with its entity_name, global_id and address (the nonce included), and
 * the address is the one its watches and locks show; "osd blocklist add"
 * of it makes the client's next OSD request fail with ESHUTDOWN within
 * about a second. The MDS's "client evict" with the filter
 * "auth_name=<id>" (the entity without "client.") closes its CephFS
 * sessions and blocklists them the same way.
 */
#include "evict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cephfs/libcephfs.h>
#include <jansson.h>
#include <rbd/librbd.h>

#include <kairos/binding.h>

#include "kairos_int.h"
#include "share_int.h"

/* Watchers an image is listed with at first; the listing grows on -ERANGE. */
#define WATCHERS_START 16
/* Room for the lockers of an image (one exclusive lock, a few advisory ones). */
#define LOCKERS_BUF 4096

/* ---- monitors ---- */

static int mon_target(struct kairos *k, const char *mon, const char *cmd, json_t **out,
                      struct kairos_error *err)
{
    char *outbuf = NULL, *outs = NULL;
    size_t outlen = 0, outslen = 0;
    const char *cmds[1] = {cmd};
    json_error_t jerr;
    int rc;

    *out = NULL;
    rc = rados_mon_command_target(k->rados, mon, cmds, 1, "", 0, &outbuf, &outlen, &outs, &outslen);
    if (rc < 0) {
        kairos_error_set(err, rc, "monitor %s refused %s: %.*s", mon, cmd, (int)outslen,
                         outs ? outs : "");
    } else {
        *out = json_loadb(outbuf ? outbuf : "", outlen, 0, &jerr);
        if (!*out)
            rc = kairos_error_set(err, -EIO, "monitor %s answered %s with bad JSON", mon, cmd);
    }
    rados_buffer_free(outbuf);
    rados_buffer_free(outs);
    return rc;
}

/* "ADDR/NONCE" of a session's first address, as "osd blocklist add" takes it. */
static void session_addr(const json_t *s, char *buf)
{
    const json_t *a = json_array_get(json_object_get(json_object_get(s, "addrs"), "addrvec"), 0);
    const char *addr = json_string_value(json_object_get(a, "addr"));

    buf[0] = '\0';
    if (addr)
        snprintf(buf, KAIROS_ADDR_MAX, "%s/%lld", addr,
                 (long long)json_integer_value(json_object_get(a, "nonce")));
}

static int add_sessions(const json_t *list, struct kairos_session **out, size_t *n)
{
    size_t i;
    const json_t *s;

    json_array_foreach(list, i, s)
    {
        const char *type = json_string_value(json_object_get(s, "con_type"));
        const char *entity = json_string_value(json_object_get(s, "entity_name"));
        struct kairos_session *grown;

        if (!type || strcmp(type, "client") != 0 || !entity)
            continue;
        grown = realloc(*out, (*n + 1) * sizeof(**out));
        if (!grown)
            return -ENOMEM;
        *out = grown;
        snprintf(grown[*n].entity, sizeof(grown[*n].entity), "%s", entity);
        grown[*n].global_id = (uint64_t)json_integer_value(json_object_get(s, "global_id"));
        session_addr(s, grown[*n].addr);
        if (grown[*n].addr[0])
            (*n)++;
    }
    return 0;
}

int kairos_mon_sessions(struct kairos *k, struct kairos_session **out, size_t *n,
                        struct kairos_error *err)
{
    json_t *map = NULL, *m;
    size_t i;
    int rc;

    *out = NULL;
    *n = 0;
    rc = kairos_mon_json(k, "{\"prefix\":\"mon dump\",\"format\":\"json\"}", &map, err);
    /* A client talks to one monitor: ask each. */
    json_array_foreach(rc == 0 ? json_object_get(map, "mons") : NULL, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        json_t *list = NULL;

        if (!name)
            continue;
        rc = mon_target(k, name, "{\"prefix\":\"sessions\",\"format\":\"json\"}", &list, err);
        if (rc == 0)
            rc = add_sessions(list, out, n);
        json_decref(list);
        if (rc < 0)
            break;
    }
    json_decref(map);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc == -ENOMEM ? kairos_error_set(err, rc, "out of memory") : rc;
}

int kairos_blocklist(struct kairos *k, const char *addr, struct kairos_error *err)
{
    char *a = strdup(addr);
    int rc;

    if (!a)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    /* 0: the cluster's default expiry (mon_osd_blocklist_default_expire, an hour). */
    rc = rados_blocklist_add(k->rados, a, 0);
    free(a);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot blocklist %s: %s", addr, strerror(-rc));
    return 0;
}

/* Blocklist every client of @entity; remember their global ids in @ids. */
static int fence_entity(struct kairos *k, const struct kairos_session *s, size_t n,
                        const char *entity, uint64_t *ids, size_t *nids, unsigned *count,
                        struct kairos_error *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(s[i].entity, entity) != 0)
            continue;
        rc = kairos_blocklist(k, s[i].addr, err);
        if (rc == 0) {
            ids[(*nids)++] = s[i].global_id;
            (*count)++;
        }
    }
    return rc;
}

/* ---- volumes ---- */

static bool known_id(const struct kairos_session *s, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i].global_id == id)
            return true;
    }
    return false;
}

/* Does volume @volume have a binding other than @binding? */
static int other_bindings(struct kairos *k, const char *project, const char *volume,
                          const char *binding)
{
    struct kairos_binding_page *page = NULL;
    int rc = kairos_binding_list(k, project, KAIROS_VOLUME, volume, NULL, 2, &page, NULL);
    int others = 0;

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < page->count; i++)
        others += strcmp(page->items[i].id, binding) != 0;
    kairos_binding_page_free(page);
    return others > 0;
}

int kairos_image_watchers(rbd_image_t img, rbd_image_watcher_t **w, size_t *n)
{
    int rc;

    *n = WATCHERS_START;
    *w = NULL;
    do {
        free(*w);
        *w = calloc(*n, sizeof(**w));
        if (!*w)
            return -ENOMEM;
        rc = rbd_watchers_list(img, *w, n);
    } while (rc == -ERANGE);
    if (rc < 0)
        *n = 0;
    return rc;
}

/* Break every lock of @img whose holder's address is in @fenced (global ids). */
static int break_fenced_locks(rbd_image_t img, const uint64_t *fenced, size_t nfenced)
{
    char tag[256], clients[LOCKERS_BUF], cookies[LOCKERS_BUF], addrs[LOCKERS_BUF];
    size_t tlen = sizeof(tag), clen = sizeof(clients), klen = sizeof(cookies), alen = sizeof(addrs);
    int exclusive = 0;
    ssize_t n =
        rbd_list_lockers(img, &exclusive, tag, &tlen, clients, &clen, cookies, &klen, addrs, &alen);
    const char *c = clients, *ck = cookies;
    int rc = 0;

    for (ssize_t i = 0; i < n; i++) {
        unsigned long long id = 0;
        if (sscanf(c, "client.%llu", &id) == 1) {
            for (size_t j = 0; j < nfenced; j++) {
                if (fenced[j] == id && rbd_break_lock(img, c, ck) < 0 && rc == 0)
                    rc = -EIO;
            }
        }
        c += strlen(c) + 1;
        ck += strlen(ck) + 1;
    }
    return n < 0 ? (int)n : rc;
}

int kairos_evict_volume_clients(struct kairos *k, const char *project, const char *volume,
                                const char *binding, const char *entity, unsigned *count,
                                struct kairos_error *err)
{
    struct kairos_session *s = NULL;
    rbd_image_watcher_t *w = NULL;
    uint64_t *fenced = NULL;
    size_t n = 0, nw = 0, nfenced = 0;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    unsigned dummy = 0;
    int rc, others;

    if (!count)
        count = &dummy;
    *count = 0;
    rc = kairos_mon_sessions(k, &s, &n, err);
    if (rc < 0)
        return rc;
    rc = rados_ioctx_create(k->rados, k->cfg->pools.block, &io);
    if (rc == 0) {
        rados_ioctx_set_namespace(io, project);
        /* Read-write: breaking a lock needs it; opening takes no lock. */
        rc = rbd_open(io, volume, &img, NULL);
    }
    if (rc == 0)
        rc = kairos_image_watchers(img, &w, &nw);
    /* The volume went with its bindings: its clients are fenced through their sessions. */
    if (rc == -ENOENT)
        rc = 0;
    fenced = calloc(n + nw + 1, sizeof(*fenced));
    if (rc == 0 && !fenced)
        rc = -ENOMEM;
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot list the clients of %s/%s: %s", project, volume,
                         strerror(-rc));
        goto out;
    }
    rc = fence_entity(k, s, n, entity, fenced, &nfenced, count, err);
    /*
     * A watcher no monitor knows cannot be told apart from another
     * binding's; with no other binding left it is no one's to keep.
     */
    others = rc == 0 && nw ? other_bindings(k, project, volume, binding) : 1;
    for (size_t i = 0; rc == 0 && others == 0 && i < nw; i++) {
        if (known_id(s, n, (uint64_t)w[i].id) ||
            (uint64_t)w[i].id == rados_get_instance_id(k->rados))
            continue;
        char addr[KAIROS_ADDR_MAX];
        snprintf(addr, sizeof(addr), "%s", w[i].addr);
        rc = kairos_blocklist(k, addr, err);
        if (rc == 0) {
            fenced[nfenced++] = (uint64_t)w[i].id;
            (*count)++;
        }
    }
    if (rc == 0 && img && nfenced) {
        rc = break_fenced_locks(img, fenced, nfenced);
        if (rc < 0)
            kairos_error_set(err, rc, "cannot break the lock of %s/%s: %s", project, volume,
                             strerror(-rc));
    }
out:
    if (w)
        rbd_watchers_list_cleanup(w, nw);
    free(w);
    free(fenced);
    free(s);
    if (img)
        rbd_close(img);
    if (io)
        rados_ioctx_destroy(io);
    return rc;
}

/* ---- shares ---- */

/* Close @entity's sessions on every MDS; "client evict" blocklists them too. */
static int evict_mds(struct kairos *k, const char *entity, struct kairos_error *err)
{
    struct ceph_mount_info *cm;
    char *outbuf = NULL, *outs = NULL, *cmd = NULL;
    size_t outlen = 0, outslen = 0;
    json_t *j;
    int rc = kairos_shares_mount(k, &cm, err);

    if (rc < 0)
        return rc;
    /* The session filter matches the entity's id: "kairos.p.share.s.b", not "client.kairos...". */
    j = json_pack("{s:s,s:[s+]}", "prefix", "client evict", "filters",
                  "auth_name=", entity + strlen("client."));
    cmd = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!cmd)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    const char *cmds[1] = {cmd};
    rc = ceph_mds_command(cm, "*", cmds, 1, "", 0, &outbuf, &outlen, &outs, &outslen);
    if (rc < 0)
        kairos_error_set(err, rc, "the MDS refused to evict %s: %.*s", entity, (int)outslen,
                         outs ? outs : strerror(-rc));
    ceph_buffer_free(outbuf);
    ceph_buffer_free(outs);
    free(cmd);
    return rc;
}

int kairos_evict_share_clients(struct kairos *k, const char *entity, unsigned *count,
                               struct kairos_error *err)
{
    struct kairos_session *s = NULL;
    uint64_t *ids = NULL;
    size_t n = 0, nids = 0;
    unsigned dummy = 0;
    int rc;

    if (!count)
        count = &dummy;
    *count = 0;
    rc = evict_mds(k, entity, err);
    if (rc == 0)
        rc = kairos_mon_sessions(k, &s, &n, err);
    ids = rc == 0 ? calloc(n + 1, sizeof(*ids)) : NULL;
    if (rc == 0 && !ids)
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    /* Evicted CephFS clients are blocklisted already; a raw RADOS client is not. */
    if (rc == 0)
        rc = fence_entity(k, s, n, entity, ids, &nids, count, err);
    free(ids);
    free(s);
    return rc;
}
