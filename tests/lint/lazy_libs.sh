#!/bin/sh
# lazy_libs.sh - memgate loads libgit2 and libcurl on first use, never at start
#
# usage: lazy_libs.sh MEMGATE
#
# Linked, their dependency chains cost every command (`memgate trace` of a
# short program included) about 5 ms (libgit2) and 8 ms (libcurl) of dynamic
# loading; src/core/git.c and src/github/api.c dlopen them instead.  This
# fails when either comes back as a DT_NEEDED of the binary, and checks that
# a command which needs neither does not load them.
set -u
memgate=$1
status=0
needed=$(objdump -p "$memgate" | awk '$1 == "NEEDED" {print $2}')
for lib in libgit2 libcurl; do
	if echo "$needed" | grep -q "^$lib"; then
		echo "FAIL: $memgate links $lib (DT_NEEDED); it must be loaded on first use" >&2
		status=1
	fi
done
# the loader's own account: no libgit2 or libcurl opened by `memgate --version`
if LD_DEBUG=files "$memgate" --version 2>&1 >/dev/null | grep -E 'file=lib(git2|curl)' >&2; then
	echo "FAIL: 'memgate --version' loaded libgit2 or libcurl" >&2
	status=1
fi
exit $status
