/* strv.h - NULL-terminated arrays of malloc'd strings (argv, environments, names) */
#ifndef MEMGATE_UTIL_STRV_H
#define MEMGATE_UTIL_STRV_H

#include <stddef.h>

/* an empty array; NULL when out of memory */
char **mg_strv_new(void);
/* the number of strings; 0 for NULL */
size_t mg_strv_len(char *const *v);
/* appends s to *v of *n strings (consumes s, also on failure); -1 when out of memory */
int mg_strv_push(char ***v, size_t *n, char *s);
/* frees the strings and the array; NULL is a no-op */
void mg_strv_free(char **v);

#endif
