/* (3) Two threads allocating and freeing concurrently: the malloc_small
 * pattern (16-256 B, 4096-slot live set per thread) split over two threads,
 * 6M pairs each by default (12M in total, same as malloc_small). */
#include <pthread.h>
#include "bench_common.h"

#define SLOTS 4096

static long per_thread;

static void *worker(void *arg)
{
	char **slot = calloc(SLOTS, sizeof *slot);
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uintptr_t)arg;
	for (long i = 0; i < per_thread; i++) {
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
	free(slot);
	return (void *)acc;
}

int main(int argc, char **argv)
{
	per_thread = (long)(6000000 * bench_scale(argc, argv));
	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(i + 1)))
			return 1;
	uintptr_t acc = 0;
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		acc += (uintptr_t)r;
	}
	bench_sink = acc;
	return 0;
}
