/* (1) Many small malloc/free pairs: 16-256 B blocks in a 4096-slot live set.
 * Each step frees a random slot and refills it with a new random size, so the
 * allocator works on a real mix of sizes (not just the tcache fast path) and
 * the live set stays around 0.5 MiB.  Default: 12M malloc+free pairs. */
#include "bench_common.h"

#define SLOTS 4096

int main(int argc, char **argv)
{
	static char *slot[SLOTS];
	long n = (long)(12000000 * bench_scale(argc, argv));
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	for (long i = 0; i < n; i++) {
		uint64_t r = xorshift64(&rng);
		unsigned k = r % SLOTS;
		size_t sz = 16 + ((r >> 20) % 241);
		free(slot[k]);
		slot[k] = malloc(sz);
		slot[k][0] = (char)i;
		slot[k][sz - 1] = (char)i;
	}
	uintptr_t acc = 0;
	for (int k = 0; k < SLOTS; k++) {
		acc += (uintptr_t)slot[k][0];
		free(slot[k]);
	}
	bench_sink = acc;
	return 0;
}
