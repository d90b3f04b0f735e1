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
#include <time.h>
#include <unistd.h>

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
static const char *kind_path(const char *kind);
static int show_object(struct ctl *c, const char *path);

/* The command being run, and its context (kairosctl runs one per process). */
static const struct command *self;
static struct ctl *current;

/* ---- helpers ---- */

/* What a command that answers nothing prints in json or yaml: {}. */
static int done_doc(const struct ctl *c)
{
    json_t *empty = json_object();
    int rc = output_doc(c, empty);

    json_decref(empty);
    return rc;
}

/* The command's answer as a document (-f json, yaml; value for prose commands). */
static bool as_doc(const struct ctl *c)
{
    return output_machine(c) || c->format == CTL_FORMAT_VALUE;
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

/* Milliseconds since the epoch as "2026-12-05 01:27:20Z", or "-". */
static const char *ctl_time(const json_t *ms, char *buf, size_t len)
{
    time_t t;
    struct tm tm;

    if (!json_is_integer(ms) || json_integer_value(ms) <= 0)
        return "-";
    t = (time_t)(json_integer_value(ms) / 1000);
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
        return "-";
    return buf;
}

/* "platform:id" of a project made through the broker API, else what made it. */
static const char *owner_text(const json_t *ow, char *buf, size_t len)
{
    const char *platform = json_string_value(json_object_get(ow, "platform"));
    const char *id = json_string_value(json_object_get(ow, "id"));

    if (!platform || !*platform)
        return "none (made with the REST API)";
    snprintf(buf, len, "%s:%s", platform, id ? id : "");
    return buf;
}

/* Their values: -f and -c, so no command's own option may use 'f', 'c', 'h', 'J', 'F', 'C'. */
#define COMMON_OPTIONS 4
#define EXTRA_OPTIONS  8

/*
 * Common options of a command: --help, -f/--format, -c/--column and
 * --json, plus @extra (may be NULL). getopt's messages name the command
 * ("kairosctl project create: unrecognized option"), not the program.
 */
static int parse(int argc, char **argv, const struct option *extra, size_t nextra,
                 int (*on)(int opt, void *arg), void *arg, const struct command *cmd)
{
    struct option opts[COMMON_OPTIONS + EXTRA_OPTIONS + 1] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, 'J'},
        {"format", required_argument, NULL, 'F'},
        {"column", required_argument, NULL, 'C'}};
    char name[128], *argv0 = argv[0];
    int opt, rc = CTL_OK;

    if (nextra > EXTRA_OPTIONS)
        nextra = EXTRA_OPTIONS;
    if (nextra)
        memcpy(&opts[COMMON_OPTIONS], extra, nextra * sizeof(*extra));
    snprintf(name, sizeof(name), "kairosctl %s%s%s", cmd->group, cmd->verb ? " " : "",
             cmd->verb ? cmd->verb : "");
    argv[0] = name;
    /* 0, not 1: glibc then forgets the previous scan (the global options). */
    optind = 0;
    while (rc == CTL_OK && (opt = getopt_long(argc, argv, "hf:c:", opts, NULL)) != -1) {
        if (opt == 'h') {
            printf("usage: %s %s\n\n%s\n", name, cmd->args, cmd->help);
            rc = -1;
        } else if (opt == 'J') {
            current->format = CTL_FORMAT_JSON;
        } else if (opt == 'f' || opt == 'F') {
            if (!output_format_parse(optarg, &current->format))
                rc = ctl_fail(CTL_BAD_INPUT, "%s: bad format '%s': table, json, yaml or value",
                              name, optarg);
        } else if (opt == 'c' || opt == 'C') {
            if (!output_column_add(current, optarg))
                rc = ctl_fail(CTL_BAD_INPUT, "%s: too many columns", name);
        } else if (opt == '?' || !on || on(opt, arg) != CTL_OK) {
            rc = CTL_BAD_INPUT;
        }
    }
    argv[0] = argv0;
    return rc;
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
    else if (strcmp(dot + 1, "count") == 0)
        return ctl_fail(CTL_BAD_INPUT, "bad value in '%s': a whole number such as 10, or none",
                        arg);
    else
        return ctl_fail(CTL_BAD_INPUT,
                        "bad value in '%s': a size such as 500G, 10T, 1.5PiB, or bytes (4096), "
                        "or none",
                        arg);
    if (!json_object_get(q, kind))
        json_object_set_new(q, kind, json_object());
    json_object_set_new(json_object_get(q, kind), dot + 1, val);
    return CTL_OK;
}

static int quota_table(const struct ctl *c, const json_t *q)
{
    static const char *const header[] = {"KIND", "BYTES", "COUNT"};
    static const char *const kinds[] = {"volume", "share", "bucket", "snapshot", "total"};
    struct table *t = table_new(header, 3);
    int rc;

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
        double keys[] = {NAN, num(json_object_get(l, "bytes")), num(json_object_get(l, "count"))};
        table_add(t, cells, keys);
    }
    rc = output_table(c, t);
    table_free(t);
    return rc;
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
    else if (opt == 'X')
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
        if (as_doc(c))
            rc = output_doc(c, out);
        else
            printf("project %s created\n", argv[optind]);
    }
    json_decref(out);
    return rc;
}

