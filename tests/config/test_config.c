/* test_config.c - memgate.yml reader: units, malformed files, good files, run splitting,
 * suppressions, and the ctest import against a real CMake project
 *
 * Usage: test_config GROUP [CMAKE CTEST]
 *   GROUP: units | errors | good | split | suppress | ctest (needs CMAKE and CTEST)
 * Every failed check prints file:line, what was expected and what came, and
 * the run exits 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/lsan_match.h"
#include "core/shellwords.h"
#include "core/suppress.h"
#include "core/discover.h"
#include "core/units.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/fs.h"
#include "util/json.h"

#include "harness.h"

/* ---- units -------------------------------------------------------------- */

static void size_ok(const char *s, uint64_t want, int line)
{
	struct mg_error err = { 0, "" };
	uint64_t v = 0;
	checks++;
	if (mg_parse_size(&v, s, &err) != MG_OK || v != want) {
		failures++;
		fprintf(stderr, "%s:%d: size \"%s\": expected %" PRIu64 ", got %" PRIu64 " (%s)\n",
			__FILE__, line, s, want, v, err.msg);
	}
}

static void size_bad(const char *s, int line)
{
	struct mg_error err = { 0, "" };
	uint64_t v = 12345;
	checks++;
	if (mg_parse_size(&v, s, &err) != MG_EINVALID || v != 12345 || err.code != MG_EINVALID) {
		failures++;
		fprintf(stderr, "%s:%d: size \"%s\": expected an error, got %" PRIu64 "\n", __FILE__,
			line, s, v);
	}
}

static void dur_ok(const char *s, uint64_t want, int line)
{
	struct mg_error err = { 0, "" };
	uint64_t v = 0;
	checks++;
	if (mg_parse_duration_ms(&v, s, &err) != MG_OK || v != want) {
		failures++;
		fprintf(stderr, "%s:%d: duration \"%s\": expected %" PRIu64 " ms, got %" PRIu64 " (%s)\n",
			__FILE__, line, s, want, v, err.msg);
	}
}

static void dur_bad(const char *s, int line)
{
	struct mg_error err = { 0, "" };
	uint64_t v = 12345;
	checks++;
	if (mg_parse_duration_ms(&v, s, &err) != MG_EINVALID || v != 12345) {
		failures++;
		fprintf(stderr, "%s:%d: duration \"%s\": expected an error, got %" PRIu64 "\n",
			__FILE__, line, s, v);
	}
}

static void tol_ok(const char *s, int bytes, uint64_t ppb, uint64_t abs, const char *canon, int line)
{
	struct mg_error err = { 0, "" };
	struct mg_tolerance t = { 99, 99 }, back = { 0, 0 };
	char buf[64];
	checks++;
	if (mg_tolerance_parse(&t, s, bytes, &err) != MG_OK || t.ppb != ppb || t.abs != abs) {
		failures++;
		fprintf(stderr, "%s:%d: tolerance \"%s\": expected {ppb %" PRIu64 ", abs %" PRIu64
			"}, got {%" PRIu64 ", %" PRIu64 "} (%s)\n", __FILE__, line, s, ppb, abs,
			t.ppb, t.abs, err.msg);
		return;
	}
	mg_tolerance_format(buf, sizeof(buf), &t, bytes);
	checks++;
	if (strcmp(buf, canon)) {
		failures++;
		fprintf(stderr, "%s:%d: tolerance \"%s\" formats as \"%s\", expected \"%s\"\n",
			__FILE__, line, s, buf, canon);
	}
	checks++;
	if (mg_tolerance_parse(&back, buf, bytes, &err) != MG_OK || back.ppb != t.ppb ||
	    back.abs != t.abs) {
		failures++;
		fprintf(stderr, "%s:%d: \"%s\" does not read back\n", __FILE__, line, buf);
	}
}

static void tol_bad(const char *s, int bytes, const char *msg, int line)
{
	struct mg_error err = { 0, "" };
	struct mg_tolerance t = { 99, 99 };
	checks++;
	if (mg_tolerance_parse(&t, s, bytes, &err) != MG_EINVALID || t.ppb != 99) {
		failures++;
		fprintf(stderr, "%s:%d: tolerance \"%s\": expected an error\n", __FILE__, line, s);
		return;
	}
	if (msg) {
		checks++;
		if (strcmp(msg, err.msg)) {
			failures++;
			fprintf(stderr, "%s:%d: tolerance \"%s\":\n  expected \"%s\"\n  got      \"%s\"\n",
				__FILE__, line, s, msg, err.msg);
		}
	}
}

