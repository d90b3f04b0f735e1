/*
 * broker.c - credentials from kairosd's REST API (see broker.h).
 */
#include "broker.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kairos/client.h>
#include <kairos/name.h>
#include <kairos/token.h>

#define CONNECT_TIMEOUT_S 10
#define TOTAL_TIMEOUT_S   60
#define PAGE              "limit=1000"

/* One call; *@answer is the JSON answer of a 2xx. */
static int call(const struct kairos_client *kc, const char *method, const char *path,
                const json_t *body, json_t **answer, struct kairos_error *err)
{
    long status;
    int rc = kairos_client_call(kc, method, path, body, &status, answer, err);

    if (rc < 0 || (status >= 200 && status < 300))
        return rc;
    const char *d = json_string_value(json_object_get(*answer, "description"));
    rc = status == 401 || status == 403 ? -EACCES : status == 404 ? -ENOENT : -EIO;
    kairos_error_set(err, rc, "kairosd: %s (HTTP %ld)", d ? d : "refused", status);
    json_decref(*answer);
    *answer = NULL;
    return rc;
}

/*
 * "kfs-<hostname>". A hostname that is no valid name as it is (capitals,
 * dots, too long) is made one and gets a hash of the whole of it, so that
 * "a.1" and "a_1" stay two nodes.
 */
