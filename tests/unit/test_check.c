/*
 * test_check.c - the gate's rules (src/core/check.c) on a real git repository in a
 * temporary directory: pass at the tolerance's edge, regression one byte past it,
 * improved, new, over budget, the baseline accepted in this change gated (with the
 * base's deltas kept), a noisy regression or improvement measured again through a
 * fake callback
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/baseline.h"
#include "core/check.h"
#include "core/config.h"
#include "core/git.h"
#include "report/check_result.h"
#include "util/error.h"
#include "util/fs.h"

#include "harness.h"

static char dir[4096];

/* a profile document of one process: peak and leaked bytes (every gated figure
 * is there, as baseline.c requires; the leak kinds unknown) */
static char *profile_text(unsigned peak, unsigned leaked)
{
	char *text;
	if (asprintf(&text,
		     "{\"schema\": 1, \"environment\": {\"libc\": \"2.36\", \"arch\": \"x86_64\","
		     " \"compiler\": null}, \"summary\": {\"peak_bytes\": %u, \"peak_blocks\": 1,"
		     " \"allocs\": 10, \"frees\": 9, \"total_bytes\": 5000, \"leaked_bytes\": %u,"
		     " \"leaked_blocks\": %u, \"definitely_lost_bytes\": null,"
		     " \"definitely_lost_blocks\": null, \"indirectly_lost_bytes\": null,"
		     " \"indirectly_lost_blocks\": null, \"possibly_lost_bytes\": null,"
		     " \"possibly_lost_blocks\": null, \"still_reachable_bytes\": null,"
		     " \"still_reachable_blocks\": null, \"rss_peak_bytes\": 4096}, \"warnings\": [],"
		     " \"processes\": [{\"peak_bytes\": %u, \"peak_stacks\": [], \"leak_stacks\": []}]}",
		     peak, leaked, leaked ? 1 : 0, peak) < 0)
		exit(2);
	return text;
}

static void write_text(const char *rel, const char *text)
{
	char path[8192];
	struct mg_error err = { 0 };
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (mg_write_file_atomic(path, text, strlen(text), &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		exit(2);
	}
}

static void write_profile(const char *name, unsigned peak, unsigned leaked)
{
	char rel[256], *text = profile_text(peak, leaked);
	snprintf(rel, sizeof(rel), "profiles/%s.json", name);
	write_text(rel, text);
	free(text);
}

static void write_baseline(const char *name, unsigned peak, unsigned leaked)
{
	char rel[256], *text = profile_text(peak, leaked), *canon;
	cJSON *p = cJSON_Parse(text), *b = mg_baseline_from_profile(p, NULL, 0, NULL);
	snprintf(rel, sizeof(rel), "baselines/%s.json", name);
	if (!(canon = mg_json_canonical(b)))
		exit(2);
	write_text(rel, canon);
	free(canon);
	cJSON_Delete(b);
	cJSON_Delete(p);
	free(text);
}

static void sh(const char *cmd)
{
	char line[8192];
	snprintf(line, sizeof(line), "cd '%s' && %s", dir, cmd);
	if (system(line) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		exit(2);
	}
}

static const struct mg_check_test *find(const struct mg_check_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_tests; i++)
		if (!strcmp(r->tests[i].name, name))
			return &r->tests[i];
	return NULL;
}

static enum mg_status peak_status(const struct mg_verdict *v)
{
	for (size_t k = 0; k < v->n_metrics; k++)
		if (v->metrics[k].metric == MG_METRIC_PEAK_BYTES)
			return v->metrics[k].status;
	return (enum mg_status)-1;
}

/* the fake measurement: "noisy" and "lucky", measured again, peak as their
 * baseline; every other test measures as its saved profile (payload: their
 * directory) says */
static int remeasures;

static int remeasure(const struct mg_test *test, const char *to, void *payload,
		     struct mg_error *err)
{
	char path[8192], *text;
	size_t len;
	remeasures++;
	if (strcmp(test->name, "noisy") && strcmp(test->name, "lucky")) {
		snprintf(path, sizeof(path), "%s/%s.json", (const char *)payload, test->name);
		if (mg_read_file(&text, &len, path, MG_MAX_DOC, err) != MG_OK)
			return err->code;
	} else {
		text = profile_text(1000, 0);
	}
	snprintf(path, sizeof(path), "%s/%s.json", to, test->name);
	int ret = mg_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return ret;
}

