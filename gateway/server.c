/*
 * server.c - libmicrohttpd glue (see server.h).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "metrics.h"
#include "reqlog.h"
#include "tls.h"

#define CONNECTION_LIMIT  512
#define CONNECTION_MEMORY (64 * 1024)
#define DEFAULT_MAX_BODY  (1024 * 1024)
#define DEFAULT_TIMEOUT_S 30
/* Seconds a client is asked to wait after a request ran out of time. */
#define DEADLINE_RETRY_AFTER "5"
/* Handler threads past their deadline or not, at most: as many as connections. */
#define JOBS_MAX CONNECTION_LIMIT

struct server {
    struct gateway *g;
    struct MHD_Daemon *mhd;
    bool tls;
    uint16_t port;
    uint64_t max_body;
    uint64_t deadline_ms; /* [server] request_timeout; 0: none */
    atomic_int in_flight;
    /* Handler threads still running, answered or not (see struct job). */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_done;
    unsigned jobs;
};

/* What one request accumulates between libmicrohttpd's calls. */
struct exchange {
    struct timespec start;
    char *body;
    size_t len;
    bool too_large;
    bool answered; /* a response is queued: whatever follows is discarded */
    char request_id[REQID_MAX + 1];
};

static double since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *lookup_header(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

static const char *lookup_query(void *arg, const char *name)
{
    return MHD_lookup_connection_value(arg, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_response *res,
                                     const char *request_id)
{
    struct MHD_Response *r;
    char *text = res->text;
    const char *type = res->type ? res->type : "application/json";
    enum MHD_Result ok;

    if (!text)
        text = res->body ? json_dumps(res->body, JSON_COMPACT) : strdup("");
    else
        res->text = NULL;
    if (!text)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, REQID_HEADER, request_id);
    if (res->retry)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, res->retry);
    ok = MHD_queue_response(conn, res->status, r);
    MHD_destroy_response(r);
    return ok;
}

/*
 * An encoded '/' (%2F) in the path would decode into a path separator and
 * so into another route. libmicrohttpd decodes the path (and each query
 * argument) through this callback before the request reaches on_request(),
 * on the connection's own thread: the callback remembers which decoded
 * string held one, and on_request() refuses a path that is that string.
 * Query values may hold %2F freely.
 */
static _Thread_local const char *encoded_slash_in;

static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    if (strstr(s, "%2F") || strstr(s, "%2f"))
        encoded_slash_in = s;
    return MHD_http_unescape(s);
}

/*
 * One line per request, with its id; never a header or a body, so never a
 * secret. Batched (accesslog.h): no system call and no stdio lock on a request.
 */
static void log_request(const char *request_id, const char *method, const char *url,
                        const struct http_response *res, double seconds, const char *note)
{
    json_t *body = res->body;
    struct reqlog_entry e = {
        .request_id = request_id,
        .method = method,
        .url = url,
        .route = res->route,
        .status = res->status,
        .seconds = seconds,
        .principal = res->principal,
        .token_id = res->token_id,
        .error = body ? json_string_value(json_object_get(body, "error")) : NULL,
        .message = body ? json_string_value(json_object_get(body, "description")) : NULL,
        .note = note,
    };

    reqlog_request(&e);
}

/*
 * A request that may change something (any method but GET) runs under a
 * deadline, [server] request_timeout: its handler runs on a thread of its
 * own while the connection's thread waits for it, at most until the
 * deadline. Past it the client gets 503 with Retry-After and the
 * connection lets go; the handler runs on to its end, as it would have
 * (its intent records what it did; what it leaves open, the reconciler
 * settles), and its late answer is logged, never sent. So a job owns a
 * copy of all the handler reads of the request: the connection may be
 * gone before the handler is done. A GET is one read, each bounded by
 * [ceph] timeout, and stays on the connection's thread (no hand-off on
 * the read path).
 */
#define FIELDS (MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND)

struct field {
    enum MHD_ValueKind kind;
    char *name, *value; /* value NULL: a query argument without '=' */
};

struct job {
    struct server *s;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    int refs;            /* the connection's and the handler's */
    bool done;           /* res holds the handler's answer */
    bool abandoned;      /* the deadline was answered: the handler's answer is dropped */
    char *method, *url, *body;
    size_t len;
    struct field *fields;
    size_t nfields, cap;
    struct http_response res;
    struct timespec start;
    char request_id[REQID_MAX + 1];
};