static int binding_id(char *id, size_t len, struct kairos_error *err)
{
    char host[256] = "", hash[KAIROS_TOKEN_HASH_LEN + 1];
    size_t n;

    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        return kairos_error_set(err, -EINVAL, "this node has no hostname to bind as");
    snprintf(id, len, "kfs-%s", host);
    if (kairos_name_valid(id))
        return 0;
    kairos_token_hash(host, hash);
    snprintf(id, len, "kfs-%.40s", host);
    for (char *p = id; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
    n = strlen(id);
    while (n > 0 && id[n - 1] == '-')
        id[--n] = '\0';
    snprintf(id + n, len - n, "-%.12s", hash);
    return 0;
}

/* Bind @name of @kind ("shares", "volumes") as @body says, into @into: {name: creds}. */
static int bind_one(const struct kairos_client *kc, const char *project, const char *kind,
                    const char *name, const json_t *body, json_t *into, struct kairos_error *err)
{
    char path[1024];
    json_t *made;
    int rc;

    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/bindings", project, kind, name);
    rc = call(kc, "POST", path, body, &made, err);
    if (rc < 0)
        return rc;
    json_object_set(into, name, json_object_get(made, "credentials"));
    json_decref(made);
    return 0;
}

/* Every item of @kind ("shares", "volumes") into @into: {name: state}. */
static int list_all(const struct kairos_client *kc, const char *project, const char *kind,
                    json_t *into, struct kairos_error *err)
{
    char path[1024], after[KAIROS_NAME_MAX + 8] = "";
    json_t *page = NULL, *item;
    size_t i;
    int rc;

    for (;;) {
        snprintf(path, sizeof(path), "/v1/projects/%s/%s?" PAGE "%s%s", project, kind,
                 after[0] ? "&after=" : "", after);
        rc = call(kc, "GET", path, NULL, &page, err);
        if (rc < 0)
            break;
        json_array_foreach(json_object_get(page, "items"), i, item)
        {
            const char *name = json_string_value(json_object_get(item, "name"));
            const char *state = json_string_value(json_object_get(item, "state"));

            if (!name || !state)
                continue;
            /* The name goes into a path: take none but a valid one. */
            if (!kairos_name_valid(name)) {
                rc = kairos_error_set(err, -EIO, "kairosd listed a bad %s name", kind);
                break;
            }
            if (json_object_set_new(into, name, json_string(state)) < 0) {
                rc = kairos_error_set(err, -ENOMEM, "out of memory");
                break;
            }
        }
        const char *next = json_string_value(json_object_get(page, "next"));
        if (rc == 0 && next && !kairos_name_valid(next))
            rc = kairos_error_set(err, -EIO, "kairosd answered a bad paging mark");
        snprintf(after, sizeof(after), "%s", rc == 0 && next ? next : "");
        json_decref(page);
        if (rc < 0 || !after[0])
            break;
    }
    return rc;
}

/* Bind every ready item of @kind ("shares", "volumes") into @into: {name: creds}. */
static int bind_all(const struct kairos_client *kc, const char *project, const char *kind,
                    const char *id, json_t *into, struct kairos_error *err)
{
    json_t *states = json_object(), *state, *body = json_pack("{s:s}", "id", id);
    const char *name;
    int rc;

    if (!states || !body) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = list_all(kc, project, kind, states, err);
    json_object_foreach(states, name, state)
    {
        /* One being made or deleted is left out, as the config source does. */
        if (rc < 0 || strcmp(json_string_value(state), "ready") != 0)
            continue;
        rc = bind_one(kc, project, kind, name, body, into, err);
    }
out:
    json_decref(states);
    json_decref(body);
    return rc;
}

/* kairosd as kairosfs reaches it. */
static struct kairos_client client(const char *url, const char *token, const char *cacert)
{
    return (struct kairos_client){.url = url,
                                  .token = token,
                                  .cacert = cacert,
                                  .agent = "kairosfs/1",
                                  .connect_timeout_s = CONNECT_TIMEOUT_S,
                                  .timeout_s = TOTAL_TIMEOUT_S};
}

/* kfs_broker_fetch() or, with @kind and @name, kfs_broker_fetch_one(). */
static int fetch(const char *url, const char *token, const char *cacert, const char *project,
                 const char *kind, const char *name, json_t **out, struct kairos_error *err)
{
    struct kairos_client kc = client(url, token, cacert);
    char id[KAIROS_NAME_MAX + 1];
    json_t *shares = json_object(), *volumes = json_object(), *body;
    int rc;

    *out = NULL;
    if (!kairos_name_valid(project)) {
        rc = kairos_error_set(err, -EINVAL, "bad project name '%s'", project);
        goto fail;
    }
    if (name && !kairos_name_valid(name)) {
        rc = kairos_error_set(err, -EINVAL, "bad %.5s name '%s'", kind, name);
        goto fail;
    }
    rc = binding_id(id, sizeof(id), err);
    if (rc < 0)
        goto fail;
    if (name) {
        body = json_pack("{s:s}", "id", id);
        rc = body ? bind_one(&kc, project, kind, name, body,
                             strcmp(kind, "shares") == 0 ? shares : volumes, err)
                  : kairos_error_set(err, -ENOMEM, "out of memory");
        json_decref(body);
    } else {
        rc = bind_all(&kc, project, "shares", id, shares, err);
        if (rc == 0)
            rc = bind_all(&kc, project, "volumes", id, volumes, err);
    }
    if (rc < 0)
        goto fail;
    *out = json_pack("{s:s,s:o,s:o}", "project", project, "shares", shares, "volumes", volumes);
    return *out ? 0 : kairos_error_set(err, -ENOMEM, "out of memory");
fail:
    json_decref(shares);
    json_decref(volumes);
    return rc;
}

int kfs_broker_fetch(const char *url, const char *token, const char *cacert, const char *project,
                     json_t **out, struct kairos_error *err)
{
    return fetch(url, token, cacert, project, NULL, NULL, out, err);
}

int kfs_broker_fetch_one(const char *url, const char *token, const char *cacert,
                         const char *project, const char *kind, const char *name, json_t **out,
                         struct kairos_error *err)
{
    *out = NULL;
    if (strcmp(kind, "shares") != 0 && strcmp(kind, "volumes") != 0)
        return kairos_error_set(err, -EINVAL, "no kind '%s'", kind);
    return fetch(url, token, cacert, project, kind, name, out, err);
}

int kfs_broker_bound(const char *url, const char *token, const char *cacert, const char *project,
                     const char *kind, const char *name, struct kairos_error *err)
{
    struct kairos_client kc = client(url, token, cacert);
    char id[KAIROS_NAME_MAX + 1], path[1024];
    json_t *answer = NULL;
    int rc = binding_id(id, sizeof(id), err);

    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s/bindings/%s", project, kind, name, id);
    rc = call(&kc, "GET", path, NULL, &answer, err);
    json_decref(answer);
    if (rc == 0)
        return 1;
    /* Unbound, deleted, or the node's token revoked: either way not this node's any more. */
    return rc == -ENOENT || rc == -EACCES ? 0 : rc;
}

int kfs_broker_list(const char *url, const char *token, const char *cacert, const char *project,
                    const char *kind, json_t **out, struct kairos_error *err)
{
    struct kairos_client kc = client(url, token, cacert);
    int rc;

    *out = json_object();
    if (!*out)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = list_all(&kc, project, kind, *out, err);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