static void test_units(void)
{
	struct mg_tolerance t;
	struct mg_error err;
	uint64_t v;
	char buf[64];

	size_ok("0", 0, __LINE__);
	size_ok("4096", 4096, __LINE__);
	size_ok("0B", 0, __LINE__);
	size_ok("17B", 17, __LINE__);
	size_ok("4KiB", 4096, __LINE__);
	size_ok("4 KiB", 4096, __LINE__);
	size_ok("  4KiB  ", 4096, __LINE__);
	size_ok("256MiB", 256ULL << 20, __LINE__);
	size_ok("1GiB", 1ULL << 30, __LINE__);
	size_ok("2TiB", 2ULL << 40, __LINE__);
	size_ok("1PiB", 1ULL << 50, __LINE__);
	size_ok("15EiB", 15ULL << 60, __LINE__);
	size_ok("1.5KiB", 1536, __LINE__);
	size_ok("0.25MiB", 262144, __LINE__);
	size_ok("18446744073709551615", UINT64_MAX, __LINE__);
	size_ok("18446744073709551615B", UINT64_MAX, __LINE__);
	size_bad("", __LINE__);
	size_bad(" ", __LINE__);
	size_bad("-1", __LINE__);
	size_bad("+1", __LINE__);
	size_bad("-1KiB", __LINE__);
	size_bad("18446744073709551616", __LINE__);       /* 2^64 */
	size_bad("16EiB", __LINE__);
	size_bad("99999999999999999999999KiB", __LINE__);
	size_bad("0.1KiB", __LINE__);                     /* 102.4 bytes */
	size_bad("1.5B", __LINE__);
	size_bad("4KB", __LINE__);                        /* ambiguous SI/IEC: refused */
	size_bad("4 KB", __LINE__);
	size_bad("4kB", __LINE__);
	size_bad("4MB", __LINE__);
	size_bad("4K", __LINE__);
	size_bad("4kib", __LINE__);                       /* units are case-sensitive */
	size_bad("4KiBx", __LINE__);
	size_bad("4KiB 2", __LINE__);
	size_bad("1e6", __LINE__);
	size_bad("0x10", __LINE__);
	size_bad("1_000", __LINE__);
	size_bad("1,000", __LINE__);
	size_bad(".5KiB", __LINE__);
	size_bad("5.KiB", __LINE__);
	size_bad("KiB", __LINE__);
	size_bad("1.0000000001KiB", __LINE__);            /* more than 9 decimals */
	CHECK(mg_parse_size(&v, "4 KB", &err) == MG_EINVALID);
	CHECK_STR("expected a size like \"4KiB\" or \"256MiB\", got \"4 KB\"", err.msg);

	CHECK(mg_parse_count(&v, "0", &err) == MG_OK && v == 0);
	CHECK(mg_parse_count(&v, "1000", &err) == MG_OK && v == 1000);
	CHECK(mg_parse_count(&v, "1.5", &err) == MG_EINVALID);
	CHECK(mg_parse_count(&v, "10KiB", &err) == MG_EINVALID);
	CHECK_STR("expected a count (a whole number like \"100\"), got \"10KiB\"", err.msg);
	CHECK(mg_parse_count(&v, "-3", &err) == MG_EINVALID);

	dur_ok("300s", 300000, __LINE__);
	dur_ok("5m", 300000, __LINE__);
	dur_ok("1h", 3600000, __LINE__);
	dur_ok("250ms", 250, __LINE__);
	dur_ok("300", 300000, __LINE__);                  /* bare number: seconds */
	dur_ok("1.5", 1500, __LINE__);
	dur_ok("1.5s", 1500, __LINE__);
	dur_ok("0.001s", 1, __LINE__);
	dur_ok("1m30s", 90000, __LINE__);
	dur_ok("1h 30m", 5400000, __LINE__);
	dur_ok("2d", 172800000, __LINE__);
	dur_ok("0", 0, __LINE__);                         /* no timeout */
	dur_ok("0s", 0, __LINE__);
	dur_ok("365d", 31536000000ULL, __LINE__);
	dur_bad("366d", __LINE__);
	dur_bad("99999999999999999999h", __LINE__);
	dur_bad("", __LINE__);
	dur_bad("s", __LINE__);
	dur_bad("-5s", __LINE__);
	dur_bad("5 min", __LINE__);
	dur_bad("5sec", __LINE__);
	dur_bad("1.5ms", __LINE__);                       /* whole milliseconds */
	dur_bad("0.0001s", __LINE__);
	dur_bad("30s 5", __LINE__);
	dur_bad("5 30s", __LINE__);
	dur_bad("1h30", __LINE__);
	dur_bad("5S", __LINE__);
	CHECK(mg_parse_duration_ms(&v, "5 min", &err) == MG_EINVALID);
	CHECK_STR("expected a duration like \"300s\", \"5m\" or \"250ms\", got \"5 min\"", err.msg);

	tol_ok("2% + 4KiB", 1, 20000000, 4096, "2% + 4KiB", __LINE__);
	tol_ok("2 % + 4 KiB", 1, 20000000, 4096, "2% + 4KiB", __LINE__);
	tol_ok("2%+4KiB", 1, 20000000, 4096, "2% + 4KiB", __LINE__);
	tol_ok("4KiB + 2%", 1, 20000000, 4096, "2% + 4KiB", __LINE__);
	tol_ok("0", 1, 0, 0, "0", __LINE__);
	tol_ok("0", 0, 0, 0, "0", __LINE__);
	tol_ok("0%", 1, 0, 0, "0", __LINE__);
	tol_ok("5%", 1, 50000000, 0, "5%", __LINE__);
	tol_ok("4KiB", 1, 0, 4096, "4KiB", __LINE__);
	tol_ok("4096", 1, 0, 4096, "4KiB", __LINE__);
	tol_ok("1000", 1, 0, 1000, "1000B", __LINE__);
	tol_ok("0.5%", 0, 5000000, 0, "0.5%", __LINE__);
	tol_ok("0.0000001%", 1, 1, 0, "0.0000001%", __LINE__);
	tol_ok("100%", 1, 1000000000, 0, "100%", __LINE__);
	tol_ok("1000000%", 1, 10000000000000ULL, 0, "1000000%", __LINE__);
	tol_ok("1% + 10", 0, 10000000, 10, "1% + 10", __LINE__);
	tol_ok("12.25% + 1.5MiB", 1, 122500000, 1572864, "12.25% + 1.5MiB", __LINE__);
	tol_bad("", 1, NULL, __LINE__);
	tol_bad("+", 1, NULL, __LINE__);
	tol_bad("2% +", 1, NULL, __LINE__);
	tol_bad("+ 2%", 1, NULL, __LINE__);
	tol_bad("2% + 3%", 1, NULL, __LINE__);
	tol_bad("4KiB + 1KiB", 1, NULL, __LINE__);
	tol_bad("1% + 2% + 3KiB", 1, NULL, __LINE__);
	tol_bad("-2%", 1, NULL, __LINE__);
	tol_bad("2% - 4KiB", 1, NULL, __LINE__);
	tol_bad("0.00000001%", 1, NULL, __LINE__);        /* 8 decimals */
	tol_bad("1000001%", 1, NULL, __LINE__);
	tol_bad("5%%", 1, NULL, __LINE__);
	tol_bad("5 percent", 1, NULL, __LINE__);
	tol_bad("2% + 4KiB junk", 1, NULL, __LINE__);
	tol_bad("2% + 4 KB", 1,
		"expected a tolerance like \"2% + 4KiB\", \"5%\", \"4KiB\" or \"0\", got \"2% + 4 KB\"",
		__LINE__);
	tol_bad("1% + 4KiB", 0,
		"expected a tolerance like \"0.5%\", \"10\" or \"1% + 10\" (a count, no unit), got \"1% + 4KiB\"",
		__LINE__);
	tol_bad("1.5", 0, NULL, __LINE__);

	/* allowed = baseline * (1 + pct) + abs, floored: exact for integer currents */
	mg_tolerance_parse(&t, "2% + 4KiB", 1, &err);
	CHECK_U64(1000 + 20 + 4096, mg_tolerance_allowed(&t, 1000));
	CHECK_U64(0 + 4096, mg_tolerance_allowed(&t, 0));
	mg_tolerance_parse(&t, "0.5%", 0, &err);
	CHECK_U64(1003, mg_tolerance_allowed(&t, 999));   /* 999 * 1.005 = 1003.995 -> 1003 */
	CHECK_U64(201, mg_tolerance_allowed(&t, 200));    /* 201.0 exactly */
	CHECK_U64(199, mg_tolerance_allowed(&t, 199));    /* 199.995 -> 199 */
	mg_tolerance_parse(&t, "0", 1, &err);
	CHECK_U64(12345, mg_tolerance_allowed(&t, 12345));
	mg_tolerance_parse(&t, "1000000% + 15EiB", 1, &err);
	CHECK_U64(UINT64_MAX, mg_tolerance_allowed(&t, UINT64_MAX / 2));   /* saturates */

	CHECK_STR("0B", mg_format_size(buf, sizeof(buf), 0));
	CHECK_STR("4KiB", mg_format_size(buf, sizeof(buf), 4096));
	CHECK_STR("1.5KiB", mg_format_size(buf, sizeof(buf), 1536));
	CHECK_STR("1.25MiB", mg_format_size(buf, sizeof(buf), 1310720));
	CHECK_STR("1000B", mg_format_size(buf, sizeof(buf), 1000));
	CHECK_STR("1025B", mg_format_size(buf, sizeof(buf), 1025));
	CHECK_STR("18446744073709551615B", mg_format_size(buf, sizeof(buf), UINT64_MAX));
	mg_parse_size(&v, mg_format_size(buf, sizeof(buf), 123456789), &err);
	CHECK_U64(123456789, v);

	CHECK_STR("a\\\"b\\\\c\\n\\x01", mg_quote_value(buf, sizeof(buf), "a\"b\\c\n\x01"));
}

/* ---- malformed files ---------------------------------------------------- */

#define V "version: 1\n"
#define T "tests:\n  - name: a\n    run: ./a\n"

