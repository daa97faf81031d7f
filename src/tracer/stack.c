/* stack.c - frame-pointer unwinding and the stack depot (hash-consed call stacks)
 *
 * Unwinding walks the frame-record chain from the hook's own frame, bounded by
 * the thread's stack: each record must lie inside [lo, hi), be 8-aligned and
 * sit strictly above the previous one; a return address below 4096 ends it.
 * Code built without frame pointers in between makes the walk skip callers or
 * stop early, never fault (see docs/tracer.md, "Call stacks", and src/README.md).
 *
 * The depot maps a stack (its frames) to a small id.  Lookups are lock-free
 * (an open-addressing index of {hash, id} in anonymous memory, ids published
 * with release order after the record); inserts take one lock.  Records and
 * frames live in the trace file, so ids and frames survive a crash.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "tracer.h"
#include "unwind.h"

#define INDEX_MIN_BITS 12u                /* 4096 slots, 64 KiB */
#define INDEX_MAX_BITS 22u                /* 4M slots for MGT_MAX_STACKS (1M): load <= 25% */

/*
 * A stack is known by two independent hashes of its frames, 96 bits in all:
 * a lookup that matches both takes the id without comparing the frames (a
 * deep stack's frames are several cache lines in the file, and comparing
 * them was a fifth of the cost of a 50-frame allocation).  Two different
 * stacks of the same depth meet in both with a chance of about 2^-96 per
 * pair; the insert path still compares frames.
 */
struct slot {
	_Atomic uint64_t hash;
	_Atomic uint32_t id;                  /* 0 = empty */
	_Atomic uint32_t check;               /* the second hash */
};

/*
 * The index doubles at half full, under the depot lock, and the new table
 * is published with release order.  It used to be one table of 4M slots
 * (64 MiB, unreserved), where each new stack touched a page of its own at
 * random: a program with 3000 distinct stacks paid ~11 MiB of RSS for it.
 * A reader may still be probing a table that was replaced: old tables stay
 * mapped but give their slots back to the kernel (MADV_DONTNEED), so such a
 * reader finds empty slots and takes the locked path, which probes the
 * current table.  The header sits on a page of its own, which stays.
 */
struct index {
	uint32_t bits;                        /* 1 << bits slots */
	uint32_t count;                       /* entries (depot lock) */
	char pad[4096 - 8];
	struct slot s[];
};
static struct index *_Atomic index_;
static struct index *retired[INDEX_MAX_BITS]; /* replaced tables, headers still mapped */
static unsigned n_retired;
static mgt_lock_t depot_lock;

static size_t index_bytes(uint32_t bits)
{
	return sizeof(struct index) + ((size_t)1 << bits) * sizeof(struct slot);
}

static struct index *index_make(uint32_t bits)
{
	struct index *x = mgt_mmap(NULL, index_bytes(bits), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (x == MAP_FAILED)
		return NULL;
	x->bits = bits;
	return x;
}


/*
 * Stack bounds.  The walk reads only inside the stack that holds the hook's
 * own frame, so a bad frame pointer cannot make it fault.  Nothing here may
 * wait on a lock: pthread_getattr_np() takes the thread's own lock, which
 * glibc holds while it reallocs a cpuset inside pthread_getattr_np() (Rust's
 * std calls it in every new thread) and the hook would wait on it forever.
 * So the bounds are the mapping of /proc/self/maps that holds the frame,
 * read with raw syscalls (mgt_mapping_of), once per thread and stack:
 *  - the main thread's, at setup, extended down by the stack rlimit the
 *    kernel may grow it to;
 *  - any other thread's at its first allocation, wherever and whenever it
 *    was created (before the tracer's constructor too), and cut at its
 *    thread pointer when that lies above the frame in the same mapping:
 *    glibc keeps the thread's descriptor at the top of its stack, its own
 *    or one given by pthread_attr_setstack() (then the mapping is the
 *    program's heap, and the cut keeps the walk inside the stack);
 *  - a second stack the thread runs on (a sigaltstack handler, a fiber) in
 *    a slot of its own, a few lookups per thread at most: past them, an
 *    allocation on yet another stack records no frames.
 */
#define STACK_LOOKUPS 8u
static uintptr_t main_lo, main_hi;

static void find_main_stack(void)
{
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), lo, hi;
	/* setup may run in another thread first: that stack is not the main one */
	if (mgt_gettid() != mgt_getpid() || mgt_mapping_of(here, &lo, &hi))
		return;
	struct { uint64_t cur, max; } rl = { 8u << 20, 0 };
	mgt_sys(SYS_prlimit64, 0, 3 /* RLIMIT_STACK */, 0, (long)&rl, 0, 0);
	uint64_t grow = rl.cur > (1ull << 30) ? (1ull << 30) : rl.cur;
	main_hi = hi;
	main_lo = hi - grow < lo ? hi - grow : lo;
}

