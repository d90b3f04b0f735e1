/*
 * reqlog.c - request ids and log lines (see reqlog.h).
 */
#include "reqlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "accesslog.h"

/* Bytes of a made id: 128 bits, as many as a UUID's. */
#define REQID_RANDOM 16
/* Bounds on what one line repeats of a request, so that a line stays whole. */
#define PATH_MAX_LOGGED    128
#define MESSAGE_MAX_LOGGED 200

static atomic_int format = REQLOG_TEXT;

bool reqid_valid(const char *id)
{
    size_t n = 0;

    if (!id)
        return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (n >= REQID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || strchr("-_.:+/=@", c)))
            return false;
    }
    return n > 0;
}

void reqid_take(const char *given, char out[REQID_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    static atomic_ulong fallback;
    unsigned char r[REQID_RANDOM];

    if (reqid_valid(given)) {
        snprintf(out, REQID_MAX + 1, "%s", given);
        return;
    }
    /* The kernel's pool never runs dry once booted; a counter stands in should it fail. */
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        unsigned long n = atomic_fetch_add(&fallback, 1);
        snprintf(out, REQID_MAX + 1, "%08x%016lx", (unsigned)getpid(), n);
        return;
    }
    for (size_t i = 0; i < sizeof(r); i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * sizeof(r)] = '\0';
}

int reqlog_format_parse(const char *s, enum reqlog_format *out)
{
    if (s && strcmp(s, "text") == 0)
        *out = REQLOG_TEXT;
    else if (s && strcmp(s, "json") == 0)
        *out = REQLOG_JSON;
    else
        return -EINVAL;
    return 0;
}

void reqlog_set_format(enum reqlog_format f)
{
    atomic_store(&format, (int)f);
}

enum reqlog_format reqlog_get_format(void)
{
    return (enum reqlog_format)atomic_load(&format);
}

/* RFC 3339 in UTC with milliseconds: "2026-12-05T04:40:00.123Z". */
static void now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char day[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03ldZ", day, ts.tv_nsec / 1000000);
}

static const char *level_of(unsigned status)
{
    return status >= 500 ? "error" : status >= 400 ? "warning" : "info";
}

/*
 * @s cut to @max bytes (at most LOGGED_MAX) into @buf, each byte outside
 * printable ASCII as '?': a decoded path may hold a newline or bytes that
 * are not UTF-8, and a log line must stay one line of text.
 */
#define LOGGED_MAX 512
static const char *printable(const char *s, size_t max, char buf[LOGGED_MAX + 1])
{
    size_t i;

    for (i = 0; s[i] && i < max && i < LOGGED_MAX; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

static json_t *cut_string(const char *s, size_t max)
{
    char buf[LOGGED_MAX + 1];

    return json_string(printable(s, max, buf));
}

/*
 * Dump @j as one line into @line. Strings that are not UTF-8 are dumped
 * escaped by jansson; a line too long drops @drop (the message) first.
 */
static int json_line(json_t *j, const char *drop, char *line, size_t cap)
{
    size_t n = json_dumpb(j, line, cap - 1, JSON_COMPACT | JSON_ENSURE_ASCII);

    if ((n == 0 || n >= cap - 1) && drop) {
        json_object_del(j, drop);
        n = json_dumpb(j, line, cap - 1, JSON_COMPACT | JSON_ENSURE_ASCII);
    }
    if (n == 0 || n >= cap - 1)
        return -1;
    line[n] = '\n';
    return (int)n + 1;
}

static int json_request_line(const struct reqlog_entry *e, char *line, size_t cap)
{
    char when[40];
    json_t *j;
    int n;

    now_rfc3339(when, sizeof(when));
    j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:i, s:f}", "time", when, "level",
                  level_of(e->status), "request_id", e->request_id, "method",
                  cut_string(e->method, 16), "path",
                  cut_string(e->url, strcspn(e->url, "?") < PATH_MAX_LOGGED ? strcspn(e->url, "?")
                                                                            : PATH_MAX_LOGGED),
                  "route", e->route, "status", (int)e->status, "duration_ms", e->seconds * 1000);
    if (!j)
        return -1;
    if (e->principal && e->principal[0])
        json_object_set_new(j, "principal", json_string(e->principal));
    if (e->token_id && e->token_id[0])
        json_object_set_new(j, "token_id", json_string(e->token_id));
    if (e->error)
        json_object_set_new(j, "error", cut_string(e->error, MESSAGE_MAX_LOGGED));
    if (e->note)
        json_object_set_new(j, "late", json_true());
    if (e->message)
        json_object_set_new(j, "message", cut_string(e->message, MESSAGE_MAX_LOGGED));
    n = json_line(j, "message", line, cap);
    json_decref(j);
    return n;
}

static int text_request_line(const struct reqlog_entry *e, char *line, size_t cap)
{
    size_t plen = strcspn(e->url, "?");
    char method[LOGGED_MAX + 1], path[LOGGED_MAX + 1];
    int n;

    /* The path only: query strings may carry ids, never secrets, but stay short. */
    n = snprintf(
        line, cap,
        "kairosd: request_id=%s method=%s path=%s route=%s status=%u ms=%.1f%s%s%s%s%s%s%s\n",
        e->request_id, printable(e->method, 16, method),
        printable(e->url, plen < PATH_MAX_LOGGED ? plen : PATH_MAX_LOGGED, path), e->route,
        e->status, e->seconds * 1000, e->principal && e->principal[0] ? " principal=" : "",
        e->principal ? e->principal : "", e->token_id && e->token_id[0] ? " token=" : "",
        e->token_id ? e->token_id : "", e->error ? " error=" : "", e->error ? e->error : "",
        e->note ? e->note : "");
    if (n <= 0)
        return -1;
    if ((size_t)n >= cap) {
        n = (int)cap - 1;
        line[n - 1] = '\n';
    }
    return n;
}

void reqlog_request(const struct reqlog_entry *e)
{
    char line[ACCESSLOG_LINE_MAX];
    int n = reqlog_get_format() == REQLOG_JSON ? json_request_line(e, line, sizeof(line))
                                               : text_request_line(e, line, sizeof(line));

    if (n > 0)
        accesslog_line(line, (size_t)n);
}

void reqlog_message(const char *level, const char *request_id, const char *fmt, ...)
{
    char msg[LOGGED_MAX + 1], clean[LOGGED_MAX + 1], line[ACCESSLOG_LINE_MAX], when[40];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (reqlog_get_format() == REQLOG_JSON) {
        json_t *j;

        now_rfc3339(when, sizeof(when));
        j = json_pack("{s:s, s:s, s:o}", "time", when, "level", level, "message",
                      cut_string(msg, sizeof(msg)));
        if (j && request_id)
            json_object_set_new(j, "request_id", json_string(request_id));
        n = j ? json_line(j, NULL, line, sizeof(line)) : -1;
        json_decref(j);
    } else {
        n = snprintf(line, sizeof(line), "kairosd: %s%s%s%s\n", request_id ? "request_id=" : "",
                     request_id ? request_id : "", request_id ? " " : "",
                     printable(msg, sizeof(msg), clean));
        n = n > 0 && (size_t)n < sizeof(line) ? n : -1;
    }
    if (n > 0)
        accesslog_line(line, (size_t)n);
}
