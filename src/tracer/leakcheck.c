/* leakcheck.c - leak kinds at exit: memcheck's classification by a conservative scan
 *
 * At the very end of the process (the exit step, see record.c) every block
 * still live is classified as memcheck does (mc_leakcheck.c):
 *   1. from the roots, every aligned word that points into a block marks it:
 *      a pointer to its start makes it "reachable" (if what pointed is itself
 *      reachable or a root), a pointer into its middle "possibly lost"; the
 *      contents of each newly marked block are scanned the same way;
 *   2. the blocks still unmarked are leaked: taken in address order, each one
 *      not yet claimed leads a clique, and every unmarked block reachable from
 *      it is "indirectly lost"; the leaders are "definitely lost".
 * memcheck's default heuristics that treat some interior pointers as start
 * pointers are applied: "newarray" (new[] with a count cookie) and "length64"
 * (a length word before the data).  "stdstring" (pre-C++11 COW strings) and
 * "multipleinheritance" are not.
 *
 * Roots are every readable and writable mapping of the process (/proc/self/maps)
 * except: the malloc heaps ([heap] and glibc's per-thread arena heaps), any
 * mapping that holds a live block (blocks are scanned only when reached), the
 * tracer's own mappings and data, and the exiting thread's stack below the
 * frame of the program's call into the exit path (see struct mgt_exit_point).  Roots are read with process_vm_readv, so a
 * region another thread unmaps meanwhile is skipped instead of faulting, and
 * pages never touched (mincore) are skipped without being faulted in; blocks
 * too, unless the exiting thread is the process's only one (it never had a
 * second, or /proc/self/status counts one thread now): then they are read in
 * place, since nothing can free or unmap them during the scan.
 *
 * Runs with the guard held and without malloc: its buffers are mmap'd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "tracer.h"

enum { UNREACHED = 0, POSSIBLE = 1, REACHABLE = 2, INDIRECT = 3 };

struct lc {
	struct mgt_block *b;       /* live blocks, sorted by address */
	uint64_t hint;             /* the index find_block found last */
	uint8_t *state;
	uint32_t *stack;           /* work list of block indices */
	uint64_t n, top, cap;
	uint64_t lo, hi;           /* lowest block start, highest block end */
	uint32_t clique;           /* phase 2: the leader being expanded, else UINT32_MAX */
	int in_place;              /* one thread: live blocks can be read where they are */
	int inexact;
	long mem_fd;               /* /proc/self/mem when process_vm_readv is refused, else -1 */
	uint64_t scanned;
	unsigned char buf[64 << 10];
	unsigned char vec[16];     /* mincore, per 64 KiB chunk (16 pages) */
};

static struct lc *lc;          /* mmap'd: the struct is large */

/* ---------------------------------------------------------------- reading */

/*
 * Copies [addr, addr+len) of our own memory into buf; 0 if unreadable now.
 * process_vm_readv never faults on an unmapped page; where a seccomp policy
 * refuses it (Docker's default profile does), pread of /proc/self/mem
 * (an error, not a fault, for what is not mapped) does the same.  That
 * descriptor lives only during the exit step.
 */
static size_t read_mem(uint64_t addr, size_t len, void *buf)
{
	long r;
	if (lc->mem_fd < 0) {
		struct iovec local = { buf, len }, remote = { (void *)addr, len };
		r = mgt_sys(SYS_process_vm_readv, mgt_getpid(), (long)&local, 1, (long)&remote, 1, 0);
		if (r != -EPERM && r != -ENOSYS)
			return r > 0 ? (size_t)r : 0;
		lc->mem_fd = mgt_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/mem",
				     O_RDONLY | O_CLOEXEC, 0, 0, 0);
		if (lc->mem_fd < 0) {
			lc->mem_fd = -2;          /* neither: nothing can be read safely */
			return 0;
		}
	}
	if (lc->mem_fd == -2 || addr > (uint64_t)INT64_MAX)
		return 0;
	do
		r = mgt_sys(SYS_pread64, lc->mem_fd, (long)buf, (long)len, (long)addr, 0, 0);
	while (r == -EINTR);
	return r > 0 ? (size_t)r : 0;
}

