/* profile.h - the profile document (docs/profile-schema.md, docs/profile-schema.md) built from a trace
 *
 * Pure: a resolved struct mg_trace and what the runner knows go in, a cJSON
 * tree comes out.  The caller owns it (cJSON_Delete).  Each process's
 * "frames", "nodes" and "stacks" and the document's "strings" are cJSON_Raw
 * nodes (pre-printed JSON text, see stacks.c): print the document, or hand
 * it to src/report, rather than walk them.  In memory each entry of the
 * lists (peak_stacks ...) has its "frames" as well as its "stack" row; on
 * disk only the row (mg_profile_print), and mg_profile_expand() puts the
 * frames back.
 */
#ifndef MEMGATE_CORE_PROFILE_H
#define MEMGATE_CORE_PROFILE_H

#include <cjson/cJSON.h>

#include "symbolize.h"
#include "trace.h"

#define MG_PROFILE_SCHEMA 2          /* 2: the compact stack table; readers take 1 too */

struct mg_run_info {
	const char *name;            /* the test's name */
	char *const *argv;           /* the command, NULL-terminated */
	const char *cwd;
	int root_pid;                /* the command's pid */
	int timed_out;
	double duration_ms;
	const char *commit;          /* NULL: unknown */
	int dirty;                   /* -1 unknown */
	unsigned max_stacks;         /* per list in each process; 0 = default (50) */
	struct mg_symbolizer *symbolizer; /* NULL: frames as module + offset only */
	int whole_stacks;            /* 1: the stacks of runtime-owned blocks and long names
				      * are kept whole (docs/profile-schema.md, "Runtime-owned
				      * stacks", "Long names") */
	unsigned list_frames;        /* a list entry whose stack is in the stack table gets
				      * only its first list_frames "frames" in the document
				      * (0: all): the profile's text has none of them, so
				      * this is for a caller that only shows a few */
};

/* The machine a profile was measured on: libc, arch, kernel, compiler, CI image. */
cJSON *mg_env_fingerprint(const char *exe);

cJSON *mg_profile_build(const struct mg_trace *t, const struct mg_run_info *ri);

/*
 * One profile from several runs of the same test (`repeat`, and the re-runs
 * that confirm a noisy regression): the summary takes the median of the
 * figures that vary from run to run (peak_bytes with its peak_blocks,
 * rss_peak_bytes) and the minimum of the exact counts (allocs, frees,
 * total_bytes; the leak figures as a group, from the run that leaked least);
 * the rest of the document (processes, stacks, timeline) is the median-peak
 * run's.  "runs" lists every run's summary.  A document that already has
 * "runs" contributes those.  NULL when out of memory; the inputs are kept.
 */
cJSON *mg_profile_combine(cJSON *const *docs, size_t n);

/* How many runs a profile holds (its "runs", else 1); *multithreaded set
 * when a process of it had a second thread touch the heap. */
unsigned mg_profile_runs(const cJSON *profile, int *multithreaded);

/*
 * The lowest and highest run of a figure over the runs behind a profile
 * (its "runs"): 1, or 0 when it has no "runs" or a run lacks the figure as
 * a whole number.
 */
int mg_profile_run_range(uint64_t *lo, uint64_t *hi, const cJSON *profile, const char *name);

/*
 * How far a figure moved over the runs behind a profile, in thousandths of
 * its highest run: (max - min) * 1000 / max, rounded down; 0 when the profile
 * holds one run, or the figure never moved (docs/baselines.md, "The spread").
 */
unsigned mg_profile_run_width(const cJSON *profile, const char *name);

/*
 * The document as compact JSON text, as profiles are written: a list entry
 * that names its "stack" row is written without its "frames".  The document
 * is left as it was.  NULL when out of memory.
 */
char *mg_profile_print(const cJSON *doc);

/*
 * What a profile read from disk lacks: gives each list entry with a "stack"
 * row its "frames" again, FRAME objects from the stack table
 * (docs/profile-schema.md), so that code reading the lists sees the same
 * document as mg_profile_build() made.  0, or -1 when the table is broken
 * (entries keep the frames read so far) or memory ran out.
 */
int mg_profile_expand(cJSON *doc);

#endif
