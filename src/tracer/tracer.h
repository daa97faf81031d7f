/* tracer.h - internals of libmemgate.so, shared by its files; nothing here is exported
 *
 * Rules for every function declared here (they run inside hooks, inside other
 * people's processes): no malloc, no stdio, no locale, no functions that may
 * take the loader lock while a tracer lock is held, nothing that may wait on
 * a lock the program holds while it allocates, errno preserved by the hooks
 * that call them.  Every libc call, and why it is safe: LIBC.md.
 */
#ifndef MEMGATE_TRACER_H
#define MEMGATE_TRACER_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "format.h"

#define MGT_HIDDEN __attribute__((visibility("hidden")))
#define MGT_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MGT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- mini_libc.c: raw syscalls and string helpers ---- */
MGT_HIDDEN long mgt_sys(long nr, long a, long b, long c, long d, long e, long f);
MGT_HIDDEN int mgt_getpid(void);
/* mmap & co without errno: the hooks then need not save and restore it.
 * mgt_mmap registers the region as the tracer's own (see mgt_own_region). */
MGT_HIDDEN void *mgt_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
MGT_HIDDEN void mgt_munmap(void *addr, size_t len);
/* registers a mapping made otherwise (a raw mmap in a signal handler) */
MGT_HIDDEN void mgt_region_note(void *addr, size_t len);
struct mgt_region {
	uint64_t addr, len;
};
/* 1 if [lo, hi) overlaps a tracer mapping; *first gets the lowest such one */
MGT_HIDDEN int mgt_own_region(uint64_t lo, uint64_t hi, struct mgt_region *first);
MGT_HIDDEN int mgt_regions_complete(void);                /* 0: some were not registered */
MGT_HIDDEN void mgt_regions_fork_child(void);
MGT_HIDDEN void mgt_madvise(void *addr, size_t len, int advice);
MGT_HIDDEN int mgt_gettid(void);
MGT_HIDDEN uint64_t mgt_now_ns(void);            /* CLOCK_MONOTONIC */
MGT_HIDDEN uint64_t mgt_realtime_ns(void);
MGT_HIDDEN size_t mgt_strlen(const char *s);
MGT_HIDDEN size_t mgt_strlcpy(char *dst, const char *src, size_t size);
MGT_HIDDEN int mgt_strncmp(const char *a, const char *b, size_t n);
MGT_HIDDEN char *mgt_utoa(char *p, uint64_t v);  /* writes digits, returns end */
MGT_HIDDEN uint64_t mgt_atou(const char *s);
/* Reads a whole /proc file into buf (NUL-terminated); returns bytes read or -1. */
MGT_HIDDEN long mgt_read_file(const char *path, char *buf, size_t size);
/* The readable mapping holding addr, from /proc/self/maps (raw syscalls, no
 * lock, a small stack buffer): 0 and [*lo, *hi), or -1. */
MGT_HIDDEN int mgt_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);
/* 1 when `path` (with a '/') is an ELF program the tracer cannot follow
 * into: 32-bit, or static (no PT_INTERP: LD_PRELOAD has no effect).  Raw
 * syscalls only: openat, pread64, close. */
MGT_HIDDEN int mgt_elf_untraceable(const char *path);
MGT_HIDDEN void mgt_memcpy(void *dst, const void *src, size_t n);
MGT_HIDDEN void mgt_memset(void *dst, int c, size_t n);

