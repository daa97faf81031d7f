#!/bin/sh
# fault_test.sh - what memgate does to odd files, odd names and odd processes
# around it (issue 13's fault matrix): one scenario per ctest test
#
# usage: fault_test.sh SCENARIO MEMGATE FX_BASIC
#   atomic_target   -o / --html onto a FIFO, a device, symlinks, a pipe
#   gated_figures   corrupt, huge and inexact figures; strict JSON with line:col
#   timeout_tree    a timeout, SIGTERM and SIGINT end descendants that called setsid()
#   kill_tree       memgate killed with SIGKILL: its test's whole tree dies with it
#   shard_lists     each shard of `run` saves its list of discovered tests; check reads them all
#   trace_interrupt ^C during `memgate trace` reaches the command, which does not ignore it
#   baseline_types  FIFOs and symlinks as baselines: refused promptly, never followed out
#   actions_names   inside GitHub Actions, names with newlines start no workflow command
#   accept_lock     accepts take turns on the baselines directory, never mix
set -u
scenario=$1 memgate=$(realpath "$2") basic=$(realpath "$3")
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/memgate-fault.XXXXXX") || exit 1
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

# waits up to 10 s for process $1 to end; 1 if it is still running
wait_gone() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 100 ] && return 1
		sleep 0.1
	done
	return 0
}

atomic_target() {
	# a FIFO is written in place, with a reader at the other end
	mkfifo fifo
	timeout 20 cat fifo > fifo.out &
	reader=$!
	pids="$pids $reader"
	"$memgate" trace -o fifo -- "$basic" >/dev/null 2>err.txt; rc=$?
	check "-o FIFO exits 0 (got $rc)" [ "$rc" = 0 ]
	check "the FIFO is still a FIFO" [ -p fifo ]
	wait_gone "$reader" || kill "$reader" 2>/dev/null
	check "the profile went through the FIFO" grep -q '"schema"' fifo.out

	# a character device (made here, never the system's): still a device
	if mknod null c 1 3 2>/dev/null && echo x > null 2>/dev/null; then
		"$memgate" trace -o null -- "$basic" >/dev/null 2>err.txt; rc=$?
		check "-o device exits 0 (got $rc)" [ "$rc" = 0 ]
		check "the device is still a device" [ -c null ]
	else
		echo "note: cannot make a usable device node here, device case skipped"
	fi

	# a symlink to a regular file: the file is replaced, the link stays
	printf 'old\n' > real.json
	ln -s real.json link.json
	"$memgate" trace -o link.json -- "$basic" >/dev/null 2>err.txt; rc=$?
	check "-o symlink exits 0 (got $rc)" [ "$rc" = 0 ]
	check "the symlink is still a symlink" [ -L link.json ]
	check "the file it points to has the profile" grep -q '"schema"' real.json

	# a dangling relative symlink in another directory: its target is created
	mkdir d1 d2
	ln -s ../d2/p.json d1/p.json
	"$memgate" trace -o d1/p.json -- "$basic" >/dev/null 2>err.txt; rc=$?
	check "-o dangling symlink exits 0 (got $rc)" [ "$rc" = 0 ]
	check "the dangling symlink stays" [ -L d1/p.json ]
	check "its target was created" grep -q '"schema"' d2/p.json

	# standard output on a pipe, named through a symlink like /dev/stdout
	ln -s /proc/self/fd/1 out
	"$memgate" trace -o out -- "$basic" 2>err.txt | cat > piped.json
	check "the link to standard output stays" [ -L out ]
	check "the profile went down the pipe" grep -q '"schema"' piped.json

	# report --html goes through the same writer
	mkfifo page
	timeout 20 cat page > page.out &
	reader=$!
	pids="$pids $reader"
	"$memgate" report --html page real.json >/dev/null 2>err.txt; rc=$?
	check "--html FIFO exits 0 (got $rc)" [ "$rc" = 0 ]
	check "the --html FIFO is still a FIFO" [ -p page ]
	wait_gone "$reader" || kill "$reader" 2>/dev/null
	check "the page went through the FIFO" grep -q '<html' page.out
}

