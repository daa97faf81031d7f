/* test_sites.c - runtime owners and call sites of synthetic stacks (core/sites.c),
 * and the demangler (core/symbolize.c) on names rustc and g++ emitted
 *
 * Stacks as real programs give them: the innermost frames in a runtime
 * library (short: frame pointers stop there), or long Rust chains through
 * liballoc.  A leak through library code only is the program's; the site is
 * the program's innermost frame, past the plumbing and memgate.yml's
 * skip-frames; a site is never empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sites.h"
#include "core/stacks.h"
#include "core/symbolize.h"
#include "harness.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
#define PROG "/src/build/prog"
#define RUSTLIB "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src/raw_vec/mod.rs"

static void check_name(const struct mg_site_frame *f, size_t n, char *const *skip,
		       const char *want)
{
	char *got = mg_site_name(f, n, skip);
	CHECK_STR(want, got);
	free(got);
}

static void test_runtime(void)
{
	/* the runtime's own sites */
	struct mg_site_frame stdio[] = { { "_IO_file_doallocate", NULL, 0, LIBC, 0x758cc },
					 { "_IO_doallocbuf", NULL, 0, LIBC, 0x84f00 } };
	struct mg_site_frame pool[] = { { MG_SYM_INITIALIZER, NULL, 0, LIBSTDCXX, 0xa57ba } };
	struct mg_site_frame nss[] = { { "malloc", NULL, 0, LIBC, 0x9000 },
				       { "__nss_database_lookup2", NULL, 0, LIBC, 0x12000 },
				       { "main", "/src/nss.c", 9, PROG, 0x1150 } };
	struct mg_site_frame rust_ti[] = {
		{ "alloc::alloc::alloc", "library/alloc/src/alloc.rs", 95, PROG, 0x3cc0a },
		{ "std::sys::pal::unix::stack_overflow::imp::init",
		  "library/std/src/sys/pal/unix/stack_overflow.rs", 179, PROG, 0x3a23d },
		{ "std::rt::lang_start_internal", "library/std/src/rt.rs", 171, PROG, 0x3a23d } };
	CHECK(mg_runtime_owner(stdio, N(stdio)) && !strcmp(mg_runtime_owner(stdio, N(stdio)), "stdio buffer"));
	CHECK(mg_runtime_owner(pool, N(pool)) != NULL);
	CHECK(mg_runtime_owner(nss, N(nss)) && !strcmp(mg_runtime_owner(nss, N(nss)), "NSS data"));
	CHECK(mg_runtime_owner(rust_ti, N(rust_ti)) != NULL);
	struct mg_site_frame rust_th[] = {
		{ "<alloc::alloc::Global>::alloc_impl", "library/alloc/src/alloc.rs", 190, PROG, 0x3000 },
		{ "<std::thread::Thread>::new", "library/std/src/thread/mod.rs", 1400, PROG, 0x3100 },
		{ "<std::thread::Builder>::spawn_unchecked", "library/std/src/thread/mod.rs", 500, PROG, 0x3200 },
		{ "app::start_workers", "/src/app/src/lib.rs", 40, PROG, 0x3300 } };
	CHECK(mg_runtime_owner(rust_th, N(rust_th)) &&
	      !strcmp(mg_runtime_owner(rust_th, N(rust_th)), "Rust std thread handle"));
	/* without source files (std's debug info stripped): std known by its names */
	struct mg_site_frame rust_nofile[] = {
		{ "<alloc::alloc::Global>::alloc_impl", NULL, 0, PROG, 0x3000 },
		{ "std::sys::pal::unix::stack_overflow::imp::init", NULL, 0, PROG, 0x3100 },
		{ "std::rt::lang_start_internal", NULL, 0, PROG, 0x3200 } };
	CHECK(mg_runtime_owner(rust_nofile, N(rust_nofile)) &&
	      !strcmp(mg_runtime_owner(rust_nofile, N(rust_nofile)), "Rust std thread info"));
	struct mg_site_frame rust_nofile_own[] = {
		{ "alloc::raw_vec::finish_grow", NULL, 0, PROG, 0x3000 },
		{ "vec::collect_items", NULL, 0, PROG, 0x3100 },
		{ "std::rt::lang_start_internal", NULL, 0, PROG, 0x3200 } };
	CHECK(mg_runtime_owner(rust_nofile_own, N(rust_nofile_own)) == NULL);
	check_name(rust_nofile_own, N(rust_nofile_own), NULL, "vec::collect_items");

	/* a thread's result packet, allocated while libtest spawns a test's thread */
	struct mg_site_frame rust_packet[] = {
		{ "<alloc::sync::Arc<std::thread::Packet<()>>>::new", "/rustc/5980/library/alloc/src/sync.rs", 400, PROG, 0x5000 },
		{ "<std::thread::Builder>::spawn_unchecked_::<test::run_test::{closure#0}, ()>",
		  "/rustc/5980/library/std/src/thread/mod.rs", 520, PROG, 0x5100 },
		{ "test::run_test", "/rustc/5980/library/test/src/lib.rs", 600, PROG, 0x5200 } };
	CHECK(mg_runtime_owner(rust_packet, N(rust_packet)) &&
	      !strcmp(mg_runtime_owner(rust_packet, N(rust_packet)), "Rust std thread handle"));
	/* the test function's own Vec, called by libtest: the program's, blamed on it */
	struct mg_site_frame rust_test[] = {
		{ "<alloc::raw_vec::RawVecInner>::finish_grow", RUSTLIB, 555, PROG, 0x6000 },
		{ "mycrate::tests::grows", "/src/mycrate/src/lib.rs", 30, PROG, 0x6100 },
		{ "<mycrate::tests::grows::{closure#0} as core::ops::function::FnOnce<()>>::call_once",
		  "/src/mycrate/src/lib.rs", 28, PROG, 0x6200 },
		{ "test::__rust_begin_short_backtrace::<...>", "/rustc/5980/library/test/src/lib.rs", 640, PROG, 0x6300 },
		{ "test::run_test_in_process", "/rustc/5980/library/test/src/lib.rs", 660, PROG, 0x6400 } };
	CHECK(mg_runtime_owner(rust_test, N(rust_test)) == NULL);
	check_name(rust_test, N(rust_test), NULL,
		   "mycrate::tests::grows (lib.rs:30) < <mycrate::tests::grows::{closure#0} as "
		   "core::ops::function::FnOnce<()>>::call_once (lib.rs:28)");

	/* library code only, but no runtime site: the program's (issue: std::string, strdup) */
	struct mg_site_frame str[] = { { "std::__cxx11::basic_string<char, std::char_traits<char>, "
					 "std::allocator<char> >::_M_mutate(unsigned long, unsigned long, "
					 "char const*, unsigned long)", NULL, 0, LIBSTDCXX, 0x13fcde } };
	struct mg_site_frame dup[] = { { "__strdup", NULL, 0, LIBC, 0x9e9aa } };
	struct mg_site_frame unknown[] = { { NULL, NULL, 0, LIBSTDCXX, 0x1234 } };
	CHECK(mg_runtime_owner(str, N(str)) == NULL);
	CHECK(mg_runtime_owner(dup, N(dup)) == NULL);
	CHECK(mg_runtime_owner(unknown, N(unknown)) == NULL);

	/* a rule's name in the program's own code does not count, nor beyond it */
	struct mg_site_frame own[] = { { "setlocale", "/src/mine.c", 3, PROG, 0x1000 } };
	struct mg_site_frame past[] = { { "__strdup", NULL, 0, LIBC, 0x9e9aa },
					{ "main", "/src/main.c", 5, PROG, 0x1100 },
					{ "_dl_start_user", NULL, 0, "/lib64/ld-linux-x86-64.so.2", 0x20 } };
	struct mg_site_frame user_rust[] = {
		{ "alloc::raw_vec::finish_grow", RUSTLIB, 555, PROG, 0x14c8a },
		{ "r1::collect_items", "/src/r1.rs", 5, PROG, 0x149be },
		{ "std::rt::lang_start_internal", "library/std/src/rt.rs", 171, PROG, 0x3a23d } };
	CHECK(mg_runtime_owner(own, N(own)) == NULL);
	CHECK(mg_runtime_owner(past, N(past)) == NULL);
	CHECK(mg_runtime_owner(user_rust, N(user_rust)) == NULL);
	CHECK(mg_runtime_owner(NULL, 0) == NULL);
}

