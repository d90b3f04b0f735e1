/*
 * test_outage.c - Ceph daemons going away under a running kairosd, on the
 * shared local cluster: radosgw and the MDS stopped (scripts/minicluster
 * stop-daemon), the mgr stopped, the OSD paused with SIGSTOP, the cluster
 * full. Requests that need the missing daemon, in flight when it goes
 * (held at a fault point until then) or new, answer 503 with Retry-After
 * within their deadline, on a full cluster 422, and leave nothing behind;
 * the others work on; after the daemon (or space) returns the same requests
 * succeed without restarting kairosd, and the ledger matches.
 *
 * Every daemon is restored in the group teardown, and a guardian process
 * resumes the OSD even if this test dies, as other tests share the cluster.
 */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <kairos/kairos.h>

#include "kd.h"

static struct kd KD;
static char P[64];       /* this run's project */
static char OSB_P[80];   /* the project of its OSB namespace */
static char DIR_[256];   /* the cluster's directory */
static pid_t OSD = -1;   /* the OSD, while this test holds it stopped */
static pid_t GUARD = -1; /* resumes the OSD if this process dies */
/*
 * Files that hold a create in kairosd (KAIROS_FAULT hold, set for this
 * kairosd only) while they exist, so that it is in flight when a daemon
 * stops: a share or a bucket create at its "reserved" point (past its
 * reservation, before any backend call), a share create at
 * "share.create.mounted" (also past the check that an MDS is active).
 */
static char HOLD_SHARE[300], HOLD_MOUNTED[300], HOLD_BUCKET[300];

/*
 * The longest a request may take while a daemon is away: the cluster's
 * [ceph] timeout (15 s in the minicluster's kairos.conf) or [rgw] timeout
 * (15 s), with room for a loaded 2-core machine.
 */
#define DEADLINE_S 25

/*
 * This kairosd's [server] request_timeout: below the cluster's [ceph]
 * timeout (15 s), so that a 503 before PAUSE_S is the deadline's, and high
 * enough that a create on a loaded 2-core machine fits in it.
 */
#define REQUEST_TIMEOUT_S 8
/* What kairosd logs of a request answered 503 at its deadline, when its handler ends. */
#define LATE "late=answered-503-at-deadline"
/* What kairosd logs of a change whose audit entry the cluster did not take. */
#define UNRECORDED "audit: not recorded"
#define STR_(x)    #x
#define STR(x)     STR_(x)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* scripts/minicluster @verb DIR @daemon; fail the test unless it succeeds. */
static void minicluster(const char *verb, const char *daemon)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "%s %s %s %s", MINICLUSTER, verb, DIR_, daemon);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

static void resume_osd(void)
{
    if (OSD > 0) {
        kill(OSD, SIGCONT);
        OSD = -1;
    }
    if (GUARD > 0) {
        kill(GUARD, SIGKILL);
        waitpid(GUARD, NULL, 0);
        GUARD = -1;
    }
}

/* The cluster's full ratios while cluster_full() has lowered them ("" otherwise). */
static char RATIOS[3][32];
static const char *const RATIO_CMDS[3] = {"set-full-ratio", "set-backfillfull-ratio",
                                          "set-nearfull-ratio"};

/* ceph -c DIR/ceph.conf @args (quiet); its exit status. */
static int ceph(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ceph(const char *fmt, ...)
{
    char cmd[512], args[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "timeout 60 ceph -c %s/ceph.conf %s >/dev/null 2>&1", DIR_, args);
    return system(cmd);
}

/* Put the full ratios back as they were (highest first, so they stay in order). */
static void restore_ratios(void)
{
    for (int i = 0; i < 3; i++) {
        if (RATIOS[i][0] && ceph("osd %s %s", RATIO_CMDS[i], RATIOS[i]) != 0)
            fprintf(stderr, "WARNING: cannot restore osd %s %s\n", RATIO_CMDS[i], RATIOS[i]);
        RATIOS[i][0] = '\0';
    }
}

/* Bring every daemon back (idempotent: start-daemon leaves a running one). */
static void restore_all(void)
{
    char cmd[512];

    restore_ratios();
    resume_osd();
    for (const char *const *d = (const char *const[]){"radosgw", "mds.a", "mgr.x", NULL}; *d; d++) {
        snprintf(cmd, sizeof(cmd), "%s start-daemon %s %s >/dev/null", MINICLUSTER, DIR_, *d);
        if (system(cmd) != 0)
            fprintf(stderr, "WARNING: '%s' failed\n", cmd);
    }
}

/* The REST path of @kind (volumes, shares, buckets) in P. */
static long create(const char *kind, const char *name, const char *size, struct kd_reply *r)
{
    char path[256], body[128];

    snprintf(path, sizeof(path), "/v1/projects/%s/%s", P, kind);
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"size\":\"%s\"}", name, size);
    kd_request(&KD, "POST", path, KD_ADMIN, NULL, NULL, body, r);
    return r->status;
}