/* spinlock: a byte on its own cache line where it matters */
typedef struct { atomic_int v; } mgt_lock_t;
MGT_HIDDEN void mgt_lock_slow(mgt_lock_t *l);
static inline void mgt_lock(mgt_lock_t *l)
{
	if (MGT_LIKELY(!atomic_exchange_explicit(&l->v, 1, memory_order_acquire)))
		return;
	mgt_lock_slow(l);
}
static inline void mgt_unlock(mgt_lock_t *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* ---- thread.c: per-thread state (no TLS: see thread.c) ---- */
#define MGT_SH_NONE (~0ull)            /* no last shadow region (ptrmap.h) */
struct mgt_thread {
	uintptr_t tp;                 /* thread pointer of its owner; 0 when free */
	volatile int guard;           /* >0 while the tracer works: inner calls pass through */
	_Atomic int busy;             /* the solo thread is inside an event (record.c) */
	uint16_t solo;                /* this is the process's only thread (record.c) */
	uint16_t batch;               /* the index of its batch (bp) */
	uint32_t stack_lookups;       /* bounds looked up in /proc/self/maps (stack.c) */
	uintptr_t lo, hi;             /* its stack's bounds for unwinding; 0, 0: not known yet */
	uintptr_t alt_lo, alt_hi;     /* another stack it ran on (sigaltstack, a fiber) */
	struct mgt_memo *memo;        /* its last walk (unwind.c); kept when the record is reused */
	uint64_t last_hash;           /* the last stack this thread captured (stack.c) */
	uint32_t last_id;
	uint32_t last_check;          /* the second hash of that stack (stack.c) */
	uint64_t sh_region;           /* the base of the last 8 MiB region of the shadow its blocks lay in */
	struct mgt_batch *bp;         /* its batch in this image; NULL: none (a fork child forgets it) */
	uint64_t batch_bytes;         /* live bytes its events moved since its last fold (record.c) */
	struct mgt_thread *next;      /* free list */
	struct mgt_defer *_Atomic defer; /* events of signal handlers inside the tracer (record.c) */
	_Atomic uint16_t *sh_words;   /* that region's table (ptrmap.h, MGT_SH_AT) */
} __attribute__((aligned(64)));       /* a line each: threads write their own on every event */
_Static_assert(sizeof(struct mgt_thread) == 128, "a thread's record: two cache lines");
/*
 * Added to the guard around the tracer's own calls into libc that may
 * allocate (pthread_atfork and __cxa_atexit at start): what they allocate is
 * not the program's, and passes through unrecorded.  Any other call made
 * while the guard is held comes from a signal handler that interrupted the
 * tracer: it is recorded once the interrupted event is done (mgt_defer_*).
 */
#define MGT_GUARD_LIBC (1 << 16)
/*
 * Or'ed into the guard by a signal handler that queued a call (record.c):
 * the hook that leaves the tracer then finds the guard not at 0 after its
 * one-instruction decrement and records the queue.  The rest of the guard
 * counts; the hooks record when that count is 0.
 */
#define MGT_GUARD_PENDING (1 << 30)
#define MGT_GUARD_HELD(g) ((g) & (MGT_GUARD_PENDING - 1))
MGT_HIDDEN int mgt_thread_init(void);               /* at setup: 0 ok */
/* the record of the thread with pointer tp: found or made; NULL: out of memory */
MGT_HIDDEN struct mgt_thread *mgt_thread_slow(uintptr_t tp);
MGT_HIDDEN void mgt_thread_fork_child(void);        /* forget the vanished threads */
MGT_HIDDEN extern struct mgt_thread *_Atomic mgt_thread_cache[256];

static inline uintptr_t mgt_thread_pointer(void)
{
#if defined(__x86_64__)
	uintptr_t tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));   /* the TCB's self pointer */
	return tp;
#else
	return (uintptr_t)__builtin_thread_pointer();
#endif
}

/*
 * The calling thread's record, straight from where glibc keeps the value of
 * the tracer's pthread key for it: a key below 32 has its slot inside the
 * thread's own descriptor, at the same offset from every thread's pointer
 * (found at setup, thread.c).  mgt_thread_slot is that offset, 0 while it is
 * not known.  mgt_hook_slot is the same offset while the process records,
 * else 0 (before set-up, after the exit step, in a fork child until it is
 * ready): the hooks' one test for both, a NULL record sending them to their
 * slow path.  mgt_hooks_record() opens and closes it.
 */
MGT_HIDDEN extern intptr_t mgt_thread_slot;
MGT_HIDDEN extern _Atomic intptr_t mgt_hook_slot;
MGT_HIDDEN void mgt_hooks_record(int on);

/* the value in the calling thread's slot at offset off (not 0): NULL, or its record */
static inline struct mgt_thread *mgt_thread_in(intptr_t off)
{
#if defined(__x86_64__)
	struct mgt_thread *t;
	__asm__ volatile("mov %%fs:(%1), %0" : "=r"(t) : "r"(off));
	return t;
#else
	return *(struct mgt_thread *volatile *)(mgt_thread_pointer() + (uintptr_t)off);
#endif
}

