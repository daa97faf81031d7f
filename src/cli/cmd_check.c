/* cmd_check.c - `memgate check --from DIR [--baseline REF] [TEST...]`: the gate
 *
 * For each selected test with a profile in DIR, reads baselines/<test>.json
 * from the tree of the commit REF selects (its merge-base with HEAD, SPEC
 * §5) through libgit2, never from the work tree, compares the profile with it
 * (core/compare.c), prints a table of the gated metrics and the new leak
 * sites of regressions, and exits 1 when any test regressed or went over a
 * budget.  A test without a baseline is new: reported, never a failure.
 *
 * NEEDSWORK: without --from, check should run the tests itself; the baseline
 * accepted in this change (SPEC §5.2), staleness and the GitHub default REF
 * are not done yet.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/baseline.h"
#include "../core/compare.h"
#include "../core/config.h"
#include "../core/git.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"

#define MAX_DOC (64u << 20)

static const char usage_text[] =
	"usage: memgate check [TEST...] [--from DIR] [-c memgate.yml] [--baseline REF] [--format json]\n"
	"\n"
	"Compares the profiles in DIR (written by `memgate run`; without --from the\n"
	"tests are measured first, into the config's `profiles`) with the baselines\n"
	"of REF (default HEAD): the config's `baselines` directory as committed in\n"
	"REF, or, when HEAD is another commit, in the merge-base of HEAD and REF.\n"
	"Only metrics with a tolerance or a limit are gated.  A test without a\n"
	"baseline is new and passes unless over a limit.\n"
	"\n"
	"exit status: 0 pass (new and improved tests included); 1 a regression or a\n"
	"figure over its limit; 2 usage, configuration or ref error (an unknown REF,\n"
	"a shallow clone without the merge-base); 3 a profile missing or unreadable,\n"
	"a test that could not be measured, or an I/O error.\n";

struct row {
	const char *name;
	struct mg_verdict v;        /* against the baseline gated: accepted, else the base */
	int accepted;               /* a different baseline was accepted in this change */
	struct mg_verdict v_base;   /* when accepted: against the base, for its deltas */
	long stale;                 /* commits from the baseline's to the base commit; -1 unknown */
};