static const struct {
	const char *yaml;
	const char *msg;            /* after "memgate.yml:" */
} bad[] = {
	{ "", "1:1: expected a mapping starting with \"version: 1\", got an empty file" },
	{ "# only a comment\n", "1:1: expected a mapping starting with \"version: 1\", got an empty file" },
	{ "- a\n", "1:1: expected a mapping starting with \"version: 1\" at the top level, got a list" },
	{ "hello\n", "1:1: expected a mapping starting with \"version: 1\" at the top level, got \"hello\"" },
	{ T, "1:1: missing key \"version\" at the top level (expected \"version: 1\")" },
	{ "version: 2\n" T, "1:10: expected version 1 (the only version this memgate reads), got \"2\"" },
	/* after a BOM, columns count as an editor shows them */
	{ "\xef\xbb\xbfversion: 2\n" T, "1:10: expected version 1 (the only version this memgate reads), got \"2\"" },
	{ "version: 1.0\n" T, "1:10: expected version 1 (the only version this memgate reads), got \"1.0\"" },
	{ V, "1:1: missing key \"tests\" at the top level" },
	{ V "tset: []\n" T, "2:1: unknown key \"tset\" at the top level (did you mean \"tests\"?)" },
	{ V "colour: red\n" T, "2:1: unknown key \"colour\" at the top level" },
	{ V "version: 1\n" T, "2:1: duplicate key \"version\" at the top level (first at line 1)" },
	{ V "profiles: [a]\n" T, "2:11: expected a string for \"profiles\", got a list" },
	{ V "baselines: \"\"\n" T, "2:12: expected a non-empty path for \"baselines\"" },
	{ V "defaults:\n" T, "2:10: expected a mapping for \"defaults\", got an empty value" },
	{ V T "defaults:\n  timeot: 5s\n", "6:3: unknown key \"timeot\" in \"defaults\" (did you mean \"timeout\"?)" },
	{ V T "defaults:\n  timeout: 5 min\n", "6:12: expected a duration like \"300s\", \"5m\" or \"250ms\", got \"5 min\"" },
	{ V T "defaults:\n  timeout: -5s\n", "6:12: expected a duration like \"300s\", \"5m\" or \"250ms\", got \"-5s\"" },
	{ V T "defaults:\n  timeout: []\n", "6:12: expected a duration like \"300s\" for \"timeout\", got a list" },
	{ V T "defaults:\n  repeat: 0\n", "6:11: expected a whole number from 1 to 1000 for \"repeat\", got \"0\"" },
	{ V T "defaults:\n  repeat: \"2\"\n", "6:11: expected a whole number from 1 to 1000 for \"repeat\", got \"2\"" },
	{ V T "defaults:\n  confirm: 101\n", "6:12: expected a whole number from 0 to 100 for \"confirm\", got \"101\"" },
	{ V T "defaults:\n  confirm: -1\n", "6:12: expected a whole number from 0 to 100 for \"confirm\", got \"-1\"" },
	{ V T "defaults:\n  spread-runs: 0\n", "6:16: expected a whole number from 1 to 1000 for \"spread-runs\", got \"0\"" },
	{ V T "defaults:\n  spread-runs: 1001\n", "6:16: expected a whole number from 1 to 1000 for \"spread-runs\", got \"1001\"" },
	{ V T "defaults:\n  stack-depth: 300\n", "6:16: expected a whole number from 0 to 256 for \"stack-depth\", got \"300\"" },
	{ V T "defaults:\n  stack-depth: -1\n", "6:16: expected a whole number from 0 to 256 for \"stack-depth\", got \"-1\"" },
	{ V T "defaults:\n  stack-unwind: dwarf\n", "6:17: expected cfi or fp for \"stack-unwind\", got \"dwarf\"" },
	{ V T "defaults:\n  stack-unwind: [fp]\n", "6:17: expected cfi or fp for \"stack-unwind\", got a list" },
	{ V T "defaults:\n  follow-children: yes\n", "6:20: expected true or false for \"follow-children\", got \"yes\"" },
	{ V T "defaults:\n  follow_children: true\n", "6:3: unknown key \"follow_children\" in \"defaults\" (did you mean \"follow-children\"?)" },
	{ V T "defaults:\n  tolerance: 5%\n", "6:14: expected a mapping for \"tolerance\", got \"5%\"" },
	{ V T "defaults:\n  tolerance:\n    peak: 2%\n", "7:5: unknown metric \"peak\" in \"tolerance\" (did you mean \"peak_bytes\"?)" },
	{ V T "defaults:\n  tolerance:\n    heap: 2%\n", "7:5: unknown metric \"heap\" in \"tolerance\" (metrics: allocs, frees, total_bytes, peak_bytes, peak_blocks, leaked_bytes, leaked_blocks, rss_peak_bytes, and definitely_lost_, indirectly_lost_, possibly_lost_, still_reachable_ with bytes or blocks)" },
	{ V T "defaults:\n  tolerance:\n    peak_bytes: \"2% + 4 KB\"\n", "7:17: expected a tolerance like \"2% + 4KiB\", \"5%\", \"4KiB\" or \"0\", got \"2% + 4 KB\"" },
	{ V T "defaults:\n  tolerance:\n    allocs: 4KiB\n", "7:13: expected a tolerance like \"0.5%\", \"10\" or \"1% + 10\" (a count, no unit), got \"4KiB\"" },
	{ V T "defaults:\n  tolerance:\n    allocs:\n", "7:12: expected a tolerance like \"2% + 4KiB\" for \"allocs\", got an empty value" },
	{ V T "defaults:\n  tolerance:\n    allocs: 1%\n    allocs: 2%\n", "8:5: duplicate key \"allocs\" in \"tolerance\" (first at line 7)" },
	{ V T "defaults:\n  limit:\n    allocs: 1.5\n", "7:13: expected a count (a whole number like \"100\"), got \"1.5\"" },
	{ V T "defaults:\n  limit:\n    peak_bytes: -1\n", "7:17: expected a size like \"4KiB\" or \"256MiB\", got \"-1\"" },
	{ V "tests: {a: 1}\n", "2:8: expected a list for \"tests\", got a mapping" },
	{ V "tests: []\n", "2:8: expected at least one test in \"tests\"" },
	{ V "tests:\n  - ./a\n", "3:5: expected a test (a mapping with \"name\" and \"run\", or \"ctest\", \"gtest\" or \"cargo\") in \"tests\", got \"./a\"" },
	{ V "tests:\n  - run: ./a\n", "3:5: missing key \"name\" in a test (or \"ctest\" to import ctest's tests)" },
	{ V "tests:\n  - name: a\n", "3:5: missing key \"run\" in test \"a\"" },
	{ V "tests:\n  - name: a\n    run: ./a\n    name: b\n", "5:5: duplicate key \"name\" in test \"a\" (first at line 3)" },
	{ V "tests:\n  - name: a\n    run: ./a\n    timeuot: 1s\n", "5:5: unknown key \"timeuot\" in test \"a\" (did you mean \"timeout\"?)" },
	{ V "tests:\n  - name: a b\n    run: ./a\n", "3:11: expected a test name of letters, digits, \".\", \"_\" and \"-\", got \"a b\"" },
	{ V "tests:\n  - name: a/b\n    run: ./a\n", "3:11: expected a test name of letters, digits, \".\", \"_\" and \"-\", got \"a/b\"" },
	{ V "tests:\n  - name: \"\"\n    run: ./a\n", "3:11: expected a non-empty test name, got \"\"" },
	{ V "tests:\n  - name: ..\n    run: ./a\n", "3:11: expected a test name other than \".\" and \"..\", got \"..\"" },
	{ V "tests:\n  - name: -x\n    run: ./a\n", "3:11: expected a test name that does not start with \"-\", got \"-x\"" },
	{ V "tests:\n  - name: memgate-check\n    run: ./a\n", "3:11: expected a test name that does not start with \"memgate-\" (reserved for memgate's own files in profiles/), got \"memgate-check\"" },
	{ V "tests:\n  - name: caf\xc3\xa9\n    run: ./a\n", "3:11: expected a test name of letters, digits, \".\", \"_\" and \"-\", got \"caf\xc3\xa9\"" },
	{ V "tests:\n  - name:\n    run: ./a\n", "3:10: expected a string for \"name\", got an empty value" },
	{ V T "  - name: a\n    run: ./b\n", "5:11: duplicate test name \"a\" (first at line 3)" },
	{ V "tests:\n  - name: a\n    run: \"\"\n", "4:10: expected a non-empty command in \"run\"" },
	{ V "tests:\n  - name: a\n    run: \"   \"\n", "4:10: expected a non-empty command in \"run\"" },
	{ V "tests:\n  - name: a\n    run: []\n", "4:10: expected a non-empty command in \"run\"" },
	{ V "tests:\n  - name: a\n    run:\n", "4:9: expected a list of arguments or a command string for \"run\", got an empty value" },
	{ V "tests:\n  - name: a\n    run: {a: 1}\n", "4:10: expected a list of arguments or a command string for \"run\", got a mapping" },
	{ V "tests:\n  - name: a\n    run: [./a, [x]]\n", "4:16: expected a string argument in \"run\", got a list" },
	{ V "tests:\n  - name: a\n    run: [\"\", x]\n", "4:11: expected a non-empty program name in \"run\"" },
	{ V "tests:\n  - name: a\n    run: ./a | grep x\n", "4:10: expected no unquoted '|' in \"run\": memgate runs the command without a shell (quote it, or write run: [sh, -c, \"...\"])" },
	{ V "tests:\n  - name: a\n    run: ./a > out\n", "4:10: expected no unquoted '>' in \"run\": memgate runs the command without a shell (quote it, or write run: [sh, -c, \"...\"])" },
	{ V "tests:\n  - name: a\n    run: ./a $HOME\n", "4:10: expected no unquoted '$' in \"run\": memgate runs the command without a shell (quote it, or write run: [sh, -c, \"...\"])" },
	{ V "tests:\n  - name: a\n    run: ./a 'oops\n", "4:10: expected a closing ' in \"run\" (it is split like a shell command line, without a shell)" },
	{ V "tests:\n  - name: a\n    run: './a \"oops'\n", "4:10: expected a closing \" in \"run\" (it is split like a shell command line, without a shell)" },
	{ V "tests:\n  - name: a\n    run: ./a\n    env: [A=1]\n", "5:10: expected a mapping for \"env\", got a list" },
	{ V "tests:\n  - name: a\n    run: ./a\n    env: {1X: a}\n", "5:11: expected an environment variable name like \"LC_ALL\" in \"env\", got \"1X\"" },
	{ V "tests:\n  - name: a\n    run: ./a\n    env: {A=B: a}\n", "5:11: expected an environment variable name like \"LC_ALL\" in \"env\", got \"A=B\"" },
	{ V "tests:\n  - name: a\n    run: ./a\n    env: {A: }\n", "5:14: expected a string value for \"A\" in \"env\", got an empty value (write \"\" for an empty value)" },
	{ V "tests:\n  - name: a\n    run: ./a\n    cwd: \"\"\n", "5:10: expected a non-empty path for \"cwd\"" },
	{ V "tests:\n  - name: a\n    run: ./a\n    tolerance: {peak_bytes: 1x}\n", "5:29: expected a tolerance like \"2% + 4KiB\", \"5%\", \"4KiB\" or \"0\", got \"1x\"" },
	{ V "tests:\n  - ctest:\n", "3:11: expected a string for \"ctest\", got an empty value" },
	{ V "tests:\n  - ctest: build\n    run: ./a\n", "4:5: unknown key \"run\" in a ctest entry" },
	{ V "tests:\n  - ctest: build\n    name: a\n", "4:5: unknown key \"name\" in a ctest entry" },
	{ V "tests:\n  - ctest: build\n    exclude: \"*slow*\"\n", "4:14: expected a list for \"exclude\", got \"*slow*\"" },
	{ V "tests:\n  - ctest: build\n    exclude: [\"\"]\n", "4:15: expected a glob like \"*slow*\" in \"exclude\", got \"\"" },
	{ V "tests:\n  - ctest: build\n    exlude: [a]\n", "4:5: unknown key \"exlude\" in a ctest entry (did you mean \"exclude\"?)" },
	{ V "tests:\n  - ctest: build\n    args: [a]\n", "4:5: unknown key \"args\" in a ctest entry" },
	{ V "tests:\n  - cargo: .\n    cwd: x\n", "4:5: unknown key \"cwd\" in a cargo entry" },
	{ V "tests:\n  - gtest: ./t\n    run: ./t\n", "4:5: unknown key \"run\" in a gtest entry" },
	{ V "tests:\n  - cargo: .\n    args: --release\n", "4:11: expected a list for \"args\", got \"--release\"" },
	{ V "tests:\n  - cargo: .\n    args: [\"\"]\n", "4:12: expected an argument like \"--release\" in \"args\", got \"\"" },
	{ V "tests:\n  - gtest: \n", "3:11: expected a string for \"gtest\", got an empty value" },
	{ V T "suppressions: {leak: a}\n", "5:15: expected a list for \"suppressions\", got a mapping" },
	{ V T "suppressions:\n  - CRYPTO_malloc\n", "6:5: expected a suppression like {leak: \"CRYPTO_malloc\"} in \"suppressions\", got \"CRYPTO_malloc\"" },
	{ V T "suppressions:\n  - max_bytes: 4\n", "6:5: missing key \"leak\" in a suppression" },
	{ V T "suppressions:\n  - leak: \"\"\n", "6:11: expected a non-empty string for \"leak\"" },
	{ V T "suppressions:\n  - leak: x\n    max_bytes: 4 KB\n", "7:16: expected a size like \"4KiB\" or \"256MiB\", got \"4 KB\"" },
	{ V T "suppressions:\n  - lek: x\n", "6:5: unknown key \"lek\" in a suppression (did you mean \"leak\"?)" },
	{ V "defaults:\n  skip-frames: xmalloc\n" T, "3:16: expected a list for \"skip-frames\", got \"xmalloc\"" },
	{ V "defaults:\n  skip-frames: [xmalloc, \"\"]\n" T, "3:26: expected a glob on function names like \"my_alloc*\" in \"skip-frames\", got \"\"" },
	{ V T "    skip-frames: [x]\n", "5:5: unknown key \"skip-frames\" in test \"a\"" },
	/* YAML itself */
	{ V "tests: [\n", "3:1: did not find expected node content (while parsing a flow node at line 3)" },
	{ V "\ttests: x\n", "2:1: found a tab character that violates indentation (while scanning a plain scalar at line 1)" },
	{ V "tests:\n  - name: a\n   run: x\n", "4:4: did not find expected '-' indicator (while parsing a block collection at line 3)" },
	{ V "tests:\n  - &t {name: a, run: x}\n", "3:5: expected no anchor \"&t\" (anchors and aliases are not supported)" },
	{ V "x: &a [1]\n", "2:4: expected no anchor \"&a\" (anchors and aliases are not supported)" },
	{ V "tests:\n  - *t\n", "3:5: expected no aliases (anchors and aliases are not supported)" },
	{ "version: !!int 1\n" T, "1:10: expected no tag \"tag:yaml.org,2002:int\" (tags are not supported)" },
	{ V T "---\nversion: 1\n", "5:1: expected one YAML document, found a second one" },
	{ V "profiles: \xff\n" T, "2:11: invalid leading UTF-8 octet (the file must be UTF-8)" },
	{ V "profiles: a\xc3\n" T, "2:13: invalid trailing UTF-8 octet (the file must be UTF-8)" },
	{ V "profiles: \"a\\0b\"\n" T, "2:11: expected text without NUL characters" },
	{ V "profiles: a\x01\n" T, "2:12: control characters are not allowed" },
	{ V "tests:\n  - {name: a, run: ./a}: ./a\n", "3:5: expected a key name in a test, got a mapping" },   /* fuzz: was a crash */
	{ V "? [a]\n: 1\n" T, "2:3: expected a key name at the top level, got a list" },
	{ V "tests: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
	  "2:23: expected at most 16 levels of nesting" },
};

