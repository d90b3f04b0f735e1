/*
 * commands.c - kairosctl's commands (see commands.h and kairosctl(1)).
 */
#include "commands.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kairos/name.h>
#include <kairos/types.h>
#include <kairos/units.h>

#include "table.h"

struct command {
    const char *group, *verb; /* verb NULL: a one-word command */
    const char *args, *help;
    int (*run)(struct ctl *c, int argc, char **argv);
};

static const struct command *find(int argc, char **argv);

/* The command being run, and its context (kairosctl runs one per process). */
static const struct command *self;
static struct ctl *current;

/* ---- helpers ---- */

static int print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

    if (s)
        puts(s);
    free(s);
    return CTL_OK;
}

/* Every item of a paged listing at @base ("/v1/...?limit=1000"), following "next". */
static int fetch_all(struct ctl *c, const char *base, json_t *all)
{
    char path[512];
    json_t *out = NULL;
    int rc;

    snprintf(path, sizeof(path), "%s", base);
    for (;;) {
        rc = ctl_call(c, "GET", path, NULL, &out);
        if (rc != CTL_OK)
            return rc;
        json_array_extend(all, json_object_get(out, "items"));
        const char *next = json_string_value(json_object_get(out, "next"));
        if (next)
            snprintf(path, sizeof(path), "%s&after=%s", base, next);
        json_decref(out);
        if (!next)
            return CTL_OK;
    }
}

static int check_name(const char *name, const char *what)
{
    if (kairos_name_valid(name))
        return CTL_OK;
    return ctl_fail(CTL_BAD_INPUT, "bad %s name '%s': 1 to 63 of a-z, 0-9 and '-'", what, name);
}

/* Exact positional count after the verb; prints the usage otherwise. */
static int positional(int argc, char **argv, int want, const struct command *cmd)
{
    if (argc - optind == want)
        return CTL_OK;
    (void)argv;
    return ctl_fail(CTL_BAD_INPUT, "usage: kairosctl %s%s%s %s", cmd->group, cmd->verb ? " " : "",
                    cmd->verb ? cmd->verb : "", cmd->args);
}

/* The "%" of @used in @limit, or "-" when there is no limit. */
static const char *percent(const json_t *used, const json_t *limit, char *buf, size_t len,
                           double *key)
{
    double u = (double)json_integer_value(used), l = (double)json_integer_value(limit);

    *key = NAN;
    if (!json_is_integer(limit) || l <= 0)
        return "-";
    *key = 100.0 * u / l;
    snprintf(buf, len, "%.1f%%", *key);
    return buf;
}

static double num(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : NAN;
}

/* Common options of a command: --help and --json, plus @extra (may be NULL). */
static int parse(int argc, char **argv, const struct option *extra, size_t nextra,
                 int (*on)(int opt, void *arg), void *arg, const struct command *cmd)
{
    struct option opts[8] = {{"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'J'}};
    int opt;

    if (nextra)
        memcpy(&opts[2], extra, nextra * sizeof(*extra));
    /* 0, not 1: glibc then forgets the previous scan (the global options). */
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') {
            printf("usage: kairosctl %s%s%s %s\n\n%s\n", cmd->group, cmd->verb ? " " : "",
                   cmd->verb ? cmd->verb : "", cmd->args, cmd->help);
            return -1;
        }
        if (opt == 'J') {
            current->json = true;
            continue;
        }
        if (opt == '?' || !on || on(opt, arg) != CTL_OK)
            return CTL_BAD_INPUT;
    }
    return CTL_OK;
}

#define PARSE(extra, n, on, arg)                                                                   \
    do {                                                                                           \
        int prc_ = parse(argc, argv, extra, n, on, arg, self);                                     \
        if (prc_ != CTL_OK)                                                                        \
            return prc_ < 0 ? CTL_OK : prc_;                                                       \
    } while (0)

/* ---- quota arguments ---- */