/* The hooks' lookup: the calling thread's record while the process records
 * (its guard may be held); NULL: not recording, or look further. */
static inline struct mgt_thread *mgt_hook_thread(void)
{
	intptr_t off = atomic_load_explicit(&mgt_hook_slot, memory_order_relaxed);
	return MGT_LIKELY(off) ? mgt_thread_in(off) : NULL;
}

/*
 * The calling thread's record (made if it has none yet).  Where the slot's
 * offset is not known, a direct-mapped cache keyed by the thread pointer
 * answers in a few instructions; a record found there is ours only if it
 * names our thread pointer (unique among live threads; cleared when a
 * record is freed), else the pthread key decides.
 */
static inline struct mgt_thread *mgt_thread_cached(uintptr_t tp)
{
	struct mgt_thread *t = atomic_load_explicit(&mgt_thread_cache[(tp >> 12 ^ tp >> 20) & 255],
						    memory_order_relaxed);
	return MGT_LIKELY(t && t->tp == tp) ? t : NULL;
}

static inline struct mgt_thread *mgt_thread_self(void)
{
	uintptr_t tp = mgt_thread_pointer();
	struct mgt_thread *t = mgt_thread_slot ? mgt_thread_in(mgt_thread_slot)
					       : mgt_thread_cached(tp);
	return MGT_LIKELY(t) ? t : mgt_thread_slow(tp);
}

/* ---- record.c: the per-process file and the aggregation ---- */
#define MGT_CHUNK_SHIFT 16                /* the depot reserves its records 64 KiB ahead */
#define MGT_PAGE_SHIFT 12                 /* the file is reserved page by page (mgt_back) */
enum mgt_kind { MGT_KIND_MALLOC = 0, MGT_KIND_NEW = 1 };

/*
 * A region of the trace file that is mapped as it fills (record.c): its
 * records are cut into segments that double in size, segment s holding
 * records [(2^s - 1) << shift, (2^(s+1) - 1) << shift), each mapped on its
 * own when mgt_back() first backs a record of it.  A record's address never
 * changes once mapped, so lock-free readers need nothing more than the id
 * they were handed; and the address space held grows with what the process
 * records, not with the file's maximum size.
 */
#define MGT_AREA_SEGS 16
struct mgt_area {
	uint64_t off;                 /* the region's offset in the file */
	uint64_t max;                 /* records in the region */
	uint32_t rsize;               /* bytes per record */
	uint32_t shift;               /* segment 0 holds 1 << shift records */
	_Atomic uintptr_t base[MGT_AREA_SEGS]; /* record 0's address as seen through segment s */
	void *map[MGT_AREA_SEGS];     /* NULL: segment s not mapped */
	uint64_t len[MGT_AREA_SEGS];
};
enum { MGT_A_MOD, MGT_A_STK, MGT_A_INFO, MGT_A_NODE, MGT_A_LOST, MGT_A_BAT, MGT_AREAS };
#define MGT_MOD_SHIFT 5u              /* 32 modules (35 KiB) */
#define MGT_STK_SHIFT 8u              /* 256 stacks' counters (16 KiB) */
#define MGT_INFO_SHIFT 8u             /* 256 stacks' info (4 KiB) */
#define MGT_NODE_SHIFT 12u            /* 4096 frame nodes (48 KiB) */
#define MGT_LOST_SHIFT 8u             /* 256 stacks' leak kinds (12 KiB), at exit */
#define MGT_BAT_SHIFT 0u              /* 1 batch (64 KiB) */

static inline unsigned mgt_area_seg(uint64_t i, unsigned shift)
{
	return 63u - (unsigned)__builtin_clzll((i >> shift) + 1);
}

/* first record of segment s, and one past its last (before the region's end) */
static inline uint64_t mgt_area_seg_end(unsigned s, unsigned shift)
{
	return ((2ull << s) - 1) << shift;
}