static int project_list(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"NAME", "STATE", "CREATED", "OWNER"};
    struct table *t;
    json_t *all;
    char path[256] = "/v1/projects?limit=1000";
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK)
        return rc;
    all = json_array();
    rc = fetch_all(c, path, all);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, all);
    } else if (rc == CTL_OK) {
        size_t i;
        json_t *p;
        t = table_new(header, 4);
        json_array_foreach(all, i, p)
        {
            char owner[160], when[64];
            const char *cells[] = {json_string_value(json_object_get(p, "name")),
                                   json_string_value(json_object_get(p, "state")),
                                   ctl_time(json_object_get(p, "created_ms"), when, sizeof(when)),
                                   owner_text(json_object_get(p, "owner"), owner, sizeof(owner))};
            double keys[] = {NAN, NAN, num(json_object_get(p, "created_ms")), NAN};
            table_add(t, cells, keys);
        }
        rc = output_table(c, t);
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
    if (rc == CTL_OK && as_doc(c)) {
        rc = output_doc(c, out);
    } else if (rc == CTL_OK) {
        char when[64], owner[160];
        printf("project  %s\nstate    %s\ncreated  %s\nowner    %s\n\n",
               json_string_value(json_object_get(out, "name")),
               json_string_value(json_object_get(out, "state")),
               ctl_time(json_object_get(out, "created_ms"), when, sizeof(when)),
               owner_text(json_object_get(out, "owner"), owner, sizeof(owner)));
        rc = quota_table(c, json_object_get(out, "quota"));
    }
    json_decref(out);
    return rc;
}

static int project_delete(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"force", no_argument, NULL, 'X'}};
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
    if (rc == CTL_OK && !output_machine(c))
        printf("project %s deleted\n", argv[optind]);
    else if (rc == CTL_OK)
        rc = done_doc(c);
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
        if (output_machine(c))
            rc = output_doc(c, out);
        else
            rc = quota_table(c, out);
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
        if (output_machine(c))
            rc = output_doc(c, out);
        else
            rc = quota_table(c, out);
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
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, all);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 7);
        const char *name;
        json_t *u;
        json_object_foreach(all, name, u) usage_rows(t, name, u);
        if (o.sort && !table_sort(t, o.sort, o.desc))
            rc = ctl_fail(CTL_BAD_INPUT, "no column '%s' to sort by", o.sort);
        else
            rc = output_table(c, t);
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
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, out);
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
        /* Quotas over capacity means nothing when some quota has no bound. */
        if (json_is_null(json_object_get(out, "quota_total")))
            printf("oversubscription  none to compute (some project has no limit)\n");
        else
            printf("oversubscription  %.2fx\n",
                   json_real_value(json_object_get(out, "oversubscription")));
        printf("projects          %" JSON_INTEGER_FORMAT "\n",
               json_integer_value(json_object_get(out, "projects")));
    }
    json_decref(out);
    return rc;
}

/* ---- allocations ---- */

static int list_allocations(struct ctl *c, int argc, char **argv, const char *kind)
{
    static const char *const header[] = {"NAME", "SIZE", "STATE"};
    json_t *all;
    char path[512];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    all = json_array();
    snprintf(path, sizeof(path), "/v1/projects/%s/%s?limit=1000", argv[optind], kind);
    rc = fetch_all(c, path, all);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, all);
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
        rc = output_table(c, t);
        table_free(t);
    }
    json_decref(all);
    return rc;
}

/* "volumes PROJECT": the group names the kind. */
static int allocations(struct ctl *c, int argc, char **argv)
{
    return list_allocations(c, argc, argv, argv[0]);
}

/* "volume list PROJECT". */
static int alloc_list(struct ctl *c, int argc, char **argv)
{
    return list_allocations(c, argc, argv, kind_path(self->group));
}

/* ---- audit ---- */

struct audit_opts {
    const char *project, *since, *limit;
};

static int on_audit(int opt, void *arg)
{
    struct audit_opts *o = arg;

    if (opt == 'p')
        o->project = optarg;
    else if (opt == 's')
        o->since = optarg;
    else if (opt == 'l')
        o->limit = optarg;
    return CTL_OK;
}

/* Append "&@name=@value" to @path, percent-encoding all but letters, digits and "-._". */
static void query_arg(char *path, size_t len, const char *name, const char *value)
{
    size_t n = strlen(path);

    n += (size_t)snprintf(path + n, n < len ? len - n : 0, "%s%s=", strchr(path, '?') ? "&" : "?",
                          name);
    for (const unsigned char *s = (const unsigned char *)value; *s && n + 4 < len; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("-._", *s))
            path[n++] = (char)*s;
        else
            n += (size_t)snprintf(path + n, len - n, "%%%02X", *s);
    }
    path[n < len ? n : len - 1] = '\0';
}

/* Who made an entry: the token's id, or the OSB platform and its originating identity. */
static const char *audit_who(const json_t *e, char *buf, size_t len)
{
    const char *platform = json_string_value(json_object_get(e, "platform"));
    const json_t *identity = json_object_get(e, "identity");
    const char *token = json_string_value(json_object_get(e, "token_id"));
    char *text = json_is_null(identity) || !identity
                     ? NULL
                     : json_dumps(identity, JSON_COMPACT | JSON_ENCODE_ANY);

    if (platform || text)
        snprintf(buf, len, "%s%s%s", platform ? platform : "-", text ? " " : "", text ? text : "");
    else
        snprintf(buf, len, "%s", token ? token : "-");
    free(text);
    return buf;
}

