/* ptrmap.c - the live blocks: address -> {requested size, stack, fork generation}
 *
 * Two stores.  Small blocks (under MGT_SH_SMALL, 1 KiB: most of them, in
 * most programs) live in the *shadow*; the *side table* takes the rest.
 *
 * The shadow: one 16-bit word per 32 bytes of address space, in a table per
 * 8 MiB region (512 KiB of anonymous, unreserved memory, made when the first
 * block of the region is recorded), found through two levels of small tables
 * also made on first use (ptrmap.h): its address space grows with the heap.
 * Two live glibc chunks start at least MINSIZE (32) bytes apart, so each
 * word holds at most one block; which 16-byte half it starts in is kept in
 * the word.  The rest of the word names the block's class, its (stack,
 * requested size) pair, in a table of 16,384 (ptrmap.h): freeing a block
 * reads its word and its class's entry, never glibc's chunk header.  Pairs
 * past what the classes hold go to a *wide* shadow of 32-bit words holding
 * the size and the stack themselves (below).  A lookup is two loads at
 * addresses that follow the heap's own: blocks next to each other share a
 * line of the shadow, and the words cost 1/16 of the heap they cover where
 * small blocks lie (the former hash map took 16 bytes per live block at
 * most 3/4 full: jq +24 MiB of RSS; a shadow of 32-bit words holding the
 * size and the stack id, 1/8 of the heap: +8 MiB; this one +4 MiB).  Blocks
 * of different threads are different words and the tables never move, so the
 * shadow takes no lock at all; only making a region's table does, or a class
 * in a threaded process.
 *
 * The side table: open addressing with linear probing and backward-shift
 * deletion (no tombstones), 16-byte entries with the exact size, in 256
 * locked shards.  It holds blocks of 1 KiB and more (a shadow under big
 * blocks would cost more than their entries; see ptrmap.h), addresses
 * beyond 47 bits, and every
 * block once glibc's chunk header did not read as expected (sh_check) or
 * where a region table could not be made.
 *
 * fork: the child records into a fresh shadow; the parent's (and up to
 * seven older generations') stay readable as *inherited*: a free found there
 * is counted apart, and the leak check takes those blocks as roots.  The
 * side table is private memory, inherited as a copy, its entries tagged with
 * the fork generation that made them.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "ptrmap.h"

#define SHARDS 256u
#define REGION_SHIFT 26                /* glibc's HEAP_MAX_SIZE on 64-bit: 64 MiB */
#define INITIAL_CAP 256u

struct slot {
	uint64_t a;            /* address >> 4 | generation << 44; 0 = empty */
	uint64_t b;            /* size | stack << 44 */
};

struct shard {
	mgt_lock_t lock;
	uint32_t cap;          /* power of two; 0 = not allocated yet */
	uint32_t count;
	struct slot *e;
} __attribute__((aligned(64)));  /* one line each: no false sharing of locks */

#define ADDR_MASK ((1ull << 48) - 1)
#define KEY_BITS 44
#define KEY_MASK ((1ull << KEY_BITS) - 1)
#define GEN_MASK ((1u << MGT_GEN_BITS) - 1)
#define SIZE_MASK ((1ull << 44) - 1)

static inline uint64_t key_ptr(uint64_t a)   /* the address an entry's first word holds */
{
	return (a & KEY_MASK) << 4;
}

static inline struct slot pack(const struct mgt_block *b)
{
	return (struct slot){ b->ptr >> 4 | (uint64_t)(b->gen & GEN_MASK) << KEY_BITS,
			      b->size | (uint64_t)b->stack << 44 };
}

static inline void unpack(const struct slot *s, struct mgt_block *b)
{
	b->ptr = key_ptr(s->a);
	b->gen = (uint16_t)(s->a >> KEY_BITS & GEN_MASK);
	b->size = s->b & SIZE_MASK;
	b->stack = (uint32_t)(s->b >> 44);
}

static struct shard shards[SHARDS];

/*
 * Bits 0-3 pick the shard, bits 4 and up the home slot.  The blocks of one
 * 1 KiB stretch of heap share a shard and get neighbouring home slots (the
 * stretch's hash plus the block's granule in it): a program that allocates
 * or frees blocks next to each other then touches the same few lines of the
 * table instead of a random line (a cache miss) per block.  The shard comes
 * from the hash's top bits: taken from its low bits, every window of a shard
 * would start at the same slot modulo 16, and their blocks would collide.
 * (2M 8-byte blocks allocated and freed in order: 4.65 s -> 2.69 s; jq and
 * python3 with PYTHONMALLOC=malloc: -40 % of the tracing cost; random
 * addresses, bench/malloc_small: about +10 %.)
 */
static inline uint64_t hash_ptr(uint64_t p)
{
	uint64_t g = p >> 10;
	g ^= g >> 33;
	g *= 0xff51afd7ed558ccdull;
	g ^= g >> 33;
	return (g + (p >> 4 & 63)) << 4 | g >> 60;
}

/* 16 neighbouring shards per region: smaller tables probe faster than one */
static inline struct shard *shard_of(uint64_t p, uint64_t h)
{
	uint64_t region = ((p >> REGION_SHIFT) * 0x9e3779b97f4a7c15ull) >> 56;
	return &shards[(region + (h & 15)) & (SHARDS - 1)];
}

