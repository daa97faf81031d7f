/* hooks.c - the only symbols libmemgate.so exports: allocation, process and loader entry points
 *
 * Each allocation hook calls glibc's allocator directly (__libc_malloc & co:
 * no dlsym, so no bootstrap pool and no recursion while resolving) and then
 * records the outcome.  Recording runs with the thread's guard set: anything it calls
 * that allocates passes straight through, and so does a signal handler that
 * interrupts it and calls malloc (docs/tracer.md, "Rules").  errno is what
 * the real call left.
 *
 * Deliberate choices (docs/metrics.md, docs/tracer.md "Threads, fork, exec, exit"):
 *  - children are traced: LD_PRELOAD and MEMGATE_* stay in the environment, an
 *    exec or spawn that drops them is recorded so the report can say so;
 *  - the figures at exit are taken by a handler registered before the
 *    program's own (so it runs last, after _dl_fini ran every destructor);
 *    __libc_freeres is never called (glibc BZ 28248);
 *  - C++ operator new is interposed here, so the stack starts at the caller of
 *    `new` even though Debian's libstdc++ has no frame pointers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The solo thread's free with stacks, in line in solo_free (event.h), makes
 * a few calls out of line: a block for the side table, a bucket's new
 * maximum (or a peak), a bucket to close, a second thread appearing, a
 * count left pending (record.c, "Pending counts").  From here they go
 * through wrappers (KEEP_CALL below) that keep the registers the hook needs
 * across them, and the compiler knows it (it knows what a function of this
 * file clobbers, -fipa-ra), so the hook keeps the pointer and the thread's
 * record in call-clobbered registers and saves none on its common path.
 * Without stacks, record_alloc's and solo_free_counts' events end with a
 * jump to whatever is left instead (hookpath.h, mgt_hook_alloc_rest ...),
 * which needs no wrapper.  Once a second thread records, the hooks jump to
 * thread.c's recorders, where those calls are ordinary ones: the wrappers
 * are for what is rare.
 */
#if defined(__x86_64__)
#define mgt_free_slow keep_free_slow
#define mgt_timeline_close keep_timeline_close
#define mgt_go_threaded keep_go_threaded
#define mgt_free_top keep_free_top
#define mgt_pend keep_pend
#endif
#include "event.h"
#if defined(__x86_64__)
#undef mgt_pend
#undef mgt_free_slow
#undef mgt_timeline_close
#undef mgt_go_threaded
#undef mgt_free_top
/* the functions themselves, for the ends of an event without stacks
 * (hookpath.h, mgt_hook_alloc_rest ...), entered by a jump */
MGT_HIDDEN void mgt_free_slow(struct mgt_thread *t, int solo, uint64_t p);
MGT_HIDDEN void mgt_timeline_close(struct mgt_header *h);
#endif
#include "hookpath.h"
#include "tracer.h"
#include "unwind.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * hooks.c is built without frame pointers, for the allocation hooks' sake
 * (see "The allocation hooks' shape" below).  A hook that calls the
 * program back (main, its exit handlers, the constructors dlopen runs, a
 * new_handler) keeps a frame record all the same, so that a walk from an
 * allocation made there passes through it to the hook's caller.
 */
#define KEEP_FRAME() __asm__ volatile("" : : "r"(__builtin_frame_address(0)))

#if defined(__x86_64__)
/*
 * The body of a wrapper that keeps four general registers (see event.h's
 * include above): rax, rdx, rsi and rdi, enough for what the hooks keep
 * across the call (the pointer, the thread's record: the first and third
 * arguments); the other call-clobbered registers are declared clobbered,
 * so the compiler keeps nothing there.  The stack is aligned on the
 * wrapper's own frame (the compiler calls a function that needs no
 * alignment unaligned), and its call-frame information kept exact for
 * unwinders.  OUT and IN are the asm's operands: the arguments in rcx and
 * r8 as outputs (clobbered), the others as inputs.
 */
#define KEEP_CALL(fn, OUT, IN)                                                        \
	__asm__ volatile(".cfi_remember_state\n\t"                                    \
			 "push %%rbp\n\t.cfi_adjust_cfa_offset 8\n\t"                 \
			 ".cfi_rel_offset %%rbp, 0\n\t"                               \
			 "mov %%rsp, %%rbp\n\t.cfi_def_cfa_register %%rbp\n\t"         \
			 "and $-16, %%rsp\n\t"                                        \
			 "push %%rax\n\tpush %%rdx\n\tpush %%rsi\n\tpush %%rdi\n\t"    \
			 "call " fn "\n\t"                                            \
			 "pop %%rdi\n\tpop %%rsi\n\tpop %%rdx\n\tpop %%rax\n\t"        \
			 "mov %%rbp, %%rsp\n\tpop %%rbp\n\t.cfi_restore_state"          \
			 : OUT : IN                                                   \
			 : "memory", "cc", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", \
			   "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",       \
			   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")
