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

#define MGT_SH_SHIFT 26                /* a region: 64 MiB, glibc's HEAP_MAX_SIZE */
#define MGT_SH_ADDR_BITS 47            /* user space without 5-level paging */
#define MGT_SH_WORDS (1u << (MGT_SH_SHIFT - 5))   /* one word per 32 bytes */
#define MGT_SH_SLACK_MAX 63u
/*
 * Blocks of this many bytes and more go to the side table: a shadow word
 * costs 4 bytes per 32 of heap whatever lies there, a side-table entry about
 * 26 bytes per block, so past a few hundred bytes the table is the smaller;
 * and a program that touches a kilobyte per allocation hardly notices the
 * table's extra cost in time.  (A heap of 8 KiB blocks: +17 MiB of RSS per
 * 134 MB in the shadow, +1 MiB in the table.)
 */
#define MGT_SH_SMALL 1024u

/* this image's region tables, NULL when the shadow is off (ptrmap.c) */
MGT_HIDDEN extern uint32_t *_Atomic *mgt_sh_top;

/* glibc's chunk header: the size word before the block (IS_MMAPPED = 2) */
static inline uint64_t mgt_chunk_word(uint64_t p)
{
	return ((const uint64_t *)(uintptr_t)p)[-1];
}

/* the word of p in this image's shadow; NULL: no table for its region (yet) */
static inline _Atomic uint32_t *mgt_sh_word(uint32_t *_Atomic *top, uint64_t p)
{
	uint32_t *r = atomic_load_explicit(&top[p >> MGT_SH_SHIFT], memory_order_acquire);
	return r ? (_Atomic uint32_t *)&r[(p >> 5) & (MGT_SH_WORDS - 1)] : NULL;
}

/* records block p of `size` requested bytes; 0: ask mgt_ptrmap_insert */
static inline int mgt_shadow_put(uint64_t p, uint64_t size, uint32_t stack, uint16_t owner)
{
	uint32_t *_Atomic *top = mgt_sh_top;
	_Atomic uint32_t *s;
	if (MGT_UNLIKELY(!top || p >> MGT_SH_ADDR_BITS || (p & 15) || size >= MGT_SH_SMALL))
		return 0;
	uint64_t w = mgt_chunk_word(p);
	uint64_t slack = (w & ~7ull) - 8 - size;     /* unsigned: size > usable wraps */
	if (MGT_UNLIKELY((w & 2) || slack > MGT_SH_SLACK_MAX || !(s = mgt_sh_word(top, p)) ||
			 atomic_load_explicit(s, memory_order_relaxed)))
		return 0;
	/* one block per word, handled by one thread at a time: no RMW needed */
	atomic_store_explicit(s, 1u | (uint32_t)(p >> 3 & 2) | (uint32_t)slack << 2 |
			      (uint32_t)owner << 8 | stack << 12, memory_order_relaxed);
	return 1;
}

/* takes block p out of the shadow into *out; 0: ask mgt_ptrmap_remove */
static inline int mgt_shadow_take(uint64_t p, struct mgt_block *out)
{
	uint32_t *_Atomic *top = mgt_sh_top;
	_Atomic uint32_t *s;
	if (MGT_UNLIKELY(!top || p >> MGT_SH_ADDR_BITS || (p & 15)))
		return 0;
	uint64_t w = mgt_chunk_word(p);
	if (MGT_UNLIKELY((w & 2) || !(s = mgt_sh_word(top, p))))
		return 0;
	uint32_t v = atomic_load_explicit(s, memory_order_relaxed);
	if (MGT_UNLIKELY(!(v & 1) || (v & 2) != (p >> 3 & 2)))
		return 0;
	atomic_store_explicit(s, 0, memory_order_relaxed);
	out->ptr = p;
	out->size = (w & ~7ull) - 8 - (v >> 2 & MGT_SH_SLACK_MAX);
	out->stack = v >> 12;
	out->owner = (uint16_t)(v >> 8 & 15);
	out->gen = (uint16_t)(mgt_g.fork_gen & ((1u << MGT_GEN_BITS) - 1));
	return 1;
}

#endif