static struct slot *alloc_table(uint32_t cap)
{
	void *m = mgt_mmap(NULL, (size_t)cap * sizeof(struct slot), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* returns 1 when an entry for the same address was replaced (copied to *old) */
static int put(struct shard *s, struct slot v, uint64_t h, struct mgt_block *old)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
	uint64_t key = v.a & KEY_MASK;
	int replaced = 0;
	while (s->e[i].a && (s->e[i].a & KEY_MASK) != key)
		i = (i + 1) & mask;
	if (!s->e[i].a) {
		s->count++;
	} else {
		unpack(&s->e[i], old);
		replaced = 1;
	}
	s->e[i] = v;
	return replaced;
}

/*
 * Entries a table of cap slots takes before it doubles: half while it is
 * small and probes must stay short (it fits in the cache: a loop over a few
 * thousand live blocks ran 30 % slower at 3/4), three quarters from 1 MiB
 * of table on, where the memory counts (python3 with PYTHONMALLOC=malloc,
 * 2M live blocks: 43 MB less RSS, no slower) and the neighbouring slots of
 * hash_ptr() keep probes within lines already loaded.
 */
static inline uint32_t max_load(uint32_t cap)
{
	return cap >= (1u << 16) ? cap / 4 * 3 : cap / 2;
}

static int grow(struct shard *s)
{
	uint32_t ncap = s->cap ? s->cap * 2 : INITIAL_CAP;
	struct slot *old = s->e, *ne = alloc_table(ncap);
	uint32_t ocap = s->cap;
	if (!ne)
		return -1;
	s->e = ne;
	s->cap = ncap;
	s->count = 0;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i].a)
			put(s, old[i], hash_ptr(key_ptr(old[i].a)), NULL);
	if (old)
		mgt_munmap(old, (size_t)ocap * sizeof(struct slot));
	return 0;
}

static __attribute__((noinline)) int side_insert(const struct mgt_block *b, struct mgt_block *stale, int lock)
{
	uint64_t h = hash_ptr(b->ptr);
	struct shard *s = shard_of(b->ptr, h);
	int ret = 0;
	if (MGT_UNLIKELY(b->ptr > ADDR_MASK || (b->ptr & 15) || b->size > SIZE_MASK))
		return 0;                     /* not a glibc block of a 48-bit space: untracked */
	if (lock)
		mgt_lock(&s->lock);
	/* out of memory: the block goes untracked */
	if (!(s->count + 1 > max_load(s->cap) && grow(s) && s->count + 1 >= s->cap))
		ret = put(s, pack(b), h, stale);
	if (lock)
		mgt_unlock(&s->lock);
	return ret;
}

static __attribute__((noinline)) int side_remove(uint64_t p, struct mgt_block *out, int lock)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = shard_of(p, h);
	int found = 0;
	if (MGT_UNLIKELY(p > ADDR_MASK || (p & 15)))
		return 0;                     /* never inserted */
	if (lock)
		mgt_lock(&s->lock);
	if (s->cap) {
		uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
		while (s->e[i].a && (s->e[i].a & KEY_MASK) != p >> 4)
			i = (i + 1) & mask;
		if (s->e[i].a) {
			unpack(&s->e[i], out);
			found = 1;
			s->count--;
			/* backward-shift: pull later members of the run into the hole */
			uint32_t hole = i, j = i;
			for (;;) {
				j = (j + 1) & mask;
				if (!s->e[j].a)
					break;
				uint32_t home = (uint32_t)(hash_ptr(key_ptr(s->e[j].a)) >> 4) & mask;
				/* move e[j] if its home is not in (hole, j] cyclically */
				if (((j - home) & mask) >= ((j - hole) & mask)) {
					s->e[hole] = s->e[j];
					hole = j;
				}
			}
			s->e[hole].a = 0;
		}
	}
	if (lock)
		mgt_unlock(&s->lock);
	return found;
}

static void side_lock_all(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		mgt_lock(&shards[i].lock);
}

static void side_unlock_all(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		mgt_unlock(&shards[i].lock);
}

static uint64_t side_count(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		n += shards[i].count;
	return n;
}

static uint64_t side_copy(struct mgt_block *out, uint64_t max,
			  int (*mapped)(uint64_t lo, uint64_t hi))
{
	uint64_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		for (uint32_t j = 0; j < shards[i].cap && n < max; j++) {
			if (!shards[i].e[j].a)
				continue;
			unpack(&shards[i].e[j], &out[n]);
			if (!mapped || mapped(out[n].ptr - 8, out[n].ptr + out[n].size))
				n++;              /* else freed unseen, memory gone */
		}
	return n;
}

/* ------------------------------------------------------------------ shadow */

#define SH_SHIFT MGT_SH_SHIFT
#define SH_ADDR_BITS MGT_SH_ADDR_BITS
#define SH_TOP MGT_SH_TOP
#define SH_WORDS MGT_SH_WORDS
#define SH_MAX_REGIONS 4096u
#define SH_ANCESTORS 8u                /* inherited shadows a fork child keeps: 8 generations */

/*
 * Two shadows of the same shape.  The *dense* one (16-bit words naming a
 * class, ptrmap.h) is the inline paths'; the *wide* one (32-bit words that
 * hold the size and the stack themselves, 1/8 of the heap where it is used)
 * takes the blocks whose pair found no class: a program with more distinct
 * pairs than the classes hold keeps the cost of a word per 32 bytes, not
 * of a side-table entry per block.  Only ptrmap.c reads the wide one: the
 * inline take finds no word there and asks mgt_ptrmap_remove.
 *   wide word: valid | address bit 4 << 1 | size << 2 | stack << 12
 * A granule's two words: a block that goes wide clears a stale dense word
 * there (the inline put never looks at the wide one), so where both hold a
 * block the dense one is the newer.  A stale wide word under a dense block
 * is counted freed when a wide block takes its word over, or at exit, not
 * when the dense block came (a free memgate never saw has no exact time).
 */
