/* cmd_check.c - `memgate check [TEST...] [--from DIR]... [--baseline REF]`: the gate
 *
 * Measures the selected tests (or reads saved profiles from each --from DIR),
 * reads baselines/<test>.json from the tree of the commit REF selects (its
 * merge-base with HEAD, SPEC §5) through libgit2, never from the work tree,
 * and compares (core/compare.c).  A baseline accepted in this change (the work
 * tree's or HEAD's differs from the base's) is the one gated, with the deltas
 * against the base shown too.  A regression only in figures that vary from
 * run to run is confirmed by re-running the test (`confirm:`) before it fails.
 * The outcome is one document (docs/check-result.md), printed as a table or
 * as JSON and written to <dir>/memgate-check.json for the reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/baseline.h"
#include "../core/compare.h"
#include "../core/config.h"
#include "../core/git.h"
#include "../core/measure.h"
#include "../core/profile.h"
#include "../core/suppress.h"
#include "../report/report.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"
#include "publish.h"
#include "version.h"


static const char usage_text[] =
	"usage: memgate check [TEST...] [--from DIR]... [-c memgate.yml] [--baseline REF]\n"
	"                     [-j N] [--format table|json]\n"
	"\n"
	"Compares the profiles in DIR (written by `memgate run`; --from may be given\n"
	"once per shard; without --from the tests are measured first, into the\n"
	"config's `profiles`) with the baselines of REF: the config's `baselines`\n"
	"directory as committed in REF, or, when HEAD is another commit, in the\n"
	"merge-base of HEAD and REF.  REF defaults to origin/$GITHUB_BASE_REF in a\n"
	"GitHub Actions pull request, else HEAD.  Only metrics with a tolerance or a\n"
	"limit are gated.  A test without a baseline is new and passes unless over a\n"
	"limit.  A regression only in figures that vary from run to run is re-run\n"
	"(`confirm:` in memgate.yml) before it fails; -j N measures N tests at once.\n"
	"The result is also written to DIR/memgate-check.json (docs/check-result.md).\n"
	"Warnings of the profiles (a child not traced, leak kinds unknown...) are\n"
	"repeated.  Colour on a terminal unless NO_COLOR is set.\n"
	"\n"
	"exit status: 0 pass (new and improved tests included); 1 a regression or a\n"
	"figure over its limit; 2 usage, configuration or ref error (an unknown REF,\n"
	"a shallow clone without the merge-base), or a corrupt or foreign profile or\n"
	"baseline; 3 a profile missing or unreadable, a test that could not be\n"
	"measured, or an I/O error.\n";

struct row {
	const char *name;
	struct mg_verdict v;        /* against the baseline gated: accepted, else the base */
	int accepted;               /* a different baseline was accepted in this change */
	struct mg_verdict v_base;   /* when accepted: against the base, for its deltas */
	long stale;                 /* commits from the baseline's to the base commit; -1 unknown */
	const char *dir;            /* the --from directory holding its profile */
	int runs;                   /* measurements behind the profile */
	int confirmed;              /* a noisy regression re-run: 1 confirmed, 0 not; -1 no re-run */
	int threads;                /* a process of the test was multithreaded */
	double sup_bytes, sup_blocks, sup_stacks;   /* leaks memgate.yml's suppressions hid */
	cJSON *warnings;            /* the profile's own (untraced children, unknown kinds...) */
};

#define RESULT_FILE "memgate-check.json"

