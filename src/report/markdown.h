/* markdown.h - a check result (docs/check-result.md) as GitHub-flavoured markdown
 *
 * Pure: a parsed check result in, text out; no I/O, nothing printed.  The
 * same text is the job summary and the PR comment (docs/github.md, docs/reports.md): a verdict
 * headline, one aligned table of the gated metrics (human sizes; the exact
 * figures are in each test's <details>), the missing, new, improved, stale
 * and accepted-in-change tests, environment warnings, new leak sites, and a
 * collapsible <details> per failing or grown test with the call sites that
 * grew.  Everything that comes from the user (test names, frames, refs,
 * details) is escaped with HTML character references, which GitHub decodes
 * as literal text both in markdown and inside HTML blocks.
 *
 * The text never passes opt->max_bytes: it is cut between blocks (a whole
 * table row, paragraph or <details> element, so never inside a UTF-8
 * sequence, a row or an open element), and a note saying so ends it.
 */
#ifndef MEMGATE_REPORT_MARKDOWN_H
#define MEMGATE_REPORT_MARKDOWN_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "check_result.h"

struct mg_buf;
struct mg_error;

struct mg_md_options {
	const char *marker;     /* first line, e.g. mg_md_marker()'s; NULL: none */
	size_t max_bytes;       /* the whole text's bound, >= 1024; 0: no bound */
	const char *cut_note;   /* where the rest is, said when cut, e.g. "the full
				 * report is in the job summary"; NULL: a default */
};


/*
 * Renders `result` into *out (malloc'd, NUL-terminated; *len its length,
 * <= max_bytes).  *cut (may be NULL) says whether the text was cut.
 * MG_EINVALID: not a check result; MG_ERROR: out of memory or max_bytes too
 * small.
 */
int mg_markdown_render(char **out, size_t *len, int *cut, const cJSON *result,
		       const struct mg_md_options *opt, struct mg_error *err);

/*
 * The hidden marker that makes a comment sticky per config:
 * `<!-- memgate:CONFIG -->`, CONFIG without a leading "./", with '%', '>',
 * blanks, control bytes and any '-' that would end the comment early
 * written %XX.  Returns the length; as snprintf for a short buffer.
 */
int mg_md_marker(char *buf, size_t size, const char *config);

/* Appends s escaped for GitHub markdown and HTML (see above): invalid UTF-8
 * becomes U+FFFD, control characters (newlines too) a space.  0 or -1. */
int mg_md_escape(struct mg_buf *b, const char *s);


/*
 * Why a test failed, in one plain line (no markdown) for annotations:
 * "peak_bytes 1.13 MiB > allowed 1.02 MiB (+13.3% vs baseline), 94% from
 * parse_row (csv.c:212)"; metrics joined by "; ".  0 or -1.
 */
int mg_md_why_plain(struct mg_buf *b, const cJSON *test);

#endif
