#!/bin/sh
# spread_test.sh - no flapping (docs/baselines.md, "The spread"): a multithreaded test
# whose peak moves 4x from run to run is measured spread-runs times by accept, its
# baseline keeps the range, and 10 checks of the unchanged tree all pass; a change
# inside the range is neither a regression nor "improved"; a regression beyond it
# fails, an improvement below it is called so; a deterministic test's spread is 0 and
# one byte more fails; saved single-run profiles are warned about; a malformed range is
# bad input.
#
# usage: spread_test.sh MEMGATE FX_SPREAD
set -u
memgate=$1 fx=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-spread-test.XXXXXX") || exit 1
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT; echo "$work"
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"
unset GITHUB_ACTIONS GITHUB_BASE_REF NO_COLOR
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
config() {   # config ARGS...: "mt" runs fx_spread ARGS; "det" runs fx_spread det DET_EXTRA
	printf 'version: 1\ntests:\n  - name: mt\n    spread-runs: 20\n    run: [%s' "$fx" > memgate.yml
	for a in "$@"; do printf ', %s' "$a" >> memgate.yml; done
	printf ']\n  - name: det\n    repeat: 3\n    tolerance: { peak_bytes: "0" }\n' >> memgate.yml
	printf '    run: [%s, det, %s]\n' "$fx" "${DET_EXTRA:-0}" >> memgate.yml
}
page_runs() {   # page_runs PAGE: how many runs the profile in the page holds
	/usr/bin/python3 -c "
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t.split('id=\"memgate-data\">', 1)[1].split('</script>', 1)[0])
print(len(d['profile'].get('runs') or [0]))" "$1"
}
py() {   # py EXPR: true about b (baselines/mt.json), e (baselines/det.json), p (profiles/mt.json)
	/usr/bin/python3 -c "
import json, sys
b, e, p = (json.load(open(f)) for f in ('baselines/mt.json', 'baselines/det.json', 'profiles/mt.json'))
sys.exit(not ($1))"
}
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\nsaved/\nout.txt\n' > .gitignore
config random
"$memgate" run --html >out.txt 2>&1 || { cat out.txt >&2; exit 1; }
check "(run) the page holds its one run" [ "$(page_runs profiles/mt.html)" = 1 ]

# accept: the multithreaded test is measured 20 times, the deterministic one is not
"$memgate" accept >out.txt 2>&1; rc=$?
check "(accept) exits 0 (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(accept) measures mt's spread" grep -q "mt .*multithreaded: measuring its spread over 20 runs (19 more)" out.txt
check "(accept) does not re-measure det" sh -c '! grep -q "det .*measuring" out.txt'
check "(accept) mt's baseline keeps 20 runs and both peaks" \
	py 'b["spread"]["runs"] == 20 and b["spread"]["peak_bytes"]["min"] < 300000 and b["spread"]["peak_bytes"]["max"] > 1000000 and b["spread"]["peak_bytes"]["min"] <= b["figures"]["peak_bytes"] <= b["spread"]["peak_bytes"]["max"]'
check "(accept) the profile holds the 20 runs" py 'len(p["runs"]) == 20'
check "(accept) so does its page, made again (got $(page_runs profiles/mt.html))" \
	[ "$(page_runs profiles/mt.html)" = 20 ]
# (the RSS moves in any program: the kernel's figure, never exact)
check "(accept) det's spread was measured, and it is 0" \
	py 'e["spread"]["runs"] == 3 and set(e["spread"]) <= {"runs", "rss_peak_bytes"}'
git add -A && git commit -qm baselines

# accepting again measures nothing more and changes nothing
"$memgate" accept >out.txt 2>&1; rc=$?
check "(again) exits 0 (got $rc)" [ "$rc" = 0 ]
check "(again) no re-measure" sh -c '! grep -q measuring out.txt'
check "(again) both unchanged" sh -c 'grep -q "mt .*unchanged" out.txt && grep -q "det .*unchanged" out.txt'
check "(again) baselines untouched" git diff --quiet

