/* symbolize.c - return addresses to functions, lines and inlined calls with libdwfl */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>

#include "../util/error.h"
#include "../util/fs.h"
#include "../util/hash.h"
#include "../util/lazylib.h"
#include "symbolize.h"

/*
 * libstdc++'s demangler (cxxabi.h is C++ only), loaded with the first C++
 * name (lazylib.h): linked, libstdc++ and libgcc_s cost every memgate
 * command ~1.6M instructions of relocations at start-up, whether it
 * symbolizes C++ or not.  Without it, names stay as they are.
 */
static struct {
	void *lib;
	int failed;
	char *(*demangle)(const char *mangled, char *buf, size_t *len, int *status);
} cxa;

static int cxa_load(void)
{
	static const struct mg_lazy_sym syms[] = {
		{ "__cxa_demangle", (void **)&cxa.demangle },
	};
	if (!cxa.lib && !cxa.failed &&
	    mg_lazy_load(&cxa.lib, "libstdc++.so.6", "libstdc++ (libstdc++6)", syms, 1, NULL))
		cxa.failed = 1;
	return cxa.lib ? 0 : -1;
}

/*
 * libiberty's Rust demangler (Debian's libiberty-dev, linked statically; its
 * rust-demangle.c carries a linking exception): both manglings, legacy
 * (_ZN...17h<hash>E) and v0 (_R...).  Options 0: without the hash and the
 * crates' disambiguators.  Declared here as libiberty's demangle.h declares it.
 */
extern int rust_demangle_callback(const char *mangled, int options,
				  void (*callback)(const char *, size_t, void *), void *opaque);

#define MAX_INLINE 64           /* inlined calls kept per address: deeper chains are cut */

/*
 * An open-addressing hash map from a pair of integers to an integer; the
 * caches below are all of this kind.  v == 0 marks an empty slot, so values
 * are stored + 1.
 */
struct map_ent {
	uint64_t a, b, v;
};

struct map {
	struct map_ent *e;
	size_t cap, n;              /* cap: a power of two, or 0 */
};

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;

	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

static int map_get(const struct map *m, uint64_t a, uint64_t b, uint64_t *v)
{
	size_t i;

	if (!m->cap)
		return 0;
	for (i = mix(a, b) & (m->cap - 1); m->e[i].v; i = (i + 1) & (m->cap - 1))
		if (m->e[i].a == a && m->e[i].b == b) {
			*v = m->e[i].v - 1;
			return 1;
		}
	return 0;
}

/* Inserts a key that is not in the map yet; -1: out of memory */
static int map_put(struct map *m, uint64_t a, uint64_t b, uint64_t v)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64, j;
		struct map_ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return -1;
		for (j = 0; j < m->cap; j++) {
			if (!m->e[j].v)
				continue;
			for (i = mix(m->e[j].a, m->e[j].b) & (cap - 1); e[i].v; i = (i + 1) & (cap - 1))
				;
			e[i] = m->e[j];
		}
		free(m->e);
		m->e = e;
		m->cap = cap;
	}
	for (i = mix(a, b) & (m->cap - 1); m->e[i].v; i = (i + 1) & (m->cap - 1))
		;
	m->e[i] = (struct map_ent){ a, b, v + 1 };
	m->n++;
	return 0;
}

static void map_release(struct map *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* p, or p grown to hold `need` elements of `size` bytes; NULL: out of memory, p untouched */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t cap2 = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (cap2 < need)
		cap2 *= 2;
	if ((p = realloc(p, cap2 * size)))
		*cap = cap2;
	return p;
}

/* 0, or -1 if out of memory (arr unchanged) */
#define GROW(arr, cap, need) ({ \
	void *grown_ = grow((arr), &(cap), (need), sizeof(*(arr))); \
	if (grown_) \
		(arr) = grown_; \
	grown_ ? 0 : -1; })

struct sym {
	uint64_t lo, hi;            /* [lo, hi): module addresses */
	const char *name;           /* as in the ELF file, not demangled */
	int rank;                   /* 0 global, 1 weak, 2 local: for aliases, lower wins */
};

struct subprog {
	uint64_t lo, hi;            /* one of its address ranges, DWARF addresses */
	Dwarf_Die die;
};

struct cu_range {
	uint64_t lo, hi;            /* one of the CU's address ranges, DWARF addresses */
	Dwarf_Die cu;
};

struct cu_index {
	struct subprog *v;          /* sorted by lo */
	size_t n;
};

