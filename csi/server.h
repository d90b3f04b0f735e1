/*
 * server.h - a unary gRPC server on gRPC's C core: the CSI services'
 * transport, whatever the services are.
 *
 *     static const struct csi_method methods[] = {
 *         {"/csi.v1.Identity/Probe", &csi__v1__probe_request__descriptor, probe},
 *     };
 *     csi_server_run(ctx, "unix:///csi/csi.sock", tables, ntables, 16, &stop);
 *
 * One thread polls gRPC's completion queue and never blocks on anything
 * else: it accepts calls and receives their message, then hands each call
 * to a pool of worker threads, which decode the request (protobuf-c), run
 * the handler (which may call kairosd, mount, run mkfs) and send the answer.
 * A method no table names is answered UNIMPLEMENTED.
 *
 * Each call is logged once, by method, status and duration; handlers log
 * what else is worth it. Never a request's content: it carries secrets.
 */
#ifndef KAIROS_CSI_SERVER_H
#define KAIROS_CSI_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

/* A reply under construction: a status, its message, and the packed answer. */
struct csi_reply {
    grpc_status_code code;
    char msg[1024];
    uint8_t *body; /* the packed response message when code is OK */
    size_t len;
};

/* A handler: read @req (of the method's type), fill @r. Runs on a worker thread. */
typedef void (*csi_handler)(void *ctx, const ProtobufCMessage *req, struct csi_reply *r);

struct csi_method {
    const char *path; /* "/csi.v1.Identity/Probe" */
    const ProtobufCMessageDescriptor *in;
    csi_handler fn;
};

struct csi_methods {
    const struct csi_method *m;
    size_t n;
};

/* csi_reply_ok() - answer OK with @msg (packed now; the caller keeps @msg). */
void csi_reply_ok(struct csi_reply *r, const ProtobufCMessage *msg);

/**
 * csi_reply_error() - answer @code with a message.
 * Return: @code, so that a helper can "return csi_reply_error(...)".
 */
grpc_status_code csi_reply_error(struct csi_reply *r, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * csi_server_run() - serve @tables on @endpoint until *@stop is set.
 * @ctx:      passed to every handler.
 * @endpoint: "unix:///path" or "unix:/path" (a plain path gets "unix:"),
 *            an old socket there is replaced.
 * @workers:  worker threads (at least 1).
 * @stop:     set by a signal handler; checked every quarter second. Calls
 *            in progress then are cancelled and their workers finish.
 * Return: 0 after a clean stop, -EADDRINUSE (cannot listen), -ENOMEM.
 */
int csi_server_run(void *ctx, const char *endpoint, const struct csi_methods *tables,
                   size_t ntables, unsigned workers, volatile sig_atomic_t *stop);

#endif
