#!/bin/sh
# own_contract.sh - the repository owns its contract: nothing in it points at
# reference material outside it (the shared directory, the product spec by
# section, the tracer notes); code and docs cite docs/... instead
#
# usage: own_contract.sh SOURCE_DIR
set -u
cd "$1" || exit 2
# the patterns are spelled in pieces, so that this file does not match itself
shared='\.\./'shared
spec='SPEC'' §'
notes='TRACER-''NOTES'
if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "own_contract: not a git checkout: nothing to check" >&2
	exit 0
fi
found=$(git ls-files -z -- . ':!tests/node/package-lock.json' |
	xargs -0 grep -InE "$shared|$spec|$notes" -- 2>/dev/null)
if [ -n "$found" ]; then
	echo "references to material outside the repository (cite docs/... instead):" >&2
	echo "$found" >&2
	exit 1
fi
echo "ok: no reference outside the repository"
