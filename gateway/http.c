/*
 * http.c - request and response helpers shared by the route handlers.
 */
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[] = {"GET", "PUT", "POST", "PATCH", "DELETE", "OTHER"};

enum http_method http_method_parse(const char *s)
{
    for (int m = HTTP_GET; m < HTTP_OTHER; m++) {
        if (strcmp(s, method_names[m]) == 0)
            return (enum http_method)m;
    }
    return HTTP_OTHER;
}

const char *http_method_name(enum http_method m)
{
    return method_names[m <= HTTP_OTHER ? m : HTTP_OTHER];
}

unsigned http_json(struct http_response *res, unsigned status, json_t *body)
{
    json_decref(res->body);
    res->body = body;
    res->status = status;
    /* Every 503 is "come back later": say when. */
    if (status == 503 && !res->retry)
        res->retry = HTTP_RETRY_AFTER;
    return status;
}

unsigned http_error(struct http_response *res, unsigned status, const char *error, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /*
     * The message may quote the request's bytes, or be cut inside a UTF-8
     * sequence; JSON wants valid UTF-8, so anything else becomes '?'.
     */
    for (unsigned char *p = (unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    }
    return http_json(res, status, json_pack("{s:s,s:s}", "error", error, "description", msg));
}

/*
 * One row per errno, so that a new mapping is one new line. Contention is
 * never a conflict: -EAGAIN (a record too contended) and -EINPROGRESS
 * (another request on the same name in flight) ask the client to come
 * back, 409 says its request cannot be done as it stands.
 */
static const struct {
    int rc;
    unsigned status;
} status_table[] = {
    {-EINVAL, 400},     {-ENAMETOOLONG, 400}, {-ERANGE, 400},       {-EACCES, 403},
    {-EPERM, 403},      {-ENOENT, 404},       {-EEXIST, 409},       {-EBUSY, 409},
    {-ENOTEMPTY, 409},  {-ESTALE, 409},       {-EDQUOT, 422},       {-ENOSPC, 422},
    {-ETIMEDOUT, 503},  {-ECONNREFUSED, 503}, {-EHOSTUNREACH, 503}, {-ENOTCONN, 503},
    {-ECONNRESET, 503}, {-EAGAIN, 503},       {-EINPROGRESS, 503},  {-ESHUTDOWN, 503},
};

unsigned http_status_of(int rc)
{
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
        if (status_table[i].rc == rc)
            return status_table[i].status;
    }
    return 500;
}

const char *http_retry_of(unsigned status, int rc)
{
    (void)rc;
    return status == 503 ? HTTP_RETRY_AFTER : NULL;
}

void http_response_clear(struct http_response *res)
{
    json_decref(res->body);
    free(res->text);
    memset(res, 0, sizeof(*res));
}
