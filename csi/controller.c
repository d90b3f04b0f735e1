/*
 * controller.c - the CSI Controller service: volumes, shares and their
 * snapshots made and removed through kairosd, so that every PVC passes the
 * project's quota in the ledger.
 *
 * Who pays: each call carries the project's kairosd token in its secrets
 * ("token"; the StorageClass names that secret per namespace with
 * csi.storage.k8s.io/provisioner-secret-name and -namespace), and kairosd
 * lets a project token reach its own project alone. The project comes from
 * the secret ("project"), the StorageClass parameter "project", or the
 * PVC's namespace (external-provisioner --extra-create-metadata).
 *
 * What is made (parameter "kind", or the access modes when it is absent):
 * a share for ReadWriteMany file systems, a volume for the rest; see
 * caps.h. The Kairos name is the CSI name, or a hash of it (volid.h).
 *
 * Calls that list everything (ListVolumes, GetCapacity, ListSnapshots
 * without secrets) carry no secrets in CSI: they use the plugin's own
 * token (--token-file), an admin token or a project token with --project.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "csi.h"
#include "csi.pb-c.h"
#include "kairosd.h"
#include "log.h"
#include "volid.h"

/* A walk's callback returns 0 to go on, WALK_STOP to stop, or the gRPC code it replied. */
#define WALK_STOP (-1)

/* Parameters the provisioner adds (pvc/name, pvc/namespace, pv/name): read, never refused. */
#define K8S_PARAM_PREFIX "csi.storage.k8s.io/"
#define PVC_NAMESPACE    "csi.storage.k8s.io/pvc/namespace"
/* Snapshots kairos-csi takes to clone a volume from a volume, and removes after. */
#define CLONE_SNAP_PREFIX "csi-clone-"
/* kairosd's largest page. */
#define PAGE_MAX 1000

typedef Csi__V1__VolumeCapability cap_t;

/* ---- requests ---- */

struct target {
    struct csi_volid id;
    const char *token;
};

/* The project of a call: the secret's, the parameter's, the PVC's namespace, the plugin's. */
static grpc_status_code project_of(const struct csi *c, const char *secret_project, size_t nparams,
                                   void *params, char *out, struct csi_reply *r)
{
    const char *p = secret_project && *secret_project ? secret_project : NULL;

    if (!p)
        p = csi_map_get(nparams, params, "project");
    if (!p)
        p = csi_map_get(nparams, params, PVC_NAMESPACE);
    if (!p)
        p = c->project;
    if (!p)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "which project? give \"project\" in the secret or the "
                               "StorageClass, or run the provisioner with --extra-create-metadata");
    if (!kairos_name_valid(p))
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "bad project name '%.64s'", p);
    snprintf(out, KAIROS_NAME_MAX + 1, "%s", p);
    return GRPC_STATUS_OK;
}

/* A volume id of ours, or NOT_FOUND (an id no Kairos volume can have names none). */
static grpc_status_code volume_of(const char *id, struct csi_volid *out, struct csi_reply *r)
{
    if (!id || !*id)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
    if (csi_volid_parse(id, out) < 0)
        return csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "no volume '%.128s': not a Kairos id", id);
    return GRPC_STATUS_OK;
}

static void alloc_path(char *buf, size_t len, const struct csi_volid *v)
{
    snprintf(buf, len, "/v1/projects/%s/%s/%s", v->project, csi_kind_path(v->kind), v->name);
}

/* Check every capability against @kind. */
static grpc_status_code check_caps(enum kairos_kind kind, size_t n, cap_t **caps,
                                   struct csi_reply *r)
{
    if (!n)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_capabilities are required");
    for (size_t i = 0; i < n; i++) {
        const char *why = csi_cap_check(kind, caps[i]);
        if (why)
            return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
    }
    return GRPC_STATUS_OK;
}

/* The kind the parameters or, without "kind", the capabilities ask for. */
static grpc_status_code kind_of(size_t nparams, void *params, size_t ncaps, cap_t **caps,
                                enum kairos_kind *kind, struct csi_reply *r)
{
    const char *k = csi_map_get(nparams, params, "kind");

    *kind = KAIROS_VOLUME;
    if (k && strcmp(k, "share") == 0) {
        *kind = KAIROS_SHARE;
    } else if (k && strcmp(k, "volume") != 0) {
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "parameter kind is \"share\" or \"volume\", not '%.32s'", k);
    } else if (!k) {
        for (size_t i = 0; i < ncaps; i++)
            if (csi_cap_mount(caps[i]) && csi_cap_multi_writer(caps[i]))
                *kind = KAIROS_SHARE;
    }
    return GRPC_STATUS_OK;
}

/* Refuse parameters kairos-csi does not know: a typo must not pass unseen. */
static grpc_status_code check_params(size_t n, struct csi_kv **kv, struct csi_reply *r)
{
    static const char *const known[] = {"kind", "project", "flatten", "maxFiles",
                                        "mode", "uid",     "gid",     NULL};

    for (size_t i = 0; i < n; i++) {
        bool ok = strncmp(kv[i]->key, K8S_PARAM_PREFIX, strlen(K8S_PARAM_PREFIX)) == 0;
        for (size_t j = 0; !ok && known[j]; j++)
            ok = strcmp(kv[i]->key, known[j]) == 0;
        if (!ok)
            return csi_reply_error(
                r, GRPC_STATUS_INVALID_ARGUMENT,
                "unknown parameter '%.64s' (kind, project, flatten, maxFiles, mode, uid, gid)",
                kv[i]->key);
    }
    return GRPC_STATUS_OK;
}

/* ---- answers ---- */

static uint64_t size_of(const json_t *alloc)
{
    json_int_t v = json_integer_value(json_object_get(alloc, "size"));

    return v > 0 ? (uint64_t)v : 0;
}

static bool is_pending(const json_t *alloc)
{
    const char *s = json_string_value(json_object_get(alloc, "state"));

    return s && strcmp(s, "ready") != 0;
}

/* The CreateVolume answer for allocation @v of @bytes, made from @src. */
static void reply_volume(struct csi_reply *r, const struct csi_volid *v, uint64_t bytes,
                         Csi__V1__VolumeContentSource *src)
{
    Csi__V1__CreateVolumeResponse out = CSI__V1__CREATE_VOLUME_RESPONSE__INIT;
    Csi__V1__Volume vol = CSI__V1__VOLUME__INIT;
    Csi__V1__Volume__VolumeContextEntry kind = CSI__V1__VOLUME__VOLUME_CONTEXT_ENTRY__INIT,
                                        proj = CSI__V1__VOLUME__VOLUME_CONTEXT_ENTRY__INIT,
                                        name = CSI__V1__VOLUME__VOLUME_CONTEXT_ENTRY__INIT;
    Csi__V1__Volume__VolumeContextEntry *ctx[] = {&kind, &proj, &name};
    char id[CSI_ID_MAX + 1];

    csi_volid_format(v, id);
    /* For people reading the PV: where it is in Kairos. */
    kind.key = "kairos/kind";
    kind.value = (char *)kairos_kind_name(v->kind);
    proj.key = "kairos/project";
    proj.value = (char *)v->project;
    name.key = "kairos/name";
    name.value = (char *)v->name;
    vol.capacity_bytes = (int64_t)bytes;
    vol.volume_id = id;
    vol.n_volume_context = 3;
    vol.volume_context = ctx;
    vol.content_source = src;
    out.volume = &vol;
    csi_reply_ok(r, &out.base);
}

