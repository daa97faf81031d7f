/* metric.h - the figures memgate measures, one line each (docs/metrics.md)
 *
 * Every list of figures comes from MG_METRICS: the metric enum and its names
 * (config.c), the figures a baseline keeps (baseline.c), the leak figures a
 * suppression takes away (suppress.c), how runs combine (profile.c), the
 * benchmark exports (export.c) and whether a figure is printed as a size
 * (markdown.c, the terminal).  Adding a metric is one line here, and the
 * profile figure of that name.
 *
 * X(ID, "name", "unit", class, gated), in the order baselines and exports
 * list them:
 *   class  COUNT: a count over the run (the lowest of several runs);
 *          PEAK: one instant (the median-peak run's); RSS: the kernel's
 *          peak resident set (varies from run to run, never compared
 *          exactly); LEAK: everything leaked at exit; KIND: leaked, per
 *          memcheck's leak kind; RUNTIME: leaked by the C/C++ runtime
 *          itself (reported, never gated)
 *   gated  1 when memgate.yml may give it a tolerance or a limit
 */
#ifndef MEMGATE_CORE_METRIC_H
#define MEMGATE_CORE_METRIC_H

#define MG_METRICS(X) \
	X(ALLOCS,                  "allocs",                  "allocations", COUNT,   1) \
	X(FREES,                   "frees",                   "frees",       COUNT,   1) \
	X(TOTAL_BYTES,             "total_bytes",             "bytes",       COUNT,   1) \
	X(PEAK_BYTES,              "peak_bytes",              "bytes",       PEAK,    1) \
	X(PEAK_BLOCKS,             "peak_blocks",             "blocks",      PEAK,    1) \
	X(LEAKED_BYTES,            "leaked_bytes",            "bytes",       LEAK,    1) \
	X(LEAKED_BLOCKS,           "leaked_blocks",           "blocks",      LEAK,    1) \
	X(DEFINITELY_LOST_BYTES,   "definitely_lost_bytes",   "bytes",       KIND,    1) \
	X(DEFINITELY_LOST_BLOCKS,  "definitely_lost_blocks",  "blocks",      KIND,    1) \
	X(INDIRECTLY_LOST_BYTES,   "indirectly_lost_bytes",   "bytes",       KIND,    1) \
	X(INDIRECTLY_LOST_BLOCKS,  "indirectly_lost_blocks",  "blocks",      KIND,    1) \
	X(POSSIBLY_LOST_BYTES,     "possibly_lost_bytes",     "bytes",       KIND,    1) \
	X(POSSIBLY_LOST_BLOCKS,    "possibly_lost_blocks",    "blocks",      KIND,    1) \
	X(STILL_REACHABLE_BYTES,   "still_reachable_bytes",   "bytes",       KIND,    1) \
	X(STILL_REACHABLE_BLOCKS,  "still_reachable_blocks",  "blocks",      KIND,    1) \
	X(LEAKED_RUNTIME_BYTES,    "leaked_runtime_bytes",    "bytes",       RUNTIME, 0) \
	X(LEAKED_RUNTIME_BLOCKS,   "leaked_runtime_blocks",   "blocks",      RUNTIME, 0) \
	X(RSS_PEAK_BYTES,          "rss_peak_bytes",          "bytes",       RSS,     1)

enum mg_metric {
#define X(id, name, unit, class, gated) MG_METRIC_##id,
	MG_METRICS(X)
#undef X
	MG_METRIC_COUNT
};

enum mg_metric_class {
	MG_METRIC_COUNT_CLASS,      /* (COUNT) */
	MG_METRIC_PEAK_CLASS,
	MG_METRIC_RSS_CLASS,
	MG_METRIC_LEAK_CLASS,
	MG_METRIC_KIND_CLASS,
	MG_METRIC_RUNTIME_CLASS
};

struct mg_metric_info {
	const char *name;           /* as in profiles, baselines and memgate.yml */
	const char *unit;           /* "bytes", "blocks", "allocations", "frees" */
	enum mg_metric_class class;
	int gated;                  /* memgate.yml may gate it */
};

/* the row of metric m; NULL when out of range */
const struct mg_metric_info *mg_metric_info(enum mg_metric m);
/* "peak_bytes" for MG_METRIC_PEAK_BYTES; "?" when out of range.  Static storage. */
const char *mg_metric_name(enum mg_metric m);
/* the metric named `name`, or -1 */
int mg_metric_from_name(const char *name);
/* whether metric m is a number of bytes (printed as a size) */
int mg_metric_is_bytes(enum mg_metric m);
/* whether the figure of that name is a number of bytes; 0 for unknown names */
int mg_metric_name_is_bytes(const char *name);
/* whether metric m varies from run to run (the peaks, RSS) */
int mg_metric_is_noisy(enum mg_metric m);

#endif
