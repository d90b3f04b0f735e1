/*
 * rgw.c - a radosgw client: admin ops and S3 calls over libcurl (see rgw.h).
 *
 * Every request is one curl easy handle, made and freed per call: these
 * are control-plane calls (a user, a quota, a bucket), few and far apart,
 * and a handle per call keeps the client trivially thread-safe.
 */
#include "rgw.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "sigv4.h"

/* radosgw signs and checks requests as the S3 service, whatever the path. */
#define SERVICE "s3"
/*
 * The largest answer taken: a user's bucket list with stats is about 1 KiB
 * per bucket, so this allows some thousands of buckets per project.
 */
#define ANSWER_MAX (16u << 20)
/* A bucket quota is given to radosgw in KiB. */
#define KIB 1024

struct kairos_rgw {
    char *endpoint; /* as configured, for messages and credentials */
    char *base;     /* "scheme://host[:port]" requests go to */
    char *host;     /* the Host header, signed: "host[:port]" */
    struct kairos_rgw_key admin;
    const char *region;
    long connect_timeout_ms;
    long timeout_ms;
};

/* ---- open and close ---- */

static int parse_endpoint(struct kairos_rgw *rgw, const char *endpoint, struct kairos_error *err)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    CURLU *u = curl_url();
    int rc = 0;

    if (!u)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = kairos_error_set(err, -EINVAL, "[rgw] endpoint '%s' is not a URL", endpoint);
        goto out;
    }
    /* No port in the URL: the Host header, and so the signature, has none either. */
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    if ((path && strcmp(path, "/") != 0 && path[0]) || query) {
        rc = kairos_error_set(err, -EINVAL,
                              "[rgw] endpoint '%s' must be scheme://host[:port] without a path",
                              endpoint);
        goto out;
    }
    if (asprintf(&rgw->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0)
        rgw->host = NULL;
    if (asprintf(&rgw->base, "%s://%s", scheme, rgw->host ? rgw->host : "") < 0)
        rgw->base = NULL;
    if (!rgw->host || !rgw->base)
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}

int kairos_rgw_open(const struct kairos_config *cfg, struct kairos_rgw **out,
                    struct kairos_error *err)
{
    struct kairos_rgw *rgw;
    int rc;

