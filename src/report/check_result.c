/* check_result.c - the check result (docs/check-result.md): its one writer and what its readers share */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/check.h"
#include "../util/error.h"
#include "../util/json.h"
#include "check_result.h"
#include "version.h"

/* a figure, exactly: written as its integer beyond 2^53 too (mg_json_print) */
static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	cJSON_AddItemToObject(o, key, mg_json_create_u64(v));
}

static void add_u64_or_null(cJSON *o, const char *key, int has, uint64_t v)
{
	if (has)
		add_u64(o, key, v);
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

/* one test's entry of the check result */
static cJSON *test_doc(const struct mg_check_test *row, const char *result_dir)
{
	char path[PATH_MAX + 256];
	const struct mg_verdict *v = &row->v;
	cJSON *t = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *leaks = cJSON_CreateArray();
	cJSON *grew = cJSON_CreateArray();
	cJSON_AddStringToObject(t, "name", row->name);
	cJSON_AddStringToObject(t, "verdict", mg_status_name(v->status));
	profile_ref(path, sizeof(path), row->dir, row->name, result_dir);
	cJSON_AddStringToObject(t, "profile", path);
	for (size_t k = 0; k < v->n_metrics; k++) {
		const struct mg_metric_verdict *m = &v->metrics[k];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
		add_u64(o, "current", m->current);
		add_u64_or_null(o, "baseline", m->has_baseline, m->baseline);
		add_u64_or_null(o, "allowed", m->allowed != UINT64_MAX, m->allowed);
		add_u64_or_null(o, "limit", m->has_limit, m->limit);
		if (m->has_spread) {
			cJSON *sp = cJSON_AddObjectToObject(o, "spread");
			add_u64(sp, "min", m->spread_min);
			add_u64(sp, "max", m->spread_max);
		} else {
			cJSON_AddNullToObject(o, "spread");
		}
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
		add_u64(o, "baseline", g->baseline);
		add_u64(o, "current", g->current);
		add_u64(o, "delta", g->current - g->baseline);  /* only sites that grew */
		cJSON_AddNumberToObject(o, "share", (double)(long)(g->share * 1000 + 0.5) / 1000);
		cJSON_AddItemToArray(grew, o);
	}
	cJSON_AddItemToObject(t, "grew", grew);
	cJSON_AddBoolToObject(t, "environment_mismatch", v->env_mismatch);
	if (v->env_mismatch)
		cJSON_AddStringToObject(t, "environment_detail", v->env_detail);
	else
		cJSON_AddNullToObject(t, "environment_detail");
	cJSON_AddBoolToObject(t, "accepted_in_change", row->accepted);
	if (row->accepted) {
		cJSON *deltas = cJSON_CreateArray();
		for (size_t k = 0; k < row->v_base.n_metrics; k++) {
			const struct mg_metric_verdict *m = &row->v_base.metrics[k];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "metric", mg_metric_name(m->metric));
			add_u64_or_null(o, "base", m->has_baseline, m->baseline);
			add_u64(o, "current", m->current);
			cJSON_AddItemToArray(deltas, o);
		}
		cJSON_AddItemToObject(t, "against_base", deltas);
	}
	if (row->stale >= 0)
		cJSON_AddNumberToObject(t, "staleness_commits", (double)row->stale);
	else
		cJSON_AddNullToObject(t, "staleness_commits");
	cJSON *so = cJSON_AddObjectToObject(t, "suppressed");
	add_u64(so, "leaked_bytes", row->sup_bytes);
	add_u64(so, "leaked_blocks", row->sup_blocks);
	add_u64(so, "stacks", row->sup_stacks);
	cJSON_AddItemToObject(t, "untraced", row->untraced ?
			      cJSON_Duplicate(row->untraced, 1) : cJSON_CreateArray());
	cJSON_AddBoolToObject(t, "untraced_allowed", row->untraced_allowed);
	cJSON_AddItemToObject(t, "warnings", row->warnings ?
			      cJSON_Duplicate(row->warnings, 1) : cJSON_CreateArray());
	cJSON_AddNumberToObject(t, "runs", row->runs);
	if (row->confirmed >= 0)
		cJSON_AddBoolToObject(t, "confirmed_by_rerun", row->confirmed);
	else
		cJSON_AddNullToObject(t, "confirmed_by_rerun");
	return t;
}