/* [*lo, *hi): the bounds of the stack holding fp, looked up; 0 when unknown */
static __attribute__((noinline)) int stack_lookup(struct mgt_thread *t, uintptr_t fp,
						  uintptr_t *lo, uintptr_t *hi)
{
	if (fp - main_lo < main_hi - main_lo) {
		*lo = main_lo;
		*hi = main_hi;
	} else {
		if (t->stack_lookups >= STACK_LOOKUPS)
			return 0;
		t->stack_lookups++;
		if (mgt_mapping_of(fp, lo, hi))
			return 0;
		uintptr_t tp = mgt_thread_pointer();
		if (fp < tp && tp < *hi)
			*hi = tp;
	}
	if (!t->hi) {
		t->lo = *lo;
		t->hi = *hi;
	} else {
		t->alt_lo = *lo;
		t->alt_hi = *hi;
	}
	return 1;
}

/* [*lo, *hi): the bounds of the stack that holds fp, or an empty range */
static inline void stack_bounds(struct mgt_thread *t, uintptr_t fp, uintptr_t *lo, uintptr_t *hi)
{
	if (MGT_LIKELY(fp - t->lo < t->hi - t->lo)) {
		*lo = t->lo;
		*hi = t->hi;
	} else if (fp - t->alt_lo < t->alt_hi - t->alt_lo) {
		*lo = t->alt_lo;
		*hi = t->alt_hi;
	} else if (!stack_lookup(t, fp, lo, hi)) {
		*lo = *hi = 0;
	}
}

/*
 * The hashes are multiply chains: their high bits depend on every frame, so
 * the index is taken from the top bits and no finaliser is needed.
 */
static inline uint32_t home_slot(uint64_t hash, uint32_t bits)
{
	return (uint32_t)(hash >> (64 - bits));
}

/* a new entry in table x (depot lock held; x is not full) */
static void index_put(struct index *x, uint64_t hash, uint32_t check, uint32_t id)
{
	uint32_t mask = (1u << x->bits) - 1;
	for (uint32_t i = home_slot(hash, x->bits);; i = (i + 1) & mask) {
		if (atomic_load_explicit(&x->s[i].id, memory_order_relaxed))
			continue;
		atomic_store_explicit(&x->s[i].hash, hash, memory_order_relaxed);
		atomic_store_explicit(&x->s[i].check, check, memory_order_relaxed);
		atomic_store_explicit(&x->s[i].id, id, memory_order_release);
		x->count++;
		return;
	}
}

/* doubles the index (depot lock held); on failure the old one keeps filling */
static void index_grow(void)
{
	struct index *old = atomic_load_explicit(&index_, memory_order_relaxed), *x;
	if (old->bits >= INDEX_MAX_BITS || n_retired >= INDEX_MAX_BITS ||
	    !(x = index_make(old->bits + 1)))
		return;
	for (uint32_t i = 0; i < (1u << old->bits); i++) {
		struct slot *e = &old->s[i];
		uint32_t id = atomic_load_explicit(&e->id, memory_order_relaxed);
		if (id)
			index_put(x, atomic_load_explicit(&e->hash, memory_order_relaxed),
				  atomic_load_explicit(&e->check, memory_order_relaxed), id);
	}
	atomic_store_explicit(&index_, x, memory_order_release);
	retired[n_retired++] = old;
	mgt_madvise(old->s, index_bytes(old->bits) - sizeof(*old), MADV_DONTNEED);
}

static inline int same_frames(const struct mgt_stack *s, const uintptr_t *f, uint32_t depth)
{
	if (s->depth != depth)
		return 0;
	const uint64_t *g = mgt_frames_at(s->frame_off);
	for (uint32_t i = 0; i < depth; i++)
		if (g[i] != f[i])
			return 0;
	return 1;
}

