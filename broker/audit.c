/*
 * audit.c - the audit log in RADOS (see kairos/audit.h): one omap object
 * per UTC day, an index of the days, appends that never collide, reads
 * that walk only the days they need, and trims of whole days.
 */
#include <kairos/audit.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <kairos/config.h>
#include <kairos/units.h>

#include "kairos_int.h"
#include "store.h"

#define OID_PREFIX "kairos.audit."
#define INDEX_OID  "kairos.audit.days"
/* Keys per omap read: one round trip for a quiet day, bounded memory for a busy one. */
#define PAGE   512
#define DAY_MS (24ULL * 3600 * 1000)
/* 10000-01-01T00:00:00Z: a later time would not fit "YYYYMMDD". */
#define TIME_MAX_MS 253402300800000ULL

void kairos_audit_day(uint64_t time_ms, char out[9])
{
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, 9, "%04d%02d%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
}

void kairos_audit_key(uint64_t time_ms, uint64_t rnd, char out[KAIROS_AUDIT_ID_LEN + 1])
{
    snprintf(out, KAIROS_AUDIT_ID_LEN + 1, "%016" PRIu64 "-%016" PRIx64, time_ms, rnd);
}

void kairos_audit_time_format(uint64_t time_ms, char out[KAIROS_AUDIT_TIME_LEN])
{
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, KAIROS_AUDIT_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100,
             tm.tm_min % 100, tm.tm_sec % 100, (unsigned)(time_ms % 1000));
}

/* @n digits at @s into @out; false if any is not a digit. */
static bool digits(const char *s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *out = *out * 10 + (s[i] - '0');
    }
    return true;
}

/* The ISO 8601 forms of kairos_audit_time_parse(); false when @s is none of them. */
static bool parse_iso(const char *s, int64_t *out_ms)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, oh, om;
    int64_t offset_s = 0;
    time_t t;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    s += 10;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        if (!digits(s + 1, 2, &h) || s[3] != ':' || !digits(s + 4, 2, &mi) || s[6] != ':' ||
            !digits(s + 7, 2, &sec))
            return false;
        s += 9;
        if (*s == '.') {
            int n = 0;
            for (s++; *s >= '0' && *s <= '9'; s++, n++) {
                if (n < 3)
                    ms = ms * 10 + (*s - '0');
            }
            if (n == 0)
                return false;
            for (; n < 3; n++)
                ms *= 10;
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            if (!digits(s + 1, 2, &oh) || s[3] != ':' || !digits(s + 4, 2, &om) || oh > 23 ||
                om > 59)
                return false;
            offset_s = (int64_t)(oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
            s += 6;
        } else {
            return false; /* a time without a zone is ambiguous */
        }
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    /* timegm() moves a 31st of a short month into the next one: refuse that date. */
    if (t == (time_t)-1 || tm.tm_mday != d)
        return false;
    *out_ms = ((int64_t)t - offset_s) * 1000 + ms;
    return true;
}

int kairos_audit_time_parse(const char *s, uint64_t now_ms, uint64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    uint64_t age;
    int64_t t;

    if (n == 0 || n > 40)
        return -EINVAL;
    if (parse_iso(s, &t)) {
        if (t < 0 || (uint64_t)t > now_ms)
            return -EINVAL;
        *out = (uint64_t)t;
        return 0;
    }
    /* An age needs its unit: a bare number could be seconds, or a time. */
    if (s[n - 1] >= '0' && s[n - 1] <= '9')
        return -EINVAL;
    if (kairos_duration_parse(s, &age) < 0 || age > now_ms)
        return -EINVAL;
    *out = now_ms - age;
    return 0;
}

/* ---- entries as JSON ---- */

/*
 * @s as a JSON string cut at @max bytes, or null when empty. A cut may
 * split a UTF-8 sequence, and a client may send anything: when jansson
 * refuses the bytes, every byte outside printable ASCII becomes '?'.
 */
