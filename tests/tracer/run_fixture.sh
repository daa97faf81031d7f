#!/bin/sh
# run_fixture.sh - trace one fixture and compare its profile with the expected figures
#
# usage: run_fixture.sh MEMGATE JSON_EXPECT EXIT EXPECTED.json OUT.json [--keep-env] -- CMD [ARG...]
#
# The fixture runs with a fixed, minimal environment and working directory:
# some programs allocate by the length of $PWD and of the environment.
# EXIT is memgate's expected exit status.
set -u
memgate=$1 json_expect=$2 want_exit=$3 expected=$4 out=$5
shift 5
[ "$1" = "--" ] && shift
mkdir -p "$(dirname "$out")"
rm -f "$out"
cd /
env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace -o "$out" -- "$@"
got=$?
if [ "$got" != "$want_exit" ]; then
	echo "FAIL: memgate exited $got, expected $want_exit" >&2
	exit 1
fi
exec "$json_expect" "$expected" "$out"
