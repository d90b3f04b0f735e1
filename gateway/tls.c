/*
 * tls.c - the TLS pair in use and the ones it replaced (see tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Certificates in a chain file, at most. */
#define CHAIN_MAX 16

struct tls_pair {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned nchain;
    gnutls_privkey_t key;
    char fingerprint[65];
    struct tls_pair *older; /* the pairs it replaced, kept until tls_free() */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_pair *current;

static void pair_free(struct tls_pair *p)
{
    for (unsigned i = 0; i < p->nchain; i++)
        gnutls_pcert_deinit(&p->chain[i]);
    if (p->key)
        gnutls_privkey_deinit(p->key);
    free(p);
}

/*
 * The key is the certificate's: their public keys, exported, are the same
 * bytes. (gnutls_certificate_set_x509_key_mem2() checks the same, but
 * leaks the parsed certificate when they differ.)
 */
static int check_match(struct tls_pair *p, const char *cert_path, const char *key_path,
                       struct kairos_error *err)
{
    gnutls_datum_t a = {0}, b = {0};
    gnutls_pubkey_t from_key = NULL;
    int rc = gnutls_pubkey_init(&from_key);

    if (rc == 0)
        rc = gnutls_pubkey_import_privkey(from_key, p->key, 0, 0);
    if (rc == 0)
        rc = gnutls_pubkey_export2(p->chain[0].pubkey, GNUTLS_X509_FMT_DER, &a);
    if (rc == 0)
        rc = gnutls_pubkey_export2(from_key, GNUTLS_X509_FMT_DER, &b);
    if (rc == 0 && (a.size != b.size || memcmp(a.data, b.data, a.size) != 0))
        rc = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (from_key)
        gnutls_pubkey_deinit(from_key);
    if (rc < 0)
        return kairos_error_set(err, -EINVAL, "%s and %s are not a certificate and its key: %s",
                                cert_path, key_path, gnutls_strerror(rc));
    return 0;
}

static void fingerprint(struct tls_pair *p)
{
    unsigned char sha[32];
    size_t len = sizeof(sha);

    p->fingerprint[0] = '\0';
    if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &p->chain[0].cert, sha, &len) < 0)
        return;
    for (size_t i = 0; i < len && 2 * i + 2 < sizeof(p->fingerprint); i++)
        snprintf(p->fingerprint + 2 * i, 3, "%02x", sha[i]);
}

int tls_pair_load(const char *cert_path, const char *key_path, struct tls_pair **out,
                  struct kairos_error *err)
{
    gnutls_datum_t cert = {0}, key = {0};
    struct tls_pair *p = calloc(1, sizeof(*p));
    int rc;

    *out = NULL;
    if (!p)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = gnutls_load_file(cert_path, &cert);
    if (rc < 0) {
        rc = kairos_error_set(err, -EIO, "%s: cannot read: %s", cert_path, gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_load_file(key_path, &key);
    if (rc < 0) {
        rc = kairos_error_set(err, -EIO, "%s: cannot read: %s", key_path, gnutls_strerror(rc));
        goto out;
    }
    p->nchain = CHAIN_MAX;
    rc = gnutls_pcert_list_import_x509_raw(p->chain, &p->nchain, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || p->nchain == 0) {
        p->nchain = 0;
        rc = kairos_error_set(err, -EINVAL, "%s: not a PEM certificate chain of at most %d: %s",
                              cert_path, CHAIN_MAX, gnutls_strerror(rc));
        goto out;
    }
    rc = gnutls_privkey_init(&p->key);
    if (rc == 0)
        rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        rc = kairos_error_set(err, -EINVAL, "%s: not a PEM private key: %s", key_path,
                              gnutls_strerror(rc));
        goto out;
    }
    rc = check_match(p, cert_path, key_path, err);
    if (rc < 0)
        goto out;
    fingerprint(p);
    *out = p;
    p = NULL;
out:
    if (key.data) {
        explicit_bzero(key.data, key.size);
        gnutls_free(key.data);
    }
    gnutls_free(cert.data);
    if (p)
        pair_free(p);
    return rc < 0 ? rc : 0;
}

void tls_use(struct tls_pair *p)
{
    pthread_mutex_lock(&lock);
    p->older = current;
    current = p;
    pthread_mutex_unlock(&lock);
}

void tls_fingerprint(char *buf, size_t len)
{
    pthread_mutex_lock(&lock);
    snprintf(buf, len, "%s", current ? current->fingerprint : "");
    pthread_mutex_unlock(&lock);
}

int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    pthread_mutex_lock(&lock);
    if (!current) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    *pcert = current->chain;
    *pcert_length = current->nchain;
    *pkey = current->key;
    pthread_mutex_unlock(&lock);
    return 0;
}

void tls_free(void)
{
    pthread_mutex_lock(&lock);
    while (current) {
        struct tls_pair *older = current->older;
        pair_free(current);
        current = older;
    }
    pthread_mutex_unlock(&lock);
}
