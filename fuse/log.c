/*
 * log.c - kairosfs's messages (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include <systemd/sd-journal.h>

enum sink { TO_STDERR, TO_SYSLOG, TO_JOURNAL };

static atomic_int sink = TO_STDERR;

static bool is_socket(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool kfs_log_daemon(void)
{
    if (is_socket("/dev/log")) {
        openlog("kairosfs", LOG_PID, LOG_DAEMON);
        atomic_store(&sink, TO_SYSLOG);
    } else if (is_socket("/run/systemd/journal/socket")) {
        atomic_store(&sink, TO_JOURNAL);
    }
    /* Neither: a container without a logger; stderr is all there is. */
    return atomic_load(&sink) == TO_STDERR;
}

void kfs_log(int prio, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (atomic_load(&sink) == TO_SYSLOG)
        syslog(prio, "%s", msg);
    else if (atomic_load(&sink) == TO_JOURNAL)
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=kairosfs", NULL);
    else
        fprintf(stderr, "kairosfs: %s\n", msg);
}
