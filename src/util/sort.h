/* sort.h - the first k elements of an array in order, without sorting the rest */
#ifndef MEMGATE_UTIL_SORT_H
#define MEMGATE_UTIL_SORT_H

#include <stddef.h>

/*
 * Leaves in base[0 .. min(k, n)) the k first elements of the n under cmp, in
 * order, and the others after them in no particular order: what qsort() and
 * then the first k would give, in about n comparisons instead of n log n (a
 * profile's lists keep 10 or 50 of a deep trace's hundreds of thousands of
 * stacks).  cmp must be a total order (no two elements equal), or which of
 * equal elements come first is not defined.
 */
void mg_sort_first(void *base, size_t n, size_t size, size_t k,
		   int (*cmp)(const void *, const void *));

/*
 * The k first under cmp of elements that come one at a time, without
 * holding them all (a deep trace's 262k stacks, of which 1000 are kept):
 * the k first so far, copied in, one comparison for most of the others.
 * cmp as mg_sort_first's.  After mg_top_sort, e[0 .. n) are they, in order.
 */
struct mg_top {
	char *e;                        /* n elements of size bytes, room for k */
	size_t size, k, n;
	int (*cmp)(const void *, const void *);
};

int mg_top_init(struct mg_top *t, size_t k, size_t size,
		int (*cmp)(const void *, const void *));    /* -1: out of memory */
void mg_top_add(struct mg_top *t, const void *x);
void mg_top_sort(struct mg_top *t);
void mg_top_release(struct mg_top *t);

#endif