/* @r is a 503 with a Retry-After of whole seconds and an error body; free it. */
static void assert_unavailable(struct kd_reply *r, double took, const char *what)
{
    char *dump = r->body ? json_dumps(r->body, 0) : NULL;

    fprintf(stderr, "%s: %ld in %.1f s, Retry-After '%s': %s\n", what, r->status, took, r->retry,
            dump ? dump : "(no body)");
    free(dump);
    if (r->status != 503)
        fail_msg("%s answered %ld, not 503", what, r->status);
    assert_true(took < DEADLINE_S);
    assert_true(r->retry[0] >= '1' && r->retry[0] <= '9');
    assert_string_equal(r->retry + strspn(r->retry, "0123456789"), "");
    assert_non_null(json_string_value(json_object_get(r->body, "error")));
    /* The deadline's answer carries the request's id, as every answer does. */
    assert_int_equal(strlen(r->request_id), 32);
    json_decref(r->body);
    r->body = NULL;
}

/* The ledger of @project: no open intent, every counter the sum of its records. */
static void assert_ledger(struct kairos *k, const char *project)
{
    struct kairos_audit a;
    struct kairos_error err = {0};

    if (kairos_ledger_audit(k, project, &a, &err) < 0)
        fail_msg("audit of %s: %s", project, err.msg);
    if (a.pending || !a.consistent)
        fail_msg("ledger of %s: %llu open intents, counters %s", project,
                 (unsigned long long)a.pending, a.consistent ? "right" : "wrong");
}

/* Does @project have an allocation @kind/@name in the ledger? */
static bool recorded(struct kairos *k, const char *project, enum kairos_kind kind, const char *name)
{
    struct kairos_alloc a;
    struct kairos_error err = {0};
    int rc = kairos_ledger_get(k, project, kind, name, &a, &err);

    if (rc == 0)
        kairos_alloc_clear(&a);
    else if (rc != -ENOENT)
        fail_msg("ledger get %s: %s", name, err.msg);
    return rc == 0;
}

static struct kairos_config *CFG;
static struct kairos *K;

/*
 * kd_start() on a copy of the cluster's config (@conf) whose [reconcile]
 * section also has a short lease, so that the reconciler settles within
 * seconds what a request cut short by the paused OSD left open (with the
 * default 5 min lease the same create answers 503 until then).
 */
static void kd_start_with_lease(const char *conf)
{
    char copy[320], line[1024];
    FILE *in = fopen(conf, "r"), *out;

    snprintf(copy, sizeof(copy), "%s/outage-%d.conf", DIR_, (int)getpid());
    out = fopen(copy, "w");
    if (!in || !out)
        fail_msg("cannot copy %s to %s", conf, copy);
    while (fgets(line, sizeof(line), in)) {
        fputs(line, out);
        if (strncmp(line, "[reconcile]", 11) == 0)
            fputs("lease = 10s\ninterval = 2s\n", out);
    }
    fclose(in);
    if (fclose(out) != 0 || setenv("KAIROS_CONF", copy, 1) != 0)
        fail_msg("cannot write %s", copy);
    kd_start_conf(&KD, KAIROSD_BINARY, "request_timeout = " STR(REQUEST_TIMEOUT_S) "s", NULL);
    setenv("KAIROS_CONF", conf, 1);
    unlink(copy);
}

static int setup(void **state)
{
    struct kairos_error err = {0};
    const char *env = getenv("KAIROS_CONF");
    char body[256], copy[256], conf[256], spec[1024];

    (void)state;
    if (!env)
        fail_msg("no local cluster: KAIROS_CONF is not set (run through ctest -L integration)");
    snprintf(conf, sizeof(conf), "%s", env);
    snprintf(copy, sizeof(copy), "%s", conf);
    snprintf(DIR_, sizeof(DIR_), "%s", dirname(copy));
    if (kairos_config_load(conf, &CFG, &err) < 0 || kairos_open(CFG, &K, &err) < 0)
        fail_msg("cannot open the cluster of %s: %s", conf, err.msg);
    snprintf(HOLD_SHARE, sizeof(HOLD_SHARE), "%s/hold-share-%d", DIR_, (int)getpid());
    snprintf(HOLD_BUCKET, sizeof(HOLD_BUCKET), "%s/hold-bucket-%d", DIR_, (int)getpid());
    snprintf(HOLD_MOUNTED, sizeof(HOLD_MOUNTED), "%s/hold-mounted-%d", DIR_, (int)getpid());
    snprintf(spec, sizeof(spec),
             "share.create.reserved=hold:%s,share.create.mounted=hold:%s,"
             "bucket.create.reserved=hold:%s",
             HOLD_SHARE, HOLD_MOUNTED, HOLD_BUCKET);
    /* For kairosd only: it holds a create there while the test keeps the file. */
    if (setenv("KAIROS_FAULT", spec, 1) != 0)
        fail_msg("cannot set KAIROS_FAULT");
    /*
     * A short lease, so that the reconciler settles within seconds what a
     * request cut short by the paused OSD left open (by default a lease is
     * 5 min, and the same create answers 503 until then).
     */
    kd_start_with_lease(conf);
    unsetenv("KAIROS_FAULT");
    snprintf(P, sizeof(P), "outage-%x", (unsigned)getpid());
    snprintf(OSB_P, sizeof(OSB_P), "k8s-%s-osb", P);
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"quota\":{\"volume\":{\"bytes\":\"256M\",\"count\":8},"
             "\"share\":{\"bytes\":\"64M\"},\"bucket\":{\"bytes\":\"64M\"}}}",
             P);
    assert_int_equal(kd_call(&KD, "POST", "/v1/projects", KD_ADMIN, NULL, body, NULL), 201);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(HOLD_SHARE);
    unlink(HOLD_MOUNTED);
    unlink(HOLD_BUCKET);
    restore_all();
    kd_delete_project(&KD, P);
    kd_delete_project(&KD, OSB_P);
    assert_int_equal(kd_stop(&KD), 0);
    kairos_close(K);
    kairos_config_free(CFG);
    return 0;
}

