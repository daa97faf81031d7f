#!/bin/sh
# expect_fail.sh - memgate must refuse (or fail) clearly, and write no profile
#
# usage: expect_fail.sh MEMGATE EXIT PATTERN OUT.json [--setuid-copy FILE DIR]
#                       [--marker FILE] -- CMD [ARG...]
#
# Runs `memgate trace -o OUT.json -- CMD...` in the same fixed environment as
# run_fixture.sh and checks that memgate exits EXIT, that its stderr has a
# line matching the extended regular expression PATTERN (on one line), and
# that OUT.json was not written.
#   --setuid-copy FILE DIR  copy FILE into DIR and chmod u+s before the run;
#                           the copy's path replaces the word @COPY@ in CMD
#   --marker FILE           CMD must still have run: FILE is removed before and
#                           must exist after (e.g. CMD is `touch FILE`)
set -u
memgate=$1 want_exit=$2 pattern=$3 out=$4
shift 4
copy= marker=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	case $1 in
	--setuid-copy)
		mkdir -p "$3"
		copy=$3/$(basename "$2").setuid
		rm -f "$copy"
		cp "$2" "$copy" && chmod u+s "$copy" || { echo "FAIL: cannot make $copy" >&2; exit 1; }
		shift 3 ;;
	--marker)
		marker=$2
		rm -f "$marker"
		shift 2 ;;
	*)
		echo "expect_fail.sh: unknown option $1" >&2
		exit 2 ;;
	esac
done
[ "${1:-}" = "--" ] && shift
if [ -n "$copy" ]; then
	first=$1
	shift
	[ "$first" = "@COPY@" ] && first=$copy
	set -- "$first" "$@"
fi
rm -f "$out"
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
cd /
env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace -o "$out" -- "$@" 2>"$err"
got=$?
status=0
if [ "$got" != "$want_exit" ]; then
	echo "FAIL: memgate exited $got, expected $want_exit" >&2
	status=1
fi
if ! grep -Eq -- "$pattern" "$err"; then
	echo "FAIL: no line of memgate's stderr matches /$pattern/" >&2
	status=1
fi
if [ -e "$out" ]; then
	echo "FAIL: a profile was written to $out" >&2
	status=1
fi
if [ -n "$marker" ] && [ ! -e "$marker" ]; then
	echo "FAIL: the command did not run ($marker is missing)" >&2
	status=1
fi
if [ "$status" != 0 ]; then
	echo "--- memgate's stderr:" >&2
	cat "$err" >&2
fi
exit $status
