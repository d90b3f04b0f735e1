/*
 * params.c - strict JSON body reading (see params.h).
 */
#include "params.h"

#include <stdlib.h>
#include <string.h>

#include <kairos/kairos.h>
#include <kairos/share.h>

/*
 * What is wrong with a body, in our words: jansson's own texts can name its
 * options ("JSON_ALLOW_NUL") or quote bytes of the body, neither of which
 * helps a caller.
 */
static const char *json_problem(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_invalid_utf8:
        return "the text is not valid UTF-8";
    case json_error_premature_end_of_input:
        return "the body ends too early";
    case json_error_end_of_input_expected:
        return "something follows the JSON value";
    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "strings may not contain \\u0000";
    case json_error_duplicate_key:
        return "a key appears twice in an object";
    case json_error_numeric_overflow:
        return "a number is too large";
    case json_error_stack_overflow:
        return "the JSON nests too deeply";
    case json_error_out_of_memory:
        return "out of memory";
    default:
        return "not valid JSON";
    }
}

json_t *params_body(const struct http_request *req, struct http_response *res, bool empty_ok)
{
    json_error_t e;
    json_t *j;

    if (req->body_len == 0) {
        if (empty_ok)
            return json_object();
        http_error(res, 400, "BadRequest", "a JSON object body is required");
        return NULL;
    }
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        http_error(res, 400, "BadRequest", "malformed JSON at line %d column %d: %s", e.line,
                   e.column, json_problem(&e));
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_error(res, 400, "BadRequest", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

bool params_known(const json_t *obj, const char *const *allowed, const char *where,
                  struct http_response *res)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a) {
            http_error(res, 400, "BadRequest", "unknown field '%.64s' in %s", key, where);
            return false;
        }
    }
    return true;
}

bool params_size(const json_t *obj, const char *key, uint64_t *out, struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);
    uint64_t n;

    if (!v)
        return true;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v) && kairos_size_parse(json_string_value(v), &n) == 0 && n > 0 &&
        n <= KAIROS_SIZE_MAX) {
        *out = n;
        return true;
    }
    http_error(res, 400, "BadRequest",
               "'%s' must be a size above 0: bytes, or a string such as \"500G\" or \"1.5TiB\"",
               key);
    return false;
}

bool params_count(const json_t *obj, const char *key, uint64_t *out, struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return true;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    http_error(res, 400, "BadRequest", "'%s' must be a non-negative integer", key);
    return false;
}

static bool params_id(const json_t *obj, const char *key, int64_t *out, bool *given,
                      struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return true;
    *given = true;
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= (json_int_t)KAIROS_ID_MAX) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    http_error(res, 400, "BadRequest", "'%s' must be an integer from 0 to %u", key, KAIROS_ID_MAX);
    return false;
}

bool params_share_access(const json_t *obj, struct kairos_share_access *a, bool *given,
                         struct http_response *res)
{
    const json_t *m = json_object_get(obj, "mode");
    const char *s = json_string_value(m);
    char *end;
    unsigned long mode;

    *a = (struct kairos_share_access){.uid = -1, .gid = -1};
    *given = false;
    if (m) {
        *given = true;
        mode = s && *s ? strtoul(s, &end, 8) : 0;
        /* Octal digits only: no sign, space or "0x" that strtoul() would take. */
        if (!s || !*s || strlen(s) > 4 || strspn(s, "01234567") != strlen(s) || *end ||
            mode > 07777) {
            http_error(res, 400, "BadRequest",
                       "'mode' must be a string of octal permission bits, such as \"2770\"");
            return false;
        }
        a->mode = (uint32_t)mode;
    }
    return params_id(obj, "uid", &a->uid, given, res) && params_id(obj, "gid", &a->gid, given, res);
}

const char *params_string(const json_t *obj, const char *key, bool *ok, struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);

    if (!v || json_is_string(v))
        return json_string_value(v);
    *ok = false;
    http_error(res, 400, "BadRequest", "'%s' must be a string", key);
    return NULL;
}

bool params_bool(const json_t *obj, const char *key, bool def, bool *ok, struct http_response *res)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return def;
    if (json_is_boolean(v))
        return json_is_true(v);
    *ok = false;
    http_error(res, 400, "BadRequest", "'%s' must be true or false", key);
    return def;
}

bool params_query_bool(const struct http_request *req, const char *name, bool *ok,
                       struct http_response *res)
{
    const char *v = req->query(req->lookup_arg, name);

    if (!v || strcmp(v, "false") == 0)
        return false;
    if (strcmp(v, "true") == 0)
        return true;
    *ok = false;
    http_error(res, 400, "BadRequest", "query argument '%s' must be true or false", name);
    return false;
}
