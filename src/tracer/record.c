/* record.c - the per-process trace file and the aggregation of every event into it
 *
 * Counting follows memcheck, the peak follows DHAT (docs/metrics.md):
 *   alloc    allocs+1, total+=n, live+=n, blocks+1
 *   free     frees+1, live-=n, blocks-1            (free(NULL), unknown: nothing)
 *   realloc  one alloc of n and one free of the old block, applied as a single
 *            resize: live changes by n - old, never both blocks at once
 * A new maximum, or an equal one (DHAT keeps the latest), opens a new peak
 * epoch: each stack's bytes at the peak are rebased lazily on its next event
 * (docs/tracer.md, "The exact peak"), so a new peak costs O(1), not a scan of all stacks.
 *
 * Locks, always taken in this order: depot lock, event lock (the counters),
 * pointer-map shard locks (none of these while the process has a single
 * thread, see "serialisation" below).  The module lock is held alone, around
 * the loader's dl_iterate_phdr, never with another tracer lock.  A hook never holds two
 * of them at once; only fork's prepare handler and the exit step take the
 * event lock and every shard.  One exception to the order: the switch to
 * threaded mode may insert the only thread's stashed stack (the depot lock)
 * under the event lock ("The probe at the next event"); that happens once,
 * and fork's prepare handler, the one taker of the depot lock then the event
 * lock, first waits for the switch to end (no stash is left after it).
 * Under any of them, innermost: back_lock, held
 * only around system calls that reserve pages of the file ("Reservation").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "event.h"

struct mgt_global mgt_g;
atomic_int mgt_phase;
struct mgt_last_stack mgt_last_stack = { UINT32_MAX, NULL };
atomic_int mgt_many_stacks;

/*
 * Pending counts.  With many stacks used in turn (hundreds of thousands of
 * deep stacks: bench/README.md, "Session 9: deep stacks"), a stack's record
 * is seldom in the cache when an event comes to count in it, and the wait
 * for it, the index probe's wait before it, was most of the event.  So once
 * the depot holds MGT_PEND_STACKS stacks (event.h, mgt_many_stacks), an
 * event at a stack that is not the last one counted stores its count in the
 * header (pend_stack, pend_size: a line every event writes anyway), asks
 * for the record, and goes on; the next such event counts it, the record
 * having arrived meanwhile.  Counts are sums, so the other events counted
 * in between do not change the result; the rebase is the event's own, since
 * a new peak counts the pending event before it bumps the epoch
 * (new_epoch).  The reader counts a pending event the file still holds
 * (core/trace.c), so a SIGKILL loses nothing.  The header's pend_stack is
 * cleared before the record is written: a SIGKILL inside those few stores
 * leaves that one event partly counted, never twice (FORMAT.md).
 */
static void pend_flush(struct mgt_header *h)
{
	uint32_t pend = h->pend_stack;
	if (!pend)
		return;
	uint32_t id = mgt_pend_id(pend);
	struct mgt_stack *s = mgt_stack_at(id);
	h->pend_stack = 0;
	atomic_signal_fence(memory_order_seq_cst);
	mgt_count_pending(s, pend, h->pend_size, h->epoch);
	mgt_last_stack.id = id;               /* rebased */
	mgt_last_stack.s = s;
}

__attribute__((noinline)) uint64_t mgt_pend(struct mgt_header *h, uint32_t pend, uint64_t keep,
					     uint64_t size)
{
	(void)keep;
	pend_flush(h);
	h->pend_size = size;
	atomic_signal_fence(memory_order_seq_cst);
	h->pend_stack = pend;
	__builtin_prefetch(mgt_stack_at(mgt_pend_id(pend)), 1);
	return size;
}

/*
 * hdr->epoch, for the threads' records (count_recs): on a cache line of its
 * own, written only at a new peak, where the header's line is written at
 * every thread's fold.
 */
static struct {
	uint64_t v;
	char pad[56];
} epoch_copy __attribute__((aligned(64)));

static uint64_t settled;             /* tl_left when the state was last settled ("A new maximum") */
static uint32_t fork_mod_snapshot;   /* modules the parent had when it forked */
static int fork_token;               /* enter()'s result, held across fork */
static struct mgt_thread *fork_thread; /* the thread inside fork() */
static void solo_init(struct mgt_thread *t);
static void fast_on(struct mgt_thread *t);
static void stash_apply(struct mgt_thread *t, struct mgt_header *h, int direct, int locked);
static struct mgt_thread *stash_t;  /* the thread that stashed (the only one) */

/* the stashed allocation (h->stash_at), if any, applied by the only thread;
 * direct: counted in its record at once, else left pending */
static inline void stash_settle(struct mgt_thread *t, struct mgt_header *h, int direct)
{
	if (MGT_UNLIKELY(h->stash_at))
		stash_apply(t, h, direct, 0);
}

/* ---------------------------------------------------------------- file */

/*
 * The file is created at its full size (sparse: the reader finds every region
 * at its fixed offset) but only mapped where it is used: the header, the
 * timeline with the children, and the segments of the areas (tracer.h) that
 * mgt_back() has backed.  Mapping the whole file took ~410 MiB of address
 * space in every traced process, which a program under a lowered RLIMIT_AS
 * then could not have (docs/limits.md).
 */
static void *map_file(long fd, uint64_t off, uint64_t len)
{
	void *m = mgt_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			   (int)fd, (long)off);
	/* no readahead: it would zero-fill pages of the sparse file around each fault */
	if (m != MAP_FAILED)
		mgt_madvise(m, len, MADV_RANDOM);
	return m;
}

static void areas_init(void)
{
	static const struct { uint64_t off, max, rsize; unsigned shift; } def[MGT_AREAS] = {
		[MGT_A_MOD] = { MGT_MOD_OFF, MGT_MAX_MODULES, sizeof(struct mgt_module), MGT_MOD_SHIFT },
		[MGT_A_STK] = { MGT_STK_OFF, MGT_MAX_STACKS, MGT_STACK_REC, MGT_STK_SHIFT },
		[MGT_A_INFO] = { MGT_INFO_OFF, MGT_MAX_STACKS, sizeof(struct mgt_stack_info),
				 MGT_INFO_SHIFT },
		[MGT_A_NODE] = { MGT_NODE_OFF, MGT_MAX_NODES, sizeof(struct mgt_node), MGT_NODE_SHIFT },
		[MGT_A_LOST] = { MGT_LOST_OFF, MGT_MAX_STACKS, sizeof(struct mgt_stack_lost),
				 MGT_LOST_SHIFT },
		[MGT_A_BAT] = { MGT_BATCH_OFF, MGT_MAX_BATCHES, sizeof(struct mgt_batch), MGT_BAT_SHIFT },
	};
	for (unsigned a = 0; a < MGT_AREAS; a++) {
		struct mgt_area *r = &mgt_g.area[a];
		mgt_memset(r, 0, sizeof(*r));
		r->off = def[a].off;
		r->max = def[a].max;
		r->rsize = (uint32_t)def[a].rsize;
		r->shift = def[a].shift;
	}
}

/* Segment s of area r, mapped through fd (opened on first need); 0 ok. */
static int seg_map(struct mgt_area *r, unsigned s, long *fd)
{
	uint64_t first = s ? mgt_area_seg_end(s - 1, r->shift) : 0;
	uint64_t end = mgt_area_seg_end(s, r->shift);
	if (end > r->max)
		end = r->max;
	uint64_t b0 = r->off + first * r->rsize, b1 = r->off + end * r->rsize;
	uint64_t p0 = b0 & ~4095ull, p1 = (b1 + 4095) & ~4095ull;
	if (*fd < 0)
		*fd = mgt_sys(SYS_openat, AT_FDCWD, (long)mgt_g.path, O_RDWR | O_CLOEXEC, 0, 0, 0);
	if (*fd < 0)
		return -1;
	/* a page shared with the neighbouring segment is mapped twice: one page
	 * of the page cache, seen at two addresses */
	char *m = map_file(*fd, p0, p1 - p0);
	if (m == (char *)MAP_FAILED)
		return -1;
	r->map[s] = m;
	r->len[s] = p1 - p0;
	atomic_store_explicit(&r->base[s], (uintptr_t)m + (b0 - p0) - first * r->rsize,
			      memory_order_release);
	return 0;
}

/*
 * The segments holding file bytes [off, off + len).  Each area is only ever
 * extended under one lock (modules: the module lock; the stack regions: the
 * depot lock; batches: the event lock), so no two threads map the same one.
 */
static int areas_map(uint64_t off, uint64_t len, long *fd)
{
	for (unsigned a = 0; a < MGT_AREAS; a++) {
		struct mgt_area *r = &mgt_g.area[a];
		uint64_t end = r->off + r->max * r->rsize;
		if (off + len <= r->off || off >= end)
			continue;
		uint64_t lo = off > r->off ? off : r->off, hi = off + len < end ? off + len : end;
		unsigned s0 = mgt_area_seg((lo - r->off) / r->rsize, r->shift);
		unsigned s1 = mgt_area_seg((hi - 1 - r->off) / r->rsize, r->shift);
		for (unsigned s = s0; s <= s1; s++)
			if (!r->map[s] && seg_map(r, s, fd))
				return -1;
	}
	return 0;
}

/* every mapping of the file, given its header, timeline and areas */
static void file_unmap(struct mgt_header *hdr, struct mgt_bucket *tl, struct mgt_area *areas)
{
	for (unsigned a = 0; a < MGT_AREAS; a++)
		for (unsigned s = 0; s < MGT_AREA_SEGS; s++)
			if (areas[a].map[s])
				mgt_munmap(areas[a].map[s], areas[a].len[s]);
	mgt_munmap(tl, MGT_TL_SIZE + MGT_CHILD_SIZE);
	mgt_munmap(hdr, MGT_HDR_SIZE);
}

/*
 * The process's file size limit allows a file of `size` bytes.  A write or
 * ftruncate past RLIMIT_FSIZE fails with EFBIG *and* sends the process
 * SIGXFSZ, which kills it by default: a program that lowers the limit (a
 * test of its own behaviour at the limit, `ulimit -f` in a script) must not
 * die of the tracer's file.  Asked before each write that grows the file,
 * since the program may lower the limit at any time (docs/limits.md).
 */
static int fsize_allows(uint64_t size)
{
	struct { uint64_t cur, max; } rl = { UINT64_MAX, UINT64_MAX };
	mgt_sys(SYS_prlimit64, 0, 1 /* RLIMIT_FSIZE */, 0, (long)&rl, 0, 0);
	return size <= rl.cur;
}

/* creates this image's file, maps its header and timeline; the header's seq
 * in *seq_out, the open file in *fd_out (the caller closes it) */
static int open_file(uint32_t *seq_out, long *fd_out)
{
	char *p;
	/* a file the limit would not let grow to its size: none (fsize_allows) */
	if (!fsize_allows(MGT_FILE_SIZE))
		return -1;
	for (uint32_t seq = 0; seq < 1000; seq++) {
		p = mgt_g.path + mgt_strlcpy(mgt_g.path, mgt_g.dir, sizeof(mgt_g.path) - 64);
		*p++ = '/';
		p = mgt_utoa(p, (uint64_t)mgt_getpid());
		*p++ = '.';
		p = mgt_utoa(p, seq);
		mgt_strlcpy(p, ".mgt", 5);
		long fd = mgt_sys(SYS_openat, AT_FDCWD, (long)mgt_g.path,
				  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, 0, 0);
		if (fd == -EEXIST)
			continue;                 /* an earlier image of this pid (exec) */
		if (fd < 0)
			return -1;
		areas_init();
		void *m = MAP_FAILED, *tl = MAP_FAILED;
		if (mgt_sys(SYS_ftruncate, fd, (long)MGT_FILE_SIZE, 0, 0, 0, 0) == 0 &&
		    (m = map_file(fd, MGT_HDR_OFF, MGT_HDR_SIZE)) != MAP_FAILED)
			tl = map_file(fd, MGT_TL_OFF, MGT_TL_SIZE + MGT_CHILD_SIZE);
		if (tl == MAP_FAILED) {
			mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
			if (m != MAP_FAILED)
				mgt_munmap(m, MGT_HDR_SIZE);
			return -1;
		}
		*fd_out = fd;
		mgt_g.hdr = m;
		mgt_g.timeline = tl;
		mgt_g.children = (struct mgt_child *)((char *)tl + (MGT_CHILD_OFF - MGT_TL_OFF));
		*seq_out = seq;   /* written once start_image has reserved the header */
		return 0;
	}
	return -1;
}