static int audit_list(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"project", required_argument, NULL, 'p'},
                                          {"since", required_argument, NULL, 's'},
                                          {"limit", required_argument, NULL, 'l'}};
    static const char *const header[] = {"TIME",    "ACTOR", "WHO",  "METHOD", "PATH",
                                         "PROJECT", "KIND",  "NAME", "STATUS", "ERROR"};
    struct audit_opts o = {0};
    char path[512] = "/v1/audit";
    json_t *out = NULL, *e;
    size_t i;
    int rc;

    PARSE(extra, 3, on_audit, &o);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK ||
        (o.project && (rc = check_name(o.project, "project")) != CTL_OK))
        return rc;
    if (o.limit && (!*o.limit || strspn(o.limit, "0123456789") != strlen(o.limit) ||
                    strlen(o.limit) > 4 || atoi(o.limit) < 1 || atoi(o.limit) > 1000))
        return ctl_fail(CTL_BAD_INPUT, "bad --limit '%s': 1 to 1000", o.limit);
    if (o.since && (!*o.since || strlen(o.since) > 40))
        return ctl_fail(CTL_BAD_INPUT, "bad --since: an ISO 8601 time or an age such as 2d");
    if (o.project)
        query_arg(path, sizeof(path), "project", o.project);
    if (o.since)
        query_arg(path, sizeof(path), "since", o.since);
    if (o.limit)
        query_arg(path, sizeof(path), "limit", o.limit);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, json_object_get(out, "items"));
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 10);
        json_array_foreach(json_object_get(out, "items"), i, e)
        {
            char when[64], who[160], status[8];
            const char *cells[10];
            double keys[10];
            static const char *const fields[] = {"actor",   "method", "path",
                                                 "project", "kind",   "name"};
            cells[0] = ctl_time(json_object_get(e, "time_ms"), when, sizeof(when));
            keys[0] = num(json_object_get(e, "time_ms"));
            cells[2] = audit_who(e, who, sizeof(who));
            for (size_t f = 0; f < 6; f++) {
                const char *v = json_string_value(json_object_get(e, fields[f]));
                cells[f < 1 ? 1 : f + 2] = v ? v : "-";
            }
            snprintf(status, sizeof(status), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(e, "status")));
            cells[8] = status;
            cells[9] = json_string_value(json_object_get(e, "error"));
            cells[9] = cells[9] ? cells[9] : "-";
            for (size_t k = 1; k < 10; k++)
                keys[k] = k == 8 ? num(json_object_get(e, "status")) : NAN;
            table_add(t, cells, keys);
        }
        rc = output_table(c, t);
        table_free(t);
        if (rc == CTL_OK && json_is_true(json_object_get(out, "more")))
            fprintf(stderr, "more entries match: raise --limit (up to 1000) or give a later "
                            "--since\n");
    }
    json_decref(out);
    return rc;
}

static int audit_trim(struct ctl *c, int argc, char **argv)
{
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK)
        return rc;
    rc = ctl_call(c, "POST", "/v1/audit/trim", NULL, &out);
    if (rc == CTL_OK && as_doc(c))
        rc = output_doc(c, out);
    else if (rc == CTL_OK)
        printf("removed %" JSON_INTEGER_FORMAT " day(s) of audit log older than [audit] max_age\n",
               json_integer_value(json_object_get(out, "removed_days")));
    json_decref(out);
    return rc;
}

/* ---- tokens ---- */

static int on_token(int opt, void *arg)
{
    if (opt == 'D')
        *(const char **)arg = optarg;
    return CTL_OK;
}

static int token_create(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"description", required_argument, NULL, 'D'}};
    const char *description = NULL;
    char path[256];
    json_t *out = NULL, *body;
    int rc;

    PARSE(extra, 1, on_token, &description);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens", argv[optind]);
    body = description ? json_pack("{s:s}", "description", description) : json_object();
    if (!body)
        return ctl_fail(CTL_BAD_INPUT, "the description is not UTF-8");
    rc = ctl_call(c, "POST", path, body, &out);
    json_decref(body);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, out);
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
    static const char *const header[] = {"ID", "CREATED", "DESCRIPTION"};
    char path[256];
    json_t *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/tokens", argv[optind]);
    rc = ctl_call(c, "GET", path, NULL, &out);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, json_object_get(out, "items"));
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 3);
        size_t i;
        json_t *tok;
        json_array_foreach(json_object_get(out, "items"), i, tok)
        {
            char when[64];
            const char *d = json_string_value(json_object_get(tok, "description"));
            const char *cells[] = {json_string_value(json_object_get(tok, "id")),
                                   ctl_time(json_object_get(tok, "created_ms"), when, sizeof(when)),
                                   d ? d : "-"};
            double keys[] = {NAN, num(json_object_get(tok, "created_ms")), NAN};
            table_add(t, cells, keys);
        }
        rc = output_table(c, t);
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
    if (rc == CTL_OK && !output_machine(c))
        printf("token %s revoked\n", argv[optind + 1]);
    else if (rc == CTL_OK)
        rc = done_doc(c);
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
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, out);
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
        rc = output_table(c, t);
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
    if (rc == CTL_OK && as_doc(c))
        rc = output_doc(c, out);
    else if (rc == CTL_OK)
        printf("project %s: drift policy %s\n", argv[optind],
               json_string_value(json_object_get(out, "policy")));
    json_decref(body);
    json_decref(out);
    return rc;
}

