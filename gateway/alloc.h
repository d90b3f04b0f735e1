/*
 * alloc.h - one entry point per allocation verb, whatever the kind, for the
 * OSBAPI and REST handlers: they dispatch to the kind's libkairos module.
 */
#ifndef KAIROSD_ALLOC_H
#define KAIROSD_ALLOC_H

#include <jansson.h>
#include <kairos/kairos.h>

#include "gateway.h"

/* What a create may carry beyond its size. */
struct alloc_spec {
    enum kairos_kind kind;
    const char *project, *name;
    uint64_t bytes;
    uint64_t max_files;   /* shares; 0: none */
    uint64_t max_objects; /* buckets; 0: none */
    /* Volumes: a clone of src_project/src_volume@src_snap when src_snap is set. */
    const char *src_project, *src_volume, *src_snap;
    const char *src_share; /* a share's clone: of src_share@src_snap */
    /* A share's top directory: owner and mode, when has_access (else root's, 1777). */
    struct kairos_share_access access;
    bool has_access;
};

int alloc_create(struct gateway *g, const struct alloc_spec *s, struct kairos_error *err);
int alloc_resize(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
                 uint64_t bytes, bool shrink, struct kairos_error *err);
int alloc_delete(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
                 bool force, struct kairos_error *err);
/* alloc_delete() with KAIROS_ALLOC_DELETE_* @flags. */
int alloc_delete_flags(struct gateway *g, const char *project, enum kairos_kind kind,
                       const char *name, unsigned flags, struct kairos_error *err);
/*
 * A JSON description of one allocation: the ledger's record, and with
 * @measured the backend's view too (use, snapshots; it opens the image,
 * which costs as much as making it).
 */
int alloc_info(struct gateway *g, const char *project, enum kairos_kind kind, const char *name,
               bool measured, json_t **out, struct kairos_error *err);
/* Is this a kind the API allocates (volume, share, bucket)? */
bool alloc_kind_ok(enum kairos_kind kind);

/* Does a create of @s take long enough to need an asynchronous operation? */
bool alloc_create_is_slow(const struct alloc_spec *s);
/* Does deleting an allocation of @kind? */
bool alloc_delete_is_slow(enum kairos_kind kind);

#endif
