/*
 * guard.c - deadlines for requests that go to Ceph, and a breaker per
 * Ceph client (see guard.h).
 */
#include "guard.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* How often the watchdog looks: a deadline is met to within this. */
#define WATCH_INTERVAL_MS 250
/* A prober asks the cluster this often while a client is down. */
#define PROBE_INTERVAL_MS 1000
/*
 * Once the session exits, the process has this many deadlines (and at
 * least EXIT_GRACE_MIN_MS) to finish; past that its workers are stuck in
 * a lost cluster and it unmounts and leaves without them.
 */
#define EXIT_GRACE_DEADLINES 3
#define EXIT_GRACE_MIN_MS    30000

uint64_t kfs_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void abs_time(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

struct prober {
    struct kfs_guard *g;
    struct kfs_health *h;
};

static void *prober_main(void *arg)
{
    struct prober *p = arg;
    struct kfs_guard *g = p->g;
    struct kfs_health *h = p->h;
    struct timespec ts;
    bool stop;

    free(p);
    for (;;) {
        pthread_mutex_lock(&g->lock);
        abs_time(&ts, PROBE_INTERVAL_MS);
        if (!g->stop)
            pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        stop = g->stop;
        pthread_mutex_unlock(&g->lock);
        if (stop)
            break;
        if (h->probe(h->probe_arg) == 0) {
            atomic_store(&h->down, false);
            kfs_log(LOG_WARNING, "%s answers again", h->name);
            break;
        }
    }
    pthread_mutex_lock(&g->lock);
    h->probing = false;
    g->probers--;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Mark @h down and start its prober; called with the lock held. */
static void mark_down(struct kfs_guard *g, struct kfs_health *h)
{
    struct prober *p;
    pthread_attr_t attr;
    pthread_t t;

    if (!atomic_exchange(&h->down, true))
        kfs_log(LOG_ERR,
                "%s does not answer within %llu ms: failing its requests with "
                "ETIMEDOUT until it does",
                h->name, (unsigned long long)g->timeout_ms);
    if (h->probing || !h->probe || g->stop)
        return;
    p = malloc(sizeof(*p));
    if (!p)
        return; /* tried again at the next deadline that passes */
    *p = (struct prober){.g = g, .h = h};
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, prober_main, p) == 0) {
        h->probing = true;
        g->probers++;
    } else {
        free(p);
    }
    pthread_attr_destroy(&attr);
}

static void check_exit(struct kfs_guard *g, uint64_t now)
{
    uint64_t grace = g->timeout_ms * EXIT_GRACE_DEADLINES;

    if (!g->se || !fuse_session_exited(g->se))
        return;
    if (!g->exit_seen_ms) {
        g->exit_seen_ms = now;
        return;
    }
    if (grace < EXIT_GRACE_MIN_MS)
        grace = EXIT_GRACE_MIN_MS;
    if (now - g->exit_seen_ms < grace)
        return;
    kfs_log(LOG_ERR, "requests are stuck in an unreachable cluster; unmounting and leaving "
                     "without them (data not yet synced may be lost)");
    fuse_session_unmount(g->se);
    _exit(1);
}

