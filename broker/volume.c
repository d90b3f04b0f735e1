/*
 * volume.c - the RBD backend: volumes, their snapshots and clones, and
 * per-image bindings (see kairos/volume.h).
 *
 * Each project's images live in the RBD namespace named after it. Every
 * change follows the ledger's protocol: reserve (with the intent), act on
 * RBD, commit; on failure release; on a commit that finds its intent rolled
 * back (-ESTALE), undo the RBD side.
 */
#include <kairos/kairos.h>
#include <kairos/volume.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rbd/librbd.h>

#include "binding_int.h"
#include "cephx.h"
#include "evict.h"
#include "fault.h"
#include "kairos_int.h"
#include "ledger_int.h"
#include "nameset.h"
#include "rbdcaps.h"
#include "record.h"
#include "volume_int.h"

/* The features the issue of record asks of every volume. */
#define VOLUME_FEATURES                                                                            \
    (RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |                  \
     RBD_FEATURE_FAST_DIFF | RBD_FEATURE_DEEP_FLATTEN)
/* Clone format 2: parents need no protection and may sit in another namespace. */
#define CLONE_FORMAT 2
#define MAX_SNAPS    512
#define MAX_CHILDREN 64

/* Namespaces known to exist, so that only a project's first volume pays for the check. */
struct kairos_volumes {
    struct kairos_nameset known;
};

/* ---- namespaces and images ---- */

/* An ioctx on @project's namespace of the block pool, made first if @create. */
static int open_ns(struct kairos *k, const char *project, bool create, rados_ioctx_t *io,
                   struct kairos_error *err)
{
    const char *pool = k->cfg->pools.block;
    int rc = rados_ioctx_create(k->rados, pool, io);

    if (rc < 0)
        return kairos_error_set(
            err, rc,
            rc == -ENOENT ? "block pool '%s' does not exist" : "cannot open block pool '%s'", pool);
    if (create && !kairos_nameset_has(&k->volumes->known, project)) {
        rc = rbd_namespace_create(*io, project);
        if (rc < 0 && rc != -EEXIST) {
            rados_ioctx_destroy(*io);
            *io = NULL;
            return kairos_error_set(err, rc, "cannot create RBD namespace %s in pool %s: %s",
                                    project, pool, strerror(-rc));
        }
        kairos_nameset_add(&k->volumes->known, project);
    }
    rados_ioctx_set_namespace(*io, project);
    return 0;
}

/* Open @name read-only (no exclusive lock), optionally at snapshot @snap. */
static int open_image(struct kairos *k, const char *project, const char *name, const char *snap,
                      rados_ioctx_t *io, rbd_image_t *img, struct kairos_error *err)
{
    int rc = open_ns(k, project, false, io, err);

    if (rc < 0)
        return rc;
    rc = rbd_open_read_only(*io, name, img, snap);
    if (rc < 0) {
        rados_ioctx_destroy(*io);
        *io = NULL;
        if (rc == -ENOENT)
            return kairos_error_set(err, rc, "no volume %s%s%s in project %s", name,
                                    snap ? "@" : "", snap ? snap : "", project);
        return kairos_error_set(err, rc, "cannot open volume %s/%s: %s", project, name,
                                strerror(-rc));
    }
    return 0;
}

int kairos_volume_open_owned(rados_ioctx_t io, const char *name, rbd_image_t *img)
{
    uint64_t features = 0;
    int rc = rbd_open(io, name, img, NULL);

    if (rc < 0)
        return rc;
    rc = rbd_get_features(*img, &features);
    if (rc == 0 && (features & RBD_FEATURE_EXCLUSIVE_LOCK))
        rc = rbd_lock_acquire(*img, RBD_LOCK_MODE_EXCLUSIVE);
    if (rc < 0) {
        rbd_close(*img);
        *img = NULL;
    }
    return rc;
}

/* kairos_volume_open_owned(), with the error said. */
static int open_for_update(rados_ioctx_t io, const char *project, const char *name,
                           rbd_image_t *img, struct kairos_error *err)
{
    int rc = kairos_volume_open_owned(io, name, img);

    if (rc == -EROFS)
        return kairos_error_set(err, -EBUSY,
                                "volume %s/%s: its client keeps the exclusive lock and does not "
                                "give it up; try again when it has closed the volume",
                                project, name);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot open volume %s/%s: %s", project, name,
                                strerror(-rc));
    return 0;
}

static void close_image(rados_ioctx_t io, rbd_image_t img)
{
    if (img)
        rbd_close(img);
    if (io)
        rados_ioctx_destroy(io);
}

static void snap_name(char *buf, size_t len, const char *volume, const char *snap)
{
    snprintf(buf, len, "volume:%s@%s", volume, snap);
}

/* ---- intent tags ---- */

/*
 * An image carries the id of the intent that created it as image metadata
 * (rbd image-meta get IMAGE kairos.intent.<project>.<name>), so that a
 * request, its cleanup and the reconciler adopt or remove only what that
 * intent made. The key names the image: a clone inherits its parent's
 * metadata, and with it the parent's tag.
 */
#define TAG_PREFIX KAIROS_VOLUME_TAG_PREFIX
/* How librbd keeps image metadata: omap keys of the image's header object. */
#define META_OMAP_PREFIX "metadata_"
#define TAG_KEY_MAX      (sizeof(META_OMAP_PREFIX TAG_PREFIX) + 2 * KAIROS_NAME_MAX + 2)
/* Room for an RBD image id (librbd makes them 12 to 20 hex digits). */
#define RBD_ID_MAX 64

struct image_ref {
    rados_ioctx_t io; /* the project's namespace */
    rbd_image_t img;
    const char *project, *name;
};

