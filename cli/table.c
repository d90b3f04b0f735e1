/*
 * table.c - aligned, sortable text tables (see table.h).
 */
#include "table.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOLD   "\033[1m"
#define RED    "\033[31m"
#define YELLOW "\033[33m"
#define RESET  "\033[0m"

/* Percentages from which a cell turns yellow, then red. */
#define WARN_PERCENT 80
#define FULL_PERCENT 95

struct row {
    char *cells[TABLE_MAX_COLS];
    double keys[TABLE_MAX_COLS];
    bool has_keys;
};

struct table {
    const char *const *header;
    size_t ncols;
    struct row *rows;
    size_t nrows;
    size_t sort_col;
    bool descending;
    size_t show[TABLE_MAX_COLS]; /* the columns printed, in order */
    size_t nshow;
};

struct table *table_new(const char *const *header, size_t ncols)
{
    struct table *t = calloc(1, sizeof(*t));

    if (t) {
        t->header = header;
        t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
        for (size_t c = 0; c < t->ncols; c++)
            t->show[c] = c;
        t->nshow = t->ncols;
    }
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++)
            free(t->rows[r].cells[c]);
    }
    free(t->rows);
    free(t);
}

void table_add(struct table *t, const char *const *cells, const double *keys)
{
    struct row *grown = realloc(t->rows, (t->nrows + 1) * sizeof(*grown));
    struct row *row;

    if (!grown)
        return;
    t->rows = grown;
    row = &t->rows[t->nrows++];
    memset(row, 0, sizeof(*row));
    for (size_t c = 0; c < t->ncols; c++) {
        row->cells[c] = strdup(cells[c] ? cells[c] : "");
        row->keys[c] = keys ? keys[c] : NAN;
    }
    row->has_keys = keys != NULL;
}

static const struct table *sorting;

static int compare(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    size_t c = sorting->sort_col;
    int r;

    if (!isnan(x->keys[c]) && !isnan(y->keys[c]))
        r = (x->keys[c] > y->keys[c]) - (x->keys[c] < y->keys[c]);
    else
        r = strcmp(x->cells[c], y->cells[c]);
    return sorting->descending ? -r : r;
}

bool table_sort(struct table *t, const char *column, bool descending)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (strcasecmp(t->header[c], column) == 0) {
            t->sort_col = c;
            t->descending = descending;
            /* qsort has no context argument; kairosctl is single-threaded. */
            sorting = t;
            qsort(t->rows, t->nrows, sizeof(*t->rows), compare);
            return true;
        }
    }
    return false;
}

/* "created-ms" names column CREATED_MS; any case. */
static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (tolower((unsigned char)x) != tolower((unsigned char)y))
            return false;
    }
    return *a == *b;
}

static bool column_of(const struct table *t, const char *name, size_t *out)
{
    for (size_t c = 0; c < t->ncols; c++) {
        if (same_name(t->header[c], name)) {
            *out = c;
            return true;
        }
    }
    return false;
}

bool table_has(const struct table *t, const char *column)
{
    size_t c;

    return column_of(t, column, &c);
}

bool table_select(struct table *t, const char *const *columns, size_t n)
{
    size_t show[TABLE_MAX_COLS];

    if (n > TABLE_MAX_COLS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!column_of(t, columns[i], &show[i]))
            return false;
    }
    memcpy(t->show, show, n * sizeof(*show));
    t->nshow = n;
    return true;
}

/*
 * A column of numbers: every row has a sort key there (or "-", no value),
 * and at least one has. Decided by the keys, never by how a cell starts,
 * so a name such as "2024-runs" stays left-aligned.
 */
static bool numeric(const struct table *t, size_t c)
{
    bool any = false;

    for (size_t r = 0; r < t->nrows; r++) {
        const struct row *row = &t->rows[r];
        if (!isnan(row->keys[c]))
            any = true;
        else if (strcmp(row->cells[c], "-") != 0)
            return false;
    }
    return any;
}

static const char *percent_color(const char *cell)
{
    size_t n = strlen(cell);
    double v;

    if (n < 2 || cell[n - 1] != '%')
        return NULL;
    v = atof(cell);
    return v >= FULL_PERCENT ? RED : v >= WARN_PERCENT ? YELLOW : NULL;
}

void table_print_values(const struct table *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->nshow; i++)
            printf("%s%s", t->rows[r].cells[t->show[i]], i + 1 < t->nshow ? " " : "\n");
    }
}

void table_print(const struct table *t, bool color, unsigned width)
{
    size_t w[TABLE_MAX_COLS] = {0}, total = 0, widest = t->show[0];
    bool right[TABLE_MAX_COLS];

    for (size_t i = 0; i < t->nshow; i++) {
        size_t c = t->show[i];
        right[c] = numeric(t, c);
        w[c] = strlen(t->header[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t n = strlen(t->rows[r].cells[c]);
            if (n > w[c])
                w[c] = n;
        }
        total += w[c] + 2;
        if (w[c] > w[widest])
            widest = c;
    }
    /* Too wide for the terminal: the widest column gives way, down to 8. */
    if (width && total > width && w[widest] > 8) {
        size_t cut = total - width;
        w[widest] = w[widest] > cut + 8 ? w[widest] - cut : 8;
    }
    for (size_t i = 0; i < t->nshow; i++) {
        size_t c = t->show[i];
        printf("%s%-*s%s%s", color ? BOLD : "", (int)w[c], t->header[c], color ? RESET : "",
               i + 1 < t->nshow ? "  " : "\n");
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->nshow; i++) {
            size_t c = t->show[i];
            const char *cell = t->rows[r].cells[c];
            const char *hue = color ? percent_color(cell) : NULL;
            int n = (int)w[c];
            if (hue)
                fputs(hue, stdout);
            if (right[c])
                printf("%*.*s", n, n, cell);
            else
                printf("%-*.*s", n, n, cell);
            if (hue)
                fputs(RESET, stdout);
            fputs(i + 1 < t->nshow ? "  " : "\n", stdout);
        }
    }
}
