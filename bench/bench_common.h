/* Shared helpers for the memgate microbenchmarks.  Built by run.sh with
 * cc -O2 -fno-omit-frame-pointer -pthread.  Every benchmark prints nothing
 * and takes an optional scale factor (argv[1], default 1.0) that multiplies
 * its iteration count. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <stdint.h>
#include <stdlib.h>

/* Results go through a volatile sink so the compiler cannot drop the
 * malloc/free pairs (GCC removes unused allocations). */
static volatile uintptr_t bench_sink;

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline double bench_scale(int argc, char **argv)
{
	double s = argc > 1 ? atof(argv[1]) : 1.0;
	return s > 0 ? s : 1.0;
}
#endif