static void num(char *buf, size_t size, int has, uint64_t v)
{
	if (!has)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* SGR colour of a verdict, or "" (no colour: not a terminal, or NO_COLOR) */
static const char *colour(int on, enum mg_status st)
{
	if (!on)
		return "";
	switch (st) {
	case MG_STATUS_PASS: return "\033[32m";
	case MG_STATUS_IMPROVED: return "\033[36m";
	case MG_STATUS_NEW: return "\033[33m";
	default: return "\033[1;31m";
	}
}

static void print_table(const struct row *rows, size_t n, int tty)
{
	char b[32], c[32], a[32], sz[32];
	const char *off = tty ? "\033[0m" : "";
	printf("%-24s %-24s %14s %14s %14s  %s\n", "test", "metric", "baseline", "current",
	       "allowed", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		for (size_t k = 0; k < v->n_metrics; k++) {
			const struct mg_metric_verdict *m = &v->metrics[k];
			num(b, sizeof(b), m->has_baseline, m->baseline);
			num(c, sizeof(c), 1, m->current);
			num(a, sizeof(a), m->allowed != UINT64_MAX, m->allowed);
			printf("%-24s %-24s %14s %14s %14s  %s%s%s\n", rows[i].name,
			       mg_metric_name(m->metric), b, c, a, colour(tty, m->status),
			       mg_status_name(m->status), off);
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
		if (rows[i].sup_stacks > 0)
			printf("%s: %.0f leaked byte%s in %.0f block%s hidden by suppressions\n",
			       rows[i].name, rows[i].sup_bytes, rows[i].sup_bytes == 1 ? "" : "s",
			       rows[i].sup_blocks, rows[i].sup_blocks == 1 ? "" : "s");
		if (rows[i].stale > 0)
			printf("%s: baseline measured %ld commit%s before the base commit\n",
			       rows[i].name, rows[i].stale, rows[i].stale == 1 ? "" : "s");
		if (rows[i].confirmed == 1)
			printf("%s: the regression held in all %d runs\n", rows[i].name, rows[i].runs);
		else if (rows[i].confirmed == 0)
			printf("%s: a regression of the first run was not confirmed: %d runs judged "
			       "together pass\n", rows[i].name, rows[i].runs);
		if (v->status >= MG_STATUS_REGRESSION) {
			/* SPEC §6: "peak +2.3 MiB, 91% from parse_row at src/csv.c:212",
			 * for the metrics that failed */
			for (size_t k = 0; k < v->n_grew; k++) {
				const struct mg_site_growth *g = &v->grew[k];
				int failed = 0;
				for (size_t j = 0; j < v->n_metrics; j++)
					failed |= v->metrics[j].metric == g->metric &&
						  v->metrics[j].status >= MG_STATUS_REGRESSION;
				if (!failed)
					continue;
				printf("%s: %s +%s, %.0f%% from %s\n", rows[i].name,
				       mg_metric_name(g->metric),
				       mg_fmt_bytes(sz, (unsigned long long)(g->current - g->baseline)),
				       g->share * 100, g->site);
			}
		}
		if (v->status >= MG_STATUS_REGRESSION && v->n_new_leaks) {
			printf("%s: new leak site%s:\n", rows[i].name, v->n_new_leaks == 1 ? "" : "s");
			for (size_t k = 0; k < v->n_new_leaks; k++)
				printf("    %s\n", v->new_leaks[k]);
		}
		const cJSON *w;
		cJSON_ArrayForEach(w, rows[i].warnings)
			if (cJSON_IsString(w))
				printf("%s: warning: %s\n", rows[i].name, w->valuestring);
		if (v->env_mismatch)
			printf("%s: warning: measured in another environment than its baseline (%s): "
			       "figures may move\n", rows[i].name, v->env_detail);
		if (v->status == MG_STATUS_IMPROVED)
			printf("%s: improved: run 'memgate accept %s' to ratchet the baseline\n",
			       rows[i].name, rows[i].name);
	}
}

static void add_u64_or_null(cJSON *o, const char *key, int has, uint64_t v)
{
	if (has)
		cJSON_AddNumberToObject(o, key, (double)v);
	else
		cJSON_AddNullToObject(o, key);
}

/* the path of `file` in `dir` as seen from `from_dir` (where the result lives) */
static void profile_ref(char *out, size_t size, const char *dir, const char *name,
			const char *from_dir)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!strcmp(dir, from_dir) ||
	    (realpath(dir, a) && realpath(from_dir, b) && !strcmp(a, b)))
		snprintf(out, size, "%s.json", name);
	else if (realpath(dir, a))
		snprintf(out, size, "%s/%s.json", a, name);
	else
		snprintf(out, size, "%s/%s.json", dir, name);
}

struct result_info {
	const char *config, *rev, *base_sha, *head_sha;   /* head_sha NULL: unborn */
	int dirty;                  /* -1 unknown */
	const char *verdict;
	const size_t *counts;
	char *const *missing;
	size_t n_missing;
	const char *result_dir;
	const struct mg_config *cfg;  /* its suppressions' use */
};