/* The tag of the image into @tag: 0, -ENOENT (untagged), or an error. Another length is "?". */
static int image_tag(const struct image_ref *r, char tag[KAIROS_INTENT_ID_LEN + 1])
{
    char key[TAG_KEY_MAX];
    size_t len = KAIROS_INTENT_ID_LEN + 1;
    int rc;

    snprintf(key, sizeof(key), TAG_PREFIX "%s.%s", r->project, r->name);
    rc = rbd_metadata_get(r->img, key, tag, &len);
    if (rc == -ERANGE) {
        snprintf(tag, KAIROS_INTENT_ID_LEN + 1, "?");
        return 0;
    }
    if (rc < 0)
        tag[0] = '\0';
    return rc;
}

/*
 * Give the image the tag @intent unless it carries one already: one
 * guarded write to its header, so that of a request and the reconciler
 * racing for an untagged image exactly one wins.
 * Return: 0 (tagged @intent now or before), -EEXIST (another tag), or an error.
 */
static int claim_image(const struct image_ref *r, const char *intent)
{
    char key[TAG_KEY_MAX], id[RBD_ID_MAX], oid[RBD_ID_MAX + 16], tag[KAIROS_INTENT_ID_LEN + 1];
    const char *k = key;
    size_t klen, vlen = strlen(intent);
    rados_write_op_t op;
    int prval = 0, rc = rbd_get_id(r->img, id, sizeof(id));

    if (rc < 0)
        return rc;
    snprintf(key, sizeof(key), META_OMAP_PREFIX TAG_PREFIX "%s.%s", r->project, r->name);
    klen = strlen(key);
    snprintf(oid, sizeof(oid), "rbd_header.%s", id);
    op = rados_create_write_op();
    if (!op)
        return -ENOMEM;
    rados_write_op_assert_exists(op);
    /* An absent key compares as empty. */
    rados_write_op_omap_cmp(op, key, LIBRADOS_CMPXATTR_OP_EQ, "", 0, &prval);
    rados_write_op_omap_set2(op, &k, &intent, &klen, &vlen, 1);
    rc = rados_write_op_operate(op, r->io, oid, NULL, LIBRADOS_OPERATION_FULL_TRY);
    rados_release_write_op(op);
    if (rc != -ECANCELED)
        return rc;
    rc = image_tag(r, tag);
    if (rc < 0)
        return rc;
    return strcmp(tag, intent) == 0 ? 0 : -EEXIST;
}

/*
 * Open @name and check it is @intent's. Return: 1 (tagged @intent), 0 (no
 * such image, or another's), or an error.
 */
static int is_ours(rados_ioctx_t io, const char *project, const char *name, const char *intent)
{
    struct image_ref r = {io, NULL, project, name};
    char tag[KAIROS_INTENT_ID_LEN + 1];
    int rc = rbd_open_read_only(io, name, &r.img, NULL);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    rc = image_tag(&r, tag);
    rbd_close(r.img);
    if (rc == -ENOENT)
        return 0;
    return rc < 0 ? rc : strcmp(tag, intent) == 0;
}

/* Remove @name if @intent made it; another request's image stays. */
static void remove_ours(rados_ioctx_t io, const char *project, const char *name, const char *intent)
{
    if (is_ours(io, project, name, intent) == 1)
        rbd_remove(io, name);
}

/* ---- create and clone ---- */

struct source {
    const char *project, *volume, *snap;
};

/*
 * Create @name (or clone it from @src) and tag it with @intent. An image
 * of that name that this intent did not make is never adopted: it is
 * another request's (or not Kairos's), and -EEXIST.
 * *@made: the image was made here, whether or not the tag followed.
 */
static int make_image(struct kairos *k, rados_ioctx_t io, const char *project, const char *name,
                      uint64_t bytes, const struct source *src, const char *intent, bool *made,
                      struct kairos_error *err)
{
    struct image_ref r = {io, NULL, project, name};
    rbd_image_options_t opts;
    rados_ioctx_t pio = NULL;
    int rc;

    *made = false;
    rbd_image_options_create(&opts);
    rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, VOLUME_FEATURES);
    if (!src) {
        rc = rbd_create4(io, name, bytes, opts);
    } else {
        rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_CLONE_FORMAT, CLONE_FORMAT);
        rc = open_ns(k, src->project, false, &pio, err);
        if (rc == 0)
            rc = rbd_clone3(pio, src->volume, src->snap, io, name, opts);
    }
    rbd_image_options_destroy(opts);
    if (pio)
        rados_ioctx_destroy(pio);
    if (rc == -EEXIST) {
        rc = is_ours(io, project, name, intent);
        if (rc == 0)
            return kairos_error_set(err, -EEXIST,
                                    "an RBD image %s exists that this request did not make", name);
        return rc < 0
                   ? kairos_error_set(err, rc, "cannot open RBD image %s: %s", name, strerror(-rc))
                   : 0;
    }
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot create RBD image %s: %s", name, strerror(-rc));
    *made = true;
    kairos_fault(src ? "volume.clone.made" : "volume.create.made");
    rc = rbd_open_read_only(io, name, &r.img, NULL);
    if (rc == 0) {
        rc = claim_image(&r, intent);
        rbd_close(r.img);
    }
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot tag RBD image %s: %s", name, strerror(-rc));
    return 0;
}

/*
 * Grants name an image's objects by prefix ("rbd_header.<id>"), so no image
 * of a namespace may have an id that extends another's: a key for one would
 * reach the other. A new image that would is made again; librbd draws a
 * fresh random id each time.
 */
#define ID_DRAWS 4

