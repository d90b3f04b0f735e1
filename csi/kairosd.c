/*
 * kairosd.c - REST calls to kairosd and what their answers mean in gRPC
 * (see kairosd.h).
 */
#include "kairosd.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kairos/client.h>

#define CONNECT_TIMEOUT_S 5
/* One REST call; slow work (clones, share deletes) runs as operations. */
#define CALL_TIMEOUT_S 120
/* Polls of an operation start fast (most end within 100 ms) and slow down. */
#define POLL_FIRST_US 20000
#define POLL_MAX_US   1000000

const char *csi_map_get(size_t n, void *entries, const char *key)
{
    struct csi_kv **kv = entries;

    for (size_t i = 0; i < n; i++)
        if (kv[i]->key && strcmp(kv[i]->key, key) == 0)
            return kv[i]->value;
    return NULL;
}

const char *kd_token(size_t nsecrets, void *secrets)
{
    const char *t = csi_map_get(nsecrets, secrets, "token");

    return t && *t ? t : NULL;
}

const char *kd_read_token(const struct csi *c, size_t nsecrets, void *secrets)
{
    const char *t = kd_token(nsecrets, secrets);

    return t ? t : c->token;
}

grpc_status_code kd_call(const struct csi *c, const char *token, const char *method,
                         const char *path, const json_t *body, long *status, json_t **answer,
                         struct csi_reply *r)
{
    struct kairos_client kc = {.url = c->url,
                               .token = token,
                               .cacert = c->cacert,
                               .agent = "kairos-csi/" CSI_VERSION,
                               .connect_timeout_s = CONNECT_TIMEOUT_S,
                               .timeout_s = CALL_TIMEOUT_S,
                               /* A worker calls kairosd again and again: keep its connection. */
                               .keep_alive = 1};
    struct kairos_error err = {0};
    struct timespec t0, t1;
    int rc;

    *status = 0;
    *answer = NULL;
    if (!token)
        return csi_reply_error(r, GRPC_STATUS_UNAUTHENTICATED,
                               "no kairosd token: give the project's token as the secret key "
                               "\"token\" (the StorageClass's csi.storage.k8s.io/*-secret-name)");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = kairos_client_call(&kc, method, path, body, status, answer, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The path holds names only; the token is in a header, never logged. */
    csi_log(CSI_LOG_DEBUG, "kairosd: %s %s: %ld (%ld ms)", method, path, *status,
            (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L);
    if (rc == -EINVAL)
        return csi_reply_error(r, GRPC_STATUS_UNAUTHENTICATED, "%s", err.msg);
    if (rc < 0)
        return csi_reply_error(r, GRPC_STATUS_UNAVAILABLE, "%s", err.msg);
    return GRPC_STATUS_OK;
}

static grpc_status_code code_of(long status, grpc_status_code conflict)
{
    switch (status) {
    case 400:
    case 405:
    case 413:
    case 415:
    case 501:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case 401:
        return GRPC_STATUS_UNAUTHENTICATED;
    case 403:
        return GRPC_STATUS_PERMISSION_DENIED;
    case 404:
    case 410:
        return GRPC_STATUS_NOT_FOUND;
    case 409:
        return conflict;
    case 412:
    case 422:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case 503:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

grpc_status_code kd_refused(struct csi_reply *r, long status, const json_t *answer,
                            grpc_status_code conflict, const char *what)
{
    const char *d = json_string_value(json_object_get(answer, "description"));

    return csi_reply_error(r, code_of(status, conflict), "%s: %s (kairosd: HTTP %ld)", what,
                           d ? d : "refused", status);
}

grpc_status_code kd_do(const struct csi *c, const char *token, const char *method, const char *path,
                       const json_t *body, grpc_status_code conflict, const char *what,
                       long *status, json_t **answer, struct csi_reply *r)
{
    json_t *a = NULL;
    long st = 0;
    grpc_status_code code = kd_call(c, token, method, path, body, &st, &a, r);

    if (status)
        *status = st;
    if (answer)
        *answer = NULL;
    if (code != GRPC_STATUS_OK)
        return code;
    if (st < 200 || st > 299) {
        code = kd_refused(r, st, a, conflict, what);
        json_decref(a);
        return code;
    }
    if (answer)
        *answer = a;
    else
        json_decref(a);
    return GRPC_STATUS_OK;
}

grpc_status_code kd_wait(const struct csi *c, const char *token, const char *op,
                         grpc_status_code conflict, const char *what, struct csi_reply *r)
{
    char path[128];
    struct timespec start, now;
    useconds_t pause = POLL_FIRST_US;
    grpc_status_code code;

    if (!op || strlen(op) > 64 || strspn(op, "0123456789abcdef") != strlen(op))
        return csi_reply_error(r, GRPC_STATUS_INTERNAL, "%s: kairosd answered no operation", what);
    snprintf(path, sizeof(path), "/v1/operations/%s", op);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        json_t *j;
        const char *state;

        code = kd_do(c, token, "GET", path, NULL, GRPC_STATUS_INTERNAL, what, NULL, &j, r);
        if (code != GRPC_STATUS_OK)
            return code;
        state = json_string_value(json_object_get(j, "state"));
        if (state && strcmp(state, "succeeded") == 0) {
            json_decref(j);
            return GRPC_STATUS_OK;
        }
        if (state && strcmp(state, "failed") == 0) {
            json_int_t st = json_integer_value(json_object_get(j, "status"));
            code = kd_refused(r, st ? (long)st : 500, j, conflict, what);
            json_decref(j);
            return code;
        }
        json_decref(j);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > KD_WAIT_MAX_S)
            return csi_reply_error(r, GRPC_STATUS_DEADLINE_EXCEEDED,
                                   "%s: kairosd's operation %s still runs; ask again later", what,
                                   op);
        usleep(pause);
        if (pause < POLL_MAX_US)
            pause *= 2;
    }
}