/* "volume.bytes=500G" into the quota object @q. */
static int quota_arg(json_t *q, const char *arg)
{
    static const char *const keys[] = {"volume.bytes",   "volume.count", "share.bytes",
                                       "share.count",    "bucket.bytes", "bucket.count",
                                       "snapshot.count", "total.bytes"};
    char kind[16];
    const char *eq = strchr(arg, '='), *dot;
    uint64_t v;
    json_t *val;
    size_t i;

    for (i = 0; eq && i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i]) == (size_t)(eq - arg) && strncmp(keys[i], arg, (size_t)(eq - arg)) == 0)
            break;
    }
    if (!eq || i == sizeof(keys) / sizeof(keys[0]))
        return ctl_fail(CTL_BAD_INPUT,
                        "bad limit '%s': KIND.bytes=SIZE or KIND.count=N (volume, share, "
                        "bucket, snapshot.count, total.bytes), or =none",
                        arg);
    dot = strchr(keys[i], '.');
    snprintf(kind, sizeof(kind), "%.*s", (int)(dot - keys[i]), keys[i]);
    if (strcmp(eq + 1, "none") == 0 || strcmp(eq + 1, "unlimited") == 0)
        val = json_null();
    else if (strcmp(dot + 1, "bytes") == 0 && kairos_size_parse(eq + 1, &v) == 0 && v > 0)
        val = json_integer((json_int_t)v);
    else if (strcmp(dot + 1, "count") == 0 && kairos_size_parse(eq + 1, &v) == 0 &&
             strspn(eq + 1, "0123456789") == strlen(eq + 1))
        val = json_integer((json_int_t)v);
    else
        return ctl_fail(CTL_BAD_INPUT, "bad value in '%s': a size such as 500G, 10T, 1.5PiB%s", arg,
                        strcmp(dot + 1, "count") == 0 ? ", or a whole number" : "");
    if (!json_object_get(q, kind))
        json_object_set_new(q, kind, json_object());
    json_object_set_new(json_object_get(q, kind), dot + 1, val);
    return CTL_OK;
}

static void quota_table(const json_t *q, bool color, unsigned width)
{
    static const char *const header[] = {"KIND", "BYTES", "COUNT"};
    static const char *const kinds[] = {"volume", "share", "bucket", "snapshot", "total"};
    struct table *t = table_new(header, 3);

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const json_t *l = json_object_get(q, kinds[i]);
        char b[KAIROS_SIZE_STR_MAX], n[32] = "-";
        if (json_is_integer(json_object_get(l, "count")))
            snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(l, "count")));
        const char *cells[] = {kinds[i],
                               strcmp(kinds[i], "snapshot") == 0
                                   ? "-"
                                   : ctl_size(json_object_get(l, "bytes"), b, sizeof(b)),
                               n};
        table_add(t, cells, NULL);
    }
    table_print(t, color, width);
    table_free(t);
}

/* ---- project ---- */

struct create_opts {
    const char *plan;
    json_t *quota;
    bool force, below, desc;
    const char *sort;
};

static int on_create(int opt, void *arg)
{
    struct create_opts *o = arg;

    if (opt == 'p')
        o->plan = optarg;
    else if (opt == 'q')
        return quota_arg(o->quota, optarg);
    else if (opt == 'f')
        o->force = true;
    else if (opt == 'b')
        o->below = true;
    else if (opt == 's')
        o->sort = optarg;
    else if (opt == 'd')
        o->desc = true;
    return CTL_OK;
}

static int project_create(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"plan", required_argument, NULL, 'p'},
                                          {"quota", required_argument, NULL, 'q'}};
    struct create_opts o = {.quota = json_object()};
    json_t *body = NULL, *out = NULL;
    int rc;

    rc = parse(argc, argv, extra, 2, on_create, &o, self);
    if (rc != CTL_OK) {
        json_decref(o.quota);
        return rc < 0 ? CTL_OK : rc;
    }
    rc = positional(argc, argv, 1, self);
    if (rc == CTL_OK)
        rc = check_name(argv[optind], "project");
    if (rc != CTL_OK) {
        json_decref(o.quota);
        return rc;
    }
    body = json_pack("{s:s}", "name", argv[optind]);
    if (o.plan)
        json_object_set_new(body, "plan", json_string(o.plan));
    if (json_object_size(o.quota))
        json_object_set(body, "quota", o.quota);
    json_decref(o.quota);
    rc = ctl_call(c, "POST", "/v1/projects", body, &out);
    json_decref(body);
    if (rc == CTL_OK) {
        if (c->json)
            print_json(out);
        else
            printf("project %s created\n", argv[optind]);
    }
    json_decref(out);
    return rc;
}

