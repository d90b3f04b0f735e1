/*
 * test_sigv4.c - the SigV4 signer against AWS's published test vectors:
 * "get-vanilla" and "get-vanilla-query-order-key-case" of the
 * aws-sig-v4-test-suite (service "service"), and the S3 examples of the
 * S3 API reference ("Signature Calculations for the Authorization Header":
 * GET Object with a Range, PUT Object with a body and a '$' in the key,
 * GET Bucket Lifecycle, GET Bucket with max-keys and prefix).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigv4.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The test suite's credentials. */
static const struct kairos_sigv4_signer SUITE = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};

/* The S3 reference's credentials. */
static const struct kairos_sigv4_signer S3 = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
};

static void check(const struct kairos_sigv4_request *req, const struct kairos_sigv4_signer *s,
                  const char *want_creq, const char *want_authz)
{
    char *creq = NULL, *authz = NULL;

    assert_int_equal(kairos_sigv4_canonical_request(req, &creq, NULL), 0);
    if (want_creq)
        assert_string_equal(creq, want_creq);
    assert_int_equal(kairos_sigv4_authorization(req, s, &authz), 0);
    assert_string_equal(authz, want_authz);
    free(creq);
    free(authz);
}

static void get_vanilla(void **state)
{
    const struct kairos_sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
    };
    struct kairos_sigv4_request req = {
        .method = "GET", .path = "/", .headers = h, .nheaders = 2, .payload_hash = EMPTY_SHA256};
    char *creq = NULL, *sts = NULL;

    (void)state;
    check(&req, &SUITE,
          "GET\n/"
          "\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-"
          "date\n" EMPTY_SHA256,
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    /* The suite's get-vanilla.sts. */
    assert_int_equal(kairos_sigv4_canonical_request(&req, &creq, NULL), 0);
    assert_int_equal(
        kairos_sigv4_string_to_sign(creq, "20150830T123600Z", "us-east-1", "service", &sts), 0);
    assert_string_equal(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n"
                             "20150830/us-east-1/service/aws4_request\n"
                             "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    free(creq);
    free(sts);
}

static void query_order_and_case(void **state)
{
    /* Header names in any case and order; parameters sorted by name. */
    const struct kairos_sigv4_header h[] = {
        {"x-amz-date", "20150830T123600Z"},
        {"HOST", "example.amazonaws.com"},
    };
    struct kairos_sigv4_request req = {.method = "GET",
                                       .path = "/",
                                       .query = "Param2=value2&Param1=value1",
                                       .headers = h,
                                       .nheaders = 2,
                                       .payload_hash = EMPTY_SHA256};

    (void)state;
    check(&req, &SUITE, NULL,
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, "
          "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

static void s3_get_object(void **state)
{
    const struct kairos_sigv4_header h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY_SHA256},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct kairos_sigv4_request req = {.method = "GET",
                                       .path = "/test.txt",
                                       .headers = h,
                                       .nheaders = 4,
                                       .payload_hash = EMPTY_SHA256};

    (void)state;
    check(&req, &S3,
          "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
          "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
          "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void s3_put_object(void **state)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[KAIROS_SHA256_HEX_LEN];
    const struct kairos_sigv4_header h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256", hash},
    };
    struct kairos_sigv4_request req = {
        .method = "PUT", .path = "/test$file.text", .headers = h, .nheaders = 5};

    (void)state;
    kairos_sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    req.payload_hash = hash;
    check(&req, &S3, NULL,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
          "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    /* The same key already encoded signs alike. */
    req.path = "/test%24file.text";
    check(&req, &S3, NULL,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
          "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void s3_bucket_queries(void **state)
{
    const struct kairos_sigv4_header h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", EMPTY_SHA256},
    };
    struct kairos_sigv4_request req = {.method = "GET",
                                       .path = "/",
                                       .query = "lifecycle",
                                       .headers = h,
                                       .nheaders = 3,
                                       .payload_hash = EMPTY_SHA256};

    (void)state;
    /* A sub-resource without '=' signs as "lifecycle=". */
    check(&req, &S3,
          "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
          "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
          "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
          "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    req.query = "prefix=J&max-keys=2";
    check(&req, &S3, NULL,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
          "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void encoding_and_headers(void **state)
{
    const struct kairos_sigv4_header h[] = {
        {"Host", "127.0.0.1:8080"},
        {"x-amz-date", "20240101T000000Z"},
        {"My-Header", "  a   b  "},
        {"my-header", "c"},
    };
    struct kairos_sigv4_request req = {.method = "GET",
                                       .path = "/admin/user",
                                       .query = "uid=kairos_p%241&quota&b=x y&a=~-_.",
                                       .headers = h,
                                       .nheaders = 4,
                                       .payload_hash = EMPTY_SHA256};
    char *creq = NULL, *names = NULL, *enc;

    (void)state;
    assert_int_equal(kairos_sigv4_canonical_request(&req, &creq, &names), 0);
    /* Sorted, '$' and ' ' encoded, unreserved kept, a repeated header joined in order. */
    assert_string_equal(creq,
                        "GET\n/admin/user\na=~-_.&b=x%20y&quota=&uid=kairos_p%241\n"
                        "host:127.0.0.1:8080\nmy-header:a b,c\nx-amz-date:20240101T000000Z\n\n"
                        "host;my-header;x-amz-date\n" EMPTY_SHA256);
    assert_string_equal(names, "host;my-header;x-amz-date");
    free(creq);
    free(names);

    enc = kairos_uri_encode("a b/c$~", true);
    assert_string_equal(enc, "a%20b/c%24~");
    free(enc);
    enc = kairos_uri_encode("a b/c", false);
    assert_string_equal(enc, "a%20b%2Fc");
    free(enc);
}

static void refusals(void **state)
{
    const struct kairos_sigv4_header no_date[] = {{"Host", "h"}};
    struct kairos_sigv4_request req = {
        .method = "GET", .path = "/", .headers = no_date, .nheaders = 1, .payload_hash = "x"};
    char *out = NULL, date[KAIROS_SIGV4_DATE_LEN];

    (void)state;
    assert_int_equal(kairos_sigv4_canonical_request(&req, &out, NULL), -EINVAL);
    assert_null(out);
    assert_int_equal(kairos_sigv4_authorization(&req, &S3, &out), -EINVAL);
    assert_int_equal(kairos_sigv4_string_to_sign("x", "2015-08-30", "r", "s", &out), -EINVAL);
    kairos_sigv4_date(1440938160, date);
    assert_string_equal(date, "20150830T123600Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_vanilla),       cmocka_unit_test(query_order_and_case),
        cmocka_unit_test(s3_get_object),     cmocka_unit_test(s3_put_object),
        cmocka_unit_test(s3_bucket_queries), cmocka_unit_test(encoding_and_headers),
        cmocka_unit_test(refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
