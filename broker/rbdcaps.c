/*
 * rbdcaps.c - the osd cap of a volume binding, grant by grant.
 *
 * A volume key may reach a tenant, so its cap allows what librbd needs to
 * open one image and do I/O, and nothing that changes what the ledger
 * counts: no resize, snapshot, feature or metadata method, no image
 * creation, no directory write. Each class method is named on the one
 * object prefix that needs it. The two grants that write (the header,
 * for the watch and the exclusive lock, and the data objects) name no
 * pool: a writing grant that names the pool lets the key create and
 * remove the pool's self-managed snapshot ids, which are every image's
 * snapshots. What these grants still allow (raw omap writes to the
 * header, objects of any name under the data prefix) is drift, found by
 * drift.c. The grants were found op by op against Pacific's OSD, with
 * librbd, `rbd bench` and qemu-img (docs/DESIGN.md, "Volume keys").
 */
#include "rbdcaps.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kairos/ledger.h>
#include <rbd/librbd.h>

#include "kairos_int.h"

/* An osd cap of a clone of a clone of ... stays well below this. */
#define CAP_MAX (16 * 1024)
/* A clone's ancestry is short; this bounds a loop over a corrupt one. */
#define ANCESTORS_MAX 16

bool kairos_rbd_id_valid(const char *id)
{
    size_t n = strlen(id);

    return n > 0 && n < KAIROS_RBD_ID_MAX && strspn(id, "0123456789abcdef") == n;
}

/* ---- the cap text ---- */

struct cap {
    char *s;
    size_t len;
    bool full;
};

static void grant(struct cap *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void grant(struct cap *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->full)
        return;
    if (c->len) {
        n = snprintf(c->s + c->len, CAP_MAX - c->len, ", ");
        c->len += (size_t)n;
    }
    va_start(ap, fmt);
    n = vsnprintf(c->s + c->len, CAP_MAX - c->len, fmt, ap);
    va_end(ap);
    if (n < 0 || c->len + (size_t)n >= CAP_MAX)
        c->full = true;
    else
        c->len += (size_t)n;
}

/* "pool=P namespace=N" ('namespace=""' for the default namespace). */
static void where(char *buf, size_t len, const char *pool, const char *ns)
{
    snprintf(buf, len, "pool=%s namespace=%s%s%s", pool, ns[0] ? "" : "\"", ns, ns[0] ? "" : "\"");
}

static void method(struct cap *c, const char *w, const char *prefix, const char *cls,
                   const char *name)
{
    grant(c, "allow %s object_prefix %s class %s %s", w, prefix, cls, name);
}

/* The image's own objects, as opening it and doing I/O needs them. */
static void image_grants(struct cap *c, const char *pool, const char *ns, const char *name,
                         const char *id, bool read_only, bool clone)
{
    static const char *const header_methods[][2] = {
        {"lock", "lock"},
        {"lock", "unlock"},
        {"lock", "break_lock"},
        {"rbd", "set_modify_timestamp"},
        {"rbd", "set_access_timestamp"},
    };
    static const char *const map_methods[][2] = {
        {"lock", "lock"},
        {"lock", "unlock"},
        {"lock", "break_lock"},
        {"rbd", "object_map_update"},
    };
    char w[512], idobj[128], header[128], map[128], data[128];

    where(w, sizeof(w), pool, ns);
    snprintf(idobj, sizeof(idobj), "rbd_id.%s", name);
    snprintf(header, sizeof(header), "rbd_header.%s", id);
    snprintf(map, sizeof(map), "rbd_object_map.%s", id);
    /* The trailing dot: no image whose id extends this one matches. */
    snprintf(data, sizeof(data), "rbd_data.%s.", id);

    /* Opening: the directory's state, the pool's settings, name to id. */
    method(c, w, "rbd_directory", "rbd", "dir_state_assert");
    grant(c, "allow pool=%s namespace=\"\" object_prefix rbd_info class rbd metadata_list", pool);
    grant(c, "allow r %s object_prefix %s", w, idobj);
    method(c, w, idobj, "rbd", "get_id");
    if (read_only) {
        grant(c, "allow r class-read %s object_prefix %s", w, header);
        grant(c, "allow r class-read %s object_prefix %s", w, map);
        grant(c, "allow r %s object_prefix %s", w, data);
        return;
    }
    /* The watch needs w; no pool= keeps pool snapshot ids out of reach. */
    grant(c, "allow rw class-read namespace=%s object_prefix %s", ns, header);
    for (size_t i = 0; i < sizeof(header_methods) / sizeof(header_methods[0]); i++)
        method(c, w, header, header_methods[i][0], header_methods[i][1]);
    grant(c, "allow r class-read %s object_prefix %s", w, map);
    for (size_t i = 0; i < sizeof(map_methods) / sizeof(map_methods[0]); i++)
        method(c, w, map, map_methods[i][0], map_methods[i][1]);
    /*
     * A clone's first write to an object copies the parent's data up with
     * rbd.copyup or rbd.sparse_copyup, in the same op as the write, so the
     * one grant needs class methods too. On the image's own data objects
     * they can do nothing a write cannot.
     */
    grant(c, "allow rw%s namespace=%s object_prefix %s", clone ? "x" : "", ns, data);
}

