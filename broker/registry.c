/*
 * registry.c - caller-named JSON records in one omap object (see
 * kairos/registry.h). Keys are "<space>/<id>".
 */
#include <kairos/kairos.h>
#include <kairos/registry.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kairos_int.h"
#include "store.h"

#define REGISTRY_OID "kairos.registry"
#define SPACE_MAX    32

int kairos_registry_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > KAIROS_REGISTRY_ID_MAX)
        return 0;
    for (const char *c = id; *c; c++) {
        if (*c < 0x21 || *c > 0x7e || *c == '/')
            return 0;
    }
    return 1;
}

static int make_key(char *key, size_t len, const char *space, const char *id,
                    struct kairos_error *err)
{
    if (!kairos_name_valid(space) || strlen(space) > SPACE_MAX)
        return kairos_error_set(err, -EINVAL, "bad registry space");
    if (!kairos_registry_id_valid(id))
        return kairos_error_set(err, -EINVAL,
                                "bad id: 1 to %d printable characters, no '/' or spaces",
                                KAIROS_REGISTRY_ID_MAX);
    snprintf(key, len, "%s/%s", space, id);
    return 0;
}

struct put {
    const char *key, *json;
    unsigned flags;
};

static int put_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    struct put *p = arg;

    if ((p->flags & KAIROS_REGISTRY_CREATE) && kairos_kvs_get(kvs, p->key))
        return -EEXIST;
    kairos_txn_set(txn, p->key, p->json);
    return 0;
}

int kairos_registry_put(struct kairos *k, const char *space, const char *id, const char *json,
                        unsigned flags, struct kairos_error *err)
{
    char key[SPACE_MAX + KAIROS_REGISTRY_ID_MAX + 2];
    const char *keys[] = {key};
    struct put p = {key, json, flags};
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    int rc;

    if (!json_is_object(j)) {
        json_decref(j);
        return kairos_error_set(err, -EINVAL, "a registry record is a JSON object");
    }
    json_decref(j);
    rc = make_key(key, sizeof(key), space, id, err);
    if (rc < 0)
        return rc;
    rc = kairos_store_update(k->meta, REGISTRY_OID, keys, 1, true, put_step, &p);
    if (rc == -EEXIST)
        return kairos_error_set(err, rc, "%s %s exists", space, id);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot store %s %s: %s", space, id, strerror(-rc));
    return 0;
}

int kairos_registry_get(struct kairos *k, const char *space, const char *id, char **json,
                        struct kairos_error *err)
{
    char key[SPACE_MAX + KAIROS_REGISTRY_ID_MAX + 2];
    const char *keys[] = {key};
    struct kairos_kvs kvs;
    const char *v;
    uint64_t gen;
    int rc;

    *json = NULL;
    rc = make_key(key, sizeof(key), space, id, err);
    if (rc < 0)
        return rc;
    rc = kairos_store_read(k->meta, REGISTRY_OID, keys, 1, &gen, &kvs);
    if (rc == -ENOENT)
        return kairos_error_set(err, rc, "no %s %s", space, id);
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot read %s %s: %s", space, id, strerror(-rc));
    v = kairos_kvs_get(&kvs, key);
    if (!v)
        rc = kairos_error_set(err, -ENOENT, "no %s %s", space, id);
    else if (!(*json = strdup(v)))
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    kairos_kvs_free(&kvs);
    return rc;
}

int kairos_registry_delete(struct kairos *k, const char *space, const char *id,
                           struct kairos_error *err)
{
    char key[SPACE_MAX + KAIROS_REGISTRY_ID_MAX + 2];
    int rc = make_key(key, sizeof(key), space, id, err);

    if (rc < 0)
        return rc;
    rc = kairos_store_rm_key(k->meta, REGISTRY_OID, key);
    if (rc == -ENOENT)
        rc = 0;
    if (rc < 0)
        return kairos_error_set(err, rc, "cannot forget %s %s: %s", space, id, strerror(-rc));
    return 0;
}
