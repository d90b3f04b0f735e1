/*
 * mounts.c - mountinfo parsing and the mount helpers (see mounts.h).
 *
 * A mountinfo line is
 *   ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
 * with spaces, tabs, newlines and backslashes in paths written as \ooo.
 */
#include "mounts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long csi_unmount_all() waits for the table to catch up. */
#define UNMOUNT_TRIES 50
#define UNMOUNT_PAUSE 20000 /* us */

/* Undo mountinfo's octal escapes in place. */
static void unescape(char *s)
{
    char *out = s;

    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static int parse_line(char *line, struct csi_mount *m)
{
    char *f[6], *save = NULL, *tok;
    int n = 0;

    memset(m, 0, sizeof(*m));
    for (tok = strtok_r(line, " ", &save); tok && n < 6; tok = strtok_r(NULL, " ", &save))
        f[n++] = tok;
    if (n < 6 || sscanf(f[2], "%u:%u", &m->major, &m->minor) != 2)
        return -EINVAL;
    /* Optional fields until the lone "-". */
    while (tok && strcmp(tok, "-") != 0)
        tok = strtok_r(NULL, " ", &save);
    if (!tok)
        return -EINVAL;
    char *fstype = strtok_r(NULL, " ", &save), *source = strtok_r(NULL, " ", &save);
    if (!fstype || !source)
        return -EINVAL;
    unescape(f[3]);
    unescape(f[4]);
    unescape(source);
    m->root = strdup(f[3]);
    m->point = strdup(f[4]);
    m->options = strdup(f[5]);
    m->fstype = strdup(fstype);
    m->source = strdup(source);
    return m->root && m->point && m->options && m->fstype && m->source ? 0 : -ENOMEM;
}

static void mount_clear(struct csi_mount *m)
{
    free(m->root);
    free(m->point);
    free(m->options);
    free(m->fstype);
    free(m->source);
}

void csi_mounts_free(struct csi_mounts *t)
{
    for (size_t i = 0; i < t->n; i++)
        mount_clear(&t->m[i]);
    free(t->m);
    t->m = NULL;
    t->n = 0;
}

int csi_mounts_parse(const char *text, struct csi_mounts *out)
{
    char *copy = strdup(text), *line, *save = NULL;
    size_t cap = 0;
    int rc = 0;

    out->m = NULL;
    out->n = 0;
    if (!copy)
        return -ENOMEM;
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (out->n == cap) {
            size_t c = cap ? 2 * cap : 64;
            struct csi_mount *grown = realloc(out->m, c * sizeof(*grown));
            if (!grown) {
                rc = -ENOMEM;
                break;
            }
            out->m = grown;
            cap = c;
        }
        rc = parse_line(line, &out->m[out->n]);
        if (rc < 0) {
            mount_clear(&out->m[out->n]);
            break;
        }
        out->n++;
    }
    free(copy);
    if (rc < 0)
        csi_mounts_free(out);
    return rc;
}

int csi_mounts_read(const char *path, struct csi_mounts *out)
{
    FILE *f = fopen(path ? path : "/proc/self/mountinfo", "r");
    char *text = NULL;
    size_t len = 0, cap = 0;
    char buf[8192];
    size_t n;
    int rc;

    out->m = NULL;
    out->n = 0;
    if (!f)
        return -errno;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (len + n + 1 > cap) {
            size_t c = cap ? 2 * cap : 65536;
            while (c < len + n + 1)
                c *= 2;
            char *grown = realloc(text, c);
            if (!grown) {
                free(text);
                fclose(f);
                return -ENOMEM;
            }
            text = grown;
            cap = c;
        }
        memcpy(text + len, buf, n);
        len += n;
    }
    fclose(f);
    if (!text)
        return 0;
    text[len] = '\0';
    rc = csi_mounts_parse(text, out);
    free(text);
    return rc;
}

const struct csi_mount *csi_mounts_at(const struct csi_mounts *t, const char *point)
{
    /* Later lines are mounted later: the last match is on top. */
    for (size_t i = t->n; i-- > 0;)
        if (strcmp(t->m[i].point, point) == 0)
            return &t->m[i];
    return NULL;
}

size_t csi_mounts_count_dev(const struct csi_mounts *t, unsigned major, unsigned minor)
{
    size_t n = 0;

    for (size_t i = 0; i < t->n; i++)
        n += t->m[i].major == major && t->m[i].minor == minor;
    return n;
}

bool csi_mount_has_option(const struct csi_mount *m, const char *opt)
{
    size_t len = strlen(opt);

    for (const char *p = m->options; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, opt, len) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool csi_is_mounted(const char *point)
{
    struct csi_mounts t;
    bool yes;

    if (csi_mounts_read(NULL, &t) < 0)
        return false;
    yes = csi_mounts_at(&t, point) != NULL;
    csi_mounts_free(&t);
    return yes;
}

int csi_unmount_all(const char *point)
{
    for (int i = 0; i < UNMOUNT_TRIES; i++) {
        if (!csi_is_mounted(point))
            return 0;
        if (umount2(point, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
            return -errno;
        usleep(UNMOUNT_PAUSE);
    }
    return csi_is_mounted(point) ? -EBUSY : 0;
}

int csi_mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}