static int project_list(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"NAME", "STATE", "OWNER"};
    struct table *t;
    json_t *all;
    char path[256] = "/v1/projects?limit=1000";
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK)
        return rc;
    all = json_array();
    rc = fetch_all(c, path, all);
    if (rc == CTL_OK && c->json) {
        print_json(all);
    } else if (rc == CTL_OK) {
        size_t i;
        json_t *p;
        t = table_new(header, 3);
        json_array_foreach(all, i, p)
        {
            const json_t *ow = json_object_get(p, "owner");
            char owner[160] = "-";
            if (ow)
                snprintf(owner, sizeof(owner), "%s:%s",
                         json_string_value(json_object_get(ow, "platform")),
                         json_string_value(json_object_get(ow, "id")));
            const char *cells[] = {json_string_value(json_object_get(p, "name")),
                                   json_string_value(json_object_get(p, "state")), owner};
            table_add(t, cells, NULL);
        }
        table_print(t, c->color, c->width);
        table_free(t);
    }
    json_decref(all);
    return rc;
}

static int project_show(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s", argv[optind]);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK && c->json) {
        print_json(out);
    } else if (rc == CTL_OK) {
        const json_t *ow = json_object_get(out, "owner");
        printf("project %s (%s)", json_string_value(json_object_get(out, "name")),
               json_string_value(json_object_get(out, "state")));
        if (ow)
            printf(", owned by %s:%s", json_string_value(json_object_get(ow, "platform")),
                   json_string_value(json_object_get(ow, "id")));
        printf("\n\n");
        quota_table(json_object_get(out, "quota"), c->color, c->width);
    }
    json_decref(out);
    return rc;
}

static int project_delete(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"force", no_argument, NULL, 'f'}};
    struct create_opts o = {0};
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(extra, 1, on_create, &o);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s%s", argv[optind], o.force ? "?force=true" : "");
    rc = ctl_call(c, "DELETE", path, NULL, &out);
    json_decref(out);
    if (rc == CTL_OK && !c->json)
        printf("project %s deleted\n", argv[optind]);
    else if (rc == CTL_OK)
        puts("{}");
    return rc;
}

/* ---- quota ---- */

static int quota_set(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"below-usage", no_argument, NULL, 'b'}};
    struct create_opts o = {0};
    char path[256];
    json_t *q, *out = NULL;
    int rc;

    PARSE(extra, 1, on_create, &o);
    if (argc - optind < 2)
        return ctl_fail(CTL_BAD_INPUT, "usage: kairosctl quota set %s", self->args);
    if ((rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    q = json_object();
    for (int i = optind + 1; i < argc; i++) {
        if ((rc = quota_arg(q, argv[i])) != CTL_OK) {
            json_decref(q);
            return rc;
        }
    }
    snprintf(path, sizeof(path), "/v1/projects/%s/quota%s", argv[optind],
             o.below ? "?below_usage=true" : "");
    rc = ctl_call(c, "PUT", path, q, &out);
    json_decref(q);
    if (rc == CTL_OK) {
        if (c->json)
            print_json(out);
        else
            quota_table(out, c->color, c->width);
    }
    json_decref(out);
    return rc;
}

static int quota_show(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/quota", argv[optind]);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK) {
        if (c->json)
            print_json(out);
        else
            quota_table(out, c->color, c->width);
    }
    json_decref(out);
    return rc;
}

/* ---- usage ---- */