static enum kairos_kind kind_of(const char *kind)
{
    return strcmp(kind, "volumes") == 0  ? KAIROS_VOLUME
           : strcmp(kind, "shares") == 0 ? KAIROS_SHARE
                                         : KAIROS_BUCKET;
}

/* A request on a thread of its own, so the test sees one that does not end. */
struct call {
    const char *method;
    bool osb; /* as the OSB platform, else as the admin */
    char path[256];
    char body[256];
    struct kd_reply r;
    double took, ended; /* how long it took; when it ended (now_s()) */
    pthread_t thread;
};

static void *run_call(void *arg)
{
    struct call *c = arg;
    double t = now_s();

    kd_request(&KD, c->method, c->path, c->osb ? KD_OSB : KD_ADMIN, NULL, NULL,
               c->body[0] ? c->body : NULL, &c->r);
    c->ended = now_s();
    c->took = c->ended - t;
    return NULL;
}

static void start_create(struct call *c, const char *kind, const char *name, const char *size)
{
    memset(c, 0, sizeof(*c));
    c->method = "POST";
    snprintf(c->path, sizeof(c->path), "/v1/projects/%s/%s", P, kind);
    snprintf(c->body, sizeof(c->body), "{\"name\":\"%s\",\"size\":\"%s\"}", name, size);
    assert_int_equal(pthread_create(&c->thread, NULL, run_call, c), 0);
}

/* Has @c ended within DEADLINE_S of @since? Then it is joined; otherwise the caller joins it. */
static bool finished_in_time(struct call *c, double since)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(since + DEADLINE_S - now_s()) + 1;
    if (pthread_timedjoin_np(c->thread, NULL, &until) == 0)
        return true;
    return false;
}

/* Has the ledger of P an open intent on @kind/@name? */
static bool intent_open(enum kairos_kind kind, const char *name)
{
    struct kairos_alloc a;
    struct kairos_error err = {0};
    bool open = false;

    if (kairos_ledger_get(K, P, kind, name, &a, &err) == 0) {
        open = a.pending;
        kairos_alloc_clear(&a);
    }
    return open;
}

/* Start a create of @kind/@name held by the file @hold; return once its intent is open. */
static void start_held(struct call *c, const char *hold, const char *kind, const char *name)
{
    FILE *f = fopen(hold, "w");

    if (!f || fclose(f) != 0)
        fail_msg("cannot create %s", hold);
    start_create(c, kind, name, "8M");
    for (int tries = 0; tries < 300; tries++) {
        if (intent_open(kind_of(kind), name))
            return;
        usleep(100 * 1000);
    }
    unlink(hold);
    pthread_join(c->thread, NULL);
    fail_msg("no open intent for the held %s create %s after 30 s (answered %ld)", kind, name,
             c->r.status);
}

/* Let the held @c run on; fail if it was answered before (the deadline ran out while held). */
static double release_held(struct call *c, const char *hold, const char *what)
{
    if (pthread_tryjoin_np(c->thread, NULL) == 0)
        fail_msg("%s answered %ld while still held, before the daemon stopped", what, c->r.status);
    unlink(hold);
    return now_s();
}

