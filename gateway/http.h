/*
 * http.h - what a route handler sees of a request and gives back, free of
 * libmicrohttpd, so that routing and JSON handling can be tested and fuzzed
 * without a socket.
 */
#ifndef KAIROSD_HTTP_H
#define KAIROSD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define HTTP_MAX_PARAMS 6

enum http_method { HTTP_GET, HTTP_PUT, HTTP_POST, HTTP_PATCH, HTTP_DELETE, HTTP_OTHER };

/* Looks up a header or query argument by name; NULL when absent. */
typedef const char *(*http_lookup_fn)(void *arg, const char *name);

struct http_request {
    enum http_method method;
    const char *path;
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    http_lookup_fn header, query;
    void *lookup_arg;
    /* The request's id (reqlog.h), for handlers' logs and records; never NULL from the server. */
    const char *request_id;
    /* Filled by the router: the path's ":name" parts, in order. */
    const char *params[HTTP_MAX_PARAMS];
    char param_buf[1024];
};

struct http_response {
    unsigned status;
    json_t *body;       /* owned; NULL for none */
    char *text;         /* owned; a non-JSON body (metrics), or NULL */
    const char *type;   /* content type of @text */
    const char *retry;  /* Retry-After value (seconds, a static string), or NULL */
    char route[64];     /* route pattern, for metrics and logs */
    char principal[96]; /* who called, once authenticated ("admin", "project:NAME"), for logs */
    char token_id[24];  /* with which token (struct principal's token_id), for logs; "" none */
};

enum http_method http_method_parse(const char *s);
const char *http_method_name(enum http_method m);

/* Set @res to a JSON error {"error", "description"} and return @status. */
unsigned http_error(struct http_response *res, unsigned status, const char *error, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* Set @res to @status with @body (stolen). */
unsigned http_json(struct http_response *res, unsigned status, json_t *body);

/*
 * http_status_of() - the HTTP status for a libkairos error code, from one
 * table in http.c. Contention (-EAGAIN, -EINPROGRESS: try again) and an
 * unreachable backend are 503, a real conflict 409.
 */
unsigned http_status_of(int rc);

/* The Retry-After (seconds) to send with @status for @rc, or NULL. */
const char *http_retry_of(unsigned status, int rc);

/* Seconds a client should wait before asking again about contention or an operation. */
#define HTTP_RETRY_AFTER "1"

void http_response_clear(struct http_response *res);

#endif