static void job_put(struct job *j)
{
    bool last;

    pthread_mutex_lock(&j->lock);
    last = --j->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (!last)
        return;
    for (size_t i = 0; i < j->nfields; i++) {
        free(j->fields[i].name);
        free(j->fields[i].value);
    }
    free(j->fields);
    free(j->method);
    free(j->url);
    free(j->body);
    http_response_clear(&j->res);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static enum MHD_Result copy_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct job *j = cls;
    struct field *f;

    if (j->nfields == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 16;
        struct field *grown = realloc(j->fields, cap * sizeof(*grown));
        if (!grown)
            return MHD_NO;
        j->fields = grown;
        j->cap = cap;
    }
    f = &j->fields[j->nfields];
    f->kind = kind;
    f->name = strdup(key);
    f->value = value ? strdup(value) : NULL;
    if (!f->name || (value && !f->value)) {
        free(f->name);
        free(f->value);
        return MHD_NO;
    }
    j->nfields++;
    return MHD_YES;
}

/* The first @kind field named @name, case-insensitively, as libmicrohttpd looks it up. */
static const char *job_lookup(const struct job *j, enum MHD_ValueKind kind, const char *name)
{
    for (size_t i = 0; i < j->nfields; i++) {
        if (j->fields[i].kind == kind && strcasecmp(j->fields[i].name, name) == 0)
            return j->fields[i].value;
    }
    return NULL;
}

static const char *job_header(void *arg, const char *name)
{
    return job_lookup(arg, MHD_HEADER_KIND, name);
}

static const char *job_query(void *arg, const char *name)
{
    return job_lookup(arg, MHD_GET_ARGUMENT_KIND, name);
}

static void job_request(struct job *j, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    req->method = http_method_parse(j->method);
    req->path = j->url;
    req->body = j->body ? j->body : "";
    req->body_len = j->len;
    req->header = job_header;
    req->query = job_query;
    req->lookup_arg = j;
    req->request_id = j->request_id;
}

/* Count one more running job; false when JOBS_MAX already run. */
static bool jobs_take(struct server *s)
{
    bool ok;

    pthread_mutex_lock(&s->jobs_lock);
    ok = s->jobs < JOBS_MAX;
    if (ok)
        s->jobs++;
    pthread_mutex_unlock(&s->jobs_lock);
    return ok;
}

static void jobs_give(struct server *s)
{
    pthread_mutex_lock(&s->jobs_lock);
    if (--s->jobs == 0)
        pthread_cond_broadcast(&s->jobs_done);
    pthread_mutex_unlock(&s->jobs_lock);
}

static bool jobs_running(struct server *s)
{
    bool running;

    pthread_mutex_lock(&s->jobs_lock);
    running = s->jobs > 0;
    pthread_mutex_unlock(&s->jobs_lock);
    return running;
}

static void *job_run(void *arg)
{
    struct job *j = arg;
    struct server *s = j->s;
    struct http_request req;
    struct http_response res = {0};
    bool late;

    job_request(j, &req);
    api_handle(s->g, &req, &res);
    pthread_mutex_lock(&j->lock);
    late = j->abandoned;
    if (!late) {
        j->res = res;
        j->done = true;
        pthread_cond_signal(&j->cond);
    }
    pthread_mutex_unlock(&j->lock);
    if (late) {
        log_request(j->request_id, j->method, j->url, &res, since(&j->start),
                    " late=answered-503-at-deadline");
        http_response_clear(&res);
    }
    job_put(j);
    /* Last: once no job runs, server_stop() may free the server and the gateway. */
    jobs_give(s);
    return NULL;
}

/* @res: 503 for @j's request, saying @why, with the deadline's Retry-After. */
static void job_unavailable(struct job *j, struct http_response *res, const char *why)
{
    struct http_request req;
    char route[sizeof(res->route)];

    /* The route, for the metrics and the log: routing reads only the job's copy. */
    job_request(j, &req);
    api_route_only(&req, res);
    memcpy(route, res->route, sizeof(route));
    http_response_clear(res);
    memcpy(res->route, route, sizeof(route));
    res->retry = DEADLINE_RETRY_AFTER;
    http_error(res, 503, "ServiceUnavailable", "%s", why);
}

/*
 * Run @req's handler under the deadline into @res (see struct job). The
 * job takes @x's body. False when no job could be started (out of memory
 * or threads): then the caller runs the handler itself.
 */
