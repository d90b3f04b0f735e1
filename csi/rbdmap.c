/*
 * rbdmap.c - krbd through sysfs and rbd-nbd through its command line
 * (see rbdmap.h). Untested on a real kernel.
 */
#include "rbdmap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"

/* The longest add string: monitors, a key, a namespace, pool and image names. */
#define ADD_MAX 4096
/* rbd-nbd connects to the cluster before it answers: give it the time. */
#define NBD_TIMEOUT_S 120

int csi_rbd_creds_from_json(const json_t *j, struct csi_rbd_creds *out)
{
    out->entity = json_string_value(json_object_get(j, "entity"));
    out->key = json_string_value(json_object_get(j, "key"));
    out->mon_host = json_string_value(json_object_get(j, "mon_host"));
    out->pool = json_string_value(json_object_get(j, "pool"));
    out->ns = json_string_value(json_object_get(j, "namespace"));
    out->image = json_string_value(json_object_get(j, "image"));
    if (!out->entity || strncmp(out->entity, "client.", 7) != 0 || !out->key || !out->mon_host ||
        !out->pool || !out->image)
        return -EINVAL;
    if (!out->ns)
        out->ns = "";
    return 0;
}

static int append(char *out, size_t len, size_t *n, const char *s, size_t slen)
{
    if (*n + slen + 1 > len)
        return -ENAMETOOLONG;
    memcpy(out + *n, s, slen);
    *n += slen;
    out[*n] = '\0';
    return 0;
}

/*
 * mon_host is "[v2:A:3300,v1:A:6789] [v2:B...]", "A:6789,B:6789" or "A B":
 * addresses split at ' ', ',', '[' and ']'.
 */
int csi_krbd_mons(const char *mon_host, char *out, size_t len, bool *v2)
{
    size_t n, pass_n = 0;
    int rc = 0;

    *v2 = false;
    /* Pass 0: v1 addresses; pass 1: bare ones; pass 2: v2 ones. */
    for (int pass = 0; pass < 3 && !pass_n; pass++) {
        const char *p = mon_host;
        n = 0;
        out[0] = '\0';
        while (*p && rc == 0) {
            size_t l = strcspn(p, " ,[]");
            bool is_v1 = l > 3 && strncmp(p, "v1:", 3) == 0,
                 is_v2 = l > 3 && strncmp(p, "v2:", 3) == 0;
            if (l &&
                ((pass == 0 && is_v1) || (pass == 1 && !is_v1 && !is_v2) || (pass == 2 && is_v2))) {
                const char *a = pass == 1 ? p : p + 3;
                size_t al = pass == 1 ? l : l - 3;
                if (n)
                    rc = append(out, len, &n, ",", 1);
                if (rc == 0)
                    rc = append(out, len, &n, a, al);
            }
            p += l;
            p += strspn(p, " ,[]");
        }
        pass_n = n;
        *v2 = pass == 2 && n;
    }
    if (rc < 0)
        return rc;
    return pass_n ? 0 : -EINVAL;
}