struct module {
	char *path;
	unsigned char *build_id;    /* as asked for */
	size_t build_id_len;
	int usable;                 /* opened, and the build-id matched */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf *dw;                  /* NULL: no DWARF anywhere */
	Dwarf_Addr dwbias;
	struct sym *syms;           /* sorted by lo; loaded on first use */
	size_t n_syms;
	int syms_loaded;
	struct cu_index *cus;       /* the CUs seen so far, by s->cu_map */
	size_t n_cus, cap_cus;
	struct cu_range *cu_ranges; /* sorted by lo; built when .debug_aranges fails us */
	size_t n_cu_ranges;
	int cu_ranges_built;
	uint64_t *inits;            /* its ELF initializers (.init_array, DT_INIT); loaded on first use */
	size_t n_inits;
	int inits_loaded;
};

struct mg_symbolizer {
	struct module **mods;
	size_t n_mods, cap_mods;
	struct map mod_map;         /* (hash of path and build-id, build_id_len) -> mods[] */
	struct map addr_map;        /* (module index, offset) -> frames[] start << 8 | count */
	struct map cu_map;          /* (module index, CU offset) -> module's cus[] */
	struct mg_sym_frame *frames;
	size_t n_frames, cap_frames;
	struct map str_map;         /* (hash, length) -> strs[] */
	char **strs;
	size_t n_strs, cap_strs;
	int debuginfod;             /* MEMGATE_DEBUGINFOD=1: let libdwfl ask debuginfod */
	int system_lines;           /* MEMGATE_SYSTEM_LINES=1: DWARF for system libraries too */
};

/*
 * System libraries (under /lib or /usr/lib) are resolved from their symbol
 * tables only, by default: their DWARF lives in compressed debug files
 * (libc6-dbg) whose decompression costs ~60 ms per run, for file:line
 * information about glibc's internals that a report rarely needs.  Function
 * names (all the runtime-owned rules look at) come from the symbol tables.
 */
