/*
 * drift.c - the drift scan: what exists in Ceph against what the ledger
 * holds, and what is done about it (see kairos/drift.h and drift_int.h).
 *
 * Per project, with the broker's own credentials:
 *
 *   volumes  each image's header, read raw (size, features, snapshots,
 *            snap_seq: what a key can rewrite); then every object of the
 *            project's RBD namespace, each either metadata librbd keeps,
 *            an object of a counted image inside its size, or drift; each
 *            data object is also asked (rbd.assert_snapc_seq) whether a
 *            write carried a snapshot context the image never had: the OSD
 *            then keeps clones for snapshots that do not exist, which no
 *            listing shows and nothing ever trims;
 *   shares   each share's quota and recursive size, and every object of
 *            its data namespace, each of which must belong to a file of
 *            the file system, inside the file's size.
 *
 * Objects are classified by name alone where that is enough, so the scan
 * costs one RADOS read per object, plus one per header, share and
 * directory entry, paced by [reconcile] scan_rate.
 */
#include "drift_int.h"

#include <kairos/binding.h>
#include <kairos/kairos.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <rbd/librbd.h>

#include "kairos_int.h"
#include "ledger_int.h"
#include "rbdcaps.h"
#include "record.h"
#include "share_int.h"
#include "store.h"
#include "volume_int.h"

/* Omap keys of the project object. */
#define POLICY_KEY     "drift.policy"
#define FINDING_PREFIX "drift/"
#define CURSOR_KEY     "drift.cursor"

/* Keys read per omap page. */
#define OMAP_PAGE 512
/* The longest the pacing sleeps at once, so a lock is renewed in time. */
#define PACE_SLICE_MS 500
/* Findings of one project kept (the rest are counted in the last). */
#define FINDINGS_MAX 64
/* Projects per page of the index walk. */
#define INDEX_PAGE 64
/* rbd.assert_snapc_seq's "the given seq is greater than the object's". */
#define SNAPC_SEQ_GT 0

/* The features every volume has, that librbd can enable again. */
#define DYNAMIC_FEATURES                                                                           \
    (RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF)

/*
 * CephFS holds a quota loosely: a client stops writing a little after its
 * view of the directory's size passes the limit. Past this much over the
 * quota (a sixteenth of it, at least 16 MiB), it is no longer slack.
 */
#define QUOTA_SLACK_MIN (16ULL << 20)
#define QUOTA_SLACK_DIV 16

/* The omap keys of the broker's intent tags in an image header, and the first key past them. */
#define TAG_KEY_PREFIX "metadata_" KAIROS_VOLUME_TAG_PREFIX
#define TAG_KEY_END    "metadata_kairos.intent/"

/* librbd's metadata objects of a namespace. */
static const char *const rbd_meta_objects[] = {
    "rbd_directory", "rbd_trash",           "rbd_children",  "rbd_info",
    "rbd_mirroring", "rbd_group_directory", "rbd_namespace", NULL,
};

/* ---- pacing ---- */

static int pace(struct kairos_drift_ctx *ctx, unsigned units)
{
    if (!ctx)
        return 0;
    ctx->spent += units;
    if (ctx->rate <= 0)
        return 0;
    for (;;) {
        uint64_t due = ctx->start_ms + (uint64_t)((double)ctx->spent * 1000.0 / ctx->rate);
        uint64_t now = kairos_now_ms();
        if (now >= due)
            return 0;
        usleep((useconds_t)(due - now < PACE_SLICE_MS ? due - now : PACE_SLICE_MS) * 1000);
        if (ctx->keep && !ctx->keep(ctx->keep_arg))
            return -ENOLCK;
    }
}

/* ---- policy ---- */

const char *kairos_drift_policy_name(enum kairos_drift_policy policy)
{
    return policy == KAIROS_DRIFT_REPORT ? "report" : "revoke";
}

int kairos_drift_policy_parse(const char *s, enum kairos_drift_policy *out)
{
    if (s && strcmp(s, "report") == 0)
        *out = KAIROS_DRIFT_REPORT;
    else if (s && strcmp(s, "revoke") == 0)
        *out = KAIROS_DRIFT_REVOKE;
    else
        return -EINVAL;
    return 0;
}

static enum kairos_drift_policy policy_of(const struct kairos_kvs *kvs)
{
    enum kairos_drift_policy p = KAIROS_DRIFT_DEFAULT;

    kairos_drift_policy_parse(kairos_kvs_get(kvs, POLICY_KEY), &p);
    return p;
}

int kairos_drift_policy_get(struct kairos *k, const char *project, enum kairos_drift_policy *out,
                            struct kairos_error *err)
{
    const char *keys[] = {"meta", POLICY_KEY};
    char oid[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc;

    *out = KAIROS_DRIFT_DEFAULT;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 2, &gen, &kvs);
    if (rc == 0 && !kairos_kvs_get(&kvs, "meta"))
        rc = -ENOENT;
    if (rc == 0)
        *out = policy_of(&kvs);
    if (rc != -ENOENT || gen)
        kairos_kvs_free(&kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    return 0;
}

struct policy_step {
    const char *project;
    const char *policy;
    struct kairos_error *err;
};

static int policy_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct policy_step *st = arg;
    int rc = kairos_ledger_project_open(kvs, st->project, st->err);

    if (rc < 0)
        return rc;
    kairos_txn_set(txn, POLICY_KEY, st->policy);
    return 0;
}

int kairos_drift_policy_set(struct kairos *k, const char *project, enum kairos_drift_policy policy,
                            struct kairos_error *err)
{
    struct policy_step st = {project, kairos_drift_policy_name(policy), err};
    const char *keys[] = {"meta", POLICY_KEY};
    char oid[KAIROS_KEY_MAX];
    int rc;

    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    if (policy != KAIROS_DRIFT_REPORT && policy != KAIROS_DRIFT_REVOKE)
        return kairos_error_set(err, -EINVAL, "the drift policy is report or revoke");
    kairos_project_oid(oid, project);
    rc = kairos_store_update(k->meta, oid, keys, 2, false, policy_step, &st);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no project %s", project);
    if (rc < 0)
        return kairos_error_set(err, rc, "project %s: %s", project, strerror(-rc));
    return 0;
}

/* ---- findings ---- */

struct scan {
    struct kairos *k;
    const char *project;
    struct kairos_drift_ctx *ctx;
    struct kairos_reconcile_report *rep;
    enum kairos_drift_policy policy;
    struct kairos_drift_finding *found;
    size_t nfound;
    struct kairos_error *err;
};

static void finding_key(char *buf, const struct kairos_drift_finding *f)
{
    snprintf(buf, KAIROS_KEY_MAX, FINDING_PREFIX "%s/%s/%s", kairos_kind_name(f->kind),
             f->alloc[0] ? f->alloc : "-", f->what);
}