/*
 * Reservation.  A page of the file is reserved before its first byte is
 * written through a mapping: on a full disk, a store to a page with no space
 * behind it would kill the program with SIGBUS, where a reservation that fails
 * stops recording instead (MGT_F_NOSPACE).  A page is reserved by writing
 * zeros to it, once: the page cache then holds it with its space accounted
 * (the delayed allocation of ext4 and xfs, tmpfs's own pages), and no disk
 * block is allocated before writeback, which a trace file read and deleted
 * within seconds never sees.  fallocate, used before, allocated blocks at
 * once, and deleting the file freed them again: on a disk mounted with
 * `discard`, one synchronous discard per extent, 0.3 to 19 ms per traced
 * process in memgate's last munmap (bench/README.md, "Session 9").  Pages,
 * not larger steps: what is reserved is page cache whether the tracer writes
 * it or not.
 *
 * Zeros written over a page that holds records would erase them.  So a page's
 * bit is set only after its zeros, the check and the zeros are one step under
 * back_lock (two areas may share a page), and nothing is written to a page
 * before mgt_back() has returned for it (open_file() writes nothing into the
 * header).  back_lock is the innermost lock: its holder only makes system
 * calls on the file; a fork child starts it over with the bitmap.
 */
static mgt_lock_t back_lock;
static char zero_page[4096];          /* never written: the kernel reads it */

static int page_backed(uint64_t pg)
{
	return (int)((atomic_load_explicit(&mgt_g.backed[pg / 64], memory_order_acquire) >>
		      (pg % 64)) & 1);
}

/* zeros into pages [pg, pg + n) of the file; 0, -1 (out of space) or -2
 * (past the file size limit) */
static int reserve_pages(long fd, uint64_t pg, uint64_t n)
{
	struct iovec iov[16];
	for (unsigned i = 0; i < 16; i++)
		iov[i] = (struct iovec){ zero_page, sizeof(zero_page) };
	if (!fsize_allows((pg + n) << MGT_PAGE_SHIFT))
		return -2;
	while (n) {
		unsigned k = n < 16 ? (unsigned)n : 16;
		long r = mgt_sys(SYS_pwritev, fd, (long)iov, k, (long)(pg << MGT_PAGE_SHIFT), 0, 0);
		if (r == -EINTR)
			continue;
		if (r != (long)k << MGT_PAGE_SHIFT)
			return -1;
		pg += k;
		n -= k;
	}
	return 0;
}

void mgt_back_fork_child(void)
{
	back_lock = (mgt_lock_t){ 0 };
	for (size_t i = 0; i < sizeof(mgt_g.backed) / sizeof(mgt_g.backed[0]); i++)
		atomic_store_explicit(&mgt_g.backed[i], 0, memory_order_relaxed);
}

/* mgt_back() through *fd, opened when first needed and left open (-1: not yet) */
static int back(uint64_t off, uint64_t len, long *fdp)
{
	long fd = *fdp;
	int ret = 0;
	if (!len)
		return 0;
	uint64_t pg = off >> MGT_PAGE_SHIFT, last = (off + len - 1) >> MGT_PAGE_SHIFT;
	while (pg <= last && page_backed(pg))
		pg++;
	if (pg <= last) {
		mgt_lock(&back_lock);
		for (; pg <= last; pg++) {
			if (page_backed(pg))
				continue;
			uint64_t end = pg + 1;        /* the run of pages not reserved yet */
			while (end <= last && !page_backed(end))
				end++;
			if (fd < 0)
				fd = mgt_sys(SYS_openat, AT_FDCWD, (long)mgt_g.path, O_RDWR | O_CLOEXEC,
					     0, 0, 0);
			ret = fd < 0 ? -1 : reserve_pages(fd, pg, end - pg);
			if (ret)
				break;
			for (; pg < end; pg++)
				atomic_fetch_or_explicit(&mgt_g.backed[pg / 64], 1ul << (pg % 64),
							 memory_order_release);
		}
		mgt_unlock(&back_lock);
	}
	/* the flag only where the header's page is reserved (its own reservation
	 * may be the one that failed) */
	if (ret && mgt_g.hdr &&
	    page_backed((MGT_HDR_OFF + offsetof(struct mgt_header, flags)) >> MGT_PAGE_SHIFT)) {
		__atomic_fetch_or(&mgt_g.hdr->flags, ret == -2 ? MGT_F_FSIZE : MGT_F_NOSPACE,
				  __ATOMIC_RELAXED);
	}
	if (ret) {
		ret = -1;
		mgt_hooks_record(0);
		atomic_store(&mgt_phase, MGT_PHASE_OFF);      /* stop recording; what is there stays */
	}
	/* no address space for it (RLIMIT_AS): the caller does without */
	if (!ret && areas_map(off, len, &fd))
		ret = -1;
	*fdp = fd;
	return ret;
}

int mgt_back(uint64_t off, uint64_t len)
{
	long fd = -1;
	int ret = back(off, len, &fd);
	if (fd >= 0)
		mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	return ret;
}

/*
 * MEMGATE_* settings come from /proc/self/environ: the first hook may run
 * inside the dynamic loader, before libc has set up environ.
 */
static void read_settings(void)
{
	static char buf[4096];
	static char entry[MGT_PATH_MAX + 32];
	size_t elen = 0;
	int skip = 0;
	long fd = mgt_sys(SYS_openat, AT_FDCWD, (long)"/proc/self/environ", O_RDONLY | O_CLOEXEC,
			  0, 0, 0);
	mgt_g.depth = 64;
	mgt_g.defer_max = UINT64_MAX;
	mgt_g.pend_stacks = MGT_PEND_STACKS;
	if (fd < 0)
		return;
	for (;;) {
		long n = mgt_sys(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		for (long i = 0; i < n; i++) {
			char c = buf[i];
			if (c) {
				if (elen + 1 < sizeof(entry))
					entry[elen++] = c;
				else
					skip = 1;
				continue;
			}
			entry[elen] = '\0';
			if (!skip && !mgt_strncmp(entry, "MEMGATE_DIR=", 12))
				mgt_strlcpy(mgt_g.dir, entry + 12, sizeof(mgt_g.dir));
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_DEPTH=", 14))
				mgt_g.depth = (uint32_t)mgt_atou(entry + 14);
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_LEAKCHECK=0", 20))
				mgt_g.no_leakcheck = 1;
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_SHADOW=0", 17))
				mgt_g.no_shadow = 1;      /* tests: the side table alone */
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_SLOT=0", 15))
				mgt_g.no_slot = 1;        /* tests: the thread cache alone (thread.c) */
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_UNWIND=fp", 18))
				mgt_g.unwind_fp = 1;      /* stack-unwind: fp (docs/config.md) */
			else if (!skip && !mgt_strncmp(entry, "MEMGATE_TEST_EVICT_KILL=", 24)) {
				/* tests: SIGKILL inside eviction N at step S (evict) */
				const char *v = entry + 24;
				mgt_g.kill_evict = (uint32_t)mgt_atou(v);
				while (*v >= '0' && *v <= '9')
					v++;
				mgt_g.kill_step = *v == ':' ? (uint32_t)mgt_atou(v + 1) : 0;
			} else if (!skip && !mgt_strncmp(entry, "MEMGATE_TEST_PEND_STACKS=", 25)) {
				/* tests: counts left pending from this many stacks on */
				mgt_g.pend_stacks = (uint32_t)mgt_atou(entry + 25);
			} else if (!skip && !mgt_strncmp(entry, "MEMGATE_TEST_DEFER_MAX=", 23)) {
				/* tests: a shorter signal handlers' queue (defer_slot) */
				mgt_g.defer_max = mgt_atou(entry + 23);
			} else if (!skip && !mgt_strncmp(entry, "MEMGATE_TEST_LEAK_SORT=heap", 28)) {
				/* tests: the leak check sorts as without room for a copy */
				mgt_g.test_heapsort = 1;
			} else if (!skip && !mgt_strncmp(entry, "MEMGATE_ROOT=", 13)) {
				mgt_g.root_only = 1;
				mgt_g.root_pid = (int)mgt_atou(entry + 13);
			}
			elen = 0;
			skip = 0;
		}
	}
	mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	/* MEMGATE_DEPTH=0: exact counts only, no stacks (memgate trace --no-stacks) */
	if (mgt_g.depth > MGT_MAX_DEPTH)
		mgt_g.depth = MGT_MAX_DEPTH;
}

static void read_identity(struct mgt_header *h)
{
	long n = mgt_read_file("/proc/self/cmdline", h->argv, sizeof(h->argv));
	static char probe[MGT_ARGV_MAX + 2];
	if (n > 0) {
		h->argv_len = (uint32_t)n;
		for (long i = 0; i < n; i++)
			h->argc += h->argv[i] == '\0';
		if (h->argv[n - 1] != '\0')
			h->argc++;            /* last argument cut short */
		if ((size_t)n >= sizeof(h->argv) - 1 &&
		    mgt_read_file("/proc/self/cmdline", probe, sizeof(probe)) > n)
			h->flags |= MGT_F_ARGV_TRUNC;
	}
	n = mgt_sys(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)h->exe,
		    sizeof(h->exe) - 1, 0, 0);
	h->exe[n > 0 ? n : 0] = '\0';
}

/* A fresh header for this process image: exec'd (fork_gen 0) or a fork child. */
static int start_image(int fork_child, const char *parent_file)
{
	uint32_t seq;
	long fd = -1;
	if (open_file(&seq, &fd))
		return -1;
	/* the children's statuses are reserved as they come (mgt_note_child) */
	int ok = !back(MGT_HDR_OFF, sizeof(struct mgt_header), &fd) &&
		 !back(MGT_TL_OFF, MGT_TL_SIZE, &fd) && !back(MGT_STK_OFF, MGT_STACK_REC, &fd) &&
		 !back(MGT_INFO_OFF, sizeof(struct mgt_stack_info), &fd);
	/* hold no fd past this: the program may close every fd it finds */
	mgt_sys(SYS_close, fd, 0, 0, 0, 0, 0);
	if (!ok)
		return -1;
	struct mgt_header *h = mgt_g.hdr;

	h->seq = seq;

	h->version = MGT_VERSION;
	h->header_size = sizeof(*h);
	h->file_size = MGT_FILE_SIZE;
	h->pid = mgt_getpid();
	h->ppid = (int32_t)mgt_sys(SYS_getppid, 0, 0, 0, 0, 0, 0);
	h->fork_gen = mgt_g.fork_gen;
	h->state = MGT_RUNNING;
	h->depth_max = mgt_g.depth;
	h->start_realtime_ns = mgt_realtime_ns();
	h->start_mono_ns = mgt_now_ns();
	h->tl_width = 1;
	h->tl_left = 1;                       /* room 0: live bytes 0, a bucket maximum of 0 */
	settled = 1;
	h->n_stacks = 1;                      /* stack 0: overflow, no frames */
	mgt_last_stack.id = UINT32_MAX;       /* a fork child's records are new */
	mgt_stash_next = h->stash;            /* nothing stashed in a new file */
	epoch_copy.v = 0;
	h->n_nodes = 1;                       /* node 0: "no caller", never written */
	if (fork_child) {
		h->flags |= MGT_F_FORK_CHILD;
		mgt_strlcpy(h->parent_file, parent_file, sizeof(h->parent_file));
	}
	read_identity(h);
	/* the magic last: a reader ignores a file whose header is not complete */
	atomic_thread_fence(memory_order_release);
	mgt_memcpy(h->magic, MGT_MAGIC, 8);
	return 0;
}

void mgt_setup(void)
{
	int expect = MGT_PHASE_UNSET;
	struct mgt_thread *t;
	/* while setting up, every hook passes through: no guard needed here */
	if (!atomic_compare_exchange_strong(&mgt_phase, &expect, MGT_PHASE_SETUP))
		return;                           /* done, or under way in this thread */
	read_settings();
	/* follow-children: false - a descendant of the command runs untraced */
	int ok = mgt_g.dir[0] == '/' && (!mgt_g.root_only || mgt_getpid() == mgt_g.root_pid) &&
		 mgt_thread_init() == 0 && mgt_ptrmap_init() == 0 &&
		 (t = mgt_thread_slow(mgt_thread_pointer())) &&
		 mgt_stack_reset() == 0 && start_image(0, NULL) == 0;
	if (ok)
		solo_init(t);
	atomic_store(&mgt_phase, ok ? MGT_PHASE_RECORDING : MGT_PHASE_OFF);
	if (ok)
		fast_on(t);
}

