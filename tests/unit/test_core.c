/* test_core.c - the verdict (core/compare.c) and the combination of runs (profile.c)
 *
 * Exact boundaries of docs/baselines.md, "The verdict": allowed = baseline * (1 + pct) + abs, a
 * regression one byte above it, "improved" only below the baseline by more
 * than the tolerance, limits with and without a baseline; the call sites
 * that grew and their shares; new leak sites; the environment warning;
 * mg_profile_combine()'s median peak and minimum counts; the strict JSON
 * reader (util/json.c): its errors with line:col, exact 64-bit counts;
 * mg_buf_u64()'s digits at every power of ten, mg_hex64()'s at every
 * power of 16; the spread of several
 * runs in a baseline and the verdict at the edges of its range; and
 * mg_sort_first() and mg_top (util/sort.c) against qsort on the same arrays;
 * mg_glob() (util/glob.c) against fnmatch(3).
 */
#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/baseline.h"
#include "core/check.h"
#include "core/compare.h"
#include "core/config.h"
#include "core/profile.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/glob.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/sort.h"

#include "harness.h"

static struct mg_config *cfg;

/* a profile: summary figures and the peak/leak stacks of one process */
static cJSON *profile(unsigned peak, unsigned allocs, unsigned total, unsigned leaked,
		      const char *peak_stacks, const char *leak_stacks, const char *libc)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"schema\": 1, \"environment\": {\"libc\": \"%s\", \"arch\": \"x86_64\", \"compiler\": null},"
		 " \"summary\": {\"peak_bytes\": %u, \"peak_blocks\": 1, \"allocs\": %u, \"frees\": 0,"
		 " \"total_bytes\": %u, \"leaked_bytes\": %u, \"leaked_blocks\": 1,"
		 " \"definitely_lost_bytes\": 0},"
		 " \"processes\": [{\"peak_bytes\": %u, \"peak_stacks\": [%s], \"leak_stacks\": [%s]}]}",
		 libc, peak, allocs, total, leaked, peak, peak_stacks, leak_stacks);
	cJSON *doc = cJSON_Parse(text);
	if (!doc) {
		fprintf(stderr, "bad test profile: %s\n", text);
		exit(2);
	}
	return doc;
}

#define STACK(fn, bytes) "{\"bytes\": " #bytes ", \"blocks\": 1, \"frames\": [{\"function\": \"" fn "\", \"file\": \"/src/a.c\", \"line\": 1}]}"

static const struct mg_metric_verdict *metric(const struct mg_verdict *v, enum mg_metric m)
{
	for (size_t k = 0; k < v->n_metrics; k++)
		if (v->metrics[k].metric == m)
			return &v->metrics[k];
	return NULL;
}

/* the verdict of `cur` against the baseline built from `old` */
static void judge(struct mg_verdict *v, const cJSON *cur, const cJSON *old)
{
	struct mg_error err = { 0 };
	cJSON *base = old ? mg_baseline_from_profile(old, NULL, 0, NULL) : NULL;
	CHECK(mg_compare(v, cur, base, cfg, &cfg->tests[0], &err) == MG_OK);
	cJSON_Delete(base);
}

static void test_tolerance(void)
{
	struct mg_verdict v;
	cJSON *old = profile(1000, 100, 4000, 0, STACK("a", 1000), "", "2.36");
	const struct mg_metric_verdict *m;

	/* allowed = 1000 + 10% + 100 = 1200: equal passes, one byte more regresses */
	cJSON *cur = profile(1200, 100, 4000, 0, STACK("a", 1200), "", "2.36");
	judge(&v, cur, old);
	m = metric(&v, MG_METRIC_PEAK_BYTES);
	CHECK(m && m->status == MG_STATUS_PASS && m->has_baseline);
	CHECK_U64(1200, m ? m->allowed : 0);
	CHECK_U64(1000, m ? m->baseline : 0);
	CHECK(v.status == MG_STATUS_PASS && !v.is_new && !v.env_mismatch);
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	cur = profile(1201, 100, 4000, 0, STACK("a", 1201), "", "2.36");
	judge(&v, cur, old);
	m = metric(&v, MG_METRIC_PEAK_BYTES);
	CHECK(m && m->status == MG_STATUS_REGRESSION);
	CHECK(v.status == MG_STATUS_REGRESSION);
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	/* "0" on allocs: one more is a regression */
	cur = profile(1000, 101, 4000, 0, STACK("a", 1000), "", "2.36");
	judge(&v, cur, old);
	m = metric(&v, MG_METRIC_ALLOCS);
	CHECK(m && m->status == MG_STATUS_REGRESSION && m->allowed == 100);
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	/* improved: below by more than the tolerance (200); exactly 200 below passes */
	cur = profile(800, 100, 4000, 0, STACK("a", 800), "", "2.36");
	judge(&v, cur, old);
	CHECK(metric(&v, MG_METRIC_PEAK_BYTES)->status == MG_STATUS_PASS);
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	cur = profile(799, 100, 4000, 0, STACK("a", 799), "", "2.36");
	judge(&v, cur, old);
	CHECK(metric(&v, MG_METRIC_PEAK_BYTES)->status == MG_STATUS_IMPROVED);
	CHECK(v.status == MG_STATUS_IMPROVED);
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	/* the environment differs: a warning naming the first difference */
	cur = profile(1000, 100, 4000, 0, STACK("a", 1000), "", "2.37");
	judge(&v, cur, old);
	CHECK(v.env_mismatch && strstr(v.env_detail, "libc '2.36' -> '2.37'"));
	CHECK(v.status == MG_STATUS_PASS);
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	cJSON_Delete(old);
}

