/*
 * kd.c - start, stop and call a kairosd for the HTTP tests (see kd.h).
 */
#include "kd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kairos/kairos.h>

#include "watchdog.h"

static void die(const char *what)
{
    fprintf(stderr, "FATAL: %s\n", what);
    exit(1);
}

/*
 * kairosd stalled (a call went unanswered, an operation never ended): say
 * what it and the cluster are doing while it still is. Once per test: the
 * first stall is the one worth reading, and each report takes a while.
 */
static void stalled(struct kd *kd, const char *what)
{
    static bool reported;

    fprintf(stderr, "KD: kairosd (pid %d) stalled: %s\n", (int)kd->pid, what);
    if (reported || kd->pid <= 0)
        return;
    reported = true;
    kt_watchdog_report(kd->pid);
}

static void write_conf(struct kd *kd, const char *base)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1], tokens[128], line[512];
    FILE *in = fopen(base, "r"), *out, *t;

    if (!in) {
        fprintf(stderr, "FATAL: no local cluster: KAIROS_CONF is '%s' and unreadable\n", base);
        exit(1);
    }
    snprintf(tokens, sizeof(tokens), "%s/tokens", kd->dir);
    t = fopen(tokens, "w");
    kairos_token_hash(KD_ADMIN_TOKEN, hash);
    fprintf(t, "# the test's admin token\n%s admin\n", hash);
    fclose(t);
    out = fopen(kd->conf, "w");
    /*
     * The cluster's config with the [server] section replaced by the
     * test's own, and any section @conf_extra names by that.
     */
    bool skip = false;
    while (fgets(line, sizeof(line), in)) {
        if (line[0] == '[') {
            char head[128];
            snprintf(head, sizeof(head), "%.*s", (int)strcspn(line, "\r\n"), line);
            skip =
                strcmp(head, "[server]") == 0 || (kd->conf_extra && strstr(kd->conf_extra, head));
        }
        if (!skip)
            fputs(line, out);
    }
    /* A free port on 127.0.0.1, unless the test says where. */
    fprintf(out,
            "\n[server]\n%stokens = %s\nbroker_user = %s\n"
            "broker_password = %s\nmax_body = 64K\ntimeout = 10s\n",
            kd->server_extra && strstr(kd->server_extra, "listen =") ? ""
                                                                     : "listen = 127.0.0.1:0\n",
            tokens, KD_BROKER_USER, KD_BROKER_SECRET);
    if (kd->tls)
        fprintf(out, "tls_cert = %s\ntls_key = %s/key.pem\n", kd->cert, kd->dir);
    if (kd->server_extra)
        fprintf(out, "%s\n", kd->server_extra);
    if (kd->conf_extra)
        fprintf(out, "\n%s\n", kd->conf_extra);
    fclose(in);
    fclose(out);
}

static void make_cert(struct kd *kd)
{
    char cmd[512];

    snprintf(kd->cert, sizeof(kd->cert), "%s/cert.pem", kd->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s 2>/dev/null",
             kd->dir, kd->cert);
    if (system(cmd) != 0)
        die("openssl could not make a test certificate (scripts/install-deps installs it)");
}

static void start(struct kd *kd, const char *binary, bool tls, const char *server_extra,
                  const char *conf_extra);

void kd_start(struct kd *kd, const char *binary)
{
    start(kd, binary, false, NULL, NULL);
}

void kd_start_conf(struct kd *kd, const char *binary, const char *server_extra,
                   const char *conf_extra)
{
    start(kd, binary, false, server_extra, conf_extra);
}

void kd_start_tls(struct kd *kd, const char *binary)
{
    start(kd, binary, true, NULL, NULL);
}

void kd_start_tls_conf(struct kd *kd, const char *binary, const char *server_extra,
                       const char *conf_extra)
{
    start(kd, binary, true, server_extra, conf_extra);
}

