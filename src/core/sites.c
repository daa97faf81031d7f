/* sites.c - runtime-owned stacks and the call site a stack is blamed on */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/glob.h"
#include "../util/hash.h"
#include "sites.h"
#include "symbolize.h"

#define SITE_FRAMES 4               /* frames that name a call site */
#define MAX_JSON_FRAMES 256

static const char *base_name(const char *path)
{
	const char *b = path ? strrchr(path, '/') : NULL;
	return b ? b + 1 : path;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The tables: what is library code, and the allocator plumbing.  The HTML
 * page names sites with the same tables (mg_site_rules_json(), report.js).
 */

/* the C and C++ runtime, by file name: libc, the loader, libstdc++, libgcc, libm ... */
static const char *const runtime_libs[] = { "libc.so", "ld-linux", "libstdc++.so", "libgcc_s.so",
					    "libm.so", "libpthread.so", "libdl.so", "libnss_",
					    "libresolv.so" };
/* system libraries, by directory */
static const char *const system_dirs[] = { "/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/",
					   "/usr/libexec/" };
/* sources of code inlined or instantiated in the program that is not its own */
static const char *const header_dirs[] = { "/usr/include/", "/usr/lib/gcc/" };
/* sources of other people's code built into the program: Cargo's dependencies */
static const char *const vendored_files[] = { "/.cargo/registry/src/", "/.cargo/git/checkouts/" };
/* Rust's standard library crates, under library/ in their sources */
static const char *const rust_crates[] = { "std/", "alloc/", "core/", "panic_unwind/",
					   "panic_abort/", "std_detect/", "backtrace/", "test/" };
/* Rust std's own dependencies, built with the toolchain and linked into every
 * program with the standard library (libtest's option parser, std's hash
 * table, its backtrace symbolizer).  Their sources say "/rust/deps/NAME-VER/..."
 * (rust_std_deps_dirs), or, for code compiled ahead into the toolchain's
 * libraries, a path relative to the crate ("src/lib.rs"), indistinguishable
 * from the program's own: such a frame is known by its function's crate. */
static const char *const rust_std_deps_dirs[] = { "/rust/deps/" };
static const char *const rust_std_deps[] = { "getopts::", "<getopts::", "hashbrown::",
					     "<hashbrown::", "unicode_width::", "<unicode_width::",
					     "rustc_demangle::", "<rustc_demangle::", "addr2line::",
					     "<addr2line::", "gimli::", "<gimli::", "miniz_oxide::",
					     "<miniz_oxide::" };
/* GoogleTest, the harness of a C++ test program, usually linked in statically
 * (Debian's libgtest.a has no line information: its functions, "testing::...",
 * come without a source file): its headers, its sources when built from
 * them (CMake's FetchContent), its shared libraries */
static const char *const gtest_dirs[] = { "/include/gtest/", "/googletest/src/",
					  "/googletest/include/", "/googlemock/src/",
					  "/googlemock/include/" };
static const char *const gtest_libs[] = { "libgtest", "libgmock" };
static const char *const gtest_functions[] = { "testing::" };
/* the C++ library's templates instantiated without line information (a
 * static library built without -g, as Debian's libgtest.a): by name ("std::"
 * is in rust_functions) */
static const char *const cxx_functions[] = { "void std::", "__gnu_cxx::", "void __gnu_cxx::" };
/* Rust's standard library by name, for frames without a source file */
static const char *const rust_functions[] = { "std::", "alloc::", "core::", "<std::",
					      "<alloc::", "<core::", "__rust_", "__rdl_", "__rg_",
					      "test::", "<test::" };

/*
 * The allocator plumbing every site is looked past: functions that only
 * allocate on behalf of their caller.  Libraries' own frames are passed
 * anyway (mg_site_frame_is_library); these patterns also catch them inlined
 * or instantiated in the program, and in static programs.  fnmatch(3) globs.
 */
static const char *const plumbing[] = {
	/* C */
	"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
	"aligned_alloc", "memalign", "valloc", "pvalloc", "strdup", "__strdup", "strndup",
	"__strndup", "getline", "getdelim", "__getdelim", "asprintf", "__asprintf", "vasprintf",
	"__vasprintf*", "open_memstream", "realpath", "scandir",
	/* C++ */
	"operator new*", "operator delete*", "__gnu_cxx::new_allocator<*",
	"__gnu_cxx::__new_allocator<*", "std::__new_allocator<*", "std::allocator<*",
	"std::allocator_traits<*", "std::__cxx11::basic_string<*", "std::basic_string<*",
	"std::vector<*", "std::_Vector_base<*", "std::deque<*", "std::_Deque_base<*",
	"std::__cxx11::list<*", "std::_List_*", "std::_Rb_tree<*", "std::_Hashtable<*",
	"std::__detail::*", "std::unique_ptr<*", "std::__shared_count<*", "std::make_shared<*",
	"std::make_unique<*", "std::__allocate_guarded<*", "std::__uninitialized*",
	"void std::vector<*", "void std::deque<*",
	/* Rust */
	"alloc::*", "<alloc::*", "__rust_alloc*", "__rust_realloc", "__rdl_*", "__rg_*",
	"core::*", "<core::*", "std::alloc::*", "<std::alloc::*",
};

static int has_prefix(const char *s, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

static int runtime_module(const char *path)
{
	return has_prefix(base_name(path), runtime_libs, N(runtime_libs));
}

/* Rust's standard library (std, alloc, core), compiled into the program:
 * its precompiled code says "library/std/src/...", its generic code inlined
 * or instantiated in the crate "/rustc/<commit>/library/...", a toolchain's
 * rust-src ".../lib/rustlib/src/rust/library/..." */
static int rust_library_file(const char *file)
{
	const char *lib;
	if (!file)
		return 0;
	if (!strncmp(file, "library/", 8))
		lib = file + 8;
	else if ((!strncmp(file, "/rustc/", 7) || strstr(file, "/rustlib/src/rust/")) &&
		 (lib = strstr(file, "/library/")))
		lib += 9;
	else
		return 0;
	return has_prefix(lib, rust_crates, N(rust_crates));
}

static int contains_any(const char *s, const char *const *parts, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strstr(s, parts[i]))
			return 1;
	return 0;
}

/* a function of GoogleTest: "testing::...", also after a return type
 * ("void testing::internal::InitGoogleTestImpl<char>(int*, char**)"), but not
 * one that only takes or instantiates GoogleTest's types */
static int gtest_function(const char *fn)
{
	int depth = 0;
	if (has_prefix(fn, gtest_functions, N(gtest_functions)))
		return 1;
	for (const char *c = fn; c && *c && *c != '('; c++) {
		if (*c == '<')
			depth++;
		else if (*c == '>' && depth > 0)
			depth--;
		else if (*c == ' ' && !depth && has_prefix(c + 1, gtest_functions, N(gtest_functions)))
			return 1;
	}
	return 0;
}

/* a frame of GoogleTest's own code (gtest_dirs) */
static int gtest_code(const struct mg_site_frame *f)
{
	return contains_any(f->file, gtest_dirs, N(gtest_dirs)) ||
	       has_prefix(base_name(f->module), gtest_libs, N(gtest_libs)) ||
	       (!f->file && gtest_function(f->function));
}

/* a frame of Rust std's dependencies (rust_std_deps) */
static int rust_std_dep(const struct mg_site_frame *f)
{
	return has_prefix(f->file, rust_std_deps_dirs, N(rust_std_deps_dirs)) ||
	       ((!f->file || f->file[0] != '/') &&
		has_prefix(f->function, rust_std_deps, N(rust_std_deps)));
}

/* code of the runtime: where runtime-owned blocks are looked for (Rust's
 * std by its sources, or by its names where the frame has no source file;
 * C++'s library headers instantiated in the program; the test harnesses) */
static int runtime_code(const struct mg_site_frame *f)
{
	return runtime_module(f->module) || rust_library_file(f->file) || rust_std_dep(f) ||
	       has_prefix(f->file, header_dirs, N(header_dirs)) || gtest_code(f) ||
	       (!f->file && (has_prefix(f->function, rust_functions, N(rust_functions)) ||
			     has_prefix(f->function, cxx_functions, N(cxx_functions))));
}

/*
 * The runtime's own allocation sites (docs/profile-schema.md, "Runtime-owned
 * blocks"): fnmatch(3) globs on the function names of the functions of the
 * runtime that allocate what it keeps until exit.  Found by running real
 * programs (C stdio, NSS, locales, C++ iostream and GoogleTest, Rust std).
 */
#define GTEST_OWNER "GoogleTest harness data"
static const struct { const char *function, *what; } runtime_rules[] = {
	/* glibc (anywhere in the name: its internal aliases, __GI_... , match too) */
	{ "*_IO_file_doallocate*", "stdio buffer" },
	{ "*_IO_doallocbuf*", "stdio buffer" },
	{ "*_nl_*", "locale data" },
	{ "*setlocale*", "locale data" },
	{ "*newlocale*", "locale data" },
	{ "*nss_*", "NSS data" },
	{ "*__gconv*", "iconv data" },
	{ "*tzset_internal*", "time zone data" },
	{ "*__tzfile_read*", "time zone data" },
	{ "*__new_exitfn*", "atexit handler list" },
	{ "*dl_open_worker*", "dynamic loader data" },
	{ "*_dl_*", "dynamic loader data" },
	{ "*__tls_get_addr*", "dynamic TLS" },
	{ "*allocate_dtv*", "dynamic TLS" },
	{ "*__cxa_thread_atexit_impl*", "thread-local destructor list" },
	{ "*_dlerror_run*", "dynamic loader data" },
	{ "*__tzstring*", "time zone data" },
	{ "*new_composite_name*", "locale data" },
	{ "*global_state_allocate*", "NSS data" },
	/* the static buffers of the non-reentrant NSS lookups */
	{ "getpwnam", "NSS data" }, { "getpwuid", "NSS data" }, { "getpwent", "NSS data" },
	{ "getgrnam", "NSS data" }, { "getgrgid", "NSS data" }, { "getgrent", "NSS data" },
	{ "getspnam", "NSS data" }, { "gethostby*", "NSS data" }, { "getservby*", "NSS data" },
	{ "getprotoby*", "NSS data" }, { "getnetby*", "NSS data" },
	{ "*__check_pf*", "getaddrinfo interface cache" },
	{ "*get_locked_global*", "resolver data" },
	{ "*__resolv_conf*", "resolver data" },
	{ "*__resolv_context*", "resolver data" },
	/* libstdc++ */
	{ "*::pool::pool*", "libstdc++ emergency exception pool" },
	{ "*__gnu_cxx::__freeres*", "libstdc++ emergency exception pool" },
	{ "*__cxa_get_globals*", "libstdc++ exception globals" },
	/* a runtime library's own static data, made before main by its
	 * initializers (stripped: symbolize.c names them) */
	{ MG_SYM_INITIALIZER, "runtime library static data" },
	{ "_GLOBAL__sub_I_*", "runtime library static data" },
	/* Rust's std */
	{ "std::sys::*stack_overflow::*", "Rust std thread info" },
	{ "*std::sys::*stack_overflow::thread_info::*", "Rust std thread info" },
	{ "std::thread::current::*", "Rust std thread handle" },
	{ "std::thread::*set_current*", "Rust std thread handle" },
	{ "std::thread::*Thread*::new*", "Rust std thread handle" },
	{ "std::thread::*thread_info*", "Rust std thread handle" },
	{ "std::thread::*spawn*", "Rust std thread handle" },
	{ "std::sys::*thread::*", "Rust std thread handle" },
	{ "std::sys::thread_local::*", "Rust std thread-local data" },
	{ "std::sys::*thread_local*::register*", "Rust std thread-local data" },
	{ "std::io::stdio::*", "Rust std stdio buffer" },
	{ "<std::io::stdio::*", "Rust std stdio buffer" },
	{ "std::rt::*", "Rust std runtime data" },
	{ "std::sys::args::*", "Rust std runtime data" },
	{ "std::sys::*::args::*", "Rust std runtime data" },
	{ "std::env::*args*", "Rust std runtime data" },
	/* Rust's test harness (libtest), around the tests it runs */
	{ "test::*", "Rust test harness data" },
	/* GoogleTest, around the tests it runs (its registry, messages, flags);
	 * its functions after a return type too (gtest_function) */
	{ "testing::*", GTEST_OWNER },
};

static const char *runtime_frame(const struct mg_site_frame *f, int *code)
{
	/* Rust's inherent methods demangle as "<std::thread::Thread>::new" */
	const char *fn = f->function, *bare = fn && *fn == '<' ? fn + 1 : fn;
	if (!(*code = runtime_code(f)) || !fn)
		return NULL;
	for (size_t r = 0; r < N(runtime_rules); r++)
		if (mg_glob(runtime_rules[r].function, fn) ||
		    (bare != fn && mg_glob(runtime_rules[r].function, bare)))
			return runtime_rules[r].what;
	return gtest_function(fn) ? GTEST_OWNER : NULL;
}

/*
 * runtime_frame()'s answers, remembered by the three strings it reads (the
 * function, the file, the module): a worker of `memgate run` builds profile
 * after profile of one test binary, whose frames are mostly the same std and
 * harness functions, and one answer is ~70 globs, 27k instructions on a
 * Rust name (more than half of a small Rust case's profile: bench/README.md,
 * "Session 12: building a profile").  Open addressing on a 64-bit hash of
 * the strings, which are copied; it grows to RT_MEMO_MAX entries, then only
 * answers what it holds.  memgate is single-threaded; the table lives as
 * long as the process.
 */
#define RT_MEMO_MAX (1u << 15)

struct rt_memo {
	uint64_t hash;
	char *function, *file, *module;       /* NULL where the frame has none */
	const char *what;                     /* a static string, or NULL */
	int code;
	int used;
};

static struct rt_memo *rt_memo;
static size_t rt_memo_cap, rt_memo_n;

/* h extended by string s, with NULL and "" told apart */
static uint64_t hash_str(uint64_t h, const char *s)
{
	const unsigned char tag = s ? 1 : 2;
	h = mg_fnv1a(&tag, 1, h);
	return s ? mg_fnv1a_str(s, h) : h;
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static struct rt_memo *rt_memo_slot(struct rt_memo *tab, size_t cap, uint64_t h,
				    const struct mg_site_frame *f)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!tab[i].used || (tab[i].hash == h && same_str(tab[i].function, f->function) &&
				     same_str(tab[i].file, f->file) &&
				     same_str(tab[i].module, f->module)))
			return &tab[i];
}

