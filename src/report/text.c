/* text.c - a growable text buffer for the report renderers */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"
#include "text.h"

void mg_text_put(struct mg_text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->oom = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

void mg_text_puts(struct mg_text *t, const char *s)
{
	mg_text_put(t, s, strlen(s));
}

void mg_text_printf(struct mg_text *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		mg_text_put(t, buf, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		t->oom = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	mg_text_put(t, big, (size_t)n);
	free(big);
}

void mg_text_json_string(struct mg_text *t, const char *s)
{
	mg_text_put(t, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		const unsigned char *run = c;
		while (*c >= 0x20 && *c != '"' && *c != '\\' && *c != '<')
			c++;
		mg_text_put(t, (const char *)run, (size_t)(c - run));
		if (!*c)
			break;
		if (*c == '"' || *c == '\\') {
			char esc[2] = { '\\', (char)*c };
			mg_text_put(t, esc, 2);
		} else {
			mg_text_printf(t, "\\u%04x", *c);
		}
	}
	mg_text_put(t, "\"", 1);
}

int mg_text_finish(struct mg_text *t, char **out, size_t *len, struct mg_error *err)
{
	if (!t->oom && !t->p)
		mg_text_put(t, "", 0);
	if (t->oom) {
		mg_text_release(t);
		return mg_error_set(err, MG_ERROR, "out of memory");
	}
	*out = t->p;
	*len = t->len;
	t->p = NULL;
	t->len = t->cap = 0;
	return MG_OK;
}

void mg_text_release(struct mg_text *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}
