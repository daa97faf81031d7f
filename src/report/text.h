/* text.h - a growable text buffer for the report renderers (internal to src/report)
 *
 * Appends never fail visibly: on out of memory the buffer is marked and every
 * later append is a no-op; mg_text_finish() then reports it once.
 */
#ifndef MEMGATE_REPORT_TEXT_H
#define MEMGATE_REPORT_TEXT_H

#include <stddef.h>

struct mg_error;

struct mg_text {
	char *p;                /* NUL-terminated while not oom */
	size_t len, cap;
	int oom;
};

void mg_text_put(struct mg_text *t, const char *s, size_t n);
void mg_text_puts(struct mg_text *t, const char *s);
void mg_text_printf(struct mg_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included; '<' escaped as \u003c so the
 * text can sit inside an HTML <script> element */
void mg_text_json_string(struct mg_text *t, const char *s);

/* Hands the text to *out (malloc'd, the caller frees) and *len; MG_ERROR on OOM. */
int mg_text_finish(struct mg_text *t, char **out, size_t *len, struct mg_error *err);
void mg_text_release(struct mg_text *t);

#endif
