/* ptrmap.c - the live blocks: address -> {size, stack, fork generation}
 *
 * 64 shards, each an open-addressing table with linear probing and
 * backward-shift deletion (no tombstones, so probes stay short however long
 * the program runs), in anonymous memory that doubles under the shard's lock.
 * Anonymous and private on purpose: a fork child inherits a copy, whose
 * entries carry the parent's generation and are told apart from its own.
 */
#include <sys/mman.h>

#include "tracer.h"

#define SHARDS 64u
#define INITIAL_CAP 1024u

struct shard {
	mgt_lock_t lock;
	uint32_t cap;          /* power of two; 0 = not allocated yet */
	uint32_t count;
	struct mgt_block *e;   /* ptr == 0 marks an empty slot */
} __attribute__((aligned(64)));

static struct shard shards[SHARDS];

static inline uint64_t hash_ptr(uint64_t p)
{
	p ^= p >> 33;
	p *= 0xff51afd7ed558ccdull;
	p ^= p >> 33;
	return p;
}

static struct mgt_block *alloc_table(uint32_t cap)
{
	void *m = mmap(NULL, (size_t)cap * sizeof(struct mgt_block), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

static void put(struct shard *s, const struct mgt_block *b, uint64_t h)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 6) & mask;
	while (s->e[i].ptr && s->e[i].ptr != b->ptr)
		i = (i + 1) & mask;
	if (!s->e[i].ptr)
		s->count++;
	s->e[i] = *b;  /* an existing key means a free we never saw: the new block wins */
}

static int grow(struct shard *s)
{
	uint32_t ncap = s->cap ? s->cap * 2 : INITIAL_CAP;
	struct mgt_block *old = s->e, *ne = alloc_table(ncap);
	uint32_t ocap = s->cap;
	if (!ne)
		return -1;
	s->e = ne;
	s->cap = ncap;
	s->count = 0;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i].ptr)
			put(s, &old[i], hash_ptr(old[i].ptr));
	if (old)
		munmap(old, (size_t)ocap * sizeof(struct mgt_block));
	return 0;
}

void mgt_ptrmap_insert(const struct mgt_block *b)
{
	uint64_t h = hash_ptr(b->ptr);
	struct shard *s = &shards[h & (SHARDS - 1)];
	mgt_lock(&s->lock);
	if ((s->count + 1) * 2 > s->cap && grow(s) && s->count + 1 >= s->cap) {
		mgt_unlock(&s->lock);
		return;                       /* out of memory: the block goes untracked */
	}
	put(s, b, h);
	mgt_unlock(&s->lock);
}

int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = &shards[h & (SHARDS - 1)];
	int found = 0;
	mgt_lock(&s->lock);
	if (s->cap) {
		uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 6) & mask;
		while (s->e[i].ptr && s->e[i].ptr != p)
			i = (i + 1) & mask;
		if (s->e[i].ptr) {
			*out = s->e[i];
			found = 1;
			s->count--;
			/* backward-shift: pull later members of the run into the hole */
			uint32_t hole = i, j = i;
			for (;;) {
				j = (j + 1) & mask;
				if (!s->e[j].ptr)
					break;
				uint32_t home = (uint32_t)(hash_ptr(s->e[j].ptr) >> 6) & mask;
				/* move e[j] if its home is not in (hole, j] cyclically */
				if (((j - home) & mask) >= ((j - hole) & mask)) {
					s->e[hole] = s->e[j];
					hole = j;
				}
			}
			s->e[hole].ptr = 0;
		}
	}
	mgt_unlock(&s->lock);
	return found;
}

void mgt_ptrmap_lock_all(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		mgt_lock(&shards[i].lock);
}

void mgt_ptrmap_unlock_all(void)
{
	for (unsigned i = SHARDS; i--;)
		mgt_unlock(&shards[i].lock);
}

void mgt_ptrmap_reinit_locks(void)
{
	for (unsigned i = 0; i < SHARDS; i++)
		atomic_store(&shards[i].lock.v, 0);
}
