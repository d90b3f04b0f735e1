/*
 * osb.h - the Open Service Broker API v2.17 routes of kairosd.
 *
 * Services "kairos-volume", "kairos-share" and "kairos-bucket", one plan per
 * plan of the policy that offers the kind (plan id "kairos-<kind>-<plan>").
 * An instance is one allocation in the project that its context (or,
 * without one, its space_guid) maps to, made on first use with the
 * policy's default plan as quota. Instance and binding ids are kept in the
 * registry with what they were made with, so a repeated PUT is recognised
 * as identical (200) or conflicting (409); deletions leave tombstones for
 * last_operation. The rules, checked against the text of the spec v2.17,
 * are in README.md; osb_int.h lists the modules.
 */
#ifndef KAIROSD_OSB_H
#define KAIROSD_OSB_H

#include "gateway.h"
#include "router.h"

/* The lowest X-Broker-API-Version accepted, 2.13; any later 2.x is too (we speak 2.17). */
#define OSB_VERSION_MIN 13

extern const struct route osb_routes[];
extern const size_t osb_nroutes;

/* The registry spaces of OSB deletion records, NULL-terminated: ops_start() sweeps them. */
extern const char *const osb_swept_spaces[];

/*
 * 0 when @version ("2.17") is accepted; 400 when missing; 412 when present
 * but empty, malformed or not 2.x with x >= 13 (as platforms expect).
 */
unsigned osb_version_check(const char *version);

#endif
