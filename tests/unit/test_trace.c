/* test_trace.c - the reader of trace files (core/trace.c) on files written by hand
 *
 * A trace file laid out as src/tracer/FORMAT.md says, in a temporary
 * directory: two stacks whose frames share their outer nodes, one truncated,
 * one with leak kinds.  The reader must hand each stack over whole (its
 * counters, flags and leak kinds gathered from their regions) and give each
 * one's frames innermost first through the shared nodes.  Then the same file
 * broken four ways, each one a "corrupt" error and nothing read: a node whose
 * caller is not below it (a cycle), a stack whose node was never committed,
 * a chain deeper than MGT_MAX_DEPTH, a module's build-id longer than its
 * field; and a module path and exe without their NUL, read as cut at their
 * field's end.
 *
 * The image's figures the tracer does not keep (src/tracer/format.h) are
 * derived at load from the stacks: the counts and live figures as sums, each
 * stack's live blocks as allocs - frees, the peak as what the stacks held at
 * it (epoch rebase), the events from the open bucket's countdown; and for an
 * image that died, the peak raised to its live bytes when they reach it.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/stacks.h"
#include "core/trace.h"
#include "harness.h"
#include "util/error.h"

static char dir[64];

static void put(int fd, uint64_t off, const void *p, size_t n)
{
	CHECK(pwrite(fd, p, n, (off_t)off) == (ssize_t)n);
}

static void put_node(int fd, uint32_t id, uint64_t ret, uint32_t caller)
{
	struct mgt_node n = { (uint32_t)ret, (uint32_t)(ret >> 32), caller };
	put(fd, MGT_NODE_OFF + (uint64_t)id * sizeof(n), &n, sizeof(n));
}

/* stack id's counters (struct mgt_stack) and info */
static void put_stack(int fd, uint32_t id, uint64_t allocs, uint64_t cur, uint32_t node,
		      uint32_t flags)
{
	struct mgt_stack s = { .allocs = allocs, .total_bytes = 100 * allocs, .frees = allocs - cur,
			       .cur_bytes = 100 * cur };
	struct mgt_stack_info si = { node, flags, 0 };
	put(fd, MGT_STK_OFF + (uint64_t)id * MGT_STACK_REC, &s, MGT_STACK_REC);
	put(fd, MGT_INFO_OFF + (uint64_t)id * sizeof(si), &si, sizeof(si));
}

/* dir/1.0.mgt created empty at its full size, and *h a valid header for it */
static int new_trace(struct mgt_header *h, uint32_t state)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/1.0.mgt", dir);
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)MGT_FILE_SIZE) == 0);
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MGT_MAGIC, 8);
	h->version = MGT_VERSION;
	h->header_size = sizeof(*h);
	h->file_size = MGT_FILE_SIZE;
	h->pid = 1;
	h->state = state;
	return fd;
}

enum breakage { WHOLE, CYCLE, UNCOMMITTED, TOO_DEEP, UNTERMINATED, LONG_BUILD_ID };