/* radosgw stopped: buckets answer 503 and leave nothing; volumes work on. */
static void radosgw_stopped(void **state)
{
    struct call held;
    struct kd_reply r = {0};
    char iid[64], path[256], body[512];
    double t;

    (void)state;
    /* In flight: reserved before radosgw stops, its radosgw work after. */
    start_held(&held, HOLD_BUCKET, "buckets", "held-bucket");
    minicluster("stop-daemon", "radosgw");
    t = release_held(&held, HOLD_BUCKET, "held bucket create");
    if (!finished_in_time(&held, t)) {
        minicluster("start-daemon", "radosgw");
        pthread_join(held.thread, NULL);
        fail_msg("held bucket create unanswered %d s after radosgw stopped", DEADLINE_S);
    }
    assert_unavailable(&held.r, held.ended - t, "held bucket create, radosgw stopped");
    /* Its reservation is rolled back: no record, no open intent. */
    for (int tries = 0; tries < 30 && recorded(K, P, KAIROS_BUCKET, "held-bucket"); tries++)
        sleep(1);
    assert_false(recorded(K, P, KAIROS_BUCKET, "held-bucket"));
    assert_ledger(K, P);

    t = now_s();
    create("buckets", "logs", "8M", &r);
    assert_unavailable(&r, now_s() - t, "bucket create, radosgw stopped");
    assert_false(recorded(K, P, KAIROS_BUCKET, "logs"));

    /* OSB: a synchronous bucket provision in a namespace of its own. */
    snprintf(iid, sizeof(iid), "0a7e%04x-7c3e-4b2a-9d1e-000000000001", (unsigned)getpid() & 0xffff);
    snprintf(path, sizeof(path), "/v2/service_instances/%s", iid);
    snprintf(body, sizeof(body),
             "{\"service_id\":\"kairos-bucket\",\"plan_id\":\"kairos-bucket-small\","
             "\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"%s-osb\"},"
             "\"organization_guid\":\"o\",\"space_guid\":\"s\",\"parameters\":{\"size\":\"8M\"}}",
             P);
    t = now_s();
    kd_request(&KD, "PUT", path, KD_OSB, NULL, NULL, body, &r);
    assert_unavailable(&r, now_s() - t, "OSB bucket provision, radosgw stopped");
    /* Nothing of the instance stays: a fetch says it does not exist. */
    kd_request(&KD, "GET", path, KD_OSB, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    json_decref(r.body);
    assert_false(recorded(K, OSB_P, KAIROS_BUCKET, iid));

    /* Volumes do not need radosgw. */
    assert_int_equal(create("volumes", "vol-rgw", "8M", &r), 201);
    json_decref(r.body);
    assert_ledger(K, P);

    minicluster("start-daemon", "radosgw");
    /* The same kairosd, the same bucket: made now, and recorded committed. */
    if (create("buckets", "logs", "8M", &r) != 201)
        fail_msg("bucket create after radosgw returned: %ld", r.status);
    json_decref(r.body);
    assert_true(recorded(K, P, KAIROS_BUCKET, "logs"));
    if (create("buckets", "held-bucket", "8M", &r) != 201)
        fail_msg("held bucket create again after radosgw returned: %ld", r.status);
    json_decref(r.body);
    assert_true(recorded(K, P, KAIROS_BUCKET, "held-bucket"));
    kd_request(&KD, "PUT", path, KD_OSB, NULL, NULL, body, &r);
    assert_int_equal(r.status, 201);
    json_decref(r.body);
    assert_true(recorded(K, OSB_P, KAIROS_BUCKET, iid));
    assert_ledger(K, P);
    assert_ledger(K, OSB_P);
}

/*
 * Wait (up to 90 s) until no intent is open on the share @name of P, then
 * check that it is whole or absent: committed with its directory and a
 * quota of its recorded size, or neither record nor directory. True when
 * committed.
 */
static bool share_settled(const char *name)
{
    struct kairos_share_info info;
    struct kairos_error err = {0};
    struct kairos_alloc a;
    int rc;

    for (int tries = 0; tries < 90 && intent_open(KAIROS_SHARE, name); tries++)
        sleep(1);
    if (intent_open(KAIROS_SHARE, name))
        fail_msg("the intent on share %s is still open 90 s after the MDS returned", name);
    rc = kairos_ledger_get(K, P, KAIROS_SHARE, name, &a, &err);
    if (rc < 0 && rc != -ENOENT)
        fail_msg("ledger get %s: %s", name, err.msg);
    if (rc == 0) {
        if (kairos_share_info(K, P, name, &info, &err) < 0)
            fail_msg("share %s committed without its directory: %s", name, err.msg);
        if (info.size != a.bytes || a.bytes != 8u << 20)
            fail_msg("share %s: quota %llu, recorded %llu, asked 8M", name,
                     (unsigned long long)info.size, (unsigned long long)a.bytes);
        kairos_alloc_clear(&a);
        return true;
    }
    rc = kairos_share_info(K, P, name, &info, &err);
    if (rc != -ENOENT)
        fail_msg("share %s has no record but its directory answers %d (%s)", name, rc, err.msg);
    return false;
}

/* A command run on a thread of its own, so the test acts while it runs. */
struct bg_cmd {
    char cmd[512];
    int rc;
    pthread_t thread;
};

static void *run_bg_cmd(void *arg)
{
    struct bg_cmd *b = arg;

    b->rc = system(b->cmd);
    return NULL;
}

/* Do the monitors say (in a 'fs dump' that worked) that no MDS is active? */
static bool mds_down(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "out=$(timeout 30 ceph -c %s/ceph.conf fs dump 2>/dev/null) && "
             "! printf '%%s' \"$out\" | grep -q up:active",
             DIR_);
    return system(cmd) == 0;
}

/*
 * The MDS stopped with share creates in flight and a new one coming. In
 * flight: one reserved but not yet past the check that an MDS is active,
 * one past it, whose next CephFS call waits for the MDS (libcephfs does
 * not time out). Each answers 503 with Retry-After within the deadline;
 * the new one leaves no record; volumes work on. Once the MDS is back each
 * one in flight ends whole or not at all, and every create succeeds.
 */
