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

#endif
