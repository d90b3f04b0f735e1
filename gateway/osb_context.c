/*
 * osb_context.c - which project an OSB provision lands in.
 *
 * The rule (README.md says the same):
 *   context.platform "kubernetes", without clusterid: owner kubernetes:<ns>,
 *       project "k8s-<ns>" (as before clusterid counted);
 *   "kubernetes" with clusterid C: owner kubernetes:<C>/<ns>, so namespace
 *       foo of two clusters are two projects. The project is "k8s-<ns>" if
 *       that name is free, else "k8s-<ns>-<8 hex of SHA-256(C)>". A project
 *       made for <ns> before clusterid counted is kept by the first cluster
 *       that asks for <ns> (a claim recorded in the registry, space
 *       "k8s-claim"), so a single cluster keeps its projects' names;
 *   "openstack": owner openstack:<project_id>, project "os-<project_id>";
 *   "cloudfoundry": owner cloudfoundry:<space_guid>, project "cf-<space_guid>";
 *   no context (or an empty one): organization_guid and space_guid are
 *       Cloud Foundry's, as older Cloud Foundry controllers send them: owner
 *       cloudfoundry:<space_guid>, project "cf-<space_guid>", the same
 *       project a context naming that space gives;
 *   any other platform: 400.
 * A name that is not a valid Kairos name becomes "<prefix>-<24 hex of its
 * SHA-256>". A project is made on first use with the [defaults] plan's quota.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "osb_int.h"

#define SPACE_CLAIM "k8s-claim"

struct mapping {
    struct kairos_owner owner;      /* the owner the request names */
    char name[KAIROS_NAME_MAX + 1]; /* the project's name if it is made now */
    char alt[KAIROS_NAME_MAX + 1];  /* the name when the first is taken, or "" */
    struct kairos_owner legacy;     /* a project of before clusterid to claim, or none */
    const char *cluster;            /* the claimant */
};

void osb_name_of(char *buf, const char *prefix, const char *id)
{
    char hash[KAIROS_TOKEN_HASH_LEN + 1];

    if (kairos_name_valid(id)) {
        snprintf(buf, KAIROS_NAME_MAX + 1, "%s", id);
        return;
    }
    kairos_token_hash(id, hash);
    snprintf(buf, KAIROS_NAME_MAX + 1, "%s-%.24s", prefix, hash);
}

static void set_owner(struct kairos_owner *o, const char *platform, const char *id)
{
    snprintf(o->platform, sizeof(o->platform), "%s", platform);
    snprintf(o->id, sizeof(o->id), "%s", id);
}

/* A project name "<prefix>-<id>" (hashed when that is no name). */
static void project_name(char *buf, const char *prefix, const char *id)
{
    char raw[KAIROS_OWNER_ID_MAX + 16];

    snprintf(raw, sizeof(raw), "%s-%s", prefix, id);
    osb_name_of(buf, prefix, raw);
}

/* Kubernetes: namespace, and clusterid when given. False after answering 400. */
static bool kubernetes(const json_t *ctx, struct mapping *m, struct http_response *res)
{
    const char *ns = osb_string(ctx, "namespace"), *cluster = osb_string(ctx, "clusterid");
    char hash[KAIROS_TOKEN_HASH_LEN + 1], id[KAIROS_OWNER_ID_MAX + 2], raw[160];

    if (!ns || !kairos_owner_id_valid(ns) || strchr(ns, '/')) {
        http_error(res, 400, "BadRequest", "context.namespace is missing or not a valid namespace");
        return false;
    }
    project_name(m->name, "k8s", ns);
    if (!cluster) {
        set_owner(&m->owner, "kubernetes", ns);
        return true;
    }
    snprintf(id, sizeof(id), "%s/%s", cluster, ns);
    if (strchr(cluster, '/') || !kairos_owner_id_valid(id)) {
        http_error(res, 400, "BadRequest",
                   "context.clusterid must be up to %d characters of [A-Za-z0-9._:-] "
                   "(with the namespace)",
                   KAIROS_OWNER_ID_MAX - 1);
        return false;
    }
    set_owner(&m->owner, "kubernetes", id);
    kairos_token_hash(cluster, hash);
    snprintf(raw, sizeof(raw), "%s-%.8s", ns, hash);
    project_name(m->alt, "k8s", raw);
    if (kairos_registry_id_valid(ns)) {
        set_owner(&m->legacy, "kubernetes", ns);
        m->cluster = cluster;
    }
    return true;
}

