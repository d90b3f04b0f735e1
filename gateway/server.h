/*
 * server.h - kairosd's HTTP server on libmicrohttpd: one thread per
 * connection (handlers block on RADOS round trips), a body size limit,
 * connection timeouts, a deadline per request that changes something
 * ([server] request_timeout: 503 and Retry-After past it, while the
 * handler runs on to its end on a thread of its own), optional TLS, one log
 * line per request, and a shutdown that stops accepting and lets requests
 * in flight, and handlers past their deadline, finish.
 */
#ifndef KAIROSD_SERVER_H
#define KAIROSD_SERVER_H

#include <stdint.h>

#include "gateway.h"

struct server;

/*
 * server_start() - listen on cfg->server.listen ("host:port"; port 0 picks
 * a free one) and serve @g. Return: 0, or a negative errno with @err set.
 */
int server_start(struct gateway *g, struct server **out, struct kairos_error *err);

/*
 * server_tls_load() - serve @cert and @key (PEM files) to new TLS
 * connections from now on; open ones keep theirs. On an error (with @err
 * set) the pair in use stays. Return: 0, or a negative errno.
 */
int server_tls_load(const char *cert, const char *key, struct kairos_error *err);

/* The port actually bound. */
uint16_t server_port(const struct server *s);

/* Stop accepting, wait up to @grace_ms for requests in flight, then stop. */
void server_stop(struct server *s, uint64_t grace_ms);

#endif