static bool run_with_deadline(struct server *s, struct MHD_Connection *conn, const char *method,
                              const char *url, struct exchange *x, struct http_response *res)
{
    struct job *j = calloc(1, sizeof(*j));
    pthread_condattr_t attr;
    struct timespec until;
    pthread_attr_t tattr;
    pthread_t thread;
    char why[256];
    bool answered;
    int rc = 0;

    if (!j)
        return false;
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cond, &attr);
    pthread_condattr_destroy(&attr);
    j->s = s;
    j->refs = 1;
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    j->method = strdup(method);
    j->url = strdup(url);
    memcpy(j->request_id, x->request_id, sizeof(j->request_id));
    /* Every header and query argument, or none: a copy cut short would change the request. */
    if (!j->method || !j->url ||
        MHD_get_connection_values(conn, FIELDS, copy_field, j) !=
            MHD_get_connection_values(conn, FIELDS, NULL, NULL)) {
        job_put(j);
        return false;
    }
    j->body = x->body;
    j->len = x->len;
    x->body = NULL;
    x->len = 0;
    /*
     * Handlers cut at their deadline still hold a thread each: while the
     * backend does not answer, clients that ask again must not pile up
     * threads without end.
     */
    if (!jobs_take(s)) {
        snprintf(why, sizeof(why),
                 "%u requests still run past their deadline: the backend is not answering",
                 JOBS_MAX);
        job_unavailable(j, res, why);
        job_put(j);
        return true;
    }
    j->refs = 2;
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &tattr, job_run, j);
    pthread_attr_destroy(&tattr);
    if (rc != 0) {
        jobs_give(s);
        /* Give the body back: the caller runs the handler on it. */
        x->body = j->body;
        x->len = j->len;
        j->body = NULL;
        j->refs = 1;
        job_put(j);
        return false;
    }
    until = j->start;
    until.tv_sec += (time_t)(s->deadline_ms / 1000);
    until.tv_nsec += (long)(s->deadline_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&j->lock);
    while (!j->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&j->cond, &j->lock, &until);
    answered = j->done;
    if (answered) {
        *res = j->res;
        memset(&j->res, 0, sizeof(j->res));
    } else {
        j->abandoned = true;
    }
    pthread_mutex_unlock(&j->lock);
    if (!answered) {
        snprintf(why, sizeof(why),
                 "the backend did not answer within %llu ms; the request goes on and the "
                 "broker settles it: ask again to learn its outcome",
                 (unsigned long long)s->deadline_ms);
        job_unavailable(j, res, why);
    }
    job_put(j);
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct exchange *x = *con_cls;
    struct http_response res = {0};
    struct http_request req = {0};
    enum MHD_Result ok;

    (void)version;
    if (!x) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        x = calloc(1, sizeof(*x));
        if (!x)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &x->start);
        reqid_take(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, REQID_HEADER), x->request_id);
        x->too_large = cl && strtoull(cl, NULL, 10) > s->max_body;
        *con_cls = x;
        atomic_fetch_add(&s->in_flight, 1);
        /* Too large by its own word: answer now, before libmicrohttpd reads it. */
        if (!x->too_large)
            return MHD_YES;
    } else if (*upload_size || x->answered) {
        if (!x->answered && !x->too_large && x->len + *upload_size <= s->max_body) {
            char *grown = realloc(x->body, x->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy(grown + x->len, upload, *upload_size);
            x->body = grown;
            x->len += *upload_size;
            x->body[x->len] = '\0';
        } else {
            x->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (x->too_large) {
        snprintf(res.route, sizeof(res.route), "unmatched");
        http_error(&res, 413, "PayloadTooLarge", "the body is larger than %llu bytes",
                   (unsigned long long)s->max_body);
    } else if (url == encoded_slash_in) {
        snprintf(res.route, sizeof(res.route), "unmatched");
        http_error(&res, 400, "BadRequest",
                   "an encoded '/' (%%2F) is not allowed in a path: ids and names never hold one");
    } else {
        req.method = http_method_parse(method);
        if (!s->deadline_ms || req.method == HTTP_GET || req.method == HTTP_OTHER ||
            !run_with_deadline(s, conn, method, url, x, &res)) {
            req.path = url;
            req.body = x->body ? x->body : "";
            req.body_len = x->len;
            req.header = lookup_header;
            req.query = lookup_query;
            req.lookup_arg = conn;
            req.request_id = x->request_id;
            api_handle(s->g, &req, &res);
        }
    }
    encoded_slash_in = NULL;
    double secs = since(&x->start);
    /* A label from a known set: made-up methods must not fill the series table. */
    metrics_request(s->g->metrics, res.route[0] ? res.route : "unmatched",
                    http_method_name(http_method_parse(method)), res.status, secs);
    log_request(x->request_id, method, url, &res, secs, NULL);
    ok = send_response(conn, &res, x->request_id);
    x->answered = true;
    http_response_clear(&res);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct exchange *x = *con_cls;

    (void)conn;
    (void)toe;
    if (!x)
        return;
    free(x->body);
    free(x);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/*
 * [server] listen: "host:port" with an IPv4 address (0.0.0.0 or * for
 * any), "localhost" (127.0.0.1), or "[IPv6]:port". "[::]:port" listens on
 * every address of both families (a dual-stack socket); "[::1]:port" and
 * any other IPv6 address on that address only. *@flags gains what
 * libmicrohttpd needs for IPv6.
 */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, unsigned *flags,
                        struct kairos_error *err)
{
    struct sockaddr_in *sa = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)ss;
    const char *colon = strrchr(listen, ':');
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    char host[256];
    char *end;
    unsigned long port;

    memset(ss, 0, sizeof(*ss));
    if (!colon || hlen >= sizeof(host))
        return kairos_error_set(err, -EINVAL, "listen must be host:port, not '%s'", listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port > 65535)
        return kairos_error_set(err, -EINVAL, "bad port in listen '%s'", listen);
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return kairos_error_set(err, -EINVAL, "listen: '%s' is not [IPv6 address]:port",
                                    listen);
        host[hlen - 1] = '\0';
        sa6->sin6_family = AF_INET6;
        sa6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &sa6->sin6_addr) != 1)
            return kairos_error_set(err, -EINVAL, "listen: '%s' is not an IPv6 address", host + 1);
        /* Any address: IPv4 too, through the same socket. */
        *flags |= IN6_IS_ADDR_UNSPECIFIED(&sa6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
        return 0;
    }
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "") == 0 || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return kairos_error_set(
            err, -EINVAL, "listen host must be an IPv4 address or [an IPv6 one], not '%s'", host);
    return 0;
}