static void *watchdog_main(void *arg)
{
    struct kfs_guard *g = arg;
    struct timespec ts;
    uint64_t now;

    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        abs_time(&ts, WATCH_INTERVAL_MS);
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        now = kfs_now_ms();
        for (struct kfs_call *c = g->calls.next; c != &g->calls; c = c->next) {
            if (c->answered || now < c->deadline_ms)
                continue;
            c->answered = true;
            fuse_reply_err(c->req, ETIMEDOUT);
            mark_down(g, c->health);
        }
        if (g->timeout_ms)
            check_exit(g, now);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int kfs_guard_start(struct kfs_guard *g, uint64_t timeout_ms, struct fuse_session *se)
{
    pthread_condattr_t ca;
    int rc;

    g->timeout_ms = timeout_ms;
    g->se = se;
    g->calls.next = g->calls.prev = &g->calls;
    g->probers = 0;
    g->stop = false;
    g->exit_seen_ms = 0;
    pthread_mutex_init(&g->lock, NULL);
    /* Waits are measured on the monotonic clock: a clock step changes no deadline. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    g->running = false;
    if (!timeout_ms)
        return 0;
    rc = pthread_create(&g->watchdog, NULL, watchdog_main, g);
    g->running = rc == 0;
    return -rc;
}

bool kfs_guard_stop(struct kfs_guard *g)
{
    struct timespec ts;
    bool clean;

    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->wake);
    abs_time(&ts, g->timeout_ms);
    while (g->probers && pthread_cond_timedwait(&g->wake, &g->lock, &ts) == 0)
        ;
    clean = g->probers == 0;
    pthread_mutex_unlock(&g->lock);
    if (g->running)
        pthread_join(g->watchdog, NULL);
    g->running = false;
    return clean;
}

int kfs_gate_enter(struct kfs_gate *g)
{
    int rc;

    /* Counted first, then checked: a cutter that sees no user sees no later one either. */
    atomic_fetch_add(&g->users, 1);
    rc = atomic_load(&g->cut);
    if (rc < 0)
        atomic_fetch_sub(&g->users, 1);
    return rc;
}

void kfs_gate_leave(struct kfs_gate *g)
{
    atomic_fetch_sub(&g->users, 1);
}

void kfs_gate_cut(struct kfs_gate *g, int rc)
{
    int open = 0;

    atomic_compare_exchange_strong(&g->cut, &open, rc);
}

bool kfs_gate_idle(struct kfs_gate *g)
{
    return atomic_load(&g->cut) < 0 && atomic_load(&g->users) == 0;
}

bool kfs_call_begin(struct kfs_guard *g, struct kfs_call *c, fuse_req_t req,
                    struct kfs_health *health, unsigned weight)
{
    return kfs_call_begin_on(g, c, req, health, NULL, weight);
}

bool kfs_call_begin_on(struct kfs_guard *g, struct kfs_call *c, fuse_req_t req,
                       struct kfs_health *health, struct kfs_gate *gate, unsigned weight)
{
    int rc = gate ? kfs_gate_enter(gate) : 0;

    c->req = req;
    c->health = health;
    c->gate = rc == 0 ? gate : NULL;
    c->answered = false;
    if (rc < 0) {
        fuse_reply_err(req, -rc);
        return false;
    }
    if (!g->timeout_ms) {
        c->next = c->prev = c;
        return true;
    }
    if (atomic_load(&health->down)) {
        if (c->gate)
            kfs_gate_leave(c->gate);
        fuse_reply_err(req, ETIMEDOUT);
        return false;
    }
    c->deadline_ms = kfs_now_ms() + g->timeout_ms * weight;
    pthread_mutex_lock(&g->lock);
    c->next = &g->calls;
    c->prev = g->calls.prev;
    g->calls.prev->next = c;
    g->calls.prev = c;
    pthread_mutex_unlock(&g->lock);
    return true;
}

bool kfs_call_end(struct kfs_guard *g, struct kfs_call *c, int rc)
{
    bool mine;

    if (c->gate)
        kfs_gate_leave(c->gate);
    if (rc == -ESHUTDOWN && g->blocklisted)
        g->blocklisted(g->blocklisted_arg);
    if (!g->timeout_ms)
        return true;
    pthread_mutex_lock(&g->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    mine = !c->answered;
    c->answered = true;
    /*
     * Ceph gave up by itself (rados_osd_op_timeout, before the deadline):
     * the cluster is as lost as if the deadline had passed.
     */
    if (rc == -ETIMEDOUT)
        mark_down(g, c->health);
    pthread_mutex_unlock(&g->lock);
    return mine;
}
