#!/bin/sh
# expect.sh - run a command, check its exit status and that its output matches
#
# usage: expect.sh EXIT PATTERN -- CMD [ARG...]
# PATTERN is an extended regular expression matched against stdout+stderr.
set -u
want=$1 pattern=$2
shift 2
[ "$1" = "--" ] && shift
out=$("$@" 2>&1)
got=$?
status=0
if [ "$got" != "$want" ]; then
	echo "FAIL: exited $got, expected $want" >&2
	status=1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
	echo "FAIL: output does not match /$pattern/" >&2
	status=1
fi
[ $status = 0 ] || printf -- '--- output:\n%s\n' "$out" >&2
exit $status
