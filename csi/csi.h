/*
 * csi.h - what every part of kairos-csi shares: the plugin's settings and
 * the calls in progress.
 *
 * One struct csi lives for the whole process; handlers get it as their
 * context on worker threads and only read it (the in-flight set has its
 * own lock).
 */
#ifndef KAIROS_CSI_H
#define KAIROS_CSI_H

#include <stdbool.h>
#include <stddef.h>

#include <kairos/version.h>

#include "inflight.h"
#include "server.h"

#define CSI_DRIVER_DEFAULT "csi.kairos.local"
/* The plugin reports Kairos's own version (GetPluginInfo, --version). */
#define CSI_VERSION KAIROS_VERSION_STRING

/* How a node maps a volume's image (see node.c). */
enum csi_map {
    CSI_MAP_KRBD,     /* the kernel's rbd driver, /sys/bus/rbd */
    CSI_MAP_NBD,      /* rbd-nbd */
    CSI_MAP_KAIROSFS, /* a kairosfs volume file on a loop device */
};

struct csi {
    const char *driver;    /* the CSI driver name, as in the CSIDriver object */
    const char *node_id;   /* this node's id (NodeGetInfo) */
    const char *url;       /* kairosd */
    const char *cacert;    /* CAs of kairosd's certificate; NULL: the system's */
    const char *project;   /* the project of the plugin's own token, if it is a project's */
    const char *state_dir; /* the node's own mounts (kairosfs under volumes) */
    const char *kairosfs;  /* the kairosfs program */
    const char *sysfs;     /* "/sys"; the unit tests point it elsewhere */
    enum csi_map map;
    bool controller, node; /* the services served */
    char *token;           /* the plugin's own kairosd token, or NULL */
    struct csi_inflight inflight;
};

/* The method tables of each service. */
extern const struct csi_methods csi_identity_methods;
extern const struct csi_methods csi_controller_methods;
extern const struct csi_methods csi_node_methods;

/**
 * csi_begin() - claim @key (a volume id, a target path) for this call.
 * Return: true; or false with ABORTED replied in @r, when another call
 * holds it ("operation pending", which CSI callers retry).
 */
bool csi_begin(const struct csi *c, const char *key, struct csi_reply *r);

/* csi_end() - release what csi_begin() claimed. */
void csi_end(const struct csi *c, const char *key);

/* A map<string,string> entry, as protobuf-c lays out every one of them. */
struct csi_kv {
    ProtobufCMessage base;
    char *key;
    char *value;
};

/* The value of @key in a map field (@n entries at @entries), or NULL. */
const char *csi_map_get(size_t n, void *entries, const char *key);
#define CSI_MAP_GET(msg, field, key) csi_map_get((msg)->n_##field, (msg)->field, key)

#endif
