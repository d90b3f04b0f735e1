/*
 * store.c - omap records with gen-guarded atomic writes (see store.h).
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define GEN_KEY "gen"
/* Keys one read may ask for, gen included. */
#define READ_MAX_KEYS 16
/* Comparisons one txn can carry: gen plus a few record expectations. */
#define TXN_MAX_CMP 8

struct kairos_txn {
    rados_write_op_t op;
    int prval[TXN_MAX_CMP];
    unsigned ncmp;
    int failed;  /* a builder step failed: commit refuses */
    int keyed;   /* guarded key by key: gen is not written */
    int removes; /* removes the object: nothing may write after, gen included */
};

void kairos_kvs_free(struct kairos_kvs *kvs)
{
    if (!kvs)
        return;
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->v[i].key);
        free(kvs->v[i].val);
    }
    free(kvs->v);
    kvs->v = NULL;
    kvs->n = 0;
    kvs->more = false;
}

const char *kairos_kvs_get(const struct kairos_kvs *kvs, const char *key)
{
    for (size_t i = 0; i < kvs->n; i++) {
        if (strcmp(kvs->v[i].key, key) == 0)
            return kvs->v[i].val;
    }
    return NULL;
}

json_t *kairos_kvs_json(const struct kairos_kvs *kvs, const char *key)
{
    const char *v = kairos_kvs_get(kvs, key);

    return v ? json_loads(v, 0, NULL) : NULL;
}

/* Drain a librados omap iterator into @out (appending). */
static int collect(rados_omap_iter_t it, struct kairos_kvs *out)
{
    char *key, *val;
    size_t key_len, val_len;
    size_t cap = out->n + rados_omap_iter_size(it);
    struct kairos_kv *v;

    v = realloc(out->v, (cap ? cap : 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    out->v = v;
    while (rados_omap_get_next2(it, &key, &val, &key_len, &val_len) == 0 && key) {
        struct kairos_kv *kv = &out->v[out->n];
        kv->key = strndup(key, key_len);
        kv->val = malloc(val_len + 1);
        if (!kv->key || !kv->val) {
            free(kv->key);
            free(kv->val);
            return -ENOMEM;
        }
        memcpy(kv->val, val, val_len);
        kv->val[val_len] = '\0';
        out->n++;
    }
    return 0;
}

int kairos_store_read(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n,
                      uint64_t *gen, struct kairos_kvs *out)
{
    const char *stack_all[READ_MAX_KEYS], **all = stack_all;
    size_t stack_lens[READ_MAX_KEYS], *lens = stack_lens;
    rados_read_op_t op = NULL;
    rados_omap_iter_t it = NULL;
    const char *g;
    int prval = 0, rc;

    memset(out, 0, sizeof(*out));
    /* Most reads name a few keys; a drift record names every finding, old and new. */
    if (n + 1 > READ_MAX_KEYS) {
        all = malloc((n + 1) * sizeof(*all));
        lens = malloc((n + 1) * sizeof(*lens));
        if (!all || !lens) {
            rc = -ENOMEM;
            goto out;
        }
    }
    op = rados_create_read_op();
    if (!op) {
        rc = -ENOMEM;
        goto out;
    }
    all[0] = GEN_KEY;
    for (size_t i = 0; i < n; i++)
        all[i + 1] = keys[i];
    for (size_t i = 0; i <= n; i++)
        lens[i] = strlen(all[i]);
    rados_read_op_omap_get_vals_by_keys2(op, all, n + 1, lens, &it, &prval);
    rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0)
        rc = prval;
    if (rc == 0)
        rc = collect(it, out);
    if (it)
        rados_omap_get_end(it);
    if (rc == 0) {
        g = kairos_kvs_get(out, GEN_KEY);
        *gen = g ? strtoull(g, NULL, 10) : 0;
    }
out:
    if (op)
        rados_release_read_op(op);
    if (all != stack_all)
        free(all);
    if (lens != stack_lens)
        free(lens);
    if (rc < 0)
        kairos_kvs_free(out);
    return rc;
}

/* Prefix listings one scan may add to its key read. */
#define SCAN_MAX_PREFIXES 4

struct aio_read {
    rados_read_op_t op;
    rados_completion_t done;
    rados_omap_iter_t it[1 + SCAN_MAX_PREFIXES];
    unsigned char more[1 + SCAN_MAX_PREFIXES];
    int prval[1 + SCAN_MAX_PREFIXES];
    size_t nit;
};

static int aio_start(rados_ioctx_t io, const char *oid, const char *const *all, const size_t *lens,
                     size_t n, const char *const *prefixes, size_t nprefixes, unsigned max,
                     struct aio_read *r)
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->op = rados_create_read_op();
    if (!r->op)
        return -ENOMEM;
    rc = rados_aio_create_completion2(NULL, NULL, &r->done);
    if (rc < 0)
        return rc;
    rados_read_op_omap_get_vals_by_keys2(r->op, all, n, lens, &r->it[0], &r->prval[0]);
    for (size_t p = 0; p < nprefixes; p++)
        rados_read_op_omap_get_vals2(r->op, "", prefixes[p], max, &r->it[1 + p], &r->more[1 + p],
                                     &r->prval[1 + p]);
    r->nit = 1 + nprefixes;
    return rados_aio_read_op_operate(r->op, io, r->done, oid, 0);
}

