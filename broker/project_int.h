/*
 * project_int.h - project operations for the reconciler.
 */
#ifndef KAIROS_PROJECT_INT_H
#define KAIROS_PROJECT_INT_H

#include <kairos/project.h>

/*
 * kairos_project_finish_delete() - the part of a delete after the project
 * is marked "deleting": cascade, teardown, budget back, object and index
 * entries removed. Safe to repeat. @owner may be NULL when unknown.
 * Return: 0 or the first error (the project stays "deleting").
 */
int kairos_project_finish_delete(struct kairos *k, const char *name,
                                 const struct kairos_owner *owner, struct kairos_error *err);

/*
 * kairos_project_mark_active() - set the index entry of @name to "active"
 * (a create whose last step was lost). Return: 0 or a librados error.
 */
int kairos_project_mark_active(struct kairos *k, const char *name);

#endif
