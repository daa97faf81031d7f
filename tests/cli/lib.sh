# lib.sh - sourced by the tests/cli scripts: record a failed check, keep going
#
#   check WHAT CMD [ARG...]   runs CMD; if it fails, prints "FAIL: WHAT" and sets fail=1
#   checks_pass N MEMGATE OK  runs `MEMGATE check` N times, its output in out.txt; a run
#                             passes when it exits 0 and the command OK succeeds (its
#                             output is added to out.txt); $passed counts those, and the
#                             output of any other is printed
fail=0
check() {
	what=$1
	shift
	"$@" || { echo "FAIL: $what" >&2; fail=1; }
}
checks_pass() {
	n=$1 mg=$2 ok=$3
	passed=0 i=0
	while [ "$i" -lt "$n" ]; do
		i=$((i + 1))
		"$mg" check >out.txt 2>&1; rc=$?
		if [ "$rc" = 0 ] && "$ok" >>out.txt 2>&1; then
			passed=$((passed + 1))
		else
			echo "check $i (exit $rc):" >&2
			cat out.txt >&2
		fi
	done
}
