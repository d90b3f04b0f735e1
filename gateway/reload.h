/*
 * reload.h - SIGHUP: kairosd re-reads kairos.conf's reloadable parts, the
 * tokens file and the broker credentials, the capacity policy and the
 * plans, the TLS certificate and key, and [log] format, without dropping a
 * connection. All or nothing: when any part fails to load (a file
 * unreadable, a bad line, a key that is not the certificate's) nothing
 * changes and the reason is logged. Other keys ([ceph], [server] listen,
 * threads, ...) take a restart; a reload that sees them changed says so.
 *
 * Thread-safety: reload_config() runs on one thread (the signal loop)
 * while requests are served.
 */
#ifndef KAIROSD_RELOAD_H
#define KAIROSD_RELOAD_H

#include "gateway.h"

/* Reload @g from its config's file. Return: 0, or a negative errno with @err set. */
int reload_config(struct gateway *g, struct kairos_error *err);

/* Free the policies replaced by reloads, once no request runs and the library is closed. */
void reload_free(void);

#endif
