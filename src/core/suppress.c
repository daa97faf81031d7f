/* suppress.c - memgate.yml's suppressions applied to a profile's leaks */
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "config.h"
#include "suppress.h"

#define MAX_FRAMES 256

/* the leak figures a suppression takes away, as the profile names them */
static const char *const leak_keys[] = {
	"leaked_bytes", "leaked_blocks", "definitely_lost_bytes", "definitely_lost_blocks",
	"indirectly_lost_bytes", "indirectly_lost_blocks", "possibly_lost_bytes",
	"possibly_lost_blocks", "still_reachable_bytes", "still_reachable_blocks",
};

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);
	return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

int mg_suppress_profile(cJSON *profile, struct mg_config *cfg)
{
	double hidden[sizeof(leak_keys) / sizeof(leak_keys[0])] = { 0 };
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
			hidden[0] += num(st, "bytes");
			hidden[1] += num(st, "blocks");
			for (size_t k = 2; k < sizeof(leak_keys) / sizeof(leak_keys[0]); k++)
				hidden[k] += num(st, leak_keys[k]);
			n_hidden++;
		}
	}
	if (!(sup = cJSON_AddObjectToObject(profile, "suppressed")))
		return -1;
	for (size_t k = 0; k < sizeof(leak_keys) / sizeof(leak_keys[0]); k++)
		cJSON_AddNumberToObject(sup, leak_keys[k], hidden[k]);
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