    *out = NULL;
    if (!cfg->rgw.endpoint || !cfg->rgw.access_key || !cfg->rgw.secret_key)
        return kairos_error_set(err, -EINVAL, "[rgw] needs endpoint, access_key and secret_key");
    /* Reference-counted by libcurl, and thread-safe since 7.84. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kairos_error_set(err, -ENOMEM, "cannot initialize libcurl");
    rgw = calloc(1, sizeof(*rgw));
    if (!rgw) {
        curl_global_cleanup();
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    rgw->endpoint = strdup(cfg->rgw.endpoint);
    rgw->admin.access_key = cfg->rgw.access_key;
    rgw->admin.secret_key = cfg->rgw.secret_key;
    rgw->region = cfg->rgw.region ? cfg->rgw.region : "default";
    rgw->connect_timeout_ms = (long)cfg->rgw.connect_timeout_ms;
    rgw->timeout_ms = (long)cfg->rgw.timeout_ms;
    rc = rgw->endpoint ? parse_endpoint(rgw, cfg->rgw.endpoint, err)
                       : kairos_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        kairos_rgw_close(rgw);
        return rc;
    }
    *out = rgw;
    return 0;
}

void kairos_rgw_close(struct kairos_rgw *rgw)
{
    if (!rgw)
        return;
    free(rgw->endpoint);
    free(rgw->base);
    free(rgw->host);
    free(rgw);
    curl_global_cleanup();
}

const char *kairos_rgw_endpoint(const struct kairos_rgw *rgw)
{
    return rgw->endpoint;
}

const char *kairos_rgw_region(const struct kairos_rgw *rgw)
{
    return rgw->region;
}

/* ---- errors ---- */

static const struct {
    const char *code;
    int err;
} CODES[] = {
    {"NoSuchUser", -ENOENT},          {"NoSuchBucket", -ENOENT},
    {"NoSuchKey", -ENOENT},           {"NoSuchBucketPolicy", -ENOENT},
    {"NoSuchEntity", -ENOENT},        {"UserAlreadyExists", -EEXIST},
    {"BucketAlreadyExists", -EEXIST}, {"KeyExists", -EEXIST},
    {"EmailExists", -EEXIST},         {"BucketNotEmpty", -ENOTEMPTY},
    {"AccessDenied", -EACCES},        {"SignatureDoesNotMatch", -EACCES},
    {"InvalidAccessKeyId", -EACCES},  {"RequestTimeTooSkewed", -EACCES},
    {"QuotaExceeded", -EDQUOT},       {"TooManyBuckets", -EDQUOT},
    {"InvalidBucketName", -EINVAL},   {"InvalidArgument", -EINVAL},
    {"InvalidTenantName", -EINVAL},   {"MalformedPolicy", -EINVAL},
    {"InvalidRequest", -EINVAL},      {"SlowDown", -EAGAIN},
    {"ServiceUnavailable", -EAGAIN},  {"NotImplemented", -EOPNOTSUPP},
};

int kairos_rgw_errno(long status, const char *code)
{
    for (size_t i = 0; code && i < sizeof(CODES) / sizeof(CODES[0]); i++) {
        if (strcmp(code, CODES[i].code) == 0)
            return CODES[i].err;
    }
    switch (status) {
    case 401:
    case 403:
        return -EACCES;
    case 404:
        return -ENOENT;
    case 409:
        return -EEXIST;
    case 501:
        return -EOPNOTSUPP;
    case 503:
        return -EAGAIN;
    default:
        return status >= 400 && status < 500 ? -EINVAL : -EIO;
    }
}

/* The error code of an answer: JSON {"Code": ...} from admin ops, XML <Code> from S3. */
static void error_code(const char *body, size_t len, char *code, size_t size)
{
    const char *start, *end;

    code[0] = '\0';
    if (len && body[0] == '{') {
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *c = json_string_value(json_object_get(j, "Code"));
        if (c)
            snprintf(code, size, "%s", c);
        json_decref(j);
        return;
    }
    /* One element of a short, flat error document: no XML parser needed. */
    start = len ? strstr(body, "<Code>") : NULL;
    end = start ? strstr(start, "</Code>") : NULL;
    if (start && end) {
        start += strlen("<Code>");
        snprintf(code, size, "%.*s", (int)(end - start), start);
    }
}

/* A transport failure as an errno, in words. */
static int transport_errno(CURL *c, CURLcode cc, const char **what)
{
    long os = 0;

    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os);
        if (os == EHOSTUNREACH || os == ENETUNREACH || os == ETIMEDOUT) {
            *what = strerror((int)os);
            return -(int)os;
        }
        *what = "connection refused";
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        *what = "cannot resolve the host name";
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        *what = "no answer in time";
        return -ETIMEDOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        *what = "connection lost";
        return -ECONNRESET;
    case CURLE_WRITE_ERROR:
        *what = "answer too large";
        return -EFBIG;
    default:
        *what = curl_easy_strerror(cc);
        return -EIO;
    }
}

/* ---- one request ---- */

struct answer {
    char *data;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t take = size * n;
    char *grown;

    if (a->len + take > ANSWER_MAX)
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    grown = realloc(a->data, a->len + take + 1);
    if (!grown)
        return 0;
    memcpy(grown + a->len, data, take);
    a->data = grown;
    a->len += take;
    a->data[a->len] = '\0';
    return take;
}

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *fmt, ...)
{
    struct curl_slist *grown;
    char *line = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *ok = false;
        return list;
    }
    grown = curl_slist_append(list, line);
    free(line);
    if (!grown)
        *ok = false;
    return grown ? grown : list;
}

