/*
 * fuzz_api.c - libFuzzer target for kairosd's request routing and JSON
 * handling, with no cluster: any input must give a well-formed answer (or
 * "go on to the handler") without crashing, leaking or reading out of
 * bounds.
 *
 * It also runs the OSB context rule (osb_context_valid()) on the body.
 *
 * Input: a request as text:
 *     METHOD /path?query
 *     Header: value
 *     ...
 *     <blank line>
 *     body
 *
 *   build-fuzz/tests/fuzz/fuzz_api -max_total_time=600 tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "gateway.h"
#include "osb.h"
#include "osb_int.h"
#include "params.h"

#define MAX_HEADERS 16

struct parsed {
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    int n;
    char *query;
};

/* A "name=value&..." lookup in the query string. */
static const char *lookup_query(void *arg, const char *name)
{
    static char value[256];
    struct parsed *p = arg;
    size_t len = strlen(name);

    for (const char *q = p->query; q && *q;) {
        size_t seg = strcspn(q, "&");
        if (seg > len && strncmp(q, name, len) == 0 && q[len] == '=') {
            size_t vlen = seg - len - 1 < sizeof(value) - 1 ? seg - len - 1 : sizeof(value) - 1;
            memcpy(value, q + len + 1, vlen);
            value[vlen] = '\0';
            return value;
        }
        q += seg + (q[seg] == '&');
    }
    return NULL;
}

static const char *lookup_header(void *arg, const char *name)
{
    struct parsed *p = arg;

    for (int i = 0; i < p->n; i++) {
        if (strcasecmp(p->names[i], name) == 0)
            return p->values[i];
    }
    return NULL;
}

/* Exercise the body readers as the handlers do. */
static void read_body(const struct http_request *req)
{
    static const char *const keys[] = {"name",       "size",    "max_files", "source", "parameters",
                                       "service_id", "plan_id", "context",   NULL};
    struct http_response res = {0};
    json_t *body = params_body(req, &res, true);
    uint64_t size = 0, count = 0;
    bool ok = true;

    if (body) {
        params_known(body, keys, "the request", &res);
        params_size(body, "size", &size, &res);
        params_count(body, "max_files", &count, &res);
        params_string(body, "name", &ok, &res);
        params_bool(body, "read_only", false, &ok, &res);
        const json_t *p = json_object_get(body, "parameters");
        if (json_is_object(p))
            params_size(p, "size", &size, &res);
        /* The OSB context rule: which project a provision names, or a 400. */
        http_response_clear(&res);
        osb_context_valid(body, &res);
    }
    params_query_bool(req, "accepts_incomplete", &ok, &res);
    json_decref(body);
    http_response_clear(&res);
}

/* libFuzzer calls it; declared here as its documentation says. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *line, *save = NULL, *method, *path, *body;
    struct http_request req = {0};
    struct http_response res = {0};
    struct parsed p = {0};

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    body = strstr(text, "\n\n");
    if (body)
        *body = '\0', body += 2;
    line = strtok_r(text, "\n", &save);
    method = line ? strtok(line, " ") : NULL;
    path = method ? strtok(NULL, " ") : NULL;
    if (!path)
        goto out;
    while (p.n < MAX_HEADERS && (line = strtok_r(NULL, "\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        p.names[p.n] = line;
        p.values[p.n++] = colon + 1 + (colon[1] == ' ');
    }
    p.query = strchr(path, '?');
    if (p.query)
        *p.query++ = '\0';
    req.method = http_method_parse(method);
    req.path = path;
    req.body = body ? body : "";
    req.body_len = strlen(req.body);
    req.header = lookup_header;
    req.query = lookup_query;
    req.lookup_arg = &p;
    api_route_only(&req, &res);
    http_response_clear(&res);
    osb_version_check(lookup_header(&p, "X-Broker-API-Version"));
    read_body(&req);
out:
    free(text);
    return 0;
}
