#!/bin/sh
# cargo_test.sh - a std-only cargo crate gated case by case through a
# `cargo:` entry: discovery (unit and integration tests, #[ignore] and doc
# tests left out), args and exclude, names selected by glob, 10 checks of an
# unchanged tree passing, a leak in one case caught and named, and the errors
# (no Cargo.toml: 2; no cargo, a build that fails: 3)
#
# usage: cargo_test.sh MEMGATE CRATE_SRC
# exit 77 (skipped) when cargo is in neither PATH nor ~/.cargo/bin
set -u
memgate=$1 src=$2
if ! command -v cargo >/dev/null 2>&1; then
	if [ -x "${HOME:-/nonexistent}/.cargo/bin/cargo" ]; then
		PATH=$HOME/.cargo/bin:$PATH
		export PATH
	else
		echo "SKIP: cargo is not installed (neither in PATH nor in ~/.cargo/bin)"
		exit 77
	fi
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/mg-cargo.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/../cli/lib.sh"
# the registry cache and the build stay in the temporary directory; no network
CARGO_HOME=$work/cargo-home CARGO_NET_OFFLINE=true
export CARGO_HOME CARGO_NET_OFFLINE
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
mkdir "$work/repo" && cd "$work/repo" || exit 1
cp -r "$src" crate && rm -rf crate/target crate/Cargo.lock
git init -q -b main . && git config user.email t@example.com && git config user.name test
# stack-depth 0 while Rust programs that start a thread hang under the
# tracer's stack walk (issue 12, item 1); the timeout bounds a hang. The
# tolerances are docs/rust.md's: libtest runs each case on a thread of its
# own, and whether that thread's last blocks are freed before the process
# exits varies (a few allocations, 48 bytes)
cat > memgate.yml <<'YML'
version: 1
defaults:
  timeout: 60s
  stack-depth: 0
  tolerance: { allocs: "1%", leaked_bytes: "64", definitely_lost_bytes: "64" }
tests:
  - cargo: crate
    args: [--offline]
YML
printf 'profiles/\ncrate/target/\ncrate/Cargo.lock\n' > .gitignore

"$memgate" run >run.txt 2>&1; rc=$?
check "run exits 0 (got $rc)" [ "$rc" = 0 ]
check "says it builds" grep -q "memgate: building and listing the tests of 'crate' (cargo test --no-run)" run.txt
ls profiles | sed -n 's/\.json$//p' | sort > found.txt
sort > want.txt <<'NAMES'
api.many_words
api.round_trip
mg_suite.tests.boxes_a_table
mg_suite.tests.cache_evicts
mg_suite.tests.cache_fills
mg_suite.tests.counts_nothing
mg_suite.tests.counts_words
mg_suite.tests.nested.deep_name
mg_suite.tests.sums_on_threads
NAMES
check "discovered exactly the cases (no #[ignore], no doc test)" cmp want.txt found.txt || diff want.txt found.txt
check "each case runs alone on one test thread, in the package directory" /usr/bin/python3 -c '
import json, sys, os
t = json.load(open("profiles/mg_suite.tests.nested.deep_name.json"))["test"]
a = t["argv"]
sys.exit(not ("/deps/mg_suite-" in a[0] and a[1:] == ["--exact", "tests::nested::deep_name", "--test-threads=1"] and
	      os.path.realpath(t["cwd"]) == os.path.realpath("crate")))'

"$memgate" accept --reason first >/dev/null 2>&1
check "baselines never store the hashed executable path" sh -c "! grep -rq 'deps/' baselines"
git add memgate.yml .gitignore crate baselines && git commit -qm "crate: baselines"

"$memgate" check 'mg_suite.tests.cache_*' >sel.txt 2>&1; rc=$?
check "select by glob (got $rc)" [ "$rc" = 0 ]
check "two cache cases" grep -q '^memgate: 2 tests checked' sel.txt

i=0
while [ $i -lt 10 ]; do
	"$memgate" check >check.txt 2>&1; rc=$?
	check "check $i of an unchanged tree passes (got $rc)" [ "$rc" = 0 ]
	[ "$rc" = 0 ] || cat check.txt
	i=$((i + 1))
done

MG_SUITE_LEAK=1 "$memgate" check >leak.txt 2>&1; rc=$?
check "a leak in one case fails the check (got $rc)" [ "$rc" = 1 ]
check "the leaking case is named" grep -Eq '^mg_suite\.tests\.cache_evicts +leaked_bytes .*regression' leak.txt
check "no other case regressed" sh -c "! grep -E 'regression' leak.txt | grep -v '^mg_suite\.tests\.cache_evicts' | grep -Eq '^[a-z]'"

# args reach cargo, exclude globs on test and case names
cat > other.yml <<'YML'
version: 1
defaults:
  stack-depth: 0
  timeout: 60s
profiles: other
tests:
  - cargo: crate
    args: [--offline, --release]
    exclude: ["*::counts_*", "api.many*"]
YML
"$memgate" run -c other.yml >other.txt 2>&1; rc=$?
check "args and exclude: run exits 0 (got $rc)" [ "$rc" = 0 ]
check "exclude: 6 cases left" [ "$(ls other/*.json | wc -l)" = 6 ]
check "excluded by case name" [ ! -e other/mg_suite.tests.counts_words.json ]
check "excluded by test name" [ ! -e other/api.many_words.json ]
check "--release reached cargo" grep -q '"/.*/release/deps/api-' other/api.round_trip.json

# errors: one line, documented exit codes
printf 'version: 1\ntests:\n  - cargo: nowhere\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "no Cargo.toml exits 2 (got $rc)" [ "$rc" = 2 ]
check "no Cargo.toml message" grep -q 'bad.yml:3:12: cannot list the tests of "nowhere": expected a cargo package or workspace there (no Cargo.toml)' bad.txt
printf 'version: 1\ntests:\n  - cargo: crate\n' > bad.yml
PATH=/usr/bin:/bin HOME=/nonexistent "$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "no cargo exits 3 (got $rc)" [ "$rc" = 3 ]
check "no cargo message" grep -q 'cannot run "cargo" (not in PATH nor in ~/.cargo/bin)' bad.txt
mkdir -p broken/src && printf '[package]\nname = "broken"\nversion = "0.1.0"\nedition = "2021"\n' > broken/Cargo.toml
printf 'pub fn f() -> u32 { "not a number" }\n' > broken/src/lib.rs
printf 'version: 1\ntests:\n  - cargo: broken\n    args: [--offline]\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "a build that fails exits 3 (got $rc)" [ "$rc" = 3 ]
check "the build error is quoted" grep -q 'cargo test --no-run failed (exit status 101): src/lib.rs:1:21: error\[E0308\]: mismatched types' bad.txt
[ "$fail" = 0 ] || { echo "--- run.txt"; cat run.txt; echo "--- leak.txt"; cat leak.txt; echo "--- bad.txt"; cat bad.txt; }
exit "$fail"
