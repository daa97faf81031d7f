#!/bin/sh
# accept_test.sh - memgate accept: canonical baselines with their commit, only changed
# files rewritten, an accept killed mid-write leaves the old baseline intact
#
# usage: accept_test.sh MEMGATE FX_BASIC FX_OTHER JSON_EXPECT WORK_DIR DIE_BEFORE_RENAME_SO
#   DIE_BEFORE_RENAME_SO: preloaded, it kills memgate where it would rename a written file
set -u
memgate=$1 basic=$2 other=$3 json_expect=$4 work=$5 die_before_rename=$6
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"
git init -q . && git config user.email t@example.com && git config user.name test
printf 'version: 1\ntests:\n  - name: basic\n    run: [%s]\n' "$basic" > memgate.yml
git add memgate.yml && git commit -qm init
head=$(git rev-parse HEAD)

# nothing measured yet: one line that says to run first, exit 2, nothing created
"$memgate" accept >out.txt 2>err.txt; rc=$?
check "accept before any run exits 2 (got $rc)" [ "$rc" = 2 ]
check "accept before any run: says to run first" grep -qx \
	"memgate: accept: no test of memgate.yml has a profile in 'profiles' (run 'memgate run' first)" err.txt
check "accept before any run: no baselines/" [ ! -e baselines ]

"$memgate" run >/dev/null 2>&1
check "the profile names the commit" grep -q "\"commit\":.*\"$head\"" profiles/basic.json
check "and a clean tree" grep -q '"dirty":.*false' profiles/basic.json
"$memgate" accept --reason "first measurement" 2>err.txt; rc=$?
check "accept exits 0 (got $rc)" [ "$rc" = 0 ]
check "says new" grep -q "basic *new baseline" err.txt
cat > want.json <<J
{ "schema": 1, "test": "basic", "commit": "$head", "dirty": false,
  "reason": "first measurement",
  "figures": { "allocs": 4, "frees": 3, "total_bytes": 380, "peak_bytes": 230,
               "peak_blocks": 2, "leaked_bytes": 200, "leaked_blocks": 1 },
  "leak_sites": [ { "bytes": 200, "blocks": 1, "site": "\$contains:main (basic.c:" } ] }
J
check "baseline content" "$json_expect" want.json baselines/basic.json
# canonical: sorted keys, two-space indentation, trailing newline
check "canonical form" /usr/bin/python3 -c '
import json, sys
t = open("baselines/basic.json").read()
sys.exit(t != json.dumps(json.loads(t), sort_keys=True, indent=2) + "\n")'
cp baselines/basic.json first.json

# a test with no profile is named, and left as it was
printf '  - name: later\n    run: [%s]\n' "$basic" >> memgate.yml
"$memgate" accept 2>err.txt; rc=$?
check "accept with a test unmeasured exits 0 (got $rc)" [ "$rc" = 0 ]
check "the unmeasured test is named" \
	grep -qx "memgate: 1 test without a profile in 'profiles' left as it was: later" err.txt
check "and gets no baseline" [ ! -e baselines/later.json ]
git checkout -q memgate.yml

# the same figures again: untouched, byte for byte
"$memgate" run >/dev/null 2>&1
"$memgate" accept --reason "again" 2>err.txt
check "says unchanged" grep -q "basic *unchanged" err.txt
check "file untouched" cmp -s first.json baselines/basic.json

# other figures, and accept dies between writing the new file and renaming it
printf 'version: 1\ntests:\n  - name: basic\n    run: [%s]\n' "$other" > memgate.yml
"$memgate" run >/dev/null 2>&1
# (an ASan build of memgate wants its runtime first: the shim is not instrumented)
LD_PRELOAD="$die_before_rename" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	"$memgate" accept --reason "killed" >/dev/null 2>&1; rc=$?
check "killed accept failed (got $rc)" [ "$rc" != 0 ]
check "old baseline intact after the kill" cmp -s first.json baselines/basic.json
check "the kill left its temporary file" sh -c 'ls baselines | grep -Eq "^basic[.]json[.]tmp[.][A-Za-z0-9]{6}$"'
# the next accept removes it once it is a minute old (a younger one may be a writer's)
tmp=$(ls baselines | grep -E '^basic[.]json[.]tmp[.]')
printf 'x' > baselines/other.json.tmp.Fresh1
touch -d '2 minutes ago' "baselines/$tmp"
"$memgate" accept --reason "more allocations" 2>err.txt; rc=$?
check "stale temporary file removed" sh -c "[ ! -e 'baselines/$tmp' ]"
check "its removal reported" grep -q "removed '$tmp', left by an interrupted write" err.txt
check "a fresh one kept" [ -e baselines/other.json.tmp.Fresh1 ]
rm -f baselines/other.json.tmp.Fresh1
check "accept exits 0 (got $rc)" [ "$rc" = 0 ]
check "says what changed" grep -q "basic *updated: peak_bytes 230 -> " err.txt
check "baseline rewritten" sh -c '! cmp -s first.json baselines/basic.json'
check "new reason" grep -q '"reason": "more allocations"' baselines/basic.json

# bad input: exit 2, one line, nothing written
cp baselines/basic.json before.json
"$memgate" accept nosuch >/dev/null 2>err.txt; rc=$?
check "unknown test exits 2 (got $rc)" [ "$rc" = 2 ]
printf '{"schema": 1, "summary": ' > profiles/basic.json
"$memgate" accept >/dev/null 2>err.txt; rc=$?
check "truncated profile exits 2 (got $rc)" [ "$rc" = 2 ]
check "truncated profile named" grep -q "profiles/basic.json:1:26: expected a value, got end of input" err.txt
printf '{"schema": 1, "foo": 2}\n' > profiles/basic.json
"$memgate" accept >/dev/null 2>err.txt; rc=$?
check "foreign profile exits 2 (got $rc)" [ "$rc" = 2 ]
check "foreign profile named" grep -q "not a memgate profile" err.txt
check "nothing written on bad input" cmp -s before.json baselines/basic.json

# a baselines directory several levels deep is created as a whole
printf 'version: 1\nbaselines: ci/memory/baselines\ntests:\n  - name: basic\n    run: [%s]\n' "$basic" > deep.yml
"$memgate" run -c deep.yml >/dev/null 2>&1
"$memgate" accept -c deep.yml >/dev/null 2>err.txt; rc=$?
check "nested baselines dir: accept exits 0 (got $rc)" [ "$rc" = 0 ]
check "nested baselines dir created" [ -f ci/memory/baselines/basic.json ]

[ $fail = 0 ] && echo "ok: memgate accept"
exit $fail
