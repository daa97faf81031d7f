/* stacks.c - the profile's stack table, written compactly and read back
 *
 * A deep profile is mostly its stacks: 250k stacks of 52 frames are 13M
 * frame references.  They are written as a tree (a node is a frame and the
 * node of its caller, so stacks share their outer frames), with every
 * number put down by mg_buf_u64 rather than stdio, and every string once per
 * document.  docs/profile-schema.md, "Every stack", is the format.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/hash.h"
#include "profile.h"
#include "sites.h"
#include "stacks.h"
#include "../util/json.h"
#include "../util/sort.h"

#define MAX_INLINE MG_MAX_INLINE
#define MG_STACKS_KEEP 1000         /* stacks of allocations only, kept whole per figure */
#define NAME_MAX_LEN 128            /* longer function names lose their generic arguments */

/* murmur3's 64-bit finalizer: every bit of the key moves the low bits */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ h >> 33;
}

/*
 * The three tables below are open addressing with linear probing, grown by
 * doubling at half full: the slots of one moved into a new array of
 * new_cap (a power of two); NULL when out of memory (old kept).
 */
static void *rehash(void *old, size_t cap, size_t new_cap, size_t size,
		    int (*used)(const void *slot), size_t (*hash)(const void *slot))
{
	char *s = calloc(new_cap, size);
	if (!s)
		return NULL;
	for (size_t i = 0; i < cap; i++) {
		const char *o = (const char *)old + i * size;
		if (!used(o))
			continue;
		size_t j = hash(o) & (new_cap - 1);
		while (used(s + j * size))
			j = (j + 1) & (new_cap - 1);
		memcpy(s + j * size, o, size);
	}
	free(old);
	return s;
}

/* ------------------------------------------------------------ strings */

static uint64_t str_hash(const char *s)
{
	return mix(mg_fnv1a_str(s, MG_FNV_OFFSET));
}

static int str_used(const void *slot)
{
	return ((const struct mg_strslot *)slot)->s != NULL;
}

static size_t str_slot_hash(const void *slot)
{
	return (size_t)str_hash(((const struct mg_strslot *)slot)->s);
}

static int strtab_grow(struct mg_strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct mg_strslot *s = rehash(t->slot, t->cap, cap, sizeof(*s), str_used, str_slot_hash);
	if (!s)
		return -1;
	t->slot = s;
	t->cap = cap;
	return 0;
}

/* the index of s in the document's strings, added on first sight; -1: OOM */
static int64_t intern(struct mg_strtab *t, const char *s)
{
	if ((t->used + 1) * 2 > t->cap && strtab_grow(t) < 0)
		return -1;
	size_t j = str_hash(s) & (t->cap - 1);
	for (; t->slot[j].s; j = (j + 1) & (t->cap - 1))
		if (!strcmp(t->slot[j].s, s))
			return t->slot[j].idx;
	if (!(t->slot[j].s = strdup(s)))
		return -1;
	t->slot[j].idx = (uint32_t)t->used++;
	if (!t->text.max)
		mg_buf_init(&t->text, SIZE_MAX);
	mg_buf_add(&t->text, t->used == 1 ? "[" : ",", 1);
	mg_buf_json_string(&t->text, s);
	return t->slot[j].idx;
}

cJSON *mg_strtab_finish(struct mg_strtab *t)
{
	cJSON *raw = NULL;
	if (!t->used) {
		mg_buf_init(&t->text, SIZE_MAX);
		mg_buf_add(&t->text, "[", 1);
	}
	mg_buf_add(&t->text, "]", 1);
	if (!t->text.failed)
		raw = cJSON_CreateRaw(mg_buf_str(&t->text));
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i].s);
	free(t->slot);
	mg_buf_release(&t->text);
	memset(t, 0, sizeof(*t));
	return raw;
}

/* ------------------------------------------------------------ one process */

struct addr_slot {
	uint64_t addr, offset;
	const char *module;                 /* borrowed from the trace; pointer identity */
	uint32_t first, n;                  /* its frames: first .. first + n - 1 */
	int used;
};

struct node_slot {
	uint32_t frame, parent;             /* parent + 1: 0 is "no caller" */
	uint32_t id;
	int used;
};

struct module_ent {
	const char *path;
	uint64_t base;
};

/* a distinct frame: symbolized on first sight, written to "frames" (and
 * given its index there, `out`) only once a node uses it */
struct frame_info {
	const char *function, *file;        /* the symbolizer's, or static */
	const char *owner;                  /* a runtime owner's frame: sites.c's name */
	const char *module;                 /* the trace's path */
	uint64_t offset;                    /* from the module, or the address (mod < 0) */
	int64_t mod;                        /* index in "modules"; -1: none */
	int line, inlined;
	uint32_t out;                       /* index in "frames"; UINT32_MAX: not yet */
	/* mg_runtime_frame()'s answer, asked once: 0 not yet, 1 the program's
	 * code, 2 the runtime's (rt_owner: what it calls the blocks it allocates) */
	int rt;
	const char *rt_owner;
};

/* a runtime owner's summary frame ("[runtime: stdio buffer]") */
struct owner_frame {
	const char *owner;                  /* sites.c's static string */
	uint32_t frame;
};

struct proc_tab {
	struct mg_strtab *st;
	struct mg_symbolizer *sym;
	struct addr_slot *slot;             /* by return address */
	size_t cap, used;
	uint32_t n_frames, n_out;           /* frames known, frames written */
	struct frame_info *fi;
	size_t fi_cap;
	struct owner_frame *owners;
	size_t n_owners;
	struct tnode { uint32_t frame, first, next, kids; } *tn; /* node id + 1; 0: the root */
	size_t tn_cap, nused;
	struct node_slot *node;             /* children of wide nodes, by (frame, parent) */
	size_t ncap, n_hashed;
	struct module_ent *mod;
	size_t n_mod, mod_cap;
	struct mg_buf frames, nodes, stacks;
	int whole;                          /* names and runtime stacks as they are */
	int oom;
};

