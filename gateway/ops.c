/*
 * ops.c - a small worker pool with a FIFO queue, and the sweeper of
 * expired records (see ops.h).
 */
#include "ops.h"
#include "reqlog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include <jansson.h>

#include "http.h"

#define OPS_SPACE       "operation"
#define OPS_MAX_WORKERS 16
/* The sweeper runs every quarter of the retention, within these bounds. */
#define SWEEP_MIN_MS 1000ULL
#define SWEEP_MAX_MS (10 * 60 * 1000ULL)
#define SWEEP_SPACES 4

struct job {
    struct job *next;
    char id[OPS_ID_LEN + 1];
    char *description;
    char project[KAIROS_NAME_MAX + 1];
    char instance[KAIROS_REGISTRY_ID_MAX + 1];
    uint64_t started;
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
    const char *sweep[SWEEP_SPACES + 1];
    pthread_t sweeper;
    bool sweeping;
    pthread_cond_t sweep_wake;
};

uint64_t ops_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * @failure: the operation's error, or 0. A failed record carries the HTTP
 * status and the error name the same refusal gets when it is answered at
 * once (422 and QuotaExceeded over quota), so that a poller tells a quota
 * from a fault.
 */
static int record(struct gateway *g, const struct job *job, const char *state, const char *desc,
                  int failure, struct kairos_error *err)
{
    uint64_t now = ops_now_ms(), retention = gateway_retention_ms(g);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:I,s:s}", "state", state, "what", job->description, "description",
                  desc, "started", (json_int_t)job->started, "project", job->project);
    char *text;
    int rc;

    if (job->instance[0])
        json_object_set_new(j, "instance", json_string(job->instance));
    if (failure < 0) {
        json_object_set_new(j, "status", json_integer(http_status_of(failure)));
        json_object_set_new(j, "error", json_string(api_error_name(failure)));
    }
    /* Finished: kept for the retention. Running: past staleness too, should its kairosd die. */
    if (strcmp(state, "in progress") != 0) {
        json_object_set_new(j, "finished", json_integer((json_int_t)now));
        json_object_set_new(j, "expires", json_integer((json_int_t)(now + retention)));
    } else {
        json_object_set_new(j, "expires",
                            json_integer((json_int_t)(job->started + OPS_STALE_MS + retention)));
    }
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = kairos_registry_put(g->k, OPS_SPACE, job->id, text, 0, err);
    free(text);
    return rc;
}

static void run(struct ops *o, struct job *j)
{
    struct kairos_error err = {0};
    int rc = j->fn(o->g, j->arg, &err);

    /* A failure to record leaves "in progress"; pollers fall back to the ledger. */
    if (rc < 0)
        record(o->g, j, "failed", err.msg[0] ? err.msg : strerror(-rc), rc, NULL);
    else
        record(o->g, j, "succeeded", j->description, 0, NULL);
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

static uint64_t sweep_interval_ms(const struct gateway *g)
{
    uint64_t ms = gateway_retention_ms(g) / 4;

    return ms < SWEEP_MIN_MS ? SWEEP_MIN_MS : ms > SWEEP_MAX_MS ? SWEEP_MAX_MS : ms;
}

/* Forget finished operations and deletions past their retention, in every kairosd. */
static void *sweeper(void *arg)
{
    struct ops *o = arg;
    struct timespec until;

    pthread_mutex_lock(&o->lock);
    while (!o->stopping) {
        uint64_t at = ops_now_ms() + sweep_interval_ms(o->g);
        until.tv_sec = (time_t)(at / 1000);
        until.tv_nsec = (long)(at % 1000) * 1000000;
        pthread_cond_timedwait(&o->sweep_wake, &o->lock, &until);
        if (o->stopping)
            break;
        pthread_mutex_unlock(&o->lock);
        for (size_t i = 0; o->sweep[i]; i++) {
            struct kairos_error err = {0};
            uint64_t removed = 0;
            if (kairos_registry_sweep(o->g->k, o->sweep[i], ops_now_ms(), &removed, &err) < 0)
                reqlog_message("warning", NULL, "sweep of %s records: %s", o->sweep[i], err.msg);
        }
        pthread_mutex_lock(&o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

int ops_start(struct gateway *g, unsigned workers, const char *const *sweep_spaces,
              struct ops **out)
{
    struct ops *o = calloc(1, sizeof(*o));
    size_t n = 0;

    *out = NULL;
    if (!o)
        return -ENOMEM;
    o->g = g;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    /* Timed waits take wall-clock deadlines: the default clock of a condition. */
    pthread_cond_init(&o->sweep_wake, NULL);
    o->sweep[n++] = OPS_SPACE;
    for (; sweep_spaces && *sweep_spaces && n < SWEEP_SPACES; sweep_spaces++)
        o->sweep[n++] = *sweep_spaces;
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
    o->sweeping = pthread_create(&o->sweeper, NULL, sweeper, o) == 0;
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
    pthread_cond_broadcast(&o->sweep_wake);
    pthread_mutex_unlock(&o->lock);
    for (unsigned i = 0; i < o->nworkers; i++)
        pthread_join(o->workers[i], NULL);
    if (o->sweeping)
        pthread_join(o->sweeper, NULL);
    pthread_cond_destroy(&o->sweep_wake);
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

bool ops_id_valid(const char *id)
{
    return id && strlen(id) == OPS_ID_LEN && strspn(id, "0123456789abcdef") == OPS_ID_LEN;
}

int ops_submit(struct ops *o, const char *id, const char *description,
               const struct ops_owner *owner, ops_fn fn, void *arg, struct kairos_error *err)
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
    snprintf(j->project, sizeof(j->project), "%s", owner->project ? owner->project : "");
    snprintf(j->instance, sizeof(j->instance), "%s", owner->instance ? owner->instance : "");
    j->started = ops_now_ms();
    j->fn = fn;
    j->arg = arg;
    rc = record(o->g, j, "in progress", description, 0, err);
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
    if (!*out)
        return kairos_error_set(err, -EIO, "corrupt operation record");
    /* Past its retention: gone, whether or not the sweep has come by yet. */
    const json_t *fin = json_object_get(*out, "finished");
    if (json_is_integer(fin) &&
        (uint64_t)json_integer_value(fin) + gateway_retention_ms(g) <= ops_now_ms()) {
        json_decref(*out);
        *out = NULL;
        return kairos_error_set(err, -ENOENT, "no operation %s", id);
    }
    return 0;
}

uint64_t ops_started(const json_t *op)
{
    const json_t *v = json_object_get(op, "started");

    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

bool ops_running(const json_t *op)
{
    const char *state = json_string_value(json_object_get(op, "state"));
    uint64_t started = ops_started(op);

    return state && strcmp(state, "in progress") == 0 && started &&
           ops_now_ms() < started + OPS_STALE_MS;
}
