#!/bin/sh
# run_test.sh - memgate run over a real memgate.yml: profiles, exit codes, jobs, shards
#
# usage: run_test.sh MEMGATE FX_BASIC FX_CRASH JSON_EXPECT WORK_DIR FX_FORK
set -u
memgate=$1 basic=$2 crash=$3 json_expect=$4 work=$5 forker=$6
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
. "$(dirname "$0")/lib.sh"

cat > memgate.yml <<YML
version: 1
tests:
  - name: basic
    run: [$basic]
  - name: basic.again
    run: $basic
    env: { LC_ALL: C }
YML
"$memgate" run >/dev/null 2>&1; rc=$?
check "run exits 0 (got $rc)" [ "$rc" = 0 ]
check "profiles/basic.json written" [ -f profiles/basic.json ]
check "profiles/basic.again.json written" [ -f profiles/basic.again.json ]
check "no page by default (html: regressions)" [ ! -e profiles/basic.html ]
"$memgate" run --html basic >/dev/null 2>&1; rc=$?
check "run --html exits 0 (got $rc)" [ "$rc" = 0 ]
check "run --html: profiles/basic.html written beside it" grep -q '^<!DOCTYPE html>' profiles/basic.html
check "run --html: only the tests named" [ ! -e profiles/basic.again.html ]
"$memgate" run basic >/dev/null 2>&1
check "a run without --html removes the stale page" [ ! -e profiles/basic.html ]
{ cat memgate.yml; echo "html: always"; } >always.yml
"$memgate" run -c always.yml >/dev/null 2>&1
check "html: always writes every page" sh -c '[ -s profiles/basic.html ] && [ -s profiles/basic.again.html ]'
{ cat memgate.yml; echo "html: never"; } >never.yml
"$memgate" run -c never.yml --html basic >/dev/null 2>&1
check "--html overrides html: never" [ -s profiles/basic.html ]
"$memgate" run -c never.yml >/dev/null 2>&1
check "html: never writes no page" sh -c '[ ! -e profiles/basic.html ] && [ ! -e profiles/basic.again.html ]'
{ cat memgate.yml; echo "html: sometimes"; } >bad.yml
"$memgate" run -c bad.yml >out.txt 2>&1; rc=$?
check "html: sometimes is a usage error (got $rc)" [ "$rc" = 2 ]
check "html: sometimes names the line and the choices" \
	grep -q 'bad.yml:8:7: expected always, regressions or never for "html", got "sometimes"' out.txt
cat > want.json <<'J'
{ "test": { "name": "basic" }, "complete": true, "exit": { "code": 3 },
  "summary": { "allocs": 4, "frees": 3, "total_bytes": 380, "peak_bytes": 230,
               "leaked_bytes": 200, "processes": 1 } }
J
check "basic's figures" "$json_expect" want.json profiles/basic.json

# --format json: what was measured, on stdout
"$memgate" run --format json >out.json 2>/dev/null; rc=$?
check "json run exits 0 (got $rc)" [ "$rc" = 0 ]
cat > want.json <<'J'
{ "schema": 1, "kind": "memgate-run",
  "tests": [ { "name": "basic", "profile": "profiles/basic.json", "complete": true,
               "exit": { "code": 3 }, "summary": { "allocs": 4, "leaked_bytes": 200 } },
             { "name": "basic.again", "profile": "profiles/basic.again.json" } ] }
J
check "json run lists both tests" "$json_expect" want.json out.json

# one named test, to another directory, two at a time
rm -rf out
"$memgate" run basic -o out -j 2 >/dev/null 2>&1; rc=$?
check "named test exits 0 (got $rc)" [ "$rc" = 0 ]
check "only the named test" [ -f out/basic.json ] && [ ! -f out/basic.again.json ]

# a value joined to its option: --opt=VALUE, -jN, -oDIR; one missing: exit 2, named
rm -rf out2 out3
"$memgate" run basic --output=out2 -j2 --config=memgate.yml >/dev/null 2>&1; rc=$?
check "--output=DIR -j2 --config=FILE exit 0 (got $rc)" [ "$rc" = 0 ]
check "--output=DIR honoured" [ -f out2/basic.json ] && [ ! -f out2/basic.again.json ]
"$memgate" run basic -oout3 --jobs=2 >/dev/null 2>&1; rc=$?
check "-oDIR --jobs=2 exit 0 (got $rc)" [ "$rc" = 0 ] && [ -f out3/basic.json ]
"$memgate" run basic --jobs=0 >/dev/null 2>err.txt; rc=$?
check "--jobs=0 exits 2 (got $rc)" [ "$rc" = 2 ]
check "--jobs=0 told" grep -q "jobs: expected a number from 1 to 1024, got '0'" err.txt
"$memgate" run basic -o >/dev/null 2>err.txt; rc=$?
check "-o without its value exits 2 (got $rc)" [ "$rc" = 2 ]
check "-o without its value: one line" \
	grep -qx "memgate: run: option '-o' needs a value (see 'memgate help run')" err.txt
