/* count.h - what one event adds to the counters of its stack and of its image
 *
 * Written once for the two places that count: the tracer, as each event
 * happens (record.c), and the reader, for the events a threaded process
 * left in its batches when it died (core/trace.c).  Header-only, no libc:
 * the tracer includes it.
 */
#ifndef MEMGATE_TRACER_COUNT_H
#define MEMGATE_TRACER_COUNT_H

#include <stdint.h>

#include "format.h"

/* an allocation of `size` bytes made at stack s: the stack's part */
static inline void mgt_count_stack_alloc(struct mgt_stack *s, uint64_t size)
{
	s->allocs++;
	s->total_bytes += size;
	s->cur_bytes += size;
	s->cur_blocks++;
}

/* the free of a block of `size` bytes allocated at stack s: the stack's part */
static inline void mgt_count_stack_free(struct mgt_stack *s, uint64_t size)
{
	s->frees++;
	s->cur_bytes -= size;
	s->cur_blocks--;
}

/* an allocation of `size` bytes made at stack s */
static inline void mgt_count_alloc(struct mgt_header *h, struct mgt_stack *s, uint64_t size)
{
	mgt_count_stack_alloc(s, size);
	h->allocs++;
	h->total_bytes += size;
	h->cur_bytes += size;
	h->cur_blocks++;
}

/* the free of a block of `size` bytes allocated at stack s */
static inline void mgt_count_free(struct mgt_header *h, struct mgt_stack *s, uint64_t size)
{
	mgt_count_stack_free(s, size);
	h->frees++;
	h->cur_bytes -= size;
	h->cur_blocks--;
}

/*
 * After an event that may have raised the live bytes: a new peak when they
 * reach it again or pass it (the latest of equal peaks wins, so that the
 * stacks' bytes at the peak are the latest such moment's), which starts a
 * new epoch.  Live counts compare as signed (record.c: a count may dip below
 * zero for a moment in a threaded process).  1 when the peak moved.
 */
static inline int mgt_count_peak(struct mgt_header *h)
{
	if ((int64_t)h->cur_bytes < (int64_t)h->peak_bytes)
		return 0;
	h->peak_bytes = h->cur_bytes;
	h->peak_blocks = h->cur_blocks;
	h->epoch++;
	return 1;
}

#endif