/* mg_runtime_frame's answers are remembered by the frame's strings (sites.c):
 * the same strings in other buffers get the same answer, another file or
 * module its own; past the table's size the answers stay right */
static void ask(const char *fn, const char *file, const char *module, int want_code,
		const char *want)
{
	char f[128], fl[128], m[128];
	snprintf(f, sizeof(f), "%s", fn);
	snprintf(fl, sizeof(fl), "%s", file ? file : "");
	snprintf(m, sizeof(m), "%s", module);
	const struct mg_site_frame sf = { f, file ? fl : NULL, 1, m, 0 };
	int code = -1;
	const char *what = mg_runtime_frame(&sf, &code);
	CHECKF(code == want_code && (want ? what && !strcmp(what, want) : !what),
	       "%s in %s: code %d, \"%s\"", fn, module, code, what ? what : "(null)");
}

static void test_runtime_memo(void)
{
	char fn[64];
	for (int round = 0; round < 3; round++) {
		ask("setlocale", NULL, LIBC, 1, "locale data");
		ask("setlocale", "/src/mine.c", PROG, 0, NULL);
		ask("setlocale", "/usr/include/locale_wrap.h", PROG, 1, "locale data");
		ask("setlocale", NULL, PROG, 0, NULL);
	}
	for (int i = 0; i < 40000; i++) {
		snprintf(fn, sizeof(fn), "std::io::stdio::f%d", i);
		ask(fn, "library/std/src/io/stdio.rs", PROG, 1, "Rust std stdio buffer");
		snprintf(fn, sizeof(fn), "app::f%d", i);
		ask(fn, "/src/app/src/lib.rs", PROG, 0, NULL);
	}
	ask("std::io::stdio::f7", "library/std/src/io/stdio.rs", PROG, 1, "Rust std stdio buffer");
	ask("app::f7", "/src/app/src/lib.rs", PROG, 0, NULL);
	ask("setlocale", NULL, LIBC, 1, "locale data");
}

