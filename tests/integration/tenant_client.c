/*
 * tenant_client.c - a tenant's client for test_tenant: it connects with
 * nothing but a binding's credentials and writes until a write fails.
 *
 *   tenant_client rbd CREDS      write 4 KiB blocks to the binding's image
 *                                (holding its exclusive lock)
 *   tenant_client cephfs CREDS   write and fsync a file in the binding's share
 *
 * CREDS is a file holding the binding's credentials (JSON). It prints
 * "writing" once the first write is on the OSDs, then "failed <errno>"
 * and exits 3 when a write fails; 2 when it cannot start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cephfs/libcephfs.h>
#include <jansson.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#define BLOCK     4096
#define BLOCKS    256 /* written round and round: 1 MiB */
#define PAUSE_US  20000
#define TIMEOUT_S "10"

static const char *field(json_t *c, const char *name)
{
    const char *v = json_string_value(json_object_get(c, name));

    if (!v) {
        fprintf(stderr, "tenant_client: no %s in the credentials\n", name);
        exit(2);
    }
    return v;
}

/*
 * A write failed: say so and exit 3 at once. A fenced client's handles
 * cannot be shut down cleanly (that waits on the cluster that fenced it),
 * so none is released, and _exit() keeps exit-time leak checks of a
 * sanitizer build from turning the answer into another exit status.
 */
static int fail(const char *what, int rc)
{
    printf("failed %d %s\n", -rc, what);
    fflush(stdout);
    _exit(3);
}

static int rbd_writer(json_t *c)
{
    char buf[BLOCK];
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    int rc;

    memset(buf, 'w', sizeof(buf));
    rc = rados_create2(&r, "ceph", field(c, "entity"), 0);
    if (rc == 0)
        rc = rados_conf_set(r, "mon_host", field(c, "mon_host"));
    if (rc == 0)
        rc = rados_conf_set(r, "key", field(c, "key"));
    rados_conf_set(r, "client_mount_timeout", TIMEOUT_S);
    rados_conf_set(r, "rados_osd_op_timeout", TIMEOUT_S);
    if (rc == 0)
        rc = rados_connect(r);
    if (rc == 0)
        rc = rados_ioctx_create(r, field(c, "pool"), &io);
    if (rc < 0)
        return fprintf(stderr, "tenant_client: connect: %s\n", strerror(-rc)), 2;
    rados_ioctx_set_namespace(io, field(c, "namespace"));
    rc = rbd_open(io, field(c, "image"), &img, NULL);
    if (rc < 0)
        return fprintf(stderr, "tenant_client: open: %s\n", strerror(-rc)), 2;
    for (unsigned long i = 0;; i++) {
        ssize_t n = rbd_write(img, (i % BLOCKS) * BLOCK, BLOCK, buf);
        if (n < 0)
            return fail("write", (int)n);
        rc = rbd_flush(img);
        if (rc < 0)
            return fail("flush", rc);
        if (i == 0) {
            printf("writing\n");
            fflush(stdout);
        }
        usleep(PAUSE_US);
    }
}

static int cephfs_writer(json_t *c)
{
    struct ceph_mount_info *m;
    char buf[BLOCK];
    int rc, fd;

    memset(buf, 'w', sizeof(buf));
    rc = ceph_create(&m, field(c, "user"));
    if (rc == 0)
        rc = ceph_conf_set(m, "mon_host", field(c, "mon_host"));
    if (rc == 0)
        rc = ceph_conf_set(m, "key", field(c, "key"));
    ceph_conf_set(m, "client_mount_timeout", TIMEOUT_S);
    if (rc == 0)
        rc = ceph_select_filesystem(m, field(c, "fs_name"));
    if (rc == 0)
        rc = ceph_mount(m, field(c, "path"));
    if (rc < 0)
        return fprintf(stderr, "tenant_client: mount: %s\n", strerror(-rc)), 2;
    fd = ceph_open(m, "/tenant-client", O_CREAT | O_WRONLY, 0644);
    if (fd < 0)
        return fprintf(stderr, "tenant_client: open: %s\n", strerror(-fd)), 2;
    for (unsigned long i = 0;; i++) {
        rc = ceph_write(m, fd, buf, sizeof(buf), (int64_t)((i % BLOCKS) * BLOCK));
        if (rc < 0)
            return fail("write", rc);
        rc = ceph_fsync(m, fd, 0);
        if (rc < 0)
            return fail("fsync", rc);
        if (i == 0) {
            printf("writing\n");
            fflush(stdout);
        }
        usleep(PAUSE_US);
    }
}

int main(int argc, char **argv)
{
    json_error_t e;
    json_t *c;

    if (argc != 3 || (strcmp(argv[1], "rbd") != 0 && strcmp(argv[1], "cephfs") != 0)) {
        fprintf(stderr, "usage: tenant_client rbd|cephfs CREDS\n");
        return 2;
    }
    c = json_load_file(argv[2], 0, &e);
    if (!c) {
        fprintf(stderr, "tenant_client: %s: %s\n", argv[2], e.text);
        return 2;
    }
    return strcmp(argv[1], "rbd") == 0 ? rbd_writer(c) : cephfs_writer(c);
}
