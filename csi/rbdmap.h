/*
 * rbdmap.h - mapping a volume's RBD image as a block device through the
 * kernel's rbd driver (krbd) or rbd-nbd, with the node's binding key.
 *
 * UNTESTED ON A REAL KERNEL: the development and CI machines have no rbd
 * or nbd module. The unit tests check what is written to sysfs and what
 * rbd-nbd is given, against a sysfs tree of their own.
 *
 * krbd:    "<mons> name=<id>,secret=<key>[,_pool_ns=<ns>][,ro] <pool> <image> -"
 *          written to <sysfs>/bus/rbd/add_single_major (or add); the device
 *          is found again from <sysfs>/bus/rbd/devices/<N>/{pool,pool_ns,name}
 *          and removed by writing <N> to remove_single_major (or remove).
 * rbd-nbd: rbd-nbd map [--read-only] --id <id> --keyfile <file> -m <mons>
 *          <pool>/<ns>/<image>, the key in a 0600 file removed once mapped;
 *          found again with rbd-nbd list-mapped --format json.
 *
 * The key goes to the kernel or rbd-nbd only: never on a command line, in
 * the environment or in a log. Thread-safe.
 */
#ifndef KAIROS_CSI_RBDMAP_H
#define KAIROS_CSI_RBDMAP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "loop.h"

/* A volume binding's credentials, as kairosd returns them (borrowed strings). */
struct csi_rbd_creds {
    const char *entity; /* "client.kairos.p.volume.v.b" */
    const char *key;
    const char *mon_host;
    const char *pool, *ns, *image;
};

/* csi_rbd_creds_from_json() - read @j's fields. Return: 0, or -EINVAL (one is missing). */
int csi_rbd_creds_from_json(const json_t *j, struct csi_rbd_creds *out);

/**
 * csi_krbd_mons() - @mon_host as the kernel client takes it: the v1
 * addresses ("ip:port,ip:port"), or bare ones as given. With v2 addresses
 * only, *@v2 is set (the kernel then needs ms_mode, Linux 5.11 and later).
 * Return: 0, or -EINVAL (no address), -ENAMETOOLONG.
 */
int csi_krbd_mons(const char *mon_host, char *out, size_t len, bool *v2);

/* csi_krbd_add_string() - what is written to add_single_major. Return: 0 or -EINVAL, -ENAMETOOLONG.
 */
int csi_krbd_add_string(const struct csi_rbd_creds *c, bool ro, char *out, size_t len);

/* csi_krbd_map() - map the image; @dev is "/dev/rbdN". Return: 0 or -errno. */
int csi_krbd_map(const char *sysfs, const struct csi_rbd_creds *c, bool ro, char *dev);

/* csi_krbd_find() - the device of @pool/@ns/@image (@pool NULL: any). Return: 0, -ENOENT, or
 * -errno. */
int csi_krbd_find(const char *sysfs, const char *pool, const char *ns, const char *image,
                  char *dev);

/* csi_krbd_unmap() - unmap "/dev/rbdN". Return: 0 or -errno. */
int csi_krbd_unmap(const char *sysfs, const char *dev);

/**
 * csi_nbd_argv() - rbd-nbd's command line to map @c (no secret in it).
 * @argv:  room for 12 pointers; they point into @c, @keyfile and @spec.
 * @spec:  room for "pool/ns/image" (CSI_SPEC_MAX bytes).
 */
#define CSI_SPEC_MAX 256
void csi_nbd_argv(const struct csi_rbd_creds *c, const char *keyfile, bool ro, const char **argv,
                  char *spec);

/* csi_nbd_map() - map with rbd-nbd (@tmpdir holds the key file for a moment). Return: 0 or -errno.
 */
int csi_nbd_map(const char *tmpdir, const struct csi_rbd_creds *c, bool ro, char *dev);

/**
 * csi_nbd_find_in() - the device of @pool/@ns/@image (@pool NULL: any) in rbd-nbd's
 * "list-mapped --format json" output @text.
 * Return: 0, -ENOENT, or -EINVAL (not that JSON).
 */
int csi_nbd_find_in(const char *text, const char *pool, const char *ns, const char *image,
                    char *dev);

/* csi_nbd_find() - csi_nbd_find_in() of what rbd-nbd lists now. */
int csi_nbd_find(const char *pool, const char *ns, const char *image, char *dev);

/* csi_nbd_unmap() - rbd-nbd unmap @dev. Return: 0 or -errno. */
int csi_nbd_unmap(const char *dev);

#endif
