/*
 * kairosd.h - kairos-csi's calls to kairosd's REST API, through libkairos's
 * REST client, with kairosd's answers turned into gRPC statuses.
 *
 *     400 INVALID_ARGUMENT    401 UNAUTHENTICATED    403 PERMISSION_DENIED
 *     404 NOT_FOUND           409 (the caller says)  422 RESOURCE_EXHAUSTED
 *     503 UNAVAILABLE         other 5xx INTERNAL     no answer UNAVAILABLE
 *
 * The message is kairosd's own description: over quota it is the ledger's
 * ("project climate: volume bytes quota exceeded: ..."), which is what
 * `kubectl describe pvc` then shows.
 *
 * Thread-safe: every call has its own connection.
 */
#ifndef KAIROS_CSI_KAIROSD_H
#define KAIROS_CSI_KAIROSD_H

#include <jansson.h>

#include "csi.h"

/**
 * kd_call() - @method @path on kairosd with bearer @token.
 * @status: kairosd's HTTP status.
 * @answer: its JSON body or NULL; the caller decrefs it.
 * Return: GRPC_STATUS_OK when kairosd answered (whatever the status), or
 * the code replied in @r: UNAVAILABLE (no answer), UNAUTHENTICATED (a
 * token no HTTP header may carry).
 */
grpc_status_code kd_call(const struct csi *c, const char *token, const char *method,
                         const char *path, const json_t *body, long *status, json_t **answer,
                         struct csi_reply *r);

/**
 * kd_refused() - reply what kairosd's refusal (@status, @answer) means,
 * as "@what: kairosd's description".
 * @conflict: the code of a 409 (ALREADY_EXISTS, FAILED_PRECONDITION...).
 * Return: the code replied.
 */
grpc_status_code kd_refused(struct csi_reply *r, long status, const json_t *answer,
                            grpc_status_code conflict, const char *what);

/**
 * kd_do() - kd_call(), then kd_refused() unless kairosd answered 2xx.
 * @answer: on OK, the 2xx answer (decref it); else NULL.
 * Return: GRPC_STATUS_OK or the code replied. @status (may be NULL) is
 * kairosd's status, 0 when it did not answer.
 */
grpc_status_code kd_do(const struct csi *c, const char *token, const char *method, const char *path,
                       const json_t *body, grpc_status_code conflict, const char *what,
                       long *status, json_t **answer, struct csi_reply *r);

/**
 * kd_wait() - poll kairosd's operation @op (a 202's) until it ends.
 * Return: OK when it succeeded; else what its failure means (kairosd
 * records the status the same refusal would have had), replied in @r.
 * DEADLINE_EXCEEDED after KD_WAIT_MAX_S: the work goes on in kairosd.
 */
grpc_status_code kd_wait(const struct csi *c, const char *token, const char *op,
                         grpc_status_code conflict, const char *what, struct csi_reply *r);

/* How long kd_wait() polls: a flatten of a large clone takes its time. */
#define KD_WAIT_MAX_S 1800

/*
 * kd_token() - the kairosd token a call carries in its secrets ("token"),
 * or NULL. Calls that change a volume use no other: the plugin's own token
 * (often an admin's) must never stand in for a namespace's, or a namespace
 * without its secret, or a PV naming another project's volume, would act
 * on a project it cannot prove to be its own.
 */
const char *kd_token(size_t nsecrets, void *secrets);

/* kd_read_token() - kd_token(), else the plugin's own: for calls that only read. */
const char *kd_read_token(const struct csi *c, size_t nsecrets, void *secrets);

#endif
