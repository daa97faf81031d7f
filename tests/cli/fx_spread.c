/* fx_spread.c - a peak that moves from run to run, as a parallel test harness's does
 *
 * usage: fx_spread random|serial|parallel|det [EXTRA [BLOCK]]
 *   random:   4 threads each hold one BLOCK-byte block (default 256 KiB) through a
 *             random sleep.  Each run, /dev/urandom decides whether they hold them
 *             at the same time (a barrier: peak about 4 blocks) or one after the
 *             other (a mutex: peak about 1 block), and the size of a small block
 *             (0..2047 bytes) the main thread holds meanwhile: the peak moves by 4x
 *             from run to run, at random but within those bounds.
 *   serial:   the same, always one after the other (the lowest peaks)
 *   parallel: the same, always at the same time (the highest peaks)
 *   det:      one thread, one block of 100000 bytes: the same figures every run
 * EXTRA bytes (default 0) are held by the main thread across all of it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4

static size_t block = 256 * 1024;
static int together;
static pthread_barrier_t barrier;
static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
static unsigned char noise[THREADS];

static void nap(unsigned char r)
{
	struct timespec ts = { 0, (long)(r % 8) * 1000000L };   /* 0..7 ms */
	nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
	unsigned k = (unsigned)(size_t)arg;
	if (!together)
		pthread_mutex_lock(&one_at_a_time);
	char *volatile p = malloc(block);
	if (p)
		memset(p, (int)k, block);
	if (together)
		pthread_barrier_wait(&barrier);   /* all held at once */
	nap(noise[k]);
	free(p);
	if (!together)
		pthread_mutex_unlock(&one_at_a_time);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned char r[2 + THREADS] = { 0 };
	size_t extra = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	pthread_t t[THREADS];
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: fx_spread random|serial|parallel|det [EXTRA [BLOCK]]\n");
		return 2;
	}
	if (argc > 3)
		block = strtoul(argv[3], NULL, 10);
	char *volatile held = extra ? malloc(extra) : NULL;
	if (!strcmp(argv[1], "det")) {
		char *volatile p = malloc(100000);
		free(p);
		free(held);
		return 0;
	}
	if ((fd = open("/dev/urandom", O_RDONLY)) < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
		return 2;
	close(fd);
	together = !strcmp(argv[1], "parallel") || (!strcmp(argv[1], "random") && (r[0] & 1));
	memcpy(noise, r + 2, THREADS);
	char *volatile jitter = malloc((size_t)r[1] * 8);     /* 0..2040 bytes */
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (unsigned k = 0; k < THREADS; k++)
		if (pthread_create(&t[k], NULL, worker, (void *)(size_t)k))
			return 2;
	for (unsigned k = 0; k < THREADS; k++)
		pthread_join(t[k], NULL);
	pthread_barrier_destroy(&barrier);
	free(jitter);
	free(held);
	return 0;
}
