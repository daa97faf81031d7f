/* suppress.h - memgate.yml's `suppressions:` applied to a profile (docs/config.md)
 *
 * A suppressed leak stays in the profile file (its figures are what the
 * process held, as valgrind would say) but is not gated: before accept
 * builds a baseline and before check compares, the leak stacks the config's
 * suppressions hide are marked, and their bytes and blocks, per leak kind,
 * are summed under "suppressed".  Baselines (baseline.c) and verdicts
 * (compare.c) then use summary minus suppressed, and leave suppressed
 * stacks out of their call sites.
 */
#ifndef MEMGATE_CORE_SUPPRESS_H
#define MEMGATE_CORE_SUPPRESS_H

#include <cjson/cJSON.h>
#include <stdint.h>

struct mg_config;

/* One frame of a leak's allocation stack, as symbolized; any field may be NULL. */
struct mg_frame_names {
	const char *function;       /* demangled function name */
	const char *module;         /* path of the ELF object */
	const char *file;           /* source file */
};

/* how one suppression was used */
struct mg_suppress_use {
	uint64_t used;              /* leak stacks it hid, over the whole run */
	uint64_t capped;            /* leak stacks it matched but could not hide (cap) */
	uint64_t test_bytes;        /* bytes hidden in the current test */
};

/* the suppressions of a config as a run uses them: the config stays const */
struct mg_suppress_state {
	const struct mg_config *cfg;
	struct mg_suppress_use *use; /* one per cfg->suppressions[] */
	size_t n;
};

/* 0, or -1 when out of memory; release with mg_suppress_release() */
int mg_suppress_init(struct mg_suppress_state *st, const struct mg_config *cfg);
void mg_suppress_release(struct mg_suppress_state *st);

/* Starts a new test for the max_bytes caps: zeroes every test_bytes. */
void mg_suppress_begin_test(struct mg_suppress_state *st);

/*
 * Decides whether a leak stack of `bytes` bytes is suppressed: the first
 * suppression (in file order) whose pattern matches the function, module or
 * file name of any frame, and whose max_bytes cap (per test) still has room
 * for `bytes`.  Returns its index and counts the use (`used`, `test_bytes`),
 * or -1.  A match refused by the cap counts in `capped`, and the next
 * suppression is tried.
 */
int mg_suppress_stack(struct mg_suppress_state *st, const struct mg_frame_names *frames, size_t n,
		      uint64_t bytes);

/*
 * Names the call site of every leak and peak stack of the in-memory
 * `profile` ("site": sites.h, with the config's `defaults: skip-frames:`),
 * then applies the suppressions to it (one test: the max_bytes caps start
 * afresh): every leak stack of the program (runtime-owned ones are set apart
 * already) that a suppression hides gets
 * "suppressed": "<pattern>", and the document gets "suppressed": { the leak
 * figures hidden, "stacks": how many }.  Counts each suppression's use in st
 * for the unused-suppression report.  Returns the number of stacks hidden,
 * or -1 when out of memory.
 */
int mg_suppress_profile(cJSON *profile, struct mg_suppress_state *st);

/*
 * A summary figure as gated: the profile's minus what suppressions hid
 * ("suppressed", when mg_suppress_profile() ran) and, for leaked_bytes and
 * leaked_blocks, minus the runtime-owned blocks (leaked_runtime_*).  0 when the figure is
 * absent; 1 and *out otherwise.
 */
int mg_gated_figure(uint64_t *out, const cJSON *profile, const char *name);

#endif
