#!/bin/sh
# expect_failure.sh PROGRAM TEXT - PROGRAM must exit non-zero and say TEXT on stderr.
out=$("$1" 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "FAIL: $1 passed without a cluster; it must fail" >&2
    exit 1
fi
case "$out" in
*"$2"*) echo "ok: $1 failed with exit $rc and said: $2" ;;
*) echo "FAIL: $1 failed (exit $rc) without saying '$2':" >&2; echo "$out" >&2; exit 1 ;;
esac
