#!/usr/bin/env bash
# test.sh - install, build and run every test, from a fresh Debian 12 machine.
#
#   scripts/test.sh            everything: format check, a -Werror build and an
#                              AddressSanitizer+UBSan build, each running the unit
#                              and the integration tests (each run starts and
#                              stops its own local cluster through ctest fixtures),
#                              then 30 s of libFuzzer on kairosd's request handling
#   scripts/test.sh --quick    unit tests of the -Werror build only (no cluster)
#
# .ci/run calls this. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# CI may start us with no standard input at all: the tests, and the clusters
# and daemons they start, get /dev/null rather than a free descriptor 0.
exec </dev/null
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

# libFuzzer on request routing and JSON handling, briefly; a longer run is
# documented in README.md. A copy of the seed corpus keeps the repo clean.
echo "== fuzz: kairosd routing and JSON (30 s)"
CC=clang cmake -S . -B build-fuzz -DKAIROS_FUZZ=ON -DKAIROS_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_api
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus"/
build-fuzz/tests/fuzz/fuzz_api -max_total_time=30 -print_final_stats=1 "$corpus" 2>&1 | tail -3
echo "== all tests passed"
