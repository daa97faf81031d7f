/* ptrmap.c - the live blocks: address -> {size, stack, fork generation}
 *
 * 16 shards (so no single rehash copies every live block at once), each an
 * open-addressing table with linear probing and backward-shift deletion (no
 * tombstones, so probes stay short however long the program runs), in
 * anonymous memory that doubles when half full.  The caller serialises all
 * access (record.c: the event lock, or the solo thread).  Anonymous and
 * private on purpose: a fork child inherits a copy, whose entries carry the
 * parent's generation and are told apart from its own.
 */
#include <sys/mman.h>

#include "tracer.h"

#define SHARDS 16u
#define INITIAL_CAP 256u

struct shard {
	uint32_t cap;          /* power of two; 0 = not allocated yet */
	uint32_t count;
	struct mgt_block *e;   /* ptr == 0 marks an empty slot */
};

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
	void *m = mgt_mmap(NULL, (size_t)cap * sizeof(struct mgt_block), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* returns 1 when an entry for the same address was replaced (copied to *old) */
static int put(struct shard *s, const struct mgt_block *b, uint64_t h, struct mgt_block *old)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
	int replaced = 0;
	while (s->e[i].ptr && s->e[i].ptr != b->ptr)
		i = (i + 1) & mask;
	if (!s->e[i].ptr) {
		s->count++;
	} else {
		*old = s->e[i];
		replaced = 1;
	}
	s->e[i] = *b;
	return replaced;
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
			put(s, &old[i], hash_ptr(old[i].ptr), NULL);
	if (old)
		mgt_munmap(old, (size_t)ocap * sizeof(struct mgt_block));
	return 0;
}

int mgt_ptrmap_insert(const struct mgt_block *b, struct mgt_block *stale)
{
	uint64_t h = hash_ptr(b->ptr);
	struct shard *s = &shards[h & (SHARDS - 1)];
	if ((s->count + 1) * 2 > s->cap && grow(s) && s->count + 1 >= s->cap)
		return 0;                     /* out of memory: the block goes untracked */
	return put(s, b, h, stale);
}

int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = &shards[h & (SHARDS - 1)];
	int found = 0;
	if (s->cap) {
		uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
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
				uint32_t home = (uint32_t)(hash_ptr(s->e[j].ptr) >> 4) & mask;
				/* move e[j] if its home is not in (hole, j] cyclically */
				if (((j - home) & mask) >= ((j - hole) & mask)) {
					s->e[hole] = s->e[j];
					hole = j;
				}
			}
			s->e[hole].ptr = 0;
		}
	}
	return found;
}

uint64_t mgt_ptrmap_count(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		n += shards[i].count;
	return n;
}

uint64_t mgt_ptrmap_copy(struct mgt_block *out, uint64_t max)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < SHARDS; i++)
		for (uint32_t j = 0; j < shards[i].cap && n < max; j++)
			if (shards[i].e[j].ptr)
				out[n++] = shards[i].e[j];
	return n;
}