static int make_unique_image(struct kairos *k, rados_ioctx_t io, const char *project,
                             const char *name, uint64_t bytes, const struct source *src,
                             const char *intent, bool *made, struct kairos_error *err)
{
    char id[KAIROS_RBD_ID_MAX];
    int rc;

    for (int draw = 0;; draw++) {
        rc = make_image(k, io, project, name, bytes, src, intent, made, err);
        if (rc < 0)
            return rc;
        rc = kairos_rbd_image_id(io, name, id);
        if (rc == 0)
            rc = kairos_rbd_id_clash(io, id, true, NULL);
        if (rc <= 0)
            return rc < 0 ? kairos_error_set(err, rc, "cannot check the id of %s: %s", name,
                                             strerror(-rc))
                          : 0;
        rbd_remove(io, name);
        *made = false;
        if (draw == ID_DRAWS)
            return kairos_error_set(err, -EEXIST, "image %s: %d ids drawn, each clashing", name,
                                    ID_DRAWS + 1);
    }
}

/*
 * A request acts on its project's resources only within its fence (see
 * kairos_fence_ms()): a project delete tears them down only past it.
 */
static int past_fence(struct kairos *k, const struct kairos_reservation *res,
                      struct kairos_error *err)
{
    if (kairos_now_ms() < res->intent_ms + kairos_fence_ms(k))
        return 0;
    return kairos_error_set(err, -ETIMEDOUT, "%s %s/%s: the request outlived its fence",
                            kairos_kind_name(res->kind), res->project, res->name);
}

