/*
 * osb_int.h - what the Open Service Broker modules share: the catalog's
 * ids, the instance and binding records in the registry, the checks every
 * route makes, and the answers they give.
 *
 *   osb.c             routes, version header, shared checks and answers
 *   osb_catalog.c     the catalog, and service_id/plan_id resolution
 *   osb_context.c     which project a request's context names
 *   osb_records.c     instance and binding records, and their tombstones
 *   osb_instances.c   provision, fetch, update, deprovision
 *   osb_bindings.c    bind, fetch, unbind
 *   osb_operations.c  last_operation of instances and bindings
 *
 * An instance record ("instance" space, keyed by the instance id):
 *   {"service_id", "plan_id", "parameters", "project", "kind", "name",
 *    "state": "provisioning"|"ready"|"failed"|"updating"|"deprovisioning",
 *    "started" (ms; when the running state began), "operation" (the last
 *    asynchronous operation), "pending" (the update under way),
 *    "previous_plan_id" (the plan before the last plan change)}
 * A binding record ("binding" space, keyed by the binding id):
 *   {"instance", "binding" (its Kairos name), "read_only", "plan_id"}
 * Deleting either leaves a tombstone ("instance-gone", "binding-gone",
 * written in the same atomic swap): {"deleted", "operation", "instance",
 * "expires"}; last_operation answers 200 "succeeded" from it for the
 * retention, 410 after, and 404 once it is swept (twice the retention).
 */
#ifndef KAIROSD_OSB_INT_H
#define KAIROSD_OSB_INT_H

#include <stdbool.h>

#include <kairos/kairos.h>

#include "gateway.h"
#include "http.h"
#include "ops.h"

#define SPACE_INSTANCE      "instance"
#define SPACE_INSTANCE_GONE "instance-gone"
#define SPACE_BINDING       "binding"
#define SPACE_BINDING_GONE  "binding-gone"

/*
 * A synchronous operation (no operation record) still marked running this
 * long lost its kairosd: no request is answered after so long.
 */
#define OSB_SYNC_STALE_MS (10 * 60 * 1000ULL)

/* Attempts at a record swap that keeps meeting a concurrent change. */
#define OSB_SWAP_ATTEMPTS 8

/* ---- catalog (osb_catalog.c) ---- */

/* The kinds the catalog offers, in its order. */
extern const enum kairos_kind osb_kinds[];
extern const size_t osb_nkinds;

unsigned osb_catalog(void *ctx, struct http_request *req, struct http_response *res);

/* "kairos-<kind>" and "kairos-<kind>-<plan>". */
void osb_service_id(char *buf, size_t len, enum kairos_kind kind);
void osb_plan_id(char *buf, size_t len, enum kairos_kind kind, const char *plan);

/*
 * osb_resolve_plan() - the kind and plan that (@service, @plan) name in
 * this catalog, or false after answering 400 (missing, empty or unknown).
 */
bool osb_resolve_plan(struct call *c, const char *service, const char *plan, enum kairos_kind *kind,
                      const struct kairos_plan **out, struct http_response *res);

/* ---- context (osb_context.c) ---- */

/*
 * osb_project_of() - the project an OSB provision's body names, from its
 * context or, without one, from organization_guid and space_guid (the
 * rule is in README.md). With @create, a project not there yet is made
 * (with the default plan's quota) or a legacy one claimed; without, only
 * found. @project receives the name (KAIROS_NAME_MAX + 1 bytes).
 * Return: 0; -ENOENT (none yet, !@create); -EINVAL after answering 400;
 * or a libkairos error (not answered; @err says why).
 */
int osb_project_of(struct call *c, const json_t *body, bool create, char *project,
                   struct http_response *res, struct kairos_error *err);

/* Does a provision's body name a project by the rule? False after answering 400. */
bool osb_context_valid(const json_t *body, struct http_response *res);

/*
 * osb_name_of() - a Kairos name for an outside id: the id itself when it
 * is one, else "<prefix>-<24 hex digits of its SHA-256>". Not lowercased:
 * ids "ABC" and "abc" are two names.
 */
void osb_name_of(char *buf, const char *prefix, const char *id);

/* ---- records (osb_records.c) ---- */

struct instance {
    char *text;  /* as stored: what the next swap expects */
    char *gone;  /* the tombstone, as stored, or NULL */
    json_t *rec; /* parsed; NULL when there is no instance */
    const char *project, *name, *state, *operation, *service_id, *plan_id;
    enum kairos_kind kind;
};

/*
 * instance_load() - the record of instance @id and its tombstone, in one
 * read. A missing instance is no error: in->rec is NULL (in->gone may be
 * set). Return: 0, -EIO (a corrupt record), or a registry error.
 */
int instance_load(struct call *c, const char *id, struct instance *in, struct kairos_error *err);
void instance_clear(struct instance *in);

/*
 * instance_swap() - replace @in's record with @rec (NULL: remove it, and
 * leave a tombstone naming @operation) if nobody changed it since @in was
 * loaded. A new record removes a tombstone left there.
 * Return: 0, -ECANCELED (changed meanwhile), or a registry error.
 */
