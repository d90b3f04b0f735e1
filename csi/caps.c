/*
 * caps.c - capabilities and sizes (see caps.h).
 */
#include "caps.h"

#include <errno.h>
#include <string.h>

#define MIB    (1ULL << 20)
#define SECTOR 512ULL

typedef Csi__V1__VolumeCapability__AccessMode__Mode mode_t_;

static mode_t_ mode_of(const Csi__V1__VolumeCapability *cap)
{
    return cap->access_mode ? cap->access_mode->mode
                            : CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN;
}

bool csi_cap_is_block(const Csi__V1__VolumeCapability *cap)
{
    return cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_BLOCK;
}

const Csi__V1__VolumeCapability__MountVolume *csi_cap_mount(const Csi__V1__VolumeCapability *cap)
{
    return cap->access_type_case == CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT ? cap->mount
                                                                                  : NULL;
}

bool csi_cap_read_only(const Csi__V1__VolumeCapability *cap)
{
    mode_t_ m = mode_of(cap);

    return m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_READER_ONLY ||
           m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_READER_ONLY;
}

bool csi_cap_multi_writer(const Csi__V1__VolumeCapability *cap)
{
    mode_t_ m = mode_of(cap);

    return m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_SINGLE_WRITER ||
           m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__MULTI_NODE_MULTI_WRITER;
}

const char *csi_cap_fs_type(const Csi__V1__VolumeCapability *cap)
{
    const Csi__V1__VolumeCapability__MountVolume *m = csi_cap_mount(cap);
    const char *fs = m && m->fs_type ? m->fs_type : "";

    return *fs ? fs : CSI_FS_DEFAULT;
}

const char *csi_cap_check(enum kairos_kind kind, const Csi__V1__VolumeCapability *cap)
{
    const Csi__V1__VolumeCapability__MountVolume *mount = csi_cap_mount(cap);
    mode_t_ m = mode_of(cap);

    if (!mount && !csi_cap_is_block(cap))
        return "a volume capability needs an access type (block or mount)";
    if (m == CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__UNKNOWN ||
        m > CSI__V1__VOLUME_CAPABILITY__ACCESS_MODE__MODE__SINGLE_NODE_MULTI_WRITER)
        return "a volume capability needs a known access mode";
    if (mount && mount->volume_mount_group && *mount->volume_mount_group)
        return "volume_mount_group is not supported";
    if (kind == KAIROS_SHARE) {
        if (!mount)
            return "a share is a file system: it has no raw block access";
        if (mount->fs_type && *mount->fs_type)
            return "a share is mounted as it is: give no fsType";
        return NULL;
    }
    if (!mount)
        return NULL;
    if (strcmp(csi_cap_fs_type(cap), "ext4") != 0 && strcmp(csi_cap_fs_type(cap), "xfs") != 0)
        return "a volume's file system is ext4 or xfs";
    if (csi_cap_multi_writer(cap))
        return "one node at a time writes a volume's file system: use a share for ReadWriteMany";
    return NULL;
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

int csi_size_pick(const Csi__V1__CapacityRange *range, uint64_t *out, const char **why)
{
    static const uint64_t units[] = {MIB, 4096, SECTOR};
    int64_t req = range ? range->required_bytes : 0, lim = range ? range->limit_bytes : 0;
    uint64_t hi = lim ? (uint64_t)lim : UINT64_MAX, want;

    if (req < 0 || lim < 0) {
        *why = "capacity_range has a negative bound";
        return -ERANGE;
    }
    if (lim && req > lim) {
        *why = "capacity_range's limit_bytes is below its required_bytes";
        return -ERANGE;
    }
    want = req ? (uint64_t)req : CSI_SIZE_DEFAULT < hi ? CSI_SIZE_DEFAULT : hi;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        uint64_t s = round_up(want, units[i]);
        if (s <= hi && s >= want) {
            *out = s;
            return 0;
        }
        /* Without a required size, any whole unit up to the limit will do. */
        if (!req && want / units[i]) {
            *out = want / units[i] * units[i];
            return 0;
        }
    }
    *why = "capacity_range holds no whole number of 512-byte sectors";
    return -ERANGE;
}

bool csi_size_fits(const Csi__V1__CapacityRange *range, uint64_t bytes)
{
    int64_t req = range ? range->required_bytes : 0, lim = range ? range->limit_bytes : 0;

    return bytes >= (uint64_t)(req > 0 ? req : 0) && (lim <= 0 || bytes <= (uint64_t)lim);
}
