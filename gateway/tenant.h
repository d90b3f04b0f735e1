/*
 * tenant.h - the REST v1 routes that keep tenants' keys honest: a
 * project's drift findings and policy, and breaking a dead VM's lock on a
 * volume. Documented in docs/openapi.json.
 *
 * The admin token reaches everything; a project token reads its own
 * project's findings and policy and breaks its own volumes' locks, but
 * cannot change the policy.
 */
#ifndef KAIROSD_TENANT_H
#define KAIROSD_TENANT_H

#include <jansson.h>

#include "router.h"

struct kairos;

extern const struct route tenant_routes[];
extern const size_t tenant_nroutes;

/* {"policy", "findings": N} of @project for its usage, or NULL when unreadable. */
json_t *tenant_drift_summary(struct kairos *k, const char *project);

#endif
