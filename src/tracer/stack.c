/* stack.c - frame-pointer unwinding and the stack depot (hash-consed call stacks)
 *
 * Unwinding walks the frame-record chain from the hook's own frame, bounded by
 * the thread's stack: each record must lie inside [lo, hi), be 8-aligned and
 * sit strictly above the previous one; a return address below 4096 ends it.
 * Code built without frame pointers in between makes the walk skip callers or
 * stop early, never fault (see docs/tracer.md, "Call stacks", and src/README.md).
 *
 * The depot maps a stack (its frames) to a small id.  Lookups are lock-free
 * (an open-addressing index of {id, key} in anonymous memory, ids published
 * with release order after the key and the stack's records);
 * inserts take one lock.  Records and
 * frames live in the trace file, so ids and frames survive a crash.  Frames
 * are stored as nodes, each a return address and its caller's node
 * (format.h), so the outer frames that stacks share are stored once.  With
 * frame pointers the walk only hashes, in registers: a stack's frames are
 * read again and stored when the depot does not know it (fp_lookup).
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "event.h"
#include "tracer.h"
#include "unwind.h"

#define INDEX_MIN_BITS 12u                /* 4096 slots, 64 KiB */
#define INDEX_MAX_BITS 22u                /* 4M slots: MGT_MAX_STACKS (1M) at load <= 25% */
#define NODES_MIN_BITS 12u                /* 4096 slots, 16 KiB */
#define NODES_MAX_BITS 25u                /* 32M slots: MGT_MAX_NODES (16M) at load <= 50% */

/*
 * A stack is known by two independent hashes of its frames, 96 bits in all:
 * a lookup that matches both takes the id without comparing the frames (a
 * deep stack's frames are several cache lines in the file, and comparing
 * them was a fifth of the cost of a 50-frame allocation).  Two different
 * stacks of the same depth meet in both with a chance of about 2^-96 per
 * pair.  The insert path, which looks again under the lock, goes by the
 * same 96 bits.
 *
 * A slot holds the whole key and the id: a lookup reads one line, and the
 * event's count in the stack's record can wait for that record to come
 * (record.c, "Pending counts").  With the 64-bit hash in the record
 * instead (8-byte slots), a lookup of one of 262k deep stacks waited for
 * the slot and then for the record, one miss after the other
 * (bench/README.md, "Session 9: deep stacks").
 */
struct slot {
	_Atomic uint32_t id;                  /* 0 = empty */
	_Atomic uint32_t check;               /* the second hash */
	_Atomic uint64_t hash;
};

/*
 * The index doubles at three quarters full, under the depot lock, and the
 * new table is published with release order (at half full, 262k deep stacks
 * would hold a 16 MiB table where 8 MiB do: a lookup probes ~2.5 slots at
 * the fullest instead of 1.5, and most programs never get near).  It used to be
 * one table of 4M slots (64 MiB, unreserved), where each new stack touched a
 * page of its own at random: a program with 3000 distinct stacks paid ~11
 * MiB of RSS for it.
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
/*
 * When the frame-pointer walk is the process's, fp_depth is mgt_g.depth,
 * but 0 while the only thread walks with many stacks, where every walk
 * stores its frames (capture_fp, "The probe at the next event" in
 * record.c); with the call-frame walk, 0.
 */
static _Atomic uint32_t fp_depth;

static struct index *_Atomic index_;
static struct index *retired[INDEX_MAX_BITS]; /* replaced tables, headers still mapped */
static unsigned n_retired;
static mgt_lock_t depot_lock;

/*
 * The frame nodes are found again through an index of their own, used only
 * by inserts (depot lock held): a slot is a node id in its low 24 bits and
 * 8 more bits of the node's hash above them, so a probe reads the node in
 * the file only when those match; 0 is empty (node 0 is never stored).  4
 * bytes per slot, doubling at three quarters full: 8 MiB for the 1.05M
 * nodes of 261k distinct deep stacks (bench/README.md).
 */
#define NODE_ID_BITS 24u
_Static_assert(MGT_MAX_NODES <= (1u << NODE_ID_BITS), "node slot too narrow");
struct nodes {
	uint32_t bits;                        /* 1 << bits slots */
	uint32_t count;
	uint32_t s[];
};
static struct nodes *nodes_;
/* the frames of the last stack inserted, outermost first, and their nodes:
 * the next new stack shares its outer frames with it, most of the time */
static uintptr_t last_frame[MGT_MAX_DEPTH];
static uint32_t last_node[MGT_MAX_DEPTH], last_n;
static uint64_t last_path[MGT_MAX_DEPTH];  /* their path hashes (path_hash) */

/*
 * Records below these are backed and mapped (depot lock): mgt_back() is
 * called once per 64 KiB of a region (MGT_CHUNK_SHIFT), not once per record
 * (it was a tenth of the cost of 180k new deep stacks, called per node).
 */
enum { ROOM_STK, ROOM_INFO, ROOM_NODE, ROOMS };
static uint64_t room[ROOMS];

/* backs record i of the region at off (max records of rsize bytes) and the
 * rest of its chunk (MGT_CHUNK_SHIFT), unless done already; 0 ok */