/* Read access to one ancestor, opened by id as librbd opens a parent. */
static void ancestor_grants(struct cap *c, const char *pool, const char *ns, const char *id)
{
    char w[512];

    where(w, sizeof(w), pool, ns);
    method(c, w, "rbd_directory", "rbd", "dir_get_name");
    grant(c, "allow r class-read %s object_prefix rbd_header.%s", w, id);
    grant(c, "allow r class-read %s object_prefix rbd_object_map.%s", w, id);
    grant(c, "allow r %s object_prefix rbd_data.%s.", w, id);
}

/* ---- ids ---- */

/*
 * Does an image id listed in @oid ("rbd_directory" or "rbd_trash", whose
 * omap keys are "id_<id>") extend @id, or (@both) is it a proper prefix of
 * @id? One read: the keys under "id_<id>", and the keys of @id's prefixes.
 */
static int omap_clash(rados_ioctx_t io, const char *oid, const char *id, bool both, char *other)
{
    char prefix[KAIROS_RBD_ID_MAX + 4], shorter[KAIROS_RBD_ID_MAX][KAIROS_RBD_ID_MAX + 4];
    const char *keys[KAIROS_RBD_ID_MAX];
    size_t len = strlen(id), n = 0;
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t ext = NULL, pre = NULL;
    unsigned char more = 0;
    int r1 = 0, r2 = 0, rc, hit = 0;
    char *k, *v;
    size_t vlen;

    snprintf(prefix, sizeof(prefix), "id_%s", id);
    /* Two keys at most: this image's own and one that extends it. */
    rados_read_op_omap_get_vals2(op, "", prefix, 2, &ext, &more, &r1);
    for (size_t l = 1; both && l < len; l++) {
        snprintf(shorter[n], sizeof(shorter[n]), "id_%.*s", (int)l, id);
        keys[n] = shorter[n];
        n++;
    }
    if (n)
        rados_read_op_omap_get_vals_by_keys(op, keys, n, &pre, &r2);
    rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0)
        rc = r1 < 0 ? r1 : r2;
    while (rc == 0 && !hit && rados_omap_get_next(ext, &k, &v, &vlen) == 0 && k) {
        if (strcmp(k, prefix) != 0) {
            hit = 1;
            snprintf(other, KAIROS_RBD_ID_MAX, "%s", k + 3);
        }
    }
    while (rc == 0 && !hit && pre && rados_omap_get_next(pre, &k, &v, &vlen) == 0 && k) {
        hit = 1;
        snprintf(other, KAIROS_RBD_ID_MAX, "%s", k + 3);
    }
    if (ext)
        rados_omap_get_end(ext);
    if (pre)
        rados_omap_get_end(pre);
    rados_release_read_op(op);
    /* No directory or no trash yet: nothing to clash with. */
    return rc == -ENOENT ? 0 : rc < 0 ? rc : hit;
}

int kairos_rbd_id_clash(rados_ioctx_t io, const char *id, bool both, char *other)
{
    char dummy[KAIROS_RBD_ID_MAX];
    int rc;

    if (!kairos_rbd_id_valid(id))
        return -EINVAL;
    if (!other)
        other = dummy;
    rc = omap_clash(io, "rbd_directory", id, both, other);
    if (rc == 0)
        rc = omap_clash(io, "rbd_trash", id, both, other);
    return rc;
}

