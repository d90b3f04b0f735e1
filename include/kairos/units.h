/*
 * kairos/units.h - human sizes and durations, parsed and printed.
 *
 * Sizes follow the Ceph tools: a bare letter is binary (10G = 10 GiB, as in
 * `rbd create --size 10G`), the IEC forms are binary (1.5PiB), and the SI
 * forms with a B are decimal (147TB = 147e12 bytes). Letters are not case
 * sensitive. The grammar, the one docs/openapi.json gives for a size string:
 *
 *     [0-9]+ [B]?                                   whole bytes
 *     [0-9]+ ( "." [0-9]{1,18} )? [KMGTPE] ( "iB" | "B" )?
 *
 * A fraction needs a unit of K or more ("1.5" and "1.5B" are refused) and
 * is rounded down to whole bytes. kairosctl and kairosd both read sizes
 * with kairos_size_parse(), so a size means the same on either side.
 *
 * All functions are pure and thread-safe.
 *
 * In libkairos-client (pkg-config kairos-client), which needs no Ceph library.
 */
#ifndef KAIROS_UNITS_H
#define KAIROS_UNITS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest size Kairos accepts: Ceph keeps quotas and sizes as int64. */
#define KAIROS_SIZE_MAX ((uint64_t)INT64_MAX)

/* Room for any kairos_size_format() result, NUL included. */
#define KAIROS_SIZE_STR_MAX 32

/**
 * kairos_size_parse() - parse "4096", "500G", "1.5PiB", "147TB".
 * @s:   NUL-terminated; no sign, no surrounding spaces.
 * @out: receives the size in bytes on success; untouched on error.
 *
 * Return: 0; -EINVAL if @s is not a size (empty, a sign, an unknown unit,
 * junk); -ERANGE if the size exceeds KAIROS_SIZE_MAX.
 */
int kairos_size_parse(const char *s, uint64_t *out);

/**
 * kairos_size_format() - print @bytes in the largest binary unit that keeps
 * it readable: "512B", "10GiB", "1.5PiB". Exact values print without a
 * fraction; others with one decimal, rounded down.
 * @buf: receives the text; at least KAIROS_SIZE_STR_MAX bytes is always enough.
 *
 * Return: @buf.
 */
char *kairos_size_format(uint64_t bytes, char *buf, size_t len);

/**
 * kairos_duration_parse() - parse "250ms", "30s", "5m", "2h", "1d"; a bare
 * number is seconds.
 * @out: receives milliseconds.
 *
 * Return: 0, -EINVAL (not a duration) or -ERANGE (too long).
 */
int kairos_duration_parse(const char *s, uint64_t *out_ms);

/**
 * kairos_ratio_parse() - parse a non-negative decimal ("0.85", "3") or a
 * percentage ("85%", which gives 0.85).
 *
 * Return: 0 or -EINVAL.
 */
int kairos_ratio_parse(const char *s, double *out);

#ifdef __cplusplus
}
#endif
#endif