#define W_HALF 2u
#define W_SIZE_SHIFT 2
#define W_STACK_SHIFT 12
_Static_assert(MGT_SH_SMALL <= 1u << (W_STACK_SHIFT - W_SIZE_SHIFT), "wide size field too narrow");

struct shadow {
	mgt_sh_top_t top;              /* NULL: no shadow (for the wide one: none yet) */
	uint32_t wide;                 /* 32-bit words: the wide shadow */
	uint32_t n_regions;            /* tables made, in order: for the exit scan */
	uint32_t regions[SH_MAX_REGIONS];
};

static struct shadow own;              /* this image's blocks */
static struct shadow own_wide = { .wide = 1 };
static struct shadow inherited[SH_ANCESTORS];  /* the parent's, then its parent's... */
static struct shadow inherited_wide[SH_ANCESTORS];
static mgt_lock_t sh_lock;             /* making a region table */
static int sh_ok;                      /* new blocks may go to the shadow (see sh_check) */
static atomic_uint sh_checked;         /* blocks whose header read as glibc's */
mgt_sh_top_t mgt_sh_top;               /* own.top once checked (ptrmap.h); else NULL */

/*
 * The shadow trusts its reading of glibc's chunk header.  The first
 * SH_CHECKS blocks it takes (the program's own, as they come: no block is
 * allocated for the purpose, which would move glibc's heap and its mmap
 * threshold) are read both ways, against malloc_usable_size; until then
 * they come through mgt_ptrmap_insert, and the inline path stays off.  One
 * disagreement (another layout, memory tagging) and every later block goes
 * to the side table.
 */
#define SH_CHECKS 32u

static int sh_check(uint64_t p, uint64_t usable)
{
	extern size_t malloc_usable_size(void *);
	if (usable != malloc_usable_size((void *)(uintptr_t)p)) {
		sh_ok = 0;
		/* (the threads' last regions are still empty: they are set
		 * only once mgt_sh_top is, after the checks) */
		mgt_sh_top = NULL;
		return 0;
	}
	if (atomic_fetch_add(&sh_checked, 1) + 1 == SH_CHECKS && sh_ok)
		mgt_sh_top = own.top;
	return 1;
}

static inline size_t table_bytes(const struct shadow *sh)
{
	return (size_t)SH_WORDS * (sh->wide ? 4 : 2);
}

static inline mgt_sh_word_t *_Atomic *mid_of(const struct shadow *sh, uint64_t p)
{
	return atomic_load_explicit(&sh->top[p >> MGT_SH_MID_SHIFT], memory_order_acquire);
}

static inline mgt_sh_word_t *_Atomic *region_slot(mgt_sh_word_t *_Atomic *mid, uint64_t p)
{
	return &mid[(p >> SH_SHIFT) & (MGT_SH_FAN - 1)];
}

/* the table of region p >> SH_SHIFT, NULL when not made (yet) */
static inline void *region_of(const struct shadow *sh, uint64_t p)
{
	mgt_sh_word_t *_Atomic *mid;
	/* (the wide shadow's top is made while other threads look) */
	if (!__atomic_load_n(&sh->top, __ATOMIC_ACQUIRE) || !(mid = mid_of(sh, p)))
		return NULL;
	return atomic_load_explicit(region_slot(mid, p), memory_order_acquire);
}