struct mgt_global {
	struct mgt_header *hdr;       /* the mapping; NULL when not recording */
	struct mgt_bucket *timeline;  /* with the children: one small mapping */
	struct mgt_child *children;
	struct mgt_area area[MGT_AREAS]; /* modules, stacks (counters, info, nodes, leaks), batches */
	uint32_t depth;               /* MEMGATE_DEPTH */
	uint32_t fork_gen;            /* tags side-table entries of this image (ptrmap.c) */
	int no_leakcheck;             /* MEMGATE_LEAKCHECK=0: no leak kinds at exit */
	int no_shadow;                /* MEMGATE_SHADOW=0: every block in the side table (ptrmap.c) */
	int no_slot;                  /* MEMGATE_SLOT=0: threads found through the cache (thread.c) */
	int unwind_fp;                /* MEMGATE_UNWIND=fp: frame pointers only (stack.c) */
	uint32_t kill_evict, kill_step; /* MEMGATE_TEST_EVICT_KILL=N:S (tests, record.c, evict) */
	uint64_t defer_max;     /* signal handlers' calls queued at once (record.c, defer_slot) */
	int test_heapsort;      /* MEMGATE_TEST_LEAK_SORT=heap: the leak check sorts in place */
	uint32_t pend_stacks;   /* counts are left pending from this many stacks on
	                         * (MGT_PEND_STACKS; tests: MEMGATE_TEST_PEND_STACKS) */
	int root_only;                /* MEMGATE_ROOT=PID: trace that process only (follow-children: false) */
	int root_pid;
	char dir[MGT_PATH_MAX];       /* MEMGATE_DIR */
	char path[MGT_PATH_MAX];      /* our file */
	atomic_ulong backed[(MGT_FILE_SIZE >> MGT_PAGE_SHIFT) / 64 + 1]; /* pages reserved */
};
MGT_HIDDEN extern struct mgt_global mgt_g;

/* record i of area a, mapped (mgt_back'd) before i was handed out */
static inline void *mgt_area_rec(unsigned a, uint64_t i, unsigned shift, uint64_t rsize)
{
	return (void *)(atomic_load_explicit(&mgt_g.area[a].base[mgt_area_seg(i, shift)],
					     memory_order_relaxed) + i * rsize);
}
/* the counters of stack id: only the fields before `flags` (format.h) */
static inline struct mgt_stack *mgt_stack_at(uint64_t id)
{
	return mgt_area_rec(MGT_A_STK, id, MGT_STK_SHIFT, MGT_STACK_REC);
}
static inline struct mgt_stack_info *mgt_stack_info_at(uint64_t id)
{
	return mgt_area_rec(MGT_A_INFO, id, MGT_INFO_SHIFT, sizeof(struct mgt_stack_info));
}
static inline struct mgt_node *mgt_node_at(uint64_t i)
{
	return mgt_area_rec(MGT_A_NODE, i, MGT_NODE_SHIFT, sizeof(struct mgt_node));
}
static inline struct mgt_stack_lost *mgt_stack_lost_at(uint64_t id)
{
	return mgt_area_rec(MGT_A_LOST, id, MGT_LOST_SHIFT, sizeof(struct mgt_stack_lost));
}
static inline struct mgt_module *mgt_module_at(uint64_t i)
{
	return mgt_area_rec(MGT_A_MOD, i, MGT_MOD_SHIFT, sizeof(struct mgt_module));
}
static inline struct mgt_batch *mgt_batch_at(uint64_t i)
{
	return mgt_area_rec(MGT_A_BAT, i, MGT_BAT_SHIFT, sizeof(struct mgt_batch));
}
/* What the tracer is doing in this process (mgt_phase); not the image's end
 * (enum mgt_state in format.h). */
enum mgt_phase {
	MGT_PHASE_UNSET = 0,        /* not set up yet: the first hook or the constructor does */
	MGT_PHASE_RECORDING = 1,    /* hooks record */
	MGT_PHASE_OFF = 2,          /* finished or disabled: hooks pass through */
	MGT_PHASE_SETUP = 3,        /* mgt_setup() at work: hooks pass through */
	MGT_PHASE_FROZEN = 4        /* the exit step scans the heap: frees wait (mgt_wait_frozen) */
};
MGT_HIDDEN extern atomic_int mgt_phase;     /* enum mgt_phase */