static int aio_finish(struct aio_read *r, struct kairos_kvs *out)
{
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (r->done) {
        rados_aio_wait_for_complete(r->done);
        rc = rados_aio_get_return_value(r->done);
        for (size_t i = 0; rc == 0 && i < r->nit; i++) {
            rc = r->prval[i];
            if (rc == 0)
                rc = collect(r->it[i], out);
            out->more = out->more || r->more[i];
        }
        rados_aio_release(r->done);
    }
    for (size_t i = 0; i < r->nit; i++) {
        if (r->it[i])
            rados_omap_get_end(r->it[i]);
    }
    if (r->op)
        rados_release_read_op(r->op);
    if (rc < 0)
        kairos_kvs_free(out);
    return rc == -ENOENT ? 0 : rc;
}

int kairos_store_scan_many(rados_ioctx_t io, const char *const *oids, size_t n,
                           const char *const *keys, size_t nkeys, const char *const *prefixes,
                           size_t nprefixes, unsigned max, struct kairos_kvs *out)
{
    struct aio_read reads[KAIROS_STORE_AIO_WINDOW];
    const char *all[READ_MAX_KEYS];
    size_t lens[READ_MAX_KEYS];
    int first = 0;

    if (nkeys + 1 > READ_MAX_KEYS || nprefixes > SCAN_MAX_PREFIXES)
        return -EINVAL;
    all[0] = GEN_KEY;
    for (size_t i = 0; i < nkeys; i++)
        all[i + 1] = keys[i];
    for (size_t i = 0; i <= nkeys; i++)
        lens[i] = strlen(all[i]);
    for (size_t base = 0; base < n; base += KAIROS_STORE_AIO_WINDOW) {
        size_t batch = n - base < KAIROS_STORE_AIO_WINDOW ? n - base : KAIROS_STORE_AIO_WINDOW;
        for (size_t i = 0; i < batch; i++) {
            int rc = aio_start(io, oids[base + i], all, lens, nkeys + 1, prefixes, nprefixes, max,
                               &reads[i]);
            if (rc < 0 && !first)
                first = rc;
        }
        for (size_t i = 0; i < batch; i++) {
            int rc = aio_finish(&reads[i], &out[base + i]);
            if (rc < 0 && !first)
                first = rc;
        }
    }
    return first;
}

int kairos_store_read_many(rados_ioctx_t io, const char *const *oids, size_t n,
                           const char *const *keys, size_t nkeys, struct kairos_kvs *out)
{
    return kairos_store_scan_many(io, oids, n, keys, nkeys, NULL, 0, 0, out);
}

int kairos_store_list(rados_ioctx_t io, const char *oid, const char *prefix,
                      const char *start_after, unsigned max, struct kairos_kvs *out)
{
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t it = NULL;
    unsigned char more = 0;
    int prval = 0, rc;

    memset(out, 0, sizeof(*out));
    if (!op)
        return -ENOMEM;
    rados_read_op_omap_get_vals2(op, start_after ? start_after : "", prefix ? prefix : "", max, &it,
                                 &more, &prval);
    rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0)
        rc = prval;
    if (rc == 0)
        rc = collect(it, out);
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    if (rc < 0) {
        kairos_kvs_free(out);
        return rc;
    }
    out->more = more != 0;
    return 0;
}

