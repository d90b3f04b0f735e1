/*
 * mounts.h - the mount table as /proc/self/mountinfo gives it, and the
 * mount calls the node service makes. The node plugin keeps no state of
 * its own: after a restart it finds what it had done here.
 *
 * Thread-safe (each call reads the table afresh).
 */
#ifndef KAIROS_CSI_MOUNTS_H
#define KAIROS_CSI_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

struct csi_mount {
    unsigned major, minor; /* the device (st_dev of what is mounted) */
    char *root;            /* the mounted directory within its file system ("/" or a bind's) */
    char *point;           /* where it is mounted */
    char *options;         /* per-mount options ("rw,nosuid,...") */
    char *fstype;          /* "ext4", "fuse", ... */
    char *source;          /* "/dev/loop3", "kairos:climate", ... */
};

struct csi_mounts {
    struct csi_mount *m;
    size_t n;
};

/**
 * csi_mounts_read() - parse a mountinfo file (@path: NULL for /proc/self/mountinfo).
 * Return: 0, or -errno (cannot read), -EINVAL (a line that is no mountinfo line), -ENOMEM.
 */
int csi_mounts_read(const char *path, struct csi_mounts *out);

/* csi_mounts_parse() - csi_mounts_read() of text in memory. */
int csi_mounts_parse(const char *text, struct csi_mounts *out);

void csi_mounts_free(struct csi_mounts *t);

/* csi_mounts_at() - the mount on top at @point, or NULL when nothing is mounted there. */
const struct csi_mount *csi_mounts_at(const struct csi_mounts *t, const char *point);

/* csi_mounts_count_dev() - how many mounts show device @major:@minor (binds included). */
size_t csi_mounts_count_dev(const struct csi_mounts *t, unsigned major, unsigned minor);

/* csi_mount_has_option() - is @opt ("ro") one of @m's per-mount options? */
bool csi_mount_has_option(const struct csi_mount *m, const char *opt);

/* csi_is_mounted() - is anything mounted at @point? (false when the table cannot be read) */
bool csi_is_mounted(const char *point);

/**
 * csi_unmount_all() - unmount everything stacked at @point, then wait
 * until the table no longer shows it.
 * Return: 0 (also when nothing was mounted), or -errno from umount2().
 */
int csi_unmount_all(const char *point);

/**
 * csi_mkdir_p() - make directory @path and its parents (0750 for new ones).
 * Return: 0 or -errno.
 */
int csi_mkdir_p(const char *path);

#endif
