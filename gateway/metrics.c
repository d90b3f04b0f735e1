/*
 * metrics.c - counters kept in a small append-only table: a request finds
 * its series under a read lock and counts with atomic adds, so the
 * connection threads never queue on each other; only a series seen for the
 * first time takes the write lock. The gauges come from the capacity
 * report, which reads every project (and gives each one's quota and
 * allocation, as kairos_project_* gauges): a thread renders them every
 * METRICS_REFRESH_MS, and a scrape copies that text.
 */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 256
#define NBUCKETS   12

static const double bucket_le[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,   0.25,   0.5,   1,    2.5,   10};

struct series {
    char route[64];
    char method[8];
    unsigned code;
    atomic_uint_fast64_t count;
};

struct histogram {
    char route[64];
    atomic_uint_fast64_t buckets[NBUCKETS];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
};

struct metrics {
    pthread_rwlock_t table; /* guards the series and histograms' existence */
    struct series series[MAX_SERIES];
    size_t nseries;
    struct histogram hist[MAX_SERIES];
    size_t nhist;
    pthread_mutex_t lock; /* guards everything below */
    uint64_t provisions[KAIROS_KIND_COUNT], refusals[KAIROS_KIND_COUNT];
    uint64_t audit_failures; /* audit entries that could not be written */
    /* Drift, from the reconciler passes this process ran. */
    bool drift_seen;
    unsigned drift_last, drift_partial;
    uint64_t drift_total, drift_acted, drift_revoked, drift_scanned, drift_passes;
    /* Reconciler passes that failed, and errors met by passes that ran to their end. */
    uint64_t reconcile_failures, reconcile_errors;

    /* The gauges' text as last rendered, and the thread that renders it. */
    char *gauges;
    struct kairos *k;
    uint64_t interval_ms;
    pthread_t refresher;
    bool running, stopping;
    pthread_cond_t wake;
};

static void render_gauges(struct kairos *k, FILE *f);

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m) {
        pthread_rwlock_init(&m->table, NULL);
        pthread_mutex_init(&m->lock, NULL);
        pthread_cond_init(&m->wake, NULL);
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    if (m->running) {
        pthread_mutex_lock(&m->lock);
        m->stopping = true;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->refresher, NULL);
    }
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    pthread_rwlock_destroy(&m->table);
    free(m->gauges);
    free(m);
}

/* The gauges, read from the cluster now (outside the lock: it takes a while). */
static void refresh(struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        return;
    render_gauges(m->k, f);
    fclose(f);
    pthread_mutex_lock(&m->lock);
    free(m->gauges);
    m->gauges = text;
    pthread_mutex_unlock(&m->lock);
}

