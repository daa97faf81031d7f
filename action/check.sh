#!/usr/bin/env bash
# check.sh - the action's gate step: memgate check, then memgate comment publishes its result
#
# Inputs come only from the environment (action.yml maps them): MEMGATE_CONFIG,
# MEMGATE_BASELINE, MEMGATE_COMMENT, MEMGATE_FAIL_ON_REGRESSION,
# MEMGATE_ARTIFACT_NAME, GITHUB_TOKEN.
set -uo pipefail
config=${MEMGATE_CONFIG:-memgate.yml}
baseline=${MEMGATE_BASELINE:-}
case "${MEMGATE_FAIL_ON_REGRESSION:-true}" in
  true|false) ;;
  *) echo "::error title=memgate::fail-on-regression: expected true or false"; exit 2 ;;
esac
# a pull request is gated against what it forked from on its base branch
if [ -z "$baseline" ] && [ -n "${GITHUB_BASE_REF:-}" ]; then
  baseline="origin/$GITHUB_BASE_REF"
fi
jobs=${MEMGATE_JOBS:-1}
if ! [[ "$jobs" =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "::error title=memgate::jobs: expected a whole number of at least 1"
  exit 2
fi
args=(check -c "$config" -j "$jobs")
[ -n "$baseline" ] && args+=(--baseline "$baseline")

# check decides; comment publishes from the result check wrote (so check
# itself must not publish too)
MEMGATE_GITHUB_PUBLISH=0 memgate "${args[@]}"
rc=$?
if [ "$rc" -gt 1 ]; then
  echo "::error title=memgate::memgate check could not decide (exit $rc): see the log above"
  exit "$rc"
fi
memgate comment -c "$config"
crc=$?
if [ "$crc" -gt 1 ]; then
  # the comment or the runner files failed: memgate said why; the gate stands
  echo "memgate: publishing the result failed (exit $crc); the verdict is unchanged"
fi
name=${MEMGATE_ARTIFACT_NAME:-memgate-profiles-${GITHUB_JOB:-job}}
if ! [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
  echo "::error title=memgate::artifact-name: expected letters, digits, '.', '_' or '-', got '${name//[^A-Za-z0-9._-]/?}'"
  exit 2
fi
echo "artifact-name=$name" >> "${GITHUB_OUTPUT:?not run by the action}"
if [ "$rc" = 1 ] && [ "${MEMGATE_FAIL_ON_REGRESSION:-true}" = false ]; then
  exit 0
fi
exit "$rc"
