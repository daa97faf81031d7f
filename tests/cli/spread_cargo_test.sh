#!/bin/sh
# spread_cargo_test.sh - no flapping for a whole `cargo test` binary: libtest runs the
# tests of spread_crate on parallel threads, so the process's peak depends on which
# tests overlap (it moves by about half from run to run).  accept measures its spread,
# then 10 checks of the unchanged tree all pass, and a real regression still fails.
# Skipped (exit 77) when cargo is not installed.
#
# usage: spread_cargo_test.sh MEMGATE
set -u
memgate=$1
here=$(cd "$(dirname "$0")" && pwd)
cargo=$(command -v cargo)
for c in "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
	[ -n "$cargo" ] || { [ -x "$c" ] && cargo=$c; }
done
if [ -z "$cargo" ]; then
	echo "SKIP: cargo not found (PATH, ~/.cargo/bin): the whole-binary Rust case is not tested"
	exit 77
fi
PATH=$(dirname "$cargo"):$PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-spread-cargo.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
. "$here/lib.sh"
unset GITHUB_ACTIONS GITHUB_BASE_REF NO_COLOR RUSTFLAGS CARGO_TARGET_DIR
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
cp -R "$here/spread_crate" crate
# the test executable, from Cargo's own messages (its name carries a hash)
exe=$(cd crate && "$cargo" test --offline --no-run --message-format=json 2>cargo.err |
	/usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])')
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
	echo "FAIL: cargo built no test executable" >&2
	cat crate/cargo.err >&2
	exit 1
fi
# The gate allows the range's width again above the highest accepted run
# (docs/baselines.md, "The verdict"), so a new run above that highest one, once
# in N + 1, passes.  What it cannot allow for is a mode the accepted runs never
# saw: this harness's peak sits at 0.7-0.95 MB, and about one run in seventy
# (more while the machine is loaded, several runs in a row) two tests overlap
# and it reaches 1.2-1.3 MB.  5 runs missed that mode and failed 5 of 32 runs
# of this test (ten checks each); 20 runs passed 20 of 20.  So a peak that
# moves by 5% or more over the first spread-runs is measured over 20 runs at
# least (docs/baselines.md, "The spread"): the defaults here.
config() {   # config [EXTRA_ENV]: the whole binary as one test, 4 test threads
	printf 'version: 1\ntests:\n  - name: crate\n' > memgate.yml
	printf '    env: { RUST_TEST_THREADS: "4"%s }\n    run: [%s]\n' "${1:-}" "$exe" >> memgate.yml
}
git init -q -b main . && git config user.email t@example.com && git config user.name test
printf 'profiles/\ncrate/\nout.txt\n' > .gitignore
config
"$memgate" run >out.txt 2>&1 || { cat out.txt >&2; exit 1; }
"$memgate" accept >out.txt 2>&1; rc=$?
check "(accept) exits 0 (got $rc)" [ "$rc" = 0 ] || cat out.txt >&2
check "(accept) measured the spread" grep -q "crate .*multithreaded: measuring its spread over 5 runs" out.txt
check "(accept) the baseline keeps 5 runs, or 20 and a peak range when the peak moved by 5%" /usr/bin/python3 -c '
import json, re, sys
b = json.load(open("baselines/crate.json"))
s = b["spread"]
p = s.get("peak_bytes") or {"min": 0, "max": 0}    # none: the same peak in every run
out = open("out.txt").read()
wide = re.search(r"crate .*its peak moved by [0-9.]*% over 5 runs: measuring 15 more", out)
print("peak range", p, "runs", s["runs"], "widened" if wide else "")
narrow = s["runs"] == 5 and not wide and (p["max"] - p["min"]) * 1000 < 50 * max(p["max"], 1)
sys.exit(not (narrow or (s["runs"] == 20 and wide and p["min"] < p["max"])))'
git add -A && git commit -qm baseline

# "improved" is never said of a figure inside the spread the baseline measured (a
# runtime block that is absent in a rare run may still lie below it: that is
# the truth of that run, and exit 0)
inside_never_improved() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open("profiles/memgate-check.json"))
bad = [m for t in d["tests"] for m in t["metrics"] if m["verdict"] == "improved" and
       m["current"] >= (m["spread"]["min"] if m["spread"] else m["baseline"])]
print(*bad, sep="\n")
sys.exit(bool(bad))'
}
checks_pass 10 "$memgate" inside_never_improved
check "(unchanged) 10 of 10 checks pass (got $passed)" [ "$passed" = 10 ]

# a real regression: every test's buffer 8 MiB bigger (SPREADY_EXTRA, read by the crate)
config ', SPREADY_EXTRA: "8388608"'
"$memgate" check >out.txt 2>&1; rc=$?
check "(regression) exits 1 (got $rc)" [ "$rc" = 1 ] || cat out.txt >&2
check "(regression) the peak regressed" grep -Eq '^crate +peak_bytes .*regression' out.txt
exit $fail
