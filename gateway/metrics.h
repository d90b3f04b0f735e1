/*
 * metrics.h - Prometheus counters and histograms of kairosd, rendered in
 * the text exposition format at GET /metrics.
 *
 *   kairos_http_requests_total{route,method,code}
 *   kairos_http_request_duration_seconds{route} (histogram)
 *   kairos_provisions_total{kind}, kairos_quota_refusals_total{kind}
 *   kairos_capacity_* and kairos_allocated_* gauges, read by a background
 *   thread every METRICS_REFRESH_MS (a scrape never scans the projects:
 *   it is served from the last reading)
 *   kairos_audit_failures_total: changes whose audit entry was lost
 *   kairos_drift_* from the reconciler passes this kairosd ran: findings
 *   of the last pass, and counters of findings, acts, revoked bindings and
 *   objects scanned
 *   kairos_reconcile_failures_total (passes that failed) and
 *   kairos_reconcile_errors_total (errors met by passes that ran), from 0
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef KAIROSD_METRICS_H
#define KAIROSD_METRICS_H

#include <kairos/kairos.h>

struct metrics;

/* How often the gauges are read from the cluster. */
#define METRICS_REFRESH_MS 15000

struct metrics *metrics_new(void);
/* Stops the refresher first, if started. */
void metrics_free(struct metrics *m);

/*
 * metrics_start() - read the gauges from @k now and then every
 * @interval_ms in a thread of their own. Return: 0 or -errno.
 */
int metrics_start(struct metrics *m, struct kairos *k, uint64_t interval_ms);

void metrics_request(struct metrics *m, const char *route, const char *method, unsigned code,
                     double seconds);
void metrics_provision(struct metrics *m, enum kairos_kind kind);
void metrics_refusal(struct metrics *m, enum kairos_kind kind);
/* An audit entry that could not be written (auditlog.h). */
void metrics_audit_failure(struct metrics *m);
/* A reconciler pass this process ran (not one it skipped). */
void metrics_reconcile(struct metrics *m, const struct kairos_reconcile_report *rep);
/* A reconciler pass this process began that failed. */
void metrics_reconcile_failure(struct metrics *m);

/* The exposition text (malloc'ed): the counters, and the gauges as last read. */
char *metrics_render(struct metrics *m);

#endif
