/*
 * broker.c - credentials from kairosd's REST API over libcurl (see broker.h).
 */
#include "broker.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kairos/name.h>
#include <kairos/token.h>

#define CONNECT_TIMEOUT_S 10
#define TOTAL_TIMEOUT_S   60
#define PAGE              "limit=1000"

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return fwrite(data, size, n, arg);
}

/* One call; *@answer is the JSON answer of a 2xx. */
static int call(const char *url, const char *token, const char *method, const char *body,
                json_t **answer, struct kairos_error *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char authz[512], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    long status = 0;
    CURLcode cc;
    int rc = 0;

    *answer = NULL;
    if (!c || !f) {
        if (f)
            fclose(f);
        free(text);
        curl_easy_cleanup(c);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", token);
    h = curl_slist_append(h, authz);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)TOTAL_TIMEOUT_S);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    cc = curl_easy_perform(c);
    fclose(f);
    if (cc != CURLE_OK) {
        rc = kairos_error_set(err, -ECONNREFUSED, "kairosd at %s: %s", url, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *answer = len ? json_loads(text, 0, NULL) : NULL;
    if (status < 200 || status >= 300) {
        const char *d = json_string_value(json_object_get(*answer, "description"));
        rc = status == 401 || status == 403 ? -EACCES : status == 404 ? -ENOENT : -EIO;
        kairos_error_set(err, rc, "kairosd: %s (HTTP %ld)", d ? d : "refused", status);
        json_decref(*answer);
        *answer = NULL;
    }
out:
    /* The answer held keys: leave none in freed memory. */
    if (text)
        explicit_bzero(text, len);
    free(text);
    explicit_bzero(authz, sizeof(authz));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

/*
 * "kfs-<hostname>". A hostname that is no valid name as it is (capitals,
 * dots, too long) is made one and gets a hash of the whole of it, so that
 * "a.1" and "a_1" stay two nodes.
 */
static int binding_id(char *id, size_t len, struct kairos_error *err)
{
    char host[256] = "", hash[KAIROS_TOKEN_HASH_LEN + 1];
    size_t n;

    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        return kairos_error_set(err, -EINVAL, "this node has no hostname to bind as");
    snprintf(id, len, "kfs-%s", host);
    if (kairos_name_valid(id))
        return 0;
    kairos_token_hash(host, hash);
    snprintf(id, len, "kfs-%.40s", host);
    for (char *p = id; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
    n = strlen(id);
    while (n > 0 && id[n - 1] == '-')
        id[--n] = '\0';
    snprintf(id + n, len - n, "-%.12s", hash);
    return 0;
}

/* Bind every item of @kind ("shares", "volumes") into @into: {name: creds}. */
static int bind_all(const char *url, const char *token, const char *project, const char *kind,
                    const char *id, json_t *into, struct kairos_error *err)
{
    char path[1024], body[128], after[KAIROS_NAME_MAX + 8] = "";
    json_t *page = NULL, *item, *made;
    size_t i;
    int rc;

    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", id);
    for (;;) {
        snprintf(path, sizeof(path), "%s/v1/projects/%s/%s?" PAGE "%s%s", url, project, kind,
                 after[0] ? "&after=" : "", after);
        rc = call(path, token, "GET", NULL, &page, err);
        if (rc < 0)
            return rc;
        json_array_foreach(json_object_get(page, "items"), i, item)
        {
            const char *name = json_string_value(json_object_get(item, "name"));
            const char *state = json_string_value(json_object_get(item, "state"));
            /* One being made or deleted is left out, as the config source does. */
            if (!name || !state || strcmp(state, "ready") != 0)
                continue;
            /* The name goes into a path: take none but a valid one. */
            if (!kairos_name_valid(name)) {
                rc = kairos_error_set(err, -EIO, "kairosd listed a bad %s name", kind);
                break;
            }
            snprintf(path, sizeof(path), "%s/v1/projects/%s/%s/%s/bindings", url, project, kind,
                     name);
            rc = call(path, token, "POST", body, &made, err);
            if (rc < 0)
                break;
            json_object_set(into, name, json_object_get(made, "credentials"));
            json_decref(made);
        }
        const char *next = json_string_value(json_object_get(page, "next"));
        if (rc == 0 && next && !kairos_name_valid(next))
            rc = kairos_error_set(err, -EIO, "kairosd answered a bad paging mark");
        snprintf(after, sizeof(after), "%s", rc == 0 && next ? next : "");
        json_decref(page);
        if (rc < 0 || !after[0])
            return rc;
    }
}

int kfs_broker_fetch(const char *url, const char *token, const char *project, json_t **out,
                     struct kairos_error *err)
{
    char id[KAIROS_NAME_MAX + 1], base[512];
    json_t *shares = json_object(), *volumes = json_object();
    size_t n = strlen(url);
    int rc;

    *out = NULL;
    if (!kairos_name_valid(project)) {
        rc = kairos_error_set(err, -EINVAL, "bad project name '%s'", project);
        goto fail;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        rc = kairos_error_set(err, -EINVAL, "bad kairosd URL '%s': not http:// or https://", url);
        goto fail;
    }
    /* It goes into a header: printable ASCII only, no spaces. */
    for (const char *p = token; *p; p++) {
        if (*p <= ' ' || *p > '~') {
            rc = kairos_error_set(err, -EINVAL, "the token has a character no token has");
            goto fail;
        }
    }
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= sizeof(base)) {
        rc = kairos_error_set(err, -EINVAL, "the kairosd URL is too long");
        goto fail;
    }
    memcpy(base, url, n);
    base[n] = '\0';
    rc = binding_id(id, sizeof(id), err);
    if (rc < 0)
        goto fail;
    rc = bind_all(base, token, project, "shares", id, shares, err);
    if (rc == 0)
        rc = bind_all(base, token, project, "volumes", id, volumes, err);
    if (rc < 0)
        goto fail;
    *out = json_pack("{s:s,s:o,s:o}", "project", project, "shares", shares, "volumes", volumes);
    return *out ? 0 : kairos_error_set(err, -ENOMEM, "out of memory");
fail:
    json_decref(shares);
    json_decref(volumes);
    return rc;
}