int kairos_store_each(rados_ioctx_t io, const char *oid, const char *prefix,
                      const char *start_after, unsigned page, kairos_store_page_fn fn, void *arg)
{
    char *after = strdup(start_after ? start_after : "");
    struct kairos_kvs kvs;
    bool more = true;
    int rc = after ? 0 : -ENOMEM;

    while (rc == 0 && more) {
        rc = kairos_store_list(io, oid, prefix, after, page, &kvs);
        if (rc < 0)
            break;
        more = kvs.more && kvs.n;
        if (kvs.n) {
            free(after);
            after = strdup(kvs.v[kvs.n - 1].key);
            if (!after)
                rc = -ENOMEM;
        }
        if (rc == 0 && kvs.n)
            rc = fn(arg, &kvs);
        kairos_kvs_free(&kvs);
    }
    free(after);
    return rc;
}

static int add_cmp(struct kairos_txn *txn, const char *key, const char *val)
{
    if (txn->ncmp >= TXN_MAX_CMP) {
        txn->failed = 1;
        return -1;
    }
    rados_write_op_omap_cmp(txn->op, key, LIBRADOS_CMPXATTR_OP_EQ, val, strlen(val),
                            &txn->prval[txn->ncmp++]);
    return 0;
}

/*
 * Fill @buf with @len random bytes from the kernel. A read this small only
 * fails when interrupted (retried) or when the kernel has no source at all;
 * then no id is made: a guessable or repeated id (an intent, a token) would
 * be worse than a failed request.
 */