#define KEEP_ARGS(...) __VA_ARGS__

MGT_HIDDEN __attribute__((noinline)) void keep_free_slow(struct mgt_thread *t, int solo,
							 uint64_t p)
{
	register uint64_t r8 __asm__("r8");
	uint64_t c;
	KEEP_CALL("mgt_free_slow", KEEP_ARGS("=c"(c), "=r"(r8)),
		  KEEP_ARGS("D"(t), "S"(solo), "d"(p)));
}

MGT_HIDDEN __attribute__((noinline)) void keep_timeline_close(struct mgt_header *h)
{
	register uint64_t r8 __asm__("r8");
	uint64_t c;
	KEEP_CALL("mgt_timeline_close", KEEP_ARGS("=c"(c), "=r"(r8)), KEEP_ARGS("D"(h)));
}

/* as KEEP_CALL, keeping only rdi and rdx (t and p: all the free's hook
 * needs after it); it runs at the top of every rise of the heap */
MGT_HIDDEN __attribute__((noinline)) void keep_free_top(struct mgt_thread *t, uint32_t e,
							uint64_t p)
{
	register uint64_t r8 __asm__("r8");
	uint64_t a, c;
	uint32_t s = e;
	__asm__ volatile(".cfi_remember_state\n\t"
			 "push %%rbp\n\t.cfi_adjust_cfa_offset 8\n\t"
			 ".cfi_rel_offset %%rbp, 0\n\t"
			 "mov %%rsp, %%rbp\n\t.cfi_def_cfa_register %%rbp\n\t"
			 "and $-16, %%rsp\n\t"
			 "push %%rdx\n\tpush %%rdi\n\t"
			 "call mgt_free_top\n\t"
			 "pop %%rdi\n\tpop %%rdx\n\t"
			 "mov %%rbp, %%rsp\n\tpop %%rbp\n\t.cfi_restore_state"
			 : "=a"(a), "=c"(c), "=r"(r8), "+S"(s)
			 : "D"(t), "d"(p)
			 : "memory", "cc", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3",
			   "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
			   "xmm12", "xmm13", "xmm14", "xmm15");
}

/* mgt_pend takes the size in rcx: the block's address stays in rdx
 * (event.h), and the size comes back in rax, which the wrapper keeps */
MGT_HIDDEN __attribute__((noinline)) uint64_t keep_pend(struct mgt_header *h, uint32_t pend,
							uint64_t keep, uint64_t size)
{
	register uint64_t r8 __asm__("r8");
	uint64_t c = size;
	KEEP_CALL("mgt_pend", KEEP_ARGS("+c"(c), "=r"(r8)),
		  KEEP_ARGS("D"(h), "S"(pend), "d"(keep), "a"(size)));
	return size;
}

MGT_HIDDEN __attribute__((noinline)) void keep_go_threaded(void)
{
	register uint64_t r8 __asm__("r8");
	uint64_t c;
	KEEP_CALL("mgt_go_threaded", KEEP_ARGS("=c"(c), "=r"(r8)), KEEP_ARGS());
}

/* mgt_wait_frozen, then p back (hookpath.h) */
static __attribute__((noinline)) void *keep_wait_frozen(void *p)
{
	register uint64_t r8 __asm__("r8");
	uint64_t c;
	KEEP_CALL("mgt_wait_frozen", KEEP_ARGS("=c"(c), "=r"(r8)), KEEP_ARGS("D"(p)));
	return p;
}
#else
static void *keep_wait_frozen(void *p)
{
	mgt_wait_frozen();
	return p;
}
#endif

/* hooks without a C prototype in the headers we include */
EXPORT void *memalign(size_t align, size_t n);
EXPORT void *pvalloc(size_t n);
EXPORT void *_Znwm(size_t n);
EXPORT void *_Znam(size_t n);
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt);
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt);
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al);
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al);
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt);
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt);
EXPORT void _ZdlPv(void *p);
EXPORT void _ZdaPv(void *p);
EXPORT void _ZdlPvm(void *p, size_t n);
EXPORT void _ZdaPvm(void *p, size_t n);
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt);
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt);
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al);
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al);
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al);
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al);
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt);
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt);
typedef int (*main_fn)(int, char **, char **);
EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern size_t malloc_usable_size(void *);
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
extern char **environ;