static void start(struct kd *kd, const char *binary, bool tls, const char *server_extra,
                  const char *conf_extra)
{
    const char *base = getenv("KAIROS_CONF");
    char portfile[160];

    memset(kd, 0, sizeof(*kd));
    kd->tls = tls;
    kd->server_extra = server_extra;
    kd->conf_extra = conf_extra;
    /* Another build of kairosd (a debug one, say) may stand in. */
    if (getenv("KAIROSD"))
        binary = getenv("KAIROSD");
    if (!base)
        die("no local cluster: KAIROS_CONF is not set (run through ctest -L integration)");
    snprintf(kd->dir, sizeof(kd->dir), "/tmp/kairosd-test.XXXXXX");
    if (!mkdtemp(kd->dir))
        die("mkdtemp");
    snprintf(kd->conf, sizeof(kd->conf), "%s/kairos.conf", kd->dir);
    snprintf(kd->log, sizeof(kd->log), "%s/kairosd.log", kd->dir);
    snprintf(portfile, sizeof(portfile), "%s/port", kd->dir);
    if (tls)
        make_cert(kd);
    write_conf(kd, base);
    kd->pid = fork();
    if (kd->pid == 0) {
        FILE *log = freopen(kd->log, "w", stderr);
        (void)log;
        execl(binary, binary, "-c", kd->conf, "--port-file", portfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(portfile, "r");
        int status;
        if (f && fscanf(f, "%u", &kd->port) == 1 && kd->port) {
            fclose(f);
            curl_global_init(CURL_GLOBAL_DEFAULT);
            return;
        }
        if (f)
            fclose(f);
        if (waitpid(kd->pid, &status, WNOHANG) == kd->pid) {
            char line[512];
            FILE *log = fopen(kd->log, "r");
            fprintf(stderr, "FATAL: kairosd exited; its log %s says:\n", kd->log);
            while (log && fgets(line, sizeof(line), log))
                fputs(line, stderr);
            exit(1);
        }
        usleep(100 * 1000);
    }
    die("kairosd did not come up in 30 s");
}

/* Print the last @max lines of @path to stderr, under a heading. */
static void print_tail(const char *path, size_t max, const char *heading)
{
    char line[1024], **ring = calloc(max, sizeof(*ring));
    size_t n = 0;
    FILE *log = fopen(path, "r");

    if (!log || !ring) {
        free(ring);
        if (log)
            fclose(log);
        return;
    }
    while (fgets(line, sizeof(line), log)) {
        free(ring[n % max]);
        ring[n++ % max] = strdup(line);
    }
    fclose(log);
    fprintf(stderr, "%s (%s%s):\n", heading, n > max ? "its last lines, of " : "", path);
    for (size_t i = n > max ? n - max : 0; i < n; i++)
        fputs(ring[i % max] ? ring[i % max] : "", stderr);
    for (size_t i = 0; i < max; i++)
        free(ring[i]);
    free(ring);
}

/*
 * The logs of the kairosds this program stopped cleanly are kept until it
 * exits, and printed then if it failed: a failed assertion often follows
 * from something only the server's log says (CI shows nothing else).
 */
#define KEPT_MAX   32
#define KEPT_LINES 150
static char kept[KEPT_MAX][sizeof(((struct kd *)0)->dir)];
static size_t nkept;

/*
 * A kairosd that did not stop cleanly (an error exit, a leak under ASan)
 * fails the test program. Tests check kd_stop() in their group teardown,
 * and cmocka does not count a failed group teardown in its exit status.
 */
static bool unclean_stop;
static pid_t kept_by; /* a child forked by the test exits without touching them */

static void remove_dir(const char *dir)
{
    const char *files[] = {"kairos.conf", "tokens", "port", "kairosd.log", "cert.pem", "key.pem"};
    char path[192];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void at_exit(int status, void *arg)
{
    char path[192];

    (void)arg;
    if (getpid() != kept_by)
        return;
    for (size_t i = 0; i < nkept; i++) {
        snprintf(path, sizeof(path), "%s/kairosd.log", kept[i]);
        if (status != 0)
            print_tail(path, KEPT_LINES, "KD: the test failed; a kairosd it ran logged");
        remove_dir(kept[i]);
    }
    if (!unclean_stop)
        return;
    fprintf(stderr, "KD: a kairosd did not stop cleanly (its log is above): the test fails\n");
    fflush(NULL);
    _exit(1);
}

/* Done with @kd's directory: its log is printed now if it stopped badly, else kept till exit. */
static void cleanup(struct kd *kd, bool show_log)
{
    static bool registered;

    if (!registered) {
        kept_by = getpid();
        registered = on_exit(at_exit, NULL) == 0;
    }
    if (show_log)
        print_tail(kd->log, 100000, "KD: kairosd did not stop cleanly; its log");
    if (!show_log && registered && nkept < KEPT_MAX) {
        snprintf(kept[nkept++], sizeof(kept[0]), "%s", kd->dir);
        return;
    }
    remove_dir(kd->dir);
}

int kd_stop(struct kd *kd)
{
    int status = 0, rc = -1;

    if (kd->pid <= 0)
        return -1;
    kill(kd->pid, SIGTERM);
    for (int i = 0; i < 600 && rc < 0; i++) {
        if (waitpid(kd->pid, &status, WNOHANG) == kd->pid)
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        else
            usleep(100 * 1000);
    }
    if (rc < 0) {
        stalled(kd, "still running 60 s after SIGTERM");
        kill(kd->pid, SIGKILL);
        waitpid(kd->pid, &status, 0);
    }
    kd->pid = 0;
    if (rc != 0)
        unclean_stop = true;
    cleanup(kd, rc != 0);
    return rc;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    FILE *f = arg;

    return fwrite(data, size, n, f);
}

/* Keep the response headers kd_reply names. */
static size_t header(char *data, size_t size, size_t n, void *arg)
{
    struct kd_reply *r = arg;
    size_t len = size * n;
    const struct {
        const char *name;
        char *into;
        size_t cap;
    } want[] = {{"retry-after:", r->retry, sizeof(r->retry)},
                {"content-type:", r->type, sizeof(r->type)},
                {"x-request-id:", r->request_id, sizeof(r->request_id)}};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t k = strlen(want[i].name);
        if (len > k && strncasecmp(data, want[i].name, k) == 0) {
            const char *v = data + k;
            size_t vlen = len - k;
            while (vlen && (*v == ' ' || *v == '\t'))
                v++, vlen--;
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
                vlen--;
            snprintf(want[i].into, want[i].cap, "%.*s", (int)vlen, v);
        }
    }
    return len;
}

static long perform_reply(struct kd *kd, const char *method, const char *path,
                          const char *const *hdrs, const char *userpwd, const char *body,
                          json_t **out, struct kd_reply *reply);

static long perform(struct kd *kd, const char *method, const char *path, const char *const *hdrs,
                    const char *userpwd, const char *body, json_t **out)
{
    return perform_reply(kd, method, path, hdrs, userpwd, body, out, NULL);
}

static long perform_reply(struct kd *kd, const char *method, const char *path,
                          const char *const *hdrs, const char *userpwd, const char *body,
                          json_t **out, struct kd_reply *reply)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[1024], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    long status = 0;
    CURLcode rc;

    snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", kd->tls ? "https" : "http", kd->port, path);
    if (kd->tls)
        curl_easy_setopt(c, CURLOPT_CAINFO, kd->cert);
    bool typed = false;
    for (; hdrs && *hdrs; hdrs++) {
        typed |= strncasecmp(*hdrs, "Content-Type:", 13) == 0;
        h = curl_slist_append(h, *hdrs);
    }
    /* JSON unless the test says otherwise ("Content-Type:" alone sends none). */
    if (!typed)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (reply) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, reply);
    }
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else {
        char what[1200];
        snprintf(what, sizeof(what), "%s %s: %s", method, path, curl_easy_strerror(rc));
        stalled(kd, what);
    }
    fclose(f);
    /* A failure whose body the test drops is printed: a setup that fails
     * on an unexpected status then says kairosd's reason. */
    if (status >= 400 && !out && !reply)
        fprintf(stderr, "KD: %s %s -> %ld %.*s\n", method, path, status,
                (int)(len < 600 ? len : 600), text ? text : "");
    if (out)
        *out = len ? json_loads(text, 0, NULL) : NULL;
    free(text);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

