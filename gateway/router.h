/*
 * router.h - match a method and path against a table of route patterns.
 *
 * A pattern is a path whose ":name" segments match any one segment (not
 * empty, no '/'). Matching is exact otherwise: no trailing slash, no
 * percent-decoding (Kairos names and ids never need it). Pure and
 * allocation-free: the fuzz target drives it directly.
 */
#ifndef KAIROSD_ROUTER_H
#define KAIROSD_ROUTER_H

#include "http.h"

struct route {
    enum http_method method;
    const char *pattern;
    unsigned (*handler)(void *ctx, struct http_request *req, struct http_response *res);
};

/*
 * router_match() - the route for @req among @n @routes, with req->params
 * filled. *@path_known is set when some route has the path but not the
 * method (405 rather than 404).
 */
const struct route *router_match(const struct route *routes, size_t n, struct http_request *req,
                                 bool *path_known);

#endif
