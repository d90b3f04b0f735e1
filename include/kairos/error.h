/*
 * kairos/error.h - an errno code with the sentence that explains it.
 *
 * Every libkairos call returns 0 or a negative errno, as librados does, and
 * takes an optional struct kairos_error that receives a readable message
 * ("project demo: volume bytes quota 10GiB exceeded: ..."), so a caller can
 * say *which* limit was hit. The library never prints.
 *
 * Thread safety: a struct kairos_error belongs to one caller; do not share one
 * between threads.
 *
 * In libkairos-client (pkg-config kairos-client), which needs no Ceph library.
 */
#ifndef KAIROS_ERROR_H
#define KAIROS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define KAIROS_ERROR_MSG_MAX 512

struct kairos_error {
    int code;                       /* 0 or the negative errno returned */
    char msg[KAIROS_ERROR_MSG_MAX]; /* NUL-terminated; "" when code is 0 */
};

/**
 * kairos_error_set() - record an error and return its code.
 * @err:  may be NULL, in which case only the code is returned.
 * @code: a negative errno.
 * @fmt:  printf-style message; truncated to fit.
 *
 * The first error recorded wins: a later call does not overwrite a message
 * already set, so the innermost (most precise) cause survives cleanup paths.
 *
 * Return: @code.
 */
int kairos_error_set(struct kairos_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * kairos_error_clear() - reset @err to "no error". @err may be NULL.
 */
void kairos_error_clear(struct kairos_error *err);

/**
 * kairos_error_msg() - the message for @err, or strerror(-@code) if none.
 * @err:  may be NULL.
 * @code: used when @err carries no message.
 *
 * Return: a string owned by @err or static storage; never NULL.
 */
const char *kairos_error_msg(const struct kairos_error *err, int code);

#ifdef __cplusplus
}
#endif
#endif
