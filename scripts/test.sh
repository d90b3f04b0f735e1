#!/usr/bin/env bash
# test.sh - install, build and run every test, from a fresh Debian 12 machine.
#
#   scripts/test.sh            everything: format check, a -Werror build and an
#                              AddressSanitizer+UBSan build, each running the unit
#                              and the integration tests (each run starts and
#                              stops its own local cluster through ctest fixtures)
#   scripts/test.sh --quick    unit tests of the -Werror build only (no cluster)
#
# .ci/run calls this. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps

echo "== format (clang-format --dry-run)"
scripts/format --check

jobs=$(nproc)
echo "== build: -Werror"
cmake -S . -B build -DKAIROS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
if [ $quick = 1 ]; then
    (cd build && ctest -L unit --output-on-failure)
    exit 0
fi

echo "== build: AddressSanitizer + UBSan"
cmake -S . -B build-asan -DKAIROS_WERROR=ON -DKAIROS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

for b in build build-asan; do
    echo "== tests: $b"
    (cd "$b" && ctest --output-on-failure --timeout 900)
done
echo "== all tests passed"
