/*
 * main.c - kairos-csi: the Kubernetes CSI driver of Kairos, on gRPC's C
 * core, talking to kairosd.
 *
 *   kairos-csi --url https://kairosd:8443 --endpoint unix:///csi/csi.sock \
 *              --mode controller --token-file /etc/kairos-csi/token
 *   kairos-csi --url https://kairosd:8443 --mode node --nodeid $(NODE_NAME)
 *
 * Reads its options, then serves the Identity service and the Controller,
 * the Node service or both until SIGTERM or SIGINT (see server.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kairos/client.h>
#include <kairos/name.h>
#include <kairos/process.h>
#include <kairos/version.h>

#include "csi.h"
#include "log.h"

#define DEFAULT_ENDPOINT  "unix:///csi/csi.sock"
#define DEFAULT_STATE_DIR "/var/lib/kairos-csi"
/* Enough for 16 CreateVolume calls of a provisioner and a few node calls at once. */
#define DEFAULT_WORKERS 16
#define MAX_WORKERS     256

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --url URL [options]\n"
            "\n"
            "The Kairos CSI driver: volumes and shares for Kubernetes through kairosd.\n"
            "\n"
            "  --url URL            kairosd (http:// or https://; or $KAIROS_URL)\n"
            "  --endpoint EP        the CSI socket (default $CSI_ENDPOINT or " DEFAULT_ENDPOINT
            ")\n"
            "  --mode MODE          controller, node or all (default all)\n"
            "  --nodeid ID          this node's id (default: the hostname)\n"
            "  --cacert FILE        CAs of kairosd's certificate (default: the system's)\n"
            "  --token-file FILE    the plugin's own kairosd token, for the calls CSI gives\n"
            "                       no secrets: ListVolumes, GetCapacity, ListSnapshots\n"
            "  --project NAME       the project of that token, when it is a project's\n"
            "  --driver-name NAME   the CSI driver name (default " CSI_DRIVER_DEFAULT ")\n"
            "  --state-dir DIR      the node's own mounts (default " DEFAULT_STATE_DIR ")\n"
            "  --kairosfs PATH      the kairosfs program (default: kairosfs in PATH)\n"
            "  --map HOW            auto, krbd, rbd-nbd or kairosfs: how a node maps a\n"
            "                       volume (default auto: krbd, rbd-nbd, then kairosfs)\n"
            "  --workers N          threads that serve calls (default %d)\n"
            "  -v, --verbose        log more\n"
            "  --version, --help\n",
            prog, DEFAULT_WORKERS);
}

/* An option that goes into kairosfs's -o list: no comma. */
static bool plain(const char *s)
{
    return !s || !strchr(s, ',');
}

static int pick_map(struct csi *c, const char *how)
{
    char path[256];

    if (!how || strcmp(how, "auto") == 0) {
        snprintf(path, sizeof(path), "%s/bus/rbd", c->sysfs);
        if (access(path, F_OK) == 0) {
            c->map = CSI_MAP_KRBD;
            return 0;
        }
        snprintf(path, sizeof(path), "%s/module/nbd", c->sysfs);
        const char *argv_probe = getenv("PATH");
        bool nbd = false;
        /* rbd-nbd where it is installed and the kernel has nbd. */
        for (const char *p = argv_probe; p && *p && !nbd;) {
            size_t n = strcspn(p, ":");
            char prog[512];
            snprintf(prog, sizeof(prog), "%.*s/rbd-nbd", (int)n, p);
            nbd = access(prog, X_OK) == 0;
            p += n + (p[n] == ':');
        }
        c->map = nbd && access(path, F_OK) == 0 ? CSI_MAP_NBD : CSI_MAP_KAIROSFS;
        return 0;
    }
    if (strcmp(how, "krbd") == 0)
        c->map = CSI_MAP_KRBD;
    else if (strcmp(how, "rbd-nbd") == 0)
        c->map = CSI_MAP_NBD;
    else if (strcmp(how, "kairosfs") == 0)
        c->map = CSI_MAP_KAIROSFS;
    else
        return -EINVAL;
    return 0;
}

