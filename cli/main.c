/*
 * main.c - kairosctl: the administrators' quota CLI, a client of kairosd's
 * REST API (see kairosctl(1), docs/kairosctl.1).
 *
 *   kairosctl [--url URL] [--token-file FILE] [--cacert FILE] [-f FORMAT] [-c COLUMN]...
 *             [--no-color] COMMAND ...
 *
 * kairosd's URL: --url, $KAIROS_URL, [client] url of the config ($KAIROS_CONF
 * or -c), else http://127.0.0.1:8080. The admin token: $KAIROS_TOKEN, else
 * the file from --token-file, $KAIROS_TOKEN_FILE, [client] token_file, or
 * ~/.kairos/token. The CAs that sign kairosd's certificate: --cacert,
 * $KAIROS_CACERT, [client] cacert, else the system's trust store.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kairos/client.h>
#include <kairos/config.h>
#include <kairos/process.h>
#include <kairos/units.h>
#include <kairos/version.h>

#include "commands.h"
#include "ctl.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

static void usage(FILE *f)
{
    fputs("usage: kairosctl [options] COMMAND [ARGS...]\n"
          "\n"
          "Commands:\n"
          "  project create|list|show|delete   projects\n"
          "  quota set|show                    a project's limits\n"
          "  usage [PROJECT]                   quota, allocated, used and percent per kind\n"
          "  capacity                          the pool: capacity, headroom, quotas, use\n"
          "  volumes|shares|buckets PROJECT    a project's allocations\n"
          "  volume|share|bucket create|resize|delete|show|list   allocations\n"
          "  volume flatten                    make a clone independent of its parent\n"
          "  snapshot create|list|delete       snapshots of volumes and shares\n"
          "  binding create|list|show|delete   credentials that reach one allocation\n"
          "  token create|list|revoke          project tokens\n"
          "  drift show|policy                 what the keys did behind the ledger\n"
          "  audit [trim]                      who changed what, and the answers\n"
          "  operation show ID                 an asynchronous operation\n"
          "  cluster                           where clients find the cluster\n"
          "\n"
          "Options:\n"
          "      --config FILE    read [client] url, token_file and cacert from FILE\n"
          "  -u, --url URL        kairosd (default $KAIROS_URL or " DEFAULT_URL ")\n"
          "  -t, --token-file F   the admin token (default $KAIROS_TOKEN, ~/.kairos/token)\n"
          "      --cacert FILE    CAs to trust for https:// (default $KAIROS_CACERT, the\n"
          "                       system's)\n"
          "  -f, --format FORMAT  table (default), json, yaml or value (the cells alone)\n"
          "  -c, --column COLUMN  show that column (json, yaml: that field); repeatable\n"
          "      --json           -f json\n"
          "      --no-color       no colour even on a terminal\n"
          "  -V, --version        print the version and exit\n"
          "  -h, --help           this help; COMMAND --help for a command's\n"
          "\n"
          "Exit codes: 0 ok, 1 error, 2 bad input, 3 not found, 4 quota exceeded,\n"
          "5 kairosd unreachable, 6 permission denied, 7 conflict.\n",
          f);
}

static char *read_token(const char *path)
{
    char buf[512];
    char *token = kairos_token_read(path, buf, sizeof(buf), NULL) == 0 ? strdup(buf) : NULL;

    explicit_bzero(buf, sizeof(buf));
    return token;
}

static char *home_path(const char *path)
{
    const char *home = getenv("HOME");
    char *out = NULL;

    if (strncmp(path, "~/", 2) == 0 && home) {
        if (asprintf(&out, "%s/%s", home, path + 2) < 0)
            return NULL;
        return out;
    }
    return strdup(path);
}

/* Where kairosctl looked for a token, when it found none. */
static char hint[PATH_MAX + 256];

