#!/bin/sh
# gate_test.sh - memgate check beyond the basics: an unborn branch, noisy regressions
# confirmed (or not) by re-running, the result document, sharded profiles, detached
# HEAD, linked worktrees, dirty trees, and the PR's base as the default ref in Actions
#
# usage: gate_test.sh MEMGATE FX_PEAK FX_BASIC WORK_DIR
set -u
memgate=$1 peak=$2 basic=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"
unset GITHUB_ACTIONS GITHUB_BASE_REF NO_COLOR
config() {   # config ARGS...: one test "p" running fx_peak ARGS
	printf 'version: 1\ntests:\n  - name: p\n    run: [%s' "$peak" > memgate.yml
	for a in "$@"; do printf ', %s' "$a" >> memgate.yml; done
	printf ']\n' >> memgate.yml
}
result() {   # result PYTHON-EXPR: true about d, the check result document
	/usr/bin/python3 -c "
import json, sys
d = json.load(open('profiles/memgate-check.json'))
t = {x['name']: x for x in d['tests']}
sys.exit(not ($1))"
}
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
mkdir repo && cd repo || exit 1
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\n' > .gitignore
config low

# an unborn branch: nothing to compare with, every test is new
"$memgate" check >out.txt 2>&1; rc=$?
check "(unborn) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(unborn) says so" grep -q "the branch has no commit yet: every test is new" out.txt
check "(unborn) p is new" grep -Eq '^p +peak_bytes +- +1024 +- +new' out.txt
check "(unborn) result: no commits" result 'd["baseline_commit"] is None and d["head_commit"] is None and t["p"]["verdict"] == "new"'
"$memgate" accept --reason low >/dev/null 2>&1
git add memgate.yml .gitignore baselines && git commit -qm "p: baseline"
main_sha=$(git rev-parse HEAD)

# a peak regression, the same in every run: confirmed by two re-runs, then it fails
git checkout -qb feature
config high
"$memgate" check --baseline main >out.txt 2>&1; rc=$?
check "(confirmed) exits 1 (got $rc)" [ "$rc" = 1 ]
check "(confirmed) re-ran" grep -q "p: regressed in figures that vary from run to run; re-running it 2 times to confirm" out.txt
check "(confirmed) says it held" grep -q "^p: the regression held in all 3 runs" out.txt
check "(confirmed) names the site that grew" grep -q "^p: peak_bytes +64.0 KiB, 100% from high (fx_peak.c:" out.txt
check "(confirmed) result" result 't["p"]["runs"] == 3 and t["p"]["confirmed_by_rerun"] is True and d["verdict"] == "regression" and d["counts"]["regression"] == 1'
check "(confirmed) result: growth" result 'g := t["p"]["grew"][0], g["metric"] == "peak_bytes" and g["delta"] == 65536 and g["baseline"] == 0 and g["share"] == 1 and g["site"].startswith("high (fx_peak.c:")'
check "(confirmed) result: commits" result "d['baseline_commit'] == '$main_sha' and d['head_commit'] == '$main_sha' and d['dirty'] is True and d['baseline_ref'] == 'main'"
check "(confirmed) profile holds the 3 runs" /usr/bin/python3 -c '
import json, sys
d = json.load(open("profiles/p.json"))
sys.exit(not (len(d["runs"]) == 3 and d["summary"]["peak_bytes"] == 65536))'
check "(confirmed) dirty tree noted" grep -q "the work tree has uncommitted changes" out.txt
check "(confirmed) the page shows the sites against the baseline" grep -q '"baseline":{' profiles/p.html

# the same from saved profiles: judged as they are, never re-run
"$memgate" check --from profiles --baseline main >out.txt 2>&1; rc=$?
check "(--from) exits 1 (got $rc)" [ "$rc" = 1 ]
check "(--from) no re-run" sh -c '! grep -q re-running out.txt'
check "(--from) confirmed is null" result 't["p"]["confirmed_by_rerun"] is None'

# a high peak in the first run only: the re-runs do not confirm it, the gate passes
config once "$work/flag"
rm -f "$work/flag"
"$memgate" check --baseline main >out.txt 2>&1; rc=$?
check "(noise) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(noise) a passing test has no page (html: regressions)" [ ! -e profiles/p.html ]
check "(noise) says not confirmed" grep -q "^p: a regression of the first run was not confirmed: 3 runs judged together pass" out.txt
check "(noise) result" result 't["p"]["confirmed_by_rerun"] is False and t["p"]["runs"] == 3 and t["p"]["verdict"] == "pass"'
# confirm: 0 fails at once
rm -f "$work/flag"
printf 'defaults:\n  confirm: 0\n' >> memgate.yml
"$memgate" check --baseline main >out.txt 2>&1; rc=$?
check "(confirm: 0) fails at once (got $rc)" [ "$rc" = 1 ]
check "(confirm: 0) no re-run" sh -c '! grep -q re-running out.txt'

