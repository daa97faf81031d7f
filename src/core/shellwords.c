/* shellwords.c - a `run:` string split into words without a shell (shellwords.h) */
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"
#include "../util/strv.h"
#include "shellwords.h"

struct word {
	char *s;
	size_t len, cap;
};

static int word_add(struct word *w, char ch)
{
	if (w->len + 2 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		char *s = realloc(w->s, cap);
		if (!s)
			return -1;
		w->s = s;
		w->cap = cap;
	}
	w->s[w->len++] = ch;
	w->s[w->len] = '\0';
	return 0;
}

int mg_shellwords_split(char ***out, size_t *argc, const char *s, struct mg_error *err)
{
	char **v = mg_strv_new();
	size_t n = 0;
	struct word w = { NULL, 0, 0 };
	int in_word = 0, rc = MG_OK;
	const char *p = s;

	if (!v)
		return mg_error_set(err, MG_ERROR, "out of memory");
	for (;;) {
		char ch = *p;
		if (!ch || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (in_word) {
				if (!w.s && word_add(&w, 'x') == 0)
					w.len = 0, w.s[0] = '\0';
				if (mg_strv_push(&v, &n, w.s) < 0)
					goto oom;
				w.s = NULL, w.len = w.cap = 0;
				in_word = 0;
			}
			if (!ch)
				break;
			p++;
			continue;
		}
		in_word = 1;
		if (ch == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				rc = mg_error_set(err, MG_EINVALID,
						  "expected a closing ' in \"run\" (it is split like a shell command line, without a shell)");
				goto fail;
			}
			for (p++; p < end; p++)
				if (word_add(&w, *p) < 0)
					goto oom;
			if (!w.s && word_add(&w, 'x') == 0)
				w.len = 0, w.s[0] = '\0';
			p = end + 1;
		} else if (ch == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (word_add(&w, *p) < 0)
					goto oom;
			}
			if (!*p) {
				rc = mg_error_set(err, MG_EINVALID,
						  "expected a closing \" in \"run\" (it is split like a shell command line, without a shell)");
				goto fail;
			}
			if (!w.s && word_add(&w, 'x') == 0)
				w.len = 0, w.s[0] = '\0';
			p++;
		} else if (ch == '\\') {
			if (!p[1]) {
				rc = mg_error_set(err, MG_EINVALID,
						  "expected a character after the final \\ in \"run\"");
				goto fail;
			}
			if (word_add(&w, p[1]) < 0)
				goto oom;
			p += 2;
		} else if (strchr("|&;<>()`$", ch)) {
			rc = mg_error_set(err, MG_EINVALID,
					  "expected no unquoted '%c' in \"run\": memgate runs the command without a shell (quote it, or write run: [sh, -c, \"...\"])",
					  ch);
			goto fail;
		} else {
			if (word_add(&w, ch) < 0)
				goto oom;
			p++;
		}
		if (!w.s)
			goto oom;
	}
	*out = v;
	*argc = n;
	return MG_OK;
oom:
	rc = mg_error_set(err, MG_ERROR, "out of memory");
fail:
	free(w.s);
	mg_strv_free(v);
	return rc;
}