/* room for one more entry: 0, or -1 when full or out of memory */
static int rt_memo_room(void)
{
	if (rt_memo_n >= RT_MEMO_MAX)
		return -1;
	if (4 * (rt_memo_n + 1) <= 3 * rt_memo_cap)
		return 0;
	size_t cap = rt_memo_cap ? 2 * rt_memo_cap : 1024;
	struct rt_memo *tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -1;
	for (size_t i = 0; i < rt_memo_cap; i++)
		if (rt_memo[i].used) {
			const struct mg_site_frame f = { rt_memo[i].function, rt_memo[i].file, 0,
							 rt_memo[i].module, 0 };
			*rt_memo_slot(tab, cap, rt_memo[i].hash, &f) = rt_memo[i];
		}
	free(rt_memo);
	rt_memo = tab;
	rt_memo_cap = cap;
	return 0;
}

static char *dup_or_null(const char *s, int *failed)
{
	char *d = s ? strdup(s) : NULL;
	*failed |= s && !d;
	return d;
}

const char *mg_runtime_frame(const struct mg_site_frame *f, int *code)
{
	uint64_t h = hash_str(hash_str(hash_str(MG_FNV_OFFSET, f->function), f->file),
			      f->module);
	struct rt_memo *e = rt_memo ? rt_memo_slot(rt_memo, rt_memo_cap, h, f) : NULL;
	if (e && e->used) {
		*code = e->code;
		return e->what;
	}
	const char *what = runtime_frame(f, code);
	if (rt_memo_room() < 0)
		return what;
	int failed = 0;
	struct rt_memo m = { h, dup_or_null(f->function, &failed), dup_or_null(f->file, &failed),
			     dup_or_null(f->module, &failed), what, *code, 1 };
	if (failed) {
		free(m.function);
		free(m.file);
		free(m.module);
		return what;
	}
	*rt_memo_slot(rt_memo, rt_memo_cap, h, f) = m;
	rt_memo_n++;
	return what;
}

