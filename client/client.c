/*
 * client.c - one call to kairosd's REST API over libcurl (see
 * kairos/client.h): kairosctl's and kairosfs's single way to kairosd,
 * and the token file a client reads its token from.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <kairos/client.h>

#define DEFAULT_CONNECT_TIMEOUT_S 10
#define DEFAULT_TIMEOUT_S         60
/* "Authorization: Bearer " and the longest token accepted. */
#define AUTHZ_MAX 512

/* keep_alive: each thread's handle, which keeps its connections open; freed at thread exit. */
static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;
static int handle_key_rc;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void handle_key_make(void)
{
    handle_key_rc = pthread_key_create(&handle_key, handle_free);
}

/* A handle for one call: this thread's kept one, or a new one. */
static CURL *handle_get(const struct kairos_client *c)
{
    CURL *h;

    if (!c->keep_alive || pthread_once(&handle_once, handle_key_make) != 0 || handle_key_rc)
        return curl_easy_init();
    h = pthread_getspecific(handle_key);
    if (h) {
        /* Options go, the connection cache stays. */
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h && pthread_setspecific(handle_key, h) != 0) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

static void handle_put(const struct kairos_client *c, CURL *h)
{
    if (h && (!c->keep_alive || handle_key_rc || pthread_getspecific(handle_key) != h))
        curl_easy_cleanup(h);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return fwrite(data, size, n, arg);
}

static int check_target(const struct kairos_client *c, struct kairos_error *err)
{
    if (!c->url || (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0))
        return kairos_error_set(err, -EINVAL, "bad kairosd URL '%s': not http:// or https://",
                                c->url ? c->url : "");
    /* It goes into a header: printable ASCII only, no spaces. */
    for (const char *p = c->token ? c->token : ""; *p; p++)
        if (*p <= ' ' || *p > '~')
            return kairos_error_set(err, -EINVAL, "the token has a character no token has");
    if (c->token && strlen(c->token) > AUTHZ_MAX - 32)
        return kairos_error_set(err, -EINVAL, "the token is too long");
    return 0;
}

/* Header copies are libcurl's: wipe the bearer token out of them too. */
static void wipe_headers(struct curl_slist *h)
{
    for (; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
}

/* @c->url without its trailing '/' and then @path, in a new string. */
static char *join_url(const char *url, const char *path)
{
    size_t n = strlen(url);
    char *out;

    while (n > 0 && url[n - 1] == '/')
        n--;
    out = malloc(n + strlen(path) + 1);
    if (out) {
        memcpy(out, url, n);
        strcpy(out + n, path);
    }
    return out;
}

int kairos_client_call(const struct kairos_client *c, const char *method, const char *path,
                       const json_t *body, long *status, json_t **answer, struct kairos_error *err)
{
    char authz[AUTHZ_MAX], *url = NULL, *text = NULL, *payload = NULL;
    struct curl_slist *h = NULL;
    CURL *curl = NULL;
    FILE *f = NULL;
    size_t len = 0;
    CURLcode cc;
    int rc;

    *status = 0;
    *answer = NULL;
    authz[0] = '\0';
    rc = check_target(c, err);
    if (rc < 0)
        goto out;
    url = join_url(c->url, path);
    curl = handle_get(c);
    f = open_memstream(&text, &len);
    payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!url || !curl || !f || (body && !payload) || !h) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (c->token) {
        struct curl_slist *more;

        snprintf(authz, sizeof(authz), "Authorization: Bearer %s", c->token);
        more = curl_slist_append(h, authz);
        if (!more) {
            rc = kairos_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        h = more;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, c->agent ? c->agent : "libkairos");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     c->connect_timeout_s > 0 ? c->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s > 0 ? c->timeout_s : DEFAULT_TIMEOUT_S);
    /* The token must not follow a redirect to another host: none is followed. */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Those CAs alone: libcurl would also trust its built-in CA directory. */
    if (c->cacert) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->cacert);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    /* No SIGALRM for resolver timeouts: the caller may be threaded. */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (payload)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    cc = curl_easy_perform(curl);
    fclose(f);
    f = NULL;
    if (cc != CURLE_OK) {
        rc = kairos_error_set(err, -ECONNREFUSED, "cannot reach kairosd at %s: %s", c->url,
                              curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    *answer = len ? json_loadb(text, len, 0, NULL) : NULL;
out:
    if (f)
        fclose(f);
    /* Answers may hold cephx keys, requests a token: wipe our copies (libcurl's are its own). */
    if (text)
        explicit_bzero(text, len);
    free(text);
    if (payload)
        explicit_bzero(payload, strlen(payload));
    free(payload);
    explicit_bzero(authz, sizeof(authz));
    wipe_headers(h);
    curl_slist_free_all(h);
    handle_put(c, curl);
    free(url);
    return rc;
}

int kairos_token_read(const char *path, char *buf, size_t len, struct kairos_error *err)
{
    FILE *f = fopen(path, "r");

    buf[0] = '\0';
    if (!f)
        return kairos_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0])
        return kairos_error_set(err, -EINVAL, "%s: no token", path);
    return 0;
}
