/* ptrmap.h - the shadow's fast path, inlined into every allocation event (record.c)
 *
 * Each returns 0 where ptrmap.c must decide (the side table, a region table
 * still to make, a stale word, a fork child's inherited blocks): the inline
 * part does only the common case, with no call and no lock.  The layout of a
 * word and why it works are explained at the top of ptrmap.c.
 */
#ifndef MEMGATE_TRACER_PTRMAP_H
#define MEMGATE_TRACER_PTRMAP_H

#include "tracer.h"

/*
 * Two levels of tables lead to a region's words, each made when first needed:
 * a top table (32 KiB) of mid tables (32 KiB, 32 GiB of address space each)
 * of region tables (512 KiB, for 8 MiB of heap).  One flat top level took
 * 16 MiB and each region table 8 MiB of address space, which a program
 * under a lowered RLIMIT_AS could no longer use (docs/limits.md).
 */
#define MGT_SH_SHIFT 23                /* a region: 8 MiB, its table 512 KiB */
#define MGT_SH_MID_SHIFT 35            /* a mid table: 4096 regions */
#define MGT_SH_ADDR_BITS 47            /* user space without 5-level paging */
#define MGT_SH_WORDS (1u << (MGT_SH_SHIFT - 5))   /* one word per 32 bytes */
#define MGT_SH_FAN (1u << (MGT_SH_MID_SHIFT - MGT_SH_SHIFT))
#define MGT_SH_TOP (1u << (MGT_SH_ADDR_BITS - MGT_SH_MID_SHIFT))
/*
 * Blocks of this many bytes and more go to the side table: a shadow word
 * costs 2 bytes per 32 of heap whatever lies there, a side-table entry about
 * 21 bytes per block, so past a few hundred bytes the table is the smaller;
 * and a program that touches a kilobyte per allocation hardly notices the
 * table's extra cost in time.  (A heap of 8 KiB blocks: +8.5 MiB of RSS per
 * 134 MB in the shadow, +1 MiB in the table.)
 */
#define MGT_SH_SMALL 1024u

/* a region table's word */
typedef uint16_t mgt_sh_word_t;

/* a top table: MGT_SH_TOP mid tables of MGT_SH_FAN region tables each */
typedef mgt_sh_word_t *_Atomic *_Atomic *mgt_sh_top_t;
/* this image's top table, NULL when the shadow is off (ptrmap.c) */
MGT_HIDDEN extern mgt_sh_top_t mgt_sh_top;

/*
 * glibc's chunk header: the word before a block holds the chunk size with
 * flags in its low 3 bits (IS_MMAPPED = 2).  The usable size is the chunk
 * less its own size word (less both header words for an mmapped chunk), what
 * malloc_usable_size returns.  Only the check of the program's first blocks
 * reads it (ptrmap.c, sh_check): a chunk is at least 32 bytes, so each
 * 32-byte granule of the heap holds at most one block's start.
 */
static inline uint64_t mgt_chunk_word(uint64_t p)
{
	return ((const uint64_t *)(uintptr_t)p)[-1];
}

static inline uint64_t mgt_chunk_usable(uint64_t w)
{
	return (w & ~7ull) - ((w & 2) ? 16 : 8);
}

/*
 * A shadow word (16 bits) names the block's *class*, a (stack, requested
 * size) pair, besides its own two flags:
 *   valid (bit 0) | address bit 4 (bit 4) | the class (the other 14 bits)
 * The word with bit 4 clear is the class's *name*, and the entry of word v,
 * mgt_sh_classes[v >> 1], holds stack << 10 | size (the class's two words
 * share one line of the table, entries 8 apart).  Taking a block out reads
 * its word and its entry, never glibc's chunk header.  Stack 0's size s is
 * named s << 5 | 1: a trace without stacks never looks a class up on an
 * allocation.  Another pair's name is its home (mgt_sh_home) in the
 * open-addressed table that mgt_sh_classes is, or the next free one
 * (ptrmap.c, sh_intern); its entries are written once and change only when
 * no word names them any more, which only the only thread of a process
 * finds out (ptrmap.c, classes_sweep), so reading them needs no lock.  The
 * inline paths try the home and the entry after it; a block whose pair has
 * no class (the table full around its home) goes to ptrmap.c's wide
 * shadow.  Packing and reading live here only, for the inline path and
 * ptrmap.c alike.
 */
