/*
 * kairos/client.h - one call to kairosd's REST API, for the programs on the
 * other side of it (kairosctl, kairosfs) and anything else written in C.
 *
 *     struct kairos_client c = {.url = "https://kairos:8443", .token = tok,
 *                               .cacert = "/etc/kairos/ca.pem"};
 *     long status;
 *     json_t *answer;
 *     if (kairos_client_call(&c, "GET", "/v1/projects", NULL, &status, &answer, &err) == 0)
 *         ... status is kairosd's; answer its JSON body ...
 *
 * HTTPS verifies kairosd's certificate and name against the CAs in @cacert
 * alone, or the system's trust store when it is NULL; there is no switch to
 * turn that off. Answers hold cephx keys and requests a bearer token: the
 * call wipes its own buffers of both before it returns (not libcurl's, nor
 * the strings of the JSON answer it hands back).
 *
 * With @keep_alive, each thread keeps its connection to kairosd open between
 * calls (one libcurl handle per thread, freed when the thread exits): a
 * daemon calling kairosd many times (kairos-csi) saves a TCP connection and
 * one of kairosd's connection threads per call.
 *
 * kairos_token_read() reads the token a client presents from its token
 * file. Both are in libkairos-client (pkg-config kairos-client), which
 * needs no Ceph library: programs that only talk to kairosd link that.
 *
 * Thread safety: a struct kairos_client may be shared by threads that do not
 * change it (libcurl's own global setup is thread-safe since 7.84).
 */
#ifndef KAIROS_CLIENT_H
#define KAIROS_CLIENT_H

#include <jansson.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kairos_client {
    const char *url;        /* "http[s]://host:port"; a trailing '/' is fine */
    const char *token;      /* bearer token; NULL sends none */
    const char *cacert;     /* PEM file of CAs to trust; NULL: the system's */
    const char *agent;      /* User-Agent; NULL: "libkairos" */
    long connect_timeout_s; /* 0: 10 s */
    long timeout_s;         /* the whole call; 0: 60 s */
    int keep_alive;         /* reuse this thread's connection between calls */
};

/**
 * kairos_client_call() - @method @path (with its query) on kairosd.
 * @c:      where kairosd is and how to reach it; read only.
 * @method: "GET", "POST", "PUT", "PATCH", "DELETE".
 * @path:   "/v1/...", appended to @c->url.
 * @body:   sent as JSON; NULL sends no body.
 * @status: kairosd's HTTP status.
 * @answer: its body when that is JSON, else NULL; the caller decrefs. Set
 *          whatever the status, so that a caller can read kairosd's
 *          "error" and "description" of a refusal.
 *
 * Return: 0 when kairosd answered, whatever the status; -EINVAL (a URL
 * that does not start with http:// or https://, or a token with characters
 * no header may hold or over 480 bytes), -ECONNREFUSED (no answer:
 * unreachable, timed out, or its certificate not trusted; @err says which),
 * -ENOMEM.
 */
int kairos_client_call(const struct kairos_client *c, const char *method, const char *path,
                       const json_t *body, long *status, json_t **answer, struct kairos_error *err);

/**
 * kairos_token_read() - the token a token file holds on its first line,
 * into @buf (@len bytes, line end removed). The caller wipes @buf when done.
 * Return: 0, -errno (the file cannot be read), -EINVAL (no token in it).
 */
int kairos_token_read(const char *path, char *buf, size_t len, struct kairos_error *err);

#ifdef __cplusplus
}
#endif

#endif
