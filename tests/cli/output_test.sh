#!/bin/sh
# output_test.sh - what the tests print: captured into profiles/<test>.log, shown when the
# program did not exit 0, bounded, never interleaved under -j; --no-capture as before
#
# usage: output_test.sh MEMGATE
set -u
memgate=$1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"

# each chatty test prints 40 lines, alternating stdout and stderr, with a pause mid-way
# so that two tests run with -j 2 overlap
chatty() {
	printf "['sh', '-c', 'i=0; while [ \$i -lt 20 ]; do echo \"%s out \$i\"; echo \"%s err \$i\" >&2; i=\$((i+1)); [ \$i = 10 ] && sleep 0.3; done; exit %s']" "$1" "$1" "$2"
}
cat > memgate.yml <<YML
version: 1
tests:
  - name: passes
    run: $(chatty passes 0)
  - name: fails
    run: $(chatty fails 3)
  - name: also_fails
    run: $(chatty also_fails 4)
  - name: big
    run: [seq, 1, 100000]
  - name: big_fails
    run: [sh, -c, 'seq 1 100000; exit 1']
  - name: silent
    run: [sh, -c, 'exit 5']
YML
# what a chatty test prints, in order
expect() {
	i=0
	while [ $i -lt 20 ]; do echo "$1 out $i"; echo "$1 err $i"; i=$((i + 1)); done
}
expect passes >want.passes
expect fails >want.fails
expect also_fails >want.also_fails

# a test that passes: nothing of it in memgate's output, all of it in its log, in order
"$memgate" run passes >out.txt 2>err.txt; rc=$?
check "run passes exits 0 (got $rc)" [ "$rc" = 0 ]
check "a passing test's output is not in memgate's stdout" [ ! -s out.txt ]
check "a passing test's output is not in memgate's stderr" sh -c '! grep -q "passes out\|passes err" err.txt'
check "its row is there" grep -q '^passes .* exit 0$' err.txt
check "its log holds stdout and stderr, in order" cmp want.passes profiles/passes.log

# a test that fails: its output after its row, in order, between two lines naming it
"$memgate" run fails >out.txt 2>err.txt; rc=$?
check "run of a test that exits 3 exits 0: it was measured (got $rc)" [ "$rc" = 0 ]
check "nothing on memgate's stdout" [ ! -s out.txt ]
{ grep '^fails .* exit 3$' err.txt; echo "---- output of fails (profiles/fails.log) ----"
  cat want.fails; echo "---- end of fails's output ----"; } >want.txt
check "a failing test's output follows its row, in order" \
	sh -c 'sed -n "/^fails /,/^---- end of fails/p" err.txt | cmp - want.txt'
check "its log is kept" cmp want.fails profiles/fails.log

# a test that prints nothing leaves no log, not even a stale one
"$memgate" run silent >out.txt 2>err.txt
check "a silent test has no log" [ ! -e profiles/silent.log ]
check "and shows no output block" sh -c '! grep -q "^---- output" err.txt'

# --no-capture: as memgate trace, the test writes to memgate's stdout and stderr; the
# stale log goes
"$memgate" run --no-capture passes >out.txt 2>err.txt; rc=$?
check "run --no-capture exits 0 (got $rc)" [ "$rc" = 0 ]
check "--no-capture: its stdout is memgate's" sh -c 'grep "^passes out" want.passes | cmp - out.txt'
check "--no-capture: its stderr is memgate's" sh -c '[ "$(grep -c "^passes err" err.txt)" = 20 ]'
check "--no-capture removes the stale log" [ ! -e profiles/passes.log ]
"$memgate" run --no-capture -j 2 silent passes >out.txt 2>err.txt
check "--no-capture with -j 2 says it runs one at a time" \
	grep -q '^memgate: --no-capture runs one test at a time (-j 2 ignored)$' err.txt

# more than the bound: the first 64 KiB and the last 192 KiB kept, the cut told exactly
total=$(seq 1 100000 | wc -c)
cut=$((total - 65536 - 196608))
"$memgate" run big big_fails >out.txt 2>err.txt; rc=$?
check "run big exits 0 (got $rc)" [ "$rc" = 0 ]
line="[memgate: $cut bytes of output cut here; the log keeps the first 64 KiB and the last 192 KiB]"
# the line starts a line of its own: the head ends inside one (at byte 65536 of seq's)
{ seq 1 100000 | head -c 65536; echo; echo "$line"; seq 1 100000 | tail -c 196608; } >want.big
check "the head ends inside a line" sh -c '[ "$(seq 1 100000 | head -c 65536 | tail -c 1)" != "" ]'
check "the log of a big output is bounded and says what was cut" cmp want.big profiles/big.log
check "big_fails's log is the same" cmp want.big profiles/big_fails.log
check "a passing test's big output is not shown" sh -c '! grep -q "^---- output of big " err.txt'
check "a failing one's is shown, bounded" sh -c '[ "$(grep -c "^\[memgate: $0 bytes of output cut" err.txt)" = 1 ]' "$cut"

# -j 2, two chatty failing tests overlapping: each one's output in one piece, after its row
"$memgate" run -j 2 fails also_fails passes >out.txt 2>err.txt; rc=$?
check "run -j 2 exits 0 (got $rc)" [ "$rc" = 0 ]
check "-j 2: nothing on memgate's stdout" [ ! -s out.txt ]
for t in fails also_fails; do
	{ echo "---- output of $t (profiles/$t.log) ----"; cat want.$t
	  echo "---- end of $t's output ----"; } >want.txt
	check "-j 2: $t's output is in one piece" \
		sh -c 'sed -n "/^---- output of $0 /,/^---- end of $0.s output/p" err.txt | cmp - want.txt' "$t"
	check "-j 2: right after $t's row" sh -c 'grep -A1 "^$0 .* exit [34]$" err.txt | tail -1 | grep -q "^---- output of $0 "' "$t"
done
check "-j 2: the passing test's output is not shown" sh -c '! grep -q "passes out\|passes err" err.txt'
check "-j 2: 3 rows and 2 output blocks, nothing else" \
	sh -c '[ "$(grep -vc "^\(fails\|also_fails\) \(out\|err\) " err.txt)" = 9 ]'

# --format json names each test's log, null for a test that printed nothing
"$memgate" run --format json passes silent >out.json 2>err.txt
check "--format json: the log of each test" /usr/bin/python3 -c '
import json, sys
t = {x["name"]: x for x in json.load(open("out.json"))["tests"]}
sys.exit(not (t["passes"]["log"] == "profiles/passes.log" and t["silent"]["log"] is None))'

# check measures the same way: its table on stdout stays its own
git init -q . && git add memgate.yml && git -c user.name=t -c user.email=t@t commit -qm t
"$memgate" check passes fails >out.txt 2>err.txt; rc=$?
check "check of new tests exits 0 (got $rc)" [ "$rc" = 0 ]
check "check: no test output on stdout" sh -c '! grep -q " out \| err " out.txt'
check "check: the failing test's output shown on stderr" \
	sh -c '[ "$(grep -c "^fails \(out\|err\) " err.txt)" = 40 ]'
check "check: not the passing one's" sh -c '! grep -q "^passes \(out\|err\) " err.txt'

[ "$fail" = 0 ] || { echo "stderr of the last run:" >&2; cat err.txt >&2; }
exit "$fail"
