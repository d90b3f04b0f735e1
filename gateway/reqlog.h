/*
 * reqlog.h - request ids and kairosd's log lines.
 *
 * Every request carries an id: the caller's X-Request-Id when it is a sane
 * token (REQID_MAX characters at most, letters, digits and "-_.:+/=@"),
 * else one made from the kernel's random source (32 hex digits). A bad id
 * is never echoed nor logged. The id goes back in the X-Request-Id header
 * of every answer and into every log line about the request.
 *
 * Log lines go to stderr (journald under systemd), in one of two formats
 * ([log] format in kairos.conf): "text", "kairosd: key=value ..." lines as
 * kairosd always wrote, or "json", one JSON object per line with time,
 * level, request_id, method, path, route, status, duration_ms, principal,
 * token_id (the bearer token's id, never the token) and message.
 *
 * Thread-safety: all functions may be called from any thread;
 * reqlog_set_format() is meant for start-up and reload.
 */
#ifndef KAIROSD_REQLOG_H
#define KAIROSD_REQLOG_H

#include <stdbool.h>

#define REQID_MAX    64
#define REQID_HEADER "X-Request-Id"

enum reqlog_format { REQLOG_TEXT, REQLOG_JSON };

/* True when @id may be taken as a request id as it is. */
bool reqid_valid(const char *id);

/* @out: @given when reqid_valid(@given), else a new random id. */
void reqid_take(const char *given, char out[REQID_MAX + 1]);

/* "text" or "json" into @out. Return: 0, or -EINVAL for anything else. */
int reqlog_format_parse(const char *s, enum reqlog_format *out);
void reqlog_set_format(enum reqlog_format f);
enum reqlog_format reqlog_get_format(void);

/* What the log line of one answered request says. */
struct reqlog_entry {
    const char *request_id;
    const char *method, *url; /* the path is logged, never the query */
    const char *route;
    unsigned status;
    double seconds;
    const char *principal; /* "admin", "broker", "project:NAME"; NULL or "": unknown */
    const char *token_id;  /* the bearer token's id (never the token); NULL or "": none */
    const char *error;     /* the answer's "error", or NULL */
    const char *message;   /* the answer's description, or NULL */
    const char *note;      /* text-format suffix such as " late=..."; NULL: none */
};

/* Log @e through the batched access log (accesslog.h). */
void reqlog_request(const struct reqlog_entry *e);

/*
 * reqlog_message() - a line that is not an access log line: @level is
 * "info", "warning" or "error"; @request_id may be NULL.
 */
void reqlog_message(const char *level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
