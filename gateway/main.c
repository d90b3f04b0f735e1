/*
 * main.c - kairosd: the broker API daemon.
 *
 *   kairosd [-c CONFIG] [--port-file FILE]   serve until SIGTERM or SIGINT
 *   kairosd --hash-token < TOKEN             print the hash for a tokens file
 *   kairosd --version | --help
 *
 * CONFIG defaults to $KAIROS_CONF, then /etc/kairos/kairos.conf. Every
 * kairosd on a cluster shares state through RADOS only, so any number may
 * serve behind a load balancer. Under systemd (kairosd.service, Type=notify)
 * it says READY=1 once it listens, STOPPING=1 on SIGTERM, and WATCHDOG=1 at
 * half of WatchdogSec=; without $NOTIFY_SOCKET those are no-ops. SIGHUP
 * reloads the tokens, the policies and the TLS pair (reload.h) between
 * RELOADING=1 and READY=1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kairos/kairos.h>
#include <systemd/sd-daemon.h>

#include "accesslog.h"
#include "auth.h"
#include "gateway.h"
#include "metrics.h"
#include "ops.h"
#include "osb.h"
#include "reload.h"
#include "reqlog.h"
#include "server.h"

#define DEFAULT_CONF   "/etc/kairos/kairos.conf"
#define OPS_WORKERS    4     /* when [server] threads is not set */
#define SHUTDOWN_GRACE 30000 /* ms for requests in flight */

static void usage(FILE *f)
{
    fputs("usage: kairosd [-c CONFIG] [--port-file FILE]\n"
          "       kairosd --hash-token < TOKEN\n"
          "       kairosd --version | --help\n"
          "\n"
          "Serves the Open Service Broker API (/v2) and the REST API (/v1) of Kairos.\n"
          "\n"
          "  -c, --config FILE    the configuration (default $KAIROS_CONF, else\n"
          "                       " DEFAULT_CONF "; see kairos.conf(5))\n"
          "      --port-file FILE write the port listened on to FILE once serving\n"
          "      --hash-token     print the SHA-256 of the token read from stdin, for a\n"
          "                       line of the tokens file: '<hash> admin' or\n"
          "                       '<hash> project:<name>'\n"
          "  -V, --version        print the version and exit\n"
          "  -h, --help           this help\n"
          "\n"
          "SIGTERM or SIGINT: finish requests in flight, then stop. SIGHUP: reload\n"
          "the tokens, the policies, the TLS certificate and [log] format. Under systemd\n"
          "(kairosd.service, Type=notify) it reports READY, STOPPING and the\n"
          "watchdog. See kairosd(8) and kairos.conf(5).\n",
          f);
}

static int hash_token(void)
{
    char line[512], hash[KAIROS_TOKEN_HASH_LEN + 1];
    size_t n;

    if (!fgets(line, sizeof(line), stdin)) {
        fputs("kairosd: no token on stdin\n", stderr);
        return 2;
    }
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    if (n == 0) {
        fputs("kairosd: empty token\n", stderr);
        return 2;
    }
    kairos_token_hash(line, hash);
    explicit_bzero(line, sizeof(line));
    printf("%s\n", hash);
    return 0;
}

/* [log] format, checked by the config's load. */
static void log_format_apply(const struct kairos_config *cfg)
{
    enum reqlog_format f = REQLOG_TEXT;

    reqlog_format_parse(cfg->log.format, &f);
    reqlog_set_format(f);
}

/* The pass's outcome and its drift audit, one line each, on stderr (kairosd's log). */
static void on_reconcile(void *arg, int rc, const struct kairos_reconcile_report *rep)
{
    struct metrics *m = arg;

    if (rc == 0 && !rep->skipped)
        metrics_reconcile(m, rep);
    if (rc < 0)
        metrics_reconcile_failure(m);
    if (rc < 0)
        reqlog_message("warning", NULL, "reconciler pass failed: %s", strerror(-rc));
    else if (rep->committed || rep->released || rep->bindings)
        reqlog_message("info", NULL, "reconciler settled %u committed, %u released, %u bindings",
                       rep->committed, rep->released, rep->bindings);
    for (unsigned i = 0; rc == 0 && i < rep->naudit; i++)
        reqlog_message("warning", NULL, "drift: %s", rep->audit[i]);
    if (rc == 0 && rep->drift > rep->naudit)
        reqlog_message("warning", NULL, "drift: %u more findings (kairosctl drift show PROJECT)",
                       rep->drift - rep->naudit);
    if (rc == 0 && rep->errors)
        reqlog_message("warning", NULL, "reconciler: %u errors, the last: %s", rep->errors,
                       rep->last_error);
}

static int write_port(const char *path, uint16_t port)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fprintf(f, "%u\n", port);
    return fclose(f) == 0 ? 0 : -errno;
}

/*
 * Wait for SIGTERM, SIGINT or SIGHUP. With a systemd watchdog, this thread pings it
 * at half the interval, so a kairosd whose main thread is stuck is killed
 * and restarted (Restart=on-failure).
 */
static int wait_for_stop(const sigset_t *stop)
{
    uint64_t usec = 0;
    struct timespec half;
    int sig = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
        sigwait(stop, &sig);
        return sig;
    }
    half.tv_sec = (time_t)(usec / 2 / 1000000);
    half.tv_nsec = (long)(usec / 2 % 1000000 * 1000);
    while ((sig = sigtimedwait(stop, NULL, &half)) < 0)
        sd_notify(0, "WATCHDOG=1");
    return sig;
}