int kairos_rbd_image_id(rados_ioctx_t io, const char *name, char *id)
{
    char oid[KAIROS_NAME_MAX + 8], buf[4 + KAIROS_RBD_ID_MAX];
    uint32_t n;
    int rc;

    snprintf(oid, sizeof(oid), "rbd_id.%s", name);
    rc = rados_read(io, oid, buf, sizeof(buf), 0);
    if (rc < 0)
        return rc;
    /* An encoded string: length (le32), then the id. */
    if (rc < 4)
        return -EIO;
    n = (uint32_t)(unsigned char)buf[0] | (uint32_t)(unsigned char)buf[1] << 8 |
        (uint32_t)(unsigned char)buf[2] << 16 | (uint32_t)(unsigned char)buf[3] << 24;
    if (n == 0 || n >= KAIROS_RBD_ID_MAX || n > (uint32_t)rc - 4)
        return -EIO;
    memcpy(id, buf + 4, n);
    id[n] = '\0';
    return kairos_rbd_id_valid(id) ? 0 : -EIO;
}

/* ---- ancestry ---- */

/* The ledger's parent of volume @name of @project: "p/v@s" split, or none (0). */
static int ledger_parent(struct kairos *k, const char *project, const char *name, char *pproj,
                         char *pvol, char *psnap, struct kairos_error *err)
{
    struct kairos_alloc a;
    json_t *attrs;
    const char *parent;
    int rc = kairos_ledger_get(k, project, KAIROS_VOLUME, name, &a, err);

    if (rc < 0)
        return rc;
    attrs = a.attrs ? json_loads(a.attrs, 0, NULL) : NULL;
    parent = json_string_value(json_object_get(attrs, "parent"));
    rc = 0;
    if (parent) {
        rc = sscanf(parent, "%63[a-z0-9-]/%63[a-z0-9-]@%63[a-z0-9-]", pproj, pvol, psnap) == 3
                 ? 1
                 : kairos_error_set(err, -EIO, "volume %s/%s: bad parent record '%s'", project,
                                    name, parent);
    }
    json_decref(attrs);
    kairos_alloc_clear(&a);
    return rc;
}

/* Open volume @name of @project (block pool) read-only, by name. */
static int open_volume(struct kairos *k, const char *project, const char *name, rados_ioctx_t *io,
                       rbd_image_t *img)
{
    int rc = rados_ioctx_create(k->rados, k->cfg->pools.block, io);

    if (rc < 0)
        return rc;
    rados_ioctx_set_namespace(*io, project);
    rc = rbd_open_read_only(*io, name, img, NULL);
    if (rc < 0) {
        rados_ioctx_destroy(*io);
        *io = NULL;
    }
    return rc;
}

/*
 * Walk the ancestry of @img (volume @name of @project) and grant reads on
 * each ancestor. Each link must be the same in the header, which librbd
 * follows, and in the ledger, which only the broker writes: a key that
 * rewrote its header's parent must not be handed another image's data.
 * A header without a parent (flattened) ends the walk.
 */
static int ancestry(struct kairos *k, rbd_image_t img, const char *project, const char *name,
                    struct cap *c, bool *clone, struct kairos_error *err)
{
    char proj[KAIROS_NAME_MAX + 1], vol[KAIROS_NAME_MAX + 1];
    char pproj[KAIROS_NAME_MAX + 1], pvol[KAIROS_NAME_MAX + 1], psnap[KAIROS_NAME_MAX + 1];
    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t spec;
    rados_ioctx_t io = NULL;
    rbd_image_t cur = img, up = NULL;
    int rc = 0;

