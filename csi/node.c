/*
 * node.c - the CSI Node service: a share or a volume staged once on this
 * node, then bind-mounted into each pod that uses it.
 *
 *   share   NodeStage mounts kairosfs in single-share mode at the staging
 *           path (-o share=NAME: kairosfs binds that share alone, as this
 *           node, with the node-stage secret's token); NodePublish binds
 *           <staging>/shares/NAME onto the pod's path.
 *   volume  NodeStage maps the image as a block device: krbd where
 *           /sys/bus/rbd exists, else rbd-nbd where installed, else a
 *           kairosfs mount of the volume alone (<state>/volumes/<id>) with
 *           its file on a loop device. A file system volume is formatted
 *           on first use (ext4 or xfs) and mounted at the staging path; a
 *           raw block volume's device is bound onto <staging>/<id>.
 *           NodePublish binds either onto the pod's path, read-only when
 *           asked.
 *
 * Nothing is remembered in the plugin: every call reads the mount table,
 * the loop devices' backing files and the rbd devices, so each call is
 * idempotent and a plugin killed between any two calls (or in the middle
 * of one) carries on where it was when started again. Unpublish and
 * unstage undo what publish and stage did, and what they find half done.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "caps.h"
#include "csi.h"
#include "csi.pb-c.h"
#include "exec.h"
#include "kairosd.h"
#include "log.h"
#include "loop.h"
#include "mounts.h"
#include "rbdmap.h"
#include "volid.h"

/* kairosfs gives up after its own connect deadline; this is the outer bound. */
#define KAIROSFS_TIMEOUT_S 180
/* mkfs and resize on a volume of any size. */
#define MKFS_TIMEOUT_S 1800
/* How long a grown image takes to show through kairosfs and the loop device. */
#define GROW_TRIES 20
#define GROW_PAUSE 100000 /* us */

typedef Csi__V1__VolumeCapability cap_t;

/* ---- paths ---- */

/* Where a volume's own kairosfs mount lives on this node. */
static void kfs_dir(const struct csi *c, const char *volid, char *out, size_t len)
{
    snprintf(out, len, "%s/volumes/%s", c->state_dir, volid);
}

/* The volume's file in that mount: the loop device's backing file. */
static void kfs_file(const struct csi *c, const struct csi_volid *v, const char *volid, char *out,
                     size_t len)
{
    snprintf(out, len, "%s/volumes/%s/volumes/%s", c->state_dir, volid, v->name);
}

/* A raw block volume's device is bound onto this file in the staging directory. */
static void block_file(const char *staging, const char *volid, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", staging, volid);
}

/* A staged share's directory, which publish binds. */
static void share_dir(const char *staging, const struct csi_volid *v, char *out, size_t len)
{
    snprintf(out, len, "%s/shares/%s", staging, v->name);
}

/* Paths come from the CO: absolute, not too long, and no "..". */
static grpc_status_code check_path(const char *p, const char *what, struct csi_reply *r)
{
    if (!p || !*p)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s is required", what);
    if (p[0] != '/' || strlen(p) > PATH_MAX - 256 || strstr(p, "/../") ||
        (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s '%.200s' is no absolute path",
                               what, p);
    return GRPC_STATUS_OK;
}

static grpc_status_code read_volid(const char *id, struct csi_volid *v, struct csi_reply *r)
{
    if (!id || !*id)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_id is required");
    if (csi_volid_parse(id, v) < 0)
        return csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "no volume '%.128s': not a Kairos id", id);
    return GRPC_STATUS_OK;
}

static grpc_status_code read_cap(const struct csi_volid *v, const cap_t *cap, struct csi_reply *r)
{
    const char *why;

    if (!cap)
        return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "volume_capability is required");
    why = csi_cap_check(v->kind, cap);
    return why ? csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT, "%s", why) : GRPC_STATUS_OK;
}

/* ---- mount flags ---- */

/* The per-mount flags a capability's mount_flags may ask for. */
static const struct {
    const char *name;
    unsigned long set;
} known_flags[] = {
    {"ro", MS_RDONLY},         {"nosuid", MS_NOSUID},    {"nodev", MS_NODEV},
    {"noexec", MS_NOEXEC},     {"noatime", MS_NOATIME},  {"nodiratime", MS_NODIRATIME},
    {"relatime", MS_RELATIME}, {"sync", MS_SYNCHRONOUS}, {"rw", 0},
    {"defaults", 0},
};

/*
 * Split @cap's mount_flags into mount(2) flags and, with @data, the rest
 * as file system options ("discard,errors=remount-ro"). Without @data an
 * unknown flag is refused: a bind mount takes no file system options.
 */
static grpc_status_code mount_flags(const cap_t *cap, unsigned long *flags, char *data, size_t len,
                                    struct csi_reply *r)
{
    const Csi__V1__VolumeCapability__MountVolume *mount = csi_cap_mount(cap);
    size_t used = 0;

    *flags = 0;
    if (data)
        data[0] = '\0';
    for (size_t i = 0; mount && i < mount->n_mount_flags; i++) {
        const char *f = mount->mount_flags[i];
        bool known = false;
        for (size_t k = 0; !known && k < sizeof(known_flags) / sizeof(known_flags[0]); k++) {
            if (strcmp(f, known_flags[k].name) == 0) {
                *flags |= known_flags[k].set;
                known = true;
            }
        }
        if (known)
            continue;
        if (!data || strpbrk(f, " \t\n") || used + strlen(f) + 2 > len)
            return csi_reply_error(r, GRPC_STATUS_INVALID_ARGUMENT,
                                   "mount flag '%.64s' is not one kairos-csi applies here", f);
        used += (size_t)snprintf(data + used, len - used, "%s%s", used ? "," : "", f);
    }
    return GRPC_STATUS_OK;
}

