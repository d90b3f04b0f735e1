/*
 * http.c - kairosctl's calls to kairosd over libcurl (see ctl.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <kairos/units.h>

#include "ctl.h"

#define CONNECT_TIMEOUT_S 5
#define TOTAL_TIMEOUT_S   300

int ctl_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("kairosctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

const char *ctl_size(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v))
        return "-";
    return kairos_size_format((uint64_t)json_integer_value(v), buf, len);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return fwrite(data, size, n, arg);
}

static int exit_of(long status, const json_t *answer)
{
    const char *error = json_string_value(json_object_get(answer, "error"));

    switch (status) {
    case 400:
    case 413:
        return CTL_BAD_INPUT;
    case 401:
    case 403:
        return CTL_DENIED;
    case 404:
    case 410:
        return CTL_NOT_FOUND;
    case 409:
        return CTL_CONFLICT;
    case 422:
        return error && strstr(error, "Exceeded") ? CTL_QUOTA : CTL_ERROR;
    case 503:
        return CTL_UNREACHABLE;
    default:
        return CTL_ERROR;
    }
}

int ctl_call(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[2048], authz[512], *text = NULL, *payload = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    long status = 0;
    json_t *answer = NULL;
    CURLcode cc;
    int rc;

    *out = NULL;
    if (!curl || !f)
        return ctl_fail(CTL_ERROR, "out of memory");
    snprintf(url, sizeof(url), "%s%s", c->url, path);
    snprintf(authz, sizeof(authz), "Authorization: Bearer %s", c->token ? c->token : "");
    h = curl_slist_append(h, authz);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)TOTAL_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "kairosctl/1");
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    }
    cc = curl_easy_perform(curl);
    fclose(f);
    if (cc != CURLE_OK) {
        rc = ctl_fail(CTL_UNREACHABLE, "cannot reach kairosd at %s: %s", c->url,
                      curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    answer = len ? json_loads(text, 0, NULL) : NULL;
    if (status >= 200 && status < 300) {
        *out = answer;
        answer = NULL;
        rc = CTL_OK;
    } else {
        const char *d = json_string_value(json_object_get(answer, "description"));
        rc = ctl_fail(exit_of(status, answer), "%s (HTTP %ld)", d ? d : "request failed", status);
    }
out:
    json_decref(answer);
    free(payload);
    free(text);
    explicit_bzero(authz, sizeof(authz));
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    return rc;
}
