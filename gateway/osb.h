/*
 * osb.h - the Open Service Broker API v2.17 routes of kairosd.
 *
 * Services "kairos-volume", "kairos-share" and "kairos-bucket", one plan per
 * plan of the policy that offers the kind (plan id "kairos-<kind>-<plan>").
 * An instance is one allocation in the project that its context maps to
 * (kubernetes namespace, openstack project_id or cloudfoundry space_guid),
 * made on first use with the policy's default plan as quota. Instance and
 * binding ids are kept in the registry with what they were made with, so a
 * repeated PUT is recognised as identical (200) or conflicting (409).
 */
#ifndef KAIROSD_OSB_H
#define KAIROSD_OSB_H

#include "gateway.h"
#include "router.h"

/* The lowest X-Broker-API-Version accepted, 2.13; any later 2.x is too (we speak 2.17). */
#define OSB_VERSION_MIN 13

extern const struct route osb_routes[];
extern const size_t osb_nroutes;

/*
 * 0 when @version ("2.17") is accepted; 400 when missing; 412 when present
 * but empty, malformed or not 2.x with x >= 13 (as platforms expect).
 */
unsigned osb_version_check(const char *version);

#endif
