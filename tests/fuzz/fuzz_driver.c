/* fuzz_driver.c - run a libFuzzer target (fuzz_config.c, fuzz_json.c) without
 * libFuzzer: the seed corpus, then random mutations of it, within a time budget
 * (for ctest, label `fuzz`)
 *
 * Usage: fuzz_config_driver CORPUS_DIR [ITERATIONS [SECONDS [SEED]]]
 * Deterministic for a given SEED (default 1) up to the time cut.  A crash or
 * an abort() in the target fails the test; the input that did it is written
 * to ./fuzz-crash.yml first (so it can be replayed: fuzz_config_driver DIR
 * with the file copied into DIR).
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 65536

struct blob {
	unsigned char *p;
	size_t n;
};

static struct blob seeds[512];
static size_t n_seeds;
static const unsigned char *current;
static size_t current_len;

static const char *const dict[] = {
	"version: 1\n", "tests:\n", "  - name: a\n    run: ./a\n", "  - ctest: build\n",
	"defaults:\n", "  tolerance:\n", "    peak_bytes: ", "  limit:\n", "suppressions:\n",
	"  - leak: x\n    max_bytes: ", "exclude: [\"*\"]", "env: {A: b}", "cwd: .", "timeout: ",
	"repeat: ", "stack-depth: ", "follow-children: ", "allow-crash: ", ": ", "- ", "[", "]",
	"{", "}", ",", "\n", "\n  ", "\n    ", "\t", "'", "\"", "\\", "#", "&a ", "*a", "!!str ",
	"? ", "---\n", "...\n", "%", "2% + 4KiB", "0.5%", "KiB", "MiB", "EiB", "ms", "5m", "1h",
	"18446744073709551615", "99999999999999999999", "0.0000001", "off", "null", "~", "true",
	"\xff", "\xc3", "\xc3\xa9", "\xef\xbb\xbf", "\\0", "|", "$", "..", "-x", "a b",
	/* JSON (fuzz_json.c) */
	"\"schema\": 1", "\"summary\": {", "\"processes\": [", "\"figures\": {", "\"runs\": [",
	"\"peak_bytes\": ", "\"leaked_bytes\": ", "\"leak_sites\": [", "\"peak_sites\": [",
	"\"site\": \"f (a.c:1)\"", "\"bytes\": ", "\"frames\": [", "\"environment\": {",
	"\"multithreaded\": true", "1e308", "-1", "1.5", "\\u0000", "\\ud800",
};

static uint64_t rng = 1;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void on_crash(int sig)
{
	FILE *f = fopen("fuzz-crash.yml", "wb");
	if (f) {
		fwrite(current, 1, current_len, f);
		fclose(f);
	}
	fprintf(stderr, "fuzz driver: signal %d; input written to fuzz-crash.yml\n", sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run(const unsigned char *p, size_t n)
{
	current = p;
	current_len = n;
	LLVMFuzzerTestOneInput(p, n);
}

static void load(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	if (!d) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d)) && n_seeds < sizeof(seeds) / sizeof(seeds[0])) {
		FILE *f;
		struct blob b;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		b.p = malloc(FUZZ_MAX);
		b.n = fread(b.p, 1, FUZZ_MAX, f);
		fclose(f);
		seeds[n_seeds++] = b;
	}
	closedir(d);
}

static size_t mutate(unsigned char *buf, size_t n)
{
	int k, rounds = 1 + (int)(rnd() % 8);
	for (k = 0; k < rounds; k++) {
		size_t at = n ? rnd() % (n + 1) : 0, len;
		switch (rnd() % 7) {
		case 0:                                     /* flip a bit */
			if (n)
				buf[rnd() % n] ^= (unsigned char)(1u << (rnd() % 8));
			break;
		case 1:                                     /* a random byte */
			if (n)
				buf[rnd() % n] = (unsigned char)rnd();
			break;
		case 2: {                                   /* insert a dictionary token */
			const char *t = dict[rnd() % (sizeof(dict) / sizeof(dict[0]))];
			len = strlen(t);
			if (n + len > FUZZ_MAX)
				break;
			memmove(buf + at + len, buf + at, n - at);
			memcpy(buf + at, t, len);
			n += len;
			break;
		}
		case 3:                                     /* delete a range */
			if (at < n) {
				len = 1 + rnd() % (n - at);
				memmove(buf + at, buf + at + len, n - at - len);
				n -= len;
			}
			break;
		case 4:                                     /* duplicate a range */
			if (at < n) {
				len = 1 + rnd() % (n - at);
				if (len > 256 || n + len > FUZZ_MAX)
					break;
				memmove(buf + at + len, buf + at, n - at);
				n += len;
			}
			break;
		case 5: {                                   /* splice another seed */
			const struct blob *o = &seeds[rnd() % n_seeds];
			size_t from = o->n ? rnd() % o->n : 0;
			len = o->n - from;
			if (len > 512)
				len = 512;
			if (n + len > FUZZ_MAX)
				break;
			memmove(buf + at + len, buf + at, n - at);
			memcpy(buf + at, o->p + from, len);
			n += len;
			break;
		}
		default:                                    /* truncate */
			n = at;
			break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	long iterations = argc > 2 ? atol(argv[2]) : 20000, i;
	double budget = argc > 3 ? atof(argv[3]) : 15.0;
	unsigned char *buf = malloc(FUZZ_MAX);
	struct timespec t0, t1;
	size_t s;

	if (argc < 2) {
		fprintf(stderr, "usage: fuzz_<target>_driver CORPUS_DIR [ITERATIONS [SECONDS [SEED]]]\n");
		return 2;
	}
	rng = argc > 4 ? strtoull(argv[4], NULL, 0) | 1 : 1;
	signal(SIGSEGV, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	load(argv[1]);
	if (!n_seeds) {
		fprintf(stderr, "fuzz driver: no seeds in %s\n", argv[1]);
		return 2;
	}
	for (s = 0; s < n_seeds; s++)
		run(seeds[s].p, seeds[s].n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < iterations; i++) {
		const struct blob *b = &seeds[rnd() % n_seeds];
		size_t n;
		memcpy(buf, b->p, b->n);
		n = mutate(buf, b->n);
		run(buf, n);
		if (!(i & 255)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 > budget)
				break;
		}
	}
	printf("fuzz driver: %zu seeds, %ld mutations, no failure\n", n_seeds, i);
	for (s = 0; s < n_seeds; s++)
		free(seeds[s].p);
	free(buf);
	return 0;
}