static int provision(struct kairos *k, const struct kairos_alloc_req *req, const struct source *src,
                     struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    rados_ioctx_t io = NULL;
    bool made = false;
    int rc;

    rc = kairos_ledger_reserve(k, req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault(src ? "volume.clone.reserved" : "volume.create.reserved");
    /* Past its fence the project may be torn down: never make its namespace again then. */
    rc = past_fence(k, res, err);
    if (rc == 0)
        rc = open_ns(k, req->project, true, &io, err);
    if (rc == 0)
        rc = make_unique_image(k, io, req->project, req->name, req->bytes, src, res->intent, &made,
                               err);
    /* The namespace went under another broker (project deleted and made again). */
    if (rc == -ENOENT && !src && past_fence(k, res, err) == 0) {
        kairos_nameset_remove(&k->volumes->known, req->project);
        if (io)
            rados_ioctx_destroy(io);
        io = NULL;
        kairos_error_clear(err);
        rc = open_ns(k, req->project, true, &io, err);
        if (rc == 0)
            rc = make_unique_image(k, io, req->project, req->name, req->bytes, src, res->intent,
                                   &made, err);
    }
    if (rc < 0) {
        /* An image made but not tagged stays under the intent: the reconciler claims it. */
        if (!made)
            kairos_ledger_release(k, res, NULL);
        goto out;
    }
    kairos_fault(src ? "volume.clone.tagged" : "volume.create.tagged");
    rc = kairos_ledger_commit(k, res, err);
    /* The reconciler gave up on us: the image must not outlive its record. */
    if (rc == -ESTALE)
        remove_ours(io, req->project, req->name, res->intent);
out:
    if (io)
        rados_ioctx_destroy(io);
    kairos_reservation_free(res);
    return rc;
}

int kairos_volume_create(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         struct kairos_error *err)
{
    struct kairos_alloc_req req = {
        .project = project, .kind = KAIROS_VOLUME, .name = name, .bytes = bytes};

    return provision(k, &req, NULL, err);
}

int kairos_volume_clone(struct kairos *k, const char *project, const char *name,
                        const char *src_project, const char *src_volume, const char *src_snap,
                        struct kairos_error *err)
{
    struct source src = {src_project, src_volume, src_snap};
    struct kairos_alloc_req req = {.project = project, .kind = KAIROS_VOLUME, .name = name};
    char sname[KAIROS_ALLOC_NAME_MAX + 1], attrs[4 * KAIROS_NAME_MAX + 32];
    struct kairos_alloc snap;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc;

    if (kairos_name_check(src_project, "project", err) < 0 ||
        kairos_name_check(src_volume, "volume", err) < 0 ||
        kairos_name_check(src_snap, "snapshot", err) < 0)
        return -EINVAL;
    /* The parent must be a snapshot the ledger knows, fully made. */
    snap_name(sname, sizeof(sname), src_volume, src_snap);
    rc = kairos_ledger_get(k, src_project, KAIROS_SNAPSHOT, sname, &snap, err);
    if (rc < 0)
        return rc;
    rc = snap.pending ? kairos_error_set(err, -ENOENT, "snapshot %s@%s is still being made",
                                         src_volume, src_snap)
                      : 0;
    kairos_alloc_clear(&snap);
    /*
     * Nor a volume being deleted: its delete, finished by the reconciler
     * without asking again, would move the snapshot under the clone into
     * RBD's trash and fail on the image.
     */
    if (rc == 0 && kairos_ledger_get(k, src_project, KAIROS_VOLUME, src_volume, &snap, NULL) == 0) {
        if (snap.pending && snap.op == KAIROS_OP_DELETE)
            rc = kairos_error_set(err, -EBUSY, "volume %s is being deleted", src_volume);
        kairos_alloc_clear(&snap);
    }
    if (rc == 0)
        rc = open_image(k, src_project, src_volume, src_snap, &io, &img, err);
    if (rc == 0)
        rc = rbd_get_size(img, &req.bytes);
    close_image(io, img);
    if (rc < 0)
        return rc;
    snprintf(attrs, sizeof(attrs), "{\"parent\":\"%s/%s@%s\"}", src_project, src_volume, src_snap);
    req.attrs = attrs;
    return provision(k, &req, &src, err);
}

/* ---- resize ---- */

/* librbd calls its progress callback unconditionally: it must not be NULL. */
static int no_progress(uint64_t offset, uint64_t total, void *arg)
{
    (void)offset;
    (void)total;
    (void)arg;
    return 0;
}

/*
 * A resize the reconciler rolled back meanwhile: bring the image back to
 * the size the ledger holds now (another resize may have been committed
 * since), never below the image's own size: shrinking in a rollback would
 * cut data written meanwhile. A grow that cannot be undone that way is
 * recorded instead, if the quota still admits it.
 */
static void resize_rolled_back(struct kairos *k, const char *project, const char *name,
                               rbd_image_t img)
{
    struct kairos_reservation *res = NULL;
    struct kairos_alloc a;
    uint64_t size = 0;

    if (kairos_ledger_get(k, project, KAIROS_VOLUME, name, &a, NULL) < 0)
        return;
    kairos_alloc_clear(&a);
    if (rbd_get_size(img, &size) < 0 || size == a.bytes)
        return;
    if (size < a.bytes) {
        rbd_resize2(img, a.bytes, false, no_progress, NULL);
        return;
    }
    if (kairos_ledger_reserve_resize(k, project, KAIROS_VOLUME, name, size, &res, NULL) == 0 &&
        !res->existing)
        kairos_ledger_commit(k, res, NULL);
    kairos_reservation_free(res);
}

int kairos_volume_resize(struct kairos *k, const char *project, const char *name, uint64_t bytes,
                         unsigned flags, struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX];
    struct kairos_alloc cur;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc;

    if (flags & ~KAIROS_RESIZE_SHRINK)
        return kairos_error_set(err, -EINVAL, "unknown resize flags");
    rc = kairos_ledger_get(k, project, KAIROS_VOLUME, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    if (bytes < cur.bytes && !(flags & KAIROS_RESIZE_SHRINK))
        return kairos_error_set(err, -EINVAL,
                                "volume %s: %s is smaller than its %s; shrinking loses the data "
                                "past the new end and needs the shrink flag",
                                name, kairos_size_format(bytes, a, sizeof(a)),
                                kairos_size_format(cur.bytes, b, sizeof(b)));
    rc = kairos_ledger_reserve_resize(k, project, KAIROS_VOLUME, name, bytes, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("volume.resize.reserved");
    rc = past_fence(k, res, err);
    if (rc == 0)
        rc = open_ns(k, project, false, &io, err);
    if (rc == 0)
        rc = open_for_update(io, project, name, &img, err);
    /* Shrinking only as far as the reservation said, from the size it saw. */
    if (rc == 0 && (rc = rbd_resize2(img, bytes, bytes < res->old_bytes, no_progress, NULL)) < 0)
        kairos_error_set(err, rc, "cannot resize volume %s/%s: %s", project, name, strerror(-rc));
    if (rc == 0)
        kairos_fault("volume.resize.done");
    if (rc < 0)
        kairos_ledger_release(k, res, NULL);
    else
        rc = kairos_ledger_commit(k, res, err);
    if (rc == -ESTALE)
        resize_rolled_back(k, project, name, img);
out:
    close_image(io, img);
    kairos_reservation_free(res);
    return rc;
}

/* ---- snapshots ---- */

int kairos_volume_snap_clones(rbd_image_t img, uint64_t snap_id, bool with_trash)
{
    rbd_linked_image_spec_t children[MAX_CHILDREN];
    size_t n = MAX_CHILDREN;
    int rc = rbd_snap_set_by_id(img, snap_id), count = 0;

    if (rc == 0)
        rc = rbd_list_children3(img, children, &n);
    rbd_snap_set(img, NULL);
    if (rc == -ERANGE)
        return MAX_CHILDREN;
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        count += with_trash || !children[i].trash;
    rbd_linked_image_spec_list_cleanup(children, n);
    return count;
}

/* Live clones (not in RBD's trash) of @snap of the open image @img, or a negative errno. */
static int count_clones(rbd_image_t img, const char *snap)
{
    uint64_t id;
    int rc = rbd_snap_get_id(img, snap, &id);

    return rc < 0 ? rc : kairos_volume_snap_clones(img, id, false);
}

int kairos_volume_snapshot_create(struct kairos *k, const char *project, const char *volume,
                                  const char *snap, struct kairos_error *err)
{
    struct kairos_alloc_req req = {.project = project, .kind = KAIROS_SNAPSHOT};
    struct kairos_reservation *res = NULL;
    char sname[KAIROS_ALLOC_NAME_MAX + 1];
    struct kairos_alloc vol;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc;

    if (kairos_name_check(snap, "snapshot", err) < 0)
        return -EINVAL;
    rc = kairos_ledger_get(k, project, KAIROS_VOLUME, volume, &vol, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&vol);
    snap_name(sname, sizeof(sname), volume, snap);
    req.name = sname;
    rc = kairos_ledger_reserve(k, &req, &res, err);
    if (rc < 0 || res->existing)
        goto out;
    kairos_fault("volume.snapshot.reserved");
    rc = open_ns(k, project, false, &io, err);
    if (rc == 0)
        rc = open_for_update(io, project, volume, &img, err);
    /* A snapshot this request did not make is another's: never adopted. */
    if (rc == 0 && (rc = rbd_snap_create(img, snap)) < 0)
        kairos_error_set(err, rc,
                         rc == -EEXIST ? "snapshot %s/%s@%s exists, not made by this request"
                                       : "cannot snapshot %s/%s@%s",
                         project, volume, snap);
    if (rc == 0)
        kairos_fault("volume.snapshot.made");
    if (rc < 0)
        kairos_ledger_release(k, res, NULL);
    else
        rc = kairos_ledger_commit(k, res, err);
    /* Made here, so ours to remove. */
    if (rc == -ESTALE && img)
        rbd_snap_remove(img, snap);
out:
    close_image(io, img);
    kairos_reservation_free(res);
    return rc;
}

/* Remove RBD snapshot @snap of @volume; gone already (or the image) is success. */
static int remove_snap(struct kairos *k, const char *project, const char *volume, const char *snap,
                       struct kairos_error *err)
{
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int protected_ = 0;
    int rc = open_ns(k, project, false, &io, err);

    if (rc == 0)
        rc = kairos_volume_open_owned(io, volume, &img);
    if (rc == 0) {
        /* Snapshots made by another tool may be protected (clone format 1). */
        if (rbd_snap_is_protected(img, snap, &protected_) == 0 && protected_)
            rbd_snap_unprotect(img, snap);
        rc = rbd_snap_remove(img, snap);
    }
    close_image(io, img);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "cannot remove snapshot %s/%s@%s: %s", project, volume, snap,
                         strerror(-rc));
    return rc;
}

int kairos_volume_snapshot_delete(struct kairos *k, const char *project, const char *volume,
                                  const char *snap, struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    char sname[KAIROS_ALLOC_NAME_MAX + 1];
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc, clones;

    if (kairos_name_check(volume, "volume", err) < 0 ||
        kairos_name_check(snap, "snapshot", err) < 0)
        return -EINVAL;
    snap_name(sname, sizeof(sname), volume, snap);
    rc = open_image(k, project, volume, NULL, &io, &img, err);
    if (rc == 0) {
        /* -ENOENT: the RBD snapshot is gone already; its record still goes. */
        clones = count_clones(img, snap);
        if (clones < 0 && clones != -ENOENT)
            rc = kairos_error_set(err, clones, "cannot list clones of %s/%s@%s: %s", project,
                                  volume, snap, strerror(-clones));
        else if (clones > 0)
            rc = kairos_error_set(err, -EBUSY,
                                  "snapshot %s@%s has %d clone%s; delete or "
                                  "flatten them first",
                                  volume, snap, clones, clones == 1 ? "" : "s");
    }
    close_image(io, img);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = kairos_ledger_reserve_delete(k, project, KAIROS_SNAPSHOT, sname, &res, err);
    if (rc < 0)
        return rc;
    kairos_fault("volume.snapshot-delete.reserved");
    rc = remove_snap(k, project, volume, snap, err);
    if (rc == 0)
        kairos_fault("volume.snapshot-delete.removed");
    return kairos_ledger_settle(k, res, rc, err);
}

int kairos_volume_snapshot_list(struct kairos *k, const char *project, const char *volume,
                                struct kairos_volume_snap **out, size_t *count,
                                struct kairos_error *err)
{
    rbd_snap_info_t snaps[MAX_SNAPS];
    int max = MAX_SNAPS, n;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    if (kairos_name_check(project, "project", err) < 0 ||
        kairos_name_check(volume, "volume", err) < 0)
        return -EINVAL;
    rc = open_image(k, project, volume, NULL, &io, &img, err);
    if (rc < 0)
        return rc;
    n = rbd_snap_list(img, snaps, &max);
    if (n < 0) {
        rc = kairos_error_set(err, n, "cannot list snapshots of %s/%s: %s", project, volume,
                              strerror(-n));
        goto out;
    }
    *out = calloc(n ? (size_t)n : 1, sizeof(**out));
    if (!*out) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        struct kairos_volume_snap *s = &(*out)[i];
        struct timespec ts = {0};
        snprintf(s->name, sizeof(s->name), "%s", snaps[i].name);
        s->size = snaps[i].size;
        rbd_snap_get_timestamp(img, snaps[i].id, &ts);
        s->created_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
        int clones = kairos_volume_snap_clones(img, snaps[i].id, false);
        if (clones < 0) {
            rc = kairos_error_set(err, clones, "cannot list clones of %s/%s@%s: %s", project,
                                  volume, snaps[i].name, strerror(-clones));
            free(*out);
            *out = NULL;
            goto done;
        }
        s->clones = (unsigned)clones;
    }
    *count = (size_t)n;
done:
    rbd_snap_list_end(snaps);
out:
    close_image(io, img);
    return rc;
}