/* where the runtime was called (stacks.c summarises the runtime's stacks there),
 * and the harnesses' own code: GoogleTest, libtest's option parser */
static void check_short(const char *name, const char *want)
{
	char *owned = NULL;
	const char *got = mg_short_name(name, &owned);
	CHECKF(got && !strcmp(got, want), "short name of %.60s...: expected \"%s\", got \"%s\"",
	       name, want, got ? got : "(null)");
	CHECK(want == name || !strcmp(want, name) ? owned == NULL : owned == got);
	free(owned);
}

/* docs/profile-schema.md, "Long names" */
static void test_short_names(void)
{
	const char *short_one = "<alloc::vec::Vec<u8>>::with_capacity_in";
	check_short(short_one, short_one);
	/* libtest's terminfo parser, as rustc's v0 demangling prints it */
	check_short("<core::iter::adapters::enumerate::Enumerate<alloc::vec::into_iter::IntoIter<u16>> "
		    "as core::iter::traits::iterator::Iterator>::try_fold::<(), core::iter::adapters::"
		    "filter::filter_try_fold<(usize, u16), (), core::ops::control_flow::ControlFlow<()>, "
		    "test::term::terminfo::parser::compiled::parse::{closure#4}>>",
		    "<core::iter::adapters::enumerate::Enumerate<…> as core::iter::traits::iterator::"
		    "Iterator>::try_fold::<…>");
	/* deepest first, level by level, until the name fits */
	check_short("std::vector<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, "
		    "std::allocator<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > > "
		    ">::push_back(std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)",
		    "std::vector<…>::push_back(std::__cxx11::basic_string<…> const&)");
	/* a level at a time over the whole name: what is nested as deep goes together */
	check_short("std::map<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, int>"
		    "::operator[](std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&)",
		    "std::map<…>::operator[](std::__cxx11::basic_string<…> const&)");
	check_short("std::map<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, int>"
		    "::operator[](unsigned long, unsigned long, unsigned long, unsigned long)",
		    "std::map<std::__cxx11::basic_string<…>, int>::operator[](unsigned long, unsigned long, "
		    "unsigned long, unsigned long)");
	/* "->" is no bracket; a qualified path's own brackets stay */
	check_short("<<alloc::boxed::Box<dyn core::ops::function::Fn(&str) -> core::result::Result<alloc::string::String, "
		    "std::io::error::Error>> as core::ops::function::FnOnce<(&str,)>>::call_once as "
		    "core::ops::function::FnOnce<(u8, u16, u32)>>::call_once",
		    "<<alloc::boxed::Box<…> as core::ops::function::FnOnce<…>>::call_once as "
		    "core::ops::function::FnOnce<…>>::call_once");
	/* brackets that do not pair: whole */
	const char *op = "bool std::operator< <char, std::char_traits<char>, std::allocator<char> >("
			 "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> > const&, "
			 "char const*)";
	check_short(op, op);
}

