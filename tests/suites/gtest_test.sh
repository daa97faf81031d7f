#!/bin/sh
# gtest_test.sh - a CMake + GoogleTest suite gated case by case, following
# docs/cpp.md (its CMakeLists.txt, memgate.yml files and commands): the
# `gtest:` entry and the `ctest:` import of gtest_discover_tests' names
# (TEST_P and typed tests included), names mapped and selected, 10 checks of
# an unchanged tree passing, a leak in one case caught and named
#
# usage: gtest_test.sh MEMGATE CMAKE SUITE_SOURCE DOCS_DIR
# exit 77 (skipped) when GoogleTest is not installed
set -u
memgate=$1 cmake=$2 src=$3 docs=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/mg-gtest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
mkdir -p "$work/bin" "$work/repo" && ln -s "$memgate" "$work/bin/memgate" || exit 1
PATH=$work/bin:$(dirname "$cmake"):$PATH
cd "$work/repo" || exit 1
doc_block "$docs/cpp.md" cmake 1 > CMakeLists.txt
cp "$src/unit_tests.cpp" .
doc_block "$docs/cpp.md" sh 1 > build.sh
if ! sh -e build.sh >build.log 2>&1; then
	if grep -q GTest build.log; then
		echo "SKIP: GoogleTest is not installed (Debian: libgtest-dev)"
		exit 77
	fi
	cat build.log
	exit 1
fi

export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'build/\n' > .gitignore
doc_block "$docs/cpp.md" yaml 1 > memgate.yml
check "docs/cpp.md's memgate.yml is the gtest entry" grep -q '^  - gtest: build/unit_tests$' memgate.yml

# docs/cpp.md's first baselines, as written: discovery finds exactly the
# cases, one test each; DISABLED_ ones left out
doc_block "$docs/cpp.md" sh 2 > first.sh
sh -e first.sh >run.txt 2>&1; rc=$?
check "docs/cpp.md's first baselines (got $rc)" [ "$rc" = 0 ]
ls profiles | sed -n 's/\.json$//p' | grep -v '^memgate-' | sort > found.txt
# the plain TESTs, then the TEST_P and typed test instances as the gtest: entry names them
plain="Buffer.Shared Buffer.Unique Cache.Evict Cache.Fill Join.Empty Join.Three Split.Three"
printf '%s\n' $plain Sizes--JoinP.RoundTrip--0 Sizes--JoinP.RoundTrip--1 Typed--0.Vector \
	Typed--1.Vector | sort > want.txt
check "discovered exactly the cases" cmp want.txt found.txt || diff want.txt found.txt
check "a TEST_P instance runs alone under its own name" /usr/bin/python3 -c '
import json, sys
p = json.load(open("profiles/Sizes--JoinP.RoundTrip--1.json"))
a = p["test"]["argv"]
sys.exit(not (p["test"]["name"] == "Sizes--JoinP.RoundTrip--1" and a[0].endswith("/repo/build/unit_tests") and
	      a[1:] == ["--gtest_filter=Sizes/JoinP.RoundTrip/1"]))'
check "baselines committed" git cat-file -e HEAD:baselines/Sizes--JoinP.RoundTrip--1.json

# selection by glob, on the test name or on the case name it maps
selects() {   # selects WHAT SUMMARY_RE MEMGATE_ARGS...: exits 0, prints the summary
	what=$1 summary=$2
	shift 2
	"$memgate" "$@" >sel.txt 2>&1; rc=$?
	check "select $what (got $rc)" [ "$rc" = 0 ]
	check "select $what: $summary" grep -q "$summary" sel.txt
}
selects "by case name glob" '^memgate: 2 tests checked' check 'Sizes/JoinP.*'
selects "one by its exact case name" '^memgate: 1 test checked' check 'Sizes/JoinP.RoundTrip/1'
selects "by test name glob" '^memgate: 2 tests measured' run 'Cache.*'
"$memgate" check 'Nope.*' >sel.txt 2>&1; rc=$?
check "a glob that matches nothing exits 2 (got $rc)" [ "$rc" = 2 ]
check "says so" grep -q "no test matches 'Nope.\*'" sel.txt

# check --from and accept judge saved profiles without the build: the tests
# are those the run listed (profiles/memgate-tests.json)
mv build build.away
"$memgate" check --from profiles >from.txt 2>&1; rc=$?
check "check --from without the build (got $rc)" [ "$rc" = 0 ]
check "every case checked" grep -q '^memgate: 11 tests checked: 11 passed' from.txt
"$memgate" accept >acc.txt 2>&1; rc=$?
check "accept without the build (got $rc)" [ "$rc" = 0 ]
"$memgate" check >from.txt 2>&1; rc=$?
check "a check that measures needs the build (got $rc)" [ "$rc" = 2 ]
check "and says so" grep -q 'build it first' from.txt
mv build.away build

