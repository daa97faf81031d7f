/* json.c - reading fields of parsed JSON documents (json.h) */
#include "json.h"

const char *mg_json_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int mg_json_u64(uint64_t *out, const cJSON *v)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
	    (double)(uint64_t)v->valuedouble != v->valuedouble)
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}
