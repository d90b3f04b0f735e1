/*
 * output.h - how kairosctl prints what it got: -f/--format table, json,
 * yaml or value, and -c/--column to pick columns (fields), as the
 * openstack CLI does.
 *
 *   table  aligned columns (prose for one object), for people
 *   json   kairosd's JSON, indented; with -c only those fields
 *   yaml   the same as YAML (libyaml's emitter)
 *   value  the cells alone, space-separated, one row per line: for scripts
 *
 * With json or yaml an error is also printed on stdout, as
 * {"error": "...", "exit": N[, "status": HTTP]}, so a script reading
 * stdout sees it. Single-threaded, as kairosctl is.
 */
#ifndef KAIROSCTL_OUTPUT_H
#define KAIROSCTL_OUTPUT_H

#include <stdbool.h>

#include <jansson.h>

#include "table.h"

struct ctl;

enum ctl_format { CTL_FORMAT_TABLE, CTL_FORMAT_JSON, CTL_FORMAT_YAML, CTL_FORMAT_VALUE };

/* "table", "json", ... into @out. Return: false for an unknown name. */
bool output_format_parse(const char *name, enum ctl_format *out);

/* Add a -c COLUMN. Return: false when there are too many. */
bool output_column_add(struct ctl *c, const char *column);

/* Whether @c prints documents (json, yaml) rather than tables. */
bool output_machine(const struct ctl *c);

/*
 * output_doc() - print @j as @c's format says: json or yaml (with -c, only
 * those fields of an object, or of each object of an array), value (the
 * fields' values, one per line for an object, space-separated per item of
 * an array), or, for table, indented JSON. Return: CTL_OK, or
 * CTL_BAD_INPUT for a -c naming no field.
 */
int output_doc(const struct ctl *c, const json_t *j);

/*
 * output_table() - print @t as a table or as values, with -c's columns
 * only (case-insensitive header names). Return: CTL_OK, or CTL_BAD_INPUT
 * for a -c naming no column.
 */
int output_table(const struct ctl *c, struct table *t);

/* The options errors are printed for (kairosctl has one). */
void output_use(const struct ctl *c);

/* Print an error as JSON on stdout (machine formats only); see above. */
void output_error(int code, long status, const char *msg);

#endif
