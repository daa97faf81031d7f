# lib.sh - sourced by the suite tests: check() from tests/cli, and the
# documentation's examples, which the tests run as they are written
. "$(dirname "$0")/../cli/lib.sh"
# doc_block FILE LANG N: the N-th ```LANG block of FILE, as written
doc_block() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys
path, lang, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
blocks = re.findall(r"^```" + re.escape(lang) + r"\n(.*?)^```", open(path).read(), re.S | re.M)
if len(blocks) < n:
    sys.exit(f"{path}: no ```{lang} block number {n}")
sys.stdout.write(blocks[n - 1])
PY
}
# ten_checks GATE: the gate script, 10 times on an unchanged tree; each passes
ten_checks() {
	i=0
	while [ $i -lt 10 ]; do
		sh "$1" >check.txt 2>&1; rc=$?
		check "check $i of an unchanged tree passes (got $rc)" [ "$rc" = 0 ]
		[ "$rc" = 0 ] || cat check.txt
		i=$((i + 1))
	done
}
# leak_caught GATE CASE_RE SUMMARY: with MG_SUITE_LEAK=1 the case CASE_RE (a
# regex of its test name) leaks; the gate fails, names it and no other case
leak_caught() {
	MG_SUITE_LEAK=1 sh "$1" >leak.txt 2>&1; rc=$?
	check "a leak in one case fails the check (got $rc)" [ "$rc" = 1 ]
	check "the leaking case is named" grep -Eq "^$2 +leaked_bytes .*regression" leak.txt
	check "no other case regressed" sh -c "! grep -E 'regression' leak.txt | grep -Ev '^$2[ :]' | grep -Eq '^[A-Za-z]'"
	check "the summary the docs show" grep -qF "$3" leak.txt
}
# sizes_ok DIR N: what a run or a passing check leaves in DIR, a suite's
# profiles/ of N cases, is small enough to upload on every run
# (docs/reports.md, "Size"): each case's files (its profile, a page if any)
# at most 50,000 bytes together, and the whole directory (the run's lists and
# the check result included) at most 50,000 bytes per case
sizes_ok() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import collections, os, sys
d, n = sys.argv[1], int(sys.argv[2])
per = collections.Counter()
total = 0
for f in os.listdir(d):
    size = os.path.getsize(os.path.join(d, f))
    total += size
    if not f.startswith("memgate-"):
        per[f.rsplit(".", 1)[0]] += size
big = {k: v for k, v in per.items() if v > 50000}
print(f"{d}: {len(per)} cases, {min(per.values())}..{max(per.values())} bytes each, {total} in all")
sys.exit(bool(big) or len(per) != n or total > 50000 * n)
PY
}