/* ---------------------------------------------------------- serialisation */

/*
 * One lock serialises the pointer map and the counters, except while the
 * process has a single thread: then that "solo" thread updates them with no
 * atomic instruction at all.  The first event of any other thread switches the
 * process to locked mode for good: it publishes `threaded`, makes every running
 * thread of the process execute a full barrier with membarrier(2), and waits
 * for the solo thread to leave the event it may be in (t_busy).  That is one
 * syscall for a process that ever allocates from two threads, against two
 * atomic read-modify-writes saved on every event of every single-threaded
 * program (most test binaries).  Without membarrier, every event locks.
 */
#define MEMBARRIER_PRIVATE_EXPEDITED (1 << 3)
#define MEMBARRIER_REGISTER_PRIVATE_EXPEDITED (1 << 4)

static mgt_lock_t event_lock __attribute__((aligned(64)));
atomic_int mgt_threaded __attribute__((aligned(64)));
static _Atomic int *solo_busy;

/* the process records: the hooks find each thread's record at once (tracer.h) */
static void fast_on(struct mgt_thread *t)
{
	(void)t;
	mgt_hooks_record(1);
}

/* t becomes the only thread: at setup and in a fork child */
static void solo_init(struct mgt_thread *t)
{
	long ok = mgt_sys(SYS_membarrier, MEMBARRIER_REGISTER_PRIVATE_EXPEDITED, 0, 0, 0, 0, 0);
	atomic_store(&event_lock.v, 0);
	atomic_store(&t->busy, 0);
	t->solo = 1;
	solo_busy = &t->busy;
	atomic_store(&mgt_threaded, ok != 0);
}

void mgt_go_threaded(void)
{
	mgt_lock(&event_lock);                /* one switcher at a time */
	if (!atomic_load(&mgt_threaded)) {
		atomic_store(&mgt_threaded, 1);
		mgt_sys(SYS_membarrier, MEMBARRIER_PRIVATE_EXPEDITED, 0, 0, 0, 0, 0);
		/* the solo thread saw `threaded` set, or is finishing one event */
		while (atomic_load_explicit(solo_busy, memory_order_acquire))
			mgt_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		/* the only thread's allocation, committed in its section, is
		 * applied under the lock (another thread may free it next) */
		if (mgt_g.hdr->stash_at)
			stash_apply(mgt_thread_self(), mgt_g.hdr, 1, 1);
	}
	mgt_unlock(&event_lock);
}

/* Everything at once (the counters; the map too with `map`): process events,
 * fork, exit.  Returns the token for leave(). */
static int enter(struct mgt_thread *t, int map)
{
	int solo = mgt_ev_begin(t);
	if (!solo) {
		mgt_lock(&event_lock);
		if (map)
			mgt_ptrmap_lock_all();
	}
	return solo;
}

int mgt_single_threaded(void)
{
	return !atomic_load(&mgt_threaded);
}

static void leave(struct mgt_thread *t, int solo, int map)
{
	if (!solo) {
		if (map)
			mgt_ptrmap_unlock_all();
		mgt_unlock(&event_lock);
	}
	mgt_ev_end(t, solo);
}

/* ------------------------------------------------------------ aggregation */

/* the live bytes now: the open bucket's maximum less the room left under it */
static inline uint64_t live_bytes(const struct mgt_header *h)
{
	return h->tl_open.live_max - (uint64_t)h->room;
}

/*
 * A new peak: the stacks rebase to epoch `e` lazily (event.h), stack 0 at
 * once (mgt_count_at leaves it out).  The epoch is stored after the peak
 * and stack 0's copy: a reader then never pairs the new epoch with old
 * figures.
 */
/* the epoch's own stores, once stack 0 holds its copy */
static inline __attribute__((always_inline)) void epoch_set(struct mgt_header *h, uint64_t e)
{
	atomic_signal_fence(memory_order_seq_cst);
	h->epoch = e;
	__atomic_store_n(&epoch_copy.v, e, __ATOMIC_RELAXED);
	mgt_last_stack.id = UINT32_MAX;       /* its record is of the old epoch */
}

static void new_epoch(struct mgt_header *h, uint64_t e)
{
	stash_settle(stash_t, h, 1);          /* events of the old epoch */
	pend_flush(h);
	struct mgt_stack *s0 = mgt_stack_at(0);
	uint32_t nb = __atomic_load_n(&h->n_batches, __ATOMIC_ACQUIRE);
	atomic_signal_fence(memory_order_seq_cst);
	if (MGT_UNLIKELY(!mgt_g.depth && nb)) {
		/* counts only, with threads counting in their batches (fold):
		 * stack 0 is the whole image, its share of the peak all of it */
		uint64_t blocks = mgt_stack_blocks(s0);
		for (uint32_t i = 0; i < nb && i < MGT_MAX_BATCHES; i++) {
			const struct mgt_batch *b = mgt_batch_at(i);
			blocks += __atomic_load_n(&b->allocs, __ATOMIC_RELAXED) -
				  __atomic_load_n(&b->frees, __ATOMIC_RELAXED);
		}
		s0->peak_bytes = h->peak_bytes;
		s0->peak_blocks = (int64_t)blocks > 0 ? blocks : 0;
		atomic_signal_fence(memory_order_seq_cst);
		s0->epoch = e;
	} else {
		mgt_rebase(s0, e);
	}
	epoch_set(h, e);
}

/*
 * A new maximum.  An allocation takes its size off `room` and looks no
 * further (event.h): while the heap grows, room goes below 0 and every
 * allocation of the rise costs nothing more.  What was done at each of them
 * (the open bucket's maximum, and a new peak when the live bytes reach the
 * last one: an equal one too, DHAT keeps the latest) is done once, for the
 * state the rise ended in, by whatever looks next:
 *   - a free, or a resize that does not grow, that finds room at 0 or below
 *     (mgt_free_top), before it is counted: no other event came since the
 *     rise's last allocation, so the stacks' records, rebased lazily from
 *     the new epoch on (event.h), hold what they held at its top;
 *   - the bucket's close, exec and exit; the threads' folds, and every event
 *     applied under the event lock (a threaded process keeps its peaks
 *     eager, as the bound of docs/profile-schema.md describes them);
 *   - after a SIGKILL, the reader: the live bytes at death reach the peak,
 *     and every stack's bytes at the peak are its live bytes (core/trace.c).
 * A state is pending while room <= 0 and an event came since the state was
 * last settled: `settled` holds tl_left then (it counts each bucket's
 * events down; a bucket opens settled), so a free that leaves room at 0
 * (of 0 bytes, or a bucket's first event) is no rise: that state was not
 * an allocation's, and starts no peak, as before.
 */
static void new_max(struct mgt_header *h, int grew)
{
	uint64_t cur = live_bytes(h);
	h->tl_open.live_max = cur;
	h->room = 0;
	if (grew && (int64_t)cur >= (int64_t)h->peak_bytes) {
		h->peak_bytes = cur;
		new_epoch(h, h->epoch + 1);
	}
	settled = h->tl_left;
}

/* the top of a rise, if one is pending: its maximum and maybe a peak */
static inline void settle(struct mgt_header *h)
{
	if (h->room <= 0 && h->tl_left != settled)
		new_max(h, 1);
}

static inline void settle_free(struct mgt_header *h, uint64_t size)
{
	if (h->tl_left == h->tl_width) {
		/* the bucket's first event: its maximum is what is left after it */
		h->tl_open.live_max = live_bytes(h) - size;
		h->room = -(int64_t)size;
	} else {
		settle(h);
	}
	settled = h->tl_left - 1;         /* tl_left of the state this free leaves */
}

struct mgt_header *mgt_settle_free(struct mgt_header *h, uint64_t size)
{
	settle_free(h, size);
	return h;
}

/* the free itself (of the block e names: mgt_sh_block), once its top is
 * settled */
static inline __attribute__((always_inline)) void top_count(struct mgt_header *h,
	struct mgt_thread *t, uint32_t e, uint64_t size, uint64_t left)
{
	settled = left - 1;               /* tl_left of the state this free leaves */
	mgt_count_at(h, mgt_sh_stack(e), size, 1, 0);   /* with the room and the bucket */
	mgt_ev_end(t, 1);
}

/* mgt_free_top's top that reaches the peak: a new epoch, then the free */
static __attribute__((noinline, cold)) void top_peak(struct mgt_thread *t, uint32_t e,
						     uint64_t cur, uint64_t p)
{
	struct mgt_header *h = mgt_g.hdr;
	mgt_shadow_ahead_at(t, p);        /* the heap's top most often moves up here */
	h->peak_bytes = cur;
	new_epoch(h, h->epoch + 1);
	top_count(h, t, e, mgt_sh_size(e), h->tl_left);
}

/* settle_free and the rest of the free, written out: it runs at the top of
 * every rise, as often as each allocation that reached the bucket's
 * maximum called it before, so its common case calls nothing and keeps no
 * register */
void mgt_free_top(struct mgt_thread *t, uint32_t e, uint64_t p)
{
	struct mgt_header *h = mgt_g.hdr;
	uint64_t size = mgt_sh_size(e), left = h->tl_left;
	/* room <= 0 here: pending when an event came since the last settling
	 * (settle()); none came in a bucket that just opened (settled then
	 * equals its tl_width): this free is its first event */
	if (left != settled) {
		uint64_t cur = live_bytes(h);
		h->tl_open.live_max = cur;
		h->room = 0;
		if (MGT_UNLIKELY((int64_t)cur >= (int64_t)h->peak_bytes)) {
			top_peak(t, e, cur, p);
			return;
		}
	} else if (left == h->tl_width) {
		h->tl_open.live_max = live_bytes(h) - size;
		h->room = -(int64_t)size;
	}
	top_count(h, t, e, size, left);
}

/*
 * mgt_free_top for an image traced without stacks, whose every block is
 * stack 0's: `size` is the block's (mgt_sh_block0), the entry mgt_free_top
 * takes too.  Its common case calls nothing, so it keeps no register: the
 * top of a rise (an event came since the last settling) whose free leaves
 * the bucket open, and at a peak (most tops: python3 with
 * PYTHONMALLOC=malloc reaches 365k of its 430k), nothing pending or
 * stashed, no thread's batch and no shadow run to write ahead
 * (mgt_shadow_far).
 * The peak is then stack 0's copy and the epoch's stores (new_epoch), and
 * the free is counted in stack 0's record, with no look-up.  Anything else
 * is mgt_free_top's, from the start.
 */
void mgt_free_top0(struct mgt_thread *t, uint32_t size, uint64_t p)
{
	struct mgt_header *h = mgt_g.hdr;
	uint64_t left = h->tl_left, cur = live_bytes(h);
	if (MGT_UNLIKELY(left == settled || left == 1))
		goto other;
	if ((int64_t)cur >= (int64_t)h->peak_bytes) {
		if (MGT_UNLIKELY(!mgt_shadow_far(p) ||
				 (h->pend_stack | h->stash_at |
				  __atomic_load_n(&h->n_batches, __ATOMIC_ACQUIRE))))
			goto other;
		uint64_t e = h->epoch + 1;
		h->peak_bytes = cur;
		mgt_stack_rebase_now(mgt_stack_at(0), e);   /* its epoch is older */
		epoch_set(h, e);
	}
	h->tl_open.live_max = cur;
	h->room = 0;
	settled = left - 1;               /* tl_left of the state this free leaves */
	mgt_count_stack_free(mgt_stack_at(0), size);
	h->room += (int64_t)size;         /* mgt_after_free: the bucket stays open */
	h->tl_left = left - 1;
	mgt_ev_end(t, 1);
	return;
other:
	mgt_free_top(t, size, p);
}