# a git repository in ./repo whose test "p" (FX_BASIC) has a committed baseline
repo_with_baseline() {
	export GIT_CONFIG_NOSYSTEM=1
	mkdir repo && cd repo || exit 1
	git init -q -b main . && git config user.email t@example.com && git config user.name test
	printf 'version: 1\ntests:\n  - name: p\n    run: [%s]\n' "$basic" > memgate.yml
	printf 'profiles/\n' > .gitignore
	"$memgate" run >/dev/null 2>&1
	"$memgate" accept --reason first >/dev/null 2>&1
	git add memgate.yml .gitignore baselines && git commit -qm "p: baseline"
	cp profiles/p.json good-profile.json
}

# edit FILE FIELD.KEY TEXT: the JSON text of FILE with FIELD.KEY's value
# replaced by TEXT verbatim (the key removed when TEXT is "MISSING")
edit() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
path, where, text = sys.argv[1:]
field, key = where.split(".")
d = json.load(open(path))
if text == "MISSING":
    del d[field][key]
else:
    d[field][key] = "@@VALUE@@"
open(path, "w").write(json.dumps(d, indent=1).replace('"@@VALUE@@"', text))
PY
}

# result_figure FILE CURRENT BASELINE: the check result FILE's leaked_bytes is
# exactly CURRENT against BASELINE (Python reads integers exactly, at any size)
result_figure() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
path, cur, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = json.load(open(path))["tests"][0]
m = [x for x in t["metrics"] if x["metric"] == "leaked_bytes"][0]
print(path, m)
sys.exit(not (m["current"] == cur and m["baseline"] == base and type(m["current"]) is int))
PY
}

gated_figures() {
	repo_with_baseline
	# a gated figure of the profile that is not an exact count: exit 2, file and field
	for v in '"12"' null -5 1.5 MISSING 1e400 18446744073709551616 1e3; do
		cp good-profile.json profiles/p.json
		edit profiles/p.json summary.peak_bytes "$v"
		"$memgate" check --from profiles >out.txt 2>&1; rc=$?
		check "profile peak_bytes $v exits 2 (got $rc)" [ "$rc" = 2 ]
		if [ "$v" = 1e400 ]; then
			check "profile peak_bytes $v named" grep -q "profiles/p.json:[0-9]*:[0-9]*: number out of range" out.txt
		else
			check "profile peak_bytes $v named" grep -q "profiles/p.json: summary.peak_bytes: expected a count" out.txt
		fi
	done
	cp good-profile.json profiles/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "the intact profile passes (got $rc)" [ "$rc" = 0 ]
	# the same in the baseline accepted in the change (the work tree's)
	cp baselines/p.json good-baseline.json
	for v in '"12"' null -5 1.5 MISSING 18446744073709551616; do
		cp good-baseline.json baselines/p.json
		edit baselines/p.json figures.leaked_bytes "$v"
		"$memgate" check --from profiles >out.txt 2>&1; rc=$?
		check "baseline leaked_bytes $v exits 2 (got $rc)" [ "$rc" = 2 ]
		check "baseline leaked_bytes $v named" grep -q "baselines/p.json: figures.leaked_bytes: expected a count" out.txt
	done
	# a baseline that also has a profile's summary and processes is still
	# checked as a baseline (the fuzzer found one that lost its gate)
	cp good-baseline.json baselines/p.json
	edit baselines/p.json figures.leaked_bytes MISSING
	/usr/bin/python3 - baselines/p.json profiles/p.json <<'PY'
import json, sys
d, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
d["summary"], d["processes"] = p["summary"], p["processes"]
json.dump(d, open(sys.argv[1], "w"))
PY
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "a profile-shaped baseline without leaked_bytes exits 2 (got $rc)" [ "$rc" = 2 ]
	check "a profile-shaped baseline's missing figure named" \
		grep -q "baselines/p.json: figures.leaked_bytes: expected a count" out.txt
	# a leak kind may be null (unknown: the process died before its exit step)
	cp good-baseline.json baselines/p.json
	edit profiles/p.json summary.possibly_lost_bytes null
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "a null leak kind is no error (got $rc)" [ "$rc" = 0 ]

	# counts above 2^53 are exact: 2^53 + 1 leaked against 2^53 with tolerance 0
	cp good-profile.json profiles/p.json
	edit profiles/p.json summary.leaked_bytes 9007199254740993
	edit baselines/p.json figures.leaked_bytes 9007199254740992
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "2^53+1 against 2^53 regresses (got $rc)" [ "$rc" = 1 ]
	check "exact figures in the table" grep -Eq "leaked_bytes +9007199254740992 +9007199254740993" out.txt
	check "exact figures in the check result" result_figure profiles/memgate-check.json \
		9007199254740993 9007199254740992
	# ... and read back exactly: the comment made from the saved result
	env -u GITHUB_ACTIONS "$memgate" comment --from profiles >out.txt 2>&1
	check "2^53+1 read back from the check result" \
		grep -q "| leaked_bytes | 9007199254740992 | 9007199254740993 | +1 |" out.txt
	# and 2^64-1 is a count, gated as any other
	edit profiles/p.json summary.leaked_bytes 18446744073709551615
	edit baselines/p.json figures.leaked_bytes 18446744073709551615
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "2^64-1 against itself passes (got $rc)" [ "$rc" = 0 ]
	check "2^64-1 in the check result" result_figure profiles/memgate-check.json \
		18446744073709551615 18446744073709551615
	"$memgate" check --from profiles --format json >out.json 2>/dev/null
	check "2^64-1 in check --format json" result_figure out.json \
		18446744073709551615 18446744073709551615
	# accept keeps the exact figure
	cp good-baseline.json baselines/p.json
	"$memgate" accept --reason big >/dev/null 2>&1
	check "accept writes 2^64-1 exactly" grep -q '"leaked_bytes": 18446744073709551615' baselines/p.json

	# strict JSON, with line:col
	cp good-baseline.json baselines/p.json
	cp good-profile.json profiles/p.json
	printf '\n  x' >> profiles/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "trailing garbage exits 2 (got $rc)" [ "$rc" = 2 ]
	n=$(wc -l < good-profile.json)
	check "trailing garbage at its line:col" grep -q "profiles/p.json:$((n + 2)):3: expected the end of the document, got 'x'" out.txt
	printf '{"schema": 1,\n "schema": 1}\n' > profiles/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "duplicate key exits 2 (got $rc)" [ "$rc" = 2 ]
	check "duplicate key at its line:col" grep -q 'profiles/p.json:2:2: duplicate key "schema"' out.txt
	printf '{"schema": 01}\n' > profiles/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "leading zero exits 2 (got $rc)" [ "$rc" = 2 ]
	check "leading zero at its line:col" grep -q 'profiles/p.json:1:12: number with a leading zero' out.txt
}

