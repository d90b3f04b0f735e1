/*
 * server.c - unary gRPC calls on the C core, with the work on a thread
 * pool (see server.h).
 *
 * A call goes through three batches, each completing on the one queue:
 *
 *   NEW   grpc_server_request_call() returned a call: find its method,
 *         ask for its message (or answer UNIMPLEMENTED at once)
 *   RECV  the message is here: queue the call for a worker
 *   SENT  a worker sent initial metadata, the answer and the status, and
 *         received the close: free the call
 *
 * Only the poller touches the queue; workers start their batch with
 * grpc_call_start_batch(), which gRPC allows from any thread.
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "log.h"

/* Calls asked for ahead, so that a burst of clients never waits on the poller. */
#define PENDING_CALLS 64
/* How often the poller looks at the stop flag. */
#define POLL_MS 250

enum stage { STAGE_NEW, STAGE_RECV, STAGE_SENT };

struct server;

struct rpc {
    enum stage stage;
    struct server *s;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *in, *out;
    grpc_slice status_msg;
    bool has_status_msg;
    int cancelled;
    const struct csi_method *m;
    char name[64]; /* the method's last path component, for the log */
    struct timespec start;
    struct csi_reply reply;
    struct rpc *next;
};

struct server {
    void *ctx;
    const struct csi_methods *tables;
    size_t ntables;
    grpc_server *srv;
    grpc_completion_queue *cq;
    bool shutting_down;
    atomic_uint live; /* calls accepted and not yet freed */
    pthread_mutex_t lock;
    pthread_cond_t more;
    struct rpc *head, *tail;
    bool closing;
    pthread_t *threads;
    unsigned nthreads;
};

/* ---- replies ---- */

void csi_reply_ok(struct csi_reply *r, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);

    free(r->body);
    r->body = malloc(n ? n : 1);
    if (!r->body) {
        csi_reply_error(r, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    r->len = protobuf_c_message_pack(msg, r->body);
    r->code = GRPC_STATUS_OK;
    r->msg[0] = '\0';
}

grpc_status_code csi_reply_error(struct csi_reply *r, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->code = code;
    free(r->body);
    r->body = NULL;
    r->len = 0;
    return code;
}

static const char *code_name(grpc_status_code c)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* ---- calls ---- */

static void rpc_free(struct rpc *rpc)
{
    if (rpc->call)
        grpc_call_unref(rpc->call);
    grpc_call_details_destroy(&rpc->details);
    grpc_metadata_array_destroy(&rpc->md);
    if (rpc->in)
        grpc_byte_buffer_destroy(rpc->in);
    if (rpc->out)
        grpc_byte_buffer_destroy(rpc->out);
    if (rpc->has_status_msg)
        grpc_slice_unref(rpc->status_msg);
    free(rpc->reply.body);
    free(rpc);
}

/* Ask gRPC for one more call. */
static void request_call(struct server *s)
{
    struct rpc *rpc = calloc(1, sizeof(*rpc));

    if (!rpc) {
        csi_log(CSI_LOG_ERR, "out of memory: accepting one call less");
        return;
    }
    rpc->s = s;
    rpc->stage = STAGE_NEW;
    grpc_call_details_init(&rpc->details);
    grpc_metadata_array_init(&rpc->md);
    if (grpc_server_request_call(s->srv, &rpc->call, &rpc->details, &rpc->md, s->cq, s->cq, rpc) !=
        GRPC_CALL_OK) {
        csi_log(CSI_LOG_ERR, "gRPC refused to accept calls");
        rpc_free(rpc);
    }
}

static const struct csi_method *find_method(struct server *s, grpc_slice path)
{
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t i = 0; i < s->tables[t].n; i++)
            if (grpc_slice_str_cmp(path, s->tables[t].m[i].path) == 0)
                return &s->tables[t].m[i];
    return NULL;
}

static long ms_since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

