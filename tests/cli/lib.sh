# lib.sh - sourced by the tests/cli scripts: record a failed check, keep going
#
#   check WHAT CMD [ARG...]   runs CMD; if it fails, prints "FAIL: WHAT" and sets fail=1
fail=0
check() {
	what=$1
	shift
	"$@" || { echo "FAIL: $what" >&2; fail=1; }
}
