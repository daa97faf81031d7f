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
MGT_HIDDEN void mgt_go_threaded(void);

/* mgt_threaded is set: one compare in memory (an atomic load is otherwise a
 * load and a test; an aligned 32-bit read is atomic all the same) */
static inline int mgt_is_threaded(void)
{
#if defined(__x86_64__)
	_Bool set;
	__asm__ volatile("cmpl $0, %1" : "=@ccnz"(set) : "m"(mgt_threaded));
	return set;
#else
	return atomic_load_explicit(&mgt_threaded, memory_order_relaxed) != 0;
#endif
}
/*
 * The stack whose record the last event counted (id UINT32_MAX: none), for
 * the only thread, or whoever holds the event lock; forgotten when a fork
 * child starts its own file and at each new epoch (record.c), so the record
 * it names is rebased to the current epoch.
 */
struct mgt_last_stack {
	uint32_t id;
	struct mgt_stack *s;
};
MGT_HIDDEN extern struct mgt_last_stack mgt_last_stack;
/*
 * The count of an event of `size` bytes at a stack not the last one, left
 * pending until the next such event (record.c, "Pending counts"): `pend` is
 * the header's pend_stack for it (format.h).  `keep` is not used: the
 * caller passes what it wants to find in that register after the call
 * (the hooks: the block's address; see hooks.c, KEEP_CALL).
 */
MGT_HIDDEN uint64_t mgt_pend(struct mgt_header *h, uint32_t pend, uint64_t keep, uint64_t size);

/* the open timeline bucket has had its tl_width events: it closes, the next opens */
MGT_HIDDEN void mgt_timeline_close(struct mgt_header *h);
/* a free of `size` bytes found `room` at 0 or below: the top of the rise
 * before it settled (record.c, "A new maximum"); returns h */
MGT_HIDDEN struct mgt_header *mgt_settle_free(struct mgt_header *h, uint64_t size);
/* mgt_record_free_inline's free of the block e names (mgt_sh_block; at p)
 * when it found room at 0 or below: settles, counts the free, ends the event */
MGT_HIDDEN void mgt_free_top(struct mgt_thread *t, uint32_t e, uint64_t p);
/* mgt_free_top in an image traced without stacks: `size` the block's (record.c) */
MGT_HIDDEN void mgt_free_top0(struct mgt_thread *t, uint32_t size, uint64_t p);
/* the event past the common case; `solo` is mgt_ev_begin()'s result, ended there */
MGT_HIDDEN void mgt_alloc_slow(struct mgt_thread *t, int solo, uint64_t p, uint64_t size,
			       uint32_t stack);
MGT_HIDDEN void mgt_free_slow(struct mgt_thread *t, int solo, uint64_t p);
/*
 * A threaded process (mgt_threaded set) whose calling thread has its batch
 * (t->bp): the event into the thread's own counts (record.c, "Threads");
 * mgt_own_alloc without stacks only, mgt_own_free in either mode.
 * thread.c's recorders call these at once, past mgt_ev_begin's and
 * mgt_alloc_slow's tests, which would only find the same.
 */
MGT_HIDDEN void mgt_own_alloc(struct mgt_thread *t, uint64_t p, uint64_t size);
MGT_HIDDEN void mgt_own_free(struct mgt_thread *t, uint64_t p);

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
		if (MGT_LIKELY(!mgt_is_threaded()))
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
 * The live bytes, the open bucket's maximum and the peak, inside the event
 * section.  `room` is the bucket's maximum less the live bytes.  An
 * allocation only takes its size off: while the heap grows, room goes below
 * 0 and nothing else is done.  The top of such a rise is the state just
 * before the next free (or the bucket's close, or anything else that looks:
 * record.c, "A new maximum"), so a free whose room is 0 or below first
 * settles it (mgt_free_top: the bucket's maximum, and a new peak if the top
 * reaches it), then counts.  One test per free against one per allocation
 * before, but no call at every allocation of a rise.  `tl_left` counts the
 * open bucket's events down.
 */
/* the room's and the bucket's part of an allocation: 0 when it filled the
 * open bucket, which the caller then closes (mgt_timeline_close) */
static inline int mgt_room_alloc(struct mgt_header *h, int64_t delta)
{
	h->room -= delta;
	return --h->tl_left != 0;
}

static inline void mgt_after_alloc(struct mgt_header *h, int64_t delta)
{
	if (MGT_UNLIKELY(!mgt_room_alloc(h, delta)))
		mgt_timeline_close(h);
}

/* room <= 0: one compare in memory (the free adds to it in memory after) */
static inline int mgt_room_low(const struct mgt_header *h)
{
#if defined(__x86_64__)
	_Bool low;
	__asm__("cmpq $0, %1" : "=@ccle"(low) : "m"(h->room));
	return low;
#else
	return h->room <= 0;
#endif
}