int csi_krbd_add_string(const struct csi_rbd_creds *c, bool ro, char *out, size_t len)
{
    char mons[1024];
    bool v2;
    int rc = csi_krbd_mons(c->mon_host, mons, sizeof(mons), &v2), n;

    if (rc < 0)
        return rc;
    /* Spaces separate the fields: a name with one would shift them. */
    if (strpbrk(c->key, " ,") || strpbrk(c->entity, " ,=") || strpbrk(c->pool, " ") ||
        strpbrk(c->image, " ") || strpbrk(c->ns, " ,="))
        return -EINVAL;
    n = snprintf(out, len, "%s name=%s,secret=%s%s%s%s%s %s %s -", mons, c->entity + 7, c->key,
                 c->ns[0] ? ",_pool_ns=" : "", c->ns, ro ? ",ro" : "",
                 v2 ? ",ms_mode=prefer-crc" : "", c->pool, c->image);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The first line of @path into @buf. */
static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");

    if (!f)
        return -errno;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int csi_krbd_find(const char *sysfs, const char *pool, const char *ns, const char *image, char *dev)
{
    char path[512], v[256];
    struct dirent *e;
    DIR *d;
    int rc = -ENOENT;

    snprintf(path, sizeof(path), "%s/bus/rbd/devices", sysfs);
    d = opendir(path);
    if (!d)
        return errno == ENOENT ? -ENOENT : -errno;
    while (rc == -ENOENT && (e = readdir(d))) {
        const char *want[] = {pool, ns, image}, *file[] = {"pool", "pool_ns", "name"};
        bool same = e->d_name[0] != '.';
        for (int i = pool ? 0 : 1; same && i < 3; i++) {
            snprintf(path, sizeof(path), "%s/bus/rbd/devices/%s/%s", sysfs, e->d_name, file[i]);
            /* Kernels before namespaces have no pool_ns: the default namespace. */
            if (read_line(path, v, sizeof(v)) < 0)
                v[0] = '\0';
            same = strcmp(v, want[i]) == 0;
        }
        if (same) {
            snprintf(dev, CSI_DEV_MAX, "/dev/rbd%s", e->d_name);
            rc = 0;
        }
    }
    closedir(d);
    return rc;
}

/* Write @text to the first of @names under <sysfs>/bus/rbd that exists. */
static int bus_write(const char *sysfs, const char *const names[2], const char *text)
{
    char path[512];
    int fd = -1, rc;

    for (int i = 0; i < 2 && fd < 0; i++) {
        snprintf(path, sizeof(path), "%s/bus/rbd/%s", sysfs, names[i]);
        fd = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return -errno;
    rc = write(fd, text, strlen(text)) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int csi_krbd_map(const char *sysfs, const struct csi_rbd_creds *c, bool ro, char *dev)
{
    static const char *const add[2] = {"add_single_major", "add"};
    char text[ADD_MAX];
    int rc = csi_krbd_add_string(c, ro, text, sizeof(text));

    if (rc == 0)
        rc = bus_write(sysfs, add, text);
    explicit_bzero(text, sizeof(text));
    if (rc == 0)
        rc = csi_krbd_find(sysfs, c->pool, c->ns, c->image, dev);
    return rc;
}

int csi_krbd_unmap(const char *sysfs, const char *dev)
{
    static const char *const rm[2] = {"remove_single_major", "remove"};

    if (strncmp(dev, "/dev/rbd", 8) != 0 || !dev[8] ||
        strspn(dev + 8, "0123456789") != strlen(dev + 8))
        return -EINVAL;
    return bus_write(sysfs, rm, dev + 8);
}

void csi_nbd_argv(const struct csi_rbd_creds *c, const char *keyfile, bool ro, const char **argv,
                  char *spec)
{
    size_t n = 0;

    if (c->ns[0])
        snprintf(spec, CSI_SPEC_MAX, "%s/%s/%s", c->pool, c->ns, c->image);
    else
        snprintf(spec, CSI_SPEC_MAX, "%s/%s", c->pool, c->image);
    argv[n++] = "rbd-nbd";
    argv[n++] = "map";
    if (ro)
        argv[n++] = "--read-only";
    argv[n++] = "--id";
    argv[n++] = c->entity + 7;
    argv[n++] = "--keyfile";
    argv[n++] = keyfile;
    argv[n++] = "-m";
    argv[n++] = c->mon_host;
    argv[n++] = spec;
    argv[n] = NULL;
}

int csi_nbd_map(const char *tmpdir, const struct csi_rbd_creds *c, bool ro, char *dev)
{
    char keyfile[512], spec[CSI_SPEC_MAX], out[1024];
    const char *argv[12];
    int fd, rc;

    snprintf(keyfile, sizeof(keyfile), "%s/key.XXXXXX", tmpdir);
    fd = mkstemp(keyfile);
    if (fd < 0)
        return -errno;
    rc = write(fd, c->key, strlen(c->key)) < 0 ? -errno : 0;
    close(fd);
    if (rc == 0) {
        csi_nbd_argv(c, keyfile, ro, argv, spec);
        rc = csi_run(argv, NULL, NBD_TIMEOUT_S, out, sizeof(out));
        if (rc > 0)
            rc = -EIO;
    }
    unlink(keyfile);
    if (rc == 0) {
        out[strcspn(out, "\n")] = '\0';
        if (strncmp(out, "/dev/nbd", 8) != 0)
            return -EIO;
        snprintf(dev, CSI_DEV_MAX, "%s", out);
    }
    return rc;
}

int csi_nbd_find_in(const char *text, const char *pool, const char *ns, const char *image,
                    char *dev)
{
    json_t *all = json_loads(text, 0, NULL), *m;
    size_t i;
    int rc = -ENOENT;

    if (!json_is_array(all)) {
        json_decref(all);
        return -EINVAL;
    }
    json_array_foreach(all, i, m)
    {
        const char *p = json_string_value(json_object_get(m, "pool")),
                   *n = json_string_value(json_object_get(m, "namespace")),
                   *img = json_string_value(json_object_get(m, "image")),
                   *d = json_string_value(json_object_get(m, "device"));
        if (p && img && d && (!pool || strcmp(p, pool) == 0) && strcmp(img, image) == 0 &&
            strcmp(n ? n : "", ns) == 0) {
            snprintf(dev, CSI_DEV_MAX, "%s", d);
            rc = 0;
            break;
        }
    }
    json_decref(all);
    return rc;
}

int csi_nbd_find(const char *pool, const char *ns, const char *image, char *dev)
{
    const char *argv[] = {"rbd-nbd", "list-mapped", "--format", "json", NULL};
    char out[16384];
    int rc = csi_run(argv, NULL, NBD_TIMEOUT_S, out, sizeof(out));

    if (rc != 0)
        return rc < 0 ? rc : -EIO;
    return csi_nbd_find_in(out, pool, ns, image, dev);
}

int csi_nbd_unmap(const char *dev)
{
    const char *argv[] = {"rbd-nbd", "unmap", dev, NULL};
    int rc = csi_run(argv, NULL, NBD_TIMEOUT_S, NULL, 0);

    return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}
