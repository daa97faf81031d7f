#!/bin/sh
# stress_test.sh - a program that counts its own heap traffic, traced: the profile must agree
#
# usage: stress_test.sh MEMGATE FX_THREADS_STRESS WORK_DIR ROUNDS
#
# The fixture's threads free and reallocate each other's blocks at random
# (fixtures/threads_stress.c) and print their counts; memgate must report
# exactly those, plus the 8 DTVs of pthread_create (272 bytes each, live at
# exit), in every round, and a profile that keeps the schema's invariants.
set -u
memgate=$1 fx=$2 work=$3 rounds=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd / || exit 1
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	out=$work/stress.$i.json
	env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace -o "$out" -- "$fx" >"$work/counts.$i" 2>"$work/err.$i"
	rc=$?
	if [ $rc != 0 ]; then
		echo "FAIL: round $i: memgate exited $rc" >&2
		cat "$work/err.$i" >&2
		exit 1
	fi
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" - "$out" "$work/counts.$i" "$i" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
allocs, frees, nbytes = map(int, open(sys.argv[2]).read().split())
s = doc["summary"]
want = {"allocs": allocs + 8, "frees": frees, "total_bytes": nbytes + 8 * 272,
        "leaked_bytes": 8 * 272, "leaked_blocks": 8}
bad = [f"{k}: memgate {s[k]}, program {v}" for k, v in want.items() if s[k] != v]
p = doc["processes"][0]
if not p["multithreaded"]:
    bad.append("not marked multithreaded")
if p["unknown_frees"]:
    bad.append(f"unknown_frees {p['unknown_frees']}")
if not 0 < s["peak_bytes"] <= s["total_bytes"]:
    bad.append(f"peak {s['peak_bytes']} outside (0, total]")
if bad:
    print(f"FAIL: round {sys.argv[3]}: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" "$here/../tools/validate_profile.py" "$here/../../docs/profile.schema.json" "$out" || exit 1
done
echo "ok: $rounds rounds, every count exact"
