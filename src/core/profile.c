/* profile.c - build the profile JSON document from a resolved trace */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../util/error.h"
#include "metric.h"
#include "profile.h"
#include "../util/buf.h"
#include "../util/json.h"
#include "../util/sort.h"
#include "runner.h"
#include "sites.h"
#include "stacks.h"
#include "version.h"

/* The compiler that built an ELF file, from its .comment section ("GCC: (Debian ...) 12.2.0"). */
static char *elf_compiler(const char *path)
{
	char *res = NULL;
	struct stat st;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
		close(fd);
		return NULL;
	}
	const unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	const Elf64_Ehdr *eh = (const void *)m;
	size_t size = (size_t)st.st_size;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size ||
	    eh->e_shstrndx >= eh->e_shnum)
		goto out;
	const Elf64_Shdr *sh = (const void *)(m + eh->e_shoff);
	const Elf64_Shdr *strs = &sh[eh->e_shstrndx];
	if (strs->sh_offset + strs->sh_size > size)
		goto out;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_name >= strs->sh_size ||
		    strcmp((const char *)m + strs->sh_offset + sh[i].sh_name, ".comment"))
			continue;
		if (sh[i].sh_offset + sh[i].sh_size > size || sh[i].sh_size == 0)
			break;
		/* the first NUL-terminated string is enough: the toolchain of the program */
		res = strndup((const char *)m + sh[i].sh_offset, sh[i].sh_size);
		break;
	}
out:
	munmap((void *)m, size);
	return res;
}

cJSON *mg_env_fingerprint(const char *exe)
{
	struct utsname u;
	cJSON *env = cJSON_CreateObject();
	char *cc = elf_compiler(exe);
	const char *img = getenv("ImageOS"), *ver = getenv("ImageVersion");
	char runner[256];

	uname(&u);
	cJSON_AddStringToObject(env, "libc", gnu_get_libc_version());
	cJSON_AddStringToObject(env, "arch", u.machine);
	cJSON_AddStringToObject(env, "kernel", u.release);
	if (cc)
		cJSON_AddStringToObject(env, "compiler", cc);
	else
		cJSON_AddNullToObject(env, "compiler");
	free(cc);
	if (img && *img) {
		snprintf(runner, sizeof(runner), "%s%s%s", img, ver ? "/" : "", ver ? ver : "");
		cJSON_AddStringToObject(env, "runner_image", runner);
	} else {
		cJSON_AddNullToObject(env, "runner_image");
	}
	return env;
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_hex(cJSON *o, const char *k, uint64_t v)
{
	char b[19];
	cJSON_AddStringToObject(o, k, mg_hex64(b, v));
}

/* one stack, symbolized: each return address gives 1..MAX_INLINE frames */
#define MAX_INLINE MG_MAX_INLINE
struct sframe {
	const struct mg_frame *raw;
	struct mg_sym_frame sym;        /* all NULL/0: unknown (module + offset only) */
};

static size_t resolve(const struct mg_image *img, uint32_t id, struct mg_symbolizer *sym,
		      struct mg_frame *raw, struct sframe *out, size_t max)
{
	size_t n = mg_trace_frames(img, id, raw, MGT_MAX_DEPTH), k = 0;
	for (size_t i = 0; i < n && k < max; i++) {
		struct mg_sym_frame f[MAX_INLINE];
		size_t m = sym && raw[i].module ?
			mg_symbolize(sym, raw[i].module, raw[i].build_id, raw[i].build_id_len,
				     raw[i].offset, f, MAX_INLINE) : 0;
		if (!m) {
			out[k].raw = &raw[i];
			memset(&out[k].sym, 0, sizeof(out[k].sym));
			k++;
		}
		for (size_t j = 0; j < m && k < max; j++, k++) {
			out[k].raw = &raw[i];
			out[k].sym = f[j];
		}
	}
	return k;
}

static cJSON *frames_json(const struct sframe *f, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		const struct mg_frame *r = f[i].raw;
		if (f[i].sym.function)
			cJSON_AddStringToObject(o, "function", f[i].sym.function);
		else
			cJSON_AddNullToObject(o, "function");
		if (f[i].sym.file)
			cJSON_AddStringToObject(o, "file", f[i].sym.file);
		else
			cJSON_AddNullToObject(o, "file");
		if (f[i].sym.line)
			cJSON_AddNumberToObject(o, "line", f[i].sym.line);
		else
			cJSON_AddNullToObject(o, "line");
		if (f[i].sym.inlined)
			cJSON_AddTrueToObject(o, "inlined");
		add_hex(o, "addr", r->addr);
		if (r->module)
			cJSON_AddStringToObject(o, "module", r->module);
		else
			cJSON_AddNullToObject(o, "module");
		add_hex(o, "offset", r->offset);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Runtime-owned blocks (docs/metrics.md): the rules are sites.c's, one table */
static const char *runtime_owner(const struct sframe *f, size_t n)
{
	struct mg_site_frame *sf = malloc(sizeof(*sf) * (n ? n : 1));
	const char *what;
	if (!sf)
		return NULL;
	for (size_t i = 0; i < n; i++)
		sf[i] = (struct mg_site_frame){ f[i].sym.function, f[i].sym.file, f[i].sym.line,
						f[i].raw->module, f[i].raw->offset };
	what = mg_runtime_owner(sf, n);
	free(sf);
	return what;
}

enum list_kind { L_PEAK, L_LEAK, L_BYTES, L_ALLOCS };

#define RANK_MORE 4096              /* stacks ranked at a time past a list's first */

struct ranked {
	const struct mg_image *img;
	uint32_t im, id;                /* image index, stack id */
	uint64_t key, key2;
};

static int by_key_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? 1 : -1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->im > y->im) - (x->im < y->im);
}

