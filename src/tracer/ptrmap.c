/* ptrmap.c - the live blocks: address -> {size, stack, fork generation, owner}
 *
 * 256 shards chosen by the 64 MiB region an address lies in, each with its
 * own lock and an open-addressing table with linear probing and
 * backward-shift deletion (no tombstones, so probes stay short however long
 * the program runs), in anonymous memory that doubles when half full (three
 * quarters for big tables, see max_load).
 *
 * An entry is 16 bytes.  The first word holds the address in granules
 * (glibc's blocks are 16-byte aligned and user addresses fit in 48 bits: 44
 * bits), the fork generation (MGT_GEN_BITS) and the owner (12 bits: the
 * batch of the thread that allocated it, record.c); the second the size (44
 * bits: 16 TiB) and the stack id (20 bits, MGT_MAX_STACKS).
 *
 * glibc gives each thread arena its own 64 MiB-aligned heaps, so threads
 * that allocate and free their own blocks each work in shards no other
 * thread touches: the shard lock stays in that thread's cache and costs no
 * transfer (a shared map under one lock was most of the cost of two
 * allocating threads).  A process with a single thread takes no lock
 * (record.c passes lock = 0).  Anonymous and private on purpose: a fork
 * child inherits a copy, whose entries carry the parent's generation and are
 * told apart from its own.
 */
#include <sys/mman.h>

#include "tracer.h"

#define SHARDS 256u
#define REGION_SHIFT 26                /* glibc's HEAP_MAX_SIZE on 64-bit: 64 MiB */
#define INITIAL_CAP 256u

struct slot {
	uint64_t a;            /* address >> 4 | generation << 44 | owner << 52; 0 = empty */
	uint64_t b;            /* size | stack << 44 */
};

struct shard {
	mgt_lock_t lock;
	uint32_t cap;          /* power of two; 0 = not allocated yet */
	uint32_t count;
	struct slot *e;
} __attribute__((aligned(64)));  /* one line each: no false sharing of locks */

#define ADDR_MASK ((1ull << 48) - 1)
#define KEY_BITS 44
#define KEY_MASK ((1ull << KEY_BITS) - 1)
#define GEN_MASK ((1u << MGT_GEN_BITS) - 1)
#define OWNER_SHIFT (KEY_BITS + MGT_GEN_BITS)
#define SIZE_MASK ((1ull << 44) - 1)
_Static_assert(MGT_MAX_BATCHES < (1u << (64 - OWNER_SHIFT)), "owner field too narrow");

static inline uint64_t key_ptr(uint64_t a)   /* the address an entry's first word holds */
{
	return (a & KEY_MASK) << 4;
}

static inline struct slot pack(const struct mgt_block *b)
{
	return (struct slot){ b->ptr >> 4 | (uint64_t)(b->gen & GEN_MASK) << KEY_BITS |
				      (uint64_t)b->owner << OWNER_SHIFT,
			      b->size | (uint64_t)b->stack << 44 };
}

static inline void unpack(const struct slot *s, struct mgt_block *b)
{
	b->ptr = key_ptr(s->a);
	b->gen = (uint16_t)(s->a >> KEY_BITS & GEN_MASK);
	b->owner = (uint16_t)(s->a >> OWNER_SHIFT);
	b->size = s->b & SIZE_MASK;
	b->stack = (uint32_t)(s->b >> 44);
}

static struct shard shards[SHARDS];

/*
 * Bits 0-3 pick the shard, bits 4 and up the home slot.  The blocks of one
 * 1 KiB stretch of heap share a shard and get neighbouring home slots (the
 * stretch's hash plus the block's granule in it): a program that allocates
 * or frees blocks next to each other then touches the same few lines of the
 * table instead of a random line (a cache miss) per block.  The shard comes
 * from the hash's top bits: taken from its low bits, every window of a shard
 * would start at the same slot modulo 16, and their blocks would collide.
 * (2M 8-byte blocks allocated and freed in order: 4.65 s -> 2.69 s; jq and
 * python3 with PYTHONMALLOC=malloc: -40 % of the tracing cost; random
 * addresses, bench/malloc_small: about +10 %.)
 */
static inline uint64_t hash_ptr(uint64_t p)
{
	uint64_t g = p >> 10;
	g ^= g >> 33;
	g *= 0xff51afd7ed558ccdull;
	g ^= g >> 33;
	return (g + (p >> 4 & 63)) << 4 | g >> 60;
}