static void usage_rows(struct table *t, const char *project, const json_t *u)
{
    static const char *const kinds[] = {"volume", "share", "bucket", "total"};
    const json_t *drift = json_object_get(u, "drift");

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const json_t *k = json_object_get(u, kinds[i]);
        char q[KAIROS_SIZE_STR_MAX], a[KAIROS_SIZE_STR_MAX], us[KAIROS_SIZE_STR_MAX], p[16];
        char d[24] = "-";
        double pk, dk = NAN;
        const char *pc = percent(json_object_get(k, "allocated_bytes"),
                                 json_object_get(k, "quota_bytes"), p, sizeof(p), &pk);
        /* Drift findings of the kind, or of the project on the total row. */
        const json_t *n = strcmp(kinds[i], "total") == 0
                              ? json_object_get(drift, "findings")
                              : json_object_get(json_object_get(drift, "by_kind"), kinds[i]);
        if (drift) {
            dk = json_is_integer(n) ? (double)json_integer_value(n) : 0;
            snprintf(d, sizeof(d), "%.0f", dk);
        }
        const char *cells[] = {project,
                               kinds[i],
                               ctl_size(json_object_get(k, "quota_bytes"), q, sizeof(q)),
                               ctl_size(json_object_get(k, "allocated_bytes"), a, sizeof(a)),
                               ctl_size(json_object_get(k, "used_bytes"), us, sizeof(us)),
                               pc,
                               d};
        double keys[] = {NAN,
                         NAN,
                         num(json_object_get(k, "quota_bytes")),
                         num(json_object_get(k, "allocated_bytes")),
                         num(json_object_get(k, "used_bytes")),
                         pk,
                         dk};
        table_add(t, cells, keys);
    }
}

static int usage(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"sort", required_argument, NULL, 's'},
                                          {"desc", no_argument, NULL, 'd'}};
    static const char *const header[] = {"PROJECT", "KIND",    "QUOTA", "ALLOCATED",
                                         "USED",    "PERCENT", "DRIFT"};
    struct create_opts o = {0};
    json_t *projects = json_array(), *all = json_object(), *out = NULL;
    char path[256];
    int rc = CTL_OK;

    rc = parse(argc, argv, extra, 2, on_create, &o, self);
    if (rc != CTL_OK)
        goto done;
    if (argc - optind > 1) {
        rc = ctl_fail(CTL_BAD_INPUT, "usage: kairosctl usage %s", self->args);
        goto done;
    }
    if (argc - optind == 1) {
        if ((rc = check_name(argv[optind], "project")) != CTL_OK)
            goto done;
        json_array_append_new(projects, json_string(argv[optind]));
    } else {
        json_t *items = json_array(), *p;
        size_t i;
        rc = fetch_all(c, "/v1/projects?limit=1000", items);
        json_array_foreach(items, i, p) json_array_append(projects, json_object_get(p, "name"));
        json_decref(items);
    }
    for (size_t i = 0; rc == CTL_OK && i < json_array_size(projects); i++) {
        snprintf(path, sizeof(path), "/v1/projects/%s/usage",
                 json_string_value(json_array_get(projects, i)));
        rc = ctl_call(c, "GET", path, NULL, &out);
        if (rc == CTL_OK)
            json_object_set_new(all, json_string_value(json_array_get(projects, i)), out);
    }
    if (rc == CTL_OK && c->json) {
        print_json(all);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 7);
        const char *name;
        json_t *u;
        json_object_foreach(all, name, u) usage_rows(t, name, u);
        if (o.sort && !table_sort(t, o.sort, o.desc))
            rc = ctl_fail(CTL_BAD_INPUT, "no column '%s' to sort by", o.sort);
        else
            table_print(t, c->color, c->width);
        table_free(t);
    }
done:
    json_decref(projects);
    json_decref(all);
    return rc < 0 ? CTL_OK : rc;
}

/* ---- capacity ---- */

