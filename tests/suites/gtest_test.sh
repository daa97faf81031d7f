#!/bin/sh
# gtest_test.sh - a CMake + GoogleTest suite gated case by case: the `gtest:`
# entry and the `ctest:` import of gtest_discover_tests' names (TEST_P and
# typed tests included), names mapped and selected, 10 checks of an unchanged
# tree passing, a leak in one case caught and named
#
# usage: gtest_test.sh MEMGATE CMAKE SUITE_SRC
# exit 77 (skipped) when GoogleTest is not installed
set -u
memgate=$1 cmake=$2 src=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/mg-gtest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/../cli/lib.sh"
cd "$work" || exit 1
if ! "$cmake" -S "$src" -B build >cmake.log 2>&1; then
	if grep -q GTest cmake.log; then
		echo "SKIP: GoogleTest is not installed (Debian: libgtest-dev)"
		exit 77
	fi
	cat cmake.log
	exit 1
fi
"$cmake" --build build >build.log 2>&1 || { cat build.log; exit 1; }

export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
mkdir repo && cd repo || exit 1
git init -q -b main . && git config user.email t@example.com && git config user.name test
cat > memgate.yml <<'YML'
version: 1
tests:
  - gtest: ../build/suite
  - ctest: ../build
    exclude: ["Join.*", "Split.*", "Cache.*", "Buffer.*"]
YML
printf 'profiles/\n' > .gitignore

# discovery: exactly the cases, one test each; DISABLED_ ones left out
"$memgate" run >run.txt 2>&1; rc=$?
check "run exits 0 (got $rc)" [ "$rc" = 0 ]
ls profiles | sed -n 's/\.json$//p' | sort > found.txt
sort > want.txt <<'NAMES'
Buffer.Shared
Buffer.Unique
Cache.Evict
Cache.Fill
Join.Empty
Join.Three
Sizes--JoinP.RoundTrip--0
Sizes--JoinP.RoundTrip--1
Sizes--JoinP.RoundTrip--4
Sizes--JoinP.RoundTrip--8
Split.Three
Typed--0.Vector
Typed--1.Vector
Typed.Vector-3cdouble-3e
Typed.Vector-3cint-3e
NAMES
check "discovered exactly the cases" cmp want.txt found.txt || diff want.txt found.txt
# each case ran alone: its own filter, the name the harness knows
check "a TEST_P instance runs alone under its own name" /usr/bin/python3 -c '
import json, sys
p = json.load(open("profiles/Sizes--JoinP.RoundTrip--1.json"))
a = p["test"]["argv"]
sys.exit(not (p["test"]["name"] == "Sizes--JoinP.RoundTrip--1" and a[0].endswith("/suite") and
	      a[1:] == ["--gtest_filter=Sizes/JoinP.RoundTrip/1"]))'
check "a ctest TEST_P name keeps gtest_discover_tests' command" /usr/bin/python3 -c '
import json, sys
a = json.load(open("profiles/Sizes--JoinP.RoundTrip--8.json"))["test"]["argv"]
sys.exit(not any(x == "--gtest_filter=Sizes/JoinP.RoundTrip/1" for x in a))'

"$memgate" accept --reason first >/dev/null 2>&1
git add memgate.yml .gitignore baselines && git commit -qm "suite: baselines"

# selection by glob, on the test name or on the case name it maps
"$memgate" check 'Sizes/JoinP.*' >sel.txt 2>&1; rc=$?
check "select by case name glob (got $rc)" [ "$rc" = 0 ]
check "four TEST_P instances selected" grep -q '^memgate: 4 tests checked' sel.txt
"$memgate" check 'Sizes/JoinP.RoundTrip/1' >sel.txt 2>&1; rc=$?
check "select one by its exact case name (got $rc)" [ "$rc" = 0 ]
check "one selected" grep -q '^memgate: 1 test checked' sel.txt
"$memgate" check 'Cache.*' >sel.txt 2>&1; rc=$?
check "select by test name glob (got $rc)" [ "$rc" = 0 ]
check "two Cache cases" grep -q '^memgate: 2 tests checked' sel.txt
"$memgate" check 'Nope.*' >sel.txt 2>&1; rc=$?
check "a glob that matches nothing exits 2 (got $rc)" [ "$rc" = 2 ]
check "says so" grep -q "no test matches 'Nope.\*'" sel.txt

# an unchanged tree passes, every time
i=0
while [ $i -lt 10 ]; do
	"$memgate" check >check.txt 2>&1; rc=$?
	check "check $i of an unchanged tree passes (got $rc)" [ "$rc" = 0 ]
	[ "$rc" = 0 ] || cat check.txt
	i=$((i + 1))
done

# the regression: Cache.Evict forgets its entry; only that case fails
MG_SUITE_LEAK=1 "$memgate" check >leak.txt 2>&1; rc=$?
check "a leak in one case fails the check (got $rc)" [ "$rc" = 1 ]
check "the leaking case is named" grep -Eq '^Cache\.Evict +leaked_bytes .*regression' leak.txt
check "no other case regressed" sh -c "! grep -E 'regression' leak.txt | grep -v '^Cache\.Evict' | grep -Eq '^[A-Z]'"

# entries that point at nothing usable: one line, exit 2
printf 'version: 1\ntests:\n  - gtest: ../build/missing\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "missing binary exits 2 (got $rc)" [ "$rc" = 2 ]
check "missing binary message" grep -q 'bad.yml:3:12: cannot list the tests of ".*/build/missing": expected a GoogleTest program there (no such file: build it first)' bad.txt
printf 'version: 1\ntests:\n  - gtest: /bin/true\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "not a gtest binary exits 2 (got $rc)" [ "$rc" = 2 ]
check "not a gtest binary message" grep -q 'listed nothing' bad.txt
[ "$fail" = 0 ] || { echo "--- run.txt"; cat run.txt; echo "--- leak.txt"; cat leak.txt; }
exit "$fail"
