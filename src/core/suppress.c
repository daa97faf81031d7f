/* suppress.c - memgate.yml's suppressions applied to a profile's leaks */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/json.h"
#include "baseline.h"
#include "config.h"
#include "lsan_match.h"
#include "metric.h"
#include "sites.h"
#include "suppress.h"

#define MAX_FRAMES 256

/* the leak figures a suppression takes away: metric.h's LEAK and KIND */
static int hidable(int m)
{
	enum mg_metric_class c = mg_metric_info((enum mg_metric)m)->class;
	return c == MG_METRIC_LEAK_CLASS || c == MG_METRIC_KIND_CLASS;
}

/* a stack's count, exactly (beyond 2^53 too); 0 when absent or not a count */
static uint64_t num(const cJSON *o, const char *name)
{
	uint64_t v;
	return mg_json_u64(&v, cJSON_GetObjectItem(o, name)) == 0 ? v : 0;
}

/* a + b, at most UINT64_MAX */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* every leak and peak stack's call site, as memgate.yml's skip-frames say (sites.h) */
static int name_sites(cJSON *profile, const struct mg_config *cfg)
{
	static const char *const lists[] = { "leak_stacks", "peak_stacks" };
	cJSON *p, *st;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(profile, "processes")) {
		for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
			cJSON_ArrayForEach(st, cJSON_GetObjectItem(p, lists[l])) {
				char *site = mg_site_name_json(cJSON_GetObjectItem(st, "frames"),
							       cfg->skip_frames);
				cJSON_DeleteItemFromObject(st, "site");
				if (!site || !cJSON_AddStringToObject(st, "site", site)) {
					free(site);
					return -1;
				}
				free(site);
			}
		}
	}
	return 0;
}

int mg_suppress_init(struct mg_suppress_state *st, const struct mg_config *cfg)
{
	st->cfg = cfg;
	st->n = cfg->n_suppressions;
	st->use = calloc(st->n + 1, sizeof(*st->use));
	return st->use ? 0 : -1;
}

void mg_suppress_release(struct mg_suppress_state *st)
{
	free(st->use);
	st->use = NULL;
	st->n = 0;
}

int mg_suppress_stack(struct mg_suppress_state *st, const struct mg_frame_names *frames, size_t n,
		      uint64_t bytes)
{
	size_t i, f;
	for (i = 0; i < st->n; i++) {
		const struct mg_suppression *s = &st->cfg->suppressions[i];
		struct mg_suppress_use *u = &st->use[i];
		int hit = 0;
		for (f = 0; f < n && !hit; f++)
			hit = mg_lsan_match(s->pattern, frames[f].function) ||
			      mg_lsan_match(s->pattern, frames[f].module) ||
			      mg_lsan_match(s->pattern, frames[f].file);
		if (!hit)
			continue;
		if (s->has_max && (u->test_bytes > s->max_bytes || bytes > s->max_bytes - u->test_bytes)) {
			u->capped++;
			continue;
		}
		u->used++;
		u->test_bytes += bytes;
		return (int)i;
	}
	return -1;
}

void mg_suppress_begin_test(struct mg_suppress_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		st->use[i].test_bytes = 0;
}

int mg_suppress_profile(cJSON *profile, struct mg_suppress_state *sst)
{
	uint64_t hidden[MG_METRIC_COUNT] = { 0 };
	struct mg_frame_names fr[MAX_FRAMES];
	cJSON *p, *st, *sup;
	int n_hidden = 0;

	cJSON_DeleteItemFromObject(profile, "suppressed");   /* applied once per document */
	if (name_sites(profile, sst->cfg) < 0)
		return -1;
	if (!sst->n)
		return 0;
	mg_suppress_begin_test(sst);
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(profile, "processes")) {
		cJSON_ArrayForEach(st, cJSON_GetObjectItem(p, "leak_stacks")) {
			const cJSON *f;
			size_t n = 0;
			cJSON_ArrayForEach(f, cJSON_GetObjectItem(st, "frames")) {
				if (n == MAX_FRAMES)
					break;
				fr[n].function = cJSON_GetStringValue(cJSON_GetObjectItem(f, "function"));
				fr[n].module = cJSON_GetStringValue(cJSON_GetObjectItem(f, "module"));
				fr[n].file = cJSON_GetStringValue(cJSON_GetObjectItem(f, "file"));
				n++;
			}
			cJSON_DeleteItemFromObject(st, "suppressed");
			if (cJSON_GetObjectItem(st, "runtime"))
				continue;     /* the runtime's: set apart already */
			int i = mg_suppress_stack(sst, fr, n, num(st, "bytes"));
			if (i < 0)
				continue;
			if (!cJSON_AddStringToObject(st, "suppressed", sst->cfg->suppressions[i].pattern))
				return -1;
			/* "bytes"/"blocks" of a stack are its leaked_bytes/_blocks */
			hidden[MG_METRIC_LEAKED_BYTES] = sat_add(hidden[MG_METRIC_LEAKED_BYTES],
								 num(st, "bytes"));
			hidden[MG_METRIC_LEAKED_BLOCKS] = sat_add(hidden[MG_METRIC_LEAKED_BLOCKS],
								  num(st, "blocks"));
			for (int m = 0; m < MG_METRIC_COUNT; m++)
				if (mg_metric_info((enum mg_metric)m)->class == MG_METRIC_KIND_CLASS)
					hidden[m] = sat_add(hidden[m],
							    num(st, mg_metric_name((enum mg_metric)m)));
			n_hidden++;
		}
	}
	if (!(sup = cJSON_AddObjectToObject(profile, "suppressed")))
		return -1;
	for (int m = 0; m < MG_METRIC_COUNT; m++)
		if (hidable(m))            /* exact (util/json.h): mg_gated_figure reads them back */
			cJSON_AddItemToObject(sup, mg_metric_name((enum mg_metric)m),
					      mg_json_create_u64(hidden[m]));
	cJSON_AddNumberToObject(sup, "stacks", n_hidden);
	return n_hidden;
}

int mg_gated_figure(uint64_t *out, const cJSON *profile, const char *name)
{
	const cJSON *sum = cJSON_GetObjectItem(profile, "summary");
	uint64_t x, h = 0, r = 0;
	if (!mg_json_figure(&x, sum, name))
		return 0;
	mg_json_figure(&h, cJSON_GetObjectItem(profile, "suppressed"), name);
	/* runtime-owned blocks are never the test's (docs/profile-schema.md) */
	if (!strcmp(name, "leaked_bytes"))
		mg_json_figure(&r, sum, "leaked_runtime_bytes");
	else if (!strcmp(name, "leaked_blocks"))
		mg_json_figure(&r, sum, "leaked_runtime_blocks");
	*out = h + r < x ? x - h - r : 0;
	return 1;
}
