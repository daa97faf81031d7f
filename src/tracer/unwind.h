/* unwind.h - call stacks from the call-frame information (.eh_frame), see unwind.c
 *
 * Internal to libmemgate.so, like tracer.h: nothing here allocates, takes a
 * lock the program may hold, or calls libc.
 */
#ifndef MEMGATE_UNWIND_H
#define MEMGATE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "tracer.h"

struct dl_phdr_info;

/* the rules are x86-64's (registers, signal frame): elsewhere, frame pointers */
#if defined(__x86_64__)
#define MGT_CFI_UNWIND 1
#else
#define MGT_CFI_UNWIND 0
#endif

/* At setup and in a fork child: the rule cache exists, no unload under way; 0 ok. */
MGT_HIDDEN int mgt_unwind_reset(void);

/* the two hashes of a stack's frames (stack.c's depot), one frame more.
 * mgt_unwind hashes the frames outermost first, so that a stack's outer
 * part has the same hashes under any inner one (its memo); the
 * frame-pointer walk (stack.c) innermost first, as it goes. */
static inline void mgt_frame_hash(uint64_t *h1, uint64_t *h2, uintptr_t ra)
{
	*h1 = (*h1 ^ ra) * 0x9e3779b97f4a7c15ull;
	*h2 = ((*h2 << 27 | *h2 >> 37) ^ ra) * 0xc2b2ae3d27d4eb4full;
}

/* the hashes of frames[0, depth) (innermost first), mgt_unwind's way */
static inline void mgt_frames_hash(const uintptr_t *frames, uint32_t depth, uint64_t *h1,
				   uint64_t *h2)
{
	uint64_t x1 = *h1, x2 = *h2;
	while (depth)
		mgt_frame_hash(&x1, &x2, frames[--depth]);
	*h1 = x1;
	*h2 = x2;
}

/* a thread's last walk (unwind.c), made at its first */
struct mgt_memo;

/*
 * Walks the caller's stack from the hook's frame record fp0 (the hook itself
 * keeps frame pointers) by the rules of .eh_frame, frame pointers where a
 * module has none, every read inside [lo, hi).  Fills frames[] with at most
 * max return addresses, innermost first, hashes them into *h1 and *h2, and
 * returns how many; *trunc = 1 when max cut the walk.  With memo (the
 * calling thread's own, never shared, never from a signal handler inside
 * the tracer), the frames its last walk shares with this one are taken from
 * it when the stack words they came from are unchanged.
 */
MGT_HIDDEN uint32_t mgt_unwind(uintptr_t lo, uintptr_t hi, void *fp0, uintptr_t *frames,
			       uint32_t max, uint32_t *trunc, uint64_t *h1, uint64_t *h2,
			       struct mgt_memo **memo);

/* modules.c, with the module lock held: an object appeared / is gone */
MGT_HIDDEN void mgt_unwind_module_add(const struct dl_phdr_info *info, uint64_t lo, uint64_t hi);
MGT_HIDDEN void mgt_unwind_module_drop(uint64_t base, uint64_t lo, uint64_t hi);

/*
 * How many dlcloses have begun: code at an address before one may be other
 * code after it, so stack.c keeps a stack captured in each epoch apart (each
 * is symbolized by the modules of its own time).
 */
MGT_HIDDEN extern _Atomic uint32_t mgt_unload_gen;

/* around the real dlclose (hooks.c): no rule is read from an object being
 * unmapped, and rules cached before are forgotten */
MGT_HIDDEN void mgt_unwind_unload_begin(void);
MGT_HIDDEN void mgt_unwind_unload_end(void);

#endif