# a test whose grandchild leaves the session (setsid) and writes its pid to $1
tree_cmd() {
	printf '[/bin/sh, -c, "setsid /bin/sh -c '"'"'echo $$ > %s; exec sleep 60'"'"' & exec sleep 60"]' "$1"
}

# gone PIDFILE WHAT: the process of PIDFILE has ended (within 2 s)
gone() {
	gpid=$(cat "$1" 2>/dev/null)
	check "$2: the grandchild started" [ -n "$gpid" ]
	[ -n "$gpid" ] || return
	pids="$pids $gpid"
	n=0
	while kill -0 "$gpid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$gpid/stat" 2>/dev/null)" != Z ]; do
		n=$((n + 1))
		[ $n -gt 20 ] && break
		sleep 0.1
	done
	# one read of its state: it may be reaped between two looks
	check "$2: the setsid grandchild is gone" sh -c "s=\$(cat /proc/$gpid/stat 2>/dev/null); [ -z \"\$s\" ] || printf '%s\\n' \"\$s\" | grep -q '^[0-9]* ([^)]*) Z'"
}

timeout_tree() {
	printf 'version: 1\ntests:\n  - name: tree\n    timeout: 1s\n    run: %s\n' "$(tree_cmd "$work/t1.pid")" > memgate.yml
	t0=$(date +%s)
	"$memgate" run >out.txt 2>&1; rc=$?
	t1=$(date +%s)
	check "a timed-out run exits 3 (got $rc)" [ "$rc" = 3 ]
	check "the timeout returns promptly (took $((t1 - t0)) s, the grace is 10 s)" [ $((t1 - t0)) -lt 8 ]
	gone t1.pid "timeout"

	# memgate stopped by a signal: run (its worker ends the tree) and trace
	for how in "run TERM" "run INT" "trace TERM"; do
		set -- $how
		pidfile="$work/$1-$2.pid"
		printf 'version: 1\ntests:\n  - name: tree\n    run: %s\n' "$(tree_cmd "$pidfile")" > memgate.yml
		if [ "$1" = run ]; then
			set -- "$2" "$memgate" run
		else
			set -- "$2" "$memgate" trace -o trace.json -- /bin/sh -c \
				"setsid /bin/sh -c 'echo \$\$ > $pidfile; exec sleep 60' & exec sleep 60"
		fi
		# python: a child of a non-interactive shell's '&' would ignore SIGINT
		/usr/bin/python3 - "$pidfile" "$@" <<'PY'
import os, signal, subprocess, sys, time
pidfile, sig, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
# (SIGINT as a terminal's foreground job has it, whatever this shell ignores)
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
for _ in range(200):
    if os.path.exists(pidfile) and open(pidfile).read().strip():
        break
    time.sleep(0.05)
time.sleep(0.3)
p.send_signal(getattr(signal, "SIG" + sig))
try:
    rc = p.wait(timeout=8)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("memgate did not end within 8 s of SIG" + sig)
print("memgate ended:", rc)
PY
		check "$how: memgate ended promptly" [ $? = 0 ]
		gone "$pidfile" "$how"
	done
}