void mgt_timeline_close(struct mgt_header *h)
{
	struct mgt_bucket *t = mgt_g.timeline;
	settle(h);
	uint64_t cur = live_bytes(h);
	uint64_t events = h->events + (h->tl_width - h->tl_left);
	h->tl_open.t_end_ns = mgt_now_ns();
	h->tl_open.live_end = cur;
	h->tl_open.event_end = events;
	t[h->tl_n] = h->tl_open;
	if (h->tl_n + 1 == MGT_TIMELINE) {
		/* full: merge pairs, each bucket now spans twice the events */
		for (uint32_t i = 0; i < MGT_TIMELINE / 2; i++) {
			struct mgt_bucket a = t[2 * i], b = t[2 * i + 1];
			b.live_max = a.live_max > b.live_max ? a.live_max : b.live_max;
			t[i] = b;
		}
		h->tl_width *= 2;
		__atomic_store_n(&h->tl_n, MGT_TIMELINE / 2, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&h->tl_n, h->tl_n + 1, __ATOMIC_RELEASE);
	}
	h->events = events;
	/* the new bucket's maximum is 0 until its first event sets it */
	h->tl_open.live_max = 0;
	h->room = -(int64_t)cur;
	h->tl_left = h->tl_width;
	settled = h->tl_left;             /* nothing pending in a bucket with no event */
	if ((h->tl_n & 63) == 0)
		mgt_sample_rss();
	if ((h->tl_n & 7) == 0 && !mgt_is_threaded())
		mgt_shadow_ahead_close();   /* (every 8th: a few instructions a close) */
}

void mgt_image_live(uint64_t *bytes, uint64_t *blocks)
{
	uint32_t n = __atomic_load_n(&mgt_g.hdr->n_stacks, __ATOMIC_ACQUIRE);
	*bytes = *blocks = 0;
	for (uint32_t i = 0; i < n && i < MGT_MAX_STACKS; i++) {
		const struct mgt_stack *s = mgt_stack_at(i);
		*bytes += s->cur_bytes;
		*blocks += mgt_stack_blocks(s);
	}
	/* the pending count, and the threads' own counts (record.c, "Threads") */
	uint32_t pend = mgt_g.hdr->pend_stack;
	if (pend) {
		*bytes += pend & MGT_PEND_FREE ? -mgt_g.hdr->pend_size : mgt_g.hdr->pend_size;
		*blocks += pend & MGT_PEND_FREE ? -1ull : 1;
	}
	n = __atomic_load_n(&mgt_g.hdr->n_batches, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < MGT_MAX_BATCHES; i++) {
		const struct mgt_batch *b = mgt_batch_at(i);
		if (!mgt_g.depth) {
			*bytes += __atomic_load_n(&b->cur_bytes, __ATOMIC_RELAXED);
			*blocks += __atomic_load_n(&b->allocs, __ATOMIC_RELAXED) -
				   __atomic_load_n(&b->frees, __ATOMIC_RELAXED);
			continue;
		}
		for (uint32_t k = 0; k < MGT_BATCH_RECS; k++) {
			const struct mgt_trec *r = &b->rec[k];
			if (__atomic_load_n(&r->stack, __ATOMIC_RELAXED) == MGT_TREC_NONE)
				continue;
			*bytes += __atomic_load_n(&r->cur_bytes, __ATOMIC_RELAXED);
			*blocks += __atomic_load_n(&r->allocs, __ATOMIC_RELAXED) -
				   __atomic_load_n(&r->frees, __ATOMIC_RELAXED);
		}
	}
}

/*
 * One event, as apply() takes it (the only thread's, or one applied at
 * once under the event lock: record.c, apply_now).
 */
struct mgt_event {
	uint64_t size;
	uint64_t old_size;
	uint32_t stack;
	uint32_t old_stack;
	uint32_t kind;          /* enum mgt_event_kind */
};

/* realloc of a known block: one alloc + one free, applied as one resize */
static inline __attribute__((always_inline)) void count_resize(struct mgt_header *h,
	uint32_t old_stack, uint64_t old_size, uint32_t stack, uint64_t size)
{
	struct mgt_stack *o = mgt_stack_at(old_stack), *n = mgt_stack_at(stack);
	if (size <= old_size)             /* as a free: the top before it first */
		h = mgt_before_free(h, old_size - size);
	/* stack 0 needs none (new_epoch rebases it at once): left out where
	 * the compiler sees both are 0 */
	if (!(__builtin_constant_p(old_stack | stack) && !(old_stack | stack))) {
		mgt_rebase(o, h->epoch);
		mgt_rebase(n, h->epoch);
	}
	mgt_count_stack_alloc(n, size);
	mgt_count_stack_free(o, old_size);
	if (size > old_size)
		mgt_after_alloc(h, (int64_t)(size - old_size));
	else
		mgt_after_free(h, old_size - size);
}

/* one event into the counters, inside the event section */
static inline __attribute__((always_inline)) void apply(struct mgt_header *h, const struct mgt_event *e)
{
	switch (e->kind) {
	case MGT_EV_ALLOC:
		mgt_count_alloc_at(h, e->stack, e->size, 0);
		break;
	case MGT_EV_FREE:
		mgt_count_free_at(h, e->stack, e->size, 0);
		break;
	case MGT_EV_RESIZE:
		count_resize(h, e->old_stack, e->old_size, e->stack, e->size);
		break;
	case MGT_EV_INHERITED:
		/* a block inherited over fork: the parent reports it, not us */
		h->inherited_frees++;
		h->inherited_bytes += e->size;
		break;
	default:
		h->unknown_frees++;
		break;
	}
}

/* ---------------------------------------------------------------- threads */

/*
 * A threaded process: each thread counts its own events in its batch, a
 * part of the file no other thread writes (format.h), so an event writes
 * no cache line another thread writes:
 *   - with stacks, its own record of the event's stack (MGT_BATCH_RECS of
 *     them, direct-mapped by stack id, struct mgt_trec): the reader adds
 *     every thread's records to the shared ones (core/trace.c);
 *   - without stacks, the batch's head: its part of stack 0.
 * The counts are thus exact at every instant, whichever thread frees a
 * block: a thread that frees another's block counts the free in its own
 * record of the block's stack, and the sum over the records is right.
 * Only the live bytes are shared: t->batch_bytes holds the thread's net
 * change since it last folded it into the header's room, which it does
 * under the event lock once that change leaves +-MGT_BATCH_BYTES or
 * MGT_BATCH_EVENTS events have passed (fold); the peak and the timeline
 * move then.  The live bytes the header sees thus miss less than
 * MGT_BATCH_BYTES per other thread (docs/profile-schema.md,
 * "Multithreaded processes").
 *
 * The bytes at the peak, with stacks: every record, a thread's or a shared
 * one, carries the epoch of its last copy of cur_* into peak_* (as struct
 * mgt_stack's); a thread compares its record's epoch with the header's on
 * each event and copies first when a peak came since.  So each record's
 * peak_* is what it held when its thread first saw the new epoch, and the
 * reader's sum over all records is one consistent count of the image at
 * the peak: the stacks add up to it by construction.
 */

static void threads_flag(struct mgt_header *h)
{
	if (MGT_UNLIKELY(!(h->flags & MGT_F_THREADS)))
		__atomic_fetch_or(&h->flags, MGT_F_THREADS, __ATOMIC_RELAXED);
}

/* ev events a thread had not folded reach the timeline, at the live bytes
 * now (a thread's events reach it together), under the event lock */
static void fold_events(struct mgt_header *h, uint64_t ev)
{
	/* the buckets these events close */
	while (ev && ev >= h->tl_left) {
		ev -= h->tl_left;
		h->tl_left = 0;
		settled = 0;              /* the fold settled the state: nothing pending */
		mgt_timeline_close(h);
		/* the next bucket saw them too (its maximum stays 0 while
		 * the live bytes are below 0: a free folded first) */
		if (ev && h->room <= 0)
			new_max(h, 0);
	}
	h->tl_left -= ev;
	if (h->room <= 0)
		settled = h->tl_left;     /* settled above, eagerly */
}

/* batch b's events not folded yet */
static inline uint64_t unfolded(const struct mgt_batch *b)
{
	uint32_t left = __atomic_load_n(&b->left, __ATOMIC_RELAXED);
	return left <= MGT_BATCH_EVENTS ? MGT_BATCH_EVENTS - left : 0;
}

/* the thread's net live bytes and its events into the header (see above) */
static __attribute__((noinline)) void fold(struct mgt_thread *t, struct mgt_batch *b)
{
	struct mgt_header *h = mgt_g.hdr;
	int64_t delta = (int64_t)t->batch_bytes;
	uint64_t ev = unfolded(b);
	mgt_lock(&event_lock);
	if (atomic_load_explicit(&mgt_phase, memory_order_relaxed) == MGT_PHASE_RECORDING) {
		threads_flag(h);
		settle(h);
		h->room -= delta;
		if (h->room <= 0)
			new_max(h, delta > 0);
		fold_events(h, ev);
	}
	t->batch_bytes = 0;
	b->left = MGT_BATCH_EVENTS;
	mgt_unlock(&event_lock);
}

/* an event applied at once, under the event lock (a thread without a batch;
 * a free the thread's records do not count) */
static __attribute__((noinline)) void apply_now(uint32_t kind, uint64_t size, uint32_t stack,
						uint64_t old_size, uint32_t old_stack)
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_event e = { .size = size, .old_size = old_size, .stack = stack,
			       .old_stack = old_stack, .kind = kind };
	mgt_lock(&event_lock);
	if (atomic_load_explicit(&mgt_phase, memory_order_relaxed) == MGT_PHASE_RECORDING) {
		threads_flag(h);
		apply(h, &e);
		settle(h);                    /* a threaded process's peaks stay eager */
	}
	mgt_unlock(&event_lock);
}

/* the thread moved the live bytes by delta: folded when due */
static inline __attribute__((always_inline)) void own_event(struct mgt_thread *t,
	struct mgt_batch *b, int64_t delta)
{
	delta += (int64_t)t->batch_bytes;
	t->batch_bytes = (uint64_t)delta;
	if (MGT_UNLIKELY(--b->left == 0 ||
			 (uint64_t)(delta + MGT_BATCH_BYTES - 1) >= 2 * MGT_BATCH_BYTES - 1))
		fold(t, b);
}

/* counts only: a threaded process's event, into the thread's own counters */
static inline __attribute__((always_inline)) void count_own(struct mgt_thread *t,
	struct mgt_batch *b, uint32_t kind, uint64_t size, uint64_t old_size)
{
	int64_t delta;
	if (kind == MGT_EV_FREE) {
		b->frees++;
		delta = -(int64_t)size;
	} else {
		b->allocs++;
		b->total_bytes += size;
		delta = (int64_t)size;
		if (kind == MGT_EV_RESIZE) {
			b->frees++;
			delta -= (int64_t)old_size;
		}
	}
	b->cur_bytes += (uint64_t)delta;
	own_event(t, b, delta);
}

/* a thread's record counts as a stack's (count.h); its counts may be below 0 */
MGT_COUNTING(struct mgt_trec, trec_count_alloc, trec_count_free, trec_rebase)

/*
 * Tests (MEMGATE_TEST_EVICT_KILL=N:S): the process dies by SIGKILL inside
 * the Nth eviction, at step S, as a SIGKILL from outside may: 1 with the
 * journal written, 2 halfway through the additions, 3 with them done, 4
 * with the record marked (tests/tracer/fixtures/threads_evict.c).
 */
static uint32_t evictions;            /* under the event lock */

static void evict_step(uint32_t step)
{
	if (MGT_UNLIKELY(mgt_g.kill_evict) && evictions == mgt_g.kill_evict &&
	    step == mgt_g.kill_step)
		mgt_sys(SYS_kill, mgt_getpid(), SIGKILL, 0, 0, 0, 0);
}

/*
 * Record r of thread t (its batch b) into its stack's shared record, under
 * the event lock; 0: the process no longer records (the exit step came).
 * Both are brought to the current epoch first, so the sum's share of the
 * peak is kept.  A SIGKILL may land halfway through the additions: the
 * shared record as it was is copied into the header's journal first, and
 * r is marked as counting for no stack only once they are done, so the
 * reader (core/trace.c) counts exactly one of the two whatever the instant.
 */