/*
 * The stacks of one kind, largest first, at most `max` with their frames.
 * For leaks, every stack (shown or not) is checked against the runtime rules
 * and runtime[0..1] gets the bytes and blocks the runtime owns.
 */
static cJSON *stack_list(const struct mg_proc *p, enum list_kind kind, unsigned max,
			 uint64_t *omitted, struct mg_symbolizer *sym, uint64_t runtime[2],
			 uint32_t *const *rows, unsigned list_frames)
{
	size_t cap = 0, n = 0;
	struct mg_frame raw[MGT_MAX_DEPTH];
	struct sframe *sf = malloc(sizeof(*sf) * MGT_MAX_DEPTH * 2);
	static const char *const kind_name[4] = { "definitely_lost", "indirectly_lost",
						  "possibly_lost", "still_reachable" };
	for (size_t i = 0; i < p->n_images; i++)
		cap += p->images[i]->n_stacks;
	/* every leak (the runtime's sums need them all); of the others, the
	 * first `max` so far and those since, up to RANK_MORE of them: a deep
	 * trace's 262k stacks are not copied to be ranked */
	size_t room = kind != L_LEAK && cap > (size_t)max + RANK_MORE ? (size_t)max + RANK_MORE : cap;
	struct ranked *r = malloc((room + 1) * sizeof(*r));
	cJSON *arr = cJSON_CreateArray();
	const struct mg_image *last = p->images[p->n_images - 1];
	size_t seen = 0;
	uint64_t floor = 0;             /* the last of the first `max` once ranked */

	for (size_t i = 0; r && i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		if (kind == L_PEAK && img != p->peak_image)
			continue;
		if (kind == L_LEAK && (img != last || !p->f.leaked_blocks))
			continue;
		for (uint32_t id = 0; id < img->n_stacks; id++) {
			const struct mgt_stack *s = &img->stacks[id];
			uint64_t k = 0, k2 = 0;
			switch (kind) {
			case L_PEAK: mg_stack_at_peak(img, s, &k, &k2); if (!k2) continue; break;
			case L_LEAK: k = s->cur_bytes; k2 = mgt_stack_blocks(s); if (!k2) continue; break;
			case L_BYTES: k = s->total_bytes; k2 = s->allocs; if (!k2) continue; break;
			case L_ALLOCS: k = s->allocs; k2 = s->total_bytes; if (!k) continue; break;
			}
			seen++;
			if (k < floor)
				continue;             /* after every one of the first `max` */
			if (n == room) {
				mg_sort_first(r, n, sizeof(*r), max, by_key_desc);
				n = max;
				floor = max ? r[max - 1].key : 0;
			}
			r[n++] = (struct ranked){ img, (uint32_t)i, id, k, k2 };
		}
	}
	/* the first `max` in order; the others (leaks: for the runtime's sums) as they come */
	if (r)
		mg_sort_first(r, n, sizeof(*r), max, by_key_desc);
	*omitted = seen > max ? seen - max : 0;
	for (size_t i = 0; sf && i < n; i++) {
		const struct mgt_stack *s = &r[i].img->stacks[r[i].id];
		uint32_t row = rows ? rows[r[i].im][r[i].id] : MG_NO_ROW;
		/* an entry with its row in the table is written without its frames:
		 * it keeps only the list_frames its caller asked for (a leak's are
		 * all resolved, for the runtime's rules) */
		size_t want = row != MG_NO_ROW && list_frames ? list_frames : MGT_MAX_DEPTH * 2;
		size_t nf = resolve(r[i].img, r[i].id, sym, raw, sf,
				    kind == L_LEAK ? MGT_MAX_DEPTH * 2 : want);
		const char *owner = kind == L_LEAK ? runtime_owner(sf, nf) : NULL;
		if (owner) {
			runtime[0] += s->cur_bytes;
			runtime[1] += mgt_stack_blocks(s);
		}
		if (i >= max) {
			if (kind != L_LEAK)
				break;
			continue;             /* only the runtime sums need the rest */
		}
		cJSON *o = cJSON_CreateObject();
		switch (kind) {
		case L_PEAK:
		case L_LEAK:
			add_u64(o, "bytes", r[i].key);
			add_u64(o, "blocks", r[i].key2);
			break;
		case L_BYTES:
		case L_ALLOCS:
			add_u64(o, "total_bytes", s->total_bytes);
			add_u64(o, "allocs", s->allocs);
			break;
		}
		const struct mgt_stack_lost *lost = kind == L_LEAK ? mg_image_lost(r[i].img, r[i].id)
								   : NULL;
		if (lost) {
			char key[40];
			for (int k = 0; k < 4; k++) {
				snprintf(key, sizeof(key), "%s_bytes", kind_name[k]);
				add_u64(o, key, lost->bytes[k]);
				snprintf(key, sizeof(key), "%s_blocks", kind_name[k]);
				add_u64(o, key, lost->blocks[k]);
			}
		}
		if (owner)
			cJSON_AddStringToObject(o, "runtime", owner);
		if (r[i].img->info[r[i].id].flags & 1)
			cJSON_AddTrueToObject(o, "truncated");
		/* its row in the stack table: on disk the frames are only there */
		if (row != MG_NO_ROW)
			add_u64(o, "stack", row);
		cJSON_AddItemToObject(o, "frames", frames_json(sf, nf < want ? nf : want));
		cJSON_AddItemToArray(arr, o);
	}
	free(sf);
	free(r);
	return arr;
}

