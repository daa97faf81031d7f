/* publish.h - a check result to GitHub: job summary, step outputs, annotations, PR comment
 *
 * Called by `memgate check` at its end and by `memgate comment`.  Prints
 * (this is the CLI layer): workflow commands on stdout, one "memgate: ..."
 * line per problem on stderr.
 */
#ifndef MEMGATE_CLI_PUBLISH_H
#define MEMGATE_CLI_PUBLISH_H

#include <cjson/cJSON.h>

struct mg_error;

struct mg_publish_options {
	const char *mode;         /* auto|always|on-regression|never; NULL: $MEMGATE_COMMENT, else auto */
	const char *config;       /* names the sticky comment; NULL: the result's "config" */
	long long pr;             /* 0: $MEMGATE_PR_NUMBER, else the event's pull request */
};

/*
 * When GITHUB_ACTIONS is "true" (and MEMGATE_GITHUB_PUBLISH is not "0"),
 * publishes `result` (a check result, docs/check-result.md) that was read
 * from or written to `result_dir`:
 *   - its markdown appended to $GITHUB_STEP_SUMMARY (kept under 1 MiB);
 *   - the outputs verdict, regressions, report (the comment's markdown) and
 *     result-dir (result_dir, absolute) appended to $GITHUB_OUTPUT;
 *   - an ::error annotation per failing test (10 at most, then a count) and a
 *     ::warning per environment mismatch, on stdout;
 *   - the sticky comment on the event's pull request, per `mode`.
 * Outside Actions it does nothing and returns MG_OK.
 *
 * Every problem is printed as a warning where it happens; the gate's exit
 * code should not change because of it.  Returns MG_OK (a read-only token,
 * as in a fork's pull request, or no pull request at all are MG_OK too),
 * MG_EINVALID for a bad mode, or MG_ERROR when a runner file could not be
 * written or the comment failed; err says the first problem.
 *
 * Usage at the end of cmd_check (doc = the result written to
 * <profiles>/memgate-check.json, from = its directory):
 *	mg_github_publish(doc, from, NULL, &err);
 */
int mg_github_publish(const cJSON *result, const char *result_dir, const char *mode,
		      struct mg_error *err);

/* The same with every option; `memgate comment` publishes even when
 * MEMGATE_GITHUB_PUBLISH is "0" (it is what the action sets for check). */
int mg_github_publish_with(const cJSON *result, const char *result_dir,
			   const struct mg_publish_options *opt, int force, struct mg_error *err);

#endif