static __attribute__((noinline)) int evict(struct mgt_thread *t, struct mgt_batch *b,
					   struct mgt_trec *r)
{
	struct mgt_header *h = mgt_g.hdr;
	int ok = 0;
	mgt_lock(&event_lock);
	if (atomic_load_explicit(&mgt_phase, memory_order_relaxed) == MGT_PHASE_RECORDING) {
		uint32_t sid = r->stack;
		struct mgt_stack *s = mgt_stack_at(sid);
		uint64_t e = h->epoch;
		evictions++;
		mgt_memcpy(h->evict_old, s, MGT_STACK_REC);
		h->evict_batch = t->batch;
		h->evict_rec = (uint32_t)(r - b->rec);
		atomic_signal_fence(memory_order_seq_cst);
		h->evict_stack = sid + 1;
		atomic_signal_fence(memory_order_seq_cst);
		evict_step(1);
		mgt_rebase(s, e);
		if (r->epoch != e)
			trec_rebase(r, e);
		s->allocs += r->allocs;
		s->total_bytes += r->total_bytes;
		evict_step(2);
		s->frees += r->frees;
		s->cur_bytes += r->cur_bytes;
		s->peak_bytes += r->peak_bytes;
		s->peak_blocks += r->peak_blocks;
		atomic_signal_fence(memory_order_seq_cst);
		evict_step(3);
		r->stack = MGT_TREC_NONE;
		atomic_signal_fence(memory_order_seq_cst);
		evict_step(4);
		h->evict_stack = 0;
		ok = 1;
	}
	mgt_unlock(&event_lock);
	return ok;
}

/* trec_of's slow path: r is another stack's record, or of an older epoch */
static __attribute__((noinline)) struct mgt_trec *trec_slow(struct mgt_thread *t,
	struct mgt_batch *b, struct mgt_trec *r, uint32_t stack, uint64_t epoch)
{
	if (r->stack == stack) {
		trec_rebase(r, epoch);
		return r;
	}
	/* a record that never counted an event holds nothing to add */
	if (r->stack != MGT_TREC_NONE && (r->allocs | r->frees) && !evict(t, b, r))
		return NULL;
	r->allocs = r->total_bytes = r->frees = r->cur_bytes = 0;
	r->peak_bytes = r->peak_blocks = 0;
	r->epoch = epoch;
	atomic_signal_fence(memory_order_seq_cst);
	r->stack = stack;
	return r;
}

/* thread t's record of `stack` at epoch `epoch`; NULL: not recording */
static inline __attribute__((always_inline)) struct mgt_trec *trec_of(struct mgt_thread *t,
	struct mgt_batch *b, uint32_t stack, uint64_t epoch)
{
	struct mgt_trec *r = &b->rec[stack & (MGT_BATCH_RECS - 1)];
	if (MGT_UNLIKELY(r->stack != stack || r->epoch != epoch))
		r = trec_slow(t, b, r, stack, epoch);
	return r;
}

/* with stacks: a threaded process's event, into the thread's own records */
static inline __attribute__((always_inline)) void count_recs(struct mgt_thread *t,
	struct mgt_batch *b, uint32_t kind, uint64_t size, uint32_t stack, uint64_t old_size,
	uint32_t old_stack)
{
	uint64_t e = __atomic_load_n(&epoch_copy.v, __ATOMIC_RELAXED);
	struct mgt_trec *r;
	int64_t delta;
	if (kind == MGT_EV_FREE) {
		if (MGT_UNLIKELY(!(r = trec_of(t, b, stack, e))))
			return;
		trec_count_free(r, size);
		delta = -(int64_t)size;
	} else {
		delta = (int64_t)size;
		if (kind == MGT_EV_RESIZE) {
			if (MGT_UNLIKELY(!(r = trec_of(t, b, old_stack, e))))
				return;
			trec_count_free(r, old_size);
			delta -= (int64_t)old_size;
		}
		if (MGT_UNLIKELY(!(r = trec_of(t, b, stack, e))))
			return;
		trec_count_alloc(r, size);
	}
	own_event(t, b, delta);
}

/* count_recs_fast's way out: the whole event, its record looked up again */
static __attribute__((noinline)) void count_recs_slow(struct mgt_thread *t, struct mgt_batch *b,
						      uint32_t kind, uint64_t size, uint32_t stack)
{
	count_recs(t, b, kind, size, stack, 0, 0);
}

/*
 * An allocation or a free whose record is the stack's and of the current
 * epoch, in line; anything else out of line: the hot paths then make no
 * call but tail calls, and save no register.
 */
static inline __attribute__((always_inline)) void count_recs_fast(struct mgt_thread *t,
	struct mgt_batch *b, uint32_t kind, uint64_t size, uint32_t stack)
{
	uint64_t e = __atomic_load_n(&epoch_copy.v, __ATOMIC_RELAXED);
	struct mgt_trec *r = &b->rec[stack & (MGT_BATCH_RECS - 1)];
	if (MGT_UNLIKELY(r->stack != stack || r->epoch != e)) {
		count_recs_slow(t, b, kind, size, stack);
		return;
	}
	if (kind == MGT_EV_FREE) {
		trec_count_free(r, size);
		own_event(t, b, -(int64_t)size);
	} else {
		trec_count_alloc(r, size);
		own_event(t, b, (int64_t)size);
	}
}

/* the calling thread's batch, given one on first use (batch_of); NULL: none left */
static __attribute__((noinline)) struct mgt_batch *batch_new(struct mgt_thread *t)
{
	struct mgt_header *h = mgt_g.hdr;
	mgt_lock(&event_lock);
	threads_flag(h);                      /* only a threaded process batches */
	uint32_t i = h->n_batches;
	if (i < MGT_MAX_BATCHES &&
	    !mgt_back(MGT_BATCH_OFF + (uint64_t)i * sizeof(struct mgt_batch),
		      sizeof(struct mgt_batch))) {
		t->batch = (uint16_t)i;
		t->bp = mgt_batch_at(i);
		t->bp->left = MGT_BATCH_EVENTS;
		t->batch_bytes = 0;
		__atomic_store_n(&h->n_batches, i + 1, __ATOMIC_RELEASE);
	}
	mgt_unlock(&event_lock);
	return t->bp;
}

/* the calling thread's batch if it has one in this image, else NULL */
static inline struct mgt_batch *batch_held(const struct mgt_thread *t)
{
	return t->bp;
}

/* a threaded process's event, into batch b, the calling thread's */
static inline __attribute__((always_inline)) void append(struct mgt_thread *t,
	struct mgt_batch *b, uint32_t kind, uint64_t size, uint32_t stack, uint64_t old_size,
	uint32_t old_stack)
{
	if (MGT_UNLIKELY(kind > MGT_EV_RESIZE))
		apply_now(kind, size, stack, old_size, old_stack);
	else if (MGT_LIKELY(mgt_g.depth))
		count_recs(t, b, kind, size, stack, old_size, old_stack);
	else
		count_own(t, b, kind, size, old_size);
}

/* the thread's first event, or no batch left for it */
static __attribute__((noinline)) void push_slow(struct mgt_thread *t, uint32_t kind, uint64_t size,
						uint32_t stack, uint64_t old_size,
						uint32_t old_stack)
{
	struct mgt_batch *b = batch_new(t);   /* push() found none */
	if (MGT_LIKELY(b))
		append(t, b, kind, size, stack, old_size, old_stack);
	else
		apply_now(kind, size, stack, old_size, old_stack);
}

/* A threaded process's event (see push_slow and append). */
static inline __attribute__((always_inline)) void push(struct mgt_thread *t, uint32_t kind,
						       uint64_t size, uint32_t stack,
						       uint64_t old_size, uint32_t old_stack)
{
	struct mgt_batch *b = batch_held(t);
	if (MGT_LIKELY(b))
		append(t, b, kind, size, stack, old_size, old_stack);
	else
		push_slow(t, kind, size, stack, old_size, old_stack);
}

/* One event: the solo thread applies it at once, any other thread counts its own. */
static inline __attribute__((always_inline)) void record(struct mgt_thread *t, int solo,
							 uint32_t kind, uint64_t size, uint32_t stack,
							 uint64_t old_size, uint32_t old_stack)
{
	if (MGT_LIKELY(solo)) {
		struct mgt_event e = { .size = size, .old_size = old_size, .stack = stack,
				       .old_stack = old_stack, .kind = kind };
		apply(mgt_g.hdr, &e);
	} else {
		push(t, kind, size, stack, old_size, old_stack);
	}
}

/* the free of block b */
static inline __attribute__((always_inline)) void record_free(struct mgt_thread *t, int solo,
							     const struct mgt_block *b)
{
	if (MGT_UNLIKELY(!mgt_own_block(b)))
		record(t, solo, MGT_EV_INHERITED, b->size, 0, 0, 0);  /* the parent's block */
	else if (MGT_LIKELY(solo))
		mgt_count_free_at(mgt_g.hdr, b->stack, b->size, b->ptr); /* the common case, directly */
	else
		push(t, MGT_EV_FREE, b->size, b->stack, 0, 0);
}

/* every thread's live bytes and events not folded yet, inside the event
 * section: exit and exec, so that the last bucket and the peak see the live
 * bytes at the end, and the timeline every event (a thread still running
 * may count on in its own batch: the image's end is now) */
static void fold_all(struct mgt_header *h)
{
	uint64_t live, blocks, ev = 0;
	uint32_t n = __atomic_load_n(&h->n_batches, __ATOMIC_ACQUIRE);
	if (!n)
		return;
	mgt_image_live(&live, &blocks);
	settle(h);
	h->room -= (int64_t)(live - live_bytes(h));
	if (h->room <= 0)
		new_max(h, 1);
	for (uint32_t i = 0; i < n && i < MGT_MAX_BATCHES; i++)
		ev += unfolded(mgt_batch_at(i));
	fold_events(h, ev);
}

void mgt_thread_exit(struct mgt_thread *t)
{
	struct mgt_batch *b = batch_held(t);
	/* its records stay: the next thread given this record counts on in them */
	if (b && mgt_g.hdr && atomic_load(&mgt_phase) == MGT_PHASE_RECORDING) {
		t->guard++;                   /* a signal handler's malloc must not fold too */
		fold(t, b);
		mgt_unguard(t);
	}
}

/* ------------------------------------------------------------- recording */

/*
 * The map first, then the counters.  That keeps the counts in an order the
 * program could have seen: an allocation is recorded before its pointer is
 * returned, a free before the real free hands the address to anyone else.
 */
/* the block into ptrmap.c */
static __attribute__((noinline)) void insert_slow(struct mgt_thread *t, int solo,
						  const struct mgt_block *b)
{
	struct mgt_block stale[2];
	/* a stale entry at that address was freed unseen */
	for (int i = 0, n = mgt_ptrmap_insert(b, stale, !solo); i < n; i++)
		record_free(t, solo, &stale[i]);
}

/* the block into the map: the shadow's inline path, else ptrmap.c */
static inline void insert(struct mgt_thread *t, int solo, const struct mgt_block *b)
{
	if (MGT_LIKELY(mgt_own_block(b) && mgt_shadow_put(b->ptr, b->size, b->stack, t)))
		return;
	insert_slow(t, solo, b);
}

/* block p out of the map; the inline take is tried first unless the caller
 * already did (the only thread's fast paths) */
static inline int take(struct mgt_thread *t, uint64_t p, struct mgt_block *out, int solo,
		       int tried)
{
	return (!tried && mgt_shadow_take(p, out, t)) || mgt_ptrmap_remove(p, out, !solo);
}

/*
 * The probe at the next event.  With many stacks used in turn, the depot
 * index's slot for a stack is seldom in the cache, and the wait for it was
 * a quarter of a deep-stack allocation (bench/README.md, "Session 10: deep
 * stacks, the tracer").  So the only thread, once the depot holds many
 * stacks (mgt_many_stacks), does not wait: mgt_stack_capture walks a stack
 * that is not its last into a stash (the header's, format.h: its key and
 * frames, since the stack is gone by the time the slot comes), asks for
 * the slot, and returns MGT_STASH_ID, which no shadow class names, so the
 * allocation comes here.  Its size goes into the figures at once (room,
 * the timeline: nothing there needs the stack), the stash is committed
 * (h->stash_at), and the program goes on while the slot comes.  What needs
 * the stack waits: its id (found, or inserted from the frames), the block
 * in the map, the count in the stack's record.  They are done (stash_apply)
 * at the next such allocation, before it commits its own, or before
 * anything can see them missing: a free or realloc of the block (it is not
 * in the shadow: the slow paths), a new peak (new_epoch: the count in the
 * old epoch), going threaded, fork, exec, exit, a dlopen or dlclose
 * (mgt_stash_flush: a new stack keeps the module generation it was walked
 * in).  A SIGKILL leaves the
 * stash in the file, and the reader counts it (core/trace.c).  Two stashes
 * take turns: the next allocation's is walked before the last one is
 * applied.
 */