MGT_HIDDEN void mgt_setup(void);           /* idempotent; first hook or constructor */
/* Before a real free or realloc while mgt_phase is MGT_PHASE_FROZEN: waits until
 * the exit step has read the heap (unless the caller is that step). */
MGT_HIDDEN void mgt_wait_frozen(void);
/* reserves the pages of the range (record.c, "Reservation") and maps the
 * areas' segments it touches; 0 ok.  A full disk stops recording
 * (MGT_F_NOSPACE); a mapping refused (an address space limit) only fails the
 * call, and the caller does without. */
MGT_HIDDEN int mgt_back(uint64_t off, uint64_t len);
MGT_HIDDEN void mgt_back_fork_child(void);  /* a fork child's file is new */
/* Each takes the calling thread's state, with its guard held. */
MGT_HIDDEN void mgt_record_alloc(struct mgt_thread *t, void *p, size_t size, void *fp);
MGT_HIDDEN void mgt_record_free(struct mgt_thread *t, void *p);
/* mgt_record_alloc with the stack already known */
MGT_HIDDEN void mgt_record_alloc_at(struct mgt_thread *t, void *p, size_t size, uint32_t stack);
/* realloc in two steps around the real call: take p's entry out of the map
 * first (returns 1 if it was known), then record the outcome; q == NULL means
 * the call failed and the old block is put back. */
struct mgt_block;
MGT_HIDDEN int mgt_realloc_take(struct mgt_thread *t, void *p, struct mgt_block *old);
MGT_HIDDEN void mgt_realloc_done(struct mgt_thread *t, int had_old, const struct mgt_block *old,
				 void *q, size_t size, void *fp);
/* mgt_realloc_done without stacks, for a block p the only thread took out
 * of its shadow itself: v was its word (hooks.c, realloc_counts) */
MGT_HIDDEN void mgt_realloc_done0(struct mgt_thread *t, uint32_t v, uint64_t p, void *q,
				  size_t size);
/*
 * Where the program stood when it entered the exit path: the leak check scans
 * its stack from there, never the tracer's own deeper frames (their unused
 * slots hold stale values of the program's earlier calls, which memcheck,
 * scanning from the stack pointer at exit_group, never sees), plus the
 * callee-saved registers as the program left them.
 */
struct mgt_exit_point {
	uintptr_t sp;                 /* first byte of the caller's frame area */
	uintptr_t regs[8];            /* callee-saved registers on entry */
	unsigned n_regs;
};
/* Captures the exit point in the calling hook (a macro: it must run in that frame). */
#if defined(__x86_64__)
#define MGT_EXIT_POINT(ep) do {                                                   \
		__asm__ volatile("mov %%rbx, 0(%0)\n\tmov %%r12, 8(%0)\n\t"             \
				 "mov %%r13, 16(%0)\n\tmov %%r14, 24(%0)\n\t"          \
				 "mov %%r15, 32(%0)"                                  \
				 : : "r"((ep)->regs) : "memory");                     \
		(ep)->regs[5] = *(uintptr_t *)__builtin_frame_address(0); /* rbp */ \
		(ep)->n_regs = 6;                                                \
		(ep)->sp = (uintptr_t)__builtin_frame_address(0) + 2 * sizeof(void *); \
	} while (0)
#else
#define MGT_EXIT_POINT(ep) do {                                                   \
		__builtin_unwind_init();                                         \
		(ep)->n_regs = 0;                                                \
		(ep)->sp = 0;           /* scan from the tracer's own frame */   \
	} while (0)
#endif
MGT_HIDDEN void mgt_finish(int have_code, int code, int hard, const struct mgt_exit_point *ep);
MGT_HIDDEN void mgt_exec_begin(const char *path, char *const envp[]);
MGT_HIDDEN void mgt_exec_failed(void);
MGT_HIDDEN void mgt_note_spawn_env(const char *path, char *const envp[]);
MGT_HIDDEN void mgt_note_child(int pid, int status);
MGT_HIDDEN void mgt_atfork_prepare(void);
MGT_HIDDEN void mgt_atfork_parent(void);
MGT_HIDDEN void mgt_atfork_child(void);
MGT_HIDDEN void mgt_sample_rss(void);
/* the image's live bytes and blocks: its stacks' (the file holds no total) */
MGT_HIDDEN void mgt_image_live(uint64_t *bytes, uint64_t *blocks);
MGT_HIDDEN int mgt_single_threaded(void);  /* no second thread ever recorded */
MGT_HIDDEN void mgt_thread_exit(struct mgt_thread *t);  /* applies its batch */