long kd_call_headers(struct kd *kd, const char *method, const char *path, const char *const *hdrs,
                     const char *body, json_t **out)
{
    return perform(kd, method, path, hdrs, NULL, body, out);
}

void kd_request(struct kd *kd, const char *method, const char *path, enum kd_as as,
                const char *token, const char *const *hdrs, const char *body, struct kd_reply *out)
{
    char authz[512];
    const char *all[16] = {NULL};
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (as == KD_ADMIN || as == KD_TOKEN) {
        snprintf(authz, sizeof(authz), "Authorization: Bearer %s",
                 as == KD_ADMIN ? KD_ADMIN_TOKEN : token);
        all[n++] = authz;
    }
    bool versioned = false;
    for (; hdrs && *hdrs && n < 14; hdrs++) {
        versioned |= strncasecmp(*hdrs, "X-Broker-API-Version:", 21) == 0;
        all[n++] = *hdrs;
    }
    /* OSB calls speak 2.17 unless the test says otherwise ("X-Broker-API-Version:" sends none). */
    if (as == KD_OSB && !versioned)
        all[n++] = "X-Broker-API-Version: 2.17";
    out->status = perform_reply(kd, method, path, all,
                                as == KD_OSB ? KD_BROKER_USER ":" KD_BROKER_SECRET : NULL, body,
                                &out->body, out);
}

