/* event.h - the only thread's allocation and free, inlined into the hooks (record.c has the rest)
 *
 * While the process has a single thread, an allocation or a free of a small
 * block is a few stores into its shadow word and the counters; written here,
 * the hooks do it in line, with no call and no registers saved for one.
 * Everything past that common case (a threaded process, a block for the side
 * table, a new timeline bucket) is out of line in record.c.
 */
#ifndef MEMGATE_TRACER_EVENT_H
#define MEMGATE_TRACER_EVENT_H

#include "count.h"
#include "ptrmap.h"

MGT_HIDDEN extern atomic_int mgt_threaded;   /* a second thread recorded: every event locks */
MGT_HIDDEN extern uint64_t mgt_tl_close_at;  /* the open timeline bucket closes at this event count */
MGT_HIDDEN void mgt_go_threaded(void);
MGT_HIDDEN void mgt_timeline_close(struct mgt_header *h);
/* the event past the common case; `solo` is mgt_ev_begin()'s result, ended there */
MGT_HIDDEN void mgt_alloc_slow(struct mgt_thread *t, int solo, uint64_t p, uint64_t size,
			       uint32_t stack);
MGT_HIDDEN void mgt_free_slow(struct mgt_thread *t, int solo, uint64_t p);

/*
 * Starts an event: returns 1 when the solo thread entered its section (no
 * lock needed for anything), 0 in a threaded process, where the map takes
 * its shard locks and the counters the event lock (counters_lock).
 */
static inline int mgt_ev_begin(struct mgt_thread *t)
{
	if (MGT_LIKELY(t->solo)) {
		atomic_store_explicit(&t->busy, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
		if (MGT_LIKELY(!atomic_load_explicit(&mgt_threaded, memory_order_relaxed)))
			return 1;
		atomic_store_explicit(&t->busy, 0, memory_order_release);
	} else if (MGT_UNLIKELY(!atomic_load_explicit(&mgt_threaded, memory_order_relaxed))) {
		mgt_go_threaded();
	}
	return 0;
}

static inline void mgt_ev_end(struct mgt_thread *t, int solo)
{
	if (solo)
		atomic_store_explicit(&t->busy, 0, memory_order_release);
}

/*
 * Live counts are compared as signed: in a threaded process a block handed to
 * another thread may be freed in a batch applied before the batch holding its
 * allocation, so a count can dip below zero for a moment.
 */
static inline void mgt_rebase(struct mgt_stack *s, uint64_t epoch)
{
	if (s->epoch != epoch) {
		s->peak_bytes = (int64_t)s->cur_bytes > 0 ? s->cur_bytes : 0;
		s->peak_blocks = (int64_t)s->cur_blocks > 0 ? s->cur_blocks : 0;
		s->epoch = epoch;
	}
}

/*
 * After each event, inside the event section.  The open bucket's maximum
 * never exceeds the peak (live bytes rise only in an event that `grew`, which
 * raises the peak with them), so one compare with it stands for both after
 * an event that grew: only live bytes that reach the bucket's maximum can
 * reach the peak.
 */
static inline void mgt_after_event(struct mgt_header *h, int grew)
{
	h->events++;
	if ((int64_t)h->cur_bytes >= (int64_t)h->tl_open.live_max) {
		if (grew && mgt_count_peak(h))
			h->peak_event = h->events;
		h->tl_open.live_max = h->cur_bytes;
	}
	if (MGT_UNLIKELY(h->events >= mgt_tl_close_at))
		mgt_timeline_close(h);
}

static inline void mgt_count_alloc_at(struct mgt_header *h, uint32_t sid, uint64_t size)
{
	struct mgt_stack *s = mgt_stack_at(sid);
	mgt_rebase(s, h->epoch);
	mgt_count_alloc(h, s, size);
	mgt_after_event(h, 1);
}

static inline void mgt_count_free_at(struct mgt_header *h, uint32_t sid, uint64_t size)
{
	struct mgt_stack *s = mgt_stack_at(sid);
	mgt_rebase(s, h->epoch);
	mgt_count_free(h, s, size);
	mgt_after_event(h, 0);
}

/*
 * The common case (the only thread, an ordinary heap block) stays in line
 * and the rest goes out of line: kept small, it saves and restores few
 * registers in the hook.
 */
static inline __attribute__((always_inline)) void mgt_record_alloc_inline(struct mgt_thread *t, void *p,
								size_t size, uint32_t stack)
{
	int solo = mgt_ev_begin(t);
	if (MGT_LIKELY(solo && mgt_shadow_put((uint64_t)p, size, stack, 0, t))) {
		mgt_count_alloc_at(mgt_g.hdr, stack, size);
		mgt_ev_end(t, 1);
		return;
	}
	mgt_alloc_slow(t, solo, (uint64_t)p, size, stack);
}

/* as mgt_record_alloc_inline: the only thread freeing a block of its own shadow stays in line */
static inline __attribute__((always_inline)) void mgt_record_free_inline(struct mgt_thread *t,
									  void *p)
{
	uint32_t v;
	int solo = mgt_ev_begin(t);
	/* the own shadow: the image's block */
	if (MGT_LIKELY(solo && (v = mgt_shadow_take_word((uint64_t)p, t)))) {
		/* an owner hint: only in a fork child of a threaded process */
		uint32_t stack = MGT_LIKELY(!(v & MGT_SH_OWNED)) ? v >> MGT_SH_STACK_SHIFT
								 : v >> MGT_SH_OWNED_SHIFT;
		mgt_count_free_at(mgt_g.hdr, stack, mgt_sh_size(v));
		mgt_ev_end(t, 1);
		return;
	}
	mgt_free_slow(t, solo, (uint64_t)p);
}

#endif