#define MGT_SH_VALID 1u
#define MGT_SH_HALF 16u                /* the block starts in the word's second 16 bytes: p & 16 */
#define MGT_SH_ENTRIES (1u << 15)      /* one per odd word */
#define MGT_SH_SIZE_BITS 10
#define MGT_SH_STACKS (1u << (32 - MGT_SH_SIZE_BITS))
#define MGT_SH_HOME_MUL 0x9e3779b1u    /* the golden ratio's multiplicative hash */
_Static_assert(MGT_SH_SMALL <= 1u << MGT_SH_SIZE_BITS, "size field too narrow");
_Static_assert(MGT_SH_SMALL << 5 <= 1u << 16, "stack 0's names must fit a word");
_Static_assert(MGT_MAX_STACKS <= MGT_SH_STACKS, "a stack id must fit a class entry");

/* word >> 1 -> stack << MGT_SH_SIZE_BITS | size (ptrmap.c) */
MGT_HIDDEN extern uint32_t mgt_sh_classes[MGT_SH_ENTRIES];

/* the pair's key in mgt_sh_classes: `size` < MGT_SH_SMALL */
static inline uint32_t mgt_sh_key(uint64_t size, uint32_t stack)
{
	return stack << MGT_SH_SIZE_BITS | (uint32_t)size;
}

/* the entry index a pair tries first (bit 3 clear: its name's); its name is
 * that * 2 + 1 */
static inline uint32_t mgt_sh_home(uint32_t key)
{
	return (key * MGT_SH_HOME_MUL) >> 17 & ~(MGT_SH_HALF >> 1);
}

/* the next name's entry after entry i (bit 3 clear) */
static inline uint32_t mgt_sh_next(uint32_t i)
{
	return (i + 1 + ((i + 1) & 8)) & (MGT_SH_ENTRIES - 1);
}

/* the entry of a live word (or a name) v: the block's size and stack */
static inline uint32_t mgt_sh_block(uint32_t v)
{
	/* mgt_sh_classes[v >> 1], v odd: no shift */
	return __atomic_load_n((const uint32_t *)(const void *)((const char *)mgt_sh_classes +
								2 * (v - 1)),
			       __ATOMIC_RELAXED);
}

/* the entry of a live word v that names one of stack 0's sizes (s << 5 | 1:
 * every word of an image traced without stacks), read without the table */
static inline uint32_t mgt_sh_block0(uint32_t v)
{
	return v >> 5;
}

/*
 * The name of a pair at its home or the entry after; 0: none there
 * (ptrmap.c decides).  Its
 * stack is below MGT_MAX_STACKS.  A stack known to be 0 at compile time is
 * the counting-only paths' (hooks.c's lean recorder, mgt_own_alloc, and
 * record.c's recorders when depth is 0), whose image has stack 0's names
 * filled in (ptrmap.c, classes_init).  A 0 known only at run time is looked
 * up like any pair, in vain without stacks: ptrmap.c then finds its name,
 * out of line, so such a caller passes a constant 0 where it can (testing
 * for 0 here would cost the paths with stacks an instruction).
 */
static inline __attribute__((always_inline)) uint32_t mgt_sh_class(uint64_t size, uint32_t stack)
{
	uint32_t key, i;
	if (MGT_UNLIKELY(size >= MGT_SH_SMALL))
		return 0;
	if (__builtin_constant_p(stack) && !stack)
		return (uint32_t)size << 5 | MGT_SH_VALID;   /* no look-up */
	key = mgt_sh_key(size, stack);
	i = mgt_sh_home(key);
	if (MGT_LIKELY(__atomic_load_n(&mgt_sh_classes[i], __ATOMIC_RELAXED) == key))
		return 2 * i + 1;
	/* the next one, where a pair whose home was taken mostly lies: off
	 * the common path, and no call */
	i = mgt_sh_next(i);
	return __atomic_load_n(&mgt_sh_classes[i], __ATOMIC_RELAXED) == key ? 2 * i + 1 : 0;
}