static int volume_break_lock(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"force", no_argument, NULL, 'X'}};
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
    if (rc == CTL_OK && as_doc(c))
        rc = output_doc(c, out);
    else if (rc == CTL_OK && !json_is_true(json_object_get(out, "held")))
        printf("volume %s/%s: no lock held\n", argv[optind], argv[optind + 1]);
    else if (rc == CTL_OK)
        printf("volume %s/%s: lock of %s broken, %s blocklisted\n", argv[optind], argv[optind + 1],
               json_string_value(json_object_get(out, "owner")),
               json_string_value(json_object_get(out, "address")));
    json_decref(out);
    return rc;
}

/* ---- volumes, shares, buckets: create, resize, delete, show, list ---- */

/* How long --wait follows an operation, and how often it asks. */
#define WAIT_POLL_MS 500
#define WAIT_MAX_S   3600

struct alloc_opts {
    const char *size, *from, *from_project, *max_files, *max_objects;
    bool force, shrink, wait, read_only;
};

static int on_alloc(int opt, void *arg)
{
    struct alloc_opts *o = arg;

    switch (opt) {
    case 's':
        o->size = optarg;
        break;
    case 'm':
        o->from = optarg;
        break;
    case 'P':
        o->from_project = optarg;
        break;
    case 'M':
        o->max_files = optarg;
        break;
    case 'O':
        o->max_objects = optarg;
        break;
    case 'X':
        o->force = true;
        break;
    case 'S':
        o->shrink = true;
        break;
    case 'w':
        o->wait = true;
        break;
    case 'r':
        o->read_only = true;
        break;
    }
    return CTL_OK;
}

/* Sliced by the commands: create takes the first 6, delete 5 and 6, resize 7, --wait is 5. */
static const struct option alloc_options[] = {{"size", required_argument, NULL, 's'},
                                              {"from", required_argument, NULL, 'm'},
                                              {"from-project", required_argument, NULL, 'P'},
                                              {"max-files", required_argument, NULL, 'M'},
                                              {"max-objects", required_argument, NULL, 'O'},
                                              {"wait", no_argument, NULL, 'w'},
                                              {"force", no_argument, NULL, 'X'},
                                              {"shrink", no_argument, NULL, 'S'}};

/* "volume" -> "volumes": the REST path of a command group's kind. */
static const char *kind_path(const char *kind)
{
    return strcmp(kind, "volume") == 0  ? "volumes"
           : strcmp(kind, "share") == 0 ? "shares"
                                        : "buckets";
}

/* A size for kairosd, checked here with the same parser kairosd uses. */
static int size_arg(const char *s, json_t **out)
{
    uint64_t v;

    if (kairos_size_parse(s, &v) < 0 || v == 0)
        return ctl_fail(CTL_BAD_INPUT,
                        "bad size '%s': 500G, 10T, 1.5PiB, or a whole number of bytes", s);
    /* Sent as written: kairosd reads it with the same kairos_size_parse(). */
    *out = json_string(s);
    return CTL_OK;
}

/* A whole number for --max-files and the like. */
static int count_arg(const char *opt, const char *s, json_t **out)
{
    char *end;
    unsigned long long v;

    if (!*s || strspn(s, "0123456789") != strlen(s) || (v = strtoull(s, &end, 10), *end) ||
        v > INT64_MAX)
        return ctl_fail(CTL_BAD_INPUT, "bad %s '%s': a whole number", opt, s);
    *out = json_integer((json_int_t)v);
    return CTL_OK;
}

/* FIELD VALUE rows of an object: sizes and times made readable. */
static int fields_table(const struct ctl *c, const json_t *obj)
{
    static const char *const header[] = {"FIELD", "VALUE"};
    struct table *t = table_new(header, 2);
    const char *key;
    json_t *v;
    int rc;

    json_object_foreach((json_t *)obj, key, v)
    {
        char buf[KAIROS_SIZE_STR_MAX + 64], *dump = NULL;
        const char *text;
        size_t n = strlen(key);
        if ((strcmp(key, "size") == 0 || strcmp(key, "used") == 0 ||
             (n > 6 && strcmp(key + n - 6, "_bytes") == 0)) &&
            json_is_integer(v))
            text = ctl_size(v, buf, sizeof(buf));
        else if (((n > 3 && strcmp(key + n - 3, "_ms") == 0) || strcmp(key, "started") == 0 ||
                  strcmp(key, "finished") == 0) &&
                 json_is_integer(v))
            text = ctl_time(v, buf, sizeof(buf));
        else if (json_is_string(v))
            text = json_string_value(v);
        else
            text = dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        const char *cells[] = {key, text ? text : "-"};
        table_add(t, cells, NULL);
        free(dump);
    }
    rc = output_table(c, t);
    table_free(t);
    return rc;
}