# alive PID: 0 while process PID runs (not a zombie); one read of its state
alive() {
	s=$(cat "/proc/$1/stat" 2>/dev/null) && ! printf '%s\n' "$s" | grep -q '^[0-9]* ([^)]*) Z'
}

kill_tree() {
	# the command (d), a child in the background (b), one that left the session (s)
	# and one whose parent ended at once (o, reparented): each writes its pid
	tree="echo \$\$ > $work/d; sleep 300 & echo \$! > $work/b;
setsid sh -c 'echo \$\$ > $work/s; exec sleep 300' & (sh -c 'echo \$\$ > $work/o; exec sleep 300' &); wait"
	printf 'version: 1\ntests:\n  - name: tree\n    run: [/bin/sh, -c, "%s"]\n' \
		"$(printf '%s' "$tree" | tr '\n' ' ' | sed 's/\\/\\\\/g; s/"/\\"/g')" > memgate.yml
	for how in trace run; do
		rm -f d b s o
		if [ $how = trace ]; then
			"$memgate" trace -o trace.json -- /bin/sh -c "$tree" >out.txt 2>&1 &
		else
			"$memgate" run >out.txt 2>&1 &
		fi
		mg=$!
		pids="$pids $mg"
		n=0
		until [ -s d ] && [ -s b ] && [ -s s ] && [ -s o ]; do
			n=$((n + 1))
			[ $n -gt 200 ] && break
			sleep 0.05
		done
		tree_pids="$(cat d b s o 2>/dev/null)"
		pids="$pids $tree_pids"
		check "$how: the tree started (pids: $(echo $tree_pids))" [ "$(echo $tree_pids | wc -w)" = 4 ]
		kill -KILL "$mg"
		wait "$mg" 2>/dev/null
		# every process of the tree ends within 5 s (polled)
		n=0
		while :; do
			left=
			for p in $tree_pids; do alive "$p" && left="$left $p"; done
			[ -z "$left" ] && break
			n=$((n + 1))
			[ $n -gt 100 ] && break
			sleep 0.05
		done
		check "$how: SIGKILL of memgate ends the whole tree (still running:$left)" [ -z "$left" ]
	done
}

