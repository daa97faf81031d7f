#!/bin/sh
# exports_test.sh - trace a fixture, export it in every format, check each against its figures
#
# usage: exports_test.sh MEMGATE FIXTURE OUTDIR NODE_MODULES
#
# Folded (every weight), BMF, github-action-benchmark and DHAT are parsed back
# by check_exports.py; speedscope is validated against speedscope's schema by
# check_speedscope.js (skipped, with a note, when node or the npm tools are missing).
set -u
memgate=$1 fixture=$2 out=$3 modules=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
rm -rf "$out"
mkdir -p "$out"
env -i PATH=/usr/bin:/bin LC_ALL=C HOME=/ "$memgate" trace -o "$out/profile.json" -- "$fixture" \
	>"$out/trace.log" 2>&1 || { echo "FAIL: trace" >&2; cat "$out/trace.log" >&2; exit 1; }

for w in total_bytes allocs peak_bytes peak_blocks leaked_bytes leaked_blocks; do
	check "folded $w" "$memgate" report "$out/profile.json" --format folded --weight "$w" \
		-o "$out/folded.$w.txt"
done
check "folded to stdout is the default weight" sh -c \
	"'$memgate' report '$out/profile.json' --format folded | cmp - '$out/folded.total_bytes.txt'"
check "bmf" "$memgate" report "$out/profile.json" --format bmf -o "$out/bmf.json"
check "gab" "$memgate" report "$out/profile.json" --format github-action-benchmark -o "$out/gab.json"
check "dhat" "$memgate" report "$out/profile.json" --format dhat -o "$out/dhat.json"
check "speedscope" "$memgate" report "$out/profile.json" --format speedscope -o "$out/speedscope.json"
check "exports parse back to the profile's figures" \
	"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" "$here/check_exports.py" "$out/profile.json" "$out"

# the known tree of report_stacks.c, root first, by function
check "folded stacks of the fixture" sh -c "cut -d';' -f2- '$out/folded.total_bytes.txt' | sort >'$out/tree.txt' &&
	printf '%s\n' \
		'_start;__libc_start_main;__libc_start_call_main;main;leaf 300' \
		'_start;__libc_start_main;__libc_start_call_main;main;mid_a;leaf 1000' \
		'_start;__libc_start_main;__libc_start_call_main;main;mid_a;leaf 500' \
		'_start;__libc_start_main;__libc_start_call_main;main;mid_b;leaf 2000' |
	sort | diff -u - '$out/tree.txt'"

# several profiles at once: one BMF document, one benchmark array
cp "$out/profile.json" "$out/second.json"
sed -i 's/"name":[[:space:]]*"fx_report_stacks"/"name": "second"/' "$out/second.json"
check "bmf of two profiles" sh -c "'$memgate' report '$out/profile.json' '$out/second.json' --format bmf |
	${MEMGATE_TEST_PYTHON:-/usr/bin/python3} -c 'import json,sys; d=json.load(sys.stdin); assert sorted(d)==[\"fx_report_stacks\",\"second\"], d'"
check "gab of two profiles" sh -c "'$memgate' report '$out/profile.json' '$out/second.json' --format github-action-benchmark |
	${MEMGATE_TEST_PYTHON:-/usr/bin/python3} -c 'import json,sys; d=json.load(sys.stdin); assert len({e[\"name\"].split(\"/\")[0] for e in d})==2, d'"

if command -v node >/dev/null && [ -d "$modules/ajv" ] && [ -d "$modules/speedscope" ]; then
	check "speedscope schema and sums" node "$here/check_speedscope.js" "$modules" \
		"$out/speedscope.json" "$out/profile.json"
else
	echo "note: node or tests/node/node_modules missing (npm ci): speedscope schema not checked" >&2
fi
exit $fail