static uint64_t stash_p;             /* the stashed block */
struct mgt_stash *mgt_stash_next;

/* the stashed allocation, applied: direct, counted in its record at once
 * (else left pending: "Pending counts"); locked: by another thread, the
 * event lock held (mgt_go_threaded), else by the only thread */
static __attribute__((noinline)) void stash_apply(struct mgt_thread *t, struct mgt_header *h,
						  int direct, int locked)
{
	const struct mgt_stash *st = &h->stash[h->stash_at - 1];
	uint64_t p = stash_p, size = h->stash_size;
	uint32_t id = mgt_stack_resolve(t, st);
	struct mgt_stack *s = mgt_stack_at(id);
	/* cleared first: a SIGKILL from here on loses its count, never counts it twice */
	if (direct) {
		h->stash_at = 0;
		atomic_signal_fence(memory_order_seq_cst);
		mgt_rebase(s, h->epoch);
		mgt_count_stack_alloc(s, size);
	} else {
		pend_flush(h);
		h->stash_at = 0;
		h->pend_size = size;
		atomic_signal_fence(memory_order_seq_cst);
		h->pend_stack = id + 1;
		__builtin_prefetch(s, 1);
	}
	/* the block into the map, as alloc_rest puts it (stale entries at
	 * its address are frees counted at once, under the lock if locked) */
	if (mgt_shadow_put(p, size, id, t) || (!locked && mgt_shadow_put_solo(p, size, id, t)))
		return;
	struct mgt_block b = { p, size, id, (uint16_t)mgt_g.fork_gen }, stale[2];
	for (int i = 0, n = mgt_ptrmap_insert(&b, stale, locked); i < n; i++)
		record_free(t, 1, &stale[i]);
}

/* the only thread's allocation of a stack left for later: the last one
 * applied, this one stashed */
static __attribute__((noinline)) void stash_commit(struct mgt_thread *t, uint64_t p, uint64_t size)
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_stash *n = mgt_stash_next;
	stash_settle(t, h, 0);
	h->stash_size = size;
	stash_p = p;
	stash_t = t;
	atomic_signal_fence(memory_order_seq_cst);
	h->stash_at = (uint32_t)(n - h->stash) + 1;
	mgt_stash_next = &h->stash[n == h->stash];
	mgt_after_alloc(h, (int64_t)size);
	mgt_ev_end(t, 1);
}

/* a threaded process's event, or a block another thread's free may reach
 * first: the stash applied under the event lock, if still there */
static __attribute__((noinline)) void stash_settle_locked(struct mgt_thread *t)
{
	mgt_lock(&event_lock);
	if (mgt_g.hdr->stash_at)
		stash_apply(t, mgt_g.hdr, 1, 1);
	mgt_unlock(&event_lock);
}

/* before block p is looked for, for a free or a realloc: the stash applied
 * if p is the stashed block (by the only thread, else under the event lock) */
static inline void stash_settle_block(struct mgt_thread *t, int solo, uint64_t p)
{
	if (MGT_UNLIKELY(mgt_g.hdr->stash_at && p == stash_p)) {
		if (solo)
			stash_apply(t, mgt_g.hdr, 0, 0);
		else
			stash_settle_locked(t);
	}
}

/* an allocation past the common case: a threaded process, or a block for
 * ptrmap.c; tried: the caller's shadow put failed (it would again) */
static __attribute__((noinline)) void alloc_rest(struct mgt_thread *t, int solo, uint64_t p,
						 uint64_t size, uint32_t stack, int tried)
{
	/* a stack left for later (mgt_stack_capture): no class names it */
	if (MGT_UNLIKELY(stack == MGT_STASH_ID)) {
		if (solo) {
			stash_commit(t, p, size);
			return;
		}
		/* the process went threaded since the walk: looked up now */
		stack = mgt_stack_resolve(t, mgt_stash_next);
		tried = 0;
	}
	/* the only thread: a pair without a class at its home (event.h) */
	if (solo && mgt_shadow_put_solo(p, size, stack, t)) {
		mgt_count_alloc_at(mgt_g.hdr, stack, size, p);
		mgt_ev_end(t, 1);
		return;
	}
	/* the image's own block: the shadow's inline path first */
	if (tried || !mgt_shadow_put(p, size, stack, t)) {
		struct mgt_block b = { p, size, stack, (uint16_t)mgt_g.fork_gen };
		insert_slow(t, solo, &b);
	}
	record(t, solo, MGT_EV_ALLOC, size, stack, 0, 0);
	mgt_ev_end(t, solo);
}

/*
 * A threaded process's common case (a thread with a batch, an ordinary heap
 * block) on its own, so it saves none of the registers the rest needs.
 */
/* counts only: as mgt_alloc_slow, on its own so the stacks' path keeps its
 * few registers; thread.c's recorders call it directly (event.h) */
__attribute__((noinline)) void mgt_own_alloc(struct mgt_thread *t, uint64_t p, uint64_t size)
{
	if (MGT_LIKELY(mgt_shadow_put(p, size, 0, t)))
		count_own(t, batch_held(t), MGT_EV_ALLOC, size, 0);
	else
		alloc_rest(t, 0, p, size, 0, 1);
}

/* the stash applied now, by thread t, its guard held */
static void stash_flush(struct mgt_thread *t)
{
	if (mgt_ev_begin(t)) {
		stash_settle(t, mgt_g.hdr, 0);
		mgt_ev_end(t, 1);
	} else {
		stash_settle_locked(t);
	}
}

void mgt_stash_flush(void)
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_thread *t;
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || !h->stash_at ||
	    h->pid != mgt_getpid() || !(t = mgt_thread_self()) || MGT_GUARD_HELD(t->guard))
		return;                           /* (held: a handler inside the tracer) */
	t->guard++;
	stash_flush(t);
	mgt_unguard(t);
}

__attribute__((noinline)) void mgt_alloc_slow(struct mgt_thread *t, int solo, uint64_t p,
						 uint64_t size, uint32_t stack)
{
	struct mgt_batch *b;
	if (MGT_LIKELY(!solo && (b = batch_held(t)))) {
		if (MGT_UNLIKELY(!mgt_g.depth)) {
			mgt_own_alloc(t, p, size);
			return;
		}
		if (MGT_LIKELY(mgt_shadow_put(p, size, stack, t)))
			count_recs_fast(t, b, MGT_EV_ALLOC, size, stack);
		else
			alloc_rest(t, 0, p, size, stack, 1);  /* solo 0: no register kept for it */
		return;
	}
	/* the only thread tried the put in line (event.h) */
	alloc_rest(t, solo, p, size, stack, solo);
}

/*
 * Without stacks (depth 0) every block is stack 0's, and the shadow names a
 * stack-0 block by its size only where the stack is 0 at compile time
 * (ptrmap.h, mgt_sh_class): a 0 known only at run time would look its class
 * up in vain and take the slow path at every event.  So each recorder that
 * may run without stacks calls with a constant 0 then.
 */
void mgt_record_alloc(struct mgt_thread *t, void *p, size_t size, void *fp)
{
	if (MGT_LIKELY(mgt_g.depth))
		mgt_record_alloc_inline(t, p, size, mgt_stack_capture(t, fp));
	else
		mgt_record_alloc_inline(t, p, size, 0);
}

void mgt_record_alloc_at(struct mgt_thread *t, void *p, size_t size, uint32_t stack)
{
	mgt_record_alloc_inline(t, p, size, stack);
}

/* mgt_record_free tried the inline take when solo */
static __attribute__((noinline)) void free_rest(struct mgt_thread *t, int solo, uint64_t p)
{
	struct mgt_block b;
	uint32_t v, e;
	stash_settle_block(t, solo, p);       /* the stashed block: in the map first */
	if (!solo && (v = mgt_shadow_take_word(p, t))) {  /* the image's own block */
		e = mgt_sh_block(v);
		push(t, MGT_EV_FREE, mgt_sh_size(e), mgt_sh_stack(e), 0, 0);
	} else if (take(t, p, &b, solo, 1)) {
		record_free(t, solo, &b);
	} else {
		record(t, solo, MGT_EV_UNKNOWN, 0, 0, 0, 0);
	}
	mgt_ev_end(t, solo);
}

/* counts only: as mgt_free_slow (see mgt_own_alloc) */
static __attribute__((noinline)) void own_free(struct mgt_thread *t, struct mgt_batch *b,
					       uint64_t p)
{
	uint32_t v;
	if (MGT_LIKELY(v = mgt_shadow_take_word(p, t)))
		count_own(t, b, MGT_EV_FREE, mgt_sh_size(mgt_sh_block(v)), 0);
	else
		free_rest(t, 0, p);
}

/* a threaded process's free, the thread holding its batch (mgt_free_slow
 * and thread.c's recorder) */
__attribute__((noinline)) void mgt_own_free(struct mgt_thread *t, uint64_t p)
{
	struct mgt_batch *b = batch_held(t);
	uint32_t v, e;
	if (MGT_UNLIKELY(!mgt_g.depth)) {
		own_free(t, b, p);
	} else if (MGT_LIKELY(v = mgt_shadow_take_word(p, t))) {
		e = mgt_sh_block(v);
		count_recs_fast(t, b, MGT_EV_FREE, mgt_sh_size(e), mgt_sh_stack(e));
	} else {
		free_rest(t, 0, p);
	}
}

__attribute__((noinline)) void mgt_free_slow(struct mgt_thread *t, int solo, uint64_t p)
{
	if (MGT_LIKELY(!solo && batch_held(t)))
		mgt_own_free(t, p);
	else
		free_rest(t, solo, p);
}

void mgt_record_free(struct mgt_thread *t, void *p)
{
	mgt_record_free_inline(t, p);
}

int mgt_realloc_take(struct mgt_thread *t, void *p, struct mgt_block *old)
{
	int solo = mgt_ev_begin(t);
	stash_settle_block(t, solo, (uint64_t)p);
	int found = take(t, (uint64_t)p, old, solo, 0);
	mgt_ev_end(t, solo);
	return found;
}

/* a realloc past the common case (see mgt_realloc_done) */
static __attribute__((noinline)) void realloc_slow(struct mgt_thread *t, int solo, int had_old,
						   const struct mgt_block *old, uint64_t q,
						   uint64_t size, uint32_t stack)
{
	struct mgt_block b = { q, size, stack, (uint16_t)mgt_g.fork_gen };
	insert(t, solo, &b);
	if (had_old && mgt_own_block(old)) {
		record(t, solo, MGT_EV_RESIZE, size, b.stack, old->size, old->stack);
	} else {
		/* inherited: counted apart */
		if (had_old)
			record_free(t, solo, old);
		else
			record(t, solo, MGT_EV_UNKNOWN, 0, 0, 0, 0);
		record(t, solo, MGT_EV_ALLOC, size, b.stack, 0, 0);
	}
	mgt_ev_end(t, solo);
}

static inline __attribute__((always_inline)) void realloc_done(struct mgt_thread *t, int had_old,
	const struct mgt_block *old, void *q, size_t size, void *fp, uint32_t stack)
{
	int solo;
	if (!q) {
		/* failed: the old block is still live and nothing happened */
		if (had_old) {
			solo = mgt_ev_begin(t);
			insert(t, solo, old);
			mgt_ev_end(t, solo);
		}
		return;
	}
	if (fp) {
		stack = MGT_LIKELY(mgt_g.depth) ? mgt_stack_capture(t, fp) : 0;
		if (MGT_UNLIKELY(stack == MGT_STASH_ID))   /* not for a resize: looked up now */
			stack = mgt_stack_resolve(t, mgt_stash_next);
	}
	solo = mgt_ev_begin(t);
	/* the common case in line, as in mgt_record_alloc (and as there, a
	 * constant stack 0 without stacks) */
	if (MGT_LIKELY(solo && had_old && mgt_own_block(old) &&
		       (MGT_LIKELY(mgt_g.depth) ? mgt_shadow_put((uint64_t)q, size, stack, t)
						 : mgt_shadow_put((uint64_t)q, size, 0, t)))) {
		count_resize(mgt_g.hdr, old->stack, old->size, stack, size);
		mgt_ev_end(t, 1);
		return;
	}
	realloc_slow(t, solo, had_old, old, (uint64_t)q, size, stack);
}