static void *refresher(void *arg)
{
    struct metrics *m = arg;
    struct timespec until;

    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        refresh(m);
        pthread_mutex_lock(&m->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(m->interval_ms / 1000);
        until.tv_nsec += (long)(m->interval_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int metrics_start(struct metrics *m, struct kairos *k, uint64_t interval_ms)
{
    m->k = k;
    m->interval_ms = interval_ms ? interval_ms : METRICS_REFRESH_MS;
    /* The first reading before the first scrape. */
    refresh(m);
    if (pthread_create(&m->refresher, NULL, refresher, m) != 0)
        return -EAGAIN;
    m->running = true;
    return 0;
}

/* The series and histogram of a request; with @add, made if missing. Table lock held. */
static bool find(struct metrics *m, const char *route, const char *method, unsigned code, bool add,
                 struct series **sp, struct histogram **hp)
{
    struct series *s = NULL;
    struct histogram *h = NULL;

    for (size_t i = 0; i < m->nseries && !s; i++) {
        if (m->series[i].code == code && strcmp(m->series[i].route, route) == 0 &&
            strcmp(m->series[i].method, method) == 0)
            s = &m->series[i];
    }
    for (size_t i = 0; i < m->nhist && !h; i++) {
        if (strcmp(m->hist[i].route, route) == 0)
            h = &m->hist[i];
    }
    /* A full table counts nothing more rather than fail the request. */
    if (add && !s && m->nseries < MAX_SERIES) {
        s = &m->series[m->nseries++];
        snprintf(s->route, sizeof(s->route), "%s", route);
        snprintf(s->method, sizeof(s->method), "%s", method);
        s->code = code;
    }
    if (add && !h && m->nhist < MAX_SERIES) {
        h = &m->hist[m->nhist++];
        snprintf(h->route, sizeof(h->route), "%s", route);
    }
    *sp = s;
    *hp = h;
    return add || (s && h);
}

void metrics_request(struct metrics *m, const char *route, const char *method, unsigned code,
                     double seconds)
{
    struct series *s;
    struct histogram *h;

    pthread_rwlock_rdlock(&m->table);
    if (!find(m, route, method, code, false, &s, &h)) {
        pthread_rwlock_unlock(&m->table);
        pthread_rwlock_wrlock(&m->table);
        find(m, route, method, code, true, &s, &h);
    }
    if (s)
        atomic_fetch_add(&s->count, 1);
    if (h) {
        for (int b = 0; b < NBUCKETS; b++) {
            if (seconds <= bucket_le[b])
                atomic_fetch_add(&h->buckets[b], 1);
        }
        atomic_fetch_add(&h->count, 1);
        atomic_fetch_add(&h->sum_ns, (uint_fast64_t)(seconds * 1e9));
    }
    pthread_rwlock_unlock(&m->table);
}

void metrics_provision(struct metrics *m, enum kairos_kind kind)
{
    pthread_mutex_lock(&m->lock);
    m->provisions[kind]++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_refusal(struct metrics *m, enum kairos_kind kind)
{
    pthread_mutex_lock(&m->lock);
    m->refusals[kind]++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_audit_failure(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->audit_failures++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_reconcile(struct metrics *m, const struct kairos_reconcile_report *rep)
{
    pthread_mutex_lock(&m->lock);
    m->drift_seen = true;
    m->drift_last = rep->drift;
    m->drift_partial = rep->drift_partial;
    m->drift_total += rep->drift;
    m->drift_acted += rep->drift_acted;
    m->drift_revoked += rep->drift_revoked;
    m->drift_scanned += rep->scanned;
    m->drift_passes++;
    m->reconcile_errors += rep->errors;
    pthread_mutex_unlock(&m->lock);
}

void metrics_reconcile_failure(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->reconcile_failures++;
    pthread_mutex_unlock(&m->lock);
}

/* From the start, at 0: an alert on increase() needs the series before the first failure. */
static void render_reconcile(struct metrics *m, FILE *f)
{
    fprintf(f,
            "# HELP kairos_reconcile_failures_total Reconciler passes here that failed "
            "(the cluster could not be read or the lock taken).\n"
            "# TYPE kairos_reconcile_failures_total counter\n"
            "kairos_reconcile_failures_total %llu\n"
            "# HELP kairos_reconcile_errors_total Errors met by reconciler passes here "
            "(an intent or a finding it could not settle).\n"
            "# TYPE kairos_reconcile_errors_total counter\nkairos_reconcile_errors_total %llu\n",
            (unsigned long long)m->reconcile_failures, (unsigned long long)m->reconcile_errors);
}

static void render_drift(struct metrics *m, FILE *f)
{
    if (!m->drift_seen)
        return;
    fprintf(f,
            "# HELP kairos_drift_findings Drift findings of the last reconciler pass here.\n"
            "# TYPE kairos_drift_findings gauge\nkairos_drift_findings %u\n"
            "# HELP kairos_drift_scan_partial 1 when the last pass stopped its scan at its time.\n"
            "# TYPE kairos_drift_scan_partial gauge\nkairos_drift_scan_partial %u\n"
            "# HELP kairos_drift_findings_total Drift findings, summed over passes.\n"
            "# TYPE kairos_drift_findings_total counter\nkairos_drift_findings_total %llu\n"
            "# HELP kairos_drift_acted_total Findings put back or revoked.\n"
            "# TYPE kairos_drift_acted_total counter\nkairos_drift_acted_total %llu\n"
            "# HELP kairos_drift_revoked_bindings_total Bindings revoked for drift.\n"
            "# TYPE kairos_drift_revoked_bindings_total counter\n"
            "kairos_drift_revoked_bindings_total %llu\n"
            "# HELP kairos_drift_scanned_objects_total Objects and headers the drift scan read.\n"
            "# TYPE kairos_drift_scanned_objects_total counter\n"
            "kairos_drift_scanned_objects_total %llu\n"
            "# HELP kairos_reconcile_passes_total Reconciler passes this process ran.\n"
            "# TYPE kairos_reconcile_passes_total counter\nkairos_reconcile_passes_total %llu\n",
            m->drift_last, m->drift_partial, (unsigned long long)m->drift_total,
            (unsigned long long)m->drift_acted, (unsigned long long)m->drift_revoked,
            (unsigned long long)m->drift_scanned, (unsigned long long)m->drift_passes);
}

static void render_counters(struct metrics *m, FILE *f)
{
    fputs("# HELP kairos_http_requests_total HTTP requests by route, method and status.\n"
          "# TYPE kairos_http_requests_total counter\n",
          f);
    for (size_t i = 0; i < m->nseries; i++)
        fprintf(f, "kairos_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %llu\n",
                m->series[i].route, m->series[i].method, m->series[i].code,
                (unsigned long long)atomic_load(&m->series[i].count));
    fputs("# HELP kairos_http_request_duration_seconds Time to answer, by route.\n"
          "# TYPE kairos_http_request_duration_seconds histogram\n",
          f);
    for (size_t i = 0; i < m->nhist; i++) {
        struct histogram *h = &m->hist[i];
        uint64_t count = atomic_load(&h->count);
        for (int b = 0; b < NBUCKETS; b++)
            fprintf(f, "kairos_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    h->route, bucket_le[b], (unsigned long long)atomic_load(&h->buckets[b]));
        fprintf(f, "kairos_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                h->route, (unsigned long long)count);
        fprintf(f, "kairos_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", h->route,
                (double)atomic_load(&h->sum_ns) / 1e9);
        fprintf(f, "kairos_http_request_duration_seconds_count{route=\"%s\"} %llu\n", h->route,
                (unsigned long long)count);
    }
    fputs("# HELP kairos_provisions_total Allocations made, by kind.\n"
          "# TYPE kairos_provisions_total counter\n"
          "# HELP kairos_quota_refusals_total Requests refused by a quota or capacity, by kind.\n"
          "# TYPE kairos_quota_refusals_total counter\n",
          f);
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        fprintf(f, "kairos_provisions_total{kind=\"%s\"} %llu\n", kairos_kind_name(k),
                (unsigned long long)m->provisions[k]);
        fprintf(f, "kairos_quota_refusals_total{kind=\"%s\"} %llu\n", kairos_kind_name(k),
                (unsigned long long)m->refusals[k]);
    }
    fprintf(f,
            "# HELP kairos_audit_failures_total Changes whose audit entry could not be written.\n"
            "# TYPE kairos_audit_failures_total counter\n"
            "kairos_audit_failures_total %llu\n",
            (unsigned long long)m->audit_failures);
}

/*
 * Per-project gauges, one family per stream: the text format wants each
 * family's samples together, and the scan hands over one project at a time.
 */
enum { P_QUOTA_BYTES, P_QUOTA_COUNT, P_ALLOC_BYTES, P_ALLOC_COUNT, P_FAMILIES };

static const char *const project_family[P_FAMILIES][2] = {
    {"kairos_project_quota_bytes", "A project's byte limit per kind (absent: no limit)."},
    {"kairos_project_quota_count", "A project's count limit per kind (absent: no limit)."},
    {"kairos_project_allocated_bytes", "Bytes a project has allocated, per kind."},
    {"kairos_project_allocations", "Allocations a project holds, per kind."},
};

struct project_text {
    FILE *f[P_FAMILIES];
    char *text[P_FAMILIES];
    size_t len[P_FAMILIES];
};

static void project_sample(FILE *f, int family, const char *project, int kind, uint64_t v)
{
    fprintf(f, "%s{project=\"%s\",kind=\"%s\"} %llu\n", project_family[family][0], project,
            kairos_kind_name(kind), (unsigned long long)v);
}

static void on_project(void *arg, const struct kairos_capacity_project *p)
{
    struct project_text *t = arg;

    for (int kind = 0; kind < KAIROS_KIND_COUNT; kind++) {
        const struct kairos_limit *l = &p->quota.kind[kind];
        if (kind != KAIROS_SNAPSHOT && l->bytes != KAIROS_UNLIMITED)
            project_sample(t->f[P_QUOTA_BYTES], P_QUOTA_BYTES, p->name, kind, l->bytes);
        if (l->count != KAIROS_UNLIMITED)
            project_sample(t->f[P_QUOTA_COUNT], P_QUOTA_COUNT, p->name, kind, l->count);
        if (kind != KAIROS_SNAPSHOT)
            project_sample(t->f[P_ALLOC_BYTES], P_ALLOC_BYTES, p->name, kind,
                           p->allocated_bytes[kind]);
        project_sample(t->f[P_ALLOC_COUNT], P_ALLOC_COUNT, p->name, kind, p->allocated_count[kind]);
    }
}

static void render_gauges(struct kairos *k, FILE *f)
{
    struct kairos_capacity_report r;
    struct kairos_error err = {0};
    struct project_text t = {0};
    int rc = 0;

    for (int i = 0; i < P_FAMILIES; i++) {
        if (!(t.f[i] = open_memstream(&t.text[i], &t.len[i])))
            rc = -ENOMEM;
    }
    fprintf(f, "# HELP kairos_cluster_up Whether the last capacity read reached the cluster.\n"
               "# TYPE kairos_cluster_up gauge\n");
    if (rc == 0)
        rc = kairos_capacity_get_each(k, &r, on_project, &t, &err);
    for (int i = 0; i < P_FAMILIES; i++) {
        if (t.f[i])
            fclose(t.f[i]);
    }
    if (rc < 0) {
        fputs("kairos_cluster_up 0\n", f);
        goto out;
    }
    fprintf(f,
            "kairos_cluster_up 1\n"
            "# TYPE kairos_capacity_usable_bytes gauge\nkairos_capacity_usable_bytes %llu\n"
            "# TYPE kairos_capacity_limit_bytes gauge\nkairos_capacity_limit_bytes %llu\n"
            "# TYPE kairos_capacity_used_bytes gauge\nkairos_capacity_used_bytes %llu\n"
            "# TYPE kairos_capacity_allocated_effective_bytes gauge\n"
            "kairos_capacity_allocated_effective_bytes %llu\n"
            "# TYPE kairos_projects gauge\nkairos_projects %u\n"
            "# TYPE kairos_allocated_bytes gauge\n# TYPE kairos_allocations gauge\n",
            (unsigned long long)r.usable, (unsigned long long)r.limit, (unsigned long long)r.used,
            (unsigned long long)r.allocated_eff, r.projects);
    for (int kind = 0; kind < KAIROS_KIND_COUNT; kind++) {
        fprintf(f, "kairos_allocated_bytes{kind=\"%s\"} %llu\n", kairos_kind_name(kind),
                (unsigned long long)r.allocated_bytes[kind]);
        fprintf(f, "kairos_allocations{kind=\"%s\"} %llu\n", kairos_kind_name(kind),
                (unsigned long long)r.allocated_count[kind]);
    }
    for (int i = 0; i < P_FAMILIES; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s", project_family[i][0], project_family[i][1],
                project_family[i][0], t.text[i] ? t.text[i] : "");
out:
    for (int i = 0; i < P_FAMILIES; i++)
        free(t.text[i]);
}

char *metrics_render(struct metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        return NULL;
    pthread_rwlock_rdlock(&m->table);
    pthread_mutex_lock(&m->lock);
    render_counters(m, f);
    render_drift(m, f);
    render_reconcile(m, f);
    if (m->gauges)
        fputs(m->gauges, f);
    pthread_mutex_unlock(&m->lock);
    pthread_rwlock_unlock(&m->table);
    fclose(f);
    return text;
}
