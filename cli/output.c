/*
 * output.c - kairosctl's output formats and -c columns (see output.h).
 */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "ctl.h"

static const char *const names[] = {"table", "json", "yaml", "value"};
static const struct ctl *used;

bool output_format_parse(const char *name, enum ctl_format *out)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum ctl_format)i;
            return true;
        }
    }
    return false;
}

bool output_column_add(struct ctl *c, const char *column)
{
    if (c->ncolumns == TABLE_MAX_COLS)
        return false;
    c->columns[c->ncolumns++] = column;
    return true;
}

bool output_machine(const struct ctl *c)
{
    return c->format == CTL_FORMAT_JSON || c->format == CTL_FORMAT_YAML;
}

void output_use(const struct ctl *c)
{
    used = c;
}

/* A column or field name as the user wrote it: "created-ms" is created_ms, any case. */
static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if ((x | 0x20) != (y | 0x20))
            return false;
    }
    return *a == *b;
}

/* The key of @obj that -c @column names, or NULL. */
static const char *field(const json_t *obj, const char *column)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        if (same_name(key, column))
            return key;
    }
    return NULL;
}

/* @j with only the -c fields; a new reference. Return: NULL when a column names none. */
static json_t *pick(const struct ctl *c, const json_t *j, const char **missing)
{
    json_t *out, *item;
    size_t i;

    if (!c->ncolumns || (!json_is_object(j) && !json_is_array(j)))
        return json_incref((json_t *)j);
    if (json_is_array(j)) {
        out = json_array();
        json_array_foreach(j, i, item)
        {
            json_t *p = json_is_object(item) ? pick(c, item, missing) : json_incref(item);
            if (!p) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, p);
        }
        return out;
    }
    out = json_object();
    for (i = 0; i < c->ncolumns; i++) {
        const char *key = field(j, c->columns[i]);
        if (!key) {
            *missing = c->columns[i];
            json_decref(out);
            return NULL;
        }
        json_object_set(out, key, json_object_get(j, key));
    }
    return out;
}

/* ---- YAML ---- */

/* A string YAML would read as something else (a number, a boolean, null) is quoted. */
static bool plain_ok(const char *s)
{
    static const char *const special[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
    char *end;

    if (!*s || strspn(s, " ") || s[strlen(s) - 1] == ' ')
        return false;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcasecmp(s, special[i]) == 0)
            return false;
    }
    strtod(s, &end);
    return *end != '\0';
}

static int scalar(yaml_emitter_t *e, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;

    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1, style);
    return yaml_emitter_emit(e, &ev);
}

static int emit(yaml_emitter_t *e, const json_t *j)
{
    yaml_event_t ev;
    const char *key;
    json_t *v;
    size_t i;
    char num[64];
    int ok = 1;

    switch (json_typeof(j)) {
    case JSON_OBJECT:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        ok = yaml_emitter_emit(e, &ev);
        json_object_foreach((json_t *)j, key, v) ok =
            ok && scalar(e, key, YAML_ANY_SCALAR_STYLE) && emit(e, v);
        yaml_mapping_end_event_initialize(&ev);
        return ok && yaml_emitter_emit(e, &ev);
    case JSON_ARRAY:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        ok = yaml_emitter_emit(e, &ev);
        json_array_foreach(j, i, v) ok = ok && emit(e, v);
        yaml_sequence_end_event_initialize(&ev);
        return ok && yaml_emitter_emit(e, &ev);
    case JSON_STRING:
        return scalar(e, json_string_value(j),
                      plain_ok(json_string_value(j)) ? YAML_ANY_SCALAR_STYLE
                                                     : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(j));
        return scalar(e, num, YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
    case JSON_FALSE:
        return scalar(e, json_is_true(j) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
    default:
        return scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
    }
}

static int write_out(void *data, unsigned char *buf, size_t size)
{
    return fwrite(buf, 1, size, data) == size;
}

static void print_yaml(const json_t *j)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    int ok;

    yaml_emitter_initialize(&e);
    yaml_emitter_set_output(&e, write_out, stdout);
    yaml_emitter_set_unicode(&e, 1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = yaml_emitter_emit(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&e, &ev) && emit(&e, j);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&e, &ev);
    if (!ok)
        fprintf(stderr, "kairosctl: cannot write YAML: %s\n", e.problem ? e.problem : "?");
    yaml_emitter_delete(&e);
}

/* ---- values ---- */

/* A scalar as its text; anything else as compact JSON. */
static void print_value(const json_t *v)
{
    char *s;

    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else if (json_is_null(v)) {
        fputs("-", stdout);
    } else {
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fputs(s ? s : "", stdout);
        free(s);
    }
}

static void print_values(const json_t *j)
{
    const char *key;
    json_t *v, *item;
    size_t i;

    if (json_is_array(j)) {
        json_array_foreach(j, i, item)
        {
            bool first = true;
            if (!json_is_object(item)) {
                print_value(item);
                putchar('\n');
                continue;
            }
            json_object_foreach(item, key, v)
            {
                if (!first)
                    putchar(' ');
                print_value(v);
                first = false;
            }
            putchar('\n');
        }
    } else if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v)
        {
            print_value(v);
            putchar('\n');
        }
    } else {
        print_value(j);
        putchar('\n');
    }
}

int output_doc(const struct ctl *c, const json_t *j)
{
    const char *missing = NULL;
    json_t *p = pick(c, j, &missing);
    char *s;

    if (!p)
        return ctl_fail(CTL_BAD_INPUT, "no field '%s' to show", missing);
    if (c->format == CTL_FORMAT_YAML) {
        print_yaml(p);
    } else if (c->format == CTL_FORMAT_VALUE) {
        print_values(p);
    } else {
        /* Sorted as kairosd's fields always were; -c's in the order asked. */
        s = json_dumps(p, JSON_INDENT(2) | JSON_ENCODE_ANY | (c->ncolumns ? 0 : JSON_SORT_KEYS));
        if (s)
            puts(s);
        free(s);
    }
    json_decref(p);
    return CTL_OK;
}

int output_table(const struct ctl *c, struct table *t)
{
    if (c->ncolumns && !table_select(t, c->columns, c->ncolumns)) {
        for (size_t i = 0; i < c->ncolumns; i++) {
            if (!table_has(t, c->columns[i]))
                return ctl_fail(CTL_BAD_INPUT, "no column '%s' to show", c->columns[i]);
        }
    }
    if (c->format == CTL_FORMAT_VALUE)
        table_print_values(t);
    else
        table_print(t, c->color, c->width);
    return CTL_OK;
}

void output_error(int code, long status, const char *msg)
{
    json_t *j;
    char *s;

    if (!used || !output_machine(used))
        return;
    j = json_pack("{s:s,s:i}", "error", msg, "exit", code);
    if (status)
        json_object_set_new(j, "status", json_integer(status));
    s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}