/* ---- devices ---- */

/* "/dev/NAME" of block device @major:@minor, from sysfs. */
static int dev_path(const struct csi *c, unsigned major, unsigned minor, char *out)
{
    char path[256], line[256];
    FILE *f;
    int rc = -ENOENT;

    snprintf(path, sizeof(path), "%s/dev/block/%u:%u/uevent", c->sysfs, major, minor);
    f = fopen(path, "r");
    if (!f)
        return -errno;
    while (rc == -ENOENT && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "DEVNAME=", 8) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, CSI_DEV_MAX, "/dev/%s", line + 8);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* The block device behind @path: a device node (raw block) or a mount of one. */
static int device_of(const struct csi *c, const char *path, char *dev)
{
    struct csi_mounts t;
    const struct csi_mount *m;
    struct stat st;
    int rc;

    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISBLK(st.st_mode))
        return dev_path(c, major(st.st_rdev), minor(st.st_rdev), dev);
    rc = csi_mounts_read(NULL, &t);
    if (rc < 0)
        return rc;
    m = csi_mounts_at(&t, path);
    rc = m ? dev_path(c, m->major, m->minor, dev) : -ENOENT;
    csi_mounts_free(&t);
    return rc;
}

/* ---- kairosfs ---- */

/* Is a live kairosfs mounted at @dir? Dead (its daemon gone) counts as not, and is cleared. */
static bool kairosfs_at(const char *dir, const char *inside)
{
    struct csi_mounts t;
    const struct csi_mount *m;
    struct stat st;
    bool ours;

    if (csi_mounts_read(NULL, &t) < 0)
        return false;
    m = csi_mounts_at(&t, dir);
    ours = m && strncmp(m->fstype, "fuse", 4) == 0 && strncmp(m->source, "kairos:", 7) == 0;
    csi_mounts_free(&t);
    if (!ours)
        return false;
    if (stat(inside, &st) == 0)
        return true;
    /* ENOTCONN: the daemon died. The mount is worth nothing: take it away. */
    csi_log(CSI_LOG_WARN, "kairosfs at %s no longer answers (%s): mounting it again", dir,
            strerror(errno));
    umount2(dir, MNT_DETACH);
    return false;
}

/*
 * Mount @v alone with kairosfs at @dir, bound through kairosd with @token
 * (handed over on descriptor 3).
 */
static grpc_status_code run_kairosfs(const struct csi *c, const char *token,
                                     const struct csi_volid *v, const char *dir,
                                     struct csi_reply *r)
{
    char opts[2048], secret[600], out[2048];
    const char *argv[] = {c->kairosfs, "-o", opts, dir, NULL};
    int rc;

    /* Pods run as any user: allow_other, with the kernel checking permissions. */
    snprintf(opts, sizeof(opts), "%s=%s,project=%s,url=%s,token_file=/dev/fd/3,allow_other%s%s%s",
             v->kind == KAIROS_SHARE ? "share" : "volume", v->name, v->project, c->url,
             /* A volume's size changes through the broker: see it at once. */
             v->kind == KAIROS_VOLUME ? ",attr_timeout=0" : "", c->cacert ? ",cacert=" : "",
             c->cacert ? c->cacert : "");
    snprintf(secret, sizeof(secret), "%s\n", token);
    rc = csi_mkdir_p(dir);
    if (rc == 0)
        rc = csi_run(argv, secret, KAIROSFS_TIMEOUT_S, out, sizeof(out));
    explicit_bzero(secret, sizeof(secret));
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot run %s: %s", c->kairosfs,
                               strerror(-rc));
    if (rc > 0) {
        out[strcspn(out, "\n")] = '\0';
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "kairosfs could not mount %s %s/%s: %s",
                               kairos_kind_name(v->kind), v->project, v->name,
                               out[0] ? out : "no reason given");
    }
    return GRPC_STATUS_OK;
}

/* Does kairosd let @token reach @v? Says precisely why not, before anything is mounted. */
static grpc_status_code reachable(const struct csi *c, const char *token, const struct csi_volid *v,
                                  struct csi_reply *r)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s", v->project, csi_kind_path(v->kind),
             v->name);
    return kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, "NodeStageVolume", NULL, NULL,
                 r);
}

/* ---- mapping a volume ---- */

/* The node's binding id: one key per node and volume, the same again after a restart. */
static void node_binding(const struct csi *c, char *out)
{
    char id[KAIROS_NAME_MAX + 16];

    snprintf(id, sizeof(id), "csi-%s", c->node_id);
    if (kairos_name_valid(id))
        snprintf(out, KAIROS_NAME_MAX + 1, "%s", id);
    else
        csi_hash_name("csi-", "node", c->node_id, out);
}

/* krbd and rbd-nbd need the key itself: a binding of this node, from kairosd. */
static grpc_status_code bind_node(const struct csi *c, const char *token, const struct csi_volid *v,
                                  bool ro, json_t **creds, struct csi_reply *r)
{
    char path[320], id[KAIROS_NAME_MAX + 1];
    json_t *body, *a;
    grpc_status_code code;

    node_binding(c, id);
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/bindings", v->project, v->name);
    body = json_pack("{s:s,s:b}", "id", id, "read_only", ro);
    code = kd_do(c, token, "POST", path, body, GRPC_STATUS_ALREADY_EXISTS, "NodeStageVolume", NULL,
                 &a, r);
    json_decref(body);
    if (code != GRPC_STATUS_OK)
        return code;
    *creds = json_incref(json_object_get(a, "credentials"));
    json_decref(a);
    return *creds ? GRPC_STATUS_OK
                  : csi_reply_error(r, GRPC_STATUS_INTERNAL, "kairosd bound no credentials");
}

