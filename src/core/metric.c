/* metric.c - the table of metric.h */
#include <string.h>

#include "metric.h"

static const struct mg_metric_info metrics[MG_METRIC_COUNT] = {
#define X(id, name, unit, class, gated) \
	[MG_METRIC_##id] = { name, unit, MG_METRIC_##class##_CLASS, gated },
	MG_METRICS(X)
#undef X
};

const struct mg_metric_info *mg_metric_info(enum mg_metric m)
{
	return (unsigned)m < MG_METRIC_COUNT ? &metrics[m] : NULL;
}

const char *mg_metric_name(enum mg_metric m)
{
	return (unsigned)m < MG_METRIC_COUNT ? metrics[m].name : "?";
}

int mg_metric_from_name(const char *name)
{
	for (int i = 0; i < MG_METRIC_COUNT; i++)
		if (!strcmp(metrics[i].name, name))
			return i;
	return -1;
}

int mg_metric_is_bytes(enum mg_metric m)
{
	return (unsigned)m < MG_METRIC_COUNT && !strcmp(metrics[m].unit, "bytes");
}

int mg_metric_name_is_bytes(const char *name)
{
	int m = mg_metric_from_name(name);
	return m >= 0 && mg_metric_is_bytes((enum mg_metric)m);
}

int mg_metric_is_noisy(enum mg_metric m)
{
	return (unsigned)m < MG_METRIC_COUNT && (metrics[m].class == MG_METRIC_PEAK_CLASS ||
						 metrics[m].class == MG_METRIC_RSS_CLASS);
}
