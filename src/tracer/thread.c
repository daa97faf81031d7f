/* thread.c - per-thread tracer state without thread-local storage
 *
 * libmemgate.so has no TLS of its own, on purpose: a module with TLS makes
 * glibc's DTV one slot longer, so every pthread_create() of the traced
 * program would calloc() 16 bytes more than without memgate, and the figures
 * would no longer equal valgrind's.  The state hangs off a pthread key
 * instead: keys below PTHREAD_KEY_2NDLEVEL_SIZE (32) live inside glibc's
 * struct pthread, so pthread_getspecific/setspecific never allocate.  The
 * records themselves come from mmap'd chunks, recycled at thread exit.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "tracer.h"

#define CHUNK 1024u                     /* records per mmap */

static pthread_key_t key;
static mgt_lock_t pool_lock;
static struct mgt_thread *free_list;
static struct mgt_thread *chunk;        /* carving position */
static uint32_t chunk_left;

static void thread_gone(void *p)
{
	struct mgt_thread *t = p;
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

struct mgt_thread *mgt_thread_new(void)
{
	struct mgt_thread *t;
	mgt_lock(&pool_lock);
	t = free_list;
	if (t) {
		free_list = t->next;
	} else {
		if (!chunk_left) {
			void *m = mmap(NULL, CHUNK * sizeof(*t), PROT_READ | PROT_WRITE,
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
	mgt_memset(t, 0, sizeof(*t));
	if (pthread_setspecific(key, t) != 0) {
		thread_gone(t);
		return NULL;
	}
	return t;
}

struct mgt_thread *mgt_thread_get(void)
{
	return pthread_getspecific(key);
}

void mgt_thread_reinit_locks(void)
{
	atomic_store(&pool_lock.v, 0);
}