/* The device already mapped for @v, if any (@dev "" when none). */
static int find_device(const struct csi *c, const struct csi_volid *v, const char *volid, char *dev)
{
    char file[PATH_MAX];
    int rc;

    dev[0] = '\0';
    switch (c->map) {
    /* A volume is image <name> in RBD namespace <project>, in the broker's one block pool. */
    case CSI_MAP_KRBD:
        rc = csi_krbd_find(c->sysfs, NULL, v->project, v->name, dev);
        break;
    case CSI_MAP_NBD:
        rc = csi_nbd_find(NULL, v->project, v->name, dev);
        break;
    default:
        kfs_file(c, v, volid, file, sizeof(file));
        rc = csi_loop_find(c->sysfs, file, dev);
    }
    if (rc == -ENOENT)
        dev[0] = '\0';
    return rc == -ENOENT ? 0 : rc;
}

/* Map @v as a block device into @dev, or find it mapped already. */
static grpc_status_code map_volume(const struct csi *c, const char *token,
                                   const struct csi_volid *v, const char *volid, bool ro, char *dev,
                                   struct csi_reply *r)
{
    char dir[PATH_MAX], file[PATH_MAX];
    struct csi_rbd_creds rc_;
    json_t *creds = NULL;
    grpc_status_code code;
    int rc;

    if (c->map == CSI_MAP_KAIROSFS) {
        kfs_dir(c, volid, dir, sizeof(dir));
        kfs_file(c, v, volid, file, sizeof(file));
        if (!kairosfs_at(dir, file)) {
            code = run_kairosfs(c, token, v, dir, r);
            if (code != GRPC_STATUS_OK)
                return code;
        }
        rc = csi_loop_find(c->sysfs, file, dev);
        if (rc == -ENOENT)
            rc = csi_loop_attach(file, ro, dev);
        if (rc < 0)
            return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot attach %s to a loop device: %s",
                                   file, strerror(-rc));
        return GRPC_STATUS_OK;
    }
    rc = find_device(c, v, volid, dev);
    if (rc == 0 && dev[0])
        return GRPC_STATUS_OK;
    code = bind_node(c, token, v, ro, &creds, r);
    if (code != GRPC_STATUS_OK)
        return code;
    rc = csi_rbd_creds_from_json(creds, &rc_);
    if (rc == 0)
        rc = c->map == CSI_MAP_KRBD ? csi_krbd_map(c->sysfs, &rc_, ro, dev)
                                    : csi_nbd_map(c->state_dir, &rc_, ro, dev);
    json_decref(creds);
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot map volume %s/%s with %s: %s",
                               v->project, v->name, c->map == CSI_MAP_KRBD ? "krbd" : "rbd-nbd",
                               strerror(-rc));
    return GRPC_STATUS_OK;
}

/* Undo map_volume(): the device (found again if @dev is ""), then kairosfs. */
static grpc_status_code unmap_volume(const struct csi *c, const struct csi_volid *v,
                                     const char *volid, const char *known_dev, struct csi_reply *r)
{
    char dev[CSI_DEV_MAX], dir[PATH_MAX];
    int rc = 0;

    snprintf(dev, sizeof(dev), "%s", known_dev ? known_dev : "");
    if (!dev[0])
        rc = find_device(c, v, volid, dev);
    if (rc == 0 && dev[0]) {
        rc = c->map == CSI_MAP_KRBD  ? csi_krbd_unmap(c->sysfs, dev)
             : c->map == CSI_MAP_NBD ? csi_nbd_unmap(dev)
                                     : csi_loop_detach(dev);
        if (rc == -ENXIO) /* detached already */
            rc = 0;
    }
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot release %s of volume %s: %s",
                               dev[0] ? dev : "the device", volid, strerror(-rc));
    if (c->map != CSI_MAP_KAIROSFS)
        return GRPC_STATUS_OK;
    kfs_dir(c, volid, dir, sizeof(dir));
    rc = csi_unmount_all(dir);
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot unmount kairosfs at %s: %s", dir,
                               strerror(-rc));
    if (rmdir(dir) < 0 && errno != ENOENT)
        csi_log(CSI_LOG_WARN, "cannot remove %s: %s", dir, strerror(errno));
    return GRPC_STATUS_OK;
}

/* ---- file systems ---- */

