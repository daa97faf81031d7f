/* fuzz_trace.c - the trace reader (core/trace.c) and the profile built from it,
 * on trace files a program scribbled over
 *
 * The tracer's files are mapped in the traced program's address space: a
 * program that writes through a stray pointer can change any byte of them
 * before memgate reads them back (src/tracer/FORMAT.md).  Whatever they hold,
 * reading them must give a profile or a one-line error, never a crash, a
 * hang or a read outside the file (ASan + UBSan in the sanitized build).
 *
 * usage: fuzz_trace SECONDS SEED DIR...
 * Each DIR holds the trace files (*.mgt) of one run, kept by `memgate trace
 * --keep-raw` (fuzz_trace.sh makes them).  A round picks a file and changes
 * a few words where the tracer writes (the header, the first modules, the
 * timeline, the children, the stacks' counters and info, the nodes, the leak
 * kinds, the batches), to random or boundary values; loads the directory;
 * builds the profile of its processes (every fourth round with a symbolizer
 * kept across rounds, as a worker of `memgate run` keeps one; else frames as
 * module + offset); then puts the bytes back.  The rounds share SECONDS among the
 * directories.  Each round's changes are written to ./fuzz-trace-round.txt
 * before the files are read, so that a crash leaves what to replay.  Exit 0,
 * or 1 (an error of more or less than one line) with the changes printed.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/profile.h"
#include "core/symbolize.h"
#include "core/trace.h"
#include "tracer/format.h"
#include "util/error.h"

#define MAX_FILES 64
#define MAX_EDITS 4

struct edit {
	uint64_t off;
	unsigned len;
	unsigned char old[8], val[8];
};

static uint64_t rng;
static unsigned long built, refused;   /* rounds that gave a profile, an error */
static struct mg_symbolizer *sym;      /* every fourth round's, across rounds */

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* where the tracer writes in a file whose header is h: [off, off + len) per region */
struct region {
	const char *name;
	uint64_t off, len;
};

static size_t regions_of(const struct mgt_header *h, struct region *r)
{
	size_t n = 0;
#define USED(count, max, size) ((uint64_t)((count) < (max) ? (count) + 1 : (max)) * (size))
	r[n++] = (struct region){ "header", MGT_HDR_OFF, sizeof(*h) };
	r[n++] = (struct region){ "modules", MGT_MOD_OFF,
				  USED(h->n_modules, MGT_MAX_MODULES, sizeof(struct mgt_module)) };
	r[n++] = (struct region){ "timeline", MGT_TL_OFF,
				  USED(h->tl_n, MGT_TIMELINE, sizeof(struct mgt_bucket)) };
	r[n++] = (struct region){ "children", MGT_CHILD_OFF,
				  USED(h->n_children, MGT_MAX_CHILDREN, sizeof(struct mgt_child)) };
	r[n++] = (struct region){ "stacks", MGT_STK_OFF, USED(h->n_stacks, MGT_MAX_STACKS, MGT_STACK_REC) };
	r[n++] = (struct region){ "stack info", MGT_INFO_OFF,
				  USED(h->n_stacks, MGT_MAX_STACKS, sizeof(struct mgt_stack_info)) };
	r[n++] = (struct region){ "nodes", MGT_NODE_OFF,
				  USED(h->n_nodes, MGT_MAX_NODES, sizeof(struct mgt_node)) };
	r[n++] = (struct region){ "leak kinds", MGT_LOST_OFF,
				  USED(h->n_stacks, MGT_MAX_STACKS, sizeof(struct mgt_stack_lost)) };
	r[n++] = (struct region){ "batches", MGT_BATCH_OFF,
				  USED(h->n_batches, MGT_MAX_BATCHES, sizeof(struct mgt_batch)) };
#undef USED
	return n;
}

/* a value for a word of len bytes: a boundary or random */
static uint64_t value(const struct mgt_header *h)
{
	const uint64_t v[] = { 0, 1, 2, 7, 8, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
			       UINT64_MAX, UINT64_MAX - 1, 1ull << 63, h->n_stacks, h->n_stacks + 1,
			       h->n_nodes, h->n_nodes + 1, MGT_MAX_STACKS, MGT_MAX_NODES,
			       MGT_MAX_DEPTH, MGT_MAX_DEPTH + 1, h->epoch, h->epoch + 1 };
	uint64_t r = next();
	return r % 3 ? v[r / 3 % (sizeof(v) / sizeof(v[0]))] : next();
}

/* the round's changes, in ./fuzz-trace-round.txt before the files are read:
 * what a crash leaves to replay */
static void note(const char *file, const struct edit *ed, size_t n)
{
	FILE *f = fopen("fuzz-trace-round.txt", "w");
	if (!f)
		return;
	fprintf(f, "%s\n", file);
	for (size_t k = 0; k < n; k++) {
		fprintf(f, "%u bytes at %#llx:", ed[k].len, (unsigned long long)ed[k].off);
		for (unsigned b = 0; b < ed[k].len; b++)
			fprintf(f, " %02x", ed[k].val[b]);
		fputc('\n', f);
	}
	fclose(f);
}