/* writes dir/1.0.mgt: stacks 1 and 2, nodes 1-4, broken as asked */
static void write_trace(enum breakage b)
{
	static struct mgt_header h;
	int fd = new_trace(&h, MGT_EXITED);
	h.flags = MGT_F_LEAKCHECK | MGT_F_EXIT_CODE;
	h.depth_max = 64;
	h.allocs = 5;
	h.cur_bytes = 100;
	h.cur_blocks = 1;
	h.n_stacks = 3;
	h.n_nodes = 5;
	/* main (0x1000) calls f (0x2000), which allocates at 0x3000 and 0x4000 */
	put_node(fd, 1, 0x1000, 0);
	put_node(fd, 2, 0x7f0000002000ull, 1);
	put_node(fd, 3, 0x3000, b == CYCLE ? 3 : 2);
	put_node(fd, 4, 0x4000, 2);
	put_stack(fd, 1, 3, 1, 3, 0);
	put_stack(fd, 2, 2, 0, b == UNCOMMITTED ? 5 : 4, 1);
	struct mgt_stack_lost l = { { 0, 0, 0, 100 }, { 0, 0, 0, 1 } };
	put(fd, MGT_LOST_OFF + 1 * sizeof(l), &l, sizeof(l));
	put(fd, MGT_LOST_OFF + 2 * sizeof(l), &l, sizeof(l)); /* not read: stack 2 holds nothing */
	/* one module, f's: its path and exe without their NUL, or a build-id
	 * longer than its field (a program that wrote over its trace file) */
	struct mgt_module m = { .base = 0x7f0000000000ull, .lo = 0x7f0000001000ull,
				.hi = 0x7f0000003000ull, .build_id_len = 4, .build_id = { 1, 2, 3, 4 } };
	memset(m.path, 'p', sizeof(m.path));
	m.path[0] = '/';
	if (b != UNTERMINATED) {
		memcpy(m.path, "/lib/f.so", 10);
		memcpy(h.exe, "/bin/main", 10);
	} else {
		memset(h.exe, 'e', sizeof(h.exe));
	}
	if (b == LONG_BUILD_ID)
		m.build_id_len = 33;
	put(fd, MGT_MOD_OFF, &m, sizeof(m));
	h.n_modules = 1;
	if (b == TOO_DEEP) {
		/* stack 2 at the end of a chain of MGT_MAX_DEPTH + 1 nodes */
		for (uint32_t i = 5; i < 5 + MGT_MAX_DEPTH; i++)
			put_node(fd, i, 0x5000 + i, i - 1);
		h.n_nodes = 5 + MGT_MAX_DEPTH;
		put_stack(fd, 2, 2, 0, h.n_nodes - 1, 1);
	}
	put(fd, 0, &h, sizeof(h));
	close(fd);
}

static void check_whole(void)
{
	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	struct mg_frame f[8];
	write_trace(WHOLE);
	CHECKF(mg_trace_load(&t, dir, &err) == MG_OK, "%s", err.msg);
	if (!t)
		return;
	CHECK_U64(1, t->n_images);
	const struct mg_image *img = &t->images[0];
	CHECK_U64(3, img->n_stacks);
	CHECK_U64(5, img->n_nodes);
	CHECK_U64(3, img->stacks[1].allocs);
	CHECK_U64(300, img->stacks[1].total_bytes);
	CHECK_U64(1, mgt_stack_blocks(&img->stacks[1]));
	CHECK_U64(0, img->info[1].flags);
	const struct mgt_stack_lost *lost = mg_image_lost(img, 1);
	CHECK(lost != NULL);
	if (lost) {
		CHECK_U64(100, lost->bytes[MGT_REACHABLE]);
		CHECK_U64(1, lost->blocks[MGT_REACHABLE]);
	}
	CHECK_U64(2, img->stacks[2].allocs);
	CHECK_U64(1, img->info[2].flags);
	/* no block live: its leak record is not read, whatever it holds */
	CHECK(mg_image_lost(img, 2) == NULL);

	/* innermost first; the outer two nodes are the same for both */
	CHECK_U64(3, mg_trace_frames(img, 1, f, 8));
	CHECK_U64(0x3000, f[0].addr);
	CHECK_U64(0x7f0000002000ull, f[1].addr);
	CHECK_U64(0x1000, f[2].addr);
	CHECK(f[0].module == NULL && f[0].offset == 0x3000);
	CHECK_U64(3, mg_trace_frames(img, 2, f, 8));
	CHECK_U64(0x4000, f[0].addr);
	CHECK_U64(0x7f0000002000ull, f[1].addr);
	CHECK_U64(0x1000, f[2].addr);
	/* cut at max; stack 0 and ids past the end have none */
	CHECK_U64(2, mg_trace_frames(img, 2, f, 2));
	CHECK_U64(0, mg_trace_frames(img, 0, f, 8));
	CHECK_U64(0, mg_trace_frames(img, 3, f, 8));
	mg_trace_free(t);
}

/* stack id's counters as the tracer leaves them: no cur_blocks, the
 * depot's hash of the stack in its place */
