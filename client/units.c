/*
 * units.c - human sizes and durations (see kairos/units.h).
 *
 * Parsing is exact integer arithmetic, never floating point, so that
 * "1.5PiB" is exactly 1.5 * 2^50 and an overflow is caught, not rounded.
 */
#include <kairos/units.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
    const char *name;
    uint64_t mult;
};

#define KI 1024ULL
#define KD 1000ULL

static const struct unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"K", KI},
    {"KiB", KI},
    {"KB", KD},
    {"M", KI *KI},
    {"MiB", KI *KI},
    {"MB", KD *KD},
    {"G", KI *KI *KI},
    {"GiB", KI *KI *KI},
    {"GB", KD *KD *KD},
    {"T", KI *KI *KI *KI},
    {"TiB", KI *KI *KI *KI},
    {"TB", KD *KD *KD *KD},
    {"P", KI *KI *KI *KI *KI},
    {"PiB", KI *KI *KI *KI *KI},
    {"PB", KD *KD *KD *KD *KD},
    {"E", KI *KI *KI *KI *KI *KI},
    {"EiB", KI *KI *KI *KI *KI *KI},
    {"EB", KD *KD *KD *KD *KD *KD},
};

static const struct unit duration_units[] = {
    {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
};

/*
 * Split "12.345Xyz" into whole (12), frac (345), frac_digits (3) and the
 * unit text. At most 18 fraction digits keep frac inside uint64.
 */
static int split_number(const char *s, uint64_t *whole, uint64_t *frac, unsigned *frac_digits,
                        const char **unit)
{
    const char *p = s;
    uint64_t w = 0, f = 0;
    unsigned nd = 0, fd = 0;

    for (; isdigit((unsigned char)*p); p++, nd++) {
        if (__builtin_mul_overflow(w, 10, &w) || __builtin_add_overflow(w, *p - '0', &w))
            return -ERANGE;
    }
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++, fd++) {
            if (fd >= 18)
                return -EINVAL;
            f = f * 10 + (uint64_t)(*p - '0');
        }
        if (fd == 0)
            return -EINVAL;
    }
    if (nd == 0)
        return -EINVAL;
    *whole = w;
    *frac = f;
    *frac_digits = fd;
    *unit = p;
    return 0;
}

static const struct unit *find_unit(const struct unit *units, size_t n, const char *name,
                                    int case_sensitive)
{
    for (size_t i = 0; i < n; i++) {
        int cmp = case_sensitive ? strcmp(units[i].name, name) : strcasecmp(units[i].name, name);
        if (cmp == 0)
            return &units[i];
    }
    return NULL;
}

/* whole * mult + frac * mult / 10^digits, exactly, or -ERANGE past @max. */
static int scale(uint64_t whole, uint64_t frac, unsigned digits, uint64_t mult, uint64_t max,
                 uint64_t *out)
{
    unsigned __int128 v = (unsigned __int128)whole * mult;
    unsigned __int128 div = 1;

    for (unsigned i = 0; i < digits; i++)
        div *= 10;
    v += (unsigned __int128)frac * mult / div;
    if (v > max)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int kairos_size_parse(const char *s, uint64_t *out)
{
    uint64_t whole, frac;
    unsigned digits;
    const char *unit_name;
    const struct unit *u;
    int rc;

    if (!s || !out)
        return -EINVAL;
    rc = split_number(s, &whole, &frac, &digits, &unit_name);
    if (rc < 0)
        return rc;
    u = find_unit(size_units, sizeof(size_units) / sizeof(size_units[0]), unit_name, 0);
    /* A fraction of a byte means nothing: "1.5" and "1.5B" are refused, "1.5K" is not. */
    if (!u || (digits && u->mult == 1))
        return -EINVAL;
    return scale(whole, frac, digits, u->mult, KAIROS_SIZE_MAX, out);
}

char *kairos_size_format(uint64_t bytes, char *buf, size_t len)
{
    static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned i = 0;
    uint64_t unit = 1;

    while (i + 1 < sizeof(names) / sizeof(names[0]) && bytes / unit >= 1024) {
        unit *= 1024;
        i++;
    }
    if (bytes % unit == 0) {
        snprintf(buf, len, "%" PRIu64 "%s", bytes / unit, names[i]);
    } else {
        /* One decimal, rounded down, in integers so 1023.99 never prints 1024.0. */
        uint64_t tenths = (uint64_t)((unsigned __int128)bytes * 10 / unit);
        snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s", tenths / 10, tenths % 10, names[i]);
    }
    return buf;
}

int kairos_duration_parse(const char *s, uint64_t *out_ms)
{
    uint64_t whole, frac;
    unsigned digits;
    const char *unit_name;
    const struct unit *u;
    int rc;

    if (!s || !out_ms)
        return -EINVAL;
    rc = split_number(s, &whole, &frac, &digits, &unit_name);
    if (rc < 0)
        return rc;
    u = find_unit(duration_units, sizeof(duration_units) / sizeof(duration_units[0]), unit_name, 1);
    if (!u)
        return -EINVAL;
    return scale(whole, frac, digits, u->mult, UINT64_MAX / 2, out_ms);
}

int kairos_ratio_parse(const char *s, double *out)
{
    uint64_t whole, frac;
    unsigned digits;
    const char *rest;
    double v;
    int rc;

    if (!s || !out)
        return -EINVAL;
    rc = split_number(s, &whole, &frac, &digits, &rest);
    if (rc < 0)
        return -EINVAL;
    v = (double)whole + (double)frac / pow(10, digits);
    if (strcmp(rest, "%") == 0)
        v /= 100;
    else if (*rest)
        return -EINVAL;
    *out = v;
    return 0;
}
