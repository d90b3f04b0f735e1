/*
 * auth.h - who may call kairosd.
 *
 *   OSBAPI (/v2)  HTTP Basic with the broker_user and broker_password of the
 *                 config; the platform acts for every project.
 *   REST (/v1)    "Authorization: Bearer <token>". The tokens file of the
 *                 config holds hashed tokens, one per line:
 *                     <sha256-hex> admin
 *                     <sha256-hex> project:<name>
 *                 Project tokens made through the API live hashed in RADOS
 *                 (kairos/token.h), looked up through the gateway's cache
 *                 (kairos/cache.h): a revocation reaches every kairosd
 *                 before the revoking call returns.
 *
 * Secrets are compared in constant time and never logged.
 * Thread-safety: auth_check_* may be called from any thread.
 */
#ifndef KAIROSD_AUTH_H
#define KAIROSD_AUTH_H

#include <kairos/kairos.h>

#include "gateway.h"

struct auth;

/*
 * auth_open() - read the tokens file @path (NULL: none) and keep the
 * broker credentials. Return: 0, -ENOENT/-EACCES, or -EINVAL with
 * "FILE:LINE: ..." in @err.
 */
int auth_open(const char *path, const char *broker_user, const char *broker_password,
              struct auth **out, struct kairos_error *err);
void auth_close(struct auth *a);

/*
 * auth_replace() - give @a the tokens and broker credentials of @fresh
 * (from auth_open()), at once for every caller, and free @fresh with
 * @a's former ones. For a reload.
 */
void auth_replace(struct auth *a, struct auth *fresh);

/* How many tokens the tokens file gave. */
size_t auth_file_tokens(struct auth *a);

/* HTTP Basic for the OSBAPI. Return: 0, or -EACCES. */
int auth_check_basic(struct auth *a, const char *authorization);

/*
 * auth_check_bearer() - the principal of a bearer token: the tokens file's,
 * else RADOS's through @cache (NULL: straight from @k).
 * Return: 0, -EACCES (missing, malformed or unknown token), or a librados
 * error (the cluster could not be asked).
 */
int auth_check_bearer(struct auth *a, struct kairos *k, struct kairos_cache *cache,
                      const char *authorization, struct principal *who);

/*
 * auth_base64_decode() - decode base64 @in into @out (@cap bytes,
 * NUL-terminated). Return: the decoded length, or -EINVAL (not base64, or
 * too long for @out).
 */
int auth_base64_decode(const char *in, char *out, size_t cap);

#endif