static void test_runtime_entry(void)
{
	size_t at = 99, entry = 99;
	struct mg_site_frame stdio[] = { { "_IO_file_doallocate", NULL, 0, LIBC, 0x758cc },
					 { "_IO_doallocbuf", NULL, 0, LIBC, 0x84f00 },
					 { "puts", NULL, 0, LIBC, 0x7a000 },
					 { "main", "/src/hello.c", 4, PROG, 0x1150 },
					 { "__libc_start_call_main", NULL, 0, LIBC, 0x271c0 } };
	CHECK(mg_runtime_owner_at(stdio, N(stdio), &at, &entry) && at == 0);
	CHECK(entry == 2);
	/* all runtime: the outermost frame */
	entry = 99;
	CHECK(mg_runtime_owner_at(stdio, 3, &at, &entry) && at == 0 && entry == 2);

	/* libtest's option parser: getopts, precompiled in the toolchain (a relative
	 * path) or under /rust/deps, is the standard library's, so libtest owns it */
	struct mg_site_frame getopts[] = {
		{ "<alloc::string::String as core::clone::Clone>::clone", "library/alloc/src/string.rs", 2100, PROG, 0x1000 },
		{ "<getopts::Name>::from_str", "src/lib.rs", 838, PROG, 0x1100 },
		{ "<getopts::Options>::parse::<&[alloc::string::String]>", "/rust/deps/getopts-0.2.24/src/lib.rs", 300, PROG, 0x1200 },
		{ "test::cli::parse_opts", "library/test/src/cli.rs", 221, PROG, 0x1300 },
		{ "test::test_main_static", "library/test/src/lib.rs", 183, PROG, 0x1400 },
		{ "mycrate::main", "src/lib.rs", 1, PROG, 0x1500 } };
	CHECK(mg_site_frame_is_library(&getopts[1]) && mg_site_frame_is_library(&getopts[2]));
	CHECK(mg_runtime_owner_at(getopts, N(getopts), &at, &entry) &&
	      !strcmp(mg_runtime_owner(getopts, N(getopts)), "Rust test harness data") && at == 3);
	CHECK(entry == 4);
	/* the program's own crate with a relative path is not taken for a dependency */
	CHECK(!mg_site_frame_is_library(&getopts[5]));
	struct mg_site_frame mine[] = { { "mycrate::getopts::parse", "src/getopts.rs", 3, PROG, 0x1600 } };
	CHECK(!mg_site_frame_is_library(&mine[0]));

	/* GoogleTest linked in statically without line information (Debian's libgtest.a),
	 * through libstdc++'s templates instantiated there */
	struct mg_site_frame gtest[] = {
		{ "operator new(unsigned long)", NULL, 0, LIBSTDCXX, 0xa7000 },
		{ "void std::__cxx11::basic_string<…>::_M_construct<…>(char const*, char const*)", NULL, 0, PROG, 0x2000 },
		{ "testing::internal::MakeAndRegisterTestInfo(char const*)", NULL, 0, PROG, 0x2100 },
		{ "__static_initialization_and_destruction_0", "/src/t/unit_tests.cpp", 40, PROG, 0x2200 } };
	CHECK(mg_runtime_owner_at(gtest, N(gtest), &at, &entry) &&
	      !strcmp(mg_runtime_owner(gtest, N(gtest)), "GoogleTest harness data") && at == 2);
	CHECK(entry == 2);
	/* a test body's own string, called by GoogleTest: the program's */
	struct mg_site_frame body[] = {
		{ "operator new(unsigned long)", NULL, 0, LIBSTDCXX, 0xa7000 },
		{ "std::__cxx11::basic_string<…>::_M_mutate(unsigned long)", "/usr/include/c++/12/bits/basic_string.tcc", 330, PROG, 0x3000 },
		{ "Cache_Fill_Test::TestBody()", "/src/t/unit_tests.cpp", 20, PROG, 0x3100 },
		{ "testing::Test::Run()", NULL, 0, PROG, 0x3200 } };
	CHECK(mg_runtime_owner(body, N(body)) == NULL);
	check_name(body, N(body), NULL, "Cache_Fill_Test::TestBody() (unit_tests.cpp:20)");
	/* GoogleTest built from its sources (FetchContent) */
	struct mg_site_frame fetched[] = {
		{ "testing::internal::ParseGoogleTestFlag(char const*)",
		  "/src/build/_deps/googletest-src/googletest/src/gtest.cc", 6500, PROG, 0x4000 },
		{ "main", "/src/t/main.cpp", 5, PROG, 0x4100 } };
	CHECK(mg_runtime_owner(fetched, N(fetched)) &&
	      !strcmp(mg_runtime_owner(fetched, N(fetched)), "GoogleTest harness data"));
	/* GoogleTest's functions after a return type, without line information:
	 * the walk goes on through them to where the program called */
	struct mg_site_frame flags[] = {
		{ "testing::internal::ParseGoogleTestFlag(char const*)", NULL, 0, PROG, 0x6000 },
		{ "void testing::internal::ParseGoogleTestFlagsOnlyImpl<char>(int*, char**)", NULL, 0, PROG, 0x6100 },
		{ "void testing::internal::InitGoogleTestImpl<char>(int*, char**)", NULL, 0, PROG, 0x6200 },
		{ "main", NULL, 0, PROG, 0x6300 } };
	CHECK(mg_runtime_owner_at(flags, N(flags), &at, &entry) && at == 0);
	CHECK(entry == 2);
	/* the program's own function taking GoogleTest's types, or a container of
	 * them, is not GoogleTest's */
	struct mg_site_frame types[] = {
		{ "void std::vector<testing::TestInfo*, std::allocator<testing::TestInfo*> >::push_back(testing::TestInfo* const&)",
		  "/usr/include/c++/12/bits/stl_vector.h", 1280, PROG, 0x7000 },
		{ "Listener::OnTestStart(testing::TestInfo const&)", NULL, 0, PROG, 0x7100 },
		{ "main", NULL, 0, PROG, 0x7200 } };
	CHECK(mg_runtime_owner(types, N(types)) == NULL);
	/* a directory of the user's named gtest is not GoogleTest */
	struct mg_site_frame user_dir[] = { { "testing::helper", "/src/tests/gtest/helper.cc", 3, PROG, 0x5000 } };
	CHECK(mg_runtime_owner(user_dir, N(user_dir)) == NULL);
}