/* Follow an operation until it is no longer in progress; print its outcome. */
static int wait_operation(struct ctl *c, const char *id)
{
    char path[256];
    json_t *out = NULL;
    int rc;

    snprintf(path, sizeof(path), "/v1/operations/%s", id);
    for (long waited = 0; waited < WAIT_MAX_S * 1000L; waited += WAIT_POLL_MS) {
        rc = ctl_call(c, "GET", path, NULL, &out);
        if (rc != CTL_OK)
            return rc;
        const char *state = json_string_value(json_object_get(out, "state"));
        if (!state || strcmp(state, "in progress") != 0) {
            bool ok = state && strcmp(state, "succeeded") == 0;
            const char *d = json_string_value(json_object_get(out, "description"));
            if (!ok) {
                rc = ctl_fail(json_integer_value(json_object_get(out, "status")) == 422 ? CTL_QUOTA
                                                                                        : CTL_ERROR,
                              "operation %s %s: %s", id, state ? state : "lost", d ? d : "");
            } else if (as_doc(c)) {
                rc = output_doc(c, out);
            } else {
                printf("operation %s succeeded%s%s\n", id, d ? ": " : "", d ? d : "");
            }
            json_decref(out);
            return rc;
        }
        json_decref(out);
        out = NULL;
        usleep(WAIT_POLL_MS * 1000);
    }
    return ctl_fail(CTL_ERROR, "operation %s still in progress after %d s", id, WAIT_MAX_S);
}

/* An answer that is an operation (202): wait for it, or say how to follow it. */
static int answered(struct ctl *c, json_t *out, bool wait, const char *done_fmt, const char *what)
{
    const char *op = json_string_value(json_object_get(out, "operation"));

    if (!op)
        op = json_string_value(json_object_get(out, "id"));
    if (op && json_object_get(out, "state") &&
        strcmp(json_string_value(json_object_get(out, "state")), "in progress") == 0) {
        if (wait)
            return wait_operation(c, op);
        if (as_doc(c))
            return output_doc(c, out);
        printf("%s: under way as operation %s (kairosctl operation show %s)\n", what, op, op);
        return CTL_OK;
    }
    if (as_doc(c))
        return output_doc(c, out);
    printf(done_fmt, what);
    return CTL_OK;
}

static int alloc_create(struct ctl *c, int argc, char **argv)
{
    struct alloc_opts o = {0};
    const char *kind = self->group;
    char path[256], what[192];
    json_t *body = NULL, *v = NULL, *out = NULL;
    int rc;

    PARSE(alloc_options, 6, on_alloc, &o);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], kind)) != CTL_OK)
        return rc;
    body = json_pack("{s:s}", "name", argv[optind + 1]);
    if (!o.size && !o.from && strcmp(kind, "bucket") != 0) {
        rc = ctl_fail(CTL_BAD_INPUT, "%s create: give --size SIZE, or --from %s@SNAPSHOT", kind,
                      kind);
        goto out;
    }
    if (o.size) {
        if ((rc = size_arg(o.size, &v)) != CTL_OK)
            goto out;
        json_object_set_new(body, "size", v);
    }
    if (o.from) {
        const char *at = strchr(o.from, '@');
        char src[KAIROS_NAME_MAX + 1];
        if (strcmp(kind, "bucket") == 0 || !at || (size_t)(at - o.from) > KAIROS_NAME_MAX) {
            rc = ctl_fail(CTL_BAD_INPUT, "bad --from '%s': %s@SNAPSHOT (volumes and shares)",
                          o.from, kind);
            goto out;
        }
        snprintf(src, sizeof(src), "%.*s", (int)(at - o.from), o.from);
        if ((rc = check_name(src, kind)) != CTL_OK ||
            (rc = check_name(at + 1, "snapshot")) != CTL_OK ||
            (o.from_project && (rc = check_name(o.from_project, "project")) != CTL_OK))
            goto out;
        v = json_pack("{s:s,s:s}", kind, src, "snapshot", at + 1);
        if (o.from_project)
            json_object_set_new(v, "project", json_string(o.from_project));
        json_object_set_new(body, "source", v);
    }
    if (o.max_files) {
        if (strcmp(kind, "share") != 0 ||
            (rc = count_arg("--max-files", o.max_files, &v)) != CTL_OK) {
            rc = rc != CTL_OK ? rc : ctl_fail(CTL_BAD_INPUT, "--max-files is for shares");
            goto out;
        }
        json_object_set_new(body, "max_files", v);
    }
    if (o.max_objects) {
        if (strcmp(kind, "bucket") != 0 ||
            (rc = count_arg("--max-objects", o.max_objects, &v)) != CTL_OK) {
            rc = rc != CTL_OK ? rc : ctl_fail(CTL_BAD_INPUT, "--max-objects is for buckets");
            goto out;
        }
        json_object_set_new(body, "max_objects", v);
    }
    snprintf(path, sizeof(path), "/v1/projects/%s/%s", argv[optind], kind_path(kind));
    rc = ctl_call(c, "POST", path, body, &out);
    snprintf(what, sizeof(what), "%s %s/%s", kind, argv[optind], argv[optind + 1]);
    if (rc == CTL_OK)
        rc = answered(c, out, o.wait, "%s created\n", what);
out:
    json_decref(body);
    json_decref(out);
    return rc;
}

