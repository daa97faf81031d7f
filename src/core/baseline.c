/* baseline.c - build, compare and print baselines canonically */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/error.h"
#include "../util/json.h"
#include "baseline.h"
#include "metric.h"
#include "profile.h"
#include "sites.h"
#include "suppress.h"

/* a baseline keeps every summary figure of metric.h */

#define MAX_SITES 10

struct site {
	char *name;
	double bytes, blocks;
};

static int by_bytes(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* sums the stacks of `list` over the given processes by site name; the top MAX_SITES */
static cJSON *sites(const cJSON *procs, const char *list, const cJSON *only)
{
	struct site *s = NULL;
	size_t n = 0, cap = 0;
	const cJSON *p, *st;
	cJSON *arr = cJSON_CreateArray();
	cJSON_ArrayForEach(p, procs) {
		if (only && p != only)
			continue;
		cJSON_ArrayForEach(st, cJSON_GetObjectItem(p, list)) {
			if (cJSON_GetObjectItem(st, "suppressed") || cJSON_GetObjectItem(st, "runtime"))
				continue;     /* memgate.yml hides it (suppress.c), or the runtime owns it */
			const cJSON *bytes = cJSON_GetObjectItem(st, "bytes");
			const cJSON *blocks = cJSON_GetObjectItem(st, "blocks");
			/* named by mg_suppress_profile() with memgate.yml's skip-frames, else here */
			const char *named = cJSON_GetStringValue(cJSON_GetObjectItem(st, "site"));
			char *name = named ? strdup(named)
					   : mg_site_name_json(cJSON_GetObjectItem(st, "frames"), NULL);
			size_t k;
			if (!name || !cJSON_IsNumber(bytes) || !cJSON_IsNumber(blocks)) {
				free(name);
				continue;
			}
			for (k = 0; k < n && strcmp(s[k].name, name); k++)
				;
			if (k == n) {
				if (n == cap) {
					struct site *ns = realloc(s, (cap ? 2 * cap : 16) * sizeof(*s));
					if (!ns) {
						free(name);
						continue;
					}
					s = ns;
					cap = cap ? 2 * cap : 16;
				}
				s[n++] = (struct site){ name, 0, 0 };
			} else {
				free(name);
			}
			s[k].bytes += bytes->valuedouble;
			s[k].blocks += blocks->valuedouble;
		}
	}
	if (n)
		qsort(s, n, sizeof(*s), by_bytes);
	for (size_t k = 0; k < n; k++) {
		if (k < MAX_SITES) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "blocks", s[k].blocks);
			cJSON_AddNumberToObject(o, "bytes", s[k].bytes);
			cJSON_AddStringToObject(o, "site", s[k].name);
			cJSON_AddItemToArray(arr, o);
		}
		free(s[k].name);
	}
	free(s);
	return arr;
}

int mg_json_figure(uint64_t *out, const cJSON *obj, const char *name)
{
	return mg_json_u64(out, cJSON_GetObjectItem(obj, name)) == 0;
}

/*
 * docs/baselines.md, "The spread": over the runs behind a profile (`repeat`,
 * accept's re-runs of a multithreaded test), each figure's lowest and
 * highest run, for the figures that moved.  The runs are summaries before
 * memgate.yml's suppressions: a range moves by what they hide from the
 * combined figure.  NULL: one run, nothing measured.
 */
static cJSON *spread(const cJSON *profile, const cJSON *fig)
{
	const cJSON *runs = cJSON_GetObjectItem(profile, "runs");
	const cJSON *sum = cJSON_GetObjectItem(profile, "summary");
	int n = cJSON_GetArraySize(runs);
	cJSON *o;

	if (!cJSON_IsArray(runs) || n < 2 || !(o = cJSON_CreateObject()))
		return NULL;
	cJSON_AddNumberToObject(o, "runs", n);
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		const cJSON *raw = cJSON_GetObjectItem(sum, name), *g = cJSON_GetObjectItem(fig, name);
		uint64_t rlo, rhi;
		if (!cJSON_IsNumber(raw) || !cJSON_IsNumber(g) ||
		    !mg_profile_run_range(&rlo, &rhi, profile, name))
			continue;
		double lo = (double)rlo, hi = (double)rhi;
		double hidden = raw->valuedouble - g->valuedouble;
		lo = lo - hidden < 0 ? 0 : lo - hidden;
		hi = hi - hidden < 0 ? 0 : hi - hidden;
		/* the figure itself lies in its range, whatever combined it */
		if (g->valuedouble < lo)
			lo = g->valuedouble;
		if (g->valuedouble > hi)
			hi = g->valuedouble;
		if (hi > lo) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddNumberToObject(e, "max", hi);
			cJSON_AddNumberToObject(e, "min", lo);
			cJSON_AddItemToObject(o, name, e);
		}
	}
	return o;
}