int instance_swap(struct call *c, const char *id, const struct instance *in, const json_t *rec,
                  const char *operation, struct kairos_error *err);

/*
 * instance_set_state() - move instance @id from @from (NULL: any state) to
 * @state, with @operation (NULL: none) and "started" set to now while
 * @state runs; @edit, when not NULL, changes the record further. Reloads
 * and retries on a concurrent change.
 * Return: 0, -ESTALE (no longer in @from, or gone), or a registry error.
 */
typedef void (*instance_edit_fn)(json_t *rec, void *arg);
int instance_set_state(struct call *c, const char *id, const char *from, const char *state,
                       const char *operation, instance_edit_fn edit, void *arg,
                       struct kairos_error *err);

/*
 * instance_forget() - remove instance @id if still in @from: deprovisioned
 * (a tombstone naming @operation stays), or, without @tombstone, never
 * made (a failed synchronous provision). Return: as instance_set_state().
 */
int instance_forget(struct call *c, const char *id, const char *from, bool tombstone,
                    const char *operation, struct kairos_error *err);

/* Is a state one of the running ones (provisioning, updating, deprovisioning)? */
bool osb_state_running(const char *state);

/*
 * instance_running() - is @in's running state still running (here or in
 * another kairosd)? Its operation is in progress and not stale, or, for a
 * synchronous one, it began less than OSB_SYNC_STALE_MS ago. @op receives
 * the operation record when there is one (caller decrefs; may be NULL).
 */
bool instance_running(struct call *c, const struct instance *in, json_t **op);

/* A tombstone's "deleted" time is within the retention: last_operation still says succeeded. */
bool osb_gone_recently(struct call *c, const char *gone);

/* ---- shared checks and answers (osb.c) ---- */

/* A resize by this much, or a volume delete this large, is asynchronous ([server] async_bytes). */
uint64_t osb_async_bytes(const struct call *c);

/* A string field, where "" counts as absent (DESIGN.md): NULL when absent or empty. */
const char *osb_string(const json_t *obj, const char *key);

/* The query argument @name, "" counting as absent. */
const char *osb_query(const struct http_request *req, const char *name);

/* Is @id a valid instance or binding id? Else answers 400. */
bool osb_id_ok(const char *id, const char *what, struct http_response *res);

/*
 * osb_ids_match() - the service_id and plan_id a request gives (in its
 * query, or @body when not NULL) against @in's: a given id must be
 * non-empty and the instance's; @plan_alt is another plan accepted (the
 * plan before an update, or a binding's), or NULL. With @required, both
 * must be there. False after answering 400.
 */
bool osb_ids_match(const struct http_request *req, const json_t *body, const struct instance *in,
                   const char *plan_alt, bool required, struct http_response *res);

/*
 * osb_begin() - instance_set_state() of @id from @from into the running
 * @state; false after answering (422 ConcurrencyError when it changed
 * meanwhile).
 */
bool osb_begin(struct call *c, const char *id, const char *from, const char *state,
               const char *operation, instance_edit_fn edit, void *arg, struct http_response *res);

/*
 * osb_submit() - run @fn(@job) as operation @op, @what, of instance @id in
 * @project, and answer 202. If it cannot start, @job is freed, the
 * instance goes back from @running to @back (@edit applied) and the answer
 * is 503. @op, @project and @id may point into @job.
 */
unsigned osb_submit(struct call *c, const char *op, const char *what, const char *project,
                    const char *id, const char *running, const char *back, instance_edit_fn edit,
                    ops_fn fn, void *job, struct http_response *res);

/* 202 {"operation": @op} with Retry-After. */
unsigned osb_accepted(struct http_response *res, const char *op);

/* 200 {"state": @state, "description"}, with Retry-After while in progress. */
unsigned osb_state(struct http_response *res, const char *state, const char *description);

/* 422 ConcurrencyError: instance @id is @state. */
unsigned osb_busy(struct http_response *res, const char *what, const char *id, const char *state);

/* 422 AsyncRequired. */
unsigned osb_async_required(struct http_response *res, const char *what);

/*
 * osb_fail() - a libkairos error as the OSB spec wants it: a request in
 * flight on the same name is 422 ConcurrencyError, a change the broker
 * cannot make is 422 (with update_repeatable false); the rest as api_fail().
 */
unsigned osb_fail(struct call *c, struct http_response *res, enum kairos_kind kind, int rc,
                  const struct kairos_error *err);

/* ---- handlers ---- */

unsigned osb_provision(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_fetch_instance(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_update(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_deprovision(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_instance_last_operation(void *ctx, struct http_request *req,
                                     struct http_response *res);
unsigned osb_bind(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_fetch_binding(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_unbind(void *ctx, struct http_request *req, struct http_response *res);
unsigned osb_binding_last_operation(void *ctx, struct http_request *req, struct http_response *res);

#endif
