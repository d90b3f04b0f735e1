/*
 * volid.c - the layout of volume and snapshot ids (see volid.h).
 */
#include "volid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#define VERSION '1'
/* "<version><kind>" and the '.' after the project. */
#define VOLID_FIXED 3
/* A snapshot name needs at least this many characters: "s" and 16 hex digits (64 bits). */
#define SNAP_HASH_MIN 17
/* A hashed volume name: "csi-" and 32 hex digits (128 bits). */
#define VOLUME_HASH_HEX 32

static char kind_char(enum kairos_kind k)
{
    return k == KAIROS_SHARE ? 's' : 'v';
}

const char *csi_kind_path(enum kairos_kind kind)
{
    return kind == KAIROS_SHARE ? "shares" : "volumes";
}

/* Copy the part of @s up to @end into @out if it is a valid name. */
static int take_name(const char *s, const char *end, char *out)
{
    size_t n = (size_t)(end - s);

    if (n == 0 || n > KAIROS_NAME_MAX)
        return -EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return kairos_name_valid(out) ? 0 : -EINVAL;
}

/* "<v><k>project.name[.snap]" with exactly @parts names after the kind. */
static int parse(const char *id, struct csi_volid *out, int parts)
{
    const char *p, *dot;
    char *dst[3] = {out->project, out->name, out->snap};

    memset(out, 0, sizeof(*out));
    if (!id || strlen(id) > CSI_ID_MAX || id[0] != VERSION || (id[1] != 'v' && id[1] != 's'))
        return -EINVAL;
    out->kind = id[1] == 's' ? KAIROS_SHARE : KAIROS_VOLUME;
    p = id + 2;
    for (int i = 0; i < parts; i++) {
        dot = strchr(p, '.');
        if (i == parts - 1) {
            if (dot)
                return -EINVAL;
            dot = p + strlen(p);
        } else if (!dot) {
            return -EINVAL;
        }
        if (take_name(p, dot, dst[i]) < 0)
            return -EINVAL;
        p = dot + 1;
    }
    return 0;
}

int csi_volid_parse(const char *id, struct csi_volid *out)
{
    return parse(id, out, 2);
}

int csi_snapid_parse(const char *id, struct csi_volid *out)
{
    return parse(id, out, 3);
}

void csi_volid_format(const struct csi_volid *v, char *out)
{
    snprintf(out, CSI_ID_MAX + 1, "%c%c%s.%s", VERSION, kind_char(v->kind), v->project, v->name);
}

void csi_snapid_format(const struct csi_volid *v, char *out)
{
    snprintf(out, CSI_ID_MAX + 1, "%c%c%s.%s.%s", VERSION, kind_char(v->kind), v->project, v->name,
             v->snap);
}

/* @prefix and the first @hex hex digits of SHA-256(@project "/" @s) into @out. */
static void hashed(const char *prefix, const char *project, const char *s, size_t hex, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    /* A CSI name is at most a few hundred bytes, a project 63: room to spare. */
    char in[KAIROS_NAME_MAX + 2 + 1024];
    size_t n = (size_t)snprintf(in, sizeof(in), "%s/%s", project, s);

    SHA256((const unsigned char *)in, n < sizeof(in) ? n : sizeof(in) - 1, md);
    n = (size_t)snprintf(out, KAIROS_NAME_MAX + 1, "%s", prefix);
    for (size_t i = 0; i < hex && n < KAIROS_NAME_MAX && i / 2 < sizeof(md); i++)
        out[n++] = "0123456789abcdef"[i % 2 ? md[i / 2] & 15 : md[i / 2] >> 4];
    out[n] = '\0';
}

void csi_hash_name(const char *prefix, const char *project, const char *s, char *out)
{
    hashed(prefix, project, s, VOLUME_HASH_HEX, out);
}

/* The longest volume name that leaves room for a snapshot id of it. */
static size_t volume_room(const char *project)
{
    size_t room = CSI_ID_MAX - VOLID_FIXED - 1 - SNAP_HASH_MIN - strlen(project);

    return room < KAIROS_NAME_MAX ? room : KAIROS_NAME_MAX;
}

void csi_volume_name(const char *csi_name, const char *project, char *out)
{
    if (kairos_name_valid(csi_name) && strlen(csi_name) <= volume_room(project))
        snprintf(out, KAIROS_NAME_MAX + 1, "%s", csi_name);
    else
        hashed("csi-", project, csi_name, VOLUME_HASH_HEX, out);
}

int csi_snapshot_name(const char *csi_name, const char *project, const char *volume, char *out)
{
    long room = (long)CSI_ID_MAX - VOLID_FIXED - 1 - (long)strlen(project) - (long)strlen(volume);

    if (room > KAIROS_NAME_MAX)
        room = KAIROS_NAME_MAX;
    if (room < SNAP_HASH_MIN)
        return -ENAMETOOLONG;
    if (kairos_name_valid(csi_name) && strlen(csi_name) <= (size_t)room)
        snprintf(out, KAIROS_NAME_MAX + 1, "%s", csi_name);
    else
        hashed("s", project, csi_name, (size_t)(room > 33 ? 32 : room - 1), out);
    return 0;
}