/* ---- CreateVolume ---- */

struct create {
    const struct csi *c;
    const Csi__V1__CreateVolumeRequest *in;
    struct csi_volid id;
    const char *token;
    uint64_t bytes;
    bool flatten;
    uint64_t max_files;
    /* A share's top directory (kairosd checks them again): NULL when not given. */
    const char *mode;
    long long uid, gid; /* -1: not given */
};

/*
 * The allocation exists already (a repeat, or a race): fine if it fits
 * what is asked, ALREADY_EXISTS if not, ABORTED while still being made.
 */
static grpc_status_code existing(struct create *cr, struct csi_reply *r)
{
    char path[256];
    json_t *a;
    grpc_status_code code;
    uint64_t bytes;

    alloc_path(path, sizeof(path), &cr->id);
    code = kd_do(cr->c, cr->token, "GET", path, NULL, GRPC_STATUS_ALREADY_EXISTS, "CreateVolume",
                 NULL, &a, r);
    if (code != GRPC_STATUS_OK)
        return code;
    bytes = size_of(a);
    if (is_pending(a))
        code = csi_reply_error(r, GRPC_STATUS_ABORTED, "%s %s/%s is still being made or removed",
                               kairos_kind_name(cr->id.kind), cr->id.project, cr->id.name);
    else if (!csi_size_fits(cr->in->capacity_range, bytes))
        code = csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS,
                               "%s %s/%s exists with %llu bytes, outside the capacity range",
                               kairos_kind_name(cr->id.kind), cr->id.project, cr->id.name,
                               (unsigned long long)bytes);
    json_decref(a);
    if (code == GRPC_STATUS_OK)
        reply_volume(r, &cr->id, bytes, cr->in->volume_content_source);
    return code;
}

/* The same name as the other kind is another allocation: CSI names one volume. */
static grpc_status_code other_kind_free(struct create *cr, struct csi_reply *r)
{
    struct csi_volid other = cr->id;
    char path[256];
    json_t *a;
    long status;
    grpc_status_code code;

    other.kind = cr->id.kind == KAIROS_SHARE ? KAIROS_VOLUME : KAIROS_SHARE;
    alloc_path(path, sizeof(path), &other);
    code = kd_call(cr->c, cr->token, "GET", path, NULL, &status, &a, r);
    if (code != GRPC_STATUS_OK)
        return code;
    if (status == 200)
        code = csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS,
                               "a %s named %s exists in project %s; this name asks for a %s",
                               kairos_kind_name(other.kind), other.name, other.project,
                               kairos_kind_name(cr->id.kind));
    else if (status != 404)
        code = kd_refused(r, status, a, GRPC_STATUS_INTERNAL, "CreateVolume");
    json_decref(a);
    return code;
}

/*
 * POST the allocation (@source: a clone's, or NULL). A 202 is waited for.
 * @bytes: the size kairosd made, when it answered at once (else left alone).
 */
static grpc_status_code post_alloc(struct create *cr, json_t *source, uint64_t *bytes,
                                   struct csi_reply *r)
{
    char path[256];
    json_t *body, *a = NULL;
    long status;
    grpc_status_code code;

    snprintf(path, sizeof(path), "/v1/projects/%s/%s", cr->id.project, csi_kind_path(cr->id.kind));
    body = json_pack("{s:s}", "name", cr->id.name);
    if (source)
        json_object_set(body, "source", source);
    /* A volume's clone has its snapshot's size (grown after); a share's is made as big as asked. */
    if (!source || cr->id.kind == KAIROS_SHARE)
        json_object_set_new(body, "size", json_integer((json_int_t)cr->bytes));
    if (cr->max_files)
        json_object_set_new(body, "max_files", json_integer((json_int_t)cr->max_files));
    if (cr->mode)
        json_object_set_new(body, "mode", json_string(cr->mode));
    if (cr->uid >= 0)
        json_object_set_new(body, "uid", json_integer(cr->uid));
    if (cr->gid >= 0)
        json_object_set_new(body, "gid", json_integer(cr->gid));
    code = kd_do(cr->c, cr->token, "POST", path, body, GRPC_STATUS_ALREADY_EXISTS, "CreateVolume",
                 &status, &a, r);
    json_decref(body);
    if (code == GRPC_STATUS_OK && status == 202)
        code = kd_wait(cr->c, cr->token, json_string_value(json_object_get(a, "operation")),
                       GRPC_STATUS_ALREADY_EXISTS, "CreateVolume", r);
    else if (code == GRPC_STATUS_OK && size_of(a))
        *bytes = size_of(a);
    json_decref(a);
    return code;
}

/* The snapshots of volume or share @v as kairosd lists them (caller decrefs). */
static grpc_status_code list_snaps(const struct csi *c, const char *token,
                                   const struct csi_volid *v, json_t **items, struct csi_reply *r)
{
    char path[320];
    json_t *page;
    grpc_status_code code;

    *items = NULL;
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/snapshots", v->project,
             csi_kind_path(v->kind), v->name);
    code = kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "snapshots", NULL, &page, r);
    if (code != GRPC_STATUS_OK)
        return code;
    *items = json_incref(json_object_get(page, "items"));
    json_decref(page);
    return json_is_array(*items)
               ? GRPC_STATUS_OK
               : csi_reply_error(r, GRPC_STATUS_INTERNAL, "kairosd listed no snapshots array");
}

/* Snapshot @name of @items, or NULL. */
static json_t *find_snap(json_t *items, const char *name)
{
    size_t i;
    json_t *s;

    json_array_foreach(items, i, s)
    {
        const char *n = json_string_value(json_object_get(s, "name"));
        if (n && strcmp(n, name) == 0)
            return s;
    }
    return NULL;
}

static grpc_status_code resize_to(const struct csi *c, const char *token, const struct csi_volid *v,
                                  uint64_t bytes, const char *what, struct csi_reply *r)
{
    char path[256];
    json_t *body = json_pack("{s:I}", "size", (json_int_t)bytes);
    grpc_status_code code;

    alloc_path(path, sizeof(path), v);
    code =
        kd_do(c, token, "PATCH", path, body, GRPC_STATUS_FAILED_PRECONDITION, what, NULL, NULL, r);
    json_decref(body);
    return code;
}

/*
 * The new volume (a clone of @src_vol@@snap) grown to the size asked and,
 * unless the class says flatten=false, made independent of its parent so
 * that the snapshot and its volume can go while it lives.
 */