static void test_limits(void)
{
	struct mg_verdict v;
	const struct mg_metric_verdict *m;
	/* total_bytes: tolerance 0.5% of 6000 = 30, but the limit 5000 is lower */
	cJSON *old = profile(1000, 100, 6000, 0, STACK("a", 1000), "", "2.36");
	cJSON *cur = profile(1000, 100, 6000, 0, STACK("a", 1000), "", "2.36");
	judge(&v, cur, old);
	m = metric(&v, MG_METRIC_TOTAL_BYTES);
	CHECK(m && m->status == MG_STATUS_OVER_BUDGET && m->has_limit);
	CHECK_U64(5000, m ? m->allowed : 0);
	CHECK_U64(5000, m ? m->limit : 0);
	CHECK(v.status == MG_STATUS_OVER_BUDGET);
	mg_verdict_release(&v);

	/* a new test: "new" unless over a limit, which fails it all the same */
	judge(&v, cur, NULL);
	CHECK(v.is_new && v.status == MG_STATUS_OVER_BUDGET);
	m = metric(&v, MG_METRIC_PEAK_BYTES);
	CHECK(m && m->status == MG_STATUS_NEW && !m->has_baseline && m->allowed == UINT64_MAX);
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	cur = profile(1000, 100, 5000, 0, STACK("a", 1000), "", "2.36");
	judge(&v, cur, NULL);
	CHECK(v.is_new && v.status == MG_STATUS_NEW);
	CHECK(metric(&v, MG_METRIC_TOTAL_BYTES)->status == MG_STATUS_NEW);
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	cJSON_Delete(old);
}

static void test_growth(void)
{
	struct mg_verdict v;
	/* peak 1000 -> 1800: b +500 (62.5%), c +300 (37.5%), a unchanged */
	cJSON *old = profile(1000, 100, 4000, 10, STACK("a", 600) "," STACK("b", 400),
			     STACK("x", 10), "2.36");
	cJSON *cur = profile(1800, 100, 4000, 30, STACK("a", 600) "," STACK("b", 900) ","
			     STACK("c", 300), STACK("x", 10) "," STACK("y", 20), "2.36");
	judge(&v, cur, old);
	CHECK(v.status == MG_STATUS_REGRESSION);
	CHECK_U64(3, v.n_grew);
	if (v.n_grew == 3) {
		CHECK(v.grew[0].metric == MG_METRIC_PEAK_BYTES && !strcmp(v.grew[0].site, "b (a.c:1)"));
		CHECK_U64(400, v.grew[0].baseline);
		CHECK_U64(900, v.grew[0].current);
		CHECK(v.grew[0].share == 0.625);
		CHECK(!strcmp(v.grew[1].site, "c (a.c:1)") && v.grew[1].baseline == 0 &&
		      v.grew[1].share == 0.375);
		/* leaked 10 -> 30: the new site y is all of it */
		CHECK(v.grew[2].metric == MG_METRIC_LEAKED_BYTES && !strcmp(v.grew[2].site, "y (a.c:1)"));
		CHECK(v.grew[2].share == 1.0);
	}
	CHECK_U64(1, v.n_new_leaks);
	CHECK(v.n_new_leaks == 1 && !strcmp(v.new_leaks[0], "y (a.c:1)"));
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	/* a peak that did not grow names no site, even if one site moved up */
	cur = profile(1000, 100, 4000, 10, STACK("a", 500) "," STACK("b", 500), STACK("x", 10), "2.36");
	judge(&v, cur, old);
	CHECK_U64(0, v.n_grew);
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	cJSON_Delete(old);
}

static double fig(const cJSON *doc, const char *name)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "summary"), name)->valuedouble;
}

static void test_combine(void)
{
	/* peaks 100, 300, 200: median 200 (the third run's document); counts: minimum;
	 * leaks: the least leaking run's, as a group */
	cJSON *d[4] = {
		profile(100, 10, 1000, 5, STACK("one", 100), "", "2.36"),
		profile(300, 8, 1200, 3, STACK("two", 300), "", "2.36"),
		profile(200, 9, 900, 4, STACK("three", 200), "", "2.36"),
		profile(250, 9, 900, 4, STACK("four", 250), "", "2.36"),
	};
	cJSON *c = mg_profile_combine(d, 3);
	CHECK(c != NULL);
	if (c) {
		CHECK(fig(c, "peak_bytes") == 200);
		CHECK(fig(c, "allocs") == 8);
		CHECK(fig(c, "total_bytes") == 900);
		CHECK(fig(c, "leaked_bytes") == 3);
		const cJSON *runs = cJSON_GetObjectItem(c, "runs");
		CHECK(cJSON_GetArraySize(runs) == 3);
		CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 1), "peak_bytes")->valuedouble == 300);
		char *text = cJSON_PrintUnformatted(c);
		CHECK(text && strstr(text, "\"three\"") && !strstr(text, "\"two\""));
		free(text);
		/* a combined document contributes its runs: 3 + 1 = 4, lower median 200 */
		cJSON *again = mg_profile_combine((cJSON *[]){ c, d[3] }, 2);
		CHECK(again && cJSON_GetArraySize(cJSON_GetObjectItem(again, "runs")) == 4);
		CHECK(again && fig(again, "peak_bytes") == 200);
		cJSON_Delete(again);
		cJSON_Delete(c);
	}
	for (int i = 0; i < 4; i++)
		cJSON_Delete(d[i]);
}