    snprintf(proj, sizeof(proj), "%s", project);
    snprintf(vol, sizeof(vol), "%s", name);
    *clone = false;
    for (int depth = 0;; depth++) {
        int recorded = ledger_parent(k, proj, vol, pproj, pvol, psnap, err);
        bool same;

        if (recorded < 0) {
            rc = recorded;
            break;
        }
        if (depth == ANCESTORS_MAX) {
            rc = kairos_error_set(err, -ELOOP, "volume %s/%s: more than %d ancestors", project,
                                  name, ANCESTORS_MAX);
            break;
        }
        rc = rbd_get_parent(cur, &parent, &spec);
        if (rc == -ENOENT) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            kairos_error_set(err, rc, "cannot read the parent of %s/%s: %s", proj, vol,
                             strerror(-rc));
            break;
        }
        same = recorded == 1 && strcmp(parent.pool_name, k->cfg->pools.block) == 0 &&
               strcmp(parent.pool_namespace, pproj) == 0 && strcmp(parent.image_name, pvol) == 0 &&
               strcmp(spec.name, psnap) == 0 && kairos_rbd_id_valid(parent.image_id);
        if (same)
            ancestor_grants(c, parent.pool_name, parent.pool_namespace, parent.image_id);
        else
            rc = kairos_error_set(err, -EPERM,
                                  "volume %s/%s: its header names the parent %s/%s@%s, the "
                                  "ledger %s%s%s%s%s",
                                  proj, vol, parent.pool_namespace, parent.image_name, spec.name,
                                  recorded ? pproj : "none", recorded ? "/" : "",
                                  recorded ? pvol : "", recorded ? "@" : "", recorded ? psnap : "");
        rbd_linked_image_spec_cleanup(&parent);
        rbd_snap_spec_cleanup(&spec);
        if (rc < 0)
            break;
        *clone |= depth == 0;
        /* Then the parent's own parent. */
        if (up)
            rbd_close(up);
        up = NULL;
        if (io)
            rados_ioctx_destroy(io);
        io = NULL;
        rc = open_volume(k, pproj, pvol, &io, &up);
        if (rc < 0) {
            kairos_error_set(err, rc, "cannot open the parent %s/%s: %s", pproj, pvol,
                             strerror(-rc));
            break;
        }
        snprintf(proj, sizeof(proj), "%s", pproj);
        snprintf(vol, sizeof(vol), "%s", pvol);
        cur = up;
    }
    if (up)
        rbd_close(up);
    if (io)
        rados_ioctx_destroy(io);
    return rc;
}

int kairos_rbd_binding_caps(struct kairos *k, const char *project, const char *name, bool read_only,
                            char **osd, struct kairos_error *err)
{
    struct cap c = {0};
    char id[KAIROS_RBD_ID_MAX] = "", other[KAIROS_RBD_ID_MAX] = "";
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    bool clone = false;
    struct cap parents = {0};
    int rc;

    *osd = NULL;
    c.s = calloc(1, CAP_MAX);
    parents.s = calloc(1, CAP_MAX);
    if (!c.s || !parents.s) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = open_volume(k, project, name, &io, &img);
    if (rc < 0) {
        kairos_error_set(err, rc,
                         rc == -ENOENT ? "no volume %s in project %s" : "cannot open %s/%s: %s",
                         name, project, strerror(-rc));
        goto out;
    }
    rc = rbd_get_id(img, id, sizeof(id));
    if (rc == 0 && !kairos_rbd_id_valid(id))
        rc = -EIO;
    if (rc < 0) {
        kairos_error_set(err, rc, "volume %s/%s has no usable image id", project, name);
        goto out;
    }
    rc = kairos_rbd_id_clash(io, id, false, other);
    if (rc == 1)
        rc = kairos_error_set(err, -EEXIST,
                              "volume %s/%s: another image of its namespace has the id %s, "
                              "which extends this image's %s: a key for %s would reach it",
                              project, name, other, id, name);
    else if (rc < 0)
        kairos_error_set(err, rc, "cannot list the images of %s: %s", project, strerror(-rc));
    if (rc < 0)
        goto out;
    rc = ancestry(k, img, project, name, &parents, &clone, err);
    if (rc < 0)
        goto out;
    image_grants(&c, k->cfg->pools.block, project, name, id, read_only, clone);
    if (parents.len)
        grant(&c, "%s", parents.s);
    if (c.full || parents.full) {
        rc = kairos_error_set(err, -E2BIG, "the caps of %s/%s do not fit", project, name);
        goto out;
    }
    *osd = c.s;
    c.s = NULL;
out:
    if (img)
        rbd_close(img);
    if (io)
        rados_ioctx_destroy(io);
    free(c.s);
    free(parents.s);
    return rc;
}