static grpc_status_code finish_clone(struct create *cr, uint64_t clone_bytes, struct csi_reply *r)
{
    char path[320];
    json_t *a = NULL;
    long status;
    grpc_status_code code = GRPC_STATUS_OK;

    if (clone_bytes < cr->bytes)
        code = resize_to(cr->c, cr->token, &cr->id, cr->bytes, "CreateVolume", r);
    if (code != GRPC_STATUS_OK || !cr->flatten)
        return code;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/flatten", cr->id.project, cr->id.name);
    code = kd_do(cr->c, cr->token, "POST", path, NULL, GRPC_STATUS_FAILED_PRECONDITION,
                 "CreateVolume: flatten", &status, &a, r);
    if (code == GRPC_STATUS_OK && status == 202)
        code = kd_wait(cr->c, cr->token, json_string_value(json_object_get(a, "operation")),
                       GRPC_STATUS_FAILED_PRECONDITION, "CreateVolume: flatten", r);
    json_decref(a);
    return code;
}

/*
 * How big the snapshot @src->snap is: a volume's snapshot has the volume's
 * size when taken, a share's the share's size (its quota). NOT_FOUND if it
 * does not exist.
 */
static grpc_status_code snapshot_bytes(struct create *cr, const struct csi_volid *src,
                                       uint64_t *bytes, struct csi_reply *r)
{
    json_t *items, *snap, *a;
    char path[256];
    grpc_status_code code = list_snaps(cr->c, cr->token, src, &items, r);

    if (code != GRPC_STATUS_OK)
        return code;
    snap = find_snap(items, src->snap);
    *bytes = size_of(snap);
    json_decref(items);
    if (!snap)
        return csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "no snapshot %s of %s %s/%s", src->snap,
                               kairos_kind_name(src->kind), src->project, src->name);
    if (src->kind == KAIROS_VOLUME)
        return GRPC_STATUS_OK;
    alloc_path(path, sizeof(path), src);
    code = kd_do(cr->c, cr->token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "CreateVolume", NULL,
                 &a, r);
    if (code == GRPC_STATUS_OK)
        *bytes = size_of(a);
    json_decref(a);
    return code;
}

/* A volume or share from snapshot @src->snap of the volume or share @src. */
static grpc_status_code from_snapshot(struct create *cr, const struct csi_volid *src,
                                      struct csi_reply *r)
{
    json_t *source;
    uint64_t snap_bytes;
    grpc_status_code code = snapshot_bytes(cr, src, &snap_bytes, r);

    if (code != GRPC_STATUS_OK)
        return code;
    if (cr->in->capacity_range && cr->in->capacity_range->limit_bytes &&
        snap_bytes > (uint64_t)cr->in->capacity_range->limit_bytes)
        return csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE,
                               "the snapshot holds %llu bytes, more than limit_bytes",
                               (unsigned long long)snap_bytes);
    if (snap_bytes > cr->bytes)
        cr->bytes = snap_bytes;
    source =
        json_pack("{s:s,s:s,s:s}", "project", src->project,
                  src->kind == KAIROS_SHARE ? "share" : "volume", src->name, "snapshot", src->snap);
    code = post_alloc(cr, source, &snap_bytes, r);
    json_decref(source);
    /* A share's clone is a copy, of the size asked; a volume's is copy-on-write. */
    if (code == GRPC_STATUS_OK && cr->id.kind == KAIROS_VOLUME)
        code = finish_clone(cr, snap_bytes, r);
    return code;
}

/*
 * A volume or share from another, @src: through a snapshot of it, removed
 * once the clone stands alone (a volume flattened, a share copied).
 */
static grpc_status_code from_volume(struct create *cr, const struct csi_volid *src,
                                    struct csi_reply *r)
{
    struct csi_volid snap = *src;
    char path[320];
    json_t *body, *a;
    uint64_t src_bytes;
    grpc_status_code code;

    alloc_path(path, sizeof(path), src);
    code = kd_do(cr->c, cr->token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "CreateVolume", NULL,
                 &a, r);
    if (code != GRPC_STATUS_OK)
        return code;
    src_bytes = size_of(a);
    json_decref(a);
    if (cr->in->capacity_range && cr->in->capacity_range->limit_bytes &&
        src_bytes > (uint64_t)cr->in->capacity_range->limit_bytes)
        return csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE,
                               "the source holds %llu bytes, more than limit_bytes",
                               (unsigned long long)src_bytes);
    /* One snapshot per clone, named after the clone: a retry finds its own. */
    csi_hash_name(CLONE_SNAP_PREFIX, cr->id.project, cr->id.name, snap.snap);
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/snapshots", src->project,
             csi_kind_path(src->kind), src->name);
    body = json_pack("{s:s}", "name", snap.snap);
    code = kd_do(cr->c, cr->token, "POST", path, body, GRPC_STATUS_OK, "CreateVolume: snapshot",
                 NULL, NULL, r);
    json_decref(body);
    if (code != GRPC_STATUS_OK)
        return code;
    cr->flatten = true; /* the snapshot must go: the clone must not need it */
    code = from_snapshot(cr, &snap, r);
    if (code == GRPC_STATUS_OK) {
        struct csi_reply ignored = {0};
        snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/snapshots/%s", src->project,
                 csi_kind_path(src->kind), src->name, snap.snap);
        /* If this fails, the snapshot is left for DeleteVolume of the source to take. */
        if (kd_do(cr->c, cr->token, "DELETE", path, NULL, GRPC_STATUS_OK, "snapshot", NULL, NULL,
                  &ignored) != GRPC_STATUS_OK)
            csi_log(CSI_LOG_WARN, "CreateVolume: clone %s/%s: the snapshot %s stays: %s",
                    cr->id.project, cr->id.name, snap.snap, ignored.msg);
        free(ignored.body);
    }
    return code;
}

/* Where the new volume's data comes from, checked; NULL source: none. */
static grpc_status_code read_source(struct create *cr, struct csi_volid *src, bool *has,
                                    struct csi_reply *r)
{
    const Csi__V1__VolumeContentSource *s = cr->in->volume_content_source;
    const char *id;

    *has = false;
    if (!s)
        return GRPC_STATUS_OK;
    if (s->type_case == CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_SNAPSHOT) {
        id = s->snapshot ? s->snapshot->snapshot_id : NULL;
        if (!id || !*id)
            return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                                   "volume_content_source: snapshot_id is required");
        if (csi_snapid_parse(id, src) < 0)
            return csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "no snapshot '%.128s'", id);
    } else if (s->type_case == CSI__V1__VOLUME_CONTENT_SOURCE__TYPE_VOLUME) {
        id = s->volume ? s->volume->volume_id : NULL;
        if (!id || !*id)
            return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                                   "volume_content_source: volume_id is required");
        if (csi_volid_parse(id, src) < 0)
            return csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "no volume '%.128s'", id);
    } else {
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "volume_content_source names neither a snapshot nor a volume");
    }
    if (src->kind != cr->id.kind)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "a %s cannot be made from a %s's data",
                               kairos_kind_name(cr->id.kind), kairos_kind_name(src->kind));
    *has = true;
    return GRPC_STATUS_OK;
}

/* The largest uid or gid: (uid_t)-1 means "none" to chown. */
#define ID_MAX 4294967294u