/* The file system on @dev into @type ("" when there is none). Return: 0 or -errno. */
static int probe_fs(const char *dev, char *type, size_t len)
{
    const char *argv[] = {"blkid", "-p", "-s", "TYPE", "-o", "value", dev, NULL};
    int rc = csi_run(argv, NULL, 60, type, len);

    type[strcspn(type, "\n")] = '\0';
    if (rc == 2) { /* blkid: nothing found */
        type[0] = '\0';
        return 0;
    }
    return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

static grpc_status_code make_fs(const char *dev, const char *fs, struct csi_reply *r)
{
    /* No discard: a new image is thin already, and through a loop device it is slow. */
    const char *ext4[] = {"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard,lazy_itable_init=1",
                          dev,         NULL};
    const char *xfs[] = {"mkfs.xfs", "-q", "-K", dev, NULL};
    char out[1024];
    int rc = csi_run(strcmp(fs, "xfs") == 0 ? xfs : ext4, NULL, MKFS_TIMEOUT_S, out, sizeof(out));

    if (rc != 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "mkfs.%s %s failed: %s", fs, dev,
                               rc < 0 ? strerror(-rc) : out);
    csi_log(CSI_LOG_INFO, "made a %s file system on %s", fs, dev);
    return GRPC_STATUS_OK;
}

/* The size of the ext4 file system on @dev, from its superblock. */
static int ext4_bytes(const char *dev, uint64_t *bytes)
{
    const char *argv[] = {"dumpe2fs", "-h", dev, NULL};
    char out[8192];
    unsigned long long count = 0, size = 0;
    int rc = csi_run(argv, NULL, 60, out, sizeof(out));
    char *p;

    if (rc != 0)
        return rc < 0 ? rc : -EIO;
    if ((p = strstr(out, "\nBlock count:")))
        count = strtoull(p + strlen("\nBlock count:"), NULL, 10);
    if ((p = strstr(out, "\nBlock size:")))
        size = strtoull(p + strlen("\nBlock size:"), NULL, 10);
    *bytes = count * size;
    return count && size ? 0 : -EIO;
}

/*
 * An ext4 volume that grew while it was not staged grows here, before it
 * is mounted: offline, where the kernel's online resize would need
 * CAP_SYS_RESOURCE. xfs grows only mounted (grow_mounted()).
 */
static grpc_status_code grow_ext4_offline(const char *dev, struct csi_reply *r)
{
    const char *fsck[] = {"e2fsck", "-f", "-p", dev, NULL}, *grow[] = {"resize2fs", dev, NULL};
    char out[1024];
    uint64_t dev_bytes = 0, fs_bytes = 0;
    int rc = csi_blockdev_size(dev, &dev_bytes);

    if (rc == 0)
        rc = ext4_bytes(dev, &fs_bytes);
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot size %s: %s", dev, strerror(-rc));
    /* Less than a block group's worth more is nothing resize2fs would add. */
    if (dev_bytes < fs_bytes + (1ULL << 20))
        return GRPC_STATUS_OK;
    /* e2fsck: 0 clean, 1 fixed; anything else needs a person. */
    rc = csi_run(fsck, NULL, MKFS_TIMEOUT_S, out, sizeof(out));
    if (rc == 0 || rc == 1)
        rc = csi_run(grow, NULL, MKFS_TIMEOUT_S, out, sizeof(out));
    if (rc != 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot grow ext4 on %s: %s", dev,
                               rc < 0 ? strerror(-rc) : out);
    csi_log(CSI_LOG_INFO, "grew ext4 on %s from %llu to %llu bytes", dev,
            (unsigned long long)fs_bytes, (unsigned long long)dev_bytes);
    return GRPC_STATUS_OK;
}

/* Grow the file system mounted at @point on @dev to the device's size. */
static grpc_status_code grow_mounted(const char *dev, const char *point, struct csi_reply *r)
{
    const char *ext4[] = {"resize2fs", dev, NULL}, *xfs[] = {"xfs_growfs", point, NULL};
    char fs[64], text[1024];
    int rc = probe_fs(dev, fs, sizeof(fs));

    if (rc == 0 && strcmp(fs, "ext4") != 0 && strcmp(fs, "xfs") != 0)
        rc = -EMEDIUMTYPE;
    if (rc == 0)
        rc = csi_run(strcmp(fs, "xfs") == 0 ? xfs : ext4, NULL, MKFS_TIMEOUT_S, text, sizeof(text));
    if (rc == 0)
        return GRPC_STATUS_OK;
    /* The kernel's online resize of ext4 wants CAP_SYS_RESOURCE, which some containers lack. */
    if (rc > 0 && strstr(text, "Permission denied to resize"))
        return csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                               "ext4 on %s cannot grow while mounted: the node plugin lacks "
                               "CAP_SYS_RESOURCE; it grows when staged again",
                               dev);
    return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot grow the file system on %s: %s", dev,
                           rc < 0 ? strerror(-rc) : text);
}

/* Format @dev on first use, then mount it at @point. */
static grpc_status_code mount_fs(const cap_t *cap, const char *dev, const char *point, bool ro,
                                 struct csi_reply *r)
{
    const char *want = csi_cap_fs_type(cap);
    char have[64], data[512];
    unsigned long flags;
    grpc_status_code code;
    int rc = probe_fs(dev, have, sizeof(have));

    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot read %s: %s", dev, strerror(-rc));
    const char *asked = csi_cap_mount(cap) ? csi_cap_mount(cap)->fs_type : NULL;

    if (have[0] && strcmp(have, want) != 0 && asked && *asked)
        return csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                               "%s holds %s, not the %s asked for", dev, have, want);
    if (!have[0]) {
        if (ro)
            return csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                                   "the volume has no file system yet and is asked read-only");
        code = make_fs(dev, want, r);
        if (code != GRPC_STATUS_OK)
            return code;
        snprintf(have, sizeof(have), "%s", want);
    } else if (!ro && strcmp(have, "ext4") == 0) {
        code = grow_ext4_offline(dev, r);
        if (code != GRPC_STATUS_OK)
            return code;
    }
    code = mount_flags(cap, &flags, data, sizeof(data), r);
    if (code != GRPC_STATUS_OK)
        return code;
    /* Read-only must not replay a journal another node may still write. */
    if (ro) {
        flags |= MS_RDONLY;
        size_t n = strlen(data);
        snprintf(data + n, sizeof(data) - n, "%s%s", n ? "," : "",
                 strcmp(have, "xfs") == 0 ? "norecovery" : "noload");
    }
    rc = csi_mkdir_p(point);
    if (rc == 0 && mount(dev, point, have, flags, data[0] ? data : NULL) < 0)
        rc = -errno;
    if (rc < 0)
        return csi_reply_error(r,
                               rc == -EINVAL ? GRPC_STATUS_INVALID_ARGUMENT : GRPC_STATUS_INTERNAL,
                               "cannot mount %s (%s) at %s: %s", dev, have, point, strerror(-rc));
    /* xfs grows mounted only: a volume that grew while unstaged grows now. */
    if (!ro && strcmp(have, "xfs") == 0)
        return grow_mounted(dev, point, r);
    return GRPC_STATUS_OK;
}

