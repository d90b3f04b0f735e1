/*
 * metrics.c - counters kept in a small table under one mutex; a request
 * takes the lock once, which is nothing beside its RADOS round trips.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 256
#define NBUCKETS   12

static const double bucket_le[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                           0.1,   0.25,   0.5,   1,    2.5,   10};

struct series {
    char route[64];
    char method[8];
    unsigned code;
    uint64_t count;
};

struct histogram {
    char route[64];
    uint64_t buckets[NBUCKETS];
    uint64_t count;
    double sum;
};

struct metrics {
    pthread_mutex_t lock;
    struct series series[MAX_SERIES];
    size_t nseries;
    struct histogram hist[MAX_SERIES];
    size_t nhist;
    uint64_t provisions[KAIROS_KIND_COUNT], refusals[KAIROS_KIND_COUNT];
    /* Drift, from the reconciler passes this process ran. */
    bool drift_seen;
    unsigned drift_last, drift_partial;
    uint64_t drift_total, drift_acted, drift_revoked, drift_scanned, drift_passes;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static struct histogram *hist_of(struct metrics *m, const char *route)
{
    for (size_t i = 0; i < m->nhist; i++) {
        if (strcmp(m->hist[i].route, route) == 0)
            return &m->hist[i];
    }
    if (m->nhist == MAX_SERIES)
        return NULL;
    snprintf(m->hist[m->nhist].route, sizeof(m->hist[0].route), "%s", route);
    return &m->hist[m->nhist++];
}

void metrics_request(struct metrics *m, const char *route, const char *method, unsigned code,
                     double seconds)
{
    struct series *s = NULL;
    struct histogram *h;

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nseries && !s; i++) {
        if (m->series[i].code == code && strcmp(m->series[i].route, route) == 0 &&
            strcmp(m->series[i].method, method) == 0)
            s = &m->series[i];
    }
    if (!s && m->nseries < MAX_SERIES) {
        s = &m->series[m->nseries++];
        snprintf(s->route, sizeof(s->route), "%s", route);
        snprintf(s->method, sizeof(s->method), "%s", method);
        s->code = code;
    }
    if (s)
        s->count++;
    h = hist_of(m, route);
    if (h) {
        for (int b = 0; b < NBUCKETS; b++) {
            if (seconds <= bucket_le[b])
                h->buckets[b]++;
        }
        h->count++;
        h->sum += seconds;
    }
    pthread_mutex_unlock(&m->lock);
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
    pthread_mutex_unlock(&m->lock);
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
                (unsigned long long)m->series[i].count);
    fputs("# HELP kairos_http_request_duration_seconds Time to answer, by route.\n"
          "# TYPE kairos_http_request_duration_seconds histogram\n",
          f);
    for (size_t i = 0; i < m->nhist; i++) {
        const struct histogram *h = &m->hist[i];
        for (int b = 0; b < NBUCKETS; b++)
            fprintf(f, "kairos_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    h->route, bucket_le[b], (unsigned long long)h->buckets[b]);
        fprintf(f, "kairos_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                h->route, (unsigned long long)h->count);
        fprintf(f, "kairos_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", h->route,
                h->sum);
        fprintf(f, "kairos_http_request_duration_seconds_count{route=\"%s\"} %llu\n", h->route,
                (unsigned long long)h->count);
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
}

static void render_gauges(struct kairos *k, FILE *f)
{
    struct kairos_capacity_report r;
    struct kairos_error err = {0};

    fprintf(f, "# HELP kairos_cluster_up Whether the last capacity read reached the cluster.\n"
               "# TYPE kairos_cluster_up gauge\n");
    if (kairos_capacity_get(k, &r, &err) < 0) {
        fputs("kairos_cluster_up 0\n", f);
        return;
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
}

char *metrics_render(struct metrics *m, struct kairos *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        return NULL;
    pthread_mutex_lock(&m->lock);
    render_counters(m, f);
    render_drift(m, f);
    pthread_mutex_unlock(&m->lock);
    render_gauges(k, f);
    fclose(f);
    return text;
}