/* Send the reply: from a worker, or from the poller for a call no worker needs. */
static void send_reply(struct rpc *rpc)
{
    struct csi_reply *r = &rpc->reply;
    grpc_op ops[4];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (r->code == GRPC_STATUS_OK) {
        grpc_slice body = grpc_slice_from_copied_buffer((const char *)r->body, r->len);
        /* The buffer takes its own reference on the slice. */
        rpc->out = grpc_raw_byte_buffer_create(&body, 1);
        grpc_slice_unref(body);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = rpc->out;
    }
    rpc->status_msg = grpc_slice_from_copied_string(r->msg);
    rpc->has_status_msg = true;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = r->code;
    ops[n++].data.send_status_from_server.status_details = &rpc->status_msg;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &rpc->cancelled;
    if (r->code == GRPC_STATUS_OK)
        csi_log(CSI_LOG_INFO, "%s: OK (%ld ms)", rpc->name, ms_since(&rpc->start));
    else
        csi_log(r->code == GRPC_STATUS_INTERNAL ? CSI_LOG_ERR : CSI_LOG_INFO, "%s: %s: %s (%ld ms)",
                rpc->name, code_name(r->code), r->msg, ms_since(&rpc->start));
    rpc->stage = STAGE_SENT;
    if (grpc_call_start_batch(rpc->call, ops, n, rpc, NULL) != GRPC_CALL_OK) {
        csi_log(CSI_LOG_ERR, "%s: gRPC refused the answer", rpc->name);
        atomic_fetch_sub(&rpc->s->live, 1);
        rpc_free(rpc);
    }
}

/* Decode, run the handler, answer: on a worker thread. */
static void run(struct server *s, struct rpc *rpc)
{
    grpc_byte_buffer_reader reader;
    ProtobufCMessage *req = NULL;
    grpc_slice all;

    if (grpc_byte_buffer_reader_init(&reader, rpc->in)) {
        all = grpc_byte_buffer_reader_readall(&reader);
        grpc_byte_buffer_reader_destroy(&reader);
        req = protobuf_c_message_unpack(rpc->m->in, NULL, GRPC_SLICE_LENGTH(all),
                                        GRPC_SLICE_START_PTR(all));
        grpc_slice_unref(all);
    }
    if (!req) {
        csi_reply_error(&rpc->reply, GRPC_STATUS_INVALID_ARGUMENT,
                        "the request is not a valid %s message", rpc->m->in->short_name);
    } else {
        rpc->reply.code = GRPC_STATUS_INTERNAL;
        snprintf(rpc->reply.msg, sizeof(rpc->reply.msg), "the handler gave no answer");
        rpc->m->fn(s->ctx, req, &rpc->reply);
        protobuf_c_message_free_unpacked(req, NULL);
    }
    send_reply(rpc);
}

static void *worker(void *arg)
{
    struct server *s = arg;
    struct rpc *rpc;

    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->head && !s->closing)
            pthread_cond_wait(&s->more, &s->lock);
        rpc = s->head;
        if (rpc) {
            s->head = rpc->next;
            if (!s->head)
                s->tail = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (!rpc)
            return NULL;
        run(s, rpc);
    }
}

static void enqueue(struct server *s, struct rpc *rpc)
{
    pthread_mutex_lock(&s->lock);
    rpc->next = NULL;
    if (s->tail)
        s->tail->next = rpc;
    else
        s->head = rpc;
    s->tail = rpc;
    pthread_cond_signal(&s->more);
    pthread_mutex_unlock(&s->lock);
}

/* A batch of @rpc completed (@ok: it succeeded). On the poller. */
static void advance(struct server *s, struct rpc *rpc, bool ok)
{
    const char *slash;
    grpc_op op;

    switch (rpc->stage) {
    case STAGE_NEW:
        if (!ok) { /* shutting down: the call never came */
            rpc_free(rpc);
            return;
        }
        atomic_fetch_add(&s->live, 1);
        if (!s->shutting_down)
            request_call(s);
        clock_gettime(CLOCK_MONOTONIC, &rpc->start);
        {
            char *path = grpc_slice_to_c_string(rpc->details.method);
            slash = path ? strrchr(path, '/') : NULL;
            snprintf(rpc->name, sizeof(rpc->name), "%s", slash ? slash + 1 : "?");
            gpr_free(path);
        }
        rpc->m = find_method(s, rpc->details.method);
        if (!rpc->m) {
            csi_reply_error(&rpc->reply, GRPC_STATUS_UNIMPLEMENTED,
                            "kairos-csi does not implement %s here", rpc->name);
            send_reply(rpc);
            return;
        }
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &rpc->in;
        rpc->stage = STAGE_RECV;
        if (grpc_call_start_batch(rpc->call, &op, 1, rpc, NULL) != GRPC_CALL_OK) {
            csi_reply_error(&rpc->reply, GRPC_STATUS_INTERNAL, "cannot receive the request");
            send_reply(rpc);
        }
        return;
    case STAGE_RECV:
        if (!ok || !rpc->in) {
            csi_reply_error(&rpc->reply, GRPC_STATUS_INVALID_ARGUMENT, "no request message");
            send_reply(rpc);
            return;
        }
        enqueue(s, rpc);
        return;
    case STAGE_SENT:
        atomic_fetch_sub(&s->live, 1);
        rpc_free(rpc);
        return;
    }
}