/* ---- delete ---- */

/* Remove snapshot @id of @volume from RBD's trash namespace (its clones are gone). */
static int remove_trashed_snap(rados_ioctx_t io, const char *project, const char *volume,
                               uint64_t id, struct kairos_error *err)
{
    rbd_image_t img = NULL;
    int rc = rbd_open(io, volume, &img, NULL);

    if (rc == 0) {
        rc = rbd_snap_remove_by_id(img, id);
        rbd_close(img);
    }
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "cannot remove trashed snapshot %" PRIu64 " of %s/%s: %s", id,
                         project, volume, strerror(-rc));
    return rc;
}

/*
 * librbd removes an image by moving it to RBD's trash (source "removing")
 * and deleting it there. A broker killed in between leaves it in the trash
 * for ever, holding its space, and rbd_list() still names it, beside any
 * new image of the same name. Finish those removals of @name; with @name
 * NULL (the namespace goes), of every name, and empty what an admin moved
 * to the trash too: librbd keeps a namespace with anything in its trash.
 */
static int finish_removals(rados_ioctx_t io, const char *project, const char *name,
                           struct kairos_error *err)
{
    rbd_trash_image_info_t *entries = NULL;
    size_t cap = 16;
    int n, rc = 0;

    for (;;) {
        entries = calloc(cap, sizeof(*entries));
        if (!entries)
            return kairos_error_set(err, -ENOMEM, "out of memory");
        n = rbd_trash_list(io, entries, &cap);
        if (n != -ERANGE)
            break;
        free(entries);
    }
    if (n == -ENOENT)
        n = 0;
    if (n < 0) {
        free(entries);
        return kairos_error_set(err, n, "cannot list the RBD trash of %s: %s", project,
                                strerror(-n));
    }
    for (int i = 0; i < n && rc == 0; i++) {
        rbd_trash_image_source_t source = entries[i].source;
        if (name ? source != RBD_TRASH_IMAGE_SOURCE_REMOVING || strcmp(entries[i].name, name) != 0
                 : source != RBD_TRASH_IMAGE_SOURCE_REMOVING &&
                       source != RBD_TRASH_IMAGE_SOURCE_USER)
            continue;
        rc = rbd_trash_remove(io, entries[i].id, true);
        if (rc == -ENOENT)
            rc = 0;
        if (rc < 0)
            kairos_error_set(err, rc, "cannot finish removing volume %s/%s from the RBD trash: %s",
                             project, entries[i].name, strerror(-rc));
    }
    rbd_trash_list_cleanup(entries, (size_t)n);
    free(entries);
    return rc;
}

