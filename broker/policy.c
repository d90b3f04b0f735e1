/*
 * policy.c - capacity policy and quota plans from INI files (see kairos/policy.h).
 */
#include <kairos/policy.h>
#include <kairos/units.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inifile.h"

/* Overcommit outside this range is a typo, not a policy. */
#define OVERCOMMIT_MAX 100.0

static void capacity_defaults(struct kairos_capacity_policy *c)
{
    c->usable = 0;
    c->full_ratio = 0;
    c->headroom = 0.10;
    for (int k = 0; k < KAIROS_KIND_COUNT; k++)
        c->overcommit[k] = 1.0;
    c->overcommit[KAIROS_VOLUME] = 2.0;
}

static int bad(char *msg, size_t len, const char *section, const char *key, const char *value,
               const char *want)
{
    snprintf(msg, len, "[%s] %s: '%s' is not %s", section, key, value, want);
    return -EINVAL;
}

static int on_capacity(void *user, const char *section, const char *key, const char *value,
                       unsigned line, char *msg, size_t len)
{
    struct kairos_capacity_policy *c = user;
    enum kairos_kind kind;
    double r;

    (void)line;
    if (strcmp(section, "capacity") == 0) {
        if (strcmp(key, "usable") == 0) {
            if (strcmp(value, "auto") == 0) {
                c->usable = 0;
                return 0;
            }
            if (kairos_size_parse(value, &c->usable) < 0 || c->usable == 0)
                return bad(msg, len, section, key, value, "'auto' or a size such as 147T");
            return 0;
        }
        if (strcmp(key, "full_ratio") == 0) {
            if (strcmp(value, "auto") == 0) {
                c->full_ratio = 0;
                return 0;
            }
            if (kairos_ratio_parse(value, &r) < 0 || r <= 0 || r > 1)
                return bad(msg, len, section, key, value, "'auto' or a ratio in (0, 1]");
            c->full_ratio = r;
            return 0;
        }
        if (strcmp(key, "headroom") == 0) {
            if (kairos_ratio_parse(value, &r) < 0 || r >= 1)
                return bad(msg, len, section, key, value, "a ratio below 1, such as 0.1 or 10%");
            c->headroom = r;
            return 0;
        }
    } else if (strcmp(section, "overcommit") == 0) {
        if (kairos_kind_parse(key, &kind) < 0 || kind == KAIROS_SNAPSHOT) {
            snprintf(msg, len, "[overcommit] %s: not a kind (volume, share or bucket)", key);
            return -EINVAL;
        }
        if (kairos_ratio_parse(value, &r) < 0 || r <= 0 || r > OVERCOMMIT_MAX)
            return bad(msg, len, section, key, value, "a ratio in (0, 100]");
        c->overcommit[kind] = r;
        return 0;
    } else {
        snprintf(msg, len, "unknown section [%s]", section);
        return -EINVAL;
    }
    snprintf(msg, len, "unknown key '%s' in [%s]", key, section);
    return -EINVAL;
}

struct plans_state {
    struct kairos_policy *policy;
    int nomem;
};

static struct kairos_plan *plan_for(struct plans_state *st, const char *section, char *msg,
                                    size_t len, int *rc)
{
    struct kairos_policy *p = st->policy;
    struct kairos_plan *plans;

    /* Sections never repeat (the parser refuses it), so a known name is the
     * plan whose keys are being read. */
    if (p->nplans && strcmp(p->plans[p->nplans - 1].name, section) == 0)
        return &p->plans[p->nplans - 1];
    if (!kairos_name_valid(section)) {
        snprintf(msg, len, "plan name [%s] must match [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", section);
        *rc = -EINVAL;
        return NULL;
    }
    plans = realloc(p->plans, (p->nplans + 1) * sizeof(*plans));
    if (!plans)
        goto nomem;
    p->plans = plans;
    memset(&plans[p->nplans], 0, sizeof(plans[0]));
    kairos_quota_unlimited(&plans[p->nplans].quota);
    plans[p->nplans].name = strdup(section);
    if (!plans[p->nplans].name)
        goto nomem;
    return &p->plans[p->nplans++];
nomem:
    snprintf(msg, len, "out of memory");
    *rc = -ENOMEM;
    return NULL;
}

/* "volume.bytes" -> kind and field. */
static int split_key(const char *key, enum kairos_kind *kind, const char **field)
{
    char kname[16];
    const char *dot = strchr(key, '.');

    if (!dot || (size_t)(dot - key) >= sizeof(kname))
        return -EINVAL;
    memcpy(kname, key, (size_t)(dot - key));
    kname[dot - key] = '\0';
    *field = dot + 1;
    return kairos_kind_parse(kname, kind);
}