static int is_system_library(const char *path)
{
	static const char *const dirs[] = { "/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(path, dirs[i], strlen(dirs[i])) && !strstr(path, "/debug/"))
			return 1;
	return 0;
}

/* A copy of str that lives as long as s; NULL if str is NULL or memory ran out */
static const char *intern(struct mg_symbolizer *s, const char *str)
{
	size_t len;
	uint64_t h, v;
	char *copy;
	int known;

	if (!str)
		return NULL;
	len = strlen(str);
	h = mg_fnv1a(str, len, MG_FNV_OFFSET);
	known = map_get(&s->str_map, h, len, &v);
	if (known && !strcmp(s->strs[v], str))
		return s->strs[v];
	if (GROW(s->strs, s->cap_strs, s->n_strs + 1) < 0 || !(copy = strdup(str)))
		return NULL;
	/* a 64-bit collision keeps the first string in the map; this one is just kept */
	if (!known && map_put(&s->str_map, h, len, s->n_strs) < 0) {
		free(copy);
		return NULL;
	}
	s->strs[s->n_strs++] = copy;
	return copy;
}

struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void text_add(const char *str, size_t len, void *opaque)
{
	struct text *t = opaque;

	if (t->failed)
		return;
	if (t->len + len + 1 > t->cap) {
		size_t cap = (t->len + len + 1) * 2;
		char *p = realloc(t->p, cap);

		if (!p) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, str, len);
	t->len += len;
	t->p[t->len] = '\0';
}

/* a Rust symbol, demangled without its hash; NULL: not Rust (or out of memory) */
static char *rust_demangled(const char *name)
{
	struct text t = { 0 };

	if (!rust_demangle_callback(name, 0, text_add, &t) || t.failed || !t.len) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

char *mg_demangle(const char *name)
{
	char *d;
	int status = -1;

	if (!name)
		return NULL;
	if ((!strncmp(name, "_R", 2) || !strncmp(name, "_ZN", 3)) && (d = rust_demangled(name)))
		return d;
	if (strncmp(name, "_Z", 2))
		return NULL;
	if (cxa_load())
		return NULL;
	d = cxa.demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(d);
		return NULL;
	}
	return d;
}

static const char *demangled(struct mg_symbolizer *s, const char *name)
{
	const char *at = name ? strchr(name, '@') : NULL;
	char *d, *base;
	const char *r;

	if (at && at > name && (base = strndup(name, (size_t)(at - name)))) {
		/* a version kept (load_syms): the name demangled, the version after it */
		d = mg_demangle(base);
		free(base);
		if (d) {
			char *full;
			r = asprintf(&full, "%s%s", d, at) < 0 ? NULL : intern(s, full);
			if (r)
				free(full);
			free(d);
			return r;
		}
	}
	d = mg_demangle(name);
	r = intern(s, d ? d : name);
	free(d);
	return r;
}

/* path, when it is a debug file of mod (the same build-id, if mod has one): its fd */
static int try_debug_file(Dwfl_Module *mod, const char *path, const char *file_name,
			  char **debuginfo_file_name)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &bits, &vaddr), fd;

	if (file_name && !strcmp(path, file_name))
		return -1;                            /* the module itself */
	if (!mg_is_regular(path) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (len > 0) {
		Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		const void *dbits = NULL;
		ssize_t dlen = elf ? dwelf_elf_gnu_build_id(elf, &dbits) : -1;
		int same = dlen == len && !memcmp(dbits, bits, (size_t)len);

		elf_end(elf);
		if (!same) {
			close(fd);
			return -1;
		}
	}
	if (!(*debuginfo_file_name = strdup(path))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Where libdwfl's standard search looks, in its order, without its last
 * resort: by build-id under /usr/lib/debug/.build-id, then the debuglink's
 * name beside the file, in .debug/ beside it, and under /usr/lib/debug.  A
 * candidate must carry the module's build-id (a module without one takes
 * the first file found: libdwfl would check the debuglink's CRC).
 */
static int find_debuginfo_local(Dwfl_Module *mod, const char *file_name,
				const char *debuglink_file, char **debuginfo_file_name)
{
	int fd = dwfl_build_id_find_debuginfo(mod, NULL, NULL, 0, NULL, NULL, 0,
					      debuginfo_file_name);
	const char *slash;
	char path[4096];
	int dir_len;

	if (fd >= 0 || !debuglink_file || !file_name || !(slash = strrchr(file_name, '/')))
		return fd;
	if (debuglink_file[0] == '/')
		return try_debug_file(mod, debuglink_file, file_name, debuginfo_file_name);
	dir_len = (int)(slash - file_name);
	static const char *const under[] = { "", "", "/usr/lib/debug" };
	static const char *const sub[] = { "", "/.debug", "" };
	for (size_t i = 0; i < sizeof(under) / sizeof(under[0]); i++) {
		int n = snprintf(path, sizeof(path), "%s%.*s%s/%s", under[i], dir_len, file_name,
				 sub[i], debuglink_file);
		if (n > 0 && (size_t)n < sizeof(path) &&
		    (fd = try_debug_file(mod, path, file_name, debuginfo_file_name)) >= 0)
			return fd;
	}
	return -1;
}

/*
 * libdwfl's standard search asks debuginfod for any debug file it cannot
 * find on disk: with DEBUGINFOD_URLS set, a network request per module,
 * which stalls for minutes behind a firewall (docs/tracer.md, "Symbolization, after the run"); and even
 * without it, elfutils 0.188 first dlopens libdebuginfod.so, which loads
 * libcurl and twenty more libraries: 20-40 ms for every profile with a
 * module that has no debug file (measured on sqlite3).  So by default
 * memgate searches the disk itself and never loads libdebuginfod; with
 * MEMGATE_DEBUGINFOD=1 libdwfl's own search runs, debuginfod included.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const struct mg_symbolizer *s = *userdata;   /* set by open_module */

	if (s->debuginfod)
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
						    debuglink_file, debuglink_crc,
						    debuginfo_file_name);
	return find_debuginfo_local(mod, file_name, debuglink_file, debuginfo_file_name);
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,         /* unused: modules come from dwfl_report_elf */
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = NULL,                     /* ":.debug:/usr/lib/debug" */
};

static int same_build_id(const struct module *m, const void *bits, int len)
{
	return len > 0 && (size_t)len == m->build_id_len && !memcmp(bits, m->build_id, m->build_id_len);
}

/* Opens m->path; leaves m->usable 0 if it cannot be read or was rebuilt. */
static void open_module(struct mg_symbolizer *s, struct module *m)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	void **userdata;
	int len;

	/* the path a trace names (one the program scribbled over can name any):
	 * a FIFO or a device there would block libdwfl's open or its reads */
	if (!mg_is_regular(m->path) || !(m->dwfl = dwfl_begin(&offline_callbacks)))
		return;
	/*
	 * Base 0 with add_p_vaddr: a shared object or PIE keeps its own virtual
	 * addresses (bias 0), which is what the offsets are, and ET_EXEC has bias
	 * 0 anyway.  One Dwfl per module, so modules never overlap.
	 */
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, m->path, m->path, -1, 0, true);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod)
		return;
	/* find_debuginfo needs s: libdwfl hands a module's userdata to its callbacks */
	dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = s;

	len = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (m->build_id_len && len > 0 && !same_build_id(m, bits, len))
		return;     /* rebuilt: do not even look for its debug file */
	m->dw = s->system_lines || !is_system_library(m->path) ?
		dwfl_module_getdwarf(m->mod, &m->dwbias) : NULL;
	if (m->build_id_len) {
		if (len <= 0 && m->dw) {
			/* no note in the file: a debug file found by debuglink may have one */
			const void *dbits;

			len = (int)dwelf_elf_gnu_build_id(dwarf_getelf(m->dw), &dbits);
			bits = dbits;
		}
		if (!same_build_id(m, bits, len))
			return;
	}
	m->usable = 1;
}

