#!/bin/sh
# counts_test.sh - a program that counts its own heap traffic, traced: the profile must agree
#
# usage: counts_test.sh MEMGATE FIXTURE WORK_DIR ROUNDS [DTVS [TRACE-OPTION...]]
#
# The fixture prints `field value` lines: each field of the profile's summary
# it names must be exactly that value, in every round (a field starting with
# `#` is only shown; FIELD_min and FIELD_max bound FIELD).  A line of three numbers is `allocs frees total_bytes`.
# With DTVS, the fixture started that many threads: memgate must add their
# DTVs (272 bytes each, live at exit, pthread_create's calloc), and mark the
# process multithreaded.  TRACE-OPTIONs go to `memgate trace` (--no-stacks).
# The profile must also keep the schema's invariants.
set -u
memgate=$1 fx=$2 work=$3 rounds=$4 dtvs=${5:-}
shift 4
[ $# -gt 0 ] && shift
opts="$*"
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd / || exit 1
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	out=$work/counts.$i.json
	env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace $opts -o "$out" -- "$fx" >"$work/counts.$i" 2>"$work/err.$i"
	rc=$?
	if [ $rc != 0 ]; then
		echo "FAIL: round $i: memgate exited $rc" >&2
		cat "$work/err.$i" >&2
		exit 1
	fi
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" - "$out" "$work/counts.$i" "$i" "$dtvs" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
s, p = doc["summary"], doc["processes"][0]
want = {}
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) == 3:
        want.update(zip(("allocs", "frees", "total_bytes"), f))
    elif len(f) == 2:
        want[f[0]] = f[1]
want = {k: int(v) for k, v in want.items()}
print("round %s: %s" % (sys.argv[3], ", ".join("%s %s" % kv for kv in want.items())))
bad = []
if sys.argv[4]:
    n = int(sys.argv[4])
    want["allocs"] += n
    want["total_bytes"] += n * 272
    want["leaked_bytes"], want["leaked_blocks"] = n * 272, n
    if not p["multithreaded"]:
        bad.append("not marked multithreaded")
    if not 0 < s["peak_bytes"] <= s["total_bytes"]:
        bad.append(f"peak {s['peak_bytes']} outside (0, total]")
if p["unknown_frees"]:
    bad.append(f"unknown_frees {p['unknown_frees']}")
def off(k, v):
    if k.endswith("_min"):
        return s[k[:-4]] < v
    if k.endswith("_max"):
        return s[k[:-4]] > v
    return s[k] != v
bad += ["%s: memgate %s, program %s" % (k, s[k[:-4]] if k[-4:] in ("_min", "_max") else s[k], v)
        for k, v in want.items() if not k.startswith("#") and off(k, v)]
if len(want) < 2 or bad:
    print("FAIL: round %s: %s" % (sys.argv[3], "; ".join(bad) or "no counts"), file=sys.stderr)
    sys.exit(1)
PY
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" "$here/../tools/validate_profile.py" "$here/../../docs/profile.schema.json" "$out" || exit 1
done
echo "ok: $rounds rounds, every count exact"
