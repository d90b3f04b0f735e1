/*
 * inflight.h - the volumes and snapshots a call is working on, so that a
 * second call for the same one answers ABORTED ("operation pending", as
 * CSI asks) instead of racing the first.
 *
 * Thread-safe.
 */
#ifndef KAIROS_CSI_INFLIGHT_H
#define KAIROS_CSI_INFLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct csi_inflight {
    pthread_mutex_t lock;
    char **keys;
    size_t n, cap;
};

void csi_inflight_init(struct csi_inflight *f);
void csi_inflight_destroy(struct csi_inflight *f);

/* csi_inflight_begin() - mark @key busy. Return: false when it already is (or no memory). */
bool csi_inflight_begin(struct csi_inflight *f, const char *key);

/* csi_inflight_end() - @key is free again. */
void csi_inflight_end(struct csi_inflight *f, const char *key);

#endif
