/* depot_size.c - the trace file of fx_depot's "size" run is no bigger than its layout allows
 *
 * usage: depot_size FILE VARY
 *
 * FILE is the .mgt file of `fx_depot size VARY` (fixtures/depot.c): 2^VARY
 * distinct stacks, each DEPTH + 1 levels deep, every block freed.  From the
 * fixture's shape and the layout of format.h this derives the most the file
 * may hold, and checks the file against it:
 *
 *  - stacks: the fixture's 2^VARY and at most SLACK_STACKS others (the
 *    runtime's own allocations);
 *  - nodes: each level of the fixture is two frames (rec_a or rec_b, and
 *    down), so below the DEPTH - VARY shared levels the chains form a
 *    binary tree: 2 x (2 + 4 + ... + 2^VARY) nodes, plus 2 per stack for
 *    down(0) and leaf; with the shared frames (2 per level, main and what
 *    lies below it) and the other stacks' frames: at most
 *    6 x 2^VARY + 2 x DEPTH + SLACK_NODES.  (Stored flat, as before
 *    MGT_VERSION 4, the same stacks needed 2 x DEPTH + 4 frames each.)
 *  - bytes used (st_blocks, which counts pages reserved but not yet
 *    allocated on disk): the tracer reserves the file page by page, the
 *    depot's regions 64 KiB (MGT_CHUNK) ahead, as records are written.  So
 *    at most the chunks that hold the header, the modules (SLACK_MODULES of them),
 *    the timeline and the children, and the first S stacks' counters and
 *    info and the first N nodes for the bounds S and N above; none for the
 *    leak kinds (no block is live at exit) or the batches (one thread).
 *
 * Prints the figures; exits 0 when the file is within the bounds, 1 if not,
 * 2 on a usage or read error.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

#define DEPTH 24                  /* fixtures/depot.c */
#define MGT_CHUNK (64u << 10)     /* tracer.h: MGT_CHUNK_SHIFT */
#define SLACK_STACKS 64u
#define SLACK_NODES 1024u
#define SLACK_MODULES 64u

/* chunks of the file that hold any byte of [off, off + len) */
static uint64_t chunks(uint64_t off, uint64_t len)
{
	return len ? (off + len - 1) / MGT_CHUNK - off / MGT_CHUNK + 1 : 0;
}

int main(int argc, char **argv)
{
	struct stat st;
	int fd;
	if (argc != 3 || (fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "usage: depot_size FILE VARY\n");
		return 2;
	}
	unsigned vary = (unsigned)atoi(argv[2]);
	const struct mgt_header *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED || vary < 1 || vary > 20) {
		fprintf(stderr, "depot_size: cannot read %s\n", argv[1]);
		return 2;
	}
	uint64_t fx = 1ull << vary;
	uint64_t max_stacks = fx + SLACK_STACKS;
	uint64_t max_nodes = 6 * fx + 2 * DEPTH + SLACK_NODES;
	uint64_t bound = chunks(MGT_HDR_OFF, MGT_HDR_SIZE) +
		chunks(MGT_MOD_OFF, SLACK_MODULES * sizeof(struct mgt_module)) +
		chunks(MGT_TL_OFF, MGT_TL_SIZE + MGT_CHILD_SIZE) +
		chunks(MGT_STK_OFF, max_stacks * MGT_STACK_REC) +
		chunks(MGT_INFO_OFF, max_stacks * sizeof(struct mgt_stack_info)) +
		chunks(MGT_NODE_OFF, max_nodes * sizeof(struct mgt_node));
	bound *= MGT_CHUNK;
	uint64_t used = (uint64_t)st.st_blocks * 512;
	uint64_t flat = fx * (144 + 8 * (2 * DEPTH + 4));
	int ok = 1;

	printf("stacks %u (fixture %llu, at most %llu), nodes %u (at most %llu), modules %u\n",
	       h->n_stacks, (unsigned long long)fx, (unsigned long long)max_stacks, h->n_nodes,
	       (unsigned long long)max_nodes, h->n_modules);
	printf("file uses %llu bytes, bound %llu (stored flat as in version 3: over %llu)\n",
	       (unsigned long long)used, (unsigned long long)bound, (unsigned long long)flat);
	if (h->n_stacks < fx || h->n_stacks > max_stacks) {
		printf("FAIL: %u stacks, want %llu to %llu\n", h->n_stacks, (unsigned long long)fx,
		       (unsigned long long)max_stacks);
		ok = 0;
	}
	if (h->n_nodes > max_nodes) {
		printf("FAIL: %u nodes, more than %llu: shared frames stored more than once\n",
		       h->n_nodes, (unsigned long long)max_nodes);
		ok = 0;
	}
	if (h->n_modules > SLACK_MODULES) {
		printf("FAIL: %u modules, more than the bound allows for\n", h->n_modules);
		ok = 0;
	}
	if (used > bound) {
		printf("FAIL: the file uses more than its layout allows\n");
		ok = 0;
	}
	if (bound * 2 > flat) {
		printf("FAIL: VARY %u is too small to tell the layouts apart\n", vary);
		ok = 0;
	}
	if (h->flags & MGT_F_STACK_FULL) {
		printf("FAIL: the depot filled up\n");
		ok = 0;
	}
	return ok ? 0 : 1;
}
