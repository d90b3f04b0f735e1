/*
 * auditlog.c - one audit entry per answered change (see auditlog.h).
 */
#include "auditlog.h"

#include <stdio.h>
#include <string.h>

#include <kairos/audit.h>

#include "auth.h"
#include "metrics.h"
#include "reqlog.h"

/* The encoded header's longest accepted value: a longer one is not decoded at all. */
#define IDENTITY_B64_MAX 1024

void auditlog_identity(const char *header, char *platform, size_t plen, char *identity, size_t ilen)
{
    char decoded[IDENTITY_B64_MAX];
    const char *sp;
    json_t *j;
    char *text;

    platform[0] = identity[0] = '\0';
    if (!header)
        return;
    sp = strchr(header, ' ');
    snprintf(platform, plen, "%.*s", (int)(sp ? (size_t)(sp - header) : strlen(header)), header);
    if (!sp || strlen(sp + 1) >= sizeof(decoded) ||
        auth_base64_decode(sp + 1, decoded, sizeof(decoded)) < 0)
        return;
    /* Kept as compact JSON when it is JSON, as the spec says it is; anything else is dropped. */
    j = json_loads(decoded, JSON_REJECT_DUPLICATES, NULL);
    text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text)
        snprintf(identity, ilen, "%s", text);
    free(text);
    json_decref(j);
}

void call_note(struct call *c, const char *project, enum kairos_kind kind, const char *name)
{
    if (project)
        snprintf(c->note.project, sizeof(c->note.project), "%s", project);
    if (name) {
        c->note.kind = kairos_kind_name(kind);
        snprintf(c->note.name, sizeof(c->note.name), "%s", name);
    }
}

static bool is_change(enum http_method m)
{
    return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

void auditlog_record(const struct call *c, const struct http_request *req,
                     const struct http_response *res)
{
    struct kairos_audit_entry e = {0};
    struct kairos_error err = {0};
    const char *error;
    int rc;

    if (!c->g->k || !is_change(req->method))
        return;
    if (req->request_id)
        snprintf(e.request_id, sizeof(e.request_id), "%s", req->request_id);
    if (c->who.broker) {
        snprintf(e.actor, sizeof(e.actor), "platform");
        auditlog_identity(req->header(req->lookup_arg, "X-Broker-API-Originating-Identity"),
                          e.platform, sizeof(e.platform), e.identity, sizeof(e.identity));
    } else {
        snprintf(e.actor, sizeof(e.actor), "%s", c->who.admin ? "admin" : "project");
        snprintf(e.token_id, sizeof(e.token_id), "%s", c->who.token_id);
    }
    snprintf(e.method, sizeof(e.method), "%s", http_method_name(req->method));
    snprintf(e.path, sizeof(e.path), "%.*s", (int)strcspn(req->path, "?"), req->path);
    snprintf(e.project, sizeof(e.project), "%s", c->note.project);
    snprintf(e.kind, sizeof(e.kind), "%s", c->note.kind ? c->note.kind : "");
    snprintf(e.name, sizeof(e.name), "%s", c->note.name);
    e.status = res->status;
    error = res->status >= 400 && res->body ? json_string_value(json_object_get(res->body, "error"))
                                            : NULL;
    snprintf(e.error, sizeof(e.error), "%s", error ? error : "");
    rc = kairos_audit_append(c->g->k, &e, &err);
    if (rc < 0) {
        /* Best effort: the change stands and its answer is sent; say what was not recorded. */
        metrics_audit_failure(c->g->metrics);
        reqlog_message("warning", req->request_id, "audit: not recorded: %s %.128s -> %u: %s",
                       e.method, e.path, e.status, err.msg);
    }
}
