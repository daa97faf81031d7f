/* buf.h - a growable text buffer with a cap
 *
 * Anything filled from outside (HTTP bodies, rendered reports) grows in an
 * mg_buf whose `max` bounds it: an append that would pass the cap (or fails
 * to allocate) fails cleanly, sets `failed` and leaves the contents as they
 * were, NUL-terminated.  Later appends to a failed buffer fail too, so a
 * series of appends can be checked once at the end.
 */
#ifndef MEMGATE_UTIL_BUF_H
#define MEMGATE_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct mg_error;

struct mg_buf {
	char *ptr;          /* NUL-terminated contents, or NULL while empty */
	size_t len;         /* bytes used, the NUL not counted */
	size_t cap;         /* bytes allocated */
	size_t max;         /* largest len allowed */
	int failed;         /* an append passed max or could not allocate */
};

/* An empty buffer bounded only by memory (the renderers' output). */
#define MG_BUF_UNBOUNDED { .max = SIZE_MAX }

/* An empty buffer that may hold up to max bytes; allocates nothing. */
void mg_buf_init(struct mg_buf *b, size_t max);
/* Frees the contents (not b); b is then empty, as after mg_buf_init. */
void mg_buf_release(struct mg_buf *b);
/* Empties b, keeping its allocation and clearing `failed`. */
void mg_buf_clear(struct mg_buf *b);
/* 0, or -1 (b->failed set, contents unchanged). */
int mg_buf_add(struct mg_buf *b, const char *data, size_t len);
int mg_buf_puts(struct mg_buf *b, const char *s);
int mg_buf_printf(struct mg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal, without stdio (profile.c writes millions of them). */
int mg_buf_u64(struct mg_buf *b, uint64_t v);
/* "0x" and v in lowercase hex, as printf's "0x%" PRIx64, NUL-terminated in
 * out (19 bytes at most); returns out.  Without stdio: two per frame. */
char *mg_hex64(char out[19], uint64_t v);
/* The contents, never NULL ("" while empty); borrowed from b. */
const char *mg_buf_str(const struct mg_buf *b);
/* Hands the contents (malloc'd, NUL-terminated, never NULL unless out of
 * memory) to the caller and empties b. */
char *mg_buf_detach(struct mg_buf *b);

/* s as a JSON string literal, quotes included; '<' written as \u003c so the
 * text can sit inside an HTML <script> element. */
int mg_buf_json_string(struct mg_buf *b, const char *s);
/* Hands the contents to *out (malloc'd, never NULL) and *len, and empties b;
 * MG_ERROR "out of memory" (b released) when an append had failed. */
int mg_buf_finish(struct mg_buf *b, char **out, size_t *len, struct mg_error *err);

#endif
