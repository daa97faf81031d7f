#!/bin/sh
# cargo_test.sh - a std-only cargo crate gated case by case through a
# `cargo:` entry, following docs/rust.md (its memgate.yml, its commands):
# discovery (unit and integration tests, #[ignore] and doc tests left out),
# args and exclude, names selected by glob, 10 checks of an unchanged tree
# passing, a leak in one case caught and named, and the errors (no
# Cargo.toml: 2; no cargo, a build that fails: 3)
#
# usage: cargo_test.sh MEMGATE CRATE_SRC DOCS_DIR
# exit 77 (skipped) when cargo is in neither PATH nor ~/.cargo/bin
set -u
memgate=$1 src=$2 docs=$3
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
. "$(dirname "$0")/lib.sh"
# the registry cache and the build stay in the temporary directory; no network
CARGO_HOME=$work/cargo-home CARGO_NET_OFFLINE=true
export CARGO_HOME CARGO_NET_OFFLINE
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
mkdir -p "$work/bin" && ln -s "$memgate" "$work/bin/memgate" && PATH=$work/bin:$PATH
cp -r "$src" "$work/repo" && cd "$work/repo" && rm -rf target Cargo.lock || exit 1
git init -q -b main . && git config user.email t@example.com && git config user.name test
# docs/rust.md's memgate.yml, as written (stacks recorded: libtest runs every
# case on a thread of its own, and the thread test sums on four more)
doc_block "$docs/rust.md" yaml 1 > memgate.yml
check "docs/rust.md's memgate.yml is the cargo entry" grep -q '^  - cargo: \.$' memgate.yml

# docs/rust.md's first baselines, as written
doc_block "$docs/rust.md" sh 1 > first.sh
sh -e first.sh >run.txt 2>&1; rc=$?
check "docs/rust.md's first baselines (got $rc)" [ "$rc" = 0 ]
check "says it builds" grep -q "memgate: building and listing the tests of '.' (cargo test --no-run)" run.txt
ls profiles | sed -n 's/\.json$//p' | grep -v '^memgate-' | sort > found.txt
sort > want.txt <<'NAMES'
api.many_words
api.round_trip
mycrate-bin.tests.greets
mycrate.tests.boxes_a_table
mycrate.tests.cache_evicts
mycrate.tests.cache_fills
mycrate.tests.counts_nothing
mycrate.tests.counts_words
mycrate.tests.nested.deep_name
mycrate.tests.slow_sort
mycrate.tests.sums_on_threads
NAMES
check "discovered exactly the cases (lib, bin, integration; no #[ignore], no doc test)" cmp want.txt found.txt || diff want.txt found.txt
check "each case runs alone on one test thread, in the package directory" /usr/bin/python3 -c '
import json, sys, os
t = json.load(open("profiles/mycrate.tests.nested.deep_name.json"))["test"]
a = t["argv"]
sys.exit(not ("/debug/deps/mycrate-" in a[0] and a[1:] == ["--exact", "tests::nested::deep_name", "--test-threads=1"] and
	      os.path.realpath(t["cwd"]) == os.path.realpath(".")))'
check "baselines committed" git cat-file -e HEAD:baselines/mycrate.tests.cache_evicts.json
check "baselines never store the hashed executable path" sh -c "! grep -rq 'deps/' baselines"

# check --from judges saved profiles without cargo (a gate job may have none)
PATH=/usr/bin:/bin HOME=/nonexistent "$memgate" check --from profiles >from.txt 2>&1; rc=$?
check "check --from without cargo (got $rc)" [ "$rc" = 0 ]
check "every case checked" grep -q '^memgate: 11 tests checked: 11 passed' from.txt
check "nothing built" sh -c "! grep -q 'building' from.txt"
"$memgate" check 'mycrate.tests.cache_*' >sel.txt 2>&1; rc=$?
check "select by glob (got $rc)" [ "$rc" = 0 ]
check "two cache cases" grep -q '^memgate: 2 tests checked' sel.txt

# docs/rust.md's gate, ten times on an unchanged tree
doc_block "$docs/rust.md" sh 2 > gate.sh
ten_checks gate.sh
check "a Rust #[test] case (debug build) leaves at most 50 KB in profiles/" sizes_ok profiles 11

leak_caught gate.sh 'mycrate\.tests\.cache_evicts' 'memgate: 11 tests checked: 10 passed, 0 improved, 0 new, 1 regressed, 0 over budget: FAIL'