shard_lists() {
	export GIT_CONFIG_NOSYSTEM=1
	git init -q -b main . && git config user.email t@example.com && git config user.name test
	# a GoogleTest program's stand-in, whose list is $FAKE_LIST: the build of
	# shard 2's job has one test more (A.d) than shard 1's
	printf '#!/bin/sh\ncase "$1" in --gtest_list_tests) printf "A.\\n"; for t in $FAKE_LIST; do printf "  %%s\\n" "$t"; done ;; esac\nexit 0\n' > fakegt
	chmod +x fakegt
	printf 'version: 1\ntests:\n  - gtest: ./fakegt\n' > memgate.yml
	git add memgate.yml fakegt && git commit -qm tests
	FAKE_LIST="a b c" "$memgate" run --shard 1/2 -o s1 >out.txt 2>&1
	check "shard 1 runs (A.a, A.c)" sh -c '[ -f s1/A.a.json ] && [ -f s1/A.c.json ] && [ ! -f s1/A.b.json ]'
	FAKE_LIST="a b c d" "$memgate" run --shard 2/2 -o s2 >out.txt 2>&1
	check "shard 2 runs (A.b, A.d)" sh -c '[ -f s2/A.b.json ] && [ -f s2/A.d.json ]'
	check "each shard saves its own list" sh -c \
		'[ -f s1/memgate-tests.1-of-2.json ] && [ -f s2/memgate-tests.2-of-2.json ]'
	# judged: every test of either list, with no build (the stand-in now lists nothing)
	judged() {
		/usr/bin/python3 -c "
import json, sys
print(sorted(t['name'] for t in json.load(sys.stdin)['tests']))" < out.json
	}
	FAKE_LIST= "$memgate" check --from s1 --from s2 --format json >out.json 2>out.txt
	check "two --from: every shard's tests judged (got $(judged))" \
		[ "$(judged)" = "['A.a', 'A.b', 'A.c', 'A.d']" ]
	# a CI gate that downloads every shard's profiles into one directory
	mkdir all && cp s2/* all/ && cp s1/* all/
	FAKE_LIST= "$memgate" check --from all --format json >out.json 2>out.txt
	check "one directory of both shards: every test judged (got $(judged))" \
		[ "$(judged)" = "['A.a', 'A.b', 'A.c', 'A.d']" ]
	# a run of another layout replaces the lists of the one before
	FAKE_LIST="a b c" "$memgate" run -o s1 >out.txt 2>&1
	check "an unsharded run removes the shards' lists" \
		sh -c '[ -f s1/memgate-tests.json ] && [ ! -f s1/memgate-tests.1-of-2.json ]'
	FAKE_LIST="a b c" "$memgate" run --shard 1/3 -o s1 >out.txt 2>&1
	check "a run in 3 shards removes the unsharded list" \
		sh -c '[ -f s1/memgate-tests.1-of-3.json ] && [ ! -f s1/memgate-tests.json ]'
}

trace_interrupt() {
	# ^C of a terminal: SIGINT to the foreground process group, memgate's and the command's
	/usr/bin/python3 - "$memgate" "$work" <<'PY'
import os, signal, subprocess, sys, time
memgate, work = sys.argv[1], sys.argv[2]
ign = os.path.join(work, "ign.txt")
p = subprocess.Popen([memgate, "trace", "-o", os.path.join(work, "t.json"), "--", "/bin/sh", "-c",
                      "grep SigIgn /proc/$$/status > %s.tmp; mv %s.tmp %s; exec sleep 60" % (ign, ign, ign)],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
for _ in range(200):
    if os.path.exists(ign):
        break
    time.sleep(0.05)
mask = int(open(ign).read().split()[1], 16) if os.path.exists(ign) else -1
os.killpg(p.pid, signal.SIGINT)
try:
    _, err = p.communicate(timeout=8)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    sys.exit("FAIL: memgate trace did not end within 8 s of ^C (the command's SigIgn: %x)" % mask)
fail = 0
if mask < 0 or mask & (1 << (signal.SIGINT - 1)):
    print("FAIL: the command ignores SIGINT (SigIgn %x)" % mask); fail = 1
if b"killed by signal 2" not in err or p.returncode != 3:
    print("FAIL: memgate reports the interrupt (exit %d): %s" % (p.returncode, err.decode())); fail = 1
sys.exit(fail)
PY
	check "^C reaches the traced command" [ $? = 0 ]
}

baseline_types() {
	repo_with_baseline
	cp baselines/p.json good.json
	# a FIFO in the work tree: refused at once, by type, not read
	rm baselines/p.json && mkfifo baselines/p.json
	timeout 10 "$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "FIFO baseline: check exits 2, without hanging (got $rc)" [ "$rc" = 2 ]
	check "FIFO baseline: named" grep -q "cannot read 'baselines/p.json': it is a FIFO, not a regular file" out.txt
	timeout 10 "$memgate" accept >out.txt 2>&1; rc=$?
	check "FIFO baseline: accept fails without hanging (got $rc)" [ "$rc" != 0 ] && [ "$rc" != 124 ]
	check "FIFO baseline: accept left it alone" [ -p baselines/p.json ]
	# a symlink to a FIFO
	rm baselines/p.json && mkfifo fifo && ln -s ../fifo baselines/p.json
	timeout 10 "$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "symlink to a FIFO: check exits 2, without hanging (got $rc)" [ "$rc" = 2 ]
	check "symlink to a FIFO: named" grep -q "it is a FIFO" out.txt
	# a symlink out of the repository: refused, not followed
	sed 's/"leaked_bytes": [0-9]*/"leaked_bytes": 1/' good.json > "$work/outside.json"
	rm baselines/p.json && ln -s "$work/outside.json" baselines/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "symlink out of the repository: check exits 2 (got $rc)" [ "$rc" = 2 ]
	check "symlink out of the repository: named" grep -q "cannot read 'baselines/p.json': it leads to '$work/outside.json', outside the repository" out.txt
	# ... while one inside it is read
	rm baselines/p.json && ln -s ../good.json baselines/p.json
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "symlink inside the repository: read, passes (got $rc)" [ "$rc" = 0 ]
	# memgate.yml itself a FIFO: refused by its type too
	mkfifo fifo.yml
	timeout 10 "$memgate" check -c fifo.yml --from profiles >out.txt 2>&1; rc=$?
	check "FIFO config: exits 2 without hanging (got $rc)" [ "$rc" = 2 ]
	check "FIFO config: named" grep -q "fifo.yml: expected a file, got something else" out.txt
	# a symlink committed as the baseline (a blob of mode 120000): refused
	git add good.json baselines/p.json && git commit -qm "p: baseline as a symlink"
	"$memgate" check --from profiles >out.txt 2>&1; rc=$?
	check "committed symlink: check exits 2 (got $rc)" [ "$rc" = 2 ]
	check "committed symlink: named" grep -q "'baselines/p.json' at [0-9a-f]* is a symlink: baselines must be regular files" out.txt
}