/* Make an empty regular file at @path for a device to be bound onto. */
static int make_file(const char *path)
{
    char dir[PATH_MAX];
    char *slash;
    int fd, rc;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        rc = csi_mkdir_p(dir);
        if (rc < 0)
            return rc;
    }
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static int bind_mount(const char *src, const char *dst, unsigned long flags)
{
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
        return -errno;
    /* A bind takes its flags on a remount only. */
    if (flags && mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
        int rc = -errno;
        umount2(dst, UMOUNT_NOFOLLOW);
        return rc;
    }
    return 0;
}

/* ---- NodeStageVolume ---- */

static grpc_status_code stage_share(const struct csi *c, const char *token,
                                    const struct csi_volid *v, const char *staging,
                                    struct csi_reply *r)
{
    char dir[PATH_MAX];
    grpc_status_code code;

    share_dir(staging, v, dir, sizeof(dir));
    if (kairosfs_at(staging, dir))
        return GRPC_STATUS_OK;
    if (csi_is_mounted(staging))
        return csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS, "something else is mounted at %s",
                               staging);
    code = reachable(c, token, v, r);
    if (code == GRPC_STATUS_OK)
        code = run_kairosfs(c, token, v, staging, r);
    if (code == GRPC_STATUS_OK && !kairosfs_at(staging, dir))
        code = csi_reply_error(r, GRPC_STATUS_INTERNAL, "kairosfs mounted no %s at %s", v->name,
                               staging);
    return code;
}

static grpc_status_code stage_volume(const struct csi *c, const char *token,
                                     const struct csi_volid *v, const char *volid,
                                     const char *staging, const cap_t *cap, struct csi_reply *r)
{
    bool ro = csi_cap_read_only(cap);
    char dev[CSI_DEV_MAX], have[CSI_DEV_MAX], point[PATH_MAX];
    grpc_status_code code;
    int rc;

    if (csi_cap_is_block(cap))
        block_file(staging, volid, point, sizeof(point));
    else
        snprintf(point, sizeof(point), "%s", staging);
    /* Staged already: the same volume's device there is a repeat, another is a conflict. */
    if (csi_is_mounted(point)) {
        rc = device_of(c, point, have);
        if (rc == 0 && find_device(c, v, volid, dev) == 0 && strcmp(have, dev) == 0)
            return GRPC_STATUS_OK;
        return csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS,
                               "%s is mounted at %s already, not volume %s", rc == 0 ? have : "?",
                               point, volid);
    }
    code = reachable(c, token, v, r);
    if (code == GRPC_STATUS_OK)
        code = map_volume(c, token, v, volid, ro, dev, r);
    if (code != GRPC_STATUS_OK)
        return code;
    if (csi_cap_is_block(cap)) {
        rc = make_file(point);
        if (rc == 0)
            rc = bind_mount(dev, point, ro ? MS_RDONLY : 0);
        if (rc < 0) {
            unlink(point);
            code = csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot bind %s onto %s: %s", dev,
                                   point, strerror(-rc));
        }
    } else {
        code = mount_fs(cap, dev, point, ro, r);
    }
    /* A stage that failed leaves nothing mapped: the next one starts over. */
    if (code != GRPC_STATUS_OK) {
        struct csi_reply undo = {0};
        if (unmap_volume(c, v, volid, dev, &undo) != GRPC_STATUS_OK)
            csi_log(CSI_LOG_WARN, "NodeStageVolume %s: %s", volid, undo.msg);
        free(undo.body);
    }
    return code;
}

static void stage(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodeStageVolumeRequest *in = (const Csi__V1__NodeStageVolumeRequest *)msg;
    Csi__V1__NodeStageVolumeResponse out = CSI__V1__NODE_STAGE_VOLUME_RESPONSE__INIT;
    struct csi_volid v;
    grpc_status_code code;

    if (read_volid(in->volume_id, &v, r) ||
        check_path(in->staging_target_path, "staging_target_path", r) ||
        read_cap(&v, in->volume_capability, r))
        return;
    if (!csi_begin(c, in->volume_id, r))
        return;
    if (v.kind == KAIROS_SHARE)
        code = stage_share(c, kd_token(in->n_secrets, in->secrets), &v, in->staging_target_path, r);
    else
        code = stage_volume(c, kd_token(in->n_secrets, in->secrets), &v, in->volume_id,
                            in->staging_target_path, in->volume_capability, r);
    if (code == GRPC_STATUS_OK)
        csi_reply_ok(r, &out.base);
    csi_end(c, in->volume_id);
}

/* ---- NodeUnstageVolume ---- */

/*
 * Still published: a mount of the staged mount's device and directory (or
 * below it) other than the staged one. Root directories tell a raw block
 * volume's bind (root "/loopN" of devtmpfs) from /dev itself.
 */
