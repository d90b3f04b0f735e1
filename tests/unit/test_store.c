/*
 * test_store.c - the parts of the record store that need no cluster: ids
 * and generations come from the kernel's random source or not at all.
 *
 * getrandom() is interposed here, so a test can make the kernel's source
 * fail for the calling thread the way an old kernel or a broken sandbox
 * would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

/* 0: the real source; else getrandom() fails with it (EINTR only once). */
static __thread int fail_errno;
static __thread unsigned calls;

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
    calls++;
    if (fail_errno) {
        errno = fail_errno;
        if (fail_errno == EINTR)
            fail_errno = 0;
        return -1;
    }
    return syscall(SYS_getrandom, buf, len, flags);
}

static void random_hex(void **state)
{
    char a[2 * 16 + 1], b[2 * 16 + 1];

    (void)state;
    assert_int_equal(kairos_random_hex(a, 16), 0);
    assert_int_equal(kairos_random_hex(b, 16), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
    assert_int_equal(kairos_random_hex(a, 0), -EINVAL);
    assert_int_equal(kairos_random_hex(a, KAIROS_RANDOM_MAX + 1), -EINVAL);
}

static void no_randomness_no_id(void **state)
{
    char id[2 * 16 + 1] = "unchanged";

    (void)state;
    /* No fallback to rand() or to zeros: the caller gets the error. */
    fail_errno = ENOSYS;
    assert_int_equal(kairos_random_hex(id, 16), -ENOSYS);
    assert_string_equal(id, "");
    fail_errno = EAGAIN;
    assert_int_equal(kairos_random_hex(id, 16), -EAGAIN);
    /* An interrupted read is only retried. */
    fail_errno = EINTR;
    calls = 0;
    assert_int_equal(kairos_random_hex(id, 16), 0);
    assert_int_equal(calls, 2);
    assert_int_equal(strlen(id), 32);
    fail_errno = 0;
}

static void no_randomness_no_write(void **state)
{
    struct kairos_txn *txn = kairos_txn_new(0, true);

    (void)state;
    assert_non_null(txn);
    kairos_txn_set(txn, "k", "v");
    /* The new gen cannot be made: nothing is sent (the ioctx is never used). */
    fail_errno = ENOSYS;
    assert_int_equal(kairos_txn_commit(txn, NULL, "never-written"), -ENOSYS);
    fail_errno = 0;
    kairos_txn_free(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_hex),
        cmocka_unit_test(no_randomness_no_id),
        cmocka_unit_test(no_randomness_no_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