const char *mg_runtime_cut(size_t n, mg_runtime_frame_fn frame, void *arg, size_t *at,
			   size_t *entry)
{
	int code = 1;
	for (size_t i = 0; i < n && code; i++) {
		const char *what = frame(i, &code, arg);
		if (!what)
			continue;
		*at = i;
		for (size_t e = i; entry; e++) {
			if (e + 1 == n || (frame(e + 1, &code, arg), !code)) {
				*entry = e;
				break;
			}
		}
		return what;
	}
	return NULL;
}

/* the answer of frame i of an array of site frames */
static const char *site_frame(size_t i, int *code, void *arg)
{
	return mg_runtime_frame(&((const struct mg_site_frame *)arg)[i], code);
}

const char *mg_runtime_owner_at(const struct mg_site_frame *f, size_t n, size_t *at,
				size_t *entry)
{
	return mg_runtime_cut(n, site_frame, (void *)f, at, entry);
}

const char *mg_runtime_owner(const struct mg_site_frame *f, size_t n)
{
	size_t at;
	return mg_runtime_owner_at(f, n, &at, NULL);
}

static int is_plumbing(const char *fn, char *const *skip)
{
	if (!fn)
		return 0;
	for (size_t i = 0; i < N(plumbing); i++)
		if (mg_glob(plumbing[i], fn))
			return 1;
	for (; skip && *skip; skip++)
		if (mg_glob(*skip, fn))
			return 1;
	return 0;
}

