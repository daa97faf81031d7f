/* strv.c - NULL-terminated arrays of malloc'd strings (strv.h) */
#include <stdlib.h>

#include "strv.h"

void mg_strv_free(char **v)
{
	char **p;
	if (!v)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

char **mg_strv_new(void)
{
	return calloc(1, sizeof(char *));
}

size_t mg_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int mg_strv_push(char ***v, size_t *n, char *s)
{
	char **nv;
	if (!s)
		return -1;
	nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv) {
		free(s);
		return -1;
	}
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}