void mgt_realloc_done(struct mgt_thread *t, int had_old, const struct mgt_block *old, void *q,
		      size_t size, void *fp)
{
	realloc_done(t, had_old, old, q, size, fp, 0);
}

/*
 * The word named stack 0's class of the old size (mgt_sh_block0).  The
 * common case is count_resize at stack 0, which needs no rebase (new_epoch
 * rebases it at once); any other, realloc_done's with the block the word
 * described (mgt_shadow_take's).
 */
void mgt_realloc_done0(struct mgt_thread *t, uint32_t v, uint64_t p, void *q, size_t size)
{
	uint64_t old_size = mgt_sh_block0(v);
	if (MGT_LIKELY(q)) {
		int solo = mgt_ev_begin(t);
		if (MGT_LIKELY(solo && mgt_shadow_put((uint64_t)q, size, 0, t))) {
			count_resize(mgt_g.hdr, 0, old_size, 0, size);
			mgt_ev_end(t, 1);
			return;
		}
		mgt_ev_end(t, solo);
	}
	struct mgt_block old = { p, old_size, 0, (uint16_t)(mgt_g.fork_gen & ((1u << MGT_GEN_BITS) - 1)) };
	realloc_done(t, 1, &old, q, size, NULL, 0);
}


/* ---------------------------------------------- signal handlers inside the tracer */

/*
 * A signal that lands while a thread is inside the tracer (its guard held)
 * may run a handler that allocates and frees.  Recording those calls there
 * would meet the interrupted event half done (the counters, a map entry, a
 * lock held), so the handler only writes each call down in the thread's own
 * queue, with its raw frames: a few stores and, once per thread, an mmap
 * system call, all async-signal-safe.  The interrupted hook records them
 * when it leaves (mgt_unguard), in the order they happened, as if they came
 * right after its own event: the counts are exact, and the peak is the
 * maximum in that order (docs/limits.md).  A queued free keeps its block
 * until then: the map reads the block's chunk header, which the real free
 * would hand back to glibc, and the memory must not be reused by a later
 * call before its free is recorded.  The queue grows by chunks of 1,024
 * calls (mmap is async-signal-safe), up to 1,048,576 calls per
 * interrupted event: on a loaded machine a timer every 10 µs queued over
 * 1,024 while one event waited, and over 65,536 when the handlers, slowed
 * by the load past the timer's period, kept the interrupted event from
 * running for a second; calls beyond it pass through unrecorded, as every
 * such call did before.  Its first chunk, ~104 KiB of address space, is
 * made for a thread the first time a handler interrupts it inside the
 * tracer; the others are given back once drained.
 */
#define DEFER_CHUNK 1024u             /* calls per chunk of the queue */
#define DEFER_CHUNKS 1024u            /* chunks: 1,048,576 calls per interrupted event */
#define DEFER_FRAMES 8192u            /* frames per chunk (then: the frameless stack 0) */

enum { DEFER_ALLOC = 1, DEFER_FREE = 2, DEFER_REALLOC = 3 };

struct mgt_deferred {
	uint64_t p;                   /* the block allocated or freed; realloc: the new one */
	uint64_t old;                 /* realloc: the old block, still allocated */
	uint64_t size;
	uint32_t kind, depth, trunc, frame_at;
};

struct defer_chunk {
	_Atomic uint32_t frames_used;
	uint32_t pad;
	struct mgt_deferred ev[DEFER_CHUNK];
	uintptr_t frames[DEFER_FRAMES];
};

struct mgt_defer {
	_Atomic uint64_t used;        /* calls reserved */
	uint64_t head;                /* calls recorded by the drain under way */
	int self_noted;               /* this record registered as the tracer's own memory */
	uint64_t noted[DEFER_CHUNKS / 64]; /* chunks registered so, a bit each */
	struct defer_chunk *_Atomic chunk[DEFER_CHUNKS];
};

extern void __libc_free(void *);

/* an anonymous mapping made by a raw system call (signal-safe), or NULL */
static void *defer_map(size_t len)
{
	long r = mgt_sys(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	return r < 0 && r > -4096 ? NULL : (void *)r;
}

/* *slot, made if need be; a signal inside this one may make it meanwhile */
static void *defer_make(void *_Atomic *slot, size_t len)
{
	void *m = atomic_load(slot), *none = NULL;
	if (MGT_LIKELY(m) || !(m = defer_map(len)))
		return m;
	if (!atomic_compare_exchange_strong(slot, &none, m)) {
		mgt_sys(SYS_munmap, (long)m, (long)len, 0, 0, 0, 0);
		return none;
	}
	return m;
}

/* a slot for one call with its frames walked from fp (none: fp NULL); NULL: full */
/* the slots a queue may use: calls past them are not recorded, and the
 * drain reads no further */
static inline uint64_t defer_cap(void)
{
	uint64_t cap = (uint64_t)DEFER_CHUNK * DEFER_CHUNKS;
	return mgt_g.defer_max < cap ? mgt_g.defer_max : cap;
}

static struct mgt_deferred *defer_slot(struct mgt_thread *t, uint32_t kind, void *fp)
{
	struct mgt_defer *d;
	struct defer_chunk *c;
	uint32_t max = fp ? mgt_g.depth : 0, trunc = 0;
	if (atomic_load_explicit(&mgt_phase, memory_order_relaxed) != MGT_PHASE_RECORDING ||
	    !(d = defer_make((void *_Atomic *)&t->defer, sizeof(*d))))
		return NULL;
	/* a signal inside this handler gets the next slot */
	uint64_t i = atomic_fetch_add(&d->used, 1);
	if (i >= defer_cap() ||
	    !(c = defer_make((void *_Atomic *)&d->chunk[i / DEFER_CHUNK], sizeof(*c)))) {
		/* not recorded: the profile says how many (docs/limits.md) */
		__atomic_fetch_add(&mgt_g.hdr->signal_lost, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	struct mgt_deferred *e = &c->ev[i % DEFER_CHUNK];
	/* room for the deepest walk: the frames go straight into the queue,
	 * not through a signal stack that may be small */
	uint32_t f = max ? atomic_fetch_add(&c->frames_used, max) : 0;
	e->kind = kind;
	e->frame_at = f;
	/* no room for the frames: the frameless stack 0, the count still exact */
	e->depth = max && f + max <= DEFER_FRAMES ? mgt_stack_walk(t, fp, &c->frames[f], &trunc) : 0;
	e->trunc = trunc;
	/* the interrupted hook records it when it leaves (mgt_unguard) */
	__atomic_fetch_or(&t->guard, MGT_GUARD_PENDING, __ATOMIC_RELAXED);
	return e;
}

void mgt_defer_alloc(struct mgt_thread *t, void *p, size_t size, void *fp)
{
	struct mgt_deferred *e = defer_slot(t, DEFER_ALLOC, fp);
	if (e) {
		e->p = (uint64_t)p;
		e->size = size;
	}
}

int mgt_defer_free(struct mgt_thread *t, void *p)
{
	struct mgt_deferred *e = defer_slot(t, DEFER_FREE, NULL);
	if (e)
		e->p = (uint64_t)p;
	return e != NULL;
}

int mgt_defer_realloc(struct mgt_thread *t, void *p, void *q, size_t size, void *fp)
{
	struct mgt_deferred *e = defer_slot(t, DEFER_REALLOC, fp);
	if (e) {
		e->p = (uint64_t)q;
		e->old = (uint64_t)p;
		e->size = size;
	}
	return e != NULL;
}

int mgt_defer_pending(const struct mgt_thread *t)
{
	return atomic_load_explicit(&t->defer->used, memory_order_relaxed) != 0;
}

/* one queued call, recorded (when still recording) and its block freed; guard held */
static void defer_apply(struct mgt_thread *t, struct defer_chunk *c, struct mgt_deferred *e)
{
	int rec = atomic_load(&mgt_phase) == MGT_PHASE_RECORDING && mgt_g.hdr && mgt_g.hdr->pid == mgt_getpid();
	uint32_t stack = 0;
	if (rec && e->kind != DEFER_FREE && e->depth)
		stack = mgt_stack_intern(t, &c->frames[e->frame_at], e->depth, e->trunc);
	if (rec && e->kind == DEFER_ALLOC) {
		mgt_record_alloc_at(t, (void *)e->p, e->size, stack);
	} else if (rec && e->kind == DEFER_FREE) {
		mgt_record_free(t, (void *)e->p);
	} else if (rec && e->kind == DEFER_REALLOC) {
		struct mgt_block old;
		int had = mgt_realloc_take(t, (void *)e->old, &old);
		realloc_done(t, had, &old, (void *)e->p, e->size, NULL, stack);
	}
	if (e->kind == DEFER_FREE || e->kind == DEFER_REALLOC) {
		if (atomic_load(&mgt_phase) == MGT_PHASE_FROZEN)
			mgt_wait_frozen();
		__libc_free((void *)(e->kind == DEFER_FREE ? e->p : e->old));
	}
	e->p = e->old = 0;                    /* no stale pointer for the leak check to see */
	e->kind = 0;
}

/*
 * The thread's signals are held while the queue is recorded and its blocks
 * freed.  The program freed those blocks inside its handler, where the
 * thread was not inside glibc's allocator (or the program took that risk
 * natively); freed here, a signal could enter glibc's allocator through its
 * handler while the free is half done, which the program never risked.  And
 * a handler that takes longer under the tracer than the interval of its
 * timer would otherwise keep the queue from ever emptying.  A signal that
 * comes meanwhile is delivered right after, once the guard is down: to this
 * thread, or, if it is for the whole process, to any other thread that does
 * not block it, as the kernel may choose at any time.
 */
/*
 * After a drain: the queue and its chunks become the tracer's own memory for
 * the leak check, and, when the signals are held (nothing can be queued
 * meanwhile), the chunks beyond the first are given back.
 */
static void defer_settle(struct mgt_defer *d, int quiet)
{
	if (!d->self_noted) {
		mgt_region_note(d, sizeof(*d));
		d->self_noted = 1;
	}
	for (unsigned i = 0; i < DEFER_CHUNKS; i++) {
		struct defer_chunk *c = atomic_load(&d->chunk[i]);
		uint64_t bit = 1ull << (i % 64), *noted = &d->noted[i / 64];
		if (!c)
			continue;
		if (quiet && i) {
			atomic_store(&d->chunk[i], NULL);
			if (*noted & bit)
				mgt_munmap(c, sizeof(*c));
			else
				mgt_sys(SYS_munmap, (long)c, sizeof(*c), 0, 0, 0, 0);
			*noted &= ~bit;
			continue;
		}
		if (quiet)
			atomic_store(&c->frames_used, 0);
		if (!(*noted & bit)) {
			mgt_region_note(c, sizeof(*c));
			*noted |= bit;
		}
	}
}

void mgt_defer_drain(struct mgt_thread *t)
{
	struct mgt_defer *d = atomic_load(&t->defer);
	uint64_t all = ~0ull, old;
	long held = mgt_sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, 8, 0, 0);
	/* read-modify-writes a handler cannot split: it may OR in MGT_GUARD_PENDING */
	__atomic_fetch_add(&t->guard, 1, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t u = atomic_load(&d->used), cap = defer_cap();
		uint64_t n = u < cap ? u : cap;
		for (; d->head < n; d->head++) {
			struct defer_chunk *c = atomic_load(&d->chunk[d->head / DEFER_CHUNK]);
			if (c)                    /* else no memory for it: lost */
				defer_apply(t, c, &c->ev[d->head % DEFER_CHUNK]);
		}
		if (atomic_compare_exchange_strong(&d->used, &u, 0))
			break;                    /* else a signal queued more (not held) */
	}
	d->head = 0;
	defer_settle(d, held == 0);
	__atomic_fetch_sub(&t->guard, 1, __ATOMIC_RELAXED);
	if (held == 0)
		mgt_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
	else if (!MGT_GUARD_HELD(t->guard) && mgt_defer_pending(t))
		mgt_defer_drain(t);           /* what came after the reset */
}

/*
 * The guard was not 0 after the decrement: still held (an inner call), or a
 * handler queued calls.  The queue itself decides, not the bit: a handler
 * that comes after the decrement finds the guard down and records its own
 * call at once, and its hook may store over the bit.
 */
void mgt_unguard_slow(struct mgt_thread *t)
{
	if (MGT_GUARD_HELD(t->guard))
		return;                       /* the outermost hook records the queue */
	__atomic_fetch_and(&t->guard, ~MGT_GUARD_PENDING, __ATOMIC_RELAXED);
	if (atomic_load_explicit(&t->defer, memory_order_relaxed) && mgt_defer_pending(t))
		mgt_defer_drain(t);
}

void mgt_sample_rss(void)
{
	struct rusage ru;
	if (mgt_sys(SYS_getrusage, RUSAGE_SELF, (long)&ru, 0, 0, 0, 0) == 0) {
		uint64_t b = (uint64_t)ru.ru_maxrss * 1024u;
		if (b > mgt_g.hdr->rss_peak_bytes)
			mgt_g.hdr->rss_peak_bytes = b;
	}
}

/* -------------------------------------------------------- process events */

/*
 * The exit step reads the live blocks' chunk headers and contents.  Another
 * thread still running must not hand a block back to glibc meanwhile (it
 * could trim the heap under the scan), so its frees wait here; they pass
 * through unrecorded afterwards, as every event after the exit step does.
 */
static uintptr_t frozen_tp;          /* the thread in the exit step */

void mgt_wait_frozen(void)
{
	if (mgt_thread_pointer() == frozen_tp)
		return;
	while (atomic_load(&mgt_phase) == MGT_PHASE_FROZEN)
		mgt_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

void mgt_finish(int have_code, int code, int hard, const struct mgt_exit_point *ep)
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_thread *t;
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || h->pid != mgt_getpid() ||
	    !(t = mgt_thread_self()))
		return;                           /* not ours (vfork child), or done */
	t->guard++;
	stash_flush(t);                       /* its stack in this module generation */
	/*
	 * Libc-internal dlopens (iconv's modules) pass no hook: the modules are
	 * scanned once more here.  Not in a fork child: the loader's lock may
	 * have been held at the fork by a thread that does not exist there (or
	 * by the forking thread, in a dl_iterate_phdr callback), and nothing
	 * would ever release it.  A child's own dlopens were scanned by the hook.
	 */
	if (!mgt_g.fork_gen)
		mgt_modules_scan();
	int solo = enter(t, 1);
	int recording = MGT_PHASE_RECORDING;
	mgt_hooks_record(0);                  /* the hooks' fast path ends here */
	/* (the event lock is ours: no exit step is under way, frozen_tp is free) */
	frozen_tp = mgt_thread_pointer();
	/* only from 1: a second thread in exit() after the first must not
	 * freeze the process again (nothing would thaw it) */
	if (atomic_compare_exchange_strong(&mgt_phase, &recording, MGT_PHASE_FROZEN)) {
		fold_all(h);             /* what the threads have not folded */
		if (h->tl_open.live_max || h->tl_left != h->tl_width)
			mgt_timeline_close(h);
		mgt_sample_rss();
		if (!mgt_g.no_leakcheck)
			mgt_leakcheck(ep);        /* leak kinds, with the heap frozen */
		h->end_mono_ns = mgt_now_ns();
		if (have_code) {
			h->exit_code = code;
			__atomic_fetch_or(&h->flags, MGT_F_EXIT_CODE, __ATOMIC_RELAXED);
		}
		if (hard)
			__atomic_fetch_or(&h->flags, MGT_F_HARD_EXIT, __ATOMIC_RELAXED);
		__atomic_store_n(&h->state, MGT_EXITED, __ATOMIC_RELEASE);
		atomic_store(&mgt_phase, MGT_PHASE_OFF);
	}
	leave(t, solo, 1);
	mgt_unguard(t);
}

/* envp has `key` (e.g. "LD_PRELOAD=") with a non-empty value containing `part` */
static int env_has(char *const envp[], const char *key, const char *part)
{
	size_t n = mgt_strlen(key), m = mgt_strlen(part);
	for (; envp && *envp; envp++) {
		if (mgt_strncmp(*envp, key, n))
			continue;
		for (const char *v = *envp + n; *v; v++)
			if (!mgt_strncmp(v, part, m))
				return 1;
		return 0;
	}
	return 0;
}

void mgt_note_spawn_env(const char *path, char *const envp[])
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_thread *t;
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || !(t = mgt_thread_self()))
		return;
	/* the child loads the tracer only if it is still named in LD_PRELOAD, and
	 * only if the program has a dynamic loader that reads it */
	if (env_has(envp, "LD_PRELOAD=", "libmemgate.so") && env_has(envp, "MEMGATE_DIR=", "/") &&
	    !(path && mgt_elf_untraceable(path)))
		return;
	int solo = enter(t, 0);
	mgt_strlcpy(h->untraced, path ? path : "?", sizeof(h->untraced));
	__atomic_fetch_or(&h->flags, MGT_F_UNTRACED_EXEC, __ATOMIC_RELAXED);
	leave(t, solo, 0);
}