static int capacity(struct ctl *c, int argc, char **argv)
{
    json_t *out = NULL;
    char a[KAIROS_SIZE_STR_MAX], b[KAIROS_SIZE_STR_MAX];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK)
        return rc;
    rc = ctl_call(c, "GET", "/v1/capacity", NULL, &out);
    if (rc == CTL_OK && c->json) {
        print_json(out);
    } else if (rc == CTL_OK) {
        double usable = num(json_object_get(out, "usable"));
        double limit = num(json_object_get(out, "limit"));
        double eff = num(json_object_get(out, "allocated_effective"));
        printf("capacity          %s usable, full ratio %.2f, headroom %.0f%%\n",
               ctl_size(json_object_get(out, "usable"), a, sizeof(a)),
               json_real_value(json_object_get(out, "full_ratio")),
               100 * json_real_value(json_object_get(out, "headroom")));
        printf("admission limit   %s (effective bytes)\n",
               ctl_size(json_object_get(out, "limit"), a, sizeof(a)));
        printf("headroom left     %s\n",
               limit > eff ? kairos_size_format((uint64_t)(limit - eff), b, sizeof(b)) : "0B");
        printf("sum of quotas     %s\n",
               json_is_null(json_object_get(out, "quota_total"))
                   ? "unlimited (some project has no limit)"
                   : ctl_size(json_object_get(out, "quota_total"), a, sizeof(a)));
        printf("allocated         %s (%s effective)\n",
               ctl_size(json_object_get(out, "allocated_total"), a, sizeof(a)),
               ctl_size(json_object_get(out, "allocated_effective"), b, sizeof(b)));
        printf("used              %s (%.1f%% of usable)\n",
               ctl_size(json_object_get(out, "used"), a, sizeof(a)),
               usable > 0 ? 100 * num(json_object_get(out, "used")) / usable : 0.0);
        printf("oversubscription  %.2fx\n",
               json_real_value(json_object_get(out, "oversubscription")));
        printf("projects          %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(out, "projects")));
    }
    json_decref(out);
    return rc;
}

/* ---- allocations ---- */

static int allocations(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"NAME", "SIZE", "STATE"};
    json_t *all;
    char path[512];
    const char *kind = argv[0];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    all = json_array();
    snprintf(path, sizeof(path), "/v1/projects/%s/%s?limit=1000", argv[optind], kind);
    rc = fetch_all(c, path, all);
    if (rc == CTL_OK && c->json) {
        print_json(all);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 3);
        size_t i;
        json_t *a;
        json_array_foreach(all, i, a)
        {
            char s[KAIROS_SIZE_STR_MAX];
            const char *cells[] = {json_string_value(json_object_get(a, "name")),
                                   ctl_size(json_object_get(a, "size"), s, sizeof(s)),
                                   json_string_value(json_object_get(a, "state"))};
            double keys[] = {NAN, num(json_object_get(a, "size")), NAN};
            table_add(t, cells, keys);
        }
        table_print(t, c->color, c->width);
        table_free(t);
    }
    json_decref(all);
    return rc;
}

/* ---- tokens ---- */

static int token_create(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens", argv[optind]);
    rc = ctl_call(c, "POST", path, NULL, &out);
    if (rc == CTL_OK && c->json) {
        print_json(out);
    } else if (rc == CTL_OK) {
        /* The token alone on stdout, so that it can go straight to a file. */
        fprintf(stderr, "token %s for project %s (shown once):\n",
                json_string_value(json_object_get(out, "id")), argv[optind]);
        puts(json_string_value(json_object_get(out, "token")));
    }
    json_decref(out);
    return rc;
}

static int token_list(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"ID"};
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens", argv[optind]);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK && c->json) {
        print_json(json_object_get(out, "items"));
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 1);
        size_t i;
        json_t *tok;
        json_array_foreach(json_object_get(out, "items"), i, tok)
        {
            const char *cells[] = {json_string_value(json_object_get(tok, "id"))};
            table_add(t, cells, NULL);
        }
        table_print(t, c->color, c->width);
        table_free(t);
    }
    json_decref(out);
    return rc;
}

