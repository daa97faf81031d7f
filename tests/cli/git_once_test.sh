#!/bin/sh
# git_once_test.sh - `memgate check` opens the repository (and sets libgit2 up) once per
# command, whatever the number of tests: counted with strace, never timed
#
# usage: git_once_test.sh MEMGATE FX_BASIC WORK_DIR
set -u
memgate=$1 basic=$2 work=$3
command -v strace >/dev/null || { echo "strace is missing (scripts/install-deps.sh)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$here/lib.sh"
export GIT_CONFIG_NOSYSTEM=1
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\n' > .gitignore
printf 'version: 1\ntests:\n' > memgate.yml
for i in 1 2 3 4 5 6; do
	printf '  - name: t%s\n    run: [%s]\n' "$i" "$basic" >> memgate.yml
done
"$memgate" run >/dev/null 2>&1
"$memgate" accept >/dev/null 2>&1
git add -A && git commit -qm baselines
# a baseline accepted in the change too: it reads HEAD's tree, and the distance
rm baselines/t6.json

opens() {    # opens TEST...: how often the repository's own config file is read
	strace -f -qq -e trace=openat,open -o strace.txt "$memgate" check --from profiles "$@" \
		>out.txt 2>&1 || { echo "check $* failed:"; cat out.txt; } >&2
	grep -c '\.git/config"' strace.txt
}
one=$(opens t1)
six=$(opens t1 t2 t3 t4 t5 t6)
check "one test: the repository opened once (got $one)" [ "$one" = 1 ]
check "six tests: the repository still opened once (got $six)" [ "$six" = 1 ]
check "six tests: checked" grep -q '6 tests checked: 6 passed' out.txt
exit $fail
