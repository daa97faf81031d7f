/*
 * bench_symbolize.c - how fast mg_symbolize resolves (built, not run by ctest)
 *
 *   bench_symbolize [DISTINCT [LOOKUPS [ELF]]]
 *
 * Picks DISTINCT (default 100000) offsets spread over the executable segment
 * of ELF (default: this process's libc.so.6, with its build-id, so libc6-dbg
 * is used when installed), resolves each once (cold: every lookup opens
 * nothing but resolves), then makes LOOKUPS (default 1000000) lookups in a
 * pseudo-random order over them (warm: the per-address cache), and prints
 * both rates.  A profile of 100k stacks x 64 frames is 6.4M lookups over far
 * fewer distinct addresses.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/symbolize.h"
#include "../../src/util/error.h"
#include "fixtures/sites.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the first executable PT_LOAD of a 64-bit ELF file: [*lo, *hi) */
static int text_range(const char *path, uint64_t *lo, uint64_t *hi)
{
	int fd = open(path, O_RDONLY), i, ok = 0;
	struct stat st;
	const Elf64_Ehdr *eh;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	eh = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (eh == MAP_FAILED)
		return -1;
	for (i = 0; i < eh->e_phnum && !ok; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			*lo = ph->p_vaddr;
			*hi = ph->p_vaddr + ph->p_memsz;
			ok = 1;
		}
	}
	munmap((void *)eh, (size_t)st.st_size);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t distinct = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	size_t lookups = argc > 2 ? strtoul(argv[2], NULL, 0) : 1000000;
	struct fx_find f = { 0 };
	struct mg_symbolizer *s;
	struct mg_sym_frame out[64];
	struct mg_error err;
	uint64_t lo, hi, *offs, x = 88172645463325252ull;
	size_t i, named = 0, lined = 0, frames = 0;
	double t0, t1, t2;

	if (argc > 3) {
		f.name = argv[3];
	} else {
		void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);

		f.addr = h ? (unsigned long)dlsym(h, "malloc") : 0;
		if (!f.addr || !dl_iterate_phdr(fx_phdr, &f)) {
			fprintf(stderr, "bench_symbolize: cannot find libc.so.6\n");
			return 1;
		}
	}
	if (text_range(f.name, &lo, &hi) < 0 || !distinct || !(offs = malloc(distinct * sizeof(*offs)))) {
		fprintf(stderr, "bench_symbolize: cannot read '%s'\n", f.name);
		return 1;
	}
	for (i = 0; i < distinct; i++)
		offs[i] = lo + 1 + (hi - lo - 1) * i / distinct;
	if (mg_symbolizer_new(&s, &err) < 0) {
		fprintf(stderr, "bench_symbolize: %s\n", err.msg);
		return 1;
	}

	t0 = now();
	for (i = 0; i < distinct; i++) {
		size_t n = mg_symbolize(s, f.name, f.id, f.id_len, offs[i], out, 64);

		frames += n;
		named += n && out[n - 1].function;
		lined += n && out[n - 1].line;
	}
	t1 = now();
	for (i = 0; i < lookups; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;    /* xorshift64 */
		mg_symbolize(s, f.name, f.id, f.id_len, offs[x % distinct], out, 64);
	}
	t2 = now();

	printf("%s (%#llx-%#llx)\n", f.name, (unsigned long long)lo, (unsigned long long)hi);
	printf("cold: %zu distinct offsets in %.3f s = %.0f lookups/s (incl. opening the file); "
	       "%zu with a function, %zu with a line, %.2f frames each\n",
	       distinct, t1 - t0, (double)distinct / (t1 - t0), named, lined, (double)frames / (double)distinct);
	printf("warm: %zu lookups in %.3f s = %.0f lookups/s\n", lookups, t2 - t1, (double)lookups / (t2 - t1));
	mg_symbolizer_free(s);
	free(offs);
	return 0;
}
