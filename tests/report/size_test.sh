#!/bin/sh
# size_test.sh - what a suite of trivial tests leaves in profiles/ (docs/reports.md, "Size")
#
# usage: size_test.sh MEMGATE FX_TRIVIAL_C FX_TRIVIAL_CXX RUST_SOURCE OUT_DIR FX_MANY_STACKS
#
# A 1,000-case suite must be able to upload its profiles/ on every run, so a
# trivial case may leave at most 50,000 bytes there: real trivial programs
# in C, C++ and Rust (compiled here with rustc when it is found, on PATH or
# in ~/.cargo/bin; skipped with a note otherwise) under `memgate run`.  By
# default (`html: regressions`) that is the profile alone; a page asked for
# with --html is the profile's data plus at most 40,000 bytes of script and
# style.  Then a profile of 5,000 distinct stacks, half of them only
# allocating: past the 1,000 largest those are summed into "[smaller
# stacks]" rows, and every figure must still add up, in the profile and in
# the folded export; each under its deepest caller a kept stack has, with
# 5,000 and with 100,000 paths.  Sizes, not times: no timing here.
set -u
memgate=$1 fx_c=$2 fx_cxx=$3 rs=$4 out=$5 fx_many=$6
py=${MEMGATE_TEST_PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
BOUND=50000 PAGE_EXTRA=40000
rm -rf "$out"
mkdir -p "$out"
cd "$out" || exit 1

cat >memgate.yml <<YML
version: 1
tests:
  - name: c
    run: [$fx_c]
  - name: cxx
    run: [$fx_cxx]
YML
rustc=$(command -v rustc 2>/dev/null || true)
[ -z "$rustc" ] && [ -x "$HOME/.cargo/bin/rustc" ] && rustc=$HOME/.cargo/bin/rustc
if [ -n "$rustc" ] && "$rustc" -g -C force-frame-pointers=yes -o trivial_rs "$rs" 2>rustc.log; then
	printf '  - name: rust\n    run: [%s]\n' "$out/trivial_rs" >>memgate.yml
	tests="c cxx rust"
else
	echo "note: no rustc (PATH, ~/.cargo/bin) or it failed: the Rust case is skipped" >&2
	tests="c cxx"
fi

size() { wc -c <"$1" | tr -d ' '; }

"$memgate" run >run.log 2>&1; rc=$?
check "run exits 0 (got $rc)" [ "$rc" = 0 ] || cat run.log >&2
for t in $tests; do
	check "$t: no page by default" [ ! -e "profiles/$t.html" ]
	n=$(size "profiles/$t.json")
	echo "$t: profile $n bytes"
	check "$t: the profile is at most $BOUND bytes (got $n)" [ "$n" -le $BOUND ]
	check "$t: the profile has its stack table" grep -q '"nodes":\[' "profiles/$t.json"
done
total=$(du -sb profiles | cut -f1)
echo "profiles/: $total bytes for: $tests"

"$memgate" run --html >run.log 2>&1; rc=$?
check "run --html exits 0 (got $rc)" [ "$rc" = 0 ] || cat run.log >&2
for t in $tests; do
	n=$(size "profiles/$t.html") j=$(size "profiles/$t.json")
	echo "$t: page $n bytes"
	check "$t: the page is its profile ($j) and at most $PAGE_EXTRA bytes (got $n)" \
		[ "$n" -le $((j + PAGE_EXTRA)) ]
done

"$memgate" trace -o many.json -- "$fx_many" 5000 >trace.log 2>&1 ||
	{ echo "FAIL: trace of $fx_many 5000" >&2; cat trace.log >&2; exit 1; }
check "many: every figure adds up (validate_profile.py)" \
	"$py" "$here/../tools/validate_profile.py" "$here/../../docs/profile.schema.json" many.json
check "many: the small stacks are summed" "$py" - many.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["strings"], d["processes"][0]
other = s.index("[smaller stacks]")
frames = [i for i, f in enumerate(p["frames"]) if f[0] == other]
nodes = p["nodes"]
rows = [r for r in p["stacks"] if r[0] >= 0 and nodes[2 * r[0]] in frames]
full = [r for r in p["stacks"] if r not in rows]
# 2,500 only allocate: at most 2,000 of them whole, the rest in a few rows
# that carry nothing at the peak or leaked
ok = (len(frames) == 1 and rows and len(full) <= 2500 + 2000 and
      all(r[3:] == [0, 0, 0, 0] for r in rows) and
      sum(r[2] for r in rows) >= 500)
sys.exit(not ok)
PY
# fx_many_stacks' path i is its base-4 digits, one `step` frame per digit
# (the case of its switch that called on): every stack not kept whole must
# be summed under the deepest caller that a kept stack has too, and each
# such row must carry exactly the bytes and allocations of its stacks
cat >deepest.py <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])                 # the fixture's paths: 0 .. n-1
s, p = d["strings"], d["processes"][0]
fr, nodes = p["frames"], p["nodes"]
other = s.index("[smaller stacks]")
def chain(x):
    out = []
    while x >= 0:
        out.append(fr[nodes[2 * x]])
        x = nodes[2 * x + 1]
    return out[::-1]
# step's lines: the malloc call first, then its switch's four cases, in order
lines = sorted({f[2] for f in fr if f[0] is not None and s[f[0]] == "step"})
def digits(c):
    return tuple(lines.index(f[2]) - 1 for f in c if f[0] is not None and
                 s[f[0]] == "step" and f[2] != lines[0])
kept, got = set(), {}
for r in p["stacks"]:
    c = chain(r[0])
    if c[-1][0] == other:
        k = digits(c[:-1])
        got[k] = [a + b for a, b in zip(got.get(k, [0, 0]), r[1:3])]
    else:
        kept.add(digits(c))
# path i: its base-4 digits, outermost first; summed under the longest
# prefix a kept stack has
prefixes = {k[:m] for k in kept for m in range(len(k) + 1)}
want = {}
for i in range(n):
    k = tuple(i >> (2 * j) & 3 for j in range(9))
    if k in kept:
        continue
    m = max(m for m in range(10) if k[:m] in prefixes)
    want[k[:m]] = [a + b for a, b in zip(want.get(k[:m], [0, 0]), [i % 64 + 1, 1])]
sys.exit(got != want or len(lines) != 5 or not got)
PY
check "many: each small stack is summed under its deepest kept caller" "$py" deepest.py many.json 5000
# the same with 100,000 paths: their ~49,000 smaller stacks are then many for
# the trace's ~475,000 nodes, and the table finds where each is summed by
# the nodes' memo filled front to back (stacks.c, memo_fill), not by
# walking stack by stack as above
"$memgate" trace -o many100k.json -- "$fx_many" 100000 >trace100k.log 2>&1 ||
	{ echo "FAIL: trace of $fx_many 100000" >&2; cat trace100k.log >&2; exit 1; }
check "many (100,000): each small stack is summed under its deepest kept caller" \
	"$py" deepest.py many100k.json 100000
"$memgate" report many.json --format folded -o many.folded
check "many: folded sums to the summary's total_bytes" "$py" -c '
import json, sys
d = json.load(open("many.json"))
t = sum(int(l.rsplit(" ", 1)[1]) for l in open("many.folded"))
sys.exit(t != d["summary"]["total_bytes"] or "[smaller stacks]" not in open("many.folded").read())'
exit $fail
