#!/usr/bin/env bash
# bootstrap.sh - install dependencies, build memgate into build/, and trace the example program
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
echo
echo "== memgate trace on examples/leaky.c (it forks; both processes leak on purpose)"
build/memgate trace -o build/example-profile.json -- build/examples/leaky 1000
build/memgate report build/example-profile.json --html build/example-report.html
echo
echo "the profile is in build/example-profile.json, its page (timeline, flame graphs)"
echo "in build/example-report.html; run the tests with: scripts/test.sh"