static int judged;

/* the verdict each test was last judged with: the page's policy goes by it */
static struct { const struct mg_test *test; enum mg_status status; } last[32];
static size_t n_last;

static void on_judged(const struct mg_test *test, const char *from, const cJSON *profile,
		      const cJSON *gated, enum mg_status status, void *payload)
{
	size_t k = 0;
	(void)from, (void)profile, (void)gated, (void)payload;
	judged++;
	while (k < n_last && last[k].test != test)
		k++;
	if (k == n_last && n_last < 32)
		n_last++;
	if (k < 32)
		last[k] = (typeof(last[0])){ test, status };
}

int main(void)
{
	struct mg_config *cfg = NULL;
	struct mg_git *git = NULL;
	struct mg_error err = { 0 };
	struct mg_check_result r;
	char base[41], rel[4096], cfgpath[8192];
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/memgate-test-check.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 2;
	sh("git init -q -b main . && git config user.email t@example.com && "
	   "git config user.name test && mkdir profiles baselines");
	write_text("memgate.yml",
		   "version: 1\n"
		   "defaults:\n"
		   "  confirm: 2\n"
		   "  tolerance:\n"
		   "    peak_bytes: \"10% + 100\"\n"
		   "tests:\n"
		   "  - { name: same, run: [x] }\n"
		   "  - { name: edge, run: [x] }\n"
		   "  - { name: past, run: [x] }\n"
		   "  - { name: better, run: [x] }\n"
		   "  - { name: fresh, run: [x] }\n"
		   "  - { name: capped, run: [x], limit: { peak_bytes: 2000 } }\n"
		   "  - { name: accepted, run: [x] }\n"
		   "  - { name: noisy, run: [x] }\n"
		   "  - { name: leaky, run: [x] }\n"
		   "  - { name: lucky, run: [x] }\n");
	/* baselines at the base commit: peak 1000 each, allowed 1000 + 10% + 100 = 1200 */
	const char *based[] = { "same", "edge", "past", "better", "capped", "accepted", "noisy",
				"leaky", "lucky" };
	for (size_t i = 0; i < sizeof(based) / sizeof(based[0]); i++)
		write_baseline(based[i], 1000, 0);
	sh("printf 'profiles/\\n' > .gitignore && git add -A && git commit -qm base");
	/* accepted in this change: the work tree's baseline differs from the base's */
	write_baseline("accepted", 3000, 0);
	write_profile("same", 1000, 0);
	write_profile("edge", 1200, 0);
	write_profile("past", 1201, 0);
	write_profile("better", 500, 0);
	write_profile("fresh", 900, 0);
	write_profile("capped", 2500, 0);
	write_profile("accepted", 3000, 0);
	write_profile("noisy", 5000, 0);
	write_profile("leaky", 1000, 16);
	write_profile("lucky", 500, 0);

	snprintf(cfgpath, sizeof(cfgpath), "%s/memgate.yml", dir);
	if (mg_config_load(&cfg, cfgpath, &err) != MG_OK || mg_git_open(&git, dir, &err) != MG_OK ||
	    mg_git_merge_base(git, base, "HEAD", &err) != MG_OK ||
	    mg_git_relpath(git, rel, sizeof(rel), cfg->baselines, &err) != MG_OK) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 2;
	}
	char profiles[8192];
	snprintf(profiles, sizeof(profiles), "%s/profiles", dir);
	const char *froms[] = { profiles };
	struct mg_check_opts o = {
		.git = git, .rev = "HEAD", .base_commit = base, .baselines_rel = rel,
		.froms = froms, .n_froms = 1, .remeasure = remeasure, .payload = profiles,
		.judged = on_judged,
	};
	CHECKF(mg_check(&r, cfg, &o, &err) == MG_OK, "%s", err.msg);
	CHECK_U64(10, r.n_tests);
	/* each test once, and again after the re-runs of the three noisy regressions
	 * and the two noisy improvements */
	CHECK_U64(15, (uint64_t)judged);
	/* the callback was told each test's final verdict */
	CHECK_U64(10, (uint64_t)n_last);
	for (size_t k = 0; k < n_last; k++) {
		const struct mg_check_test *j = find(&r, last[k].test->name);
		CHECKF(j && j->v.status == last[k].status, "%s: judged %d, verdict %d",
		       last[k].test->name, (int)last[k].status, j ? (int)j->v.status : -1);
	}

	const struct mg_check_test *t;
	CHECK((t = find(&r, "same")) && t->v.status == MG_STATUS_PASS && !t->accepted);
	/* the tolerance's edge: equal to the allowed figure passes, one byte more fails */
	CHECK((t = find(&r, "edge")) && t->v.status == MG_STATUS_PASS);
	CHECK((t = find(&r, "past")) && t->v.status == MG_STATUS_REGRESSION &&
	      peak_status(&t->v) == MG_STATUS_REGRESSION && t->confirmed == 1 && t->runs == 3);
	/* an improvement only in the peak is measured again: it held in all 3 runs */
	CHECK((t = find(&r, "better")) && t->v.status == MG_STATUS_IMPROVED && t->runs == 3 &&
	      t->confirmed == -1);
	/* ... and one that the re-runs do not repeat is no improvement (500, 1000, 1000) */
	CHECK((t = find(&r, "lucky")) && t->v.status == MG_STATUS_PASS && t->runs == 3 &&
	      peak_status(&t->v) == MG_STATUS_PASS);
	CHECK((t = find(&r, "fresh")) && t->v.status == MG_STATUS_NEW && t->v.is_new);
	CHECK((t = find(&r, "capped")) && t->v.status == MG_STATUS_OVER_BUDGET);
	/* a new leak against a baseline of none: leaked_bytes is gated at 0 */
	CHECK((t = find(&r, "leaky")) && t->v.status == MG_STATUS_REGRESSION);
	/* accepted in this change: the work tree's baseline is gated, the base's kept */
	t = find(&r, "accepted");
	CHECK(t && t->accepted && t->v.status == MG_STATUS_PASS);
	CHECK(t && peak_status(&t->v_base) == MG_STATUS_REGRESSION);
	/* noisy only in the peak (past, capped, noisy, better, lucky): each measured
	 * twice more; for noisy the median of 5000, 1000, 1000 passes */
	t = find(&r, "noisy");
	CHECK_U64(10, (uint64_t)remeasures);
	CHECK(t && t->confirmed == 0 && t->runs == 3 && t->v.status == MG_STATUS_PASS);
	/* a leak is no noise: never re-run */
	CHECK((t = find(&r, "leaky")) && t->confirmed == -1);
	CHECK(r.failed);
	CHECK_U64(2, r.counts[MG_STATUS_REGRESSION]);   /* past, leaky */
	CHECK_U64(1, r.counts[MG_STATUS_OVER_BUDGET]);
	CHECK_U64(1, r.counts[MG_STATUS_NEW]);
	CHECK_U64(1, r.counts[MG_STATUS_IMPROVED]);
	CHECK_U64(5, r.counts[MG_STATUS_PASS]);         /* same, edge, accepted, noisy, lucky */

	/* the document: its verdict and an entry per test */
	struct mg_check_doc_info info = { .config = "memgate.yml", .rev = "HEAD",
					  .base_commit = base, .dirty = 0, .result_dir = profiles };
	cJSON *doc = mg_check_result_doc(&r, &info);
	CHECK(doc && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "verdict")),
			     "regression"));
	CHECK(doc && cJSON_GetArraySize(cJSON_GetObjectItem(doc, "tests")) == 10);
	cJSON_Delete(doc);
	mg_check_result_release(&r);

	/* without a callback (saved profiles), a noisy regression stands as it is */
	remeasures = 0;
	write_profile("noisy", 5000, 0);
	o.remeasure = NULL;
	const char *only[] = { "noisy" };
	o.names = only;
	o.n_names = 1;
	CHECKF(mg_check(&r, cfg, &o, &err) == MG_OK, "%s", err.msg);
	CHECK(r.n_tests == 1 && r.tests[0].v.status == MG_STATUS_REGRESSION &&
	      r.tests[0].confirmed == -1 && remeasures == 0);
	mg_check_result_release(&r);

	/* a named test without a profile: not measured (exit 3) */
	char gone[8300];
	snprintf(gone, sizeof(gone), "%s/same.json", profiles);
	unlink(gone);
	only[0] = "same";
	CHECK(mg_check(&r, cfg, &o, &err) == MG_ENOTMEASURED);
	mg_check_result_release(&r);

	mg_git_close(git);
	mg_config_free(cfg);
	char rm[8300];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		failures++;
	printf("check: %d checks, %d failed\n", checks, failures);
	return failures != 0;
}