/* Settle the URL and the token from options, environment and config. */
static int settle(struct ctl *c, const char *conf, const char *url, const char *token_file,
                  const char *cacert)
{
    struct kairos_config *cfg = NULL;
    struct kairos_error err = {0};
    char *tf = NULL;

    if (conf && kairos_config_load(conf, &cfg, &err) < 0)
        return ctl_fail(CTL_BAD_INPUT, "%s", err.msg);
    if (!url)
        url = getenv("KAIROS_URL");
    if (!url && cfg && cfg->client.url)
        url = cfg->client.url;
    c->url = strdup(url ? url : DEFAULT_URL);
    while (c->url[0] && c->url[strlen(c->url) - 1] == '/')
        c->url[strlen(c->url) - 1] = '\0';
    if (!cacert)
        cacert = getenv("KAIROS_CACERT");
    if (!cacert && cfg)
        cacert = cfg->client.cacert;
    c->cacert = cacert && *cacert ? strdup(cacert) : NULL;
    if (getenv("KAIROS_TOKEN") && *getenv("KAIROS_TOKEN")) {
        c->token = strdup(getenv("KAIROS_TOKEN"));
    } else {
        if (!token_file && getenv("KAIROS_TOKEN_FILE") && *getenv("KAIROS_TOKEN_FILE"))
            token_file = getenv("KAIROS_TOKEN_FILE");
        if (!token_file && cfg && cfg->client.token_file)
            token_file = cfg->client.token_file;
        tf = home_path(token_file ? token_file : "~/.kairos/token");
        c->token = tf ? read_token(tf) : NULL;
        if (!c->token && token_file) {
            ctl_fail(CTL_BAD_INPUT, "cannot read a token from %s", tf);
            free(tf);
            kairos_config_free(cfg);
            return CTL_BAD_INPUT;
        }
        /* Said only if kairosd asks for a token (401). */
        if (!c->token)
            snprintf(hint, sizeof(hint),
                     "no token was sent: $KAIROS_TOKEN is not set and %s does not exist "
                     "(give one with --token-file, $KAIROS_TOKEN_FILE or [client] token_file)",
                     tf ? tf : "~/.kairos/token");
        free(tf);
    }
    c->token_hint = hint[0] ? hint : NULL;
    kairos_config_free(cfg);
    return CTL_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'C'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"column", required_argument, NULL, 'c'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"cacert", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"no-color", no_argument, NULL, 'n'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *conf = getenv("KAIROS_CONF"), *url = NULL, *token_file = NULL, *cacert = NULL;
    struct ctl c = {0};
    struct winsize ws;
    bool no_color = getenv("NO_COLOR") != NULL;
    int opt, rc;

    /* Before anything opens a file or a socket (see kairos_std_fds_open()). */
    if (kairos_std_fds_open() < 0)
        return 1;

    /* Stop at the command: its own options follow it. */
    output_use(&c);
    while ((opt = getopt_long(argc, argv, "+f:c:u:t:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'C':
            conf = optarg;
            break;
        case 'f':
            if (!output_format_parse(optarg, &c.format))
                return ctl_fail(CTL_BAD_INPUT, "bad format '%s': table, json, yaml or value",
                                optarg);
            break;
        case 'c':
            if (!output_column_add(&c, optarg))
                return ctl_fail(CTL_BAD_INPUT, "too many columns");
            break;
        case 'u':
            url = optarg;
            break;
        case 't':
            token_file = optarg;
            break;
        case 'a':
            cacert = optarg;
            break;
        case 'j':
            c.format = CTL_FORMAT_JSON;
            break;
        case 'n':
            no_color = true;
            break;
        case 'V':
            printf("kairosctl %s (libkairos-client %s)\n", KAIROS_VERSION_STRING, kairos_version());
            return CTL_OK;
        case 'h':
            usage(stdout);
            return CTL_OK;
        default:
            usage(stderr);
            return CTL_BAD_INPUT;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_BAD_INPUT;
    }
    if (conf && !*conf)
        conf = NULL;
    c.color = !no_color && isatty(STDOUT_FILENO);
    c.width = isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
    /* A command's --help needs no server. */
    if (!commands_wants_help(argc - optind, argv + optind)) {
        rc = settle(&c, conf, url, token_file, cacert);
        if (rc != CTL_OK)
            return rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = commands_run(&c, argc - optind, argv + optind);
    curl_global_cleanup();
    free(c.url);
    free(c.cacert);
    if (c.token) {
        explicit_bzero(c.token, strlen(c.token));
        free(c.token);
    }
    return rc;
}