/*
 * Remove the image and every RBD snapshot of it (dropping the ledger
 * records of those snapshots), after revoking its bindings. Used by delete,
 * by the reconciler rolling a delete forward and by a project's cascade.
 */
static int destroy(struct kairos *k, const char *project, const char *name,
                   struct kairos_error *err)
{
    rbd_snap_info_t snaps[MAX_SNAPS];
    int max = MAX_SNAPS, n = 0;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    char sname[KAIROS_ALLOC_NAME_MAX + 1];
    int rc;

    rc = kairos_binding_purge(k, project, KAIROS_VOLUME, name, err);
    if (rc < 0)
        return rc;
    kairos_fault("volume.delete.unbound");
    rc = open_ns(k, project, false, &io, err);
    if (rc < 0)
        return rc;
    if (rbd_open_read_only(io, name, &img, NULL) == 0) {
        n = rbd_snap_list(img, snaps, &max);
        for (int i = 0; i < n && rc == 0; i++) {
            rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;
            /*
             * A snapshot removed while a clone used it waits in RBD's trash,
             * and stays there if the clone's removal was cut short: it has
             * no name to remove it by, and would block the image's removal.
             */
            rbd_snap_get_namespace_type(img, snaps[i].id, &type);
            if (type == RBD_SNAP_NAMESPACE_TYPE_TRASH) {
                rc = remove_trashed_snap(io, project, name, snaps[i].id, err);
                continue;
            }
            rc = remove_snap(k, project, name, snaps[i].name, err);
            if (rc == 0)
                kairos_fault("volume.delete.snapshot-removed");
            snap_name(sname, sizeof(sname), name, snaps[i].name);
            if (rc == 0)
                rc = kairos_ledger_purge(k, project, KAIROS_SNAPSHOT, sname, err);
        }
        if (n >= 0)
            rbd_snap_list_end(snaps);
        rbd_close(img);
    }
    if (rc == 0) {
        rc = rbd_remove(io, name);
        if (rc == -ENOENT)
            rc = 0;
        if (rc < 0)
            kairos_error_set(err, rc, "cannot remove volume %s/%s: %s", project, name,
                             strerror(-rc));
    }
    if (rc == 0)
        rc = finish_removals(io, project, name, err);
    rados_ioctx_destroy(io);
    /* Records of snapshots removed by a broker killed before it purged them. */
    if (rc == 0) {
        snap_name(sname, sizeof(sname), name, "");
        rc = kairos_ledger_purge_prefix(k, project, KAIROS_SNAPSHOT, sname, err);
    }
    return rc;
}

/* Refuse a delete that would orphan clones or (unless forced) cut off bindings. */
static int check_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                        struct kairos_error *err)
{
    rbd_snap_info_t snaps[MAX_SNAPS];
    int max = MAX_SNAPS, n;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    unsigned bindings = 0;
    int rc;

    if (!(flags & KAIROS_ALLOC_DELETE_FORCE)) {
        rc = kairos_binding_count(k, project, KAIROS_VOLUME, name, &bindings, err);
        if (rc < 0)
            return rc;
        if (bindings)
            return kairos_error_set(err, -EBUSY,
                                    "volume %s has %u binding%s; unbind first or force", name,
                                    bindings, bindings == 1 ? "" : "s");
    }
    rc = open_image(k, project, name, NULL, &io, &img, err);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    /* Clones that cannot be counted are not known to be absent: refuse. */
    n = rbd_snap_list(img, snaps, &max);
    if (n < 0)
        rc = kairos_error_set(err, n, "cannot list snapshots of %s/%s: %s", project, name,
                              strerror(-n));
    if (n > 0 && (flags & KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS))
        rc = kairos_error_set(err, -EBUSY, "volume %s has %d snapshot%s; delete them first", name,
                              n, n == 1 ? "" : "s");
    for (int i = 0; i < n && rc == 0; i++) {
        int clones = kairos_volume_snap_clones(img, snaps[i].id, false);
        if (clones < 0)
            rc = kairos_error_set(err, clones, "cannot list clones of %s/%s@%s: %s", project, name,
                                  snaps[i].name, strerror(-clones));
        else if (clones > 0)
            rc = kairos_error_set(err, -EBUSY,
                                  "volume %s has %d clone%s of snapshot %s; delete or flatten "
                                  "them first",
                                  name, clones, clones == 1 ? "" : "s", snaps[i].name);
    }
    if (n >= 0)
        rbd_snap_list_end(snaps);
    close_image(io, img);
    return rc;
}

