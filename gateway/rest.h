/*
 * rest.h - the REST v1 routes of kairosd: projects, quotas, usage,
 * capacity, volumes, shares, buckets, snapshots, clones, bindings, tokens
 * and operations. Documented in docs/openapi.json (served at
 * /v1/openapi.json).
 *
 * The admin token reaches everything; a project token reaches its own
 * project's allocations, usage, quota (read) and bindings, and nothing of
 * another project (403).
 */
#ifndef KAIROSD_REST_H
#define KAIROSD_REST_H

#include "router.h"

extern const struct route rest_routes[];
extern const size_t rest_nroutes;

#endif