static void test_json(void)
{
	static const struct {
		const char *text;
		const char *msg;            /* NULL: parses */
	} cases[] = {
		{ "{\"a\": [1, -2.5e3, true, false, null, \"\\u00e9\\ud83d\\ude00\\n\"]}", NULL },
		{ "\xef\xbb\xbf {} \n", NULL },
		{ "", "f:1:1: expected a value, got end of input" },
		{ "{\"a\": 1} x", "f:1:10: expected the end of the document, got 'x'" },
		{ "{\"a\": 1,\n \"a\": 2}", "f:2:2: duplicate key \"a\"" },
		{ "[01]", "f:1:2: number with a leading zero" },
		{ "[-]", "f:1:3: expected a digit, got ']'" },
		{ "[1.]", "f:1:4: expected a digit after '.', got ']'" },
		{ "[1e400]", "f:1:2: number out of range: 1e400" },
		{ "{\"a\" 1}", "f:1:6: expected ':' after a key, got '1'" },
		{ "{a: 1}", "f:1:2: expected a key in quotes, got 'a'" },
		{ "[1,]", "f:1:4: expected a value, got ']'" },
		{ "[1 2]", "f:1:4: expected ',' or ']', got '2'" },
		{ "\"a\tb\"", "f:1:3: control character (byte 0x09) in a string: expected it escaped" },
		{ "\"\\x\"", "f:1:2: invalid escape '\\x' in a string" },
		{ "\"\\ud800\"", "f:1:2: high surrogate '\\ud800' without its low half" },
		{ "\"\\udc00\"", "f:1:2: lone low surrogate '\\udc00' in a string" },
		{ "\"\\u0000\"", "f:1:2: '\\u0000' in a string is not supported" },
		{ "\"abc", "f:1:1: unterminated string" },
		{ "[nul]", "f:1:2: expected a value, got 'n'" },
		{ "[\n\n  +1]", "f:3:3: expected a value, got '+'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mg_error err = { 0 };
		cJSON *doc = NULL;
		int rc = mg_json_parse(&doc, cases[i].text, strlen(cases[i].text), "f", &err);
		if (cases[i].msg ? rc != MG_EINVALID || strcmp(err.msg, cases[i].msg) : rc != MG_OK) {
			fprintf(stderr, "%s: json case %zu: expected %s, got rc %d \"%s\"\n", __FILE__, i,
				cases[i].msg ? cases[i].msg : "success", rc, err.msg);
			failures++;
		}
		cJSON_Delete(doc);
	}
	/* a deep nest is refused, not recursed into */
	char deep[2 * MG_JSON_MAX_DEPTH + 8];
	memset(deep, '[', MG_JSON_MAX_DEPTH + 1);
	memset(deep + MG_JSON_MAX_DEPTH + 1, ']', MG_JSON_MAX_DEPTH + 1);
	struct mg_error err = { 0 };
	cJSON *doc = NULL;
	CHECK(mg_json_parse(&doc, deep, 2 * MG_JSON_MAX_DEPTH + 2, "f", &err) == MG_EINVALID);
	CHECK(strstr(err.msg, "nested deeper than") != NULL);

	/* counts: exact from the text, digits only */
	static const char nums[] = "[18446744073709551615, 9007199254740993, 0, 18446744073709551616, "
				   "-1, 1.5, 1.0, 1e3, -0, \"7\", null]";
	CHECK(mg_json_parse(&doc, nums, sizeof(nums) - 1, "f", &err) == MG_OK);
	uint64_t x = 0;
	CHECK(mg_json_u64(&x, cJSON_GetArrayItem(doc, 0)) == 0 && x == UINT64_MAX);
	CHECK(mg_json_u64(&x, cJSON_GetArrayItem(doc, 1)) == 0 && x == 9007199254740993ull);
	CHECK(mg_json_u64(&x, cJSON_GetArrayItem(doc, 2)) == 0 && x == 0);
	for (int k = 3; k < 11; k++)
		CHECK(mg_json_u64(&x, cJSON_GetArrayItem(doc, k)) < 0);
	/* a value set since it was parsed is read from its double, not the stale text */
	cJSON_SetNumberValue(cJSON_GetArrayItem(doc, 2), 42);
	CHECK(mg_json_u64(&x, cJSON_GetArrayItem(doc, 2)) == 0 && x == 42);
	/* the canonical text keeps counts above 2^53 exact */
	char *canon = mg_json_canonical(doc);
	CHECK(canon && strstr(canon, "18446744073709551615") && strstr(canon, "9007199254740993"));
	free(canon);
	cJSON_Delete(doc);
	cJSON *n = mg_json_create_u64(UINT64_MAX - 1);
	CHECK(n && mg_json_u64(&x, n) == 0 && x == UINT64_MAX - 1);
	cJSON_Delete(n);
}

/*
 * mg_json_print_compact() writes cJSON_PrintUnformatted()'s text exactly:
 * numbers of every magnitude (the timeline's milliseconds, fractions that do
 * and do not have a short decimal, ints, integers past an int, negatives,
 * non-finite values), within strings, objects and nested arrays, and the
 * document is left as it was (numbers with and without a text of their own).
 */
static void test_json_compact(void)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_CreateArray(), *inner = cJSON_CreateArray();
	static const double fixed[] = { 0, -0.0, 1, -1, 0.5, 0.1, 0.001, 0.0011, 0.000999, 1e-3,
					1e-4, 1e-7, 671.294, 706.40250499855028, 1.32, 30.054,
					2147483647, 2147483648.0, -2147483649.0, 3e9, 1e13,
					99999999999999.9, 1e14, 123456789012345.0, 1e15, 1e20,
					4503599627370497.0, 1.0 / 3, 2.0 / 3, 1e300, -12.5 };
	uint64_t r = 0x9e3779b97f4a7c15ull;
	CHECK(doc && arr && inner);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(fixed[i]));
	for (int i = 0; i < 20000; i++) {
		double d;
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		switch (i % 4) {
		case 0:         /* ms with microseconds, as the timeline writes them */
			d = (double)(r % 100000000) / 1000.0;
			break;
		case 1:         /* any bits: mostly 17 digits */
			d = (double)(r >> 11) / (double)(1ull << (r % 60));
			break;
		case 2:         /* a few digits at every scale */
			d = (double)(r % 100000) * pow(10.0, (double)(int)(r % 40) - 25);
			break;
		default:
			d = -(double)(r % 1000000007) / 128.0;
		}
		cJSON_AddItemToArray(i % 3 ? arr : inner, cJSON_CreateNumber(d));
	}
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(NAN));
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(INFINITY));
	cJSON *big = mg_json_create_u64(12345678901234567ull);
	cJSON_AddItemToArray(arr, big);
	cJSON_AddItemToArray(arr, inner);
	cJSON_AddItemToObject(doc, "n", arr);
	cJSON_AddStringToObject(doc, "s", "a \"b\"\n\x01 \u00e9 1.5");
	cJSON_AddNumberToObject(doc, "ms", 12.75);
	cJSON_AddItemToObject(doc, "o", cJSON_CreateObject());
	char *want = cJSON_PrintUnformatted(doc), *got = mg_json_print_compact(doc);
	CHECK(want && got && !strcmp(want, got));
	char *again = cJSON_PrintUnformatted(doc);   /* the document as it was */
	CHECK(again && want && !strcmp(want, again));
	uint64_t x = 0;
	CHECK(mg_json_u64(&x, big) == 0 && x == 12345678901234567ull);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(doc, "ms")) &&
	      cJSON_GetObjectItem(doc, "ms")->valuestring == NULL);
	cJSON_free(want);
	cJSON_free(got);
	cJSON_free(again);
	cJSON_Delete(doc);
}