static void test_errors(void)
{
	size_t i;
	struct mg_config *cfg;
	struct mg_error err;
	char want[1024];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		cfg = (struct mg_config *)1;
		int rc = mg_config_parse(&cfg, "memgate.yml", bad[i].yaml, strlen(bad[i].yaml), &err);
		snprintf(want, sizeof(want), "memgate.yml:%s", bad[i].msg);
		checks++;
		if (rc != MG_EINVALID || err.code != MG_EINVALID || cfg != NULL || strcmp(want, err.msg)) {
			failures++;
			fprintf(stderr, "%s: case %zu (rc %d):\n  yaml     %s\n  expected \"%s\"\n  got      \"%s\"\n",
				__FILE__, i, rc, mg_quote_value((char[256]){ 0 }, 256, bad[i].yaml), want,
				err.msg);
		}
		checks++;
		if (strchr(err.msg, '\n')) {
			failures++;
			fprintf(stderr, "%s: case %zu: message is not one line\n", __FILE__, i);
		}
		mg_config_free(rc == MG_OK ? cfg : NULL);
	}

	/* the file name is the one given to the loader */
	{
		const char *y = V T "defaults:\n  limit:\n    peak_bytes: 4 KB\n";
		int rc = mg_config_parse(&cfg, "path/to/memgate.yml", y, strlen(y), &err);
		CHECK(rc == MG_EINVALID);
		CHECK_STR("path/to/memgate.yml:7:17: expected a size like \"4KiB\" or \"256MiB\", got \"4 KB\"",
			  err.msg);
	}
	/* a bad value is quoted on one line, however it was written */
	{
		const char *y = V T "defaults:\n  timeout: \"5\\nminutes\\\"\"\n";
		int rc = mg_config_parse(&cfg, "memgate.yml", y, strlen(y), &err);
		CHECK(rc == MG_EINVALID);
		CHECK_STR("memgate.yml:6:12: expected a duration like \"300s\", \"5m\" or \"250ms\", got \"5\\nminutes\\\"\"",
			  err.msg);
	}
	/* a huge file is refused before parsing */
	{
		size_t n = (4u << 20) + 1;
		char *big = malloc(n);
		memset(big, '#', n);
		CHECK(mg_config_parse(&cfg, "memgate.yml", big, n, &err) == MG_EINVALID);
		CHECK_STR("memgate.yml: expected a file of at most 4 MiB", err.msg);
		free(big);
	}
	/* a missing file */
	CHECK(mg_config_load(&cfg, "/nonexistent/memgate.yml", &err) == MG_ENOTFOUND);
	CHECK_STR("/nonexistent/memgate.yml: no such file", err.msg);
}

/* ---- good files --------------------------------------------------------- */

static struct mg_config *parse_ok(const char *path, const char *yaml)
{
	struct mg_config *cfg = NULL;
	struct mg_error err = { 0, "" };
	if (mg_config_parse(&cfg, path, yaml, strlen(yaml), &err) != MG_OK) {
		failures++;
		fprintf(stderr, "%s: unexpected error: %s\n", __FILE__, err.msg);
		return NULL;
	}
	return cfg;
}

static void check_argv(char **argv, const char *const *want, int line)
{
	size_t i;
	for (i = 0; want[i] || (argv && argv[i]); i++) {
		checks++;
		if (!argv || !argv[i] || !want[i] || strcmp(argv[i], want[i])) {
			failures++;
			fprintf(stderr, "%s:%d: word %zu: expected \"%s\", got \"%s\"\n", __FILE__, line, i,
				want[i] ? want[i] : "(end)", argv && argv[i] ? argv[i] : "(end)");
			return;
		}
	}
}

static const char spec_example[] =
	"version: 1\n"
	"profiles: profiles          # where run writes profiles (default)\n"
	"baselines: baselines        # where baselines live (default)\n"
	"defaults:\n"
	"  timeout: 300s\n"
	"  repeat: 1                 # >1: run N times, gate on the median (peak) and min (exact counts)\n"
	"  follow-children: true\n"
	"  stack-depth: 64\n"
	"  tolerance:                # pass while current <= baseline * (1 + pct) + abs\n"
	"    peak_bytes:   \"2% + 4KiB\"\n"
	"    leaked_bytes: \"0\"\n"
	"    definitely_lost_bytes: \"0\"\n"
	"    allocs:       \"0.5%\"\n"
	"    total_bytes:  \"0.5%\"\n"
	"  limit:                    # absolute budgets, checked with or without a baseline\n"
	"    peak_bytes: 256MiB\n"
	"tests:\n"
	"  - name: parser\n"
	"    run: [./build/tests/test_parser, --quick]   # argv list, or one string split without a shell\n"
	"    cwd: .\n"
	"    env: { LC_ALL: C }\n"
	"    tolerance: { peak_bytes: \"5%\" }\n"
	"  - ctest: build            # every test ctest knows in build/ (ctest --show-only=json-v1)\n"
	"    exclude: [\"*slow*\"]\n"
	"suppressions:               # leak frames to ignore, LSan `leak:` syntax; each may cap its bytes\n"
	"  - leak: \"CRYPTO_malloc\"\n"
	"    max_bytes: 4096\n";

