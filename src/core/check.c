/* check.c - the gate: profiles against the baselines of a commit (check.h) */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/error.h"
#include "../util/fs.h"
#include "baseline.h"
#include "check.h"
#include "discover.h"
#include "config.h"
#include "git.h"
#include "measure.h"
#include "profile.h"
#include "suppress.h"

static void notify(const struct mg_check_opts *o, int warning, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void notify(const struct mg_check_opts *o, int warning, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!o->notify)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->notify(warning, msg, o->payload);
}

/* whether a gated figure differs from its baseline, even within its tolerance */
static int figures_moved(const struct mg_verdict *v)
{
	for (size_t k = 0; k < v->n_metrics; k++)
		if (v->metrics[k].has_baseline && v->metrics[k].current != v->metrics[k].baseline)
			return 1;
	return 0;
}

/* one test, its profile in `from`: MG_OK, or the error (see mg_check()) */
static int check_one(struct mg_check_test *row, struct mg_suppress_state *suppressions,
		     const struct mg_test *test, const char *from, const struct mg_check_opts *o,
		     struct mg_error *err)
{
	const struct mg_config *cfg = suppressions->cfg;
	struct mg_git *repo = o->git;
	const char *rev = o->rev, *commit = o->base_commit, *base_rel = o->baselines_rel;
	char ppath[4096], bpath[4096], sha[41];
	char *text = NULL;
	size_t len;
	cJSON *profile = NULL, *base = NULL, *mine = NULL;
	int ret;

	snprintf(ppath, sizeof(ppath), "%s/%s.json", from, test->name);
	if ((ret = mg_read_file(&text, &len, ppath, MG_MAX_DOC, err)) != MG_OK ||
	    (ret = mg_json_load_doc(&profile, text, len, ppath, "profile", err)) != MG_OK) {
		if (ret == MG_ENOTFOUND)
			mg_error_set(err, MG_ENOTFOUND, "no profile of test '%s' in '%s' (run "
				     "'memgate run %s' first)", test->name, from, test->name);
		/* missing or unreadable: not measured (3); corrupt or foreign: bad input (2) */
		if (ret != MG_EINVALID)
			ret = err->code = MG_ENOTMEASURED;
		goto done;
	}
	free(text);
	text = NULL;
	/* memgate.yml's suppressions: the leaks they hide are not gated */
	if (mg_suppress_profile(profile, suppressions) < 0) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	cJSON_Delete(row->warnings);
	row->warnings = cJSON_Duplicate(cJSON_GetObjectItem(profile, "warnings"), 1);
	/* programs that ran untraced: the figures are not the test's (exit 3) */
	struct mg_settings eff;
	mg_config_effective(&eff, cfg, test);
	cJSON_Delete(row->untraced);
	row->untraced = cJSON_Duplicate(cJSON_GetObjectItem(profile, "untraced"), 1);
	row->untraced_allowed = eff.allow_untraced;
	row->unmeasured = cJSON_GetArraySize(row->untraced) > 0 && !eff.allow_untraced;
	const cJSON *sup = cJSON_GetObjectItem(profile, "suppressed");
	row->sup_bytes = row->sup_blocks = row->sup_stacks = 0;
	mg_json_figure(&row->sup_bytes, sup, "leaked_bytes");
	mg_json_figure(&row->sup_blocks, sup, "leaked_blocks");
	mg_json_figure(&row->sup_stacks, sup, "stacks");
	row->runs = (int)mg_profile_runs(profile, &row->threads);
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
	 * docs/baselines.md, "Which baseline is gated": the work tree's baseline (else HEAD's) that differs from the
	 * base was accepted in this change: it is the one gated, and the report
	 * shows the figures against the base too.
	 */
	char wpath[4200];
	snprintf(wpath, sizeof(wpath), "%s/%s.json", cfg->baselines, test->name);
	ret = mg_read_tree_file(&text, &len, wpath, MG_MAX_DOC, err);
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
		if ((ret = mg_compare(&row->v, profile, base, cfg, test, err)) != MG_OK)
			goto done;
		/* docs/baselines.md, "Staleness": a baseline whose gated figures all
		 * hold is fresh however old (accept would leave it as it is); commits
		 * that only record baselines or change memgate.yml do not count */
		const char *only[] = { base_rel, o->config_rel };
		if (bc && figures_moved(&row->v))
			mg_git_distance(repo, &row->stale, bc, commit, only, o->config_rel ? 2 : 1);
		else if (bc)
			row->stale = 0;
	}
	/* the test's page again, now with the call sites that moved against the
	 * gated baseline */
	if (o->judged)
		o->judged(test, from, profile, gated, row->v.status, o->payload);
done:
	free(text);
	cJSON_Delete(profile);
	cJSON_Delete(base);
	cJSON_Delete(mine);
	return ret;
}