/*
 * A signal handler's calls inside the tracer (the guard held, below
 * MGT_GUARD_LIBC): async-signal-safe, they only write down the event in the
 * thread's own queue; mgt_unguard() records them when the interrupted event is
 * done.  A queued free keeps its block until then (0: free it now, no room).
 */
MGT_HIDDEN void mgt_defer_alloc(struct mgt_thread *t, void *p, size_t size, void *fp);
MGT_HIDDEN int mgt_defer_free(struct mgt_thread *t, void *p);
/* realloc of p moved to q by the hook: the alloc of q and the free of p (kept until then) */
MGT_HIDDEN int mgt_defer_realloc(struct mgt_thread *t, void *p, void *q, size_t size, void *fp);
MGT_HIDDEN void mgt_defer_drain(struct mgt_thread *t);
MGT_HIDDEN int mgt_defer_pending(const struct mgt_thread *t);
/* Leaves the tracer: the guard taken by the hook is dropped, and what signal
 * handlers did meanwhile is recorded (mgt_unguard_slow). */
MGT_HIDDEN void mgt_unguard_slow(struct mgt_thread *t);
/* The guard is not at 0: one compare of it in memory (a volatile read is
 * otherwise a load and a test) */
static inline int mgt_guard_set(struct mgt_thread *t)
{
#if defined(__x86_64__)
	_Bool set;
	__asm__ volatile("cmpl $0, %1" : "=@ccnz"(set) : "m"(t->guard));
	return set;
#else
	return t->guard != 0;
#endif
}

/* The guard's one-instruction decrement: 1 when it left it at 0 (nothing queued). */
static inline int mgt_guard_drop(struct mgt_thread *t)
{
#if defined(__x86_64__)
	_Bool zero;
	/* one instruction: a handler's MGT_GUARD_PENDING lands before or after it */
	__asm__ volatile("subl $1, %0" : "+m"(t->guard), "=@ccz"(zero) : : "memory");
	return zero;
#else
	return __atomic_sub_fetch(&t->guard, 1, __ATOMIC_RELAXED) == 0;
#endif
}
static inline void mgt_unguard(struct mgt_thread *t)
{
	if (MGT_UNLIKELY(!mgt_guard_drop(t)))
		mgt_unguard_slow(t);
}

/* ---- stack.c: frame-pointer unwinding and the stack depot ---- */
MGT_HIDDEN int mgt_stack_reset(void);      /* setup, fork child: empty depot; 0 ok */
/* Unwinds from frame `fp` and returns the depot id of the stack (0 on overflow). */
MGT_HIDDEN uint32_t mgt_stack_capture(struct mgt_thread *t, void *fp);
/* The two halves of it: the walk (async-signal-safe: no frames while the
 * thread's bounds are unknown) into frames[mgt_g.depth], and the depot id. */
MGT_HIDDEN uint32_t mgt_stack_walk(struct mgt_thread *t, void *fp, uintptr_t *frames,
				   uint32_t *trunc);
MGT_HIDDEN uint32_t mgt_stack_intern(struct mgt_thread *t, const uintptr_t *frames,
				     uint32_t depth, uint32_t trunc);
/*
 * The probe at the next event (record.c): mgt_stack_capture, for the only
 * thread with many stacks (mgt_many_stacks), walks a stack that is not the
 * thread's last into *mgt_stash_next (NULL: never), asks for its index
 * slot and returns MGT_STASH_ID, a stack id no stack has and no shadow
 * class names (ptrmap.h): mgt_stack_resolve looks it up later.
 */
#define MGT_STASH_ID ((1u << 22) - 1)
MGT_HIDDEN extern struct mgt_stash *mgt_stash_next;
MGT_HIDDEN uint32_t mgt_stack_resolve(struct mgt_thread *t, const struct mgt_stash *s);
/* the stashed allocation applied now (record.c): before the module
 * generation changes, so that a new stack keeps the one it was walked in */
