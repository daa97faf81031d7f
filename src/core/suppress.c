/* suppress.c - memgate.yml's suppressions applied to a profile's leaks */
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "config.h"
#include "metric.h"
#include "suppress.h"

#define MAX_FRAMES 256

/* the leak figures a suppression takes away: metric.h's LEAK and KIND */
static int hidable(int m)
{
	enum mg_metric_class c = mg_metric_info((enum mg_metric)m)->class;
	return c == MG_METRIC_LEAK_CLASS || c == MG_METRIC_KIND_CLASS;
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);
	return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

int mg_suppress_profile(cJSON *profile, struct mg_config *cfg)
{
	double hidden[MG_METRIC_COUNT] = { 0 };
	struct mg_frame_names fr[MAX_FRAMES];
	cJSON *p, *st, *sup;
	int n_hidden = 0;

	cJSON_DeleteItemFromObject(profile, "suppressed");   /* applied once per document */
	if (!cfg->n_suppressions)
		return 0;
	mg_config_suppress_begin_test(cfg);
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
			int i = mg_config_suppress(cfg, fr, n, (uint64_t)num(st, "bytes"));
			if (i < 0)
				continue;
			if (!cJSON_AddStringToObject(st, "suppressed", cfg->suppressions[i].pattern))
				return -1;
			/* "bytes"/"blocks" of a stack are its leaked_bytes/_blocks */
			hidden[MG_METRIC_LEAKED_BYTES] += num(st, "bytes");
			hidden[MG_METRIC_LEAKED_BLOCKS] += num(st, "blocks");
			for (int m = 0; m < MG_METRIC_COUNT; m++)
				if (mg_metric_info((enum mg_metric)m)->class == MG_METRIC_KIND_CLASS)
					hidden[m] += num(st, mg_metric_name((enum mg_metric)m));
			n_hidden++;
		}
	}
	if (!(sup = cJSON_AddObjectToObject(profile, "suppressed")))
		return -1;
	for (int m = 0; m < MG_METRIC_COUNT; m++)
		if (hidable(m))
			cJSON_AddNumberToObject(sup, mg_metric_name((enum mg_metric)m), hidden[m]);
	cJSON_AddNumberToObject(sup, "stacks", n_hidden);
	return n_hidden;
}

int mg_gated_figure(uint64_t *out, const cJSON *profile, const char *name)
{
	uint64_t x, h = 0;
	if (!mg_json_figure(&x, cJSON_GetObjectItem(profile, "summary"), name))
		return 0;
	mg_json_figure(&h, cJSON_GetObjectItem(profile, "suppressed"), name);
	*out = h < x ? x - h : 0;
	return 1;
}