/*
 * Whether every failing (or, with `improved`, every improved) metric of a row
 * is one that varies from run to run (the peak and RSS; anything of a
 * multithreaded test), so that re-running can tell noise from a regression
 * or an improvement.  A new leak or a grown count fails as is.
 */
static int noisy_only(const struct mg_check_test *r, int improved)
{
	for (size_t k = 0; k < r->v.n_metrics; k++) {
		enum mg_metric m = r->v.metrics[k].metric;
		enum mg_status s = r->v.metrics[k].status;
		if ((improved ? s != MG_STATUS_IMPROVED : s < MG_STATUS_REGRESSION) || r->threads)
			continue;
		if (!mg_metric_is_noisy(m))
			return 0;
	}
	return 1;
}

static void row_release(struct mg_check_test *r)
{
	mg_verdict_release(&r->v);
	mg_verdict_release(&r->v_base);
	cJSON_Delete(r->warnings);
	r->warnings = NULL;
	cJSON_Delete(r->untraced);
	r->untraced = NULL;
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

unsigned mg_spread_runs_wanted(const cJSON *profile, unsigned spread_runs)
{
	int threads;
	unsigned have = mg_profile_runs(profile, &threads);

	if (!threads || have < spread_runs)
		return threads && spread_runs > have ? spread_runs : have;
	if (spread_runs > 1 && have < MG_SPREAD_WIDE_RUNS &&
	    mg_profile_run_width(profile, "peak_bytes") >= MG_SPREAD_WIDE)
		return MG_SPREAD_WIDE_RUNS;
	return have;
}

int mg_check_measure_more(cJSON **profile, const char *path, const struct mg_test *test,
			  unsigned times, unsigned runs, mg_check_remeasure_cb measure,
			  void *payload, struct mg_error *err)
{
	int threads;
	unsigned have = mg_profile_runs(*profile, &threads), n = 0;
	/* every measurement adds a run at least */
	size_t cap = 1 + (size_t)times + (runs > have ? runs - have : 0);
	cJSON **docs = calloc(cap, sizeof(*docs)), *combined = NULL;
	char rpath[4200], *tmp = NULL;
	int ret;

	if (!docs)
		return mg_error_set(err, MG_ERROR, "out of memory");
	docs[n++] = *profile;
	if ((ret = mg_mkdtemp(&tmp, "memgate-more", err)) != MG_OK)
		goto done;
	snprintf(rpath, sizeof(rpath), "%s/%s.json", tmp, test->name);
	while (n <= times || have < runs) {
		if ((ret = measure(test, tmp, payload, err)) != MG_OK ||
		    (ret = load_profile(&docs[n], rpath, err)) != MG_OK)
			goto done;
		unsigned r = mg_profile_runs(docs[n++], &threads);
		have += r ? r : 1;              /* the bound of docs[] */
	}
	if (!(combined = mg_profile_combine(docs, n))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	if ((ret = mg_profile_write(path, combined, err)) != MG_OK)
		goto done;
	cJSON_Delete(*profile);
	*profile = combined;
	combined = NULL;
done:
	for (unsigned k = 1; k < n; k++)
		cJSON_Delete(docs[k]);
	free(docs);
	cJSON_Delete(combined);
	if (tmp) {
		mg_rmtree(tmp);
		free(tmp);
	}
	return ret;
}

/*
 * Re-runs a test whose regression (or, with `improved`, improvement) is only
 * in noisy figures `confirm` times and judges all runs together, the way
 * `repeat` does (median peak, minimum counts; improved only where every run
 * is, compare.c): the combined profile replaces DIR/<test>.json and the row
 * is judged again.  Returns MG_OK, or an error when a re-run failed (the
 * first verdict then stands).
 */
static int confirm_row(struct mg_check_test *row, struct mg_suppress_state *sup,
		       const struct mg_test *test, unsigned confirm, int improved,
		       const struct mg_check_opts *o, struct mg_error *err)
{
	const char *name = test->name;
	char path[4200];
	cJSON *profile = NULL;
	int ret;

	notify(o, 0, "%s: %s in figures that vary from run to run; re-running it %u "
	       "time%s to confirm", name, improved ? "improved" : "regressed", confirm,
	       confirm == 1 ? "" : "s");
	snprintf(path, sizeof(path), "%s/%s.json", row->dir, name);
	if ((ret = load_profile(&profile, path, err)) != MG_OK ||
	    (ret = mg_check_measure_more(&profile, path, test, confirm, 0, o->remeasure,
					 o->payload, err)) != MG_OK)
		goto done;
	const char *dir = row->dir;
	row_release(row);
	memset(row, 0, sizeof(*row));
	row->dir = dir;
	row->name = name;
	ret = check_one(row, sup, test, dir, o, err);
	row->confirmed = -1;
	if (!improved)
		row->confirmed = row->v.status >= MG_STATUS_REGRESSION;
	else if (ret == MG_OK && row->v.status == MG_STATUS_IMPROVED)
		notify(o, 0, "%s: the improvement held in every one of %d runs", name, row->runs);
	else if (ret == MG_OK)
		notify(o, 0, "%s: an improvement of the first run did not hold in every one of %d "
		       "runs: no advice to accept", name, row->runs);
done:
	cJSON_Delete(profile);
	return ret;
}

/* the directory among the shards that holds the test's profile; *dir NULL: none */
static int find_profile(const char **dir, const struct mg_check_opts *o, const char *name,
			struct mg_error *err)
{
	char ppath[4096];

	*dir = NULL;
	for (size_t d = 0; d < o->n_froms; d++) {
		snprintf(ppath, sizeof(ppath), "%s/%s.json", o->froms[d], name);
		if (access(ppath, F_OK) < 0)
			continue;
		if (*dir)
			return mg_error_set(err, MG_EINVALID, "test '%s' has a profile in both '%s' "
					    "and '%s': the shards overlap", name, *dir, o->froms[d]);
		*dir = o->froms[d];
	}
	return MG_OK;
}

static int selected(const char *name, const struct mg_check_opts *o)
{
	return mg_test_selected(name, o->names, o->n_names);
}

/* docs/baselines.md, "Which baseline is gated": a baseline with no test is reported as missing, never a failure */
static void find_missing(struct mg_check_result *r, const struct mg_config *cfg,
			 const struct mg_check_opts *o)
{
	char **listed = NULL;
	size_t n_listed = 0;
	struct mg_error err = { 0 };

	if (o->n_names || !o->base_commit ||
	    mg_git_list_at(o->git, &listed, &n_listed, o->base_commit, o->baselines_rel, &err) !=
	    MG_OK)
		return;
	if (n_listed && (r->missing = calloc(n_listed, sizeof(*r->missing))))
		for (size_t k = 0; k < n_listed; k++)
			if (!mg_config_find_test(cfg, listed[k])) {
				r->missing[r->n_missing++] = listed[k];
				listed[k] = NULL;
			}
	for (size_t k = 0; k < n_listed; k++)
		free(listed[k]);
	free(listed);
}

int mg_check(struct mg_check_result *r, const struct mg_config *cfg,
	     const struct mg_check_opts *o, struct mg_error *err)
{
	memset(r, 0, sizeof(*r));
	if (!(r->tests = calloc(cfg->n_tests + 1, sizeof(*r->tests))) ||
	    mg_suppress_init(&r->sup, cfg) < 0)
		return mg_error_set(err, MG_ERROR, "out of memory");
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *test = &cfg->tests[k];
		const char *dir;
		int ret;
		if (!selected(test->name, o))
			continue;
		/* its profile: in exactly one of the --from directories (shards) */
		if ((ret = find_profile(&dir, o, test->name, err)) != MG_OK)
			return ret;
		if (!dir && !o->n_names)
			continue;             /* all: only the tests that were measured */
		struct mg_check_test *row = &r->tests[r->n_tests];
		row->dir = dir ? dir : o->froms[0];
		row->confirmed = -1;
		if ((ret = check_one(row, &r->sup, test, row->dir, o, err)) != MG_OK) {
			row_release(row);
			return ret;
		}
		row->name = test->name;
		r->n_tests++;
		struct mg_settings eff;
		mg_config_effective(&eff, cfg, test);
		/* without a callback (saved profiles) they are judged as they are */
		/* noise is neither a regression nor an improvement (docs/baselines.md) */
		int improved = row->v.status == MG_STATUS_IMPROVED;
		if (o->remeasure && eff.confirm && (improved || row->v.status >= MG_STATUS_REGRESSION) &&
		    noisy_only(row, improved) &&
		    confirm_row(row, &r->sup, test, eff.confirm, improved, o, err) != MG_OK)
			notify(o, 1, "%s: could not confirm the %s (%s); it stands", test->name,
			       improved ? "improvement" : "regression", err->msg);
	}
	for (size_t i = 0; i < r->n_tests; i++) {
		r->counts[r->tests[i].v.status]++;
		r->n_unmeasured += (size_t)r->tests[i].unmeasured;
	}
	find_missing(r, cfg, o);
	r->failed = r->counts[MG_STATUS_REGRESSION] + r->counts[MG_STATUS_OVER_BUDGET] > 0;
	return MG_OK;
}

void mg_check_result_release(struct mg_check_result *r)
{
	for (size_t i = 0; i < r->n_tests; i++)
		row_release(&r->tests[i]);
	free(r->tests);
	for (size_t k = 0; k < r->n_missing; k++)
		free(r->missing[k]);
	free(r->missing);
	mg_suppress_release(&r->sup);
	memset(r, 0, sizeof(*r));
}