int mg_baseline_spread(uint64_t *lo, uint64_t *hi, const cJSON *baseline, const char *name)
{
	const cJSON *s = cJSON_GetObjectItem(baseline, "spread"), *e;
	if (!s || cJSON_IsNull(s))
		return 0;
	if (!cJSON_IsObject(s))
		return -1;
	if (!(e = cJSON_GetObjectItem(s, name)))
		return 0;
	if (!cJSON_IsObject(e) || !mg_json_figure(lo, e, "min") || !mg_json_figure(hi, e, "max") ||
	    *lo > *hi)
		return -1;
	return 1;
}

cJSON *mg_baseline_from_profile(const cJSON *profile, const char *commit, int dirty,
				const char *reason)
{
	const cJSON *sum = cJSON_GetObjectItem(profile, "summary");
	const cJSON *procs = cJSON_GetObjectItem(profile, "processes"), *p, *peak = NULL;
	cJSON *b = cJSON_CreateObject(), *fig = cJSON_CreateObject();
	if (!b || !fig)
		return NULL;
	/* the figures as gated: leaks that suppressions hide, and the runtime's, are not the test's */
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		const cJSON *v = cJSON_GetObjectItem(sum, name);
		uint64_t g;
		cJSON_AddItemToObject(fig, name,
				      !cJSON_IsNumber(v) ? cJSON_CreateNull()
				      : mg_gated_figure(&g, profile, name)
				      ? mg_json_create_u64(g)
				      : cJSON_Duplicate(v, 0));
	}
	/* the process of the peak (a hand-edited profile may lack the figure) */
	double top = -1;
	cJSON_ArrayForEach(p, procs) {
		const cJSON *pb = cJSON_GetObjectItem(p, "peak_bytes");
		if (cJSON_IsNumber(pb) && pb->valuedouble > top) {
			top = pb->valuedouble;
			peak = p;
		}
	}
	if (commit)
		cJSON_AddStringToObject(b, "commit", commit);
	else
		cJSON_AddNullToObject(b, "commit");
	cJSON_AddBoolToObject(b, "dirty", dirty);
	cJSON_AddItemToObject(b, "environment",
			      cJSON_Duplicate(cJSON_GetObjectItem(profile, "environment"), 1));
	cJSON_AddItemToObject(b, "figures", fig);
	cJSON_AddItemToObject(b, "leak_sites", sites(procs, "leak_stacks", NULL));
	cJSON_AddItemToObject(b, "peak_sites", sites(procs, "peak_stacks", peak));
	cJSON_AddStringToObject(b, "memgate_version",
				cJSON_GetStringValue(cJSON_GetObjectItem(profile, "memgate_version")) ?: "");
	if (reason)
		cJSON_AddStringToObject(b, "reason", reason);
	else
		cJSON_AddNullToObject(b, "reason");
	cJSON_AddNumberToObject(b, "schema", MG_BASELINE_SCHEMA);
	cJSON *spr = spread(profile, fig);
	if (spr)
		cJSON_AddItemToObject(b, "spread", spr);
	cJSON_AddStringToObject(b, "test", cJSON_GetStringValue(cJSON_GetObjectItem(
					cJSON_GetObjectItem(profile, "test"), "name")) ?: "");
	return b;
}

/* ----------------------------------------------------------- canonical text */

char *mg_json_canonical(const cJSON *doc)
{
	return mg_json_print(doc, 1);
}

/*
 * Every figure that can be gated (metric.h's gated metrics) of doc's object `field`
 * is an exact count, or null for a leak kind (unknown: the process died
 * before its exit step); `must`: none may be missing.  Else the document
 * would silently lose that gate.
 */
