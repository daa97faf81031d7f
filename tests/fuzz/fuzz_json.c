/* fuzz_json.c - libFuzzer target: the profile and baseline readers and what reads them
 *
 * Feeds the input to mg_json_load_doc() as a profile and as a baseline; what
 * loads goes through everything `memgate accept` and `memgate check` do with
 * a document from disk: a baseline built from it (and its canonical text),
 * the comparison with that baseline and with a fixed one, the same-figures
 * test, the combination of runs, and `memgate report`'s exports and page.  abort()s when an invariant breaks:
 *  - an error is MG_EINVALID with a one-line message naming "fuzz.json";
 *  - every gated figure of what loads is an exact count (or a null leak kind);
 *  - a profile compared with the baseline built from itself never regresses,
 *    improves or grows a call site (the figures are the same);
 *  - a baseline is the same as itself, and its canonical text parses back;
 *  - every export and the HTML page of a profile that loads are text, or a
 *    one-line error;
 *  - a check result that validates renders as markdown within the bound
 *    asked for (`memgate comment`), or a one-line error;
 *  - JSON stays JSON once its big integers are quoted (the GitHub API's
 *    responses, github/api.c).
 * Run by tests/fuzz's driver under ctest (label `fuzz`), or by libFuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/baseline.h"
#include "core/compare.h"
#include "core/config.h"
#include "core/profile.h"
#include "github/api.h"
#include "report/check_result.h"
#include "report/markdown.h"
#include "report/report.h"
#include "util/error.h"
#include "util/json.h"

/* what mg_json_load_doc() promises of the figures a gate reads */
static void check(int ok);
static void figures_exact(const cJSON *obj)
{
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const struct mg_metric_info *mi = mg_metric_info((enum mg_metric)m);
		const cJSON *v = cJSON_GetObjectItem(obj, mi->name);
		uint64_t x;
		check(!mi->gated || mg_json_u64(&x, v) == 0 || cJSON_IsNull(v));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static struct mg_config *config(void)
{
	static struct mg_config *cfg;
	static const char yml[] =
		"version: 1\n"
		"defaults:\n"
		"  tolerance: { peak_bytes: \"2% + 4KiB\", allocs: \"0.5%\", rss_peak_bytes: \"10%\" }\n"
		"  limit: { peak_bytes: 1GiB }\n"
		"tests:\n  - name: t\n    run: ./t\n";
	struct mg_error err = { 0 };
	if (!cfg)
		check(mg_config_parse(&cfg, "fuzz.yml", yml, sizeof(yml) - 1, &err) == MG_OK);
	return cfg;
}

static void load_error(const struct mg_error *err)
{
	check(err->code == MG_EINVALID);
	check(strchr(err->msg, '\n') == NULL);
	check(strncmp(err->msg, "fuzz.json:", 10) == 0);
}

/* every export and the HTML page of a profile that loads: text, or a
 * one-line error; an export's text ends in a newline */
static void reports(const cJSON *doc, const cJSON *base)
{
	const cJSON *one[1] = { doc };
	for (int f = MG_REPORT_FOLDED; f <= MG_REPORT_DHAT; f++) {
		struct mg_error err = { 0 };
		char *out = NULL;
		size_t len = 0;
		int rc = mg_report_export(&out, &len, (enum mg_report_format)f, one, 1,
					  (enum mg_report_weight)(f % MG_WEIGHT_COUNT), &err);
		if (rc == MG_OK)
			check(out && len && out[len - 1] == '\n');
		else
			check(!out && err.msg[0] && !strchr(err.msg, '\n'));
		free(out);
	}
	struct mg_error err = { 0 };
	char *page = NULL;
	size_t len = 0;
	if (mg_report_html(&page, &len, doc, base, &err) == MG_OK)
		check(page && len);
	else
		check(err.msg[0] && !strchr(err.msg, '\n'));
	free(page);
}

static void as_profile(const char *text, size_t len)
{
	struct mg_error err = { 0 };
	struct mg_verdict v;
	cJSON *doc = NULL, *base, *runs;
	char *canon;

	if (mg_json_load_doc(&doc, text, len, "fuzz.json", "profile", &err) != MG_OK) {
		load_error(&err);
		return;
	}
	figures_exact(cJSON_GetObjectItem(doc, "summary"));
	base = mg_baseline_from_profile(doc, "0123456789012345678901234567890123456789", 1, "fuzz");
	check(base != NULL);
	check(mg_baseline_same(base, base));
	canon = mg_json_canonical(base);
	check(canon != NULL);
	cJSON *back = NULL;
	check(mg_json_parse(&back, canon, strlen(canon), "canon", &err) == MG_OK);
	check(back != NULL && mg_baseline_same(base, back));
	cJSON_Delete(back);
	free(canon);
	if (mg_compare(&v, doc, base, config(), &config()->tests[0], &err) == MG_OK) {
		for (size_t k = 0; k < v.n_metrics; k++)
			check(v.metrics[k].status != MG_STATUS_REGRESSION &&
			      v.metrics[k].status != MG_STATUS_IMPROVED);
		check(v.n_grew == 0 && v.n_new_leaks == 0);
		mg_verdict_release(&v);
	}
	reports(doc, base);
	cJSON *two[2] = { doc, doc };
	runs = mg_profile_combine(two, 2);
	if (runs) {
		check(cJSON_GetArraySize(cJSON_GetObjectItem(runs, "runs")) >= 2);
		cJSON_Delete(runs);
	}
	cJSON_Delete(base);
	cJSON_Delete(doc);
}

static void as_baseline(const char *text, size_t len)
{
	static const char prof[] =
		"{\"schema\": 1, \"summary\": {\"allocs\": 10, \"frees\": 9, \"total_bytes\": 200,"
		" \"peak_bytes\": 100, \"peak_blocks\": 2, \"leaked_bytes\": 5, \"leaked_blocks\": 1,"
		" \"definitely_lost_bytes\": 5, \"definitely_lost_blocks\": 1, \"indirectly_lost_bytes\": 0,"
		" \"indirectly_lost_blocks\": 0, \"possibly_lost_bytes\": null, \"possibly_lost_blocks\": null,"
		" \"still_reachable_bytes\": 0, \"still_reachable_blocks\": 0, \"rss_peak_bytes\": 4096},"
		" \"processes\": [{\"peak_bytes\": 100, \"leak_stacks\": [{\"bytes\": 5, \"blocks\": 1,"
		" \"frames\": [{\"function\": \"f\", \"file\": \"a.c\", \"line\": 1}]}]}]}";
	struct mg_error err = { 0 };
	struct mg_verdict v;
	cJSON *doc = NULL, *profile = NULL;

	if (mg_json_load_doc(&doc, text, len, "fuzz.json", "baseline", &err) != MG_OK) {
		load_error(&err);
		return;
	}
	figures_exact(cJSON_GetObjectItem(doc, "figures"));
	check(mg_json_load_doc(&profile, prof, sizeof(prof) - 1, "p", "profile", &err) == MG_OK);
	check(mg_baseline_same(doc, doc));
	if (mg_compare(&v, profile, doc, config(), &config()->tests[0], &err) == MG_OK) {
		check(v.status <= MG_STATUS_OVER_BUDGET);
		for (size_t k = 0; k < v.n_grew; k++)
			check(v.grew[k].current > v.grew[k].baseline && v.grew[k].share >= 0 &&
			      v.grew[k].share <= 1);
		mg_verdict_release(&v);
	}
	cJSON_Delete(profile);
	cJSON_Delete(doc);
}

/* a saved check result, as `memgate comment` renders it: markdown within its
 * bound, or a one-line error */
static void as_check_result(const char *text, size_t len)
{
	struct mg_error err = { 0 };
	cJSON *doc = NULL;
	if (mg_json_parse(&doc, text, len, "fuzz.json", &err) != MG_OK)
		return;
	if (mg_check_result_validate(doc, "fuzz.json", &err) == MG_OK) {
		static const size_t bounds[] = { 0, 1024, 4096, 65536 };
		for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
			struct mg_md_options opt = { "<!-- memgate:fuzz -->", bounds[b], NULL };
			struct mg_error rerr = { 0 };
			char *out = NULL;
			size_t n = 0;
			int cut = 0;
			if (mg_markdown_render(&out, &n, &cut, doc, &opt, &rerr) == MG_OK)
				check(out && strlen(out) == n && (!bounds[b] || n <= bounds[b]));
			else
				check(!out && rerr.msg[0] && !strchr(rerr.msg, '\n'));
			free(out);
		}
	} else {
		check(err.msg[0] && !strchr(err.msg, '\n'));
	}
	cJSON_Delete(doc);
}

/* a GitHub API response body as api.c reads it: JSON stays JSON once its
 * big integers are quoted */
static void as_response(const char *text, size_t len)
{
	char *q = mg_gh_quote_big_ints(text, len);
	check(q != NULL);
	cJSON *a = cJSON_ParseWithLength(text, len), *b = q ? cJSON_Parse(q) : NULL;
	if (a && !memchr(text, '\0', len))           /* (cJSON_Parse stops at a NUL) */
		check(b != NULL);
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_response((const char *)data, size);
	as_profile((const char *)data, size);
	as_baseline((const char *)data, size);
	as_check_result((const char *)data, size);
	return 0;
}
