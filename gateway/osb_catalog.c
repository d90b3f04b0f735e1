/*
 * osb_catalog.c - the service catalog, built from the plans of the
 * policy, and the resolution of a request's service_id and plan_id.
 *
 * Services "kairos-volume", "kairos-share" and "kairos-bucket"; one plan
 * per plan of the policy that gives the kind an allocation size (plan id
 * "kairos-<kind>-<plan>"). Each plan says in its metadata which of its
 * operations answer synchronously and which asynchronously (202 and an
 * operation, accepts_incomplete=true required), as README.md does.
 */
#include <stdio.h>
#include <string.h>

#include "osb_int.h"

const enum kairos_kind osb_kinds[] = {KAIROS_VOLUME, KAIROS_SHARE, KAIROS_BUCKET};
const size_t osb_nkinds = sizeof(osb_kinds) / sizeof(osb_kinds[0]);

void osb_service_id(char *buf, size_t len, enum kairos_kind kind)
{
    snprintf(buf, len, "kairos-%s", kairos_kind_name(kind));
}

void osb_plan_id(char *buf, size_t len, enum kairos_kind kind, const char *plan)
{
    snprintf(buf, len, "kairos-%s-%s", kairos_kind_name(kind), plan);
}

static const char *const service_text[] = {
    [KAIROS_VOLUME] = "Block volumes (Ceph RBD) for VMs and pods",
    [KAIROS_SHARE] = "Shared POSIX file systems (CephFS) for many clients",
    [KAIROS_BUCKET] = "S3 object storage (Ceph RGW)",
};

/*
 * Which operations of a plan run asynchronously, in words a platform
 * operator reads ("never", "always", or the condition), and a sentence for
 * the plan's description.
 */
static json_t *async_json(enum kairos_kind kind, uint64_t size, uint64_t threshold, char *sentence,
                          size_t len)
{
    char t[KAIROS_SIZE_STR_MAX], when_update[64], when_delete[64];

    kairos_size_format(threshold, t, sizeof(t));
    if (kind == KAIROS_VOLUME) {
        snprintf(when_update, sizeof(when_update), "a resize by %s or more", t);
        if (size >= threshold)
            snprintf(when_delete, sizeof(when_delete), "always");
        else
            snprintf(when_delete, sizeof(when_delete), "a volume of %s or more", t);
        snprintf(sentence, len,
                 "Asynchronous (202, accepts_incomplete=true): a clone, a resize by %s or more, "
                 "deleting a volume of %s or more; the rest answers at once.",
                 t, t);
        return json_pack("{s:s,s:s,s:s,s:s,s:s}", "provision", "a clone (parameters.source)",
                         "update", when_update, "deprovision", when_delete, "bind", "never",
                         "unbind", "never");
    }
    snprintf(sentence, len,
             "Asynchronous (202, accepts_incomplete=true): deprovisioning, which deletes the "
             "%s's data; the rest answers at once.",
             kairos_kind_name(kind));
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "provision", "never", "update", "never",
                     "deprovision", "always", "bind", "never", "unbind", "never");
}

static json_t *plan_json(struct call *c, enum kairos_kind kind, const struct kairos_plan *p)
{
    char id[128], sentence[256], description[512];
    json_t *quota = json_object(), *async;

    osb_plan_id(id, sizeof(id), kind, p->name);
    for (int k = 0; k < KAIROS_KIND_COUNT; k++) {
        const struct kairos_limit *l = &p->quota.kind[k];
        json_t *q = json_object();
        if (l->bytes != KAIROS_UNLIMITED)
            json_object_set_new(q, "bytes", json_integer((json_int_t)l->bytes));
        if (l->count != KAIROS_UNLIMITED)
            json_object_set_new(q, "count", json_integer((json_int_t)l->count));
        json_object_set_new(quota, kairos_kind_name(k), q);
    }
    async = async_json(kind, p->size[kind], osb_async_bytes(c), sentence, sizeof(sentence));
    snprintf(description, sizeof(description), "%s. %s", p->description ? p->description : p->name,
             sentence);
    /* A bucket keeps the size it was made with: no plan change can be honoured. */
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:{s:I,s:o,s:o}}", "id", id, "name", p->name,
                     "description", description, "free", 1, "bindable", 1, "plan_updateable",
                     kind != KAIROS_BUCKET, "metadata", "size", (json_int_t)p->size[kind],
                     "project_quota", quota, "asynchronous", async);
}

unsigned osb_catalog(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    const struct kairos_policy *pol = gateway_policy(c->g);
    json_t *services = json_array();

    (void)req;
    for (size_t i = 0; i < osb_nkinds; i++) {
        enum kairos_kind kind = osb_kinds[i];
        json_t *plans = json_array();
        char id[64];
        for (size_t p = 0; p < pol->nplans; p++) {
            if (pol->plans[p].size[kind])
                json_array_append_new(plans, plan_json(c, kind, &pol->plans[p]));
        }
        if (json_array_size(plans) == 0) {
            json_decref(plans);
            continue;
        }
        osb_service_id(id, sizeof(id), kind);
        json_t *s = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:[s,s],s:o}", "id", id, "name", id,
                              "description", service_text[kind], "bindable", 1, "plan_updateable",
                              kind != KAIROS_BUCKET, "instances_retrievable", 1,
                              "bindings_retrievable", 1, "allow_context_updates", 0, "tags", "ceph",
                              kairos_kind_name(kind), "plans", plans);
        if (kind == KAIROS_SHARE)
            json_object_set_new(s, "requires", json_pack("[s]", "volume_mount"));
        json_array_append_new(services, s);
    }
    return http_json(res, 200, json_pack("{s:o}", "services", services));
}

bool osb_resolve_plan(struct call *c, const char *service, const char *plan, enum kairos_kind *kind,
                      const struct kairos_plan **out, struct http_response *res)
{
    const struct kairos_policy *pol = gateway_policy(c->g);
    char id[128];

    if (!service || !service[0] || !plan || !plan[0]) {
        http_error(res, 400, "BadRequest", "service_id and plan_id are required, non-empty");
        return false;
    }
    for (size_t i = 0; i < osb_nkinds; i++) {
        osb_service_id(id, sizeof(id), osb_kinds[i]);
        if (strcmp(id, service) != 0)
            continue;
        *kind = osb_kinds[i];
        for (size_t p = 0; p < pol->nplans; p++) {
            osb_plan_id(id, sizeof(id), *kind, pol->plans[p].name);
            if (strcmp(id, plan) == 0 && pol->plans[p].size[*kind]) {
                *out = &pol->plans[p];
                return true;
            }
        }
        http_error(res, 400, "BadRequest", "plan_id %.64s is no plan of %s in this catalog", plan,
                   service);
        return false;
    }
    http_error(res, 400, "BadRequest", "service_id %.64s is no service of this catalog", service);
    return false;
}