/*
 * The next definitions of the symbols we wrap.  dlsym takes the loader's
 * lock, which the program holds in dlopen, dlclose and dl_iterate_phdr, so
 * it runs only where the program waits on that lock anyway or holds nothing:
 * in the constructor (single-threaded, before main) and in our dlopen hook
 * after a successful real dlopen (the dlopen took that lock itself).  A hook
 * that runs before the constructor (in another library's constructor) looks
 * its symbol up then.  A dlsym of an absent symbol would malloc an error
 * message and change dlerror(): these libc symbols are in every glibc the
 * tracer runs on (execveat, new in 2.34, is looked up when it is called),
 * and the C++ operators only once a C++ runtime is loaded.  See LIBC.md.
 */
#define REAL_LIBC(X) X(aligned_alloc) X(exit) X(execve) X(execv) X(execvp) X(execvpe) \
	X(fexecve) X(posix_spawn) X(posix_spawnp) X(waitpid) X(wait4) X(waitid) \
	X(dlopen) X(dlclose)
#define REAL_CXX(X) X(_Znwm) X(_Znam) X(_ZnwmRKSt9nothrow_t) X(_ZnamRKSt9nothrow_t) \
	X(_ZnwmSt11align_val_t) X(_ZnamSt11align_val_t) X(_ZnwmSt11align_val_tRKSt9nothrow_t) \
	X(_ZnamSt11align_val_tRKSt9nothrow_t)
#define REAL_ENUM(name) R_##name,
enum { REAL_LIBC(REAL_ENUM) REAL_CXX(REAL_ENUM) R_N };
#define R_CXX R__Znwm                   /* the first C++ operator */
#define REAL_NAME(name) [R_##name] = #name,
static const char *const real_names[R_N] = { REAL_LIBC(REAL_NAME) REAL_CXX(REAL_NAME) };
static void *_Atomic real_fns[R_N];
static atomic_int constructed;          /* the constructor has looked the symbols up */

static void real_lookup(int from, int to)
{
	for (int i = from; i < to; i++)
		if (!atomic_load_explicit(&real_fns[i], memory_order_relaxed))
			atomic_store_explicit(&real_fns[i], dlsym(RTLD_NEXT, real_names[i]),
					      memory_order_relaxed);
}

static int is_cxx_runtime(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *n = info->dlpi_name, *base = n;
	(void)size;
	(void)arg;
	for (; n && *n; n++)
		if (*n == '/')
			base = n + 1;
	return base && (!mgt_strncmp(base, "libstdc++.so", 12) || !mgt_strncmp(base, "libc++.so", 9));
}

/* the constructor, and after each successful dlopen: never in an allocation hook */
static void real_resolve(void)
{
	real_lookup(0, R_CXX);
	if (!atomic_load_explicit(&real_fns[R_CXX], memory_order_relaxed) &&
	    dl_iterate_phdr(is_cxx_runtime, NULL))
		real_lookup(R_CXX, R_N);
}

/* the next definition of a wrapped symbol (NULL: a C++ operator with no C++ runtime) */
static inline void *real_fn(int id)
{
	void *f = atomic_load_explicit(&real_fns[id], memory_order_relaxed);
	if (MGT_UNLIKELY(!f) && !atomic_load_explicit(&constructed, memory_order_relaxed)) {
		f = dlsym(RTLD_NEXT, real_names[id]);      /* before the constructor */
		atomic_store_explicit(&real_fns[id], f, memory_order_relaxed);
	}
	return f;
}
#define NEXT(type, name) ((type)real_fn(R_##name))

/* tracing() past its one load: set-up, a thread's first event, the slot's offset unknown */
static __attribute__((noinline)) struct mgt_thread *tracing_slow(void)
{
	int s = atomic_load_explicit(&mgt_phase, memory_order_relaxed);
	if (MGT_UNLIKELY(s == MGT_PHASE_UNSET)) {
		mgt_setup();
		s = atomic_load(&mgt_phase);
	}
	if (MGT_UNLIKELY(s != MGT_PHASE_RECORDING))
		return NULL;
	return mgt_thread_self();
}

/* the calling thread's state by one load from its key's slot (tracer.h) */
#define tracing_fast mgt_hook_thread

/* The calling thread's state while the tracer records (its guard may be held), else NULL. */
static inline struct mgt_thread *tracing(void)
{
	struct mgt_thread *t = tracing_fast();
	return MGT_LIKELY(t) ? t : tracing_slow();
}

/* a call made by a signal handler that interrupted the tracer: queued (record.c) */
static inline int nested(const struct mgt_thread *t)
{
	unsigned held = MGT_GUARD_HELD((unsigned)t->guard);
	return held && held < MGT_GUARD_LIBC;
}