/* before a free (or a resize that does not grow) of `size` bytes is counted */
static inline __attribute__((always_inline)) struct mgt_header *mgt_before_free(
	struct mgt_header *h, uint64_t size)
{
	if (MGT_UNLIKELY(mgt_room_low(h)))
		h = mgt_settle_free(h, size);
	return h;
}

/* as mgt_room_alloc, for a free */
static inline int mgt_room_free(struct mgt_header *h, uint64_t size)
{
	h->room += (int64_t)size;
	return --h->tl_left != 0;
}

static inline void mgt_after_free(struct mgt_header *h, uint64_t size)
{
	if (MGT_UNLIKELY(!mgt_room_free(h, size)))
		mgt_timeline_close(h);
}

/*
 * An event's count in its stack's record.  Stack 0 needs no rebase:
 * record.c rebases it at once at every peak (it is the only stack of an
 * image traced without stacks, where this saves a compare per event); the
 * check is left out where the compiler sees the id is 0.  The last stack
 * counted needs none either: a new epoch forgets it, and a free is most
 * often of a block of the stack just counted, and a loop allocates at few
 * stacks.  Another stack's record is rebased and becomes the last one; in a
 * process with many stacks, its count is left pending until the next such
 * event instead (record.c, "Pending counts"): the record is fetched
 * meanwhile.
 */
static inline __attribute__((always_inline)) void mgt_count_at(struct mgt_header *h,
								  uint32_t sid, uint64_t size, int is_free,
								  uint64_t keep)
{
	struct mgt_stack *s;
	if (__builtin_constant_p(sid) && !sid)
		s = mgt_stack_at(0);
	else if (MGT_LIKELY(mgt_last_stack.id == sid))
		s = mgt_last_stack.s;
	else if (MGT_LIKELY(!atomic_load_explicit(&mgt_many_stacks, memory_order_relaxed))) {
		s = mgt_stack_at(sid);
		mgt_rebase(s, h->epoch);
		mgt_last_stack.id = sid;
		mgt_last_stack.s = s;
	} else {
		/* the size comes back, the header is read again: no register kept */
		size = mgt_pend(h, (sid + 1) | (is_free ? MGT_PEND_FREE : 0), keep, size);
		h = mgt_g.hdr;
		goto after;
	}
	if (is_free)
		mgt_count_stack_free(s, size);
	else
		mgt_count_stack_alloc(s, size);
after:
	if (is_free)
		mgt_after_free(h, size);
	else
		mgt_after_alloc(h, (int64_t)size);
}

/* the counts of an allocation and of a free; `keep` as mgt_pend's */
static inline __attribute__((always_inline)) void mgt_count_alloc_at(struct mgt_header *h,
									uint32_t sid, uint64_t size,
									uint64_t keep)
{
	mgt_count_at(h, sid, size, 0, keep);
}

static inline __attribute__((always_inline)) void mgt_count_free_at(struct mgt_header *h,
								       uint32_t sid, uint64_t size,
								       uint64_t keep)
{
	h = mgt_before_free(h, size);     /* a new peak first: the stack's record is rebased */
	mgt_count_at(h, sid, size, 1, keep);
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
	if (MGT_LIKELY(solo && mgt_shadow_put((uint64_t)p, size, stack, t))) {
		mgt_count_alloc_at(mgt_g.hdr, stack, size, (uint64_t)p);
		mgt_ev_end(t, 1);
		return;
	}
	mgt_alloc_slow(t, solo, (uint64_t)p, size, stack);
}

/*
 * As mgt_record_alloc_inline: the only thread freeing a block of its own
 * shadow stays in line.  (Without stacks the hooks have their own:
 * hookpath.h.)
 */
static inline __attribute__((always_inline)) void mgt_record_free_inline(struct mgt_thread *t,
									  void *p)
{
	uint32_t v;
	int solo = mgt_ev_begin(t);
	/* the own shadow: the image's block */
	if (MGT_LIKELY(solo && (v = mgt_shadow_take_word((uint64_t)p, t)))) {
		struct mgt_header *h = mgt_g.hdr;
		uint32_t e = mgt_sh_block(v);
		/* the top of a rise to settle first: all out of line, which keeps
		 * the registers this path holds (t, p) */
		if (MGT_UNLIKELY(mgt_room_low(h))) {
			mgt_free_top(t, e, (uint64_t)p);
			return;
		}
		mgt_count_at(h, mgt_sh_stack(e), mgt_sh_size(e), 1, (uint64_t)p);
		mgt_ev_end(t, 1);
		return;
	}
	mgt_free_slow(t, solo, (uint64_t)p);
}

#endif