/* The check result, docs/check-result.md; NULL when out of memory. */
static cJSON *result_doc(const struct row *rows, size_t n, const struct result_info *ri)
{
	cJSON *doc = cJSON_CreateObject(), *tests = cJSON_CreateArray(), *miss, *cnt;
	char path[PATH_MAX + 256];
	if (!doc || !tests) {
		cJSON_Delete(doc);
		cJSON_Delete(tests);
		return NULL;
	}
	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddStringToObject(doc, "kind", "memgate-check");
	cJSON_AddStringToObject(doc, "memgate_version", MEMGATE_VERSION);
	cJSON_AddStringToObject(doc, "config", ri->config);
	cJSON_AddStringToObject(doc, "baseline_ref", ri->rev);
	if (ri->base_sha)
		cJSON_AddStringToObject(doc, "baseline_commit", ri->base_sha);
	else
		cJSON_AddNullToObject(doc, "baseline_commit");
	if (ri->head_sha)
		cJSON_AddStringToObject(doc, "head_commit", ri->head_sha);
	else
		cJSON_AddNullToObject(doc, "head_commit");
	if (ri->dirty >= 0)
		cJSON_AddBoolToObject(doc, "dirty", ri->dirty);
	else
		cJSON_AddNullToObject(doc, "dirty");
	cJSON_AddStringToObject(doc, "verdict", ri->verdict);
	cJSON_AddItemToObject(doc, "counts", cnt = cJSON_CreateObject());
	for (int st = MG_STATUS_PASS; st <= MG_STATUS_OVER_BUDGET; st++)
		cJSON_AddNumberToObject(cnt, mg_status_name((enum mg_status)st), (double)ri->counts[st]);
	cJSON_AddItemToObject(doc, "missing", miss = cJSON_CreateArray());
	for (size_t k = 0; k < ri->n_missing; k++)
		cJSON_AddItemToArray(miss, cJSON_CreateString(ri->missing[k]));
	cJSON *sups = cJSON_AddArrayToObject(doc, "suppressions");
	for (size_t k = 0; k < ri->cfg->n_suppressions; k++) {
		const struct mg_suppression *s = &ri->cfg->suppressions[k];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "leak", s->pattern);
		cJSON_AddNumberToObject(o, "line", s->pos.line);
		add_u64_or_null(o, "max_bytes", s->has_max, s->max_bytes);
		cJSON_AddNumberToObject(o, "used", (double)s->used);
		cJSON_AddNumberToObject(o, "capped", (double)s->capped);
		cJSON_AddItemToArray(sups, o);
	}
	cJSON_AddItemToObject(doc, "tests", tests);
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		cJSON *t = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *leaks = cJSON_CreateArray();
		cJSON *grew = cJSON_CreateArray();
		cJSON_AddStringToObject(t, "name", rows[i].name);
		cJSON_AddStringToObject(t, "verdict", mg_status_name(v->status));
		profile_ref(path, sizeof(path), rows[i].dir, rows[i].name, ri->result_dir);
		cJSON_AddStringToObject(t, "profile", path);
		for (size_t k = 0; k < v->n_metrics; k++) {
			const struct mg_metric_verdict *m = &v->metrics[k];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
			cJSON_AddNumberToObject(o, "current", (double)m->current);
			add_u64_or_null(o, "baseline", m->has_baseline, m->baseline);
			add_u64_or_null(o, "allowed", m->allowed != UINT64_MAX, m->allowed);
			add_u64_or_null(o, "limit", m->has_limit, m->limit);
			cJSON_AddStringToObject(o, "verdict", mg_status_name(m->status));
			cJSON_AddItemToArray(ms, o);
		}
		cJSON_AddItemToObject(t, "metrics", ms);
		for (size_t k = 0; k < v->n_new_leaks; k++)
			cJSON_AddItemToArray(leaks, cJSON_CreateString(v->new_leaks[k]));
		cJSON_AddItemToObject(t, "new_leak_sites", leaks);
		for (size_t k = 0; k < v->n_grew; k++) {
			const struct mg_site_growth *g = &v->grew[k];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "metric", mg_metric_name(g->metric));
			cJSON_AddStringToObject(o, "site", g->site);
			cJSON_AddNumberToObject(o, "baseline", (double)g->baseline);
			cJSON_AddNumberToObject(o, "current", (double)g->current);
			cJSON_AddNumberToObject(o, "delta", (double)(g->current - g->baseline));
			cJSON_AddNumberToObject(o, "share", (double)(long)(g->share * 1000 + 0.5) / 1000);
			cJSON_AddItemToArray(grew, o);
		}
		cJSON_AddItemToObject(t, "grew", grew);
		cJSON_AddBoolToObject(t, "environment_mismatch", v->env_mismatch);
		if (v->env_mismatch)
			cJSON_AddStringToObject(t, "environment_detail", v->env_detail);
		else
			cJSON_AddNullToObject(t, "environment_detail");
		cJSON_AddBoolToObject(t, "accepted_in_change", rows[i].accepted);
		if (rows[i].accepted) {
			cJSON *deltas = cJSON_CreateArray();
			for (size_t k = 0; k < rows[i].v_base.n_metrics; k++) {
				const struct mg_metric_verdict *m = &rows[i].v_base.metrics[k];
				cJSON *o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
				add_u64_or_null(o, "base", m->has_baseline, m->baseline);
				cJSON_AddNumberToObject(o, "current", (double)m->current);
				cJSON_AddItemToArray(deltas, o);
			}
			cJSON_AddItemToObject(t, "against_base", deltas);
		}
		if (rows[i].stale >= 0)
			cJSON_AddNumberToObject(t, "staleness_commits", (double)rows[i].stale);
		else
			cJSON_AddNullToObject(t, "staleness_commits");
		cJSON *so = cJSON_AddObjectToObject(t, "suppressed");
		cJSON_AddNumberToObject(so, "leaked_bytes", rows[i].sup_bytes);
		cJSON_AddNumberToObject(so, "leaked_blocks", rows[i].sup_blocks);
		cJSON_AddNumberToObject(so, "stacks", rows[i].sup_stacks);
		cJSON_AddItemToObject(t, "warnings", rows[i].warnings ?
				      cJSON_Duplicate(rows[i].warnings, 1) : cJSON_CreateArray());
		cJSON_AddNumberToObject(t, "runs", rows[i].runs);
		if (rows[i].confirmed >= 0)
			cJSON_AddBoolToObject(t, "confirmed_by_rerun", rows[i].confirmed);
		else
			cJSON_AddNullToObject(t, "confirmed_by_rerun");
		cJSON_AddItemToArray(tests, t);
	}
	return doc;
}

