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

unsigned http_status_of(int rc)
{
    switch (rc) {
    case -EINVAL:
    case -ENAMETOOLONG:
    case -ERANGE:
        return 400;
    case -EACCES:
    case -EPERM:
        return 403;
    case -ENOENT:
        return 404;
    case -EEXIST:
    case -EBUSY:
    case -ENOTEMPTY:
    case -ESTALE:
        return 409;
    case -EDQUOT:
    case -ENOSPC:
        return 422;
    case -ETIMEDOUT:
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -ENOTCONN:
    case -ECONNRESET:
    case -EAGAIN:
        return 503;
    default:
        return 500;
    }
}

void http_response_clear(struct http_response *res)
{
    json_decref(res->body);
    free(res->text);
    memset(res, 0, sizeof(*res));
}