static int token_revoke(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    if (strlen(argv[optind + 1]) != 16 || strspn(argv[optind + 1], "0123456789abcdef") != 16)
        return ctl_fail(CTL_BAD_INPUT, "bad token id '%s': 16 hex digits", argv[optind + 1]);
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens/%s", argv[optind], argv[optind + 1]);
    rc = ctl_call(c, "DELETE", path, NULL, &out);
    json_decref(out);
    if (rc == CTL_OK)
        printf(c->json ? "{}\n" : "token %s revoked\n", argv[optind + 1]);
    return rc;
}

/* ---- drift and locks ---- */

static int drift_show(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"KIND",  "ALLOCATION", "WHAT",  "OBJECTS",
                                         "BYTES", "ACTION",     "DETAIL"};
    char path[256];
    json_t *out = NULL, *f;
    size_t i;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/drift", argv[optind]);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK && c->json) {
        print_json(out);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 7);
        printf("project %s, drift policy %s\n", argv[optind],
               json_string_value(json_object_get(out, "policy")));
        json_array_foreach(json_object_get(out, "findings"), i, f)
        {
            char o[32], b[KAIROS_SIZE_STR_MAX];
            const char *alloc = json_string_value(json_object_get(f, "allocation"));
            snprintf(o, sizeof(o), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(f, "objects")));
            const char *cells[] = {json_string_value(json_object_get(f, "kind")),
                                   alloc && alloc[0] ? alloc : "-",
                                   json_string_value(json_object_get(f, "what")),
                                   o,
                                   ctl_size(json_object_get(f, "bytes"), b, sizeof(b)),
                                   json_string_value(json_object_get(f, "action")),
                                   json_string_value(json_object_get(f, "detail"))};
            double keys[] = {
                NAN, NAN, NAN, num(json_object_get(f, "objects")), num(json_object_get(f, "bytes")),
                NAN, NAN};
            table_add(t, cells, keys);
        }
        table_print(t, c->color, c->width);
        table_free(t);
    }
    json_decref(out);
    return rc;
}

static int drift_policy(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *out = NULL, *body = NULL;
    int rc, n;

    PARSE(NULL, 0, NULL, NULL);
    n = argc - optind;
    if (n != 1 && n != 2)
        return ctl_fail(CTL_BAD_INPUT, "usage: kairosctl drift policy %s", self->args);
    if ((rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    if (n == 2 && strcmp(argv[optind + 1], "report") != 0 &&
        strcmp(argv[optind + 1], "revoke") != 0)
        return ctl_fail(CTL_BAD_INPUT, "bad policy '%s': report or revoke", argv[optind + 1]);
    snprintf(path, sizeof(path), "/v1/projects/%s/drift/policy", argv[optind]);
    if (n == 2)
        body = json_pack("{s:s}", "policy", argv[optind + 1]);
    rc = ctl_call(c, n == 2 ? "PUT" : "GET", path, body, &out);
    if (rc == CTL_OK && c->json)
        print_json(out);
    else if (rc == CTL_OK)
        printf("project %s: drift policy %s\n", argv[optind],
               json_string_value(json_object_get(out, "policy")));
    json_decref(body);
    json_decref(out);
    return rc;
}

static int volume_break_lock(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"force", no_argument, NULL, 'f'}};
    struct create_opts o = {0};
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(extra, 1, on_create, &o);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], "volume")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/lock/break%s", argv[optind],
             argv[optind + 1], o.force ? "?force=true" : "");
    rc = ctl_call(c, "POST", path, NULL, &out);
    if (rc == CTL_OK && c->json)
        print_json(out);
    else if (rc == CTL_OK && !json_is_true(json_object_get(out, "held")))
        printf("volume %s/%s: no lock held\n", argv[optind], argv[optind + 1]);
    else if (rc == CTL_OK)
        printf("volume %s/%s: lock of %s broken, %s blocklisted\n", argv[optind], argv[optind + 1],
               json_string_value(json_object_get(out, "owner")),
               json_string_value(json_object_get(out, "address")));
    json_decref(out);
    return rc;
}

