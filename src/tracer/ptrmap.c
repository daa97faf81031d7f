/* ptrmap.c - the live blocks: address -> {requested size, stack, fork generation}
 *
 * Two stores.  Small blocks (under MGT_SH_SMALL, 1 KiB: most of them, in
 * most programs) live in the *shadow*; the *side table* takes the rest.
 *
 * The shadow: one 32-bit word per 32 bytes of address space, in a table per
 * 8 MiB region (1 MiB of anonymous, unreserved memory, made when the first
 * block of the region is recorded), found through two levels of small tables
 * also made on first use (ptrmap.h): its address space grows with the heap.
 * Two live glibc chunks start at least MINSIZE (32) bytes apart, so each
 * word holds at most one block; which 16-byte half it starts in is kept in
 * the word.  The word keeps the requested size itself (10 bits) and the
 * stack id (20 bits, ptrmap.h): freeing a block reads nothing but its word,
 * never glibc's chunk header.  Stacks past what a word holds go to the side
 * table.  A lookup is two loads at addresses that
 * follow the heap's own: blocks next to each other share a line of the
 * shadow, and the words cost 1/8 of the heap they cover where small blocks
 * lie (the former hash map took 16 bytes per live block at most 3/4 full:
 * jq +24 MiB of RSS; the shadow +8 MiB).  Blocks
 * of different threads are different words and the tables never move, so the
 * shadow takes no lock at all; only making a region's table does.
 *
 * The side table: open addressing with linear probing and backward-shift
 * deletion (no tombstones), 16-byte entries with the exact size, in 256
 * locked shards.  It holds blocks of 1 KiB and more (a shadow under big
 * blocks would cost more than their entries; see ptrmap.h), blocks of
 * stacks a shadow word has no room for, addresses beyond 47 bits, and every
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

struct shadow {
	mgt_sh_top_t top;              /* NULL: no shadow */
	uint32_t n_regions;            /* tables made, in order: for the exit scan */
	uint32_t regions[SH_MAX_REGIONS];
};

static struct shadow own;              /* this image's blocks */
static struct shadow inherited[SH_ANCESTORS];  /* the parent's, then its parent's... */
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

static inline uint32_t *_Atomic *mid_of(const struct shadow *sh, uint64_t p)
{
	return atomic_load_explicit(&sh->top[p >> MGT_SH_MID_SHIFT], memory_order_acquire);
}

static inline uint32_t *_Atomic *region_slot(uint32_t *_Atomic *mid, uint64_t p)
{
	return &mid[(p >> SH_SHIFT) & (MGT_SH_FAN - 1)];
}

/* the table of region p >> SH_SHIFT, NULL when not made (yet) */
static inline uint32_t *region_of(const struct shadow *sh, uint64_t p)
{
	uint32_t *_Atomic *mid = mid_of(sh, p);
	return mid ? atomic_load_explicit(region_slot(mid, p), memory_order_acquire) : NULL;
}

