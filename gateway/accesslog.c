/*
 * accesslog.c - batched writes of the access log (see accesslog.h).
 */
#include "accesslog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room for the lines of one flush interval at a high rate. */
#define BUFFER_BYTES (256 * 1024)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char buf[BUFFER_BYTES];
    size_t len;
    bool running, stopping;
    pthread_t thread;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void write_all(const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* stderr is gone: a log is not worth a request */
        p += n;
        len -= (size_t)n;
    }
}

/* Swap the buffer out under the lock, write it outside. */
static void flush(char *spare)
{
    size_t len;

    pthread_mutex_lock(&L.lock);
    len = L.len;
    memcpy(spare, L.buf, len);
    L.len = 0;
    pthread_mutex_unlock(&L.lock);
    write_all(spare, len);
}

static void *writer(void *arg)
{
    static char spare[BUFFER_BYTES];
    struct timespec until;

    (void)arg;
    pthread_mutex_lock(&L.lock);
    while (!L.stopping) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += ACCESSLOG_FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&L.wake, &L.lock, &until);
        pthread_mutex_unlock(&L.lock);
        flush(spare);
        pthread_mutex_lock(&L.lock);
    }
    pthread_mutex_unlock(&L.lock);
    flush(spare);
    return NULL;
}

int accesslog_start(void)
{
    int rc = pthread_create(&L.thread, NULL, writer, NULL);

    if (rc != 0)
        return -rc;
    pthread_mutex_lock(&L.lock);
    L.running = true;
    L.stopping = false;
    pthread_mutex_unlock(&L.lock);
    return 0;
}

void accesslog_line(const char *line, size_t len)
{
    bool direct;

    pthread_mutex_lock(&L.lock);
    direct = !L.running || L.len + len > sizeof(L.buf);
    if (!direct) {
        memcpy(L.buf + L.len, line, len);
        L.len += len;
        /* Half full: write it out now rather than at the next tick. */
        if (L.len > sizeof(L.buf) / 2)
            pthread_cond_signal(&L.wake);
    }
    pthread_mutex_unlock(&L.lock);
    if (direct)
        write_all(line, len);
}

void accesslog_stop(void)
{
    pthread_mutex_lock(&L.lock);
    if (!L.running) {
        pthread_mutex_unlock(&L.lock);
        return;
    }
    L.stopping = true;
    pthread_cond_signal(&L.wake);
    pthread_mutex_unlock(&L.lock);
    pthread_join(L.thread, NULL);
    pthread_mutex_lock(&L.lock);
    L.running = false;
    pthread_mutex_unlock(&L.lock);
}
