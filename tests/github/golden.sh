#!/bin/sh
# golden.sh - the markdown of a check result, byte for byte: golden.sh MD_RENDER DATA GOLDEN [MAX [CONFIG]]
# (regenerate one: MEMGATE_UPDATE_GOLDEN=1 ctest -R github.golden)
set -u
render=$1 data=$2 golden=$3
shift 3
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$render" "$data" "$@" > "$out" || { echo "FAIL: md_render $data exited $?"; exit 1; }
if [ "${MEMGATE_UPDATE_GOLDEN:-}" = 1 ]; then
	cp "$out" "$golden"
	echo "updated $golden"
	exit 0
fi
if ! diff -u "$golden" "$out"; then
	echo "FAIL: $(basename "$golden") differs (- expected, + rendered)"
	exit 1
fi
echo "ok: $(basename "$golden")"
