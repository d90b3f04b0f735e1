/*
 * source.c - a project's shares and volumes, and how to reach them: from a
 * credentials file or from the ledger (see source.h).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <kairos/kairos.h>

/* Allocations listed from the ledger per call (the most it allows). */
#define LIST_PAGE 1000

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void identity_clear(struct kfs_identity *id)
{
    free(id->entity);
    free(id->mon_host);
    /* A cephx secret: leave none of it in freed memory. */
    if (id->key)
        explicit_bzero(id->key, strlen(id->key));
    free(id->key);
    free(id->conf);
    free(id->keyring);
    memset(id, 0, sizeof(*id));
}

static int streq_null(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool kfs_identity_equal(const struct kfs_identity *a, const struct kfs_identity *b)
{
    return streq_null(a->entity, b->entity) && streq_null(a->mon_host, b->mon_host) &&
           streq_null(a->key, b->key) && streq_null(a->conf, b->conf) &&
           streq_null(a->keyring, b->keyring);
}

void kfs_source_free(struct kfs_source *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->nshares; i++) {
        struct kfs_share_src *s = &src->shares[i];
        free(s->name);
        identity_clear(&s->id);
        free(s->fs_name);
        free(s->path);
    }
    for (size_t i = 0; i < src->nvolumes; i++) {
        struct kfs_volume_src *v = &src->volumes[i];
        free(v->name);
        identity_clear(&v->id);
        free(v->pool);
        free(v->ns);
        free(v->image);
    }
    free(src->shares);
    free(src->volumes);
    free(src->project);
    free(src->project_path);
    free(src);
}

int kfs_source_select(struct kfs_source *src, const char *share, const char *volume,
                      struct kairos_error *err)
{
    const char *want = share ? share : volume;
    size_t i, n = share ? src->nshares : src->nvolumes;
    struct kfs_source *rest;
    void *one;

