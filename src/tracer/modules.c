/* modules.c - the loaded ELF objects, recorded so stacks can be symbolized after the run
 *
 * Each object is recorded once per load with the module generation at which it
 * appeared and, after dlclose, the generation at which it was gone: a stack
 * stores the generation it was captured at, so an address reused by a later
 * library is never mislabelled (docs/tracer.md, "Call stacks").
 *
 * dl_iterate_phdr takes the loader lock: scan only from places that hold no
 * other tracer lock (setup, after dlopen/dlclose, at exit), never from the
 * allocation path (pitfall 5).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <string.h>

#include "tracer.h"
#include "unwind.h"

static mgt_lock_t mod_lock;
static unsigned char seen[MGT_MAX_MODULES];   /* scratch, under mod_lock */
static int changed;

static void build_id(struct mgt_module *m, const struct dl_phdr_info *info)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*n);
			const char *desc = name + ((n->n_namesz + 3) & ~3u);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && n->n_descsz <= sizeof(m->build_id)) {
				memcpy(m->build_id, desc, n->n_descsz);
				m->build_id_len = n->n_descsz;
				return;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mgt_header *h = mgt_g.hdr;
	const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : NULL;
	uint64_t lo = UINT64_MAX, hi = 0;
	(void)size;
	(void)arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (!hi)
		return 0;
	/* nameless: the main program (see hdr.exe) or the vdso (no file) */
	for (uint32_t i = 0; i < h->n_modules; i++) {
		struct mgt_module *m = mgt_module_at(i);
		if (!m->gen_unloaded && m->base == info->dlpi_addr && m->lo == lo && m->hi == hi &&
		    strncmp(m->path, name ? name : "", sizeof(m->path)) == 0) {
			seen[i] = 1;
			return 0;
		}
	}
	if (h->n_modules >= MGT_MAX_MODULES ||
	    mgt_back(MGT_MOD_OFF + (uint64_t)h->n_modules * sizeof(struct mgt_module),
		     sizeof(struct mgt_module)))
		return 0;
	struct mgt_module *m = mgt_module_at(h->n_modules);
	m->base = info->dlpi_addr;
	m->lo = lo;
	m->hi = hi;
	m->gen_loaded = h->mod_gen + 1;
	m->gen_unloaded = 0;
	build_id(m, info);
	mgt_unwind_module_add(info, lo, hi);
	mgt_strlcpy(m->path, name ? name : "", sizeof(m->path));
	seen[h->n_modules] = 1;
	atomic_store_explicit((_Atomic uint32_t *)&h->n_modules, h->n_modules + 1,
			      memory_order_release);
	changed = 1;
	return 0;
}

void mgt_modules_scan(void)
{
	struct mgt_header *h = mgt_g.hdr;
	if (!h)
		return;
	mgt_lock(&mod_lock);
	changed = 0;
	mgt_memset(seen, 0, sizeof(seen));
	dl_iterate_phdr(scan_one, NULL);
	for (uint32_t i = 0; i < h->n_modules; i++) {
		struct mgt_module *m = mgt_module_at(i);
		if (!seen[i] && !m->gen_unloaded) {
			m->gen_unloaded = h->mod_gen + 1;
			mgt_unwind_module_drop(m->base, m->lo, m->hi);
			changed = 1;
		}
	}
	if (changed)
		__atomic_store_n(&h->mod_gen, h->mod_gen + 1, __ATOMIC_RELEASE);
	mgt_unlock(&mod_lock);
}

void mgt_modules_reinit_locks(void) { atomic_store(&mod_lock.v, 0); }