static int vendored_file(const char *file)
{
	for (size_t i = 0; file && i < N(vendored_files); i++)
		if (strstr(file, vendored_files[i]))
			return 1;
	return 0;
}

int mg_site_frame_is_library(const struct mg_site_frame *f)
{
	return has_prefix(f->module, system_dirs, N(system_dirs)) || runtime_module(f->module) ||
	       rust_library_file(f->file) || has_prefix(f->file, header_dirs, N(header_dirs)) ||
	       vendored_file(f->file) || rust_std_dep(f) || gtest_code(f) ||
	       (!f->file && has_prefix(f->function, rust_functions, N(rust_functions)));
}

static int program_frame(const struct mg_site_frame *f, char *const *skip)
{
	return !mg_site_frame_is_library(f) && !is_plumbing(f->function, skip);
}

size_t mg_site_choose(const struct mg_site_frame *f, size_t n, char *const *skip)
{
	for (size_t i = 0; i < n; i++)
		if (program_frame(&f[i], skip))
			return i;
	for (size_t i = 0; i < n; i++)
		if (f[i].function && *f[i].function && !is_plumbing(f[i].function, skip))
			return i;
	return 0;
}

char *mg_site_name(const struct mg_site_frame *f, size_t n, char *const *skip)
{
	char buf[2048];
	size_t len = 0, first;
	buf[0] = '\0';
	if (!n)
		return strdup("(no stack)");
	first = mg_site_choose(f, n, skip);
	for (size_t i = first; i < n && i < first + SITE_FRAMES && len < sizeof(buf) - 1; i++) {
		const struct mg_site_frame *x = &f[i];
		/* a site in the program names its callers in the program only */
		if (i > first && program_frame(&f[first], skip) && !program_frame(x, skip))
			break;
		if (i > first)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, " < ");
		if (len >= sizeof(buf) - 1)
			break;
		if (x->function && *x->function && x->file)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s (%s:%d)", x->function,
						base_name(x->file), x->line);
		else if (x->function && *x->function)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", x->function);
		else    /* module+offset: stable for the same binary */
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s+0x%" PRIx64,
						x->module ? base_name(x->module) : "?", x->offset);
	}
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	return strndup(buf, len);
}