# as_runner FILE CMD...: CMD's stdout and stderr through pipes, as the runner
# reads them, into FILE; its exit status in $rc
as_runner() {
	out=$1
	shift
	{ "$@"; echo $? > rc.txt; } 2>&1 | cat > "$out"
	rc=$(cat rc.txt)
}

# no_commands FILE: no line of FILE is a workflow command to the runner (lines end
# at LF or CR; blanks before "::" are trimmed, Unicode ones too), except
# memgate's own annotations
no_commands() {
	/usr/bin/python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
bad = [l for l in re.split(r"\r\n|\r|\n", text)
       if (l.lstrip().startswith("::") and not re.match(r"::(error|warning) title=memgate[^:,]*::", l))
       or "##[" in l]
for l in bad:
    print("command:", repr(l))
sys.exit(1 if bad else 0)
PY
}

actions_names() {
	export GITHUB_ACTIONS=true MEMGATE_GITHUB_PUBLISH=0
	nl='
'
	hostile="x$nl::error::pwned$(printf '\r')::warning::cr ##[error]old$nl$(printf '\302\240')::notice::nbsp"
	mkdir "$hostile" || exit 1
	cp "$basic" "$hostile/prog"
	# a program whose DWARF file name holds the same
	printf '#include <stdlib.h>\nint main(void) {\n\tvoid *volatile p = malloc(1000);\n\t(void)p;\n\treturn 0;\n}\n' > "$hostile/leak$nl::error::dwarf.c"
	${CC:-cc} -g -O0 -fno-omit-frame-pointer -o "$hostile/leak" "$hostile/leak$nl::error::dwarf.c" || exit 1

	as_runner trace.txt "$memgate" trace -o p.json -- "$hostile/prog"
	check "trace exits 0 (got $rc)" [ "$rc" = 0 ]
	check "trace: no workflow command" no_commands trace.txt
	check "trace: the path is shown, neutralised" grep -q '^%3A:error::pwned' trace.txt
	as_runner trace2.txt "$memgate" trace -o p2.json -- "$hostile/leak"
	check "trace (DWARF name): no workflow command" no_commands trace2.txt
	check "trace (DWARF name): shown, neutralised" grep -q '^%3A:error::dwarf.c:3)' trace2.txt

	# run: a command that cannot be found, named in the error
	git init -q -b main . && git config user.email t@example.com && git config user.name test
	printf 'version: 1\ntests:\n  - name: t\n    run: [%s]\n' "$(printf '%s' "$hostile/nosuch" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" > memgate.yml
	as_runner run.txt "$memgate" run
	check "run of a missing program exits 3 (got $rc)" [ "$rc" = 3 ]
	check "run: no workflow command" no_commands run.txt
	# check: the leak site of the DWARF name, new against the baseline
	printf 'version: 1\ntests:\n  - name: t\n    run: [%s]\n' "$(printf '%s' "$hostile/prog" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" > memgate.yml
	printf 'profiles/\n' > .gitignore
	"$memgate" run >/dev/null 2>&1 && "$memgate" accept >/dev/null 2>&1
	git add memgate.yml .gitignore baselines && git commit -qm baseline
	printf 'version: 1\ntests:\n  - name: t\n    run: [%s]\n' "$(printf '%s' "$hostile/leak" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" > memgate.yml
	as_runner check.txt "$memgate" check
	check "check of a new leak exits 1 (got $rc)" [ "$rc" = 1 ]
	check "check: no workflow command" no_commands check.txt
	check "check: the leak site is shown, neutralised" grep -q '^%3A:error::dwarf.c:3)' check.txt
	# outside Actions nothing is changed
	GITHUB_ACTIONS= as_runner plain.txt "$memgate" trace -o p3.json -- "$hostile/prog"
	check "outside Actions: printed as is" grep -q '^::error::pwned' plain.txt
}