static double ms(const struct mg_trace *t, uint64_t ns)
{
	/* three decimals: microseconds are plenty for a plot */
	return ns > t->t0_ns ? (double)((ns - t->t0_ns) / 1000) / 1000.0 : 0.0;
}

static cJSON *point(double t, uint64_t v)
{
	cJSON *pt = cJSON_CreateArray();
	cJSON_AddItemToArray(pt, cJSON_CreateNumber(t));
	cJSON_AddItemToArray(pt, cJSON_CreateNumber((double)v));
	return pt;
}

#define TIMELINE_POINTS 400        /* per process; docs/profile-schema.md */

/* the timeline's points, at most TIMELINE_POINTS: consecutive points are
 * merged into groups, each written as its largest (the first of equals), so
 * the peak is still a point and at its time */
static cJSON *timeline(const struct mg_trace *t, const struct mg_proc *p)
{
	cJSON *arr = cJSON_CreateArray();
	size_t n = 0, k = 0;
	for (size_t i = 0; i < p->n_images; i++)
		n += 2 + p->images[i]->tl_n;
	struct { uint64_t t, v; } *pt = malloc((n + 1) * sizeof(*pt));
	if (!pt)
		return arr;
	for (size_t i = 0; i < p->n_images; i++) {
		const struct mg_image *img = p->images[i];
		uint64_t last_t = img->hdr->start_mono_ns;
		pt[k].t = last_t;
		pt[k++].v = 0;
		for (uint32_t b = 0; b < img->tl_n; b++) {
			/* each bucket's maximum, so the peak is always one of the points */
			last_t = img->timeline[b].t_end_ns;
			pt[k].t = last_t;
			pt[k++].v = img->timeline[b].live_max;
		}
		/* a process that died mid-bucket: its last events are in the open bucket */
		if (img->have_open_bucket) {
			pt[k].t = last_t;
			pt[k++].v = img->hdr->tl_open.live_max;
		}
	}
	size_t group = (k + TIMELINE_POINTS - 1) / TIMELINE_POINTS;
	for (size_t g = 0; g < k; g += group) {
		size_t best = g;
		for (size_t j = g + 1; j < g + group && j < k; j++)
			if (pt[j].v > pt[best].v)
				best = j;
		cJSON_AddItemToArray(arr, point(ms(t, pt[best].t), pt[best].v));
	}
	free(pt);
	return arr;
}