/* p's word, of the class named c */
static inline mgt_sh_word_t mgt_sh_pack(uint64_t p, uint32_t c)
{
	return (mgt_sh_word_t)(c | ((uint32_t)p & MGT_SH_HALF));
}

/* word v describes block p: one compare */
static inline int mgt_sh_holds(uint32_t v, uint64_t p)
{
	return ((v ^ (uint32_t)p) & (MGT_SH_VALID | MGT_SH_HALF)) == MGT_SH_VALID;
}

static inline uint64_t mgt_sh_size(uint32_t e)
{
	return e & ((1u << MGT_SH_SIZE_BITS) - 1);
}

static inline uint32_t mgt_sh_stack(uint32_t e)
{
	return e >> MGT_SH_SIZE_BITS;
}

/* the block word v describes at p */
static inline void mgt_sh_unpack(uint32_t v, uint64_t p, uint16_t gen, struct mgt_block *out)
{
	uint32_t e = mgt_sh_block(v);
	out->ptr = p;
	out->size = mgt_sh_size(e);
	out->stack = mgt_sh_stack(e);
	out->gen = gen;
}

/* the word of p in the shadow whose top level is top; NULL: no table for its region (yet) */
static inline _Atomic mgt_sh_word_t *mgt_sh_word(mgt_sh_top_t top, uint64_t p)
{
	mgt_sh_word_t *_Atomic *mid = atomic_load_explicit(&top[p >> MGT_SH_MID_SHIFT],
						      memory_order_acquire);
	if (MGT_UNLIKELY(!mid))
		return NULL;
	mgt_sh_word_t *r = atomic_load_explicit(&mid[(p >> MGT_SH_SHIFT) & (MGT_SH_FAN - 1)],
					   memory_order_acquire);
	return r ? (_Atomic mgt_sh_word_t *)&r[(p >> 5) & (MGT_SH_WORDS - 1)] : NULL;
}

/* an address's region base with its low 4 bits (ptrmap.h, MGT_SH_AT) */
#define MGT_SH_BASE (~((1ull << MGT_SH_SHIFT) - 1) | 15)

/* the word of p in this image's shadow, checked as the inline paths need it,
 * and remembered as the last region of the calling thread t (if any); NULL:
 * ptrmap.c */
static inline __attribute__((always_inline)) _Atomic mgt_sh_word_t *mgt_sh_find(uint64_t p,
									 struct mgt_thread *t)
{
	mgt_sh_top_t top = mgt_sh_top;
	_Atomic mgt_sh_word_t *s;
	if (MGT_UNLIKELY(!top || p >> MGT_SH_ADDR_BITS || (p & 15) || !(s = mgt_sh_word(top, p))))
		return NULL;
	if (t) {
		t->sh_region = p & MGT_SH_BASE;
		t->sh_words = s - ((p >> 5) & (MGT_SH_WORDS - 1));
	}
	return s;
}

/*
 * The word of p for the inline paths, NULL: ptrmap.c.  A thread's last
 * region (tracer.h: its base address) stands for the checks mgt_sh_find
 * made on it; one compare of p with its low 4 bits kept tests the block's
 * alignment too.  The region's table stays as long as this image's shadow,
 * and a thread's record forgets it when made and in a fork child
 * (MGT_SH_NONE, which no masked address equals).
 */
#define MGT_SH_AT(s, p, t, fail) do {                                                  \
		if ((t) && MGT_LIKELY(((p) & MGT_SH_BASE) == (t)->sh_region)) {       \
			(s) = &(t)->sh_words[((p) >> 5) & (MGT_SH_WORDS - 1)];       \
		} else if (!((s) = mgt_sh_find((p), (t)))) {                         \
			fail;                                                        \
		}                                                                    \
	} while (0)

/* records block p of `size` requested bytes (t: the calling thread, for its
 * last region, or NULL); 0: ask mgt_ptrmap_insert */
static inline __attribute__((always_inline)) int mgt_shadow_put(uint64_t p, uint64_t size, uint32_t stack,
								  struct mgt_thread *t)
{
	_Atomic mgt_sh_word_t *s;
	uint32_t c = mgt_sh_class(size, stack);
	if (MGT_UNLIKELY(!c))
		return 0;
	mgt_sh_word_t v = mgt_sh_pack(p, c);
	MGT_SH_AT(s, p, t, return 0);
	if (MGT_UNLIKELY(atomic_load_explicit(s, memory_order_relaxed)))
		return 0;
	/* one block per word, handled by one thread at a time: no RMW needed */
	atomic_store_explicit(s, v, memory_order_relaxed);
	return 1;
}

