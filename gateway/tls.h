/*
 * tls.h - kairosd's TLS certificate and key, replaceable while it serves.
 * libmicrohttpd asks tls_retrieve() for them at each handshake
 * (MHD_OPTION_HTTPS_CERT_CALLBACK), so a reload (SIGHUP) changes what new
 * connections are served while open ones go on as they are. A pair that
 * does not load (a file unreadable, not PEM, or a key that is not the
 * certificate's) is refused and the pair in use stays.
 *
 * One pair is in use per process: gnutls's callback takes no argument.
 * Pairs replaced stay allocated until tls_free(), as a handshake begun
 * with one may still read it; a reload costs a few kilobytes.
 *
 * Thread-safety: tls_retrieve() runs on connection threads; tls_use() and
 * tls_free() on one thread (start-up, reload, stop).
 */
#ifndef KAIROSD_TLS_H
#define KAIROSD_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include <kairos/kairos.h>

struct tls_pair;

/* Read and check @cert_path and @key_path (PEM). Return: 0, or -errno with @err set. */
int tls_pair_load(const char *cert_path, const char *key_path, struct tls_pair **out,
                  struct kairos_error *err);

/* Serve @p (owned from now) to new connections. */
void tls_use(struct tls_pair *p);

/* The SHA-256 fingerprint of the certificate in use, as hex, for logs; "" when none. */
void tls_fingerprint(char *buf, size_t len);

/* gnutls_certificate_retrieve_function2: the pair in use. */
int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                 gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* Free every pair, once no connection can handshake any more (the daemon stopped). */
void tls_free(void);

#endif