char *mg_site_name_json(const cJSON *frames, char *const *skip)
{
	struct mg_site_frame f[MAX_JSON_FRAMES];
	size_t n = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, frames) {
		const cJSON *line = cJSON_GetObjectItem(x, "line");
		const char *off = cJSON_GetStringValue(cJSON_GetObjectItem(x, "offset"));
		if (n == MAX_JSON_FRAMES)
			break;
		f[n].function = cJSON_GetStringValue(cJSON_GetObjectItem(x, "function"));
		f[n].file = cJSON_GetStringValue(cJSON_GetObjectItem(x, "file"));
		f[n].line = cJSON_IsNumber(line) ? line->valueint : 0;
		f[n].module = cJSON_GetStringValue(cJSON_GetObjectItem(x, "module"));
		f[n].offset = off ? strtoull(off, NULL, 16) : 0;
		n++;
	}
	return mg_site_name(f, n, skip);
}

static cJSON *strings(const char *const *v, size_t n)
{
	return cJSON_CreateStringArray(v, (int)n);
}

cJSON *mg_site_rules_json(void)
{
	cJSON *o = cJSON_CreateObject();
	if (!o ||
	    !cJSON_AddItemToObject(o, "runtime_libs", strings(runtime_libs, N(runtime_libs))) ||
	    !cJSON_AddItemToObject(o, "system_dirs", strings(system_dirs, N(system_dirs))) ||
	    !cJSON_AddItemToObject(o, "header_dirs", strings(header_dirs, N(header_dirs))) ||
	    !cJSON_AddItemToObject(o, "vendored_files", strings(vendored_files, N(vendored_files))) ||
	    !cJSON_AddItemToObject(o, "rust_crates", strings(rust_crates, N(rust_crates))) ||
	    !cJSON_AddItemToObject(o, "rust_functions", strings(rust_functions, N(rust_functions))) ||
	    !cJSON_AddItemToObject(o, "rust_std_deps_dirs",
				   strings(rust_std_deps_dirs, N(rust_std_deps_dirs))) ||
	    !cJSON_AddItemToObject(o, "rust_std_deps", strings(rust_std_deps, N(rust_std_deps))) ||
	    !cJSON_AddItemToObject(o, "gtest_dirs", strings(gtest_dirs, N(gtest_dirs))) ||
	    !cJSON_AddItemToObject(o, "gtest_libs", strings(gtest_libs, N(gtest_libs))) ||
	    !cJSON_AddItemToObject(o, "gtest_functions", strings(gtest_functions, N(gtest_functions))) ||
	    !cJSON_AddItemToObject(o, "plumbing", strings(plumbing, N(plumbing))) ||
	    !cJSON_AddNumberToObject(o, "frames", SITE_FRAMES)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