static mgt_sh_top_t top_make(void)
{
	void *m = mgt_mmap(NULL, (size_t)SH_TOP * sizeof(void *), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* p's mid table in shadow sh, made if need be (sh_lock held) */
static mgt_sh_word_t *_Atomic *mid_make(struct shadow *sh, uint64_t p)
{
	mgt_sh_word_t *_Atomic *mid;
	mgt_sh_top_t top = sh->top;
	if (!top) {
		if (!(top = top_make()))
			return NULL;
		__atomic_store_n(&sh->top, top, __ATOMIC_RELEASE);
	}
	mid = mid_of(sh, p);
	if (!mid) {
		void *m = mgt_mmap(NULL, (size_t)MGT_SH_FAN * sizeof(void *), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		mid = m;
		atomic_store_explicit(&sh->top[p >> MGT_SH_MID_SHIFT], mid, memory_order_release);
	}
	return mid;
}

typedef uint64_t __attribute__((may_alias)) walk_u64;

/* the 64 bytes of words at r (64-byte aligned) are all 0: nothing lies there */
static inline int line_empty(const void *r)
{
	const walk_u64 *q = r;
	uint64_t any = 0;
	for (unsigned k = 0; k < 64 / sizeof(walk_u64); k++)
		any |= __atomic_load_n(&q[k], __ATOMIC_RELAXED);
	return !any;
}

/*
 * The shadow's pages, written ahead.  The first touch of a word is the load
 * that checks it is free, so each page of a table used to be faulted twice:
 * the zero page mapped by the load, then copied by the store.  A run of
 * pages made writable in one madvise(MADV_POPULATE_WRITE) costs a fraction
 * of those faults, with no instruction on the hot path.  The runs follow
 * the heap's top where it is seen from a path that already runs out of
 * line: from the block that made a region's table; from the block freed at
 * each new peak (mgt_free_top, top_peak, mgt_free_top0); and, at each timeline bucket's
 * close, from the end of the last run when the words near it are in use.
 * AHEAD_RUN pages at a time, once that block (or those words) lies within
 * AHEAD_NEAR pages of the last run's end.  What is written ahead and never
 * used is at most a run per region (128 KiB of RSS, for 2 MiB of heap).  A
 * kernel without the advice (before 5.14) refuses it: the pages then fault
 * as before.  `mgt_ahead` (ptrmap.h) remembers each region's end of the runs written,
 * direct-mapped by region (a collision starts again from the block, which
 * writes no page twice in RSS), and `frontier` the table of the last run;
 * both are the own shadow's, used while the process has one thread (under
 * sh_lock as well, where a table is made: the madvise itself comes after
 * the lock), and forgotten in a fork child.
 */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define AHEAD_RUN 32u                  /* pages of a table per madvise */
#define AHEAD_NEAR MGT_AHEAD_NEAR
#define AHEAD_SLOTS MGT_AHEAD_SLOTS
#define TABLE_PAGES MGT_SH_PAGES

/* region: p >> SH_SHIFT, + 1 (0 is none); end: pages of its table written
 * ahead, [.., end) (ptrmap.h) */
struct mgt_ahead mgt_ahead[AHEAD_SLOTS];
struct mgt_ahead_near mgt_ahead_near;
static struct {
	mgt_sh_word_t *r;              /* NULL: none */
	uint32_t region;
} frontier;

/* marks the run of table r (of region reg, + 1) from page `from` on as
 * written; returns its end */
static uint32_t ahead_mark(mgt_sh_word_t *r, uint32_t reg, uint32_t from)
{
	uint32_t i = reg & (AHEAD_SLOTS - 1);
	uint32_t to = from + AHEAD_RUN < TABLE_PAGES ? from + AHEAD_RUN : TABLE_PAGES;
	mgt_ahead[i].region = reg;
	mgt_ahead[i].end = to;
	frontier.r = r;
	frontier.region = reg;
	/* ahead_of's "far enough" for this region (a page of its table
	 * serves 64 KiB of heap): all of it once the table is written */
	mgt_ahead_near.lo = (uint64_t)(reg - 1) << SH_SHIFT;
	mgt_ahead_near.len = to == TABLE_PAGES ? 1ull << SH_SHIFT :
			     to > AHEAD_NEAR ? (uint64_t)(to - AHEAD_NEAR) << 16 : 0;
	return to;
}

/* makes pages [from, to) of table r resident and writable */
static void ahead_populate(mgt_sh_word_t *r, uint32_t from, uint32_t to)
{
	if (from < to)
		mgt_madvise((char *)r + (size_t)from * 4096u, (size_t)(to - from) * 4096u,
			    MADV_POPULATE_WRITE);
}

/* the run of table r to write ahead of block p's page, if the last run
 * ends near: [*from, the result), marked as written */
static uint32_t ahead_of(mgt_sh_word_t *r, uint64_t p, uint32_t *from)
{
	uint32_t reg = (uint32_t)(p >> SH_SHIFT) + 1, i = reg & (AHEAD_SLOTS - 1);
	uint32_t pg = mgt_sh_page(p);
	if (mgt_ahead[i].region == reg) {
		if (pg + AHEAD_NEAR < mgt_ahead[i].end)
			return *from = 0;     /* far enough from the run's end */
		if (pg < mgt_ahead[i].end)
			pg = mgt_ahead[i].end;
	}
	*from = pg;
	return ahead_mark(r, reg, pg);
}

void mgt_shadow_ahead(struct mgt_thread *t, uint64_t p)
{
	uint32_t from, to;
	/* the thread's last region: the freed block's, just taken */
	if ((p & MGT_SH_BASE) == t->sh_region) {
		to = ahead_of((mgt_sh_word_t *)t->sh_words, p, &from);
		ahead_populate((mgt_sh_word_t *)t->sh_words, from, to);
	}
}

void mgt_shadow_ahead_close(void)
{
	mgt_sh_word_t *r = frontier.r;
	uint32_t i = frontier.region & (AHEAD_SLOTS - 1), end = mgt_ahead[i].end;
	/* the last run's table, while it is the last of its slot and has room
	 * after it; the line read was written ahead (no fault) */
	if (!r || mgt_ahead[i].region != frontier.region || end >= TABLE_PAGES ||
	    line_empty((const char *)r + (size_t)(end - AHEAD_NEAR) * 4096u))
		return;
	ahead_populate(r, end, ahead_mark(r, frontier.region, end));
}

static void ahead_forget(void)
{
	mgt_memset(mgt_ahead, 0, sizeof(mgt_ahead));
	frontier.r = NULL;
	mgt_ahead_near.len = 0;
}

/* the table of p's region in the own shadow sh, made if need be */
static void *region_make(struct shadow *sh, uint64_t p)
{
	void *r;
	mgt_sh_word_t *_Atomic *mid;
	uint32_t from = 0, to = 0;           /* the run to write ahead, after the lock */
	mgt_lock(&sh_lock);
	r = region_of(sh, p);
	if (!r && sh->n_regions < SH_MAX_REGIONS && (mid = mid_make(sh, p))) {
		void *m = mgt_mmap(NULL, table_bytes(sh), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED) {
			r = m;
			sh->regions[sh->n_regions++] = (uint32_t)(p >> SH_SHIFT);
			atomic_store_explicit(region_slot(mid, p), (mgt_sh_word_t *)r,
					      memory_order_release);
			if (!sh->wide)
				to = ahead_of(r, p, &from);
		}
	}
	mgt_unlock(&sh_lock);
	ahead_populate(r, from, to);
	return r;
}

static void shadow_unmap(struct shadow *sh)
{
	if (!sh->top)
		return;
	for (uint32_t i = 0; i < sh->n_regions; i++)
		mgt_munmap(region_of(sh, (uint64_t)sh->regions[i] << SH_SHIFT), table_bytes(sh));
	for (uint32_t i = 0; i < SH_TOP; i++)
		if (sh->top[i])
			mgt_munmap((void *)sh->top[i], (size_t)MGT_SH_FAN * sizeof(void *));
	mgt_munmap((void *)sh->top, (size_t)SH_TOP * sizeof(void *));
	sh->top = NULL;
}

/* word j of table r */
static inline uint32_t word_at(const struct shadow *sh, const void *r, uint32_t j)
{
	return sh->wide ? atomic_load_explicit(&((const _Atomic uint32_t *)r)[j], memory_order_relaxed)
			: atomic_load_explicit(&((const _Atomic mgt_sh_word_t *)r)[j], memory_order_relaxed);
}

static inline void word_set(const struct shadow *sh, void *r, uint32_t j, uint32_t v)
{
	if (sh->wide)
		atomic_store_explicit(&((_Atomic uint32_t *)r)[j], v, memory_order_relaxed);
	else
		atomic_store_explicit(&((_Atomic mgt_sh_word_t *)r)[j], (mgt_sh_word_t)v,
				      memory_order_relaxed);
}

/* the address of the block word v describes in the granule at g */
static inline uint64_t word_ptr(const struct shadow *sh, uint32_t v, uint64_t g)
{
	return g + (sh->wide ? (v & W_HALF) << 3 : v & MGT_SH_HALF);
}

/* word v (valid) of shadow sh describes block p */
static inline int word_holds(const struct shadow *sh, uint32_t v, uint64_t p)
{
	return (v & MGT_SH_VALID) && word_ptr(sh, v, p & ~31ull) == p;
}

static inline void word_unpack(const struct shadow *sh, uint32_t v, uint64_t p, uint16_t gen,
			       struct mgt_block *out)
{
	if (!sh->wide) {
		mgt_sh_unpack(v, p, gen, out);
		return;
	}
	out->ptr = p;
	out->size = v >> W_SIZE_SHIFT & (MGT_SH_SMALL - 1);
	out->stack = v >> W_STACK_SHIFT;
	out->gen = gen;
}

/* the wide word of block p (size < MGT_SH_SMALL) */
static inline uint32_t wide_pack(uint64_t p, uint64_t size, uint32_t stack)
{
	return MGT_SH_VALID | (uint32_t)(p >> 3 & W_HALF) | (uint32_t)size << W_SIZE_SHIFT |
	       stack << W_STACK_SHIFT;
}

static inline uint16_t own_gen(void)
{
	return (uint16_t)(mgt_g.fork_gen & GEN_MASK);
}

/*
 * The classes (ptrmap.h): a table of 32768 entries of 4 bytes, two per
 * name.  An image traced without stacks has stack 0's 1024 names filled in
 * at set-up (one line of the table each: 64 KiB), and never looks a pair up
 * inline; with stacks every pair, stack 0's too, takes the first free name
 * from its home on, at most SH_PROBES away, and keeps it while a word names
 * it (a fork child's inherited words name its parent's classes, copied
 * with the table).  A pair with no class has its blocks in the wide shadow.  Measured (distinct pairs of blocks under 1 KiB at the
 * default depth): python3 with PYTHONMALLOC=malloc 7,798, jq 849, sqlite3
 * 497, of 16,383 names; a python3 built with other options more than that.
 */
#define SH_PROBES 16u
/*
 * Classes are given back: when a pair finds none, the only thread of a
 * process (no other can be naming one meanwhile) frees every class no word
 * of its shadows names (classes_sweep), at most once per SWEEP_AFTER new
 * classes, so a program whose live pairs fill the table does not walk its
 * shadows again and again.  A pair whose entry moved has two names then,
 * which read the same.  (A pyenv-built python3 filled the table with 16k
 * pairs, 3,711 of them named by live blocks when it did.)
 */
#define SWEEP_AFTER (MGT_SH_ENTRIES / 16)

uint32_t mgt_sh_classes[MGT_SH_ENTRIES] __attribute__((aligned(64)));
static mgt_lock_t class_lock;          /* a pair taking a class */
static int stack0_named;               /* stack 0's names filled in: counting only */
static uint32_t classes_new;           /* classes taken since the last sweep */

/* entry i is one of stack 0's filled-in names' (its size << 4, or that + 8) */
static inline int stack0_entry(uint32_t i)
{
	return stack0_named && i < (MGT_SH_SMALL << 4) && !(i & 7);
}

/* a stack no pair has: the entries of name 1 with stacks, whose key 0 (stack
 * 0, size 0) would read as a free entry */
#define NO_PAIR (~0u)
_Static_assert(NO_PAIR >> MGT_SH_SIZE_BITS >= MGT_MAX_STACKS, "NO_PAIR must be no pair");

static void classes_init(void)
{
	stack0_named = !mgt_g.depth;
	for (uint32_t s = 0; s < MGT_SH_SMALL && stack0_named; s++) {
		mgt_sh_classes[s << 4] = s;
		mgt_sh_classes[s << 4 | 8] = s;
	}
	if (!stack0_named)
		mgt_sh_classes[0] = mgt_sh_classes[8] = NO_PAIR;
}

/* a bit per entry: a class taken there (class_take), which a sweep may free */
static uint64_t classes_taken[MGT_SH_ENTRIES / 64];

/* entry i (free, or key's) becomes key's class: its name */
static uint32_t class_take(uint32_t i, uint32_t key)
{
	classes_taken[i / 64] |= 1ull << (i % 64);
	classes_new += !__atomic_load_n(&mgt_sh_classes[i], __ATOMIC_RELAXED);
	/* before any word that names it: whoever reads that word sees the
	 * entry (ptrmap.h) */
	__atomic_store_n(&mgt_sh_classes[i], key, __ATOMIC_RELEASE);
	__atomic_store_n(&mgt_sh_classes[i | 8], key, __ATOMIC_RELEASE);
	return 2 * i + 1;
}

/*
 * The name of the class of key, given one if need be; 0: none (the table
 * full around its home).  solo: the only thread, inside its event, which
 * takes the free entry it found at once: no other thread can take one
 * meanwhile (a thread that makes the process threaded waits for that
 * event to end: record.c, mgt_go_threaded).  In a process whose pairs
 * come and go (262k deep stacks, each used a few times: a new class for
 * nearly every block) the lock's atomic exchange was most of the look-up.
 */
static uint32_t class_of(uint32_t key, int solo)
{
	uint32_t i = mgt_sh_home(key), found = 0;
	/* entries are written once: a pair that has a name is found without
	 * the lock, and one that finds no free entry needs none either */
	for (uint32_t k = 0, e;; k++, i = mgt_sh_next(i)) {
		if (k == SH_PROBES)
			return 0;
		e = __atomic_load_n(&mgt_sh_classes[i], __ATOMIC_ACQUIRE);
		if (stack0_entry(i))
			continue;
		if (e == key)
			return 2 * i + 1;
		if (!e)
			break;
	}
	if (solo)
		return class_take(i, key);
	i = mgt_sh_home(key);
	mgt_lock(&class_lock);
	for (uint32_t k = 0; k < SH_PROBES; k++, i = mgt_sh_next(i)) {
		uint32_t e = __atomic_load_n(&mgt_sh_classes[i], __ATOMIC_RELAXED);
		/* (stack 0's size 0 has entries 0 too) */
		if ((e == key || !e) && !stack0_entry(i)) {
			found = class_take(i, key);
			break;
		}
	}
	mgt_unlock(&class_lock);
	return found;
}

static void classes_sweep(void);

/* the name of a pair's class, given one if need be; 0: none (the table
 * full around its home, or not a pair a class holds).  solo: the only
 * thread, inside its event, which may sweep the classes. */
static uint32_t sh_intern(uint64_t size, uint32_t stack, int solo)
{
	uint32_t key, c;
	if (size >= MGT_SH_SMALL || stack >= MGT_SH_STACKS)
		return 0;
	if (!stack && stack0_named)
		return (uint32_t)size << 5 | MGT_SH_VALID;
	key = mgt_sh_key(size, stack);
	if (!key)
		return 0;                     /* with stacks, stack 0's blocks of 0 bytes */
	if (!(c = class_of(key, solo)) && solo && classes_new >= SWEEP_AFTER) {
		classes_sweep();
		c = class_of(key, solo);
	}
	return c;
}

/*
 * A block a shadow can describe: its table, made if need be, into *r and
 * the shadow into *sh (with the word into *v); 0: the side table's.
 */
static int shadow_slot(const struct mgt_block *b, int solo, void **r, struct shadow **sh,
		       uint32_t *v)
{
	uint64_t p = b->ptr;
	uint32_t c;
	/* an inherited block put back (a failed realloc) keeps its generation there */
	if (MGT_UNLIKELY(!sh_ok || p >> SH_ADDR_BITS || (p & 15) || !mgt_own_block(b) ||
			 b->size >= MGT_SH_SMALL || b->stack >= MGT_MAX_STACKS))
		return 0;
	/* the first blocks: is the header glibc's?  (and no mmapped chunk
	 * before then: see mgt_ptrmap_remove) */
	if (MGT_UNLIKELY(atomic_load_explicit(&sh_checked, memory_order_relaxed) < SH_CHECKS)) {
		uint64_t w = mgt_chunk_word(p);
		if ((w & 2) || !sh_check(p, mgt_chunk_usable(w)))
			return 0;
	}
	if ((c = sh_intern(b->size, b->stack, solo))) {
		*sh = &own;
		*v = mgt_sh_pack(p, c);
	} else {
		*sh = &own_wide;
		*v = wide_pack(p, b->size, b->stack);
	}
	*r = region_of(*sh, p);
	return *r || (*r = region_make(*sh, p));
}

/*
 * A stale block (freed where we could not see it) in the word of shadow sh
 * at table r, word j, that p's block takes over: it is counted freed then.
 */
static int stale_of(const struct shadow *sh, void *r, uint32_t j, uint64_t p,
		    struct mgt_block *stale)
{
	uint32_t old = word_at(sh, r, j);
	if (MGT_LIKELY(!old))
		return 0;
	word_set(sh, r, j, 0);
	word_unpack(sh, old, word_ptr(sh, old, p & ~31ull), own_gen(), stale);
	return 1;
}

int mgt_ptrmap_insert(const struct mgt_block *b, struct mgt_block stale[2], int lock)
{
	void *r, *d;
	struct shadow *sh;
	uint32_t v, j = (uint32_t)(b->ptr >> 5) & (SH_WORDS - 1);
	int n;
	if (!shadow_slot(b, !lock, &r, &sh, &v))
		return side_insert(b, stale, lock);
	/* one block per word, handled by one thread at a time: no RMW needed */
	n = stale_of(sh, r, j, b->ptr, stale);
	/* going wide, a stale block in the dense word too */
	if (sh->wide && (d = region_of(&own, b->ptr)))
		n += stale_of(&own, d, j, b->ptr, &stale[n]);
	word_set(sh, r, j, v);
	return n;
}

/*
 * The only thread's block that the inline put could not record (ptrmap.h,
 * mgt_shadow_put) in the thread's last region, its word free: its pair had
 * no class at its home or the next entry.  Here the class is looked for
 * further or given, else the block goes wide, with none of
 * mgt_ptrmap_insert's general checks (the thread's last region was found
 * by mgt_sh_find: the header checks passed, and its table is made).  0: a
 * stale word, another region, a wide table to make, a block for the side
 * table: mgt_ptrmap_insert.  A process whose pairs come and go (262k deep
 * stacks, a new class for nearly every block) comes here at almost every
 * allocation.
 */
int mgt_shadow_put_solo(uint64_t p, uint64_t size, uint32_t stack, struct mgt_thread *t)
{
	_Atomic mgt_sh_word_t *s;
	uint32_t c, j = (uint32_t)(p >> 5) & (SH_WORDS - 1);
	void *r;
	if (size >= MGT_SH_SMALL || stack >= MGT_MAX_STACKS || (p & MGT_SH_BASE) != t->sh_region)
		return 0;
	s = &t->sh_words[j];
	if (atomic_load_explicit(s, memory_order_relaxed))
		return 0;
	if ((c = sh_intern(size, stack, 1))) {
		atomic_store_explicit(s, mgt_sh_pack(p, c), memory_order_relaxed);
		return 1;
	}
	/* no class: the wide word, if its table is made and the word free */
	if (!(r = region_of(&own_wide, p)) || word_at(&own_wide, r, j))
		return 0;
	word_set(&own_wide, r, j, wide_pack(p, size, stack));
	return 1;
}

/* p's word in shadow sh when it describes p (its table: *r, its index: *j) */
static inline int word_of(const struct shadow *sh, uint64_t p, void **r, uint32_t *j)
{
	if (!(*r = region_of(sh, p)))
		return 0;
	*j = (uint32_t)(p >> 5) & (SH_WORDS - 1);
	return word_holds(sh, word_at(sh, *r, *j), p);
}

/* takes p out of shadow sh if there; gen: the generation its blocks count as */
static int shadow_remove(const struct shadow *sh, uint64_t p, uint16_t gen, struct mgt_block *out)
{
	void *r;
	uint32_t j;
	if (!word_of(sh, p, &r, &j))
		return 0;
	word_unpack(sh, word_at(sh, r, j), p, gen, out);
	word_set(sh, r, j, 0);
	return 1;
}

/* p in an inherited shadow (not the hot path: frees in a fork child of the parent's blocks) */
static int inherited_remove(uint64_t p, struct mgt_block *out)
{
	for (unsigned i = 0; i < SH_ANCESTORS; i++) {
		uint16_t gen = (uint16_t)((mgt_g.fork_gen - 1 - i) & GEN_MASK);
		if (shadow_remove(&inherited[i], p, gen, out) ||
		    shadow_remove(&inherited_wide[i], p, gen, out))
			return 1;
	}
	return 0;
}

int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out, int lock)
{
	if (MGT_LIKELY(own.top && !(p >> SH_ADDR_BITS) && !(p & 15))) {
		/* no header read: a small mmapped chunk may have come through
		 * the inline path (mallopt's M_MMAP_THRESHOLD) */
		if (shadow_remove(&own, p, own_gen(), out) ||
		    shadow_remove(&own_wide, p, own_gen(), out) || side_remove(p, out, lock))
			return 1;
		return inherited_remove(p, out);
	}
	return side_remove(p, out, lock);
}

/* ------------------------------------------------------- setup, fork, exit */

/* at setup: the shadow's top level (its use waits for sh_check) */
int mgt_ptrmap_init(void)
{
	own.top = mgt_g.no_shadow ? NULL : top_make();
	own.n_regions = 0;
	own_wide.top = NULL;
	own_wide.n_regions = 0;
	classes_init();
	sh_ok = own.top != NULL;
	atomic_store(&sh_checked, 0);
	mgt_sh_top = NULL;
	return 0;
}

/* the forking thread, alone in the child: the parent's shadows become inherited */
static void shadow_fork_child(void)
{
	atomic_store(&sh_lock.v, 0);
	atomic_store(&class_lock.v, 0);
	/* too old to keep: their blocks become unknown */
	shadow_unmap(&inherited[SH_ANCESTORS - 1]);
	shadow_unmap(&inherited_wide[SH_ANCESTORS - 1]);
	for (unsigned i = SH_ANCESTORS - 1; i > 0; i--) {
		mgt_memcpy(&inherited[i], &inherited[i - 1], sizeof(own));
		mgt_memcpy(&inherited_wide[i], &inherited_wide[i - 1], sizeof(own));
	}
	mgt_memcpy(&inherited[0], &own, sizeof(own));
	mgt_memcpy(&inherited_wide[0], &own_wide, sizeof(own));
	own.n_regions = 0;
	own.top = sh_ok ? top_make() : NULL;
	own_wide.n_regions = 0;
	own_wide.top = NULL;
	sh_ok = own.top != NULL;
	mgt_sh_top = sh_ok && atomic_load(&sh_checked) >= SH_CHECKS ? own.top : NULL;
	ahead_forget();                       /* the parent's tables */
}

void mgt_ptrmap_lock_all(void)
{
	mgt_lock(&sh_lock);
	mgt_lock(&class_lock);
	side_lock_all();
}

void mgt_ptrmap_unlock_all(void)
{
	side_unlock_all();
	mgt_unlock(&class_lock);
	mgt_unlock(&sh_lock);
}

void mgt_ptrmap_fork_child(void)
{
	side_unlock_all();
	shadow_fork_child();
}

/*
 * The live words of shadow sh, region by region; pages never touched are
 * skipped (mincore), so an exit costs the tables' resident part, not their
 * whole size.  Counts the blocks, or copies at most max of them to out
 * (gen: the generation they count as) and returns how many it copied.  A
 * wide word whose granule's dense word (in dense, the same generation's)
 * holds a block too is stale: the dense one is the newer (see above).
 */
static uint64_t shadow_walk(const struct shadow *sh, const struct shadow *dense, uint16_t gen,
			    struct mgt_block *out, uint64_t max,
			    int (*mapped)(uint64_t lo, uint64_t hi), uint64_t *named)
{
	static unsigned char vec[((size_t)SH_WORDS * 4) >> 12];
	const uint32_t per_line = sh->wide ? 16 : 32, per_page = per_line * 64;
	uint64_t n = 0;
	for (uint32_t i = 0; i < sh->n_regions && sh->top; i++) {
		uint64_t base = (uint64_t)sh->regions[i] << SH_SHIFT;
		const void *r = region_of(sh, base), *d = sh->wide ? region_of(dense, base) : NULL;
		uint32_t pages = (uint32_t)(table_bytes(sh) >> 12);
		int have_vec = mgt_sys(SYS_mincore, (long)r, (long)table_bytes(sh), (long)vec,
				       0, 0, 0) == 0;
		for (uint32_t pg = 0; pg < pages; pg++) {
			if (have_vec && !(vec[pg] & 1))
				continue;
			for (uint32_t j = pg * per_page; j < (pg + 1) * per_page; j++) {
				/* mostly empty at exit: a line of words (64 bytes)
				 * found all 0 is skipped at once */
				if (!(j & (per_line - 1)) &&
				    line_empty((const char *)r + (size_t)j * (sh->wide ? 4 : 2))) {
					j += per_line - 1;
					continue;
				}
				uint32_t v = word_at(sh, r, j);
				if (!(v & MGT_SH_VALID) || (d && (word_at(dense, d, j) & MGT_SH_VALID)))
					continue;
				if (named) {          /* a dense word: its class's entry's bit */
					uint32_t e = (v >> 1) & ~(MGT_SH_HALF >> 1);
					named[e / 64] |= 1ull << (e % 64);
					continue;
				}
				if (out) {
					if (n == max)
						return n;
					uint64_t p = word_ptr(sh, v, base + ((uint64_t)j << 5));
					/* freed unseen, glibc may have given the memory back */
					if (mapped && !mapped(p - 8, p))
						continue;
					word_unpack(sh, v, p, gen, &out[n]);
					if (mapped && !mapped(p - 8, p + out[n].size))
						continue;
				}
				n++;
			}
		}
	}
	return n;
}

/* the blocks of the own shadows and of the inherited ones (see shadow_walk) */
static uint64_t shadows_walk(struct mgt_block *out, uint64_t max,
			     int (*mapped)(uint64_t lo, uint64_t hi))
{
	uint64_t n = shadow_walk(&own, NULL, own_gen(), out, max, mapped, NULL);
	n += shadow_walk(&own_wide, &own, own_gen(), out ? out + n : NULL, max - n, mapped, NULL);
	for (unsigned i = 0; i < SH_ANCESTORS && (!out || n < max); i++) {
		uint16_t gen = (uint16_t)((mgt_g.fork_gen - 1 - i) & GEN_MASK);
		n += shadow_walk(&inherited[i], NULL, gen, out ? out + n : NULL, max - n, mapped, NULL);
		n += shadow_walk(&inherited_wide[i], &inherited[i], gen, out ? out + n : NULL,
				 max - n, mapped, NULL);
	}
	return n;
}

/*
 * Frees the classes no dense word of the own or an inherited shadow names;
 * the only thread, inside its event (see SWEEP_AFTER).  A bit per entry,
 * and only the classes taken visited (never stack 0's filled-in names, nor
 * NO_PAIR's): a process whose pairs come and go sweeps every few thousand
 * allocations (262k deep stacks: 228 sweeps), and a byte per entry, every
 * entry tested and stored, was ~700k instructions a sweep.
 */
static void classes_sweep(void)
{
	static uint64_t named[MGT_SH_ENTRIES / 64];
	mgt_memset(named, 0, sizeof(named));
	shadow_walk(&own, NULL, 0, NULL, 0, NULL, named);
	for (unsigned i = 0; i < SH_ANCESTORS; i++)
		shadow_walk(&inherited[i], NULL, 0, NULL, 0, NULL, named);
	mgt_lock(&class_lock);
	for (uint32_t w = 0; w < MGT_SH_ENTRIES / 64; w++) {
		uint64_t gone = classes_taken[w] & ~named[w];
		classes_taken[w] &= named[w];
		for (; gone; gone &= gone - 1) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(gone);
			__atomic_store_n(&mgt_sh_classes[i], 0, __ATOMIC_RELAXED);
			__atomic_store_n(&mgt_sh_classes[i | 8], 0, __ATOMIC_RELAXED);
		}
	}
	classes_new = 0;
	mgt_unlock(&class_lock);
}

uint64_t mgt_ptrmap_count(void)
{
	return side_count() + shadows_walk(NULL, 0, NULL);
}

uint64_t mgt_ptrmap_copy(struct mgt_block *out, uint64_t max,
			 int (*mapped)(uint64_t lo, uint64_t hi))
{
	uint64_t n = side_copy(out, max, mapped);
	n += shadows_walk(out + n, max - n, mapped);
	return n < max ? n : max;
}
