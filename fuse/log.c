/*
 * log.c - kairosfs's messages (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_bool to_syslog;

void kfs_log_daemon(void)
{
    openlog("kairosfs", LOG_PID, LOG_DAEMON);
    atomic_store(&to_syslog, true);
}

void kfs_log(int prio, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (atomic_load(&to_syslog))
        syslog(prio, "%s", msg);
    else
        fprintf(stderr, "kairosfs: %s\n", msg);
}