/* A uid or gid parameter: decimal, 0 to ID_MAX; -1 when absent, -2 when bad. */
static long long parse_id(const char *v)
{
    char *end;
    unsigned long long n;

    if (!v)
        return -1;
    n = strtoull(v, &end, 10);
    return *v >= '0' && *v <= '9' && !*end && n <= ID_MAX ? (long long)n : -2;
}

/* mode, uid and gid: a new share's top directory, as Manila and ceph-csi allow. */
static grpc_status_code share_access(struct create *cr, struct csi_reply *r)
{
    const Csi__V1__CreateVolumeRequest *in = cr->in;
    const char *mode = csi_map_get(in->n_parameters, in->parameters, "mode");

    cr->uid = parse_id(csi_map_get(in->n_parameters, in->parameters, "uid"));
    cr->gid = parse_id(csi_map_get(in->n_parameters, in->parameters, "gid"));
    if ((mode || cr->uid != -1 || cr->gid != -1) && cr->id.kind != KAIROS_SHARE)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "parameters mode, uid and gid are for shares");
    if (mode && (!*mode || strlen(mode) > 4 || strspn(mode, "01234567") != strlen(mode)))
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "parameter mode is octal permission bits, such as \"2770\"");
    if (cr->uid == -2 || cr->gid == -2)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "parameters uid and gid are numbers from 0 to %u", ID_MAX);
    cr->mode = mode;
    return GRPC_STATUS_OK;
}
static grpc_status_code read_create(struct create *cr, struct csi_reply *r)
{
    const Csi__V1__CreateVolumeRequest *in = cr->in;
    const char *why, *flatten, *max_files;
    grpc_status_code code;
    char project[KAIROS_NAME_MAX + 1];

    if (!in->name || !*in->name)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "name is required");
    if (strlen(in->name) > CSI_ID_MAX)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "name is over %d bytes",
                               CSI_ID_MAX);
    code = check_params(in->n_parameters, (struct csi_kv **)in->parameters, r);
    if (code == GRPC_STATUS_OK)
        code = kind_of(in->n_parameters, in->parameters, in->n_volume_capabilities,
                       in->volume_capabilities, &cr->id.kind, r);
    if (code == GRPC_STATUS_OK)
        code = check_caps(cr->id.kind, in->n_volume_capabilities, in->volume_capabilities, r);
    if (code == GRPC_STATUS_OK)
        code = project_of(cr->c, CSI_MAP_GET(in, secrets, "project"), in->n_parameters,
                          in->parameters, project, r);
    if (code != GRPC_STATUS_OK)
        return code;
    snprintf(cr->id.project, sizeof(cr->id.project), "%s", project);
    csi_volume_name(in->name, project, cr->id.name);
    cr->token = kd_token(in->n_secrets, in->secrets);
    if (csi_size_pick(in->capacity_range, &cr->bytes, &why) < 0)
        return csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE, "%s", why);
    flatten = csi_map_get(in->n_parameters, in->parameters, "flatten");
    if (flatten && strcmp(flatten, "true") != 0 && strcmp(flatten, "false") != 0)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                               "parameter flatten is \"true\" or \"false\"");
    cr->flatten = !flatten || strcmp(flatten, "true") == 0;
    max_files = csi_map_get(in->n_parameters, in->parameters, "maxFiles");
    if (max_files) {
        char *end;
        cr->max_files = strtoull(max_files, &end, 10);
        if (cr->id.kind != KAIROS_SHARE || *max_files < '1' || *max_files > '9' || *end)
            return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                                   "parameter maxFiles is a positive count, for shares");
    }
    return share_access(cr, r);
}

static void create_volume(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    struct create cr = {.c = ctx, .in = (const Csi__V1__CreateVolumeRequest *)msg};
    struct csi_volid src;
    char key[CSI_ID_MAX + 1];
    bool has_source;
    grpc_status_code code;

    if (read_create(&cr, r) != GRPC_STATUS_OK || read_source(&cr, &src, &has_source, r))
        return;
    csi_volid_format(&cr.id, key);
    if (!csi_begin(cr.c, key, r))
        return;
    code = other_kind_free(&cr, r);
    if (code == GRPC_STATUS_OK && !has_source) {
        code = post_alloc(&cr, NULL, &cr.bytes, r);
        /* 409: there with another size (or being made): say which. */
        if (code == GRPC_STATUS_ALREADY_EXISTS)
            code = existing(&cr, r);
        else if (code == GRPC_STATUS_OK)
            reply_volume(r, &cr.id, cr.bytes, NULL);
    } else if (code == GRPC_STATUS_OK) {
        code = existing(&cr, r);
        if (code == GRPC_STATUS_NOT_FOUND) {
            code = src.snap[0] ? from_snapshot(&cr, &src, r) : from_volume(&cr, &src, r);
            if (code == GRPC_STATUS_OK)
                code = existing(&cr, r);
        }
    }
    csi_end(cr.c, key);
}

/* ---- DeleteVolume ---- */

static void delete_volume(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__DeleteVolumeRequest *in = (const Csi__V1__DeleteVolumeRequest *)msg;
    const char *token = kd_token(in->n_secrets, in->secrets);
    Csi__V1__DeleteVolumeResponse out = CSI__V1__DELETE_VOLUME_RESPONSE__INIT;
    struct csi_volid v;
    char path[320];
    json_t *a = NULL;
    long status;
    grpc_status_code code;

    if (!in->volume_id || !*in->volume_id) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
        return;
    }
    /* An id that is none of ours names nothing to delete. */
    if (csi_volid_parse(in->volume_id, &v) < 0) {
        csi_reply_ok(r, &out.base);
        return;
    }
    if (!csi_begin(c, in->volume_id, r))
        return;
    alloc_path(path, sizeof(path), &v);
    /*
     * force: the nodes' bindings go with it (the CO unstaged it everywhere
     * first). unless_snapshots: Kairos would delete a volume's snapshots
     * along, which Kubernetes still lists as VolumeSnapshots: refuse
     * (FAILED_PRECONDITION, as CSI says for a volume with snapshots).
     */
    strcat(path, "?force=true&unless_snapshots=true");
    code = kd_do(c, token, "DELETE", path, NULL, GRPC_STATUS_FAILED_PRECONDITION, "DeleteVolume",
                 &status, &a, r);
    if (code == GRPC_STATUS_OK && status == 202)
        code = kd_wait(c, token, json_string_value(json_object_get(a, "operation")),
                       GRPC_STATUS_FAILED_PRECONDITION, "DeleteVolume", r);
    json_decref(a);
    if (code == GRPC_STATUS_OK || code == GRPC_STATUS_NOT_FOUND)
        csi_reply_ok(r, &out.base);
    csi_end(c, in->volume_id);
}

/* ---- ControllerExpandVolume ---- */