MGT_HIDDEN void mgt_stash_flush(void);
MGT_HIDDEN void mgt_stack_lock(void);
MGT_HIDDEN void mgt_stack_unlock(void);
MGT_HIDDEN void mgt_stack_reinit_locks(void);
/*
 * Set once the depot holds mgt_g.pend_stacks stacks, by default
 * MGT_PEND_STACKS (stack.c, insert; cleared by mgt_stack_reset): only then
 * are counts left pending (record.c, "Pending counts").  Below, the records
 * (64 bytes a stack) stay in the cache between two events at a stack, and
 * the count in line is some 30 instructions cheaper (python3 with 6k
 * stacks: 4% of its traced instructions).
 */
#define MGT_PEND_STACKS 16384u
MGT_HIDDEN extern atomic_int mgt_many_stacks;

/* ---- ptrmap.c: live blocks by address (a shadow of the heap, and a side table) ---- */
struct mgt_block {
	uint64_t ptr;
	uint64_t size;
	uint32_t stack;
	uint16_t gen;      /* mgt_g.fork_gen when allocated, low MGT_GEN_BITS */
};
#define MGT_GEN_BITS 8
/* allocated by this process image, not inherited over fork from its parent */
static inline int mgt_own_block(const struct mgt_block *b)
{
	return b->gen == (mgt_g.fork_gen & ((1u << MGT_GEN_BITS) - 1));
}
/* At setup: the shadow's top level (glibc's chunk headers are checked on the
 * program's first blocks, ptrmap.c); 0 ok. */
MGT_HIDDEN int mgt_ptrmap_init(void);
/* Insert and remove lock the side table's shard when `lock` is set (the
 * process has more than one thread); else the caller is the solo thread.
 * The shadow takes no lock.  Insert must run after the real allocation, remove
 * before the real free: both read the block's chunk header. */
/* Returns how many entries (0-2) the block took over: frees we never saw
 * (copied to stale[], for the caller to count). */
MGT_HIDDEN int mgt_ptrmap_insert(const struct mgt_block *b, struct mgt_block stale[2], int lock);
/* Removes p; returns 1 and fills *out when found. */
MGT_HIDDEN int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out, int lock);
/* the only thread freed p at a new peak: the shadow's pages ahead of it made
 * writable in one go (ptrmap.c) */
MGT_HIDDEN void mgt_shadow_ahead(struct mgt_thread *t, uint64_t p);
/* the only thread closes a timeline bucket: the shadow's next pages made
 * writable when the last ones written ahead are in use (ptrmap.c) */
MGT_HIDDEN void mgt_shadow_ahead_close(void);
/* Every lock, for fork and the exit scan (taken after the event lock). */
MGT_HIDDEN void mgt_ptrmap_lock_all(void);
MGT_HIDDEN void mgt_ptrmap_unlock_all(void);
/* In a fork child (locks held by prepare): the parent's blocks become inherited. */
MGT_HIDDEN void mgt_ptrmap_fork_child(void);
/* Live blocks: how many, and a copy of at most max of them (any order); all locked.
 * The copy leaves out blocks whose header and bytes mapped(lo, hi) says are
 * not mapped, or whose header is not readable (NULL: no check): a block
 * freed where the tracer could not see it stays in the map, and glibc may
 * have unmapped its memory since.  mapped(lo, hi): [lo, hi) is mapped and
 * its first 8 bytes are readable (the program may have made the rest
 * PROT_NONE). */
MGT_HIDDEN uint64_t mgt_ptrmap_count(void);
MGT_HIDDEN uint64_t mgt_ptrmap_copy(struct mgt_block *out, uint64_t max,
				    int (*mapped)(uint64_t lo, uint64_t hi));

/* ---- leakcheck.c: leak kinds by a conservative scan at exit ---- */
/* Classifies the live blocks of this image (inside the exit step, event
 * section held, guard set) and stores the kinds per stack and in the header. */
MGT_HIDDEN void mgt_leakcheck(const struct mgt_exit_point *ep);

/* ---- modules.c: loaded ELF objects, for offline symbolization ---- */
MGT_HIDDEN void mgt_modules_scan(void);    /* call with no tracer lock held */
MGT_HIDDEN void mgt_modules_reinit_locks(void);

#endif