"$memgate" run basic --html=x >/dev/null 2>err.txt; rc=$?
check "a flag given a value exits 2 (got $rc)" [ "$rc" = 2 ]
check "a flag given a value is unknown" grep -q "unknown option '--html=x'" err.txt
"$memgate" trace -o trace.json --depth=3 -- /bin/echo --depth=9 -j2 >out.txt 2>/dev/null; rc=$?
check "trace --depth=3 (got $rc)" [ "$rc" = 0 ] && [ -f trace.json ]
check "trace: the command's own options untouched" grep -qx -- '--depth=9 -j2' out.txt

# shards: 1/2 and 2/2 split the two tests
rm -rf s1 s2
"$memgate" run --shard 1/2 -o s1 >/dev/null 2>&1
"$memgate" run --shard 2/2 -o s2 >/dev/null 2>&1
check "shard 1/2 ran basic only" [ -f s1/basic.json ] && [ ! -f s1/basic.again.json ]
check "shard 2/2 ran basic.again only" [ -f s2/basic.again.json ] && [ ! -f s2/basic.json ]

# usage and configuration errors: exit 2, one line
"$memgate" run nosuch >/dev/null 2>err.txt; rc=$?
check "unknown test exits 2 (got $rc)" [ "$rc" = 2 ]
check "unknown test named" grep -q "no test 'nosuch'" err.txt
"$memgate" run --shard 3/2 >/dev/null 2>err.txt; rc=$?
check "bad shard exits 2 (got $rc)" [ "$rc" = 2 ]
printf 'version: 1\ntests:\n  - name: x\n    runn: [a]\n' > bad.yml
"$memgate" run -c bad.yml >/dev/null 2>err.txt; rc=$?
check "bad config exits 2 (got $rc)" [ "$rc" = 2 ]
check "bad config names file:line:col" grep -q "bad.yml:4:5:" err.txt
"$memgate" run -c missing.yml >/dev/null 2>err.txt; rc=$?
check "missing config exits 2 (got $rc)" [ "$rc" = 2 ]

# a crash: exit 3, unless allow-crash makes it data; the profile is written either way
cat > crash.yml <<YML
version: 1
tests:
  - name: boom
    run: [$crash, segv]
YML
"$memgate" run -c crash.yml >/dev/null 2>&1; rc=$?
check "crash exits 3 (got $rc)" [ "$rc" = 3 ]
check "crash profile written" [ -f profiles/boom.json ]
sed 's/    run:/    allow-crash: true\n    run:/' crash.yml > crash2.yml
"$memgate" run -c crash2.yml >/dev/null 2>err.txt; rc=$?
check "allow-crash exits 0 (got $rc)" [ "$rc" = 0 ] || cat err.txt >&2

# repeat: one profile from three runs, each run's summary kept
printf 'version: 1\ntests:\n  - name: thrice\n    repeat: 3\n    run: [%s]\n' "$basic" > rep.yml
"$memgate" run -c rep.yml >/dev/null 2>err.txt; rc=$?
check "repeat exits 0 (got $rc)" [ "$rc" = 0 ] || cat err.txt >&2
check "repeat's row says 3 runs" grep -q "thrice .*exit 3, 3 runs" err.txt
cat > want.json <<'J'
{ "summary": { "allocs": 4, "frees": 3, "total_bytes": 380, "peak_bytes": 230,
               "leaked_bytes": 200 },
  "runs": [ { "allocs": 4, "peak_bytes": 230, "leaked_bytes": 200 },
            { "allocs": 4, "peak_bytes": 230, "leaked_bytes": 200 },
            { "allocs": 4, "peak_bytes": 230, "leaked_bytes": 200 } ] }
J
check "repeat's combined figures" "$json_expect" want.json profiles/thrice.json