static void mds_stopped(void **state)
{
    /* Held past the check first: while HOLD_SHARE exists every share create stops before it. */
    static const char *const names[] = {"flight-share", "held-share"};
    const char *holds[] = {HOLD_MOUNTED, HOLD_SHARE};
    struct call c, held[2];
    struct bg_cmd stop = {0};
    struct kd_reply r = {0};
    double t, released[2], took[2] = {0, 0};
    bool in_time, held_in_time[2];
    long st = 0;

    (void)state;
    /* A share made first, so kairosd's CephFS mount is up when the MDS leaves. */
    assert_int_equal(create("shares", "before-mds", "8M", &r), 201);
    json_decref(r.body);
    for (int i = 0; i < 2; i++)
        start_held(&held[i], holds[i], "shares", names[i]);
    /*
     * Released as soon as the monitors see the MDS gone: stop-daemon waits
     * 5 s for it to exit, and a create held longer than its fence (half
     * the 10 s lease) or its deadline would end before its CephFS work.
     */
    snprintf(stop.cmd, sizeof(stop.cmd), "%s stop-daemon %s mds.a >/dev/null", MINICLUSTER, DIR_);
    assert_int_equal(pthread_create(&stop.thread, NULL, run_bg_cmd, &stop), 0);
    for (int tries = 0; tries < 300 && !mds_down(); tries++)
        usleep(100 * 1000);
    for (int i = 0; i < 2; i++)
        released[i] = release_held(&held[i], holds[i], names[i]);
    pthread_join(stop.thread, NULL);
    if (stop.rc != 0)
        fail_msg("'%s' failed", stop.cmd);
    t = now_s();
    start_create(&c, "shares", "home", "8M");
    for (int i = 0; i < 2; i++)
        if ((held_in_time[i] = finished_in_time(&held[i], released[i])))
            took[i] = held[i].ended - released[i];
    in_time = finished_in_time(&c, t);
    if (!in_time || !held_in_time[0] || !held_in_time[1]) {
        /* Let them end before failing: the threads write into c and held. */
        minicluster("start-daemon", "mds.a");
        if (!in_time)
            pthread_join(c.thread, NULL);
        for (int i = 0; i < 2; i++)
            if (!held_in_time[i])
                pthread_join(held[i].thread, NULL);
        fail_msg("a share create still unanswered %d s after the MDS stopped (after it "
                 "returned: %s %ld, %s %ld, home %ld)",
                 DEADLINE_S, names[0], held[0].r.status, names[1], held[1].r.status, c.r.status);
    }
    /* Past the check, the create waits in libcephfs: cut at its deadline, not refused. */
    assert_non_null(strstr(json_string_value(json_object_get(held[0].r.body, "description")) ?: "",
                           "did not answer within"));
    for (int i = 0; i < 2; i++)
        assert_unavailable(&held[i].r, took[i], names[i]);
    assert_unavailable(&c.r, c.took, "share create, MDS stopped");
    assert_false(recorded(K, P, KAIROS_SHARE, "home"));
    assert_int_equal(create("volumes", "vol-mds", "8M", &r), 201);
    json_decref(r.body);
    minicluster("start-daemon", "mds.a");
    if (create("shares", "home", "8M", &r) != 201)
        fail_msg("share create after the MDS returned: %ld", r.status);
    json_decref(r.body);
    assert_true(recorded(K, P, KAIROS_SHARE, "home"));

    /* Those in flight ran on: whole or nothing once settled, then the same create succeeds. */
    t = now_s();
    for (int i = 0; i < 2; i++) {
        bool committed = share_settled(names[i]);

        fprintf(stderr, "%s settled %s %.1f s after the MDS returned\n", names[i],
                committed ? "committed" : "rolled back", now_s() - t);
        for (int tries = 0; tries < 30; tries++) {
            st = create("shares", names[i], "8M", &r);
            json_decref(r.body);
            if (st != 503)
                break;
            sleep(1);
        }
        if (st != 201 && st != 200)
            fail_msg("%s create again after the MDS returned: %ld", names[i], st);
        assert_true(share_settled(names[i]));
    }
    assert_ledger(K, P);
}

/*
 * The mgr stopped: kairosd sends it nothing (no mgr commands; "df" is a mon
 * command answered from the last digest the mgr sent), so capacity, volumes,
 * shares and buckets all work on.
 */
static void mgr_stopped(void **state)
{
    struct kd_reply r = {0};

    (void)state;
    minicluster("stop-daemon", "mgr.x");
    kd_request(&KD, "GET", "/v1/capacity", KD_ADMIN, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    assert_int_equal(create("volumes", "vol-mgr", "8M", &r), 201);
    json_decref(r.body);
    assert_int_equal(create("shares", "share-mgr", "8M", &r), 201);
    json_decref(r.body);
    assert_int_equal(create("buckets", "bucket-mgr", "8M", &r), 201);
    json_decref(r.body);
    minicluster("start-daemon", "mgr.x");
    assert_ledger(K, P);
}

/* The OSD's pid, from the cluster's run/osd.0.pid. */
static pid_t osd_pid(void)
{
    char f[320];
    FILE *fp;
    int pid = -1;

    snprintf(f, sizeof(f), "%s/run/osd.0.pid", DIR_);
    fp = fopen(f, "r");
    if (!fp || fscanf(fp, "%d", &pid) != 1 || pid <= 1)
        fail_msg("no OSD pid in %s", f);
    fclose(fp);
    return pid;
}

/* Stop the OSD; a guardian child resumes it after @max_s even if this process dies. */
static void pause_osd(unsigned max_s)
{
    pid_t osd = osd_pid();

    GUARD = fork();
    assert_true(GUARD >= 0);
    if (GUARD == 0) {
        /* Outlive a killed parent: sleep, then resume the OSD whatever happened. */
        sleep(max_s);
        kill(osd, SIGCONT);
        _exit(0);
    }
    OSD = osd;
    assert_int_equal(kill(osd, SIGSTOP), 0);
}

/* How long the OSD stays paused: past the cluster's 15 s [ceph] timeout and the deadline. */
#define PAUSE_S 20

/* Wait for @c until @until (monotonic seconds); true when it ended (then joined). */
static bool ended_by(struct call *c, double until)
{
    struct timespec ts;
    double left = until - now_s();

    clock_gettime(CLOCK_REALTIME, &ts);
    if (left > 0) {
        ts.tv_sec += (time_t)left;
        ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
    }
    return pthread_timedjoin_np(c->thread, NULL, &ts) == 0;
}

/* Lines of this kairosd's log that hold both @a and @b. */
static int log_count_both(const char *a, const char *b)
{
    char line[1024];
    FILE *f = fopen(KD.log, "r");
    int n = 0;

    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, a) && strstr(line, b);
    if (f)
        fclose(f);
    return n;
}