static void expand_volume(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__ControllerExpandVolumeRequest *in =
        (const Csi__V1__ControllerExpandVolumeRequest *)msg;
    const char *token = kd_token(in->n_secrets, in->secrets), *why;
    Csi__V1__ControllerExpandVolumeResponse out = CSI__V1__CONTROLLER_EXPAND_VOLUME_RESPONSE__INIT;
    struct csi_volid v;
    char path[256];
    json_t *a;
    uint64_t bytes, want;

    if (volume_of(in->volume_id, &v, r))
        return;
    if (!in->capacity_range ||
        (!in->capacity_range->required_bytes && !in->capacity_range->limit_bytes)) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "capacity_range is required");
        return;
    }
    if (in->volume_capability) {
        why = csi_cap_check(v.kind, in->volume_capability);
        if (why) {
            csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", why);
            return;
        }
    }
    if (csi_size_pick(in->capacity_range, &want, &why) < 0) {
        csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE, "%s", why);
        return;
    }
    if (!csi_begin(c, in->volume_id, r))
        return;
    alloc_path(path, sizeof(path), &v);
    if (kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "ControllerExpandVolume", NULL, &a,
              r))
        goto out;
    bytes = size_of(a);
    json_decref(a);
    if (in->capacity_range->limit_bytes && bytes > (uint64_t)in->capacity_range->limit_bytes) {
        csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE, "%s %s/%s has %llu bytes already",
                        kairos_kind_name(v.kind), v.project, v.name, (unsigned long long)bytes);
        goto out;
    }
    /* Never shrink; a repeat finds the size already there. */
    if (bytes < (uint64_t)in->capacity_range->required_bytes) {
        if (resize_to(c, token, &v, want, "ControllerExpandVolume", r))
            goto out;
        bytes = want;
    }
    out.capacity_bytes = (int64_t)bytes;
    /* A share's quota is live; a volume's file system (or loop device) grows on its node. */
    out.node_expansion_required = v.kind == KAIROS_VOLUME;
    csi_reply_ok(r, &out.base);
out:
    csi_end(c, in->volume_id);
}

/* ---- ValidateVolumeCapabilities ---- */

static void validate(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__ValidateVolumeCapabilitiesRequest *in =
        (const Csi__V1__ValidateVolumeCapabilitiesRequest *)msg;
    Csi__V1__ValidateVolumeCapabilitiesResponse out =
        CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__INIT;
    Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed ok =
        CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__CONFIRMED__INIT;
    const char *kind = CSI_MAP_GET(in, parameters, "kind"), *why = NULL;
    struct csi_volid v;
    char path[256];

    if (volume_of(in->volume_id, &v, r))
        return;
    if (!in->n_volume_capabilities) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_capabilities are required");
        return;
    }
    alloc_path(path, sizeof(path), &v);
    if (kd_do(c, kd_read_token(c, in->n_secrets, in->secrets), "GET", path, NULL,
              GRPC_STATUS_INTERNAL, "ValidateVolumeCapabilities", NULL, NULL, r))
        return;
    for (size_t i = 0; !why && i < in->n_volume_capabilities; i++)
        why = csi_cap_check(v.kind, in->volume_capabilities[i]);
    if (!why && kind && strcmp(kind, kairos_kind_name(v.kind)) != 0)
        why = "the volume is not of the kind the parameters name";
    if (why) {
        out.message = (char *)why;
    } else {
        /* Confirmed: echo what was asked. */
        ok.n_volume_capabilities = in->n_volume_capabilities;
        ok.volume_capabilities = in->volume_capabilities;
        ok.n_volume_context = in->n_volume_context;
        ok.volume_context =
            (Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__VolumeContextEntry **)
                in->volume_context;
        ok.n_parameters = in->n_parameters;
        ok.parameters = (Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__ParametersEntry **)
                            in->parameters;
        out.confirmed = &ok;
    }
    csi_reply_ok(r, &out.base);
}

/* ---- listing: projects, allocations ---- */

/*
 * Page through the kairosd list at @base ("/v1/projects", ".../volumes")
 * after the name @after_name (NULL: from the start), calling @fn(arg, item)
 * for each item. Return: 0, WALK_STOP, or the gRPC code replied.
 */
static int each_item(const struct csi *c, const char *token, const char *base,
                     const char *after_name, int (*fn)(void *arg, const json_t *item), void *arg,
                     struct csi_reply *r)
{
    char path[320], after[KAIROS_NAME_MAX + 1];
    int rc = 0;

    snprintf(after, sizeof(after), "%s", after_name ? after_name : "");
    for (;;) {
        json_t *page, *item;
        const char *next;
        size_t i;
        grpc_status_code code;

        snprintf(path, sizeof(path), "%s?limit=%d%s%s", base, PAGE_MAX, after[0] ? "&after=" : "",
                 after);
        code = kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "list", NULL, &page, r);
        if (code != GRPC_STATUS_OK)
            return code;
        json_array_foreach(json_object_get(page, "items"), i, item)
        {
            if (!kairos_name_valid(json_string_value(json_object_get(item, "name"))))
                continue;
            rc = fn(arg, item);
            if (rc)
                break;
        }
        next = json_string_value(json_object_get(page, "next"));
        snprintf(after, sizeof(after), "%s", !rc && kairos_name_valid(next) ? next : "");
        json_decref(page);
        if (rc || !after[0])
            return rc;
    }
}

struct project_walk {
    const char *from;
    int (*fn)(void *arg, const char *project);
    void *arg;
};

static int project_item(void *arg, const json_t *item)
{
    struct project_walk *w = arg;
    const char *name = json_string_value(json_object_get(item, "name"));

    return w->from && strcmp(name, w->from) < 0 ? 0 : w->fn(w->arg, name);
}

/*
 * Call @fn for each project @token reaches, from @from on (in name order):
 * the plugin's --project for its own token, else (an admin token) every
 * project. Return: OK, or the gRPC code replied.
 */
static grpc_status_code each_project(const struct csi *c, const char *token, const char *from,
                                     int (*fn)(void *arg, const char *project), void *arg,
                                     struct csi_reply *r)
{
    struct project_walk w = {.from = from, .fn = fn, .arg = arg};
    int rc = 0;

    if (c->project && token == c->token) {
        if (!from || strcmp(c->project, from) >= 0)
            rc = fn(arg, c->project);
    } else {
        rc = each_item(c, token, "/v1/projects", NULL, project_item, &w, r);
    }
    return rc > 0 ? (grpc_status_code)rc : GRPC_STATUS_OK;
}

struct alloc_walk {
    const char *project;
    enum kairos_kind kind;
    int (*fn)(void *arg, const char *project, enum kairos_kind kind, const json_t *item);
    void *arg;
};

static int alloc_item(void *arg, const json_t *item)
{
    struct alloc_walk *w = arg;

    return is_pending(item) ? 0 : w->fn(w->arg, w->project, w->kind, item);
}

/*
 * Call @fn(arg, project, kind, item) for each ready allocation of @kind in
 * @project named after @after_name (NULL: all). Return: 0, WALK_STOP, or
 * the gRPC code replied.
 */
static int each_alloc(const struct csi *c, const char *token, const char *project,
                      enum kairos_kind kind, const char *after_name,
                      int (*fn)(void *arg, const char *project, enum kairos_kind kind,
                                const json_t *item),
                      void *arg, struct csi_reply *r)
{
    struct alloc_walk w = {.project = project, .kind = kind, .fn = fn, .arg = arg};
    char base[160];
    int rc;

    snprintf(base, sizeof(base), "/v1/projects/%s/%s", project, csi_kind_path(kind));
    rc = each_item(c, token, base, after_name, alloc_item, &w, r);
    /* A project deleted meanwhile has nothing to list. */
    return rc == GRPC_STATUS_NOT_FOUND ? 0 : rc;
}