static json_t *bounded(const char *s, size_t max)
{
    char buf[KAIROS_AUDIT_STR_MAX + 1];
    size_t n = strnlen(s, max);
    json_t *j;

    if (n == 0)
        return json_null();
    j = json_stringn(s, n);
    if (j)
        return j;
    memcpy(buf, s, n);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
            buf[i] = '?';
    }
    return json_stringn(buf, n);
}

#define FIELDS(X)                                                                                  \
    X(request_id)                                                                                  \
    X(actor)                                                                                       \
    X(token_id) X(platform) X(identity) X(method) X(path) X(project) X(kind) X(name) X(error)

static json_t *entry_json(const struct kairos_audit_entry *e)
{
    json_t *j = json_object();

    if (!j)
        return NULL;
    json_object_set_new(j, "time_ms", json_integer((json_int_t)e->time_ms));
#define SET(f) json_object_set_new(j, #f, bounded(e->f, sizeof(e->f) - 1));
    FIELDS(SET)
#undef SET
    json_object_set_new(j, "status", json_integer(e->status));
    return j;
}

/* Copy a stored entry back; a field that is missing or not a string stays "". */
static void entry_parse(const char *key, const char *val, struct kairos_audit_entry *e)
{
    json_t *j = json_loads(val, 0, NULL);
    json_int_t status;

    memset(e, 0, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", key);
    e->time_ms = strtoull(key, NULL, 10);
    if (!j)
        return;
#define GET(f)                                                                                     \
    if (json_is_string(json_object_get(j, #f)))                                                    \
        snprintf(e->f, sizeof(e->f), "%s", json_string_value(json_object_get(j, #f)));
    FIELDS(GET)
#undef GET
    status = json_integer_value(json_object_get(j, "status"));
    e->status = status > 0 && status < 1000 ? (unsigned)status : 0;
    json_decref(j);
}

static void oid_of(const char *day, char out[KAIROS_AUDIT_OID_MAX])
{
    snprintf(out, KAIROS_AUDIT_OID_MAX, OID_PREFIX "%s", day);
}

/* ---- append ---- */

/* Name @day in the index; today's once per handle: later appends skip the write. */
static int index_day(struct kairos *k, const char *day)
{
    char today[9];
    struct kairos_txn *txn;
    bool known;
    int rc;

    pthread_mutex_lock(&k->lock);
    known = strcmp(k->audit_day, day) == 0;
    pthread_mutex_unlock(&k->lock);
    if (known)
        return 0;
    txn = kairos_txn_new_keyed();
    if (!txn)
        return -ENOMEM;
    kairos_txn_set(txn, day, "1");
    rc = kairos_txn_commit(txn, k->meta, INDEX_OID);
    kairos_txn_free(txn);
    /*
     * Only today's day is remembered: a trim never removes it (it removes
     * days before max_age's), while a past day, written with a forced time,
     * may have been trimmed since, so its index key is written each time.
     */
    kairos_audit_day(kairos_now_ms(), today);
    if (rc == 0 && strcmp(day, today) == 0) {
        pthread_mutex_lock(&k->lock);
        snprintf(k->audit_day, sizeof(k->audit_day), "%s", day);
        pthread_mutex_unlock(&k->lock);
    }
    return rc;
}

int kairos_audit_append(struct kairos *k, struct kairos_audit_entry *e, struct kairos_error *err)
{
    char rnd[17], day[9], oid[KAIROS_AUDIT_OID_MAX];
    struct kairos_txn *txn = NULL;
    json_t *j = NULL;
    int rc;

    if (!e->time_ms)
        e->time_ms = kairos_now_ms();
    if (e->time_ms < DAY_MS || e->time_ms >= TIME_MAX_MS)
        return kairos_error_set(err, -EINVAL, "audit: time %" PRIu64 " out of range", e->time_ms);
    rc = kairos_random_hex(rnd, 8);
    if (rc < 0)
        return kairos_error_set(err, rc, "audit: no random bytes: %s", strerror(-rc));
    kairos_audit_key(e->time_ms, strtoull(rnd, NULL, 16), e->id);
    kairos_audit_day(e->time_ms, day);
    oid_of(day, oid);
    /* The index first: a day object is never left where a trim cannot find it. */
    rc = index_day(k, day);
    if (rc < 0) {
        kairos_error_set(err, rc, "audit: cannot write the day index: %s", strerror(-rc));
        goto out;
    }
    j = entry_json(e);
    txn = kairos_txn_new_keyed();
    if (!j || !txn) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    kairos_txn_set_json(txn, e->id, j);
    rc = kairos_txn_commit(txn, k->meta, oid);
    if (rc < 0)
        kairos_error_set(err, rc, "audit: cannot write %s: %s", oid, strerror(-rc));
out:
    kairos_txn_free(txn);
    json_decref(j);
    return rc;
}

/* ---- read ---- */

/* The days of the index, oldest first. */
struct days {
    char (*v)[9];
    size_t n, cap;
};

static int days_page(void *arg, const struct kairos_kvs *page)
{
    struct days *d = arg;

    for (size_t i = 0; i < page->n; i++) {
        if (strlen(page->v[i].key) != 8)
            continue;
        if (d->n == d->cap) {
            size_t cap = d->cap ? 2 * d->cap : 64;
            void *grown = realloc(d->v, cap * sizeof(*d->v));
            if (!grown)
                return -ENOMEM;
            d->v = grown;
            d->cap = cap;
        }
        memcpy(d->v[d->n++], page->v[i].key, 9);
    }
    return 0;
}

static int days_load(struct kairos *k, struct days *d)
{
    int rc = kairos_store_each(k->meta, INDEX_OID, "", NULL, PAGE, days_page, d);

    return rc == -ENOENT ? 0 : rc;
}

/* Matches of one day, in key order. */
struct matches {
    const struct kairos_audit_query *q;
    struct kairos_audit_entry *v;
    size_t n, cap;
    size_t stop_at; /* stop after this many (0: read the whole day) */
    bool stopped;
};

static int matches_page(void *arg, const struct kairos_kvs *page)
{
    struct matches *m = arg;
    struct kairos_audit_entry e;

    for (size_t i = 0; i < page->n; i++) {
        entry_parse(page->v[i].key, page->v[i].val, &e);
        if (m->q->project && strcmp(e.project, m->q->project) != 0)
            continue;
        if (m->stop_at && m->n == m->stop_at) {
            m->stopped = true;
            return 1;
        }
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 64;
            void *grown = realloc(m->v, cap * sizeof(*m->v));
            if (!grown)
                return -ENOMEM;
            m->v = grown;
            m->cap = cap;
        }
        m->v[m->n++] = e;
    }
    return 0;
}

/* Entries of @day after @start_after (NULL: all) into @m. */
static int day_read(struct kairos *k, const char *day, const char *start_after, struct matches *m)
{
    char oid[KAIROS_AUDIT_OID_MAX];
    int rc;

    oid_of(day, oid);
    rc = kairos_store_each(k->meta, oid, "", start_after, PAGE, matches_page, m);
    return rc == 1 || rc == -ENOENT ? 0 : rc;
}

int kairos_audit_read(struct kairos *k, const struct kairos_audit_query *q,
                      struct kairos_audit_entry **out, size_t *count, bool *more,
                      struct kairos_error *err)
{
    struct kairos_audit_entry *res = NULL;
    struct matches m = {.q = q};
    struct days d = {0};
    char from[9], after[24];
    size_t have = 0;
    int rc;

    *out = NULL;
    *count = 0;
    *more = false;
    if (q->limit == 0 || q->limit > KAIROS_AUDIT_LIMIT_MAX)
        return kairos_error_set(err, -EINVAL, "limit must be 1 to %d", KAIROS_AUDIT_LIMIT_MAX);
    if (q->project && !kairos_name_valid(q->project))
        return kairos_error_set(err, -EINVAL, "bad project name");
    rc = days_load(k, &d);
    if (rc < 0) {
        kairos_error_set(err, rc, "audit: cannot read the day index: %s", strerror(-rc));
        goto out;
    }
    res = malloc(q->limit * sizeof(*res));
    if (!res) {
        rc = kairos_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (q->since_ms) {
        /* Forward from since's day; keys of since's ms sort after "<ms>" itself. */
        kairos_audit_day(q->since_ms, from);
        snprintf(after, sizeof(after), "%016" PRIu64, q->since_ms);
        for (size_t i = 0; i < d.n && have < q->limit + 1; i++) {
            if (strcmp(d.v[i], from) < 0)
                continue;
            m.n = 0;
            m.stop_at = q->limit + 1 - have;
            rc = day_read(k, d.v[i], strcmp(d.v[i], from) == 0 ? after : NULL, &m);
            if (rc < 0)
                break;
            for (size_t j = 0; j < m.n; j++) {
                if (have == q->limit) {
                    *more = true;
                    break;
                }
                res[have++] = m.v[j];
            }
            if (have == q->limit && (m.stopped || *more)) {
                *more = true;
                break;
            }
        }
    } else {
        /* Backward from the newest day, filling @res from its end. */
        for (size_t i = d.n; i-- > 0 && have < q->limit;) {
            size_t take;
            m.n = 0;
            m.stop_at = 0;
            rc = day_read(k, d.v[i], NULL, &m);
            if (rc < 0)
                break;
            take = m.n < q->limit - have ? m.n : q->limit - have;
            if (take < m.n)
                *more = true;
            memcpy(res + q->limit - have - take, m.v + m.n - take, take * sizeof(*res));
            have += take;
            if (have == q->limit && i > 0)
                *more = true; /* older days may hold more: said, not counted */
        }
        memmove(res, res + q->limit - have, have * sizeof(*res));
    }
    if (rc < 0) {
        kairos_error_set(err, rc, "audit: cannot read: %s", strerror(-rc));
        goto out;
    }
    *out = res;
    *count = have;
    res = NULL;
out:
    free(res);
    free(m.v);
    free(d.v);
    return rc;
}

/* ---- trim ---- */

static int index_forget(struct kairos *k, const char *day)
{
    struct kairos_txn *txn = kairos_txn_new_keyed();
    int rc;

    if (!txn)
        return -ENOMEM;
    kairos_txn_rm(txn, day);
    rc = kairos_txn_commit(txn, k->meta, INDEX_OID);
    kairos_txn_free(txn);
    return rc;
}

int kairos_audit_trim(struct kairos *k, uint64_t max_age_ms, unsigned *removed,
                      struct kairos_error *err)
{
    char cutoff[9], oid[KAIROS_AUDIT_OID_MAX];
    struct days d = {0};
    uint64_t now = kairos_now_ms();
    unsigned n = 0;
    int rc;

    if (!max_age_ms)
        max_age_ms = k->cfg->audit.max_age_ms;
    /* Days wholly older: the cutoff's own day stays. */
    kairos_audit_day(max_age_ms < now ? now - max_age_ms : 0, cutoff);
    rc = days_load(k, &d);
    for (size_t i = 0; rc == 0 && i < d.n && strcmp(d.v[i], cutoff) < 0; i++) {
        struct kairos_txn *txn = kairos_txn_new_keyed();
        if (!txn) {
            rc = -ENOMEM;
            break;
        }
        /* The object, then its index key: a failure between leaves it findable. */
        kairos_txn_remove(txn);
        oid_of(d.v[i], oid);
        rc = kairos_txn_commit(txn, k->meta, oid);
        kairos_txn_free(txn);
        if (rc == 0 || rc == -ENOENT)
            rc = index_forget(k, d.v[i]);
        if (rc == 0)
            n++;
    }
    if (rc < 0)
        kairos_error_set(err, rc, "audit: trim: %s", strerror(-rc));
    if (removed)
        *removed = n;
    free(d.v);
    return rc;
}