# ten checks of the unchanged tree: every one passes, none says "improved"
both_pass() {
	! grep -q "improved:" out.txt && grep -q "2 tests checked: 2 passed, 0 improved" out.txt
}
checks_pass 10 "$memgate" both_pass
check "(unchanged) 10 of 10 checks pass (got $passed)" [ "$passed" = 10 ]

# a change inside the spread: always the lowest peaks, or always the highest
for mode in serial parallel; do
	config "$mode"
	"$memgate" check >out.txt 2>&1; rc=$?
	check "($mode) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
	check "($mode) no improved advice" sh -c '! grep -q "improved:" out.txt && grep -q " 0 improved" out.txt'
	[ "$mode" = serial ] &&
		check "(serial) the lowest peak needs no range said" \
			sh -c "! grep -q \"^mt: the baseline's runs moved:.*peak_bytes\" out.txt"
done

# a regression beyond the spread (allowed up to max + (max - min), about 1.9 MB,
# then the tolerance): 4 MiB more in every run fails
config random 4194304
"$memgate" check >out.txt 2>&1; rc=$?
check "(regression) exits 1 (got $rc)" [ "$rc" = 1 ] || cat out.txt >&2
check "(regression) the peak regressed" grep -Eq '^mt +peak_bytes .*regression' out.txt
check "(regression) says the range allowed for" grep -Eq "^mt: the baseline's runs moved:.* peak_bytes [0-9]+\.\.[0-9]+.* \(allowed up to the highest run plus the range again\)" out.txt
check "(regression) the result gives the range" /usr/bin/python3 -c '
import json, sys
d = json.load(open("profiles/memgate-check.json"))
b = json.load(open("baselines/mt.json"))
m = [m for t in d["tests"] if t["name"] == "mt" for m in t["metrics"] if m["metric"] == "peak_bytes"][0]
sys.exit(not (m["spread"] == {"min": b["spread"]["peak_bytes"]["min"], "max": b["spread"]["peak_bytes"]["max"]} and m["allowed"] == (2 * m["spread"]["max"] - m["spread"]["min"]) * 102 // 100 + 4096))'

# an improvement below the spread: 64 KiB blocks one after the other
config serial 0 65536
"$memgate" check >out.txt 2>&1; rc=$?
check "(improved) exits 0 (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(improved) is called so" grep -q "^mt: improved: run 'memgate accept mt'" out.txt

# the deterministic test: one byte more is a regression
DET_EXTRA=1 config random
"$memgate" check det >out.txt 2>&1; rc=$?
check "(det +1) exits 1 (got $rc)" [ "$rc" = 1 ] || cat out.txt >&2
check "(det +1) the peak regressed" grep -Eq '^det +peak_bytes .*regression' out.txt
config random

# saved single-run profiles (--from): accepted as they are, with a warning
mkdir saved
"$memgate" run mt >/dev/null 2>&1 && cp profiles/mt.json saved/
"$memgate" accept --from saved mt >out.txt 2>&1; rc=$?
check "(--from) exits 0 (got $rc)" [ "$rc" = 0 ]
check "(--from) warns" grep -q "mt: multithreaded, and its profile in 'saved' holds 1 run: the spread of its figures is unknown" out.txt
check "(--from) no re-measure" sh -c '! grep -q measuring out.txt'
check "(--from) no spread recorded" py '"spread" not in b'
git checkout -q baselines

# a malformed range is bad input, named
/usr/bin/python3 -c "
import json
b = json.load(open('baselines/mt.json'))
b['spread']['peak_bytes']['min'] = b['spread']['peak_bytes']['max'] + 1
json.dump(b, open('baselines/mt.json', 'w'))"
"$memgate" check mt >out.txt 2>&1; rc=$?
check "(malformed) exits 2 (got $rc)" [ "$rc" = 2 ]
check "(malformed) says what" grep -q "the baseline of test 'mt': \"spread\" of peak_bytes: expected" out.txt
exit $fail
