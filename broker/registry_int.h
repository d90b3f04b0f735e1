/*
 * registry_int.h - what the registry shares with the token store: the
 * shard naming, and the migration from a single omap object into shards.
 */
#ifndef KAIROS_REGISTRY_INT_H
#define KAIROS_REGISTRY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>

#include "store.h"

struct kairos;

/* Room for "<base>.<shard>". */
#define KAIROS_SHARD_OID_MAX 64

/* The object of shard @shard of the sharded store named @base ("kairos.registry"). */
void kairos_shard_oid(char *buf, const char *base, unsigned shard);

/* The shard count of this kairos (the config's, checked by kairos_registry_open()). */
unsigned kairos_shard_count(const struct kairos *k);

/*
 * A page of the single object being moved: copy its records into the
 * shards, adding how many were moved to *@moved. Keys already in their
 * shard are left alone (the shard's copy is the newer).
 */
typedef int (*kairos_migrate_fn)(struct kairos *k, const struct kairos_kvs *page, uint64_t *moved);

/*
 * kairos_shard_migrate() - move every record of the single object @legacy
 * with @copy, then remove @legacy if nothing wrote to it meanwhile (its gen
 * is unchanged), else go again. Idempotent.
 * Return: 0 (also when @legacy does not exist), or a librados error.
 */
int kairos_shard_migrate(struct kairos *k, const char *legacy, kairos_migrate_fn copy,
                         uint64_t *moved);

/* Move the tokens of "kairos.tokens" into their shards (token.c). */
int kairos_token_migrate(struct kairos *k, uint64_t *moved, struct kairos_error *err);

#endif