cJSON *mg_check_result_doc(const struct mg_check_result *r, const struct mg_check_doc_info *ri)
{
	cJSON *doc = cJSON_CreateObject(), *tests = cJSON_CreateArray(), *miss, *cnt;
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
	if (ri->base_commit)
		cJSON_AddStringToObject(doc, "baseline_commit", ri->base_commit);
	else
		cJSON_AddNullToObject(doc, "baseline_commit");
	if (ri->head_commit)
		cJSON_AddStringToObject(doc, "head_commit", ri->head_commit);
	else
		cJSON_AddNullToObject(doc, "head_commit");
	if (ri->dirty >= 0)
		cJSON_AddBoolToObject(doc, "dirty", ri->dirty);
	else
		cJSON_AddNullToObject(doc, "dirty");
	cJSON_AddStringToObject(doc, "verdict", r->failed ? "regression" :
				r->n_unmeasured ? "unmeasured" : "pass");
	cJSON_AddItemToObject(doc, "counts", cnt = cJSON_CreateObject());
	for (int st = MG_STATUS_PASS; st <= MG_STATUS_OVER_BUDGET; st++)
		cJSON_AddNumberToObject(cnt, mg_status_name((enum mg_status)st), (double)r->counts[st]);
	cJSON_AddItemToObject(doc, "missing", miss = cJSON_CreateArray());
	for (size_t k = 0; k < r->n_missing; k++)
		cJSON_AddItemToArray(miss, cJSON_CreateString(r->missing[k]));
	cJSON *sups = cJSON_AddArrayToObject(doc, "suppressions");
	for (size_t k = 0; k < r->sup.n; k++) {
		const struct mg_suppression *s = &r->sup.cfg->suppressions[k];
		const struct mg_suppress_use *u = &r->sup.use[k];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "leak", s->pattern);
		cJSON_AddNumberToObject(o, "line", s->pos.line);
		add_u64_or_null(o, "max_bytes", s->has_max, s->max_bytes);
		cJSON_AddNumberToObject(o, "used", (double)u->used);
		cJSON_AddNumberToObject(o, "capped", (double)u->capped);
		cJSON_AddItemToArray(sups, o);
	}
	cJSON_AddItemToObject(doc, "tests", tests);
	for (size_t i = 0; i < r->n_tests; i++)
		cJSON_AddItemToArray(tests, test_doc(&r->tests[i], ri->result_dir));
	return doc;
}

int mg_check_verdict_fails(const char *verdict)
{
	return verdict && (!strcmp(verdict, "regression") || !strcmp(verdict, "over budget"));
}

void mg_check_equal_phrase(char *buf, size_t n, size_t figures, size_t tests)
{
	snprintf(buf, n, "%zu gated figure%s of %zu test%s equal%s %s baseline%s", figures,
		 figures == 1 ? "" : "s", tests, tests == 1 ? "" : "s", figures == 1 ? "s" : "",
		 figures == 1 ? "its" : "their", figures == 1 ? "" : "s");
}

int mg_check_result_validate(const cJSON *doc, const char *name, struct mg_error *err)
{
	const char *kind;
	if (!cJSON_IsObject(doc))
		return mg_error_set(err, MG_EINVALID, "%s: not a memgate check result", name);
	kind = mg_json_str(doc, "kind");
	if ((cJSON_GetObjectItemCaseSensitive(doc, "kind") && (!kind || strcmp(kind, "memgate-check"))) ||
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "schema")) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "tests")))
		return mg_error_set(err, MG_EINVALID, "%s: not a memgate check result", name);
	if (cJSON_GetObjectItemCaseSensitive(doc, "schema")->valuedouble != 1)
		return mg_error_set(err, MG_EINVALID, "%s: check result schema %g, this memgate "
				    "reads schema 1", name, cJSON_GetObjectItemCaseSensitive(doc, "schema")->valuedouble);
	return MG_OK;
}