static void put_counters(int fd, uint32_t id, uint64_t allocs, uint64_t frees, uint64_t total,
			 uint64_t cur, uint64_t epoch, uint64_t peak_bytes, uint64_t peak_blocks)
{
	struct mgt_stack s = { .allocs = allocs, .total_bytes = total, .frees = frees,
			       .cur_bytes = cur, .peak_bytes = peak_bytes,
			       .peak_blocks = peak_blocks, .epoch = epoch,
			       .key = id ? 0x9e3779b97f4a7c15ull * id : 0 };
	struct mgt_stack_info si = { 0, 0, 0 };
	put(fd, MGT_STK_OFF + (uint64_t)id * MGT_STACK_REC, &s, MGT_STACK_REC);
	put(fd, MGT_INFO_OFF + (uint64_t)id * sizeof(si), &si, sizeof(si));
}

/* as new_trace, for an image with stacks 0 to n_stacks - 1 and no frames */
static int new_stacks_trace(struct mgt_header *h, uint32_t state, uint32_t n_stacks)
{
	int fd = new_trace(h, state);
	h->depth_max = 64;
	h->n_stacks = n_stacks;
	h->n_nodes = 1;
	return fd;
}

/* the image's counts the reader derived: allocs, frees, bytes, live bytes and blocks */
static void check_counts(const struct mgt_header *r, uint64_t allocs, uint64_t frees,
			 uint64_t total, uint64_t cur_bytes, uint64_t cur_blocks)
{
	CHECK_U64(allocs, r->allocs);
	CHECK_U64(frees, r->frees);
	CHECK_U64(total, r->total_bytes);
	CHECK_U64(cur_bytes, r->cur_bytes);
	CHECK_U64(cur_blocks, r->cur_blocks);
}

/*
 * Three stacks: 0 rebased at the peak (20 bytes in 2 blocks), 1 not since
 * (so its live figures, 0, count), 2 rebased (32 in 1).  Live: 94 bytes in
 * 5 blocks; the peak 52 in 3.  With `big`, stack 1 was rebased holding 100
 * bytes in 2 blocks: the peak is 152 in 5.
 */
static void check_derived(uint32_t state, int big)
{
	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	static struct mgt_header h;
	int fd = new_stacks_trace(&h, state, 3);
	h.epoch = 2;
	h.peak_bytes = 7;                    /* the tracer's; the stacks decide */
	h.events = 8;                        /* before the open bucket ... */
	h.tl_width = 4;
	h.tl_left = 1;                       /* ... and 3 in it */
	h.tl_open.live_max = 90;
	h.room = 90 - 94;
	put_counters(fd, 0, 4, 1, 40, 30, 2, 20, 2);
	put_counters(fd, 1, 3, 3, 300, 0, big ? 2 : 1, big ? 100 : 999, big ? 2 : 9);
	put_counters(fd, 2, 2, 0, 64, 64, 2, 32, 1);
	put(fd, 0, &h, sizeof(h));
	close(fd);

	CHECKF(mg_trace_load(&t, dir, &err) == MG_OK, "%s", err.msg);
	if (!t)
		return;
	const struct mg_image *img = &t->images[0];
	const struct mgt_header *r = img->hdr;
	check_counts(r, 9, 4, 404, 94, 5);
	CHECK_U64(3, mgt_stack_blocks(&img->stacks[0]));
	CHECK_U64(0, mgt_stack_blocks(&img->stacks[1]));
	CHECK_U64(2, mgt_stack_blocks(&img->stacks[2]));
	CHECK_U64(11, r->events);
	CHECK(img->have_open_bucket);
	if (state == MGT_EXITED) {
		CHECK_U64(big ? 152 : 52, r->peak_bytes);
		CHECK_U64(big ? 5 : 3, r->peak_blocks);
		CHECK_U64(2, r->epoch);
		CHECK_U64(90, r->tl_open.live_max);
	} else if (big) {
		/* died below its peak: the peak stands */
		CHECK_U64(152, r->peak_bytes);
		CHECK_U64(5, r->peak_blocks);
		CHECK_U64(2, r->epoch);
		CHECK_U64(94, r->tl_open.live_max);
		CHECK_U64(94, r->tl_open.live_end);
	} else {
		/* died holding more than the stacks' peak: that is the peak, the
		 * latest, and every stack's share of it is what it held then */
		CHECK_U64(94, r->peak_bytes);
		CHECK_U64(5, r->peak_blocks);
		CHECK(r->epoch != 2 && img->stacks[0].epoch != r->epoch);
		CHECK_U64(94, r->tl_open.live_max);
		CHECK_U64(11, r->tl_open.event_end);
	}
	mg_trace_free(t);
}

