/* lsan_match.c - LeakSanitizer's `leak:` pattern matching (lsan_match.h) */
#include <string.h>

#include "lsan_match.h"

/* first occurrence of [t, t+tl) in s at or after s, or NULL */
static const char *find(const char *s, const char *t, size_t tl)
{
	for (; *s; s++)
		if (!strncmp(s, t, tl))
			return s;
	return tl ? NULL : s;
}

int mg_lsan_match(const char *templ, const char *str)
{
	int start = 0, asterisk = 0;
	if (!str || !*str)
		return 0;
	if (*templ == '^')
		start = 1, templ++;
	while (*templ) {
		size_t tl;
		const char *spos;
		if (*templ == '*') {
			templ++;
			start = 0;
			asterisk = 1;
			continue;
		}
		if (*templ == '$')
			return !*str || asterisk;
		if (!*str)
			return 0;
		tl = strcspn(templ, "*$");
		spos = find(str, templ, tl);
		if (!spos || (start && spos != str))
			return 0;
		str = spos + tl;
		templ += tl;
		start = 0;
		asterisk = 0;
	}
	return 1;
}
