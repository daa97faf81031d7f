/* compare.h - decide whether a test's profile regressed against its baseline (docs/baselines.md, "The verdict")
 *
 * Pure: a profile document and a baseline document in, a struct mg_verdict
 * out; no I/O, nothing printed.  A regression is data, not an error:
 * mg_compare() returns MG_OK and the caller (cmd_check) turns the verdict
 * into an exit code.  Thread-safe as long as the inputs are not modified.
 */
#ifndef MEMGATE_CORE_COMPARE_H
#define MEMGATE_CORE_COMPARE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct mg_error;

/* Ordered by severity: a test's verdict is the worst of its metrics'. */
enum mg_status {
	MG_STATUS_PASS = 0,         /* within the tolerance of the baseline */
	MG_STATUS_IMPROVED,         /* below the baseline (its lowest run) by more than the tolerance */
	MG_STATUS_NEW,              /* no baseline (test or figure): reported, never a failure */
	MG_STATUS_REGRESSION,       /* above baseline (its spread's ceiling) + tolerance */
	MG_STATUS_OVER_BUDGET       /* above an absolute `limit:`, with or without a baseline */
};

/* "pass", "improved", "new", "regression", "over budget"; static storage. */
const char *mg_status_name(enum mg_status s);

/* What a figure whose baseline's runs went from lo to hi is allowed before
 * its tolerance: hi + (hi - lo), saturated (docs/baselines.md, "The
 * verdict").  lo == hi (no spread): the baseline itself. */
uint64_t mg_spread_ceiling(uint64_t lo, uint64_t hi);

struct mg_metric_verdict {
	enum mg_metric metric;
	enum mg_status status;
	uint64_t current;           /* the profile's summary figure */
	int has_baseline;           /* the baseline holds this figure */
	uint64_t baseline;          /* valid when has_baseline */
	int has_spread;             /* the baseline measured the figure moving over several runs */
	uint64_t spread_min, spread_max; /* when has_spread: its lowest and highest run (they
				     * hold the baseline); else both the baseline */
	int has_tolerance;          /* gated by a tolerance (else only by a limit) */
	uint64_t allowed;           /* largest passing value: min(tolerance of
				     * mg_spread_ceiling(spread_min, spread_max), limit);
				     * without a baseline: the limit, or UINT64_MAX */
	int has_limit;
	uint64_t limit;             /* valid when has_limit */
};

/* 1 when `m` passes with the very figure of its baseline: the tables show
 * these apart (docs/cli.md, "Output"; docs/github.md) */
int mg_metric_unchanged(const struct mg_metric_verdict *m);

/* A call site whose bytes grew against the baseline (docs/baselines.md, "The verdict": "peak +2.3 MiB,
 * 91% from parse_row at src/csv.c:212"). */
struct mg_site_growth {
	enum mg_metric metric;      /* MG_METRIC_PEAK_BYTES (peak_sites) or _LEAKED_BYTES (leak_sites) */
	char *site;                 /* baseline.c's site name */
	uint64_t baseline, current; /* the site's bytes; baseline 0: a new site */
	double share;               /* delta / the summed deltas of the metric's sites that grew */
};

#define MG_GROWTH_MAX 5             /* sites kept per metric */

struct mg_verdict {
	enum mg_status status;      /* the worst metric's; MG_STATUS_NEW without a baseline */
	int is_new;                 /* no baseline document at all */
	struct mg_metric_verdict metrics[MG_METRIC_COUNT]; /* only the gated metrics */
	size_t n_metrics;
	char **new_leaks;           /* leak sites (baseline.c names) the baseline lacks */
	size_t n_new_leaks;
	struct mg_site_growth *grew; /* per metric, largest delta first; only metrics that grew */
	size_t n_grew;
	int env_mismatch;           /* libc, arch or compiler differ from the baseline's */
	char env_detail[256];       /* "libc 2.36 -> 2.37" for the first difference */
};

/*
 * Compares `profile` (a profile document) with `baseline` (a baseline
 * document; NULL: the test has none, it is new) under the tolerances and
 * limits that `cfg` gives `test` (NULL: the defaults).  Only metrics with a
 * tolerance or a limit are gated and listed.  Fills *out (the caller's;
 * release it with mg_verdict_release()).  MG_EINVALID: the baseline's spread
 * of a gated figure is malformed; MG_ERROR: out of memory.
 */
int mg_compare(struct mg_verdict *out, const cJSON *profile, const cJSON *baseline,
	       const struct mg_config *cfg, const struct mg_test *test, struct mg_error *err);

/* Frees what *v holds (not v itself); a zeroed verdict is fine. */
void mg_verdict_release(struct mg_verdict *v);

#endif