static void test_good(void)
{
	struct mg_config *cfg;
	struct mg_settings eff;
	const struct mg_tolerance *tol;
	const struct mg_test *t;
	uint64_t max;
	int m;

	/* defaults: skip-frames: the globs, in order */
	cfg = parse_ok("memgate.yml", V "defaults:\n  skip-frames: [\"xmalloc\", \"pool_*\"]\n" T);
	if (cfg) {
		check_argv(cfg->skip_frames, (const char *const[]){ "xmalloc", "pool_*", NULL }, __LINE__);
		mg_config_free(cfg);
	}
	cfg = parse_ok("memgate.yml", V T);
	if (cfg) {
		CHECK(cfg->skip_frames == NULL);
		mg_config_free(cfg);
	}

	/* docs/config.md's example, verbatim */
	cfg = parse_ok("memgate.yml", spec_example);
	if (cfg) {
		CHECK(cfg->version == 1);
		CHECK_STR("profiles", cfg->profiles);
		CHECK_STR("baselines", cfg->baselines);
		CHECK_STR("", cfg->dir);
		CHECK_U64(300000, cfg->defaults.timeout_ms);
		CHECK_U64(1, cfg->n_tests);
		CHECK_U64(1, cfg->n_imports);
		CHECK_STR("parser", cfg->tests[0].name);
		check_argv(cfg->tests[0].argv, (const char *const[]){ "./build/tests/test_parser", "--quick", NULL }, __LINE__);
		CHECK_U64(2, cfg->tests[0].argc);
		CHECK_STR(".", cfg->tests[0].cwd);
		check_argv(cfg->tests[0].env, (const char *const[]){ "LC_ALL=C", NULL }, __LINE__);
		CHECK_U64(18, cfg->tests[0].pos.line);
		CHECK_U64(5, cfg->tests[0].pos.col);
		tol = mg_config_tolerance(cfg, &cfg->tests[0], MG_METRIC_PEAK_BYTES);
		CHECK(tol && tol->ppb == 50000000 && tol->abs == 0);
		tol = mg_config_tolerance(cfg, NULL, MG_METRIC_PEAK_BYTES);
		CHECK(tol && tol->ppb == 20000000 && tol->abs == 4096);
		tol = mg_config_tolerance(cfg, &cfg->tests[0], MG_METRIC_ALLOCS);
		CHECK(tol && tol->ppb == 5000000 && tol->abs == 0);
		CHECK(mg_config_tolerance(cfg, &cfg->tests[0], MG_METRIC_RSS_PEAK_BYTES) == NULL);
		CHECK(mg_config_limit(&max, cfg, &cfg->tests[0], MG_METRIC_PEAK_BYTES) == 1 && max == 256ULL << 20);
		CHECK(mg_config_limit(&max, cfg, &cfg->tests[0], MG_METRIC_ALLOCS) == 0);
		CHECK_STR("build", cfg->imports[0].dir);
		check_argv(cfg->imports[0].exclude, (const char *const[]){ "*slow*", NULL }, __LINE__);
		CHECK_U64(1, cfg->imports[0].at);
		CHECK_U64(23, cfg->imports[0].pos.line);
		CHECK_U64(1, cfg->n_suppressions);
		CHECK_STR("CRYPTO_malloc", cfg->suppressions[0].pattern);
		CHECK(cfg->suppressions[0].has_max && cfg->suppressions[0].max_bytes == 4096);
		CHECK(mg_config_find_test(cfg, "parser") == &cfg->tests[0]);
		CHECK(mg_config_find_test(cfg, "nope") == NULL);
	}
	mg_config_free(cfg);

	/* the smallest file: every default */
	cfg = parse_ok("memgate.yml", "version: 1\ntests:\n  - {name: a, run: ./a}\n");
	if (cfg) {
		mg_config_effective(&eff, cfg, &cfg->tests[0]);
		CHECK_U64(MG_SET_ALL, eff.set);
		CHECK_U64(300000, eff.timeout_ms);
		CHECK_U64(1, eff.repeat);
		CHECK(eff.follow_children == 1);
		CHECK_U64(64, eff.stack_depth);
		CHECK(eff.unwind_fp == 0);
		CHECK(eff.allow_crash == 0);
		CHECK_U64(2, eff.confirm);
		CHECK_U64(5, eff.spread_runs);
		CHECK_STR("profiles", cfg->profiles);
		CHECK_STR("baselines", cfg->baselines);
		for (m = 0; m < MG_METRIC_COUNT; m++) {
			int gated = m == MG_METRIC_PEAK_BYTES || m == MG_METRIC_LEAKED_BYTES ||
				    m == MG_METRIC_DEFINITELY_LOST_BYTES || m == MG_METRIC_ALLOCS ||
				    m == MG_METRIC_TOTAL_BYTES;
			CHECK(eff.tolerance[m].state == (gated ? MG_RULE_ON : MG_RULE_OFF));
			CHECK(eff.limit[m].state == MG_RULE_OFF);
			CHECK((mg_config_tolerance(cfg, &cfg->tests[0], (enum mg_metric)m) != NULL) == gated);
		}
		CHECK_U64(20000000, eff.tolerance[MG_METRIC_PEAK_BYTES].tol.ppb);
		CHECK_U64(4096, eff.tolerance[MG_METRIC_PEAK_BYTES].tol.abs);
		CHECK_U64(0, eff.tolerance[MG_METRIC_LEAKED_BYTES].tol.ppb);
		CHECK_U64(0, eff.tolerance[MG_METRIC_LEAKED_BYTES].tol.abs);
		CHECK_U64(5000000, eff.tolerance[MG_METRIC_TOTAL_BYTES].tol.ppb);
		CHECK_U64(0, cfg->n_suppressions);
		CHECK_U64(0, cfg->n_imports);
		CHECK(cfg->tests[0].env && !cfg->tests[0].env[0]);
		CHECK(cfg->tests[0].ctest == -1);
	}
	mg_config_free(cfg);

	/* stack-unwind: frame pointers for all, the call-frame information for one */
	cfg = parse_ok("memgate.yml", "version: 1\ndefaults:\n  stack-unwind: fp\ntests:\n"
		       "  - {name: a, run: ./a}\n  - {name: b, run: ./b, stack-unwind: cfi}\n");
	if (cfg) {
		mg_config_effective(&eff, cfg, &cfg->tests[0]);
		CHECK(eff.unwind_fp == 1);
		mg_config_effective(&eff, cfg, &cfg->tests[1]);
		CHECK(eff.unwind_fp == 0);
	}
	mg_config_free(cfg);

	/* overrides, path resolution, quoting */
	cfg = parse_ok("proj/memgate.yml",
		       "version: 1\n"
		       "profiles: out/profiles\n"
		       "baselines: /abs/baselines\n"
		       "defaults:\n"
		       "  timeout: 5m\n"
		       "  repeat: 3\n"
		       "  follow-children: false\n"
		       "  stack-depth: 32\n"
		       "  allow-crash: TRUE\n"
		       "  confirm: 0\n"
		       "  tolerance:\n"
		       "    peak_bytes: 2 % + 4 KiB\n"
		       "    allocs: off\n"
		       "    frees: 10\n"
		       "    rss_peak_bytes: 10% + 1MiB\n"
		       "  limit:\n"
		       "    peak_bytes: 256MiB\n"
		       "    allocs: 1000000\n"
		       "tests:\n"
		       "  - name: parser\n"
		       "    run: [./build/tests/test_parser, --quick, 5, \"\"]\n"
		       "    cwd: .\n"
		       "    env: { LC_ALL: C, N: 5, EMPTY: \"\" }\n"
		       "    tolerance: { peak_bytes: \"5%\" }\n"
		       "  - ctest: build\n"
		       "    exclude: [\"*slow*\", \"x?\"]\n"
		       "    timeout: 1h\n"
		       "    env: {A: b}\n"
		       "  - name: lexer.v2_x-1\n"
		       "    run: ./lex --filter='a b' \"c\\\"d\" e\\ f '' x\"\"y\n"
		       "    cwd: sub\n"
		       "    timeout: 250ms\n"
		       "    repeat: 1\n"
		       "    follow-children: true\n"
		       "    stack-depth: 256\n"
		       "    allow-crash: false\n"
		       "    confirm: 5\n"
		       "    spread-runs: 12\n"
		       "    limit: { peak_bytes: off, leaked_blocks: 0 }\n"
		       "    tolerance: { allocs: \"1%\", frees: off }\n"
		       "suppressions:\n"
		       "  - leak: CRYPTO_malloc\n"
		       "    max_bytes: 4KiB\n"
		       "  - leak: \"^libfoo.so$\"\n");
	if (cfg) {
		CHECK_STR("proj", cfg->dir);
		CHECK_STR("proj/out/profiles", cfg->profiles);
		CHECK_STR("/abs/baselines", cfg->baselines);
		CHECK_U64(2, cfg->n_tests);
		CHECK_STR("proj", cfg->tests[0].cwd);
		check_argv(cfg->tests[0].argv, (const char *const[]){ "./build/tests/test_parser", "--quick", "5", "", NULL }, __LINE__);
		check_argv(cfg->tests[0].env, (const char *const[]){ "LC_ALL=C", "N=5", "EMPTY=", NULL }, __LINE__);
		t = &cfg->tests[1];
		CHECK_STR("lexer.v2_x-1", t->name);
		CHECK_STR("proj/sub", t->cwd);
		check_argv(t->argv, (const char *const[]){ "./lex", "--filter=a b", "c\"d", "e f", "", "xy", NULL }, __LINE__);
		CHECK_U64(6, t->argc);
		CHECK_STR("proj/build", cfg->imports[0].dir);
		CHECK_U64(1, cfg->imports[0].at);
		check_argv(cfg->imports[0].env, (const char *const[]){ "A=b", NULL }, __LINE__);
		CHECK_U64(3600000, cfg->imports[0].over.timeout_ms);
		CHECK(cfg->imports[0].over.set == MG_SET_TIMEOUT);

		/* defaults: file over built-ins, per metric */
		mg_config_effective(&eff, cfg, NULL);
		CHECK_U64(300000, eff.timeout_ms);
		CHECK_U64(3, eff.repeat);
		CHECK(eff.follow_children == 0);
		CHECK_U64(32, eff.stack_depth);
		CHECK(eff.allow_crash == 1);
		CHECK_U64(0, eff.confirm);
		CHECK_U64(5, eff.spread_runs);
		CHECK(eff.tolerance[MG_METRIC_ALLOCS].state == MG_RULE_OFF);
		CHECK(eff.tolerance[MG_METRIC_TOTAL_BYTES].state == MG_RULE_ON);   /* built-in kept */
		CHECK_U64(10, eff.tolerance[MG_METRIC_FREES].tol.abs);
		CHECK_U64(100000000, eff.tolerance[MG_METRIC_RSS_PEAK_BYTES].tol.ppb);
		CHECK_U64(1 << 20, eff.tolerance[MG_METRIC_RSS_PEAK_BYTES].tol.abs);
		CHECK_U64(12, eff.tolerance[MG_METRIC_PEAK_BYTES].pos.line);
		CHECK_U64(17, eff.tolerance[MG_METRIC_PEAK_BYTES].pos.col);

		/* test 0: only peak_bytes overridden */
		mg_config_effective(&eff, cfg, &cfg->tests[0]);
		CHECK_U64(3, eff.repeat);
		CHECK_U64(50000000, eff.tolerance[MG_METRIC_PEAK_BYTES].tol.ppb);
		CHECK_U64(0, eff.tolerance[MG_METRIC_PEAK_BYTES].tol.abs);
		CHECK(eff.limit[MG_METRIC_PEAK_BYTES].state == MG_RULE_ON);
		CHECK_U64(256ULL << 20, eff.limit[MG_METRIC_PEAK_BYTES].max);

		/* test 1: scalars, an un-gated default re-gated, a limit removed */
		mg_config_effective(&eff, cfg, t);
		CHECK_U64(250, eff.timeout_ms);
		CHECK_U64(1, eff.repeat);
		CHECK(eff.follow_children == 1);
		CHECK_U64(256, eff.stack_depth);
		CHECK(eff.allow_crash == 0);
		CHECK_U64(5, eff.confirm);
		CHECK_U64(12, eff.spread_runs);
		CHECK(eff.tolerance[MG_METRIC_ALLOCS].state == MG_RULE_ON);
		CHECK_U64(10000000, eff.tolerance[MG_METRIC_ALLOCS].tol.ppb);
		CHECK(eff.tolerance[MG_METRIC_FREES].state == MG_RULE_OFF);
		CHECK(mg_config_tolerance(cfg, t, MG_METRIC_FREES) == NULL);
		CHECK(mg_config_tolerance(cfg, &cfg->tests[0], MG_METRIC_FREES) != NULL);
		CHECK(eff.limit[MG_METRIC_PEAK_BYTES].state == MG_RULE_OFF);
		CHECK(mg_config_limit(&max, cfg, t, MG_METRIC_PEAK_BYTES) == 0);
		CHECK(mg_config_limit(&max, cfg, t, MG_METRIC_LEAKED_BLOCKS) == 1 && max == 0);
		CHECK(mg_config_limit(&max, cfg, t, MG_METRIC_ALLOCS) == 1 && max == 1000000);

		CHECK_U64(2, cfg->n_suppressions);
		CHECK_U64(4096, cfg->suppressions[0].max_bytes);
		CHECK_STR("^libfoo.so$", cfg->suppressions[1].pattern);
		CHECK(!cfg->suppressions[1].has_max);
	}
	mg_config_free(cfg);

	/* flow style, comments, CRLF, a UTF-8 BOM, "tests" before "version" */
	cfg = parse_ok("/memgate.yml",
		       "\xef\xbb\xbf# memgate\r\ntests: [{name: x, run: [\"/bin/true\"]}]\r\nversion: \"1\"\r\n");
	if (cfg) {
		CHECK_STR("/", cfg->dir);
		CHECK_STR("/profiles", cfg->profiles);
		CHECK_STR("x", cfg->tests[0].name);
		CHECK_STR("/", cfg->tests[0].cwd);
	}
	mg_config_free(cfg);

	/* a UTF-8 BOM right before the first key, before "---", before a comment */
	static const char *const bom[] = {
		"\xef\xbb\xbfversion: 1\ntests: [{name: x, run: [\"/bin/true\"]}]\n",
		"\xef\xbb\xbf---\nversion: 1\ntests: [{name: x, run: [\"/bin/true\"]}]\n",
		"\xef\xbb\xbf# c\nversion: 1\ntests: [{name: x, run: [\"/bin/true\"]}]\n",
	};
	for (size_t k = 0; k < sizeof(bom) / sizeof(bom[0]); k++) {
		cfg = parse_ok("/memgate.yml", bom[k]);
		if (cfg)
			CHECK_STR("x", cfg->tests[0].name);
		mg_config_free(cfg);
	}

	/* metric names round-trip */
	for (m = 0; m < MG_METRIC_COUNT; m++)
		CHECK(mg_metric_from_name(mg_metric_name((enum mg_metric)m)) == m);
	CHECK(mg_metric_from_name("peak") == -1);
	CHECK(mg_metric_is_bytes(MG_METRIC_RSS_PEAK_BYTES) && !mg_metric_is_bytes(MG_METRIC_PEAK_BLOCKS));
}