static int alloc_resize(struct ctl *c, int argc, char **argv)
{
    struct alloc_opts o = {0};
    const char *kind = self->group;
    char path[256], b[KAIROS_SIZE_STR_MAX];
    json_t *body, *v = NULL, *out = NULL;
    int rc;

    PARSE(alloc_options + 7, 1, on_alloc, &o);
    if ((rc = positional(argc, argv, 3, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], kind)) != CTL_OK ||
        (rc = size_arg(argv[optind + 2], &v)) != CTL_OK)
        return rc;
    body = json_pack("{s:o}", "size", v);
    if (o.shrink)
        json_object_set_new(body, "shrink", json_true());
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s", argv[optind], kind_path(kind),
             argv[optind + 1]);
    rc = ctl_call(c, "PATCH", path, body, &out);
    if (rc == CTL_OK && as_doc(c))
        rc = output_doc(c, out);
    else if (rc == CTL_OK)
        printf("%s %s/%s resized to %s\n", kind, argv[optind], argv[optind + 1],
               ctl_size(json_object_get(out, "size"), b, sizeof(b)));
    json_decref(body);
    json_decref(out);
    return rc;
}

static int alloc_delete(struct ctl *c, int argc, char **argv)
{
    struct alloc_opts o = {0};
    const char *kind = self->group;
    char path[256], what[192];
    json_t *out = NULL;
    int rc;

    PARSE(alloc_options + 5, 2, on_alloc, &o);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], kind)) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s%s", argv[optind], kind_path(kind),
             argv[optind + 1], o.force ? "?force=true" : "");
    rc = ctl_call(c, "DELETE", path, NULL, &out);
    snprintf(what, sizeof(what), "%s %s/%s", kind, argv[optind], argv[optind + 1]);
    if (rc == CTL_OK && !out)
        out = json_object();
    if (rc == CTL_OK)
        rc = answered(c, out, o.wait, "%s deleted\n", what);
    json_decref(out);
    return rc;
}

static int alloc_show(struct ctl *c, int argc, char **argv)
{
    const char *kind = self->group;
    char path[256];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], kind)) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/%s/%s", argv[optind], kind_path(kind),
             argv[optind + 1]);
    return show_object(c, path);
}

static int volume_flatten(struct ctl *c, int argc, char **argv)
{
    struct alloc_opts o = {0};
    char path[256], what[192];
    json_t *out = NULL;
    int rc;

    PARSE(alloc_options + 5, 1, on_alloc, &o);
    if ((rc = positional(argc, argv, 2, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK ||
        (rc = check_name(argv[optind + 1], "volume")) != CTL_OK)
        return rc;
    snprintf(path, sizeof(path), "/v1/projects/%s/volumes/%s/flatten", argv[optind],
             argv[optind + 1]);
    rc = ctl_call(c, "POST", path, NULL, &out);
    snprintf(what, sizeof(what), "volume %s/%s", argv[optind], argv[optind + 1]);
    if (rc == CTL_OK && !out)
        out = json_object();
    if (rc == CTL_OK)
        rc = answered(c, out, o.wait, "%s flattened\n", what);
    json_decref(out);
    return rc;
}

/* ---- snapshots ---- */

/* PROJECT KIND NAME: the path of an allocation that has snapshots or bindings. */
static int alloc_path(int argc, char **argv, int extra, bool buckets, char *path, size_t len)
{
    const char *kind;
    int rc;

    if ((rc = positional(argc, argv, 3 + extra, self)) != CTL_OK ||
        (rc = check_name(argv[optind], "project")) != CTL_OK)
        return rc;
    kind = argv[optind + 1];
    if (strcmp(kind, "volume") != 0 && strcmp(kind, "share") != 0 &&
        (!buckets || strcmp(kind, "bucket") != 0))
        return ctl_fail(CTL_BAD_INPUT, "bad kind '%s': volume%s", kind,
                        buckets ? ", share or bucket" : " or share");
    if ((rc = check_name(argv[optind + 2], kind)) != CTL_OK)
        return rc;
    snprintf(path, len, "/v1/projects/%s/%s/%s", argv[optind], kind_path(kind), argv[optind + 2]);
    return CTL_OK;
}

/* PROJECT KIND NAME ID: the path of one of its snapshots or bindings (@sub), checked. */
static int item_path(int argc, char **argv, bool buckets, const char *sub, const char *what,
                     char *path, size_t len)
{
    size_t n;
    int rc;

    if ((rc = alloc_path(argc, argv, 1, buckets, path, len)) != CTL_OK ||
        (rc = check_name(argv[optind + 3], what)) != CTL_OK)
        return rc;
    n = strlen(path);
    snprintf(path + n, len - n, "/%s/%s", sub, argv[optind + 3]);
    return CTL_OK;
}

/* GET @path and print the object it names: FIELD VALUE rows, or the document. */
static int show_object(struct ctl *c, const char *path)
{
    json_t *out = NULL;
    int rc = ctl_call(c, "GET", path, NULL, &out);

    if (rc == CTL_OK)
        rc = as_doc(c) ? output_doc(c, out) : fields_table(c, out);
    json_decref(out);
    return rc;
}

/* DELETE @path; say @done, or {} in json and yaml. */
static int delete_item(struct ctl *c, const char *path, const char *done)
{
    json_t *out = NULL;
    int rc = ctl_call(c, "DELETE", path, NULL, &out);

    json_decref(out);
    if (rc == CTL_OK && output_machine(c))
        return done_doc(c);
    if (rc == CTL_OK)
        puts(done);
    return rc;
}

static int snapshot_create(struct ctl *c, int argc, char **argv)
{
    char path[256];
    json_t *body, *out = NULL;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = alloc_path(argc, argv, 1, false, path, sizeof(path) - 16)) != CTL_OK ||
        (rc = check_name(argv[optind + 3], "snapshot")) != CTL_OK)
        return rc;
    strcat(path, "/snapshots");
    body = json_pack("{s:s}", "name", argv[optind + 3]);
    rc = ctl_call(c, "POST", path, body, &out);
    if (rc == CTL_OK && as_doc(c))
        rc = output_doc(c, out);
    else if (rc == CTL_OK)
        printf("snapshot %s of %s %s/%s taken\n", argv[optind + 3], argv[optind + 1], argv[optind],
               argv[optind + 2]);
    json_decref(body);
    json_decref(out);
    return rc;
}

