#!/usr/bin/env bash
# test.sh - build and run every test: the normal build, then the CLI and core
# rebuilt with AddressSanitizer + UBSan (the tracer itself is never sanitized:
# it is tested through its fixtures, which run unsanitized under it).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake -S . -B build -DMEMGATE_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DMEMGATE_WERROR=ON -DMEMGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j"$jobs"
# the oracle and the wild suite run valgrind on unsanitized programs: once, in
# the normal build, is enough
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE 'oracle|wild'
