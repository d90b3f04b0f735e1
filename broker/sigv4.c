/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h).
 *
 * Text is built with open_memstream(), hashes and HMACs come from OpenSSL;
 * nothing here talks to the network.
 */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_END "aws4_request"
/* A SHA-256 is 32 bytes. */
#define SHA256_LEN 32
/* "YYYYMMDD", the date part of x-amz-date. */
#define DAY_LEN 8

/* ---- encoding ---- */

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static void encode_into(FILE *f, const char *s, size_t len, bool keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/'))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

char *kairos_uri_encode(const char *s, bool keep_slash)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    if (!f)
        return NULL;
    encode_into(f, s, strlen(s), keep_slash);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode %XX in @len bytes of @s into @out (room for @len + 1); a stray '%' stays. */
static size_t decode(const char *s, size_t len, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return n;
}

/* Decode, then encode the SigV4 way, so any spelling of @s canonicalizes alike. */
static int normalize_into(FILE *f, const char *s, size_t len, bool keep_slash)
{
    char *raw = malloc(len + 1);

    if (!raw)
        return -ENOMEM;
    encode_into(f, raw, decode(s, len, raw), keep_slash);
    free(raw);
    return 0;
}

/* ---- canonical request ---- */

struct param {
    char *text; /* "name=value", both canonically encoded */
};

static int cmp_param(const void *a, const void *b)
{
    const char *x = ((const struct param *)a)->text, *y = ((const struct param *)b)->text;
    size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
    int c = memcmp(x, y, nx < ny ? nx : ny);

    /* By name first (a shorter name that prefixes a longer one sorts first), then value. */
    if (c == 0 && nx != ny)
        return nx < ny ? -1 : 1;
    return c ? c : strcmp(x + nx, y + ny);
}

static int canonical_query(FILE *out, const char *query)
{
    struct param *params = NULL;
    size_t n = 0, cap = 0;
    const char *p = query ? query : "";
    int rc = 0;

    while (*p && rc == 0) {
        size_t len = strcspn(p, "&"), nlen = strcspn(p, "=");
        if (len > 0) {
            char *buf = NULL;
            size_t blen = 0;
            FILE *f;
            if (n == cap) {
                struct param *grown = realloc(params, (cap = cap ? 2 * cap : 8) * sizeof(*params));
                if (!grown) {
                    rc = -ENOMEM;
                    break;
                }
                params = grown;
            }
            f = open_memstream(&buf, &blen);
            if (!f) {
                rc = -ENOMEM;
                break;
            }
            if (nlen > len)
                nlen = len;
            rc = normalize_into(f, p, nlen, false);
            fputc('=', f);
            if (rc == 0 && nlen < len)
                rc = normalize_into(f, p + nlen + 1, len - nlen - 1, false);
            if (fclose(f) != 0 && rc == 0)
                rc = -ENOMEM;
            params[n++].text = buf;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (rc == 0 && n)
        qsort(params, n, sizeof(*params), cmp_param);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            fprintf(out, "%s%s", i ? "&" : "", params[i].text);
        free(params[i].text);
    }
    free(params);
    return rc;
}

struct hdr {
    char *name;  /* lower-cased */
    char *value; /* trimmed, inner spaces squeezed */
    size_t order;
};

static int cmp_hdr(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    /* Repeated headers keep the order they were given in. */
    if (c == 0)
        return x->order < y->order ? -1 : x->order > y->order;
    return c;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);

    for (char *c = d; c && *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return d;
}

static char *trim_dup(const char *s)
{
    char *d = malloc(strlen(s) + 1), *o = d;

    if (!d)
        return NULL;
    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s; s++) {
        if ((*s == ' ' || *s == '\t') && (s[1] == ' ' || s[1] == '\t' || s[1] == '\0'))
            continue;
        *o++ = *s == '\t' ? ' ' : *s;
    }
    *o = '\0';
    return d;
}

static const char *header_value(const struct kairos_sigv4_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

/* "name:value\n" lines into @out and "a;b;c" into @names; repeats join with ','. */
static int canonical_headers(const struct kairos_sigv4_request *req, FILE *out, FILE *names)
{
    struct hdr *h = calloc(req->nheaders ? req->nheaders : 1, sizeof(*h));
    int rc = h ? 0 : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < req->nheaders; i++) {
        if (!req->headers[i].name || !req->headers[i].value) {
            rc = -EINVAL;
            break;
        }
        h[i].name = lower_dup(req->headers[i].name);
        h[i].value = trim_dup(req->headers[i].value);
        h[i].order = i;
        if (!h[i].name || !h[i].value)
            rc = -ENOMEM;
    }
    if (rc == 0) {
        qsort(h, req->nheaders, sizeof(*h), cmp_hdr);
        for (size_t i = 0; i < req->nheaders; i++) {
            bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
            bool last = i + 1 == req->nheaders || strcmp(h[i].name, h[i + 1].name) != 0;
            if (repeat) {
                fprintf(out, ",%s", h[i].value);
            } else {
                fprintf(out, "%s:%s", h[i].name, h[i].value);
                fprintf(names, "%s%s", i ? ";" : "", h[i].name);
            }
            if (last)
                fputc('\n', out);
        }
    }
    for (size_t i = 0; h && i < req->nheaders; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    return rc;
}

int kairos_sigv4_canonical_request(const struct kairos_sigv4_request *req, char **out,
                                   char **signed_headers)
{
    char *text = NULL, *names = NULL;
    size_t tlen = 0, nlen = 0;
    FILE *f = NULL, *nf = NULL;
    const char *path;
    int rc;

    *out = NULL;
    if (signed_headers)
        *signed_headers = NULL;
    if (!req->method || !req->path || !req->payload_hash || !header_value(req, "host") ||
        !header_value(req, "x-amz-date"))
        return -EINVAL;
    f = open_memstream(&text, &tlen);
    nf = open_memstream(&names, &nlen);
    if (!f || !nf) {
        rc = -ENOMEM;
        goto out;
    }
    path = req->path[0] ? req->path : "/";
    fprintf(f, "%s\n", req->method);
    rc = normalize_into(f, path, strlen(path), true);
    fputc('\n', f);
    if (rc == 0)
        rc = canonical_query(f, req->query);
    fputc('\n', f);
    if (rc == 0)
        rc = canonical_headers(req, f, nf);
    if (fflush(nf) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0)
        fprintf(f, "\n%s\n%s", names, req->payload_hash);
out:
    if (f && fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (nf && fclose(nf) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(text);
        free(names);
        return rc;
    }
    *out = text;
    if (signed_headers)
        *signed_headers = names;
    else
        free(names);
    return 0;
}

/* ---- string to sign and signature ---- */

static void to_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

void kairos_sha256_hex(const void *data, size_t len, char out[KAIROS_SHA256_HEX_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, mdlen, out);
}

void kairos_sigv4_date(time_t t, char out[KAIROS_SIGV4_DATE_LEN])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, KAIROS_SIGV4_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

/* A date as SigV4 writes it: 8 digits, 'T', 6 digits, 'Z'. */
static bool valid_date(const char *d)
{
    if (!d || strlen(d) != KAIROS_SIGV4_DATE_LEN - 1 || d[DAY_LEN] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++) {
        if (i != DAY_LEN && !isdigit((unsigned char)d[i]))
            return false;
    }
    return true;
}

int kairos_sigv4_string_to_sign(const char *canonical_request, const char *amz_date,
                                const char *region, const char *service, char **out)
{
    char hash[KAIROS_SHA256_HEX_LEN];

    *out = NULL;
    if (!valid_date(amz_date) || !region || !service)
        return -EINVAL;
    kairos_sha256_hex(canonical_request, strlen(canonical_request), hash);
    if (asprintf(out, "%s\n%s\n%.*s/%s/%s/%s\n%s", ALGORITHM, amz_date, DAY_LEN, amz_date, region,
                 service, SCOPE_END, hash) < 0) {
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

static int hmac(const void *key, size_t klen, const char *msg, size_t mlen,
                unsigned char out[SHA256_LEN])
{
    unsigned int len = SHA256_LEN;

    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len))
        return -ENOMEM;
    return 0;
}

/* HMAC(key, date) -> region -> service -> "aws4_request", then over @sts. */
static int signature(const struct kairos_sigv4_signer *s, const char *amz_date, const char *sts,
                     char out[KAIROS_SHA256_HEX_LEN])
{
    unsigned char k[SHA256_LEN], sig[SHA256_LEN];
    char *first = NULL;
    int rc;

    if (asprintf(&first, "AWS4%s", s->secret_key) < 0)
        return -ENOMEM;
    rc = hmac(first, strlen(first), amz_date, DAY_LEN, k);
    if (rc == 0)
        rc = hmac(k, sizeof(k), s->region, strlen(s->region), k);
    if (rc == 0)
        rc = hmac(k, sizeof(k), s->service, strlen(s->service), k);
    if (rc == 0)
        rc = hmac(k, sizeof(k), SCOPE_END, strlen(SCOPE_END), k);
    if (rc == 0)
        rc = hmac(k, sizeof(k), sts, strlen(sts), sig);
    if (rc == 0)
        to_hex(sig, sizeof(sig), out);
    /* The derived key is as good as the secret for a day: do not leave it behind. */
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(first, strlen(first));
    free(first);
    return rc;
}

int kairos_sigv4_authorization(const struct kairos_sigv4_request *req,
                               const struct kairos_sigv4_signer *signer, char **out)
{
    const char *date = header_value(req, "x-amz-date");
    char *creq = NULL, *names = NULL, *sts = NULL;
    char sig[KAIROS_SHA256_HEX_LEN];
    int rc;

    *out = NULL;
    if (!signer->access_key || !signer->secret_key || !signer->region || !signer->service)
        return -EINVAL;
    rc = kairos_sigv4_canonical_request(req, &creq, &names);
    if (rc == 0)
        rc = kairos_sigv4_string_to_sign(creq, date, signer->region, signer->service, &sts);
    if (rc == 0)
        rc = signature(signer, date, sts, sig);
    if (rc == 0 && asprintf(out, "%s Credential=%s/%.*s/%s/%s/%s, SignedHeaders=%s, Signature=%s",
                            ALGORITHM, signer->access_key, DAY_LEN, date, signer->region,
                            signer->service, SCOPE_END, names, sig) < 0) {
        *out = NULL;
        rc = -ENOMEM;
    }
    free(creq);
    free(names);
    free(sts);
    return rc;
}