static bool still_published(const char *point)
{
    struct csi_mounts t;
    const struct csi_mount *m;
    size_t n = 0;

    if (csi_mounts_read(NULL, &t) < 0)
        return false;
    m = csi_mounts_at(&t, point);
    for (size_t i = 0; m && i < t.n; i++) {
        const struct csi_mount *o = &t.m[i];
        size_t len = strlen(m->root);
        if (o == m || o->major != m->major || o->minor != m->minor)
            continue;
        n += strcmp(m->root, "/") == 0 ||
             (strncmp(o->root, m->root, len) == 0 && (o->root[len] == '/' || !o->root[len]));
    }
    csi_mounts_free(&t);
    return n > 0;
}

static void unstage(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodeUnstageVolumeRequest *in = (const Csi__V1__NodeUnstageVolumeRequest *)msg;
    Csi__V1__NodeUnstageVolumeResponse out = CSI__V1__NODE_UNSTAGE_VOLUME_RESPONSE__INIT;
    const char *staging = in->staging_target_path;
    char point[PATH_MAX], blk[PATH_MAX], dev[CSI_DEV_MAX] = "";
    struct csi_volid v;
    grpc_status_code code = GRPC_STATUS_OK;
    int rc;

    if (read_volid(in->volume_id, &v, r) || check_path(staging, "staging_target_path", r))
        return;
    if (!csi_begin(c, in->volume_id, r))
        return;
    /* A raw block volume's bind, or the file system (or share) at the staging path. */
    block_file(staging, in->volume_id, blk, sizeof(blk));
    snprintf(point, sizeof(point), "%s",
             v.kind == KAIROS_VOLUME && csi_is_mounted(blk) ? blk : staging);
    if (csi_is_mounted(point)) {
        if (still_published(point)) {
            code = csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                                   "volume %s is still published on this node: unpublish first",
                                   in->volume_id);
            goto out;
        }
        if (v.kind == KAIROS_VOLUME && device_of(c, point, dev) < 0)
            dev[0] = '\0';
        rc = csi_unmount_all(point);
        if (rc < 0) {
            code = csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot unmount %s: %s", point,
                                   strerror(-rc));
            goto out;
        }
    }
    /* The file a raw block volume was bound onto (none for the others). */
    if (v.kind == KAIROS_VOLUME)
        unlink(blk);
    if (v.kind == KAIROS_VOLUME)
        code = unmap_volume(c, &v, in->volume_id, dev[0] ? dev : NULL, r);
out:
    if (code == GRPC_STATUS_OK)
        csi_reply_ok(r, &out.base);
    csi_end(c, in->volume_id);
}

/* ---- NodePublishVolume ---- */

/* What publish binds: the staged share's directory, file system or device. */
static grpc_status_code publish_source(const struct csi *c, const struct csi_volid *v,
                                       const char *volid, const char *staging, const cap_t *cap,
                                       char *src, size_t len, struct csi_reply *r)
{
    (void)c;
    if (v->kind == KAIROS_SHARE) {
        share_dir(staging, v, src, len);
        if (kairosfs_at(staging, src))
            return GRPC_STATUS_OK;
    } else {
        if (csi_cap_is_block(cap))
            block_file(staging, volid, src, len);
        else
            snprintf(src, len, "%s", staging);
        if (csi_is_mounted(src))
            return GRPC_STATUS_OK;
    }
    return csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                           "volume %s is not staged at %s: NodeStageVolume first", volid, staging);
}

/* Is @target a bind of @src already, read-only as @ro says? */
static grpc_status_code published_already(const char *src, const char *target, bool ro, bool *yes,
                                          struct csi_reply *r)
{
    struct csi_mounts t;
    const struct csi_mount *m, *s;
    struct stat a, b;
    grpc_status_code code = GRPC_STATUS_OK;

    *yes = false;
    if (csi_mounts_read(NULL, &t) < 0)
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot read the mount table");
    m = csi_mounts_at(&t, target);
    s = csi_mounts_at(&t, src);
    if (m) {
        /* The same device, and the same directory in it (or the same device node). */
        bool same = stat(src, &a) == 0 && stat(target, &b) == 0 &&
                    ((S_ISBLK(a.st_mode) && a.st_rdev == b.st_rdev) ||
                     (a.st_dev == b.st_dev && a.st_ino == b.st_ino));
        (void)s;
        if (!same)
            code = csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS, "something else is mounted at %s",
                                   target);
        else if (csi_mount_has_option(m, "ro") != ro)
            code = csi_reply_error(r, GRPC_STATUS_ALREADY_EXISTS, "%s is published %s already",
                                   target, ro ? "read-write" : "read-only");
        else
            *yes = true;
    }
    csi_mounts_free(&t);
    return code;
}