static int random_bytes(void *buf, size_t len)
{
    ssize_t n;

    do {
        n = getrandom(buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

/* A new generation: random, so that a writer that did not read can still move it. */
static int next_gen(uint64_t *g)
{
    int rc;

    do {
        rc = random_bytes(g, sizeof(*g));
    } while (rc == 0 && *g == 0);
    return rc;
}

static struct kairos_txn *txn_alloc(void)
{
    struct kairos_txn *txn = calloc(1, sizeof(*txn));

    if (!txn)
        return NULL;
    txn->op = rados_create_write_op();
    if (!txn->op) {
        free(txn);
        return NULL;
    }
    return txn;
}

struct kairos_txn *kairos_txn_new_blind(void)
{
    return txn_alloc();
}

struct kairos_txn *kairos_txn_new_keyed(void)
{
    struct kairos_txn *txn = txn_alloc();

    if (!txn)
        return NULL;
    /* First: the OSD runs ops in order, and a cmp on a missing object fails. */
    rados_write_op_create(txn->op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    txn->keyed = 1;
    return txn;
}

struct kairos_txn *kairos_txn_new(uint64_t gen, bool create)
{
    struct kairos_txn *txn = txn_alloc();
    char cur[24];

    if (!txn)
        return NULL;
    if (create) {
        /* An exclusive create is the guard: a cmp on a missing object fails. */
        rados_write_op_create(txn->op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
    } else {
        /* gen 0 is "unset": a missing key compares equal to "". */
        if (gen == 0)
            cur[0] = '\0';
        else
            snprintf(cur, sizeof(cur), "%" PRIu64, gen);
        add_cmp(txn, GEN_KEY, cur);
    }
    return txn;
}

void kairos_txn_expect(struct kairos_txn *txn, const char *key, const char *val)
{
    add_cmp(txn, key, val ? val : "");
}

void kairos_txn_set(struct kairos_txn *txn, const char *key, const char *val)
{
    size_t klen = strlen(key), vlen = strlen(val);

    if (vlen == 0) {
        txn->failed = 1;
        return;
    }
    rados_write_op_omap_set2(txn->op, &key, &val, &klen, &vlen, 1);
}

void kairos_txn_set_json(struct kairos_txn *txn, const char *key, const json_t *val)
{
    /* Sorted keys make equal records equal bytes, which kairos_txn_expect relies on. */
    char *s = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);

    if (!s) {
        txn->failed = 1;
        return;
    }
    kairos_txn_set(txn, key, s);
    free(s);
}

void kairos_txn_rm(struct kairos_txn *txn, const char *key)
{
    size_t klen = strlen(key);

    rados_write_op_omap_rm_keys2(txn->op, &key, &klen, 1);
}

void kairos_txn_remove(struct kairos_txn *txn)
{
    txn->removes = 1;
    rados_write_op_remove(txn->op);
}

int kairos_txn_commit(struct kairos_txn *txn, rados_ioctx_t io, const char *oid)
{
    char next[24];
    uint64_t gen;
    int rc;

    if (!txn || txn->failed)
        return -ENOMEM;
    rc = next_gen(&gen);
    if (rc < 0)
        return rc;
    /* Last, because the OSD runs ops in order: an exclusive create must come first. */
    /* A write of gen after the remove would make the object again, holding gen alone. */
    if (!txn->keyed && !txn->removes) {
        snprintf(next, sizeof(next), "%" PRIu64, gen);
        kairos_txn_set(txn, GEN_KEY, next);
    }
    /* Fail with -ENOSPC on a full cluster instead of blocking the caller. */
    rc = rados_write_op_operate(txn->op, io, oid, NULL, LIBRADOS_OPERATION_FULL_TRY);
    return rc;
}

void kairos_txn_free(struct kairos_txn *txn)
{
    if (!txn)
        return;
    rados_release_write_op(txn->op);
    free(txn);
}

void kairos_store_backoff(unsigned attempt)
{
    unsigned shift = attempt < 7 ? attempt : 7;
    uint64_t max_us = 200ULL << shift; /* 0.2 ms .. 25.6 ms */
    uint32_t r;
    struct timespec ts;

    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (uint32_t)attempt * 2654435761u;
    uint64_t us = max_us / 2 + r % (max_us / 2 + 1);
    ts.tv_sec = (time_t)(us / 1000000);
    ts.tv_nsec = (long)(us % 1000000) * 1000;
    nanosleep(&ts, NULL);
}

int kairos_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[KAIROS_RANDOM_MAX];
    int rc;

    out[0] = '\0';
    if (nbytes == 0 || nbytes > sizeof(buf))
        return -EINVAL;
    rc = random_bytes(buf, nbytes);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", buf[i]);
    return 0;
}

uint64_t kairos_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kairos_store_update(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n,
                        bool create, kairos_store_step step, void *arg)
{
    for (unsigned attempt = 0; attempt < KAIROS_STORE_MAX_ATTEMPTS; attempt++) {
        struct kairos_kvs kvs;
        struct kairos_txn *txn = NULL;
        uint64_t gen = 0;
        bool missing = false;
        int rc;

        rc = kairos_store_read(io, oid, keys, n, &gen, &kvs);
        if (rc == -ENOENT && create) {
            memset(&kvs, 0, sizeof(kvs));
            missing = true;
            rc = 0;
        }
        if (rc < 0)
            return rc;
        txn = kairos_txn_new(gen, missing);
        if (!txn) {
            kairos_kvs_free(&kvs);
            return -ENOMEM;
        }
        rc = step(arg, &kvs, txn);
        if (rc == 0) {
            rc = kairos_txn_commit(txn, io, oid);
            /* A create that lost the race meets EEXIST: read the winner's object. */
            if (rc == -ECANCELED || (rc == -EEXIST && missing))
                rc = -EAGAIN;
        }
        kairos_txn_free(txn);
        kairos_kvs_free(&kvs);
        if (rc != -EAGAIN)
            return rc == KAIROS_STORE_NOOP ? 0 : rc;
        kairos_store_backoff(attempt);
    }
    /* Contention, not a conflict: the caller may try again later. */
    return -EAGAIN;
}

static int rm_step(void *arg, const struct kairos_kvs *kvs, struct kairos_txn *txn)
{
    const char *key = arg;

    if (!kairos_kvs_get(kvs, key))
        return KAIROS_STORE_NOOP;
    kairos_txn_rm(txn, key);
    return 0;
}

int kairos_store_rm_key(rados_ioctx_t io, const char *oid, const char *key)
{
    int rc = kairos_store_update(io, oid, &key, 1, false, rm_step, (void *)key);

    return rc == -ENOENT ? 0 : rc;
}