/* the number writer against printf, at 0, 10^k - 1, 10^k and the maximum */
static void test_u64(void)
{
	struct mg_buf b = MG_BUF_UNBOUNDED;
	char want[32];
	uint64_t p = 1;
	for (int k = 0; k < 20; k++, p *= 10) {
		const uint64_t v[3] = { p - 1, p, p + 7 };
		for (int i = 0; i < 3; i++) {
			mg_buf_clear(&b);
			snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
			CHECK(mg_buf_u64(&b, v[i]) == 0 && !strcmp(mg_buf_str(&b), want));
		}
	}
	mg_buf_clear(&b);
	CHECK(mg_buf_u64(&b, UINT64_MAX) == 0 && !strcmp(mg_buf_str(&b), "18446744073709551615"));
	mg_buf_release(&b);
	/* a failed buffer stays failed: the number is not appended */
	mg_buf_init(&b, 3);
	CHECK(mg_buf_u64(&b, 123) == 0 && mg_buf_u64(&b, 4) == -1 && !strcmp(mg_buf_str(&b), "123"));
	mg_buf_release(&b);
	/* mg_hex64() as printf's "0x%" PRIx64, at every power of 16 */
	char hex[19];
	for (int k = 0; k < 64; k += 4) {
		const uint64_t v[3] = { (1ull << k) - 1, 1ull << k, (1ull << k) + 0xa };
		for (int i = 0; i < 3; i++) {
			snprintf(want, sizeof(want), "0x%" PRIx64, v[i]);
			CHECK_STR(want, mg_hex64(hex, v[i]));
		}
	}
	CHECK_STR("0xffffffffffffffff", mg_hex64(hex, UINT64_MAX));
}