# follow-children: the forked child is traced by default, and not with false
printf 'version: 1\ntests:\n  - name: both\n    run: [%s]\n  - name: parent\n    follow-children: false\n    run: [%s]\n' "$forker" "$forker" > fork.yml
"$memgate" run -c fork.yml >/dev/null 2>err.txt; rc=$?
check "fork tests exit 0 (got $rc)" [ "$rc" = 0 ] || cat err.txt >&2
cat > want.json <<'J'
{ "summary": { "allocs": 7, "leaked_bytes": 560, "processes": 2 } }
J
check "followed: both processes" "$json_expect" want.json profiles/both.json
cat > want.json <<'J'
{ "summary": { "allocs": 4, "frees": 2, "total_bytes": 610, "peak_bytes": 600,
               "leaked_bytes": 110, "processes": 1 },
  "complete": true, "warnings": [] }
J
check "not followed: the parent's figures only" "$json_expect" want.json profiles/parent.json

# stack-depth: 0 - the same exact figures, no call stacks
printf 'version: 1\ntests:\n  - name: bare\n    stack-depth: 0\n    run: [%s]\n' "$basic" > bare.yml
"$memgate" run -c bare.yml >/dev/null 2>err.txt; rc=$?
check "stack-depth 0 exits 0 (got $rc)" [ "$rc" = 0 ] || cat err.txt >&2
cat > want.json <<'J'
{ "summary": { "allocs": 4, "frees": 3, "total_bytes": 380, "peak_bytes": 230,
               "leaked_bytes": 200 },
  "processes": [ { "leak_stacks": [ { "bytes": 200, "blocks": 1, "frames": [] } ],
                   "peak_stacks": [ { "bytes": 230, "blocks": 2, "frames": [] } ] } ] }
J
check "stack-depth 0: exact figures, no frames" "$json_expect" want.json profiles/bare.json

# a missing program: exit 3
printf 'version: 1\ntests:\n  - name: ghost\n    run: [/nonexistent/prog]\n' > ghost.yml
"$memgate" run -c ghost.yml >/dev/null 2>err.txt; rc=$?
check "missing program exits 3 (got $rc)" [ "$rc" = 3 ]
check "missing program named" grep -q "ghost: cannot run '/nonexistent/prog'" err.txt

# workers: one measures test after test (its symbolizer kept, pool.c); one
# killed while it measures fails that test alone, and a new one takes the next.
# Each test writes its worker's pid: the parent of its shepherd, its own parent.
grand='awk "{print \$4}" /proc/$PPID/stat'
cat > workers.yml <<YML
version: 1
tests:
  - name: w1
    run: [sh, -c, '$grand >> gp.txt']
  - name: w2
    run: [$basic]
  - name: w3
    run: [sh, -c, '$grand >> gp.txt']
  - name: killer
    run: [sh, -c, 'kill -9 \$($grand); sleep 30']
  - name: w4
    run: [sh, -c, '$grand >> gp.txt']
YML
rm -f gp.txt
"$memgate" run -c workers.yml -j1 -o wout >/dev/null 2>err.txt; rc=$?
check "a worker killed: exit 3 (got $rc)" [ "$rc" = 3 ]
check "a worker killed: that test named" grep -q "^memgate: killer: the worker died (signal 9)" err.txt
check "a worker killed: the others measured" \
	sh -c '[ -f wout/w1.json ] && [ -f wout/w2.json ] && [ -f wout/w3.json ] && [ -f wout/w4.json ] && [ ! -f wout/killer.json ]'
check "a worker killed: 4 measured, 1 not" grep -q "4 tests measured into wout/; 1 could not be measured" err.txt
check "one worker measured w1 to w3" sh -c '[ "$(sed -n 1p gp.txt)" = "$(sed -n 2p gp.txt)" ]'
check "a new worker measured w4" sh -c '[ $(wc -l < gp.txt) = 3 ] && [ "$(sed -n 2p gp.txt)" != "$(sed -n 3p gp.txt)" ]'
cat > want.json <<'J'
{ "test": { "name": "w2" }, "complete": true, "exit": { "code": 3 },
  "summary": { "allocs": 4, "frees": 3, "total_bytes": 380, "peak_bytes": 230,
               "leaked_bytes": 200, "processes": 1 } }
J
check "w2's figures, after another test in its worker" "$json_expect" want.json wout/w2.json
check "w2's leak stack symbolized, after another test in its worker" \
	grep -q '"main"' wout/w2.json

[ $fail = 0 ] && echo "ok: memgate run"
exit $fail