/* thread record k of batch i (struct mgt_trec) */
static void put_trec(int fd, uint32_t i, uint32_t k, uint32_t stack, int64_t allocs,
		     int64_t frees, int64_t total, int64_t cur, uint64_t epoch, int64_t peak_bytes,
		     int64_t peak_blocks)
{
	struct mgt_trec r = { .allocs = (uint64_t)allocs, .total_bytes = (uint64_t)total,
			      .frees = (uint64_t)frees, .cur_bytes = (uint64_t)cur, .stack = stack,
			      .peak_bytes = (uint64_t)peak_bytes,
			      .peak_blocks = (uint64_t)peak_blocks, .epoch = epoch };
	put(fd, MGT_BATCH_OFF + (uint64_t)i * sizeof(struct mgt_batch) +
		offsetof(struct mgt_batch, rec) + (uint64_t)k * sizeof(r), &r, sizeof(r));
}

/*
 * A threaded image with stacks (src/tracer/FORMAT.md, "Threads, with
 * stacks"): two threads' records added to the shared ones, each with its
 * own epoch.  Stack 1: shared 2 allocs, 200 bytes live, 150 in 1 block at
 * the peak; thread 0's record 3 allocs, 1 free, 20 bytes live, 10 in 1 at
 * the peak.  Stack 2: shared 2 allocs, 1 free, 5 bytes live, not rebased
 * since (epoch 1): its live figures count; thread 1 freed that block (its
 * record -5 bytes, -1 block, not rebased either).  A record of no stack
 * counts nothing.  So: 7 allocs, 3 frees, 245 bytes, 220 live in 4 blocks,
 * and the peak 160 bytes in 2 blocks, which the timeline's highest bucket
 * (the tracer's 120) becomes.  `journal`: stack 1's shared record was cut
 * halfway through thread 0's addition by a SIGKILL (evict_*): the reader
 * takes it as it was.  `bad`: a record of a stack past n_stacks.  The leak
 * check ran: a stack's leak kinds are read when it holds blocks once the
 * threads' records are added (stack 1), not by its shared record alone
 * (stack 2's holds a block, which thread 1 freed).
 */
