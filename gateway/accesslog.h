/*
 * accesslog.h - kairosd's line per request on stderr, written in batches:
 * request threads append their line to a shared buffer (a short critical
 * section, no system call), and a thread of its own writes the buffer out
 * every ACCESSLOG_FLUSH_MS or when it fills up. At 20,000 requests a
 * second that is a few writes instead of 20,000. Lines are never split or
 * interleaved; a line is at most ACCESSLOG_LINE_MAX bytes. Should the
 * buffer be full because stderr blocks, a request writes its line itself.
 *
 * Thread-safety: accesslog_line() may be called from any thread between
 * accesslog_start() and accesslog_stop().
 */
#ifndef KAIROSD_ACCESSLOG_H
#define KAIROSD_ACCESSLOG_H

#include <stddef.h>

#define ACCESSLOG_FLUSH_MS 100
#define ACCESSLOG_LINE_MAX 1024

/* Start the writer thread. Return: 0 or -errno (lines are then written one by one). */
int accesslog_start(void);

/* Append @line (@len bytes, ending in '\n'). */
void accesslog_line(const char *line, size_t len);

/* Write out what is buffered and stop the writer thread. */
void accesslog_stop(void);

#endif