/* The index in s->mods of the module for (path, build-id), opened on first use; -1: out of memory */
static long get_module(struct mg_symbolizer *s, const char *path,
		       const unsigned char *build_id, size_t build_id_len)
{
	size_t plen = strlen(path), i;
	uint64_t h = mg_fnv1a(path, plen + 1, mg_fnv1a(build_id, build_id_len, MG_FNV_OFFSET));
	uint64_t v;
	struct module *m;
	int known = map_get(&s->mod_map, h, build_id_len, &v);

	if (known) {
		m = s->mods[v];
		if (!strcmp(m->path, path) && !memcmp(m->build_id, build_id, build_id_len))
			return (long)v;
		/* a hash collision: the map holds the first of them, look at all */
		for (i = 0; i < s->n_mods; i++) {
			m = s->mods[i];
			if (!strcmp(m->path, path) && m->build_id_len == build_id_len &&
			    !memcmp(m->build_id, build_id, build_id_len))
				return (long)i;
		}
	}
	if (GROW(s->mods, s->cap_mods, s->n_mods + 1) < 0 || !(m = calloc(1, sizeof(*m))))
		return -1;
	m->path = strdup(path);
	m->build_id = malloc(build_id_len + 1);
	if (!m->path || !m->build_id || (!known && map_put(&s->mod_map, h, build_id_len, s->n_mods) < 0)) {
		free(m->path);
		free(m->build_id);
		free(m);
		return -1;
	}
	memcpy(m->build_id, build_id, build_id_len);
	m->build_id_len = build_id_len;
	s->mods[s->n_mods++] = m;
	open_module(s, m);
	return (long)(s->n_mods - 1);
}

static int sym_cmp(const void *pa, const void *pb)
{
	const struct sym *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank - b->rank;
	return strcmp(a->name, b->name);    /* deterministic among equals */
}

/*
 * syms in sym_cmp's order: a stable radix sort by address (a byte at a
 * time, bytes all alike skipped: a module's addresses share their high
 * bytes), then aliases at one address by rank and name.  A large program's
 * table is tens of thousands of functions: qsort was a quarter of what
 * `memgate trace` does after a real program's run.
 */
static void sort_syms(struct sym *v, size_t n)
{
	struct sym *tmp = malloc(n * sizeof(*tmp)), *src = v, *dst = tmp;
	size_t count[256], i, j;

	if (!tmp) {
		qsort(v, n, sizeof(*v), sym_cmp);
		return;
	}
	for (int shift = 0; shift < 64; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i].lo >> shift) & 0xff]++;
		if (count[(src[0].lo >> shift) & 0xff] == n)
			continue;               /* every address has this byte */
		for (i = 0, j = 0; i < 256; i++) {
			size_t c = count[i];
			count[i] = j;
			j += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i].lo >> shift) & 0xff]++] = src[i];
		struct sym *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	/* aliases at one address (a few: insertion, stable as qsort's merge was) */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[j].lo == v[i].lo; j++)
			;
		if (j - i > 32) {
			qsort(v + i, j - i, sizeof(*v), sym_cmp);
			continue;
		}
		for (size_t a = i + 1; a < j; a++) {
			struct sym x = v[a];
			size_t b = a;
			for (; b > i && sym_cmp(&v[b - 1], &x) > 0; b--)
				v[b] = v[b - 1];
			v[b] = x;
		}
	}
}

/* a versioned name's base ("memcpy" of "memcpy@@GLIBC_2.14") and the
 * addresses that go by it */
struct base {
	const char *name;
	size_t len;                 /* of the name without its version */
	uint64_t lo;                /* the first address seen */
	int distinct;               /* another address has the same base */
};

static struct base *base_find(struct base *t, size_t cap, const char *name, size_t len)
{
	size_t j = mg_fnv1a(name, len, MG_FNV_OFFSET) & (cap - 1);
	for (; t[j].name; j = (j + 1) & (cap - 1))
		if (t[j].len == len && !memcmp(t[j].name, name, len))
			break;
	return &t[j];
}

