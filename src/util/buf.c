/* buf.c - a growable text buffer with a cap */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

void mg_buf_init(struct mg_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void mg_buf_release(struct mg_buf *b)
{
	free(b->ptr);
	mg_buf_init(b, b->max);
}

void mg_buf_clear(struct mg_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static int grow(struct mg_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;
	if (b->failed || extra > b->max - b->len) {
		b->failed = 1;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	if (!(p = realloc(b->ptr, cap))) {
		b->failed = 1;
		return -1;
	}
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int mg_buf_add(struct mg_buf *b, const char *data, size_t len)
{
	if (grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int mg_buf_puts(struct mg_buf *b, const char *s)
{
	return mg_buf_add(b, s, strlen(s));
}

int mg_buf_printf(struct mg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char small[256];

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if ((size_t)n < sizeof(small))
		return mg_buf_add(b, small, (size_t)n);
	if (grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int mg_buf_u64(struct mg_buf *b, uint64_t v)
{
	char d[20], *p = d + sizeof(d);
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return mg_buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

char *mg_hex64(char out[19], uint64_t v)
{
	char d[16], *p = d + sizeof(d);
	size_t n;
	do
		*--p = "0123456789abcdef"[v & 15];
	while (v >>= 4);
	n = (size_t)(d + sizeof(d) - p);
	out[0] = '0';
	out[1] = 'x';
	memcpy(out + 2, p, n);
	out[n + 2] = '\0';
	return out;
}

const char *mg_buf_str(const struct mg_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *mg_buf_detach(struct mg_buf *b)
{
	char *p = b->ptr ? b->ptr : calloc(1, 1);
	mg_buf_init(b, b->max);
	return p;
}

int mg_buf_json_string(struct mg_buf *b, const char *s)
{
	mg_buf_add(b, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		const unsigned char *run = c;
		while (*c >= 0x20 && *c != '"' && *c != '\\' && *c != '<')
			c++;
		mg_buf_add(b, (const char *)run, (size_t)(c - run));
		if (!*c)
			break;
		if (*c == '"' || *c == '\\') {
			char esc[2] = { '\\', (char)*c };
			mg_buf_add(b, esc, 2);
		} else {
			mg_buf_printf(b, "\\u%04x", *c);
		}
	}
	return mg_buf_add(b, "\"", 1);
}

int mg_buf_finish(struct mg_buf *b, char **out, size_t *len, struct mg_error *err)
{
	size_t n = b->len;
	char *p = b->failed ? NULL : mg_buf_detach(b);
	if (!p) {
		mg_buf_release(b);
		return mg_error_set(err, MG_ERROR, "out of memory");
	}
	*out = p;
	*len = n;
	return MG_OK;
}