static int one_round(const char *dir, char **files, size_t n_files, struct edit *ed,
		     size_t *n_ed, const char **fname)
{
	size_t fi = next() % n_files;
	int fd = open(files[fi], O_RDWR);
	struct mgt_header h;
	struct region reg[16];
	*fname = files[fi];
	*n_ed = 0;
	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		perror(files[fi]);
		exit(2);
	}
	size_t nr = regions_of(&h, reg);
	size_t n = 1 + next() % MAX_EDITS;
	for (size_t k = 0; k < n; k++) {
		const struct region *r = &reg[next() % nr];
		struct edit *e = &ed[(*n_ed)++];
		uint64_t v = value(&h);
		e->len = (unsigned[]){ 1, 4, 4, 8, 8 }[next() % 5];
		e->off = r->off + next() % (r->len > e->len ? r->len - e->len : 1);
		if (e->len > 1)
			e->off &= ~(uint64_t)(e->len - 1);        /* the fields' alignment, mostly */
		memcpy(e->val, &v, e->len);
		if (pread(fd, e->old, e->len, (off_t)e->off) != (ssize_t)e->len ||
		    pwrite(fd, e->val, e->len, (off_t)e->off) != (ssize_t)e->len) {
			perror(files[fi]);
			exit(2);
		}
	}
	close(fd);
	note(*fname, ed, *n_ed);

	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	int bad = 0;
	if (mg_trace_load(&t, dir, &err) != MG_OK) {
		bad = strchr(err.msg, '\n') != NULL || !err.msg[0];
		refused++;
	} else {
		if (mg_trace_resolve(t, NULL, 0, &err) != MG_OK) {
			bad = strchr(err.msg, '\n') != NULL || !err.msg[0];
			refused++;
		} else if (t->n_procs) {
			char *argv[] = { "fuzz", NULL };
			struct mg_run_info ri = { .name = "fuzz", .argv = argv, .cwd = "/",
						  .root_pid = t->procs[0].pid, .dirty = -1,
						  .symbolizer = next() % 4 ? NULL : sym };
			cJSON_Delete(mg_profile_build(t, &ri));   /* (NULL: out of memory) */
			if (ri.symbolizer)
				mg_symbolizer_recycle(sym, 64);
			built++;
		}
		mg_trace_free(t);
	}
	return bad;
}

static void restore(const char *file, const struct edit *ed, size_t n)
{
	int fd = open(file, O_RDWR);
	for (size_t k = n; k-- > 0;)
		if (fd < 0 || pwrite(fd, ed[k].old, ed[k].len, (off_t)ed[k].off) != (ssize_t)ed[k].len) {
			perror(file);
			exit(2);
		}
	close(fd);
}

static size_t list_files(const char *dir, char **files)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	while (d && (e = readdir(d)) && n < MAX_FILES) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".mgt")) {
			files[n] = malloc(strlen(dir) + l + 2);
			sprintf(files[n++], "%s/%s", dir, e->d_name);
		}
	}
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: fuzz_trace SECONDS SEED DIR...\n", stderr);
		return 2;
	}
	double seconds = atof(argv[1]);
	rng = strtoull(argv[2], NULL, 10) * 0x9e3779b97f4a7c15ull | 1;
	struct mg_error err = { 0 };
	if (mg_symbolizer_new(&sym, &err) != MG_OK) {
		fprintf(stderr, "fuzz_trace: %s\n", err.msg);
		return 2;
	}
	char *const *dirs = argv + 3;
	size_t n_dirs = (size_t)argc - 3;
	unsigned long rounds = 0;
	for (size_t di = 0; di < n_dirs; di++) {
		char *files[MAX_FILES];
		size_t n_files = list_files(dirs[di], files);
		if (!n_files) {
			fprintf(stderr, "fuzz_trace: no trace files in %s\n", dirs[di]);
			return 2;
		}
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			struct edit ed[MAX_EDITS];
			size_t n_ed;
			const char *f;
			int bad = one_round(dirs[di], files, n_files, ed, &n_ed, &f);
			rounds++;
			if (bad) {
				fprintf(stderr, "fuzz_trace: a load error of more or less than one line, "
					"after these changes to %s:\n", f);
				for (size_t k = 0; k < n_ed; k++)
					fprintf(stderr, "  %u bytes at %#llx\n", ed[k].len,
						(unsigned long long)ed[k].off);
				return 1;
			}
			restore(f, ed, n_ed);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds / (double)n_dirs)
				break;
		}
		for (size_t k = 0; k < n_files; k++)
			free(files[k]);
	}
	mg_symbolizer_free(sym);
	printf("fuzz_trace: %lu rounds over %zu runs (%lu profiles built, %lu files refused), "
	       "no failure\n", rounds, n_dirs, built, refused);
	return 0;
}
