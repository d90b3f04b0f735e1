/*
 * harness.h - what every integration test needs: the local cluster from the
 * ctest fixture, a libkairos handle on it, unique names, and a test backend
 * whose "Ceph object" is a real RADOS object.
 *
 * The cluster comes from $KAIROS_CONF, which the fixture sets. Without it,
 * or with a cluster that does not answer, every test fails loudly: an
 * integration test never passes or skips without the real cluster.
 */
#ifndef KAIROS_TEST_HARNESS_H
#define KAIROS_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <kairos/kairos.h>
#include <rados/librados.h>

struct kt {
    struct kairos_config *cfg;
    struct kairos *k;
    rados_t rados;         /* a second, independent client of the cluster */
    rados_ioctx_t objects; /* metadata pool, namespace of the test backend's objects */
    char pool[64];         /* a metadata pool of this test's own, or "" */
};

/* The path of the fixture's config, or a loud exit(1) if there is none. */
const char *kt_conf_path(void);

/* The pid of the fixture cluster's daemon @name ("osd.0", "mds.a"), or 0. */
pid_t kt_daemon_pid(const char *name);

/*
 * kt_connect() - a plain RADOS client of @cfg's cluster, connected, with op
 * time-outs: a cluster that stops answering fails a call at its line
 * instead of hanging the test. Failing to connect fails the calling test.
 */
rados_t kt_connect(const struct kairos_config *cfg);

/*
 * kt_open() - load the fixture's config, optionally with another capacity
 * policy file, open libkairos on it and a plain RADOS client beside it.
 * Any failure fails the calling test (and says why).
 */
void kt_open(struct kt *t, const char *capacity_policy);
void kt_close(struct kt *t);

/*
 * kt_open_isolated() - kt_open() on a metadata pool of the test's own,
 * created now and deleted by kt_close(), with the capacity policy @policy
 * (INI text). The cluster budget is cluster-wide state: a test that
 * declares its own capacity must not share it with the other tests.
 * @pool: reuse this pool (a child of the test) instead of making one; NULL
 * to make one.
 */
void kt_open_isolated(struct kt *t, const char *policy, const char *pool);

/* "<prefix>-<pid>-<n>": unique across runs and processes. */
void kt_name(char *buf, size_t len, const char *prefix);

/* Write @text to a new temporary file; return its path (malloc'ed). */
char *kt_write_temp(const char *name, const char *text);

/* An unlimited quota with the byte limit of @kind set to @bytes. */
struct kairos_quota kt_quota(enum kairos_kind kind, uint64_t bytes, uint64_t count);

/*
 * The test backend: the object behind (project, name) is the RADOS object
 * "obj.<project>.<name>" in t->objects, holding its size as an xattr.
 * kt_backend_register() registers it for @kind on t->k.
 */
void kt_backend_register(struct kt *t, enum kairos_kind kind);
int kt_object_create(struct kt *t, const char *project, const char *name, uint64_t bytes);
int kt_object_exists(struct kt *t, const char *project, const char *name);

/* A backend for @kind whose probe always fails, as when its daemon is down. */
void kt_backend_register_unsure(struct kt *t, enum kairos_kind kind);

/* Assert that @project's counters equal the sum of its records. */
void kt_assert_consistent(struct kt *t, const char *project);

#endif