/*
 * Symbol versions (docs/profile-schema.md, a FRAME): "memcpy@@GLIBC_2.14"
 * is the default version, what a program links to today, and is shown as
 * "memcpy"; so is a non-default "name@VERSION" when it is the module's only
 * function of that name.  A non-default version keeps its suffix when another
 * function of the module has the same name ("memcpy@GLIBC_2.2.5", the old
 * memcpy, beside the default one): there it is all that tells them apart.
 */
static void strip_versions(struct mg_symbolizer *s, struct module *m)
{
	size_t n = 0, cap = 16, k;
	struct base *t;

	for (k = 0; k < m->n_syms; k++) {
		const char *at = strchr(m->syms[k].name, '@');
		n += at && at > m->syms[k].name;
	}
	if (!n)
		return;
	while (cap < 2 * n)
		cap *= 2;
	if (!(t = calloc(cap, sizeof(*t))))
		return;
	/* each base name, and whether two addresses share it: versioned names
	 * first, then the unversioned ones ("foo" beside "foo@V1") */
	for (int pass = 0; pass < 2; pass++)
		for (k = 0; k < m->n_syms; k++) {
			const char *name = m->syms[k].name, *at = strchr(name, '@');
			if (pass == 0 && !(at && at > name))
				continue;
			if (pass == 1 && at)
				continue;
			size_t len = at ? (size_t)(at - name) : strlen(name);
			struct base *e = base_find(t, cap, name, len);
			if (!e->name && pass == 0)
				*e = (struct base){ name, len, m->syms[k].lo, 0 };
			else if (e->name && e->lo != m->syms[k].lo)
				e->distinct = 1;
		}
	for (k = 0; k < m->n_syms; k++) {
		const char *name = m->syms[k].name, *at = strchr(name, '@'), *base;
		char *copy;

		if (!at || at == name)
			continue;
		size_t len = (size_t)(at - name);
		if (base_find(t, cap, name, len)->distinct && name[len + 1] != '@')
			continue;
		if (!(copy = strndup(name, len)))
			continue;
		if ((base = intern(s, copy)))
			m->syms[k].name = base;
		free(copy);
	}
	free(t);
}

/*
 * The module's function symbols, sorted: dwfl_module_addrinfo scans the
 * whole table at each call (heaptrack found it slow), and one binary search
 * per address is enough here.  Aliases at one address keep the best-ranked.
 */
static void load_syms(struct mg_symbolizer *s, struct module *m)
{
	int n, i;
	size_t cap = 0, j, k;

	m->syms_loaded = 1;
	n = dwfl_module_getsymtab(m->mod);
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);

		if (!name || !*name || sym.st_size == 0 || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		if (GROW(m->syms, cap, m->n_syms + 1) < 0)
			break;
		m->syms[m->n_syms++] = (struct sym){
			addr, addr + sym.st_size, name,
			bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2 };
	}
	if (!m->n_syms)
		return;
	sort_syms(m->syms, m->n_syms);
	for (j = 1, k = 0; j < m->n_syms; j++)
		if (m->syms[j].lo != m->syms[k].lo)
			m->syms[++k] = m->syms[j];
	m->n_syms = k + 1;
	strip_versions(s, m);
}

static const char *sym_name(struct mg_symbolizer *s, struct module *m, uint64_t addr)
{
	size_t lo = 0, hi, i, back;

	if (!m->syms_loaded)
		load_syms(s, m);
	hi = m->n_syms;
	while (lo < hi) {               /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* a few steps back, for a symbol nested in a bigger one (rare: asm) */
	for (i = lo, back = 0; i > 0 && back < 8; i--, back++)
		if (addr < m->syms[i - 1].hi)
			return m->syms[i - 1].name;
	return NULL;
}

/*
 * The module's ELF initializers: the functions the loader runs before main
 * (.init_array entries and DT_INIT).  An entry stored as 0 is filled by a
 * relocation at load time; it is then not known here.
 */
static void load_inits(struct module *m)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->mod, &bias);
	Elf_Scn *scn = NULL;
	size_t cap = 0;

	m->inits_loaded = 1;
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_INIT_ARRAY && (d = elf_getdata(scn, NULL)) && d->d_buf) {
			int wide = gelf_getclass(elf) == ELFCLASS64;
			size_t w = wide ? 8 : 4;

			for (size_t i = 0; i + w <= d->d_size; i += w) {
				uint64_t a = 0;
				uint32_t a32;

				if (wide)
					memcpy(&a, (char *)d->d_buf + i, 8);
				else
					memcpy(&a32, (char *)d->d_buf + i, 4), a = a32;
				if (a && a + 1 && GROW(m->inits, cap, m->n_inits + 1) == 0)
					m->inits[m->n_inits++] = a + bias;
			}
		} else if (sh.sh_type == SHT_DYNAMIC && (d = elf_getdata(scn, NULL))) {
			GElf_Dyn dyn;

			for (int i = 0; gelf_getdyn(d, i, &dyn) && dyn.d_tag != DT_NULL; i++)
				if (dyn.d_tag == DT_INIT && GROW(m->inits, cap, m->n_inits + 1) == 0)
					m->inits[m->n_inits++] = dyn.d_un.d_ptr + bias;
		}
	}
}

