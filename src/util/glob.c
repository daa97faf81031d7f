/* glob.c - fnmatch(3)'s globs with no flags, the common ones without its cost */
#include <fnmatch.h>
#include <string.h>

#include "glob.h"

int mg_glob(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	if (strpbrk(p, "?[\\"))
		return fnmatch(p, s, 0) == 0;
	/* most strings fail on the pattern's first run of letters: a literal
	 * head that must start s, or one that must occur in it after a '*' */
	size_t lead = strcspn(p, "*");
	if (lead && strncmp(p, s, lead))
		return 0;
	if (!lead && p[0] == '*') {
		size_t run = strcspn(p + 1, "*");
		char lit[64];
		if (run && run < sizeof(lit)) {
			memcpy(lit, p + 1, run);
			lit[run] = '\0';
			if (!strstr(s, lit))
				return 0;
		}
	}
	/* only '*': greedy, and on a mismatch the last '*' takes one more byte */
	while (*s) {
		if (*p == '*') {
			star = ++p;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}