static int snapshot_list(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"NAME", "CREATED", "SIZE"};
    char path[256];
    json_t *out = NULL, *s;
    size_t i;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = alloc_path(argc, argv, 0, false, path, sizeof(path) - 16)) != CTL_OK)
        return rc;
    strcat(path, "/snapshots");
    rc = ctl_call(c, "GET", path, NULL, &out);
    const json_t *items = json_is_array(out) ? out : json_object_get(out, "items");
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, items);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 3);
        json_array_foreach(items, i, s)
        {
            char when[64], b[KAIROS_SIZE_STR_MAX];
            const char *cells[] = {json_string_value(json_object_get(s, "name")),
                                   ctl_time(json_object_get(s, "created_ms"), when, sizeof(when)),
                                   ctl_size(json_object_get(s, "size"), b, sizeof(b))};
            double keys[] = {NAN, num(json_object_get(s, "created_ms")),
                             num(json_object_get(s, "size"))};
            table_add(t, cells, keys);
        }
        rc = output_table(c, t);
        table_free(t);
    }
    json_decref(out);
    return rc;
}

static int snapshot_delete(struct ctl *c, int argc, char **argv)
{
    char path[256], done[256];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = item_path(argc, argv, false, "snapshots", "snapshot", path, sizeof(path))) != CTL_OK)
        return rc;
    snprintf(done, sizeof(done), "snapshot %s of %s %s/%s deleted", argv[optind + 3],
             argv[optind + 1], argv[optind], argv[optind + 2]);
    return delete_item(c, path, done);
}

/* ---- bindings ---- */

static int binding_create(struct ctl *c, int argc, char **argv)
{
    static const struct option extra[] = {{"read-only", no_argument, NULL, 'r'}};
    struct alloc_opts o = {0};
    char path[256];
    json_t *body, *out = NULL;
    int rc;

    PARSE(extra, 1, on_alloc, &o);
    if ((rc = alloc_path(argc, argv, 1, true, path, sizeof(path) - 16)) != CTL_OK ||
        (rc = check_name(argv[optind + 3], "binding")) != CTL_OK)
        return rc;
    strcat(path, "/bindings");
    body = json_pack("{s:s}", "id", argv[optind + 3]);
    if (o.read_only)
        json_object_set_new(body, "read_only", json_true());
    rc = ctl_call(c, "POST", path, body, &out);
    /* The credentials are the point: JSON on stdout whatever the format but yaml. */
    if (rc == CTL_OK && c->format == CTL_FORMAT_YAML) {
        rc = output_doc(c, out);
    } else if (rc == CTL_OK) {
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!output_machine(c))
            fprintf(stderr, "binding %s of %s %s/%s: its credentials (shown once):\n",
                    argv[optind + 3], argv[optind + 1], argv[optind], argv[optind + 2]);
        if (s)
            puts(s);
        free(s);
    }
    json_decref(body);
    json_decref(out);
    return rc;
}

static int binding_list(struct ctl *c, int argc, char **argv)
{
    static const char *const header[] = {"ID", "READ_ONLY"};
    char path[256];
    json_t *all, *b;
    size_t i;
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = alloc_path(argc, argv, 0, true, path, sizeof(path) - 32)) != CTL_OK)
        return rc;
    strcat(path, "/bindings?limit=1000");
    all = json_array();
    rc = fetch_all(c, path, all);
    if (rc == CTL_OK && output_machine(c)) {
        rc = output_doc(c, all);
    } else if (rc == CTL_OK) {
        struct table *t = table_new(header, 2);
        json_array_foreach(all, i, b)
        {
            const char *cells[] = {json_string_value(json_object_get(b, "id")),
                                   json_is_true(json_object_get(b, "read_only")) ? "yes" : "no"};
            table_add(t, cells, NULL);
        }
        rc = output_table(c, t);
        table_free(t);
    }
    json_decref(all);
    return rc;
}

static int binding_show(struct ctl *c, int argc, char **argv)
{
    char path[256];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = item_path(argc, argv, true, "bindings", "binding", path, sizeof(path))) != CTL_OK)
        return rc;
    return show_object(c, path);
}

static int binding_delete(struct ctl *c, int argc, char **argv)
{
    char path[256], done[256];
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = item_path(argc, argv, true, "bindings", "binding", path, sizeof(path))) != CTL_OK)
        return rc;
    snprintf(done, sizeof(done), "binding %s of %s %s/%s deleted: its key no longer works",
             argv[optind + 3], argv[optind + 1], argv[optind], argv[optind + 2]);
    return delete_item(c, path, done);
}