/* the verdict against a baseline `b` (a document, not built here) */
static int judge_doc(struct mg_verdict *v, const cJSON *cur, const cJSON *b)
{
	struct mg_error err = { 0 };
	return mg_compare(v, cur, b, cfg, &cfg->tests[0], &err);
}

static enum mg_status status_of(const cJSON *b, unsigned peak, unsigned allocs,
				enum mg_metric m)
{
	struct mg_verdict v;
	cJSON *cur = profile(peak, allocs, 4000, 0, STACK("a", 1), "", "2.36");
	enum mg_status s = MG_STATUS_NEW;
	if (judge_doc(&v, cur, b) == MG_OK && metric(&v, m))
		s = metric(&v, m)->status;
	else
		CHECKF(0, "no verdict of %s", mg_metric_name(m));
	mg_verdict_release(&v);
	cJSON_Delete(cur);
	return s;
}

/* the baseline accepted from three runs of these peaks and allocs */
static cJSON *baseline_of_runs(const unsigned peak[3], const unsigned allocs[3], unsigned leaked)
{
	cJSON *d[3], *c, *b;
	for (int i = 0; i < 3; i++)
		d[i] = profile(peak[i], allocs[i], 4000, leaked, STACK("a", 1000), "", "2.36");
	c = mg_profile_combine(d, 3);
	b = c ? mg_baseline_from_profile(c, NULL, 0, NULL) : NULL;
	for (int i = 0; i < 3; i++)
		cJSON_Delete(d[i]);
	cJSON_Delete(c);
	return b;
}

/*
 * docs/baselines.md, "The spread": runs whose peaks were 1000, 1100 and 1200
 * (allocs 100, 104, 100): the baseline keeps the median and the range; the
 * gate allows the highest run plus the range's width again, plus the
 * tolerance of that, and calls "improved" only below the lowest run minus the
 * tolerance.  Figures equal in every run have
 * no range: exact, as a single run is.
 */