/*
 * The allocation hooks' shape.  An exported hook calls glibc, then jumps (a
 * sibling call: nothing of it is left on the stack) to the recorder,
 * RECORD(p, n), which returns p; free and operator delete jump to the free
 * recorder, which ends by jumping to glibc's free.  The recorder is
 * alloc_at() until the tracer records without stacks, then record_alloc(),
 * then thread.c's mgt_thread_alloc once a second thread records (the free
 * recorder: solo_free, then mgt_thread_free): the hooks jump through
 * pointers, so no recorder tests the mode.  The common path of
 * record_alloc and solo_free (the only thread, its guard free: hookpath.h)
 * keeps no frame; anything else goes on to alloc_at or free_at, entered
 * by a jump too.  alloc_at keeps a frame record, and as nothing is left of the
 * functions before it, that record holds the return address into the
 * hook's caller and the caller's frame pointer, exactly what a hook's own
 * frame record would hold.  The walkers (stack.c, unwind.c) start there, so
 * the stack starts at the caller of malloc or new.  hooks.c is built
 * without frame pointers (CMakeLists.txt): a function gets one where it asks
 * for __builtin_frame_address(0).
 *
 * Recording never changes errno (raw syscalls only; the one libc call that
 * may, in stack.c, restores it), so the hooks need not save it.
 */

/* records an allocation whose walk starts at frame record fp (a hook's, or
 * one of its shape); t may be NULL */
static inline __attribute__((always_inline)) void record_at(struct mgt_thread *t, void *p,
							    size_t n, void *fp)
{
	if (!t && !(t = tracing()))
		return;
	if (MGT_LIKELY(!MGT_GUARD_HELD(t->guard))) {
		t->guard = 1;
		mgt_record_alloc(t, p, n, fp);
		mgt_unguard(t);
	} else if (nested(t)) {
		mgt_defer_alloc(t, p, n, fp);
	}
}

typedef void *(*record_fn)(void *p, size_t n);
static void *record_alloc(void *p, size_t n);
static record_fn _Atomic recorder = mgt_hook_alloc_at;
#define alloc_at mgt_hook_alloc_at      /* their names in hookpath.h */
#define free_at mgt_hook_free_at

/* free and every operator delete jump through a pointer too: to solo_free
 * (solo_free_counts once the tracer records without stacks), then, once a
 * second thread has recorded, to thread.c's mgt_thread_free */
typedef void (*free_fn)(void *p);
static void solo_free(void *p);
static free_fn _Atomic freer = solo_free;

/* a second thread has recorded: the hooks jump to thread.c's recorders */
static __attribute__((noinline)) void go_threaded_hooks(void)
{
	if (atomic_load_explicit(&recorder, memory_order_relaxed) == record_alloc)
		atomic_store_explicit(&recorder, mgt_thread_alloc, memory_order_relaxed);
	atomic_store_explicit(&freer, mgt_thread_free, memory_order_relaxed);
}

static __attribute__((noinline)) void *hand_over_alloc(void *p, size_t n)
{
	go_threaded_hooks();
	return mgt_thread_alloc(p, n);
}

static __attribute__((noinline)) void hand_over_free(void *p)
{
	go_threaded_hooks();
	mgt_thread_free(p);
}
/* a function, so p is known before the pointer is read: no register kept for it */
static inline __attribute__((always_inline)) void *RECORD(void *p, size_t n)
{
	return atomic_load_explicit(&recorder, memory_order_relaxed)(p, n);
}

/* p from glibc's allocator (NULL: it failed) and the size asked for; returns p.
 * Any allocation: set-up, a signal handler's call inside the tracer, stacks. */
__attribute__((noinline)) void *alloc_at(void *p, size_t n)
{
	if (MGT_LIKELY(p))
		record_at(NULL, p, n, __builtin_frame_address(0));   /* see above: the caller's */
	return p;
}

/* the end of an event that found a signal handler's queue: records it */
__attribute__((noinline)) void *mgt_hook_unguard(struct mgt_thread *t, void *p)
{
	mgt_unguard_slow(t);
	return p;
}

/* alloc_at without stacks: the only thread's event in line, with no frame */
static __attribute__((noinline)) void *record_alloc(void *p, size_t n)
{
	return mgt_path_alloc(p, n, hand_over_alloc);
}

/* before handing memory back to glibc: not while the exit step reads the heap */
static inline void wait_if_frozen(void)
{
	if (MGT_UNLIKELY(atomic_load_explicit(&mgt_phase, memory_order_relaxed) == MGT_PHASE_FROZEN))
		mgt_wait_frozen();
}

/* the ends of an event without stacks (hookpath.h), each entered by a jump
 * from the hook's path, the guard held */
__attribute__((noinline)) void *mgt_hook_alloc_rest(struct mgt_thread *t, int solo, void *p,
						    size_t size)
{
	mgt_alloc_slow(t, solo, (uint64_t)p, size, 0);
	mgt_unguard(t);
	return p;
}

__attribute__((noinline)) void *mgt_hook_alloc_close(struct mgt_thread *t, void *p)
{
	mgt_timeline_close(mgt_g.hdr);
	mgt_ev_end(t, 1);
	mgt_unguard(t);
	return p;
}

