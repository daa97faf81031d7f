#!/bin/sh
# install_layout.sh - an installed memgate finds libmemgate.so under its prefix
#
# usage: install_layout.sh BUILD_DIR WORK_DIR
# Installs the build into WORK_DIR/prefix, then traces /bin/true with the
# installed binary, from a directory that holds no libmemgate.so.
set -eu
build=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
lib=$(find "$work/prefix" -name libmemgate.so)
case $lib in
*/lib/memgate/libmemgate.so|*/lib64/memgate/libmemgate.so) ;;
*) echo "FAIL: libmemgate.so installed at '$lib'" >&2; exit 1 ;;
esac
[ ! -e "$work/prefix/bin/libmemgate.so" ] || { echo "FAIL: library beside the binary" >&2; exit 1; }
cd "$work"
env -u MEMGATE_PRELOAD "$work/prefix/bin/memgate" trace -o "$work/p.json" -- /bin/true
grep -q '"processes":' "$work/p.json" || { echo "FAIL: no profile" >&2; exit 1; }
echo "ok: installed memgate traced /bin/true with $lib"
