#!/bin/sh
# untraced_test.sh - programs a test starts that run untraced (static through sh -c or
# posix_spawn, a child under env -i) are never silent: trace, run and check say so on
# stderr, exit 3, and the check result, its markdown and the PR comment name them;
# allow-untraced (memgate.yml) and --allow-untraced (trace) make them expected
#
# usage: untraced_test.sh MEMGATE FX_STATIC FX_SPAWN FX_BASIC WORK_DIR
set -u
memgate=$1 static=$2 spawn=$3 basic=$4 work=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$here/lib.sh"
export GIT_CONFIG_NOSYSTEM=1
unset GITHUB_ACTIONS
untraced() {   # untraced PROFILE PROGRAM: the profile lists PROGRAM as untraced
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(sys.argv[2] not in d.get("untraced", []))' "$1" "$2"
}

# trace: a static program through sh -c, through posix_spawn/vfork/fork, under env -i
"$memgate" trace -o sh.json -- sh -c "$static 100 0; true" >out.txt 2>&1; rc=$?
check "sh -c static: exit 3 (got $rc)" [ "$rc" = 3 ]
check "sh -c static: said on stderr" grep -q "ran untraced" out.txt
check "sh -c static: the reason" grep -q "statically linked" out.txt
check "sh -c static: in the profile" untraced sh.json "$static"
"$memgate" trace -o spawn.json -- "$spawn" "$static" >out.txt 2>&1; rc=$?
check "posix_spawn static: exit 3 (got $rc)" [ "$rc" = 3 ]
check "posix_spawn static: said on stderr" grep -q "programs started by .* ran untraced" out.txt
check "posix_spawn static: in the profile" untraced spawn.json "$static"
"$memgate" trace -o envi.json -- sh -c "env -i $basic" >out.txt 2>&1; rc=$?
check "env -i child: exit 3 (got $rc)" [ "$rc" = 3 ]
check "env -i child: said on stderr" grep -q "without LD_PRELOAD or MEMGATE_DIR" out.txt
check "env -i child: in the profile" untraced envi.json "$basic"
"$memgate" trace --allow-untraced -o allowed.json -- sh -c "$static 100 0; true" >out.txt 2>&1; rc=$?
check "--allow-untraced: exit 0 (got $rc)" [ "$rc" = 0 ]
check "--allow-untraced: still warned" grep -q "warning: .*not traced" out.txt
"$memgate" trace -o plain.json -- sh -c "$basic; true" >/dev/null 2>&1; rc=$?
check "a dynamic program through sh -c: exit 0 (got $rc)" [ "$rc" = 0 ]

# run and check
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\n' > .gitignore
cat > memgate.yml <<EOF2
version: 1
tests:
  - name: ok
    run: [$basic]
  - name: hidden
    run: [sh, -c, "$static 100 0"]
EOF2
"$memgate" run >out.txt 2>&1; rc=$?
check "run: exit 3 (got $rc)" [ "$rc" = 3 ]
check "run: names the test and the program" grep -q "memgate: hidden: 1 program ran untraced ($static)" out.txt
"$memgate" accept >/dev/null 2>&1
git add -A && git commit -qm baselines
"$memgate" check --from profiles >out.txt 2>err.txt; rc=$?
check "check: exit 3 (got $rc)" [ "$rc" = 3 ]
check "check: the table says it" grep -q "^hidden: not measured in full: 1 program ran untraced ($static)" out.txt
check "check: stderr says it" grep -q "memgate: hidden: not measured in full" err.txt
check "check: in the result" /usr/bin/python3 -c '
import json, sys
d = json.load(open("profiles/memgate-check.json"))
t = {x["name"]: x for x in d["tests"]}
sys.exit(not (d["verdict"] == "unmeasured" and t["hidden"]["untraced"] == [sys.argv[1]] and
	      t["ok"]["untraced"] == [] and not t["hidden"]["untraced_allowed"]))' "$static"
"$memgate" comment --from profiles >comment.md 2>&1; rc=$?
check "comment: exit 3 (got $rc)" [ "$rc" = 3 ]
check "comment: the headline says it" grep -q "memgate: 1 test not measured in full" comment.md
check "comment: names the program" grep -q "hidden\*\*: $static" comment.md
# allowed: expected, the gate passes
printf '    allow-untraced: true\n' >> memgate.yml
"$memgate" run >out.txt 2>&1; rc=$?
check "run, allowed: exit 0 (got $rc)" [ "$rc" = 0 ]
"$memgate" check --from profiles >out.txt 2>&1; rc=$?
check "check, allowed: exit 0 (got $rc)" [ "$rc" = 0 ]
check "check, allowed: still warned" grep -q "^hidden: warning: process .* not traced" out.txt
exit $fail