/* p's mid table in the own shadow, made if need be (sh_lock held) */
static uint32_t *_Atomic *mid_make(uint64_t p)
{
	uint32_t *_Atomic *mid = mid_of(&own, p);
	if (!mid) {
		void *m = mgt_mmap(NULL, (size_t)MGT_SH_FAN * sizeof(void *), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		mid = m;
		atomic_store_explicit(&own.top[p >> MGT_SH_MID_SHIFT], mid, memory_order_release);
	}
	return mid;
}

static uint32_t *region_make(uint64_t p)
{
	uint32_t *r;
	mgt_lock(&sh_lock);
	uint32_t *_Atomic *mid;
	r = region_of(&own, p);
	if (!r && own.n_regions < SH_MAX_REGIONS && (mid = mid_make(p))) {
		void *m = mgt_mmap(NULL, (size_t)SH_WORDS * 4, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED) {
			r = m;
			own.regions[own.n_regions++] = (uint32_t)(p >> SH_SHIFT);
			atomic_store_explicit(region_slot(mid, p), r, memory_order_release);
		}
	}
	mgt_unlock(&sh_lock);
	return r;
}

static mgt_sh_top_t top_make(void)
{
	void *m = mgt_mmap(NULL, (size_t)SH_TOP * sizeof(void *), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static inline uint16_t own_gen(void)
{
	return (uint16_t)(mgt_g.fork_gen & GEN_MASK);
}

/* a block the shadow can describe: its word, made if need be; NULL: the side table's */
static inline uint32_t *shadow_slot(const struct mgt_block *b)
{
	uint64_t p = b->ptr;
	uint32_t *r;
	/* an inherited block put back (a failed realloc) keeps its generation there */
	if (MGT_UNLIKELY(!sh_ok || p >> SH_ADDR_BITS || (p & 15) || !mgt_own_block(b) ||
			 !mgt_sh_fits(b->size, b->stack)))
		return NULL;
	/* the first blocks: is the header glibc's?  (and no mmapped chunk
	 * before then: see mgt_ptrmap_remove) */
	if (MGT_UNLIKELY(atomic_load_explicit(&sh_checked, memory_order_relaxed) < SH_CHECKS)) {
		uint64_t w = mgt_chunk_word(p);
		if ((w & 2) || !sh_check(p, mgt_chunk_usable(w)))
			return NULL;
	}
	r = region_of(&own, p);
	if (MGT_UNLIKELY(!r) && !(r = region_make(p)))
		return NULL;
	return &r[(p >> 5) & (SH_WORDS - 1)];
}

/*
 * The word of a stale block (freed where we could not see it) was taken over
 * by a new one: the block the old word describes is counted freed then.
 */
static void stale_of(uint32_t v, uint64_t p, struct mgt_block *stale)
{
	uint64_t half = (uint64_t)(v & MGT_SH_HALF) << 3;
	mgt_sh_unpack(v, (p & ~31ull) | half, own_gen(), stale);
}

int mgt_ptrmap_insert(const struct mgt_block *b, struct mgt_block *stale, int lock)
{
	_Atomic uint32_t *s = (_Atomic uint32_t *)shadow_slot(b);
	if (MGT_LIKELY(s)) {
		/* one block per word, handled by one thread at a time: no RMW needed */
		uint32_t old = atomic_load_explicit(s, memory_order_relaxed);
		atomic_store_explicit(s, mgt_sh_pack(b->ptr, b->size, b->stack),
				      memory_order_relaxed);
		if (MGT_LIKELY(!old))
			return 0;
		stale_of(old, b->ptr, stale);
		return 1;
	}
	return side_insert(b, stale, lock);
}

/* p's word in shadow sh when it describes p; NULL otherwise */
static inline _Atomic uint32_t *word_of(const struct shadow *sh, uint64_t p)
{
	_Atomic uint32_t *s;
	if (!sh->top || !(s = mgt_sh_word(sh->top, p)))
		return NULL;
	return mgt_sh_holds(atomic_load_explicit(s, memory_order_relaxed), p) ? s : NULL;
}

/* p in an inherited shadow (not the hot path: frees in a fork child of the parent's blocks) */
static int inherited_remove(uint64_t p, struct mgt_block *out)
{
	for (unsigned i = 0; i < SH_ANCESTORS; i++) {
		_Atomic uint32_t *s = word_of(&inherited[i], p);
		if (s) {
			mgt_sh_unpack(atomic_load_explicit(s, memory_order_relaxed), p,
				      (uint16_t)((mgt_g.fork_gen - 1 - i) & GEN_MASK), out);
			atomic_store_explicit(s, 0, memory_order_relaxed);
			return 1;
		}
	}
	return 0;
}

int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out, int lock)
{
	if (MGT_LIKELY(own.top && !(p >> SH_ADDR_BITS) && !(p & 15))) {
		/* no header read: a small mmapped chunk may have come through
		 * the inline path (mallopt's M_MMAP_THRESHOLD) */
		_Atomic uint32_t *s = word_of(&own, p);
		if (MGT_LIKELY(s)) {
			mgt_sh_unpack(atomic_load_explicit(s, memory_order_relaxed), p, own_gen(), out);
			atomic_store_explicit(s, 0, memory_order_relaxed);
			return 1;
		}
		if (side_remove(p, out, lock))
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
	sh_ok = own.top != NULL;
	atomic_store(&sh_checked, 0);
	mgt_sh_top = NULL;
	return 0;
}

/* the forking thread, alone in the child: the parent's shadow becomes inherited */
static void shadow_fork_child(void)
{
	struct shadow *last = &inherited[SH_ANCESTORS - 1];
	atomic_store(&sh_lock.v, 0);
	if (last->top) {                   /* too old to keep: its blocks become unknown */
		for (uint32_t i = 0; i < last->n_regions; i++)
			mgt_munmap(region_of(last, (uint64_t)last->regions[i] << SH_SHIFT),
				   (size_t)SH_WORDS * 4);
		for (uint32_t i = 0; i < SH_TOP; i++)
			if (last->top[i])
				mgt_munmap((void *)last->top[i], (size_t)MGT_SH_FAN * sizeof(void *));
		mgt_munmap((void *)last->top, (size_t)SH_TOP * sizeof(void *));
	}
	for (unsigned i = SH_ANCESTORS - 1; i > 0; i--)
		mgt_memcpy(&inherited[i], &inherited[i - 1], sizeof(own));
	mgt_memcpy(&inherited[0], &own, sizeof(own));
	own.n_regions = 0;
	own.top = sh_ok ? top_make() : NULL;
	sh_ok = own.top != NULL;
	mgt_sh_top = sh_ok && atomic_load(&sh_checked) >= SH_CHECKS ? own.top : NULL;
}

void mgt_ptrmap_lock_all(void)
{
	mgt_lock(&sh_lock);
	side_lock_all();
}

void mgt_ptrmap_unlock_all(void)
{
	side_unlock_all();
	mgt_unlock(&sh_lock);
}

void mgt_ptrmap_fork_child(void)
{
	side_unlock_all();
	shadow_fork_child();
}

#define WALK_LINE 16u                  /* words per 64-byte line */
typedef uint64_t __attribute__((may_alias)) walk_u64;

/* the WALK_LINE words at r (64-byte aligned) are all 0: nothing lies there */
static inline int line_empty(const _Atomic uint32_t *r)
{
	const walk_u64 *q = (const walk_u64 *)(const void *)r;
	uint64_t any = 0;
	for (unsigned k = 0; k < WALK_LINE / 2; k++)
		any |= __atomic_load_n(&q[k], __ATOMIC_RELAXED);
	return !any;
}

/*
 * The shadow's live words, region by region; pages never touched are skipped
 * (mincore), so an exit costs the tables' resident part, not 8 MiB each.
 * Counts the blocks, or copies at most max of them to out (gen: the
 * generation they count as) and returns how many it copied.
 */
static uint64_t shadow_walk(const struct shadow *sh, uint16_t gen, struct mgt_block *out,
			    uint64_t max, int (*mapped)(uint64_t lo, uint64_t hi))
{
	static unsigned char vec[((size_t)SH_WORDS * 4) >> 12];
	uint64_t n = 0;
	for (uint32_t i = 0; i < sh->n_regions && sh->top; i++) {
		uint64_t base = (uint64_t)sh->regions[i] << SH_SHIFT;
		const _Atomic uint32_t *r = (const _Atomic uint32_t *)region_of(sh, base);
		int have_vec = mgt_sys(SYS_mincore, (long)r, (long)SH_WORDS * 4, (long)vec, 0, 0, 0) == 0;
		for (uint32_t pg = 0; pg < sizeof(vec); pg++) {
			if (have_vec && !(vec[pg] & 1))
				continue;
			for (uint32_t j = pg << 10; j < (pg + 1) << 10; j++) {
				/* mostly empty at exit: a line of words (64 bytes)
				 * found all 0 is skipped at once */
				if (!(j & (WALK_LINE - 1)) && line_empty(&r[j])) {
					j += WALK_LINE - 1;
					continue;
				}
				uint32_t v = atomic_load_explicit(&r[j], memory_order_relaxed);
				if (!(v & MGT_SH_VALID))
					continue;
				if (out) {
					if (n == max)
						return n;
					uint64_t p = base + ((uint64_t)j << 5) +
						     ((uint64_t)(v & MGT_SH_HALF) << 3);
					/* freed unseen, glibc may have given the memory back */
					if (mapped && !mapped(p - 8, p))
						continue;
					mgt_sh_unpack(v, p, gen, &out[n]);
					if (mapped && !mapped(p - 8, p + out[n].size))
						continue;
				}
				n++;
			}
		}
	}
	return n;
}

uint64_t mgt_ptrmap_count(void)
{
	uint64_t n = side_count() + shadow_walk(&own, own_gen(), NULL, 0, NULL);
	for (unsigned i = 0; i < SH_ANCESTORS; i++)
		n += shadow_walk(&inherited[i], 0, NULL, 0, NULL);
	return n;
}

uint64_t mgt_ptrmap_copy(struct mgt_block *out, uint64_t max,
			 int (*mapped)(uint64_t lo, uint64_t hi))
{
	uint64_t n = side_copy(out, max, mapped);
	n += shadow_walk(&own, own_gen(), out + n, max - n, mapped);
	for (unsigned i = 0; i < SH_ANCESTORS && n < max; i++)
		n += shadow_walk(&inherited[i], (uint16_t)((mgt_g.fork_gen - 1 - i) & GEN_MASK),
				 out + n, max - n, mapped);
	return n < max ? n : max;
}