# docs/cpp.md's gate: an unchanged tree passes, every time
doc_block "$docs/cpp.md" sh 3 > gate.sh
ten_checks gate.sh
check "a GoogleTest case leaves at most 50 KB in profiles/" sizes_ok profiles 11

# the regression: Cache.Evict forgets its entry; only that case fails
leak_caught gate.sh 'Cache\.Evict' 'memgate: 11 tests checked: 10 passed, 0 improved, 0 new, 1 regressed, 0 over budget: FAIL'
[ -z "${MG_SHOW:-}" ] || cat leak.txt

# docs/cpp.md's ctest entry: gtest_discover_tests' names, mapped
{ printf 'profiles: ctest-profiles\nbaselines: ctest-baselines\n'; doc_block "$docs/cpp.md" yaml 2; } > ctest.yml
"$memgate" run -c ctest.yml >ctest.txt 2>&1; rc=$?
check "the ctest import of TEST_P names runs (got $rc)" [ "$rc" = 0 ]
ls ctest-profiles | sed -n 's/\.json$//p' | grep -v '^memgate-' | sort > found.txt
# ctest names them with the parameter and the type
printf '%s\n' $plain Sizes--JoinP.RoundTrip--4 Sizes--JoinP.RoundTrip--8 Typed.Vector-3cint-3e \
	Typed.Vector-3cdouble-3e | sort > want.txt
check "ctest's names, mapped" cmp want.txt found.txt || diff want.txt found.txt
check "a mapped ctest name keeps gtest_discover_tests' command" /usr/bin/python3 -c '
import json, sys
a = json.load(open("ctest-profiles/Typed.Vector-3cint-3e.json"))["test"]["argv"]
sys.exit(not any(x == "--gtest_filter=Typed/0.Vector" for x in a))'
mv build build.away
"$memgate" check -c ctest.yml --from ctest-profiles >from.txt 2>&1; rc=$?
check "ctest entry: check --from without the build (got $rc)" [ "$rc" = 0 ]
check "ctest entry: every test judged (all new)" grep -q '^memgate: 11 tests checked: 0 passed, 0 improved, 11 new' from.txt
mv build.away build
"$memgate" run -c ctest.yml 'Typed.Vector<int>' >sel.txt 2>&1; rc=$?
check "a mapped ctest name selected by its own name (got $rc)" [ "$rc" = 0 ]
check "one measured" grep -q '^memgate: 1 test measured' sel.txt

# a relative program path, another working directory, args for every case
printf 'version: 1\nprofiles: cwd-profiles\ntests:\n  - gtest: build/unit_tests\n    cwd: build\n    args: [--gtest_repeat=2]\n    exclude: ["Sizes/*", "Typed*", "Join.*", "Split.*", "Buffer.*"]\n' > cwd.yml
"$memgate" run -c cwd.yml >cwd.txt 2>&1; rc=$?
check "gtest entry with cwd and args runs (got $rc)" [ "$rc" = 0 ]
check "exclude on case names: the two Cache cases left" [ "$(ls cwd-profiles | grep -v '^memgate-' | sed -n 's/\.json$//p' | tr '\n' ' ')" = "Cache.Evict Cache.Fill " ]
check "each case ran in cwd, with the args" /usr/bin/python3 -c '
import json, os, sys
t = json.load(open("cwd-profiles/Cache.Fill.json"))["test"]
sys.exit(not (os.path.realpath(t["cwd"]) == os.path.realpath("build") and t["argv"][1:] == ["--gtest_filter=Cache.Fill", "--gtest_repeat=2"]))'
check "args reached the case (repeated twice)" grep -q 'Repeating all tests (iteration 2)' cwd-profiles/Cache.Fill.log
check "GoogleTest's banners of passing cases are in their logs, not in memgate's output" \
	sh -c '! grep -q "^\[==========\]\|Repeating all tests" cwd.txt'

# entries that point at nothing usable: one line, exit 2
printf 'version: 1\ntests:\n  - gtest: build/missing\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "missing binary exits 2 (got $rc)" [ "$rc" = 2 ]
check "missing binary message" grep -q 'bad.yml:3:12: cannot list the tests of "build/missing": expected a GoogleTest program there (no such file: build it first)' bad.txt
printf 'version: 1\ntests:\n  - gtest: /bin/true\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "not a gtest binary exits 2 (got $rc)" [ "$rc" = 2 ]
check "not a gtest binary message" grep -q 'listed nothing' bad.txt
[ "$fail" = 0 ] || { echo "--- run.txt"; cat run.txt; echo "--- leak.txt"; cat leak.txt; }
exit "$fail"
