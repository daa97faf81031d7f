/* sort.c - the first k elements of an array or a stream in order (a bounded heap, then qsort) */
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

/* heap[0 .. n): the last of them under cmp at the root */
static void sift_down(const char *e, size_t size, size_t *heap, size_t n, size_t i,
		      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t c = 2 * i + 1, top = i;
		if (c < n && cmp(e + heap[c] * size, e + heap[top] * size) > 0)
			top = c;
		if (c + 1 < n && cmp(e + heap[c + 1] * size, e + heap[top] * size) > 0)
			top = c + 1;
		if (top == i)
			return;
		size_t t = heap[i];
		heap[i] = heap[top];
		heap[top] = t;
		i = top;
	}
}

void mg_sort_first(void *base, size_t n, size_t size, size_t k,
		   int (*cmp)(const void *, const void *))
{
	char *e = base;
	size_t *heap = k < n ? malloc(k * sizeof(*heap)) : NULL, m = 0;

	if (k >= n || !heap) {
		qsort(base, n, size, cmp);  /* out of memory: the whole array, still right */
		return;
	}
	if (k) {
		/* the indices of the k first so far, the last of them at the root:
		 * most elements of a long array lose to the root, one compare each */
		for (size_t i = 0; i < n; i++) {
			if (m < k) {
				size_t c = m++;
				heap[c] = i;
				while (c && cmp(e + heap[(c - 1) / 2] * size, e + heap[c] * size) < 0) {
					size_t t = heap[c];
					heap[c] = heap[(c - 1) / 2];
					heap[(c - 1) / 2] = t;
					c = (c - 1) / 2;
				}
			} else if (cmp(e + i * size, e + heap[0] * size) < 0) {
				heap[0] = i;
				sift_down(e, size, heap, k, 0, cmp);
			}
		}
		/* to the front, in their order in the array (the others keep theirs) */
		qsort(heap, k, sizeof(*heap), by_index);
		for (size_t j = 0; j < k; j++)
			if (heap[j] != j)
				swap(e + j * size, e + heap[j] * size, size);
	}
	free(heap);
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