static void check_threads(int journal, int bad)
{
	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	static struct mgt_header h;
	int fd = new_stacks_trace(&h, MGT_EXITED, 3);
	h.n_batches = 2;
	h.epoch = 3;
	h.peak_bytes = 120;
	h.events = 10;
	h.tl_width = 5;
	h.tl_left = 5;
	h.tl_n = 2;
	struct mgt_bucket tl[2] = { { 1, 100, 100, 5 }, { 2, 60, 120, 10 } };
	put(fd, MGT_TL_OFF, tl, sizeof(tl));
	h.tl_open.live_max = 50;
	if (journal) {
		struct mgt_stack before = { .allocs = 2, .total_bytes = 200, .cur_bytes = 200,
					    .peak_bytes = 150, .peak_blocks = 1, .epoch = 3 };
		memcpy(h.evict_old, &before, MGT_STACK_REC);
		h.evict_stack = 2;
		h.evict_batch = 0;
		h.evict_rec = 1;
		put_counters(fd, 1, 5, 0, 230, 200, 3, 150, 1);   /* allocs and bytes added */
	} else {
		put_counters(fd, 1, 2, 0, 200, 200, 3, 150, 1);
	}
	put_counters(fd, 2, 2, 1, 15, 5, 1, 999, 9);
	put_trec(fd, 0, 1, 1, 3, 1, 30, 20, 3, 10, 1);
	put_trec(fd, 1, 2, bad ? 3 : 2, 0, 1, 0, -5, 2, 77, 7);
	put_trec(fd, 1, 5, MGT_TREC_NONE, 9, 9, 999, 999, 3, 999, 9);
	struct mgt_stack_lost l = { { 0, 0, 0, 220 }, { 0, 0, 0, 4 } };
	put(fd, MGT_LOST_OFF + 1 * sizeof(l), &l, sizeof(l));
	put(fd, MGT_LOST_OFF + 2 * sizeof(l), &l, sizeof(l));
	h.flags |= MGT_F_LEAKCHECK;
	put(fd, 0, &h, sizeof(h));
	close(fd);

	int rc = mg_trace_load(&t, dir, &err);
	if (bad) {
		CHECK(rc != MG_OK && t == NULL);
		CHECKF(strstr(err.msg, "1.0.mgt' is corrupt (thread counts)") != NULL, "%s", err.msg);
		return;
	}
	CHECKF(rc == MG_OK, "%s", err.msg);
	if (!t)
		return;
	const struct mg_image *img = &t->images[0];
	const struct mgt_header *r = img->hdr;
	check_counts(r, 7, 3, 245, 220, 4);
	CHECK_U64(5, img->stacks[1].allocs);
	CHECK_U64(220, img->stacks[1].cur_bytes);
	CHECK_U64(2, img->stacks[2].frees);
	CHECK_U64(0, img->stacks[2].cur_bytes);
	const struct mgt_stack_lost *lost = mg_image_lost(img, 1);
	CHECK(lost != NULL && lost->blocks[MGT_REACHABLE] == 4);
	CHECK(mg_image_lost(img, 2) == NULL);
	CHECK_U64(160, r->peak_bytes);
	CHECK_U64(2, r->peak_blocks);
	uint64_t b, k;
	mg_stack_at_peak(img, &img->stacks[1], &b, &k);
	CHECK(b == 160 && k == 2);
	mg_stack_at_peak(img, &img->stacks[2], &b, &k);
	CHECK(b == 0 && k == 0);
	CHECK_U64(100, img->timeline[0].live_max);
	CHECK_U64(160, img->timeline[1].live_max);
	CHECK_U64(50, r->tl_open.live_max);
	CHECK_U64(10, r->events);              /* an exited image's unfolded events: none */
	mg_trace_free(t);
}

static void check_corrupt(enum breakage b, const char *what, const char *why)
{
	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	char want[64];
	write_trace(b);
	snprintf(want, sizeof(want), "1.0.mgt' is corrupt (%s)", why);
	CHECKF(mg_trace_load(&t, dir, &err) != MG_OK, "%s: loaded", what);
	CHECKF(strstr(err.msg, want) != NULL, "%s: %s", what, err.msg);
	CHECK(t == NULL);
}

/* a module path and exe without their NUL: read as cut at their field's end */
static void check_unterminated(void)
{
	struct mg_trace *t = NULL;
	struct mg_error err = { 0 };
	struct mg_frame f[8];
	write_trace(UNTERMINATED);
	CHECKF(mg_trace_load(&t, dir, &err) == MG_OK, "%s", err.msg);
	if (!t)
		return;
	const struct mg_image *img = &t->images[0];
	CHECK_U64(MGT_PATH_MAX - 1, strlen(img->hdr->exe));
	CHECK_U64(MGT_PATH_MAX - 1, strlen(img->modules[0].path));
	size_t n = mg_trace_frames(img, 1, f, 8);
	CHECK_U64(3, n);
	CHECK(n == 3 && f[1].module == img->modules[0].path && f[1].build_id_len == 4);
	mg_trace_free(t);
}

int main(void)
{
	char path[128];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/mgtrace.XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	check_whole();
	check_corrupt(CYCLE, "a node calling itself", "call stacks");
	check_corrupt(UNCOMMITTED, "a stack's node past n_nodes", "call stacks");
	check_corrupt(TOO_DEEP, "a chain deeper than MGT_MAX_DEPTH", "call stacks");
	check_corrupt(LONG_BUILD_ID, "a build-id longer than its field", "modules");
	check_unterminated();
	check_derived(MGT_EXITED, 0);
	check_derived(MGT_EXITED, 1);
	check_derived(MGT_RUNNING, 0);
	check_derived(MGT_RUNNING, 1);
	check_threads(0, 0);
	check_threads(1, 0);
	check_threads(0, 1);
	snprintf(path, sizeof(path), "%s/1.0.mgt", dir);
	unlink(path);
	rmdir(dir);
	printf("%d checks, %d failures\n", checks, failures);
	return failures != 0;
}