/* ---- run: splitting ----------------------------------------------------- */

static void split_ok(const char *s, const char *const *want, int line)
{
	char **v = NULL;
	size_t n = 0;
	struct mg_error err = { 0, "" };
	checks++;
	if (mg_shellwords_split(&v, &n, s, &err) != MG_OK) {
		failures++;
		fprintf(stderr, "%s:%d: split \"%s\": %s\n", __FILE__, line, s, err.msg);
		return;
	}
	check_argv(v, want, line);
	mg_strv_free(v);
}

static void test_split(void)
{
	char **v = (char **)1;
	size_t n;
	struct mg_error err;

	split_ok("a b  c", (const char *const[]){ "a", "b", "c", NULL }, __LINE__);
	split_ok("  a\tb\n", (const char *const[]){ "a", "b", NULL }, __LINE__);
	split_ok("", (const char *const[]){ NULL }, __LINE__);
	split_ok("'a b' \"c d\"", (const char *const[]){ "a b", "c d", NULL }, __LINE__);
	split_ok("'' \"\"", (const char *const[]){ "", "", NULL }, __LINE__);
	split_ok("a'b'c\"d\"e", (const char *const[]){ "abcde", NULL }, __LINE__);
	split_ok("'a\\b' \"a\\b\"", (const char *const[]){ "a\\b", "a\\b", NULL }, __LINE__);
	split_ok("\"\\\"\\\\\"", (const char *const[]){ "\"\\", NULL }, __LINE__);
	split_ok("a\\ b \\'", (const char *const[]){ "a b", "'", NULL }, __LINE__);
	split_ok("'$HOME | x' \"a;b\" \\$", (const char *const[]){ "$HOME | x", "a;b", "$", NULL }, __LINE__);
	split_ok("--gtest_filter=Foo.*:Bar? ~/x {a,b} #c", (const char *const[]){ "--gtest_filter=Foo.*:Bar?", "~/x", "{a,b}", "#c", NULL }, __LINE__);
	split_ok("caf\xc3\xa9 'x y'", (const char *const[]){ "caf\xc3\xa9", "x y", NULL }, __LINE__);
	CHECK(mg_shellwords_split(&v, &n, "a\\", &err) == MG_EINVALID && v == (char **)1);
	CHECK_STR("expected a character after the final \\ in \"run\"", err.msg);
	CHECK(mg_shellwords_split(&v, &n, "a && b", &err) == MG_EINVALID);
	CHECK(mg_shellwords_split(&v, &n, "a;b", &err) == MG_EINVALID);
	CHECK(mg_shellwords_split(&v, &n, "$(x)", &err) == MG_EINVALID);
	CHECK(mg_shellwords_split(&v, &n, "`x`", &err) == MG_EINVALID);
	CHECK(mg_shellwords_split(&v, &n, "a < b", &err) == MG_EINVALID);
	CHECK(mg_shellwords_split(&v, &n, "\"a", &err) == MG_EINVALID);
}