/* SIGHUP: reload what can be, between systemd's RELOADING=1 and READY=1. */
static void reload(struct gateway *g, uint16_t port)
{
    struct kairos_error err = {0};

    sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
    if (reload_config(g, &err) < 0)
        reqlog_message("error", NULL, "reload failed, nothing changed: %s", err.msg);
    sd_notifyf(0, "READY=1\nSTATUS=serving on port %u", port);
}

static int serve(const char *conf, const char *port_file)
{
    struct gateway g = {0};
    struct kairos_config *cfg = NULL;
    struct kairos_policy *policy = NULL;
    struct kairos_error err = {0};
    struct server *srv = NULL;
    struct kairos_registry_report rep;
    sigset_t stop;
    int sig = 0, rc;

    /* Blocked before any thread starts, so only sigwait() below sees them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = kairos_config_load(conf, &cfg, &err);
    if (rc == 0)
        log_format_apply(cfg);
    if (rc == 0)
        rc = kairos_policy_load(cfg->policy.capacity, cfg->policy.plans, &policy, &err);
    if (rc == 0)
        rc = kairos_open(cfg, &g.k, &err);
    /* Before any request: the shard count checked, older single objects moved in. */
    if (rc == 0 && (rc = kairos_registry_open(g.k, &rep, &err)) == 0 &&
        (rep.records_moved || rep.tokens_moved))
        reqlog_message("info", NULL, "moved %llu registry records and %llu tokens into %u shards",
                       (unsigned long long)rep.records_moved, (unsigned long long)rep.tokens_moved,
                       rep.shards);
    if (rc == 0)
        rc = kairos_cache_open(g.k, KAIROS_CACHE_TTL_MS, &g.cache, &err);
    if (rc == 0)
        rc = auth_open(cfg->server.tokens, cfg->server.broker_user, cfg->server.broker_password,
                       &g.auth, &err);
    if (rc == 0 && !(g.metrics = metrics_new()))
        rc = kairos_error_set(&err, -ENOMEM, "out of memory");
    if (rc == 0 && (rc = metrics_start(g.metrics, g.k, METRICS_REFRESH_MS)) < 0)
        kairos_error_set(&err, rc, "cannot start the metrics thread: %s", strerror(-rc));
    g.cfg = cfg;
    g.policy = policy;
    if (rc == 0 &&
        (rc = ops_start(&g, cfg->server.threads ? (unsigned)cfg->server.threads : OPS_WORKERS,
                        osb_swept_spaces, &g.ops)) < 0)
        kairos_error_set(&err, rc, "cannot start workers: %s", strerror(-rc));
    if (rc == 0 && (rc = kairos_reconciler_start(g.k, on_reconcile, g.metrics)) < 0)
        kairos_error_set(&err, rc, "cannot start the reconciler: %s", strerror(-rc));
    if (rc == 0 && (rc = accesslog_start()) < 0)
        kairos_error_set(&err, rc, "cannot start the access log: %s", strerror(-rc));
    if (rc == 0)
        rc = server_start(&g, &srv, &err);
    if (rc == 0 && port_file && (rc = write_port(port_file, server_port(srv))) < 0)
        kairos_error_set(&err, rc, "%s: %s", port_file, strerror(-rc));
    if (rc < 0) {
        reqlog_message("error", NULL, "%s", err.msg);
        goto out;
    }
    reqlog_message("info", NULL, "listening on port %u%s", server_port(srv),
                   cfg->server.tls_cert ? " (TLS)" : "");
    sd_notifyf(0, "READY=1\nSTATUS=serving on port %u", server_port(srv));
    while ((sig = wait_for_stop(&stop)) == SIGHUP)
        reload(&g, server_port(srv));
    sd_notify(0, "STOPPING=1\nSTATUS=finishing requests in flight");
    reqlog_message("info", NULL, "%s: finishing requests in flight", strsignal(sig));
out:
    server_stop(srv, SHUTDOWN_GRACE);
    accesslog_stop();
    ops_stop(g.ops);
    if (g.k)
        kairos_reconciler_stop(g.k);
    metrics_free(g.metrics);
    auth_close(g.auth);
    kairos_cache_close(g.cache);
    kairos_close(g.k);
    /* The policy in use (a reload's, or the first) and those reloads replaced. */
    kairos_policy_free(g.policy ? (struct kairos_policy *)g.policy : policy);
    reload_free();
    kairos_config_free(cfg);
    if (rc == 0)
        reqlog_message("info", NULL, "stopped");
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"port-file", required_argument, NULL, 'p'},
        {"hash-token", no_argument, NULL, 'H'},   {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *conf = getenv("KAIROS_CONF"), *port_file = NULL;
    int c;

    /* Before anything opens a file or a socket (see kairos_std_fds_open()). */
    if (kairos_std_fds_open() < 0)
        return 1;

    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 'p':
            port_file = optarg;
            break;
        case 'H':
            return hash_token();
        case 'V':
            printf("kairosd %s (libkairos %s)\n", KAIROS_VERSION_STRING, kairos_version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return serve(conf ? conf : DEFAULT_CONF, port_file);
}
