#!/bin/sh
# no_libc_calls.sh - the tracer's sources call no stdio, no malloc family, no getenv
#
# usage: no_libc_calls.sh SRC_TRACER_DIR
# The allocation functions are *defined* in hooks.c; any other use is a call.
set -u
dir=$1
pat='\b(f?printf|sprintf|snprintf|puts|fopen|fwrite|fputs|strdup|strndup|getenv|setenv|syslog|perror|qsort)\s*\('
hits=$(grep -nE "$pat" "$dir"/*.c "$dir"/*.h | grep -v '^\S*:[0-9]*:\s*\*' )
calls=$(grep -nE '\b(malloc|calloc|realloc|free)\s*\(' "$dir"/*.c | grep -vE 'EXPORT|__libc_|^\S*:[0-9]*:\s*(/\*|\*)' )
if [ -n "$hits$calls" ]; then
	echo "FAIL: forbidden calls in the tracer:" >&2
	printf '%s\n%s\n' "$hits" "$calls" >&2
	exit 1
fi
echo "ok: no stdio, malloc-family or getenv calls in $dir"
