/*
 * router.c - pattern matching of request paths (see router.h).
 */
#include "router.h"

#include <string.h>

/* Match @path against @pattern, copying ":param" segments into @req. */
static bool match(const char *pattern, const char *path, struct http_request *req)
{
    size_t used = 0, np = 0;

    while (*pattern && *path) {
        if (*pattern == ':') {
            size_t n = strcspn(path, "/");
            if (n == 0 || np == HTTP_MAX_PARAMS || used + n + 1 > sizeof(req->param_buf))
                return false;
            memcpy(req->param_buf + used, path, n);
            req->param_buf[used + n] = '\0';
            req->params[np++] = req->param_buf + used;
            used += n + 1;
            path += n;
            pattern += strcspn(pattern, "/");
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

const struct route *router_match(const struct route *routes, size_t n, struct http_request *req,
                                 bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, req->path, req))
            continue;
        if (routes[i].method == req->method)
            return &routes[i];
        *path_known = true;
    }
    memset(req->params, 0, sizeof(req->params));
    return NULL;
}
