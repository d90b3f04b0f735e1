/*
 * kd.h - a running kairosd for HTTP tests: started on the fixture's
 * cluster with a config of its own (a free port, an admin token, broker
 * credentials), and an HTTP client over libcurl.
 */
#ifndef KAIROS_TEST_KD_H
#define KAIROS_TEST_KD_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#define KD_ADMIN_TOKEN   "kt-test-admin-9f86d081884c7d659a2feaa0c55ad015"
#define KD_BROKER_USER   "platform"
#define KD_BROKER_SECRET "s3cret-broker-password"

struct kd {
    pid_t pid;
    unsigned port;
    bool tls;       /* serve HTTPS with a self-signed certificate made for the test */
    char cert[160]; /* its certificate, the CA for clients */
    char dir[64];
    char conf[128];
    char log[128];
    const char *server_extra; /* more [server] lines (a "listen =" replaces 127.0.0.1:0), or NULL */
    const char *conf_extra;   /* more sections at the end, or NULL */
};

/* Start kairosd (@binary) on $KAIROS_CONF's cluster; fail the test if it does not come up. */
void kd_start(struct kd *kd, const char *binary);
/*
 * kd_start_conf() - kd_start() with @server_extra appended to its [server]
 * section and @conf_extra (other sections) after it; either may be NULL.
 */
void kd_start_conf(struct kd *kd, const char *binary, const char *server_extra,
                   const char *conf_extra);
/* kd_start() over TLS, with a self-signed certificate for 127.0.0.1. */
void kd_start_tls(struct kd *kd, const char *binary);
/* kd_start_tls() with extra config, as kd_start_conf(); a section in @conf_extra replaces the
 * cluster's. */
void kd_start_tls_conf(struct kd *kd, const char *binary, const char *server_extra,
                       const char *conf_extra);
/* SIGTERM; Return: the exit status (0 for a clean, graceful stop). */
int kd_stop(struct kd *kd);

/* Who a request is from. */
enum kd_as { KD_NOBODY, KD_ADMIN, KD_OSB, KD_TOKEN };

/*
 * kd_call() - @method @path with @body (NULL: none) as @as (@token for
 * KD_TOKEN). *@out (if not NULL) is the parsed JSON answer or NULL.
 * Return: the HTTP status, or 0 when kairosd could not be reached.
 */
long kd_call(struct kd *kd, const char *method, const char *path, enum kd_as as, const char *token,
             const char *body, json_t **out);

/* What kd_request() got back. */
struct kd_reply {
    long status;         /* 0: kairosd could not be reached */
    json_t *body;        /* parsed JSON, or NULL; the caller decrefs */
    char retry[16];      /* the Retry-After header, or "" */
    char type[64];       /* the Content-Type header, or "" */
    char request_id[96]; /* the X-Request-Id header, or "" */
};

/*
 * kd_request() - kd_call() with extra raw headers (@hdrs, NULL-terminated,
 * may be NULL; "Name:" alone sends no such header) and the response's
 * headers of interest in @out. KD_OSB adds "X-Broker-API-Version: 2.17"
 * unless @hdrs names that header; every call is JSON unless @hdrs names a
 * Content-Type.
 */
void kd_request(struct kd *kd, const char *method, const char *path, enum kd_as as,
                const char *token, const char *const *hdrs, const char *body, struct kd_reply *out);

/* kd_call() with extra raw headers (NULL-terminated), for header tests. */
long kd_call_headers(struct kd *kd, const char *method, const char *path, const char *const *hdrs,
                     const char *body, json_t **out);

/* How long kd_wait_operation() waits, in seconds. */
#define KD_OPERATION_WAIT 120

/*
 * kd_wait_operation() - poll an operation until it leaves "in progress",
 * KD_OPERATION_WAIT s at most. Return: its final state ("in progress" if it
 * never ended: kairosd's stacks and the cluster's state are printed then,
 * as for any call kairosd leaves unanswered).
 */
const char *kd_wait_operation(struct kd *kd, const char *id);

/*
 * kd_capture() - run the shell line @cmd; what it writes to stdout goes to
 * @out (@cap bytes, NUL-terminated, cut if longer). Return: its exit
 * status, or -1 when it did not exit.
 */
int kd_capture(const char *cmd, char *out, size_t cap);

/*
 * kd_delete_project() - delete project @name with everything in it
 * (?force=true), as a teardown does: whatever is left of it goes, and the
 * answer is not checked.
 */
void kd_delete_project(struct kd *kd, const char *name);

/*
 * kd_project_token() - a new token of @project into @token (@tlen bytes),
 * its id into @id (@idlen bytes) when @id is not NULL. Exits the test when
 * kairosd refuses.
 */
void kd_project_token(struct kd *kd, const char *project, char *token, size_t tlen, char *id,
                      size_t idlen);

/*
 * kd_token_file() - a new token of @project, written to the file @path (one
 * line); its id into @id (@idlen bytes) when @id is not NULL. Exits the
 * test when kairosd refuses or the file cannot be written.
 */
void kd_token_file(struct kd *kd, const char *project, const char *path, char *id, size_t idlen);

#endif
