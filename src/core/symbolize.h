/* symbolize.h - offline symbolization of recorded return addresses (elfutils libdw)
 *
 * The tracer records raw return addresses and the modules they fall in; the
 * profile turns each one into a module path and an offset from the module's
 * load bias (docs/profile-schema.md).  This module turns (path, build-id,
 * offset) into function names, source lines and the chain of inlined calls,
 * reading the ELF files and their separate debug files after the run
 * (docs/tracer.md, "Symbolization, after the run"):
 *
 *  - DWARF from the file itself or from a separate debug file found the way
 *    gdb finds it: /usr/lib/debug/.build-id/xx/rest.debug, .gnu_debuglink
 *    (same directory, .debug/, /usr/lib/debug/<dir>) and dwz's
 *    .gnu_debugaltlink (libdwfl's dwfl_standard_find_debuginfo);
 *  - without DWARF, the ELF symbol table (.symtab, else .dynsym, or the
 *    MiniDebugInfo in .gnu_debugdata): a function name and no line;
 *  - system libraries (under /lib, /usr/lib) from their symbol tables only
 *    (function names, no lines) unless MEMGATE_SYSTEM_LINES=1: their debug
 *    files are compressed and cost ~60 ms per run to open;
 *  - C++ names demangled with __cxa_demangle, Rust's (legacy and v0) with
 *    libiberty's demangler, without their hash (mg_demangle);
 *  - no network: debuginfod is only asked when MEMGATE_DEBUGINFOD=1 (and
 *    DEBUGINFOD_URLS is set).  Otherwise DEBUGINFOD_URLS is hidden from libdw
 *    while it looks for debug files and restored before returning.
 *
 * Each file is opened once; each (module, offset) is resolved once.  Nothing
 * is an error past mg_symbolizer_new(): a missing, unreadable, stripped or
 * rebuilt file gives 0 frames and the caller shows module+offset.
 *
 * Not thread-safe: one struct mg_symbolizer per thread.  While it looks for
 * a debug file it briefly changes the process environment (DEBUGINFOD_URLS),
 * so no other thread should call getenv/setenv meanwhile.
 */
#ifndef MEMGATE_CORE_SYMBOLIZE_H
#define MEMGATE_CORE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct mg_error;
struct mg_symbolizer;

/* Creates an empty symbolizer; *out is the caller's (mg_symbolizer_free). */
int mg_symbolizer_new(struct mg_symbolizer **out, struct mg_error *err);

/* Closes every file and frees every string handed out.  NULL is a no-op. */
void mg_symbolizer_free(struct mg_symbolizer *s);

/*
 * Between two programs' frames (a worker measuring one test after another,
 * pool.c): keeps what `s` learnt, so that the cases of one test binary are
 * resolved once, unless a module has no build-id (the file at its path may
 * have been rebuilt meanwhile, and nothing would tell) or `s` holds more
 * than `max_modules` modules (open files and memory stay bounded over a
 * suite of many programs): then it is emptied, as if new, and the strings
 * it handed out are gone.
 */
void mg_symbolizer_recycle(struct mg_symbolizer *s, size_t max_modules);

/*
 * The name given to an address without symbol in one of its module's ELF
 * initializers (.init_array, DT_INIT: what the loader runs before main), as
 * found through the function's call frame information.
 */
#define MG_SYM_INITIALIZER "(static initializer)"

struct mg_sym_frame {
	const char *function;   /* demangled; NULL if unknown (no DWARF, no symbol) */
	const char *file;       /* source path as in DWARF; NULL if unknown */
	int line;               /* 0 if unknown */
	int inlined;            /* 1: this frame was inlined into the next one */
};

/*
 * Resolves the return address `offset` (relative to the module's load bias:
 * the ELF virtual address for PIE executables and shared libraries, the
 * address itself for non-PIE executables) of the module at `path`.  The
 * address looked up is offset - 1, so that the call instruction's line is
 * reported, not the next one's.
 *
 * If build_id_len > 0, `build_id` is the GNU build-id recorded at run time;
 * it must match the file's (or, if the file has none, its debug file's).  A
 * mismatch means the binary was rebuilt since: no symbols.
 *
 * Writes the frames innermost first to out: the inlined ones (inlined = 1;
 * each one's file:line is inside the inlined function, and the next frame's
 * line is where it was inlined), then the function that contains them all.
 * At most `max` frames are written; returns how many (0: unknown, the caller
 * shows module+offset).  The strings are owned by `s` and live until
 * mg_symbolizer_free().
 */
size_t mg_symbolize(struct mg_symbolizer *s, const char *path, const unsigned char *build_id,
		    size_t build_id_len, uint64_t offset, struct mg_sym_frame *out, size_t max);

/*
 * A linkage name demangled, malloc'd: Rust's legacy (_ZN...17h<hash>E) and
 * v0 (_R...) manglings without the hash and the crates' disambiguators
 * ("alloc::raw_vec::finish_grow"), else C++'s.  NULL: not a mangled name
 * (C), not valid, or out of memory.
 */
char *mg_demangle(const char *name);

#endif