/* ---- ListVolumes ---- */

struct vlist {
    const struct csi *c;
    struct csi_reply *r;
    const struct csi_volid *from; /* the starting token's volume, or NULL */
    size_t max;
    Csi__V1__ListVolumesResponse__Entry **entries;
    size_t n;
    char next[CSI_ID_MAX + 1];
};

/* One ListVolumes entry and what it points to, in one allocation (the entry first). */
struct ventry {
    Csi__V1__ListVolumesResponse__Entry e;
    Csi__V1__Volume v;
    char id[CSI_ID_MAX + 1];
};

static int vlist_add(void *arg, const char *project, enum kairos_kind kind, const json_t *item)
{
    struct vlist *l = arg;
    struct csi_volid v = {.kind = kind};
    struct ventry *m;

    if (l->n == l->max) {
        /* One more exists: the caller resumes after the last one given. */
        snprintf(l->next, sizeof(l->next), "%s", l->entries[l->n - 1]->volume->volume_id);
        return WALK_STOP;
    }
    m = malloc(sizeof(*m));
    if (!m)
        return csi_reply_error(l->r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    snprintf(v.project, sizeof(v.project), "%s", project);
    snprintf(v.name, sizeof(v.name), "%s", json_string_value(json_object_get(item, "name")));
    csi__v1__list_volumes_response__entry__init(&m->e);
    csi__v1__volume__init(&m->v);
    csi_volid_format(&v, m->id);
    m->v.volume_id = m->id;
    m->v.capacity_bytes = (int64_t)size_of(item);
    m->e.volume = &m->v;
    l->entries[l->n++] = &m->e;
    return 0;
}

static int vlist_project(void *arg, const char *project)
{
    static const enum kairos_kind kinds[] = {KAIROS_SHARE, KAIROS_VOLUME}; /* 's' < 'v' */
    struct vlist *l = arg;
    bool first = l->from && strcmp(project, l->from->project) == 0;
    int rc = 0;

    for (size_t k = 0; !rc && k < 2; k++) {
        /* The token's project: resume in the token's kind, after its name. */
        if (first && kinds[k] == KAIROS_SHARE && l->from->kind == KAIROS_VOLUME)
            continue;
        rc = each_alloc(l->c, l->c->token, project, kinds[k],
                        first && kinds[k] == l->from->kind ? l->from->name : NULL, vlist_add, l,
                        l->r);
    }
    return rc;
}

static void list_volumes(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__ListVolumesRequest *in = (const Csi__V1__ListVolumesRequest *)msg;
    Csi__V1__ListVolumesResponse out = CSI__V1__LIST_VOLUMES_RESPONSE__INIT;
    struct vlist l = {.c = c, .r = r};
    struct csi_volid from;
    grpc_status_code code;

    if (in->max_entries < 0) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "max_entries is negative");
        return;
    }
    if (in->starting_token && *in->starting_token) {
        if (csi_volid_parse(in->starting_token, &from) < 0) {
            csi_reply_error(r, GRPC_STATUS_ABORTED, "starting_token '%.128s' is none of ours",
                            in->starting_token);
            return;
        }
        l.from = &from;
    }
    /* No limit asked: kairosd's own page, so that one answer stays small. */
    l.max = in->max_entries ? (size_t)in->max_entries : PAGE_MAX;
    l.entries = calloc(l.max, sizeof(*l.entries));
    if (!l.entries) {
        csi_reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    code = each_project(c, c->token, l.from ? l.from->project : NULL, vlist_project, &l, r);
    if (code == GRPC_STATUS_OK) {
        out.n_entries = l.n;
        out.entries = l.entries;
        out.next_token = l.next;
        csi_reply_ok(r, &out.base);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.entries[i]);
    free(l.entries);
}

/* ---- GetCapacity ---- */

static json_int_t remaining(const json_t *quota, const json_t *used)
{
    json_int_t q = json_integer_value(quota), u = json_integer_value(used);

    return !json_is_integer(quota) ? INT64_MAX : q > u ? q - u : 0;
}

static void get_capacity(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__GetCapacityRequest *in = (const Csi__V1__GetCapacityRequest *)msg;
    Csi__V1__GetCapacityResponse out = CSI__V1__GET_CAPACITY_RESPONSE__INIT;
    Google__Protobuf__Int64Value max = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    const char *project = CSI_MAP_GET(in, parameters, "project");
    enum kairos_kind kind;
    json_int_t avail = INT64_MAX;
    char path[256];
    json_t *a;
    long status;
    grpc_status_code code;

    if (kind_of(in->n_parameters, in->parameters, in->n_volume_capabilities,
                in->volume_capabilities, &kind, r))
        return;
    for (size_t i = 0; i < in->n_volume_capabilities; i++) {
        /* A capability the kind cannot serve: nothing of it can be made. */
        if (csi_cap_check(kind, in->volume_capabilities[i])) {
            out.available_capacity = 0;
            csi_reply_ok(r, &out.base);
            return;
        }
    }
    if (!project)
        project = c->project;
    if (project && !kairos_name_valid(project)) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "bad project name '%.64s'", project);
        return;
    }
    if (project) {
        /* What the project's quota leaves, for this kind and in total. */
        snprintf(path, sizeof(path), "/v1/projects/%s/usage", project);
        if (kd_do(c, c->token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "GetCapacity", NULL, &a, r))
            return;
        const json_t *k = json_object_get(a, kairos_kind_name(kind)),
                     *t = json_object_get(a, "total");
        avail = remaining(json_object_get(k, "quota_bytes"), json_object_get(k, "allocated_bytes"));
        json_int_t tot =
            remaining(json_object_get(t, "quota_bytes"), json_object_get(t, "allocated_bytes"));
        avail = tot < avail ? tot : avail;
        json_decref(a);
    }
    /*
     * What the cluster's admission limit leaves, in effective bytes (a thin
     * volume's overcommit would let more through: this is the safe bound).
     * Only an admin token may read it.
     */
    code = kd_call(c, c->token, "GET", "/v1/capacity", NULL, &status, &a, r);
    if (code != GRPC_STATUS_OK)
        return;
    if (status == 200) {
        json_int_t left =
            remaining(json_object_get(a, "limit"), json_object_get(a, "allocated_effective"));
        avail = left < avail ? left : avail;
    } else if (status != 403 || !project) {
        kd_refused(r, status, a, GRPC_STATUS_INTERNAL, "GetCapacity");
        json_decref(a);
        return;
    }
    json_decref(a);
    out.available_capacity = avail;
    max.value = avail;
    out.maximum_volume_size = &max;
    csi_reply_ok(r, &out.base);
}

/* ---- snapshots ---- */