/* 16 neighbouring shards per region: smaller tables probe faster than one */
static inline struct shard *shard_of(uint64_t p, uint64_t h)
{
	uint64_t region = ((p >> REGION_SHIFT) * 0x9e3779b97f4a7c15ull) >> 56;
	return &shards[(region + (h & 15)) & (SHARDS - 1)];
}

static struct slot *alloc_table(uint32_t cap)
{
	void *m = mgt_mmap(NULL, (size_t)cap * sizeof(struct slot), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* returns 1 when an entry for the same address was replaced (copied to *old) */
static int put(struct shard *s, struct slot v, uint64_t h, struct mgt_block *old)
{
	uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
	uint64_t key = v.a & KEY_MASK;
	int replaced = 0;
	while (s->e[i].a && (s->e[i].a & KEY_MASK) != key)
		i = (i + 1) & mask;
	if (!s->e[i].a) {
		s->count++;
	} else {
		unpack(&s->e[i], old);
		replaced = 1;
	}
	s->e[i] = v;
	return replaced;
}

/*
 * Entries a table of cap slots takes before it doubles: half while it is
 * small and probes must stay short (it fits in the cache: a loop over a few
 * thousand live blocks ran 30 % slower at 3/4), three quarters from 1 MiB
 * of table on, where the memory counts (python3 with PYTHONMALLOC=malloc,
 * 2M live blocks: 43 MB less RSS, no slower) and the neighbouring slots of
 * hash_ptr() keep probes within lines already loaded.
 */
static inline uint32_t max_load(uint32_t cap)
{
	return cap >= (1u << 16) ? cap / 4 * 3 : cap / 2;
}

static int grow(struct shard *s)
{
	uint32_t ncap = s->cap ? s->cap * 2 : INITIAL_CAP;
	struct slot *old = s->e, *ne = alloc_table(ncap);
	uint32_t ocap = s->cap;
	if (!ne)
		return -1;
	s->e = ne;
	s->cap = ncap;
	s->count = 0;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i].a)
			put(s, old[i], hash_ptr(key_ptr(old[i].a)), NULL);
	if (old)
		mgt_munmap(old, (size_t)ocap * sizeof(struct slot));
	return 0;
}

int mgt_ptrmap_insert(const struct mgt_block *b, struct mgt_block *stale, int lock)
{
	uint64_t h = hash_ptr(b->ptr);
	struct shard *s = shard_of(b->ptr, h);
	int ret = 0;
	if (MGT_UNLIKELY(b->ptr > ADDR_MASK || (b->ptr & 15) || b->size > SIZE_MASK))
		return 0;                     /* not a glibc block of a 48-bit space: untracked */
	if (lock)
		mgt_lock(&s->lock);
	/* out of memory: the block goes untracked */
	if (!(s->count + 1 > max_load(s->cap) && grow(s) && s->count + 1 >= s->cap))
		ret = put(s, pack(b), h, stale);
	if (lock)
		mgt_unlock(&s->lock);
	return ret;
}

int mgt_ptrmap_remove(uint64_t p, struct mgt_block *out, int lock)
{
	uint64_t h = hash_ptr(p);
	struct shard *s = shard_of(p, h);
	int found = 0;
	if (MGT_UNLIKELY(p > ADDR_MASK || (p & 15)))
		return 0;                     /* never inserted */
	if (lock)
		mgt_lock(&s->lock);
	if (s->cap) {
		uint32_t mask = s->cap - 1, i = (uint32_t)(h >> 4) & mask;
		while (s->e[i].a && (s->e[i].a & KEY_MASK) != p >> 4)
			i = (i + 1) & mask;
		if (s->e[i].a) {
			unpack(&s->e[i], out);
			found = 1;
			s->count--;
			/* backward-shift: pull later members of the run into the hole */
			uint32_t hole = i, j = i;
			for (;;) {
				j = (j + 1) & mask;
				if (!s->e[j].a)
					break;
				uint32_t home = (uint32_t)(hash_ptr(key_ptr(s->e[j].a)) >> 4) & mask;
				/* move e[j] if its home is not in (hole, j] cyclically */
				if (((j - home) & mask) >= ((j - hole) & mask)) {
					s->e[hole] = s->e[j];
					hole = j;
				}
			}
			s->e[hole].a = 0;
		}
	}
	if (lock)
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
	for (unsigned i = 0; i < SHARDS; i++)
		mgt_unlock(&shards[i].lock);
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
			if (shards[i].e[j].a)
				unpack(&shards[i].e[j], &out[n++]);
	return n;
}
