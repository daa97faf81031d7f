/* compare.c - decide whether a profile regressed against its baseline */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"
#include "baseline.h"
#include "compare.h"
#include "suppress.h"

const char *mg_status_name(enum mg_status s)
{
	switch (s) {
	case MG_STATUS_PASS: return "pass";
	case MG_STATUS_IMPROVED: return "improved";
	case MG_STATUS_NEW: return "new";
	case MG_STATUS_REGRESSION: return "regression";
	case MG_STATUS_OVER_BUDGET: return "over budget";
	}
	return "?";
}

int mg_metric_unchanged(const struct mg_metric_verdict *m)
{
	return m->status == MG_STATUS_PASS && m->has_baseline && m->current == m->baseline;
}

/*
 * The value a figure is allowed before its tolerance (docs/baselines.md,
 * "The verdict"): its baseline, or with a measured spread its highest run
 * plus the spread's width again.  A new run of a figure that moves beats the
 * highest of N accepted runs about once in N + 1; one width above it is a
 * run the accepted ones would have had to miss by as much as they differ
 * among themselves.  Saturates at UINT64_MAX.
 */
uint64_t mg_spread_ceiling(uint64_t lo, uint64_t hi)
{
	uint64_t width = hi > lo ? hi - lo : 0;
	return hi > UINT64_MAX - width ? UINT64_MAX : hi + width;
}

/*
 * docs/baselines.md, "The verdict": a figure whose baseline measured a spread
 * is allowed its highest run plus the spread's width plus the tolerance of
 * that, and is improved only below its lowest run by more than the
 * tolerance; an exact figure (no spread, width 0) is both.
 */
static void compare_metric(struct mg_metric_verdict *mv, const struct mg_tolerance *tol)
{
	mv->status = MG_STATUS_PASS;
	mv->allowed = UINT64_MAX;
	if (mv->has_baseline && tol) {
		uint64_t lo = mv->spread_min, hi = mv->spread_max;
		mv->allowed = mg_tolerance_allowed(tol, mg_spread_ceiling(lo, hi));
		if (mv->current > mv->allowed)
			mv->status = MG_STATUS_REGRESSION;
		/* symmetric: a drop larger than the tolerance is worth ratcheting */
		else if (mv->current < lo && lo - mv->current > mg_tolerance_allowed(tol, lo) - lo)
			mv->status = MG_STATUS_IMPROVED;
	} else if (tol) {
		mv->status = MG_STATUS_NEW;
	}
	if (mv->has_limit) {
		if (mv->limit < mv->allowed)
			mv->allowed = mv->limit;
		if (mv->current > mv->limit)
			mv->status = MG_STATUS_OVER_BUDGET;
	}
}

/*
 * docs/baselines.md, "The verdict": a profile of several runs (`repeat`, the
 * re-runs that confirm) is improved in a figure only when every one of its
 * runs is: one lucky run of a test whose figures move is not an improvement.
 * A run's figure is taken as gated, less what the suppressions hide.
 */
static int improved_in_every_run(const struct mg_metric_verdict *mv, const struct mg_tolerance *tol,
				 const cJSON *profile, const char *name)
{
	const cJSON *r;
	uint64_t hidden = 0;
	mg_json_figure(&hidden, cJSON_GetObjectItem(profile, "suppressed"), name);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(profile, "runs")) {
		struct mg_metric_verdict one = *mv;
		if (!mg_json_figure(&one.current, r, name))
			continue;
		one.current = hidden < one.current ? one.current - hidden : 0;
		compare_metric(&one, tol);
		if (one.status != MG_STATUS_IMPROVED)
			return 0;
	}
	return 1;
}

/* the leak sites of `b` (a baseline document) missing from `old` */
static int new_leak_sites(struct mg_verdict *v, const cJSON *b, const cJSON *old)
{
	const cJSON *s, *o;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(b, "leak_sites")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "site"));
		int seen = 0;
		if (!name)
			continue;
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(old, "leak_sites")) {
			const char *on = cJSON_GetStringValue(cJSON_GetObjectItem(o, "site"));
			if (on && !strcmp(on, name)) {
				seen = 1;
				break;
			}
		}
		if (seen)
			continue;
		char **nv = realloc(v->new_leaks, (v->n_new_leaks + 1) * sizeof(*nv));
		if (!nv)
			return MG_ERROR;
		v->new_leaks = nv;
		if (!(nv[v->n_new_leaks] = strdup(name)))
			return MG_ERROR;
		v->n_new_leaks++;
	}
	return MG_OK;
}

