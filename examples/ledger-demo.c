/*
 * ledger-demo.c - libkairos in a few calls: a project with the "small"
 * plan's quota cut down to fit a laptop cluster, reservations admitted and
 * refused, usage and the cluster's capacity report.
 *
 *   KAIROS_CONF=cluster/kairos.conf build/examples/ledger-demo
 *
 * It only reserves and releases quota; creating the Ceph objects behind
 * allocations is the backends' job (volumes, shares, buckets).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <kairos/kairos.h>

#define DEMO_PROJECT "ledger-demo"

static void show_usage(struct kairos *k)
{
    struct kairos_usage u;
    struct kairos_error err = {0};
    char a[KAIROS_SIZE_STR_MAX], q[KAIROS_SIZE_STR_MAX];

    if (kairos_usage_get(k, DEMO_PROJECT, &u, &err) < 0) {
        fprintf(stderr, "usage: %s\n", err.msg);
        return;
    }
    for (int i = 0; i < KAIROS_SNAPSHOT; i++)
        printf("  %-7s %s of %s allocated, %llu of %llu allocations\n", kairos_kind_name(i),
               kairos_size_format(u.kind[i].alloc_bytes, a, sizeof(a)),
               kairos_size_format(u.kind[i].quota.bytes, q, sizeof(q)),
               (unsigned long long)u.kind[i].alloc_count,
               (unsigned long long)u.kind[i].quota.count);
}

static int reserve(struct kairos *k, const char *name, uint64_t bytes,
                   struct kairos_reservation **res)
{
    struct kairos_alloc_req req = {
        .project = DEMO_PROJECT, .kind = KAIROS_VOLUME, .name = name, .bytes = bytes};
    struct kairos_error err = {0};
    char s[KAIROS_SIZE_STR_MAX];
    int rc = kairos_ledger_reserve(k, &req, res, &err);

    printf("reserve volume %-8s %6s: %s\n", name, kairos_size_format(bytes, s, sizeof(s)),
           rc == 0 ? "admitted" : err.msg);
    return rc;
}

int main(void)
{
    const char *path = getenv("KAIROS_CONF");
    struct kairos_reservation *res[3] = {0};
    struct kairos_capacity_report cap;
    struct kairos_config *cfg;
    struct kairos_error err = {0};
    const struct kairos_plan *plan;
    struct kairos_quota quota;
    struct kairos *k;
    char s1[KAIROS_SIZE_STR_MAX], s2[KAIROS_SIZE_STR_MAX];
    int rc;

    if (!path || kairos_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "ledger-demo: set KAIROS_CONF to a config file (%s)\n", err.msg);
        return 1;
    }
    if (kairos_open(cfg, &k, &err) < 0) {
        fprintf(stderr, "ledger-demo: %s\n", err.msg);
        return 1;
    }
    plan = kairos_policy_plan(kairos_get_policy(k), "small");
    if (!plan) {
        fprintf(stderr, "ledger-demo: no 'small' plan in the policy\n");
        return 1;
    }
    /* The local cluster holds a few GiB: 4 GiB of volumes, not the plan's 500. */
    quota = plan->quota;
    quota.kind[KAIROS_VOLUME].bytes = 4ULL << 30;
    rc = kairos_project_create(k, DEMO_PROJECT, NULL, &quota, &err);
    printf("project %s: %s\n", DEMO_PROJECT, rc == 0 ? "created" : err.msg);
    if (rc < 0 && rc != -EEXIST)
        return 1;

    reserve(k, "db", 1ULL << 30, &res[0]);
    reserve(k, "scratch", 2ULL << 30, &res[1]);
    reserve(k, "big", 2ULL << 30, &res[2]); /* 5G > the 4G of volumes: refused */
    show_usage(k);

    for (int i = 0; i < 3; i++) {
        if (res[i])
            kairos_ledger_release(k, res[i], NULL);
        kairos_reservation_free(res[i]);
    }
    printf("released every reservation\n");
    show_usage(k);

    if (kairos_capacity_get(k, &cap, &err) == 0)
        printf("cluster: %s usable, admission limit %s (full ratio %.2f - headroom %.2f), "
               "%u projects\n",
               kairos_size_format(cap.usable, s1, sizeof(s1)),
               kairos_size_format(cap.limit, s2, sizeof(s2)), cap.full_ratio, cap.headroom,
               cap.projects);
    rc = kairos_project_delete(k, DEMO_PROJECT, 0, &err);
    printf("project %s: %s\n", DEMO_PROJECT, rc == 0 ? "deleted" : err.msg);
    kairos_close(k);
    kairos_config_free(cfg);
    return rc < 0 ? 1 : 0;
}