static inline void free_end(struct mgt_thread *t, void *p)
{
	mgt_unguard(t);
	wait_if_frozen();
	__libc_free(p);
}

__attribute__((noinline)) void mgt_hook_free_rest(struct mgt_thread *t, int solo, void *p)
{
	mgt_free_slow(t, solo, (uint64_t)p);
	free_end(t, p);
}

__attribute__((noinline)) void mgt_hook_free_close(struct mgt_thread *t, void *p)
{
	mgt_timeline_close(mgt_g.hdr);
	mgt_ev_end(t, 1);
	free_end(t, p);
}

__attribute__((noinline)) void mgt_hook_free_top(struct mgt_thread *t, uint32_t size, void *p)
{
	mgt_free_top0(t, size, (uint64_t)p);
	free_end(t, p);
}

/* any free but the common one; t may be NULL */
__attribute__((noinline)) void free_at(struct mgt_thread *t, void *p)
{
	if (t || (t = tracing())) {
		if (MGT_LIKELY(!MGT_GUARD_HELD(t->guard))) {
			t->guard = 1;
			mgt_record_free(t, p);        /* record.c's, out of line */
			mgt_unguard(t);
		} else if (nested(t) && mgt_defer_free(t, p)) {
			return;               /* freed once the tracer has recorded it */
		}
	}
	wait_if_frozen();
	__libc_free(p);
}

/* the end of a free that found a signal handler's queue */
__attribute__((noinline)) void mgt_hook_unguard_free(struct mgt_thread *t, void *p)
{
	mgt_unguard_slow(t);
	wait_if_frozen();
	__libc_free(p);
}

/* free, and every operator delete, until a second thread records: the only
 * thread's event in line, with no frame (keep_wait_frozen: wait_if_frozen,
 * keeping the registers) */
static __attribute__((noinline)) void solo_free(void *p)
{
	mgt_path_free(p, hand_over_free, keep_wait_frozen, 0);
}

/* solo_free without stacks: every block is stack 0's (event.h) */
static __attribute__((noinline)) void solo_free_counts(void *p)
{
	mgt_path_free(p, hand_over_free, keep_wait_frozen, 1);
}

static inline __attribute__((always_inline)) void do_free(void *p)
{
	atomic_load_explicit(&freer, memory_order_relaxed)(p);
}

/* ------------------------------------------------------------ C allocator */

EXPORT void *malloc(size_t n)
{
	return RECORD(__libc_malloc(n), n);
}

EXPORT void free(void *p)
{
	do_free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	/* n * size: only recorded when calloc succeeded, so no overflow */
	return RECORD(__libc_calloc(n, size), n * size);
}

/*
 * realloc in a signal handler that interrupted the tracer: the block always
 * moves (as under valgrind), so the old one can be kept until its free is
 * recorded.  malloc_usable_size only reads the chunk header: no lock.
 */
static __attribute__((noinline)) void *nested_realloc(struct mgt_thread *t, void *p, size_t n,
						      void *fp)
{
	if (n == 0) {
		do_free(p);                   /* glibc: frees p and returns NULL */
		return NULL;
	}
	size_t have = malloc_usable_size(p);
	void *q = __libc_malloc(n);
	if (!q)
		return NULL;                  /* p stays, as after a failed realloc */
	mgt_memcpy(q, p, have < n ? have : n);
	if (!mgt_defer_realloc(t, p, q, n, fp))
		__libc_free(p);               /* no room in the queue: unrecorded */
	return q;
}

/* in line, so fp is the exported hook's own frame record */
static inline __attribute__((always_inline)) void *do_realloc(void *p, size_t n, void *fp)
{
	struct mgt_thread *t;
	if (!p) {
		void *q = __libc_realloc(NULL, n);  /* a malloc */
		if (q)
			record_at(NULL, q, n, fp);
		return q;
	}
	if ((t = tracing()) && nested(t)) {
		void *q = nested_realloc(t, p, n, fp);
		/* not a sibling call: the frame record fp points to must stay */
		__asm__("" : "+r"(q));
		return q;
	}
	if (!t || MGT_GUARD_HELD(t->guard)) {
		wait_if_frozen();
		return __libc_realloc(p, n);
	}
	if (n == 0) {
		do_free(p);                   /* glibc: frees p and returns NULL */
		return NULL;
	}
	struct mgt_block old;
	t->guard = 1;
	int had = mgt_realloc_take(t, p, &old);
	wait_if_frozen();                     /* the exit step may have begun since tracing() */
	void *q = __libc_realloc(p, n);
	mgt_realloc_done(t, had, &old, q, n, fp);
	mgt_unguard(t);
	return q;
}