static uint64_t site_bytes(const cJSON *s)
{
	uint64_t v = 0;
	mg_json_figure(&v, s, "bytes");
	return v;
}

static int by_delta(const void *a, const void *b)
{
	const struct mg_site_growth *x = a, *y = b;
	uint64_t dx = x->current - x->baseline, dy = y->current - y->baseline;
	if (dx != dy)
		return dx < dy ? 1 : -1;
	return strcmp(x->site, y->site);
}

/*
 * docs/baselines.md, "The verdict": the call sites that grew most, for a metric whose total grew.
 * `list` names the site lists of the baseline documents `cur` (built from the
 * profile) and `old`.  Sites are the top ten of each side, so a site absent
 * from `old` may have been just below its cut: its growth is then an upper
 * bound, which is what a reviewer needs to look at first.  A site's share is
 * its growth over the growth of all sites that grew (sites that shrank do
 * not offset it), so the shares of a metric add up to 1.
 */
static int site_growth(struct mg_verdict *v, enum mg_metric metric, const char *list,
		       const cJSON *cur, const cJSON *old)
{
	const char *name = mg_metric_name(metric);
	uint64_t now = 0, before = 0;
	const cJSON *s, *o;
	size_t first = v->n_grew;

	if (!mg_json_figure(&now, cJSON_GetObjectItem(cur, "figures"), name) ||
	    !mg_json_figure(&before, cJSON_GetObjectItem(old, "figures"), name) || now <= before)
		return MG_OK;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(cur, list)) {
		const char *site = cJSON_GetStringValue(cJSON_GetObjectItem(s, "site"));
		uint64_t c = site_bytes(s), b = 0;
		if (!site)
			continue;
		cJSON_ArrayForEach(o, cJSON_GetObjectItem(old, list)) {
			const char *os = cJSON_GetStringValue(cJSON_GetObjectItem(o, "site"));
			if (os && !strcmp(os, site)) {
				b = site_bytes(o);
				break;
			}
		}
		if (c <= b)
			continue;
		struct mg_site_growth *ng = realloc(v->grew, (v->n_grew + 1) * sizeof(*ng));
		if (!ng)
			return MG_ERROR;
		v->grew = ng;
		ng[v->n_grew] = (struct mg_site_growth){ .metric = metric, .baseline = b, .current = c };
		if (!(ng[v->n_grew].site = strdup(site)))
			return MG_ERROR;
		v->n_grew++;
	}
	/* shares of the growth summed over the sites that grew: they add up to 1 */
	double grown = 0;
	for (size_t k = first; k < v->n_grew; k++)
		grown += (double)(v->grew[k].current - v->grew[k].baseline);
	for (size_t k = first; k < v->n_grew; k++)
		v->grew[k].share = (double)(v->grew[k].current - v->grew[k].baseline) / grown;
	if (v->n_grew > first)                /* (grew is NULL while empty) */
		qsort(v->grew + first, v->n_grew - first, sizeof(*v->grew), by_delta);
	for (size_t k = first + MG_GROWTH_MAX; k < v->n_grew; k++)
		free(v->grew[k].site);
	if (v->n_grew > first + MG_GROWTH_MAX)
		v->n_grew = first + MG_GROWTH_MAX;
	return MG_OK;
}

static void compare_env(struct mg_verdict *v, const cJSON *cur, const cJSON *base)
{
	static const char *const keys[] = { "libc", "arch", "compiler" };
	if (!cJSON_IsObject(cur) || !cJSON_IsObject(base))
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *a = cJSON_GetObjectItem(base, keys[i]), *b = cJSON_GetObjectItem(cur, keys[i]);
		const char *as = cJSON_GetStringValue(a), *bs = cJSON_GetStringValue(b);
		if ((!a || cJSON_IsNull(a)) && (!b || cJSON_IsNull(b)))
			continue;
		if (as && bs && !strcmp(as, bs))
			continue;
		v->env_mismatch = 1;
		snprintf(v->env_detail, sizeof(v->env_detail), "%s '%s' -> '%s'", keys[i],
			 as ? as : "?", bs ? bs : "?");
		return;
	}
}