static void publish(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodePublishVolumeRequest *in = (const Csi__V1__NodePublishVolumeRequest *)msg;
    Csi__V1__NodePublishVolumeResponse out = CSI__V1__NODE_PUBLISH_VOLUME_RESPONSE__INIT;
    const cap_t *cap = in->volume_capability;
    char src[PATH_MAX];
    struct csi_volid v;
    unsigned long flags;
    bool ro, done;
    int rc;

    if (read_volid(in->volume_id, &v, r) || check_path(in->target_path, "target_path", r) ||
        read_cap(&v, cap, r))
        return;
    if (!in->staging_target_path || !*in->staging_target_path) {
        csi_reply_error(r, GRPC_STATUS_FAILED_PRECONDITION,
                        "staging_target_path is required: kairos-csi stages every volume");
        return;
    }
    if (check_path(in->staging_target_path, "staging_target_path", r) ||
        mount_flags(cap, &flags, NULL, 0, r))
        return;
    ro = in->readonly || csi_cap_read_only(cap) || (flags & MS_RDONLY);
    if (ro)
        flags |= MS_RDONLY;
    if (!csi_begin(c, in->target_path, r))
        return;
    if (publish_source(c, &v, in->volume_id, in->staging_target_path, cap, src, sizeof(src), r) ||
        published_already(src, in->target_path, ro, &done, r))
        goto out;
    if (!done) {
        rc = csi_cap_is_block(cap) ? make_file(in->target_path) : csi_mkdir_p(in->target_path);
        if (rc == 0)
            rc = bind_mount(src, in->target_path, flags);
        if (rc < 0) {
            csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot bind %s onto %s: %s", src,
                            in->target_path, strerror(-rc));
            goto out;
        }
    }
    csi_reply_ok(r, &out.base);
out:
    csi_end(c, in->target_path);
}

/* ---- NodeUnpublishVolume ---- */

static void unpublish(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodeUnpublishVolumeRequest *in =
        (const Csi__V1__NodeUnpublishVolumeRequest *)msg;
    Csi__V1__NodeUnpublishVolumeResponse out = CSI__V1__NODE_UNPUBLISH_VOLUME_RESPONSE__INIT;
    struct csi_volid v;
    struct stat st;
    int rc;

    if (read_volid(in->volume_id, &v, r) || check_path(in->target_path, "target_path", r))
        return;
    if (!csi_begin(c, in->target_path, r))
        return;
    rc = csi_unmount_all(in->target_path);
    if (rc < 0) {
        csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot unmount %s: %s", in->target_path,
                        strerror(-rc));
        goto out;
    }
    /* Remove what publish made: the directory (or the raw block file). */
    if (lstat(in->target_path, &st) == 0) {
        rc = S_ISDIR(st.st_mode) ? rmdir(in->target_path) : unlink(in->target_path);
        if (rc < 0) {
            csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot remove %s: %s", in->target_path,
                            strerror(errno));
            goto out;
        }
    }
    csi_reply_ok(r, &out.base);
out:
    csi_end(c, in->target_path);
}

/* ---- NodeGetVolumeStats ---- */

static void stats(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodeGetVolumeStatsRequest *in = (const Csi__V1__NodeGetVolumeStatsRequest *)msg;
    Csi__V1__NodeGetVolumeStatsResponse out = CSI__V1__NODE_GET_VOLUME_STATS_RESPONSE__INIT;
    Csi__V1__VolumeUsage bytes = CSI__V1__VOLUME_USAGE__INIT, inodes = CSI__V1__VOLUME_USAGE__INIT;
    Csi__V1__VolumeUsage *usage[] = {&bytes, &inodes};
    char dev[CSI_DEV_MAX];
    struct csi_volid v;
    struct statvfs fs;
    struct stat st;
    uint64_t size;

    if (read_volid(in->volume_id, &v, r) || check_path(in->volume_path, "volume_path", r))
        return;
    if (stat(in->volume_path, &st) < 0) {
        csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "%s: %s", in->volume_path, strerror(errno));
        return;
    }
    bytes.unit = CSI__V1__VOLUME_USAGE__UNIT__BYTES;
    inodes.unit = CSI__V1__VOLUME_USAGE__UNIT__INODES;
    if (S_ISBLK(st.st_mode)) {
        /* A raw block volume: its size is all there is to say. */
        if (dev_path(c, major(st.st_rdev), minor(st.st_rdev), dev) < 0 ||
            csi_blockdev_size(dev, &size) < 0) {
            csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot size %s", in->volume_path);
            return;
        }
        bytes.total = (int64_t)size;
        out.n_usage = 1;
    } else {
        if (!csi_is_mounted(in->volume_path)) {
            csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "volume %s is not mounted at %s",
                            in->volume_id, in->volume_path);
            return;
        }
        if (statvfs(in->volume_path, &fs) < 0) {
            csi_reply_error(r, GRPC_STATUS_INTERNAL, "statvfs %s: %s", in->volume_path,
                            strerror(errno));
            return;
        }
        bytes.total = (int64_t)(fs.f_blocks * fs.f_frsize);
        bytes.available = (int64_t)(fs.f_bavail * fs.f_frsize);
        bytes.used = (int64_t)((fs.f_blocks - fs.f_bfree) * fs.f_frsize);
        inodes.total = (int64_t)fs.f_files;
        inodes.available = (int64_t)fs.f_favail;
        inodes.used = (int64_t)(fs.f_files - fs.f_ffree);
        out.n_usage = 2;
    }
    out.usage = usage;
    csi_reply_ok(r, &out.base);
}

/* ---- NodeExpandVolume ---- */

/* Let the loop device see its file's new size; krbd and rbd-nbd follow by themselves. */
static int refresh(const struct csi *c, const char *dev, uint64_t want, uint64_t *size)
{
    char path[256], back[PATH_MAX];
    struct stat st;
    int rc = 0;

    for (int i = 0; i < GROW_TRIES; i++) {
        if (c->map == CSI_MAP_KAIROSFS && strncmp(dev, "/dev/loop", 9) == 0) {
            /* Ask kairosfs for the size again, then tell the loop device. */
            snprintf(path, sizeof(path), "%s/block/%s/loop/backing_file", c->sysfs, dev + 5);
            FILE *f = fopen(path, "r");
            if (f && fgets(back, sizeof(back), f)) {
                back[strcspn(back, "\n")] = '\0';
                stat(back, &st);
            }
            if (f)
                fclose(f);
            rc = csi_loop_refresh(dev);
        }
        if (rc == 0)
            rc = csi_blockdev_size(dev, size);
        if (rc < 0 || *size >= want)
            return rc;
        usleep(GROW_PAUSE);
    }
    return 0;
}