/* ---- dispatch ---- */

static const struct command commands[] = {
    {"project", "create", "NAME [--plan PLAN] [--quota KIND.bytes=SIZE]...",
     "Create a project, with a plan's quota and/or explicit limits.", project_create},
    {"project", "list", "", "List every project.", project_list},
    {"project", "show", "NAME", "A project's state, owner and quota.", project_show},
    {"project", "delete", "NAME [--force]",
     "Delete a project; --force first deletes everything it holds.", project_delete},
    {"quota", "set", "PROJECT KIND.bytes=SIZE|KIND.count=N|...=none... [--below-usage]",
     "Change limits (others keep their value). Sizes: 500G, 10T, 1.5PiB.\n"
     "Keys: volume.bytes volume.count share.bytes share.count bucket.bytes\n"
     "bucket.count snapshot.count total.bytes. --below-usage allows a limit\n"
     "under what is already allocated.",
     quota_set},
    {"quota", "show", "PROJECT", "A project's limits.", quota_show},
    {"usage", NULL, "[PROJECT] [--sort COLUMN] [--desc]",
     "Quota, allocated, used, percent and drift findings per project and\n"
     "kind; every project without PROJECT. Sort by any column: project, kind,\n"
     "quota, allocated, used, percent, drift.",
     usage},
    {"capacity", NULL, "",
     "The pool: capacity, headroom, sum of quotas, allocated, used\n"
     "and oversubscription.",
     capacity},
    {"volumes", NULL, "PROJECT", "A project's volumes.", allocations},
    {"shares", NULL, "PROJECT", "A project's shares.", allocations},
    {"buckets", NULL, "PROJECT", "A project's buckets.", allocations},
    {"token", "create", "PROJECT", "Make a token that reaches PROJECT only; printed once.",
     token_create},
    {"token", "list", "PROJECT", "The ids of PROJECT's tokens.", token_list},
    {"token", "revoke", "PROJECT ID", "Revoke a token (refused everywhere within 5 s).",
     token_revoke},
    {"drift", "show", "PROJECT",
     "What the reconciler's last scan of PROJECT found that the ledger does\n"
     "not count, and what was done about it.",
     drift_show},
    {"drift", "policy", "PROJECT [report|revoke]",
     "Show or set what drift does: report it, or also revoke (and blocklist)\n"
     "the bindings that could have caused it.",
     drift_policy},
    {"volume", "break-lock", "PROJECT VOLUME [--force]",
     "Let a new client take the exclusive lock a dead one holds: its holder\n"
     "is blocklisted and the lock broken. A live holder is left alone (exit 7)\n"
     "unless --force.",
     volume_break_lock},
};

static const struct command *find(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *cmd = &commands[i];
        if (strcmp(cmd->group, argv[0]) != 0)
            continue;
        if (!cmd->verb || (argc > 1 && strcmp(cmd->verb, argv[1]) == 0))
            return cmd;
    }
    return NULL;
}

bool commands_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int commands_run(struct ctl *c, int argc, char **argv)
{
    const struct command *cmd = find(argc, argv);

    if (!cmd) {
        bool group = false;
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(commands[i].group, argv[0]) == 0) {
                if (!group)
                    fprintf(stderr, "kairosctl %s: one of:\n", argv[0]);
                group = true;
                fprintf(stderr, "  kairosctl %s %s%s%s\n", argv[0], commands[i].verb,
                        *commands[i].args ? " " : "", commands[i].args);
            }
        }
        return group
                   ? CTL_BAD_INPUT
                   : ctl_fail(CTL_BAD_INPUT, "unknown command '%s'; see kairosctl --help", argv[0]);
    }
    self = cmd;
    current = c;
    /* Each command parses its own arguments, starting after its name. */
    return cmd->verb ? cmd->run(c, argc - 1, argv + 1) : cmd->run(c, argc, argv);
}
