/* (4) Deep call stacks: every allocation happens ~50 frames deep in
 * recursive, non-inlined functions.  Two different recursive functions are
 * chosen per level from the bits of a counter over the last 10 levels, so
 * there are 1024 distinct leaf stacks (plus 4 leaf sizes); blocks live in a
 * 1024-slot set.  Default: 1.5M allocations (each with a free). */
#include "bench_common.h"

#define DEPTH 50
#ifndef VARY
#define VARY 10             /* -DVARY=18: 262k distinct stacks (bench/README.md) */
#endif
#define SLOTS 1024

static char *slot[SLOTS];

__attribute__((noinline)) static void rec_a(int depth, unsigned path, uint64_t r);
__attribute__((noinline)) static void rec_b(int depth, unsigned path, uint64_t r);

__attribute__((noinline)) static void leaf(unsigned path, uint64_t r)
{
	unsigned k = (unsigned)(r % SLOTS);
	size_t sz = 32u << (path & 3);
	free(slot[k]);
	slot[k] = malloc(sz);
	slot[k][0] = (char)r;
	__asm__ volatile("" ::: "memory");
}

static inline void next(int depth, unsigned path, uint64_t r)
{
	if (depth == 0)
		leaf(path, r);
	else if (depth <= VARY && ((path >> (depth - 1)) & 1))
		rec_b(depth - 1, path, r);
	else
		rec_a(depth - 1, path, r);
}

__attribute__((noinline)) static void rec_a(int depth, unsigned path, uint64_t r)
{
	next(depth, path, r);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep the frame */
}

__attribute__((noinline)) static void rec_b(int depth, unsigned path, uint64_t r)
{
	next(depth, path, r ^ 1);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	long n = (long)(1500000 * bench_scale(argc, argv));
	uint64_t rng = 12345;
	for (long i = 0; i < n; i++) {
		uint64_t r = xorshift64(&rng);
		rec_a(DEPTH, (unsigned)(r >> 40) & ((1u << VARY) - 1), r);
	}
	uintptr_t acc = 0;
	for (int k = 0; k < SLOTS; k++) {
		if (slot[k])
			acc += (uintptr_t)slot[k][0];
		free(slot[k]);
	}
	bench_sink = acc;
	return 0;
}
