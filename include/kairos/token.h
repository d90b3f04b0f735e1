/*
 * kairos/token.h - per-project bearer tokens for the REST API.
 *
 * A token is "kt_<id>_<secret>": <id> (16 hex digits) names it in listings
 * and revocations, <secret> is 256 random bits. Only the SHA-256 of the
 * whole token is stored, in RADOS, so every kairosd accepts it and a copy
 * of the metadata pool gives no one a usable token. The token itself is
 * shown once, when it is made.
 *
 * The admin token is not here: it lives, hashed the same way, in the
 * tokens file of the config (see kairosd --hash-token).
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef KAIROS_TOKEN_H
#define KAIROS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <kairos/client.h>
#include <kairos/error.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

#define KAIROS_TOKEN_ID_LEN   16
#define KAIROS_TOKEN_LEN      (3 + KAIROS_TOKEN_ID_LEN + 1 + 64)
#define KAIROS_TOKEN_HASH_LEN 64 /* hex SHA-256 */
/* A token's description: what it is for, said by who made it. */
#define KAIROS_TOKEN_DESC_MAX 128

struct kairos_token_info {
    char id[KAIROS_TOKEN_ID_LEN + 1];
    char project[KAIROS_NAME_MAX + 1];
    uint64_t created_ms;
    char description[KAIROS_TOKEN_DESC_MAX + 1]; /* "" if none was given */
};

/**
 * kairos_token_create() - a new token for @project (which must exist and
 * not be being deleted). The token belongs to this life of the project: a
 * new project of the same name is never reached by it.
 * @description: NULL or what the token is for: up to KAIROS_TOKEN_DESC_MAX
 *         bytes of UTF-8 without control characters; kept with the token.
 * @token: receives the token (KAIROS_TOKEN_LEN + 1 bytes); shown once.
 * @info:  may be NULL; receives its id, creation time and description.
 * Return: 0, -EINVAL (a bad project name or description), -ENOENT (no
 * project, or it is being deleted), or a librados error.
 */
int kairos_token_create(struct kairos *k, const char *project, const char *description, char *token,
                        struct kairos_token_info *info, struct kairos_error *err);

/**
 * kairos_token_lookup() - the project a presented token reaches: the
 * project it was made for, while that project lives (not being deleted,
 * not deleted and made again).
 * Return: 0, -EACCES (unknown, revoked or malformed token, or its project
 * gone: the message never repeats the token), or a librados error.
 */
int kairos_token_lookup(struct kairos *k, const char *token, struct kairos_token_info *out,
                        struct kairos_error *err);

/**
 * kairos_token_revoke() - revoke token @id of @project.
 * Return: 0, -EINVAL, -ENOENT, or a librados error.
 */
int kairos_token_revoke(struct kairos *k, const char *project, const char *id,
                        struct kairos_error *err);

/**
 * kairos_token_revoke_all() - revoke every token of @project; a project's
 * delete does, so that a new project of the same name inherits none.
 * Return: 0, -EINVAL, or a librados error.
 */
int kairos_token_revoke_all(struct kairos *k, const char *project, struct kairos_error *err);

/**
 * kairos_token_list() - the tokens of @project: ids, creation times and
 * descriptions, never secrets.
 * @out: malloc'ed array of *@count; the caller frees it.
 * Return: 0, -EINVAL, or a librados error.
 */
int kairos_token_list(struct kairos *k, const char *project, struct kairos_token_info **out,
                      size_t *count, struct kairos_error *err);

/* kairos_token_hash() - hex SHA-256 of @token into @hex (65 bytes). */
void kairos_token_hash(const char *token, char *hex);

/* Compare two strings in time that depends only on their lengths. */
int kairos_secret_equal(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
