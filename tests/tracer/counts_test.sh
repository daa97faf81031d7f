#!/bin/sh
# counts_test.sh - a program that counts its own heap traffic, traced: the profile must agree
#
# usage: counts_test.sh MEMGATE FIXTURE WORK_DIR ROUNDS
#
# The fixture prints `field value` lines: each field of the profile's summary
# it names must be exactly that value, in every round (a field starting with
# `#` is only shown).  The profile must also keep the schema's invariants.
set -u
memgate=$1 fx=$2 work=$3 rounds=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd / || exit 1
i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	out=$work/counts.$i.json
	env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace -o "$out" -- "$fx" >"$work/counts.$i" 2>"$work/err.$i"
	rc=$?
	if [ $rc != 0 ]; then
		echo "FAIL: round $i: memgate exited $rc" >&2
		cat "$work/err.$i" >&2
		exit 1
	fi
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" - "$out" "$work/counts.$i" "$i" <<'PY' || exit 1
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
want = dict(l.split() for l in open(sys.argv[2]) if l.strip())
print("round %s: %s" % (sys.argv[3], ", ".join("%s %s" % kv for kv in want.items())))
bad = ["%s: memgate %s, program %s" % (k, s[k], v) for k, v in want.items()
       if not k.startswith("#") and s[k] != int(v)]
if len(want) < 2 or bad:
    print("FAIL: round %s: %s" % (sys.argv[3], "; ".join(bad) or "no counts"), file=sys.stderr)
    sys.exit(1)
PY
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" "$here/../tools/validate_profile.py" "$here/../../docs/profile.schema.json" "$out" || exit 1
done
echo "ok: $rounds rounds, every count exact"