static void test_spread(void)
{
	static const unsigned peak[3] = { 1000, 1100, 1200 }, allocs[3] = { 100, 104, 100 };
	cJSON *b = baseline_of_runs(peak, allocs, 0);
	uint64_t lo = 0, hi = 0;
	CHECK(b != NULL);
	if (!b)
		goto done;
	const cJSON *spread = cJSON_GetObjectItem(b, "spread");
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(spread, "runs")) == 3);
	CHECK(mg_baseline_spread(&lo, &hi, b, "peak_bytes") == 1);
	CHECK_U64(1000, lo);
	CHECK_U64(1200, hi);
	CHECK(mg_baseline_spread(&lo, &hi, b, "allocs") == 1);
	CHECK_U64(100, lo);
	CHECK_U64(104, hi);
	/* unmoved figures: no range, exact */
	CHECK(mg_baseline_spread(&lo, &hi, b, "total_bytes") == 0);
	CHECK(mg_baseline_spread(&lo, &hi, b, "leaked_bytes") == 0);
	CHECK(!cJSON_GetObjectItem(spread, "total_bytes"));
	CHECK_U64(1100, (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(b, "figures"), "peak_bytes")));

	/* peak: ceiling 1200 + (1200 - 1000) = 1400; allowed = 1400 + 10% + 100 = 1640 */
	CHECK(status_of(b, 1420, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_PASS);
	CHECK(status_of(b, 1640, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_PASS);
	CHECK(status_of(b, 1641, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_REGRESSION);
	/* improved only below 1000 - (10% + 100) = 800; inside the range: pass */
	CHECK(status_of(b, 1000, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_PASS);
	CHECK(status_of(b, 800, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_PASS);
	CHECK(status_of(b, 799, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_IMPROVED);
	/* allocs, tolerance 0: up to 104 + (104 - 100) = 108 passes, one more
	 * regresses; one below the lowest is improved */
	CHECK(status_of(b, 1100, 104, MG_METRIC_ALLOCS) == MG_STATUS_PASS);
	CHECK(status_of(b, 1100, 108, MG_METRIC_ALLOCS) == MG_STATUS_PASS);
	CHECK(status_of(b, 1100, 109, MG_METRIC_ALLOCS) == MG_STATUS_REGRESSION);
	CHECK(status_of(b, 1100, 100, MG_METRIC_ALLOCS) == MG_STATUS_PASS);
	CHECK(status_of(b, 1100, 99, MG_METRIC_ALLOCS) == MG_STATUS_IMPROVED);
	struct mg_verdict v;
	cJSON *cur = profile(1640, 104, 4000, 0, STACK("a", 1), "", "2.36");
	CHECK(judge_doc(&v, cur, b) == MG_OK);
	const struct mg_metric_verdict *m = metric(&v, MG_METRIC_PEAK_BYTES);
	CHECK(m && m->has_spread && m->spread_min == 1000 && m->spread_max == 1200 &&
	      m->baseline == 1100 && m->allowed == 1640);
	mg_verdict_release(&v);
	cJSON_Delete(cur);

	/* the same runs, the same baseline; another range is another baseline */
	cJSON *b2 = baseline_of_runs(peak, allocs, 0);
	CHECK(b2 && mg_baseline_same(b, b2));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(b2, "spread"),
						      "peak_bytes"), "max", cJSON_CreateNumber(1300));
	CHECK(b2 && !mg_baseline_same(b, b2));
	cJSON_Delete(b2);

	/* malformed: min above max, or not an object: bad input, never a guess */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "spread"),
						      "peak_bytes"), "min", cJSON_CreateNumber(1201));
	CHECK(mg_baseline_spread(&lo, &hi, b, "peak_bytes") == -1);
	cur = profile(1100, 100, 4000, 0, STACK("a", 1), "", "2.36");
	CHECK(judge_doc(&v, cur, b) == MG_EINVALID);
	mg_verdict_release(&v);
	cJSON_ReplaceItemInObject(b, "spread", cJSON_CreateString("wide"));
	CHECK(judge_doc(&v, cur, b) == MG_EINVALID);
	mg_verdict_release(&v);
	/* no spread at all (a baseline of an older memgate): exact, as before */
	cJSON_DeleteItemFromObject(b, "spread");
	CHECK(status_of(b, 1100, 100, MG_METRIC_ALLOCS) == MG_STATUS_PASS);
	CHECK(status_of(b, 1100, 101, MG_METRIC_ALLOCS) == MG_STATUS_REGRESSION);
	CHECK(status_of(b, 1100, 99, MG_METRIC_ALLOCS) == MG_STATUS_IMPROVED);
	CHECK(status_of(b, 1310, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_PASS);
	CHECK(status_of(b, 1311, 100, MG_METRIC_PEAK_BYTES) == MG_STATUS_REGRESSION);
	cJSON_Delete(cur);
done:
	cJSON_Delete(b);
}

/* a profile of several runs is improved only where every run is */
static void test_improved_every_run(void)
{
	cJSON *old = profile(1000, 100, 4000, 0, STACK("a", 1000), "", "2.36");
	cJSON *d[3] = {
		profile(700, 100, 4000, 0, STACK("a", 700), "", "2.36"),
		profile(700, 100, 4000, 0, STACK("a", 700), "", "2.36"),
		profile(799, 100, 4000, 0, STACK("a", 799), "", "2.36"),
	};
	struct mg_verdict v;
	/* 700, 700, 799: every run below 1000 - 200 */
	cJSON *c = mg_profile_combine(d, 3);
	judge(&v, c, old);
	CHECK(metric(&v, MG_METRIC_PEAK_BYTES)->status == MG_STATUS_IMPROVED);
	mg_verdict_release(&v);
	cJSON_Delete(c);
	/* 700, 700, 800: the median is 700, but one run is not improved */
	cJSON_Delete(d[2]);
	d[2] = profile(800, 100, 4000, 0, STACK("a", 800), "", "2.36");
	c = mg_profile_combine(d, 3);
	CHECK(fig(c, "peak_bytes") == 700);
	judge(&v, c, old);
	CHECK(metric(&v, MG_METRIC_PEAK_BYTES)->status == MG_STATUS_PASS);
	CHECK(v.status == MG_STATUS_PASS);
	mg_verdict_release(&v);
	cJSON_Delete(c);
	for (int i = 0; i < 3; i++)
		cJSON_Delete(d[i]);
	cJSON_Delete(old);
}

/* deterministic runs: the spread is measured, and it is 0 */
/* the ceiling saturates, and without a spread it is the baseline */
static void test_spread_ceiling(void)
{
	CHECK_U64(1400, mg_spread_ceiling(1000, 1200));
	CHECK_U64(1000, mg_spread_ceiling(1000, 1000));
	CHECK_U64(UINT64_MAX, mg_spread_ceiling(0, UINT64_MAX - 1));
	CHECK_U64(UINT64_MAX - 1, mg_spread_ceiling(UINT64_MAX - 1, UINT64_MAX - 1));
	CHECK_U64(UINT64_MAX, mg_spread_ceiling(0, UINT64_MAX / 2 + 1));
}

static void test_spread_zero(void)
{
	static const unsigned peak[3] = { 1000, 1000, 1000 }, allocs[3] = { 100, 100, 100 };
	cJSON *b = baseline_of_runs(peak, allocs, 7);
	uint64_t lo, hi;
	CHECK(b != NULL);
	if (b) {
		const cJSON *spread = cJSON_GetObjectItem(b, "spread");
		CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(spread, "runs")) == 3);
		CHECK(cJSON_GetArraySize(spread) == 1);      /* "runs" alone */
		for (int m = 0; m < MG_METRIC_COUNT; m++)
			CHECK(mg_baseline_spread(&lo, &hi, b, mg_metric_name((enum mg_metric)m)) == 0);
		/* leaked_bytes "0": one byte more fails */
		cJSON *cur = profile(1000, 100, 4000, 8, STACK("a", 1), "", "2.36");
		struct mg_verdict v;
		CHECK(judge_doc(&v, cur, b) == MG_OK);
		CHECK(metric(&v, MG_METRIC_LEAKED_BYTES) &&
		      metric(&v, MG_METRIC_LEAKED_BYTES)->status == MG_STATUS_REGRESSION &&
		      !metric(&v, MG_METRIC_LEAKED_BYTES)->has_spread);
		mg_verdict_release(&v);
		cJSON_Delete(cur);
	}
	/* one run: no spread object at all */
	cJSON *run = profile(1000, 100, 4000, 7, STACK("a", 1000), "", "2.36");
	cJSON *one = mg_baseline_from_profile(run, NULL, 0, NULL);
	CHECK(one && !cJSON_GetObjectItem(one, "spread"));
	cJSON_Delete(one);
	cJSON_Delete(run);
	cJSON_Delete(b);
}

