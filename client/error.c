/*
 * error.c - errno codes paired with readable messages (see kairos/error.h).
 */
#include <kairos/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kairos_error_set(struct kairos_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->code != 0)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void kairos_error_clear(struct kairos_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *kairos_error_msg(const struct kairos_error *err, int code)
{
    if (err && err->code != 0 && err->msg[0])
        return err->msg;
    return strerror(code < 0 ? -code : code);
}