static void fill_snapshot(Csi__V1__Snapshot *s, Google__Protobuf__Timestamp *t,
                          const struct csi_volid *v, const json_t *item, uint64_t share_bytes,
                          char *id, char *src_id)
{
    json_int_t ms = json_integer_value(json_object_get(item, "created_ms"));

    csi_snapid_format(v, id);
    csi_volid_format(v, src_id);
    t->seconds = ms / 1000;
    t->nanos = (int32_t)(ms % 1000) * 1000000;
    s->snapshot_id = id;
    s->source_volume_id = src_id;
    /* A volume snapshot has the volume's size when taken; a share's, the share's. */
    s->size_bytes = v->kind == KAIROS_VOLUME ? (int64_t)size_of(item) : (int64_t)share_bytes;
    s->creation_time = t;
    /* RBD and CephFS snapshots are whole the moment they exist. */
    s->ready_to_use = true;
}

/* The share's size, for its snapshots (0 for a volume, whose snapshots carry theirs). */
static grpc_status_code share_size(const struct csi *c, const char *token,
                                   const struct csi_volid *v, uint64_t *out, struct csi_reply *r)
{
    char path[256];
    json_t *a;
    grpc_status_code code = GRPC_STATUS_OK;

    *out = 0;
    if (v->kind != KAIROS_SHARE)
        return code;
    alloc_path(path, sizeof(path), v);
    code = kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "snapshot", NULL, &a, r);
    if (code == GRPC_STATUS_OK)
        *out = size_of(a);
    json_decref(a);
    return code;
}

static void create_snapshot(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__CreateSnapshotRequest *in = (const Csi__V1__CreateSnapshotRequest *)msg;
    const char *token = kd_token(in->n_secrets, in->secrets);
    Csi__V1__CreateSnapshotResponse out = CSI__V1__CREATE_SNAPSHOT_RESPONSE__INIT;
    Csi__V1__Snapshot snap = CSI__V1__SNAPSHOT__INIT;
    Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    char path[320], id[CSI_ID_MAX + 1], src_id[CSI_ID_MAX + 1], key[CSI_ID_MAX + 3];
    struct csi_volid v;
    json_t *body, *items = NULL, *item;
    uint64_t share_bytes = 0;

    if (!in->name || !*in->name) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "name is required");
        return;
    }
    if (!in->source_volume_id || !*in->source_volume_id) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "source_volume_id is required");
        return;
    }
    if (strlen(in->name) > CSI_ID_MAX) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "name is over %d bytes", CSI_ID_MAX);
        return;
    }
    if (volume_of(in->source_volume_id, &v, r))
        return;
    if (in->n_parameters) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "snapshots take no parameters ('%.64s')",
                        in->parameters[0]->key);
        return;
    }
    if (csi_snapshot_name(in->name, v.project, v.name, v.snap) < 0) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                        "project and volume names leave no room for a snapshot id");
        return;
    }
    snprintf(key, sizeof(key), "s:%s", in->name);
    if (!csi_begin(c, key, r))
        return;
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/snapshots", v.project,
             csi_kind_path(v.kind), v.name);
    body = json_pack("{s:s}", "name", v.snap);
    /* Idempotent in kairosd: a repeat finds the snapshot there. */
    if (kd_do(c, token, "POST", path, body, GRPC_STATUS_ALREADY_EXISTS, "CreateSnapshot", NULL,
              NULL, r) ||
        list_snaps(c, token, &v, &items, r) || share_size(c, token, &v, &share_bytes, r))
        goto out;
    item = find_snap(items, v.snap);
    if (!item) {
        csi_reply_error(r, GRPC_STATUS_INTERNAL, "snapshot %s of %s/%s vanished", v.snap, v.project,
                        v.name);
        goto out;
    }
    fill_snapshot(&snap, &t, &v, item, share_bytes, id, src_id);
    out.snapshot = &snap;
    csi_reply_ok(r, &out.base);
out:
    json_decref(body);
    json_decref(items);
    csi_end(c, key);
}

static void delete_snapshot(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__DeleteSnapshotRequest *in = (const Csi__V1__DeleteSnapshotRequest *)msg;
    Csi__V1__DeleteSnapshotResponse out = CSI__V1__DELETE_SNAPSHOT_RESPONSE__INIT;
    struct csi_volid v;
    char path[400];
    grpc_status_code code;

    if (!in->snapshot_id || !*in->snapshot_id) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "snapshot_id is required");
        return;
    }
    if (csi_snapid_parse(in->snapshot_id, &v) < 0) {
        csi_reply_ok(r, &out.base); /* none of ours: nothing to delete */
        return;
    }
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/snapshots/%s", v.project,
             csi_kind_path(v.kind), v.name, v.snap);
    code = kd_do(c, kd_token(in->n_secrets, in->secrets), "DELETE", path, NULL,
                 GRPC_STATUS_FAILED_PRECONDITION, "DeleteSnapshot", NULL, NULL, r);
    if (code == GRPC_STATUS_OK || code == GRPC_STATUS_NOT_FOUND)
        csi_reply_ok(r, &out.base);
}

/* ---- ListSnapshots ---- */

struct slist {
    const struct csi *c;
    const char *token;
    struct csi_reply *r;
    Csi__V1__ListSnapshotsResponse__Entry **e;
    size_t n, cap;
};