static uint32_t insert(uint64_t hash, uint32_t check, const uintptr_t *f, uint32_t depth,
		       uint32_t trunc)
{
	struct mgt_header *h = mgt_g.hdr;
	uint32_t id = 0;

	mgt_stack_lock();
	/* another thread may have inserted it since our lock-free probe (or we
	 * probed a table that was replaced meanwhile) */
	struct index *x = atomic_load_explicit(&index_, memory_order_relaxed);
	uint32_t mask = (1u << x->bits) - 1;
	for (uint32_t i = home_slot(hash, x->bits);; i = (i + 1) & mask) {
		uint32_t sid = atomic_load_explicit(&x->s[i].id, memory_order_acquire);
		if (!sid)
			break;
		if (atomic_load_explicit(&x->s[i].hash, memory_order_relaxed) == hash &&
		    same_frames(mgt_stack_at(sid), f, depth)) {
			id = sid;
			goto out;
		}
	}
	if (2 * (x->count + 1) > mask + 1) {
		index_grow();
		x = atomic_load_explicit(&index_, memory_order_relaxed);
		mask = (1u << x->bits) - 1;
	}
	/* a stack's frames stay within one mapped segment of the file (tracer.h) */
	uint64_t fo = mgt_frames_fit(h->n_frames, depth);
	/* never full: a lock-free probe must always meet an empty slot */
	if (x->count + 1 >= mask || h->n_stacks >= MGT_MAX_STACKS ||
	    fo + depth > MGT_MAX_FRAMES ||
	    mgt_back(MGT_STK_OFF + (uint64_t)h->n_stacks * sizeof(struct mgt_stack),
		     sizeof(struct mgt_stack)) ||
	    mgt_back(MGT_FRM_OFF + fo * sizeof(uint64_t), depth * sizeof(uint64_t))) {
		__atomic_fetch_or(&h->flags, MGT_F_STACK_FULL, __ATOMIC_RELAXED); /* other bits race */
		goto out;                     /* id 0: counted, unattributed */
	}
	id = h->n_stacks;
	struct mgt_stack *s = mgt_stack_at(id);
	mgt_memcpy(mgt_frames_at(fo), f, depth * sizeof(*f));
	s->hash = hash;
	s->frame_off = fo;
	s->depth = depth;
	s->flags = trunc;
	s->mod_gen = h->mod_gen;
	atomic_store_explicit((_Atomic uint64_t *)&h->n_frames, fo + depth,
			      memory_order_release);
	atomic_store_explicit((_Atomic uint32_t *)&h->n_stacks, id + 1, memory_order_release);
	index_put(x, hash, check, id);
out:
	mgt_stack_unlock();
	return id;
}

/*
 * Walks from frame fp within the stack [lo, hi) into frames[] (at most
 * mgt_g.depth), by the call-frame information (unwind.c) or, with
 * stack-unwind: fp, by frame pointers; *trunc is set when there were more.
 * Reads only that stack and mapped modules, takes no lock: safe in a signal
 * handler.  Returns the depth.
 */
static inline uint32_t walk(uintptr_t lo, uintptr_t hi, uintptr_t fp, uintptr_t *frames,
			    uint32_t *trunc, uint64_t *h1, uint64_t *h2, struct mgt_memo **memo)
{
	uint32_t depth = 0, max = mgt_g.depth;
	*trunc = 0;
	if (MGT_LIKELY(MGT_CFI_UNWIND && !mgt_g.unwind_fp))
		return mgt_unwind(lo, hi, (void *)fp, frames, max, trunc, h1, h2, memo); /* unwind.c */
	/*
	 * Each record read must lie inside the thread's stack, 8-aligned, strictly
	 * above the one before.  Written so nothing can wrap: code without frame
	 * pointers may leave any value in rbp, e.g. -16, for which fp + 16 would
	 * be 0 and pass.  The first record is the hook's own; after it, one
	 * unsigned compare checks fp < next <= hi - 16.
	 */
	if (fp >= lo && fp < hi && hi - fp >= 2 * sizeof(uintptr_t) && !(fp & 7)) {
		for (;;) {
			const uintptr_t *rec = (const uintptr_t *)fp;
			uintptr_t ra = rec[1], next = rec[0];
			if (ra < 4096)
				break;
#if defined(__aarch64__)
			ra &= 0x0000ffffffffffffull;  /* strip pointer-authentication bits */
#endif
			if (depth == max) {
				*trunc = 1;
				break;
			}
			frames[depth++] = ra;
			mgt_frame_hash(h1, h2, ra);
			if (next - fp - 1 >= hi - 2 * sizeof(uintptr_t) - fp || (next & 7))
				break;
			fp = next;
		}
	}
	return depth;
}