static void expand(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    const Csi__V1__NodeExpandVolumeRequest *in = (const Csi__V1__NodeExpandVolumeRequest *)msg;
    Csi__V1__NodeExpandVolumeResponse out = CSI__V1__NODE_EXPAND_VOLUME_RESPONSE__INIT;
    char dev[CSI_DEV_MAX];
    struct csi_volid v;
    struct statvfs sv;
    struct stat st;
    uint64_t want = 0, size = 0;
    int rc;

    if (read_volid(in->volume_id, &v, r) || check_path(in->volume_path, "volume_path", r))
        return;
    if (in->capacity_range && in->capacity_range->required_bytes > 0)
        want = (uint64_t)in->capacity_range->required_bytes;
    if (stat(in->volume_path, &st) < 0) {
        csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "%s: %s", in->volume_path, strerror(errno));
        return;
    }
    if (v.kind == KAIROS_SHARE) {
        /* A share's quota grows in CephFS at once: nothing to do here. */
        if (statvfs(in->volume_path, &sv) == 0)
            out.capacity_bytes = (int64_t)(sv.f_blocks * sv.f_frsize);
        csi_reply_ok(r, &out.base);
        return;
    }
    if (!csi_begin(c, in->volume_id, r))
        return;
    rc = device_of(c, in->volume_path, dev);
    if (rc < 0) {
        csi_reply_error(r, GRPC_STATUS_NOT_FOUND, "volume %s is not at %s: %s", in->volume_id,
                        in->volume_path, strerror(-rc));
        goto out;
    }
    rc = refresh(c, dev, want, &size);
    if (rc < 0) {
        csi_reply_error(r, GRPC_STATUS_INTERNAL, "cannot resize %s: %s", dev, strerror(-rc));
        goto out;
    }
    if (size < want) {
        csi_reply_error(r, GRPC_STATUS_OUT_OF_RANGE,
                        "%s has %llu bytes, less than %llu: expand the volume first", dev,
                        (unsigned long long)size, (unsigned long long)want);
        goto out;
    }
    if (!S_ISBLK(st.st_mode) && grow_mounted(dev, in->volume_path, r) != GRPC_STATUS_OK)
        goto out;
    out.capacity_bytes = (int64_t)size;
    csi_reply_ok(r, &out.base);
out:
    csi_end(c, in->volume_id);
}

/* ---- info ---- */

static void get_info(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    const struct csi *c = ctx;
    Csi__V1__NodeGetInfoResponse out = CSI__V1__NODE_GET_INFO_RESPONSE__INIT;

    (void)msg;
    out.node_id = (char *)c->node_id;
    csi_reply_ok(r, &out.base);
}

static void get_capabilities(void *ctx, const ProtobufCMessage *msg, struct csi_reply *r)
{
    static const Csi__V1__NodeServiceCapability__RPC__Type types[] = {
        CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__STAGE_UNSTAGE_VOLUME,
        CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__GET_VOLUME_STATS,
        CSI__V1__NODE_SERVICE_CAPABILITY__RPC__TYPE__EXPAND_VOLUME,
    };
    enum { N = sizeof(types) / sizeof(types[0]) };
    Csi__V1__NodeGetCapabilitiesResponse out = CSI__V1__NODE_GET_CAPABILITIES_RESPONSE__INIT;
    Csi__V1__NodeServiceCapability cap[N], *caps[N];
    Csi__V1__NodeServiceCapability__RPC rpc[N];

    (void)ctx;
    (void)msg;
    for (size_t i = 0; i < N; i++) {
        csi__v1__node_service_capability__init(&cap[i]);
        csi__v1__node_service_capability__rpc__init(&rpc[i]);
        rpc[i].type = types[i];
        cap[i].type_case = CSI__V1__NODE_SERVICE_CAPABILITY__TYPE_RPC;
        cap[i].rpc = &rpc[i];
        caps[i] = &cap[i];
    }
    out.n_capabilities = N;
    out.capabilities = caps;
    csi_reply_ok(r, &out.base);
}

static const struct csi_method methods[] = {
    {"/csi.v1.Node/NodeStageVolume", &csi__v1__node_stage_volume_request__descriptor, stage},
    {"/csi.v1.Node/NodeUnstageVolume", &csi__v1__node_unstage_volume_request__descriptor, unstage},
    {"/csi.v1.Node/NodePublishVolume", &csi__v1__node_publish_volume_request__descriptor, publish},
    {"/csi.v1.Node/NodeUnpublishVolume", &csi__v1__node_unpublish_volume_request__descriptor,
     unpublish},
    {"/csi.v1.Node/NodeGetVolumeStats", &csi__v1__node_get_volume_stats_request__descriptor, stats},
    {"/csi.v1.Node/NodeExpandVolume", &csi__v1__node_expand_volume_request__descriptor, expand},
    {"/csi.v1.Node/NodeGetCapabilities", &csi__v1__node_get_capabilities_request__descriptor,
     get_capabilities},
    {"/csi.v1.Node/NodeGetInfo", &csi__v1__node_get_info_request__descriptor, get_info},
};

const struct csi_methods csi_node_methods = {methods, sizeof(methods) / sizeof(methods[0])};
