/*
 * sigv4.h - AWS Signature Version 4, for the requests Kairos sends to radosgw.
 *
 * radosgw authenticates S3 requests and its admin ops API with the same
 * scheme. Signing is four steps (the AWS documentation's names):
 *
 *   canonical request   method, path, sorted query, signed headers, body hash
 *   string to sign      "AWS4-HMAC-SHA256", date, scope, hash of the above
 *   signing key         HMAC-SHA256 chain: secret, date, region, service
 *   signature           HMAC-SHA256 of the string to sign, in hex
 *
 * Hashes and HMACs come from OpenSSL. The caller builds the request; this
 * module only computes the Authorization header for it, so it is pure and
 * checked against AWS's published test vectors (tests/unit/test_sigv4.c).
 *
 * Pure functions; thread-safe.
 */
#ifndef KAIROS_SIGV4_H
#define KAIROS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* "20150830T123600Z" and its NUL. */
#define KAIROS_SIGV4_DATE_LEN 17
/* A SHA-256 in hex and its NUL. */
#define KAIROS_SHA256_HEX_LEN 65

/* The body hash of a request whose body is not signed. */
#define KAIROS_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct kairos_sigv4_header {
    const char *name; /* any case; signed lower-cased */
    const char *value;
};

/* What is signed of one request. Strings are the caller's. */
struct kairos_sigv4_request {
    const char *method; /* "GET", "PUT", ... */
    const char *path;   /* absolute path as sent ("/admin/user"), encoded or not */
    const char *query;  /* query string as sent, without '?'; NULL or "" for none */
    /* Every header to sign; "host" and "x-amz-date" must be among them. */
    const struct kairos_sigv4_header *headers;
    size_t nheaders;
    const char *payload_hash; /* hex SHA-256 of the body, or KAIROS_SIGV4_UNSIGNED_PAYLOAD */
};

/* Who signs, and for which region and service. */
struct kairos_sigv4_signer {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* radosgw accepts any, as long as it is the one signed */
    const char *service; /* "s3" for radosgw */
};

/**
 * kairos_sigv4_canonical_request() - the canonical request of @req.
 * @out:            malloc'ed text; free() it.
 * @signed_headers: if not NULL, the ';'-separated lower-case header names,
 *                  malloc'ed; free() it.
 *
 * Path and query are decoded and re-encoded the way AWS specifies (RFC 3986
 * unreserved characters kept, everything else %XX), so an encoded and a
 * raw spelling of the same request sign alike. Query parameters are sorted;
 * one without '=' counts as having an empty value. Header values are
 * trimmed and inner runs of spaces squeezed.
 *
 * Return: 0, -EINVAL (no method, path, payload hash, host or x-amz-date),
 * or -ENOMEM.
 */
int kairos_sigv4_canonical_request(const struct kairos_sigv4_request *req, char **out,
                                   char **signed_headers);

/**
 * kairos_sigv4_string_to_sign() - the string to sign for @canonical_request
 * made at @amz_date ("YYYYMMDDTHHMMSSZ") for @region and @service.
 * @out: malloc'ed text; free() it.
 * Return: 0, -EINVAL (a malformed date), or -ENOMEM.
 */
int kairos_sigv4_string_to_sign(const char *canonical_request, const char *amz_date,
                                const char *region, const char *service, char **out);

/**
 * kairos_sigv4_authorization() - the Authorization header value of @req:
 * "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=..., Signature=...". The date is the request's x-amz-date.
 * @out: malloc'ed; free() it.
 * Return: 0, -EINVAL, or -ENOMEM.
 */
int kairos_sigv4_authorization(const struct kairos_sigv4_request *req,
                               const struct kairos_sigv4_signer *signer, char **out);

/* kairos_sigv4_date() - @t (UTC) as "YYYYMMDDTHHMMSSZ". */
void kairos_sigv4_date(time_t t, char out[KAIROS_SIGV4_DATE_LEN]);

/* kairos_sha256_hex() - the SHA-256 of @len bytes at @data, in lower-case hex. */
void kairos_sha256_hex(const void *data, size_t len, char out[KAIROS_SHA256_HEX_LEN]);

/**
 * kairos_uri_encode() - @s percent-encoded as SigV4 wants it: A-Z a-z 0-9
 * - _ . ~ stay, every other byte becomes %XX (upper-case hex); '/' stays
 * when @keep_slash.
 * Return: malloc'ed text, or NULL when out of memory.
 */
char *kairos_uri_encode(const char *s, bool keep_slash);

#endif
