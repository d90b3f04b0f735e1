/*
 * log.h - kairosfs's messages: to stderr in the foreground, to syslog once
 * it runs as a daemon.
 *
 * Thread-safe.
 */
#ifndef KFS_LOG_H
#define KFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* kfs_log_daemon() - from now on, write to syslog as "kairosfs". */
void kfs_log_daemon(void);

/* kfs_log() - one message of syslog priority @prio (LOG_ERR, LOG_WARNING, LOG_INFO). */
void kfs_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
