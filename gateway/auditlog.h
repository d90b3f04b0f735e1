/*
 * auditlog.h - kairosd's side of the audit log (kairos/audit.h): after a
 * changing request (POST, PUT, PATCH, DELETE) was answered by its handler,
 * one entry with who asked, what, and the answer. Called from one place,
 * api_handle(), which runs on the request's worker thread: a request cut
 * at its deadline (503 to the client) is still recorded with the outcome
 * its handler reached.
 *
 * Never recorded: a request body, a token, the Authorization header.
 * Requests that did not reach a handler (no route, no valid credentials)
 * change nothing and are not recorded. A failed append changes no answer:
 * it is logged on stderr and counted (kairos_audit_failures_total).
 *
 * Thread-safety: may be called from any thread.
 */
#ifndef KAIROSD_AUDITLOG_H
#define KAIROSD_AUDITLOG_H

#include "gateway.h"
#include "http.h"

/* Record @req, answered @res, by the caller of @c, if it is a change. */
void auditlog_record(const struct call *c, const struct http_request *req,
                     const struct http_response *res);

/*
 * auditlog_identity() - the platform and the decoded value of an OSB
 * X-Broker-API-Originating-Identity header ("<platform> <base64 JSON>"),
 * each cut to its buffer. @identity is "" when the value is missing or not
 * base64 of JSON. Pure: the unit tests call it.
 */
void auditlog_identity(const char *header, char *platform, size_t plen, char *identity,
                       size_t ilen);

#endif
