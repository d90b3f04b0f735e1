/*
 * recheck.c - drop the shares and volumes whose binding is gone (see
 * recheck.h).
 */
#include "recheck.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kairos/token.h>

#include "broker.h"
#include "log.h"

/* Room for a token and its line end. */
#define TOKEN_BUF 512

static int read_token(const struct kfs_recheck *r, char *buf, size_t len)
{
    struct kairos_error err = {0};
    const char *env = getenv("KAIROS_TOKEN");

    if (r->token_file)
        return kairos_token_read(r->token_file, buf, len, &err);
    if (!env || !*env)
        return -EINVAL;
    snprintf(buf, len, "%s", env);
    return 0;
}

/* Ask about one binding; drop its health domain when kairosd says it is gone. */
static void check(struct kfs_recheck *r, const char *token, const char *kind, const char *name,
                  struct kfs_health *h)
{
    struct kairos_error err = {0};
    int rc;

    if (atomic_load(&h->revoked))
        return;
    rc = kfs_broker_bound(r->url, token, r->cacert, r->project, kind, name, &err);
    if (rc == 0) {
        atomic_store(&h->revoked, true);
        kfs_log(LOG_WARNING, "%s %s: this node's binding is gone (%s): access dropped", kind, name,
                err.msg);
    } else if (rc < 0) {
        kfs_log(LOG_INFO, "%s %s: cannot check the binding now: %s", kind, name,
                kairos_error_msg(&err, rc));
    }
}

static void check_all(struct kfs_recheck *r)
{
    char token[TOKEN_BUF];

    if (read_token(r, token, sizeof(token)) < 0) {
        kfs_log(LOG_INFO, "no token to check the bindings with");
        return;
    }
    for (size_t i = 0; i < r->b->nshares; i++)
        check(r, token, "shares", r->b->shares[i].name, &r->b->shares[i].fs->health);
    for (size_t i = 0; i < r->b->nvolumes; i++)
        check(r, token, "volumes", r->b->volumes[i].name, &r->b->volumes[i].rados->health);
    explicit_bzero(token, sizeof(token));
}

static void *recheck_main(void *arg)
{
    struct kfs_recheck *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(r->interval_ms / 1000);
        until.tv_nsec += (long)(r->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0)
            ;
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        check_all(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int kfs_recheck_start(struct kfs_recheck *r)
{
    int rc;

    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->stop = false;
    rc = pthread_create(&r->thread, NULL, recheck_main, r);
    r->running = rc == 0;
    return -rc;
}

void kfs_recheck_stop(struct kfs_recheck *r)
{
    if (!r->running)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->running = false;
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
}