int kairos_volume_delete(struct kairos *k, const char *project, const char *name, unsigned flags,
                         struct kairos_error *err)
{
    struct kairos_reservation *res = NULL;
    struct kairos_alloc cur;
    int rc;

    if (flags & ~(KAIROS_ALLOC_DELETE_FORCE | KAIROS_ALLOC_DELETE_UNLESS_SNAPSHOTS))
        return kairos_error_set(err, -EINVAL, "unknown delete flags");
    rc = kairos_ledger_get(k, project, KAIROS_VOLUME, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    rc = check_delete(k, project, name, flags, err);
    if (rc < 0)
        return rc;
    rc = kairos_ledger_reserve_delete(k, project, KAIROS_VOLUME, name, &res, err);
    if (rc < 0)
        return rc;
    kairos_fault("volume.delete.reserved");
    rc = destroy(k, project, name, err);
    if (rc == 0)
        kairos_fault("volume.delete.removed");
    return kairos_ledger_settle(k, res, rc, err);
}

/* ---- flatten and info ---- */

int kairos_volume_flatten(struct kairos *k, const char *project, const char *name,
                          struct kairos_error *err)
{
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    struct kairos_alloc cur;
    int rc;

    rc = kairos_ledger_get(k, project, KAIROS_VOLUME, name, &cur, err);
    if (rc < 0)
        return rc;
    kairos_alloc_clear(&cur);
    rc = open_ns(k, project, false, &io, err);
    if (rc == 0)
        rc = open_for_update(io, project, name, &img, err);
    if (rc == 0) {
        rc = rbd_flatten(img);
        /* A volume without a parent is flat already. */
        if (rc == -EINVAL)
            rc = 0;
        if (rc < 0)
            kairos_error_set(err, rc, "cannot flatten %s/%s: %s", project, name, strerror(-rc));
    }
    close_image(io, img);
    return rc;
}

static int add_extent(uint64_t off, size_t len, int exists, void *arg)
{
    (void)off;
    if (exists)
        *(uint64_t *)arg += len;
    return 0;
}

/* Allocated bytes of an open image, from the object map (fast-diff). */
static int image_used(rbd_image_t img, uint64_t size, uint64_t *used)
{
    *used = 0;
    return rbd_diff_iterate2(img, NULL, 0, size, 0, 1, add_extent, used);
}

static void parent_of(rbd_image_t img, char *buf, size_t len)
{
    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t snap;

    buf[0] = '\0';
    if (rbd_get_parent(img, &parent, &snap) < 0)
        return;
    snprintf(buf, len, "%s/%s@%s", parent.pool_namespace, parent.image_name, snap.name);
    rbd_linked_image_spec_cleanup(&parent);
    rbd_snap_spec_cleanup(&snap);
}

int kairos_volume_info(struct kairos *k, const char *project, const char *name,
                       struct kairos_volume_info *out, struct kairos_error *err)
{
    rbd_snap_info_t snaps[MAX_SNAPS];
    int max = MAX_SNAPS, n;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (kairos_name_check(project, "project", err) < 0 ||
        kairos_name_check(name, "volume", err) < 0)
        return -EINVAL;
    rc = open_image(k, project, name, NULL, &io, &img, err);
    if (rc < 0)
        return rc;
    snprintf(out->name, sizeof(out->name), "%s", name);
    rbd_get_size(img, &out->size);
    rbd_get_features(img, &out->features);
    rbd_get_id(img, out->image_id, sizeof(out->image_id));
    parent_of(img, out->parent, sizeof(out->parent));
    n = rbd_snap_list(img, snaps, &max);
    if (n >= 0) {
        out->snapshots = (unsigned)n;
        rbd_snap_list_end(snaps);
    }
    rc = image_used(img, out->size, &out->used);
    if (rc < 0)
        kairos_error_set(err, rc, "cannot measure %s/%s: %s", project, name, strerror(-rc));
    close_image(io, img);
    return rc;
}

/* ---- backend ops ---- */

static int op_probe(void *arg, const char *project, const char *name, uint64_t *bytes,
                    struct kairos_error *err)
{
    struct kairos *k = arg;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    int rc = open_ns(k, project, false, &io, err);

