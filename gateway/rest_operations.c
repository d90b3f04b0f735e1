/*
 * rest_operations.c - REST v1: asynchronous operations (ops.h). An
 * operation belongs to the project it works in: a project token sees its
 * own project's only (another's is "not found", so ids are not probed);
 * the admin token sees all.
 */
#include <string.h>

#include "rest_int.h"

unsigned rest_operation_show(void *ctx, struct http_request *req, struct http_response *res)
{
    struct call *c = ctx;
    struct kairos_error err = {0};
    const char *id = req->params[0], *project;
    json_t *op;
    int rc;

    if (!ops_id_valid(id))
        return http_error(res, 400, "BadRequest", "bad operation id: %d hex digits", OPS_ID_LEN);
    rc = ops_get(c->g, id, &op, &err);
    if (rc < 0)
        return api_fail(c, res, KAIROS_VOLUME, rc, &err);
    project = json_string_value(json_object_get(op, "project"));
    if (!c->who.admin && (!project || strcmp(project, c->who.project) != 0)) {
        json_decref(op);
        return http_error(res, 404, "NotFound", "no operation %s", id);
    }
    /* Bookkeeping, not the API's: the OSB instance and the expiry stay inside. */
    json_object_set_new(op, "id", json_string(id));
    json_object_del(op, "instance");
    json_object_del(op, "expires");
    return http_json(res, 200, op);
}