/* a combined profile of runs with these peaks; multithreaded or not */
static cJSON *runs_of(const unsigned *peaks, size_t n, int threads)
{
	cJSON *d[64], *c;
	for (size_t i = 0; i < n; i++) {
		d[i] = profile(peaks[i], 100, 4000, 0, STACK("a", 1), "", "2.36");
		cJSON_AddBoolToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(d[i], "processes"), 0),
				      "multithreaded", threads);
	}
	c = n > 1 ? mg_profile_combine(d, n) : cJSON_Duplicate(d[0], 1);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(d[i]);
	return c;
}

/* docs/baselines.md, "The spread": spread-runs, and 20 for a peak that moves by
 * 5% of its highest run or more */
static void test_spread_runs_wanted(void)
{
	static const unsigned calm[5] = { 1000, 1010, 1000, 1049, 1020 };   /* 4.67% */
	static const unsigned wide[5] = { 1000, 1010, 1000, 1053, 1020 };   /* 5.03% */
	static const unsigned p20[20] = { 1000, 1300 };
	cJSON *one = runs_of(calm, 1, 1), *solo = runs_of(calm, 1, 0);
	cJSON *c = runs_of(calm, 5, 1), *w = runs_of(wide, 5, 1), *ws = runs_of(wide, 5, 0);
	cJSON *all = runs_of(p20, 20, 1);
	CHECK(one && solo && c && w && ws && all);
	CHECK_U64(5, mg_spread_runs_wanted(one, 5));      /* multithreaded, one run */
	CHECK_U64(1, mg_spread_runs_wanted(solo, 5));     /* single-threaded: not re-run */
	CHECK_U64(46, mg_profile_run_width(c, "peak_bytes"));
	CHECK_U64(50, mg_profile_run_width(w, "peak_bytes"));
	CHECK_U64(5, mg_spread_runs_wanted(c, 5));        /* under 5%: enough */
	CHECK_U64(20, mg_spread_runs_wanted(w, 5));       /* 5% or more: 20 */
	CHECK_U64(20, mg_spread_runs_wanted(w, 3));
	CHECK_U64(30, mg_spread_runs_wanted(w, 30));      /* more asked: more */
	CHECK_U64(5, mg_spread_runs_wanted(ws, 5));       /* never for one thread */
	CHECK_U64(1, mg_spread_runs_wanted(one, 1));      /* spread-runs 1: off */
	CHECK_U64(20, mg_spread_runs_wanted(all, 5));     /* had them all: no more */
	CHECK_U64(1000, mg_profile_run_width(all, "peak_bytes"));  /* runs at 0 count */
	CHECK_U64(0, mg_profile_run_width(one, "peak_bytes"));
	cJSON_Delete(one);
	cJSON_Delete(solo);
	cJSON_Delete(c);
	cJSON_Delete(w);
	cJSON_Delete(ws);
	cJSON_Delete(all);
}

/* an element as the profile's lists rank theirs: two keys, then an id */
struct elem {
	uint64_t key, key2;
	uint32_t id, pad;
};