/* Lines of this kairosd's log that hold @what. */
static int log_count(const char *what)
{
    return log_count_both(what, what);
}

/*
 * Audit entries of P since @since_ms for a POST that creates one of the
 * @n names of @reqs (REST paths /v1/projects/P/KIND).
 */
static int audit_creates(uint64_t since_ms, const char *const *names, size_t n)
{
    struct kairos_audit_query q = {.project = P, .since_ms = since_ms, .limit = 1000};
    struct kairos_audit_entry *e = NULL;
    struct kairos_error err = {0};
    size_t count = 0;
    bool more = false;
    int found = 0;

    assert_int_equal(kairos_audit_read(K, &q, &e, &count, &more, &err), 0);
    assert_false(more);
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < n; j++)
            found += strcmp(e[i].method, "POST") == 0 && strcmp(e[i].name, names[j]) == 0;
    }
    free(e);
    return found;
}

/*
 * The OSD paused (SIGSTOP) for PAUSE_S with creates in flight and new ones
 * coming, and a synchronous OSB provision. Each is answered before the OSD
 * is resumed: 201 if it was done before the pause, else 503 with
 * Retry-After at kairosd's request deadline (REQUEST_TIMEOUT_S, below the
 * [ceph] timeout; without the deadline a create waits for the OSD, as
 * librados times out one step at a time and libcephfs never). The work goes
 * on in kairosd; once the OSD is back the same creates succeed without
 * restarting kairosd (503 meanwhile while what a cut request left open is
 * settled), and the ledger has no open intent and matches.
 */
