/*
 * ledger_int.h - ledger operations for the broker's own cleanup paths.
 */
#ifndef KAIROS_LEDGER_INT_H
#define KAIROS_LEDGER_INT_H

#include <kairos/ledger.h>

#include "store.h"

/*
 * kairos_ledger_project_open() - inside a step on a project's object: the
 * project must exist and be active (not being deleted).
 * Return: 0, or -ENOENT with @err saying which.
 */
int kairos_ledger_project_open(const struct kairos_kvs *kvs, const char *project,
                               struct kairos_error *err);

/*
 * kairos_ledger_purge() - drop an allocation record whatever intent it
 * carries, and uncount it. For the cascade of a forced project delete,
 * once the backend has destroyed the object: a request still in flight on
 * it then fails its commit with -ESTALE and undoes its own work.
 * Return: 0 (also when already gone) or a librados error.
 */
int kairos_ledger_purge(struct kairos *k, const char *project, enum kairos_kind kind,
                        const char *name, struct kairos_error *err);

/*
 * kairos_ledger_purge_prefix() - kairos_ledger_purge() of every record of
 * @kind in @project whose name starts with @prefix: the snapshot records of
 * a destroyed volume or share ("volume:NAME@"), whether or not the backend
 * still had the snapshot (a kill between its removal and its record's
 * purge leaves a record the backend no longer lists).
 * Return: 0 (also for no project) or a librados error.
 */
int kairos_ledger_purge_prefix(struct kairos *k, const char *project, enum kairos_kind kind,
                               const char *prefix, struct kairos_error *err);

/*
 * kairos_ledger_settle() - end @res by the outcome @rc of the work it
 * reserved for: release it when @rc < 0 (and return @rc), commit it
 * otherwise. @res is freed either way.
 * Return: @rc, or the commit's error.
 */
int kairos_ledger_settle(struct kairos *k, struct kairos_reservation *res, int rc,
                         struct kairos_error *err);

/*
 * kairos_ledger_recorded() - what an allocation is to be, for a backend
 * finishing one a crash left half-made: its size (a pending resize's
 * target) and the integer attribute @key (0 when absent).
 * Return: 0, -ENOENT, or a librados error.
 */
int kairos_ledger_recorded(struct kairos *k, const char *project, enum kairos_kind kind,
                           const char *name, const char *key, uint64_t *bytes, uint64_t *attr,
                           struct kairos_error *err);

/*
 * kairos_ledger_each() - every allocation of @kind in @project, in name
 * order, handed to @fn one at a time (@a lives only for the call). Records
 * may be removed meanwhile, by @fn too. Stops at @fn's first non-zero
 * return and returns it.
 * Return: 0, @fn's value, -ENOENT (no project), or a librados error.
 */
typedef int (*kairos_alloc_fn)(void *arg, const struct kairos_alloc *a);
int kairos_ledger_each(struct kairos *k, const char *project, enum kairos_kind kind,
                       kairos_alloc_fn fn, void *arg);

#endif