/* MG_OK, or the error (MG_ENOTFOUND/MG_EINVALID: a ref problem, exit 2) */
static int check_one(struct row *row, struct mg_git *repo, struct mg_config *cfg,
		     const struct mg_test *test, const char *from, const char *rev,
		     const char *commit, const char *base_rel, int *profile_bad,
		     struct mg_error *err)
{
	char ppath[4096], bpath[4096], sha[41];
	char *text = NULL;
	size_t len;
	cJSON *profile = NULL, *base = NULL, *mine = NULL;
	int ret;

	*profile_bad = 0;
	snprintf(ppath, sizeof(ppath), "%s/%s.json", from, test->name);
	if ((ret = mg_read_file(&text, &len, ppath, MG_MAX_DOC, err)) != MG_OK ||
	    (ret = mg_json_load_doc(&profile, text, len, ppath, "profile", err)) != MG_OK) {
		if (ret == MG_ENOTFOUND)
			mg_error_set(err, MG_ENOTFOUND, "no profile of test '%s' in '%s' (run "
				     "'memgate run %s' first)", test->name, from, test->name);
		/* missing or unreadable: not measured (3); corrupt or foreign: bad input (2) */
		*profile_bad = ret != MG_EINVALID;
		goto done;
	}
	free(text);
	text = NULL;
	/* memgate.yml's suppressions: the leaks they hide are not gated */
	if (mg_suppress_profile(profile, cfg) < 0) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	cJSON_Delete(row->warnings);
	row->warnings = cJSON_Duplicate(cJSON_GetObjectItem(profile, "warnings"), 1);
	const cJSON *sup = cJSON_GetObjectItem(profile, "suppressed");
	row->sup_bytes = cJSON_GetNumberValue(cJSON_GetObjectItem(sup, "leaked_bytes"));
	row->sup_blocks = cJSON_GetNumberValue(cJSON_GetObjectItem(sup, "leaked_blocks"));
	row->sup_stacks = cJSON_GetNumberValue(cJSON_GetObjectItem(sup, "stacks"));
	if (!sup)
		row->sup_bytes = row->sup_blocks = row->sup_stacks = 0;
	const cJSON *runs = cJSON_GetObjectItem(profile, "runs"), *proc;
	row->runs = cJSON_IsArray(runs) ? cJSON_GetArraySize(runs) : 1;
	row->threads = 0;
	cJSON_ArrayForEach(proc, cJSON_GetObjectItem(profile, "processes"))
		row->threads |= cJSON_IsTrue(cJSON_GetObjectItem(proc, "multithreaded"));
	if ((size_t)snprintf(bpath, sizeof(bpath), "%s%s%s.json", base_rel, base_rel[0] ? "/" : "",
			     test->name) >= sizeof(bpath)) {
		ret = mg_error_set(err, MG_EINVALID, "path too long: '%s'", base_rel);
		goto done;
	}
	/* the commit already chosen: an ancestor of HEAD is its own merge-base with HEAD,
	 * and the ref is not resolved again per test */
	ret = commit ? mg_git_read_at(repo, &text, &len, commit, bpath, sha, err) : MG_ENOTFOUND;
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
	ret = mg_read_file(&text, &len, wpath, MG_MAX_DOC, err);
	if (ret == MG_ENOTFOUND && commit)   /* (an unborn HEAD has no tree) */
		ret = mg_git_read_at(repo, &text, &len, "HEAD", bpath, sha, err);
	if (ret == MG_OK) {
		if ((ret = mg_json_load_doc(&mine, text, len, wpath, "baseline", err)) != MG_OK)
			goto done;
		row->accepted = !base || !mg_baseline_same(mine, base);
	} else if (ret != MG_ENOTFOUND) {
		goto done;
	}
	row->stale = -1;
	const cJSON *gated = row->accepted ? mine : base;
	if (row->accepted) {
		if ((ret = mg_compare(&row->v, profile, mine, cfg, test, err)) != MG_OK ||
		    (base && (ret = mg_compare(&row->v_base, profile, base, cfg, test, err)) != MG_OK))
			goto done;
	} else {
		const char *bc = base ? cJSON_GetStringValue(cJSON_GetObjectItem(base, "commit")) : NULL;
		if (bc)
			mg_git_distance(repo, &row->stale, bc, commit);
		if ((ret = mg_compare(&row->v, profile, base, cfg, test, err)) != MG_OK)
			goto done;
	}
	/* the test's page again, now with the call sites that moved against the
	 * gated baseline (a page that cannot be written costs the gate nothing) */
	if (gated && cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(profile, "processes"), 0),
					 "stacks")) {
		struct mg_error herr = { 0 };
		char hpath[4200];
		snprintf(hpath, sizeof(hpath), "%s/%s.html", from, test->name);
		if (mg_report_html_write(hpath, profile, gated, &herr) != MG_OK)
			mg_die_msg("warning: %s", herr.msg);
	}
