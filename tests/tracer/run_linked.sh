#!/bin/sh
# run_linked.sh - run_fixture.sh, then check which process started which
#
# usage: run_linked.sh C:P[,C:P...] RUN_FIXTURE.sh MEMGATE JSON_EXPECT EXIT EXPECTED OUT -- CMD...
#
# C:P means: processes[C].parent equals processes[P].pid (indexes into the
# profile's "processes" array, in its order).  pids vary from run to run, so
# json_expect cannot say this; the profile is cJSON's pretty output, one key
# per line, and "pid"/"parent" appear only in process records.
set -u
links=$1 runner=$2 out=$7
shift 2
"$runner" "$@" || exit 1
pids=$(sed -n 's/^[[:space:]]*"pid":[[:space:]]*\([0-9][0-9]*\),*$/\1/p' "$out")
parents=$(sed -n 's/^[[:space:]]*"parent":[[:space:]]*\([0-9][0-9]*\),*$/\1/p' "$out")
nth() { echo "$2" | sed -n "$(($1 + 1))p"; }
status=0
for l in $(echo "$links" | tr ',' ' '); do
	c=${l%%:*} p=${l##*:}
	got=$(nth "$c" "$parents") want=$(nth "$p" "$pids")
	if [ -z "$want" ] || [ "$got" != "$want" ]; then
		echo "FAIL: processes[$c].parent is '$got', expected processes[$p].pid '$want'" >&2
		status=1
	fi
done
exit $status