int mg_compare(struct mg_verdict *out, const cJSON *profile, const cJSON *baseline,
	       const struct mg_config *cfg, const struct mg_test *test, struct mg_error *err)
{
	const cJSON *fig = cJSON_GetObjectItem(baseline, "figures");
	cJSON *cur = NULL;

	memset(out, 0, sizeof(*out));
	out->is_new = baseline == NULL;
	out->status = out->is_new ? MG_STATUS_NEW : MG_STATUS_PASS;
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const struct mg_tolerance *tol = mg_config_tolerance(cfg, test, (enum mg_metric)m);
		struct mg_metric_verdict mv = { .metric = (enum mg_metric)m };
		const char *name = mg_metric_name((enum mg_metric)m);
		mv.has_limit = mg_config_limit(&mv.limit, cfg, test, (enum mg_metric)m);
		if (!tol && !mv.has_limit)
			continue;
		if (!mg_gated_figure(&mv.current, profile, name))
			continue;             /* not measured (an older profile): nothing to gate */
		mv.has_baseline = baseline && mg_json_figure(&mv.baseline, fig, name);
		mv.spread_min = mv.spread_max = mv.baseline;
		if (mv.has_baseline) {
			int sp = mg_baseline_spread(&mv.spread_min, &mv.spread_max, baseline, name);
			if (sp < 0) {
				mg_verdict_release(out);
				return mg_error_set(err, MG_EINVALID, "the baseline of test '%s': "
						    "\"spread\" of %s: expected {\"min\": N, "
						    "\"max\": N} with min <= max",
						    cJSON_GetStringValue(cJSON_GetObjectItem(baseline,
									    "test")) ?: "?", name);
			}
			mv.has_spread = sp > 0;
			/* the figure lies in its range, even in a hand-edited file */
			if (mv.baseline < mv.spread_min)
				mv.spread_min = mv.baseline;
			if (mv.baseline > mv.spread_max)
				mv.spread_max = mv.baseline;
		}
		mv.has_tolerance = tol != NULL;
		compare_metric(&mv, tol);
		if (mv.status == MG_STATUS_IMPROVED && !improved_in_every_run(&mv, tol, profile, name))
			mv.status = MG_STATUS_PASS;
		/* a new figure of a known test does not make the test new */
		if (mv.status > out->status && !(mv.status == MG_STATUS_NEW && !out->is_new))
			out->status = mv.status;
		out->metrics[out->n_metrics++] = mv;
	}
	if (!baseline)
		return MG_OK;
	compare_env(out, cJSON_GetObjectItem(profile, "environment"),
		    cJSON_GetObjectItem(baseline, "environment"));
	/* the same site names as accept would write: baseline.c builds them */
	if (!(cur = mg_baseline_from_profile(profile, NULL, 0, NULL)) ||
	    new_leak_sites(out, cur, baseline) != MG_OK ||
	    site_growth(out, MG_METRIC_PEAK_BYTES, "peak_sites", cur, baseline) != MG_OK ||
	    site_growth(out, MG_METRIC_LEAKED_BYTES, "leak_sites", cur, baseline) != MG_OK) {
		cJSON_Delete(cur);
		mg_verdict_release(out);
		return mg_error_set(err, MG_ERROR, "out of memory");
	}
	cJSON_Delete(cur);
	return MG_OK;
}

void mg_verdict_release(struct mg_verdict *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_new_leaks; i++)
		free(v->new_leaks[i]);
	free(v->new_leaks);
	v->new_leaks = NULL;
	v->n_new_leaks = 0;
	for (size_t i = 0; i < v->n_grew; i++)
		free(v->grew[i].site);
	free(v->grew);
	v->grew = NULL;
	v->n_grew = 0;
}