static int elem_cmp(const void *a, const void *b)
{
	const struct elem *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

static int elem_by_id(const void *a, const void *b)
{
	const struct elem *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* the k first of mg_sort_first() are qsort's k first, and no element is lost */
static void test_sort_first(void)
{
	static const size_t ns[] = { 0, 1, 5, 17, 100, 1000, 20000 };
	static const size_t ks[] = { 0, 1, 3, 10, 50, 999, 1000, 5000, 30000 };
	uint64_t r = 88172645463325252ull;
	for (size_t a = 0; a < sizeof(ns) / sizeof(*ns); a++) {
		size_t n = ns[a];
		struct elem *v = malloc((n + 1) * sizeof(*v)), *w = malloc((n + 1) * sizeof(*w));
		for (int shape = 0; shape < 4; shape++) {
			for (size_t i = 0; i < n; i++) {
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				/* random, many equal first keys, ascending, descending */
				uint64_t k = shape == 0 ? r % 1000000 : shape == 1 ? r % 4 :
					     shape == 2 ? i : n - i;
				v[i] = (struct elem){ k, r % 3, (uint32_t)i, 0 };
			}
			for (size_t b = 0; b < sizeof(ks) / sizeof(*ks); b++) {
				size_t k = ks[b], m = k < n ? k : n;
				memcpy(w, v, n * sizeof(*v));
				mg_sort_first(w, n, sizeof(*w), k, elem_cmp);
				struct elem *want = malloc((n + 1) * sizeof(*want));
				memcpy(want, v, n * sizeof(*v));
				qsort(want, n, sizeof(*want), elem_cmp);
				CHECKF(!memcmp(w, want, m * sizeof(*w)), "n %zu k %zu shape %d", n, k, shape);
				/* the same k first, the elements given one at a time */
				struct mg_top top;
				CHECK(mg_top_init(&top, k, sizeof(*v), elem_cmp) == 0);
				for (size_t i = 0; i < n; i++)
					mg_top_add(&top, &v[i]);
				mg_top_sort(&top);
				CHECK_U64(m, top.n);
				CHECKF(top.n == m && !memcmp(top.e, want, m * sizeof(*w)),
				       "mg_top: n %zu k %zu shape %d", n, k, shape);
				mg_top_release(&top);
				qsort(w, n, sizeof(*w), elem_by_id);
				for (size_t i = 0; i < n; i++)
					if (w[i].id != i) {
						CHECKF(0, "n %zu k %zu: element %zu lost", n, k, i);
						break;
					}
				free(want);
			}
		}
		free(v);
		free(w);
	}
}

/* mg_glob (util/glob.c) against fnmatch(p, s, 0) itself */
/* FNV-1a's published values: a long test name's short form carries it
 * (discover.c), so a saved name depends on the function never changing */
static void test_fnv1a(void)
{
	CHECK(mg_fnv1a_str("", MG_FNV_OFFSET) == MG_FNV_OFFSET);
	CHECK(mg_fnv1a_str("a", MG_FNV_OFFSET) == 0xaf63dc4c8601ec8cull);
	CHECK(mg_fnv1a_str("foobar", MG_FNV_OFFSET) == 0x85944171f73967e8ull);
	CHECK(mg_fnv1a("foobar", 6, MG_FNV_OFFSET) == 0x85944171f73967e8ull);
	CHECK(mg_fnv1a("bar", 3, mg_fnv1a("foo", 3, MG_FNV_OFFSET)) == 0x85944171f73967e8ull);
}

static void test_glob(void)
{
	static const char *const pats[] = {
		"", "*", "**", "a", "a*", "*a", "*a*", "a*b", "a*b*c", "*_IO_file_doallocate*",
		"std::thread::*spawn*", "<alloc::*", "operator new*", "std::vector<*", "__vasprintf*",
		"*std::sys::*stack_overflow::thread_info::*", "getpwnam", "a?c", "[ab]*", "\\*x",
		"*.c", ".*", "*/*", "caf\xc3\xa9*", "*x*y*z",
	};
	static const char *const strs[] = {
		"", "a", "ab", "abc", "abbc", "aXbYc", "acb", "_IO_file_doallocate",
		"__GI__IO_file_doallocate", "std::thread::Builder::spawn_unchecked_", "<alloc::vec::Vec>",
		"operator new(unsigned long)", "std::vector<int>::push_back", "__vasprintf_internal",
		"std::sys::pal::unix::stack_overflow::thread_info::set", "getpwnam_r", "x/y.c",
		".hidden", "*x", "caf\xc3\xa9 cr\xc3\xa8me", "xxyyzz", "zyx",
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		for (size_t j = 0; j < sizeof(strs) / sizeof(strs[0]); j++)
			if (mg_glob(pats[i], strs[j]) != (fnmatch(pats[i], strs[j], 0) == 0)) {
				fprintf(stderr, "mg_glob('%s', '%s') differs from fnmatch\n", pats[i],
					strs[j]);
				CHECK(0);
			}
	/* every pattern of up to 6 of 'a', 'b', '*' against every string of up
	 * to 6 of 'a', 'b': the backtracking of the last star */
	char p[8], s[8];
	for (unsigned pn = 0, count = 1; pn <= 6; pn++, count *= 3)
		for (unsigned pc = 0; pc < count; pc++) {
			unsigned v = pc;
			int ok = 1;
			for (unsigned k = 0; k < pn; k++, v /= 3)
				p[k] = "ab*"[v % 3];
			p[pn] = '\0';
			for (unsigned sn = 0; ok && sn <= 6; sn++)
				for (unsigned sc = 0; ok && sc < (1u << sn); sc++) {
					for (unsigned k = 0; k < sn; k++)
						s[k] = "ab"[(sc >> k) & 1];
					s[sn] = '\0';
					ok = mg_glob(p, s) == (fnmatch(p, s, 0) == 0);
					if (!ok)
						fprintf(stderr, "mg_glob('%s', '%s') differs from fnmatch\n",
							p, s);
				}
			CHECK(ok);
		}
}

int main(void)
{
	static const char yml[] =
		"version: 1\n"
		"defaults:\n"
		"  tolerance: { peak_bytes: \"10% + 100\", allocs: \"0\", leaked_bytes: \"0\" }\n"
		"  limit: { total_bytes: 5000 }\n"
		"tests:\n  - name: t\n    run: ./t\n";
	struct mg_error err = { 0 };
	if (mg_config_parse(&cfg, "test.yml", yml, sizeof(yml) - 1, &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	test_u64();
	test_tolerance();
	test_limits();
	test_growth();
	test_combine();
	test_json();
	test_json_compact();
	test_spread();
	test_spread_zero();
	test_spread_ceiling();
	test_improved_every_run();
	test_spread_runs_wanted();
	test_sort_first();
	test_glob();
	test_fnv1a();
	mg_config_free(cfg);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("ok: compare, combine and json\n");
	return failures != 0;
}
