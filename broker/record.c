/*
 * record.c - object names and JSON shapes of ledger state (see record.h).
 */
#include "record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kairos_project_oid(char *buf, const char *project)
{
    snprintf(buf, KAIROS_KEY_MAX, KAIROS_PROJECT_PREFIX "%s", project);
}

void kairos_alloc_key(char *buf, enum kairos_kind kind, const char *name)
{
    snprintf(buf, KAIROS_KEY_MAX, "a.%s.%s", kairos_kind_name(kind), name);
}

void kairos_intent_key(char *buf, enum kairos_kind kind, const char *name)
{
    snprintf(buf, KAIROS_KEY_MAX, "i.%s.%s", kairos_kind_name(kind), name);
}

uint64_t kairos_json_u64(const json_t *j, const char *key, uint64_t def)
{
    json_t *v = json_object_get(j, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return def;
    return (uint64_t)json_integer_value(v);
}

static json_t *limit_value(uint64_t v)
{
    return v == KAIROS_UNLIMITED ? NULL : json_integer((json_int_t)v);
}

json_t *kairos_counts_to_json(const struct kairos_counts *c)
{
    json_t *j = json_object();

    for (int k = 0; k < KAIROS_KIND_COUNT; k++)
        json_object_set_new(j, kairos_kind_name(k),
                            json_pack("{s:I,s:I}", "bytes", (json_int_t)c->bytes[k], "count",
                                      (json_int_t)c->count[k]));
    json_object_set_new(j, "eff", json_integer((json_int_t)c->eff));
    json_object_set_new(j, "grant", json_integer((json_int_t)c->grant));
    return j;
}

int kairos_counts_from_json(const json_t *j, struct kairos_counts *c)
{
    memset(c, 0, sizeof(*c));
    if (!json_is_object(j))
        return -EIO;
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        json_t *kj = json_object_get(j, kairos_kind_name(k));
        c->bytes[k] = kairos_json_u64(kj, "bytes", 0);
        c->count[k] = kairos_json_u64(kj, "count", 0);
    }
    c->eff = kairos_json_u64(j, "eff", 0);
    c->grant = kairos_json_u64(j, "grant", 0);
    return 0;
}

json_t *kairos_quota_to_json(const struct kairos_quota *q)
{
    json_t *j = json_object();

    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        json_t *kj = json_object();
        json_t *b = k == KAIROS_SNAPSHOT ? NULL : limit_value(q->kind[k].bytes);
        json_t *n = limit_value(q->kind[k].count);
        if (b)
            json_object_set_new(kj, "bytes", b);
        if (n)
            json_object_set_new(kj, "count", n);
        json_object_set_new(j, kairos_kind_name(k), kj);
    }
    if (q->total_bytes != KAIROS_UNLIMITED)
        json_object_set_new(j, "total_bytes", json_integer((json_int_t)q->total_bytes));
    return j;
}

int kairos_quota_from_json(const json_t *j, struct kairos_quota *q)
{
    kairos_quota_unlimited(q);
    if (!json_is_object(j))
        return -EIO;
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        json_t *kj = json_object_get(j, kairos_kind_name(k));
        q->kind[k].bytes = kairos_json_u64(kj, "bytes", KAIROS_UNLIMITED);
        q->kind[k].count = kairos_json_u64(kj, "count", KAIROS_UNLIMITED);
    }
    q->total_bytes = kairos_json_u64(j, "total_bytes", KAIROS_UNLIMITED);
    return 0;
}

json_t *kairos_owner_to_json(const struct kairos_owner *o)
{
    return json_pack("{s:s,s:s}", "platform", o->platform, "id", o->id);
}

void kairos_owner_from_json(const json_t *j, struct kairos_owner *o)
{
    const char *p = json_string_value(json_object_get(j, "platform"));
    const char *id = json_string_value(json_object_get(j, "id"));

    memset(o, 0, sizeof(*o));
    snprintf(o->platform, sizeof(o->platform), "%s", p ? p : "");
    snprintf(o->id, sizeof(o->id), "%s", id ? id : "");
}

static const char *const op_names[] = {
    [KAIROS_OP_NONE] = "none",
    [KAIROS_OP_CREATE] = "create",
    [KAIROS_OP_RESIZE] = "resize",
    [KAIROS_OP_DELETE] = "delete",
};

const char *kairos_op_name(enum kairos_op op)
{
    return (unsigned)op <= KAIROS_OP_DELETE ? op_names[op] : "?";
}

enum kairos_op kairos_op_parse(const char *s)
{
    for (unsigned i = 0; s && i <= KAIROS_OP_DELETE; i++) {
        if (strcmp(op_names[i], s) == 0)
            return (enum kairos_op)i;
    }
    return KAIROS_OP_NONE;
}

static const char *const state_names[] = {
    [KAIROS_PROJECT_ACTIVE] = "active",
    [KAIROS_PROJECT_CREATING] = "creating",
    [KAIROS_PROJECT_DELETING] = "deleting",
};

const char *kairos_project_state_name(enum kairos_project_state s)
{
    return (unsigned)s <= KAIROS_PROJECT_DELETING ? state_names[s] : "?";
}

enum kairos_project_state kairos_project_state_parse(const char *s)
{
    for (unsigned i = 0; s && i <= KAIROS_PROJECT_DELETING; i++) {
        if (strcmp(state_names[i], s) == 0)
            return (enum kairos_project_state)i;
    }
    return KAIROS_PROJECT_ACTIVE;
}

int kairos_alloc_from_record(struct kairos_alloc *a, const char *project, enum kairos_kind kind,
                             const char *name, const char *record)
{
    json_t *j = json_loads(record, 0, NULL);
    const char *intent, *op;
    json_t *attrs;

    memset(a, 0, sizeof(*a));
    if (!json_is_object(j)) {
        json_decref(j);
        return -EIO;
    }
    snprintf(a->project, sizeof(a->project), "%s", project);
    a->kind = kind;
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->bytes = kairos_json_u64(j, "bytes", 0);
    a->created_ms = kairos_json_u64(j, "created", 0);
    op = json_string_value(json_object_get(j, "op"));
    a->op = kairos_op_parse(op);
    a->pending = a->op != KAIROS_OP_NONE;
    a->target_bytes = kairos_json_u64(j, "target", a->bytes);
    a->intent_ms = kairos_json_u64(j, "ts", 0);
    intent = json_string_value(json_object_get(j, "intent"));
    snprintf(a->intent, sizeof(a->intent), "%s", intent ? intent : "");
    attrs = json_object_get(j, "attrs");
    a->attrs = attrs ? json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    json_decref(j);
    return a->attrs ? 0 : -ENOMEM;
}