# docs/rust.md's options: args reach cargo, exclude globs on case and test names
{ printf 'version: 1\nprofiles: other\n'; doc_block "$docs/rust.md" yaml 2; } > other.yml
"$memgate" run -c other.yml >other.txt 2>&1; rc=$?
check "args and exclude: run exits 0 (got $rc)" [ "$rc" = 0 ]
check "exclude: 9 cases left" [ "$(ls other/*.json | grep -vc /memgate-)" = 9 ]
check "excluded by case name" [ ! -e other/mycrate.tests.slow_sort.json ]
check "excluded by test name" [ ! -e other/api.many_words.json ]
check "--release reached cargo" grep -q '"/.*/release/deps/api-' other/api.round_trip.json

# a workspace: every member's cases; -p keeps one member
mkdir -p ../ws/alpha/src ../ws/beta/src
printf '[workspace]\nmembers = ["alpha", "beta"]\nresolver = "2"\n' > ../ws/Cargo.toml
for m in alpha beta; do
	printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n' $m > ../ws/$m/Cargo.toml
	printf '#[cfg(test)]\nmod tests {\n    #[test]\n    fn boxed() { assert_eq!(*Box::new(7), 7); }\n}\n' > ../ws/$m/src/lib.rs
done
printf 'version: 1\nprofiles: ws-all\ntests:\n  - cargo: ../ws\n' > ws.yml
"$memgate" run -c ws.yml >ws.txt 2>&1; rc=$?
check "workspace: run exits 0 (got $rc)" [ "$rc" = 0 ]
check "workspace: both members' cases" [ "$(ls ws-all | grep -v '^memgate-' | sed -n 's/\.json$//p' | tr '\n' ' ')" = "alpha.tests.boxed beta.tests.boxed " ]
check "workspace: libtest's lines in the case's log, not in memgate's output" sh -c \
	'grep -q "^test tests::boxed ... ok" ws-all/beta.tests.boxed.log && ! grep -q "^running 1 test\|^test result:" ws.txt'
check "workspace: each in its member's directory" /usr/bin/python3 -c '
import json, os, sys
t = json.load(open("ws-all/beta.tests.boxed.json"))["test"]
sys.exit(os.path.realpath(t["cwd"]) != os.path.realpath("../ws/beta"))'
printf 'version: 1\nprofiles: ws-one\ntests:\n  - cargo: ../ws\n    args: [-p, beta]\n' > ws.yml
"$memgate" run -c ws.yml >ws.txt 2>&1; rc=$?
check "workspace -p: run exits 0 (got $rc)" [ "$rc" = 0 ]
check "workspace -p: one member" [ "$(ls ws-one | grep -v '^memgate-' | sed -n 's/\.json$//p' | tr '\n' ' ')" = "beta.tests.boxed " ]

# errors: one line, documented exit codes
printf 'version: 1\ntests:\n  - cargo: nowhere\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "no Cargo.toml exits 2 (got $rc)" [ "$rc" = 2 ]
check "no Cargo.toml message" grep -q 'bad.yml:3:12: cannot list the tests of "nowhere": expected a cargo package or workspace there (no Cargo.toml)' bad.txt
printf 'version: 1\ntests:\n  - cargo: .\n' > bad.yml
PATH=/usr/bin:/bin HOME=/nonexistent "$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "no cargo exits 3 (got $rc)" [ "$rc" = 3 ]
check "no cargo message" grep -q 'cannot run "cargo" (not in PATH nor in ~/.cargo/bin)' bad.txt
mkdir -p ../broken/src && printf '[package]\nname = "broken"\nversion = "0.1.0"\nedition = "2021"\n' > ../broken/Cargo.toml
printf 'pub fn f() -> u32 { "not a number" }\n' > ../broken/src/lib.rs
printf 'version: 1\ntests:\n  - cargo: ../broken\n' > bad.yml
"$memgate" run -c bad.yml >bad.txt 2>&1; rc=$?
check "a build that fails exits 3 (got $rc)" [ "$rc" = 3 ]
check "the build error is quoted" grep -q 'cargo test --no-run failed (exit status 101): src/lib.rs:1:21: error\[E0308\]: mismatched types' bad.txt
[ -z "${MG_SHOW:-}" ] || cat leak.txt
[ "$fail" = 0 ] || { echo "--- run.txt"; cat run.txt; echo "--- leak.txt"; cat leak.txt; echo "--- bad.txt"; cat bad.txt; }
exit "$fail"