static void *realloc_any(void *p, size_t n);

/*
 * realloc without stacks, while the process has one thread (free's hook is
 * then solo_free_counts): the block's word names its size (event.h,
 * mgt_sh_block0), so the common case takes it out of the shadow in line,
 * in a section of its own as mgt_realloc_take does, and records the
 * outcome in one call (record.c, mgt_realloc_done0), the frame walk of
 * do_realloc having no use.  Anything else, do_realloc from the start: a
 * section that found the process threaded takes nothing.
 */
static __attribute__((noinline)) void *realloc_counts(void *p, size_t n)
{
	struct mgt_thread *t = mgt_hook_thread();
	uint32_t v;
	void *q;
	if (MGT_UNLIKELY(!p || !n || !t || mgt_guard_set(t) || !t->solo))
		return realloc_any(p, n);
	t->guard = 1;
	atomic_store_explicit(&t->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	v = MGT_LIKELY(!mgt_is_threaded()) ? mgt_shadow_take_word((uint64_t)p, t) : 0;
	atomic_store_explicit(&t->busy, 0, memory_order_release);
	if (MGT_UNLIKELY(!v)) {
		mgt_unguard(t);               /* nothing recorded yet */
		return realloc_any(p, n);
	}
	wait_if_frozen();                     /* the exit step may have begun since */
	q = __libc_realloc(p, n);
	mgt_realloc_done0(t, v, (uint64_t)p, q, n);
	mgt_unguard(t);
	return q;
}

/* realloc's own body, entered by a jump: its frame record holds the return
 * address into realloc's caller, as the hook's own would */
static __attribute__((noinline)) void *realloc_any(void *p, size_t n)
{
	return do_realloc(p, n, __builtin_frame_address(0));
}

EXPORT void *realloc(void *p, size_t n)
{
	if (atomic_load_explicit(&freer, memory_order_relaxed) == solo_free_counts)
		return realloc_counts(p, n);
	return realloc_any(p, n);
}

/* glibc's reallocarray calls realloc through the PLT: implementing it on our
 * own do_realloc is what keeps it from counting twice */
EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(p, bytes, __builtin_frame_address(0));
}

EXPORT void *memalign(size_t align, size_t n)
{
	return RECORD(__libc_memalign(align, n), n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	typedef void *(*fn)(size_t, size_t);
	/* its checks differ across glibc versions; no lookup in an allocation
	 * hook: before the constructor, glibc's memalign does it */
	fn real = (fn)atomic_load_explicit(&real_fns[R_aligned_alloc], memory_order_relaxed);
	return RECORD(real ? real(align, n) : __libc_memalign(align, n), n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	/* glibc's checks, in its order: a power of two multiple of sizeof(void *) */
	if (align % sizeof(void *) != 0 || align == 0 ||
	    ((align / sizeof(void *)) & (align / sizeof(void *) - 1)) != 0)
		return EINVAL;
	int e = errno;
	void *p = __libc_memalign(align, n);
	if (!p) {
		errno = e;
		return ENOMEM;
	}
	*out = p;
	record_at(NULL, p, n, __builtin_frame_address(0));
	return 0;
}

EXPORT void *valloc(size_t n)
{
	return RECORD(__libc_valloc(n), n);
}

EXPORT void *pvalloc(size_t n)
{
	return RECORD(__libc_pvalloc(n), n);
}

/* ------------------------------------------------------ C++ operator new */

/*
 * The allocation itself is done here (like libstdc++: size 0 asks for 1
 * byte, the requested size is what is recorded).  Only when it fails does the
 * real operator run, for its new_handler loop and bad_alloc / nullptr: its
 * retry goes through malloc above and is recorded there.
 */
typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const void *);
typedef void *(*new_al_fn)(size_t, size_t);
typedef void *(*new_al_nt_fn)(size_t, size_t, const void *);

/* out of memory: the real operator runs its new_handler loop, then throws or returns NULL */
static __attribute__((noinline)) void *new_failed(int id, size_t n, size_t al, const void *nt)
{
	KEEP_FRAME();
	void *f = real_fn(id);
	if (!f)
		abort();                      /* `new` called without a C++ runtime */
	if (al)
		return nt ? ((new_al_nt_fn)f)(n, al, nt) : ((new_al_fn)f)(n, al);
	return nt ? ((new_nt_fn)f)(n, nt) : ((new_fn)f)(n);
}

/*
 * Always inlined, so the operator jumps to the recorder itself and the stack
 * starts at the caller of `new`.  al == 0: no alignment requested; nt !=
 * NULL: the nothrow variant (its std::nothrow_t argument).
 */
static inline __attribute__((always_inline)) void *new_impl(int id, size_t n, size_t al,
							     const void *nt)
{
	void *p = al ? __libc_memalign(al, n ? n : 1) : __libc_malloc(n ? n : 1);
	if (MGT_UNLIKELY(!p))
		return new_failed(id, n, al, nt);
	return RECORD(p, n);
}

EXPORT void *_Znwm(size_t n) { return new_impl(R__Znwm, n, 0, NULL); }
EXPORT void *_Znam(size_t n) { return new_impl(R__Znam, n, 0, NULL); }
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt)
{ return new_impl(R__ZnwmRKSt9nothrow_t, n, 0, nt); }
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt)
{ return new_impl(R__ZnamRKSt9nothrow_t, n, 0, nt); }
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al)
{ return new_impl(R__ZnwmSt11align_val_t, n, al, NULL); }
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al)
{ return new_impl(R__ZnamSt11align_val_t, n, al, NULL); }
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{ return new_impl(R__ZnwmSt11align_val_tRKSt9nothrow_t, n, al, nt); }
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt)
{ return new_impl(R__ZnamSt11align_val_tRKSt9nothrow_t, n, al, nt); }

