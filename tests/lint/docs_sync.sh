#!/bin/sh
# docs_sync.sh - every command `memgate help` lists has its own usage text
# and is documented in README.md, so the two cannot drift apart silently
#
# usage: docs_sync.sh MEMGATE README
set -u
memgate=$1 readme=$2
fail=0
cmds=$("$memgate" help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | grep -v '^help$')
[ -n "$cmds" ] || { echo "FAIL: memgate help lists no command" >&2; exit 1; }
for c in $cmds; do
	"$memgate" help "$c" > help.txt 2>&1 || { echo "FAIL: 'memgate help $c' fails" >&2; fail=1; }
	grep -q "usage: memgate $c" help.txt || { echo "FAIL: 'memgate help $c' has no usage line" >&2; fail=1; }
	grep -q "memgate $c" "$readme" || { echo "FAIL: README.md does not document 'memgate $c'" >&2; fail=1; }
done
rm -f help.txt
[ $fail = 0 ] && echo "ok: $(echo $cmds | wc -w) commands documented"
exit $fail
