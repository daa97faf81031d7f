/* thread.c - per-thread tracer state without thread-local storage
 *
 * libmemgate.so has no TLS of its own, on purpose: a module with TLS makes
 * glibc's DTV one slot longer, so every pthread_create() of the traced
 * program would calloc() 16 bytes more than without memgate, and the figures
 * would no longer equal valgrind's.  The state hangs off a pthread key
 * instead: keys below PTHREAD_KEY_2NDLEVEL_SIZE (32) live inside glibc's
 * struct pthread, so pthread_getspecific/setspecific never allocate.  The
 * records themselves come from mmap'd chunks, recycled at thread exit, and a
 * small cache keyed by the thread pointer (tracer.h) avoids most key lookups.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "tracer.h"

#define CHUNK 1024u                     /* records per mmap */

struct mgt_thread *_Atomic mgt_thread_cache[256];
static pthread_key_t key;
static mgt_lock_t pool_lock;
static struct mgt_thread *free_list;
static struct mgt_thread *chunk;        /* carving position */
static uint32_t chunk_left;

static void thread_gone(void *p)
{
	struct mgt_thread *t = p;
	mgt_thread_exit(t);                 /* its pending events, before it is gone */
	if (mgt_fast.t == t)                /* the only thread: its record goes */
		atomic_store_explicit(&mgt_fast.tp, 0, memory_order_relaxed);
	/* a later thread may get the same thread pointer: it must not match */
	__atomic_store_n(&t->tp, 0, __ATOMIC_RELEASE);
	mgt_lock(&pool_lock);
	t->next = free_list;
	free_list = t;
	mgt_unlock(&pool_lock);
}

int mgt_thread_init(void)
{
	if (pthread_key_create(&key, thread_gone) != 0)
		return -1;
	/* a second-level key would make setspecific calloc() inside our hooks */
	return key < 32 ? 0 : -1;
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
	uint16_t hint = t->hint;
	struct mgt_batch *bp = t->bp;
	struct mgt_defer *defer = t->defer;   /* and its queue, empty */
	struct mgt_memo *memo = t->memo;      /* and its memory for a walk (unwind.c) */
	mgt_memset(t, 0, sizeof(*t));
	t->memo = memo;
	t->defer = defer;
	t->hint = hint;
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
		t->hint = 0;
	}
	for (unsigned i = 0; i < 256; i++)
		atomic_store_explicit(&mgt_thread_cache[i], NULL, memory_order_relaxed);
}