    for (i = 0; i < n; i++)
        if (strcmp(share ? src->shares[i].name : src->volumes[i].name, want) == 0)
            break;
    if (i == n)
        return kairos_error_set(err, -ENOENT, "no %s '%s' in project %s",
                                share ? "share" : "volume", want,
                                src->project[0] ? src->project : "(bindings)");
    rest = calloc(1, sizeof(*rest));
    one = share ? malloc(sizeof(*src->shares)) : malloc(sizeof(*src->volumes));
    if (!rest || !one) {
        free(rest);
        free(one);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    /* @rest takes both arrays, less the one kept (zeroed: freeing it frees nothing). */
    *rest = (struct kfs_source){.shares = src->shares,
                                .nshares = src->nshares,
                                .volumes = src->volumes,
                                .nvolumes = src->nvolumes};
    src->shares = NULL;
    src->volumes = NULL;
    src->nshares = src->nvolumes = 0;
    if (share) {
        memcpy(one, &rest->shares[i], sizeof(rest->shares[i]));
        memset(&rest->shares[i], 0, sizeof(rest->shares[i]));
        src->shares = one;
        src->nshares = 1;
    } else {
        memcpy(one, &rest->volumes[i], sizeof(rest->volumes[i]));
        memset(&rest->volumes[i], 0, sizeof(rest->volumes[i]));
        src->volumes = one;
        src->nvolumes = 1;
    }
    kfs_source_free(rest);
    return 0;
}

/* ---- credentials file ---- */

struct reader {
    const char *path;
    const char *where; /* "shares.home", for messages */
    struct kairos_error *err;
};

/* A string field of @obj; NULL with @err set when it is required and missing. */
static const char *field(struct reader *r, json_t *obj, const char *name, bool required)
{
    json_t *v = json_object_get(obj, name);

    if (json_is_string(v))
        return json_string_value(v);
    if (required || v)
        kairos_error_set(r->err, -EINVAL, "%s: %s: \"%s\" %s", r->path, r->where, name,
                         v ? "is not a string" : "is missing");
    return NULL;
}

static int read_identity(struct reader *r, json_t *obj, struct kfs_identity *id)
{
    const char *entity = field(r, obj, "entity", false), *user, *mon, *key;
    char buf[256];

    if (!entity) {
        /* "user" is the bare id ("kairos.p.b"); the entity adds "client.". */
        user = field(r, obj, "user", true);
        if (!user)
            return -EINVAL;
        snprintf(buf, sizeof(buf), "client.%s", user);
        entity = buf;
    }
    if (strncmp(entity, "client.", strlen("client.")) != 0)
        return kairos_error_set(r->err, -EINVAL, "%s: %s: entity '%s' is not a client", r->path,
                                r->where, entity);
    mon = field(r, obj, "mon_host", true);
    key = mon ? field(r, obj, "key", true) : NULL;
    if (!mon || !key)
        return -EINVAL;
    id->entity = strdup(entity);
    id->mon_host = strdup(mon);
    id->key = strdup(key);
    if (!id->entity || !id->mon_host || !id->key)
        return kairos_error_set(r->err, -ENOMEM, "out of memory");
    return 0;
}

static bool read_only_of(json_t *obj)
{
    return json_is_true(json_object_get(obj, "read_only"));
}

/* The last component of @path, which names a share given on its own. */
static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

static int check_name(struct reader *r, const char *name, const char *what)
{
    struct kairos_error nerr = {0};

    /* The name becomes a directory entry of the mount: no '/', no '..'. */
    if (kairos_name_check(name, what, &nerr) < 0)
        return kairos_error_set(r->err, -EINVAL, "%s: %s: %s", r->path, r->where, nerr.msg);
    return 0;
}

static int read_share(struct reader *r, const char *name, json_t *obj, struct kfs_share_src *s)
{
    const char *fs, *path;
    int rc;

    if (!json_is_object(obj))
        return kairos_error_set(r->err, -EINVAL, "%s: %s is not an object", r->path, r->where);
    fs = field(r, obj, "fs_name", true);
    path = fs ? field(r, obj, "path", true) : NULL;
    if (!fs || !path)
        return -EINVAL;
    if (path[0] != '/')
        return kairos_error_set(r->err, -EINVAL, "%s: %s: path '%s' is not absolute", r->path,
                                r->where, path);
    if (!name)
        name = basename_of(path);
    rc = check_name(r, name, "share");
    if (rc == 0)
        rc = read_identity(r, obj, &s->id);
    if (rc < 0)
        return rc;
    s->name = strdup(name);
    s->fs_name = strdup(fs);
    s->path = strdup(path);
    s->read_only = read_only_of(obj);
    if (!s->name || !s->fs_name || !s->path)
        return kairos_error_set(r->err, -ENOMEM, "out of memory");
    return 0;
}

static int read_volume(struct reader *r, const char *name, json_t *obj, struct kfs_volume_src *v)
{
    const char *pool, *ns, *image;
    int rc;

    if (!json_is_object(obj))
        return kairos_error_set(r->err, -EINVAL, "%s: %s is not an object", r->path, r->where);
    pool = field(r, obj, "pool", true);
    ns = pool ? field(r, obj, "namespace", true) : NULL;
    image = ns ? field(r, obj, "image", true) : NULL;
    if (!image)
        return -EINVAL;
    if (!name)
        name = image;
    rc = check_name(r, name, "volume");
    if (rc == 0)
        rc = read_identity(r, obj, &v->id);
    if (rc < 0)
        return rc;
    v->name = strdup(name);
    v->pool = strdup(pool);
    v->ns = strdup(ns);
    v->image = strdup(image);
    v->read_only = read_only_of(obj);
    if (!v->name || !v->pool || !v->ns || !v->image)
        return kairos_error_set(r->err, -ENOMEM, "out of memory");
    return 0;
}

/* Each member of @map ({NAME: BINDING}) into a new array of @size-byte items. */
static int read_map(struct reader *r, json_t *map, const char *what, size_t size, void **items,
                    size_t *count, int (*one)(struct reader *, const char *, json_t *, void *))
{
    char where[128];
    const char *name;
    json_t *obj;
    int rc;

    *items = NULL;
    *count = 0;
    if (!map)
        return 0;
    if (!json_is_object(map))
        return kairos_error_set(r->err, -EINVAL, "%s: \"%s\" is not an object", r->path, what);
    *items = calloc(json_object_size(map) + 1, size);
    if (!*items)
        return kairos_error_set(r->err, -ENOMEM, "out of memory");
    json_object_foreach(map, name, obj)
    {
        snprintf(where, sizeof(where), "%s.%s", what, name);
        r->where = where;
        /* Counted first, so that kfs_source_free() frees a half-read item. */
        rc = one(r, name, obj, (char *)*items + size * (*count)++);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int share_cb(struct reader *r, const char *name, json_t *obj, void *item)
{
    return read_share(r, name, obj, item);
}

static int volume_cb(struct reader *r, const char *name, json_t *obj, void *item)
{
    return read_volume(r, name, obj, item);
}

/* One binding on its own: a share or a volume, named after its path or image. */
static int read_single(struct reader *r, json_t *root, struct kfs_source *src)
{
    const char *ns = field(r, root, "project", false);
    int rc;

    r->where = "binding";
    if (json_object_get(root, "fs_name")) {
        src->shares = calloc(1, sizeof(*src->shares));
        if (!src->shares)
            return kairos_error_set(r->err, -ENOMEM, "out of memory");
        src->nshares = 1;
        rc = read_share(r, NULL, root, src->shares);
    } else if (json_object_get(root, "image")) {
        src->volumes = calloc(1, sizeof(*src->volumes));
        if (!src->volumes)
            return kairos_error_set(r->err, -ENOMEM, "out of memory");
        src->nvolumes = 1;
        rc = read_volume(r, NULL, root, src->volumes);
    } else {
        return kairos_error_set(r->err, -EINVAL,
                                "%s: neither {\"shares\":..., \"volumes\":...} nor the "
                                "credentials of one share (fs_name) or volume (image)",
                                r->path);
    }
    /*
     * A binding names its project; an older one only as its namespace
     * ("<project>" for a volume, "<project>.<share>" for a share).
     */
    if (!ns)
        ns = field(r, root, "namespace", false);
    if (rc == 0 && ns) {
        src->project = strndup(ns, strcspn(ns, "."));
        if (!src->project)
            rc = kairos_error_set(r->err, -ENOMEM, "out of memory");
    }
    return rc;
}

int kfs_source_from_json(const char *path, json_t *root, struct kfs_source **out,
                         struct kairos_error *err)
{
    struct reader r = {.path = path, .where = "", .err = err};
    struct kfs_source *src = NULL;
    const char *project;
    int rc;

    *out = NULL;
    if (!json_is_object(root))
        return kairos_error_set(err, -EINVAL, "%s: not a JSON object", path);
    src = calloc(1, sizeof(*src));
    if (!src)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    if (!json_object_get(root, "shares") && !json_object_get(root, "volumes")) {
        rc = read_single(&r, root, src);
    } else {
        r.where = "project";
        project = field(&r, root, "project", false);
        if (project && !(src->project = strdup(project))) {
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        rc = read_map(&r, json_object_get(root, "shares"), "shares", sizeof(*src->shares),
                      (void **)&src->shares, &src->nshares, share_cb);
        if (rc == 0)
            rc = read_map(&r, json_object_get(root, "volumes"), "volumes", sizeof(*src->volumes),
                          (void **)&src->volumes, &src->nvolumes, volume_cb);
    }
    if (rc == 0 && !src->project && !(src->project = strdup("")))
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && src->nshares + src->nvolumes == 0)
        rc = kairos_error_set(err, -EINVAL, "%s: no shares and no volumes", path);
out:
    if (rc < 0) {
        kfs_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int kfs_source_from_file(const char *path, struct kfs_source **out, struct kairos_error *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    *out = NULL;
    if (access(path, R_OK) < 0)
        return kairos_error_set(err, -errno, "%s: %s", path, strerror(errno));
    /* A name given twice would hide one of two bindings: refuse it. */
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return kairos_error_set(err, -EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
    rc = kfs_source_from_json(path, root, out, err);
    json_decref(root);
    return rc;
}

/* ---- the ledger, through libkairos ---- */

static int config_identity(const struct kairos_config *cfg, struct kfs_identity *id)
{
    id->entity = strdup(cfg->ceph.client);
    id->conf = strdup(cfg->ceph.conf);
    id->keyring = dup_or_null(cfg->ceph.keyring);
    return id->entity && id->conf && (id->keyring || !cfg->ceph.keyring) ? 0 : -ENOMEM;
}

/* Committed allocations only: one being created may have no Ceph object yet. */
static bool usable(const struct kairos_alloc *a)
{
    return !a->pending || a->op == KAIROS_OP_RESIZE;
}

/* Every usable allocation of @kind in @project, through @add. */
static int list_kind(struct kairos *k, const char *project, enum kairos_kind kind,
                     int (*add)(void *arg, const struct kairos_alloc *a), void *arg,
                     struct kairos_error *err)
{
    struct kairos_alloc_page *page;
    char after[KAIROS_ALLOC_NAME_MAX + 1] = "";
    bool more;
    int rc;

    for (;;) {
        rc = kairos_ledger_list(k, project, kind, after[0] ? after : NULL, LIST_PAGE, &page, err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; rc == 0 && i < page->count; i++)
            if (usable(&page->items[i]))
                rc = add(arg, &page->items[i]);
        more = page->more && page->count;
        if (page->count)
            snprintf(after, sizeof(after), "%s", page->items[page->count - 1].name);
        kairos_alloc_page_free(page);
        if (rc < 0)
            return kairos_error_set(err, rc, "out of memory");
        if (!more)
            return 0;
    }
}

struct collect {
    const struct kairos_config *cfg;
    struct kfs_source *src;
};

static int add_share(void *arg, const struct kairos_alloc *a)
{
    struct collect *c = arg;
    struct kfs_source *src = c->src;
    struct kfs_share_src *s, *grown = realloc(src->shares, (src->nshares + 1) * sizeof(*s));

    if (!grown)
        return -ENOMEM;
    src->shares = grown;
    s = &src->shares[src->nshares++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(a->name);
    s->fs_name = strdup(c->cfg->pools.cephfs_name);
    if (asprintf(&s->path, "%s/%s", src->project_path, a->name) < 0)
        s->path = NULL;
    if (!s->name || !s->fs_name || !s->path || config_identity(c->cfg, &s->id) < 0)
        return -ENOMEM;
    return 0;
}

static int add_volume(void *arg, const struct kairos_alloc *a)
{
    struct collect *c = arg;
    struct kfs_source *src = c->src;
    struct kfs_volume_src *v, *grown = realloc(src->volumes, (src->nvolumes + 1) * sizeof(*v));

    if (!grown)
        return -ENOMEM;
    src->volumes = grown;
    v = &src->volumes[src->nvolumes++];
    memset(v, 0, sizeof(*v));
    v->name = strdup(a->name);
    v->pool = strdup(c->cfg->pools.block);
    v->ns = strdup(src->project);
    v->image = strdup(a->name);
    if (!v->name || !v->pool || !v->ns || !v->image || config_identity(c->cfg, &v->id) < 0)
        return -ENOMEM;
    return 0;
}

int kfs_source_from_kairos(struct kairos *k, const struct kairos_config *cfg, const char *project,
                           struct kfs_source **out, struct kairos_error *err)
{
    struct kfs_source *src = NULL;
    struct collect c;
    const char *root = cfg->pools.share_root;
    int rc;

    *out = NULL;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    src = calloc(1, sizeof(*src));
    if (!src)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    src->project = strdup(project);
    /* As the broker lays it out: <share_root>/<project>/<share>. */
    if (asprintf(&src->project_path, "%s/%s", strcmp(root, "/") ? root : "", project) < 0)
        src->project_path = NULL;
    src->timeout_ms = cfg->ceph.timeout_ms;
    if (!src->project || !src->project_path) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    c = (struct collect){.cfg = cfg, .src = src};
    rc = list_kind(k, project, KAIROS_SHARE, add_share, &c, err);
    if (rc == 0)
        rc = list_kind(k, project, KAIROS_VOLUME, add_volume, &c, err);
out:
    if (rc < 0) {
        kfs_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

int kfs_source_from_config(const char *conf, const char *project, struct kfs_source **out,
                           struct kairos_error *err)
{
    struct kairos_config *cfg = NULL;
    struct kairos *k = NULL;
    int rc;

    *out = NULL;
    if (kairos_name_check(project, "project", err) < 0)
        return -EINVAL;
    rc = kairos_config_load(conf, &cfg, err);
    if (rc == 0)
        rc = kairos_open(cfg, &k, err);
    if (rc == 0)
        rc = kfs_source_from_kairos(k, cfg, project, out, err);
    kairos_close(k);
    kairos_config_free(cfg);
    return rc;
}