    if (rc < 0)
        return rc;
    rc = rbd_open_read_only(io, name, &img, NULL);
    if (rc == 0)
        rc = rbd_get_size(img, bytes) == 0 ? 1 : -EIO;
    else if (rc == -ENOENT)
        rc = 0;
    else
        kairos_error_set(err, rc, "cannot open volume %s/%s: %s", project, name, strerror(-rc));
    close_image(io, img);
    return rc;
}

static int op_claim(void *arg, const char *project, const char *name, const char *intent,
                    uint64_t *bytes, struct kairos_error *err)
{
    struct kairos *k = arg;
    struct image_ref r = {NULL, NULL, project, name};
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    uint64_t recorded = 0, unused;
    int rc = open_ns(k, project, false, &io, err);

    if (rc < 0)
        return rc;
    rc = rbd_open_read_only(io, name, &img, NULL);
    if (rc == -ENOENT) {
        rc = 0;
        goto out;
    }
    r.io = io;
    r.img = img;
    if (rc == 0)
        rc = claim_image(&r, intent);
    if (rc == -EEXIST) {
        rc = 0; /* another request's image: not ours to adopt or remove */
        goto out;
    }
    if (rc == 0)
        rc = rbd_get_size(img, bytes);
    if (rc == 0)
        rc = kairos_ledger_recorded(k, project, KAIROS_VOLUME, name, "", &recorded, &unused, err);
    if (rc < 0) {
        kairos_error_set(err, rc, "cannot claim volume %s/%s: %s", project, name, strerror(-rc));
        goto out;
    }
    rc = 1;
    /* Claimed, but not the size asked for (left by an older attempt): ours to remove. */
    if (*bytes != recorded) {
        rbd_close(img);
        img = NULL;
        rc = rbd_remove(io, name);
        rc = rc < 0 && rc != -ENOENT ? kairos_error_set(err, rc, "cannot remove %s/%s: %s", project,
                                                        name, strerror(-rc))
                                     : 0;
    }
out:
    close_image(io, img);
    return rc;
}

static int op_destroy(void *arg, const char *project, const char *name, struct kairos_error *err)
{
    return destroy(arg, project, name, err);
}

struct used {
    struct kairos *k;
    uint64_t bytes;
};

static int add_used(void *arg, const struct kairos_alloc *a)
{
    struct used *u = arg;
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    uint64_t used = 0;

    if (open_image(u->k, a->project, a->name, NULL, &io, &img, NULL) == 0 &&
        image_used(img, a->bytes, &used) == 0)
        u->bytes += used;
    close_image(io, img);
    return 0;
}

static int op_used(void *arg, const char *project, uint64_t *bytes, struct kairos_error *err)
{
    struct used u = {arg, 0};
    int rc = kairos_ledger_each(arg, project, KAIROS_VOLUME, add_used, &u);

    *bytes = u.bytes;
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    return 0;
}

static int op_teardown(void *arg, const char *project, struct kairos_error *err)
{
    struct kairos *k = arg;
    rados_ioctx_t io;
    int rc = rados_ioctx_create(k->rados, k->cfg->pools.block, &io);

    if (rc < 0)
        return rc == -ENOENT ? 0 : kairos_error_set(err, rc, "cannot open block pool");
    rados_ioctx_set_namespace(io, project);
    rc = finish_removals(io, project, NULL, err);
    rados_ioctx_set_namespace(io, "");
    if (rc < 0) {
        rados_ioctx_destroy(io);
        return rc;
    }
    rc = rbd_namespace_remove(io, project);
    rados_ioctx_destroy(io);
    kairos_nameset_remove(&k->volumes->known, project);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "cannot remove RBD namespace %s: %s", project, strerror(-rc));
    return rc;
}

static int op_bind(void *arg, const char *project, const char *name, const char *id, unsigned flags,
                   char **credentials, struct kairos_error *err)
{
    struct kairos *k = arg;
    bool ro = flags & KAIROS_BIND_READ_ONLY;
    char entity[KAIROS_ENTITY_MAX], *osd = NULL, *key = NULL;
    json_t *creds = NULL;
    int rc;

    kairos_cephx_entity(entity, project, "volume", name, id);
    rc = kairos_rbd_binding_caps(k, project, name, ro, &osd, err);
    if (rc == 0) {
        const char *caps[] = {"mon", KAIROS_RBD_MON_CAP, "osd", osd, NULL};
        rc = kairos_cephx_grant(k, entity, caps, &key, err);
    }
    /* A new writer (a VM replacing a crashed one) must get the lock a dead one holds. */
    if (rc == 0 && !ro)
        kairos_volume_break_lock(k, project, name, 0, NULL, NULL);
    if (rc == 0)
        creds = kairos_cephx_credentials(k, entity, key, err);
    if (creds) {
        json_object_set_new(creds, "pool", json_string(k->cfg->pools.block));
        json_object_set_new(creds, "namespace", json_string(project));
        json_object_set_new(creds, "project", json_string(project));
        json_object_set_new(creds, "image", json_string(name));
        json_object_set_new(creds, "read_only", json_boolean(ro));
        *credentials = kairos_credentials_dump(creds);
        if (!*credentials)
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = -EIO;
    }
    free(osd);
    free(key);
    return rc;
}

/* Revoke the key, then end the sessions it opened: removing it stops new ones only. */
static int op_unbind(void *arg, const char *project, const char *name, const char *id,
                     struct kairos_error *err)
{
    char entity[KAIROS_ENTITY_MAX];
    int rc;

    kairos_cephx_entity(entity, project, "volume", name, id);
    rc = kairos_cephx_revoke(arg, entity, err);
    if (rc == 0)
        rc = kairos_evict_volume_clients(arg, project, name, id, entity, NULL, err);
    return rc;
}

int kairos_volume_snap_probe(struct kairos *k, const char *project, const char *volume,
                             const char *snap, struct kairos_error *err)
{
    rados_ioctx_t io = NULL;
    rbd_image_t img = NULL;
    bool exists = false;
    int rc = open_image(k, project, volume, NULL, &io, &img, NULL);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot open volume %s/%s", project, volume);
    rc = rbd_snap_exists(img, snap, &exists);
    close_image(io, img);
    return rc < 0 ? rc : exists;
}

int kairos_volume_snap_destroy(struct kairos *k, const char *project, const char *volume,
                               const char *snap, struct kairos_error *err)
{
    return remove_snap(k, project, volume, snap, err);
}

int kairos_volumes_init(struct kairos *k, struct kairos_error *err)
{
    struct kairos_kind_ops ops = {
        .probe = op_probe,
        .claim = op_claim,
        .destroy = op_destroy,
        .used = op_used,
        .teardown = op_teardown,
        .bind = op_bind,
        .unbind = op_unbind,
        .arg = k,
    };

    k->volumes = calloc(1, sizeof(*k->volumes));
    if (!k->volumes)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_nameset_init(&k->volumes->known);
    return kairos_kind_register(k, KAIROS_VOLUME, &ops);
}

void kairos_volumes_fini(struct kairos *k)
{
    if (!k->volumes)
        return;
    kairos_nameset_destroy(&k->volumes->known);
    free(k->volumes);
    k->volumes = NULL;
}
