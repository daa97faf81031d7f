/* unwind.c - call stacks from the call-frame information (.eh_frame), x86-64
 *
 * Code built without frame pointers (gcc's default -O2, Debian's libc and
 * libstdc++, Rust's std) still says, in .eh_frame, how to find each frame's
 * caller: for every instruction, the CFA (the caller's stack pointer) as a
 * register plus an offset, and where the return address and the saved
 * registers lie relative to it.  The walk here needs three of those rules per
 * frame: the CFA (rsp or rbp plus an offset), the return address (at CFA-8 on
 * x86-64) and rbp (unchanged, or saved at CFA+k), which is what the next
 * frame's rule may be based on.
 *
 * A rule is one 64-bit word (see RULE_*), looked up by return address in a
 * direct-mapped cache that readers use without a lock; a miss finds the
 * module, binary-searches its .eh_frame_hdr table, and runs that one FDE's
 * CIE and FDE programs up to the address.  Misses happen once per distinct
 * return address (docs/config.md, `stack-unwind`, gives the measured costs).
 * Most stacks are not walked at all: each thread remembers its last walk
 * (the memo) and snapshots of whole stacks by where they begin, and copies
 * their frames once the stack words they were read from are checked.
 *
 * Safety (the walk runs inside allocations of other people's programs):
 * - no malloc, no lock, no libc: the cache is our own mmap, the module table
 *   static, and reads of the program's stack stay inside the thread's stack
 *   bounds; each frame's CFA must lie strictly above the last, so a walk
 *   always ends, and at most `max` frames.
 * - reads of .eh_frame stay inside the module's mapped span, and a module is
 *   never read while the program unmaps one: dlclose's hook raises an unload
 *   sequence and waits until no miss is in flight (mgt_unwind_unload_begin),
 *   and every rule cached before carries an older generation, so it is not
 *   used for code loaded at the same address afterwards.
 * - what the compact rule cannot say (the CFA in another register, an
 *   expression other than the PLT's and stack realignment's, the return
 *   address elsewhere) ends the walk at that frame; a signal frame
 *   (glibc's __restore_rt, CIE augmentation "S", its code checked) continues
 *   from the interrupted registers saved in the ucontext; code with no FDE
 *   (JIT, assembly without CFI, objects loaded behind the loader hooks) is
 *   stepped over with its frame pointer, when that looks sane.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "unwind.h"

/* ---- rules ---- */

enum {
	K_EMPTY = 0,
	K_RSP,          /* CFA = rsp + off */
	K_RBP,          /* CFA = rbp + off */
	K_DEREF,        /* CFA = *(rbp + off): a realigned frame (gcc's DRAP) */
	K_PLT,          /* CFA = rsp + 8, + 8 when (pc & 15) >= off: a PLT stub */
	K_SIGNAL,       /* a signal return trampoline: registers in the ucontext */
	K_END,          /* the return address is undefined: the outermost frame */
	K_NOFDE,        /* no CFI: step with the frame pointer */
	K_STOP,         /* a rule the compact form cannot say */
};
enum { BP_SAME = 0, BP_CFA, BP_RBP };   /* rbp unchanged, at CFA + 8k, at rbp + 8k */

/* off:s32 (bits 0-31) | kind:4 (32-35) | bp:2 (36-37) | uses rbp:1 (38) |
 * keeps rbp:1 (39) | bpoff:s24 (40-63, bytes): the walk takes each field
 * with one or two instructions; bits 38 and 39 are for the memo (below) */
#define RULE(kind, bp, bpoff, off) ((uint64_t)(uint32_t)(int32_t)(off) |                 \
				    (uint64_t)(kind) << 32 | (uint64_t)(bp) << 36 |      \
				    (uint64_t)((kind) == K_RBP || (bp) == BP_RBP) << 38 | \
				    (uint64_t)((bp) == BP_SAME) << 39 |                  \
				    ((uint64_t)(bpoff) & 0xffffff) << 40)
#define RULE_KIND(r)  ((unsigned)((r) >> 32 & 15))
#define RULE_BP(r)    ((unsigned)((r) >> 36 & 3))
#define RULE_BPOFF(r) ((int64_t)(r) >> 40)
#define RULE_OFF(r)   ((int64_t)(int32_t)(uint32_t)(r))
#define BPOFF_MAX     ((1 << 23) - 1)
/* a cached entry's key is address ^ rule ^ (generation << GEN_SHIFT): user
 * addresses stay below 2^47, so the generation never meets their bits */
#define GEN_SHIFT 48
#define GEN_MASK  0xffffu

/* ---- the cache: return address -> rule ---- */

#define CACHE_BITS 15u                  /* 32k entries, 512 KiB reserved, touched as used */
struct centry {
	_Atomic uint64_t key;           /* address ^ rule ^ generation: a torn pair does not match */
	_Atomic uint64_t rule;
};
static struct centry *cache;

_Atomic uint32_t mgt_unload_gen;        /* its low GEN_MASK bits tag each cached rule */
static _Atomic uint32_t unload_seq;     /* odd while a dlclose is under way */
static _Atomic int in_flight;           /* misses reading some module's CFI */

/* ---- modules ---- */

/* glibc 2.35+: lock-free and async-signal-safe (glibc manual, "Dynamic
 * Linker Introspection"); weak, so older libcs still load us */
#pragma weak _dl_find_object

#define UMODS 512u
struct umod {
	_Atomic int alive;
	uintptr_t base, lo, hi;         /* load bias, mapped span */
	const int32_t *table;           /* .eh_frame_hdr's search table (datarel sdata4 pairs) */
	uintptr_t hdr;                  /* its base for the datarel values */
	uint32_t count;
};
static struct umod mods[UMODS];
static _Atomic uint32_t n_mods;

/* ---- reading CFI, bounded by the module's span ---- */

struct rd {
	const uint8_t *p, *end;
	uintptr_t lo;
	int bad;
};

