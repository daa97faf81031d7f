#!/bin/sh
# scale.sh - measure memgate report on a profile of N distinct call stacks (docs/reports.md)
#
# usage: scale.sh BUILD_DIR [N] [OUT_DIR]
#
# Not a ctest (it takes ~15 s): run it by hand after changing profile.c's
# stack table or src/report/, and update the table in docs/reports.md.
set -eu
build=$1 n=${2:-100000} out=${3:-$1/tests/report/scale}
here=$(cd "$(dirname "$0")" && pwd)
modules=$here/../node/node_modules
mkdir -p "$out"
cd "$out"
t() { /usr/bin/time -f "%e s, max RSS %M KiB" "$@"; }
echo "== trace of fx_many_stacks $n"
t "$build/memgate" trace -o many.json -- "$build/tests/fx_many_stacks" "$n" 2>&1 | tail -1
for f in folded speedscope dhat; do
	echo "== --format $f"
	t "$build/memgate" report many.json --format "$f" -o "many.$f" 2>&1
done
echo "== --html"
t "$build/memgate" report many.json --html many.html 2>&1
echo "== sizes (bytes, gzip -6)"
for f in many.json many.html many.folded many.speedscope many.dhat; do
	printf '%-16s %10s %10s\n' "$f" "$(wc -c <"$f")" "$(gzip -6c "$f" | wc -c)"
done
echo "== the page in headless Chromium"
node "$here/measure_page.js" "$modules" "${MEMGATE_TEST_CHROMIUM:-/usr/bin/chromium}" many.html
