/*
 * kairos/audit.h - the audit log: who changed what, when, and with what
 * result, kept in RADOS so that every kairosd shows the same log.
 *
 * Entries live in the omap of one object per UTC day of the metadata pool,
 * "kairos.audit.YYYYMMDD"; an entry's key, "<ms since the epoch, 16
 * digits>-<16 random hex digits>", sorts by time and is unique across
 * brokers without any coordination; its value is JSON. An index object,
 * "kairos.audit.days", names the days that have entries, so that a read
 * and a trim walk only the day objects they need and never list the pool.
 * Trimming removes whole day objects older than [audit] max_age.
 *
 * Recorded strings are cut at KAIROS_AUDIT_STR_MAX bytes, and bytes that
 * are not valid UTF-8 become '?': what a client sends cannot grow the log
 * without bound. The caller decides what is recorded; kairosd never hands
 * it a request body, a token or an Authorization header.
 *
 * The log is best effort when the cluster cannot be written: the append
 * fails, and the change it describes stands (kairosd counts and logs the
 * failure).
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef KAIROS_AUDIT_H
#define KAIROS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kairos/error.h>
#include <kairos/name.h>
#include <kairos/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kairos;

/* Longest string an entry keeps; a longer one is cut. */
#define KAIROS_AUDIT_STR_MAX 256
/* "<16 digits>-<16 hex digits>" */
#define KAIROS_AUDIT_ID_LEN 33
/* "kairos.audit.YYYYMMDD" */
#define KAIROS_AUDIT_OID_MAX 32
/* Most entries one read returns. */
#define KAIROS_AUDIT_LIMIT_MAX 1000

/*
 * One entry. On append, "" (or 0) means "not known" and is stored as null;
 * on read the same holds. Every field is a bounded copy.
 */
struct kairos_audit_entry {
    char id[KAIROS_AUDIT_ID_LEN + 1]; /* set by append and read */
    uint64_t time_ms;                 /* on append: 0 for now */
    char request_id[65];              /* the request's id, when the gateway has one */
    char actor[16];                   /* "admin", "project" (a project token) or "platform" (OSB) */
    char token_id[40];                /* the bearer token's id */
    char platform[64];                /* OSB: the originating identity's platform */
    char identity[KAIROS_AUDIT_STR_MAX + 1]; /* OSB: its decoded value (JSON text) */
    char method[8];
    char path[KAIROS_AUDIT_STR_MAX + 1]; /* without the query string */
    char project[KAIROS_NAME_MAX + 1];
    char kind[16];                       /* "volume", "share", "bucket", or "" */
    char name[KAIROS_AUDIT_STR_MAX + 1]; /* the allocation's name */
    unsigned status;                     /* HTTP status of the answer */
    char error[64];                      /* the answer's error code, "" on success */
};

/**
 * kairos_audit_append() - record @e (its id and, when 0, its time are set).
 * A @e->time_ms in the past writes into that day's object (tests and
 * imports use it).
 * Return: 0, -EINVAL (time before 1970-01-02 or past year 9999), -ENOSPC
 * (the cluster is full), or a librados error (the cluster did not answer).
 */
int kairos_audit_append(struct kairos *k, struct kairos_audit_entry *e, struct kairos_error *err);

struct kairos_audit_query {
    const char *project; /* NULL: every project */
    uint64_t since_ms;   /* 0: the newest @limit entries; else the first @limit from then on */
    unsigned limit;      /* 1..KAIROS_AUDIT_LIMIT_MAX */
};

/**
 * kairos_audit_read() - entries matching @q, oldest first. Without a
 * since, the newest @q->limit; with one, the first @q->limit at or after it.
 * @out:   malloc'ed array of *@count entries; the caller frees it.
 * @more:  with a since, set when more entries match; without one, when the
 *         limit was reached and older days exist (they are not read).
 * Cost: the day objects from since's day on, or back from today until
 * @q->limit entries are found; a day is read whole when there is no since.
 * Return: 0, -EINVAL (bad limit or project name), -ENOMEM, or a librados error.
 */
int kairos_audit_read(struct kairos *k, const struct kairos_audit_query *q,
                      struct kairos_audit_entry **out, size_t *count, bool *more,
                      struct kairos_error *err);

/**
 * kairos_audit_trim() - remove the day objects of days wholly older than
 * @max_age_ms before now (0: the config's [audit] max_age).
 * @removed: may be NULL; receives how many day objects went.
 * Return: 0, or a librados error (what was removed stays removed).
 */
int kairos_audit_trim(struct kairos *k, uint64_t max_age_ms, unsigned *removed,
                      struct kairos_error *err);

/* ---- formats, pure: no cluster ---- */

/* kairos_audit_day() - "YYYYMMDD" (9 bytes) of the UTC day of @time_ms. */
void kairos_audit_day(uint64_t time_ms, char out[9]);

/* kairos_audit_key() - the entry key of @time_ms with @rnd as its unique part. */
void kairos_audit_key(uint64_t time_ms, uint64_t rnd, char out[KAIROS_AUDIT_ID_LEN + 1]);

/* kairos_audit_time_format() - ISO 8601 UTC with milliseconds, "2026-12-05T04:30:59.123Z". */
#define KAIROS_AUDIT_TIME_LEN 25
void kairos_audit_time_format(uint64_t time_ms, char out[KAIROS_AUDIT_TIME_LEN]);

/**
 * kairos_audit_time_parse() - a point in time: ISO 8601 ("2026-12-05",
 * "2026-12-05T04:30:59Z", with ".123" milliseconds and a "+02:00" offset
 * allowed), or an age before @now_ms with a unit ("90s", "15m", "1h", "2d").
 * Return: 0, or -EINVAL (neither, or before the epoch or in the future).
 */
int kairos_audit_time_parse(const char *s, uint64_t now_ms, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