/* Sign @call and build its header list; NULL when out of memory. */
static struct curl_slist *signed_headers(struct kairos_rgw *rgw, const struct kairos_rgw_call *call,
                                         const char *epath)
{
    const struct kairos_rgw_key *key = call->as ? call->as : &rgw->admin;
    char date[KAIROS_SIGV4_DATE_LEN], hash[KAIROS_SHA256_HEX_LEN], *authz = NULL;
    const struct kairos_sigv4_header h[] = {
        {"host", rgw->host},
        {"x-amz-content-sha256", hash},
        {"x-amz-date", date},
    };
    struct kairos_sigv4_request req = {
        .method = call->method,
        .path = epath,
        .query = call->query,
        .headers = h,
        .nheaders = sizeof(h) / sizeof(h[0]),
        .payload_hash = hash,
    };
    struct kairos_sigv4_signer signer = {
        .access_key = key->access_key,
        .secret_key = key->secret_key,
        .region = rgw->region,
        .service = SERVICE,
    };
    struct curl_slist *list = NULL;
    bool ok = true;

    kairos_sigv4_date(time(NULL), date);
    kairos_sha256_hex(call->body ? call->body : "", call->body ? call->body_len : 0, hash);
    if (kairos_sigv4_authorization(&req, &signer, &authz) < 0)
        return NULL;
    /* Curl would write Host itself, without a default port: send exactly what was signed. */
    list = add_header(list, &ok, "Host: %s", rgw->host);
    list = add_header(list, &ok, "x-amz-date: %s", date);
    list = add_header(list, &ok, "x-amz-content-sha256: %s", hash);
    list = add_header(list, &ok, "Authorization: %s", authz);
    /* A body goes at once; and no form type unless the caller names one. */
    list = add_header(list, &ok, "Expect:");
    if (call->content_type)
        list = add_header(list, &ok, "Content-Type: %s", call->content_type);
    else
        list = add_header(list, &ok, "Content-Type:");
    free(authz);
    if (!ok) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

static void set_method(CURL *c, const struct kairos_rgw_call *call)
{
    if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        return;
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
    /* PUT and POST always carry a Content-Length, if only 0. */
    if (call->body || strcmp(call->method, "PUT") == 0 || strcmp(call->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body ? call->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(call->body ? call->body_len : 0));
    }
}

int kairos_rgw_request(struct kairos_rgw *rgw, const struct kairos_rgw_call *call, json_t **answer,
                       struct kairos_error *err)
{
    char *epath = NULL, *url = NULL, code[64] = "";
    struct curl_slist *headers = NULL;
    struct answer a = {0};
    const char *what;
    long status = 0;
    CURLcode cc;
    CURL *c = NULL;
    int rc = 0;

    if (answer)
        *answer = NULL;
    epath = kairos_uri_encode(call->path, true);
    if (epath && asprintf(&url, "%s%s%s%s", rgw->base, epath, call->query ? "?" : "",
                          call->query ? call->query : "") < 0)
        url = NULL;
    headers = url ? signed_headers(rgw, call, epath) : NULL;
    c = headers ? curl_easy_init() : NULL;
    if (!c) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    set_method(c, call);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    /* Timeouts by alarm() signals are not for a multi-threaded library. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rgw->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rgw->timeout_ms);
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = transport_errno(c, cc, &what);
        kairos_error_set(err, rc, "radosgw at %s: %s %s: %s", rgw->endpoint, call->method,
                         call->path, what);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        error_code(a.data ? a.data : "", a.len, code, sizeof(code));
        rc = kairos_rgw_errno(status, code[0] ? code : NULL);
        kairos_error_set(err, rc, "radosgw at %s: %s %s: %ld %s%s", rgw->endpoint, call->method,
                         call->path, status, code[0] ? code : "(no error code)",
                         rc == -EACCES && !call->as
                             ? " (check [rgw] access_key and secret_key, and that this user "
                               "has users=* and buckets=* caps)"
                             : "");
        goto out;
    }
    if (answer && a.len) {
        json_error_t jerr;
        *answer = json_loadb(a.data, a.len, 0, &jerr);
        if (!*answer)
            rc = kairos_error_set(err, -EIO, "radosgw at %s: %s %s: answer is not JSON: %s",
                                  rgw->endpoint, call->method, call->path, jerr.text);
    }
out:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    free(a.data);
    free(url);
    free(epath);
    return rc;
}

/* ---- queries ---- */

/*
 * A query string from (name, value) pairs ending with a NULL name; a NULL
 * value gives a bare sub-resource ("quota"). Values are encoded here.
 */
static char *query(const char *first, ...)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    bool ok = f != NULL, more = false;
    va_list ap;

    va_start(ap, first);
    for (const char *name = first; ok && name; name = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        char *enc = value ? kairos_uri_encode(value, false) : NULL;
        if (value && !enc)
            ok = false;
        else
            fprintf(f, "%s%s%s%s", more ? "&" : "", name, value ? "=" : "", value ? enc : "");
        more = true;
        free(enc);
    }
    va_end(ap);
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* Send a request whose query was built by query(); NULL query means out of memory. */
static int send_query(struct kairos_rgw *rgw, const char *method, const char *path, char *q,
                      json_t **answer, struct kairos_error *err)
{
    struct kairos_rgw_call call = {.method = method, .path = path, .query = q};
    int rc;

    if (!q)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = kairos_rgw_request(rgw, &call, answer, err);
    free(q);
    return rc;
}

/* ---- users ---- */

int kairos_rgw_user_create(struct kairos_rgw *rgw, const char *uid, const char *display_name,
                           int64_t max_buckets, json_t **user, struct kairos_error *err)
{
    char mb[32];

    snprintf(mb, sizeof(mb), "%" PRId64, max_buckets);
    return send_query(rgw, "PUT", "/admin/user",
                      query("uid", uid, "display-name", display_name, "max-buckets", mb, "key-type",
                            "s3", "generate-key", "true", NULL),
                      user, err);
}

int kairos_rgw_user_get(struct kairos_rgw *rgw, const char *uid, json_t **user,
                        struct kairos_error *err)
{
    return send_query(rgw, "GET", "/admin/user", query("uid", uid, NULL), user, err);
}

int kairos_rgw_user_set_max_buckets(struct kairos_rgw *rgw, const char *uid, int64_t max_buckets,
                                    struct kairos_error *err)
{
    char mb[32];

    snprintf(mb, sizeof(mb), "%" PRId64, max_buckets);
    return send_query(rgw, "POST", "/admin/user", query("uid", uid, "max-buckets", mb, NULL), NULL,
                      err);
}

int kairos_rgw_user_remove(struct kairos_rgw *rgw, const char *uid, bool purge_data,
                           struct kairos_error *err)
{
    struct kairos_error e = {0};
    int rc =
        send_query(rgw, "DELETE", "/admin/user",
                   query("uid", uid, "purge-data", purge_data ? "true" : "false", NULL), NULL, &e);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        kairos_error_set(err, rc, "%s", e.msg);
    return rc;
}

/*
 * Quotas go as query parameters: radosgw cannot check a SigV4 signature
 * over the body of an admin op ("AWS4 completion ... not implemented").
 */
int kairos_rgw_user_quota(struct kairos_rgw *rgw, const char *uid,
                          enum kairos_rgw_quota_scope scope, int64_t max_size, int64_t max_objects,
                          struct kairos_error *err)
{
    char size[32], objects[32];

    snprintf(size, sizeof(size), "%" PRId64, max_size < 0 ? -1 : max_size);
    snprintf(objects, sizeof(objects), "%" PRId64, max_objects < 0 ? -1 : max_objects);
    return send_query(rgw, "PUT", "/admin/user",
                      query("quota", NULL, "uid", uid, "quota-type",
                            scope == KAIROS_RGW_USER_QUOTA ? "user" : "bucket", "max-size", size,
                            "max-objects", objects, "enabled", "true", NULL),
                      NULL, err);
}

int kairos_rgw_user_s3_key(const json_t *user, struct kairos_rgw_key *out)
{
    const json_t *k = json_array_get(json_object_get(user, "keys"), 0);

    out->access_key = json_string_value(json_object_get(k, "access_key"));
    out->secret_key = json_string_value(json_object_get(k, "secret_key"));
    return out->access_key && out->secret_key ? 0 : -ENOENT;
}

/* ---- buckets ---- */

static char *tenant_bucket(const char *tenant, const char *bucket)
{
    char *s = NULL;

    if (asprintf(&s, "%s%s%s", tenant ? tenant : "", tenant && tenant[0] ? "/" : "", bucket) < 0)
        return NULL;
    return s;
}

int kairos_rgw_bucket_quota(struct kairos_rgw *rgw, const char *uid, const char *bucket,
                            int64_t max_size, int64_t max_objects, struct kairos_error *err)
{
    char kb[32], objects[32];

    /* Rounded up: a bucket holds at least what it was given. */
    snprintf(kb, sizeof(kb), "%" PRId64,
             max_size < 0 ? -1 : max_size / KIB + (max_size % KIB != 0));
    snprintf(objects, sizeof(objects), "%" PRId64, max_objects < 0 ? -1 : max_objects);
    return send_query(rgw, "PUT", "/admin/bucket",
                      query("quota", NULL, "uid", uid, "bucket", bucket, "max-size-kb", kb,
                            "max-objects", objects, "enabled", "true", NULL),
                      NULL, err);
}

int kairos_rgw_bucket_stats(struct kairos_rgw *rgw, const char *tenant, const char *bucket,
                            json_t **out, struct kairos_error *err)
{
    char *tb = tenant_bucket(tenant, bucket);
    char *q = tb ? query("bucket", tb, "stats", "true", NULL) : NULL;

    free(tb);
    return send_query(rgw, "GET", "/admin/bucket", q, out, err);
}

int kairos_rgw_user_buckets(struct kairos_rgw *rgw, const char *uid, json_t **out,
                            struct kairos_error *err)
{
    return send_query(rgw, "GET", "/admin/bucket", query("uid", uid, "stats", "true", NULL), out,
                      err);
}

int kairos_rgw_bucket_remove(struct kairos_rgw *rgw, const char *tenant, const char *bucket,
                             bool purge_objects, struct kairos_error *err)
{
    struct kairos_error e = {0};
    char *tb = tenant_bucket(tenant, bucket);
    char *q =
        tb ? query("bucket", tb, "purge-objects", purge_objects ? "true" : "false", NULL) : NULL;
    int rc;

    free(tb);
    rc = send_query(rgw, "DELETE", "/admin/bucket", q, NULL, &e);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        kairos_error_set(err, rc, "%s", e.msg);
    return rc;
}

const char *kairos_rgw_bucket_tag(const json_t *bucket, const char *tag)
{
    return json_string_value(json_object_get(json_object_get(bucket, "tagset"), tag));
}

uint64_t kairos_rgw_usage_sum(const json_t *bucket, const char *field)
{
    const char *category;
    json_t *u;
    uint64_t sum = 0;

    json_object_foreach(json_object_get(bucket, "usage"), category, u)
    {
        json_int_t v = json_integer_value(json_object_get(u, field));
        if (v > 0)
            sum += (uint64_t)v;
    }
    return sum;
}

/* ---- S3 ---- */

int kairos_rgw_s3_create_bucket(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                                const char *bucket, struct kairos_error *err)
{
    struct kairos_rgw_call call = {.method = "PUT", .as = key};
    char *path = NULL;
    int rc;

    if (asprintf(&path, "/%s", bucket) < 0)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    call.path = path;
    /* No location constraint: the bucket goes to the zonegroup the endpoint serves. */
    rc = kairos_rgw_request(rgw, &call, NULL, err);
    free(path);
    return rc;
}

int kairos_rgw_s3_set_policy(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                             const char *bucket, const char *policy, struct kairos_error *err)
{
    struct kairos_rgw_call call = {.method = policy ? "PUT" : "DELETE",
                                   .query = "policy",
                                   .body = policy,
                                   .body_len = policy ? strlen(policy) : 0,
                                   .content_type = policy ? "application/json" : NULL,
                                   .as = key};
    struct kairos_error e = {0};
    char *path = NULL;
    int rc;

    if (asprintf(&path, "/%s", bucket) < 0)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    call.path = path;
    rc = kairos_rgw_request(rgw, &call, NULL, &e);
    free(path);
    /* Removing a policy that is not there: done. */
    if (!policy && rc == -ENOENT && strstr(e.msg, "NoSuchBucketPolicy"))
        rc = 0;
    if (rc < 0)
        kairos_error_set(err, rc, "%s", e.msg);
    return rc;
}

int kairos_rgw_s3_tag_bucket(struct kairos_rgw *rgw, const struct kairos_rgw_key *key,
                             const char *bucket, const char *tag, const char *value,
                             struct kairos_error *err)
{
    struct kairos_rgw_call call = {
        .method = "PUT", .query = "tagging", .content_type = "application/xml", .as = key};
    char *path = NULL, *body = NULL;
    int rc;

    /* Tags are names and hex ids here, nothing XML would need escaped. */
    if (strpbrk(tag, "<>&\"'") || strpbrk(value, "<>&\"'"))
        return kairos_error_set(err, -EINVAL, "bad bucket tag");
    if (asprintf(&path, "/%s", bucket) < 0)
        path = NULL;
    if (path && asprintf(&body,
                         "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>"
                         "<Tag><Key>%s</Key><Value>%s</Value></Tag></TagSet></Tagging>",
                         tag, value) < 0)
        body = NULL;
    if (!path || !body) {
        free(path);
        return kairos_error_set(err, -ENOMEM, "out of memory");
    }
    call.path = path;
    call.body = body;
    call.body_len = strlen(body);
    rc = kairos_rgw_request(rgw, &call, NULL, err);
    free(path);
    free(body);
    return rc;
}
