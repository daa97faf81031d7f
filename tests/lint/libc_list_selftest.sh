#!/bin/sh
# libc_list_selftest.sh - tracer_symbols.sh really ties the tracer's imports to src/tracer/LIBC.md
#
# usage: libc_list_selftest.sh LIBMEMGATE.so ALLOWED_EXPORTS LIBC.md
#
# The lint must pass on the real list, and fail on copies of it with an
# import's row removed, a row's reason left empty, and a row for a symbol the
# tracer does not import, naming the symbol each time.
set -u
lint=$(dirname "$0")/tracer_symbols.sh
lib=$1 exports=$2 libc_md=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# expect NAME WANT_EXIT PATTERN FILE: run the lint on FILE
expect() {
	sh "$lint" "$lib" "$exports" "$4" > "$tmp/out" 2>&1
	rc=$?
	if [ $rc != "$2" ] || ! grep -q -- "$3" "$tmp/out"; then
		echo "FAIL: $1: exit $rc (want $2), output:" >&2
		cat "$tmp/out" >&2
		status=1
	fi
}

expect "the real list" 0 "every import justified" "$libc_md"
grep -v '^| `strncmp` |' "$libc_md" > "$tmp/no_row.md"
expect "an import without its row" 1 "not justified.*strncmp" "$tmp/no_row.md"
sed 's/^\(| `strlen` | [^|]*|\).*/\1 |/' "$libc_md" > "$tmp/no_reason.md"
expect "a row without its reason" 1 "without where or why.*strlen" "$tmp/no_reason.md"
{ cat "$libc_md"; echo '| `fopen` | nowhere | a stale row |'; } > "$tmp/stale.md"
expect "a row for a symbol not imported" 1 "no longer imports.*fopen" "$tmp/stale.md"
[ $status = 0 ] && echo "ok: the import lint follows LIBC.md"
exit $status