static inline uint8_t rd_u8(struct rd *r)
{
	if (r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

static uint64_t rd_fixed(struct rd *r, unsigned n)
{
	uint64_t v = 0;
	if ((size_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

/* LEB128, unsigned or (sign) signed */
static uint64_t rd_leb(struct rd *r, int sign)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		b = rd_u8(r);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) && !r->bad);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return v;
}
#define rd_uleb(r) rd_leb((r), 0)
#define rd_sleb(r) ((int64_t)rd_leb((r), 1))

/* a DW_EH_PE-encoded pointer; indirection is not followed (only the
 * personality uses it, and it is skipped) */
static uintptr_t rd_ptr(struct rd *r, uint8_t enc, uintptr_t datarel)
{
	uintptr_t pos = (uintptr_t)r->p, v;
	if (enc == 0xff)
		return 0;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: v = (uintptr_t)rd_fixed(r, 8); break;
	case 0x01: v = (uintptr_t)rd_uleb(r); break;
	case 0x02: v = (uintptr_t)rd_fixed(r, 2); break;
	case 0x03: v = (uintptr_t)rd_fixed(r, 4); break;
	case 0x09: v = (uintptr_t)rd_sleb(r); break;
	case 0x0a: v = (uintptr_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
	case 0x0b: v = (uintptr_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += pos; break;
	case 0x30: v += datarel; break;
	default: r->bad = 1; return 0;
	}
	return v;
}

/* ---- the CFA program ---- */

enum { R_SAME = 0, R_OFF, R_EXPR, R_UNDEF, R_OTHER };
struct reg {
	uint8_t how;
	int64_t off;                    /* R_OFF: at CFA + off */
	const uint8_t *expr;            /* R_EXPR */
	uint64_t len;
};
struct row {
	unsigned cfa_reg;               /* DWARF register; CFA_EXPR: cfa_expr */
	int64_t cfa_off;
	const uint8_t *cfa_expr;
	uint64_t cfa_len;
	struct reg bp, ra;
};
#define CFA_EXPR 0xffffu
#define DW_RBP 6u
#define DW_RSP 7u
#define DW_RA 16u
#define MAX_STEPS 20000                 /* CFA instructions run for one lookup */

struct cie {
	uint64_t caf;
	int64_t daf;
	uint8_t fde_enc;
	int zaug, signal;
	unsigned ra_reg;
	const uint8_t *insns, *end;
};

static struct reg *reg_of(struct row *s, uint64_t reg, unsigned ra_reg)
{
	if (reg == DW_RBP)
		return &s->bp;
	if (reg == ra_reg)
		return &s->ra;
	return NULL;
}

/* runs insns while the location stays <= target; 0 ok, -1 unsupported */
static int run(struct rd *r, const struct cie *c, const struct row *init, struct row *s,
	       uintptr_t loc, uintptr_t target, uintptr_t datarel, int *steps)
{
	struct row saved[8];
	unsigned nsaved = 0;
	while (r->p < r->end && !r->bad) {
		if (++*steps > MAX_STEPS)
			return -1;
		uint8_t op = rd_u8(r);
		struct reg *g;
		uint64_t reg, delta = 0;
		int advance = 0;
		switch (op & 0xc0) {
		case 0x40:
			delta = (op & 0x3f) * c->caf;
			advance = 1;
			break;
		case 0x80:
			if ((g = reg_of(s, op & 0x3f, c->ra_reg))) {
				g->how = R_OFF;
				g->off = (int64_t)rd_uleb(r) * c->daf;
			} else {
				rd_uleb(r);
			}
			continue;
		case 0xc0:
			if ((g = reg_of(s, op & 0x3f, c->ra_reg)))
				*g = *reg_of((struct row *)init, op & 0x3f, c->ra_reg);
			continue;
		}
		if (!advance) {
			switch (op) {
			case 0x00: /* nop */
				continue;
			case 0x01: /* set_loc */
				loc = rd_ptr(r, c->fde_enc, datarel);
				if (loc > target)
					return 0;
				continue;
			case 0x02: delta = rd_fixed(r, 1) * c->caf; break;
			case 0x03: delta = rd_fixed(r, 2) * c->caf; break;
			case 0x04: delta = rd_fixed(r, 4) * c->caf; break;
			case 0x05: /* offset_extended */
			case 0x11: /* offset_extended_sf */
			case 0x2f: { /* GNU_negative_offset_extended */
				reg = rd_uleb(r);
				int64_t off = op == 0x05 ? (int64_t)rd_uleb(r) * c->daf :
					      op == 0x11 ? rd_sleb(r) * c->daf :
							   -(int64_t)rd_uleb(r) * c->daf;
				if ((g = reg_of(s, reg, c->ra_reg))) {
					g->how = R_OFF;
					g->off = off;
				}
				continue;
			}
			case 0x06: /* restore_extended */
				reg = rd_uleb(r);
				if ((g = reg_of(s, reg, c->ra_reg)))
					*g = *reg_of((struct row *)init, reg, c->ra_reg);
				continue;
			case 0x07: /* undefined */
			case 0x08: /* same_value */
				if ((g = reg_of(s, rd_uleb(r), c->ra_reg)))
					g->how = op == 0x07 ? R_UNDEF : R_SAME;
				continue;
			case 0x09: /* register */
				reg = rd_uleb(r);
				rd_uleb(r);
				if ((g = reg_of(s, reg, c->ra_reg)))
					g->how = R_OTHER;
				continue;
			case 0x0a: /* remember_state */
				if (nsaved == 8)
					return -1;
				saved[nsaved++] = *s;
				continue;
			case 0x0b: /* restore_state */
				if (!nsaved)
					return -1;
				*s = saved[--nsaved];
				continue;
			case 0x0c: /* def_cfa */
				s->cfa_reg = (unsigned)rd_uleb(r);
				s->cfa_off = (int64_t)rd_uleb(r);
				continue;
			case 0x12: /* def_cfa_sf */
				s->cfa_reg = (unsigned)rd_uleb(r);
				s->cfa_off = rd_sleb(r) * c->daf;
				continue;
			case 0x0d: /* def_cfa_register */
				s->cfa_reg = (unsigned)rd_uleb(r);
				continue;
			case 0x0e: /* def_cfa_offset */
				s->cfa_off = (int64_t)rd_uleb(r);
				continue;
			case 0x13: /* def_cfa_offset_sf */
				s->cfa_off = rd_sleb(r) * c->daf;
				continue;
			case 0x0f: /* def_cfa_expression */
				s->cfa_len = rd_uleb(r);
				s->cfa_expr = r->p;
				s->cfa_reg = CFA_EXPR;
				if (s->cfa_len > (uint64_t)(r->end - r->p))
					return -1;
				r->p += s->cfa_len;
				continue;
			case 0x10: /* expression */
			case 0x16: { /* val_expression */
				reg = rd_uleb(r);
				uint64_t len = rd_uleb(r);
				if (len > (uint64_t)(r->end - r->p))
					return -1;
				if ((g = reg_of(s, reg, c->ra_reg))) {
					g->how = op == 0x10 ? R_EXPR : R_OTHER;
					g->expr = r->p;
					g->len = len;
				}
				r->p += len;
				continue;
			}
			case 0x14: /* val_offset */
			case 0x15: /* val_offset_sf */
				reg = rd_uleb(r);
				rd_uleb(r);
				if ((g = reg_of(s, reg, c->ra_reg)))
					g->how = R_OTHER;
				continue;
			case 0x2e: /* GNU_args_size */
				rd_uleb(r);
				continue;
			default:
				return -1;
			}
		}
		if (loc + delta > target)
			return 0;
		loc += delta;
	}
	return r->bad ? -1 : 0;
}

/* a CIE or FDE at `at`: r covers its body; returns the size of its id field
 * (4, or 8 in the 64-bit format), 0 when the length is bad */
static unsigned open_entry(const struct umod *m, uintptr_t at, struct rd *r)
{
	*r = (struct rd){ (const uint8_t *)at, (const uint8_t *)m->hi, m->lo, 0 };
	uint64_t len = rd_fixed(r, 4);
	unsigned idsz = 4;
	if (len == 0xffffffffu) {
		len = rd_fixed(r, 8);
		idsz = 8;
	}
	if (r->bad || !len || len > (uint64_t)(r->end - r->p))
		return 0;
	r->end = r->p + len;
	return idsz;
}

static int parse_cie(const struct umod *m, uintptr_t at, struct cie *c)
{
	struct rd r;
	unsigned idsz = open_entry(m, at, &r);
	if (!idsz || rd_fixed(&r, idsz) != 0)
		return -1;                    /* not a CIE */
	uint8_t version = rd_u8(&r);
	const char *aug = (const char *)r.p;
	while (rd_u8(&r))
		;
	if (r.bad || (version != 1 && version != 3 && version != 4))
		return -1;
	if (aug[0] == 'e' && aug[1] == 'h')
		rd_fixed(&r, 8);
	if (version == 4)
		rd_fixed(&r, 2);              /* address size, segment size */
	c->caf = rd_uleb(&r);
	c->daf = rd_sleb(&r);
	c->ra_reg = version == 1 ? rd_u8(&r) : (unsigned)rd_uleb(&r);
	c->fde_enc = 0;                       /* absptr */
	c->zaug = 0;
	c->signal = 0;
	const uint8_t *aug_end = NULL;
	for (const char *a = aug; *a; a++) {
		switch (*a) {
		case 'z': {
			uint64_t n = rd_uleb(&r);
			if (n > (uint64_t)(r.end - r.p))
				return -1;
			aug_end = r.p + n;
			c->zaug = 1;
			break;
		}
		case 'L': rd_u8(&r); break;
		case 'P': { uint8_t e = rd_u8(&r); rd_ptr(&r, e & 0x7f, 0); break; }
		case 'R': c->fde_enc = rd_u8(&r); break;
		case 'S': c->signal = 1; break;
		case 'B': break;
		case 'e': if (a[1] == 'h') a++; break;
		default:
			if (!aug_end)
				return -1;            /* unknown, and no length to skip it */
			goto aug_done;                /* skip the rest */
		}
		if (r.bad)
			return -1;
	}
aug_done:
	if (aug_end)
		r.p = aug_end;
	c->insns = r.p;
	c->end = r.end;
	return r.bad || !c->caf ? -1 : 0;
}

/* DW_OP_breg<reg> <sleb> alone: 0 and *off set, else -1 */
static int expr_breg(const uint8_t *e, uint64_t len, unsigned reg, int64_t *off, uint64_t *used)
{
	struct rd r = { e, e + len, 0, 0 };
	if (rd_u8(&r) != 0x70 + reg)
		return -1;
	*off = rd_sleb(&r);
	*used = (uint64_t)(r.p - e);
	return r.bad ? -1 : 0;
}

static uint64_t classify(const struct row *s, const struct cie *c, uintptr_t pc,
			 const struct umod *m)
{
	static const uint8_t sigreturn[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	if (c->signal) {
		/* mov $15, %rax; syscall (rt_sigreturn) at the return address */
		if (pc + 1 + sizeof(sigreturn) > m->hi)
			return RULE(K_STOP, 0, 0, 0);
		for (unsigned i = 0; i < sizeof(sigreturn); i++)
			if (((const uint8_t *)pc + 1)[i] != sigreturn[i])
				return RULE(K_STOP, 0, 0, 0);
		return RULE(K_SIGNAL, 0, 0, 0);
	}
	if (s->ra.how == R_UNDEF)
		return RULE(K_END, 0, 0, 0);
	if (s->ra.how != R_OFF || s->ra.off != -8)
		return RULE(K_STOP, 0, 0, 0);

	unsigned bp = BP_SAME;
	int64_t bpoff = 0, off, x;
	uint64_t used;
	if (s->bp.how == R_OFF) {
		bp = BP_CFA;
		bpoff = s->bp.off;
	} else if (s->bp.how == R_EXPR) {
		if (expr_breg(s->bp.expr, s->bp.len, DW_RBP, &x, &used) || used != s->bp.len)
			return RULE(K_STOP, 0, 0, 0);
		bp = BP_RBP;
		bpoff = x;
	} else if (s->bp.how == R_OTHER) {
		return RULE(K_STOP, 0, 0, 0);
	}
	if (bpoff < -BPOFF_MAX || bpoff > BPOFF_MAX)
		return RULE(K_STOP, 0, 0, 0);

	unsigned kind;
	off = s->cfa_off;
	if (s->cfa_reg == DW_RSP) {
		kind = K_RSP;
	} else if (s->cfa_reg == DW_RBP) {
		kind = K_RBP;
	} else if (s->cfa_reg == CFA_EXPR) {
		static const uint8_t plt[] = { 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x00, 0x2a,
					       0x33, 0x24, 0x22 };
		const uint8_t *e = s->cfa_expr;
		int is_plt = s->cfa_len == sizeof(plt);
		for (unsigned i = 0; is_plt && i < sizeof(plt); i++)
			if (i != 6 && e[i] != plt[i])
				is_plt = 0;
		if (is_plt && e[6] >= 0x30 && e[6] <= 0x4f) {
			kind = K_PLT;             /* breg7 8; breg16 0; lit15; and; litN; ge; lit3; shl; plus */
			off = e[6] - 0x30;
		} else if (!expr_breg(e, s->cfa_len, DW_RBP, &x, &used) && used + 1 == s->cfa_len &&
			   e[used] == 0x06) {
			kind = K_DEREF;           /* breg6 x; deref */
			off = x;
		} else {
			return RULE(K_STOP, 0, 0, 0);
		}
	} else {
		return RULE(K_STOP, 0, 0, 0);
	}
	if (off < INT32_MIN || off > INT32_MAX)
		return RULE(K_STOP, 0, 0, 0);
	return RULE(kind, bp, bpoff, off);
}

/* .eh_frame_hdr at h: version 1; eh_frame_ptr, fde_count and table
 * encodings; the table must be datarel sdata4 pairs (what every linker writes) */
static void set_hdr(struct umod *m, const uint8_t *h)
{
	if ((uintptr_t)h < m->lo || (uintptr_t)h + 4 > m->hi || h[0] != 1 || h[3] != 0x3b)
		return;
	struct rd r = { h + 4, (const uint8_t *)m->hi, m->lo, 0 };
	rd_ptr(&r, h[1], (uintptr_t)h);
	uint64_t count = rd_ptr(&r, h[2], (uintptr_t)h);
	if (!r.bad && !((uintptr_t)r.p & 3) && count <= (uint64_t)((const uint8_t *)m->hi - r.p) / 8) {
		m->table = (const int32_t *)r.p;
		m->hdr = (uintptr_t)h;
		m->count = (uint32_t)count;
	}
}

static const struct umod *find_module(uintptr_t addr)
{
	uint32_t n = atomic_load_explicit(&n_mods, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++) {
		const struct umod *m = &mods[i];
		if (atomic_load_explicit(&m->alive, memory_order_acquire) && addr >= m->lo &&
		    addr < m->hi)
			return m;
	}
	return NULL;
}

/* the rule at addr from the module's CFI; *cacheable = 0 when it may change */
static uint64_t compute(uintptr_t addr, int *cacheable)
{
	const struct umod *m = find_module(addr);
	struct umod other = { 0 };
	struct dl_find_object fo;
	if (!m) {
		/* not seen by our loader hooks yet (allocations before our
		 * constructor, in a library's constructor inside dlopen, in
		 * objects libc loads itself): ask the loader, without a lock */
		if (!_dl_find_object || _dl_find_object((void *)addr, &fo) != 0) {
			*cacheable = 0;       /* no object: look again later */
			return RULE(K_NOFDE, 0, 0, 0);
		}
		other.lo = (uintptr_t)fo.dlfo_map_start;
		other.hi = (uintptr_t)fo.dlfo_map_end;
		if (fo.dlfo_eh_frame)
			set_hdr(&other, fo.dlfo_eh_frame);
		m = &other;
	}
	if (!m->count || addr < m->hdr + (uintptr_t)(intptr_t)m->table[0])
		return RULE(K_NOFDE, 0, 0, 0);
	/* the last entry whose start is <= addr */
	uint32_t a = 0, b = m->count;
	while (b - a > 1) {
		uint32_t mid = a + (b - a) / 2;
		if (m->hdr + (uintptr_t)(intptr_t)m->table[2 * mid] <= addr)
			a = mid;
		else
			b = mid;
	}
	uintptr_t fde = m->hdr + (uintptr_t)(intptr_t)m->table[2 * a + 1];
	if (fde < m->lo || fde >= m->hi)
		return RULE(K_NOFDE, 0, 0, 0);
	struct rd r;
	unsigned idsz = open_entry(m, fde, &r);
	if (!idsz)
		return RULE(K_STOP, 0, 0, 0);
	uintptr_t idpos = (uintptr_t)r.p;
	uint64_t cie_off = rd_fixed(&r, idsz);
	if (!cie_off || cie_off > idpos - m->lo)
		return RULE(K_STOP, 0, 0, 0);
	struct cie c;
	if (parse_cie(m, idpos - cie_off, &c))
		return RULE(K_STOP, 0, 0, 0);
	uintptr_t begin = rd_ptr(&r, c.fde_enc, m->hdr);
	uintptr_t range = rd_ptr(&r, c.fde_enc & 0x0f, 0);
	if (r.bad)
		return RULE(K_STOP, 0, 0, 0);
	if (addr < begin || addr - begin >= range)
		return RULE(K_NOFDE, 0, 0, 0); /* a gap between FDEs */
	if (c.zaug) {
		uint64_t n = rd_uleb(&r);
		if (n > (uint64_t)(r.end - r.p))
			return RULE(K_STOP, 0, 0, 0);
		r.p += n;
	}

	struct row init = { .cfa_reg = DW_RSP, .cfa_off = 8 }, s;
	init.ra.how = R_UNDEF;
	int steps = 0;
	struct rd ci = { c.insns, c.end, m->lo, 0 };
	if (run(&ci, &c, &init, &init, 0, UINTPTR_MAX, m->hdr, &steps))
		return RULE(K_STOP, 0, 0, 0);
	s = init;
	if (run(&r, &c, &init, &s, begin, addr, m->hdr, &steps))
		return RULE(K_STOP, 0, 0, 0);
	return classify(&s, &c, addr, m);
}

static inline struct centry *slot(uintptr_t addr)
{
	return &cache[(addr * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS)];
}

static __attribute__((noinline)) uint64_t miss(uintptr_t addr, uint32_t g)
{
	int cacheable = 1;
	uint64_t rule;
	atomic_fetch_add_explicit(&in_flight, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&unload_seq, memory_order_seq_cst) & 1) {
		/* an object is being unmapped: don't read any CFI now */
		atomic_fetch_sub_explicit(&in_flight, 1, memory_order_release);
		return RULE(K_NOFDE, 0, 0, 0);
	}
	rule = compute(addr, &cacheable);
	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_release);
	if (cacheable && atomic_load_explicit(&mgt_unload_gen, memory_order_acquire) == g) {
		struct centry *e = slot(addr);
		atomic_store_explicit(&e->rule, rule, memory_order_relaxed);
		atomic_store_explicit(&e->key, addr ^ rule ^ (uint64_t)(g & GEN_MASK) << GEN_SHIFT,
				      memory_order_relaxed);
	}
	return rule;
}

/* ---- the memo: the last walk of this thread ---- */

/*
 * Consecutive allocations of a thread share most of their stack: the same
 * outer frames (main, the test runner, the loop) under a few that change.  A
 * walk is a function of its registers (pc, sp, rbp), of the rules (fixed for
 * a generation) and of the stack words it reads: the return address at
 * CFA-8, perhaps a saved rbp.  So each thread keeps its last walk, outermost
 * frame first, with the address of every word that walk read.  When a new
 * walk reaches a frame with the pc, sp (and rbp, if anything further out
 * uses it) of a remembered one, and every word the rest of that walk read
 * still holds what it held, the rest is the same frames: they are copied
 * instead of walked.  A caller that returned and was replaced by another
 * with the same frame at the same place leaves another return address in
 * some checked word.  The frames up to that word are still the remembered
 * ones: the walk takes them and goes on from the changed word with the
 * rules, with the rbp the new walk has there (followed from its own through
 * the reloads those frames make, not the remembered one), and may meet the
 * remembered walk again further out.  So the memo never changes a stack, it
 * only saves reading the rules (tests/oracle, "memo", "memo_resume").
 *
 * Which walk is remembered: any earlier walk on the same stack serves (the
 * checks make it so), and remembering costs stores and hashes for every
 * new frame.  A walk that met the memo somewhere is remembered only when
 * the same stack came the walk before too (a loop allocating from one
 * place); one that met nothing replaces it.  Inner frames that change at
 * every allocation are thus walked but not written down each time, and
 * the outer part stays remembered (bench/README.md, "Session 7").
 *
 * Only the plain rules are remembered (CFA from rsp or rbp, rbp unchanged or
 * reloaded, the outermost frame's rule or bound): a walk through a signal
 * frame, a realigned frame, a PLT stub or code without CFI is not.  The
 * memo belongs to its thread, used only by mgt_stack_capture under the
 * thread's guard (a signal handler inside the tracer walks without it).
 */
struct mnew {                           /* a frame of the walk under way */
	uintptr_t sp, bp, bpslot;       /* bpslot: where its rule reloaded rbp, 0: kept */
	uint64_t rule;
};
struct ment {                           /* a remembered frame */
	uintptr_t pc, sp, bp;
	uintptr_t bpslot;               /* its saved rbp's address, when read and used; 0: none */
	uint64_t h1, h2;                /* the stack hashes from the outermost frame to this one */
	uintptr_t dep;                  /* the walk from here on uses the incoming rbp */
	uint64_t rule;                  /* its rule: a walk resumed past it (mgt_unwind) */
};
struct mgt_memo {
	uintptr_t lo, hi;               /* the stack it was walked on */
	uint32_t gen;                   /* mgt_unload_gen of its rules */
	uint32_t len;                   /* frames; 0: nothing remembered */
	uint32_t trunc;                 /* the walk was cut at max */
	uint32_t max;                   /* at most so many frames */
	uint64_t seen;                  /* h1 of the last walk that met e[] without being remembered */
	uint32_t cap;
	uint32_t bphi;                  /* no e[i] above it has a bpslot (check's lean part) */
	uintptr_t endslot, endval;      /* the word read last (pc < 4096), 0: none */
	struct mnew *nf;                /* [cap] */
	struct snap *snaps;             /* [SNAPS] */
	uint32_t tick;                  /* snapshots used: their ages */
	struct ment e[];                /* [cap], e[0] outermost */
};

/*
 * Snapshots: whole stacks met again where they began.  A program allocates
 * from a few hundred places, and most of its stacks come back whole, from
 * the same frame at the same sp (the interpreter loop of python or sqlite
 * at the same depth): but not one after the other, so the memo above keeps
 * only their common outer part, and each walk meets it after the frames
 * that changed (bench/README.md, "Session 8").  Each thread also keeps
 * SNAPS stacks of at most SNAP_FRAMES frames, each in one of two slots
 * given by the first frame's sp and pc (with one, where two hot places
 * shared a slot, an unlucky address layout had a fifth of python3's
 * allocations walked: the one used longer ago gives way).  A snapshot is the memo of that stack, compacted: each
 * frame's pc and where its return address was read (sp0 + off - 8), the
 * saved rbp words that something further out used (in code built with
 * frame pointers, every frame's), with their values, and the word that
 * ended the walk; so checking it is the memo's replay from
 * frame 0, and finds the same frames a walk would (the same argument).  A
 * stack that cannot be one (deeper, walked through a frame the memo does
 * not remember, a saved rbp word below sp0) leaves a snapshot of no
 * frames (n = 0): that place is walked as before, without trying again.
 * The words checked lie at most 4 GiB above sp0 (in the thread's stack):
 * their offsets from it are 32 bits.
 */
#define SNAP_BITS   7u
#define SNAPS       (1u << SNAP_BITS)
#define SNAP_FRAMES 32u
struct snap {
	uintptr_t sp0, pc0, bp0;        /* frame 0; bp0 checked when dep0 */
	uintptr_t lo, hi;
	uint32_t gen, max;
	uint64_t h1, h2;
	uintptr_t endslot, endval;
	uint8_t n, dep0, trunc, nbp;    /* n = 0: this place is walked */
	uint32_t used;                  /* the memo's tick when last found */
	uint32_t off[SNAP_FRAMES];      /* frame i's return address at sp0 + off[i] - 8 */
	uint32_t bpoff[SNAP_FRAMES];    /* saved rbp word i at sp0 + bpoff[i]: bpval[i] */
	uintptr_t pc[SNAP_FRAMES];
	uintptr_t bpval[SNAP_FRAMES];
};

/* is s the snapshot of the place at sp0, pc0 in this context */
static inline int snap_is(const struct snap *s, uintptr_t sp0, uintptr_t pc0, uint32_t gen,
			  uintptr_t lo, uintptr_t hi, uint32_t max)
{
	return s->sp0 == sp0 && s->pc0 == pc0 && s->gen == gen && s->lo == lo && s->hi == hi &&
	       s->max == max;
}

/* the snapshot of that place (*known = 1), else the slot to put it in */
static inline struct snap *snap_of(struct mgt_memo *m, uintptr_t sp0, uintptr_t pc0,
				   uint32_t gen, uintptr_t lo, uintptr_t hi, uint32_t max,
				   int *known)
{
	uint64_t h = (sp0 ^ pc0) * 0x9e3779b97f4a7c15ull;
	struct snap *a = &m->snaps[h >> (64 - SNAP_BITS)], *b;
	if (MGT_LIKELY(snap_is(a, sp0, pc0, gen, lo, hi, max)))
		goto found;
	b = &m->snaps[(h >> (64 - 2 * SNAP_BITS)) & (SNAPS - 1)];
	if (snap_is(b, sp0, pc0, gen, lo, hi, max)) {
		a = b;
		goto found;
	}
	*known = 0;
	return (int32_t)(b->used - a->used) < 0 ? b : a;
found:
	*known = 1;
	a->used = ++m->tick;
	return a;
}

/* memos are carved from chunks that double up to 4 MiB: a thread's first
 * walk maps nothing most of the time, and a program of many threads adds
 * few mappings (each is one of mini_libc.c's regions) */
static mgt_lock_t memo_lock;
static char *memo_next;
static size_t memo_left, memo_chunk = 64u << 10;

static struct mgt_memo *memo_new(uint32_t cap)
{
	size_t bytes = (sizeof(struct mgt_memo) + cap * (sizeof(struct ment) + sizeof(struct mnew)) +
			SNAPS * sizeof(struct snap) + 63) & ~(size_t)63;
	struct mgt_memo *m = NULL;
	mgt_lock(&memo_lock);
	if (memo_left < bytes) {
		size_t len = memo_chunk;
		while (len < bytes)
			len *= 2;
		void *p = mgt_mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			memo_next = p;
			memo_left = len;
			if (memo_chunk < (4u << 20))
				memo_chunk *= 2;
		}
	}
	if (memo_left >= bytes) {
		m = (struct mgt_memo *)memo_next;
		memo_next += bytes;
		memo_left -= bytes;
	}
	mgt_unlock(&memo_lock);
	if (m) {
		m->cap = cap;
		m->bphi = 0;
		m->nf = (struct mnew *)&m->e[cap];
		m->snaps = (struct snap *)&m->nf[cap];
	}
	return m;
}

/* does the walk from a frame with rule r use the rbp it finds, given whether
 * the walk from its caller's frame uses the one it finds (outer) */
static inline uintptr_t dep_of(uint64_t r, uintptr_t outer)
{
	return (r >> 38 & 1) | (r >> 39 & outer);
}

/*
 * The new frames [0, n) on top of remembered frame k (k < 0: none, a new
 * memo): writes them in, outermost first, with their hashes; returns the
 * hashes of the whole stack.
 */
static void memo_commit(struct mgt_memo *m, const uintptr_t *frames, uint32_t n, int32_t k,
			uint64_t *h1, uint64_t *h2)
{
	uint64_t x1 = *h1, x2 = *h2;
	uintptr_t outer = 0;
	if (k >= 0) {
		x1 = m->e[k].h1;
		x2 = m->e[k].h2;
		outer = m->e[k].dep;
	}
	struct ment *e = &m->e[k + 1];
	const struct mnew *f = &m->nf[n];
	const uintptr_t *pc = &frames[n];
	/* a bound: the highest may be lower (e[0]'s is never checked) */
	uint32_t bphi = k < 0 ? 0 : (int32_t)m->bphi < k ? m->bphi : (uint32_t)k;
	while (pc != frames) {                /* the outermost new frame first */
		f--;
		pc--;
		uint64_t r = f->rule;
		mgt_frame_hash(&x1, &x2, *pc);
		e->pc = *pc;
		e->sp = f->sp;
		e->bp = f->bp;
		e->rule = r;
		/* a reloaded rbp (else 0) nothing further out uses need not be checked */
		e->bpslot = f->bpslot & -outer;
		if (e->bpslot)
			bphi = (uint32_t)(e - m->e);
		e->h1 = x1;
		e->h2 = x2;
		e->dep = outer = dep_of(r, outer);
		e++;
	}
	m->len = (uint32_t)(k + 1) + n;
	m->bphi = bphi;
	*h1 = x1;
	*h2 = x2;
}

/*
 * Checks the words the remembered walk read from frame k outwards (its
 * callers' return addresses, and the reloaded rbp where something further
 * out used it), copying each caller's pc to f on; returns NULL when all
 * hold, else the first frame whose word changed.  Above m->bphi no frame
 * has an rbp to check: there each frame is a load and a compare (code
 * without frame pointers: most of them).
 */
static inline const struct ment *check(const struct mgt_memo *m, uint32_t k, uintptr_t *f)
{
	const struct ment *e = &m->e[k], *first = m->e;
	const struct ment *bp = m->bphi < k ? &m->e[m->bphi] : e;
	while (e != bp) {
		e--;
		uintptr_t pc = e->pc;
		if (*(const uintptr_t *)(e->sp - 8) != pc)
			return e;
		*f++ = pc;
	}
	while (e != first) {
		uintptr_t slot = e->bpslot;   /* where e's rule reloaded rbp, if checked */
		e--;                          /* its caller */
		if (*(const uintptr_t *)(e->sp - 8) != e->pc ||
		    (slot && *(const uintptr_t *)slot != e->bp))
			return e;
		*f++ = e->pc;
	}
	return NULL;
}

/*
 * The rest of the stack from remembered frame k, which the walk reached as
 * frame `depth` (in frames[depth] already), if every word the remembered
 * walk read from there on is unchanged: frames[depth + 1 ...] filled, the
 * whole depth returned; 0 when not, and *more the remembered frames e[0,
 * *more) that may still meet the walk further out (those inside the first
 * changed word cannot).  *resume = 1 when that word is the return address
 * or the reloaded rbp of frame e[*more - 1]: then frames e[k - 1] down to
 * e[*more] are the walk's, in frames[depth + 1 ...] already.  The
 * remembered reads lay inside the same stack bounds, checked then.
 */
static inline uint32_t replay(const struct mgt_memo *m, uint32_t k, uintptr_t *frames,
			      uint32_t depth, uint32_t max, uint32_t *more, int *resume)
{
	*more = k;
	*resume = 0;
	/* the same cut at max, or none */
	if (m->trunc ? depth + k + 1 != max : depth + k + 1 > max)
		return 0;
	const struct ment *e = check(m, k, &frames[depth + 1]);
	if (e) {
		*more = (uint32_t)(e - m->e) + 1;
		*resume = 1;
		return 0;
	}
	*more = 0;
	if (m->endslot && *(const uintptr_t *)m->endslot != m->endval)
		return 0;
	return depth + k + 1;
}

/*
 * After replay failed at remembered frame e[j - 1] (j = *more, resume set):
 * frames e[k] down to e[j] are the walk's, as remembered, but for the rbp
 * each had, which the old walk checked only where something further out
 * used it.  Writes their part of the walk under way (m->nf from depth on),
 * rbp followed from the walk's own bp at e[k] through every reload their
 * rules make, reading the stack as the walk would; returns the depth after
 * them and leaves in *bp the rbp at e[j - 1] (its pc and sp are the
 * caller's to read).  Returns 0 when a reload falls outside [lo, hi) (not
 * so when the old walk read it, unless the stack changed under the walk).
 */
static inline uint32_t resume_at(struct mgt_memo *m, uint32_t k, uint32_t j, uint32_t depth,
				 uintptr_t lo, uintptr_t hi, uintptr_t *bp)
{
	uintptr_t b = *bp;
	struct mnew *f = &m->nf[depth];
	for (const struct ment *e = &m->e[k], *end = &m->e[j - 1]; e != end; e--, f++) {
		uint64_t r = e->rule;
		f->sp = e->sp;
		f->bp = b;
		f->rule = r;
		f->bpslot = 0;
		if (RULE_BP(r)) {
			uintptr_t a = (RULE_BP(r) == BP_CFA ? e[-1].sp : b) + (uintptr_t)RULE_BPOFF(r);
			if ((uintptr_t)a - lo > hi - 8 - lo)
				return 0;
			f->bpslot = a;
			b = *(const uintptr_t *)a;
		}
	}
	*bp = b;
	return depth + (k - j) + 1;
}

/* ---- the walk ---- */

/* an 8-byte read at a, inside [lo, hi) (hi - 8 >= lo: checked at the start) */
#define IN(a) ((uintptr_t)(a) - lo <= hi - 8 - lo)

/* walk_fast's answer when the walk is to be remembered: walk it again, noting */
#define REDO UINT32_MAX

/*
 * The walk (mgt_unwind).  j > 0: mgt_unwind's replay of the whole memo
 * from frame 0 (remembered frame k) failed at e[j - 1], frames[0, k - j]
 * hold the frames it verified: the walk goes on from there.
 *
 * note = 0 (walk_fast): the walk notes nothing for the memo (each frame's
 * sp, rbp, rule and reloaded slot in m->nf), which few walks need: one
 * that replays the memo's outer part under inner frames that change keeps
 * the memo as it is.  Where the memo would change (a walk to remember, a
 * resumed replay, which writes m->nf) it returns REDO before changing
 * anything but a fresh memo, and mgt_unwind walks again with note = 1
 * (walk_note): the stack is the same, so is the walk.  keep (walk_note
 * only): the walk is remembered whenever it can be, for a snapshot.
 */
static inline __attribute__((always_inline)) uint32_t
walk(uintptr_t lo, uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t max, uint32_t *trunc,
     uint64_t *h1, uint64_t *h2, struct mgt_memo **memo, uint32_t k, uint32_t j, const int note,
     int keep)
{
	uint32_t depth = 0;
	uintptr_t pc = ((const uintptr_t *)fp)[1], sp = fp + 16, bp = ((const uintptr_t *)fp)[0];
	uint32_t g = atomic_load_explicit(&mgt_unload_gen, memory_order_acquire);
	const uint64_t gtag = (uint64_t)(g & GEN_MASK) << GEN_SHIFT;
	uintptr_t exact = 0;                  /* 1: pc is where a signal struck, not a return address */
	uintptr_t endslot = 0, rd = 0;        /* the word pc was last read from */

	struct mgt_memo *m = NULL;
	uint32_t cur = 0;                     /* remembered frames e[0, cur) are still ahead */
	uintptr_t csp = UINTPTR_MAX;          /* e[cur - 1].sp; none: the highest */
	if (memo) {
		m = *memo;
		if (MGT_UNLIKELY(!m || m->cap < max))
			m = *memo = memo_new(max);
		if (m && m->lo == lo && m->hi == hi && m->gen == g && m->max == max && (cur = m->len))
			csp = m->e[cur - 1].sp;
		if (j && cur == k + 1) {
			/* as after replay in the loop below */
			frames[0] = pc;
			uint32_t d = resume_at(m, k, j, 0, lo, hi, &bp);
			if (MGT_UNLIKELY(!d)) {
				depth = k - j + 1;
				m = NULL;
				goto out;
			}
			depth = d;
			cur = j;
			csp = sp = m->e[j - 1].sp;
			rd = sp - 8;
			pc = *(const uintptr_t *)rd;
		}
	}

	for (;;) {
		if (pc < 4096) {
			endslot = rd;
			break;
		}
		if (MGT_UNLIKELY(depth == max)) {
			*trunc = 1;
			break;
		}
		frames[depth] = pc;
		if (m) {
			/* the remembered frames below this one are behind */
			while (MGT_UNLIKELY(csp < sp))
				csp = --cur ? m->e[cur - 1].sp : UINTPTR_MAX;
			if (csp == sp && m->e[cur - 1].pc == pc &&
			    (!m->e[cur - 1].dep || m->e[cur - 1].bp == bp)) {
				uint32_t n;
				int resume;
				k = cur - 1;
				n = replay(m, k, frames, depth, max, &cur, &resume);
				if (MGT_LIKELY(resume)) {
					/* the frames up to the changed word were the same:
					 * go on from there */
					if (!note)
						return REDO;
					uint32_t d = resume_at(m, k, cur, depth, lo, hi, &bp);
					if (MGT_UNLIKELY(!d)) {
						depth += k - cur + 1;
						m = NULL;     /* its frames half written: forget this walk */
						goto out;
					}
					depth = d;
					sp = m->e[cur - 1].sp;
					rd = sp - 8;
					pc = *(const uintptr_t *)rd;
					exact = 0;
					csp = sp;
					continue;
				}
				if (n) {
					*trunc = m->trunc;
					if (MGT_LIKELY(!depth)) {
						/* the same stack as last time */
						*h1 = m->e[n - 1].h1;
						*h2 = m->e[n - 1].h2;
						m->len = n;
						return n;
					}
					/* frames [0, depth) new on top of e[at]: remembered
					 * when they come twice in a row (a loop's stack), not
					 * when the inner frames change each time */
					uint32_t at = n - depth - 1;
					uint64_t x1 = m->e[at].h1, x2 = m->e[at].h2;
					mgt_frames_hash(frames, depth, &x1, &x2);
					if (x1 == m->seen || keep) {
						if (!note)
							return REDO;
						memo_commit(m, frames, depth, (int32_t)at, h1, h2);
					}
					m->seen = x1;
					*h1 = x1;
					*h2 = x2;
					return n;
				}
				/* walk on: perhaps it meets the rest further out */
				csp = cur ? m->e[cur - 1].sp : UINTPTR_MAX;
			}
			if (note) {
				m->nf[depth].sp = sp;
				m->nf[depth].bp = bp;
			}
		}
		depth++;
		/* the rule at the call (pc - 1), from the cache: a few loads */
		uintptr_t key = pc - 1 + exact, cfa, nbp = bp, a;
		const struct centry *ce = slot(key);
		uint64_t r = atomic_load_explicit(&ce->rule, memory_order_relaxed);
		if (MGT_UNLIKELY((atomic_load_explicit(&ce->key, memory_order_relaxed) ^ r) !=
				 (key ^ gtag)))
			r = miss(key, g);
		if (note && m) {
			m->nf[depth - 1].rule = r;
			m->nf[depth - 1].bpslot = 0;
		}
		unsigned kind = RULE_KIND(r);
		if (MGT_LIKELY(kind == K_RSP || kind == K_RBP)) {
			cfa = (kind == K_RBP ? bp : sp) + (uintptr_t)RULE_OFF(r);
		} else {
			if (kind != K_END && kind != K_STOP)
				m = NULL;             /* not remembered: see above */
			switch (kind) {
			case K_DEREF:
				a = bp + (uintptr_t)RULE_OFF(r);
				if (!IN(a))
					goto out;
				cfa = *(const uintptr_t *)a;
				break;
			case K_PLT:
				cfa = sp + 8 + ((pc & 15) >= (uintptr_t)RULE_OFF(r) ? 8 : 0);
				break;
			case K_SIGNAL: {
				/* sp is the ucontext: uc_mcontext.gregs at +40, RBP 10, RSP 15, RIP 16 */
				if (sp < lo || sp > hi - 40 - 17 * 8)
					goto out;
				const uintptr_t *gr = (const uintptr_t *)(sp + 40);
				uintptr_t nsp = gr[15];
				if (nsp <= sp || nsp > hi)
					goto out;
				bp = gr[10];
				pc = gr[16];
				sp = nsp;
				exact = 1;
				rd = 0;
				continue;
			}
			case K_NOFDE:
				/* no CFI: trust rbp if it is a frame record above us */
				if (bp < sp || bp > hi - 16)
					goto out;
				cfa = bp + 16;
				nbp = *(const uintptr_t *)bp;
				break;
			default:
				goto out;
			}
		}
		/* the return address sits at CFA-8, at or above this frame's rsp */
		if (MGT_UNLIKELY(cfa < sp + 8 || cfa > hi))
			break;
		if (RULE_BP(r)) {
			a = (RULE_BP(r) == BP_CFA ? cfa : bp) + (uintptr_t)RULE_BPOFF(r);
			if (!IN(a))
				goto out;
			nbp = *(const uintptr_t *)a;
			if (note && m)
				m->nf[depth - 1].bpslot = a;
		}
		rd = cfa - 8;
		pc = *(const uintptr_t *)rd;
		sp = cfa;
		bp = nbp;
		exact = 0;
	}
out:
	if (m) {
		if (!note)
			return REDO;
		m->lo = lo;
		m->hi = hi;
		m->gen = g;
		m->trunc = *trunc;
		m->max = max;
		m->endslot = endslot;
		m->endval = pc;
		memo_commit(m, frames, depth, -1, h1, h2);
	} else {
		mgt_frames_hash(frames, depth, h1, h2);
	}
	return depth;
}

static __attribute__((noinline)) uint32_t
walk_note(uintptr_t lo, uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t max,
	  uint32_t *trunc, uint64_t *h1, uint64_t *h2, struct mgt_memo **memo, uint32_t k,
	  uint32_t j, int keep)
{
	return walk(lo, hi, fp, frames, max, trunc, h1, h2, memo, k, j, 1, keep);
}

static __attribute__((noinline)) uint32_t
walk_fast(uintptr_t lo, uintptr_t hi, uintptr_t fp, uintptr_t *frames, uint32_t max,
	  uint32_t *trunc, uint64_t *h1, uint64_t *h2, struct mgt_memo **memo)
{
	return walk(lo, hi, fp, frames, max, trunc, h1, h2, memo, 0, 0, 0, 0);
}

/* the snapshot s of frame 0 at sp0, checked: its depth, or 0 when a word changed */
static inline uint32_t snap_check(const struct snap *s, uintptr_t sp0, uintptr_t *frames)
{
	uint32_t n = s->n;
	for (uint32_t i = 1; i < n; i++) {
		uintptr_t pc = s->pc[i];
		if (*(const uintptr_t *)(sp0 + s->off[i] - 8) != pc)
			return 0;
		frames[i] = pc;
	}
	for (uint32_t i = 0; i < s->nbp; i++)
		if (*(const uintptr_t *)(sp0 + s->bpoff[i]) != s->bpval[i])
			return 0;
	if (s->endslot && *(const uintptr_t *)s->endslot != s->endval)
		return 0;
	frames[0] = s->pc0;
	return n;
}

/* after a walk told to keep it (walk_note's keep), the snapshot of its n
 * frames from the memo, which then holds exactly them; else one of none */
static void snap_put(struct mgt_memo *m, struct snap *s, uintptr_t lo, uintptr_t hi,
		     uint32_t max, uint32_t gen, uintptr_t sp0, uintptr_t pc0, uint32_t n,
		     uint64_t h1, uint64_t h2)
{
	s->n = 0;
	s->sp0 = sp0;
	s->pc0 = pc0;
	s->lo = lo;
	s->hi = hi;
	s->max = max;
	s->gen = gen;
	s->used = ++m->tick;
	if (!n || n > SNAP_FRAMES || m->len != n || m->lo != lo || m->hi != hi || m->max != max ||
	    m->gen != gen)
		return;
	const struct ment *e = &m->e[n - 1];   /* frame 0 */
	if (e->sp != sp0 || e->pc != pc0 || e->h1 != h1 || e->h2 != h2)
		return;
	for (uint32_t i = 1; i < n; i++) {
		uintptr_t off = e[-(int32_t)i].sp - sp0;
		if (off > UINT32_MAX)
			return;
		s->off[i] = (uint32_t)off;
		s->pc[i] = e[-(int32_t)i].pc;
	}
	uint32_t nbp = 0;
	for (uint32_t i = 1; i < n; i++) {     /* as check() reads them */
		uintptr_t off = m->e[i].bpslot - sp0;
		if (!m->e[i].bpslot)
			continue;
		if (off > UINT32_MAX)
			return;
		s->bpoff[nbp] = (uint32_t)off;
		s->bpval[nbp++] = m->e[i - 1].bp;
	}
	s->nbp = (uint8_t)nbp;
	s->dep0 = (uint8_t)e->dep;
	s->bp0 = e->bp;
	s->trunc = (uint8_t)m->trunc;
	s->h1 = h1;
	s->h2 = h2;
	s->endslot = m->endslot;
	s->endval = m->endval;
	s->n = (uint8_t)n;
}

uint32_t mgt_unwind(uintptr_t lo, uintptr_t hi, void *fp0, uintptr_t *frames, uint32_t max,
		    uint32_t *trunc, uint64_t *h1, uint64_t *h2, struct mgt_memo **memo)
{
	uintptr_t fp = (uintptr_t)fp0;
	/*
	 * Most walks find the thread's last stack again, or its outer part: the
	 * hook's caller is where the last walk began.  That is replay from
	 * frame 0, here without the walk's setup; the rest is walk's.  A memo
	 * was walked inside [lo, hi), by the same max (the same cut): its first
	 * frame's sp == fp + 16 puts fp inside too; so does a snapshot's sp0.
	 */
	struct mgt_memo *m;
	uint32_t len, k = 0, j = 0, gen = atomic_load_explicit(&mgt_unload_gen,
								memory_order_acquire);
	uintptr_t pc;
	if (!memo || !(m = *memo))
		goto walk;
	pc = ((const uintptr_t *)fp)[1];        /* the hook's own frame record */
	/* a snapshot of the stack from this frame */
	int known;
	struct snap *s = snap_of(m, fp + 16, pc, gen, lo, hi, max, &known);
	if (MGT_LIKELY(known && s->n) && (!s->dep0 || s->bp0 == ((const uintptr_t *)fp)[0])) {
		uint32_t n = snap_check(s, fp + 16, frames);
		if (MGT_LIKELY(n)) {
			*trunc = s->trunc;
			*h1 = s->h1;
			*h2 = s->h2;
			return n;
		}
	}
	/* the memo, replayed from frame 0 */
	if ((len = m->len) && m->e[len - 1].sp == fp + 16 && m->lo == lo && m->hi == hi &&
	    m->max == max && m->gen == gen) {
		const struct ment *e = &m->e[len - 1];
		if (e->pc == pc && (!e->dep || e->bp == ((const uintptr_t *)fp)[0])) {
			frames[0] = pc;
			e = check(m, len - 1, frames + 1);
			if (e) {
				k = len - 1;
				j = (uint32_t)(e - m->e) + 1;
			} else if (!m->endslot || *(const uintptr_t *)m->endslot == m->endval) {
				*trunc = m->trunc;
				*h1 = m->e[len - 1].h1;
				*h2 = m->e[len - 1].h2;
				if (!known || s->n)   /* the memo is this stack: its snapshot */
					snap_put(m, s, lo, hi, max, gen, fp + 16, pc, len, *h1,
						 *h2);
				return len;
			}
		}
	}
	if (known && !s->n)
		goto walk;                    /* this place does not make a snapshot */
	if (!cache || hi < lo + 16 || fp < lo || fp > hi - 16)
		return 0;
	/* walked, remembered, and its snapshot taken from the memo */
	uint32_t n = walk_note(lo, hi, fp, frames, max, trunc, h1, h2, memo, k, j, 1);
	if (*memo == m)
		snap_put(m, s, lo, hi, max, gen, fp + 16, pc, n, *h1, *h2);
	return n;
walk:
	if (!cache || hi < lo + 16 || fp < lo || fp > hi - 16)
		return 0;
	if (memo && !j) {
		uint32_t d = walk_fast(lo, hi, fp, frames, max, trunc, h1, h2, memo);
		if (MGT_LIKELY(d != REDO))
			return d;
	}
	return walk_note(lo, hi, fp, frames, max, trunc, h1, h2, memo, k, j, 0);
}

/* ---- modules ---- */

void mgt_unwind_module_add(const struct dl_phdr_info *info, uint64_t lo, uint64_t hi)
{
	const ElfW(Phdr) *eh = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			eh = &info->dlpi_phdr[i];
	uint32_t n = atomic_load_explicit(&n_mods, memory_order_relaxed), i;
	for (i = 0; i < n; i++)
		if (!atomic_load_explicit(&mods[i].alive, memory_order_relaxed))
			break;                /* a dropped one's slot (no reader uses it) */
	if (i == UMODS)
		return;                       /* its frames fall back to frame pointers */
	struct umod *m = &mods[i];
	m->base = info->dlpi_addr;
	m->lo = lo;
	m->hi = hi;
	m->count = 0;
	m->table = NULL;
	m->hdr = 0;
	if (eh)
		set_hdr(m, (const uint8_t *)(info->dlpi_addr + eh->p_vaddr));
	atomic_store_explicit(&m->alive, 1, memory_order_release);
	if (i == n)
		atomic_store_explicit(&n_mods, n + 1, memory_order_release);
}

void mgt_unwind_module_drop(uint64_t base, uint64_t lo, uint64_t hi)
{
	uint32_t n = atomic_load_explicit(&n_mods, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		struct umod *m = &mods[i];
		if (atomic_load_explicit(&m->alive, memory_order_relaxed) && m->base == base &&
		    m->lo == lo && m->hi == hi)
			atomic_store_explicit(&m->alive, 0, memory_order_release);
	}
}

void mgt_unwind_unload_begin(void)
{
	atomic_fetch_add_explicit(&unload_seq, 1, memory_order_seq_cst);
	uint32_t g = atomic_fetch_add_explicit(&mgt_unload_gen, 1, memory_order_seq_cst) + 1;
	/* misses that began before see the old generation and cache nothing; wait
	 * until none still reads CFI (they take microseconds, and never block) */
	while (atomic_load_explicit(&in_flight, memory_order_seq_cst))
		mgt_sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	if (!(g & GEN_MASK) && cache)
		mgt_madvise(cache, sizeof(struct centry) << CACHE_BITS, MADV_DONTNEED);
}

void mgt_unwind_unload_end(void)
{
	atomic_fetch_add_explicit(&unload_seq, 1, memory_order_release);
}

int mgt_unwind_reset(void)
{
	/* a fork child: the one thread left is not inside a miss or a dlclose,
	 * nor taking a memo */
	atomic_store(&in_flight, 0);
	atomic_store(&memo_lock.v, 0);
	if (atomic_load(&unload_seq) & 1)
		atomic_fetch_add(&unload_seq, 1);
	if (!cache) {
		void *p = mgt_mmap(NULL, sizeof(struct centry) << CACHE_BITS,
				   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				   -1, 0);
		if (p == MAP_FAILED)
			return -1;
		cache = p;
	}
	return 0;
}
