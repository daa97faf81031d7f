#!/bin/sh
# fault_test.sh - what memgate does to odd files, odd names and odd processes
# around it (issue 13's fault matrix): one scenario per ctest test
#
# usage: fault_test.sh SCENARIO MEMGATE FX_BASIC
#   atomic_target   -o / --html onto a FIFO, a device, symlinks, a pipe
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

case $scenario in
atomic_target) atomic_target ;;
*) echo "unknown scenario '$scenario'" >&2; exit 2 ;;
esac
exit $fail