static int back_record(unsigned r, uint64_t off, uint64_t max, uint64_t rsize, uint64_t i)
{
	if (MGT_LIKELY(i < room[r]))
		return 0;
	uint64_t lo = off + i * rsize, hi = off + max * rsize;
	uint64_t end = (lo + rsize + (1ull << MGT_CHUNK_SHIFT) - 1) & ~((1ull << MGT_CHUNK_SHIFT) - 1);
	if (end > hi)
		end = hi;
	if (mgt_back(lo, end - lo))
		return -1;
	room[r] = (end - off) / rsize;
	return 0;
}

static size_t index_bytes(uint32_t bits)
{
	return sizeof(struct index) + ((size_t)1 << bits) * sizeof(struct slot);
}

/*
 * Zeroed anonymous memory for an index; NULL when refused.  A table of 4
 * MiB or more (an index of 262k deep stacks is 8 MiB, and so is the node
 * index of their million frames) is placed on 2 MiB boundaries and asked
 * for huge pages: its lookups land anywhere in it, and with 4 KiB pages
 * each one also missed the TLB, whose walk held up the probes' prefetches
 * (bench/README.md, "Session 9: deep stacks").  Such a table is filled
 * throughout at any load, so huge pages cost no memory it would not use.
 */
#define HUGE_PAGE (2ul << 20)
static void *table_map(size_t bytes)
{
	if (bytes < 2 * HUGE_PAGE) {
		void *x = mgt_mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		return x == MAP_FAILED ? NULL : x;
	}
	/* room for an aligned start, the rest given back at once */
	uintptr_t len = ((uintptr_t)bytes + 4095) & ~4095ul;
	long r = mgt_sys(SYS_mmap, 0, (long)(len + HUGE_PAGE), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r < 0 && r > -4096)
		return NULL;
	uintptr_t lo = (uintptr_t)r, at = (lo + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (at > lo)
		mgt_sys(SYS_munmap, (long)lo, (long)(at - lo), 0, 0, 0, 0);
	if (lo + HUGE_PAGE > at)
		mgt_sys(SYS_munmap, (long)(at + len), (long)(lo + HUGE_PAGE - at), 0, 0, 0, 0);
	void *x = mgt_mmap((void *)at, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (x == MAP_FAILED) {
		mgt_sys(SYS_munmap, (long)at, (long)len, 0, 0, 0, 0);
		return NULL;
	}
	mgt_madvise(x, bytes, MADV_HUGEPAGE);
	return x;
}

static struct index *index_make(uint32_t bits)
{
	struct index *x = table_map(index_bytes(bits));
	if (x)
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
	/* page-aligned, whatever the limit: mgt_stack_capture's quick bounds
	 * check wants records 16-aligned from lo */
	grow &= ~4095ull;
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
	} else {
		uintptr_t l, h;                       /* lo and hi stay in registers */
		if (!stack_lookup(t, fp, &l, &h))
			l = h = 0;
		*lo = l;
		*hi = h;
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

/*
 * A new entry in table x (depot lock held; x is not full): the key first,
 * so that a reader that finds the id finds the key with it (the id is
 * stored with release order).
 */
static void index_put(struct index *x, uint64_t hash, uint32_t check, uint32_t id)
{
	uint32_t mask = (1u << x->bits) - 1;
	for (uint32_t i = home_slot(hash, x->bits);; i = (i + 1) & mask) {
		if (atomic_load_explicit(&x->s[i].id, memory_order_relaxed))
			continue;
		atomic_store_explicit(&x->s[i].check, check, memory_order_relaxed);
		atomic_store_explicit(&x->s[i].hash, hash, memory_order_relaxed);
		atomic_store_explicit(&x->s[i].id, id, memory_order_release);
		x->count++;
		return;
	}
}

/* the id of the stack (hash, check) in table x, 0 when it is not there */
static inline uint32_t index_find(const struct index *x, uint64_t hash, uint32_t check)
{
	uint32_t bits = x->bits, mask = (1u << bits) - 1;
	for (uint32_t i = home_slot(hash, bits);; i = (i + 1) & mask) {
		uint32_t sid = atomic_load_explicit(&x->s[i].id, memory_order_acquire);
		if (!sid)
			return 0;
		if (atomic_load_explicit(&x->s[i].check, memory_order_relaxed) == check &&
		    atomic_load_explicit(&x->s[i].hash, memory_order_relaxed) == hash)
			return sid;
	}
}

/*
 * Doubles the index (depot lock held); on failure the old one keeps filling.
 * The new table is filled from the old one in its order: a slot's home in
 * the new table is twice its home in the old one (or one more), so both are
 * read and written nearly in sequence.
 */
static void index_grow(void)
{
	struct index *old = atomic_load_explicit(&index_, memory_order_relaxed), *x;
	if (old->bits >= INDEX_MAX_BITS || n_retired >= INDEX_MAX_BITS ||
	    !(x = index_make(old->bits + 1)))
		return;
	for (uint32_t i = 0; i < 1u << old->bits; i++) {
		const struct slot *o = &old->s[i];
		uint32_t id = atomic_load_explicit(&o->id, memory_order_relaxed);
		if (id)
			index_put(x, atomic_load_explicit(&o->hash, memory_order_relaxed),
				  atomic_load_explicit(&o->check, memory_order_relaxed), id);
	}
	atomic_store_explicit(&index_, x, memory_order_release);
	retired[n_retired++] = old;
	mgt_madvise(old->s, index_bytes(old->bits) - sizeof(*old), MADV_DONTNEED);
}

static size_t nodes_bytes(uint32_t bits)
{
	return sizeof(struct nodes) + ((size_t)1 << bits) * sizeof(uint32_t);
}

static struct nodes *nodes_make(uint32_t bits)
{
	struct nodes *x = table_map(nodes_bytes(bits));
	if (x)
		x->bits = bits;
	return x;
}

/*
 * A node's slot comes from the hash of its whole path, the return addresses
 * from the outermost frame down to it (path_hash), not from its caller's
 * id: the slots of all the frames of a new stack are known before any node
 * is read, so their cache misses are taken together (nodes_of) instead of
 * two after two, frame by frame.  A slot still names its node, whose return
 * address and caller are compared: the hash only says where to look.
 */
#define PATH_ROOT 0x452821e638d01377ull

static inline uint64_t path_hash(uint64_t caller_path, uint64_t ret)
{
	uint64_t h = (caller_path ^ ret) * 0x9e3779b97f4a7c15ull;
	return (h ^ h >> 29) * 0xbf58476d1ce4e5b9ull;
}

/* the slot value of node id with path hash h: 8 bits of the hash above the id */
static inline uint32_t node_slot(uint64_t h, uint32_t id)
{
	return id | (uint32_t)(h >> 8 & 0xff000000u);
}

static inline uint64_t node_ret(const struct mgt_node *n)
{
	return (uint64_t)n->ret_hi << 32 | n->ret_lo;
}

#define GROW_AHEAD 16u                    /* nodes between the steps of nodes_grow's refill */

/* doubles the node index (depot lock held); on failure the old one keeps filling */
static void nodes_grow(void)
{
	struct nodes *old = nodes_, *x;
	uint32_t n_nodes = mgt_g.hdr->n_nodes;
	size_t pbytes = (size_t)n_nodes * sizeof(uint64_t);
	uint64_t *path;
	if (old->bits >= NODES_MAX_BITS || !(x = nodes_make(old->bits + 1)))
		return;
	if (!(path = table_map(pbytes))) {
		mgt_munmap(x, nodes_bytes(x->bits));
		return;
	}
	/*
	 * Every stored node is in the index (it goes in right after it is
	 * committed), so the new table is filled from the file in id order: the
	 * nodes are read one after the other, where reading them in the old
	 * table's order missed the cache on almost every one (a fifth of the
	 * cache misses of 113k new deep stacks, cachegrind).  A caller's id is
	 * below its callees', so its path hash is known before theirs.
	 */
	uint32_t mask = (1u << x->bits) - 1, shift = 64 - x->bits;
	path[0] = PATH_ROOT;
	/*
	 * Pipelined: the caller's path hash (a read anywhere in path[]) is asked
	 * for GROW_AHEAD nodes ahead, a node's slot once its hash is known, and
	 * the slot written GROW_AHEAD nodes later, so the misses of many nodes
	 * are on their way together (one node after the other, they were 14.5%
	 * of nodes_of's time for 262k deep stacks: bench/README.md, "Session 10:
	 * deep stacks, the tracer").
	 */
	for (uint32_t i = 1; i < n_nodes + 2 * GROW_AHEAD; i++) {
		if (i < n_nodes)
			__builtin_prefetch(&path[mgt_node_at(i)->caller]);
		uint32_t id = i - GROW_AHEAD;
		if (i >= GROW_AHEAD + 1 && id < n_nodes) {
			const struct mgt_node *n = mgt_node_at(id);
			uint64_t h = path[id] = path_hash(path[n->caller], node_ret(n));
			__builtin_prefetch(&x->s[h >> shift], 1);
		}
		id = i - 2 * GROW_AHEAD;
		if (i >= 2 * GROW_AHEAD + 1 && id < n_nodes) {
			uint64_t h = path[id];
			uint32_t j = (uint32_t)(h >> shift);
			while (x->s[j])
				j = (j + 1) & mask;
			x->s[j] = node_slot(h, id);
		}
	}
	mgt_munmap(path, pbytes);
	x->count = old->count;
	nodes_ = x;
	mgt_munmap(old, nodes_bytes(old->bits));
}

/*
 * The node of return address ret called from node caller, whose path hash
 * is hash, stored if new (depot lock held); 0 when there is no room.
 * *fresh says the caller was stored just now: then it has no callees yet,
 * and no probe can find one; it is set when this node is new.
 */
static uint32_t node_of(uint64_t ret, uint32_t caller, uint64_t hash, int *fresh)
{
	struct mgt_header *h = mgt_g.hdr;
	struct nodes *x = nodes_;
	uint32_t mask = (1u << x->bits) - 1, i = (uint32_t)(hash >> (64 - x->bits));
	uint32_t tag = node_slot(hash, 0);
	for (uint32_t v; (v = x->s[i]); i = (i + 1) & mask) {
		if (*fresh || (v & ~((1u << NODE_ID_BITS) - 1)) != tag)
			continue;
		uint32_t id = v & ((1u << NODE_ID_BITS) - 1);
		const struct mgt_node *n = mgt_node_at(id);
		if (n->caller == caller && node_ret(n) == ret)
			return id;
	}
	if (4 * (x->count + 1) > 3 * (mask + 1)) {
		nodes_grow();
		if (x != nodes_) {
			x = nodes_;
			mask = (1u << x->bits) - 1;
			for (i = (uint32_t)(hash >> (64 - x->bits)); x->s[i]; i = (i + 1) & mask)
				;
		}
	}
	uint32_t id = h->n_nodes;
	/* never full: a probe must always meet an empty slot */
	if (x->count + 1 >= mask || id >= MGT_MAX_NODES ||
	    back_record(ROOM_NODE, MGT_NODE_OFF, MGT_MAX_NODES, sizeof(struct mgt_node), id))
		return 0;
	struct mgt_node *n = mgt_node_at(id);
	n->ret_lo = (uint32_t)ret;
	n->ret_hi = (uint32_t)(ret >> 32);
	n->caller = caller;
	atomic_store_explicit((_Atomic uint32_t *)&h->n_nodes, id + 1, memory_order_release);
	x->s[i] = node_slot(hash, id);
	x->count++;
	*fresh = 1;
	return id;
}

/*
 * The node of the innermost of frames f[0, depth) (innermost first), its
 * callers' nodes stored first: 0 and *node, or -1 when there is no room.
 * The outer frames the last stack inserted had too are not looked up again.
 * The rest are looked up in three passes, each taking its cache misses
 * together: every frame's first slot, then the node its tag points to, then
 * the probes themselves.
 */
static int nodes_of(const uintptr_t *f, uint32_t depth, uint32_t *node)
{
	uint64_t path[MGT_MAX_DEPTH], p = PATH_ROOT;
	uint32_t k = 0, nd = 0, same = depth < last_n ? depth : last_n;
	const uintptr_t *outer = f + depth - 1;
	while (k < same && last_frame[k] == *(outer - k))
		k++;
	if (k) {
		nd = last_node[k - 1];
		p = last_path[k - 1];
	}
	struct nodes *x = nodes_;
	uint32_t shift = 64 - x->bits;
	for (uint32_t j = k; j < depth; j++) {
		path[j] = p = path_hash(p, f[depth - 1 - j]);
		__builtin_prefetch(&x->s[p >> shift]);
	}
	for (uint32_t j = k; j < depth; j++) {
		uint32_t v = x->s[path[j] >> shift];
		if (!v)
			break;                /* not stored, nor any callee */
		if ((v & ~((1u << NODE_ID_BITS) - 1)) == node_slot(path[j], 0))
			__builtin_prefetch(mgt_node_at(v & ((1u << NODE_ID_BITS) - 1)));
	}
	int fresh = 0;
	for (; k < depth; k++) {
		uintptr_t ret = f[depth - 1 - k];
		if (!(nd = node_of(ret, nd, path[k], &fresh))) {
			last_n = k;
			return -1;
		}
		last_frame[k] = ret;
		last_node[k] = nd;
		last_path[k] = path[k];
	}
	last_n = depth;
	*node = nd;
	return 0;
}

static uint32_t insert(uint64_t hash, uint32_t check, const uintptr_t *f, uint32_t depth,
		       uint32_t trunc)
{
	struct mgt_header *h = mgt_g.hdr;
	uint32_t id = 0, node = 0;

	mgt_stack_lock();
	/* another thread may have inserted it since our lock-free probe (or we
	 * probed a table that was replaced meanwhile): the same 96 bits of hash
	 * that a lock-free lookup takes as the same stack */
	struct index *x = atomic_load_explicit(&index_, memory_order_relaxed);
	uint32_t mask = (1u << x->bits) - 1;
	if ((id = index_find(x, hash, check)))
		goto out;
	if (4 * (x->count + 1) > 3 * (mask + 1)) {
		index_grow();
		x = atomic_load_explicit(&index_, memory_order_relaxed);
		mask = (1u << x->bits) - 1;
	}
	/* never full: a lock-free probe must always meet an empty slot */
	if (x->count + 1 >= mask || h->n_stacks >= MGT_MAX_STACKS ||
	    nodes_of(f, depth, &node) ||
	    back_record(ROOM_STK, MGT_STK_OFF, MGT_MAX_STACKS, MGT_STACK_REC, h->n_stacks) ||
	    back_record(ROOM_INFO, MGT_INFO_OFF, MGT_MAX_STACKS, sizeof(struct mgt_stack_info),
			h->n_stacks)) {
		__atomic_fetch_or(&h->flags, MGT_F_STACK_FULL, __ATOMIC_RELAXED); /* other bits race */
		goto out;                     /* id 0: counted, unattributed */
	}
	id = h->n_stacks;
	if (id == mgt_g.pend_stacks) {
		atomic_store_explicit(&mgt_many_stacks, 1, memory_order_relaxed);
		if (!mgt_is_threaded())
			atomic_store_explicit(&fp_depth, 0, memory_order_relaxed);
	}
	/* its counters are the file's zeros: a stack id is never handed out twice */
	atomic_store_explicit((_Atomic uint64_t *)&mgt_stack_at(id)->key, hash, memory_order_relaxed);
	struct mgt_stack_info *si = mgt_stack_info_at(id);
	si->node = node;
	si->flags = trunc;
	h->truncated_stacks += trunc;         /* under the lock: never per event */
	si->mod_gen = h->mod_gen;
	atomic_store_explicit((_Atomic uint32_t *)&h->n_stacks, id + 1, memory_order_release);
	index_put(x, hash, check, id);
out:
	mgt_stack_unlock();
	return id;
}

/*
 * Keys.  A stack is found in the depot by 96 bits: a 64-bit hash (its top
 * bits pick the index slot) and a 32-bit check.  The call-frame walk
 * (unwind.c) hashes frames outermost first, so that the outer part of a
 * stack keeps its hashes under any inner one, and its key folds in the
 * cut and the unload epoch at the end (stack_key).  The
 * frame-pointer walk hashes innermost first, as it goes, and flips the hash
 * of a cut stack (fp_seed, fp_key): its key is the first hash as it stands
 * and the second's top half with the unload epoch, one load and one xor
 * after the walk.  A process uses one walk or the other, never both.
 */
#define FP_SEED1 0x243f6a8885a308d3ull
#define FP_SEED2 0x13198a2e03707344ull
#define FP_CUT   0xa4093822299f31d0ull

static inline uint32_t unload_epoch(void)
{
	/* the same addresses after a dlclose may be another library's code */
	return atomic_load_explicit(&mgt_unload_gen, memory_order_relaxed);
}

/*
 * A call-frame stack's key: (hash, *check).  The walk's last step is a
 * multiply, so the first hash's top bits already depend on every frame; a
 * cut stack flips its low bit, and the constant keeps the empty stack's
 * key off 0 (a thread's "no last stack").  The same frames in two unload
 * epochs differ in the check.
 */
static inline uint64_t stack_key(uint64_t h1, uint64_t h2, uint32_t depth, uint32_t trunc,
				 uint32_t *check)
{
	*check = (uint32_t)(((h2 ^ depth) * 0xc2b2ae3d27d4eb4full) >> 32) ^ unload_epoch();
	return h1 ^ FP_SEED1 ^ trunc;
}

/*
 * One frame more in a frame-pointer walk's hashes, four instructions: a
 * multiply chain, whose top bits depend on every frame (they pick the index
 * slot), and a rotate-xor chain, whose bits do not stay where they came in
 * (a multiply moves a difference only upwards), mixed once at the end
 * (fp_key).  The two fail on different kinds of inputs, so together they
 * hold the 96 bits of a key.  On x86-64 the multiply reads its multiplier
 * from memory, so the walk holds no register for it (the common path then
 * needs no callee-saved register).
 */
static const uint64_t fp_mul[2] = { 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full };

static inline __attribute__((always_inline)) void fp_hash(uint64_t *h1, uint64_t *h2,
							  uintptr_t ra)
{
	uint64_t x1 = *h1 ^ ra;
#if defined(__x86_64__)
	__asm__("imulq %1, %0" : "+r"(x1) : "m"(fp_mul[0]));
#else
	x1 *= fp_mul[0];
#endif
	*h1 = x1;
	*h2 = (*h2 << 27 | *h2 >> 37) ^ ra;
}

/* a frame-pointer walk's first hashes */
static inline void fp_seed(uint64_t *h1, uint64_t *h2)
{
	*h1 = FP_SEED1;
	*h2 = FP_SEED2;
}

/*
 * A frame-pointer stack's key from its hashes: (hash, *check).  The same
 * frames in two unload epochs differ in the check; different frames meet in
 * all 96 bits by chance alone.  A key of 0 (a thread's "no last stack") is
 * as likely as that, so it is not worth an instruction to avoid.
 */
static inline uint64_t fp_key(uint64_t h1, uint64_t h2, uint32_t *check)
{
	*check = (uint32_t)((h2 * fp_mul[1]) >> 32) ^ unload_epoch();
	return h1;
}

/*
 * The frame-pointer walk from frame fp within the stack [lo, hi): at most max
 * return addresses, innermost first, hashed into *h1 and *h2 as it goes
 * (flipped by FP_CUT when max cut it) and stored in frames[] unless that is
 * NULL: the depot needs the frames only of a stack it does not know, and
 * then the walk is made again (fp_lookup).  *trunc is set when there were
 * more.  Returns the depth.
 *
 * Each record read must lie inside the thread's stack, 8-aligned, strictly
 * above the one before.  Written so nothing can wrap: code without frame
 * pointers may leave any value in rbp, e.g. -16, for which fp + 16 would be
 * 0 and pass.  The first record is the hook's own: the caller has checked
 * that fp lies in [lo, hi), and with first_ok that it may be read.
 */
static inline __attribute__((always_inline)) int
fp_step(uintptr_t fp, uintptr_t top, uintptr_t *next, uintptr_t *frames, uintptr_t *recs,
	uint32_t max, uint32_t *left, uint64_t *x1, uint64_t *x2)
{
	const uintptr_t *rec = (const uintptr_t *)fp;
	uintptr_t ra = rec[1];
	*next = rec[0];
	if (ra < 4096)
		return 0;
#if defined(__aarch64__)
	ra &= 0x0000ffffffffffffull;          /* strip pointer-authentication bits */
#endif
	if (frames)
		frames[max - *left] = ra;
	if (recs)
		recs[max - *left] = fp;
	--*left;
	fp_hash(x1, x2, ra);
	return *next > fp && *next <= top && !(*next & 7);
}

static inline __attribute__((always_inline)) uint32_t
fp_walk_recs(uintptr_t hi, uintptr_t fp, uintptr_t *frames, uintptr_t *recs, uint32_t max,
	     uint32_t *trunc, uint64_t *h1, uint64_t *h2, int first_ok)
{
	uint64_t x1 = *h1, x2 = *h2;
	uint32_t left = max;
	uintptr_t top = hi - 2 * sizeof(uintptr_t), next;
	*trunc = 0;
	if (!first_ok && (fp > top || (fp & 7)))
		goto out;
	/* two frames a turn, each record's address in a register of its own,
	 * and one test of the room left for both */
	while (MGT_LIKELY(left >= 2)) {
		if (!fp_step(fp, top, &next, frames, recs, max, &left, &x1, &x2) ||
		    !fp_step(next, top, &fp, frames, recs, max, &left, &x1, &x2))
			goto out;
		__asm__("" : "+r"(left));     /* a plain count: no second one for its parity */
	}
	if (left) {
		if (!fp_step(fp, top, &next, frames, recs, max, &left, &x1, &x2))
			goto out;
		fp = next;
	}
	/* no room left, at a record that may be read: cut if it has a caller */
	if (((const uintptr_t *)fp)[1] >= 4096) {
		*trunc = 1;
		x1 ^= FP_CUT;
	}
out:
	*h1 = x1;
	*h2 = x2;
	return max - left;
}

/* fp_walk_recs without the records' addresses: every walk but pred_walk */
static inline __attribute__((always_inline)) uint32_t
fp_walk(uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t max, uint32_t *trunc,
	uint64_t *h1, uint64_t *h2, int first_ok)
{
	return fp_walk_recs(hi, fp, frames, NULL, max, trunc, h1, h2, first_ok);
}

/*
 * Walks from frame fp within the stack [lo, hi) into frames[] (at most
 * mgt_g.depth), by the call-frame information (unwind.c) or, with
 * stack-unwind: fp, by frame pointers; *trunc is set when there were more.
 * Reads only that stack and mapped modules, takes no lock: safe in a signal
 * handler.  Returns the depth; the key of the stack is (*hash, *check).
 */
static inline __attribute__((always_inline)) uint32_t
walk(uintptr_t lo, uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t *trunc,
     uint64_t *hash, uint32_t *check, struct mgt_memo **memo)
{
	uint32_t max = mgt_g.depth, depth;
	uint64_t h1 = 0, h2 = 0;
	*trunc = 0;
	if (MGT_LIKELY(MGT_CFI_UNWIND && !mgt_g.unwind_fp)) {
		depth = mgt_unwind(lo, hi, (void *)fp, frames, max, trunc, &h1, &h2, memo);
		*hash = stack_key(h1, h2, depth, *trunc, check);
		return depth;
	}
	fp_seed(&h1, &h2);
	depth = fp - lo < hi - lo ? fp_walk(hi, fp, frames, max, trunc, &h1, &h2, 0) : 0;
	*hash = fp_key(h1, h2, check);
	return depth;
}

/* the id of the stack (hash, check) in the index, 0 when it is not there */
static inline uint32_t probe(uint64_t hash, uint32_t check)
{
	return index_find(atomic_load_explicit(&index_, memory_order_acquire), hash, check);
}

/* the thread's last stack, now (hash, check) with id */
static inline uint32_t remember(struct mgt_thread *t, uint64_t hash, uint32_t check, uint32_t id)
{
	if (id) {
		t->last_hash = hash;
		t->last_id = id;
		t->last_check = check;
	}
	return id;
}

/* the depot id of frames[0, depth), key (hash, check), inserted if new */
static inline uint32_t intern(struct mgt_thread *t, const uintptr_t *frames, uint32_t depth,
			      uint32_t trunc, uint64_t hash, uint32_t check)
{
	uint32_t id;
	/* tight loops allocate from the same place over and over */
	if (hash == t->last_hash && check == t->last_check)
		return t->last_id;
	if (!(id = probe(hash, check)))
		id = insert(hash, check, frames, depth, trunc);
	return remember(t, hash, check, id);
}

/*
 * The id of the frame-pointer stack from fp in the thread's stack that
 * has the key (hash, check) and is not the thread's last: found in the
 * index, or walked again, this time into frames, and inserted.  Nothing ran
 * on this thread between the two walks but perhaps a signal handler, below
 * them, so the second finds the same frames; if another thread wrote into
 * this one's stack meanwhile, the frames go in under their own key.
 */
static __attribute__((noinline)) uint32_t fp_lookup(struct mgt_thread *t, uintptr_t fp,
						    uint64_t hash, uint32_t check)
{
	uint32_t id = probe(hash, check);
	if (!id) {
		uintptr_t frames[MGT_MAX_DEPTH];
		uint64_t h1, h2;
		uint32_t trunc, depth, check2;
		fp_seed(&h1, &h2);
		depth = fp_walk(t->hi, fp, frames, mgt_g.depth, &trunc, &h1, &h2, 0);
		uint64_t hash2 = fp_key(h1, h2, &check2);
		if (MGT_UNLIKELY(hash2 != hash || check2 != check)) {
			hash = hash2;
			check = check2;
			id = probe(hash, check);
		}
		if (!id)
			id = insert(hash, check, frames, depth, trunc);
	}
	return remember(t, hash, check, id);
}

/* the id of a stack fp_lookup left for later, inserted if new */
uint32_t mgt_stack_resolve(struct mgt_thread *t, const struct mgt_stash *s)
{
	uint32_t id = probe(s->hash, s->check);
	if (!id)
		id = insert(s->hash, s->check, (const uintptr_t *)s->frames, s->depth, s->trunc);
	return remember(t, s->hash, s->check, id);
}

/*
 * The frame records' addresses of the solo thread's last walk into its
 * stash, outermost last: a program that allocates from one deep call path
 * after another mostly does so at the same depths, so its next walk finds
 * its records where this one did.  Reading them from here, not each from
 * the one before, lets the loads go in parallel; each is still checked
 * against the record before it (pred_walk).
 */
static uintptr_t pred_fp[MGT_MAX_DEPTH + 1];
static uint32_t pred_n;

/*
 * fp_walk from fp (inside the stack) for the solo thread with many stacks,
 * with the same frames, hashes
 * and cut: the records the last walk found are read at once while each
 * one's saved frame pointer is the next one predicted, so it is the same
 * chain; from the first that differs on, the records are followed one by
 * one (fp_walk_recs), and their addresses kept for the next walk.
 */
static inline __attribute__((always_inline)) uint32_t
pred_walk(uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t max, uint32_t *trunc,
	  uint64_t *h1, uint64_t *h2)
{
	uint64_t x1 = *h1, x2 = *h2;
	uint32_t k = 0, n = pred_n < max ? pred_n : max;
	uintptr_t top = hi - 2 * sizeof(uintptr_t);
	/* fp: 8-aligned, or it would not have been kept; its top checked here */
	if (n && pred_fp[0] == fp && fp <= top) {
		/* each predicted record above the one before, 8-aligned (so it was
		 * kept), and below this stack's top: readable as fp_step's are */
		for (; k + 1 < n; k++) {
			const uintptr_t *rec = (const uintptr_t *)pred_fp[k];
			uintptr_t ra = rec[1];
			if (rec[0] != pred_fp[k + 1] || ra < 4096 || pred_fp[k + 1] > top)
				break;
#if defined(__aarch64__)
			ra &= 0x0000ffffffffffffull;
#endif
			frames[k] = ra;
			fp_hash(&x1, &x2, ra);
		}
		fp = pred_fp[k];
	}
	*h1 = x1;
	*h2 = x2;
	/* from the first record not predicted on, one by one, their addresses kept */
	uint32_t depth = k + fp_walk_recs(hi, fp, frames + k, pred_fp + k, max - k, trunc,
					  h1, h2, 0);
	pred_n = depth;
	return depth;
}

/*
 * mgt_stack_capture's frame-pointer walks past its common case: another
 * stack than the thread's first, and many stacks (fp_depth 0), where the
 * only thread walks straight into its stash and leaves a stack that is not
 * its last for later (record.c, "The probe at the next event"): one walk,
 * where the hashing walk would be made again for the frames.  A threaded
 * process goes back to the hashing walk.
 */
static __attribute__((noinline)) uint32_t capture_fp(struct mgt_thread *t, uintptr_t fp)
{
	uintptr_t frames[MGT_MAX_DEPTH], *f = frames, lo, hi;
	uint32_t trunc = 0, check, depth, max = mgt_g.depth;
	uint64_t hash, h1, h2;
	struct mgt_stash *st = NULL;
	if (!max)
		return 0;
	if (atomic_load_explicit(&mgt_many_stacks, memory_order_relaxed)) {
		if (mgt_is_threaded())
			atomic_store_explicit(&fp_depth, max, memory_order_relaxed);
		else if (t->solo && (st = mgt_stash_next))
			f = (uintptr_t *)st->frames;
	}
	stack_bounds(t, fp, &lo, &hi);
	fp_seed(&h1, &h2);
	if (fp - lo >= hi - lo)
		depth = 0;
	else if (st)
		depth = pred_walk(hi, fp, f, max, &trunc, &h1, &h2);
	else
		depth = fp_walk(hi, fp, f, max, &trunc, &h1, &h2, 0);
	hash = fp_key(h1, h2, &check);
	if (!st || (hash == t->last_hash && check == t->last_check))
		return intern(t, f, depth, trunc, hash, check);
	const struct index *x = atomic_load_explicit(&index_, memory_order_acquire);
	__builtin_prefetch(&x->s[home_slot(hash, x->bits)]);
	st->hash = hash;
	st->check = check;
	st->depth = depth;
	st->trunc = trunc;
	return MGT_STASH_ID;
}

/* mgt_stack_capture's rarer cases with the call-frame walk */
static __attribute__((noinline)) uint32_t capture_cfi(struct mgt_thread *t, uintptr_t fp)
{
	uintptr_t frames[MGT_MAX_DEPTH], lo, hi;
	uint32_t trunc = 0, check, depth, max = mgt_g.depth;
	uint64_t hash, h1 = 0, h2 = 0;
	if (!MGT_CFI_UNWIND)
		return capture_fp(t, fp);             /* (never: capture_fp is the process's then) */
	if (!max)
		return 0;                             /* counts only: everything in stack 0 */
	stack_bounds(t, fp, &lo, &hi);
	depth = mgt_unwind(lo, hi, (void *)fp, frames, max, &trunc, &h1, &h2, &t->memo);
	hash = stack_key(h1, h2, depth, trunc, &check);
	return intern(t, frames, depth, trunc, hash, check);
}

/* the process's: capture_fp with frame pointers, else capture_cfi (a call
 * through it costs what a direct call does: no test of the walk) */
static uint32_t (*capture_slow)(struct mgt_thread *t, uintptr_t fp) = capture_cfi;

/*
 * With frame pointers the walk keeps its two hashes in registers and stores
 * no frame: most stacks are the thread's last one, and any other is looked
 * up by its key; only a new stack needs its frames (fp_lookup).
 */
uint32_t mgt_stack_capture(struct mgt_thread *t, void *fp0)
{
	uintptr_t fp = (uintptr_t)fp0;
	uint32_t max = atomic_load_explicit(&fp_depth, memory_order_relaxed);
	if (!max)
		return capture_slow(t, fp);
	/* the call-frame walk goes on at once, without loading the bounds first */
	__asm__("" : "+r"(t));
	/*
	 * The hook's record in the thread's first stack, and 16-aligned from
	 * its start: then the record lies inside it whole (the hook keeps the
	 * ABI's alignment, so anything else is for capture_slow).  One compare
	 * of the offset rotated right by 4 checks it all, and fails when the
	 * bounds are not known (lo = hi = 0).
	 */
	uintptr_t lo = t->lo, hi = t->hi, off = fp - lo;
	if (MGT_UNLIKELY((off >> 4 | off << 60) >= (hi - lo) >> 4))
		return capture_slow(t, fp);
	uint32_t trunc, check;
	uint64_t h1, h2;
	fp_seed(&h1, &h2);
	fp_walk(hi, fp, NULL, max, &trunc, &h1, &h2, 1);
	uint64_t hash = fp_key(h1, h2, &check);
	if (MGT_LIKELY(hash == t->last_hash && check == t->last_check))
		return t->last_id;
	return fp_lookup(t, fp, hash, check);
}

uint32_t mgt_stack_walk(struct mgt_thread *t, void *fp0, uintptr_t *frames, uint32_t *trunc)
{
	uintptr_t fp = (uintptr_t)fp0;
	uint64_t hash;
	uint32_t check;
	*trunc = 0;
	/* bounds already known only: looking them up is not for a signal handler */
	if (fp - t->lo < t->hi - t->lo)
		return walk(t->lo, t->hi, fp, frames, trunc, &hash, &check, NULL);
	if (fp - t->alt_lo < t->alt_hi - t->alt_lo)
		return walk(t->alt_lo, t->alt_hi, fp, frames, trunc, &hash, &check, NULL);
	return 0;
}

uint32_t mgt_stack_intern(struct mgt_thread *t, const uintptr_t *frames, uint32_t depth,
			  uint32_t trunc)
{
	uint64_t h1 = 0, h2 = 0, hash;
	uint32_t check;
	if (mgt_g.depth == 0)
		return 0;
	/* hashed as the walk does */
	if (MGT_CFI_UNWIND && !mgt_g.unwind_fp) {
		mgt_frames_hash(frames, depth, &h1, &h2);
		hash = stack_key(h1, h2, depth, trunc, &check);
	} else {
		fp_seed(&h1, &h2);
		for (uint32_t i = 0; i < depth; i++)
			fp_hash(&h1, &h2, frames[i]);
		if (trunc)
			h1 ^= FP_CUT;
		hash = fp_key(h1, h2, &check);
	}
	return intern(t, frames, depth, trunc, hash, check);
}

/* Called at setup and in a fork child (the only thread there): an empty depot. */
int mgt_stack_reset(void)
{
	struct index *x = atomic_load_explicit(&index_, memory_order_relaxed);
	if (x)
		mgt_munmap(x, index_bytes(x->bits));
	while (n_retired) {
		x = retired[--n_retired];
		mgt_munmap(x, index_bytes(x->bits));
	}
	if (nodes_)
		mgt_munmap(nodes_, nodes_bytes(nodes_->bits));
	last_n = 0;
	/* stack 0 is there from the start: 0 or 1 stacks means at once */
	atomic_store_explicit(&mgt_many_stacks, mgt_g.pend_stacks <= 1, memory_order_relaxed);
	mgt_memset(room, 0, sizeof(room));       /* a new file */
	if (mgt_unwind_reset())
		return -1;
	x = index_make(INDEX_MIN_BITS);
	nodes_ = nodes_make(NODES_MIN_BITS);
	atomic_store_explicit(&index_, x, memory_order_release);
	if (!main_hi && mgt_g.depth)          /* no walks, no bounds (--no-stacks) */
		find_main_stack();
	int fp_walks = !(MGT_CFI_UNWIND && !mgt_g.unwind_fp);
	capture_slow = fp_walks ? capture_fp : capture_cfi;
	/* (a fork child is the only thread, with many stacks from the start
	 * when pend_stacks <= 1) */
	atomic_store_explicit(&fp_depth, fp_walks && !mgt_many_stacks ? mgt_g.depth : 0,
			      memory_order_relaxed);
	/* in a fork child the forking thread is the only one, and its bounds hold */
	return x && nodes_ ? 0 : -1;
}

void mgt_stack_lock(void) { mgt_lock(&depot_lock); }
void mgt_stack_unlock(void) { mgt_unlock(&depot_lock); }
void mgt_stack_reinit_locks(void) { atomic_store(&depot_lock.v, 0); }
