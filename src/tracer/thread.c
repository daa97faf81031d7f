/* thread.c - per-thread tracer state without thread-local storage
 *
 * libmemgate.so has no TLS of its own, on purpose: a module with TLS makes
 * glibc's DTV one slot longer, so every pthread_create() of the traced
 * program would calloc() 16 bytes more than without memgate, and the figures
 * would no longer equal valgrind's.  The state hangs off a pthread key
 * instead: keys below PTHREAD_KEY_2NDLEVEL_SIZE (32) live inside glibc's
 * struct pthread, so pthread_getspecific/setspecific never allocate.  The
 * records themselves come from mmap'd chunks, recycled at thread exit.  The
 * hooks read the key's slot themselves, at its offset from the thread
 * pointer (slot_find); where that offset is not known, a small cache keyed
 * by the thread pointer (tracer.h) avoids most key lookups.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "event.h"
#include "hookpath.h"
#include "tracer.h"

#define CHUNK 1024u                     /* records per mmap */

struct mgt_thread *_Atomic mgt_thread_cache[256];
intptr_t mgt_thread_slot;
_Atomic intptr_t mgt_hook_slot;
static pthread_key_t key;
static mgt_lock_t pool_lock;
static struct mgt_thread *free_list;
static struct mgt_thread *chunk;        /* carving position */
static uint32_t chunk_left;

static void thread_gone(void *p)
{
	struct mgt_thread *t = p;
	mgt_thread_exit(t);                 /* its live bytes not folded, before it is gone */
	/* (glibc emptied the key's slot before it called us) */
	/* a later thread may get the same thread pointer: it must not match */
	__atomic_store_n(&t->tp, 0, __ATOMIC_RELEASE);
	mgt_lock(&pool_lock);
	t->next = free_list;
	free_list = t;
	mgt_unlock(&pool_lock);
}

/*
 * The offset from the thread pointer of the key's slot in glibc's thread
 * descriptor ({sequence number, value}, the same in every thread), or 0.
 * Found by setting the key to one marker, then another, and looking for
 * them in the calling thread's descriptor (the mapping that holds the
 * thread pointer, a few KiB either side: glibc's descriptor follows it on
 * x86-64 and precedes it elsewhere).  Trusted only if exactly one word
 * held each marker, and the key's sequence number beside it is 1: the key
 * was never created before, so no thread can hold a stale value for it
 * (glibc's getspecific would check the number; the hooks do not).
 */
static intptr_t slot_find(void)
{
	static char mark[2];
	uintptr_t tp = mgt_thread_pointer(), lo, hi, found = 0;
	if (mgt_mapping_of(tp, &lo, &hi) != 0 || pthread_setspecific(key, &mark[0]) != 0)
		return 0;
	uintptr_t from = tp - lo > 2048 ? tp - 2048 : lo, to = hi - tp > 4096 ? tp + 4096 : hi;
	for (uintptr_t a = (from + 7) & ~(uintptr_t)7; a + 8 <= to; a += 8) {
		if (*(void *const *)a != &mark[0])
			continue;
		if (found) {
			found = 0;            /* twice: not the slot */
			break;
		}
		found = a;
	}
	if (found && (found - 8 < from || *(const uintptr_t *)(found - 8) != 1 ||
		      pthread_setspecific(key, &mark[1]) != 0 || *(void *const *)found != &mark[1]))
		found = 0;
	pthread_setspecific(key, NULL);
	if (found && *(void *const *)found)
		found = 0;
	return found ? (intptr_t)(found - tp) : 0;
}

int mgt_thread_init(void)
{
	if (pthread_key_create(&key, thread_gone) != 0)
		return -1;
	/* a second-level key would make setspecific calloc() inside our hooks */
	if (key >= 32)
		return -1;
	/* MEMGATE_SLOT=0 (tests): as on a libc where the slot is not found */
	mgt_thread_slot = mgt_g.no_slot ? 0 : slot_find();
	return 0;
}

void mgt_hooks_record(int on)
{
	atomic_store_explicit(&mgt_hook_slot, on ? mgt_thread_slot : 0, memory_order_relaxed);
}

static struct mgt_thread *thread_new(uintptr_t tp)
{
	struct mgt_thread *t;
	mgt_lock(&pool_lock);
	t = free_list;
	if (t) {
		free_list = t->next;
	} else {
		if (!chunk_left) {
			void *m = mgt_mmap(NULL, CHUNK * sizeof(*t), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m != MAP_FAILED) {
				chunk = m;
				chunk_left = CHUNK;
			}
		}
		if (chunk_left) {
			t = chunk++;
			chunk_left--;
		}
	}
	mgt_unlock(&pool_lock);
	if (!t)
		return NULL;
	/* a recycled record keeps its event batch (record.c): slots are not freed */
	uint16_t batch = t->batch;
	struct mgt_batch *bp = t->bp;
	struct mgt_defer *defer = t->defer;   /* and its queue, empty */
	struct mgt_memo *memo = t->memo;      /* and its memory for a walk (unwind.c) */
	mgt_memset(t, 0, sizeof(*t));
	t->memo = memo;
	t->defer = defer;
	t->batch = batch;
	t->bp = bp;
	t->tp = tp;
	t->sh_region = MGT_SH_NONE;
	if (pthread_setspecific(key, t) != 0) {
		thread_gone(t);
		return NULL;
	}
	return t;
}

struct mgt_thread *mgt_thread_slow(uintptr_t tp)
{
	struct mgt_thread *t = pthread_getspecific(key);
	if (!t)
		t = thread_new(tp);
	if (t)
		atomic_store_explicit(&mgt_thread_cache[(tp >> 12 ^ tp >> 20) & 255], t,
				      memory_order_relaxed);
	return t;
}

/*
 * In a fork child only the forking thread exists.  The records of the others
 * are simply abandoned: a new thread may get one of their thread pointers, so
 * the cache must not lead it to their (possibly guarded) records.
 */
void mgt_thread_fork_child(void)
{
	atomic_store(&pool_lock.v, 0);
	/* the batches of recycled records are the parent's file's */
	for (struct mgt_thread *t = free_list; t; t = t->next) {
		t->bp = NULL;
		t->batch = 0;
	}
	for (unsigned i = 0; i < 256; i++)
		atomic_store_explicit(&mgt_thread_cache[i], NULL, memory_order_relaxed);
}

static void *wait_frozen(void *p)
{
	mgt_wait_frozen();
	return p;
}

/* the hooks' recorders once a second thread has recorded, without stacks (hookpath.h) */
void *mgt_thread_alloc(void *p, size_t size)
{
	return mgt_path_alloc(p, size, NULL);
}

void mgt_thread_free(void *p)
{
	mgt_path_free(p, NULL, wait_frozen, 0);
}