# shards: two --from directories judged as one suite, one result file
printf 'version: 1\ntests:\n  - name: p\n    run: [%s, low]\n  - name: b\n    run: [%s]\n' "$peak" "$basic" > memgate.yml
"$memgate" run --shard 1/2 -o s1 >/dev/null 2>&1
"$memgate" run --shard 2/2 -o s2 >/dev/null 2>&1
"$memgate" check --from s1 --from s2 --baseline main >out.txt 2>&1; rc=$?
check "(shards) pass (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(shards) p from s1, its figures equal: counted, not listed" \
	grep -Eq '^[0-9]+ gated figures of 1 test equal their baselines \(-v lists them\)$' out.txt
check "(shards) p's equal rows left out" sh -c '! grep -Eq "^p +" out.txt'
"$memgate" check --from s1 --from s2 --baseline main -v >out.txt 2>&1
check "(shards) -v: p from s1" grep -Eq '^p +peak_bytes +1024 +1024 ' out.txt
check "(shards) b from s2, new" grep -Eq '^b +peak_bytes +- +230 +- +new' out.txt
check "(shards) result in the first" /usr/bin/python3 -c "
import json, sys
d = json.load(open('s1/memgate-check.json'))
t = {x['name']: x for x in d['tests']}
sys.exit(not (t['p']['profile'] == 'p.json' and t['b']['profile'] == '$work/repo/s2/b.json'))"
cp s1/p.json s2/p.json
"$memgate" check --from s1 --from s2 --baseline main >out.txt 2>&1; rc=$?
check "(shards) overlap exits 2 (got $rc)" [ "$rc" = 2 ]
check "(shards) overlap named" grep -q "test 'p' has a profile in both 's1' and 's2': the shards overlap" out.txt
git checkout -q memgate.yml

# detached HEAD at main's commit: its own baselines
git checkout -q --detach main
"$memgate" check --baseline main >out.txt 2>&1; rc=$?
check "(detached) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(detached) at main" grep -q "baselines of 'main' at $(echo "$main_sha" | cut -c1-12)" out.txt
git checkout -q main

# a linked worktree on another branch: the baselines come from the shared history
git worktree add -q -b wt "$work/wt" main 2>/dev/null
(cd "$work/wt" && config high && "$memgate" check --baseline main --format json >out.json 2>out.txt); rc=$?
check "(worktree) regression found (got $rc)" [ "$rc" = 1 ]
check "(worktree) against main" /usr/bin/python3 -c "
import json, sys
d = json.load(open('$work/wt/out.json'))
sys.exit(not (d['baseline_commit'] == '$main_sha' and d['tests'][0]['metrics'][0]['baseline'] is not None))"

# in a GitHub Actions pull request the default ref is the PR's base
git remote add origin "$work/repo" && git fetch -q origin
GITHUB_ACTIONS=true GITHUB_BASE_REF=main "$memgate" check >out.txt 2>&1; rc=$?
check "(actions) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(actions) uses origin/main" grep -q "baselines of 'origin/main' at" out.txt
GITHUB_ACTIONS=true GITHUB_BASE_REF=nosuch "$memgate" check >out.txt 2>&1; rc=$?
check "(actions) a base not fetched exits 2 (got $rc)" [ "$rc" = 2 ]
check "(actions) names it" grep -q "no commit 'origin/nosuch'" out.txt

# a corrupt or foreign baseline committed on a branch: exit 2 naming ref and file, no verdict
git checkout -q -b broken main
printf '{"schema": 1, "figures": ' > baselines/p.json
git commit -qam "p: a truncated baseline"
"$memgate" check --baseline broken >out.txt 2>&1; rc=$?
check "(corrupt baseline) exits 2 (got $rc)" [ "$rc" = 2 ]
check "(corrupt baseline) named" grep -q "^memgate: broken:baselines/p.json:1:26: expected a value, got end of input" out.txt
check "(corrupt baseline) no result left, not even the last check's" [ ! -e profiles/memgate-check.json ]
cp profiles/p.json baselines/p.json
git commit -qam "p: a profile where the baseline should be"
"$memgate" check --baseline broken >out.txt 2>&1; rc=$?
check "(foreign baseline) exits 2 (got $rc)" [ "$rc" = 2 ]
check "(foreign baseline) named" grep -q "^memgate: broken:baselines/p.json: not a memgate baseline (schema 1)" out.txt
git checkout -q main

