/*
 * nameset.h - a thread-safe set of names, for the backends' "known to
 * exist" caches (an RBD namespace, a project directory), so that only a
 * project's first allocation in a process pays for making sure.
 *
 * A cache only: a name in the set may have gone meanwhile (another broker
 * deleted the project); callers that meet ENOENT forget the name and redo
 * the work.
 */
#ifndef KAIROS_NAMESET_H
#define KAIROS_NAMESET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct kairos_nameset {
    pthread_mutex_t lock;
    char **names; /* sorted, for bsearch */
    size_t count, cap;
};

void kairos_nameset_init(struct kairos_nameset *s);
void kairos_nameset_destroy(struct kairos_nameset *s);
bool kairos_nameset_has(struct kairos_nameset *s, const char *name);
/* Add @name (a failed allocation just leaves it out: it is a cache). */
void kairos_nameset_add(struct kairos_nameset *s, const char *name);
void kairos_nameset_remove(struct kairos_nameset *s, const char *name);

#endif