accept_lock() {
	repo_with_baseline
	printf 'version: 1\ntests:\n  - name: p\n    run: [%s]\n  - name: q\n    run: [%s]\n' "$basic" "$basic" > memgate.yml
	"$memgate" run >/dev/null 2>&1
	for v in 149 151; do
		mkdir "p$v"
		for t in p q; do
			cp "profiles/$t.json" "p$v/$t.json"
			edit "p$v/$t.json" summary.peak_bytes "$v"
		done
	done
	"$memgate" accept --from p149 >/dev/null 2>&1
	git add -A baselines memgate.yml && git commit -qm q
	cp baselines/p.json before.json

	# held by another (one process: killing it frees the lock): a bounded wait,
	# then exit 3 and nothing written
	hold() {
		/usr/bin/python3 -c 'import fcntl, os, sys, time
fcntl.flock(os.open("baselines", os.O_RDONLY), fcntl.LOCK_EX)
time.sleep(float(sys.argv[1]))' "$1" &
		holder=$!
		pids="$pids $holder"
		while flock -n baselines true; do sleep 0.05; done
	}
	hold 60
	MEMGATE_LOCK_TIMEOUT=1 "$memgate" accept --from p151 >/dev/null 2>err.txt; rc=$?
	check "locked: accept exits 3 (got $rc)" [ "$rc" = 3 ]
	check "locked: said" grep -q "'baselines' is locked by another memgate (an accept at work?): gave up after 1 s" err.txt
	check "locked: said it waited" grep -q "waiting for another memgate holding 'baselines'" err.txt
	check "locked: nothing written" cmp -s before.json baselines/p.json
	kill "$holder"; wait "$holder" 2>/dev/null
	# held for a moment: the accept waits its turn, then writes
	hold 2
	"$memgate" accept --from p151 >/dev/null 2>err.txt; rc=$?
	check "waited: accept exits 0 (got $rc)" [ "$rc" = 0 ]
	check "waited: said" grep -q "waiting for another memgate holding 'baselines'" err.txt
	check "waited: written" grep -q '"peak_bytes": 151' baselines/p.json
	check "the lock leaves no file behind" [ -z "$(git status --porcelain --ignored --untracked-files=all baselines | grep -v '^ M ')" ]
	git checkout -q baselines

	# two at once: all figures from one or all from the other
	for i in 1 2 3; do
		"$memgate" accept --from p149 >/dev/null 2>&1 & a=$!
		"$memgate" accept --from p151 >/dev/null 2>&1 & b=$!
		wait $a; ra=$?
		wait $b; rb=$?
		check "race $i: both exit 0 ($ra, $rb)" [ "$ra$rb" = 00 ]
		got=$(cat baselines/p.json baselines/q.json | grep -o '"peak_bytes": 1[45][19]' | sort -u | wc -l)
		check "race $i: one accept's figures, not a mix" [ "$got" = 1 ]
	done
}

case $scenario in
atomic_target) atomic_target ;;
gated_figures) gated_figures ;;
timeout_tree) timeout_tree ;;
kill_tree) kill_tree ;;
shard_lists) shard_lists ;;
trace_interrupt) trace_interrupt ;;
baseline_types) baseline_types ;;
actions_names) actions_names ;;
accept_lock) accept_lock ;;
*) echo "unknown scenario '$scenario'" >&2; exit 2 ;;
esac
exit $fail
