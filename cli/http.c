/*
 * http.c - kairosctl's calls to kairosd, through kairos_client_call() (see ctl.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kairos/client.h>
#include <kairos/units.h>
#include <kairos/version.h>

#include "ctl.h"

#define CONNECT_TIMEOUT_S 5
#define TOTAL_TIMEOUT_S   300

/* The message on stderr, and with -f json or yaml as JSON on stdout too. */
static int fail_v(int code, long status, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "kairosctl: %s\n", msg);
    output_error(code, status, msg);
    return code;
}

int ctl_fail(int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fail_v(code, 0, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_http(int code, long status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_http(int code, long status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fail_v(code, status, fmt, ap);
    va_end(ap);
    return rc;
}

const char *ctl_size(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v))
        return "-";
    return kairos_size_format((uint64_t)json_integer_value(v), buf, len);
}

static int exit_of(long status, const json_t *answer)
{
    const char *error = json_string_value(json_object_get(answer, "error"));

    switch (status) {
    case 400:
    case 413:
        return CTL_BAD_INPUT;
    case 401:
    case 403:
        return CTL_DENIED;
    case 404:
    case 410:
        return CTL_NOT_FOUND;
    case 409:
        return CTL_CONFLICT;
    case 422:
        return error && strstr(error, "Exceeded") ? CTL_QUOTA : CTL_ERROR;
    case 503:
        return CTL_UNREACHABLE;
    default:
        return CTL_ERROR;
    }
}

int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out)
{
    struct kairos_client kc = {.url = c->url,
                               .token = c->token,
                               .cacert = c->cacert,
                               .agent = "kairosctl/" KAIROS_VERSION_STRING,
                               .connect_timeout_s = CONNECT_TIMEOUT_S,
                               .timeout_s = TOTAL_TIMEOUT_S};
    struct kairos_error err = {0};
    json_t *answer = NULL;
    long status;
    int rc;

    *out = NULL;
    rc = kairos_client_call(&kc, method, path, body, &status, &answer, &err);
    if (rc < 0)
        return ctl_fail(rc == -ECONNREFUSED ? CTL_UNREACHABLE
                        : rc == -EINVAL     ? CTL_BAD_INPUT
                                            : CTL_ERROR,
                        "%s", err.msg);
    if (status >= 200 && status < 300) {
        *out = answer;
        return CTL_OK;
    }
    const char *d = json_string_value(json_object_get(answer, "description"));
    /* No token was sent: say where kairosctl looked for one. */
    if (status == 401 && !c->token && c->token_hint)
        rc = fail_http(CTL_DENIED, status, "%s (HTTP %ld); %s", d ? d : "request failed", status,
                       c->token_hint);
    else
        rc = fail_http(exit_of(status, answer), status, "%s (HTTP %ld)", d ? d : "request failed",
                       status);
    json_decref(answer);
    return rc;
}
