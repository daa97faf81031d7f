/* sort.c - the first k elements of a stream or an array in order (one bounded heap, then qsort) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sort.h"

static void swap(char *a, char *b, size_t size)
{
	char t[64];
	while (size) {
		size_t c = size < sizeof(t) ? size : sizeof(t);
		memcpy(t, a, c);
		memcpy(a, b, c);
		memcpy(b, t, c);
		a += c;
		b += c;
		size -= c;
	}
}

static int by_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* where an element's index goes after it in mg_sort_first's records */
static size_t index_at(size_t size)
{
	return (size + sizeof(size_t) - 1) / sizeof(size_t) * sizeof(size_t);
}

void mg_sort_first(void *base, size_t n, size_t size, size_t k,
		   int (*cmp)(const void *, const void *))
{
	char *e = base, *rec = NULL;
	size_t at = index_at(size), *idx = NULL;
	struct mg_top top = { 0 };

	/* out of memory: the whole array, still right */
	if (k >= n || !(rec = malloc(at + sizeof(size_t))) || !(idx = malloc(k * sizeof(*idx))) ||
	    mg_top_init(&top, k, at + sizeof(size_t), cmp) < 0) {
		free(rec);
		free(idx);
		qsort(base, n, size, cmp);
		return;
	}
	/* the k first, each with its index after it (cmp reads the element,
	 * at the front of the record) */
	for (size_t i = 0; i < n; i++) {
		memcpy(rec, e + i * size, size);
		memcpy(rec + at, &i, sizeof(i));
		mg_top_add(&top, rec);
	}
	for (size_t j = 0; j < top.n; j++)
		memcpy(&idx[j], top.e + j * top.size + at, sizeof(*idx));
	/* to the front, in their order in the array (the others keep theirs) */
	qsort(idx, top.n, sizeof(*idx), by_index);
	for (size_t j = 0; j < top.n; j++)
		if (idx[j] != j)
			swap(e + j * size, e + idx[j] * size, size);
	free(rec);
	free(idx);
	mg_top_release(&top);
	qsort(base, k, size, cmp);
}

int mg_top_init(struct mg_top *t, size_t k, size_t size,
		int (*cmp)(const void *, const void *))
{
	*t = (struct mg_top){ malloc((k ? k : 1) * size), size, k, 0, cmp };
	return t->e ? 0 : -1;
}

/* the last of the k first so far at the root (e[0]): most elements lose to it */
void mg_top_add(struct mg_top *t, const void *x)
{
	size_t size = t->size, i = 0;
	char *e = t->e;
	if (t->n < t->k) {
		i = t->n++;
		memcpy(e + i * size, x, size);
		while (i && t->cmp(e + (i - 1) / 2 * size, e + i * size) < 0) {
			swap(e + (i - 1) / 2 * size, e + i * size, size);
			i = (i - 1) / 2;
		}
		return;
	}
	if (!t->k || t->cmp(x, e) >= 0)
		return;
	memcpy(e, x, size);
	for (;;) {
		size_t c = 2 * i + 1, top = i;
		if (c < t->n && t->cmp(e + c * size, e + top * size) > 0)
			top = c;
		if (c + 1 < t->n && t->cmp(e + (c + 1) * size, e + top * size) > 0)
			top = c + 1;
		if (top == i)
			return;
		swap(e + i * size, e + top * size, size);
		i = top;
	}
}

void mg_top_sort(struct mg_top *t)
{
	qsort(t->e, t->n, t->size, t->cmp);
}

void mg_top_release(struct mg_top *t)
{
	free(t->e);
	t->e = NULL;
	t->n = 0;
}