static int slist_add(struct slist *l, const struct csi_volid *v, const json_t *item,
                     uint64_t share_bytes)
{
    /* The entry and what it points to, in one allocation (the entry first). */
    struct {
        Csi__V1__ListSnapshotsResponse__Entry e;
        Csi__V1__Snapshot s;
        Google__Protobuf__Timestamp t;
        char id[CSI_ID_MAX + 1], src[CSI_ID_MAX + 1];
    } * m;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        void *grown = realloc(l->e, cap * sizeof(*l->e));
        if (!grown)
            return csi_reply_error(l->r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        l->e = grown;
        l->cap = cap;
    }
    m = malloc(sizeof(*m));
    if (!m)
        return csi_reply_error(l->r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    csi__v1__list_snapshots_response__entry__init(&m->e);
    csi__v1__snapshot__init(&m->s);
    google__protobuf__timestamp__init(&m->t);
    fill_snapshot(&m->s, &m->t, v, item, share_bytes, m->id, m->src);
    m->e.snapshot = &m->s;
    l->e[l->n++] = &m->e;
    return 0;
}

/* Every snapshot of allocation @v (named @snap alone, if given). */
static int slist_alloc(struct slist *l, const struct csi_volid *base, const char *only,
                       uint64_t share_bytes)
{
    struct csi_volid v = *base;
    json_t *items, *item;
    size_t i;
    int rc = 0;
    grpc_status_code code = list_snaps(l->c, l->token, &v, &items, l->r);

    if (code == GRPC_STATUS_NOT_FOUND)
        return 0;
    if (code != GRPC_STATUS_OK)
        return code;
    json_array_foreach(items, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (!kairos_name_valid(name) || (only && strcmp(name, only) != 0) ||
            strncmp(name, CLONE_SNAP_PREFIX, strlen(CLONE_SNAP_PREFIX)) == 0)
            continue;
        snprintf(v.snap, sizeof(v.snap), "%s", name);
        rc = slist_add(l, &v, item, share_bytes);
        if (rc)
            break;
    }
    json_decref(items);
    return rc;
}

static int slist_item(void *arg, const char *project, enum kairos_kind kind, const json_t *item)
{
    struct csi_volid v = {.kind = kind};

    snprintf(v.project, sizeof(v.project), "%s", project);
    snprintf(v.name, sizeof(v.name), "%s", json_string_value(json_object_get(item, "name")));
    return slist_alloc(arg, &v, NULL, size_of(item));
}

static int slist_project(void *arg, const char *project)
{
    struct slist *l = arg;
    int rc = each_alloc(l->c, l->token, project, KAIROS_SHARE, NULL, slist_item, l, l->r);

    return rc ? rc : each_alloc(l->c, l->token, project, KAIROS_VOLUME, NULL, slist_item, l, l->r);
}

static int by_id(const void *a, const void *b)
{
    const Csi__V1__ListSnapshotsResponse__Entry *const *x = a, *const *y = b;

    return strcmp((*x)->snapshot->snapshot_id, (*y)->snapshot->snapshot_id);
}

static void list_snapshots(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__ListSnapshotsRequest *in = (const Csi__V1__ListSnapshotsRequest *)msg;
    Csi__V1__ListSnapshotsResponse out = CSI__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
    struct slist l = {.c = c, .token = kd_read_token(c, in->n_secrets, in->secrets), .r = r};
    const char *project = CSI_MAP_GET(in, secrets, "project"), *tok = in->starting_token;
    char next[CSI_ID_MAX + 1] = "";
    struct csi_volid v;
    size_t first = 0, n;
    uint64_t share_bytes = 0;
    int rc = 0;

    if (in->max_entries < 0) {
        csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "max_entries is negative");
        return;
    }
    if (tok && *tok && csi_snapid_parse(tok, &v) < 0) {
        csi_reply_error(r, GRPC_STATUS_ABORTED, "starting_token '%.128s' is none of ours", tok);
        return;
    }
    if (in->snapshot_id && *in->snapshot_id) {
        /* One snapshot: an id of none of ours names none. */
        struct csi_volid src;
        if (csi_snapid_parse(in->snapshot_id, &v) == 0 &&
            (!in->source_volume_id || !*in->source_volume_id ||
             (csi_volid_parse(in->source_volume_id, &src) == 0 && src.kind == v.kind &&
              strcmp(src.project, v.project) == 0 && strcmp(src.name, v.name) == 0)) &&
            !(rc = share_size(c, l.token, &v, &share_bytes, r)))
            rc = slist_alloc(&l, &v, v.snap, share_bytes);
        if (rc == GRPC_STATUS_NOT_FOUND)
            rc = 0;
    } else if (in->source_volume_id && *in->source_volume_id) {
        if (csi_volid_parse(in->source_volume_id, &v) == 0 &&
            !(rc = share_size(c, l.token, &v, &share_bytes, r)))
            rc = slist_alloc(&l, &v, NULL, share_bytes);
        if (rc == GRPC_STATUS_NOT_FOUND)
            rc = 0;
    } else if (project && *project) {
        if (!kairos_name_valid(project)) {
            csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "bad project name");
            return;
        }
        rc = slist_project(&l, project);
    } else {
        rc = each_project(c, l.token, NULL, slist_project, &l, r);
    }
    if (rc == 0) {
        /* qsort() takes no NULL base, even for no entries. */
        if (l.n)
            qsort(l.e, l.n, sizeof(*l.e), by_id);
        while (tok && *tok && first < l.n && strcmp(l.e[first]->snapshot->snapshot_id, tok) <= 0)
            first++;
        n = l.n - first;
        if (in->max_entries && n > (size_t)in->max_entries) {
            n = (size_t)in->max_entries;
            snprintf(next, sizeof(next), "%s", l.e[first + n - 1]->snapshot->snapshot_id);
        }
        out.n_entries = n;
        out.entries = l.e + first;
        out.next_token = next;
        r->code = GRPC_STATUS_OK;
        csi_reply_ok(r, &out.base);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.e[i]);
    free(l.e);
}

/* ---- capabilities ---- */

static void get_capabilities(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    static const Csi__V1__ControllerServiceCapability__RPC__Type types[] = {
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_VOLUME,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CREATE_DELETE_SNAPSHOT,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_SNAPSHOTS,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__CLONE_VOLUME,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
        /* These need the plugin's own token: CSI gives them no secrets. */
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__LIST_VOLUMES,
        CSI__V1__CONTROLLER_SERVICE_CAPABILITY__RPC__TYPE__GET_CAPACITY,
    };
    enum { N = sizeof(types) / sizeof(types[0]), NEED_TOKEN = 2 };
    Csi__V1__ControllerGetCapabilitiesResponse out =
        CSI__V1__CONTROLLER_GET_CAPABILITIES_RESPONSE__INIT;
    Csi__V1__ControllerServiceCapability cap[N], *caps[N];
    Csi__V1__ControllerServiceCapability__RPC rpc[N];

    (void)msg;
    for (size_t i = 0; i < N - (c->token ? 0 : NEED_TOKEN); i++) {
        csi__v1__controller_service_capability__init(&cap[i]);
        csi__v1__controller_service_capability__rpc__init(&rpc[i]);
        rpc[i].type = types[i];
        cap[i].type_case = CSI__V1__CONTROLLER_SERVICE_CAPABILITY__TYPE_RPC;
        cap[i].rpc = &rpc[i];
        caps[out.n_capabilities++] = &cap[i];
    }
    out.capabilities = caps;
    csi_reply_ok(r, &out.base);
}

static const struct csi_method methods[] = {
    {"/csi.v1.Controller/CreateVolume", &csi__v1__create_volume_request__descriptor, create_volume},
    {"/csi.v1.Controller/DeleteVolume", &csi__v1__delete_volume_request__descriptor, delete_volume},
    {"/csi.v1.Controller/ValidateVolumeCapabilities",
     &csi__v1__validate_volume_capabilities_request__descriptor, validate},
    {"/csi.v1.Controller/ListVolumes", &csi__v1__list_volumes_request__descriptor, list_volumes},
    {"/csi.v1.Controller/GetCapacity", &csi__v1__get_capacity_request__descriptor, get_capacity},
    {"/csi.v1.Controller/ControllerGetCapabilities",
     &csi__v1__controller_get_capabilities_request__descriptor, get_capabilities},
    {"/csi.v1.Controller/CreateSnapshot", &csi__v1__create_snapshot_request__descriptor,
     create_snapshot},
    {"/csi.v1.Controller/DeleteSnapshot", &csi__v1__delete_snapshot_request__descriptor,
     delete_snapshot},
    {"/csi.v1.Controller/ListSnapshots", &csi__v1__list_snapshots_request__descriptor,
     list_snapshots},
    {"/csi.v1.Controller/ControllerExpandVolume",
     &csi__v1__controller_expand_volume_request__descriptor, expand_volume},
};

const struct csi_methods csi_controller_methods = {methods, sizeof(methods) / sizeof(methods[0])};
