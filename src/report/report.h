/* report.h - profiles rendered for people and exported for other tools (docs/reports.md)
 *
 * Pure: profile documents (cJSON, as loaded by mg_json_load_doc) go in, text
 * comes out; nothing here prints.  Every renderer reads the per-process stack
 * table ("frames" and "stacks", docs/profile-schema.md): a profile without it
 * (written by an older memgate) is MG_EINVALID.  Errors name the profile by
 * its test name.  Not thread-safe only in the sense that the inputs must not
 * change meanwhile; no global state.
 */
#ifndef MEMGATE_REPORT_REPORT_H
#define MEMGATE_REPORT_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct mg_error;

enum mg_report_format {
	MG_REPORT_FOLDED,       /* flamegraph.pl / inferno: "root;...;leaf value" lines */
	MG_REPORT_SPEEDSCOPE,   /* speedscope's file format: one sampled profile per weight */
	MG_REPORT_BMF,          /* Bencher Metric Format */
	MG_REPORT_GAB,          /* github-action-benchmark, customSmallerIsBetter */
	MG_REPORT_DHAT          /* valgrind DHAT JSON (dh_view.html), the process that peaked */
};

/* The per-stack figure a flame graph weighs stacks by (the "stacks" columns). */
enum mg_report_weight {
	MG_WEIGHT_TOTAL_BYTES, MG_WEIGHT_ALLOCS, MG_WEIGHT_PEAK_BYTES, MG_WEIGHT_PEAK_BLOCKS,
	MG_WEIGHT_LEAKED_BYTES, MG_WEIGHT_LEAKED_BLOCKS, MG_WEIGHT_COUNT
};

/* Names as on the command line ("folded", "total_bytes"); -1: unknown. */
int mg_report_format_parse(const char *name);
int mg_report_weight_parse(const char *name);
extern const char *const mg_report_format_names[];   /* NULL-terminated */
extern const char *const mg_report_weight_names[];   /* MG_WEIGHT_COUNT entries */

/* Whether a format takes several profiles at once (BMF, github-action-benchmark). */
int mg_report_format_multi(enum mg_report_format fmt);

/*
 * Exports profiles[0..n-1] (n == 1 unless mg_report_format_multi) in `fmt`;
 * `weight` is folded's (the others carry every weight).  *out is malloc'd
 * text of *len bytes, ending in a newline.  MG_EINVALID: a profile lacks what
 * the export needs (message names it); MG_ERROR: out of memory.
 */
int mg_report_export(char **out, size_t *len, enum mg_report_format fmt,
		     const cJSON *const *profiles, size_t n, enum mg_report_weight weight,
		     struct mg_error *err);

/*
 * The self-contained HTML page of one profile: timeline, flame graphs, call
 * site tables and, when `baseline` (a baselines/<test>.json document) is not
 * NULL, the call sites that grew or shrank against it.  No network: scripts,
 * styles and data are inline.  *out is malloc'd.
 */
int mg_report_html(char **out, size_t *len, const cJSON *profile, const cJSON *baseline,
		   struct mg_error *err);

/* mg_report_html written atomically to `path` (profiles/<test>.html). */
int mg_report_html_write(const char *path, const cJSON *profile, const cJSON *baseline,
			 struct mg_error *err);

#endif