static void num(char *buf, size_t size, int has, uint64_t v)
{
	if (!has)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

static void print_table(const struct row *rows, size_t n)
{
	char b[32], c[32], a[32];
	printf("%-24s %-24s %14s %14s %14s  %s\n", "test", "metric", "baseline", "current",
	       "allowed", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		for (size_t k = 0; k < v->n_metrics; k++) {
			const struct mg_metric_verdict *m = &v->metrics[k];
			num(b, sizeof(b), m->has_baseline, m->baseline);
			num(c, sizeof(c), 1, m->current);
			num(a, sizeof(a), m->allowed != UINT64_MAX, m->allowed);
			printf("%-24s %-24s %14s %14s %14s  %s\n", rows[i].name,
			       mg_metric_name(m->metric), b, c, a, mg_status_name(m->status));
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		if (rows[i].accepted) {
			/* SPEC §5.2: reviewers see the intended increase, against the base */
			const struct mg_verdict *vb = &rows[i].v_base;
			int any = 0;
			printf("%s: baseline accepted in this change; against the base:", rows[i].name);
			for (size_t k = 0; k < vb->n_metrics; k++) {
				const struct mg_metric_verdict *m = &vb->metrics[k];
				if (!m->has_baseline || m->current == m->baseline)
					continue;
				printf("%s %s %" PRIu64 " -> %" PRIu64 " (%+" PRId64 ")", any++ ? "," : "",
				       mg_metric_name(m->metric), m->baseline, m->current,
				       (int64_t)(m->current - m->baseline));
			}
			printf("%s\n", any ? "" : " no gated figure moved");
		}
		if (rows[i].stale > 0)
			printf("%s: baseline measured %ld commit%s before the base commit\n",
			       rows[i].name, rows[i].stale, rows[i].stale == 1 ? "" : "s");
		if (v->status >= MG_STATUS_REGRESSION && v->n_new_leaks) {
			printf("%s: new leak site%s:\n", rows[i].name, v->n_new_leaks == 1 ? "" : "s");
			for (size_t k = 0; k < v->n_new_leaks; k++)
				printf("    %s\n", v->new_leaks[k]);
		}
		if (v->env_mismatch)
			printf("%s: warning: measured in another environment than its baseline (%s): "
			       "figures may move\n", rows[i].name, v->env_detail);
		if (v->status == MG_STATUS_IMPROVED)
			printf("%s: improved: run 'memgate accept %s' to ratchet the baseline\n",
			       rows[i].name, rows[i].name);
	}
}

static void print_json(const struct row *rows, size_t n, const char *rev, const char *sha,
		       const char *verdict, char *const *missing, size_t n_missing)
{
	cJSON *doc = cJSON_CreateObject(), *tests = cJSON_CreateArray();
	char *text;
	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddStringToObject(doc, "baseline_ref", rev);
	cJSON_AddStringToObject(doc, "baseline_commit", sha);
	cJSON_AddStringToObject(doc, "verdict", verdict);
	cJSON_AddItemToObject(doc, "tests", tests);
	cJSON *miss = cJSON_CreateArray();
	for (size_t k = 0; k < n_missing; k++)
		cJSON_AddItemToArray(miss, cJSON_CreateString(missing[k]));
	cJSON_AddItemToObject(doc, "missing", miss);
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		cJSON *t = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *leaks = cJSON_CreateArray();
		cJSON_AddStringToObject(t, "name", rows[i].name);
		cJSON_AddStringToObject(t, "verdict", mg_status_name(v->status));
		for (size_t k = 0; k < v->n_metrics; k++) {
			const struct mg_metric_verdict *m = &v->metrics[k];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
			cJSON_AddNumberToObject(o, "current", (double)m->current);
			if (m->has_baseline)
				cJSON_AddNumberToObject(o, "baseline", (double)m->baseline);
			else
				cJSON_AddNullToObject(o, "baseline");
			if (m->allowed != UINT64_MAX)
				cJSON_AddNumberToObject(o, "allowed", (double)m->allowed);
			else
				cJSON_AddNullToObject(o, "allowed");
			cJSON_AddStringToObject(o, "verdict", mg_status_name(m->status));
			cJSON_AddItemToArray(ms, o);
		}
		cJSON_AddItemToObject(t, "metrics", ms);
		for (size_t k = 0; k < v->n_new_leaks; k++)
			cJSON_AddItemToArray(leaks, cJSON_CreateString(v->new_leaks[k]));
		cJSON_AddItemToObject(t, "new_leak_sites", leaks);
		cJSON_AddBoolToObject(t, "environment_mismatch", v->env_mismatch);
		cJSON_AddBoolToObject(t, "accepted_in_change", rows[i].accepted);
		if (rows[i].accepted) {
			cJSON *deltas = cJSON_CreateArray();
			for (size_t k = 0; k < rows[i].v_base.n_metrics; k++) {
				const struct mg_metric_verdict *m = &rows[i].v_base.metrics[k];
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
				if (m->has_baseline)
					cJSON_AddNumberToObject(o, "base", (double)m->baseline);
				else
					cJSON_AddNullToObject(o, "base");
				cJSON_AddNumberToObject(o, "current", (double)m->current);
				cJSON_AddItemToArray(deltas, o);
			}
			cJSON_AddItemToObject(t, "against_base", deltas);
		}
		if (rows[i].stale >= 0)
			cJSON_AddNumberToObject(t, "staleness_commits", (double)rows[i].stale);
		else
			cJSON_AddNullToObject(t, "staleness_commits");
		cJSON_AddItemToArray(tests, t);
	}
	if ((text = cJSON_Print(doc)))
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(doc);
}

/* MG_OK, or the error (MG_ENOTFOUND/MG_EINVALID: a ref problem, exit 2) */
static int check_one(struct row *row, const struct mg_config *cfg, const struct mg_test *test,
		     const char *from, const char *rev, const char *commit, const char *base_rel,
		     int *profile_bad, struct mg_error *err)
{
	char ppath[4096], bpath[4096], sha[41];
	char *text = NULL;
	size_t len;
	cJSON *profile = NULL, *base = NULL, *mine = NULL;
	int ret;

	*profile_bad = 0;
	snprintf(ppath, sizeof(ppath), "%s/%s.json", from, test->name);
	if ((ret = mg_read_file(&text, &len, ppath, MAX_DOC, err)) != MG_OK ||
	    (ret = mg_json_load_doc(&profile, text, len, ppath, "profile", err)) != MG_OK) {
		if (ret == MG_ENOTFOUND)
			mg_error_set(err, MG_ENOTFOUND, "no profile of test '%s' in '%s' (run "
				     "'memgate run %s' first)", test->name, from, test->name);
		*profile_bad = 1;
		goto done;
	}
	free(text);
	text = NULL;
	if ((size_t)snprintf(bpath, sizeof(bpath), "%s%s%s.json", base_rel, base_rel[0] ? "/" : "",
			     test->name) >= sizeof(bpath)) {
		ret = mg_error_set(err, MG_EINVALID, "path too long: '%s'", base_rel);
		goto done;
	}
	/* the commit already chosen: an ancestor of HEAD is its own merge-base with HEAD,
	 * and the ref is not resolved again per test */
	ret = mg_git_read_at(&text, &len, cfg->dir[0] ? cfg->dir : ".", commit, bpath, sha, err);
	if (ret == MG_OK) {
		char name[4200];
		snprintf(name, sizeof(name), "%s:%s", rev, bpath);
		if ((ret = mg_json_load_doc(&base, text, len, name, "baseline", err)) != MG_OK)
			goto done;
	} else if (ret != MG_ENOTFOUND) {
		goto done;
	}                                     /* else: no baseline, a new test */
	free(text);
	text = NULL;

	/*
	 * SPEC §5.2: the work tree's baseline (else HEAD's) that differs from the
	 * base was accepted in this change: it is the one gated, and the report
	 * shows the figures against the base too.
	 */
	char wpath[4200];
	snprintf(wpath, sizeof(wpath), "%s/%s.json", cfg->baselines, test->name);
	ret = mg_read_file(&text, &len, wpath, MAX_DOC, err);
	if (ret == MG_ENOTFOUND)
		ret = mg_git_read_at(&text, &len, cfg->dir[0] ? cfg->dir : ".", "HEAD", bpath, sha,
				     err);
	if (ret == MG_OK) {
		if ((ret = mg_json_load_doc(&mine, text, len, wpath, "baseline", err)) != MG_OK)
			goto done;
		row->accepted = !base || !mg_baseline_same(mine, base);
	} else if (ret != MG_ENOTFOUND) {
		goto done;
	}
	row->stale = -1;
	if (row->accepted) {
		if ((ret = mg_compare(&row->v, profile, mine, cfg, test, err)) != MG_OK)
			goto done;
		ret = base ? mg_compare(&row->v_base, profile, base, cfg, test, err) : MG_OK;
		goto done;
	}
	const char *bcommit = base ? cJSON_GetStringValue(cJSON_GetObjectItem(base, "commit")) : NULL;
	if (bcommit)
		mg_git_distance(&row->stale, cfg->dir[0] ? cfg->dir : ".", bcommit, commit);
	ret = mg_compare(&row->v, profile, base, cfg, test, err);
done:
	free(text);
	cJSON_Delete(profile);
	cJSON_Delete(base);
	cJSON_Delete(mine);
	return ret;
}

int cmd_check(int argc, char **argv)
{
	const char *config = "memgate.yml", *from = NULL, *rev = "HEAD", *format = "table";
	const char **names = calloc((size_t)argc + 1, sizeof(*names));
	struct row *rows = NULL;
	size_t n_names = 0, n_rows = 0, counts[MG_STATUS_OVER_BUDGET + 1] = { 0 };
	struct mg_config *cfg = NULL;
	struct mg_error err = { 0 };
	char sha[41], base_rel[4096];
	int ret = MG_EXIT_USAGE;

	if (!names)
		return MG_EXIT_ERROR;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int common = mg_cli_common_arg(argc, argv, &i, &config, names, &n_names);
		if (common == MG_ARG_HELP) {
			fputs(usage_text, stdout);
			ret = MG_EXIT_PASS;
			goto done;
		} else if (common == MG_ARG_TAKEN) {
			continue;
		} else if (!strcmp(a, "--from") && i + 1 < argc) {
			from = argv[++i];
		} else if (!strcmp(a, "--baseline") && i + 1 < argc) {
			rev = argv[++i];
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			format = argv[++i];
			if (strcmp(format, "json") && strcmp(format, "table")) {
				mg_die_msg("check: --format: expected 'table' or 'json', got '%s'", format);
				goto done;
			}
		} else {
			mg_die_msg("check: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}
	if ((ret = mg_cli_load_config(&cfg, config, names, n_names)) >= 0)
		goto done;
	if (!from) {
		/* no saved profiles: measure the tests now, as `memgate run` would */
		if (mg_cli_measure_tests(cfg, names, n_names, 1, 1, cfg->profiles, 1) != MG_EXIT_PASS) {
			mg_die_msg("a test could not be measured: no verdict");
			ret = MG_EXIT_ERROR;
			goto done;
		}
		from = cfg->profiles;
	}
	ret = MG_EXIT_USAGE;
	if (mg_git_relpath(base_rel, sizeof(base_rel), cfg->baselines, &err) != MG_OK ||
	    mg_git_merge_base(sha, cfg->dir[0] ? cfg->dir : ".", rev, &err) != MG_OK) {
		mg_die_msg("%s", err.msg);
		ret = err.code == MG_ERROR ? MG_EXIT_ERROR : MG_EXIT_USAGE;
		goto done;
	}
	if (!(rows = calloc(cfg->n_tests + 1, sizeof(*rows)))) {
		ret = MG_EXIT_ERROR;
		goto done;
	}
	fprintf(stderr, "memgate: checking against the baselines of '%s' at %.12s\n", rev, sha);
	ret = MG_EXIT_PASS;
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *test = &cfg->tests[k];
		char ppath[4096];
		int bad;
		if (!mg_cli_selected(test->name, names, n_names))
			continue;
		snprintf(ppath, sizeof(ppath), "%s/%s.json", from, test->name);
		if (!n_names && access(ppath, F_OK) < 0)
			continue;             /* all: only the tests that were measured */
		if (check_one(&rows[n_rows], cfg, test, from, rev, sha, base_rel, &bad, &err) != MG_OK) {
			mg_verdict_release(&rows[n_rows].v);
			mg_verdict_release(&rows[n_rows].v_base);
			mg_die_msg("%s", err.msg);
			ret = bad || err.code == MG_ERROR ? MG_EXIT_ERROR : MG_EXIT_USAGE;
			goto done;
		}
		rows[n_rows].name = test->name;
		counts[rows[n_rows].v.status]++;
		n_rows++;
	}
	/* SPEC §5.4: a baseline with no test is reported as missing, never a failure */
	char **listed = NULL, **missing = NULL;
	size_t n_listed = 0, n_missing = 0;
	if (!n_names && mg_git_list_at(&listed, &n_listed, cfg->dir[0] ? cfg->dir : ".", sha,
				       base_rel, &err) == MG_OK && n_listed &&
	    (missing = calloc(n_listed, sizeof(*missing))))
		for (size_t k = 0; k < n_listed; k++)
			if (!mg_config_find_test(cfg, listed[k]))
				missing[n_missing++] = listed[k];
	int failed = counts[MG_STATUS_REGRESSION] + counts[MG_STATUS_OVER_BUDGET] > 0;
	if (!strcmp(format, "json")) {
		print_json(rows, n_rows, rev, sha, failed ? "regression" : "pass", missing,
			   n_missing);
	} else {
		for (size_t k = 0; k < n_missing; k++)
			printf("%s: missing: it has a baseline at %.12s but no test in %s\n",
			       missing[k], sha, config);
		print_table(rows, n_rows);
		printf("memgate: %zu test%s checked: %zu passed, %zu improved, %zu new, %zu regressed, "
		       "%zu over budget: %s\n", n_rows, n_rows == 1 ? "" : "s",
		       counts[MG_STATUS_PASS], counts[MG_STATUS_IMPROVED], counts[MG_STATUS_NEW],
		       counts[MG_STATUS_REGRESSION], counts[MG_STATUS_OVER_BUDGET],
		       failed ? "FAIL" : "pass");
	}
	if (!n_rows)
		mg_die_msg("warning: no profile in '%s': nothing was checked", from);
	for (size_t k = 0; k < n_listed; k++)
		free(listed[k]);
	free(listed);
	free(missing);
	ret = failed ? MG_EXIT_REGRESSION : MG_EXIT_PASS;
done:
	for (size_t i = 0; i < n_rows; i++) {
		mg_verdict_release(&rows[i].v);
		mg_verdict_release(&rows[i].v_base);
	}
	free(rows);
	mg_config_free(cfg);
	free(names);
	return ret;
}