void mgt_exec_begin(const char *path, char *const envp[])
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_thread *t;
	mgt_note_spawn_env(path, envp);
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || h->pid != mgt_getpid() ||
	    !(t = mgt_thread_self()))
		return;                           /* a vfork child: the parent's file */
	int solo = enter(t, 0);
	if (solo)
		stash_settle(t, h, 1);
	fold_all(h);                 /* the other threads die with this image */
	settle(h);                   /* the top of a rise the image ends in */
	mgt_strlcpy(h->exec_target, path ? path : "?", sizeof(h->exec_target));
	mgt_sample_rss();
	h->end_mono_ns = mgt_now_ns();
	__atomic_store_n(&h->state, MGT_EXECED, __ATOMIC_RELEASE);
	leave(t, solo, 0);
}

void mgt_exec_failed(void)
{
	struct mgt_header *h = mgt_g.hdr;
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || h->pid != mgt_getpid())
		return;
	__atomic_store_n(&h->state, MGT_RUNNING, __ATOMIC_RELEASE);
}

void mgt_note_child(int pid, int status)
{
	struct mgt_header *h = mgt_g.hdr;
	struct mgt_thread *t;
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !h || h->pid != mgt_getpid() ||
	    !(t = mgt_thread_self()))
		return;
	if (!WIFEXITED(status) && !WIFSIGNALED(status))
		return;
	int solo = enter(t, 0);
	if (h->n_children < MGT_MAX_CHILDREN &&
	    !mgt_back(MGT_CHILD_OFF + h->n_children * sizeof(struct mgt_child),
		      sizeof(struct mgt_child))) {
		mgt_g.children[h->n_children].pid = pid;
		mgt_g.children[h->n_children].status = status;
		__atomic_store_n(&h->n_children, h->n_children + 1, __ATOMIC_RELEASE);
	} else if (h->n_children >= MGT_MAX_CHILDREN) {
		__atomic_fetch_or(&h->flags, MGT_F_CHILD_FULL, __ATOMIC_RELAXED);
	}
	leave(t, solo, 0);
}

/*
 * fork: the prepare handler takes every tracer lock (or, solo, marks the
 * event section busy) so the child does not
 * inherit one held by a thread that does not exist there; the child then
 * starts its own file and counts from zero.  Blocks it inherited keep the
 * parent's generation: the parent reports them, the child counts their frees
 * apart (inherited_frees).
 */
void mgt_atfork_prepare(void)
{
	fork_thread = atomic_load(&mgt_phase) == MGT_PHASE_RECORDING ? mgt_thread_self() : NULL;
	if (!fork_thread)
		return;
	fork_thread->guard++;
	/*
	 * The modules the child inherits: those published so far (an entry is
	 * complete before n_modules counts it).  Not under the module lock: a
	 * thread scanning modules holds it while it waits for the loader's lock,
	 * which a program forking inside a dl_iterate_phdr callback holds.
	 */
	fork_mod_snapshot = __atomic_load_n(&mgt_g.hdr->n_modules, __ATOMIC_ACQUIRE);
	/* the child inherits the map: the stashed block in it first (a new
	 * stack takes the depot lock).  Threaded, mgt_go_threaded applied it,
	 * the event lock held: waited for here before the depot lock is taken */
	stash_flush(fork_thread);
	mgt_stack_lock();
	fork_token = enter(fork_thread, 1);
}

void mgt_atfork_parent(void)
{
	if (!fork_thread)
		return;
	leave(fork_thread, fork_token, 1);
	mgt_stack_unlock();
	mgt_unguard(fork_thread);
}

/* module i of the parent's file, through the parent's mappings */
static const struct mgt_module *parent_module(const struct mgt_area *area, uint32_t i)
{
	const struct mgt_area *r = &area[MGT_A_MOD];
	return (const struct mgt_module *)(atomic_load(&r->base[mgt_area_seg(i, r->shift)]) +
					   (uint64_t)i * r->rsize);
}

void mgt_atfork_child(void)
{
	struct mgt_thread *t = fork_thread;
	if (!t)
		return;
	mgt_hooks_record(0);                  /* until the end */
	mgt_modules_reinit_locks();
	mgt_stack_reinit_locks();
	mgt_thread_fork_child();
	mgt_regions_fork_child();
	mgt_ptrmap_fork_child();              /* its locks were held by prepare, or never taken */
	solo_init(t);                         /* the forking thread is the only one */
	t->sh_region = MGT_SH_NONE;           /* the parent's shadow, now inherited */
	t->bp = NULL;                         /* and its batches (the file is new) */
	t->batch = 0;
	t->last_hash = 0;                     /* stack ids start over */
	if (atomic_load(&mgt_phase) == MGT_PHASE_RECORDING && mgt_g.root_only) {
		/* follow-children: false - the child runs untraced from here on; the
		 * parent's file is the parent's */
		struct mgt_header *parent = mgt_g.hdr;
		mgt_g.hdr = NULL;
		atomic_store(&mgt_phase, MGT_PHASE_OFF);
		file_unmap(parent, mgt_g.timeline, mgt_g.area);
		areas_init();
	} else if (atomic_load(&mgt_phase) == MGT_PHASE_RECORDING) {
		struct mgt_header *parent = mgt_g.hdr;
		struct mgt_bucket *parent_tl = mgt_g.timeline;
		static struct mgt_area parent_area[MGT_AREAS];  /* the child has one thread */
		mgt_memcpy(parent_area, mgt_g.area, sizeof(parent_area));
		areas_init();
		const char *slash = mgt_g.path;
		for (const char *p = mgt_g.path; *p; p++)
			if (*p == '/')
				slash = p + 1;
		char parent_file[64];
		mgt_strlcpy(parent_file, slash, sizeof(parent_file));

		mgt_g.hdr = NULL;
		mgt_g.fork_gen++;
		mgt_back_fork_child();
		if (mgt_stack_reset() == 0 && start_image(1, parent_file) == 0) {
			/* the child has the parent's modules: copy the table we saw */
			struct mgt_header *h = mgt_g.hdr;
			uint32_t n = fork_mod_snapshot;
			if (!mgt_back(MGT_MOD_OFF, (uint64_t)n * sizeof(struct mgt_module))) {
				for (uint32_t i = 0; i < n; i++)
					mgt_memcpy(mgt_module_at(i), parent_module(parent_area, i),
						   sizeof(struct mgt_module));
				h->n_modules = n;
				/* a generation that covers every entry copied, even
				 * one a scan of the parent was still adding */
				uint64_t gen = parent->mod_gen;
				for (uint32_t i = 0; i < n; i++) {
					const struct mgt_module *m = mgt_module_at(i);
					if (m->gen_loaded > gen)
						gen = m->gen_loaded;
					if (m->gen_unloaded > gen)
						gen = m->gen_unloaded;
				}
				h->mod_gen = gen;
			}
		} else {
			atomic_store(&mgt_phase, MGT_PHASE_OFF);
		}
		/* the parent's mappings are shared with the parent: let go of them */
		file_unmap(parent, parent_tl, parent_area);
	}
	if (atomic_load(&mgt_phase) == MGT_PHASE_RECORDING)
		fast_on(t);
	mgt_unguard(t);
}
