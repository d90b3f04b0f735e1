/*
 * record.h - where ledger state lives in the metadata pool, and its JSON.
 *
 * Objects (default namespace of [pools] metadata):
 *   kairos.projects     index: "p.<name>" -> {owner, state, ts};
 *                       "o.<platform>:<id>" -> name
 *   kairos.cluster      cluster budget: "budget" -> {granted};
 *                       "t.<project>.<txid>" -> grant in flight;
 *                       "d.<project>.<txid>" -> a return already applied
 *   kairos.reconciler   holds the reconciler's RADOS lock
 *   project.<name>      "meta" {owner, state, created}; "quota"; "ledger"
 *                       counters; "a.<kind>.<name>" allocation records;
 *                       "i.<kind>.<name>" open intents; "t.<txid>" budget
 *                       transfers; "rgw" {tenant, since}: the project has
 *                       an RGW owner user (bucket.c)
 *
 * Every object has a "gen" key (see store.h).
 */
#ifndef KAIROS_RECORD_H
#define KAIROS_RECORD_H

#include <stdint.h>

#include <jansson.h>
#include <kairos/ledger.h>
#include <kairos/project.h>
#include <kairos/types.h>

#define KAIROS_INDEX_OID      "kairos.projects"
#define KAIROS_CLUSTER_OID    "kairos.cluster"
#define KAIROS_RECONCILER_OID "kairos.reconciler"
#define KAIROS_PROJECT_PREFIX "project."

/* Longest key or oid built from names: prefix, kind, name, separators. */
#define KAIROS_KEY_MAX (KAIROS_ALLOC_NAME_MAX + 64)

/* Counters of one project, pending reservations included. */
struct kairos_counts {
    uint64_t bytes[KAIROS_KIND_COUNT];
    uint64_t count[KAIROS_KIND_COUNT];
    uint64_t eff;   /* effective bytes of cluster budget in use */
    uint64_t grant; /* effective bytes of cluster budget held */
};

void kairos_project_oid(char *buf, const char *project);
void kairos_alloc_key(char *buf, enum kairos_kind kind, const char *name);
void kairos_intent_key(char *buf, enum kairos_kind kind, const char *name);

json_t *kairos_counts_to_json(const struct kairos_counts *c);
int kairos_counts_from_json(const json_t *j, struct kairos_counts *c);

/* Limits that are KAIROS_UNLIMITED are left out of the JSON. */
json_t *kairos_quota_to_json(const struct kairos_quota *q);
int kairos_quota_from_json(const json_t *j, struct kairos_quota *q);

json_t *kairos_owner_to_json(const struct kairos_owner *o);
void kairos_owner_from_json(const json_t *j, struct kairos_owner *o);

const char *kairos_op_name(enum kairos_op op);
enum kairos_op kairos_op_parse(const char *s);
const char *kairos_project_state_name(enum kairos_project_state s);
enum kairos_project_state kairos_project_state_parse(const char *s);

/* A uint64 field of @j, or @def when absent or not a non-negative integer. */
uint64_t kairos_json_u64(const json_t *j, const char *key, uint64_t def);

/*
 * kairos_alloc_from_record() - fill @a from an "a.<kind>.<name>" record.
 * Return: 0, -EIO (corrupt record), -ENOMEM.
 */
int kairos_alloc_from_record(struct kairos_alloc *a, const char *project, enum kairos_kind kind,
                             const char *name, const char *record);

#endif