static size_t slot_hash(uint64_t addr, uint64_t offset, const char *module)
{
	return (size_t)mix(addr * 0x9e3779b97f4a7c15ull ^ offset * 0xc2b2ae3d27d4eb4full ^
			   (uint64_t)(uintptr_t)module);
}

static int addr_used(const void *slot)
{
	return ((const struct addr_slot *)slot)->used;
}

static size_t addr_slot_hash(const void *slot)
{
	const struct addr_slot *a = slot;
	return slot_hash(a->addr, a->offset, a->module);
}

static int node_used(const void *slot)
{
	return ((const struct node_slot *)slot)->used;
}

static size_t node_slot_hash(const void *slot)
{
	const struct node_slot *n = slot;
	return (size_t)mix((uint64_t)n->frame << 32 | n->parent);
}

static int addr_grow(struct proc_tab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct addr_slot *s = rehash(t->slot, t->cap, cap, sizeof(*s), addr_used, addr_slot_hash);
	if (!s)
		return -1;
	t->slot = s;
	t->cap = cap;
	return 0;
}

static int node_grow(struct proc_tab *t)
{
	size_t cap = t->ncap ? t->ncap * 2 : 4096;
	struct node_slot *s = rehash(t->node, t->ncap, cap, sizeof(*s), node_used, node_slot_hash);
	if (!s)
		return -1;
	t->node = s;
	t->ncap = cap;
	return 0;
}

/* the index in "modules" of a module loaded at base; -1: OOM */
static int64_t module_index(struct proc_tab *t, const char *path, uint64_t base)
{
	for (size_t i = t->n_mod; i-- > 0;)
		if (t->mod[i].path == path && t->mod[i].base == base)
			return (int64_t)i;
	if (t->n_mod == t->mod_cap) {
		size_t cap = t->mod_cap ? t->mod_cap * 2 : 16;
		struct module_ent *m = realloc(t->mod, cap * sizeof(*m));
		if (!m)
			return -1;
		t->mod = m;
		t->mod_cap = cap;
	}
	t->mod[t->n_mod] = (struct module_ent){ path, base };
	return (int64_t)t->n_mod++;
}

/* a string index, or "null" */
static void put_str(struct proc_tab *t, const char *s)
{
	int64_t i = s ? intern(t->st, s) : -1;
	if (s && i < 0)
		t->oom = 1;
	if (i < 0)
		mg_buf_add(&t->frames, "null", 4);
	else
		mg_buf_u64(&t->frames, (uint64_t)i);
}

/* '<' opens a generic argument list when it follows a name ("Vec<u8>",
 * "f::<T>"); otherwise it opens a qualified path ("<T as Trait>"), kept */