static cJSON *argv_json(const struct mgt_header *h)
{
	cJSON *arr = cJSON_CreateArray();
	size_t len = h->argv_len < sizeof(h->argv) ? h->argv_len : sizeof(h->argv);
	for (size_t i = 0; i < len;) {
		size_t n = strnlen(h->argv + i, len - i);
		char *s = strndup(h->argv + i, n);
		cJSON_AddItemToArray(arr, cJSON_CreateString(s ? s : ""));
		free(s);
		i += n + 1;
	}
	return arr;
}

static const char *end_name(enum mg_end e)
{
	switch (e) {
	case MG_END_EXITED: return "exited";
	case MG_END_SIGNALED: return "signaled";
	case MG_END_UNTRACED: return "exec-untraced";
	default: return "unknown";
	}
}

static void figures_json(cJSON *o, const struct mg_figures *f)
{
	static const char *const kind[4] = { "definitely_lost", "indirectly_lost",
					     "possibly_lost", "still_reachable" };
	char key[40];
	add_u64(o, "allocs", f->allocs);
	add_u64(o, "frees", f->frees);
	add_u64(o, "total_bytes", f->total_bytes);
	add_u64(o, "peak_bytes", f->peak_bytes);
	add_u64(o, "peak_blocks", f->peak_blocks);
	add_u64(o, "leaked_bytes", f->leaked_bytes);
	add_u64(o, "leaked_blocks", f->leaked_blocks);
	/* null when the scan did not run: the process died before its exit step */
	for (int k = 0; k < 4; k++) {
		snprintf(key, sizeof(key), "%s_bytes", kind[k]);
		if (f->kinds_known)
			add_u64(o, key, f->lost_bytes[k]);
		else
			cJSON_AddNullToObject(o, key);
		snprintf(key, sizeof(key), "%s_blocks", kind[k]);
		if (f->kinds_known)
			add_u64(o, key, f->lost_blocks[k]);
		else
			cJSON_AddNullToObject(o, key);
	}
	add_u64(o, "rss_peak_bytes", f->rss_peak_bytes);
}

