#!/bin/sh
# tracer_symbols.sh - libmemgate.so exports only its hooks and imports only what is safe in a hook
#
# usage: tracer_symbols.sh LIBMEMGATE.so ALLOWED_EXPORTS ALLOWED_IMPORTS
#
# Exports: anything else would be interposed into every traced program.
# Imports: the tracer must never call malloc, stdio or anything that may
# allocate or take locks we do not control; a new import must be reviewed and
# added to the list on purpose (curl's `nm | grep ' T '` check).
set -u
lib=$1 exports=$2 imports=$3
status=0
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
bad=$(grep -v '^#' "$imports" | sort -u | comm -23 /tmp/mg_imports.$$ -)
if [ -n "$bad" ]; then
	echo "FAIL: libmemgate.so imports symbols not in $imports:" $bad >&2
	status=1
fi
rm -f /tmp/mg_exports.$$ /tmp/mg_imports.$$
[ $status = 0 ] && echo "ok: $(wc -l < "$exports") exports, imports within the allowed list"
exit $status
