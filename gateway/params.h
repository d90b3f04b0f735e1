/*
 * params.h - strict reading of JSON request bodies: an object, only known
 * keys, values of the right type. Every helper answers 400 itself through
 * @res and returns 0 on failure, so handlers read top to bottom.
 */
#ifndef KAIROSD_PARAMS_H
#define KAIROSD_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http.h"

/* The body as a JSON object (new reference); NULL after answering 400. @empty_ok: "" is {}. */
json_t *params_body(const struct http_request *req, struct http_response *res, bool empty_ok);

/* Refuse keys of @obj not in the NULL-terminated @allowed. Return: true when all are known. */
bool params_known(const json_t *obj, const char *const *allowed, const char *where,
                  struct http_response *res);

/*
 * A size: an integer of bytes or a string such as "500G" or "1.5TiB";
 * above 0 and at most 2^63-1. Absent: *@out is left alone.
 * Return: true when absent or valid.
 */
bool params_size(const json_t *obj, const char *key, uint64_t *out, struct http_response *res);

/* A non-negative integer below 2^63. Absent: *@out is left alone. */
bool params_count(const json_t *obj, const char *key, uint64_t *out, struct http_response *res);

struct kairos_share_access;

/*
 * A share's owner and mode: "mode" a string of octal digits ("2770", at
 * most 07777), "uid" and "gid" integers 0 to 4294967294. *@given tells
 * whether any of them was there; @a is set to the defaults first.
 * Return: true when all present are valid.
 */
bool params_share_access(const json_t *obj, struct kairos_share_access *a, bool *given,
                         struct http_response *res);

/* A string, or NULL when absent; answers 400 for another type. *@ok is false then. */
const char *params_string(const json_t *obj, const char *key, bool *ok, struct http_response *res);

/* A boolean; absent: @def. *@ok is false after answering 400. */
bool params_bool(const json_t *obj, const char *key, bool def, bool *ok, struct http_response *res);

/* The query argument @name as a boolean ("true"/"false"; absent: false). */
bool params_query_bool(const struct http_request *req, const char *name, bool *ok,
                       struct http_response *res);

#endif