static void warn(cJSON *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(cJSON *warnings, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(warnings, cJSON_CreateString(buf));
}

/*
 * A program a process started that ran untraced: in "untraced" (what the
 * gate counts) and in the warnings, with the reason when the program itself
 * is untraceable (static, 32-bit, setuid), else its environment dropped the
 * tracer.
 */
static void untraced_program(cJSON *untraced, cJSON *warnings, int pid, const char *program,
			     const char *how)
{
	struct mg_error err = { 0 };
	char *resolved = NULL;
	cJSON_AddItemToArray(untraced, cJSON_CreateString(program));
	if (mg_check_traceable(&resolved, program, &err) == MG_EUNTRACEABLE)
		warn(warnings, "process %d %s '%s', which was not traced: %s", pid, how, program,
		     err.msg);
	else if (!strcmp(how, "started"))
		warn(warnings, "process %d started '%s' without LD_PRELOAD or MEMGATE_DIR: "
		     "it was not traced", pid, program);
	else
		warn(warnings, "process %d exec'd '%s', which was not traced (it is static or "
		     "setuid, its environment lost LD_PRELOAD, or its file size limit left no "
		     "room for a trace)", pid, program);
	free(resolved);
}

static cJSON *process_json(const struct mg_trace *t, const struct mg_proc *p, unsigned max,
			   cJSON *warnings, cJSON *untraced, struct mg_symbolizer *sym,
			   uint64_t total_runtime[2], struct mg_strtab *st, int whole,
			   unsigned list_frames)
{
	uint32_t **rows = NULL;
	uint64_t runtime[2] = { 0, 0 };
	cJSON *o = cJSON_CreateObject(), *images = cJSON_CreateArray();
	const struct mg_image *last = p->images[p->n_images - 1];
	uint64_t omitted;

	cJSON_AddNumberToObject(o, "pid", p->pid);
	cJSON_AddNumberToObject(o, "parent", p->ppid);
	cJSON_AddItemToObject(o, "argv", argv_json(last->hdr));
	cJSON_AddStringToObject(o, "exe", last->hdr->exe);
	cJSON_AddStringToObject(o, "end", end_name(p->end));
	if (p->end == MG_END_EXITED || (p->end == MG_END_UNTRACED && p->exit_code))
		cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	if (p->end == MG_END_SIGNALED)
		cJSON_AddNumberToObject(o, "signal", p->signal);
	else
		cJSON_AddNullToObject(o, "signal");
	if (p->via_underscore_exit)
		cJSON_AddTrueToObject(o, "exit_via_underscore_exit");
	cJSON_AddBoolToObject(o, "complete", p->complete);
	cJSON_AddNumberToObject(o, "start_ms", ms(t, p->start_ns));
	cJSON_AddNumberToObject(o, "end_ms", ms(t, p->end_ns));
	figures_json(o, &p->f);
	add_u64(o, "unknown_frees", p->unknown_frees);
	add_u64(o, "inherited_frees", p->inherited_frees);

	for (size_t i = 0; i < p->n_images; i++) {
		const struct mgt_header *h = p->images[i]->hdr;
		cJSON *im = cJSON_CreateObject();
		cJSON_AddItemToObject(im, "argv", argv_json(h));
		cJSON_AddStringToObject(im, "exe", h->exe);
		cJSON_AddStringToObject(im, "file", p->images[i]->file);
		/* a last image still "running" whose process exited called exit_group(2)
		 * itself: no exit handler ran, but every event was recorded */
		const char *ended = h->state == MGT_EXECED ? "exec" :
				    h->state == MGT_EXITED ? "exit" :
				    i + 1 == p->n_images && p->end == MG_END_EXITED ? "exit_group" : "died";
		cJSON_AddStringToObject(im, "ended", ended);
		if (h->flags & MGT_F_FORK_CHILD)
			cJSON_AddStringToObject(im, "forked_from", h->parent_file);
		struct mg_figures f;
		mg_image_figures(&f, p->images[i]);
		figures_json(im, &f);
		if (h->state == MGT_EXECED) {
			add_u64(im, "live_at_exec_bytes", h->cur_bytes);
			add_u64(im, "live_at_exec_blocks", h->cur_blocks);
		}
		cJSON_AddItemToArray(images, im);

		if (h->flags & MGT_F_UNTRACED_EXEC)
			untraced_program(untraced, warnings, p->pid, h->untraced, "started");
		if (h->flags & MGT_F_NOSPACE)
			warn(warnings, "process %d: the trace directory ran out of space; figures "
			     "stop early", p->pid);
		if (h->flags & MGT_F_FSIZE)
			warn(warnings, "process %d: its file size limit (RLIMIT_FSIZE) left no room "
			     "for its trace; figures stop early (docs/limits.md)", p->pid);
		if (h->signal_lost)
			warn(warnings, "process %d: %u allocations or frees of its signal handlers, "
			     "made while memgate was recording another call, found their queue full "
			     "and were not recorded: the figures are short by them (docs/limits.md)",
			     p->pid, h->signal_lost);
		if (h->flags & MGT_F_LEAKCHECK_UNREADABLE)
			warn(warnings, "process %d: its memory could not be read at exit "
			     "(process_vm_readv and /proc/self/mem refused, e.g. by a seccomp "
			     "policy): the leak kinds are unknown", p->pid);
		else if ((h->flags & MGT_F_LEAKCHECK) && (h->flags & MGT_F_LEAKCHECK_INEXACT))
			warn(warnings, "process %d: some memory could not be read at exit; the "
			     "leak kinds are approximate (blocks the scan could not read count as "
			     "still reachable)", p->pid);
		if ((h->flags & MGT_F_STACK_FULL) && h->n_stacks >= MGT_MAX_STACKS)
			warn(warnings, "process %d: more distinct call stacks than %u; the rest are "
			     "counted without a stack", p->pid, MGT_MAX_STACKS);
		else if ((h->flags & MGT_F_STACK_FULL) && !(h->flags & (MGT_F_NOSPACE | MGT_F_FSIZE)))
			warn(warnings, "process %d: more distinct frames than %u, all call stacks "
			     "together; the stacks past them are counted without a stack", p->pid,
			     MGT_MAX_NODES);
	}
	if (p->end == MG_END_SIGNALED)
		warn(warnings, "process %d (%s) was killed by signal %d: figures up to that moment",
		     p->pid, last->hdr->exe, p->signal);
	else if (p->end == MG_END_UNTRACED && !(last->hdr->flags & MGT_F_UNTRACED_EXEC))
		untraced_program(untraced, warnings, p->pid, last->hdr->exec_target, "exec'd");
	else if (p->end == MG_END_UNKNOWN)
		warn(warnings, "process %d (%s) ended without running its exit code, cause unknown: "
		     "figures up to that moment", p->pid, last->hdr->exe);

	int threads = 0;
	for (size_t i = 0; i < p->n_images; i++)
		threads |= (p->images[i]->hdr->flags & MGT_F_THREADS) != 0;
	cJSON_AddBoolToObject(o, "multithreaded", threads);
	cJSON_AddItemToObject(o, "images", images);
	cJSON_AddItemToObject(o, "timeline", timeline(t, p));
	/* the stack table first: the lists name their rows (stacks.c) */
	mg_stacks_write(o, p, sym, st, whole, &rows);
	uint64_t unused[2] = { 0, 0 };
	cJSON_AddItemToObject(o, "peak_stacks", stack_list(p, L_PEAK, max, &omitted, sym, unused, rows, list_frames));
	add_u64(o, "peak_stacks_omitted", omitted);
	cJSON_AddItemToObject(o, "leak_stacks", stack_list(p, L_LEAK, max, &omitted, sym, runtime, rows, list_frames));
	add_u64(o, "leak_stacks_omitted", omitted);
	/* runtime-owned leaks: shown apart, still counted in leaked_* */
	add_u64(o, "leaked_runtime_bytes", runtime[0]);
	add_u64(o, "leaked_runtime_blocks", runtime[1]);
	total_runtime[0] += runtime[0];
	total_runtime[1] += runtime[1];
	cJSON_AddItemToObject(o, "top_stacks_by_bytes",
			      stack_list(p, L_BYTES, 10, &omitted, sym, unused, rows, list_frames));
	cJSON_AddItemToObject(o, "top_stacks_by_allocs",
			      stack_list(p, L_ALLOCS, 10, &omitted, sym, unused, rows, list_frames));
	mg_stacks_rows_free(rows, p->n_images);
	return o;
}

cJSON *mg_profile_build(const struct mg_trace *t, const struct mg_run_info *ri)
{
	cJSON *doc = cJSON_CreateObject(), *test = cJSON_CreateObject();
	cJSON *warnings = cJSON_CreateArray(), *procs = cJSON_CreateArray();
	cJSON *untraced = cJSON_CreateArray();
	cJSON *summary = cJSON_CreateObject(), *ex = cJSON_CreateObject();
	const struct mg_proc *root = mg_trace_find(t, ri->root_pid);
	unsigned max = ri->max_stacks ? ri->max_stacks : 50;
	struct mg_figures sum = MG_FIGURES_INIT;
	uint64_t runtime[2] = { 0, 0 };
	int complete = !ri->timed_out && root;
	struct mg_strtab st = { 0 };

	cJSON_AddNumberToObject(doc, "schema", MG_PROFILE_SCHEMA);
	cJSON_AddStringToObject(doc, "memgate_version", MEMGATE_VERSION);
	cJSON_AddStringToObject(test, "name", ri->name);
	cJSON *argv = cJSON_CreateArray();
	for (char *const *a = ri->argv; a && *a; a++)
		cJSON_AddItemToArray(argv, cJSON_CreateString(*a));
	cJSON_AddItemToObject(test, "argv", argv);
	if (ri->cwd)
		cJSON_AddStringToObject(test, "cwd", ri->cwd);
	cJSON_AddItemToObject(doc, "test", test);
	if (ri->commit)
		cJSON_AddStringToObject(doc, "commit", ri->commit);
	else
		cJSON_AddNullToObject(doc, "commit");
	if (ri->dirty < 0)
		cJSON_AddNullToObject(doc, "dirty");
	else
		cJSON_AddBoolToObject(doc, "dirty", ri->dirty);
	cJSON_AddItemToObject(doc, "environment",
			      mg_env_fingerprint(root ? root->images[root->n_images - 1]->hdr->exe
						  : NULL));

	for (size_t i = 0; i < t->n_procs; i++) {
		const struct mg_proc *p = &t->procs[i];
		mg_figures_add(&sum, &p->f);
		complete &= p->complete || p->end == MG_END_UNTRACED;
		cJSON_AddItemToArray(procs, process_json(t, p, max, warnings, untraced,
							 ri->symbolizer, runtime, &st, ri->whole_stacks,
							 ri->list_frames));
	}
	if (ri->timed_out)
		warn(warnings, "the test timed out: figures up to that moment");

	if (root && root->end == MG_END_SIGNALED) {
		cJSON_AddNullToObject(ex, "code");
		cJSON_AddNumberToObject(ex, "signal", root->signal);
	} else if (root && root->end != MG_END_UNKNOWN) {
		cJSON_AddNumberToObject(ex, "code", root->exit_code);
		cJSON_AddNullToObject(ex, "signal");
	} else {
		cJSON_AddNullToObject(ex, "code");
		cJSON_AddNullToObject(ex, "signal");
	}
	cJSON_AddBoolToObject(ex, "timed_out", ri->timed_out);
	cJSON_AddItemToObject(doc, "exit", ex);
	cJSON_AddBoolToObject(doc, "complete", complete);
	cJSON_AddNumberToObject(doc, "duration_ms", ri->duration_ms);

	figures_json(summary, &sum);
	add_u64(summary, "leaked_runtime_bytes", runtime[0]);
	add_u64(summary, "leaked_runtime_blocks", runtime[1]);
	cJSON_AddNumberToObject(summary, "processes", (double)t->n_procs);
	cJSON_AddItemToObject(doc, "summary", summary);
	cJSON_AddItemToObject(doc, "warnings", warnings);
	cJSON_AddItemToObject(doc, "untraced", untraced);
	cJSON_AddItemToObject(doc, "processes", procs);
	/* every frame's strings, once for all processes */
	cJSON *strings = mg_strtab_finish(&st);
	if (strings)
		cJSON_AddItemToObject(doc, "strings", strings);
	return doc;
}

/* ------------------------------------------------------------ several runs */

static double sum_fig(const cJSON *sum, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(sum, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

struct by_fig {
	const cJSON **sums;
	const char *name;
};

/* qsort_r: run indices by one summary figure */
static int by_fig(const void *a, const void *b, void *ctx)
{
	const struct by_fig *c = ctx;
	double x = sum_fig(c->sums[*(const size_t *)a], c->name);
	double y = sum_fig(c->sums[*(const size_t *)b], c->name);
	return x < y ? -1 : x > y;
}

/* sets an existing figure of `obj` to v; a figure the document lacks stays absent */
static void set_fig(cJSON *obj, const char *name, double v)
{
	if (cJSON_GetObjectItem(obj, name))     /* (a replacement for an absent key would leak) */
		cJSON_ReplaceItemInObject(obj, name, cJSON_CreateNumber(v));
}

unsigned mg_profile_runs(const cJSON *profile, int *multithreaded)
{
	const cJSON *runs = cJSON_GetObjectItem(profile, "runs"), *p;
	*multithreaded = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(profile, "processes"))
		*multithreaded |= cJSON_IsTrue(cJSON_GetObjectItem(p, "multithreaded"));
	return cJSON_IsArray(runs) ? (unsigned)cJSON_GetArraySize(runs) : 1;
}

int mg_profile_run_range(uint64_t *lo, uint64_t *hi, const cJSON *profile, const char *name)
{
	const cJSON *runs = cJSON_GetObjectItem(profile, "runs"), *r;
	uint64_t v;

	*lo = UINT64_MAX;
	*hi = 0;
	if (!cJSON_IsArray(runs))
		return 0;
	cJSON_ArrayForEach(r, runs) {
		if (mg_json_u64(&v, cJSON_GetObjectItem(r, name)) != 0)
			return 0;
		*lo = v < *lo ? v : *lo;
		*hi = v > *hi ? v : *hi;
	}
	return *lo <= *hi;
}

unsigned mg_profile_run_width(const cJSON *profile, const char *name)
{
	uint64_t lo, hi;

	if (!mg_profile_run_range(&lo, &hi, profile, name) || hi <= lo)
		return 0;
	/* (hi - lo) / hi in thousandths, without overflow */
	return (unsigned)((double)(hi - lo) * 1000.0 / (double)hi);
}

cJSON *mg_profile_combine(cJSON *const *docs, size_t n)
{
	const cJSON **sums = NULL, *r;
	size_t *order = NULL, n_sums = 0, cap = 0;
	cJSON *out = NULL, *runs = NULL;

	/* every run's summary, in run order */
	for (size_t i = 0; i < n; i++) {
		const cJSON *prev = cJSON_GetObjectItem(docs[i], "runs");
		size_t k = cJSON_IsArray(prev) ? (size_t)cJSON_GetArraySize(prev) : 1;
		if (n_sums + k > cap) {
			cap = (n_sums + k) * 2;
			const cJSON **ns = realloc(sums, cap * sizeof(*ns));
			if (!ns)
				goto fail;
			sums = ns;
		}
		if (cJSON_IsArray(prev))
			cJSON_ArrayForEach(r, prev)
				sums[n_sums++] = r;
		else
			sums[n_sums++] = cJSON_GetObjectItem(docs[i], "summary");
	}
	if (!n_sums || !(order = malloc(n_sums * sizeof(*order))))
		goto fail;

	/* the median-peak run (the lower median of an even count) gives the document */
	for (size_t k = 0; k < n_sums; k++)
		order[k] = k;
	qsort_r(order, n_sums, sizeof(*order), by_fig, &(struct by_fig){ sums, "peak_bytes" });
	size_t med = order[(n_sums - 1) / 2], doc_i = 0, seen = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *prev = cJSON_GetObjectItem(docs[i], "runs");
		size_t k = cJSON_IsArray(prev) ? (size_t)cJSON_GetArraySize(prev) : 1;
		if (med < seen + k) {
			doc_i = i;
			break;
		}
		seen += k;
	}
	if (!(out = cJSON_Duplicate(docs[doc_i], 1)) || !(runs = cJSON_CreateArray()))
		goto fail;
	cJSON_DeleteItemFromObject(out, "runs");
	cJSON *sum = cJSON_GetObjectItem(out, "summary");
	if (!cJSON_IsObject(sum))
		goto fail;
	/* peak bytes and blocks are one instant: both from the median run */
	set_fig(sum, "peak_bytes", sum_fig(sums[med], "peak_bytes"));
	set_fig(sum, "peak_blocks", sum_fig(sums[med], "peak_blocks"));
	qsort_r(order, n_sums, sizeof(*order), by_fig, &(struct by_fig){ sums, "rss_peak_bytes" });
	if (sum_fig(sums[order[(n_sums - 1) / 2]], "rss_peak_bytes") >= 0)
		set_fig(sum, "rss_peak_bytes", sum_fig(sums[order[(n_sums - 1) / 2]], "rss_peak_bytes"));
	/* the counts: the lowest of the runs */
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		double lo = -1;
		if (mg_metric_info((enum mg_metric)m)->class != MG_METRIC_COUNT_CLASS)
			continue;
		for (size_t k = 0; k < n_sums; k++) {
			double v = sum_fig(sums[k], name);
			if (v >= 0 && (lo < 0 || v < lo))
				lo = v;
		}
		if (lo >= 0)
			set_fig(sum, name, lo);
	}
	/* the leak figures add up (kinds to leaked_*): all from the least leaking run */
	size_t least = 0;
	for (size_t k = 1; k < n_sums; k++)
		if (sum_fig(sums[k], "leaked_bytes") < sum_fig(sums[least], "leaked_bytes"))
			least = k;
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		enum mg_metric_class c = mg_metric_info((enum mg_metric)m)->class;
		const char *name = mg_metric_name((enum mg_metric)m);
		const cJSON *v = cJSON_GetObjectItem(sums[least], name);
		if ((c == MG_METRIC_LEAK_CLASS || c == MG_METRIC_KIND_CLASS ||
		     c == MG_METRIC_RUNTIME_CLASS) && v && cJSON_GetObjectItem(sum, name))
			cJSON_ReplaceItemInObject(sum, name, cJSON_Duplicate(v, 1));
	}
	for (size_t k = 0; k < n_sums; k++) {
		cJSON *c = cJSON_Duplicate(sums[k], 1);
		if (!c)
			goto fail;
		cJSON_AddItemToArray(runs, c);
	}
	cJSON_AddItemToObject(out, "runs", runs);
	free(order);
	free(sums);
	return out;
fail:
	cJSON_Delete(runs);
	cJSON_Delete(out);
	free(order);
	free(sums);
	return NULL;
}
