/*
 * metrics.h - Prometheus counters and histograms of kairosd, rendered in
 * the text exposition format at GET /metrics.
 *
 *   kairos_http_requests_total{route,method,code}
 *   kairos_http_request_duration_seconds{route} (histogram)
 *   kairos_provisions_total{kind}, kairos_quota_refusals_total{kind}
 *   kairos_capacity_* and kairos_allocated_* gauges, read at scrape time
 *   kairos_drift_* from the reconciler passes this kairosd ran: findings
 *   of the last pass, and counters of findings, acts, revoked bindings and
 *   objects scanned
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef KAIROSD_METRICS_H
#define KAIROSD_METRICS_H

#include <kairos/kairos.h>

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

void metrics_request(struct metrics *m, const char *route, const char *method, unsigned code,
                     double seconds);
void metrics_provision(struct metrics *m, enum kairos_kind kind);
void metrics_refusal(struct metrics *m, enum kairos_kind kind);
/* A reconciler pass this process ran (not one it skipped). */
void metrics_reconcile(struct metrics *m, const struct kairos_reconcile_report *rep);

/* The exposition text (malloc'ed), with the gauges read from @k. */
char *metrics_render(struct metrics *m, struct kairos *k);

#endif
