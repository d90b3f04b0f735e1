/*
 * log.h - kairosfs's messages: to stderr in the foreground; once it runs
 * as a daemon, to syslog, or to the journal where there is no syslog
 * socket, or else still to stderr (a container with neither).
 *
 * Thread-safe.
 */
#ifndef KFS_LOG_H
#define KFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/*
 * kfs_log_daemon() - from now on, write to syslog (or the journal) as
 * "kairosfs". Return: true when neither is there and stderr must stay open.
 */
bool kfs_log_daemon(void);

/* kfs_log() - one message of syslog priority @prio (LOG_ERR, LOG_WARNING, LOG_INFO). */
void kfs_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