# on a terminal: coloured verdicts and a progress line; NO_COLOR turns the colour off
shows() {    # shows FILE CMD...: CMD; FILE on stderr, escapes visible, when it fails
	f=$1
	shift
	"$@" && return 0
	cat -A "$f" >&2
	return 1
}
printf 'version: 1\ntests:\n  - name: p\n    run: [%s, high]\n  - name: slow\n    run: [sh, -c, "sleep 1.6"]\n' "$peak" > memgate.yml
esc=$(printf '\033')
script -qec "'$memgate' check --baseline main" /dev/null > tty.txt 2>&1
check "(tty) verdict in red" shows tty.txt grep -q "${esc}\[1;31mregression" tty.txt
check "(tty) progress line" grep -Eq '\[[0-9]/2\] [0-9]+s running .*slow' tty.txt
NO_COLOR=1 script -qec "'$memgate' check --baseline main" /dev/null > tty.txt 2>&1
check "(NO_COLOR) no colour" sh -c "! grep -q '${esc}\[1;31m' tty.txt"
check "(NO_COLOR) same verdict" shows tty.txt grep -Eq '^p +peak_bytes +1024 +65536 +5140 +regression' tty.txt
"$memgate" check --baseline main > plain.txt 2>&1
check "(no tty) no escape at all" sh -c "! grep -q '$esc' plain.txt"
git checkout -q memgate.yml

# suppressions (docs/config.md): hidden leaks are not gated, unused and capped ones reported
mkdir "$work/sup" && cd "$work/sup" || exit 1
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\n' > .gitignore
printf 'version: 1\ntests:\n  - name: b\n    run: [%s]\n' "$basic" > memgate.yml
"$memgate" run >/dev/null 2>&1 && "$memgate" accept >/dev/null 2>&1
git add -A && git commit -qm "b: baseline, 200 bytes leaked in main()"
cp memgate.yml plain.yml
printf 'suppressions:\n  - leak: "^main$"\n  - leak: nosuchfn\n' >> memgate.yml
"$memgate" check --from profiles >out.txt 2>&1; rc=$?
check "(suppressed) passes (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(suppressed) leak no longer gated: improved" grep -Eq '^b +leaked_bytes +200 +0 +200 +improved' out.txt
check "(suppressed) says what was hidden" grep -q '^b: 200 leaked bytes in 1 block hidden by suppressions' out.txt
check "(suppressed) unused one reported with its line" grep -q "^memgate.yml:7: suppression 'nosuchfn' hid no leak in this run" out.txt
check "(suppressed) the used one is not" sh -c '! grep -q "^memgate.yml:6: suppression" out.txt'
check "(suppressed) result" result 't["b"]["suppressed"] == {"leaked_bytes": 200, "leaked_blocks": 1, "stacks": 1} and [s["used"] for s in d["suppressions"]] == [1, 0]'
"$memgate" accept --reason "main() leaks on purpose" >/dev/null 2>&1
check "(suppressed) accepted baseline gates 0 bytes" /usr/bin/python3 -c '
import json, sys
b = json.load(open("baselines/b.json"))
sys.exit(not (b["figures"]["leaked_bytes"] == 0 and b["figures"]["definitely_lost_bytes"] == 0 and
	      not any(s["site"].startswith("main ") for s in b["leak_sites"])))'
check "(suppressed) the profile file keeps the real figure" /usr/bin/python3 -c '
import json, sys
sys.exit(json.load(open("profiles/b.json"))["summary"]["leaked_bytes"] != 200)'
# a cap smaller than the leak: not hidden, and said so
cp plain.yml memgate.yml
printf 'suppressions:\n  - leak: main\n    max_bytes: 100\n' >> memgate.yml
git checkout -q baselines
"$memgate" check --from profiles -v >out.txt 2>&1; rc=$?
check "(capped) the leak counts: pass against 200 (got $rc)" [ "$rc" = 0 ]
check "(capped) leak gated" grep -Eq '^b +leaked_bytes +200 +200 +200 +pass' out.txt
check "(capped) reported" grep -q "^memgate.yml:6: suppression 'main' matched 1 leak stack beyond its max_bytes of 100 B: it is counted" out.txt

# the profiles' own warnings reach the gate's report: a child that drops LD_PRELOAD
printf 'version: 1\ntests:\n  - name: b\n    run: [%s]\n  - name: w\n    run: [env, -i, %s]\n' "$basic" "$basic" > memgate.yml
"$memgate" check -j 2 >out.txt 2>&1; rc=$?
check "(warnings) -j 2 measures both; w not measured in full: exit 3 (got $rc)" [ "$rc" = 3 ] || cat out.txt >&2
check "(warnings) repeated in the table" grep -q "^w: warning: process [0-9]* started '$basic' without LD_PRELOAD or MEMGATE_DIR: it was not traced" out.txt
check "(warnings) in the result" result 'len(t["w"]["warnings"]) == 1 and t["b"]["warnings"] == []'
"$memgate" check -j 0 >out.txt 2>&1; rc=$?
check "(warnings) -j 0 is a usage error (got $rc)" [ "$rc" = 2 ]
cd "$work/repo" || exit 1

[ $fail = 0 ] && echo "ok: memgate check (gate)"
exit $fail
