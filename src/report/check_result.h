/* check_result.h - the check result (docs/check-result.md): its one writer, and what its readers share
 *
 * `memgate check` writes it (mg_check_result_doc() from the gate's typed
 * result, src/core/check.h); the markdown report, `memgate comment` and the
 * GitHub publishing read it, through the two functions below.
 */
#ifndef MEMGATE_REPORT_CHECK_RESULT_H
#define MEMGATE_REPORT_CHECK_RESULT_H

#include <cjson/cJSON.h>

struct mg_check_result;
struct mg_error;

/* the check result's context, for its document */
struct mg_check_doc_info {
	const char *config;         /* the config's path, as given */
	const char *rev;
	const char *base_commit;    /* NULL: unborn */
	const char *head_commit;    /* NULL: unborn */
	int dirty;                  /* -1 unknown */
	const char *result_dir;     /* where the document goes: profile paths are relative to it */
};

#define MG_CHECK_RESULT_FILE "memgate-check.json"

/* The check-result document (docs/check-result.md); NULL when out of memory. */
cJSON *mg_check_result_doc(const struct mg_check_result *r, const struct mg_check_doc_info *info);

/* whether a verdict of the check result fails the gate ("regression", "over budget") */
int mg_check_verdict_fails(const char *verdict);

/* "12 gated figures of 3 tests equal their baselines" (the tables' line
 * for what they leave out: cmd_check.c, markdown.c) into buf (n bytes) */
void mg_check_equal_phrase(char *buf, size_t n, size_t figures, size_t tests);

/*
 * Checks that `doc` is a check result memgate can render ("schema": 1, a
 * "tests" array; "kind", when present, "memgate-check").  MG_EINVALID with
 * "NAME: ..." otherwise.
 */
int mg_check_result_validate(const cJSON *doc, const char *name, struct mg_error *err);

#endif