static void osd_paused(void **state)
{
    static const struct {
        const char *kind, *name;
    } reqs[] = {{"volumes", "fly-vol"}, {"shares", "fly-share"}, {"buckets", "fly-bucket"},
                {"volumes", "new-vol"}, {"shares", "new-share"}, {"buckets", "new-bucket"}};
    enum { N = sizeof(reqs) / sizeof(reqs[0]) };
    struct call c[N + 2];
    struct kd_reply r = {0};
    double paused, resume_at;
    bool ended[N + 2];
    char iid[64], gone[64], osb_body[512], state_[32] = "", cut_ids[N + 2][96];
    int cut = 0, late = 0, late_before = log_count(LATE);
    int creates = N, unrecorded_before = log_count(UNRECORDED);
    uint64_t t0 = (uint64_t)time(NULL) * 1000 - 1000;
    const char *names[N];

    (void)state;
    snprintf(iid, sizeof(iid), "0a7e%04x-7c3e-4b2a-9d1e-000000000002", (unsigned)getpid() & 0xffff);
    snprintf(osb_body, sizeof(osb_body),
             "{\"service_id\":\"kairos-share\",\"plan_id\":\"kairos-share-small\","
             "\"context\":{\"platform\":\"kubernetes\",\"namespace\":\"%s-osb\"},"
             "\"organization_guid\":\"o\",\"space_guid\":\"s\",\"parameters\":{\"size\":\"8M\"}}",
             P);
    /* An instance to deprovision (asynchronously) while the OSD is paused. */
    snprintf(gone, sizeof(gone), "0a7e%04x-7c3e-4b2a-9d1e-000000000003",
             (unsigned)getpid() & 0xffff);
    memset(&c[N + 1], 0, sizeof(c[N + 1]));
    c[N + 1].method = "DELETE";
    c[N + 1].osb = true;
    snprintf(c[N + 1].path, sizeof(c[N + 1].path),
             "/v2/service_instances/%s?service_id=kairos-share&plan_id=kairos-share-small"
             "&accepts_incomplete=true",
             gone);
    snprintf(c[N + 1].body, sizeof(c[N + 1].body), "/v2/service_instances/%s", gone);
    kd_request(&KD, "PUT", c[N + 1].body, KD_OSB, NULL, NULL, osb_body, &r);
    assert_int_equal(r.status, 201);
    json_decref(r.body);
    c[N + 1].body[0] = '\0';
    /* Half in flight when the OSD stops, half sent while it is stopped. */
    for (int i = 0; i < N / 2; i++)
        start_create(&c[i], reqs[i].kind, reqs[i].name, "8M");
    usleep(20 * 1000);
    pause_osd(PAUSE_S + 30);
    paused = now_s();
    resume_at = paused + PAUSE_S;
    sleep(1);
    for (int i = N / 2; i < N; i++)
        start_create(&c[i], reqs[i].kind, reqs[i].name, "8M");
    /* OSB, synchronous: the platform waits on this very request. */
    memset(&c[N], 0, sizeof(c[N]));
    c[N].method = "PUT";
    c[N].osb = true;
    snprintf(c[N].path, sizeof(c[N].path), "/v2/service_instances/%s", iid);
    snprintf(c[N].body, sizeof(c[N].body), "%s", osb_body);
    assert_int_equal(pthread_create(&c[N].thread, NULL, run_call, &c[N]), 0);
    /* OSB, asynchronous: the platform learns the end from last_operation. */
    assert_int_equal(pthread_create(&c[N + 1].thread, NULL, run_call, &c[N + 1]), 0);
    for (int i = 0; i <= N + 1; i++)
        ended[i] = ended_by(&c[i], resume_at - 1);
    resume_osd();
    for (int i = 0; i <= N + 1; i++) {
        const char *what = i < N    ? reqs[i].name
                           : i == N ? "OSB share provision"
                                    : "OSB share deprovision";
        char *d;

        if (!ended[i])
            pthread_join(c[i].thread, NULL);
        if (c[i].r.status != 503) {
            d = c[i].r.body ? json_dumps(c[i].r.body, 0) : NULL;
            fprintf(stderr, "%s: %ld in %.1f s: %s\n", what, c[i].r.status, c[i].took, d ? d : "");
            free(d);
        }
        if (!ended[i])
            fail_msg("%s unanswered while the OSD was paused (%d s; the deadline is %d s)", what,
                     PAUSE_S, REQUEST_TIMEOUT_S);
        /* Sent to a stopped OSD: nothing can have been done. */
        if (i >= N / 2 && c[i].r.status != 503)
            fail_msg("%s sent while the OSD was paused answered %ld, not 503", what, c[i].r.status);
        if (c[i].r.status == 503) {
            snprintf(cut_ids[cut++], sizeof(cut_ids[0]), "request_id=%s ", c[i].r.request_id);
            assert_unavailable(&c[i].r, c[i].took, what);
        } else if (c[i].r.status != 201)
            fail_msg("%s answered %ld", what, c[i].r.status);
        json_decref(c[i].r.body);
    }
    /* Back: every create succeeds (the same names) without restarting kairosd. */
    for (int i = 0; i <= N; i++) {
        long st = 0;

        for (int tries = 0; tries < 60; tries++) {
            if (i < N) {
                st = create(reqs[i].kind, reqs[i].name, "8M", &r);
                creates++;
            } else
                kd_request(&KD, "PUT", c[N].path, KD_OSB, NULL, NULL, osb_body, &r);
            st = r.status;
            json_decref(r.body);
            /* OSB: 422 ConcurrencyError while the cut provision still runs. */
            if (st != 503 && !(i == N && st == 422))
                break;
            sleep(1);
        }
        if (i < N && st != 201)
            fail_msg("%s create %s after the OSD resumed: %ld", reqs[i].kind, reqs[i].name, st);
        /* 200: the cut provision finished by itself; 201: it was undone and made again. */
        if (i == N && st != 200 && st != 201)
            fail_msg("OSB provision after the OSD resumed: %ld", st);
        assert_true(i < N ? recorded(K, P, kind_of(reqs[i].kind), reqs[i].name)
                          : recorded(K, OSB_P, KAIROS_SHARE, iid));
    }
    /*
     * The deprovision again, as a platform does after a 503: 202 with the
     * operation while it still runs, whose last_operation then ends
     * "succeeded", or 410 once it is done; then the instance is gone.
     */
    for (int tries = 0; tries < 60; tries++) {
        kd_request(&KD, "DELETE", c[N + 1].path, KD_OSB, NULL, NULL, NULL, &r);
        if (r.status == 202) {
            char path[512];

            snprintf(path, sizeof(path),
                     "/v2/service_instances/%s/last_operation?service_id=kairos-share"
                     "&plan_id=kairos-share-small&operation=%.64s",
                     gone, json_string_value(json_object_get(r.body, "operation")) ?: "");
            json_decref(r.body);
            for (int i = 0; i < 120; i++) {
                kd_request(&KD, "GET", path, KD_OSB, NULL, NULL, NULL, &r);
                snprintf(state_, sizeof(state_), "%s",
                         json_string_value(json_object_get(r.body, "state")) ?: "");
                json_decref(r.body);
                if (r.status != 200 || strcmp(state_, "in progress") != 0)
                    break;
                sleep(1);
            }
            fprintf(stderr, "deprovision after the OSD resumed: 202, last_operation %ld %s\n",
                    r.status, state_);
            if (r.status != 410 && (r.status != 200 || strcmp(state_, "succeeded") != 0))
                fail_msg("last_operation of the deprovision: %ld '%s'", r.status, state_);
            break;
        }
        json_decref(r.body);
        if (r.status == 410)
            break;
        /* 422 ConcurrencyError: the cut one runs, not yet as an operation. */
        if (r.status != 503 && r.status != 422)
            fail_msg("deprovision after the OSD resumed: %ld", r.status);
        sleep(1);
    }
    kd_request(&KD, "DELETE", c[N + 1].path, KD_OSB, NULL, NULL, NULL, &r);
    json_decref(r.body);
    assert_int_equal(r.status, 410);
    assert_false(recorded(K, OSB_P, KAIROS_SHARE, gone));
    /* Every request cut at its deadline ran on to its end: kairosd logs each late outcome. */
    for (int tries = 0; tries < 60 && (late = log_count(LATE) - late_before) < cut; tries++)
        sleep(1);
    fprintf(stderr, "%d requests cut at the deadline, %d late outcomes logged\n", cut, late);
    assert_int_equal(late, cut);
    /* Each late outcome is logged under the id its 503 was sent with. */
    for (int i = 0; i < cut; i++)
        assert_int_equal(log_count_both(cut_ids[i], LATE), 1);
    /*
     * The audit lost none of them: each create, cut at its deadline or not,
     * is recorded with the outcome its handler reached, or, when the paused
     * OSD would not take the entry either, logged as not recorded (best effort).
     */
    for (int i = 0; i < N; i++)
        names[i] = reqs[i].name;
    fprintf(stderr, "%d creates, %d audited, %d not recorded\n", creates,
            audit_creates(t0, names, N), log_count(UNRECORDED) - unrecorded_before);
    assert_int_equal(audit_creates(t0, names, N) + log_count(UNRECORDED) - unrecorded_before,
                     creates);
    assert_ledger(K, P);
    assert_ledger(K, OSB_P);
}

