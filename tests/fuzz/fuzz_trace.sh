#!/bin/sh
# fuzz_trace.sh - trace files kept from a few real runs, then fuzz_trace over them
#
# usage: fuzz_trace.sh MEMGATE FUZZ_TRACE WORK SECONDS SEED FX_THREADS_MIX FX_FORK FX_DEPOT FX_EXEC_CHAIN
#
# The runs cover what the reader takes apart: threads counting in their own
# records (threads_mix), several processes (fork), deep stacks with the probe
# at the next event left in the file (depot kill: SIGKILLed with frame-pointer
# stacks), and an exec chain.  Exit: fuzz_trace's, or 2 when a run kept no
# traces.
memgate=$1 fuzz=$2 work=$3 seconds=$4 seed=$5
shift 5
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 2
dirs=
keep() {
	name=$1
	shift
	"$memgate" trace --keep-raw -o "$work/$name.json" "$@" >"$work/$name.out" 2>&1
	raw=$(sed -n 's/.*raw traces kept in \([^ ]*\).*/\1/p' "$work/$name.out" | head -n 1)
	if [ -z "$raw" ] || [ ! -d "$raw" ]; then
		echo "fuzz_trace.sh: $name kept no traces:"
		cat "$work/$name.out"
		exit 2
	fi
	mv "$raw" "$work/$name.raw" || exit 2
	dirs="$dirs $work/$name.raw"
}
keep threads_mix -- "$1"
keep fork -- "$2"
keep depot_kill --unwind fp -- "$3" kill 14 20
keep exec_chain -- "$4"
# shellcheck disable=SC2086
"$fuzz" "$seconds" "$seed" $dirs
