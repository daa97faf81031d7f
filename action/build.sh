#!/usr/bin/env bash
# build.sh - builds memgate from the action's own checkout into $RUNNER_TEMP and puts it on PATH
set -euo pipefail
src=${GITHUB_ACTION_PATH:?not run by the action}
out=${RUNNER_TEMP:-/tmp}/memgate-build
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release -DMEMGATE_BUILD_TESTS=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" >/dev/null
"$out/memgate" --version
echo "$out" >> "${GITHUB_PATH:?not run by the action}"
