/*
 * osb_records.c - service instance records and their tombstones in the
 * registry (see osb_int.h for their fields).
 *
 * Every change is a swap of the record as it was read: two requests on the
 * same instance cannot both move it, and requests on other instances never
 * get in each other's way (the registry guards single keys).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osb_int.h"

static const char *field(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

void instance_clear(struct instance *in)
{
    json_decref(in->rec);
    free(in->text);
    free(in->gone);
    memset(in, 0, sizeof(*in));
}

int instance_load(struct call *c, const char *id, struct instance *in, struct kairos_error *err)
{
    const char *spaces[] = {SPACE_INSTANCE, SPACE_INSTANCE_GONE};
    char *texts[2] = {NULL, NULL};
    const char *kind;
    int rc;

    memset(in, 0, sizeof(*in));
    rc = kairos_registry_get_many(c->g->k, spaces, 2, id, texts, err);
    if (rc < 0)
        return rc;
    in->text = texts[0];
    in->gone = texts[1];
    if (!in->text)
        return 0;
    in->rec = json_loads(in->text, 0, NULL);
    kind = field(in->rec, "kind");
    in->project = field(in->rec, "project");
    in->name = field(in->rec, "name");
    in->state = field(in->rec, "state");
    in->operation = field(in->rec, "operation");
    in->service_id = field(in->rec, "service_id");
    in->plan_id = field(in->rec, "plan_id");
    if (!kind || kairos_kind_parse(kind, &in->kind) < 0 || !in->project || !in->name ||
        !in->state || !in->service_id || !in->plan_id) {
        instance_clear(in);
        return kairos_error_set(err, -EIO, "corrupt instance record %s", id);
    }
    call_note(c, in->project, in->kind, in->name);
    return 0;
}

/*
 * A tombstone: when, by which operation, of which service and plan; kept
 * twice the retention, then swept.
 */
static char *tombstone(struct call *c, const char *operation, const struct instance *in)
{
    uint64_t now = ops_now_ms();
    json_t *j = json_pack("{s:I,s:I,s:s,s:s}", "deleted", (json_int_t)now, "expires",
                          (json_int_t)(now + 2 * gateway_retention_ms(c->g)), "service_id",
                          in->service_id, "plan_id", in->plan_id);
    char *text;

    if (operation)
        json_object_set_new(j, "operation", json_string(operation));
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

int instance_swap(struct call *c, const char *id, const struct instance *in, const json_t *rec,
                  const char *operation, struct kairos_error *err)
{
    struct kairos_registry_change ch[2] = {{SPACE_INSTANCE, in->text, NULL},
                                           {SPACE_INSTANCE_GONE, in->gone, NULL}};
    char *text = NULL, *gone = NULL;
    size_t n = 1;
    int rc;

    if (rec) {
        text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
        ch[0].json = text;
        /* An id used again after its deletion: the tombstone goes. */
        n = in->gone ? 2 : 1;
    } else {
        gone = tombstone(c, operation, in);
        ch[1].json = gone;
        n = 2;
    }
    rc = (rec ? text : gone) ? kairos_registry_swap(c->g->k, id, ch, n, err)
                             : kairos_error_set(err, -ENOMEM, "out of memory");
    free(text);
    free(gone);
    return rc;
}

bool osb_state_running(const char *state)
{
    return strcmp(state, "provisioning") == 0 || strcmp(state, "updating") == 0 ||
           strcmp(state, "deprovisioning") == 0;
}

/* Load @id and check it is in @from: 0, -ESTALE, or an error. */
static int load_in(struct call *c, const char *id, const char *from, struct instance *in,
                   struct kairos_error *err)
{
    int rc = instance_load(c, id, in, err);

    if (rc == 0 && (!in->rec || (from && strcmp(in->state, from) != 0))) {
        instance_clear(in);
        rc = kairos_error_set(err, -ESTALE, "instance %s moved on", id);
    }
    return rc;
}

int instance_set_state(struct call *c, const char *id, const char *from, const char *state,
                       const char *operation, instance_edit_fn edit, void *arg,
                       struct kairos_error *err)
{
    int rc = -ECANCELED;

    for (int attempt = 0; rc == -ECANCELED && attempt < OSB_SWAP_ATTEMPTS; attempt++) {
        struct instance in;
        json_t *rec;

        kairos_error_clear(err);
        rc = load_in(c, id, from, &in, err);
        if (rc < 0)
            return rc;
        rec = json_deep_copy(in.rec);
        json_object_set_new(rec, "state", json_string(state));
        /* The operation of this state, if asynchronous; an older one no longer says anything. */
        if (operation)
            json_object_set_new(rec, "operation", json_string(operation));
        else
            json_object_del(rec, "operation");
        if (osb_state_running(state))
            json_object_set_new(rec, "started", json_integer((json_int_t)ops_now_ms()));
        else
            json_object_del(rec, "started");
        if (edit)
            edit(rec, arg);
        rc = instance_swap(c, id, &in, rec, NULL, err);
        json_decref(rec);
        instance_clear(&in);
    }
    return rc;
}

int instance_forget(struct call *c, const char *id, const char *from, bool tombstone,
                    const char *operation, struct kairos_error *err)
{
    int rc = -ECANCELED;

    for (int attempt = 0; rc == -ECANCELED && attempt < OSB_SWAP_ATTEMPTS; attempt++) {
        struct instance in;

        kairos_error_clear(err);
        rc = load_in(c, id, from, &in, err);
        if (rc < 0)
            return rc;
        if (tombstone) {
            rc = instance_swap(c, id, &in, NULL, operation, err);
        } else {
            struct kairos_registry_change ch = {SPACE_INSTANCE, in.text, NULL};
            rc = kairos_registry_swap(c->g->k, id, &ch, 1, err);
        }
        instance_clear(&in);
    }
    return rc;
}

bool instance_running(struct call *c, const struct instance *in, json_t **op)
{
    const json_t *started = json_object_get(in->rec, "started");
    uint64_t since = json_is_integer(started) ? (uint64_t)json_integer_value(started) : 0;
    json_t *rec = NULL;
    bool running;

    if (op)
        *op = NULL;
    if (!osb_state_running(in->state))
        return false;
    /* Synchronous: running while a request could still be waiting for it. */
    if (!in->operation)
        return ops_now_ms() < since + OSB_SYNC_STALE_MS;
    /* Asynchronous: its record says; without one, its age. */
    if (ops_id_valid(in->operation) && ops_get(c->g, in->operation, &rec, NULL) == 0)
        running = ops_running(rec);
    else
        running = ops_now_ms() < since + OPS_STALE_MS;
    if (op)
        *op = rec;
    else
        json_decref(rec);
    return running;
}

bool osb_gone_recently(struct call *c, const char *gone)
{
    json_t *j = gone ? json_loads(gone, 0, NULL) : NULL;
    const json_t *d = json_object_get(j, "deleted");
    bool recent = json_is_integer(d) &&
                  ops_now_ms() < (uint64_t)json_integer_value(d) + gateway_retention_ms(c->g);

    json_decref(j);
    return recent;
}
