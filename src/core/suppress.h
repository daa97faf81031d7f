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

/*
 * Applies cfg's suppressions to the in-memory `profile` (one test: the
 * max_bytes caps start afresh): every leak stack a suppression hides gets
 * "suppressed": "<pattern>", and the document gets "suppressed": { the leak
 * figures hidden, "stacks": how many }.  Counts each suppression's use in cfg
 * (`used`, `capped`) for the unused-suppression report.  Returns the number
 * of stacks hidden, or -1 when out of memory.
 */
int mg_suppress_profile(cJSON *profile, struct mg_config *cfg);

/*
 * A summary figure as gated: the profile's minus what suppressions hid
 * ("suppressed", when mg_suppress_profile() ran).  0 when the figure is
 * absent; 1 and *out otherwise.
 */
int mg_gated_figure(uint64_t *out, const cJSON *profile, const char *name);

#endif