static void test_sites(void)
{
	/* C: past glibc's strdup to the program's function and its caller, not into libc */
	struct mg_site_frame dup[] = { { "__strdup", NULL, 0, LIBC, 0x9e9aa },
				       { "copy_name", "/src/leaky.c", 17, PROG, 0x11c4 },
				       { "main", "/src/leaky.c", 30, PROG, 0x1200 },
				       { "__libc_start_call_main", NULL, 0, LIBC, 0x2724a } };
	check_name(dup, N(dup), NULL, "copy_name (leaky.c:17) < main (leaky.c:30)");

	/* C++: operator new and std::vector's growth (system headers) inlined in the program */
	struct mg_site_frame vec[] = {
		{ "operator new(unsigned long)", NULL, 0, LIBSTDCXX, 0xaa00 },
		{ "std::__new_allocator<int>::allocate(unsigned long, void const*)",
		  "/usr/include/c++/12/bits/new_allocator.h", 137, PROG, 0x1300 },
		{ "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)",
		  "/usr/include/c++/12/bits/vector.tcc", 440, PROG, 0x1300 },
		{ "fill(int)", "/src/fill.cpp", 8, PROG, 0x1400 },
		{ "a(int)", "/src/fill.cpp", 20, PROG, 0x1500 },
		{ "b(int)", "/src/fill.cpp", 21, PROG, 0x1600 },
		{ "c(int)", "/src/fill.cpp", 22, PROG, 0x1700 },
		{ "main", "/src/fill.cpp", 30, PROG, 0x1800 } };
	check_name(vec, N(vec), NULL,
		   "fill(int) (fill.cpp:8) < a(int) (fill.cpp:20) < b(int) (fill.cpp:21) < c(int) (fill.cpp:22)");

	/* Rust: the crate's function, past liballoc (its sources, its names) */
	struct mg_site_frame rust[] = {
		{ "alloc::alloc::realloc", "/rustc/5980/library/alloc/src/alloc.rs", 135, PROG, 0x14c8a },
		{ "alloc::raw_vec::finish_grow<alloc::alloc::Global>", RUSTLIB, 555, PROG, 0x14c8a },
		{ "alloc::raw_vec::RawVecInner<A>::grow_amortized", RUSTLIB, 527, PROG, 0x14d20 },
		{ "alloc::vec::Vec<T,A>::push", "/rustc/5980/library/alloc/src/vec/mod.rs", 992, PROG, 0x149be },
		{ "r1::collect_items", "/src/r1.rs", 5, PROG, 0x149be },
		{ "r1::main", "/src/r1.rs", 12, PROG, 0x14b38 },
		{ "core::ops::function::FnOnce::call_once", "/rustc/5980/library/core/src/ops/function.rs",
		  250, PROG, 0x14a16 } };
	check_name(rust, N(rust), NULL, "r1::collect_items (r1.rs:5) < r1::main (r1.rs:12)");

	/* a Cargo dependency's code is looked past to the crate's */
	struct mg_site_frame dep[] = {
		{ "<alloc::raw_vec::RawVecInner>::finish_grow", RUSTLIB, 555, PROG, 0x6000 },
		{ "<serde_json::de::Deserializer<R>>::parse_str",
		  "/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.100/src/de.rs",
		  1500, PROG, 0x7000 },
		{ "app::load", "/src/app/src/config.rs", 12, PROG, 0x7100 } };
	check_name(dep, N(dep), NULL, "app::load (config.rs:12)");

	/* skip-frames: the program's own allocation wrapper is looked past */
	struct mg_site_frame wrap[] = { { "xmalloc", "/src/util.c", 10, PROG, 0x1000 },
					{ "xstrdup", "/src/util.c", 20, PROG, 0x1040 },
					{ "parse_row", "/src/csv.c", 212, PROG, 0x2000 },
					{ "main", "/src/csv.c", 40, PROG, 0x2100 } };
	char *skip[] = { "x*alloc", "xstr*", NULL };
	check_name(wrap, N(wrap), NULL, "xmalloc (util.c:10) < xstrdup (util.c:20) < parse_row (csv.c:212) < main (csv.c:40)");
	check_name(wrap, N(wrap), skip, "parse_row (csv.c:212) < main (csv.c:40)");
	CHECK(mg_site_choose(wrap, N(wrap), skip) == 2);

	/* no frame of the program (frame pointers stop in libstdc++): the library frame */
	struct mg_site_frame str[] = { { "std::__cxx11::basic_string<char>::_M_mutate(unsigned long)",
					 NULL, 0, LIBSTDCXX, 0x13fcde } };
	check_name(str, N(str), NULL, "std::__cxx11::basic_string<char>::_M_mutate(unsigned long)");
	struct mg_site_frame lib[] = { { "__strdup", NULL, 0, LIBC, 0x9e9aa },
				       { "g_strdup", NULL, 0, "/usr/lib/x86_64-linux-gnu/libglib-2.0.so.0", 0x7000 } };
	check_name(lib, N(lib), NULL, "g_strdup");

	/* never empty: unnamed frames say module+offset, no frames say so */
	struct mg_site_frame anon[] = { { NULL, NULL, 0, "/src/build/stripped", 0x11c4 },
					{ "", NULL, 0, "/src/build/stripped", 0x1200 } };
	check_name(anon, N(anon), NULL, "stripped+0x11c4 < stripped+0x1200");
	struct mg_site_frame nomod[] = { { NULL, NULL, 0, NULL, 0x7f00 } };
	check_name(nomod, N(nomod), NULL, "?+0x7f00");
	check_name(NULL, 0, NULL, "(no stack)");
}

