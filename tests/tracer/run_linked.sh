#!/bin/sh
# run_linked.sh - run_fixture.sh, then check which process started which
#
# usage: run_linked.sh C:P[,C:P...] RUN_FIXTURE.sh MEMGATE JSON_EXPECT EXIT EXPECTED OUT -- CMD...
#
# C:P means: processes[C].parent equals processes[P].pid (indexes into the
# profile's "processes" array, in its order).  pids vary from run to run, so
# json_expect cannot say this.
set -u
links=$1 runner=$2 out=$7
shift 2
"$runner" "$@" || exit 1
exec "${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" - "$links" "$out" <<'PY'
import json, sys
procs = json.load(open(sys.argv[2]))["processes"]
status = 0
for link in sys.argv[1].split(","):
    c, p = (int(x) for x in link.split(":"))
    got = procs[c]["parent"] if c < len(procs) else None
    want = procs[p]["pid"] if p < len(procs) else None
    if want is None or got != want:
        print(f"FAIL: processes[{c}].parent is '{got}', expected processes[{p}].pid '{want}'",
              file=sys.stderr)
        status = 1
sys.exit(status)
PY
