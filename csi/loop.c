/*
 * loop.c - loop devices through their ioctls (see loop.h).
 */
#include "loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A device another attach took between GET_FREE and ours: ask again. */
#define ATTACH_TRIES 16

int csi_loop_find(const char *sysfs, const char *file, char *dev)
{
    char path[512], back[4096];
    struct dirent *e;
    DIR *d;
    int rc = -ENOENT;

    snprintf(path, sizeof(path), "%s/block", sysfs);
    d = opendir(path);
    if (!d)
        return -errno;
    while (rc == -ENOENT && (e = readdir(d))) {
        FILE *f;
        if (strncmp(e->d_name, "loop", 4) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/block/%s/loop/backing_file", sysfs, e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue; /* not attached */
        if (fgets(back, sizeof(back), f)) {
            back[strcspn(back, "\n")] = '\0';
            if (strcmp(back, file) == 0) {
                snprintf(dev, CSI_DEV_MAX, "/dev/%s", e->d_name);
                rc = 0;
            }
        }
        fclose(f);
    }
    closedir(d);
    return rc;
}

int csi_loop_attach(const char *file, bool ro, char *dev)
{
    struct loop_config cfg;
    int ctl, fd, lfd = -1, n, rc = 0;

    fd = open(file, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) {
        rc = -errno;
        goto out;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.fd = (unsigned)fd;
    cfg.info.lo_flags = (ro ? LO_FLAGS_READ_ONLY : 0) | LO_FLAGS_DIRECT_IO;
    snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file);
    for (int i = 0; i < ATTACH_TRIES; i++) {
        n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0) {
            rc = -errno;
            break;
        }
        snprintf(dev, CSI_DEV_MAX, "/dev/loop%d", n);
        lfd = open(dev, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (lfd < 0) {
            rc = -errno;
            break;
        }
        rc = ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
        /* FUSE without direct I/O: buffered I/O it is. */
        if (rc == -EINVAL) {
            cfg.info.lo_flags &= ~(unsigned)LO_FLAGS_DIRECT_IO;
            rc = ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0 ? -errno : 0;
        }
        close(lfd);
        if (rc != -EBUSY)
            break;
    }
out:
    if (ctl >= 0)
        close(ctl);
    close(fd);
    return rc;
}

static int loop_ioctl(const char *dev, unsigned long req)
{
    int fd = open(dev, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return -errno;
    rc = ioctl(fd, req, 0) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int csi_loop_detach(const char *dev)
{
    return loop_ioctl(dev, LOOP_CLR_FD);
}

int csi_loop_refresh(const char *dev)
{
    return loop_ioctl(dev, LOOP_SET_CAPACITY);
}

int csi_blockdev_size(const char *dev, uint64_t *bytes)
{
    int fd = open(dev, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return -errno;
    rc = ioctl(fd, BLKGETSIZE64, bytes) < 0 ? -errno : 0;
    close(fd);
    return rc;
}