/*
 * Wait until Ceph pool @pool is flagged full in the OSD map (@want), or
 * not, for up to 60 s. "full" exactly: a pool is flagged "nearfull" and
 * "backfillfull" first.
 */
static void wait_pool_full(const char *pool, bool want)
{
    char cmd[512], line[64];

    snprintf(cmd, sizeof(cmd),
             "timeout 60 ceph -c %s/ceph.conf osd pool ls detail 2>/dev/null | "
             "grep \"^pool [0-9]* '%s' \" | grep -cE 'flags ([^ ]*,)?full(,| )'",
             DIR_, pool);
    for (int tries = 0; tries < 60; tries++) {
        FILE *p = popen(cmd, "r");
        bool full = p && fgets(line, sizeof(line), p) && atoi(line) > 0;

        if (p)
            pclose(p);
        if (full == want)
            return;
        sleep(1);
    }
    fail_msg("pool %s still %s after 60 s", pool, want ? "not full" : "full");
}

/*
 * The cluster full, the way an operator sees it: the full ratios lowered
 * below what the memstore OSD holds (restored after, and in the teardown),
 * so Ceph flags the OSD and every pool full. librados then holds writes
 * (librbd would wait for [ceph] timeout); kairosd refuses new volumes,
 * shares and buckets at once with 422 and a message naming the full pool,
 * makes nothing, and still answers a repeat of what exists. Once the
 * ratios are back the same creates succeed on the same kairosd.
 */
static void cluster_full(void **state)
{
    static const char *const kinds[] = {"volumes", "shares", "buckets"};
    struct kd_reply r = {0};
    char cmd[512];
    FILE *p;

    (void)state;
    assert_int_equal(create("volumes", "before-full", "8M", &r), 201);
    json_decref(r.body);
    snprintf(cmd, sizeof(cmd), "timeout 60 ceph -c %s/ceph.conf osd dump 2>/dev/null", DIR_);
    p = popen(cmd, "r");
    assert_non_null(p);
    for (char line[256]; fgets(line, sizeof(line), p);) {
        double v;

        if (sscanf(line, "full_ratio %lf", &v) == 1)
            snprintf(RATIOS[0], sizeof(RATIOS[0]), "%.4g", v);
        else if (sscanf(line, "backfillfull_ratio %lf", &v) == 1)
            snprintf(RATIOS[1], sizeof(RATIOS[1]), "%.4g", v);
        else if (sscanf(line, "nearfull_ratio %lf", &v) == 1)
            snprintf(RATIOS[2], sizeof(RATIOS[2]), "%.4g", v);
    }
    pclose(p);
    if (!RATIOS[0][0] || !RATIOS[1][0] || !RATIOS[2][0])
        fail_msg("no full ratios in 'ceph osd dump'");
    /* Lowest first, so they stay in order: a few KiB of the 4 GiB OSD is "full". */
    for (int i = 2; i >= 0; i--)
        assert_int_equal(ceph("osd %s 0.00001", RATIO_CMDS[i]), 0);
    wait_pool_full(CFG->pools.block, true);

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char name[32], *d;
        double t = now_s();

        snprintf(name, sizeof(name), "full-%.5s", kinds[i]);
        create(kinds[i], name, "8M", &r);
        d = r.body ? json_dumps(r.body, 0) : NULL;
        fprintf(stderr, "%s create, cluster full: %ld in %.1f s: %s\n", kinds[i], r.status,
                now_s() - t, d ? d : "");
        free(d);
        if (r.status != 422 && r.status != 507)
            fail_msg("%s create on a full cluster answered %ld", kinds[i], r.status);
        assert_true(now_s() - t < DEADLINE_S);
        assert_string_equal(json_string_value(json_object_get(r.body, "error")),
                            "CapacityExceeded");
        assert_non_null(strstr(json_string_value(json_object_get(r.body, "description")), "full"));
        json_decref(r.body);
        assert_false(recorded(K, P, kind_of(kinds[i]), name));
    }
    /* What exists is answered as before: a repeat changes no data. */
    assert_int_equal(create("volumes", "before-full", "8M", &r), 201);
    json_decref(r.body);
    assert_ledger(K, P);

    restore_ratios();
    wait_pool_full(CFG->pools.block, false);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char name[32];
        long st = 0;

        snprintf(name, sizeof(name), "full-%.5s", kinds[i]);
        /* kairosd reads the flags at most once a second, radosgw its own map. */
        for (int tries = 0; tries < 30; tries++) {
            st = create(kinds[i], name, "8M", &r);
            json_decref(r.body);
            if (st != 422 && st != 503)
                break;
            sleep(1);
        }
        if (st != 201)
            fail_msg("%s create after space returned: %ld", kinds[i], st);
        assert_true(recorded(K, P, kind_of(kinds[i]), name));
    }
    assert_ledger(K, P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(radosgw_stopped), cmocka_unit_test(mds_stopped),
        cmocka_unit_test(mgr_stopped),     cmocka_unit_test(osd_paused),
        cmocka_unit_test(cluster_full),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