/* ---- suppressions ------------------------------------------------------- */

static void test_suppress(void)
{
	struct mg_config *cfg;
	struct mg_frame_names f1[] = {
		{ "CRYPTO_malloc", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "crypto/mem.c" },
		{ "main", "/work/app", "app.c" },
	};
	struct mg_frame_names f2[] = { { "parse_row", "/work/app", "src/csv.c" } };
	struct mg_frame_names f3[] = { { NULL, "/opt/libfoo.so", NULL } };
	struct mg_frame_names f4[] = { { "std::vector<int>::push_back", NULL, NULL } };

	/* LSan TemplateMatch semantics */
	CHECK(mg_lsan_match("CRYPTO_malloc", "CRYPTO_malloc"));
	CHECK(mg_lsan_match("malloc", "CRYPTO_malloc"));           /* substring */
	CHECK(mg_lsan_match("^CRYPTO", "CRYPTO_malloc"));
	CHECK(!mg_lsan_match("^malloc", "CRYPTO_malloc"));
	CHECK(mg_lsan_match("malloc$", "CRYPTO_malloc"));
	CHECK(!mg_lsan_match("CRYPTO$", "CRYPTO_malloc"));
	CHECK(mg_lsan_match("^CRYPTO_malloc$", "CRYPTO_malloc"));
	CHECK(mg_lsan_match("C*loc", "CRYPTO_malloc"));
	CHECK(mg_lsan_match("std::vector<*>::push_back", "std::vector<int>::push_back"));
	CHECK(!mg_lsan_match("std::vector<*>::pop", "std::vector<int>::push_back"));
	CHECK(mg_lsan_match("*", "anything"));
	CHECK(mg_lsan_match("^*$", "anything"));
	CHECK(mg_lsan_match("a*$", "abc"));
	CHECK(!mg_lsan_match("x", ""));
	CHECK(!mg_lsan_match("x", NULL));
	CHECK(mg_lsan_match("libcrypto.so", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"));
	CHECK(!mg_lsan_match("LIBCRYPTO", "libcrypto.so"));         /* case-sensitive */

	cfg = parse_ok("memgate.yml",
		       "version: 1\ntests: [{name: a, run: ./a}]\n"
		       "suppressions:\n"
		       "  - leak: CRYPTO_malloc\n    max_bytes: 100\n"
		       "  - leak: libfoo.so$\n"
		       "  - leak: \"std::vector<*>::push_back\"\n"
		       "  - leak: never_matches\n");
	if (!cfg)
		return;
	struct mg_suppress_state st;
	if (mg_suppress_init(&st, cfg) < 0) {
		mg_config_free(cfg);
		return;
	}
	mg_suppress_begin_test(&st);
	CHECK(mg_suppress_stack(&st, f1, 2, 60) == 0);
	CHECK(mg_suppress_stack(&st, f1, 2, 40) == 0);
	CHECK(mg_suppress_stack(&st, f1, 2, 1) == -1);                     /* cap of 100 reached */
	CHECK(mg_suppress_stack(&st, f2, 1, 10) == -1);
	CHECK(mg_suppress_stack(&st, f3, 1, 10) == 1);                     /* by module */
	CHECK(mg_suppress_stack(&st, f4, 1, 10) == 2);
	CHECK_U64(2, st.use[0].used);
	CHECK_U64(1, st.use[0].capped);
	CHECK_U64(100, st.use[0].test_bytes);
	mg_suppress_begin_test(&st);                                 /* the cap is per test */
	CHECK(mg_suppress_stack(&st, f1, 2, 100) == 0);
	CHECK(mg_suppress_stack(&st, f1, 2, 101) == -1);
	CHECK_U64(3, st.use[0].used);
	CHECK_U64(1, st.use[1].used);
	CHECK_U64(1, st.use[2].used);
	CHECK_U64(0, st.use[3].used);                            /* unused: reported later */
	mg_suppress_release(&st);
	mg_config_free(cfg);

	/* what a suppression hides is summed exactly, beyond 2^53: the gated
	 * figure is the summary's less that (2^53 + 2 - (2^53 + 1) = 1) */
	cfg = parse_ok("memgate.yml", "version: 1\ntests: [{name: a, run: ./a}]\n"
		       "suppressions:\n  - leak: \"^big_leak$\"\n");
	if (!cfg)
		return;
	cJSON *prof = cJSON_CreateObject(), *sum = cJSON_AddObjectToObject(prof, "summary");
	cJSON *stack = cJSON_CreateObject(), *frames = cJSON_AddArrayToObject(stack, "frames");
	cJSON *frame = cJSON_CreateObject();
	cJSON_AddStringToObject(frame, "function", "big_leak");
	cJSON_AddItemToArray(frames, frame);
	cJSON_AddItemToObject(stack, "bytes", mg_json_create_u64(9007199254740993ull));
	cJSON_AddItemToObject(stack, "blocks", mg_json_create_u64(1));
	cJSON_AddItemToObject(sum, "leaked_bytes", mg_json_create_u64(9007199254740994ull));
	cJSON *proc = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(proc, "leak_stacks"), stack);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(prof, "processes"), proc);
	uint64_t hid = 0, gated = 0;
	if (mg_suppress_init(&st, cfg) == 0) {
		CHECK(mg_suppress_profile(prof, &st) == 1);
		CHECK(mg_json_u64(&hid, cJSON_GetObjectItem(cJSON_GetObjectItem(prof, "suppressed"),
							   "leaked_bytes")) == 0);
		CHECK_U64(9007199254740993ull, hid);
		CHECK(mg_gated_figure(&gated, prof, "leaked_bytes") == 1);
		CHECK_U64(1, gated);
		mg_suppress_release(&st);
	}
	cJSON_Delete(prof);
	mg_config_free(cfg);
}