/* ---- operations, cluster ---- */

static int operation_show(struct ctl *c, int argc, char **argv)
{
    struct alloc_opts o = {0};
    char path[256];
    int rc;

    PARSE(alloc_options + 5, 1, on_alloc, &o);
    if ((rc = positional(argc, argv, 1, self)) != CTL_OK)
        return rc;
    if (!*argv[optind] || strlen(argv[optind]) > 64 ||
        strspn(argv[optind], "0123456789abcdefghijklmnopqrstuvwxyz-") != strlen(argv[optind]))
        return ctl_fail(CTL_BAD_INPUT, "bad operation id '%s'", argv[optind]);
    if (o.wait)
        return wait_operation(c, argv[optind]);
    snprintf(path, sizeof(path), "/v1/operations/%s", argv[optind]);
    return show_object(c, path);
}

static int cluster(struct ctl *c, int argc, char **argv)
{
    int rc;

    PARSE(NULL, 0, NULL, NULL);
    if ((rc = positional(argc, argv, 0, self)) != CTL_OK)
        return rc;
    return show_object(c, "/v1/cluster");
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
    {"volumes", NULL, "PROJECT", "A project's volumes (volume list).", allocations},
    {"shares", NULL, "PROJECT", "A project's shares (share list).", allocations},
    {"buckets", NULL, "PROJECT", "A project's buckets (bucket list).", allocations},
#define ALLOC_COMMANDS(kind, extra_create)                                                         \
    {kind, "create", "PROJECT NAME --size SIZE" extra_create " [--wait]",                          \
     "Create a " kind " of SIZE (500G, 10T, 1.5PiB; a bare number is bytes, as in\n"               \
     "the API). A clone (--from) is made in the background: --wait follows it.",                   \
     alloc_create},                                                                                \
        {kind, "resize", "PROJECT NAME SIZE [--shrink]",                                           \
         "Grow to SIZE; smaller needs --shrink (buckets keep their size).", alloc_resize},         \
        {kind, "delete", "PROJECT NAME [--force] [--wait]",                                        \
         "Delete; refused while bound unless --force.", alloc_delete},                             \
        {kind, "show", "PROJECT NAME", "One " kind ": size, use, state and more.", alloc_show},    \
    {                                                                                              \
        kind, "list", "PROJECT", "A project's " kind "s.", alloc_list                              \
    }
    ALLOC_COMMANDS("volume", " | --from VOLUME@SNAPSHOT [--from-project P]"),
    ALLOC_COMMANDS("share", " [--max-files N] | --from SHARE@SNAPSHOT [--from-project P]"),
    ALLOC_COMMANDS("bucket", " [--max-objects N]"),
    {"volume", "flatten", "PROJECT NAME [--wait]",
     "Copy a clone's data from its parent, so it no longer depends on it.", volume_flatten},
    {"snapshot", "create", "PROJECT volume|share NAME SNAPSHOT",
     "Take a snapshot of a volume or share.", snapshot_create},
    {"snapshot", "list", "PROJECT volume|share NAME", "Its snapshots.", snapshot_list},
    {"snapshot", "delete", "PROJECT volume|share NAME SNAPSHOT",
     "Delete a snapshot; refused while a clone depends on it.", snapshot_delete},
    {"binding", "create", "PROJECT volume|share|bucket NAME ID [--read-only]",
     "Make credentials (a cephx or S3 key) that reach this one allocation;\n"
     "printed once, as JSON.",
     binding_create},
    {"binding", "list", "PROJECT volume|share|bucket NAME", "Its bindings.", binding_list},
    {"binding", "show", "PROJECT volume|share|bucket NAME ID", "One binding (never its key).",
     binding_show},
    {"binding", "delete", "PROJECT volume|share|bucket NAME ID",
     "Unbind: the key stops working and its connected clients are cut off.", binding_delete},
    {"operation", "show", "ID [--wait]",
     "An asynchronous operation (a clone, a delete, a flatten); --wait\n"
     "follows it to its end.",
     operation_show},
    {"cluster", NULL, "", "Where clients find the cluster: fsid, monitors, pools.", cluster},
    {"token", "create", "PROJECT [--description TEXT]",
     "Make a token that reaches PROJECT only; printed once. TEXT (up to 128\n"
     "characters) says what it is for.",
     token_create},
    {"token", "list", "PROJECT", "PROJECT's tokens: id, creation time, description.", token_list},
    {"token", "revoke", "PROJECT ID", "Revoke a token (refused everywhere within 5 s).",
     token_revoke},
    {"audit", "trim", "",
     "Remove the audit log's days older than [audit] max_age now (the\n"
     "reconciler also does, on each pass). Admin token only.",
     audit_trim},
    {"audit", NULL, "[--project P] [--since T] [--limit N]",
     "Who changed what, when, and the answer: oldest first, the newest N\n"
     "(default 100, at most 1000), or the first N from T on. T is an ISO 8601\n"
     "time (2026-12-05, 2026-12-05T04:00:00Z) or an age (90m, 1h, 2d). A\n"
     "project token sees its own project's entries only.",
     audit_list},
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
