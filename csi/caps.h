/*
 * caps.h - which CSI volume capabilities each kind of Kairos allocation
 * serves, and how big a volume a capacity range asks for. The controller
 * and the node decide alike through these.
 *
 *   share   a CephFS directory: a file system only (no raw block), any
 *           access mode, many nodes writing at once; fs_type "" (it is
 *           mounted with kairosfs, not formatted)
 *   volume  an RBD image: raw block in any access mode, or a file system
 *           (ext4, xfs; "" is ext4) that one node writes; several nodes
 *           may mount it read-only
 *
 * Pure functions; thread-safe.
 */
#ifndef KAIROS_CSI_CAPS_H
#define KAIROS_CSI_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include <kairos/types.h>

#include "csi.pb-c.h"

/* A volume's file system when the capability names none. */
#define CSI_FS_DEFAULT "ext4"
/* A volume or share's size when CreateVolume gives no capacity range. */
#define CSI_SIZE_DEFAULT (1ULL << 30)

/**
 * csi_cap_check() - can an allocation of @kind serve @cap?
 * Return: NULL if so, else why not (a static string).
 */
const char *csi_cap_check(enum kairos_kind kind, const Csi__V1__VolumeCapability *cap);

/* csi_cap_is_block() - is @cap raw block access? (block and mount share a oneof: ask the case) */
bool csi_cap_is_block(const Csi__V1__VolumeCapability *cap);

/* csi_cap_mount() - @cap's mount access, or NULL when it is none. */
const Csi__V1__VolumeCapability__MountVolume *csi_cap_mount(const Csi__V1__VolumeCapability *cap);

/* csi_cap_read_only() - does @cap's access mode only read? */
bool csi_cap_read_only(const Csi__V1__VolumeCapability *cap);

/* csi_cap_multi_writer() - may several nodes write at once (RWX)? */
bool csi_cap_multi_writer(const Csi__V1__VolumeCapability *cap);

/* csi_cap_fs_type() - the file system a volume's mount capability wants ("ext4", "xfs"). */
const char *csi_cap_fs_type(const Csi__V1__VolumeCapability *cap);

/**
 * csi_size_pick() - the size to make for @range (NULL: no range).
 * Whole MiB where the range allows, else whole 4 KiB, else 512-byte
 * sectors; CSI_SIZE_DEFAULT (or the limit, if less) when no size is asked.
 * Return: 0, or -ERANGE (negative bounds, limit below required, or no
 * multiple of 512 bytes in between) with @why set.
 */
int csi_size_pick(const Csi__V1__CapacityRange *range, uint64_t *out, const char **why);

/* csi_size_fits() - does an existing size of @bytes satisfy @range? */
bool csi_size_fits(const Csi__V1__CapacityRange *range, uint64_t bytes);

#endif
