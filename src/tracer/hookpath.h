/* hookpath.h - the allocation hooks' event without stacks, in line, compiled twice
 *
 * hooks.c compiles it for the only thread of a process: there its calls
 * out of line are its last act, a jump (mgt_hook_alloc_rest ...), and
 * event.h's, for the free with stacks, go through wrappers that keep the
 * registers the hook needs, so its common path saves none.  thread.c
 * compiles it again for every
 * thread once a second one has recorded: there those calls are ordinary,
 * as each event of a threaded process makes one.  The hook jumps to either
 * (hooks.c, "The allocation hooks' shape"); include event.h first.
 */
#ifndef MEMGATE_TRACER_HOOKPATH_H
#define MEMGATE_TRACER_HOOKPATH_H

#include "tracer.h"

extern void __libc_free(void *);

/* hooks.c: an allocation past the common case (stacks too), which returns p;
 * a free past it (t may be NULL), then glibc's */
MGT_HIDDEN void *mgt_hook_alloc_at(void *p, size_t size);
MGT_HIDDEN void mgt_hook_free_at(struct mgt_thread *t, void *p);
/* hooks.c: the end of an event that found a signal handler's queue */
MGT_HIDDEN void *mgt_hook_unguard(struct mgt_thread *t, void *p);
MGT_HIDDEN void mgt_hook_unguard_free(struct mgt_thread *t, void *p);
/*
 * hooks.c: the rest of an event without stacks past its common case, and
 * its end (the guard's release; for a free, glibc's free), entered by a
 * jump: the path's calls out of line are all its last act, so its common
 * case keeps no register and no frame.  An allocation that record.c takes
 * on (`solo`: mgt_ev_begin's), or that filled the open bucket; a free
 * likewise, or one that settles a rise's top (the block's size given).
 */
MGT_HIDDEN void *mgt_hook_alloc_rest(struct mgt_thread *t, int solo, void *p, size_t size);
MGT_HIDDEN void *mgt_hook_alloc_close(struct mgt_thread *t, void *p);
MGT_HIDDEN void mgt_hook_free_rest(struct mgt_thread *t, int solo, void *p);
MGT_HIDDEN void mgt_hook_free_close(struct mgt_thread *t, void *p);
MGT_HIDDEN void mgt_hook_free_top(struct mgt_thread *t, uint32_t size, void *p);
/* thread.c: the recorders of a threaded process */
MGT_HIDDEN void *mgt_thread_alloc(void *p, size_t size);
MGT_HIDDEN void mgt_thread_free(void *p);

/*
 * p from glibc's allocator (NULL: it failed) and the size asked for; returns
 * p.  hand_over: NULL, or this is the only thread's path, which hands the
 * event of any other thread over to it (hooks.c: it makes the hooks jump to
 * thread.c's recorders from then on, and jumps there).
 */
static inline __attribute__((always_inline)) void *mgt_path_alloc(void *p, size_t size,
								  void *(*hand_over)(void *, size_t))
{
	struct mgt_thread *t;
	if (MGT_UNLIKELY(!p))
		return p;
	t = mgt_hook_thread();
	if (MGT_UNLIKELY(!t || mgt_guard_set(t)))
		return mgt_hook_alloc_at(p, size);
	if (hand_over && MGT_UNLIKELY(!t->solo))
		return hand_over(p, size);
	t->guard = 1;
	/* thread.c's copy: a thread of a threaded process counts on its own
	 * (the allocation recorder is thread.c's only without stacks: hooks.c) */
	if (!hand_over && MGT_LIKELY(t->bp && mgt_is_threaded())) {
		mgt_own_alloc(t, (uint64_t)p, size);
	} else {
		/* mgt_record_alloc_inline at stack 0, its calls made last */
		int solo = mgt_ev_begin(t);
		if (MGT_UNLIKELY(!solo || !mgt_shadow_put((uint64_t)p, size, 0, t)))
			return mgt_hook_alloc_rest(t, solo, p, size);
		mgt_count_stack_alloc(mgt_stack_at(0), size);
		if (MGT_UNLIKELY(!mgt_room_alloc(mgt_g.hdr, (int64_t)size)))
			return mgt_hook_alloc_close(t, p);
		mgt_ev_end(t, 1);
	}
	if (MGT_UNLIKELY(!mgt_guard_drop(t)))
		return mgt_hook_unguard(t, p);
	return p;
}

/* as mgt_path_alloc, for a free; wait_frozen(p): mgt_wait_frozen(), then returns p;
 * counts_only: the image is traced without stacks (event.h: every block is
 * stack 0's, its word names its size) */
static inline __attribute__((always_inline)) void mgt_path_free(void *p, void (*hand_over)(void *),
								 void *(*wait_frozen)(void *),
								 int counts_only)
{
	struct mgt_thread *t;
	if (MGT_UNLIKELY(!p))
		return;
	t = mgt_hook_thread();
	if (MGT_UNLIKELY(!t || mgt_guard_set(t))) {
		mgt_hook_free_at(t, p);
		return;
	}
	if (hand_over && MGT_UNLIKELY(!t->solo)) {
		hand_over(p);
		return;
	}
	t->guard = 1;
	/* (thread.c's free recorder serves the stacks' mode too) */
	if (!hand_over && MGT_LIKELY(t->bp && mgt_is_threaded())) {
		mgt_own_free(t, (uint64_t)p);
	} else if (counts_only) {
		/* mgt_record_free_inline without stacks, its calls made last */
		uint32_t v, size;
		int solo = mgt_ev_begin(t);
		if (MGT_UNLIKELY(!solo || !(v = mgt_shadow_take_word((uint64_t)p, t)))) {
			mgt_hook_free_rest(t, solo, p);
			return;
		}
		size = mgt_sh_block0(v);
		if (MGT_UNLIKELY(mgt_room_low(mgt_g.hdr))) {
			mgt_hook_free_top(t, size, p);
			return;
		}
		mgt_count_stack_free(mgt_stack_at(0), size);
		if (MGT_UNLIKELY(!mgt_room_free(mgt_g.hdr, size))) {
			mgt_hook_free_close(t, p);
			return;
		}
		mgt_ev_end(t, 1);
	} else {
		mgt_record_free_inline(t, p);
	}
	if (MGT_UNLIKELY(!mgt_guard_drop(t))) {
		mgt_hook_unguard_free(t, p);
		return;
	}
	/* not while the exit step reads the heap */
	if (MGT_UNLIKELY(atomic_load_explicit(&mgt_phase, memory_order_relaxed) == MGT_PHASE_FROZEN))
		p = wait_frozen(p);
	__libc_free(p);
}

#endif