static void check_demangle(const char *mangled, const char *want)
{
	char *got = mg_demangle(mangled);
	CHECKF(want ? got && !strcmp(got, want) : got == NULL, "demangle %s: expected \"%s\", got \"%s\"",
	       mangled ? mangled : "(null)", want ? want : "(null)", got ? got : "(null)");
	free(got);
}

/* symbols of rustc 1.95 (legacy: the default for a crate; v0: std, and
 * -C symbol-mangling-version=v0) and g++ 12 */
static void test_demangle(void)
{
	/* Rust legacy: the hash dropped, $LT$/$GT$/$C$/.. decoded */
	check_demangle("_ZN2r113collect_items17h4a8650953bd19432E", "r1::collect_items");
	check_demangle("_ZN5alloc7raw_vec20RawVecInner$LT$A$GT$11finish_grow17h8ff58ef9e602a048E",
		       "alloc::raw_vec::RawVecInner<A>::finish_grow");
	check_demangle("_ZN5alloc7raw_vec19RawVec$LT$T$C$A$GT$8grow_one17h09d3b49bd7e41fa6E",
		       "alloc::raw_vec::RawVec<T,A>::grow_one");
	check_demangle("_ZN4core3ptr42drop_in_place$LT$std..io..error..Error$GT$17h1389c84efefa2231E",
		       "core::ptr::drop_in_place<std::io::error::Error>");
	/* Rust v0: crate disambiguators dropped */
	check_demangle("_RNvCs2yKp7xUVB4o_2r113collect_items", "r1::collect_items");
	check_demangle("_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecNtB5_11RawVecInner11finish_growB7_",
		       "<alloc::raw_vec::RawVecInner>::finish_grow");
	check_demangle("_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecINtB5_11RawVecInnerNtNtCsjrHSEGnQ3l9_"
		       "3std5alloc6SystemE11finish_growBW_",
		       "<alloc::raw_vec::RawVecInner<std::alloc::System>>::finish_grow");
	check_demangle("_RNvMNtCslNYArtu3iFV_5alloc5allocNtB2_6Global9grow_impl",
		       "<alloc::alloc::Global>::grow_impl");
	/* C++ (_ZN without a Rust hash): libstdc++'s demangler */
	check_demangle("_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE9_M_mutateEmmPKcm",
		       "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >"
		       "::_M_mutate(unsigned long, unsigned long, char const*, unsigned long)");
	check_demangle("_Z9copy_namePKc", "copy_name(char const*)");
	/* C, and garbage: not mangled */
	check_demangle("malloc", NULL);
	check_demangle("_RNvXYZ", NULL);
	check_demangle("_ZN2r113collect_items17hnothexatallxxxxE", NULL);
	check_demangle(NULL, NULL);
}

int main(void)
{
	test_demangle();
	test_runtime();
	test_runtime_memo();
	test_runtime_entry();
	test_short_names();
	test_sites();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures != 0;
}
