/*
 * volid.h - CSI volume and snapshot ids, and Kairos names for CSI names.
 *
 * A volume id is opaque to the CO but says, to kairos-csi, where the
 * allocation is:
 *
 *     <version><kind><project>.<name>          volume id
 *     <version><kind><project>.<name>.<snap>   snapshot id
 *
 * version is '1' (the layout of this header), kind 'v' (an RBD volume) or
 * 's' (a CephFS share). Kairos names never hold a '.', so the parts are
 * never ambiguous; a node can stage a volume from its id alone, and ids
 * survive a restart of the plugin and of kairosd.
 *
 * CSI caps every string at 128 bytes, so a CSI name (any 1-128 bytes)
 * is used as the Kairos name only when it is a valid Kairos name that
 * leaves room in the ids; otherwise the Kairos name is a hash of it
 * ("csi-" and 32 hex digits for a volume, "s" and at least 16 for a
 * snapshot). Either way the same CSI name always gives the same Kairos
 * name: CreateVolume and CreateSnapshot are idempotent by name.
 *
 * Pure functions; thread-safe.
 */
#ifndef KAIROS_CSI_VOLID_H
#define KAIROS_CSI_VOLID_H

#include <stdbool.h>
#include <stddef.h>

#include <kairos/name.h>
#include <kairos/types.h>

/* CSI's limit on a string, NUL not included. */
#define CSI_ID_MAX 128

struct csi_volid {
    enum kairos_kind kind; /* KAIROS_VOLUME or KAIROS_SHARE */
    char project[KAIROS_NAME_MAX + 1];
    char name[KAIROS_NAME_MAX + 1];
    char snap[KAIROS_NAME_MAX + 1]; /* "" in a volume id */
};

/* csi_volid_parse() - a volume id into @out. Return: 0, or -EINVAL (not one of ours). */
int csi_volid_parse(const char *id, struct csi_volid *out);

/* csi_snapid_parse() - a snapshot id into @out. Return: 0, or -EINVAL. */
int csi_snapid_parse(const char *id, struct csi_volid *out);

/* csi_volid_format() - @v's volume id into @out (CSI_ID_MAX + 1 bytes). */
void csi_volid_format(const struct csi_volid *v, char *out);

/* csi_snapid_format() - @v's snapshot id (with @v->snap) into @out (CSI_ID_MAX + 1 bytes). */
void csi_snapid_format(const struct csi_volid *v, char *out);

/**
 * csi_volume_name() - the Kairos name of the volume or share CSI calls @csi_name.
 * @project: the project it goes into (a valid name).
 * @out:     KAIROS_NAME_MAX + 1 bytes.
 */
void csi_volume_name(const char *csi_name, const char *project, char *out);

/**
 * csi_snapshot_name() - the Kairos name of the snapshot CSI calls @csi_name,
 * of volume @volume in @project.
 * Return: 0, or -ENAMETOOLONG when no snapshot of that volume fits an id
 * (only for names that CSI's own limits already rule out).
 */
int csi_snapshot_name(const char *csi_name, const char *project, const char *volume, char *out);

/**
 * csi_hash_name() - @prefix and 32 hex digits of a hash of @project and @s,
 * into @out (KAIROS_NAME_MAX + 1 bytes): a valid name derived from any string.
 */
void csi_hash_name(const char *prefix, const char *project, const char *s, char *out);

/* csi_kind_path() - "volumes" or "shares": the kind's collection in kairosd's REST API. */
const char *csi_kind_path(enum kairos_kind kind);

#endif