static int set_plan_key(struct kairos_plan *plan, const char *section, const char *key,
                        const char *value, char *msg, size_t len)
{
    enum kairos_kind kind;
    const char *field;
    uint64_t n, *target;

    if (strcmp(key, "description") == 0) {
        free(plan->description);
        plan->description = strdup(value);
        return plan->description ? 0 : -ENOMEM;
    }
    if (strcmp(key, "total.bytes") == 0) {
        if (kairos_size_parse(value, &plan->quota.total_bytes) < 0)
            return bad(msg, len, section, key, value, "a size such as 10T");
        return 0;
    }
    if (split_key(key, &kind, &field) < 0)
        goto unknown;
    if (strcmp(field, "count") == 0)
        target = &plan->quota.kind[kind].count;
    else if (strcmp(field, "bytes") == 0 && kind != KAIROS_SNAPSHOT)
        target = &plan->quota.kind[kind].bytes;
    else if (strcmp(field, "size") == 0 && kind != KAIROS_SNAPSHOT)
        target = &plan->size[kind];
    else
        goto unknown;
    if (kairos_size_parse(value, &n) < 0)
        return bad(msg, len, section, key, value, "a size or a count");
    if (target == &plan->size[kind] && n == 0)
        return bad(msg, len, section, key, value, "a size above zero");
    *target = n;
    return 0;
unknown:
    snprintf(msg, len, "unknown key '%s' in plan [%s]", key, section);
    return -EINVAL;
}

static int on_plan(void *user, const char *section, const char *key, const char *value,
                   unsigned line, char *msg, size_t len)
{
    struct plans_state *st = user;
    struct kairos_plan *plan;
    int rc = 0;

    (void)line;
    if (strcmp(section, "defaults") == 0) {
        if (strcmp(key, "plan") != 0) {
            snprintf(msg, len, "unknown key '%s' in [defaults]", key);
            return -EINVAL;
        }
        free(st->policy->default_plan);
        st->policy->default_plan = strdup(value);
        return st->policy->default_plan ? 0 : -ENOMEM;
    }
    plan = plan_for(st, section, msg, len, &rc);
    if (!plan)
        return rc;
    return set_plan_key(plan, section, key, value, msg, len);
}

static int check_plans(struct kairos_policy *p, const char *path, struct kairos_error *err)
{
    if (p->nplans == 0)
        return kairos_error_set(err, -EINVAL, "%s: no plan defined", path);
    if (!p->default_plan) {
        p->default_plan = strdup(p->plans[0].name);
        if (!p->default_plan)
            return kairos_error_set(err, -ENOMEM, "out of memory");
    } else if (!kairos_policy_plan(p, p->default_plan)) {
        return kairos_error_set(err, -EINVAL, "%s: [defaults] plan '%s' is not defined", path,
                                p->default_plan);
    }
    return 0;
}

int kairos_policy_load(const char *capacity_path, const char *plans_path,
                       struct kairos_policy **out, struct kairos_error *err)
{
    struct kairos_policy *p = calloc(1, sizeof(*p));
    struct plans_state st = {.policy = p};
    int rc = 0;

    *out = NULL;
    if (!p)
        return kairos_error_set(err, -ENOMEM, "out of memory");
    capacity_defaults(&p->capacity);
    if (capacity_path) {
        rc = kairos_ini_parse(capacity_path, on_capacity, &p->capacity, err);
        if (rc < 0)
            goto fail;
        if (p->capacity.full_ratio && p->capacity.headroom >= p->capacity.full_ratio) {
            rc = kairos_error_set(err, -EINVAL,
                                  "%s: headroom %.2f leaves nothing below full_ratio %.2f",
                                  capacity_path, p->capacity.headroom, p->capacity.full_ratio);
            goto fail;
        }
    }
    if (plans_path) {
        rc = kairos_ini_parse(plans_path, on_plan, &st, err);
        if (rc < 0)
            goto fail;
        rc = check_plans(p, plans_path, err);
        if (rc < 0)
            goto fail;
    }
    *out = p;
    return 0;
fail:
    kairos_policy_free(p);
    return rc;
}

void kairos_policy_free(struct kairos_policy *policy)
{
    if (!policy)
        return;
    for (size_t i = 0; i < policy->nplans; i++) {
        free(policy->plans[i].name);
        free(policy->plans[i].description);
    }
    free(policy->plans);
    free(policy->default_plan);
    free(policy);
}

const struct kairos_plan *kairos_policy_plan(const struct kairos_policy *policy, const char *name)
{
    for (size_t i = 0; name && i < policy->nplans; i++) {
        if (strcmp(policy->plans[i].name, name) == 0)
            return &policy->plans[i];
    }
    return NULL;
}

uint64_t kairos_policy_effective(const struct kairos_policy *policy, enum kairos_kind kind,
                                 uint64_t bytes)
{
    double oc, eff;

    if (kind == KAIROS_SNAPSHOT || kind >= KAIROS_KIND_COUNT)
        return 0;
    oc = policy->capacity.overcommit[kind];
    if (oc == 1.0)
        return bytes;
    eff = ceil((double)bytes / oc);
    /* An undercommitted kind (overcommit below 1) may scale past any real size. */
    return eff >= (double)KAIROS_SIZE_MAX ? KAIROS_SIZE_MAX : (uint64_t)eff;
}
