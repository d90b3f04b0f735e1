/*
 * bench_bare_mhd.c - the baseline of kairosd's authenticated read path: a
 * bare libmicrohttpd server that answers every request with a fixed JSON
 * body, nothing else. It runs libmicrohttpd the way kairosd does (a thread
 * per connection, the same connection limits and timeout), so the ratio
 * of the two is what kairosd's own work costs.
 *
 *   bench_bare_mhd PORT_FILE [BODY_BYTES]    serve on 127.0.0.1, a free port
 *                                            written to PORT_FILE; SIGTERM stops
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

/* As in gateway/server.c. */
#define CONNECTION_LIMIT  512
#define CONNECTION_MEMORY (64 * 1024)
#define TIMEOUT_S         30

/* The size of kairosd's answer to GET /v1/projects/P, roughly. */
#define DEFAULT_BODY 400

static char *body;
static size_t body_len;

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    static int first;
    struct MHD_Response *r;
    enum MHD_Result ok;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    /* libmicrohttpd calls twice per request: the headers, then the (empty) body. */
    if (*con_cls != &first) {
        *con_cls = &first;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

int main(int argc, char **argv)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;
    sigset_t stop;
    FILE *f;
    int sig;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_bare_mhd PORT_FILE [BODY_BYTES]\n");
        return 2;
    }
    body_len = argc > 2 ? strtoul(argv[2], NULL, 10) : DEFAULT_BODY;
    body = malloc(body_len + 1);
    if (!body || body_len < 8)
        return 2;
    /* A JSON string of the size asked for. */
    memset(body, 'x', body_len);
    memcpy(body, "{\"x\":\"", 6);
    memcpy(body + body_len - 2, "\"}", 2);
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    /* Loopback, a free port: as kairosd listens in the benchmark. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S,
                         MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bench_bare_mhd: cannot listen\n");
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    f = fopen(argv[1], "w");
    if (!f || !info)
        return 1;
    fprintf(f, "%u\n", info->port);
    fclose(f);
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    free(body);
    return 0;
}