/*
 * Whether module address `a` lies in one of the module's ELF initializers:
 * the function around it starts at one.  Functions are found through the
 * binary search table of .eh_frame_hdr (each function's start, sorted):
 * stripped runtime libraries allocate their static data in initializers
 * (libstdc++'s emergency exception pool) with no symbol to name them.  Only
 * the table's usual encoding (4-byte entries relative to the section) is read.
 */
static int in_initializer(struct module *m, uint64_t a)
{
	GElf_Addr bias;
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!m->inits_loaded)
		load_inits(m);
	if (!m->n_inits || !(elf = dwfl_module_getelf(m->mod, &bias)) ||
	    elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const unsigned char *h;
		const char *name;
		uint32_t count;
		uint64_t lo = 0, hi, start;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".eh_frame_hdr"))
			continue;
		/* version 1, eh_frame_ptr pcrel|sdata4, count udata4, table datarel|sdata4 */
		if (!(d = elf_getdata(scn, NULL)) || !(h = d->d_buf) || d->d_size < 12 ||
		    h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b)
			return 0;
		memcpy(&count, h + 8, 4);
		if (count > (d->d_size - 12) / 8)
			return 0;
		hi = count;
		while (lo < hi) {               /* first function starting above a */
			uint64_t mid = lo + (hi - lo) / 2;
			int32_t rel;

			memcpy(&rel, h + 12 + mid * 8, 4);
			if (sh.sh_addr + bias + (uint64_t)(int64_t)rel <= a)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo)
			return 0;
		{
			int32_t rel;

			memcpy(&rel, h + 12 + (lo - 1) * 8, 4);
			start = sh.sh_addr + bias + (uint64_t)(int64_t)rel;
		}
		for (size_t i = 0; i < m->n_inits; i++)
			if (m->inits[i] == start)
				return 1;
		return 0;
	}
	return 0;
}

