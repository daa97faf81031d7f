/* sites.h - whose a stack is, and the call site it is blamed on
 *
 * Two questions about an allocation stack, answered in one place:
 *
 *  - Is the block the runtime's own?  Runtime-owned blocks (stdio buffers,
 *    libstdc++'s emergency pool, locale, NSS and loader data, Rust std's
 *    per-thread blocks ...) are recognised by where the runtime allocates
 *    them: walking out from the allocation while still in the runtime's code,
 *    a frame matches one rule of one table (docs/profile-schema.md,
 *    "Runtime-owned blocks").  A stack that merely has no frame of the
 *    program is the program's.
 *
 *  - Which call site explains it?  The innermost frame in the program's own
 *    code, past the allocator plumbing (libc, libstdc++'s containers and
 *    strings, Rust's liballoc, system headers, memgate.yml's
 *    `defaults: skip-frames:`), followed by its callers in the program, at
 *    most four frames (docs/check-result.md, "Call sites").  Baselines keep
 *    these names, and check compares them.
 */
#ifndef MEMGATE_CORE_SITES_H
#define MEMGATE_CORE_SITES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* one symbolized frame, as the profile has it; NULL/0 where unknown */
struct mg_site_frame {
	const char *function;
	const char *file;
	int line;
	const char *module;         /* path of the ELF file */
	uint64_t offset;            /* from the module's load bias */
};

/* What the runtime calls the block allocated at this stack, innermost frame
 * first (a static string: "stdio buffer", ...), or NULL: the program's. */
const char *mg_runtime_owner(const struct mg_site_frame *f, size_t n);

/* The same, and *at: the index of the runtime's frame whose rule matched,
 * and *entry (entry may be NULL) the last frame still in the runtime's code
 * from there outwards: where the program (or the runtime's own start) called
 * into the runtime ("puts" for a stdio buffer, "std::thread::spawn" for a
 * thread handle).  Both set only when the block is the runtime's. */
const char *mg_runtime_owner_at(const struct mg_site_frame *f, size_t n, size_t *at,
				size_t *entry);

/* One frame's part in it: whether it is the runtime's code (*code 1), and
 * then what the runtime calls a block its function allocates, or NULL. */
const char *mg_runtime_frame(const struct mg_site_frame *f, int *code);

/*
 * mg_runtime_owner_at() over frames whose mg_runtime_frame() answers
 * `frame(i, &code, arg)` gives: for a caller that sees the same frames in
 * many stacks (a profile's) and keeps each frame's answer.
 */
typedef const char *(*mg_runtime_frame_fn)(size_t i, int *code, void *arg);
const char *mg_runtime_cut(size_t n, mg_runtime_frame_fn frame, void *arg, size_t *at,
			   size_t *entry);

/* 1 when the frame is library code, not the program's own: a runtime or
 * system library, a system header, Rust's standard library sources, a
 * Cargo dependency's sources. */
int mg_site_frame_is_library(const struct mg_site_frame *f);

/*
 * The index of the frame that names the call site: the innermost frame of
 * the program's own code that neither the built-in plumbing patterns nor
 * `skip` (fnmatch(3) globs on the function name, NULL-terminated; NULL for
 * none) match.  With no such frame: the innermost frame the patterns do not
 * match, else frame 0.  n must be > 0.
 */
size_t mg_site_choose(const struct mg_site_frame *f, size_t n, char *const *skip);

/*
 * The site's name, malloc'd: the chosen frame and its callers in the
 * program (at most four frames), each "function (file:line)" (file without
 * its directory), else "function", else "module+0xoffset", joined by " < ".
 * Never empty: a stack without frames is "(no stack)".  NULL: out of memory.
 */
char *mg_site_name(const struct mg_site_frame *f, size_t n, char *const *skip);

/* The same from a profile's "frames" array (docs/profile-schema.md). */
char *mg_site_name_json(const cJSON *frames, char *const *skip);

/*
 * The tables mg_site_name() uses, for the HTML page's own site names
 * (src/report/assets/report.js): { "runtime_libs", "system_dirs",
 * "header_dirs", "vendored_files", "rust_crates", "rust_functions",
 * "rust_std_deps_dirs", "rust_std_deps", "gtest_dirs", "gtest_libs",
 * "gtest_functions", "plumbing": [strings],
 * "frames": 4 }.  The caller's; NULL when out of memory.
 */
cJSON *mg_site_rules_json(void);

#endif
