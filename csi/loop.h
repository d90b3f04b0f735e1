/*
 * loop.h - loop devices over files: how a node maps a volume where the
 * kernel has neither rbd nor nbd, with the volume's kairosfs file behind.
 *
 * A loop device is found again by its backing file
 * (/sys/block/loopN/loop/backing_file), so a restarted plugin knows
 * which device is which volume's.
 *
 * Thread-safe: the kernel hands out free devices (LOOP_CTL_GET_FREE).
 */
#ifndef KAIROS_CSI_LOOP_H
#define KAIROS_CSI_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for "/dev/loopNNNN". */
#define CSI_DEV_MAX 64

/**
 * csi_loop_find() - the loop device whose backing file is @file.
 * @sysfs: "/sys" (tests give a tree of their own).
 * @dev:   "/dev/loopN" on success (CSI_DEV_MAX bytes).
 * Return: 0, -ENOENT (none), or -errno.
 */
int csi_loop_find(const char *sysfs, const char *file, char *dev);

/**
 * csi_loop_attach() - a new loop device over @file, read-only if @ro.
 * Direct I/O is asked for (no second page cache over the file's); a
 * file system without it keeps buffered I/O.
 * Return: 0 with @dev set, or -errno.
 */
int csi_loop_attach(const char *file, bool ro, char *dev);

/* csi_loop_detach() - detach @dev from its file. Return: 0 or -errno (-ENXIO: not attached). */
int csi_loop_detach(const char *dev);

/* csi_loop_refresh() - take up the backing file's new size (after a resize). Return: 0 or -errno.
 */
int csi_loop_refresh(const char *dev);

/* csi_blockdev_size() - the size of block device @dev in bytes. Return: 0 or -errno. */
int csi_blockdev_size(const char *dev, uint64_t *bytes);

#endif
