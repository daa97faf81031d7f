#!/bin/sh
# errors_test.sh - memgate report on bad input: exit codes and one clear line
#
# usage: errors_test.sh MEMGATE FIXTURE OUTDIR
set -u
memgate=$1 fixture=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
rm -rf "$out"
mkdir -p "$out"
"$memgate" trace -o "$out/profile.json" -- "$fixture" >/dev/null 2>&1 || { echo "FAIL: trace" >&2; exit 1; }

# fails WHAT EXIT PATTERN [ONE] -- CMD...: CMD exits EXIT, prints nothing on
# stdout, and its stderr matches PATTERN; with ONE, stderr is exactly one line
fails() {
	what=$1 want=$2 pattern=$3
	shift 3
	one=0
	[ "$1" = one ] && { one=1; shift; }
	[ "$1" = -- ] && shift
	"$@" >"$out/stdout" 2>"$out/stderr"
	got=$?
	ok=1
	[ "$got" = "$want" ] || { echo "FAIL: $what: exited $got, expected $want" >&2; ok=0; }
	[ -s "$out/stdout" ] && { echo "FAIL: $what: wrote to stdout" >&2; ok=0; }
	grep -Eq -- "$pattern" "$out/stderr" || { echo "FAIL: $what: stderr does not match /$pattern/" >&2; ok=0; }
	if [ $one = 1 ] && [ "$(wc -l <"$out/stderr")" != 1 ]; then
		echo "FAIL: $what: more than one line on stderr" >&2
		ok=0
	fi
	[ $ok = 1 ] || { sed 's/^/    /' "$out/stderr" >&2; fail=1; }
}

printf 'not json {' >"$out/garbage.json"
printf '{"schema": 1, "figures": {}, "peak_sites": [], "leak_sites": []}\n' >"$out/baseline.json"
# a profile from before the stack table (schema 1): the document without its tables
"${MEMGATE_TEST_PYTHON:-/usr/bin/python3}" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["schema"] = 1
del d["strings"]
for p in d["processes"]:
    for k in ("frames", "stacks", "nodes", "modules"):
        del p[k]
json.dump(d, open(sys.argv[2], "w"))' "$out/profile.json" "$out/old.json"

fails "no profile" 2 "report: no profile given" -- "$memgate" report --format folded
fails "nothing to do" 2 "nothing to do: give --html FILE or --format FORMAT" one -- \
	"$memgate" report "$out/profile.json"
fails "unknown format" 2 "^memgate: report: unknown format 'svg'" one -- \
	"$memgate" report "$out/profile.json" --format svg
fails "unknown weight" 2 "unknown weight 'frees'" one -- \
	"$memgate" report "$out/profile.json" --format folded --weight frees
fails "unknown option" 2 "unknown option '--bogus'" -- \
	"$memgate" report "$out/profile.json" --bogus
fails "missing value" 2 "^memgate: report: option '--format' needs a value" one -- \
	"$memgate" report "$out/profile.json" --format
fails "html of two profiles" 2 "--html renders one profile, got 2" one -- \
	"$memgate" report "$out/profile.json" "$out/profile.json" --html "$out/x.html"
fails "folded of two profiles" 2 "format 'folded' takes one profile, got 2" one -- \
	"$memgate" report "$out/profile.json" "$out/profile.json" --format folded
fails "baseline without html" 2 "--baseline goes with --html" one -- \
	"$memgate" report "$out/profile.json" --format bmf --baseline "$out/baseline.json"
fails "missing file" 3 "^memgate: cannot read profile '$out/nope.json': no such file$" one -- \
	"$memgate" report "$out/nope.json" --format bmf
fails "not JSON" 3 "^memgate: $out/garbage.json:1:1: expected a value, got 'n'$" one -- \
	"$memgate" report "$out/garbage.json" --format folded
fails "a baseline given as the profile" 3 "^memgate: $out/baseline.json: not a memgate profile \(schema 1 or 2\)$" one -- \
	"$memgate" report "$out/baseline.json" --html "$out/x.html"
fails "a profile given as the baseline" 3 "^memgate: $out/profile.json: not a memgate baseline \(schema 1\)$" one -- \
	"$memgate" report "$out/profile.json" --html "$out/x.html" --baseline "$out/profile.json"
fails "missing baseline" 3 "cannot read baseline '$out/nob.json': no such file" one -- \
	"$memgate" report "$out/profile.json" --html "$out/x.html" --baseline "$out/nob.json"
fails "profile without a stack table" 3 "process [0-9]+: no \"stacks\" table \(written by an older memgate\? trace it again\)" one -- \
	"$memgate" report "$out/old.json" --format speedscope
fails "html of a profile without a stack table" 3 "no \"stacks\" table" one -- \
	"$memgate" report "$out/old.json" --html "$out/x.html"
fails "unwritable output" 3 "cannot write '$out/no/such/dir/out.txt'" one -- \
	"$memgate" report "$out/profile.json" --format folded -o "$out/no/such/dir/out.txt"
check "no page was left behind" test ! -e "$out/x.html"
# BMF and benchmarks need no stack table: figures only
check "bmf of an old profile" sh -c "'$memgate' report '$out/old.json' --format bmf >/dev/null"
check "help" sh -c "'$memgate' help report | grep -q 'usage: memgate report PROFILE'"
exit $fail
