/*
 * log.c - timestamped lines on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int verbose;

void csi_log_verbose(int on)
{
    verbose = on;
}

void csi_log(enum csi_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[2048];
    struct timespec now;
    struct tm tm;
    va_list ap;
    size_t n;

    if (level == CSI_LOG_DEBUG && !verbose)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", now.tv_nsec / 1000000,
                          names[level]);
    va_start(ap, fmt);
    if (n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n == sizeof(line) - 1)
        n--;
    line[n++] = '\n';
    /* One write per line, so that threads' lines never interleave. */
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}