/*
 * The shadow's runs written ahead (ptrmap.c, "The shadow's pages, written
 * ahead"): for each region's slot, direct-mapped, the region (+ 1; 0:
 * none) and the end of its table's pages written; and the heap [lo, lo +
 * len) of the last run's region that this end leaves far from it.  The
 * only thread's state, read in line at a new peak: a block whose page of
 * the table lies more than MGT_AHEAD_NEAR pages before its region's run
 * end, or in a table written to its end, needs no run (most peaks'
 * blocks), else mgt_shadow_ahead decides.
 */
#define MGT_AHEAD_SLOTS 64u
#define MGT_AHEAD_NEAR 8u
#define MGT_SH_PAGES (MGT_SH_WORDS * sizeof(mgt_sh_word_t) / 4096u)   /* a table's */
struct mgt_ahead {
	uint32_t region;
	uint32_t end;
};
MGT_HIDDEN extern struct mgt_ahead mgt_ahead[MGT_AHEAD_SLOTS];
MGT_HIDDEN extern struct mgt_ahead_near {
	uint64_t lo, len;
} mgt_ahead_near;

/* the page of its region's table that holds p's word */
static inline uint32_t mgt_sh_page(uint64_t p)
{
	return (uint32_t)(((p >> 5) & (MGT_SH_WORDS - 1)) * sizeof(mgt_sh_word_t) / 4096u);
}

/* the run ahead of p's page is written: p lies in the last run's far
 * range, or its slot records a run ending more than MGT_AHEAD_NEAR pages
 * after p's, or at the end of the table */
static inline int mgt_shadow_far(uint64_t p)
{
	if (MGT_LIKELY(p - mgt_ahead_near.lo < mgt_ahead_near.len))
		return 1;
	uint32_t reg = (uint32_t)(p >> MGT_SH_SHIFT) + 1;
	const struct mgt_ahead *a = &mgt_ahead[reg & (MGT_AHEAD_SLOTS - 1)];
	return a->region == reg &&
	       (mgt_sh_page(p) + MGT_AHEAD_NEAR < a->end || a->end == MGT_SH_PAGES);
}

/* mgt_shadow_ahead (tracer.h), its common case in line: nothing to write */
static inline void mgt_shadow_ahead_at(struct mgt_thread *t, uint64_t p)
{
	if (!mgt_shadow_far(p))
		mgt_shadow_ahead(t, p);
}

/* the only thread's block p that mgt_shadow_put could not record, its
 * class given or its wide word written (ptrmap.c); 0: ask mgt_ptrmap_insert */
MGT_HIDDEN int mgt_shadow_put_solo(uint64_t p, uint64_t size, uint32_t stack, struct mgt_thread *t);

/* takes block p's word out of the shadow (t: as mgt_shadow_put; its size
 * and stack: mgt_sh_block); 0: ask mgt_ptrmap_remove */
static inline __attribute__((always_inline)) uint32_t mgt_shadow_take_word(uint64_t p,
									   struct mgt_thread *t)
{
	_Atomic mgt_sh_word_t *s;
	MGT_SH_AT(s, p, t, return 0);
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
	if (MGT_UNLIKELY(!mgt_sh_holds(v, p)))
		return 0;
	atomic_store_explicit(s, 0, memory_order_relaxed);
	if (!v)
		__builtin_unreachable();      /* valid: the caller tests no more */
	return v;
}

/* takes block p out of the shadow into *out; 0: ask mgt_ptrmap_remove */
static inline int mgt_shadow_take(uint64_t p, struct mgt_block *out, struct mgt_thread *t)
{
	uint32_t v = mgt_shadow_take_word(p, t);
	if (MGT_LIKELY(v))
		mgt_sh_unpack(v, p, (uint16_t)(mgt_g.fork_gen & ((1u << MGT_GEN_BITS) - 1)), out);
	return v != 0;
}

#endif
