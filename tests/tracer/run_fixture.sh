#!/bin/sh
# run_fixture.sh - trace one fixture and compare its profile with the expected figures
#
# usage: run_fixture.sh MEMGATE JSON_EXPECT EXIT EXPECTED.json OUT.json [TRACE-OPTION...] -- CMD [ARG...]
#
# A TRACE-OPTION of the form NAME=VALUE is set in the environment instead
# (MEMGATE_SHADOW=0: the tracer keeps every block in its side table); an
# option --NAME=VALUE is passed as --NAME VALUE.
#
# The fixture runs with a fixed, minimal environment and working directory:
# some programs allocate by the length of $PWD and of the environment.
# EXIT is memgate's expected exit status.  The profile must also validate
# against docs/profile.schema.json (tests/tools/validate_profile.py).
set -u
memgate=$1 json_expect=$2 want_exit=$3 expected=$4 out=$5
shift 5
opts= vars=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	case $1 in
	-*=*) opts="$opts ${1%%=*} ${1#*=}" ;;   # --depth=4: `memgate trace --depth 4`
	-*) opts="$opts $1" ;;   # options for `memgate trace` (no spaces inside)
	*=*) vars="$vars $1" ;;
	esac
	shift
done
[ "${1:-}" = "--" ] && shift
mkdir -p "$(dirname "$out")"
rm -f "$out"
cd /
# shellcheck disable=SC2086
# the program's stdout goes to a file: stdio then buffers it the same way
# whether the tests run in a terminal or not
env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ $vars "$memgate" trace $opts -o "$out" -- "$@" >"$out.stdout"
got=$?
if [ "$got" != "$want_exit" ]; then
	echo "FAIL: memgate exited $got, expected $want_exit" >&2
	exit 1
fi
# $line:NAME patterns in the expectation refer to markers in the fixture sources
JSON_EXPECT_SRC=$(dirname "$0")/fixtures "$json_expect" "$expected" "$out" || exit 1
# every profile must also follow the documented schema and its invariants
here=$(dirname "$0")
exec "${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" "$here/../tools/validate_profile.py" "$here/../../docs/profile.schema.json" "$out"
