/*
 * ops.c - a small worker pool with a FIFO queue (see ops.h).
 */
#include "ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include <jansson.h>

#define OPS_SPACE       "operation"
#define OPS_MAX_WORKERS 16

struct job {
    struct job *next;
    char id[OPS_ID_LEN + 1];
    char *description;
    ops_fn fn;
    void *arg;
};

struct ops {
    struct gateway *g;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *head, *tail;
    bool stopping;
    pthread_t workers[OPS_MAX_WORKERS];
    unsigned nworkers;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int record(struct gateway *g, const char *id, const char *state, const char *desc,
                  uint64_t started, struct kairos_error *err)
{
    json_t *j = json_pack("{s:s,s:s,s:I}", "state", state, "description", desc, "started",
                          (json_int_t)started);
    char *text;
    int rc;

    if (strcmp(state, "in progress") != 0)
        json_object_set_new(j, "finished", json_integer((json_int_t)wall_ms()));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = kairos_registry_put(g->k, OPS_SPACE, id, text, 0, err);
    free(text);
    return rc;
}

static void run(struct ops *o, struct job *j)
{
    struct kairos_error err = {0};
    uint64_t started = wall_ms();
    int rc = j->fn(o->g, j->arg, &err);

    /* A failure to record leaves "in progress"; pollers fall back to the ledger. */
    if (rc < 0)
        record(o->g, j->id, "failed", err.msg[0] ? err.msg : strerror(-rc), started, NULL);
    else
        record(o->g, j->id, "succeeded", j->description, started, NULL);
    free(j->arg);
    free(j->description);
    free(j);
}

static void *worker(void *arg)
{
    struct ops *o = arg;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        struct job *j;
        while (!o->head && !o->stopping)
            pthread_cond_wait(&o->wake, &o->lock);
        j = o->head;
        if (!j)
            break;
        o->head = j->next;
        if (!o->head)
            o->tail = NULL;
        pthread_mutex_unlock(&o->lock);
        run(o, j);
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

int ops_start(struct gateway *g, unsigned workers, struct ops **out)
{
    struct ops *o = calloc(1, sizeof(*o));

    *out = NULL;
    if (!o)
        return -ENOMEM;
    o->g = g;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    if (workers > OPS_MAX_WORKERS)
        workers = OPS_MAX_WORKERS;
    for (; o->nworkers < workers; o->nworkers++) {
        if (pthread_create(&o->workers[o->nworkers], NULL, worker, o) != 0)
            break;
    }
    if (o->nworkers == 0) {
        ops_stop(o);
        return -EAGAIN;
    }
    *out = o;
    return 0;
}

void ops_stop(struct ops *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    for (unsigned i = 0; i < o->nworkers; i++)
        pthread_join(o->workers[i], NULL);
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

void ops_id_new(char *id)
{
    unsigned char raw[OPS_ID_LEN / 2];

    id[0] = '\0';
    /* No id from a weaker source: ops_submit() refuses the empty one. */
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return;
    for (size_t i = 0; i < sizeof(raw); i++)
        sprintf(id + 2 * i, "%02x", raw[i]);
}

int ops_submit(struct ops *o, const char *id, const char *description, ops_fn fn, void *arg,
               struct kairos_error *err)
{
    struct job *j;
    int rc;

    if (!id[0]) {
        free(arg);
        return kairos_error_set(err, -EIO, "no random operation id: the kernel gave none");
    }
    j = calloc(1, sizeof(*j));
    if (!j || !(j->description = strdup(description))) {
        free(j);
        free(arg);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->fn = fn;
    j->arg = arg;
    rc = record(o->g, j->id, "in progress", description, wall_ms(), err);
    pthread_mutex_lock(&o->lock);
    if (rc == 0 && o->stopping)
        rc = kairos_error_set(err, -ESHUTDOWN, "kairosd is shutting down");
    if (rc == 0) {
        if (o->tail)
            o->tail->next = j;
        else
            o->head = j;
        o->tail = j;
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&o->lock);
    if (rc < 0) {
        free(j->description);
        free(j->arg);
        free(j);
    }
    return rc;
}

int ops_get(struct gateway *g, const char *id, json_t **out, struct kairos_error *err)
{
    char *text = NULL;
    int rc = kairos_registry_get(g->k, OPS_SPACE, id, &text, err);

    *out = NULL;
    if (rc < 0)
        return rc;
    *out = json_loads(text, 0, NULL);
    free(text);
    return *out ? 0 : kairos_error_set(err, -EIO, "corrupt operation record");
}