/* The mapping a provision's body asks for, or false after answering 400. */
static bool mapping_of(const json_t *body, struct mapping *m, struct http_response *res)
{
    const json_t *ctx = json_object_get(body, "context");
    const char *org = osb_string(body, "organization_guid");
    const char *space = osb_string(body, "space_guid");
    const char *platform, *id;

    memset(m, 0, sizeof(*m));
    if (!org || !space) {
        http_error(res, 400, "BadRequest",
                   "organization_guid and space_guid are required, non-empty strings");
        return false;
    }
    if (ctx && !json_is_object(ctx)) {
        http_error(res, 400, "BadRequest", "context must be an object");
        return false;
    }
    if (!ctx || json_object_size(ctx) == 0) {
        if (!kairos_owner_id_valid(space)) {
            http_error(res, 400, "BadRequest",
                       "space_guid names the project without a context: up to %d characters of "
                       "[A-Za-z0-9._:/-]",
                       KAIROS_OWNER_ID_MAX);
            return false;
        }
        set_owner(&m->owner, "cloudfoundry", space);
        project_name(m->name, "cf", space);
        return true;
    }
    platform = osb_string(ctx, "platform");
    if (platform && strcmp(platform, "kubernetes") == 0)
        return kubernetes(ctx, m, res);
    if (!platform ||
        (strcmp(platform, "openstack") != 0 && strcmp(platform, "cloudfoundry") != 0)) {
        http_error(res, 400, "BadRequest",
                   "context.platform must be kubernetes, openstack or cloudfoundry");
        return false;
    }
    id = osb_string(ctx, strcmp(platform, "openstack") == 0 ? "project_id" : "space_guid");
    if (!id || !kairos_owner_id_valid(id)) {
        http_error(res, 400, "BadRequest", "context.%s is missing or not a valid id",
                   strcmp(platform, "openstack") == 0 ? "project_id" : "space_guid");
        return false;
    }
    set_owner(&m->owner, platform, id);
    project_name(m->name, strcmp(platform, "openstack") == 0 ? "os" : "cf", id);
    return true;
}

/*
 * May @m's cluster take the project of before clusterid? The first cluster
 * to ask keeps it for ever; without @create only a look.
 */
static int claim(struct call *c, const struct mapping *m, bool create, struct kairos_error *err)
{
    json_t *want = json_pack("{s:s}", "clusterid", m->cluster), *have = NULL;
    char *text = json_dumps(want, JSON_COMPACT), *stored = NULL;
    int rc = text ? 0 : -ENOMEM;

    if (rc == 0)
        rc = kairos_registry_get(c->g->k, SPACE_CLAIM, m->legacy.id, &stored, err);
    if (rc == -ENOENT && !create) {
        kairos_error_clear(err);
        rc = 0; /* would be ours */
    } else if (rc == -ENOENT) {
        kairos_error_clear(err);
        rc = kairos_registry_put(c->g->k, SPACE_CLAIM, m->legacy.id, text, KAIROS_REGISTRY_CREATE,
                                 err);
        if (rc == -EEXIST) {
            kairos_error_clear(err);
            rc = kairos_registry_get(c->g->k, SPACE_CLAIM, m->legacy.id, &stored, err);
        }
    }
    if (rc == 0 && stored) {
        have = json_loads(stored, 0, NULL);
        rc = json_equal(have, want) ? 0 : -EEXIST;
    }
    json_decref(have);
    json_decref(want);
    free(stored);
    free(text);
    return rc;
}

/* Make the project of @m: its name, or its other name when another owner has the first. */
static int make(struct call *c, const struct mapping *m, char *out, struct kairos_error *err)
{
    const struct kairos_policy *pol = gateway_policy(c->g);
    const struct kairos_plan *def =
        pol->default_plan ? kairos_policy_plan(pol, pol->default_plan) : NULL;
    const char *names[] = {m->name, m->alt};
    struct kairos_quota q;
    int rc = -ENOENT;

    if (def)
        q = def->quota;
    else
        kairos_quota_unlimited(&q);
    for (size_t i = 0; i < 2 && names[i][0]; i++) {
        kairos_error_clear(err);
        rc = kairos_project_create(c->g->k, names[i], &m->owner, &q, err);
        if (rc == 0) {
            snprintf(out, KAIROS_NAME_MAX + 1, "%s", names[i]);
            return 0;
        }
        if (rc != -EEXIST)
            return rc;
        /* Taken: by this owner (another broker made it at the same moment), or another. */
        kairos_error_clear(err);
        rc = kairos_project_find(c->g->k, &m->owner, out, err);
        if (rc != -ENOENT)
            return rc;
        rc = -EEXIST;
    }
    return kairos_error_set(err, rc, "no free project name for %s:%s", m->owner.platform,
                            m->owner.id);
}

bool osb_context_valid(const json_t *body, struct http_response *res)
{
    struct mapping m;

    return mapping_of(body, &m, res);
}

int osb_project_of(struct call *c, const json_t *body, bool create, char *project,
                   struct http_response *res, struct kairos_error *err)
{
    struct mapping m;
    int rc;

    if (!mapping_of(body, &m, res))
        return -EINVAL;
    rc = kairos_project_find(c->g->k, &m.owner, project, err);
    if (rc != -ENOENT)
        return rc;
    kairos_error_clear(err);
    if (m.legacy.platform[0]) {
        rc = kairos_project_find(c->g->k, &m.legacy, project, err);
        if (rc == 0 && (rc = claim(c, &m, create, err)) == 0)
            return 0;
        if (rc != -ENOENT && rc != -EEXIST)
            return rc;
        kairos_error_clear(err);
    }
    if (!create)
        return kairos_error_set(err, -ENOENT, "no project for %s:%s yet", m.owner.platform,
                                m.owner.id);
    return make(c, &m, project, err);
}
