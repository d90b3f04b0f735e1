/*
 * table.h - aligned text tables for kairosctl: number columns (those whose
 * rows all have a sort key) right-aligned, text left-aligned whatever it
 * starts with, a bold header and coloured percentages on a TTY, rows
 * sortable by any column, the widest text column cut to fit the terminal,
 * and any columns picked out (-c).
 */
#ifndef KAIROSCTL_TABLE_H
#define KAIROSCTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TABLE_MAX_COLS 12

struct table;

/* Columns are named by @header ("NAME", "QUOTA", ...); "%"-suffixed cells are percentages. */
struct table *table_new(const char *const *header, size_t ncols);
void table_free(struct table *t);

/*
 * Add a row of ncols strings (copied). @keys: ncols sort keys, or NULL to
 * sort by the text (sizes printed as "500GiB" sort by their byte count).
 */
void table_add(struct table *t, const char *const *cells, const double *keys);

/* Sort by the column named @column (case-insensitive). Return: false if there is none. */
bool table_sort(struct table *t, const char *column, bool descending);

/* Whether there is a column named @column (case-insensitive). */
bool table_has(const struct table *t, const char *column);

/*
 * Show only the columns named by @columns, in that order. Return: false
 * (and nothing changed) if one names no column.
 */
bool table_select(struct table *t, const char *const *columns, size_t n);

void table_print(const struct table *t, bool color, unsigned width);

/* The shown cells alone, space-separated, one row per line (-f value). */
void table_print_values(const struct table *t);

#endif
