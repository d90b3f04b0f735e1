/*
 * reload.c - SIGHUP's reload (see reload.h).
 */
#include "reload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "reqlog.h"
#include "tls.h"

/*
 * Policies replaced, the gateway's and the library's: handlers and
 * admission hold pointers into the policy they began with (a plan, the
 * capacity rules), so one replaced is freed at stop, after kairos_close(),
 * not at the reload; a reload costs the size of the plans.
 */
static struct kairos_policy **retired;
static size_t nretired;

static bool differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Keys read once at start whose change a reload cannot apply. */
static void warn_restart_keys(const struct kairos_config *old, const struct kairos_config *cfg)
{
    if (differs(old->server.listen, cfg->server.listen))
        reqlog_message("warning", NULL, "reload: [server] listen changed; it takes a restart");
    if (!old->server.tls_cert != !cfg->server.tls_cert)
        reqlog_message("warning", NULL, "reload: TLS on or off takes a restart");
    if (differs(old->ceph.conf, cfg->ceph.conf) || differs(old->ceph.client, cfg->ceph.client) ||
        differs(old->pools.metadata, cfg->pools.metadata))
        reqlog_message("warning", NULL, "reload: [ceph] and [pools] changes take a restart");
}

int reload_config(struct gateway *g, struct kairos_error *err)
{
    struct kairos_config *cfg = NULL;
    struct kairos_policy *policy = NULL, *admission = NULL, **grown;
    struct auth *fresh = NULL;
    struct tls_pair *pair = NULL;
    enum reqlog_format format = REQLOG_TEXT;
    char fp[80] = "";
    int rc;

    rc = kairos_config_load(g->cfg->path, &cfg, err);
    /* Two copies: the gateway's (plans, catalog) and the library's (admission), each freed by its
     * owner. */
    if (rc == 0)
        rc = kairos_policy_load(cfg->policy.capacity, cfg->policy.plans, &policy, err);
    if (rc == 0)
        rc = kairos_policy_load(cfg->policy.capacity, cfg->policy.plans, &admission, err);
    if (rc == 0)
        rc = auth_open(cfg->server.tokens, cfg->server.broker_user, cfg->server.broker_password,
                       &fresh, err);
    /* A server without TLS stays so until a restart. */
    if (rc == 0 && g->cfg->server.tls_cert && cfg->server.tls_cert)
        rc = tls_pair_load(cfg->server.tls_cert, cfg->server.tls_key, &pair, err);
    if (rc == 0 && !(grown = realloc(retired, (nretired + 2) * sizeof(*grown))))
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        auth_close(fresh);
        kairos_policy_free(policy);
        kairos_policy_free(admission);
        kairos_config_free(cfg);
        return rc;
    }
    /* Nothing can fail from here: every part changes, or none did. */
    retired = grown;
    retired[nretired++] = (struct kairos_policy *)g->policy;
    __atomic_store_n(&g->policy, policy, __ATOMIC_RELEASE);
    retired[nretired++] = kairos_swap_policy(g->k, admission);
    auth_replace(g->auth, fresh);
    if (pair) {
        tls_use(pair);
        tls_fingerprint(fp, sizeof(fp));
    }
    reqlog_format_parse(cfg->log.format, &format);
    reqlog_set_format(format);
    warn_restart_keys(g->cfg, cfg);
    reqlog_message("info", NULL, "reloaded %s: %zu tokens in the tokens file, %zu plans%s%s",
                   cfg->path, auth_file_tokens(g->auth), policy->nplans,
                   fp[0] ? ", certificate sha256 " : "", fp);
    kairos_config_free(cfg);
    return 0;
}

void reload_free(void)
{
    for (size_t i = 0; i < nretired; i++)
        kairos_policy_free(retired[i]);
    free(retired);
    retired = NULL;
    nretired = 0;
}