/* ---- ctest import, against a real CMake project --------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_ctest(const char *cmake, const char *ctest)
{
	struct mg_error err = { 0, "" };
	struct mg_config *cfg = NULL;
	char *dir = NULL, path[1024], cmd[4096], want[8192];
	const struct mg_test *t;

	if (mg_mkdtemp(&dir, "mg-config-ctest", &err) < 0) {
		failures++;
		fprintf(stderr, "%s: %s\n", __FILE__, err.msg);
		return;
	}
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/CMakeLists.txt", dir);
	write_file(path,
		   "cmake_minimum_required(VERSION 3.19)\n"
		   "project(t NONE)\n"
		   "enable_testing()\n"
		   "add_test(NAME alpha COMMAND /bin/echo \"a b\" c)\n"
		   "set_tests_properties(alpha PROPERTIES WORKING_DIRECTORY /tmp ENVIRONMENT \"A=1;B=x y\")\n"
		   "add_test(NAME slow_one COMMAND /bin/true)\n"
		   "add_test(NAME disabled_one COMMAND /bin/true)\n"
		   "set_tests_properties(disabled_one PROPERTIES DISABLED TRUE)\n"
		   "add_subdirectory(sub)\n");
	snprintf(path, sizeof(path), "%s/sub/CMakeLists.txt", dir);
	write_file(path,
		   "add_test(NAME beta COMMAND /bin/false --x)\n"
		   "add_test(NAME \"bad name\" COMMAND /bin/true)\n");
	snprintf(cmd, sizeof(cmd), "'%s' -S '%s' -B '%s/build' >/dev/null", cmake, dir, dir);
	CHECK(system(cmd) == 0);

	/* the good case: order, commands, cwd, environment, overrides, exclude */
	snprintf(path, sizeof(path), "%s/memgate.yml", dir);
	write_file(path,
		   "version: 1\n"
		   "tests:\n"
		   "  - {name: first, run: ./x}\n"
		   "  - ctest: build\n"
		   "    exclude: [\"*slow*\", \"bad name\"]\n"
		   "    timeout: 10s\n"
		   "    env: {B: override}\n"
		   "  - {name: last, run: ./y}\n");
	CHECK(mg_config_load(&cfg, path, &err) == MG_OK);
	if (cfg) {
		int rc = mg_config_import_ctest(cfg, ctest, &err);
		CHECK(rc == MG_OK);
		if (rc)
			fprintf(stderr, "  %s\n", err.msg);
		CHECK_U64(4, cfg->n_tests);
		if (cfg->n_tests == 4) {
			CHECK_STR("first", cfg->tests[0].name);
			CHECK_STR("alpha", cfg->tests[1].name);
			CHECK_STR("beta", cfg->tests[2].name);
			CHECK_STR("last", cfg->tests[3].name);
		}
		t = mg_config_find_test(cfg, "alpha");
		CHECK(t != NULL);
		if (t) {
			check_argv(t->argv, (const char *const[]){ "/bin/echo", "a b", "c", NULL }, __LINE__);
			CHECK_STR("/tmp", t->cwd);
			check_argv(t->env, (const char *const[]){ "A=1", "B=override", NULL }, __LINE__);
			CHECK(t->ctest == 0);
			CHECK_U64(4, t->pos.line);
			CHECK_U64(10000, t->over.timeout_ms);
			CHECK(mg_config_tolerance(cfg, t, MG_METRIC_PEAK_BYTES) != NULL);
		}
		t = mg_config_find_test(cfg, "beta");
		CHECK(t != NULL);
		if (t) {
			snprintf(want, sizeof(want), "%s/build/sub", dir);
			CHECK_STR(want, t->cwd);
			check_argv(t->argv, (const char *const[]){ "/bin/false", "--x", NULL }, __LINE__);
			check_argv(t->env, (const char *const[]){ "B=override", NULL }, __LINE__);
		}
		CHECK(mg_config_find_test(cfg, "slow_one") == NULL);
		CHECK(mg_config_find_test(cfg, "disabled_one") == NULL);
		CHECK(cfg->imports[0].imported);
		CHECK(mg_config_import_ctest(cfg, ctest, &err) == MG_OK);   /* once only */
		CHECK_U64(4, cfg->n_tests);
	}
	mg_config_free(cfg);
	cfg = NULL;

	/* a ctest name outside the rules is mapped to one, and keeps its own */
	write_file(path, "version: 1\ntests:\n  - ctest: build\n    exclude: [\"*slow*\"]\n");
	CHECK(mg_config_load(&cfg, path, &err) == MG_OK);
	if (cfg) {
		CHECK(mg_config_import_ctest(cfg, ctest, &err) == MG_OK);
		CHECK_U64(3, cfg->n_tests);
		t = mg_config_find_test(cfg, "bad-20name");
		CHECK(t != NULL);
		if (t)
			CHECK_STR("bad name", t->case_name);
		t = mg_config_find_test(cfg, "beta");
		CHECK(t && !t->case_name);
	}
	mg_config_free(cfg);
	cfg = NULL;

	/* a ctest name that duplicates a test of the file */
	write_file(path, "version: 1\ntests:\n  - {name: beta, run: ./b}\n  - ctest: build\n    exclude: [\"bad*\"]\n");
	CHECK(mg_config_load(&cfg, path, &err) == MG_OK);
	if (cfg) {
		CHECK(mg_config_import_ctest(cfg, ctest, &err) == MG_EINVALID);
		snprintf(want, sizeof(want),
			 "%s:4:5: duplicate test name \"beta\" from ctest in \"%s/build\" (first at line 3; rename one or add it to \"exclude\")",
			 path, dir);
		CHECK_STR(want, err.msg);
		CHECK_U64(1, cfg->n_tests);
		CHECK_STR("beta", cfg->tests[0].name);
	}
	mg_config_free(cfg);
	cfg = NULL;

	/* no build tree */
	write_file(path, "version: 1\ntests:\n  - ctest: nowhere\n");
	CHECK(mg_config_load(&cfg, path, &err) == MG_OK);
	if (cfg) {
		CHECK(mg_config_import_ctest(cfg, ctest, &err) == MG_EINVALID);
		snprintf(want, sizeof(want),
			 "%s:3:12: expected a ctest build directory at \"%s/nowhere\" (no CTestTestfile.cmake there: configure the project first)",
			 path, dir);
		CHECK_STR(want, err.msg);
	}
	mg_config_free(cfg);
	cfg = NULL;

	/* no ctest program */
	write_file(path, "version: 1\ntests:\n  - ctest: build\n");
	CHECK(mg_config_load(&cfg, path, &err) == MG_OK);
	if (cfg) {
		CHECK(mg_config_import_ctest(cfg, "/nonexistent/ctest", &err) == MG_ERROR);
		snprintf(want, sizeof(want),
			 "%s:3:12: cannot list the tests of \"%s/build\": cannot run \"/nonexistent/ctest\"",
			 path, dir);
		CHECK_STR(want, err.msg);
	}
	mg_config_free(cfg);
	cfg = NULL;

	/* the lower level: the tests ctest knows, unfiltered */
	{
		struct mg_test *list = NULL;
		size_t n = 0;
		snprintf(path, sizeof(path), "%s/build", dir);
		CHECK(mg_config_ctest_list(&list, &n, path, ctest, &err) == MG_OK);
		CHECK_U64(4, n);                 /* alpha slow_one beta "bad name"; not disabled_one */
		mg_config_tests_free(list, n);
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(dir);
}


/* ---- discovered names: the mapping and GoogleTest's list -------------------- */

static void check_name(const char *name, const char *want)
{
	char enc[201], dec[1024];
	mg_name_encode(enc, name);
	checks++;
	if (strcmp(enc, want)) {
		failures++;
		fprintf(stderr, "%s:%d: encode(\"%s\"): expected \"%s\", got \"%s\"\n", __FILE__,
			__LINE__, name, want, enc);
	}
	if (strcmp(enc, name)) {          /* mapped: decodes back */
		CHECK(mg_name_decode(dec, sizeof(dec), enc) == 0);
		CHECK_STR(name, dec);
	} else {                          /* a valid name is not a mapping */
		CHECK(mg_name_decode(dec, sizeof(dec), enc) < 0 || strchr(name, '-'));
	}
}

static void test_names(void)
{
	char **v = NULL, dec[64], longname[600], enc[201];


	check_name("Join.Empty", "Join.Empty");
	check_name("a-b_c.d", "a-b_c.d");
	check_name("Sizes/JoinP.RoundTrip/1", "Sizes--JoinP.RoundTrip--1");
	check_name("Typed/0.Vector", "Typed--0.Vector");
	check_name("Typed.Vector<int>", "Typed.Vector-3cint-3e");
	check_name("my test-case", "my-20test-2dcase");
	check_name("tests::leak", "tests-3a-3aleak");
	check_name("/lead", "_--lead");
	check_name("_/x", "_-5f--x");
	check_name("-x y", "_-2dx-20y");
	check_name(".", "_-2e");
	check_name("..", "_-2e.");
	check_name("memgate-x", "_-6demgate-2dx");
	check_name("\xc3\xa9t\xc3\xa9", "_-c3-a9t-c3-a9");
	/* too long: cut, with a hash of the whole name; never decoded */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[3] = '/';
	mg_name_encode(enc, longname);
	CHECK_U64(200, strlen(enc));
	CHECK(!strncmp(enc, "aaa--aaa", 8) && !strncmp(enc + 182, "-h", 2));
	CHECK(mg_name_decode(dec, sizeof(dec), enc) < 0);
	longname[5] = 'b';
	{
		char enc2[201];
		mg_name_encode(enc2, longname);
		CHECK(strcmp(enc, enc2) != 0);  /* the hash tells them apart */
	}
	CHECK(mg_name_decode(dec, sizeof(dec), "a-zz") < 0);
	CHECK(mg_name_decode(dec, sizeof(dec), "plain") < 0);

	/* GoogleTest's list: comments, typed and parametrized tests, DISABLED_ */
	CHECK(mg_discover_gtest_parse(&v,
		"Running main() from ./googletest/src/gtest_main.cc\n"
		"Join.\n  Empty\n  Three\n"
		"DISABLED_Slow.\n  Never\n"
		"Cache.\n  DISABLED_Later\n  Fill\n"
		"Typed/0.  # TypeParam = int\n  Vector\n"
		"Sizes/JoinP.\n  RoundTrip/0  # GetParam() = 4\n  RoundTrip/1  # GetParam() = 8\n"
		"Pre/DISABLED_Sz.\n  X/0\n") == MG_OK);
	{
		static const char *const want[] = { "Join.Empty", "Join.Three", "Cache.Fill",
			"Typed/0.Vector", "Sizes/JoinP.RoundTrip/0", "Sizes/JoinP.RoundTrip/1", NULL };
		check_argv(v, want, __LINE__);
	}
	mg_strv_free(v);
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "";
	if (!strcmp(group, "units"))
		test_units();
	else if (!strcmp(group, "errors"))
		test_errors();
	else if (!strcmp(group, "good"))
		test_good();
	else if (!strcmp(group, "split"))
		test_split();
	else if (!strcmp(group, "suppress"))
		test_suppress();
	else if (!strcmp(group, "names"))
		test_names();
	else if (!strcmp(group, "ctest") && argc == 4)
		test_ctest(argv[2], argv[3]);
	else {
		fprintf(stderr, "usage: test_config units|errors|good|split|suppress|names|ctest CMAKE CTEST\n");
		return 2;
	}
	printf("%s: %d checks, %d failed\n", group, checks, failures);
	return failures ? 1 : 0;
}