done:
	free(text);
	cJSON_Delete(profile);
	cJSON_Delete(base);
	cJSON_Delete(mine);
	return ret;
}

/*
 * Whether every failing metric of a row is one that varies from run to run
 * (the peak and RSS; anything of a multithreaded test), so that re-running
 * can tell noise from a regression.  A new leak or a grown count fails as is.
 */
static int noisy_only(const struct row *r)
{
	for (size_t k = 0; k < r->v.n_metrics; k++) {
		enum mg_metric m = r->v.metrics[k].metric;
		if (r->v.metrics[k].status < MG_STATUS_REGRESSION || r->threads)
			continue;
		if (m != MG_METRIC_PEAK_BYTES && m != MG_METRIC_PEAK_BLOCKS &&
		    m != MG_METRIC_RSS_PEAK_BYTES)
			return 0;
	}
	return 1;
}

static void row_release(struct row *r)
{
	mg_verdict_release(&r->v);
	mg_verdict_release(&r->v_base);
	cJSON_Delete(r->warnings);
	r->warnings = NULL;
}

static int load_profile(cJSON **doc, const char *path, struct mg_error *err)
{
	char *text = NULL;
	size_t len;
	int ret = mg_read_file(&text, &len, path, MG_MAX_DOC, err);
	if (ret == MG_OK)
		ret = mg_json_load_doc(doc, text, len, path, "profile", err);
	free(text);
	return ret;
}

/*
 * Re-runs a test whose regression is only in noisy figures `confirm` times
 * and judges all runs together, the way `repeat` does (median peak, minimum
 * counts): the combined profile replaces DIR/<test>.json and the row is
 * judged again.  Returns MG_OK, or an error when a re-run failed (the first
 * verdict then stands).
 */
