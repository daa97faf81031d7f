#!/bin/sh
# tracer_symbols.sh - libmemgate.so exports only its hooks and imports only what is safe in a hook
#
# usage: tracer_symbols.sh LIBMEMGATE.so ALLOWED_EXPORTS LIBC.md
#
# Exports: anything else would be interposed into every traced program.
# Imports: the tracer must never call malloc, stdio or anything that may
# allocate or wait on a lock the program holds (curl's `nm | grep ' T '`
# check).  The allowed imports are the rows of the table in
# src/tracer/LIBC.md, `| \`symbol\` | called from | why it is safe |`: a
# new import needs its row, with both columns filled, and a row whose
# symbol is no longer imported must go.
set -u
lib=$1 exports=$2 libc_md=$3
status=0
imports=$(mktemp)
sed -n 's/^| `\([^`]*\)` |.*/\1/p' "$libc_md" | sort -u > "$imports"
if [ ! -s "$imports" ]; then
	echo "FAIL: no import table in $libc_md" >&2
	exit 1
fi
# both columns after the symbol hold text
unjustified=$(grep '^| `' "$libc_md" | awk -F'|' '{ c = $3; r = $4; gsub(/[ \t]/, "", c); gsub(/[ \t]/, "", r);
	if (NF < 5 || c == "" || r == "") print $2 }')
if [ -n "$unjustified" ]; then
	echo "FAIL: imports listed in $libc_md without where or why:" $unjustified >&2
	status=1
fi
nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ {print $3}' | sed 's/@.*//' | sort -u > /tmp/mg_exports.$$
nm -D --undefined-only "$lib" | awk '{print $2}' | sed 's/@.*//' | sort -u > /tmp/mg_imports.$$
extra=$(grep -v '^#' "$exports" | sort -u | comm -23 /tmp/mg_exports.$$ -)
if [ -n "$extra" ]; then
	echo "FAIL: libmemgate.so exports symbols not in $exports:" $extra >&2
	status=1
fi
missing=$(grep -v '^#' "$exports" | sort -u | comm -13 /tmp/mg_exports.$$ -)
if [ -n "$missing" ]; then
	echo "FAIL: libmemgate.so no longer exports:" $missing >&2
	status=1
fi
bad=$(comm -23 /tmp/mg_imports.$$ "$imports")
if [ -n "$bad" ]; then
	echo "FAIL: libmemgate.so imports symbols not justified in $libc_md:" $bad >&2
	status=1
fi
stale=$(comm -13 /tmp/mg_imports.$$ "$imports")
if [ -n "$stale" ]; then
	echo "FAIL: $libc_md lists symbols libmemgate.so no longer imports:" $stale >&2
	status=1
fi
rm -f /tmp/mg_exports.$$ /tmp/mg_imports.$$ "$imports"
[ $status = 0 ] && echo "ok: $(wc -l < "$exports") exports, every import justified in $libc_md"
exit $status
