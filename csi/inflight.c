/*
 * inflight.c - a small set of busy keys (see inflight.h). Calls in
 * flight number in the tens: a list is enough.
 */
#include "inflight.h"

#include <stdlib.h>
#include <string.h>

#include "csi.h"

void csi_inflight_init(struct csi_inflight *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
}

void csi_inflight_destroy(struct csi_inflight *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->keys[i]);
    free(f->keys);
    pthread_mutex_destroy(&f->lock);
}

bool csi_inflight_begin(struct csi_inflight *f, const char *key)
{
    bool ok = false;
    char *copy;

    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0)
            goto out;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        char **grown = realloc(f->keys, cap * sizeof(*grown));
        if (!grown)
            goto out;
        f->keys = grown;
        f->cap = cap;
    }
    copy = strdup(key);
    if (!copy)
        goto out;
    f->keys[f->n++] = copy;
    ok = true;
out:
    pthread_mutex_unlock(&f->lock);
    return ok;
}

void csi_inflight_end(struct csi_inflight *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->keys[i], key) == 0) {
            free(f->keys[i]);
            f->keys[i] = f->keys[--f->n];
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

/* The set is the one thing handlers change in a shared struct csi. */
bool csi_begin(const struct csi *c, const char *key, struct csi_reply *r)
{
    if (csi_inflight_begin((struct csi_inflight *)&c->inflight, key))
        return true;
    csi_reply_error(r, GRPC_STATUS_ABORTED, "a call for %s is in progress", key);
    return false;
}

void csi_end(const struct csi *c, const char *key)
{
    csi_inflight_end((struct csi_inflight *)&c->inflight, key);
}
