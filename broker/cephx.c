/*
 * cephx.c - cephx entities for bindings (see cephx.h).
 */
#include "cephx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kairos_int.h"

void kairos_cephx_entity(char *buf, const char *project, const char *kind, const char *alloc,
                         const char *id)
{
    snprintf(buf, KAIROS_ENTITY_MAX, "client.kairos.%s.%s.%s.%s", project, kind, alloc, id);
}

/* Send @cmd (built with jansson, so names are escaped) to the monitors. */
static int mon(struct kairos *k, json_t *cmd, json_t **out, struct kairos_error *err)
{
    char *text = json_dumps(cmd, JSON_COMPACT);
    int rc;

    json_decref(cmd);
    if (!text)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    rc = kairos_mon_json(k, text, out, err);
    free(text);
    return rc;
}

static json_t *caps_array(const char *const *caps)
{
    json_t *a = json_array();

    for (size_t i = 0; caps[i]; i++)
        json_array_append_new(a, json_string(caps[i]));
    return a;
}

/* The key in an "auth get"-style answer: [{"entity": ..., "key": ...}]. */
static int key_of(json_t *out, char **key, struct kairos_error *err)
{
    const char *k = json_string_value(json_object_get(json_array_get(out, 0), "key"));

    if (!k)
        return kairos_error_set(err, -EIO, "the monitors returned no key");
    *key = strdup(k);
    return *key ? 0 : kairos_error_set(err, -ENOMEM, "out of memory");
}

int kairos_cephx_grant(struct kairos *k, const char *entity, const char *const *caps, char **key,
                       struct kairos_error *err)
{
    struct kairos_error first = {0};
    json_t *out = NULL;
    int rc;

    *key = NULL;
    rc = mon(k,
             json_pack("{s:s,s:s,s:o,s:s}", "prefix", "auth get-or-create", "entity", entity,
                       "caps", caps_array(caps), "format", "json"),
             &out, &first);
    if (rc == -EINVAL) {
        /* It exists with other caps (its image was flattened, say): set ours. */
        rc = mon(k,
                 json_pack("{s:s,s:s,s:o}", "prefix", "auth caps", "entity", entity, "caps",
                           caps_array(caps)),
                 NULL, err);
        if (rc == 0)
            rc = mon(k,
                     json_pack("{s:s,s:s,s:s}", "prefix", "auth get", "entity", entity, "format",
                               "json"),
                     &out, err);
    } else if (rc < 0) {
        kairos_error_set(err, rc, "%s", first.msg);
    }
    if (rc == 0)
        rc = key_of(out, key, err);
    json_decref(out);
    return rc;
}

int kairos_cephx_revoke(struct kairos *k, const char *entity, struct kairos_error *err)
{
    int rc = mon(k, json_pack("{s:s,s:s}", "prefix", "auth rm", "entity", entity), NULL, err);

    return rc == -ENOENT ? 0 : rc;
}

int kairos_cephx_mon_host(const json_t *monmap, char **out)
{
    const json_t *m, *a;
    size_t i, j, len = 0;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);

    *out = NULL;
    if (!f)
        return -ENOMEM;
    /* "[v2:a:p,v1:a:p],[...]": however many monitors and addresses there are. */
    json_array_foreach(json_object_get(monmap, "mons"), i, m)
    {
        const json_t *addrs = json_object_get(json_object_get(m, "public_addrs"), "addrvec");
        fprintf(f, "%s[", i ? "," : "");
        json_array_foreach(addrs, j, a)
        {
            const char *type = json_string_value(json_object_get(a, "type"));
            const char *addr = json_string_value(json_object_get(a, "addr"));
            fprintf(f, "%s%s:%s", j ? "," : "", type ? type : "v1", addr ? addr : "");
        }
        fputc(']', f);
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    if (len == 0) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}

int kairos_cephx_cluster_mon_host(struct kairos *k, char **out, struct kairos_error *err)
{
    json_t *map = NULL;
    int rc;

    *out = NULL;
    rc = mon(k, json_pack("{s:s,s:s}", "prefix", "mon dump", "format", "json"), &map, err);
    if (rc < 0)
        return rc;
    rc = kairos_cephx_mon_host(map, out);
    json_decref(map);
    if (rc == -EIO)
        return kairos_error_set(err, rc, "cannot read monitor addresses from the monitor map");
    if (rc < 0)
        return kairos_error_set(err, rc, "out of memory");
    return 0;
}

json_t *kairos_cephx_credentials(struct kairos *k, const char *entity, const char *key,
                                 struct kairos_error *err)
{
    char *hosts = NULL, *keyring = NULL;
    json_t *c = NULL;

    if (kairos_cephx_cluster_mon_host(k, &hosts, err) < 0)
        return NULL;
    if (asprintf(&keyring, "[%s]\n\tkey = %s\n", entity, key) < 0) {
        kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* "user" is the id librados and the kernel clients take (no "client."). */
    c = json_pack("{s:s,s:s,s:s,s:s,s:s}", "mon_host", hosts, "entity", entity, "user",
                  entity + strlen("client."), "key", key, "keyring", keyring);
out:
    free(hosts);
    free(keyring);
    return c;
}

char *kairos_credentials_dump(json_t *creds)
{
    char *s = creds ? json_dumps(creds, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    json_decref(creds);
    return s;
}