int main(int argc, char *argv[])
{
    enum {
        O_URL = 256,
        O_ENDPOINT,
        O_MODE,
        O_NODEID,
        O_CACERT,
        O_TOKEN,
        O_PROJECT,
        O_DRIVER,
        O_STATE,
        O_KAIROSFS,
        O_MAP,
        O_WORKERS,
        O_VERSION,
        O_HELP
    };
    static const struct option opts[] = {
        {"url", required_argument, NULL, O_URL},
        {"endpoint", required_argument, NULL, O_ENDPOINT},
        {"mode", required_argument, NULL, O_MODE},
        {"nodeid", required_argument, NULL, O_NODEID},
        {"cacert", required_argument, NULL, O_CACERT},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"project", required_argument, NULL, O_PROJECT},
        {"driver-name", required_argument, NULL, O_DRIVER},
        {"state-dir", required_argument, NULL, O_STATE},
        {"kairosfs", required_argument, NULL, O_KAIROSFS},
        {"map", required_argument, NULL, O_MAP},
        {"workers", required_argument, NULL, O_WORKERS},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct csi c = {.driver = CSI_DRIVER_DEFAULT,
                    .state_dir = DEFAULT_STATE_DIR,
                    .kairosfs = "kairosfs",
                    .sysfs = "/sys",
                    .controller = true,
                    .node = true};
    const char *endpoint = getenv("CSI_ENDPOINT"), *mode = "all", *token_file = NULL, *map = NULL;
    char host[256] = "", token[512];
    struct csi_methods tables[3];
    struct sigaction sa;
    size_t ntables = 0;
    unsigned long workers = DEFAULT_WORKERS;
    struct kairos_error err = {0};
    int o, rc;

    if (kairos_std_fds_open() < 0)
        return 1;
    c.url = getenv("KAIROS_URL");
    while ((o = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (o) {
        case O_URL:
            c.url = optarg;
            break;
        case O_ENDPOINT:
            endpoint = optarg;
            break;
        case O_MODE:
            mode = optarg;
            break;
        case O_NODEID:
            c.node_id = optarg;
            break;
        case O_CACERT:
            c.cacert = optarg;
            break;
        case O_TOKEN:
            token_file = optarg;
            break;
        case O_PROJECT:
            c.project = optarg;
            break;
        case O_DRIVER:
            c.driver = optarg;
            break;
        case O_STATE:
            c.state_dir = optarg;
            break;
        case O_KAIROSFS:
            c.kairosfs = optarg;
            break;
        case O_MAP:
            map = optarg;
            break;
        case O_WORKERS: {
            char *end;
            workers = strtoul(optarg, &end, 10);
            if (*end || !workers || workers > MAX_WORKERS) {
                fprintf(stderr, "kairos-csi: --workers is 1 to %d\n", MAX_WORKERS);
                return 2;
            }
            break;
        }
        case 'v':
            csi_log_verbose(1);
            break;
        case O_VERSION:
            printf("kairos-csi %s (libkairos-client %s, CSI 1.10)\n", CSI_VERSION,
                   kairos_version());
            return 0;
        case O_HELP:
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind != argc || !c.url) {
        fprintf(stderr, "kairos-csi: %s\n", !c.url ? "--url is required" : "stray arguments");
        usage(stderr, argv[0]);
        return 2;
    }
    if (strncmp(c.url, "http://", 7) != 0 && strncmp(c.url, "https://", 8) != 0) {
        fprintf(stderr, "kairos-csi: --url must start with http:// or https://\n");
        return 2;
    }
    if (!plain(c.url) || !plain(c.cacert)) {
        fprintf(stderr, "kairos-csi: --url and --cacert may hold no comma\n");
        return 2;
    }
    if (c.project && !kairos_name_valid(c.project)) {
        fprintf(stderr, "kairos-csi: bad project name '%s'\n", c.project);
        return 2;
    }
    if (c.state_dir[0] != '/' || strlen(c.driver) > 63 || !*c.driver) {
        fprintf(stderr, "kairos-csi: --state-dir must be absolute, --driver-name 1-63 bytes\n");
        return 2;
    }
    if (strcmp(mode, "controller") == 0)
        c.node = false;
    else if (strcmp(mode, "node") == 0)
        c.controller = false;
    else if (strcmp(mode, "all") != 0) {
        fprintf(stderr, "kairos-csi: --mode is controller, node or all\n");
        return 2;
    }
    if (!c.node_id) {
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) {
            fprintf(stderr, "kairos-csi: no hostname: give --nodeid\n");
            return 2;
        }
        c.node_id = host;
    }
    if (pick_map(&c, map) < 0) {
        fprintf(stderr, "kairos-csi: --map is auto, krbd, rbd-nbd or kairosfs\n");
        return 2;
    }
    if (token_file) {
        if (kairos_token_read(token_file, token, sizeof(token), &err) < 0) {
            fprintf(stderr, "kairos-csi: %s\n", err.msg);
            return 1;
        }
        c.token = token;
    }
    if (!endpoint)
        endpoint = DEFAULT_ENDPOINT;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    csi_inflight_init(&c.inflight);
    tables[ntables++] = csi_identity_methods;
    if (c.controller)
        tables[ntables++] = csi_controller_methods;
    if (c.node) {
        tables[ntables++] = csi_node_methods;
        if (mkdir(c.state_dir, 0750) < 0 && errno != EEXIST)
            csi_log(CSI_LOG_WARN, "cannot make %s: %s", c.state_dir, strerror(errno));
    }
    csi_log(CSI_LOG_INFO, "kairos-csi %s: %s, driver %s, node %s, kairosd %s%s, volumes by %s",
            CSI_VERSION, mode, c.driver, c.node_id, c.url, c.token ? " (with a token)" : "",
            c.map == CSI_MAP_KRBD  ? "krbd"
            : c.map == CSI_MAP_NBD ? "rbd-nbd"
                                   : "kairosfs+loop");
    rc = csi_server_run(&c, endpoint, tables, ntables, (unsigned)workers, &stop);
    csi_inflight_destroy(&c.inflight);
    explicit_bzero(token, sizeof(token));
    csi_log(CSI_LOG_INFO, "stopped");
    return rc < 0 ? 1 : 0;
}
