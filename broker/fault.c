/*
 * fault.c - named fault points for crash and stall tests (see fault.h).
 */
#include "fault.h"

#ifdef KAIROS_FAULT_POINTS

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

/* Does @pattern (up to @len bytes, maybe ending in '*') name @point? */
static bool matches(const char *pattern, size_t len, const char *point)
{
    if (len && pattern[len - 1] == '*')
        return strncmp(pattern, point, len - 1) == 0;
    return strlen(point) == len && strncmp(pattern, point, len) == 0;
}

/* The action for @point in @spec ("p=a,p=a"), as a pointer into @spec, or NULL. */
static const char *action_of(const char *spec, const char *point, size_t *alen)
{
    while (*spec) {
        size_t n = strcspn(spec, ","), plen = strcspn(spec, "=");
        if (plen < n && matches(spec, plen, point)) {
            *alen = n - plen - 1;
            return spec + plen + 1;
        }
        spec += n + (spec[n] == ',');
    }
    return NULL;
}

static void report(const char *point)
{
    const char *fd = getenv("KAIROS_FAULT_FD");
    char line[256];
    int n;

    if (!fd)
        return;
    n = snprintf(line, sizeof(line), "%s\n", point);
    /* One write, so lines of several threads never interleave. */
    if (n > 0 && write(atoi(fd), line, (size_t)n) < 0)
        return;
}

/* How often, and how long at most, a "hold" looks for its file. */
#define HOLD_POLL_MS 5
#define HOLD_MAX_S   120

/* Hold the calling thread while the file @path (@len bytes) exists. */
static void hold(const char *point, const char *path, size_t len)
{
    struct timespec poll = {.tv_nsec = HOLD_POLL_MS * 1000000L};
    char file[4096];
    struct stat st;

    if (len == 0 || len >= sizeof(file))
        return;
    memcpy(file, path, len);
    file[len] = '\0';
    if (stat(file, &st) < 0)
        return;
    report(point);
    for (long n = 0; n < HOLD_MAX_S * 1000L / HOLD_POLL_MS && stat(file, &st) == 0; n++)
        nanosleep(&poll, NULL);
}

void kairos_fault(const char *point)
{
    static atomic_bool acted;
    const char *spec = getenv("KAIROS_FAULT"), *action;
    size_t alen = 0;

    bool kill_, stop;

    if (!spec || !(action = action_of(spec, point, &alen)))
        return;
    if (alen > 5 && strncmp(action, "hold:", 5) == 0) {
        hold(point, action + 5, alen - 5);
        return;
    }
    kill_ = alen == 4 && strncmp(action, "kill", 4) == 0;
    stop = alen == 4 && strncmp(action, "stop", 4) == 0;
    /* Only the first point reached stops: a resumed process runs on freely. */
    if ((kill_ || stop) && atomic_exchange(&acted, true))
        return;
    report(point);
    if (kill_)
        raise(SIGKILL);
    else if (stop)
        raise(SIGSTOP);
}

int kairos_fault_error(const char *point)
{
    const char *spec = getenv("KAIROS_FAULT"), *action;
    size_t alen = 0;

    if (spec && (action = action_of(spec, point, &alen)) && alen == 4 &&
        strncmp(action, "fail", 4) == 0) {
        report(point);
        return -EIO;
    }
    kairos_fault(point);
    return 0;
}
#endif
