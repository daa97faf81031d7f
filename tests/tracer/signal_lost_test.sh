#!/bin/sh
# signal_lost_test.sh - a signal handlers' queue with no room: what it drops is counted and said
#
# usage: signal_lost_test.sh MEMGATE FX_SIGNAL_COUNT WORK_DIR
#
# fixtures/signal_count.c allocates in a timer's handler while the program
# allocates in a loop.  MEMGATE_TEST_DEFER_MAX=0 leaves the queue of the
# handlers' calls made inside the tracer no room (src/tracer/record.c,
# defer_slot), so each such call passes through unrecorded: the profile
# must fall short of the program's own counts by exactly the number its
# warning gives, every one a 1000-byte block of the handler.
set -u
memgate=$1 fx=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cd / || exit 1
env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ MEMGATE_TEST_DEFER_MAX=0 \
	"$memgate" trace -o "$work/p.json" -- "$fx" >"$work/counts" 2>"$work/err"
rc=$?
if [ $rc != 0 ]; then
	echo "FAIL: memgate exited $rc" >&2
	cat "$work/err" >&2
	exit 1
fi
exec "${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" - "$work/p.json" "$work/counts" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
s, p = doc["summary"], doc["processes"][0]
want = {}
for l in open(sys.argv[2]):
    f = l.split()
    want[f[0].lstrip("#")] = int(f[1])
lost_allocs = want["allocs"] - s["allocs"]
lost_frees = want["frees"] - s["frees"]
said = [int(m.group(1)) for w in doc["warnings"]
        for m in [re.search(r"(\d+) allocations or frees of its signal handlers", w)] if m]
print("handler calls %d, lost: allocs %d, frees %d; warnings %s"
      % (want["handler_calls"], lost_allocs, lost_frees, said))
bad = []
if lost_allocs <= 0:
    bad.append("no handler call was dropped: the test proves nothing")
if said != [lost_allocs + lost_frees]:
    bad.append(f"the warning says {said}, the counts fall short by {lost_allocs + lost_frees}")
if lost_frees < 0 or lost_frees > lost_allocs:
    bad.append(f"frees short by {lost_frees}, allocations by {lost_allocs}")
if want["total_bytes"] - s["total_bytes"] != 1000 * lost_allocs:
    bad.append(f"total_bytes short by {want['total_bytes'] - s['total_bytes']}, "
               f"not 1000 x {lost_allocs}")
if p["unknown_frees"]:
    bad.append(f"unknown_frees {p['unknown_frees']}")
if bad:
    print("FAIL: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
print("ok: every dropped call counted in the warning")
PY