static int generic_open(const char *s, size_t i)
{
	unsigned char c = i ? (unsigned char)s[i - 1] : 0;
	return c == '_' || c == ':' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

const char *mg_short_name(const char *fn, char **owned)
{
	size_t n = strlen(fn);
	char *s;
	*owned = NULL;
	if (n <= NAME_MAX_LEN)
		return fn;
	if (!(s = strdup(fn)))
		return NULL;
	size_t *open = malloc(n * sizeof(*open)), *depth = malloc(n * sizeof(*depth));
	size_t *close = malloc(n * sizeof(*close));
	int ok = open && depth && close;
	while (ok && n > NAME_MAX_LEN) {
		/* every '<' with its '>' and depth; the deepest collapsible level */
		size_t top = 0, max = 0, found = 0;
		for (size_t i = 0; i < n; i++)
			close[i] = 0;
		for (size_t i = 0; i < n && ok; i++) {
			if (s[i] == '<') {
				depth[i] = top;
				open[top++] = i;
			} else if (s[i] == '>' && !(i && s[i - 1] == '-')) {
				if (!top)
					ok = 0;
				else
					close[open[--top]] = i;
			}
		}
		if (!ok || top)
			break;
		/* lists of more than 3 bytes: "<u8>" would not get shorter */
		for (size_t i = 0; i < n; i++)
			if (s[i] == '<' && generic_open(s, i) && close[i] - i > 4 &&
			    (!found++ || depth[i] > max))
				max = depth[i];
		if (!found)
			break;
		/* each such list becomes "<…>", from the end so indices hold */
		for (size_t i = n; i-- > 0;) {
			if (s[i] != '<' || !generic_open(s, i) || depth[i] != max || close[i] - i <= 4)
				continue;
			size_t c = close[i];
			memmove(s + i + 4, s + c, n - c + 1);
			memcpy(s + i + 1, "…", 3);
			n = n - (c - i - 1) + 3;
		}
	}
	free(open);
	free(depth);
	free(close);
	if (!ok && !open) {
		free(s);
		return NULL;
	}
	if (!ok || !strcmp(s, fn)) {
		free(s);
		return fn;
	}
	return *owned = s;
}

/* a frame known from now on; its index, or UINT32_MAX when out of memory */
static uint32_t frame_add(struct proc_tab *t, const struct frame_info *f)
{
	if (t->n_frames == t->fi_cap) {
		size_t cap = t->fi_cap ? t->fi_cap * 2 : 1024;
		struct frame_info *n = realloc(t->fi, cap * sizeof(*n));
		if (!n)
			return UINT32_MAX;
		t->fi = n;
		t->fi_cap = cap;
	}
	t->fi[t->n_frames] = *f;
	t->fi[t->n_frames].out = UINT32_MAX;
	return t->n_frames++;
}

/* frame k into "frames", once: [function, file, line, module, offset(, 1: inlined)] */
static void frame_write(struct proc_tab *t, uint32_t k)
{
	struct frame_info *f = &t->fi[k];
	char *owned = NULL;
	if (f->out != UINT32_MAX)
		return;
	f->out = t->n_out++;
	mg_buf_add(&t->frames, f->out ? ",[" : "[", f->out ? 2 : 1);
	if (f->owner) {
		char name[160];
		snprintf(name, sizeof(name), "[runtime: %s]", f->owner);
		put_str(t, name);
	} else if (f->function) {
		const char *fn = t->whole ? f->function : mg_short_name(f->function, &owned);
		if (!fn)
			t->oom = 1;
		put_str(t, fn ? fn : f->function);
		free(owned);
	} else {
		put_str(t, NULL);
	}
	mg_buf_add(&t->frames, ",", 1);
	put_str(t, f->file);
	mg_buf_add(&t->frames, ",", 1);
	if (f->line)
		mg_buf_u64(&t->frames, (uint64_t)f->line);
	else
		mg_buf_add(&t->frames, "null", 4);
	mg_buf_add(&t->frames, ",", 1);
	if (f->mod >= 0) {
		mg_buf_u64(&t->frames, (uint64_t)f->mod);
		mg_buf_add(&t->frames, ",", 1);
		mg_buf_u64(&t->frames, f->offset);
	} else {
		/* an address in no module can be anything, past 2^53 too: exact as text */
		char hex[32];
		snprintf(hex, sizeof(hex), "null,\"0x%" PRIx64 "\"", f->offset);
		mg_buf_puts(&t->frames, hex);
	}
	mg_buf_puts(&t->frames, f->inlined ? ",1]" : "]");
}

/* the slot of a return address: its frames, or where they go (used 0) */
static struct addr_slot *addr_slot(struct proc_tab *t, const struct mg_frame *raw)
{
	size_t j = slot_hash(raw->addr, raw->offset, raw->module) & (t->cap - 1);
	for (; t->slot[j].used; j = (j + 1) & (t->cap - 1))
		if (t->slot[j].addr == raw->addr && t->slot[j].offset == raw->offset &&
		    t->slot[j].module == raw->module)
			break;
	return &t->slot[j];
}

/* the frames of one return address, symbolized on first sight; NULL: OOM */
static const struct addr_slot *addr_frames(struct proc_tab *t, const struct mg_frame *raw)
{
	if ((t->used + 1) * 2 > t->cap && addr_grow(t) < 0)
		return NULL;
	struct addr_slot *slot = addr_slot(t, raw);
	if (slot->used)
		return slot;
	size_t j = (size_t)(slot - t->slot);
	struct mg_sym_frame sf[MAX_INLINE];
	size_t m = t->sym && raw->module ? mg_symbolize(t->sym, raw->module, raw->build_id,
							raw->build_id_len, raw->offset, sf,
							MAX_INLINE) : 0;
	int64_t mod = raw->module ? module_index(t, raw->module, raw->addr - raw->offset) : -1;
	uint32_t first = t->n_frames;
	if (raw->module && mod < 0)
		return NULL;
	if (!m) {
		memset(&sf[0], 0, sizeof(sf[0]));
		m = 1;
	}
	for (size_t i = 0; i < m; i++) {
		const struct frame_info f = { sf[i].function, sf[i].file, NULL, raw->module,
					      mod >= 0 ? raw->offset : raw->addr, mod, sf[i].line,
					      sf[i].inlined, 0, 0, NULL };
		if (frame_add(t, &f) == UINT32_MAX)
			return NULL;
	}
	t->slot[j] = (struct addr_slot){ raw->addr, raw->offset, raw->module, first,
					 (uint32_t)m, 1 };
	t->used++;
	return &t->slot[j];
}

/* the frame that stands for what the runtime allocated as `owner`: a frame
 * without file or module named "[runtime: OWNER]"; UINT32_MAX: OOM */
static uint32_t owner_frame(struct proc_tab *t, const char *owner)
{
	for (size_t i = 0; i < t->n_owners; i++)
		if (t->owners[i].owner == owner)
			return t->owners[i].frame;
	struct owner_frame *o = realloc(t->owners, (t->n_owners + 1) * sizeof(*o));
	if (!o)
		return UINT32_MAX;
	t->owners = o;
	const struct frame_info f = { NULL, NULL, owner, NULL, 0, -1, 0, 0, 0, 0, NULL };
	uint32_t k = frame_add(t, &f);
	if (k == UINT32_MAX)
		return UINT32_MAX;
	t->owners[t->n_owners++] = (struct owner_frame){ owner, k };
	return k;
}

/* a child of a wide node into the hash; -1: OOM */
static int hash_child(struct proc_tab *t, uint32_t frame, uint32_t p, uint32_t id)
{
	if ((t->n_hashed + 1) * 2 > t->ncap && node_grow(t) < 0)
		return -1;
	size_t j = mix((uint64_t)frame << 32 | p) & (t->ncap - 1);
	while (t->node[j].used)
		j = (j + 1) & (t->ncap - 1);
	t->node[j] = (struct node_slot){ frame, p, id, 1 };
	t->n_hashed++;
	return 0;
}

/*
 * The node of `frame` called from node `parent` (-1: the outermost); -1: OOM.
 * A node's children are a list, most recent first: most nodes have a few
 * (a lookup then touches memory just written); past WIDE children they are
 * also hashed by (frame, parent).
 */
#define WIDE 16
static int64_t node_find(const struct proc_tab *t, uint32_t frame, int64_t parent)
{
	uint32_t p = (uint32_t)(parent + 1), c;
	if (t->tn[p].kids <= WIDE) {
		for (c = t->tn[p].first; c; c = t->tn[c].next)
			if (t->tn[c].frame == frame)
				return (int64_t)c - 1;
	} else {
		size_t j = mix((uint64_t)frame << 32 | p) & (t->ncap - 1);
		for (; t->node[j].used; j = (j + 1) & (t->ncap - 1))
			if (t->node[j].frame == frame && t->node[j].parent == p)
				return t->node[j].id;
	}
	return -2;
}

static int64_t node_of(struct proc_tab *t, uint32_t frame, int64_t parent)
{
	uint32_t p = (uint32_t)(parent + 1), c;
	int64_t found = node_find(t, frame, parent);
	if (found >= 0)
		return found;
	if (t->nused + 2 > t->tn_cap) {
		size_t cap = t->tn_cap * 2;
		struct tnode *n = realloc(t->tn, cap * sizeof(*n));
		if (!n)
			return -1;
		t->tn = n;
		t->tn_cap = cap;
	}
	uint32_t id = (uint32_t)t->nused;
	t->tn[id + 1] = (struct tnode){ frame, 0, t->tn[p].first, 0 };
	t->tn[p].first = id + 1;
	if (++t->tn[p].kids == WIDE + 1) {
		for (c = t->tn[p].first; c; c = t->tn[c].next)
			if (hash_child(t, t->tn[c].frame, p, c - 1) < 0)
				return -1;
	} else if (t->tn[p].kids > WIDE && hash_child(t, frame, p, id) < 0) {
		return -1;
	}
	/* flattened [frame, parent] pairs; a frame is written when first used */
	frame_write(t, frame);
	mg_buf_add(&t->nodes, ",", t->nused ? 1 : 0);
	mg_buf_u64(&t->nodes, t->fi[frame].out);
	mg_buf_add(&t->nodes, ",", 1);
	if (parent < 0)
		mg_buf_add(&t->nodes, "-1", 2);
	else
		mg_buf_u64(&t->nodes, (uint64_t)parent);
	return (int64_t)t->nused++;
}

void mg_stacks_rows_free(uint32_t **rows, size_t n_images)
{
	for (size_t i = 0; rows && i < n_images; i++)
		free(rows[i]);
	free(rows);
}

/* one row of "stacks" */
static void put_row(struct proc_tab *t, uint32_t n_rows, int64_t node, const uint64_t col[6])
{
	mg_buf_add(&t->stacks, n_rows ? ",\n[" : "[", n_rows ? 3 : 1);
	if (node < 0)
		mg_buf_add(&t->stacks, "-1", 2);
	else
		mg_buf_u64(&t->stacks, (uint64_t)node);
	for (int c = 0; c < 6; c++) {
		mg_buf_add(&t->stacks, ",", 1);
		mg_buf_u64(&t->stacks, col[c]);
	}
	mg_buf_add(&t->stacks, "]", 1);
}

struct cand {
	uint64_t key, key2;
	uint32_t img, id;
};

/* largest first, in the order of profile.c's lists (so their stacks are kept) */
static int by_key(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? 1 : -1;
	return x->img != y->img ? (x->img < y->img ? -1 : 1) : (x->id > y->id) - (x->id < y->id);
}

/* 0 when a candidate whose first figure is key cannot enter top: it is full,
 * and its last (by_key's order, largest first) has a larger first figure */
static int may_enter(const struct mg_top *top, uint64_t key)
{
	return top->n < top->k ||
	       (top->n && key >= ((const struct cand *)(const void *)top->e)->key);
}

/* what becomes of a stack in the table (choose) */
enum { S_NONE, S_WHOLE, S_SMALLER };

/*
 * Which stacks are written whole: every stack with bytes at the peak or
 * leaked, and the MG_STACKS_KEEP largest by total_bytes and by allocs;
 * the others with allocations are summed into "[smaller stacks]", and a
 * stack without is left out.  cls[i][id] gets which (S_*), so that the
 * table's passes need not read each stack's counters again.  0, or -1
 * when out of memory.
 */
static int choose(const struct mg_proc *p, uint8_t **cls)
{
	const struct mg_image *last = p->images[p->n_images - 1];
	struct mg_top by_total, by_allocs;
	int ok = mg_top_init(&by_total, MG_STACKS_KEEP, sizeof(struct cand), by_key) == 0;
	ok = mg_top_init(&by_allocs, MG_STACKS_KEEP, sizeof(struct cand), by_key) == 0 && ok;
	for (size_t i = 0; ok && i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		int leak = img == last && p->f.leaked_blocks;
		for (uint32_t id = 0; id < img->n_stacks; id++) {
			const struct mgt_stack *s = &img->stacks[id];
			uint64_t pb = 0, pk = 0;
			if (img == p->peak_image)
				mg_stack_at_peak(img, s, &pb, &pk);
			if (pk || (leak && mgt_stack_blocks(s))) {
				cls[i][id] = S_WHOLE;
				continue;
			}
			if (!s->allocs)
				continue;
			const struct cand c[2] = { { s->total_bytes, s->allocs, (uint32_t)i, id },
						   { s->allocs, s->total_bytes, (uint32_t)i, id } };
			cls[i][id] = S_SMALLER;
			/* most stacks of a deep trace lose to the last of the kept on
			 * the first figure alone: not asked through by_key */
			if (may_enter(&by_total, c[0].key))
				mg_top_add(&by_total, &c[0]);
			if (may_enter(&by_allocs, c[1].key))
				mg_top_add(&by_allocs, &c[1]);
		}
	}
	/* kept whole: the first by either figure (all of them, when few) */
	for (int by = 0; ok && by < 2; by++) {
		const struct mg_top *top = by ? &by_allocs : &by_total;
		for (size_t k = 0; k < top->n; k++) {
			const struct cand *c = (const void *)(top->e + k * sizeof(*c));
			cls[c->img][c->id] = S_WHOLE;
		}
	}
	mg_top_release(&by_total);
	mg_top_release(&by_allocs);
	return ok ? 0 : -1;
}

/*
 * Where a trace node's callers end in the kept stacks' tree, for the stacks
 * summed into "[smaller stacks]": the deepest tree node its chain of frames
 * matches from the outermost, and whether the match goes on (every frame so
 * far matched whole, so a callee may match deeper).  Kept per trace node and
 * module generation, so that each node is looked at once, not once per
 * stack that passes through it: 262k distinct 52-frame stacks are 13.6M
 * frames but 1M nodes (bench/README.md, "Session 8: deep stacks").
 */
enum { MEMO_NONE, MEMO_OPEN, MEMO_CLOSED };
struct trim_memo {
	uint32_t node;                      /* the tree node + 1; 0: the root */
	uint32_t tag;                       /* gen << 2 | state; 0: not found yet */
};
#define MEMO_MAX_GEN (UINT32_MAX >> 2)

/*
 * The memo of trace node nd as found at generation gen: 1 and its tree node
 * and state, or 0.  Eight bytes per trace node, 1M of them in a deep
 * profile: the entry a stack's chain ends at is a miss to memory, and fewer
 * bytes are fewer pages to fault in and fewer lines to miss.
 */
static int memo_at(const struct trim_memo *memo, uint32_t nd, uint64_t gen, int64_t *node,
		   int *open)
{
	uint32_t tag = memo[nd].tag;
	if (tag == MEMO_NONE || tag >> 2 != gen)
		return 0;
	*node = (int64_t)memo[nd].node - 1;
	*open = (tag & 3) == MEMO_OPEN;
	return 1;
}

/* trace node nd's tree node and state, from its caller's (*node, *open) */
static void trim_step(struct proc_tab *t, const struct mg_image *img, uint32_t nd, uint64_t gen,
		      struct mg_frame_cache *c, int64_t *node, int *open)
{
	struct mg_frame raw;
	int64_t next;
	if (*open && mg_trace_node_frame(img, nd, gen, c, &raw)) {
		const struct addr_slot *a = t->cap ? addr_slot(t, &raw) : NULL;
		uint32_t x = a && a->used ? a->n : 0;
		/* a->first is the innermost of the address's inlined frames */
		for (; x > 0 && (next = node_find(t, a->first + x - 1, *node)) >= 0; x--)
			*node = next;
		*open = a && a->used && !x;
	}
}

static void memo_put(struct trim_memo *memo, uint32_t nd, uint64_t gen, int64_t node, int open)
{
	if (node < (int64_t)UINT32_MAX)
		memo[nd] = (struct trim_memo){ (uint32_t)(node + 1),
					       (uint32_t)gen << 2 | (open ? MEMO_OPEN : MEMO_CLOSED) };
}

/*
 * The tree node under which stack id of img is summed: its frames from the
 * outermost while the kept stacks have the same callers (a return address
 * matches when all of its inlined frames do).  chain holds MGT_MAX_DEPTH node
 * ids.  A chain longer than a walk keeps (only in a damaged file) is taken
 * from its innermost MGT_MAX_DEPTH nodes and not remembered.
 */
static int64_t trimmed_node(struct proc_tab *t, const struct mg_image *img, uint32_t id,
			    struct trim_memo *memo, uint32_t *chain)
{
	if (id == 0)
		return -1;                          /* stack 0 has no frames */
	const struct mgt_stack_info *si = &img->info[id];
	uint64_t gen = si->mod_gen;
	uint32_t n = 0, nd = si->node;
	struct mg_frame_cache c = { 0 };
	int64_t node = -1;
	int open = 1, keep = gen <= MEMO_MAX_GEN;
	while (nd && nd < img->n_nodes && !(keep && memo_at(memo, nd, gen, &node, &open))) {
		if (n == MGT_MAX_DEPTH) {
			keep = 0;
			break;
		}
		chain[n++] = nd;
		nd = img->nodes[nd].caller;
	}
	while (n-- > 0) {
		nd = chain[n];
		trim_step(t, img, chain[n], gen, &c, &node, &open);
		if (keep)
			memo_put(memo, nd, gen, node, open);
	}
	return node;
}

/*
 * The memo of every trace node of img at generation gen, front to back (a
 * node's caller comes before it): what trimmed_node finds walking a chain,
 * found once per node in the order the nodes lie.  Walking stack by stack,
 * each smaller stack's chain joins the ones before it at a node anywhere in
 * the memo, a miss to memory each (262k of them on deep_vary, a third of
 * the memgate process's time); here those reads do not wait on each other.
 * Worth it when the smaller stacks are many for the nodes: on deep_vary
 * a node costs ~10 ns here and a stack walked ~110 ns more than one found,
 * so from a twelfth of the nodes on (tests/report/size_test.sh runs both).
 */
static void memo_fill(struct proc_tab *t, const struct mg_image *img, struct trim_memo *memo,
		      uint64_t gen)
{
	struct mg_frame_cache c = { 0 };
	if (gen > MEMO_MAX_GEN)
		return;
	for (uint32_t nd = 1; nd < img->n_nodes; nd++) {
		uint32_t caller = img->nodes[nd].caller;
		int64_t node = -1;
		int open = 1;
		if (caller && !memo_at(memo, caller, gen, &node, &open))
			continue;                   /* its caller's tree node past 2^32 */
		trim_step(t, img, nd, gen, &c, &node, &open);
		memo_put(memo, nd, gen, node, open);
	}
}

/* a stack's frames as indices, innermost first, new return addresses
 * symbolized and added; -1: OOM */
static int stack_frames(struct proc_tab *t, const struct mg_image *img, uint32_t id,
			struct mg_frame *raw, uint32_t *fr, size_t *nf)
{
	size_t n = mg_trace_frames(img, id, raw, MGT_MAX_DEPTH);
	*nf = 0;
	for (size_t k = 0; k < n; k++) {
		const struct addr_slot *a = addr_frames(t, &raw[k]);
		if (!a)
			return -1;
		for (uint32_t x = 0; x < a->n; x++)
			fr[(*nf)++] = a->first + x;
	}
	return 0;
}

/* a stack's frames for mg_runtime_cut: the table and the stack's frames */
struct rt_stack {
	struct proc_tab *t;
	const uint32_t *fr;
};

/* frame i's mg_runtime_frame() answer, asked once per frame of the table */
static const char *frame_rt(size_t i, int *code, void *arg)
{
	const struct rt_stack *st = arg;
	struct frame_info *f = &st->t->fi[st->fr[i]];
	if (!f->rt) {
		const struct mg_site_frame sf = { f->function, f->file, f->line, f->module,
						  f->mod >= 0 ? f->offset : 0 };
		f->rt_owner = mg_runtime_frame(&sf, code);
		f->rt = *code ? 2 : 1;
	}
	*code = f->rt == 2;
	return f->rt_owner;
}

/*
 * A stack of a block the runtime allocates for itself (sites.c,
 * mg_runtime_owner: libtest's start-up, a stdio buffer, libstdc++'s pool) is
 * summarised to where the runtime was called: the outermost frame of the
 * runtime's code around the frame that owns it (mg_runtime_cut: "puts",
 * "test::test_main_static") and its callers, then a frame "[runtime: OWNER]"
 * in place of the runtime's inner frames.  docs/profile-schema.md,
 * "Runtime-owned stacks".  The new number of frames in fr; 0 and t->oom when
 * out of memory.
 */
static size_t runtime_cut(struct proc_tab *t, uint32_t *fr, size_t nf)
{
	struct rt_stack st = { t, fr };
	size_t at, k;
	const char *owner = mg_runtime_cut(nf, frame_rt, &st, &at, &k);
	if (!owner)
		return nf;
	uint32_t of = owner_frame(t, owner);
	if (of == UINT32_MAX) {
		t->oom = 1;
		return 0;
	}
	memmove(fr + 1, fr + k, (nf - k) * sizeof(*fr));
	fr[0] = of;
	return nf - k + 1;
}

int mg_stacks_write(cJSON *o, const struct mg_proc *p, struct mg_symbolizer *sym,
		    struct mg_strtab *st, int whole, uint32_t ***rows_out)
{
	struct proc_tab t = { .st = st, .sym = sym, .whole = whole };
	const struct mg_image *last = p->images[p->n_images - 1];
	struct mg_frame raw[MGT_MAX_DEPTH];
	uint32_t **rows = calloc(p->n_images, sizeof(*rows)), n_rows = 0;
	uint8_t **cls = calloc(p->n_images, sizeof(*cls)); /* S_*, by image and stack id */
	uint32_t *fr = malloc(MGT_MAX_DEPTH * MAX_INLINE * sizeof(*fr));
	/* the last stack, outermost frame first, and its nodes: stacks listed one
	 * after the other mostly share their outer frames, found here without a
	 * lookup (a deep profile has millions of frames) */
	uint32_t *prev_fr = malloc(MGT_MAX_DEPTH * MAX_INLINE * sizeof(*prev_fr));
	int64_t *prev_node = malloc(MGT_MAX_DEPTH * MAX_INLINE * sizeof(*prev_node));
	uint32_t *chain = malloc(MGT_MAX_DEPTH * sizeof(*chain));
	struct trim_memo *memo = NULL;
	uint32_t *other_of = NULL;          /* tree node + 1 -> its "[smaller stacks]" child + 1 */
	uint64_t (*agg)[2] = NULL;
	size_t prev_n = 0, n_agg = 0, agg_cap = 0, n_before;
	int64_t other = -1;                 /* the "[smaller stacks]" frame */

	mg_buf_init(&t.frames, SIZE_MAX);
	mg_buf_init(&t.nodes, SIZE_MAX);
	mg_buf_init(&t.stacks, SIZE_MAX);
	mg_buf_add(&t.frames, "[", 1);
	mg_buf_add(&t.nodes, "[", 1);
	mg_buf_add(&t.stacks, "[", 1);
	t.tn_cap = 1024;
	t.tn = calloc(t.tn_cap, sizeof(*t.tn));
	t.oom = !rows || !cls || !fr || !prev_fr || !prev_node || !chain || !t.tn;
	for (size_t i = 0; !t.oom && i < p->n_images; i++)
		if (!(rows[i] = malloc((p->images[i]->n_stacks + 1) * sizeof(**rows))) ||
		    !(cls[i] = calloc(p->images[i]->n_stacks + 1, 1)))
			t.oom = 1;
	t.oom = t.oom || choose(p, cls) < 0;

	/* the stacks kept whole */
	for (size_t i = 0; !t.oom && i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		int peak = img == p->peak_image, leak = img == last && p->f.leaked_blocks;
		for (uint32_t id = 0; !t.oom && id < img->n_stacks; id++) {
			const struct mgt_stack *s = &img->stacks[id];
			uint64_t pb = 0, pk = 0;
			size_t nf = 0, k = 0;
			int64_t node = -1;
			rows[i][id] = MG_NO_ROW;
			if (cls[i][id] != S_WHOLE)
				continue;
			if (peak)
				mg_stack_at_peak(img, s, &pb, &pk);
			if (stack_frames(&t, img, id, raw, fr, &nf) < 0) {
				t.oom = 1;
				break;
			}
			if (!t.whole)
				nf = runtime_cut(&t, fr, nf);
			/* outermost first, so that a caller's node exists before its callees' */
			while (k < nf && k < prev_n && prev_fr[k] == fr[nf - 1 - k])
				node = prev_node[k++];
			for (; !t.oom && k < nf; k++) {
				prev_fr[k] = fr[nf - 1 - k];
				if ((node = prev_node[k] = node_of(&t, prev_fr[k], node)) < 0)
					t.oom = 1;
			}
			prev_n = nf;
			const uint64_t col[6] = { s->total_bytes, s->allocs, pb, pk,
						  leak ? s->cur_bytes : 0, leak ? mgt_stack_blocks(s) : 0 };
			put_row(&t, n_rows, node, col);
			rows[i][id] = n_rows++;
		}
	}

	/*
	 * The others (only allocations, neither at the peak nor leaked): each is
	 * summed into a "[smaller stacks]" frame under the deepest of its callers
	 * that a kept stack has too, so every figure still adds up.  Only these
	 * frames are new nodes here, one per such caller, in order.
	 */
	n_before = t.nused;
	if (!t.oom && !(other_of = calloc(n_before + 1, sizeof(*other_of))))
		t.oom = 1;
	for (size_t i = 0; !t.oom && i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		/* cleared by hand, not calloc'd: a fresh mapping's pages read
		 * first are the zero page, then faulted in again at the first
		 * write, two faults a page (~10 ms of 1M nodes' 8 MB) */
		size_t memo_len = ((size_t)img->n_nodes + 1) * sizeof(*memo);
		free(memo);
		if (!(memo = malloc(memo_len))) {
			t.oom = 1;
			break;
		}
		memset(memo, 0, memo_len);
		uint32_t n_trim = 0, first = 0;
		for (uint32_t id = img->n_stacks; id-- > 1;)
			if (cls[i][id] == S_SMALLER) {
				n_trim++;
				first = id;
			}
		if (n_trim && n_trim >= img->n_nodes / 12)
			memo_fill(&t, img, memo, img->info[first].mod_gen);
		for (uint32_t id = 0; !t.oom && id < img->n_stacks; id++) {
			const struct mgt_stack *s = &img->stacks[id];
			int64_t node;
			if (cls[i][id] != S_SMALLER)
				continue;
			if (other < 0) {
				const struct frame_info f = { "[smaller stacks]", NULL, NULL, NULL,
							      0, -1, 0, 0, 0, 0, NULL };
				uint32_t of = frame_add(&t, &f);
				if (of == UINT32_MAX) {
					t.oom = 1;
					break;
				}
				other = of;
			}
			/* its "[smaller stacks]" child, known without walking the
			 * children of a node anywhere in the tree once per stack */
			node = trimmed_node(&t, img, id, memo, chain);
			uint32_t *known = &other_of[node + 1];
			if (*known) {
				node = (int64_t)*known - 1;
			} else if ((node = node_of(&t, (uint32_t)other, node)) < 0) {
				t.oom = 1;
				break;
			} else {
				*known = (uint32_t)node + 1;
			}
			size_t a = (size_t)node - n_before;
			if (a == n_agg) {
				if (n_agg == agg_cap) {
					agg_cap = agg_cap ? agg_cap * 2 : 64;
					uint64_t (*g)[2] = realloc(agg, agg_cap * sizeof(*agg));
					if (!g) {
						t.oom = 1;
						break;
					}
					agg = g;
				}
				agg[n_agg][0] = agg[n_agg][1] = 0;
				n_agg++;
			}
			agg[a][0] += s->total_bytes;
			agg[a][1] += s->allocs;
		}
	}
	for (size_t a = 0; !t.oom && a < n_agg; a++) {
		const uint64_t col[6] = { agg[a][0], agg[a][1], 0, 0, 0, 0 };
		put_row(&t, n_rows++, (int64_t)(n_before + a), col);
	}
	mg_buf_add(&t.frames, "]", 1);
	mg_buf_add(&t.nodes, "]", 1);
	mg_buf_add(&t.stacks, "]", 1);
	t.oom |= t.frames.failed || t.nodes.failed || t.stacks.failed;

	cJSON *mods = t.oom ? NULL : cJSON_CreateArray();
	for (size_t i = 0; mods && i < t.n_mod; i++) {
		int64_t s = intern(st, t.mod[i].path);
		cJSON *m = cJSON_CreateArray();
		cJSON_AddItemToArray(m, cJSON_CreateNumber((double)s));
		cJSON_AddItemToArray(m, cJSON_CreateNumber((double)t.mod[i].base));
		cJSON_AddItemToArray(mods, m);
		t.oom |= s < 0;
	}
	if (!t.oom) {
		cJSON_AddItemToObject(o, "modules", mods);
		cJSON_AddItemToObject(o, "frames", cJSON_CreateRaw(mg_buf_str(&t.frames)));
		cJSON_AddItemToObject(o, "nodes", cJSON_CreateRaw(mg_buf_str(&t.nodes)));
		cJSON_AddItemToObject(o, "stacks", cJSON_CreateRaw(mg_buf_str(&t.stacks)));
	} else {
		cJSON_Delete(mods);
		mg_stacks_rows_free(rows, p->n_images);
		rows = NULL;
	}
	*rows_out = rows;
	for (size_t i = 0; cls && i < p->n_images; i++)
		free(cls[i]);
	free(cls);
	free(agg);
	free(fr);
	free(t.fi);
	free(t.owners);
	free(prev_fr);
	free(prev_node);
	free(chain);
	free(memo);
	free(other_of);
	free(t.slot);
	free(t.node);
	free(t.tn);
	free(t.mod);
	mg_buf_release(&t.frames);
	mg_buf_release(&t.nodes);
	mg_buf_release(&t.stacks);
	return t.oom ? -1 : 0;
}

/* ------------------------------------------------------------ reading back */

/* cJSON arrays are linked lists: index them once */
static const cJSON **index_array(const cJSON *a, size_t *n)
{
	const cJSON *it;
	size_t k = 0;
	*n = (size_t)cJSON_GetArraySize(a);
	const cJSON **v = malloc((*n + 1) * sizeof(*v));
	if (v)
		cJSON_ArrayForEach(it, a)
			v[k++] = it;
	return v;
}

static int num_at(const cJSON *a, int i, int64_t *out)
{
	const cJSON *v = cJSON_GetArrayItem(a, i);
	if (!cJSON_IsNumber(v))
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* one FRAME object (docs/profile-schema.md) from a "frames" entry */
static cJSON *frame_object(const cJSON *f, const cJSON **strings, size_t n_strings,
			   const cJSON **mods, size_t n_mods)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *fn = cJSON_GetArrayItem(f, 0), *file = cJSON_GetArrayItem(f, 1);
	const cJSON *line = cJSON_GetArrayItem(f, 2), *mod = cJSON_GetArrayItem(f, 3);
	int64_t off = 0, base = 0, ms = -1;
	char hex[24];
	/* a number, or "0x...": an address outside every module */
	const char *hoff = cJSON_GetStringValue(cJSON_GetArrayItem(f, 4));
	uint64_t uoff = hoff && !strncmp(hoff, "0x", 2) ? strtoull(hoff + 2, NULL, 16) : 0;
	if (!o || (!hoff && num_at(f, 4, &off) < 0) || (hoff && strncmp(hoff, "0x", 2)))
		goto bad;
	if (!hoff)
		uoff = (uint64_t)off;
	const char *const keys[2] = { "function", "file" };
	const cJSON *const ids[2] = { fn, file };
	for (int k = 0; k < 2; k++) {
		if (cJSON_IsNumber(ids[k]) && ids[k]->valuedouble >= 0 &&
		    (size_t)ids[k]->valuedouble < n_strings)
			cJSON_AddItemToObject(o, keys[k], cJSON_Duplicate(strings[(size_t)ids[k]->valuedouble], 0));
		else if (cJSON_IsNull(ids[k]))
			cJSON_AddNullToObject(o, keys[k]);
		else
			goto bad;
	}
	if (cJSON_IsNumber(line))
		cJSON_AddNumberToObject(o, "line", line->valuedouble);
	else
		cJSON_AddNullToObject(o, "line");
	if (cJSON_GetArraySize(f) > 5)
		cJSON_AddTrueToObject(o, "inlined");
	if (cJSON_IsNumber(mod)) {
		if (mod->valuedouble < 0 || (size_t)mod->valuedouble >= n_mods ||
		    num_at(mods[(size_t)mod->valuedouble], 0, &ms) < 0 ||
		    num_at(mods[(size_t)mod->valuedouble], 1, &base) < 0 || ms < 0 ||
		    (size_t)ms >= n_strings)
			goto bad;
	}
	cJSON_AddStringToObject(o, "addr", mg_hex64(hex, (uint64_t)base + uoff));
	if (ms >= 0)
		cJSON_AddItemToObject(o, "module", cJSON_Duplicate(strings[ms], 0));
	else
		cJSON_AddNullToObject(o, "module");
	cJSON_AddStringToObject(o, "offset", mg_hex64(hex, uoff));
	return o;
bad:
	cJSON_Delete(o);
	return NULL;
}

static const char *const lists[] = { "peak_stacks", "leak_stacks", "top_stacks_by_bytes",
				     "top_stacks_by_allocs" };

int mg_profile_expand(cJSON *doc)
{
	const cJSON *sa = cJSON_GetObjectItem(doc, "strings");
	cJSON *p;
	size_t n_strings = 0;
	const cJSON **strings = cJSON_IsArray(sa) ? index_array(sa, &n_strings) : NULL;
	int ret = 0;

	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "processes")) {
		const cJSON *fa = cJSON_GetObjectItem(p, "frames"), *na = cJSON_GetObjectItem(p, "nodes");
		const cJSON *sta = cJSON_GetObjectItem(p, "stacks"), *ma = cJSON_GetObjectItem(p, "modules");
		size_t n_frames, n_nodes, n_stacks, n_mods;
		if (!cJSON_IsArray(fa) || !cJSON_IsArray(na) || !cJSON_IsArray(sta) ||
		    !cJSON_IsArray(ma) || !strings)
			continue;               /* schema 1, or fresh from mg_profile_build */
		const cJSON **frames = index_array(fa, &n_frames), **nodes = index_array(na, &n_nodes);
		const cJSON **stacks = index_array(sta, &n_stacks), **mods = index_array(ma, &n_mods);
		for (size_t l = 0; frames && nodes && stacks && mods && l < 4; l++) {
			cJSON *e;
			cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, lists[l])) {
				int64_t row, node, fi;
				cJSON *arr;
				size_t depth = 0;
				if (cJSON_GetObjectItem(e, "frames") ||
				    !cJSON_IsNumber(cJSON_GetObjectItem(e, "stack")))
					continue;
				row = (int64_t)cJSON_GetObjectItem(e, "stack")->valuedouble;
				if (row < 0 || (size_t)row >= n_stacks ||
				    num_at(stacks[row], 0, &node) < 0 || !(arr = cJSON_CreateArray())) {
					ret = -1;
					continue;
				}
				/* innermost first; parents come before children, so this ends */
				while (node >= 0 && (size_t)node * 2 + 1 < n_nodes && depth++ < n_nodes) {
					int64_t parent;
					cJSON *fo;
					if (!cJSON_IsNumber(nodes[node * 2]) ||
					    !cJSON_IsNumber(nodes[node * 2 + 1]))
						break;
					fi = (int64_t)nodes[node * 2]->valuedouble;
					parent = (int64_t)nodes[node * 2 + 1]->valuedouble;
					if (fi < 0 || (size_t)fi >= n_frames || parent >= node ||
					    !(fo = frame_object(frames[fi], strings, n_strings, mods, n_mods)))
						break;
					cJSON_AddItemToArray(arr, fo);
					node = parent;
				}
				if (node >= 0)
					ret = -1;       /* a broken chain: the frames read so far */
				cJSON_AddItemToObject(e, "frames", arr);
			}
		}
		if (!frames || !nodes || !stacks || !mods)
			ret = -1;
		free(frames);
		free(nodes);
		free(stacks);
		free(mods);
	}
	free(strings);
	return ret;
}

char *mg_profile_print(const cJSON *cdoc)
{
	cJSON *doc = (cJSON *)cdoc;         /* lists' frames go out and come back in order */
	cJSON *p, *e, *held = cJSON_CreateArray();
	char *text;
	if (!held)
		return NULL;
	/* a list entry's frames are its stack's, written once in the table:
	 * left out while printing (held in order), then put back */
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "processes"))
		for (size_t l = 0; l < 4; l++)
			cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, lists[l]))
				if (cJSON_GetObjectItem(e, "stack") && cJSON_GetObjectItem(e, "frames"))
					cJSON_AddItemToArray(held, cJSON_DetachItemFromObject(e, "frames"));
	text = mg_json_print_compact(doc);
	cJSON *f = held->child;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "processes"))
		for (size_t l = 0; l < 4; l++)
			cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, lists[l]))
				if (cJSON_GetObjectItem(e, "stack") && !cJSON_GetObjectItem(e, "frames") && f) {
					cJSON *next = f->next;
					cJSON_AddItemToObject(e, "frames", cJSON_DetachItemViaPointer(held, f));
					f = next;
				}
	cJSON_Delete(held);
	return text;
}
