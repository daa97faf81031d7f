/* baseline.h - baselines/<test>.json: a test's accepted figures, in canonical form (docs/profile-schema.md)
 *
 * A baseline holds the gated figures of a profile's summary, its top call
 * sites (for attribution diffs), the commit it was measured at, the
 * environment fingerprint, the reason of the accept and, when several runs
 * were measured, each moving figure's range over them ("spread").  Its text is
 * canonical: keys sorted at every level, two-space indentation, integers as
 * integers, a trailing newline; the same figures always give the same bytes,
 * so diffs stay minimal and reviewable.
 */
#ifndef MEMGATE_CORE_BASELINE_H
#define MEMGATE_CORE_BASELINE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define MG_BASELINE_SCHEMA 1

struct mg_error;

/* A baseline built from a profile document; NULL when out of memory.
 * `commit` may be NULL (not in git); `reason` may be NULL. */
cJSON *mg_baseline_from_profile(const cJSON *profile, const char *commit, int dirty,
				const char *reason);

/* obj's figure `name` as an exact count (at most UINT64_MAX, read from the
 * number's text: util/json.h): 1 and *out, or 0 when absent or not an integer
 * from 0 to UINT64_MAX. */
int mg_json_figure(uint64_t *out, const cJSON *obj, const char *name);

/* The spread of figure `name` that `baseline` measured over several runs
 * (docs/baselines.md, "The spread"): 1 with the lowest and highest run in
 * *lo and *hi; 0 when it has none (the figure is exact); -1 when the entry
 * is malformed (not {"min": N, "max": N} with min <= max). */
int mg_baseline_spread(uint64_t *lo, uint64_t *hi, const cJSON *baseline, const char *name);

/* The canonical text of any JSON document (see above); malloc'd, NULL on OOM. */
char *mg_json_canonical(const cJSON *doc);

/* Parses a profile or baseline file's text strictly (util/json.h): MG_EINVALID
 * with "NAME:LINE:COL: ..." when it is not valid JSON, "NAME: ..." when it is
 * not a memgate document of that kind ("profile"/"baseline") or a figure that
 * can be gated (summary, suppressed, figures) is not an exact count. */
int mg_json_load_doc(cJSON **out, const char *text, size_t len, const char *name,
		     const char *kind, struct mg_error *err);

/* 1 when two baselines have the same figures and sites (commit, reason,
 * environment and the noisy peak RSS aside): accepting again would change
 * nothing that gates. */
int mg_baseline_same(const cJSON *a, const cJSON *b);

#endif