static void sift_down(struct mgt_block *a, uint64_t root, uint64_t n)
{
	for (;;) {
		uint64_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && a[child].ptr < a[child + 1].ptr)
			child++;
		if (a[root].ptr >= a[child].ptr)
			return;
		struct mgt_block t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

/* heapsort by address, in place: sort_blocks' fallback without room for its copy */
static void heapsort_blocks(struct mgt_block *a, uint64_t n)
{
	for (uint64_t start = n / 2; start-- > 0;)
		sift_down(a, start, n);
	for (uint64_t end = n; end-- > 1;) {
		struct mgt_block t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

/*
 * Sorts a by address, into order from the runs it already has: the copy of
 * the map is the side table's blocks, then each shadow's in address order
 * (ptrmap.c, mgt_ptrmap_copy), a few sorted runs, which bottom-up merging of
 * the runs found takes in a few passes where a heapsort took n log n steps
 * (1.8% of a panicking Rust test's run, 35 MB live at exit).  tmp holds n
 * blocks.  Returns the array that holds the result: a or tmp.
 */
static struct mgt_block *sort_blocks(struct mgt_block *a, struct mgt_block *tmp, uint64_t n)
{
	for (;;) {
		uint64_t out = 0, runs = 0;
		for (uint64_t i = 0; i < n; runs++) {
			uint64_t mid = i + 1, end;
			while (mid < n && a[mid - 1].ptr <= a[mid].ptr)
				mid++;
			end = mid < n ? mid + 1 : n;
			while (end < n && a[end - 1].ptr <= a[end].ptr)
				end++;
			/* merge [i, mid) and [mid, end) into tmp */
			uint64_t x = i, y = mid;
			while (x < mid && y < end)
				tmp[out++] = a[y].ptr < a[x].ptr ? a[y++] : a[x++];
			while (x < mid)
				tmp[out++] = a[x++];
			while (y < end)
				tmp[out++] = a[y++];
			i = end;
		}
		if (runs <= 1)
			return tmp;
		struct mgt_block *t = a;
		a = tmp;
		tmp = t;
	}
}

/* The block that word w points into, or -1.  A 0-byte block is pointed to only
 * by its exact address. */
static int64_t find_block(uint64_t w)
{
	if (w < lc->lo || w >= lc->hi)
		return -1;
	/* the last block with ptr <= w (b[0]'s is lc->lo), without a branch to
	 * mispredict: the search was half of the leak check's time where the
	 * live heap is full of pointers.  Words side by side often point to
	 * blocks side by side: the block found last, or the one after it, first */
	const struct mgt_block *b = lc->b;
	uint64_t l = lc->hint, len;
	if (l + 1 < lc->n && b[l + 1].ptr <= w)
		l++;
	if (b[l].ptr > w || (l + 1 < lc->n && b[l + 1].ptr <= w)) {
		for (l = 0, len = lc->n; len > 1; len -= len / 2)
			l = b[l + len / 2].ptr <= w ? l + len / 2 : l;
	}
	lc->hint = l;
	if (w < b[l].ptr)
		return -1;
	if (w < b[l].ptr + b[l].size || w == b[l].ptr)
		return (int64_t)l;
	return -1;
}

/* memcheck's "newarray" and "length64" heuristics for an interior pointer */
static int heuristic_start(uint64_t w, const struct mgt_block *b)
{
	uint64_t first;
	if (w != b->ptr + 8 || b->size < 8 || read_mem(b->ptr, 8, &first) != 8)
		return 0;
	if (first > 0 && (b->size - 8) % first == 0)
		return 1;                 /* newarray: element count, then the elements */
	return first == b->size - 8;      /* length64: length, then the data */
}

/*
 * w is glibc's own pointer to the chunk after block b: its arena's top chunk
 * or a free chunk in a bin.  A chunk's header is 16 bytes before the memory
 * it hands out, and the next chunk's first word overlaps the last 8 usable
 * bytes of b, so where b's request reaches them that header lies inside b
 * (realloc growing a block in place at the end of the heap: the top chunk
 * 48 bytes into a 49-byte block).  Such a word is the allocator's
 * bookkeeping, which memcheck, with its own allocator, never has; a program
 * pointer to exactly that place is an interior pointer all the same, and is
 * the rare case this takes for glibc's.
 */
static int glibc_link(uint64_t w, const struct mgt_block *b)
{
	uint64_t hdr;
	if (w == b->ptr || (w & 15) || read_mem(b->ptr - 8, 8, &hdr) != 8 || (hdr & 2))
		return 0;
	return w == b->ptr - 16 + (hdr & ~7ull);
}

static void push(uint64_t i)
{
	if (lc->top < lc->cap)
		lc->stack[lc->top++] = (uint32_t)i;
	else
		lc->inexact = 1;              /* cannot happen: each block is pushed <= 2 times */
}

static void mark(uint64_t w, int prior_definite)
{
	int64_t i = find_block(w);
	if (i < 0)
		return;
	uint8_t *st = &lc->state[i];
	if (lc->clique != UINT32_MAX) {
		/* phase 2: anything a leaked block points to joins its clique */
		if (*st == UNREACHED && (uint32_t)i != lc->clique) {
			*st = INDIRECT;
			push((uint64_t)i);
		}
		return;
	}
	if (*st == REACHABLE || glibc_link(w, &lc->b[i]))
		return;
	int start = w == lc->b[i].ptr || heuristic_start(w, &lc->b[i]);
	if (start && prior_definite) {
		*st = REACHABLE;
		push((uint64_t)i);        /* (re)scan: its children may be upgraded too */
	} else if (*st == UNREACHED) {
		*st = POSSIBLE;
		push((uint64_t)i);
	}
}

/* Scans [addr, addr+len) word by word; `check_resident` skips untouched pages. */
static void scan_range(uint64_t addr, uint64_t len, int prior_definite, int check_resident)
{
	uint64_t a = (addr + 7) & ~7ull, end = addr + len;
	while (a + 8 <= end) {
		uint64_t chunk = sizeof(lc->buf);
		uint64_t page_off = a & 4095;
		if (chunk > end - a)
			chunk = (end - a) & ~7ull;
		if (check_resident) {
			/* stay within 16 pages for one mincore call */
			uint64_t span = 16 * 4096 - page_off;
			if (chunk > span)
				chunk = span;
			if (mgt_sys(SYS_mincore, (long)(a - page_off), (long)(chunk + page_off),
				    (long)lc->vec, 0, 0, 0) == 0) {
				/* trim to the first resident page run; skip non-resident pages */
				unsigned pg = 0, pages = (unsigned)((chunk + page_off + 4095) / 4096);
				while (pg < pages && !(lc->vec[pg] & 1))
					pg++;
				if (pg == pages) {
					a += chunk;
					continue;
				}
				if (pg) {
					a = (a - page_off) + pg * 4096ull;
					continue;
				}
			}
		}
		size_t got = read_mem(a, chunk, lc->buf);
		if (got < 8) {
			a = (a + 4096) & ~4095ull;   /* unreadable page: skip it */
			continue;
		}
		lc->scanned += got;
		const uint64_t *w = (const uint64_t *)lc->buf;
		for (size_t k = 0; k < got / 8; k++)
			if (w[k] >= lc->lo && w[k] < lc->hi)
				mark(w[k], prior_definite);
		a += got & ~7ull;
	}
}

static int readable_block(const struct mgt_block *b);

static void drain(void)
{
	while (lc->top) {
		uint32_t i = lc->stack[--lc->top];
		const struct mgt_block *b = &lc->b[i];
		int definite = lc->state[i] == REACHABLE;
		if (lc->in_place && readable_block(b)) {
			/* no other thread can free it now: no copy, no syscall */
			const uint64_t *w = (const uint64_t *)(uintptr_t)b->ptr;
			lc->scanned += b->size;
			for (uint64_t k = 0; k < b->size / 8; k++)
				if (w[k] >= lc->lo && w[k] < lc->hi)
					mark(w[k], definite);
		} else {
			scan_range(b->ptr, b->size, definite, 0);
		}
	}
}

/* ------------------------------------------------------------------ roots */

static uint64_t hex(const char **p)
{
	uint64_t v = 0;
	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

/*
 * glibc's per-thread arena heaps are 64 MiB aligned and begin with a
 * heap_info { arena, prev, size, ... } whose arena lies just after the
 * heap_info of the arena's first heap.  Returns the heap's mapped size, or 0.
 * Their free chunks hold stale pointers: never roots.
 */
static uint64_t arena_heap_at(uint64_t base)
{
	const uint64_t heap_max = 64ull << 20;
	uint64_t info[3];
	if (read_mem(base, sizeof(info), info) != sizeof(info) || !info[0])
		return 0;
	if ((info[0] & (heap_max - 1)) >= 4096 || info[2] == 0 || info[2] > heap_max)
		return 0;
	return info[2];
}

/* The first range inside [lo, hi) that must not be scanned: a tracer mapping,
 * a live block (reached blocks are scanned as blocks) or an arena heap.
 * Returns 0 if none. */
static int next_exclusion(uint64_t lo, uint64_t hi, uint64_t *xlo, uint64_t *xhi)
{
	const uint64_t heap_max = 64ull << 20;
	struct mgt_region own;
	int found = 0;
	*xlo = hi;
	if (mgt_own_region(lo, hi, &own)) {
		*xlo = own.addr;
		*xhi = own.addr + own.len;
		found = 1;
	}
	if (lc->n && hi > lc->lo && lo < lc->hi) {
		/* the first block ending after lo */
		uint64_t l = 0, r = lc->n;
		while (l < r) {
			uint64_t m = (l + r) / 2;
			if (lc->b[m].ptr + lc->b[m].size <= lo && lc->b[m].ptr < lo)
				l = m + 1;
			else
				r = m;
		}
		if (l < lc->n && lc->b[l].ptr < hi && lc->b[l].ptr < *xlo) {
			*xlo = lc->b[l].ptr;
			*xhi = lc->b[l].ptr + (lc->b[l].size ? lc->b[l].size : 1);
			found = 1;
		}
	}
	for (uint64_t base = (lo + heap_max - 1) & ~(heap_max - 1); base < hi && base < *xlo;
	     base += heap_max) {
		uint64_t size = arena_heap_at(base);
		if (size) {
			*xlo = base;
			*xhi = base + size;
			found = 1;
			break;
		}
	}
	if (*xlo < lo)
		*xlo = lo;
	return found;
}

/* Scans a root mapping, less what next_exclusion() leaves out. */
static void scan_root(uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		uint64_t xlo, xhi;
		if (!next_exclusion(lo, hi, &xlo, &xhi)) {
			scan_range(lo, hi - lo, 1, 1);
			break;
		}
		if (xlo > lo)
			scan_range(lo, xlo - lo, 1, 1);
		lo = xhi > lo ? xhi : lo + 1;
		drain();
	}
	drain();
}

/* /proc/self/maps, read once per exit step (read_maps) for load_ranges and
 * scan_roots; maps_len <= 0: could not be read */
static char maps[512 << 10];
static long maps_len;

static void read_maps(void)
{
	maps_len = mgt_read_file("/proc/self/maps", maps, sizeof(maps));
}

/* the whole file was read (not cut short by the buffer) */
static int maps_complete(void)
{
	return maps_len > 0 && (size_t)maps_len < sizeof(maps) - 1;
}

/*
 * The mapped address ranges, in the order of /proc/self/maps (ascending),
 * for mapped(): the blocks copied out of the map must lie in mapped memory.
 * A block freed where the tracer could not see it (a signal handler inside a
 * hook) stays in the map, and glibc may have unmapped its memory since.
 */
static struct range { uint64_t lo, hi, readable; } *ranges;   /* every mapping */
static uint64_t n_ranges, ranges_bytes, range_hint;
static void *map(uint64_t bytes);

static void load_ranges(void)
{
	uint64_t lines = 0;
	if (!maps_complete())
		return;                       /* unknown: no filter (as before) */
	for (long i = 0; i < maps_len; i++)
		lines += maps[i] == '\n';
	ranges_bytes = (lines + 1) * sizeof(*ranges);
	if (!(ranges = map(ranges_bytes)))
		return;
	for (const char *p = maps; *p && n_ranges <= lines;) {
		uint64_t lo = hex(&p), hi;
		p++;                          /* '-' */
		hi = hex(&p);
		if (*p == ' ')
			ranges[n_ranges++] = (struct range){ lo, hi, p[1] == 'r' };
		while (*p && *p++ != '\n')
			;
	}
}

/*
 * 1 if [a, end) is mapped (in one mapping or adjacent ones) and, with
 * `whole`, readable throughout, else readable in its first 8 bytes.  A
 * program may make its blocks PROT_NONE: they are still its blocks, pointed
 * to or not; only their contents cannot be scanned.
 */
static int span_ok(uint64_t a, uint64_t end, int whole)
{
	uint64_t lo = 0, hi = n_ranges, i;
	if (range_hint < n_ranges && a >= ranges[range_hint].lo && a < ranges[range_hint].hi) {
		i = range_hint;               /* the walk goes up through one heap at a time */
	} else {
		for (;;) {
			if (lo >= hi)
				return 0;
			i = lo + (hi - lo) / 2;
			if (a < ranges[i].lo)
				hi = i;
			else if (a >= ranges[i].hi)
				lo = i + 1;
			else
				break;
		}
		range_hint = i;
	}
	if (!ranges[i].readable || (a + 8 > ranges[i].hi && !whole))
		return 0;                     /* (a header across two mappings: refused) */
	while (end > ranges[i].hi) {          /* spills into the next mapping? */
		if (i + 1 >= n_ranges || ranges[i + 1].lo != ranges[i].hi ||
		    (whole && !ranges[i + 1].readable))
			return 0;
		i++;
	}
	return 1;
}

static int mapped(uint64_t a, uint64_t end)
{
	return span_ok(a, end, 0);
}

/* a block's bytes can be read in place (else: read_mem, which cannot fault) */
static int readable_block(const struct mgt_block *b)
{
	return !ranges || span_ok(b->ptr, b->ptr + (b->size ? b->size : 1), 1);
}

static void scan_roots(uint64_t sp)
{
	uint64_t self_lo = (uint64_t)(uintptr_t)&lc;   /* our own data segment */
	if (!maps_complete()) {
		lc->inexact = 1;
		if (maps_len <= 0)
			return;
	}
	const char *p = maps;
	while (*p) {
		uint64_t lo = hex(&p);
		p++;                      /* '-' */
		uint64_t hi = hex(&p);
		p++;                      /* ' ' */
		char r = p[0], w = p[1];
		/* the path, if any, after the 5th field */
		const char *q = p;
		for (int f = 0; f < 4 && *q && *q != '\n'; f++) {
			while (*q && *q != ' ' && *q != '\n')
				q++;
			while (*q == ' ')
				q++;
		}
		const char *path = q;
		while (*p && *p != '\n')
			p++;
		if (*p)
			p++;
		if (r != 'r' || w != 'w')
			continue;
		if (!mgt_strncmp(path, "[heap]", 6) || !mgt_strncmp(path, "[vvar]", 6) ||
		    !mgt_strncmp(path, "[vsyscall]", 10))
			continue;
		if (self_lo >= lo && self_lo < hi)
			continue;             /* libmemgate.so's own data */
		if (sp >= lo && sp < hi)
			lo = sp & ~7ull;      /* our stack: live frames only */
		scan_root(lo, hi);
	}
}

/* ---------------------------------------------------------------- results */

static void record(void)
{
	struct mgt_header *h = mgt_g.hdr;
	static const uint8_t kind_of[4] = { MGT_DEFINITELY, MGT_POSSIBLY, MGT_REACHABLE,
					    MGT_INDIRECTLY };
	uint64_t bytes = 0, blocks = 0;
	for (uint64_t i = 0; i < lc->n; i++) {
		const struct mgt_block *b = &lc->b[i];
		if (!mgt_own_block(b))
			continue;             /* inherited: the parent's to report */
		unsigned k = kind_of[lc->state[i]];
		/* the leak kinds have a region of their own, touched only here */
		if (b->stack < h->n_stacks &&
		    !mgt_back(MGT_LOST_OFF + (uint64_t)b->stack * sizeof(struct mgt_stack_lost),
			      sizeof(struct mgt_stack_lost))) {
			struct mgt_stack_lost *s = mgt_stack_lost_at(b->stack);
			s->bytes[k] += b->size;
			s->blocks[k]++;
		} else {
			lc->inexact = 1;
		}
		h->lost_bytes[k] += b->size;
		h->lost_blocks[k]++;
		bytes += b->size;
		blocks++;
	}
	/*
	 * Blocks the counters hold live but the scan could not take (freed where
	 * the tracer could not see it, their memory since unmapped: see
	 * mapped()): still reachable for want of better, so that the kinds add
	 * up to the leaked figures, and the kinds are marked inexact.
	 */
	uint64_t live_bytes, live_blocks;
	mgt_image_live(&live_bytes, &live_blocks);
	if (live_blocks > blocks && live_bytes >= bytes) {
		h->lost_bytes[MGT_REACHABLE] += live_bytes - bytes;
		h->lost_blocks[MGT_REACHABLE] += live_blocks - blocks;
		lc->inexact = 1;
	}
	h->scanned_bytes = lc->scanned;
	__atomic_fetch_or(&h->flags, MGT_F_LEAKCHECK | (lc->inexact || !mgt_regions_complete() ?
				       MGT_F_LEAKCHECK_INEXACT : 0), __ATOMIC_RELAXED);
}

static void *map(uint64_t bytes)
{
	void *m = mgt_mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == (void *)-1 ? NULL : m;
}

/*
 * The threads of the process now (/proc/self/status, "Threads:"), or 0 when
 * unknown.  At exit the program's other threads have often ended (a test
 * harness joins the thread that ran the test): with the exiting thread
 * alone, nothing can free or unmap a block while the scan reads it, and
 * blocks are read in place instead of copied by process_vm_readv (a copy
 * of every block: a third of the scan of a 35 MB live heap).
 */
static uint64_t threads_now(void)
{
	static char status[4096];
	if (mgt_read_file("/proc/self/status", status, sizeof(status)) <= 0)
		return 0;
	for (const char *p = status; *p; p++)
		if ((p == status || p[-1] == '\n') && !mgt_strncmp(p, "Threads:", 8)) {
			for (p += 8; *p == ' ' || *p == '\t'; p++)
				;
			return mgt_atou(p);
		}
	return 0;
}

/*
 * The live blocks into lc->b (*bytes_b: its mapped size), in one walk of the
 * map when the counters' live blocks (and some room) hold them all: the map
 * holds no fewer (a block freed unseen stays in it; a fork child's inherited
 * blocks are not counted), so a copy that fills its room is redone at the
 * size a count of the map gives.  Returns how many, 0 with lc->b NULL when
 * refused.
 */
static uint64_t copy_blocks(uint64_t *bytes_b)
{
	uint64_t live_bytes, live_blocks, n;
	mgt_image_live(&live_bytes, &live_blocks);
	if ((int64_t)live_blocks < 0)
		live_blocks = 0;
	uint64_t room = live_blocks + live_blocks / 8 + 1024;
	for (int pass = 0; pass < 2; pass++) {
		*bytes_b = room * sizeof(struct mgt_block);
		if (!(lc->b = map(*bytes_b)))
			return 0;
		n = mgt_ptrmap_copy(lc->b, room, ranges ? mapped : NULL);
		if (n < room || pass)
			return n;
		mgt_munmap(lc->b, *bytes_b);
		lc->b = NULL;
		room = mgt_ptrmap_count() + 1;    /* + 1: a complete copy leaves room */
	}
	return 0;
}

/* lc->b's n blocks sorted by address (*bytes_b: its mapped size, which
 * changes when the sorted copy takes its place), before the scan's tables
 * are mapped: the copy is given back at once */
static void sort(uint64_t *bytes_b, uint64_t n)
{
	uint64_t bytes_t = n * sizeof(struct mgt_block);
	struct mgt_block *tmp = mgt_g.test_heapsort ? NULL : map(bytes_t);
	if (!tmp) {
		heapsort_blocks(lc->b, n);
		return;
	}
	if (sort_blocks(lc->b, tmp, n) == tmp) {
		struct mgt_block *t = lc->b;
		lc->b = tmp;
		tmp = t;
		uint64_t tb = *bytes_b;
		*bytes_b = bytes_t;
		bytes_t = tb;
	}
	mgt_munmap(tmp, bytes_t);
}

void mgt_leakcheck(const struct mgt_exit_point *ep)
{
	volatile uint64_t low_mark = 0;
	uint64_t n, bytes_b = 0, bytes_s = 0, bytes_w = 0;

	/* the callee-saved registers (the only ones live across our calls) are
	 * spilled into this frame, above low_mark, where the stack scan sees them */
	__builtin_unwind_init();

	lc = map(sizeof(*lc));
	if (!lc)
		return;
	lc->mem_fd = -1;                      /* (0 would be the program's stdin) */
	read_maps();
	load_ranges();
	n = copy_blocks(&bytes_b);
	if (lc->b && n > 1)
		sort(&bytes_b, n);
	bytes_s = n;
	bytes_w = 2 * n * 4;
	if (lc->b) {
		lc->state = map(bytes_s);
		lc->stack = map(bytes_w);
	}
	if (!lc->b || !lc->state || !lc->stack)
		goto out;
	lc->cap = 2 * n;
	lc->n = n;
	lc->lo = lc->n ? lc->b[0].ptr : 0;
	lc->hi = 0;
	for (uint64_t i = 0; i < lc->n; i++)
		if (lc->b[i].ptr + lc->b[i].size + 1 > lc->hi)
			lc->hi = lc->b[i].ptr + lc->b[i].size + 1;
	lc->clique = UINT32_MAX;
	lc->in_place = mgt_single_threaded() || threads_now() == 1;

	/* a probe: without process_vm_readv or /proc/self/mem nothing can be read safely */
	uint64_t probe;
	if (read_mem((uint64_t)(uintptr_t)&probe, 8, &probe) != 8) {
		__atomic_fetch_or(&mgt_g.hdr->flags, MGT_F_LEAKCHECK_UNREADABLE, __ATOMIC_RELAXED);
		goto out;
	}

	if (lc->n) {
		/* blocks inherited over fork are the parent's: roots for us */
		for (uint64_t i = 0; i < lc->n; i++)
			if (!mgt_own_block(&lc->b[i]) && lc->state[i] != REACHABLE) {
				lc->state[i] = REACHABLE;
				push(i);
			}
		drain();
		/* the registers as the program left them, then its memory */
		for (unsigned r = 0; r < ep->n_regs; r++)
			if (ep->regs[r] >= lc->lo && ep->regs[r] < lc->hi)
				mark(ep->regs[r], 1);
		drain();
		scan_roots(ep->sp ? ep->sp : (uint64_t)(uintptr_t)&low_mark);
		/* phase 2: cliques of leaked blocks, in address order */
		for (uint64_t i = 0; i < lc->n; i++) {
			if (lc->state[i] != UNREACHED)
				continue;
			lc->clique = (uint32_t)i;
			push(i);
			drain();
		}
		lc->clique = UINT32_MAX;
	}
	record();
out:
	if (lc->mem_fd >= 0)
		mgt_sys(SYS_close, lc->mem_fd, 0, 0, 0, 0, 0);
	if (lc->b)
		mgt_munmap(lc->b, bytes_b ? bytes_b : 1);
	if (lc->state)
		mgt_munmap(lc->state, bytes_s ? bytes_s : 1);
	if (lc->stack)
		mgt_munmap(lc->stack, bytes_w ? bytes_w : 1);
	if (ranges)
		mgt_munmap(ranges, ranges_bytes);
	ranges = NULL;
	n_ranges = range_hint = 0;
	mgt_munmap(lc, sizeof(*lc));
	lc = NULL;
}
