#!/bin/sh
# browser_test.sh - the HTML page of a fixture's profile in headless Chromium
#
# usage: browser_test.sh MEMGATE FIXTURE OUTDIR NODE_MODULES
#
# Traces the fixture in a scratch git repository, accepts a baseline with
# `memgate accept` and edits it so that one site grew and one vanished, then
# renders three pages (plain, against the baseline, and with hostile names)
# and lets browser_test.js drive them.  Exit 77 (skipped) without node,
# the npm tools (npm ci in tests/node) or chromium.
set -u
memgate=$1 fixture=$2 out=$3 modules=$4
here=$(cd "$(dirname "$0")" && pwd)
chromium=${MEMGATE_TEST_CHROMIUM:-/usr/bin/chromium}
py=${MEMGATE_TEST_PYTHON:-/usr/bin/python3}
if ! command -v node >/dev/null || [ ! -d "$modules/playwright-core" ] || [ ! -x "$chromium" ]; then
	echo "skipped: needs node, $modules/playwright-core (npm ci in tests/node) and $chromium" >&2
	exit 77
fi
rm -rf "$out"
mkdir -p "$out/repo"
cd "$out/repo" || exit 1
git init -q . && git config user.email t@example.com && git config user.name test
printf 'version: 1\ntests:\n  - name: stacks\n    run: [%s]\n' "$fixture" >memgate.yml
git add memgate.yml && git commit -qm init
"$memgate" run >run.log 2>&1 || { echo "FAIL: memgate run" >&2; cat run.log >&2; exit 1; }
"$memgate" accept --reason "browser test" >accept.log 2>&1 ||
	{ echo "FAIL: memgate accept" >&2; cat accept.log >&2; exit 1; }

# the baseline had less at mid_b's site, and a site that is gone now
"$py" - baselines/stacks.json "$out/baseline.json" <<'PY' || exit 1
import json, sys
b = json.load(open(sys.argv[1]))
site = next(s for s in b["peak_sites"] if "mid_b" in s["site"])
site["bytes"] = 500
b["peak_sites"].append({"site": "gone (old.c:1) < main (old.c:9)", "bytes": 700, "blocks": 1})
json.dump(b, open(sys.argv[2], "w"), indent=2)
PY
# hostile names: a frame and the test name that would be markup if parsed as HTML
"$py" - profiles/stacks.json "$out/xss.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
evil = "</script><img src=x onerror=\"window.__xss=1\">&<>\"'mid_b"
# the document's strings hold every function name (docs/profile-schema.md)
d["strings"] = [evil if x == "mid_b" else x for x in d["strings"]]
d["test"]["name"] = "<img src=x onerror=\"window.__xss=2\">"
json.dump(d, open(sys.argv[2], "w"))
PY
cd "$out" || exit 1
"$memgate" report repo/profiles/stacks.json --html plain.html &&
"$memgate" report repo/profiles/stacks.json --html diff.html --baseline baseline.json &&
"$memgate" report xss.json --html xss.html &&
"$memgate" report repo/profiles/stacks.json --format dhat -o dhat.json || { echo "FAIL: memgate report --html" >&2; exit 1; }
# the data cannot end its <script> element: every '<' of it is \u003c
if grep -q '</script><img' xss.html || ! grep -q '\\u003c/script>\\u003cimg' xss.html; then
	echo "FAIL: the hostile frame name is not escaped in xss.html" >&2
	exit 1
fi
exec node "$here/browser_test.js" "$modules" "$chromium" "$out"