static int confirm_row(struct row *row, struct mg_git *repo, struct mg_config *cfg,
		       const struct mg_test *test,
		       unsigned confirm, const char *rev, const char *commit, const char *base_rel,
		       struct mg_error *err)
{
	const char *name = test->name;
	char path[4200], rpath[4200];
	char *tmp = NULL;
	cJSON **docs = calloc(confirm + 1, sizeof(*docs)), *combined = NULL;
	unsigned n = 0;
	int ret, bad;

	fprintf(stderr, "memgate: %s: regressed in figures that vary from run to run; "
		"re-running it %u time%s to confirm\n", name, confirm, confirm == 1 ? "" : "s");
	fflush(stderr);
	fflush(stderr);
	snprintf(path, sizeof(path), "%s/%s.json", row->dir, name);
	if (!docs) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	if ((ret = load_profile(&docs[n], path, err)) != MG_OK ||
	    (ret = mg_mkdtemp(&tmp, "memgate-confirm", err)) != MG_OK)
		goto done;
	n++;
	for (unsigned k = 0; k < confirm; k++, n++) {
		if (mg_cli_measure_tests(cfg, &name, 1, 1, 1, tmp, 1, 1) != MG_EXIT_PASS) {
			ret = mg_error_set(err, MG_ERROR, "%s: a re-run could not be measured", name);
			goto done;
		}
		snprintf(rpath, sizeof(rpath), "%s/%s.json", tmp, name);
		if ((ret = load_profile(&docs[n], rpath, err)) != MG_OK)
			goto done;
	}
	if (!(combined = mg_profile_combine(docs, n))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	if ((ret = mg_profile_write(path, combined, err)) != MG_OK)
		goto done;
	const char *dir = row->dir;
	row_release(row);
	memset(row, 0, sizeof(*row));
	row->dir = dir;
	row->name = name;
	ret = check_one(row, repo, cfg, test, dir, rev, commit, base_rel, &bad, err);
	row->confirmed = row->v.status >= MG_STATUS_REGRESSION;
done:
	for (unsigned k = 0; docs && k <= confirm; k++)
		cJSON_Delete(docs[k]);
	free(docs);
	cJSON_Delete(combined);
	if (tmp) {
		mg_rmtree(tmp);
		free(tmp);
	}
	return ret;
}

/* SPEC §5: in a GitHub Actions pull request, the PR's base branch; else HEAD */
static const char *default_ref(char *buf, size_t size)
{
	const char *base = getenv("GITHUB_BASE_REF");
	const char *gha = getenv("GITHUB_ACTIONS");
	if (gha && !strcmp(gha, "true") && base && *base &&
	    (size_t)snprintf(buf, size, "origin/%s", base) < size)
		return buf;
	return "HEAD";
}

int cmd_check(int argc, char **argv)
{
	const char *config = "memgate.yml", *rev = NULL;
	const char **names = calloc((size_t)argc + 1, sizeof(*names));
	const char **froms = calloc((size_t)argc + 1, sizeof(*froms));
	struct row *rows = NULL;
	size_t n_names = 0, n_froms = 0, n_rows = 0, counts[MG_STATUS_OVER_BUDGET + 1] = { 0 };
	char **listed = NULL, **missing = NULL;
	size_t n_listed = 0, n_missing = 0;
	struct mg_config *cfg = NULL;
	struct mg_git *git = NULL;
	struct mg_error err = { 0 };
	char sha[41], head[41], base_rel[4096], refbuf[512];
	int ret = MG_EXIT_USAGE, measured = 0, unborn = 0, dirty = -1, have_head;
	unsigned jobs = 1;
	int json = 0;
	cJSON *doc = NULL;

	if (!names || !froms) {
		free(names);
		free(froms);
		return MG_EXIT_ERROR;
	}
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
			froms[n_froms++] = argv[++i];
		} else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && i + 1 < argc) {
			if (mg_cli_jobs(&jobs, argv[++i]) < 0)
				goto done;
		} else if (!strcmp(a, "--baseline") && i + 1 < argc) {
			rev = argv[++i];
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			if (mg_cli_format_json(&json, "check", argv[++i]) < 0)
				goto done;
		} else {
			mg_die_msg("check: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}
	if ((ret = mg_cli_load_config(&cfg, config, names, n_names)) >= 0)
		goto done;
	/* the result of an earlier check must not outlive this one: if this one
	 * stops before its verdict, nothing is there to be published */
	char stale[4200];
	snprintf(stale, sizeof(stale), "%s/%s", n_froms ? froms[0] : cfg->profiles, RESULT_FILE);
	unlink(stale);
	if (!rev)
		rev = default_ref(refbuf, sizeof(refbuf));
	/* the ref first: a wrong one fails before minutes of measuring */
	ret = MG_EXIT_USAGE;
	/* one handle for every read of the command */
	if (mg_git_open(&git, cfg->dir[0] ? cfg->dir : ".", &err) == MG_OK)
		unborn = mg_git_unborn(git);
	if (!git || mg_git_relpath(git, base_rel, sizeof(base_rel), cfg->baselines, &err) != MG_OK ||
	    (!(unborn && !strcmp(rev, "HEAD")) &&
	     mg_git_merge_base(git, sha, rev, &err) != MG_OK)) {
		mg_die_msg("%s", err.msg);
		ret = err.code == MG_ERROR ? MG_EXIT_ERROR : MG_EXIT_USAGE;
		goto done;
	}
	if (unborn && !strcmp(rev, "HEAD"))
		sha[0] = '\0';                /* no commit yet: every test is new */
	have_head = mg_git_head(git, head, &dirty, &err) == MG_OK;
	if (!have_head)
		dirty = -1;
	if (!n_froms) {
		/* no saved profiles: measure the tests now, as `memgate run` would */
		if (mg_cli_measure_tests(cfg, names, n_names, 1, 1, cfg->profiles, jobs, 0) !=
		    MG_EXIT_PASS) {
			mg_die_msg("a test could not be measured: no verdict");
			ret = MG_EXIT_ERROR;
			goto done;
		}
		froms[n_froms++] = cfg->profiles;
		measured = 1;
	}
	if (!(rows = calloc(cfg->n_tests + 1, sizeof(*rows)))) {
		ret = MG_EXIT_ERROR;
		goto done;
	}
	if (sha[0])
		fprintf(stderr, "memgate: checking against the baselines of '%s' at %.12s\n", rev, sha);
	else
		fprintf(stderr, "memgate: the branch has no commit yet: every test is new\n");
	if (have_head && dirty)
		fprintf(stderr, "memgate: note: the work tree has uncommitted changes\n");
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *test = &cfg->tests[k];
		const char *dir = NULL;
		char ppath[4096];
		int bad;
		if (!mg_cli_selected(test->name, names, n_names))
			continue;
		/* its profile: in exactly one of the --from directories (shards) */
		for (size_t d = 0; d < n_froms; d++) {
			snprintf(ppath, sizeof(ppath), "%s/%s.json", froms[d], test->name);
			if (access(ppath, F_OK) < 0)
				continue;
			if (dir) {
				mg_die_msg("test '%s' has a profile in both '%s' and '%s': the shards "
					   "overlap", test->name, dir, froms[d]);
				ret = MG_EXIT_USAGE;
				goto done;
			}
			dir = froms[d];
		}
		if (!dir && !n_names)
			continue;             /* all: only the tests that were measured */
		struct row *row = &rows[n_rows];
		row->dir = dir ? dir : froms[0];
		row->confirmed = -1;
		if (check_one(row, git, cfg, test, row->dir, rev, sha[0] ? sha : NULL, base_rel, &bad,
			      &err) != MG_OK) {
			row_release(row);
			mg_die_msg("%s", err.msg);
			ret = bad || err.code == MG_ERROR ? MG_EXIT_ERROR : MG_EXIT_USAGE;
			goto done;
		}
		row->name = test->name;
		n_rows++;
		struct mg_settings eff;
		mg_config_effective(&eff, cfg, test);
		/* saved profiles (--from) are judged as they are: their build may be gone */
		if (measured && eff.confirm && row->v.status >= MG_STATUS_REGRESSION &&
		    noisy_only(row) &&
		    confirm_row(row, git, cfg, test, eff.confirm, rev, sha[0] ? sha : NULL, base_rel,
				&err) != MG_OK)
			mg_die_msg("warning: %s: could not confirm the regression (%s); it stands",
				   test->name, err.msg);
	}
	for (size_t i = 0; i < n_rows; i++)
		counts[rows[i].v.status]++;
	/* SPEC §5.4: a baseline with no test is reported as missing, never a failure */
	if (!n_names && sha[0] && mg_git_list_at(git, &listed, &n_listed, sha, base_rel, &err) ==
	    MG_OK && n_listed && (missing = calloc(n_listed, sizeof(*missing))))
		for (size_t k = 0; k < n_listed; k++)
			if (!mg_config_find_test(cfg, listed[k]))
				missing[n_missing++] = listed[k];
	int failed = counts[MG_STATUS_REGRESSION] + counts[MG_STATUS_OVER_BUDGET] > 0;
	struct result_info ri = {
		.config = config, .rev = rev, .base_sha = sha[0] ? sha : NULL,
		.head_sha = have_head ? head : NULL, .dirty = dirty,
		.verdict = failed ? "regression" : "pass", .counts = counts,
		.missing = missing, .n_missing = n_missing, .result_dir = froms[0], .cfg = cfg,
	};
	if (!(doc = result_doc(rows, n_rows, &ri))) {
		mg_die_msg("out of memory");
		ret = MG_EXIT_ERROR;
		goto done;
	}
	if (json) {
		char *text = cJSON_Print(doc);
		if (text)
			printf("%s\n", text);
		cJSON_free(text);
	} else {
		const char *nc = getenv("NO_COLOR");
		int tty = isatty(STDOUT_FILENO) && !(nc && *nc);
		for (size_t k = 0; k < n_missing; k++)
			printf("%s: missing: it has a baseline at %.12s but no test in %s\n",
			       missing[k], sha, config);
		print_table(rows, n_rows, tty);
		/* docs/config.md: a suppression that hid nothing is reported */
		for (size_t k = 0; k < cfg->n_suppressions && n_rows; k++) {
			const struct mg_suppression *s = &cfg->suppressions[k];
			char cap[32];
			if (!s->used)
				printf("%s:%u: suppression '%s' hid no leak in this run: it hides nothing "
				       "today, and may hide a real leak tomorrow\n", config, s->pos.line,
				       s->pattern);
			if (s->capped)
				printf("%s:%u: suppression '%s' matched %" PRIu64 " leak stack%s beyond "
				       "its max_bytes of %s: %s counted\n", config, s->pos.line, s->pattern,
				       s->capped, s->capped == 1 ? "" : "s",
				       mg_fmt_bytes(cap, (unsigned long long)s->max_bytes),
				       s->capped == 1 ? "it is" : "they are");
		}
		printf("memgate: %zu test%s checked: %zu passed, %zu improved, %zu new, %zu regressed, "
		       "%zu over budget: %s%s%s\n", n_rows, n_rows == 1 ? "" : "s",
		       counts[MG_STATUS_PASS], counts[MG_STATUS_IMPROVED], counts[MG_STATUS_NEW],
		       counts[MG_STATUS_REGRESSION], counts[MG_STATUS_OVER_BUDGET],
		       colour(tty, failed ? MG_STATUS_REGRESSION : MG_STATUS_PASS),
		       failed ? "FAIL" : "pass", tty ? "\033[0m" : "");
	}
	fflush(stdout);
	if (!n_rows)
		mg_die_msg("warning: no profile in '%s': nothing was checked", froms[0]);
	/* the reports render from this file (docs/check-result.md) */
	char rpath[4200];
	char *text = cJSON_Print(doc);
	snprintf(rpath, sizeof(rpath), "%s/%s", froms[0], RESULT_FILE);
	if (!text || mg_write_file_atomic(rpath, text, strlen(text), &err) != MG_OK) {
		mg_die_msg("%s", text ? err.msg : "out of memory");
		cJSON_free(text);
		ret = MG_EXIT_ERROR;
		goto done;
	}
	cJSON_free(text);
	/* in GitHub Actions: job summary, outputs, annotations, PR comment
	 * (docs/github.md); a failure there is warned about and leaves the
	 * verdict alone.  Annotations go to stdout: not with --format json. */
	if (!json) {
		struct mg_error gh_err = { 0 };
		mg_github_publish(doc, froms[0], NULL, &gh_err);
	}
	ret = failed ? MG_EXIT_REGRESSION : MG_EXIT_PASS;
done:
	cJSON_Delete(doc);
	for (size_t i = 0; i < n_rows; i++)
		row_release(&rows[i]);
	for (size_t k = 0; k < n_listed; k++)
		free(listed[k]);
	free(listed);
	free(missing);
	free(rows);
	mg_git_close(git);
	mg_config_free(cfg);
	free(names);
	free(froms);
	return ret;
}
