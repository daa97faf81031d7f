/* (6) The stack walk alone: recurse to a fixed depth once (argv[2] frames of
 * non-inlined functions, default 40), then make malloc/free pairs there
 * (argv[1] = scale, 1.0: 4M pairs).  The stack is the same for every pair, so
 * the tracer's cost per pair is its walk plus a constant: two depths give the
 * cost per frame (bench/unwind.py builds it with and without frame pointers). */
#include "bench_common.h"

static long pairs;

__attribute__((noinline)) static void work(void)
{
	uint64_t rng = 12345;
	for (long i = 0; i < pairs; i++) {
		char *p = malloc(16 + (xorshift64(&rng) & 127));
		p[0] = (char)i;
		bench_sink += (uintptr_t)p[0];
		free(p);
	}
}

__attribute__((noinline)) static void down(int depth)
{
	if (depth > 0)
		down(depth - 1);
	else
		work();
	__asm__ volatile("" ::: "memory"); /* no tail call: keep the frame */
}

int main(int argc, char **argv)
{
	pairs = (long)(4000000 * bench_scale(argc, argv));
	down(argc > 2 ? atoi(argv[2]) : 40);
	return 0;
}
