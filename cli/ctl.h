/*
 * ctl.h - what kairosctl's parts share: where kairosd is, the token, the
 * output mode, and the exit codes every command maps its outcome to.
 */
#ifndef KAIROSCTL_H
#define KAIROSCTL_H

#include <stdbool.h>

#include <jansson.h>

#include "output.h"

/* Exit codes: documented in kairosctl(1) and README.md. */
enum ctl_exit {
    CTL_OK = 0,
    CTL_ERROR = 1,       /* any other failure */
    CTL_BAD_INPUT = 2,   /* bad arguments, or the server said 400 */
    CTL_NOT_FOUND = 3,   /* 404 */
    CTL_QUOTA = 4,       /* a quota or the cluster's capacity refused it (422) */
    CTL_UNREACHABLE = 5, /* kairosd did not answer, or answered 503 */
    CTL_DENIED = 6,      /* 401 or 403 */
    CTL_CONFLICT = 7,    /* 409 */
};

struct ctl {
    char *url;                           /* kairosd, no trailing slash */
    char *token;                         /* bearer token */
    char *cacert;                        /* CAs to trust for https://; NULL: the system's */
    enum ctl_format format;              /* -f/--format (--json: json) */
    const char *columns[TABLE_MAX_COLS]; /* -c/--column, in order */
    size_t ncolumns;
    const char *token_hint; /* no token was found: where kairosctl looked */
    bool color;             /* a TTY and no NO_COLOR */
    unsigned width;
};

/*
 * ctl_call() - @method @path with @body (NULL: none) to kairosd.
 * *@out: the JSON answer (NULL if none); the caller decrefs.
 * Return: CTL_OK for a 2xx, else the exit code, with the server's
 * description printed to stderr.
 */
int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out);

/* Print an error to stderr and return @code. */
int ctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "500G" style text of a byte count, or "-" for null (no limit). */
const char *ctl_size(const json_t *v, char *buf, size_t len);

#endif
