#!/bin/sh
# check_test.sh - memgate check: baselines read from git at the merge-base, regressions
# and new leak sites named, exit codes 0/1/2/3, shallow clones told what to change,
# baselines accepted in the change gated with both deltas, staleness
#
# usage: check_test.sh MEMGATE FX_BASIC FX_OTHER WORK_DIR
#   FX_OTHER: larger figures than FX_BASIC, and a leak from another site
set -u
memgate=$1 basic=$2 other=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"
config() {   # config TEST PROGRAM [TEST PROGRAM...]
	printf 'version: 1\ntests:\n' > memgate.yml
	while [ $# -ge 2 ]; do
		printf '  - name: %s\n    run: [%s]\n' "$1" "$2" >> memgate.yml
		shift 2
	done
}
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
mkdir repo && cd repo || exit 1
git init -q -b main . && git config user.email t@example.com && git config user.name test
config basic "$basic"
printf 'profiles/\n' > .gitignore
"$memgate" run >/dev/null 2>&1
"$memgate" accept --reason first >/dev/null 2>&1
git add memgate.yml .gitignore baselines && git commit -qm "basic: baseline"
base_sha=$(git rev-parse HEAD)

# (a) the same program against its own baseline: pass
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(a) same figures pass (got $rc)" [ "$rc" = 0 ]
# every figure equals its baseline: counted in one line, no table (docs/cli.md, "Output")
check "(a) equal figures counted, not listed" grep -Eq '^[0-9]+ gated figures of 1 test equal their baselines \(-v lists them\)$' out.txt
check "(a) no table of equal figures" sh -c '! grep -Eq "^(test|basic) " out.txt'
"$memgate" check --from profiles --baseline main -v >out.txt 2>&1; rc=$?
check "(a) -v exits 0 (got $rc)" [ "$rc" = 0 ]
check "(a) -v lists the equal row" grep -Eq '^basic +peak_bytes +230 +230 +4330 +pass' out.txt
check "(a) -v: no count line" sh -c '! grep -q "equal their baselines" out.txt'
check "(a) says which commit" grep -q "baselines of 'main' at $(echo "$base_sha" | cut -c1-12)" out.txt
check "(a) summary" grep -q '1 test checked: 1 passed.*: pass$' out.txt
"$memgate" check --from profiles >out.txt 2>&1; rc=$?
check "(a) default HEAD passes (got $rc)" [ "$rc" = 0 ]
"$memgate" check --from profiles --format json >out.json 2>/dev/null; rc=$?
check "(a) json exits 0 (got $rc)" [ "$rc" = 0 ]
check "(a) json verdict" /usr/bin/python3 -c '
import json, sys
d = json.load(open("out.json"))
t = d["tests"][0]
m = {x["metric"]: x for x in t["metrics"]}
sys.exit(not (d["verdict"] == "pass" and t["name"] == "basic" and
	      m["peak_bytes"]["baseline"] == 230 and m["peak_bytes"]["allowed"] == 230 + 4 + 4096))'


# (b) a branch where the test allocates more and leaks elsewhere: regression
git checkout -qb feature
config basic "$other"
git commit -qam "basic: more allocations"
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(b) regression exits 1 (got $rc)" [ "$rc" = 1 ]
# allowed = baseline + floor(baseline * 2%) + 4KiB for the peak, + 0.5% for total_bytes
check "(b) peak within tolerance" grep -Eq '^basic +peak_bytes +230 +666 +4330 +pass' out.txt
check "(b) total_bytes regression named" grep -Eq '^basic +total_bytes +380 +676 +381 +regression' out.txt
check "(b) leak regression named" grep -Eq '^basic +leaked_bytes +200 +333 +200 +regression' out.txt
check "(b) new leak site named" grep -A1 'basic: new leak site' out.txt | grep -q 'make_z'
check "(b) the site that grew named" grep -q '^basic: leaked_bytes +333 B, 100% from make_z (atexit.c:' out.txt
check "(b) growth of a passing metric not listed" sh -c "! grep -q '^basic: peak_bytes +' out.txt"
check "(b) summary fails" grep -q '1 regressed.*FAIL$' out.txt
cp out.txt regression.txt

# (c) a ref that does not exist: exit 2, named
"$memgate" check --from profiles --baseline nosuch >out.txt 2>&1; rc=$?
check "(c) missing ref exits 2 (got $rc)" [ "$rc" = 2 ]
check "(c) ref named" grep -q "no commit 'nosuch'" out.txt
rm -rf profiles
"$memgate" check --baseline main >out.txt 2>&1; rc=$?
check "without --from: measures, then the verdict (got $rc)" [ "$rc" = 1 ]
check "without --from: profile written" [ -f profiles/basic.json ]
check "without --from: same regression" grep -Eq '^basic +total_bytes +380 +676 +381 +regression' out.txt
"$memgate" check --from profiles --bogus >out.txt 2>&1; rc=$?
check "unknown option exits 2 (got $rc)" [ "$rc" = 2 ]

# (d) a test with no baseline is new: reported, exit 0
config basic "$other" fresh "$basic"
"$memgate" run fresh >/dev/null 2>&1
"$memgate" check --from profiles --baseline main fresh >out.txt 2>&1; rc=$?
check "(d) new test exits 0 (got $rc)" [ "$rc" = 0 ]
check "(d) says new" grep -Eq '^fresh +peak_bytes +- +230 +- +new' out.txt
check "(d) counted new" grep -q '1 new' out.txt
# a profile that cannot be read: exit 3
printf '{"schema": 1, "summary": ' > profiles/fresh.json
"$memgate" check --from profiles --baseline main fresh >out.txt 2>&1; rc=$?
check "corrupt profile exits 2, as in accept (got $rc)" [ "$rc" = 2 ]
check "corrupt profile named" grep -q "profiles/fresh.json:1:26: expected a value, got end of input" out.txt
printf '{"schema": 1, "figures": {}}\n' > profiles/fresh.json
"$memgate" check --from profiles --baseline main fresh >out.txt 2>&1; rc=$?
check "a baseline given as a profile exits 2 (got $rc)" [ "$rc" = 2 ]
check "foreign profile named" grep -q "profiles/fresh.json: not a memgate profile" out.txt
rm profiles/fresh.json
"$memgate" check --from profiles --baseline main fresh >out.txt 2>&1; rc=$?
check "missing profile exits 3 (got $rc)" [ "$rc" = 3 ]
git checkout -q memgate.yml

# (e) main moves on after the branch point: the branch still compares with the fork point
git checkout -q main
config basic "$other"
"$memgate" run >/dev/null 2>&1
"$memgate" accept --reason "main grew" >/dev/null 2>&1
git commit -qam "basic: baseline grows on main"
git checkout -q feature
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(e) verdict unchanged after main moved (got $rc)" [ "$rc" = 1 ]
check "(e) compared with the merge-base" grep -q "at $(echo "$base_sha" | cut -c1-12)" out.txt
check "(e) same table" sh -c "grep -v '^memgate: checking' regression.txt > a; grep -v '^memgate: checking' out.txt > b; cmp -s a b"

# (f) a shallow clone without the merge-base: exit 2 saying what to change
cd "$work" || exit 1
git clone -q --depth 1 --branch feature "file://$work/repo" shallow 2>/dev/null
cd shallow || exit 1
git fetch -q --depth 1 origin main:refs/remotes/origin/main 2>/dev/null
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline origin/main >out.txt 2>&1; rc=$?
check "(f) shallow clone exits 2 (got $rc)" [ "$rc" = 2 ]
check "(f) says fetch-depth: 0" grep -q "shallow: set fetch-depth: 0 in actions/checkout" out.txt
# with the history fetched, the same clone gets the branch's verdict
git fetch -q --unshallow origin main:refs/remotes/origin/main 2>/dev/null
"$memgate" check --from profiles --baseline origin/main >out.txt 2>&1; rc=$?
check "(f) unshallowed clone gets the verdict (got $rc)" [ "$rc" = 1 ]
check "(f) against the merge-base" grep -q "at $(echo "$base_sha" | cut -c1-12)" out.txt

# (g) a branch that accepts its own increase: the accepted baseline is gated,
# and the report shows the figures against the base (docs/baselines.md, "Which baseline is gated") - first from
# the work tree (accepted, not committed yet), then from HEAD's tree
cd "$work/repo" || exit 1
git checkout -q feature
"$memgate" run >/dev/null 2>&1
"$memgate" accept --reason "intended: more allocations" >/dev/null 2>&1
"$memgate" check --from profiles --baseline main --verbose >out.txt 2>&1; rc=$?
check "(g) accepted increase passes (got $rc)" [ "$rc" = 0 ]
check "(g) gated against the accepted baseline" grep -Eq '^basic +total_bytes +676 +676 +[0-9]+ +pass' out.txt
check "(g) both deltas shown" grep -q 'basic: baseline accepted in this change; against the base: .*total_bytes 380 -> 676 (+296)' out.txt
"$memgate" check --from profiles --baseline main --format json >out.json 2>/dev/null
check "(g) json says accepted" /usr/bin/python3 -c '
import json, sys
t = json.load(open("out.json"))["tests"][0]
d = {x["metric"]: x for x in t["against_base"]}
sys.exit(not (t["accepted_in_change"] and d["total_bytes"]["base"] == 380 and d["total_bytes"]["current"] == 676))'
git commit -qam "basic: accept the increase"
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(g) committed acceptance passes (got $rc)" [ "$rc" = 0 ]
check "(g) still shown as accepted" grep -q 'basic: baseline accepted in this change' out.txt

# (i) a baseline whose test is gone from the config: reported as missing, no failure
printf 'version: 1\ntests:\n  - name: other\n    run: [%s]\n' "$basic" > memgate.yml
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(i) a missing test does not fail (got $rc)" [ "$rc" = 0 ]
check "(i) basic reported missing" grep -q "^basic: missing: it has a baseline at" out.txt
"$memgate" check --from profiles --baseline main --format json >out.json 2>/dev/null
check "(i) json lists it" /usr/bin/python3 -c '
import json, sys
sys.exit(json.load(open("out.json"))["missing"] != ["basic"])'
git checkout -q memgate.yml

# (h) staleness. loose TEST PROGRAM...: the tests gated on the peak alone, so
# that the other program's figures move but pass (memgate.yml's changes
# never make a baseline stale)
loose() {
	config "$@"
	printf 'defaults:\n  tolerance: { allocs: off, total_bytes: off, leaked_bytes: off, ' >> memgate.yml
	printf 'definitely_lost_bytes: off }\n' >> memgate.yml
}
git checkout -q main
loose basic "$basic"                  # main's baseline is $other's
"$memgate" run >/dev/null 2>&1
# main's tip records a baseline measured at its parent: not stale
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(h) main passes (got $rc)" [ "$rc" = 0 ]
check "(h) the figures moved" grep -Eq '^basic +peak_bytes +666 +230 +4775 +pass' out.txt
check "(h) the commit that records baselines leaves them fresh" \
	sh -c '! grep -q "commit.* before the base commit" out.txt'
"$memgate" check --from profiles --baseline main --format json >out.json 2>/dev/null
check "(h) json: staleness 0" /usr/bin/python3 -c '
import json, sys
sys.exit(json.load(open("out.json"))["tests"][0]["staleness_commits"] != 0)'
# a code commit counts; one that changes .gitignore and memgate.yml does not
printf 'int main(void) { return 0; }\n' > code.c
git add code.c && git commit -qm "code"
printf 'build/\n' >> .gitignore && git add .gitignore memgate.yml &&
	git commit -qm "ignore build/, gate the peak only"
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(h) stale main passes (got $rc)" [ "$rc" = 0 ]
check "(h) staleness counts the code commit only" \
	grep -q '^basic: baseline measured 1 commit before the base commit$' out.txt
# figures that did not move: fresh however old
config basic "$other"
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1
check "(h) unmoved figures are never stale" \
	sh -c '! grep -q "commit.* before the base commit" out.txt'
# two tests equally stale: said once; then different: said per test
config basic "$basic" twin "$basic"
"$memgate" run >/dev/null 2>&1 && "$memgate" accept >/dev/null 2>&1
git add memgate.yml baselines && git commit -qm "twin: baseline"
printf '/* 2 */\n' >> code.c && git commit -qam "code 2"
loose basic "$other" twin "$other"
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1
check "(h) shared staleness said once" \
	grep -q '^2 baselines (all) were measured 1 commit before the base commit$' out.txt
check "(h) not per test" sh -c '! grep -q "^basic: baseline measured" out.txt'
"$memgate" accept basic >/dev/null 2>&1 && git commit -qam "basic: baseline again"
printf '/* 3 */\n' >> code.c && git commit -qam "code 3"
config basic "$basic" twin "$other"
"$memgate" run >/dev/null 2>&1
"$memgate" check --from profiles --baseline main >out.txt 2>&1
check "(h) different staleness per test" sh -c \
	'grep -q "^basic: baseline measured 1 commit before" out.txt &&
	 grep -q "^twin: baseline measured 2 commits before" out.txt'

[ $fail = 0 ] && echo "ok: memgate check"
exit $fail