static int subprog_cmp(const void *pa, const void *pb)
{
	const struct subprog *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Collects the functions with code under `parent`: the CU, a namespace, a class */
static void index_dies(Dwarf_Die *parent, struct cu_index *ci, size_t *cap, int depth)
{
	Dwarf_Die child;

	if (depth > 16 || dwarf_child(parent, &child) != 0)
		return;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram: {
			Dwarf_Addr base, start, end;
			ptrdiff_t off = 0;

			while ((off = dwarf_ranges(&child, off, &base, &start, &end)) > 0) {
				if (GROW(ci->v, *cap, ci->n + 1) < 0)
					return;
				ci->v[ci->n++] = (struct subprog){ start, end, child };
			}
			break;
		}
		case DW_TAG_namespace:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
		case DW_TAG_module:
			index_dies(&child, ci, cap, depth + 1);
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

/*
 * The function containing `a` in the CU.  Scanning the CU's DIEs at each
 * lookup (what dwarf_getscopes does) is slow on big CUs, so each CU is
 * indexed once, when first hit (heaptrack's dwarfdiecache does the same).
 */
static Dwarf_Die *find_subprogram(struct mg_symbolizer *s, size_t mi, Dwarf_Die *cudie, Dwarf_Addr a)
{
	struct module *m = s->mods[mi];
	struct cu_index *ci;
	uint64_t off = dwarf_dieoffset(cudie), v;
	size_t lo = 0, hi, i;

	if (!map_get(&s->cu_map, mi, off, &v)) {
		size_t cap = 0;

		if (GROW(m->cus, m->cap_cus, m->n_cus + 1) < 0 ||
		    map_put(&s->cu_map, mi, off, m->n_cus) < 0)
			return NULL;
		v = m->n_cus++;
		ci = &m->cus[v];
		memset(ci, 0, sizeof(*ci));
		index_dies(cudie, ci, &cap, 0);
		qsort(ci->v, ci->n, sizeof(*ci->v), subprog_cmp);
	}
	ci = &m->cus[v];
	hi = ci->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ci->v[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i > 0 && lo - i < 4; i--)
		if (a < ci->v[i - 1].hi)
			return &ci->v[i - 1].die;
	return NULL;
}

static int cu_range_cmp(const void *pa, const void *pb)
{
	const struct cu_range *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/*
 * The CU containing DWARF address `a`, from the CUs' own ranges.  libdw
 * 0.188 finds CUs through .debug_aranges only, which clang does not emit
 * by default (elfutils 0.191 falls back to the CUs itself): without this,
 * clang-built code would get no lines.
 */
static Dwarf_Die *find_cu(struct module *m, Dwarf_Addr a)
{
	size_t lo = 0, hi, i;

	if (!m->cu_ranges_built) {
		Dwarf_CU *cu = NULL;
		Dwarf_Die cudie;
		size_t cap = 0;

		m->cu_ranges_built = 1;
		while (dwarf_get_units(m->dw, cu, &cu, NULL, NULL, &cudie, NULL) == 0) {
			Dwarf_Addr base, start, end;
			ptrdiff_t off = 0;

			if (dwarf_tag(&cudie) != DW_TAG_compile_unit)
				continue;
			while ((off = dwarf_ranges(&cudie, off, &base, &start, &end)) > 0) {
				if (GROW(m->cu_ranges, cap, m->n_cu_ranges + 1) < 0)
					goto sort;
				m->cu_ranges[m->n_cu_ranges++] = (struct cu_range){ start, end, cudie };
			}
		}
sort:
		if (m->n_cu_ranges)
			qsort(m->cu_ranges, m->n_cu_ranges, sizeof(*m->cu_ranges), cu_range_cmp);
	}
	hi = m->n_cu_ranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->cu_ranges[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i > 0 && lo - i < 4; i--)
		if (a < m->cu_ranges[i - 1].hi)
			return &m->cu_ranges[i - 1].cu;
	return NULL;
}

static int has_pc_attrs(Dwarf_Die *die)
{
	return dwarf_hasattr(die, DW_AT_low_pc) || dwarf_hasattr(die, DW_AT_ranges);
}

/*
 * Appends to chain[] the inlined calls under `parent` that contain `a`,
 * outermost first.  Lexical blocks are looked through; one without
 * addresses of its own may still hold inlined calls.
 */
static void find_inlined(Dwarf_Die *parent, Dwarf_Addr a, Dwarf_Die *chain, size_t *n, int depth)
{
	Dwarf_Die child;

	if (depth > 4 * MAX_INLINE || dwarf_child(parent, &child) != 0)
		return;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_inlined_subroutine:
			if (dwarf_haspc(&child, a) > 0) {
				if (*n < MAX_INLINE)
					chain[(*n)++] = child;
				find_inlined(&child, a, chain, n, depth + 1);
				return;
			}
			break;
		case DW_TAG_lexical_block:
			if (!has_pc_attrs(&child)) {
				size_t before = *n;

				find_inlined(&child, a, chain, n, depth + 1);
				if (*n > before)
					return;
			} else if (dwarf_haspc(&child, a) > 0) {
				find_inlined(&child, a, chain, n, depth + 1);
				return;
			}
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

/*
 * C++ and Rust: the linkage name, demangled.  C: the plain name, as a C linkage name
 * only differs by an asm label (glibc's "__GI___libc_malloc" for
 * "__libc_malloc").  Through abstract origins and specifications.
 */
static const char *die_name(struct mg_symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	const char *name;

	if (!link)
		link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (link && (!strncmp(link, "_Z", 2) || !strncmp(link, "_R", 2)))
		return demangled(s, link);
	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	return intern(s, name ? name : link);
}

/* Where an inlined call was made: DW_AT_call_file and DW_AT_call_line */
static void call_site(struct mg_symbolizer *s, Dwarf_Die *cudie, Dwarf_Die *inl,
		      const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word idx, ln;
	Dwarf_Files *files;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &idx) == 0 &&
	    dwarf_getsrcfiles(cudie, &files, &nfiles) == 0 && idx < nfiles)
		*file = intern(s, dwarf_filesrc(files, idx, NULL, NULL));
	if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &ln) == 0)
		*line = (int)ln;
}

