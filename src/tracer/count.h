/* count.h - what one event adds to the counters of its stack
 *
 * Written once for the two kinds of records that count (a stack's, and a
 * thread's part of one) and the two places that read a stack's: the tracer,
 * as each event happens (record.c, event.h), and the reader (core/trace.c),
 * which derives a stack's live blocks and rebases it at the peak the same
 * way.  A stack's record
 * is all an event counts in the file: the image's counts are the sums of its
 * stacks' (format.h), and a stack's live blocks are allocs - frees.
 * Header-only, no libc: the tracer includes it.
 */
#ifndef MEMGATE_TRACER_COUNT_H
#define MEMGATE_TRACER_COUNT_H

#include <stdatomic.h>
#include <stdint.h>

#include "format.h"

/*
 * What an allocation and a free add to a record of counters, and its copy
 * of its live figures at a new peak epoch: written once for the two records
 * with these fields, a stack's (struct mgt_stack, below) and a thread's
 * part of one (struct mgt_trec, record.c).  MGT_COUNTING(type,
 * count_alloc, count_free, rebase) defines the three for records of that
 * type; `rebase` takes the copy unconditionally (mgt_rebase below checks
 * the epoch first).
 */
#define MGT_COUNTING(type, count_alloc, count_free, rebase)			\
static inline void count_alloc(type *r, uint64_t size)				\
{										\
	r->allocs++;								\
	r->total_bytes += size;							\
	r->cur_bytes += size;							\
}										\
										\
static inline void count_free(type *r, uint64_t size)				\
{										\
	r->frees++;								\
	r->cur_bytes -= size;							\
}										\
										\
static inline void rebase(type *r, uint64_t epoch)				\
{										\
	r->peak_bytes = r->cur_bytes;						\
	r->peak_blocks = r->allocs - r->frees;					\
	atomic_signal_fence(memory_order_seq_cst);				\
	r->epoch = epoch;							\
}

/* mgt_count_stack_alloc, _free: an event's part of its stack's counters */
MGT_COUNTING(struct mgt_stack, mgt_count_stack_alloc, mgt_count_stack_free, mgt_stack_rebase_now)

/* the blocks stack s holds live (the file has no such field: format.h) */
static inline uint64_t mgt_stack_blocks(const struct mgt_stack *s)
{
	return s->allocs - s->frees;
}

/*
 * A stack's copy of its live figures at a new peak epoch.  Not clamped at 0:
 * in a threaded process a stack's shared record takes the thread records
 * evicted into it (record.c, evict), and a thread that freed blocks another
 * allocated holds counts below 0 there, so a record may too; the reader
 * adds every record of a stack up first.  The copy is stored before the
 * epoch that says it is valid: a SIGKILL between them leaves the old
 * epoch, and the reader then takes the live figures (its sums of the
 * threads' records start by bringing every stack to the header's epoch
 * with this same step: core/trace.c).
 */
static inline void mgt_rebase(struct mgt_stack *s, uint64_t epoch)
{
	if (__builtin_expect(s->epoch != epoch, 0))
		mgt_stack_rebase_now(s, epoch);
}

/*
 * The header's pending event (format.h, pend_stack and pend_size: record.c,
 * "Pending counts") into its stack's record s: rebased first to `epoch`,
 * the epoch the event happened in (a new peak counts the pending event
 * before it bumps the epoch).
 */
static inline uint32_t mgt_pend_id(uint32_t pend)
{
	return (pend & ~MGT_PEND_FREE) - 1;
}

static inline void mgt_count_pending(struct mgt_stack *s, uint32_t pend, uint64_t size,
				     uint64_t epoch)
{
	mgt_rebase(s, epoch);
	if (pend & MGT_PEND_FREE)
		mgt_count_stack_free(s, size);
	else
		mgt_count_stack_alloc(s, size);
}

#endif
