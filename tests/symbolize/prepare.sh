#!/bin/sh
# prepare.sh WORK MAIN CXX LIB NOPIE SRCDIR - run the symbolize fixtures and make the copies
# the tests resolve their sites in:
#   WORK/sites.txt              the fixtures' sites (sites.h)
#   WORK/sites-nopie.txt       the same with NOPIE (MAIN built as ET_EXEC) for MAIN
#   WORK/sites-clang.txt       MAIN's sites built by clang, which emits no
#                               .debug_aranges (only if clang is installed)
#   WORK/split/F + F.debug      stripped, DWARF in a debug file beside it (debuglink)
#   WORK/sub/F + .debug/F.debug --strip-debug, debug file in .debug/ (debuglink)
#   WORK/nodebug/F              strip --strip-debug: .symtab only
#   WORK/stripped/F             strip: .dynsym only, no debug file
#   WORK/dwz/MAIN + .debug      stripped, its debug file and NOPIE's run through
#                               `dwz -m`: the inlined functions' DIEs and names
#                               move to WORK/dwz/common.debug (.gnu_debugaltlink);
#                               only if dwz is installed
set -eu
work=$1 main=$2 cxx=$3 lib=$4 nopie=$5 src=$6
rm -rf "$work"
mkdir -p "$work/split" "$work/sub/.debug" "$work/nodebug" "$work/stripped"
"$main" > "$work/sites.txt"
"$cxx" >> "$work/sites.txt"
"$nopie" > "$work/sites-nopie.txt"
"$cxx" >> "$work/sites-nopie.txt"
eu-readelf -h "$nopie" | grep -q 'EXEC (Executable file)' || { echo "$nopie is not ET_EXEC" >&2; exit 1; }

for f in "$main" "$cxx" "$lib"; do
	b=$(basename "$f")
	objcopy --only-keep-debug "$f" "$work/split/$b.debug"
	cp "$f" "$work/split/$b"
	strip "$work/split/$b"
	objcopy --add-gnu-debuglink="$work/split/$b.debug" "$work/split/$b"

	cp "$work/split/$b.debug" "$work/sub/.debug/$b.debug"
	cp "$f" "$work/sub/$b"
	strip --strip-debug "$work/sub/$b"
	objcopy --add-gnu-debuglink="$work/sub/.debug/$b.debug" "$work/sub/$b"

	cp "$f" "$work/nodebug/$b"
	strip --strip-debug "$work/nodebug/$b"
	cp "$f" "$work/stripped/$b"
	strip "$work/stripped/$b"
done

if command -v dwz >/dev/null 2>&1; then
	mkdir -p "$work/dwz"
	for f in "$main" "$nopie"; do
		b=$(basename "$f")
		objcopy --only-keep-debug "$f" "$work/dwz/$b.debug"
		cp "$f" "$work/dwz/$b"
		strip "$work/dwz/$b"
		objcopy --add-gnu-debuglink="$work/dwz/$b.debug" "$work/dwz/$b"
	done
	(cd "$work/dwz" && dwz -m common.debug -M "$work/dwz/common.debug" \
		"$(basename "$main").debug" "$(basename "$nopie").debug")
	eu-readelf -S "$work/dwz/$(basename "$main").debug" | grep -q gnu_debugaltlink ||
		{ echo "dwz made no .gnu_debugaltlink" >&2; exit 1; }
fi

if command -v clang >/dev/null 2>&1; then
	clang -O2 -g -fno-omit-frame-pointer -Wno-unknown-attributes -o "$work/clang_main" \
		"$src/sym_main.c" "$lib" -Wl,-rpath,"$(dirname "$lib")"
	"$work/clang_main" > "$work/sites-clang.txt"
	grep -v -e '^exe ' -e '^inlined ' "$work/sites.txt" >> "$work/sites-clang.txt"
fi