static int listen_on(struct server *s, const char *endpoint)
{
    char addr[4096];
    grpc_server_credentials *creds;
    int port;

    snprintf(addr, sizeof(addr), "%s%s",
             strncmp(endpoint, "unix:", 5) == 0 ? "" : "unix:", endpoint);
    creds = grpc_insecure_server_credentials_create();
    port = grpc_server_add_http2_port(s->srv, addr, creds);
    grpc_server_credentials_release(creds);
    if (!port) {
        csi_log(CSI_LOG_ERR, "cannot listen on %s (a file that is not a socket is in the way?)",
                addr);
        return -EADDRINUSE;
    }
    csi_log(CSI_LOG_INFO, "listening on %s", addr);
    return 0;
}

static void stop_workers(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    s->closing = true;
    pthread_cond_broadcast(&s->more);
    pthread_mutex_unlock(&s->lock);
    for (unsigned i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
}

int csi_server_run(void *ctx, const char *endpoint, const struct csi_methods *tables,
                   size_t ntables, unsigned workers, volatile sig_atomic_t *stop)
{
    struct server s = {.ctx = ctx, .tables = tables, .ntables = ntables};
    static char shutdown_tag;
    bool shutdown_seen = false;
    int rc = 0;

    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.more, NULL);
    atomic_init(&s.live, 0);
    grpc_init();
    s.srv = grpc_server_create(NULL, NULL);
    s.cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s.srv, s.cq, NULL);
    rc = listen_on(&s, endpoint);
    if (rc < 0)
        goto destroy;
    s.threads = calloc(workers ? workers : 1, sizeof(*s.threads));
    if (!s.threads) {
        rc = -ENOMEM;
        goto destroy;
    }
    for (unsigned i = 0; i < (workers ? workers : 1); i++) {
        if (pthread_create(&s.threads[i], NULL, worker, &s) != 0)
            break;
        s.nthreads++;
    }
    if (!s.nthreads) {
        rc = -ENOMEM;
        goto destroy;
    }
    grpc_server_start(s.srv);
    for (int i = 0; i < PENDING_CALLS; i++)
        request_call(&s);
    while (!shutdown_seen || atomic_load(&s.live) > 0) {
        gpr_timespec deadline =
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(POLL_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_next(s.cq, deadline, NULL);

        if (ev.type == GRPC_OP_COMPLETE) {
            if (ev.tag == &shutdown_tag)
                shutdown_seen = true;
            else
                advance(&s, ev.tag, ev.success);
        } else if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        if (*stop && !s.shutting_down) {
            csi_log(CSI_LOG_INFO, "stopping: %u call(s) in progress",
                    (unsigned)atomic_load(&s.live));
            s.shutting_down = true;
            grpc_server_shutdown_and_notify(s.srv, s.cq, &shutdown_tag);
            grpc_server_cancel_all_calls(s.srv);
        }
    }
    stop_workers(&s);
    grpc_server_destroy(s.srv);
    s.srv = NULL;
destroy:
    /* Never started: nothing to shut down. */
    if (s.srv)
        grpc_server_destroy(s.srv);
    grpc_completion_queue_shutdown(s.cq);
    while (grpc_completion_queue_next(s.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(s.cq);
    grpc_shutdown();
    if (s.threads && !s.closing)
        stop_workers(&s);
    free(s.threads);
    pthread_cond_destroy(&s.more);
    pthread_mutex_destroy(&s.lock);
    return rc;
}