static struct kairos_drift_finding *add_finding(struct scan *s, enum kairos_kind kind,
                                                const char *alloc, const char *what,
                                                const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct kairos_drift_finding *add_finding(struct scan *s, enum kairos_kind kind,
                                                const char *alloc, const char *what,
                                                const char *fmt, ...)
{
    struct kairos_drift_finding *f;
    va_list ap;

    if (s->nfound == FINDINGS_MAX)
        return &s->found[FINDINGS_MAX - 1];
    f = &s->found[s->nfound++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    snprintf(f->alloc, sizeof(f->alloc), "%s", alloc ? alloc : "");
    snprintf(f->what, sizeof(f->what), "%s", what);
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
    va_end(ap);
    f->first_ms = f->last_ms = kairos_now_ms();
    snprintf(f->action, sizeof(f->action), "reported");
    return f;
}

/* Append to what was done about @f. */
static void acted(struct kairos_drift_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void acted(struct kairos_drift_finding *f, const char *fmt, ...)
{
    size_t len = strcmp(f->action, "reported") == 0 ? 0 : strlen(f->action);
    va_list ap;

    if (len && len + 2 < sizeof(f->action)) {
        memcpy(f->action + len, "; ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(f->action + len, sizeof(f->action) - len, fmt, ap);
    va_end(ap);
}

static json_t *finding_json(const struct kairos_drift_finding *f)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "kind", kairos_kind_name(f->kind),
                     "alloc", f->alloc, "what", f->what, "detail", f->detail, "objects",
                     (json_int_t)f->objects, "bytes", (json_int_t)f->bytes, "first_ms",
                     (json_int_t)f->first_ms, "last_ms", (json_int_t)f->last_ms, "action",
                     f->action);
}

static void finding_from_json(struct kairos_drift_finding *f, const json_t *j)
{
    const char *s;

    memset(f, 0, sizeof(*f));
    kairos_kind_parse(json_string_value(json_object_get(j, "kind")), &f->kind);
    snprintf(f->alloc, sizeof(f->alloc), "%s",
             (s = json_string_value(json_object_get(j, "alloc"))) ? s : "");
    snprintf(f->what, sizeof(f->what), "%s",
             (s = json_string_value(json_object_get(j, "what"))) ? s : "");
    snprintf(f->detail, sizeof(f->detail), "%s",
             (s = json_string_value(json_object_get(j, "detail"))) ? s : "");
    snprintf(f->action, sizeof(f->action), "%s",
             (s = json_string_value(json_object_get(j, "action"))) ? s : "");
    f->objects = kairos_json_u64(j, "objects", 0);
    f->bytes = kairos_json_u64(j, "bytes", 0);
    f->first_ms = kairos_json_u64(j, "first_ms", 0);
    f->last_ms = kairos_json_u64(j, "last_ms", 0);
}

int kairos_drift_list(struct kairos *k, const char *project, struct kairos_drift_finding **out,
                      size_t *n, struct kairos_error *err)
{
    char oid[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    int rc;

    *out = NULL;
    *n = 0;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    kairos_project_oid(oid, project);
    rc = kairos_store_list(k->meta, oid, FINDING_PREFIX, NULL, FINDINGS_MAX * 4, &kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    if (kvs.n) {
        *out = calloc(kvs.n, sizeof(**out));
        if (!*out) {
            kairos_kvs_free(&kvs);
            return kairos_error_set(err, -ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < kvs.n; i++) {
        json_t *j = json_loads(kvs.v[i].val, 0, NULL);
        finding_from_json(&(*out)[(*n)++], j);
        json_decref(j);
    }
    kairos_kvs_free(&kvs);
    return 0;
}

/* The scan's findings replace the project's recorded ones; first_ms carries over. */
struct record_step {
    struct scan *s;
    const char **old; /* keys recorded before */
    size_t nold;
};

static int record_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct record_step *st = arg;
    struct scan *s = st->s;
    char key[KAIROS_KEY_MAX];
    int rc = kairos_ledger_project_open(kvs, s->project, NULL);
    bool changed = false;

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->nfound; i++) {
        struct kairos_drift_finding *f = &s->found[i];
        json_t *old, *j;
        finding_key(key, f);
        old = kairos_kvs_json(kvs, key);
        if (old)
            f->first_ms = kairos_json_u64(old, "first_ms", f->first_ms);
        json_decref(old);
        j = finding_json(f);
        kairos_txn_set_json(txn, key, j);
        json_decref(j);
        changed = true;
    }
    for (size_t i = 0; i < st->nold; i++) {
        bool kept = false;
        for (size_t j = 0; j < s->nfound && !kept; j++) {
            finding_key(key, &s->found[j]);
            kept = strcmp(key, st->old[i]) == 0;
        }
        if (!kept) {
            kairos_txn_rm(txn, st->old[i]);
            changed = true;
        }
    }
    return changed ? 0 : KAIROS_STORE_NOOP;
}

static int record_findings(struct scan *s)
{
    char oid[KAIROS_KEY_MAX], (*newkeys)[KAIROS_KEY_MAX] = NULL;
    struct record_step st = {s, NULL, 0};
    const char **keys = NULL;
    struct kairos_kvs old = {0};
    size_t n = 0;
    int rc;

    kairos_project_oid(oid, s->project);
    rc = kairos_store_list(s->k->meta, oid, FINDING_PREFIX, NULL, FINDINGS_MAX * 4, &old);
    if (rc < 0)
        return rc;
    keys = calloc(old.n + s->nfound + 1, sizeof(*keys));
    newkeys = calloc(s->nfound + 1, sizeof(*newkeys));
    st.old = calloc(old.n + 1, sizeof(*st.old));
    if (!keys || !newkeys || !st.old) {
        rc = -ENOMEM;
        goto out;
    }
    keys[n++] = "meta";
    for (size_t i = 0; i < old.n; i++)
        keys[n++] = st.old[st.nold++] = old.v[i].key;
    for (size_t i = 0; i < s->nfound; i++) {
        finding_key(newkeys[i], &s->found[i]);
        keys[n++] = newkeys[i];
    }
    if (s->nfound || st.nold)
        rc = kairos_store_update(s->k->meta, oid, keys, n, false, record_step, &st);
out:
    free(keys);
    free(newkeys);
    free(st.old);
    kairos_kvs_free(&old);
    return rc;
}

/* ---- acting ---- */

/* Revoke the read-write bindings of an allocation: their keys could have written it. */
static unsigned revoke_writers(struct scan *s, enum kairos_kind kind, const char *alloc)
{
    struct kairos_binding_page *page = NULL;
    unsigned revoked = 0;

    if (kairos_binding_list(s->k, s->project, kind, alloc, NULL, 1000, &page, NULL) < 0)
        return 0;
    for (size_t i = 0; i < page->count; i++) {
        struct kairos_error e = {0};
        if (page->items[i].flags & KAIROS_BIND_READ_ONLY)
            continue;
        if (kairos_binding_delete(s->k, s->project, kind, alloc, page->items[i].id, &e) == 0)
            revoked++;
        else if (s->rep)
            snprintf(s->rep->last_error, sizeof(s->rep->last_error), "drift: %s", e.msg);
    }
    kairos_binding_page_free(page);
    if (s->rep)
        s->rep->drift_revoked += revoked;
    return revoked;
}

/* Under "revoke": revoke @alloc's writers and say so in @f. */
static void revoke_alloc(struct scan *s, struct kairos_drift_finding *f, enum kairos_kind kind,
                         const char *alloc)
{
    unsigned n;

    if (s->policy != KAIROS_DRIFT_REVOKE || !alloc || !alloc[0])
        return;
    n = revoke_writers(s, kind, alloc);
    acted(f, "revoked %u read-write binding%s of %s %s (clients blocklisted)", n, n == 1 ? "" : "s",
          kairos_kind_name(kind), alloc);
}

/* ---- omap reading ---- */

typedef int (*omap_fn)(void *arg, const char *key, const char *val, size_t len);

/* Every omap key of @oid under @prefix, a page at a time. -ENOENT: no object. */
static int omap_each(rados_ioctx_t io, const char *oid, const char *prefix, omap_fn fn, void *arg)
{
    char after[512] = "";
    unsigned char more = 1;
    int rc = 0;

    while (rc == 0 && more) {
        rados_read_op_t op = rados_create_read_op();
        rados_omap_iter_t it = NULL;
        int prval = 0;
        char *k, *v;
        size_t len;

        rados_read_op_omap_get_vals2(op, after, prefix, OMAP_PAGE, &it, &more, &prval);
        rc = rados_read_op_operate(op, io, oid, 0);
        if (rc == 0)
            rc = prval;
        while (rc == 0 && rados_omap_get_next(it, &k, &v, &len) == 0 && k) {
            snprintf(after, sizeof(after), "%s", k);
            rc = fn(arg, k, v, len);
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
    }
    return rc;
}

static uint64_t le64(const char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

static uint32_t le32(const char *p)
{
    return (uint32_t)((unsigned char)p[0] | (unsigned char)p[1] << 8 | (unsigned char)p[2] << 16 |
                      (uint32_t)(unsigned char)p[3] << 24);
}

/* An encoded string (le32 length, bytes) at @p of @len bytes into @out. */
static bool decode_string(const char *p, size_t len, char *out, size_t outlen)
{
    uint32_t n;

    if (len < 4)
        return false;
    n = le32(p);
    if (n > len - 4 || n >= outlen)
        return false;
    memcpy(out, p + 4, n);
    out[n] = '\0';
    return true;
}

/* ---- volumes ---- */

struct vol {
    char name[KAIROS_NAME_MAX + 1];
    char id[KAIROS_RBD_ID_MAX]; /* "" when its image is missing */
    uint64_t bytes;             /* the ledger's */
    bool pending;
    /* From the header. */
    bool header;
    uint64_t size, features, snap_seq, limit; /* limit: bytes objects may cover */
    unsigned order, snaps, unrecorded, metadata;
    char unrecorded_names[128];
    char metadata_keys[8][KAIROS_NAME_MAX + 16]; /* the first few "metadata_..." keys */
    /* From the listing. */
    uint64_t stray, stray_removed, clones;
    uint64_t foreign, foreign_bytes; /* objects named after its id, not its image's */
    bool revoked;
};

struct image {
    char id[KAIROS_RBD_ID_MAX];
    char name[KAIROS_NAME_MAX + 1]; /* "" in the trash */
    bool trash;
};

/* A snapshot-context check in flight: data objects are asked CHECK_WINDOW at a time. */
#define CHECK_WINDOW 32

struct check {
    rados_completion_t c;
    struct vol *v;
    char in[9];
    char out[16];
};

struct volumes {
    struct scan *s;
    rados_ioctx_t io;
    struct check checks[CHECK_WINDOW];
    unsigned next_check;
    struct vol *v;
    size_t n;
    struct image *images; /* the directory and the trash */
    size_t nimages;
    bool listing_trash; /* add_image() reads the trash */
    char **snaps;       /* the ledger's "<volume>@<snap>", sorted */
    size_t nsnaps;
    uint64_t foreign, foreign_bytes;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_snap(const struct volumes *vs, const char *vol, const char *snap)
{
    char key[2 * KAIROS_NAME_MAX + 2], *p = key;

    snprintf(key, sizeof(key), "%s@%s", vol, snap);
    return vs->nsnaps && bsearch(&p, vs->snaps, vs->nsnaps, sizeof(*vs->snaps), cmp_str);
}

static int add_vol(void *arg, const struct kairos_alloc *a)
{
    struct volumes *vs = arg;
    struct vol *grown = realloc(vs->v, (vs->n + 1) * sizeof(*vs->v));

    if (!grown)
        return -ENOMEM;
    vs->v = grown;
    memset(&grown[vs->n], 0, sizeof(*grown));
    snprintf(grown[vs->n].name, sizeof(grown[0].name), "%s", a->name);
    grown[vs->n].bytes = a->bytes;
    grown[vs->n].pending = a->pending;
    vs->n++;
    return 0;
}

static int add_snap(void *arg, const struct kairos_alloc *a)
{
    struct volumes *vs = arg;
    char **grown;

    if (strncmp(a->name, "volume:", 7) != 0)
        return 0;
    grown = realloc(vs->snaps, (vs->nsnaps + 1) * sizeof(*vs->snaps));
    if (!grown)
        return -ENOMEM;
    vs->snaps = grown;
    grown[vs->nsnaps] = strdup(a->name + 7);
    if (!grown[vs->nsnaps])
        return -ENOMEM;
    vs->nsnaps++;
    return 0;
}

/* "id_<id>" of rbd_directory or rbd_trash: an image of the namespace. */
static int add_image(void *arg, const char *key, const char *val, size_t len)
{
    struct volumes *vs = arg;
    struct image *grown;
    int rc = pace(vs->s->ctx, 1);

    if (rc < 0)
        return rc;
    grown = realloc(vs->images, (vs->nimages + 1) * sizeof(*vs->images));
    if (!grown)
        return -ENOMEM;
    vs->images = grown;
    memset(&grown[vs->nimages], 0, sizeof(*grown));
    snprintf(grown[vs->nimages].id, sizeof(grown[0].id), "%s", key + 3);
    /* The directory's value is the name; the trash's a record (named elsewhere). */
    grown[vs->nimages].trash = vs->listing_trash;
    if (vs->listing_trash ||
        !decode_string(val, len, grown[vs->nimages].name, sizeof(grown[0].name)))
        grown[vs->nimages].name[0] = '\0';
    vs->nimages++;
    return 0;
}

static const struct image *image_by_name(const struct volumes *vs, const char *name)
{
    for (size_t i = 0; i < vs->nimages; i++) {
        if (strcmp(vs->images[i].name, name) == 0)
            return &vs->images[i];
    }
    return NULL;
}

static bool image_id_known(const struct volumes *vs, const char *id, size_t len)
{
    for (size_t i = 0; i < vs->nimages; i++) {
        if (strlen(vs->images[i].id) == len && strncmp(vs->images[i].id, id, len) == 0)
            return true;
    }
    return false;
}

/* The volume (committed, with an image) whose image id is @id[0..len), or NULL. */
static struct vol *vol_by_id(struct volumes *vs, const char *id, size_t len)
{
    for (size_t i = 0; i < vs->n; i++) {
        if (vs->v[i].id[0] && strlen(vs->v[i].id) == len && strncmp(vs->v[i].id, id, len) == 0)
            return &vs->v[i];
    }
    return NULL;
}

/* The volume whose image id @id extends (a key of it can write "<prefix><id>"), or NULL. */
static struct vol *vol_extended_by(struct volumes *vs, const char *id)
{
    for (size_t i = 0; i < vs->n; i++) {
        size_t l = strlen(vs->v[i].id);
        if (l && strlen(id) > l && strncmp(id, vs->v[i].id, l) == 0)
            return &vs->v[i];
    }
    return NULL;
}

/* Append @name to @v's unrecorded snapshots. */
static void add_unrecorded(struct vol *v, const char *name)
{
    size_t used = strlen(v->unrecorded_names);

    v->unrecorded++;
    snprintf(v->unrecorded_names + used, sizeof(v->unrecorded_names) - used, "%s%s",
             used ? "," : "", name);
}

struct header_walk {
    struct volumes *vs;
    struct vol *v;
};

/* One header key: what a key holding the image could have rewritten. */
static int header_key(void *arg, const char *key, const char *val, size_t len)
{
    struct header_walk *w = arg;
    struct vol *v = w->v;
    char name[KAIROS_NAME_MAX + 1];

    if (strcmp(key, "size") == 0 && len >= 8) {
        v->size = le64(val);
    } else if (strcmp(key, "features") == 0 && len >= 8) {
        v->features = le64(val);
    } else if (strcmp(key, "snap_seq") == 0 && len >= 8) {
        v->snap_seq = le64(val);
    } else if (strcmp(key, "order") == 0 && len >= 1) {
        v->order = (unsigned char)val[0];
    } else if (strncmp(key, TAG_KEY_PREFIX, strlen(TAG_KEY_PREFIX)) == 0) {
        /* The broker's own intent tags: its, or a clone's parent's. */
    } else if (strncmp(key, "metadata_", 9) == 0) {
        /* Other image metadata: the broker sets none; a raw write can set librbd options. */
        if (v->metadata < sizeof(v->metadata_keys) / sizeof(v->metadata_keys[0]))
            snprintf(v->metadata_keys[v->metadata], sizeof(v->metadata_keys[0]), "%s", key);
        v->metadata++;
    } else if (strncmp(key, "snapshot_", 9) == 0) {
        /* cls_rbd_snap: version (1), compat (1), length (4), id (8), name, image_size (8). */
        size_t off = 6 + 8;
        v->snaps++;
        if (len > off && decode_string(val + off, len - off, name, sizeof(name))) {
            off += 4 + strlen(name);
            if (len >= off + 8 && le64(val + off) > v->limit)
                v->limit = le64(val + off);
        } else {
            snprintf(name, sizeof(name), "?");
        }
        if (!has_snap(w->vs, v->name, name))
            add_unrecorded(v, name);
    }
    return 0;
}

static void size_str(uint64_t v, char *buf)
{
    kairos_size_format(v, buf, KAIROS_SIZE_STR_MAX);
}

/*
 * The header names snapshots the ledger does not: ask librbd which. A
 * snapshot removed while a clone in RBD's trash still used it waits in the
 * trash namespace, named by a UUID, until that clone is removed; if the
 * clone's removal was cut short it waits for ever, holding space. Those
 * are settled here (the childless removed), not drift; user snapshots
 * outside the ledger are.
 */
static void settle_snapshots(struct volumes *vs, struct vol *v)
{
    /* The header counted them; a few more may have been made since. */
    int max = (int)v->snaps + 8, n, nchildless = 0;
    rbd_snap_info_t *snaps = calloc((size_t)max, sizeof(*snaps));
    uint64_t *childless = calloc((size_t)max, sizeof(*childless));
    rbd_image_t img = NULL;

    if (!snaps || !childless || rbd_open_read_only(vs->io, v->name, &img, NULL) < 0)
        goto out;
    n = rbd_snap_list(img, snaps, &max);
    if (n < 0) {
        rbd_close(img);
        goto out;
    }
    v->unrecorded = 0;
    v->unrecorded_names[0] = '\0';
    for (int i = 0; i < n; i++) {
        rbd_snap_namespace_type_t type = RBD_SNAP_NAMESPACE_TYPE_USER;
        rbd_snap_get_namespace_type(img, snaps[i].id, &type);
        if (type == RBD_SNAP_NAMESPACE_TYPE_TRASH) {
            if (kairos_volume_snap_clones(img, snaps[i].id, true) == 0)
                childless[nchildless++] = snaps[i].id;
        } else if (!has_snap(vs, v->name, snaps[i].name)) {
            add_unrecorded(v, snaps[i].name);
        }
    }
    rbd_snap_list_end(snaps);
    rbd_close(img);
    if (nchildless && kairos_volume_open_owned(vs->io, v->name, &img) == 0) {
        for (int i = 0; i < nchildless; i++) {
            if (rbd_snap_remove_by_id(img, childless[i]) == 0 && vs->s->rep)
                vs->s->rep->trash_swept++;
        }
        rbd_close(img);
    }
out:
    free(snaps);
    free(childless);
}

/* Read @v's header and set down where it differs from the ledger. */
static int check_header(struct volumes *vs, struct vol *v)
{
    struct scan *s = vs->s;
    struct header_walk w = {vs, v};
    const struct image *img = image_by_name(vs, v->name);
    char oid[KAIROS_RBD_ID_MAX + 16], a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX];
    struct kairos_drift_finding *f;
    uint64_t missing;
    int rc;

    if (!img) {
        add_finding(s, KAIROS_VOLUME, v->name, "image",
                    "the ledger counts it but the namespace lists no such image");
        return 0;
    }
    snprintf(v->id, sizeof(v->id), "%s", img->id);
    snprintf(oid, sizeof(oid), "rbd_header.%s", v->id);
    if (s->rep)
        s->rep->scanned++;
    rc = pace(s->ctx, 1);
    if (rc == 0)
        rc = omap_each(vs->io, oid, "", header_key, &w);
    if (rc == -ENOENT) {
        add_finding(s, KAIROS_VOLUME, v->name, "image", "its header %s is gone", oid);
        return 0;
    }
    if (rc < 0)
        return kairos_error_set(s->err, rc, "cannot read %s of %s/%s: %s", oid, s->project, v->name,
                                strerror(-rc));
    v->header = true;
    if (v->limit < v->bytes)
        v->limit = v->bytes;
    if (v->size != v->bytes) {
        size_str(v->size, a);
        size_str(v->bytes, b);
        f = add_finding(s, KAIROS_VOLUME, v->name, "size",
                        "its header says %s, the ledger %s: the header was written behind the "
                        "broker's back",
                        a, b);
        f->bytes = v->size > v->bytes ? v->size - v->bytes : 0;
    }
    missing = DYNAMIC_FEATURES & ~v->features;
    if (missing)
        add_finding(s, KAIROS_VOLUME, v->name, "features",
                    "features 0x%" PRIx64 " cleared in its header (the object map keeps "
                    "writes counted, the exclusive lock keeps one writer)",
                    missing);
    if (v->metadata) {
        f = add_finding(s, KAIROS_VOLUME, v->name, "metadata",
                        "%u image metadata keys (%s%s), which only a raw write of its header "
                        "makes",
                        v->metadata, v->metadata_keys[0] + 9, v->metadata > 1 ? ", ..." : "");
        f->objects = v->metadata;
    }
    if (v->unrecorded)
        settle_snapshots(vs, v);
    if (v->unrecorded) {
        f = add_finding(s, KAIROS_VOLUME, v->name, "snapshots",
                        "%u snapshot%s, %u not in the ledger (%s)", v->snaps,
                        v->snaps == 1 ? "" : "s", v->unrecorded, v->unrecorded_names);
        f->objects = v->unrecorded;
    }
    return 0;
}

/* librbd calls its progress callback unconditionally: it must not be NULL. */
static int no_progress(uint64_t offset, uint64_t total, void *arg)
{
    (void)offset;
    (void)total;
    (void)arg;
    return 0;
}

/*
 * Put back what the header must say. The size is written back raw: a
 * librbd resize would visit every object of the size the tenant wrote
 * (any size at all), while the listing that follows removes the objects
 * that exist past the ledger's size. Then librbd enables the features
 * again and rebuilds the object map, over the ledger's size only, and
 * its header update tells every client of the image to read it again.
 */
static void put_back_header(struct volumes *vs, struct vol *v, struct kairos_drift_finding *size,
                            struct kairos_drift_finding *features)
{
    static const uint64_t order[] = {RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_OBJECT_MAP,
                                     RBD_FEATURE_FAST_DIFF};
    char oid[KAIROS_RBD_ID_MAX + 16], val[8], a[KAIROS_SIZE_STR_MAX];
    const char *keys[] = {"size"}, *vals[] = {val};
    size_t lens[] = {sizeof(val)};
    rbd_image_t img = NULL;
    int rc = 0;

    if (size) {
        rados_write_op_t op = rados_create_write_op();
        for (int i = 0; i < 8; i++)
            val[i] = (char)(v->bytes >> (8 * i));
        snprintf(oid, sizeof(oid), "rbd_header.%s", v->id);
        rados_write_op_omap_set(op, keys, vals, lens, 1);
        rc = rados_write_op_operate(op, vs->io, oid, NULL, 0);
        rados_release_write_op(op);
        size_str(v->bytes, a);
        if (rc == 0)
            acted(size, "size put back to %s", a);
        else
            acted(size, "putting the size back failed: %s", strerror(-rc));
    }
    rc = kairos_volume_open_owned(vs->io, v->name, &img);
    if (rc < 0) {
        if (features)
            acted(features, "could not open the image to put it back: %s", strerror(-rc));
        return;
    }
    /* In dependency order; enabling one may bring the next along, so look each time. */
    for (size_t i = 0; features && rc == 0 && i < sizeof(order) / sizeof(order[0]); i++) {
        uint64_t have = 0;
        rc = rbd_get_features(img, &have);
        if (rc == 0 && !(have & order[i]))
            rc = rbd_update_features(img, order[i], 1);
    }
    /* A re-enabled object map starts out invalid; one under a rewritten size may be stale. */
    if (rc == 0 && (features || (v->features & RBD_FEATURE_OBJECT_MAP)))
        rc = rbd_rebuild_object_map(img, no_progress, NULL);
    /* A metadata change makes librbd tell the image's clients to read the header again. */
    if (rc == 0 && size && !features) {
        rc = rbd_metadata_set(img, "kairos.putback", "1");
        if (rc == 0)
            rc = rbd_metadata_remove(img, "kairos.putback");
    }
    if (features && rc == 0)
        acted(features, "features enabled again, object map rebuilt");
    else if (features)
        acted(features, "putting the features back failed: %s", strerror(-rc));
    else if (rc < 0 && size)
        acted(size, "rebuilding the object map failed: %s", strerror(-rc));
    rbd_close(img);
}

/* Remove the image metadata keys, all but the broker's intent tags. */
static void put_back_metadata(struct volumes *vs, struct vol *v, struct kairos_drift_finding *f)
{
    char oid[KAIROS_RBD_ID_MAX + 16];
    rados_write_op_t op = rados_create_write_op();
    int rc;

    snprintf(oid, sizeof(oid), "rbd_header.%s", v->id);
    /*
     * Every key from "metadata_" up to, not including, "metadata`" ('`'
     * follows '_'), but the tags: those from TAG_KEY_PREFIX up to its last
     * '.' made '/' (which follows '.').
     */
    rados_write_op_omap_rm_range2(op, "metadata_", 9, TAG_KEY_PREFIX, strlen(TAG_KEY_PREFIX));
    rados_write_op_omap_rm_range2(op, TAG_KEY_END, strlen(TAG_KEY_END), "metadata`", 9);
    rc = rados_write_op_operate(op, vs->io, oid, NULL, 0);
    rados_release_write_op(op);
    if (rc == 0)
        acted(f, "metadata removed");
    else
        acted(f, "removing the metadata failed: %s", strerror(-rc));
}

/* ---- the RBD namespace's objects ---- */

static bool rbd_meta_object(const char *oid)
{
    for (size_t i = 0; rbd_meta_objects[i]; i++) {
        if (strcmp(oid, rbd_meta_objects[i]) == 0)
            return true;
    }
    return false;
}

static bool hex16(const char *s)
{
    return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static void check_done(struct check *ck)
{
    rados_aio_wait_for_complete(ck->c);
    if (rados_aio_get_return_value(ck->c) == -ERANGE)
        ck->v->clones++;
    rados_aio_release(ck->c);
    ck->c = NULL;
}

static void drain_checks(struct volumes *vs)
{
    for (unsigned i = 0; i < CHECK_WINDOW; i++) {
        if (vs->checks[i].c)
            check_done(&vs->checks[i]);
    }
}

/*
 * A write whose snapshot context is newer than any snapshot of the image
 * made the OSD keep a clone for it: the object's snapset seq passes the
 * image's (and the pool's). rbd.assert_snapc_seq says so without a read.
 */
static int check_snapc(struct volumes *vs, struct vol *v, const char *oid)
{
    struct kairos_drift_ctx *ctx = vs->s->ctx;
    struct check *ck = &vs->checks[vs->next_check];
    uint64_t seq = v->snap_seq;
    int rc;

    if (ck->c)
        check_done(ck);
    if (ctx && ctx->have_snap_seq && ctx->block_snap_seq < seq)
        seq = ctx->block_snap_seq;
    for (int i = 0; i < 8; i++)
        ck->in[i] = (char)((seq + 1) >> (8 * i));
    ck->in[8] = SNAPC_SEQ_GT;
    ck->v = v;
    rc = rados_aio_create_completion2(NULL, NULL, &ck->c);
    if (rc == 0)
        rc = rados_aio_exec(vs->io, oid, ck->c, "rbd", "assert_snapc_seq", ck->in, sizeof(ck->in),
                            ck->out, sizeof(ck->out));
    if (rc < 0 && ck->c) {
        rados_aio_release(ck->c);
        ck->c = NULL;
    }
    vs->next_check = (vs->next_check + 1) % CHECK_WINDOW;
    return rc;
}

/* A data object of committed volume @v, "<index>" after its prefix. */
static int check_data_object(struct volumes *vs, struct vol *v, const char *oid, const char *index)
{
    uint64_t objsize = 1ULL << (v->order ? v->order : 22);
    int rc = pace(vs->s->ctx, 1);

    if (rc < 0)
        return rc;
    if (!hex16(index) || strtoull(index, NULL, 16) >= (v->limit + objsize - 1) / objsize) {
        /* Not an object of the image: a bad name, or past its size and its snapshots'. */
        v->stray++;
        if (rados_remove(vs->io, oid) == 0)
            v->stray_removed++;
        return 0;
    }
    return check_snapc(vs, v, oid);
}

/*
 * An object no counted image explains: counted, and removed under "revoke".
 * One of no volume's id (@owner NULL), which no binding's key can write,
 * is judged only once older than the lease: a create in flight since the
 * scan read the ledger and the image directory has made it.
 */
static int foreign_object(struct volumes *vs, struct vol *owner, const char *oid)
{
    uint64_t size = 0, now = kairos_now_ms();
    time_t mtime = 0;
    int rc = pace(vs->s->ctx, 1);

    if (rc < 0)
        return rc;
    if (rados_stat(vs->io, oid, &size, &mtime) == -ENOENT)
        return 0;
    if (!owner && (uint64_t)mtime * 1000 + vs->s->k->cfg->reconcile.lease_ms > now)
        return 0;
    if (owner) {
        owner->foreign++;
        owner->foreign_bytes += size;
    } else {
        vs->foreign++;
        vs->foreign_bytes += size;
    }
    if (vs->s->policy == KAIROS_DRIFT_REVOKE)
        rados_remove(vs->io, oid);
    return 0;
}

/* "rbd_header.<id>", "rbd_object_map.<id>[.<snap>]": @rest is what follows the prefix. */
static int check_id_object(struct volumes *vs, const char *oid, const char *rest, bool map)
{
    size_t len = map && strchr(rest, '.') ? (size_t)(strchr(rest, '.') - rest) : strlen(rest);

    /* Known by its name: no read, but paced like every object, so scan_rate is objects/s. */
    if (vol_by_id(vs, rest, len) || image_id_known(vs, rest, len))
        return pace(vs->s->ctx, 1);
    /* Named after a volume's id and more: its key's grant reaches it. */
    return foreign_object(vs, vol_extended_by(vs, rest), oid);
}

static int classify(struct volumes *vs, const char *oid)
{
    const char *rest, *dot;
    struct vol *v;

    if (rbd_meta_object(oid))
        return pace(vs->s->ctx, 1);
    if (strncmp(oid, "rbd_data.", 9) == 0) {
        rest = oid + 9;
        dot = strchr(rest, '.');
        v = dot ? vol_by_id(vs, rest, (size_t)(dot - rest)) : NULL;
        if (v && v->pending)
            return pace(vs->s->ctx, 1);
        if (v)
            return check_data_object(vs, v, oid, dot + 1);
        if (dot && image_id_known(vs, rest, (size_t)(dot - rest)))
            return pace(vs->s->ctx, 1);
        return foreign_object(vs, NULL, oid);
    }
    if (strncmp(oid, "rbd_header.", 11) == 0)
        return check_id_object(vs, oid, oid + 11, false);
    if (strncmp(oid, "rbd_object_map.", 15) == 0)
        return check_id_object(vs, oid, oid + 15, true);
    if (strncmp(oid, "rbd_id.", 7) == 0) {
        if (image_by_name(vs, oid + 7))
            return pace(vs->s->ctx, 1);
        for (size_t i = 0; i < vs->n; i++) {
            if (vs->v[i].pending && strcmp(vs->v[i].name, oid + 7) == 0)
                return pace(vs->s->ctx, 1);
        }
    }
    return foreign_object(vs, NULL, oid);
}

/* Every object of the project's RBD namespace. */
static int list_rbd_namespace(struct volumes *vs)
{
    rados_list_ctx_t ls;
    const char *oid;
    int rc = rados_nobjects_list_open(vs->io, &ls);

    if (rc < 0)
        return rc;
    while ((rc = rados_nobjects_list_next2(ls, &oid, NULL, NULL, NULL, NULL, NULL)) == 0) {
        if (vs->s->rep)
            vs->s->rep->scanned++;
        rc = classify(vs, oid);
        if (rc < 0)
            break;
    }
    rados_nobjects_list_close(ls);
    drain_checks(vs);
    return rc == -ENOENT ? 0 : rc;
}

/* Revoke @v's writers once, and say so in @f. */
static void revoke_vol(struct scan *s, struct vol *v, struct kairos_drift_finding *f)
{
    if (s->policy != KAIROS_DRIFT_REVOKE)
        return;
    if (!v->revoked) {
        revoke_alloc(s, f, KAIROS_VOLUME, v->name);
        v->revoked = true;
    } else {
        acted(f, "its read-write bindings revoked");
    }
}

static struct kairos_drift_finding *find(struct scan *s, size_t from, const char *alloc,
                                         const char *what)
{
    for (size_t i = from; i < s->nfound; i++) {
        if (strcmp(s->found[i].alloc, alloc) == 0 && strcmp(s->found[i].what, what) == 0)
            return &s->found[i];
    }
    return NULL;
}

static void listing_findings(struct volumes *vs)
{
    struct scan *s = vs->s;
    struct kairos_drift_finding *f;
    char a[KAIROS_SIZE_STR_MAX];

    for (size_t i = 0; i < vs->n; i++) {
        struct vol *v = &vs->v[i];
        if (v->stray) {
            size_str(v->limit, a);
            f = add_finding(s, KAIROS_VOLUME, v->name, "objects",
                            "%" PRIu64 " objects under its data prefix are no object of the "
                            "image (a bad name, or past %s)",
                            v->stray, a);
            f->objects = v->stray;
            acted(f, "removed %" PRIu64, v->stray_removed);
            revoke_vol(s, v, f);
        }
        if (v->clones) {
            f = add_finding(s, KAIROS_VOLUME, v->name, "clones",
                            "%" PRIu64 " objects were written with a snapshot context the image "
                            "never had: the OSD keeps clones no one counts, until those "
                            "snapshot ids are removed from the pool",
                            v->clones);
            f->objects = v->clones;
            revoke_vol(s, v, f);
        }
        if (v->foreign) {
            f = add_finding(s, KAIROS_VOLUME, v->name, "foreign",
                            "%" PRIu64 " objects named after its image id (%s) belong to no "
                            "image",
                            v->foreign, v->id);
            f->objects = v->foreign;
            f->bytes = v->foreign_bytes;
            if (s->policy == KAIROS_DRIFT_REVOKE)
                acted(f, "removed");
            revoke_vol(s, v, f);
        }
    }
    if (vs->foreign) {
        f = add_finding(s, KAIROS_VOLUME, "", "foreign",
                        "%" PRIu64 " objects in the RBD namespace belong to no volume",
                        vs->foreign);
        f->objects = vs->foreign;
        f->bytes = vs->foreign_bytes;
        if (s->policy == KAIROS_DRIFT_REVOKE)
            acted(f, "removed (no binding's key could write them)");
    }
}

/* Images of the namespace the ledger does not know (nor is making). */
static void unledgered_images(struct volumes *vs)
{
    char names[200] = "";
    unsigned count = 0, trash = 0;

    for (size_t i = 0; i < vs->nimages; i++) {
        bool known = !vs->images[i].name[0];
        trash += vs->images[i].trash;
        for (size_t j = 0; j < vs->n && !known; j++)
            known = strcmp(vs->v[j].name, vs->images[i].name) == 0;
        if (known)
            continue;
        count++;
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", count > 1 ? "," : "",
                 vs->images[i].name);
    }
    if (count) {
        struct kairos_drift_finding *f =
            add_finding(vs->s, KAIROS_VOLUME, "", "images",
                        "%u images the ledger does not count (%s)", count, names);
        f->objects = count;
    }
    /* The broker removes images outright: one in the trash was put there behind it. */
    if (trash) {
        struct kairos_drift_finding *f =
            add_finding(vs->s, KAIROS_VOLUME, "", "trash",
                        "%u images in the RBD trash, whose space the ledger does not count", trash);
        f->objects = trash;
    }
}

static void volumes_free(struct volumes *vs)
{
    for (size_t i = 0; i < vs->nsnaps; i++)
        free(vs->snaps[i]);
    free(vs->snaps);
    free(vs->v);
    free(vs->images);
    if (vs->io)
        rados_ioctx_destroy(vs->io);
}

static int scan_volumes(struct scan *s)
{
    struct volumes vs = {.s = s};
    size_t first = s->nfound;
    int rc;

    rc = kairos_ledger_each(s->k, s->project, KAIROS_VOLUME, add_vol, &vs);
    if (rc == 0)
        rc = kairos_ledger_each(s->k, s->project, KAIROS_SNAPSHOT, add_snap, &vs);
    if (rc < 0)
        goto out;
    if (vs.nsnaps)
        qsort(vs.snaps, vs.nsnaps, sizeof(*vs.snaps), cmp_str);
    rc = rados_ioctx_create(s->k->rados, s->k->cfg->pools.block, &vs.io);
    if (rc < 0) {
        vs.io = NULL;
        rc = rc == -ENOENT ? 0 : rc;
        goto out;
    }
    rados_ioctx_set_namespace(vs.io, s->project);
    rc = omap_each(vs.io, "rbd_directory", "id_", add_image, &vs);
    vs.listing_trash = true;
    if (rc == 0 || rc == -ENOENT)
        rc = omap_each(vs.io, "rbd_trash", "id_", add_image, &vs);
    if (rc == -ENOENT)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < vs.n; i++) {
        if (!vs.v[i].pending)
            rc = check_header(&vs, &vs.v[i]);
    }
    if (rc < 0)
        goto out;
    /* Revoke first, so that the owner of the lock is gone when the broker resizes. */
    for (size_t i = 0; i < vs.n; i++) {
        struct vol *v = &vs.v[i];
        struct kairos_drift_finding *size = find(s, first, v->name, "size");
        struct kairos_drift_finding *feat = find(s, first, v->name, "features");
        struct kairos_drift_finding *snaps = find(s, first, v->name, "snapshots");
        struct kairos_drift_finding *meta = find(s, first, v->name, "metadata");
        if (size)
            revoke_vol(s, v, size);
        if (feat)
            revoke_vol(s, v, feat);
        if (snaps)
            revoke_vol(s, v, snaps);
        if (meta) {
            revoke_vol(s, v, meta);
            put_back_metadata(&vs, v, meta);
        }
        if (size || feat)
            put_back_header(&vs, v, size, feat);
    }
    rc = list_rbd_namespace(&vs);
    if (rc < 0)
        goto out;
    listing_findings(&vs);
    unledgered_images(&vs);
out:
    if (rc < 0 && rc != -ENOLCK && s->err && !s->err->code)
        kairos_error_set(s->err, rc, "drift scan of %s's volumes: %s", s->project, strerror(-rc));
    volumes_free(&vs);
    return rc;
}

/* ---- shares ---- */

struct share {
    char name[KAIROS_NAME_MAX + 1];
    uint64_t bytes; /* the ledger's */
    bool pending;
    char path[KAIROS_SHARE_PATH_MAX];
    char ns[2 * KAIROS_NAME_MAX + 2];
    bool revoked;
};

/* What the file system says of an inode whose objects the namespace holds. */
struct ino {
    uint64_t ino;
    bool exists;
    uint64_t objects; /* objects its size covers (at least one: the backtrace) */
};

struct shares {
    struct scan *s;
    struct ceph_mount_info *cm;
    rados_ioctx_t io;
    struct share *v;
    size_t n;
    struct ino *inos; /* of the namespace being listed */
    size_t ninos, capinos;
    /* Of the namespace being listed. */
    uint64_t foreign, foreign_bytes, orphans, orphan_bytes;
};

static int add_share(void *arg, const struct kairos_alloc *a)
{
    struct shares *ss = arg;
    struct share *grown = realloc(ss->v, (ss->n + 1) * sizeof(*ss->v));

    if (!grown)
        return -ENOMEM;
    ss->v = grown;
    memset(&grown[ss->n], 0, sizeof(*grown));
    snprintf(grown[ss->n].name, sizeof(grown[0].name), "%s", a->name);
    grown[ss->n].bytes = a->bytes;
    grown[ss->n].pending = a->pending;
    ss->n++;
    return 0;
}

static void revoke_share(struct scan *s, struct share *sh, struct kairos_drift_finding *f)
{
    if (s->policy != KAIROS_DRIFT_REVOKE)
        return;
    if (!sh->revoked) {
        revoke_alloc(s, f, KAIROS_SHARE, sh->name);
        sh->revoked = true;
    } else {
        acted(f, "its read-write bindings revoked");
    }
}

/* Quota and size of one share; 1 when it is settled enough to scan its objects. */
static int check_share(struct shares *ss, struct share *sh)
{
    struct scan *s = ss->s;
    const char *root = s->k->cfg->pools.share_root;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX], v[32];
    struct kairos_drift_finding *f;
    uint64_t quota = 0, rbytes = 0, slack;
    int rc, n;

    snprintf(sh->path, sizeof(sh->path), "%s/%s/%s", strcmp(root, "/") ? root : "", s->project,
             sh->name);
    rc = pace(s->ctx, 3);
    if (rc < 0)
        return rc;
    rc = kairos_share_xattr_u64(ss->cm, sh->path, "ceph.quota.max_bytes", &quota);
    /* Not made yet, or not finished (the reconciler's intents see to it). */
    if (rc == -ENOENT || rc == -ENODATA)
        return 0;
    if (rc < 0)
        return kairos_error_set(s->err, rc, "cannot read the quota of %s: %s", sh->path,
                                strerror(-rc));
    kairos_share_xattr_u64(ss->cm, sh->path, "ceph.dir.rbytes", &rbytes);
    n = ceph_getxattr(ss->cm, sh->path, "ceph.dir.layout.pool_namespace", sh->ns,
                      sizeof(sh->ns) - 1);
    if (n <= 0)
        snprintf(sh->ns, sizeof(sh->ns), "%s", s->project);
    else
        sh->ns[n] = '\0';
    if (quota != sh->bytes) {
        size_str(quota, a);
        size_str(sh->bytes, b);
        f = add_finding(s, KAIROS_SHARE, sh->name, "quota", "its quota is %s, the ledger %s", a, b);
        snprintf(v, sizeof(v), "%" PRIu64, sh->bytes);
        if (ceph_setxattr(ss->cm, sh->path, "ceph.quota.max_bytes", v, strlen(v), 0) == 0)
            acted(f, "quota put back to %s", b);
        revoke_share(s, sh, f);
    }
    slack = sh->bytes / QUOTA_SLACK_DIV > QUOTA_SLACK_MIN ? sh->bytes / QUOTA_SLACK_DIV
                                                          : QUOTA_SLACK_MIN;
    if (rbytes > sh->bytes + slack) {
        size_str(rbytes, a);
        size_str(sh->bytes, b);
        f = add_finding(s, KAIROS_SHARE, sh->name, "usage",
                        "it holds %s, past its quota of %s (more than CephFS's slack)", a, b);
        f->bytes = rbytes - sh->bytes;
        revoke_share(s, sh, f);
    }
    return 1;
}

static struct ino *ino_find(struct shares *ss, uint64_t ino)
{
    for (size_t i = 0; i < ss->ninos; i++) {
        if (ss->inos[i].ino == ino)
            return &ss->inos[i];
    }
    return NULL;
}

/* Ask the file system whether @i's inode exists, and how many objects its size covers. */
static void ino_ask(struct shares *ss, struct ino *i)
{
    struct inodeno_t no = {i->ino};
    struct ceph_statx stx;
    struct ceph_file_layout layout;
    Inode *in = NULL;

    i->exists = false;
    i->objects = 0;
    if (pace(ss->s->ctx, 1) < 0 || ceph_ll_lookup_inode(ss->cm, no, &in) < 0)
        return;
    i->exists = true;
    i->objects = 1;
    if (ceph_ll_getattr(ss->cm, in, &stx, CEPH_STATX_SIZE, 0, ceph_mount_perms(ss->cm)) == 0 &&
        ceph_ll_file_layout(ss->cm, in, &layout) == 0 && layout.fl_object_size) {
        uint64_t per = (uint64_t)layout.fl_object_size;
        /* Striping spreads a stripe's units over fl_stripe_count objects. */
        uint64_t objs = (stx.stx_size + per - 1) / per + layout.fl_stripe_count;
        i->objects = objs > 1 ? objs : 1;
    } else {
        /* Unknown size: grant it every object rather than guess. */
        i->objects = UINT64_MAX;
    }
    ceph_ll_put(ss->cm, in);
}

/* Inode @ino as the file system saw it first in this namespace listing. */
static struct ino *ino_lookup(struct shares *ss, uint64_t ino)
{
    struct ino *i = ino_find(ss, ino);

    if (i)
        return i;
    if (ss->ninos == ss->capinos) {
        size_t cap = ss->capinos ? 2 * ss->capinos : 64;
        struct ino *grown = realloc(ss->inos, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        ss->inos = grown;
        ss->capinos = cap;
    }
    i = &ss->inos[ss->ninos++];
    memset(i, 0, sizeof(*i));
    i->ino = ino;
    ino_ask(ss, i);
    return i;
}

/* One object of a share's data namespace: "<ino hex>.<index, 8 hex>" of a file. */
static int check_share_object(struct shares *ss, const char *oid)
{
    unsigned long long ino, idx;
    char tail;
    uint64_t size = 0;
    time_t mtime = 0;
    struct ino *i = NULL;
    bool cephfs_name = sscanf(oid, "%llx.%llx%c", &ino, &idx, &tail) == 2 &&
                       strlen(strchr(oid, '.') + 1) == 8 &&
                       strspn(oid, "0123456789abcdef.") == strlen(oid);
    int rc = pace(ss->s->ctx, 1);

    if (rc < 0)
        return rc;
    if (cephfs_name) {
        i = ino_lookup(ss, ino);
        if (!i)
            return -ENOMEM;
        if (i->exists && idx < i->objects)
            return 0;
        /* The file may have grown since it was looked up (listing order is not its order). */
        if (i->exists) {
            struct ino again = {.ino = i->ino};
            ino_ask(ss, &again);
            if (again.exists)
                *i = again;
            if (idx < i->objects)
                return 0;
        }
    }
    rc = pace(ss->s->ctx, 1);
    if (rc < 0)
        return rc;
    rados_stat(ss->io, oid, &size, &mtime);
    /*
     * Past its file's size, but written within the lease: a writer whose
     * size the MDS has not heard of yet (it holds the file's write caps).
     * Judged by a later pass, once its writer had all the time to say.
     */
    if (cephfs_name && i->exists &&
        (uint64_t)mtime * 1000 + ss->s->k->cfg->reconcile.lease_ms > kairos_now_ms())
        return 0;
    /*
     * A CephFS name whose inode is gone may be a deleted file the MDS is
     * still purging: an orphan, acted on only once it outlives the lease.
     */
    if (cephfs_name && !i->exists) {
        ss->orphans++;
        ss->orphan_bytes += size;
        return 0;
    }
    ss->foreign++;
    ss->foreign_bytes += size;
    if (ss->s->policy == KAIROS_DRIFT_REVOKE)
        rados_remove(ss->io, oid);
    return 0;
}

static int list_share_namespace(struct shares *ss, const char *ns)
{
    rados_list_ctx_t ls;
    const char *oid;
    int rc;

    rados_ioctx_set_namespace(ss->io, ns);
    ss->ninos = 0;
    ss->foreign = ss->foreign_bytes = ss->orphans = ss->orphan_bytes = 0;
    rc = rados_nobjects_list_open(ss->io, &ls);
    if (rc < 0)
        return rc;
    while ((rc = rados_nobjects_list_next2(ls, &oid, NULL, NULL, NULL, NULL, NULL)) == 0) {
        if (ss->s->rep)
            ss->s->rep->scanned++;
        rc = check_share_object(ss, oid);
        if (rc < 0)
            break;
    }
    rados_nobjects_list_close(ls);
    return rc == -ENOENT ? 0 : rc;
}

/* Findings on the objects of namespace @ns, used by the shares @first.. that share it. */
static void namespace_findings(struct shares *ss, const char *ns, struct share *sh,
                               const struct kairos_drift_finding *before)
{
    struct scan *s = ss->s;
    struct kairos_drift_finding *f;

    if (ss->foreign) {
        f = add_finding(s, KAIROS_SHARE, sh->name, "objects",
                        "%" PRIu64 " objects in its data namespace %s are no file's data "
                        "(written around CephFS)",
                        ss->foreign, ns);
        f->objects = ss->foreign;
        f->bytes = ss->foreign_bytes;
        if (s->policy == KAIROS_DRIFT_REVOKE)
            acted(f, "removed");
        revoke_share(s, sh, f);
    }
    if (ss->orphans) {
        f = add_finding(s, KAIROS_SHARE, sh->name, "orphans",
                        "%" PRIu64 " objects in its data namespace %s name no file of the file "
                        "system",
                        ss->orphans, ns);
        f->objects = ss->orphans;
        f->bytes = ss->orphan_bytes;
        /* Found before, more than a lease ago: no purge takes that long. */
        if (before && before->first_ms + s->k->cfg->reconcile.lease_ms <= kairos_now_ms()) {
            f->first_ms = before->first_ms;
            revoke_share(s, sh, f);
        } else {
            acted(f, "reported; acted on if still there after %" PRIu64 " s",
                  s->k->cfg->reconcile.lease_ms / 1000);
        }
    }
}

static int scan_shares(struct scan *s, const struct kairos_drift_finding *old, size_t nold)
{
    struct shares ss = {.s = s};
    int rc = kairos_ledger_each(s->k, s->project, KAIROS_SHARE, add_share, &ss);
    bool *ready = NULL;

    if (rc < 0 || ss.n == 0)
        goto out;
    ready = calloc(ss.n, sizeof(*ready));
    if (!ready) {
        rc = -ENOMEM;
        goto out;
    }
    rc = kairos_shares_mount(s->k, &ss.cm, s->err);
    if (rc == 0)
        rc = rados_ioctx_create(s->k->rados, s->k->cfg->pools.cephfs_data, &ss.io);
    if (rc < 0) {
        ss.io = NULL;
        goto out;
    }
    for (size_t i = 0; rc >= 0 && i < ss.n; i++) {
        if (!ss.v[i].pending) {
            rc = check_share(&ss, &ss.v[i]);
            ready[i] = rc == 1;
        }
    }
    for (size_t i = 0; rc >= 0 && i < ss.n; i++) {
        const struct kairos_drift_finding *before = NULL;
        bool seen = false;
        if (!ready[i])
            continue;
        /* Older shares share the project's namespace: list each namespace once. */
        for (size_t j = 0; j < i && !seen; j++)
            seen = ready[j] && strcmp(ss.v[j].ns, ss.v[i].ns) == 0;
        if (seen)
            continue;
        rc = list_share_namespace(&ss, ss.v[i].ns);
        for (size_t j = 0; j < nold && !before; j++) {
            if (old[j].kind == KAIROS_SHARE && strcmp(old[j].alloc, ss.v[i].name) == 0 &&
                strcmp(old[j].what, "orphans") == 0)
                before = &old[j];
        }
        if (rc == 0)
            namespace_findings(&ss, ss.v[i].ns, &ss.v[i], before);
    }
    if (rc > 0)
        rc = 0;
out:
    if (rc < 0 && rc != -ENOLCK && s->err && !s->err->code)
        kairos_error_set(s->err, rc, "drift scan of %s's shares: %s", s->project, strerror(-rc));
    if (ss.io)
        rados_ioctx_destroy(ss.io);
    free(ready);
    free(ss.inos);
    free(ss.v);
    return rc;
}

/* ---- a project, a run ---- */

static void audit(struct scan *s)
{
    struct kairos_reconcile_report *rep = s->rep;

    if (!rep)
        return;
    for (size_t i = 0; i < s->nfound; i++) {
        const struct kairos_drift_finding *f = &s->found[i];
        rep->drift++;
        if (strcmp(f->action, "reported") != 0 && strncmp(f->action, "reported;", 9) != 0)
            rep->drift_acted++;
        if (rep->naudit < KAIROS_DRIFT_AUDIT_MAX)
            snprintf(rep->audit[rep->naudit++], sizeof(rep->audit[0]), "%s %s%s%s: %s: %s; %s",
                     s->project, kairos_kind_name(f->kind), f->alloc[0] ? " " : "", f->alloc,
                     f->what, f->detail, f->action);
    }
}

/* The block pool's newest snapshot id: no legitimate write carries a newer one. */
static void read_snap_seq(struct kairos *k, struct kairos_drift_ctx *ctx)
{
    json_t *dump = NULL, *p;
    size_t i;

    if (ctx->have_snap_seq ||
        kairos_mon_json(k, "{\"prefix\":\"osd dump\",\"format\":\"json\"}", &dump, NULL) < 0)
        return;
    json_array_foreach(json_object_get(dump, "pools"), i, p)
    {
        const char *name = json_string_value(json_object_get(p, "pool_name"));
        if (name && strcmp(name, k->cfg->pools.block) == 0) {
            ctx->block_snap_seq = kairos_json_u64(p, "snap_seq", 0);
            ctx->have_snap_seq = true;
        }
    }
    json_decref(dump);
}

int kairos_drift_project(struct kairos *k, const char *project, struct kairos_drift_ctx *ctx,
                         struct kairos_reconcile_report *rep, struct kairos_error *err)
{
    struct scan s = {.k = k, .project = project, .ctx = ctx, .rep = rep, .err = err};
    const char *keys[] = {"meta", POLICY_KEY};
    struct kairos_drift_finding *old = NULL;
    char oid[KAIROS_KEY_MAX];
    struct kairos_kvs kvs;
    size_t nold = 0;
    uint64_t gen;
    json_t *meta;
    const char *state;
    int rc;

    if (ctx && !ctx->start_ms)
        ctx->start_ms = kairos_now_ms();
    if (ctx)
        read_snap_seq(k, ctx);
    kairos_project_oid(oid, project);
    rc = kairos_store_read(k->meta, oid, keys, 2, &gen, &kvs);
    if (rc < 0)
        return kairos_error_set(err, rc, rc == -ENOENT ? "no project %s" : "project %s: %s",
                                project, strerror(-rc));
    meta = kairos_kvs_json(&kvs, "meta");
    state = json_string_value(json_object_get(meta, "state"));
    s.policy = policy_of(&kvs);
    /* A project being deleted is the cascade's to take apart. */
    if (!meta || (state && strcmp(state, "active") != 0)) {
        rc = meta ? 0 : kairos_error_set(err, -ENOENT, "no project %s", project);
        json_decref(meta);
        kairos_kvs_free(&kvs);
        return rc;
    }
    json_decref(meta);
    kairos_kvs_free(&kvs);
    s.found = calloc(FINDINGS_MAX, sizeof(*s.found));
    if (!s.found)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_drift_list(k, project, &old, &nold, NULL);
    rc = scan_volumes(&s);
    if (rc == 0)
        rc = scan_shares(&s, old, nold);
    if (rc == 0) {
        rc = record_findings(&s);
        if (rc < 0)
            kairos_error_set(err, rc, "cannot record the drift of %s: %s", project, strerror(-rc));
    }
    if (rc == 0) {
        audit(&s);
        if (rep)
            rep->drift_projects++;
    }
    free(old);
    free(s.found);
    return rc;
}

int kairos_drift_scan(struct kairos *k, const char *project, unsigned *found,
                      struct kairos_error *err)
{
    struct kairos_drift_ctx ctx = {0};
    struct kairos_reconcile_report rep;
    int rc;

    memset(&rep, 0, sizeof(rep));
    if (found)
        *found = 0;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    rc = kairos_drift_project(k, project, &ctx, &rep, err);
    if (found)
        *found = rep.drift;
    return rc;
}

/* The reconciler object's "drift.cursor": the project the next run starts after. */
static void save_cursor(struct kairos *k, const char *after)
{
    rados_write_op_t op = rados_create_write_op();
    const char *keys[] = {CURSOR_KEY};
    size_t lens[] = {after ? strlen(after) : 0};

    if (after && after[0])
        rados_write_op_omap_set(op, keys, &after, lens, 1);
    else
        rados_write_op_omap_rm_keys(op, keys, 1);
    rados_write_op_operate(op, k->meta, KAIROS_RECONCILER_OID, NULL, 0);
    rados_release_write_op(op);
}

struct run_walk {
    struct kairos *k;
    struct kairos_drift_ctx *ctx;
    struct kairos_reconcile_report *rep;
    struct kairos_error *err;
    bool stopped;
    char last[KAIROS_NAME_MAX + 1];
};

static int run_page(void *arg, const struct kairos_kvs *idx)
{
    struct run_walk *w = arg;

    for (size_t i = 0; i < idx->n; i++) {
        const char *name = idx->v[i].key + 2;
        struct kairos_error e = {0};
        int rc;

        if (w->ctx->deadline_ms && kairos_now_ms() >= w->ctx->deadline_ms) {
            w->stopped = true;
            return 1;
        }
        if (!kairos_name_valid(name))
            continue;
        rc = kairos_drift_project(w->k, name, w->ctx, w->rep, &e);
        if (rc == -ENOLCK)
            return rc;
        if (rc < 0 && rc != -ENOENT) {
            w->rep->errors++;
            snprintf(w->rep->last_error, sizeof(w->rep->last_error), "drift: %s", e.msg);
        }
        snprintf(w->last, sizeof(w->last), "%s", name);
    }
    return 0;
}

int kairos_drift_run(struct kairos *k, struct kairos_drift_ctx *ctx,
                     struct kairos_reconcile_report *rep, struct kairos_error *err)
{
    struct run_walk w = {.k = k, .ctx = ctx, .rep = rep, .err = err};
    const char *keys[] = {CURSOR_KEY};
    char after[KAIROS_KEY_MAX] = "";
    struct kairos_kvs kvs;
    uint64_t gen;
    int rc;

    if (!ctx->start_ms)
        ctx->start_ms = kairos_now_ms();
    read_snap_seq(k, ctx);
    if (kairos_store_read(k->meta, KAIROS_RECONCILER_OID, keys, 1, &gen, &kvs) == 0) {
        const char *c = kairos_kvs_get(&kvs, CURSOR_KEY);
        if (c && kairos_name_valid(c))
            snprintf(after, sizeof(after), "p.%s", c);
        kairos_kvs_free(&kvs);
    }
    rc = kairos_store_each(k->meta, KAIROS_INDEX_OID, "p.", after[0] ? after : NULL, INDEX_PAGE,
                           run_page, &w);
    if (rc == -ENOENT || rc == 1)
        rc = 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "drift scan: %s", strerror(-rc));
    rep->drift_partial = w.stopped;
    save_cursor(k, w.stopped ? w.last : NULL);
    return 0;
}