static int check_figures(const cJSON *doc, const char *field, int must, const char *name,
			 struct mg_error *err)
{
	const cJSON *obj = cJSON_GetObjectItem(doc, field);
	char got[64];
	if (!obj && !must)
		return MG_OK;
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const struct mg_metric_info *mi = mg_metric_info((enum mg_metric)m);
		const char *key = mi->name;
		const cJSON *v = cJSON_GetObjectItem(obj, key);
		uint64_t x;
		if (!mi->gated || mg_json_u64(&x, v) == 0 || (!v && !must) ||
		    (cJSON_IsNull(v) && mi->class == MG_METRIC_KIND_CLASS))
			continue;
		if (!v)
			snprintf(got, sizeof(got), "nothing (missing)");
		else if (cJSON_IsNumber(v))
			snprintf(got, sizeof(got), "%.40s", v->valuestring ? v->valuestring : "a number");
		else
			snprintf(got, sizeof(got), "%s", cJSON_IsString(v) ? "a string" : cJSON_IsNull(v) ?
				 "null" : cJSON_IsBool(v) ? "a boolean" : cJSON_IsArray(v) ? "an array" :
				 "an object");
		return mg_error_set(err, MG_EINVALID, "%s: %s.%s: expected a count (an integer from 0 "
				    "to 2^64-1), got %s", name, field, key, got);
	}
	return MG_OK;
}

int mg_json_load_doc(cJSON **out, const char *text, size_t len, const char *name,
		     const char *kind, struct mg_error *err)
{
	cJSON *doc;
	const cJSON *schema;
	int ret;
	if ((ret = mg_json_parse(&doc, text, len, name, err)) != MG_OK)
		return ret;
	schema = cJSON_GetObjectItem(doc, "schema");
	int is_profile = cJSON_IsObject(cJSON_GetObjectItem(doc, "summary")) &&
			 cJSON_IsArray(cJSON_GetObjectItem(doc, "processes"));
	int is_baseline = cJSON_IsObject(cJSON_GetObjectItem(doc, "figures"));
	int profile = !strcmp(kind, "profile");
	/* profiles: schema 1 (frames in the lists) or 2 (the compact stack table) */
	if (!cJSON_IsNumber(schema) || schema->valueint < 1 ||
	    schema->valueint > (profile ? MG_PROFILE_SCHEMA : 1) ||
	    (profile ? !is_profile : !is_baseline)) {
		cJSON_Delete(doc);
		return mg_error_set(err, MG_EINVALID, "%s: not a memgate %s (schema %s)", name, kind,
				    profile ? "1 or 2" : "1");
	}
	if (profile && mg_profile_expand(doc) < 0) {
		cJSON_Delete(doc);
		return mg_error_set(err, MG_EINVALID, "%s: a stack of its lists is not in its stack "
				    "table", name);
	}
	/* the figures of the kind asked for: a baseline that also looks like a
	 * profile (a summary, processes) is still gated by its "figures" */
	if ((ret = profile ? check_figures(doc, "summary", 1, name, err) : MG_OK) != MG_OK ||
	    (ret = profile ? check_figures(doc, "suppressed", 0, name, err) : MG_OK) != MG_OK ||
	    (ret = !profile ? check_figures(doc, "figures", 1, name, err) : MG_OK) != MG_OK) {
		cJSON_Delete(doc);
		return ret;
	}
	*out = doc;
	return MG_OK;
}

/* cJSON_Compare, with two absent items equal */
static int same_item(const cJSON *a, const cJSON *b)
{
	return (!a && !b) || cJSON_Compare(a, b, 1);
}

int mg_baseline_same(const cJSON *a, const cJSON *b)
{
	static const char *const keys[] = { "leak_sites", "peak_sites", "test" };
	const cJSON *fa = cJSON_GetObjectItem(a, "figures"), *fb = cJSON_GetObjectItem(b, "figures");
	const cJSON *sa = cJSON_GetObjectItem(a, "spread"), *sb = cJSON_GetObjectItem(b, "spread");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!same_item(cJSON_GetObjectItem(a, keys[i]), cJSON_GetObjectItem(b, keys[i])))
			return 0;
	/* every figure but the peak RSS, which is never compared exactly (docs/metrics.md):
	 * its noise alone must not rewrite a baseline */
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		if (mg_metric_info((enum mg_metric)m)->class != MG_METRIC_RSS_CLASS &&
		    (!same_item(cJSON_GetObjectItem(fa, name), cJSON_GetObjectItem(fb, name)) ||
		     !same_item(cJSON_GetObjectItem(sa, name), cJSON_GetObjectItem(sb, name))))
			return 0;
	}
	return 1;
}