long kd_call(struct kd *kd, const char *method, const char *path, enum kd_as as, const char *token,
             const char *body, json_t **out)
{
    char authz[512];
    const char *hdrs[3] = {NULL};

    switch (as) {
    case KD_ADMIN:
        snprintf(authz, sizeof(authz), "Authorization: Bearer %s", KD_ADMIN_TOKEN);
        hdrs[0] = authz;
        break;
    case KD_TOKEN:
        snprintf(authz, sizeof(authz), "Authorization: Bearer %s", token);
        hdrs[0] = authz;
        break;
    case KD_OSB:
        hdrs[0] = "X-Broker-API-Version: 2.17";
        break;
    default:
        break;
    }
    return perform(kd, method, path, hdrs,
                   as == KD_OSB ? KD_BROKER_USER ":" KD_BROKER_SECRET : NULL, body, out);
}

const char *kd_wait_operation(struct kd *kd, const char *id)
{
    static char state[32];
    char path[128], what[128];
    struct timespec start, now;
    useconds_t pause = 50 * 1000;

    snprintf(path, sizeof(path), "/v1/operations/%s", id);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        json_t *j = NULL;
        long s = kd_call(kd, "GET", path, KD_ADMIN, NULL, NULL, &j);
        const char *st = json_string_value(json_object_get(j, "state"));
        snprintf(state, sizeof(state), "%s", s == 200 && st ? st : "unknown");
        json_decref(j);
        if (strcmp(state, "in progress") != 0)
            return state;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= KD_OPERATION_WAIT)
            break;
        /* Fast operations answer at once; slow ones need not flood kairosd's log. */
        usleep(pause);
        if (pause < 1000 * 1000)
            pause *= 2;
    }
    snprintf(what, sizeof(what), "operation %s still in progress after %d s", id,
             KD_OPERATION_WAIT);
    stalled(kd, what);
    return state;
}

int kd_capture(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    size_t n;
    int status;

    if (!f)
        die("popen failed");
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    status = pclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void kd_delete_project(struct kd *kd, const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/projects/%s?force=true", name);
    kd_call(kd, "DELETE", path, KD_ADMIN, NULL, NULL, NULL);
}

void kd_project_token(struct kd *kd, const char *project, char *token, size_t tlen, char *id,
                      size_t idlen)
{
    char url[256];
    json_t *j = NULL;
    const char *t;

    snprintf(url, sizeof(url), "/v1/projects/%s/tokens", project);
    if (kd_call(kd, "POST", url, KD_ADMIN, NULL, NULL, &j) != 201 ||
        !(t = json_string_value(json_object_get(j, "token"))))
        die("kairosd made no project token");
    snprintf(token, tlen, "%s", t);
    if (id)
        snprintf(id, idlen, "%s", json_string_value(json_object_get(j, "id")) ?: "");
    json_decref(j);
}

void kd_token_file(struct kd *kd, const char *project, const char *path, char *id, size_t idlen)
{
    char token[256];
    FILE *f;

    kd_project_token(kd, project, token, sizeof(token), id, idlen);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", token) < 0 || fclose(f) != 0)
        die("cannot write the token file");
    explicit_bzero(token, sizeof(token));
}