/* Resolves module address `a`, appending to s->frames; returns how many */
static size_t resolve(struct mg_symbolizer *s, size_t mi, uint64_t a)
{
	struct module *m = s->mods[mi];
	Dwarf_Die chain[1 + MAX_INLINE], *cudie = NULL, *sub = NULL;
	Dwarf_Addr cubias = 0;
	const char *file = NULL;
	int line = 0;
	size_t n = 0, i;

	if (m->dw && !(cudie = dwfl_module_addrdie(m->mod, a, &cubias))) {
		cubias = m->dwbias;
		cudie = find_cu(m, a - cubias);
	}
	if (cudie) {
		Dwarf_Line *l = dwarf_getsrc_die(cudie, a - cubias);

		if (l) {
			file = intern(s, dwarf_linesrc(l, NULL, NULL));
			dwarf_lineno(l, &line);
		}
		if ((sub = find_subprogram(s, mi, cudie, a - cubias))) {
			chain[n++] = *sub;
			find_inlined(sub, a - cubias, chain, &n, 0);
		}
	}
	if (GROW(s->frames, s->cap_frames, s->n_frames + (n ? n : 1)) < 0)
		return 0;
	if (!n) {
		/* no DWARF for it (stripped, or assembly): the symbol table's name */
		const char *fn = demangled(s, sym_name(s, m, a));

		if (!fn && !file && in_initializer(m, a))
			fn = MG_SYM_INITIALIZER;
		if (!fn && !file)
			return 0;
		s->frames[s->n_frames++] = (struct mg_sym_frame){ fn, file, line, 0 };
		return 1;
	}
	for (i = n; i-- > 0;) {
		const char *fn = die_name(s, &chain[i]);

		if (!fn && i == 0)
			fn = demangled(s, sym_name(s, m, a));
		s->frames[s->n_frames++] = (struct mg_sym_frame){ fn, file, line, i > 0 };
		if (i > 0)
			call_site(s, cudie, &chain[i], &file, &line);
	}
	return n;
}

int mg_symbolizer_new(struct mg_symbolizer **out, struct mg_error *err)
{
	struct mg_symbolizer *s = calloc(1, sizeof(*s));
	const char *e = getenv("MEMGATE_DEBUGINFOD");

	*out = NULL;
	if (!s)
		return mg_error_set(err, MG_ERROR, "cannot create the symbolizer: out of memory");
	s->debuginfod = e && !strcmp(e, "1");
	e = getenv("MEMGATE_SYSTEM_LINES");
	s->system_lines = e && !strcmp(e, "1");
	*out = s;
	return MG_OK;
}

/* everything s holds released; its options kept */
static void clear(struct mg_symbolizer *s)
{
	size_t i, j;

	for (i = 0; i < s->n_mods; i++) {
		struct module *m = s->mods[i];

		for (j = 0; j < m->n_cus; j++)
			free(m->cus[j].v);
		free(m->cus);
		free(m->cu_ranges);
		free(m->syms);
		free(m->inits);
		if (m->dwfl)
			dwfl_end(m->dwfl);
		free(m->path);
		free(m->build_id);
		free(m);
	}
	free(s->mods);
	for (i = 0; i < s->n_strs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->frames);
	map_release(&s->mod_map);
	map_release(&s->addr_map);
	map_release(&s->cu_map);
	map_release(&s->str_map);
	struct mg_symbolizer empty = { .debuginfod = s->debuginfod,
				       .system_lines = s->system_lines };
	*s = empty;
}

void mg_symbolizer_free(struct mg_symbolizer *s)
{
	if (!s)
		return;
	clear(s);
	free(s);
}

void mg_symbolizer_recycle(struct mg_symbolizer *s, size_t max_modules)
{
	int keep = s->n_mods <= max_modules;
	for (size_t i = 0; keep && i < s->n_mods; i++)
		keep = s->mods[i]->build_id_len > 0;
	if (!keep)
		clear(s);
}

size_t mg_symbolize(struct mg_symbolizer *s, const char *path, const unsigned char *build_id,
		    size_t build_id_len, uint64_t offset, struct mg_sym_frame *out, size_t max)
{
	uint64_t v;
	size_t start, n;
	long mi;

	if (!build_id)
		build_id_len = 0, build_id = (const unsigned char *)"";
	/* offset 0 cannot be a return address: nothing to subtract 1 from */
	if (!path || !offset || (mi = get_module(s, path, build_id, build_id_len)) < 0 ||
	    !s->mods[mi]->usable)
		return 0;
	if (map_get(&s->addr_map, (uint64_t)mi, offset, &v)) {
		start = v >> 8;
		n = v & 0xff;
	} else {
		start = s->n_frames;
		n = resolve(s, (size_t)mi, offset - 1);
		if (map_put(&s->addr_map, (uint64_t)mi, offset, start << 8 | n) < 0)
			s->n_frames = start;    /* not cached: resolved again next time */
	}
	if (n > max)
		n = max;
	if (n)
		memcpy(out, s->frames + start, n * sizeof(*out));
	return n;
}