int server_tls_load(const char *cert, const char *key, struct kairos_error *err)
{
    struct tls_pair *p;
    int rc = tls_pair_load(cert, key, &p, err);

    if (rc == 0)
        tls_use(p);
    return rc;
}

static void server_free(struct server *s)
{
    pthread_cond_destroy(&s->jobs_done);
    pthread_mutex_destroy(&s->jobs_lock);
    if (s->tls)
        tls_free();
    free(s);
}

int server_start(struct gateway *g, struct server **out, struct kairos_error *err)
{
    const struct kairos_config *cfg = g->cfg;
    /* ITC: quiescing (graceful shutdown) needs the inter-thread channel. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    unsigned timeout_s = cfg->server.timeout_ms ? (unsigned)((cfg->server.timeout_ms + 999) / 1000)
                                                : DEFAULT_TIMEOUT_S;
    struct sockaddr_storage sa;
    const union MHD_DaemonInfo *info;
    struct server *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    s->g = g;
    s->max_body = cfg->server.max_body ? cfg->server.max_body : DEFAULT_MAX_BODY;
    s->deadline_ms = cfg->server.request_timeout_ms;
    pthread_mutex_init(&s->jobs_lock, NULL);
    pthread_cond_init(&s->jobs_done, NULL);
    rc = parse_listen(cfg->server.listen ? cfg->server.listen : "127.0.0.1:8080", &sa, &flags, err);
    if (rc == 0 && (cfg->server.tls_cert || cfg->server.tls_key)) {
        if (!cfg->server.tls_cert || !cfg->server.tls_key)
            rc = kairos_error_set(err, -EINVAL, "TLS needs both tls_cert and tls_key");
        if (rc == 0)
            rc = server_tls_load(cfg->server.tls_cert, cfg->server.tls_key, err);
        s->tls = rc == 0;
        flags |= MHD_USE_TLS;
    }
    if (rc < 0)
        goto fail;
    if (s->tls)
        s->mhd = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
            NULL, MHD_OPTION_HTTPS_CERT_CALLBACK, tls_retrieve, MHD_OPTION_END);
    else
        s->mhd =
            MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT,
                             CONNECTION_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                             (size_t)CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                             s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!s->mhd) {
        rc = kairos_error_set(err, -EADDRINUSE, "cannot listen on %s (in use, or a bad TLS pair)",
                              cfg->server.listen ? cfg->server.listen : "127.0.0.1:8080");
        goto fail;
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    *out = s;
    return 0;
fail:
    server_free(s);
    return rc;
}

uint16_t server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *s, uint64_t grace_ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    MHD_socket fd;

    if (!s)
        return;
    /* No new connections; requests in flight run to their end. */
    fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (uint64_t waited = 0;
         (atomic_load(&s->in_flight) > 0 || jobs_running(s)) && waited < grace_ms; waited += 10)
        nanosleep(&tick, NULL);
    MHD_stop_daemon(s->mhd);
    /*
     * A handler answered at its deadline still works in the gateway: it
     * must end before the gateway goes (libmicrohttpd's stop waits for its
     * own connection threads alike).
     */
    pthread_mutex_lock(&s->jobs_lock);
    if (s->jobs)
        reqlog_message("info", NULL, "waiting for %u requests past their deadline", s->jobs);
    while (s->jobs)
        pthread_cond_wait(&s->jobs_done, &s->jobs_lock);
    pthread_mutex_unlock(&s->jobs_lock);
    server_free(s);
}