/* every operator delete is a free (sizes and alignments are not checked) */
EXPORT void _ZdlPv(void *p) { do_free(p); }
EXPORT void _ZdaPv(void *p) { do_free(p); }
EXPORT void _ZdlPvm(void *p, size_t n) { (void)n; do_free(p); }
EXPORT void _ZdaPvm(void *p, size_t n) { (void)n; do_free(p); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; do_free(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; do_free(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; do_free(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; do_free(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; do_free(p); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; do_free(p); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{ (void)al; (void)nt; do_free(p); }
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt)
{ (void)al; (void)nt; do_free(p); }

/* ---------------------------------------------------------- exit and main */

static atomic_int have_code;
static int exit_code;

static void note_code(int code)
{
	exit_code = code;
	atomic_store(&have_code, 1);
}

/* the last exit handler: see the comment at the top */
static void at_exit(void *arg)
{
	struct mgt_exit_point ep;
	MGT_EXIT_POINT(&ep);
	(void)arg;
	mgt_finish(atomic_load(&have_code), exit_code, 0, &ep);
}

static main_fn real_main;

static int wrap_main(int argc, char **argv, char **envp)
{
	KEEP_FRAME();
	int r = real_main(argc, argv, envp);
	note_code(r);                         /* return from main: exit(r) follows inside libc */
	return r;
}

EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
			     void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
				void (*)(void), void *);
	start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	real_main = main;
	return real(wrap_main, argc, argv, init, fini, rtld_fini, stack_end);
}

EXPORT __attribute__((noreturn)) void exit(int code)
{
	KEEP_FRAME();
	typedef void (*fn)(int) __attribute__((noreturn));
	note_code(code);
	NEXT(fn, exit)(code);
}

static __attribute__((noreturn)) void hard_exit(int code, const struct mgt_exit_point *ep)
{
	mgt_finish(1, code, 1, ep);
	for (;;)
		mgt_sys(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

EXPORT __attribute__((noreturn)) void _exit(int code)
{
	struct mgt_exit_point ep;
	MGT_EXIT_POINT(&ep);
	hard_exit(code, &ep);
}

EXPORT __attribute__((noreturn)) void _Exit(int code)
{
	struct mgt_exit_point ep;
	MGT_EXIT_POINT(&ep);
	hard_exit(code, &ep);
}

/* --------------------------------------------------------- exec and spawn */

#define EXEC_WRAP(call, path, envp) ({                                   \
		mgt_exec_begin((path), (envp));                          \
		int r_ = (call);                                         \
		int e_ = errno;                                          \
		mgt_exec_failed();                                       \
		errno = e_;                                              \
		r_; })

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return EXEC_WRAP(NEXT(execve_fn, execve)(path, argv, envp), path, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	return EXEC_WRAP(NEXT(execv_fn, execv)(path, argv), path, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return EXEC_WRAP(NEXT(execv_fn, execvp)(file, argv), file, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return EXEC_WRAP(NEXT(execve_fn, execvpe)(file, argv, envp), file, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	typedef int (*fn)(int, char *const[], char *const[]);
	return EXEC_WRAP(NEXT(fn, fexecve)(fd, argv, envp), "(fexecve)", envp);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		    int flags)
{
	typedef int (*fn)(int, const char *, char *const[], char *const[], int);
	/* looked up here: glibc has it since 2.34 only, and a failed lookup
	 * would leave an error for dlerror() in every program */
	static fn real;
	if (!real && !(real = (fn)dlsym(RTLD_NEXT, "execveat"))) {
		errno = ENOSYS;
		return -1;
	}
	return EXEC_WRAP(real(dirfd, path, argv, envp, flags), path, envp);
}

/* execl*: the list becomes an array on our stack, as glibc does */
#define COLLECT_ARGS(arg0, ap, argv)                                              \
	size_t argc_ = 1;                                                        \
	va_start(ap, arg0);                                                      \
	while (va_arg(ap, char *))                                               \
		argc_++;                                                         \
	va_end(ap);                                                              \
	char *argv[argc_ + 1];                                                   \
	argv[0] = (char *)arg0;                                                  \
	va_start(ap, arg0);                                                      \
	for (size_t i_ = 1; i_ <= argc_; i_++)                                   \
		argv[i_] = va_arg(ap, char *);

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execv(path, argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	va_end(ap);
	return execvp(file, argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	mgt_note_spawn_env(path, envp);
	return NEXT(spawn_fn, posix_spawn)(pid, path, fa, attr, argv, envp);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	mgt_note_spawn_env(file, envp);
	return NEXT(spawn_fn, posix_spawnp)(pid, file, fa, attr, argv, envp);
}

/* ------------------------------------------------------------ wait family */

/* a child reaped here cannot be reaped by memgate: keep its status */
static void reaped(pid_t pid, int status)
{
	if (pid > 0) {
		int e = errno;
		mgt_note_child(pid, status);
		errno = e;
	}
}

EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	typedef pid_t (*fn)(pid_t, int *, int);
	int st = 0;
	pid_t r = NEXT(fn, waitpid)(pid, &st, options);
	if (r > 0 && status)
		*status = st;
	if (!(options & WNOWAIT))
		reaped(r, st);
	return r;
}

EXPORT pid_t wait(int *status)
{
	return waitpid(-1, status, 0);
}

EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	typedef pid_t (*fn)(pid_t, int *, int, struct rusage *);
	int st = 0;
	pid_t r = NEXT(fn, wait4)(pid, &st, options, ru);
	if (r > 0 && status)
		*status = st;
	reaped(r, st);
	return r;
}

EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	return wait4(-1, status, options, ru);
}

EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	typedef int (*fn)(idtype_t, id_t, siginfo_t *, int);
	int r = NEXT(fn, waitid)(idtype, id, info, options);
	if (r == 0 && info && info->si_pid > 0 && !(options & WNOWAIT)) {
		int st;
		if (info->si_code == CLD_EXITED)
			st = (info->si_status & 0xff) << 8;
		else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)
			st = (info->si_status & 0x7f) | (info->si_code == CLD_DUMPED ? 0x80 : 0);
		else
			return r;
		reaped(info->si_pid, st);
	}
	return r;
}

/* --------------------------------------------------------------- loader */

EXPORT void *dlopen(const char *file, int mode)
{
	KEEP_FRAME();
	typedef void *(*fn)(const char *, int);
	void *h = NEXT(fn, dlopen)(file, mode);
	int e = errno;
	if (h)
		real_resolve();               /* a C++ runtime may have come in */
	if (atomic_load(&mgt_phase) == MGT_PHASE_RECORDING) {
		mgt_stash_flush();
		mgt_modules_scan();
	}
	errno = e;
	return h;
}

EXPORT int dlclose(void *handle)
{
	KEEP_FRAME();
	typedef int (*fn)(void *);
	/* no stack walk reads the CFI of an object while it may be unmapped */
	mgt_unwind_unload_begin();
	int r = NEXT(fn, dlclose)(handle);
	int e = errno;
	if (atomic_load(&mgt_phase) == MGT_PHASE_RECORDING) {
		mgt_stash_flush();
		mgt_modules_scan();
	}
	mgt_unwind_unload_end();
	errno = e;
	return r;
}

/* ---------------------------------------------------------------- set up */

__attribute__((constructor)) static void memgate_init(void)
{
	struct mgt_thread *t;
	real_resolve();
	atomic_store(&constructed, 1);
	mgt_setup();
	if (atomic_load(&mgt_phase) != MGT_PHASE_RECORDING || !(t = mgt_thread_self()))
		return;
	t->guard += MGT_GUARD_LIBC;           /* they allocate for themselves */
	pthread_atfork(mgt_atfork_prepare, mgt_atfork_parent, mgt_atfork_child);
	/* dso == NULL: not run by our own __cxa_finalize, but after _dl_fini */
	__cxa_atexit(at_exit, NULL, NULL);
	t->guard -= MGT_GUARD_LIBC;
	if (!mgt_g.depth) {                   /* counts only: the lean recorders */
		free_fn solo = solo_free;
		atomic_store_explicit(&recorder, record_alloc, memory_order_relaxed);
		/* (unless a second thread made the hooks jump to thread.c's) */
		atomic_compare_exchange_strong_explicit(&freer, &solo, solo_free_counts,
							memory_order_relaxed, memory_order_relaxed);
	}
	mgt_modules_scan();
}