/* the depot id of frames[0, depth) hashed into h1, h2 (inserted if new) */
static inline uint32_t intern(struct mgt_thread *t, const uintptr_t *frames, uint32_t depth,
			      uint32_t trunc, uint64_t h1, uint64_t h2)
{
	/* the same addresses after a dlclose may be another library's code */
	uint64_t epoch = atomic_load_explicit(&mgt_unload_gen, memory_order_relaxed);
	uint64_t hash = (h1 ^ ((uint64_t)depth << 1 | trunc) ^ epoch << 40) * 0x9e3779b97f4a7c15ull;
	if (!hash)
		hash = 1;                             /* 0 is stack 0's */
	uint32_t check = (uint32_t)(((h2 ^ depth) * 0xc2b2ae3d27d4eb4full) >> 32);

	/* tight loops allocate from the same place over and over */
	if (hash == t->last_hash && check == t->last_check)
		return t->last_id;

	uint32_t id = 0;
	struct index *x = atomic_load_explicit(&index_, memory_order_acquire);
	uint32_t bits = x->bits, mask = (1u << bits) - 1;
	for (uint32_t i = home_slot(hash, bits);; i = (i + 1) & mask) {
		uint32_t sid = atomic_load_explicit(&x->s[i].id, memory_order_acquire);
		if (!sid) {
			id = insert(hash, check, frames, depth, trunc);
			break;
		}
		if (atomic_load_explicit(&x->s[i].hash, memory_order_relaxed) == hash &&
		    atomic_load_explicit(&x->s[i].check, memory_order_relaxed) == check) {
			id = sid;
			break;
		}
	}
	if (id) {
		t->last_hash = hash;
		t->last_id = id;
		t->last_check = check;
	}
	if (trunc)
		__atomic_fetch_add(&mgt_g.hdr->truncated_stacks, 1, __ATOMIC_RELAXED);
	return id;
}

uint32_t mgt_stack_capture(struct mgt_thread *t, void *fp0)
{
	if (MGT_UNLIKELY(mgt_g.depth == 0))
		return 0;                             /* counts only: everything in stack 0 */
	uintptr_t frames[MGT_MAX_DEPTH], fp = (uintptr_t)fp0, lo, hi;
	uint32_t trunc;
	uint64_t h1 = 0, h2 = 0;
	stack_bounds(t, fp, &lo, &hi);
	uint32_t depth = walk(lo, hi, fp, frames, &trunc, &h1, &h2, &t->memo);
	return intern(t, frames, depth, trunc, h1, h2);
}

uint32_t mgt_stack_walk(struct mgt_thread *t, void *fp0, uintptr_t *frames, uint32_t *trunc)
{
	uintptr_t fp = (uintptr_t)fp0;
	uint64_t h1 = 0, h2 = 0;
	*trunc = 0;
	/* bounds already known only: looking them up is not for a signal handler */
	if (fp - t->lo < t->hi - t->lo)
		return walk(t->lo, t->hi, fp, frames, trunc, &h1, &h2, NULL);
	if (fp - t->alt_lo < t->alt_hi - t->alt_lo)
		return walk(t->alt_lo, t->alt_hi, fp, frames, trunc, &h1, &h2, NULL);
	return 0;
}

uint32_t mgt_stack_intern(struct mgt_thread *t, const uintptr_t *frames, uint32_t depth,
			  uint32_t trunc)
{
	uint64_t h1 = 0, h2 = 0;
	if (mgt_g.depth == 0)
		return 0;
	/* in the order the walk hashes them: the frame-pointer walk innermost
	 * first, as it goes; unwind.c outermost first, for its memo */
	if (MGT_CFI_UNWIND && !mgt_g.unwind_fp)
		mgt_frames_hash(frames, depth, &h1, &h2);
	else
		for (uint32_t i = 0; i < depth; i++)
			mgt_frame_hash(&h1, &h2, frames[i]);
	return intern(t, frames, depth, trunc, h1, h2);
}

/* Called at setup and in a fork child (the only thread there): an empty index. */
int mgt_stack_reset(void)
{
	struct index *x = atomic_load_explicit(&index_, memory_order_relaxed);
	if (x)
		mgt_munmap(x, index_bytes(x->bits));
	while (n_retired) {
		x = retired[--n_retired];
		mgt_munmap(x, index_bytes(x->bits));
	}
	if (mgt_unwind_reset())
		return -1;
	x = index_make(INDEX_MIN_BITS);
	atomic_store_explicit(&index_, x, memory_order_release);
	if (!main_hi)
		find_main_stack();
	/* in a fork child the forking thread is the only one, and its bounds hold */
	return x ? 0 : -1;
}

void mgt_stack_lock(void) { mgt_lock(&depot_lock); }
void mgt_stack_unlock(void) { mgt_unlock(&depot_lock); }
void mgt_stack_reinit_locks(void) { atomic_store(&depot_lock.v, 0); }
