/* export.c - profiles as folded stacks, speedscope, BMF, github-action-benchmark and DHAT JSON */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/metric.h"
#include "../util/error.h"
#include "report.h"
#include "../util/buf.h"
#include "../util/json.h"
#include "version.h"

const char *const mg_report_format_names[] = {
	"folded", "speedscope", "bmf", "github-action-benchmark", "dhat", NULL
};

/* the columns of a "stacks" entry after its frames, in order */
const char *const mg_report_weight_names[] = {
	"total_bytes", "allocs", "peak_bytes", "peak_blocks", "leaked_bytes", "leaked_blocks"
};

int mg_report_format_parse(const char *name)
{
	for (int i = 0; mg_report_format_names[i]; i++)
		if (!strcmp(name, mg_report_format_names[i]))
			return i;
	return -1;
}

int mg_report_weight_parse(const char *name)
{
	for (int i = 0; i < MG_WEIGHT_COUNT; i++)
		if (!strcmp(name, mg_report_weight_names[i]))
			return i;
	return -1;
}

int mg_report_format_multi(enum mg_report_format fmt)
{
	return fmt == MG_REPORT_BMF || fmt == MG_REPORT_GAB;
}

/* ------------------------------------------------------------ the stack table */

struct xframe {
	const char *function, *file, *module;  /* borrowed; may be NULL */
	uint64_t offset, addr;
	int line;
};

struct xstack {
	const uint32_t *fr;                 /* innermost first */
	uint32_t n;
	uint64_t v[MG_WEIGHT_COUNT];
};

struct xproc {
	int pid;
	const char *exe, *argv0;
	double start_ms, end_ms;
	uint64_t peak_bytes, peak_blocks;
	const cJSON *json;
	struct xframe *frames;
	size_t n_frames;
	struct xstack *stacks;
	size_t n_stacks;
	uint32_t *pool;                     /* every stack's frame indices */
	cJSON *parsed[4];                   /* tables parsed from raw nodes (stacks.c) */
};

struct xprofile {
	const char *name;
	struct xproc *procs;
	size_t n_procs;
	size_t peak;                        /* the process that peaked (as the summary says) */
	const char **strings;               /* the document's "strings" */
	size_t n_strings;
	cJSON *parsed;                      /* "strings" parsed from a raw node */
};


static void xprofile_release(struct xprofile *x)
{
	for (size_t i = 0; i < x->n_procs; i++) {
		free(x->procs[i].frames);
		free(x->procs[i].stacks);
		free(x->procs[i].pool);
		for (int k = 0; k < 4; k++)
			cJSON_Delete(x->procs[i].parsed[k]);
	}
	free(x->procs);
	free(x->strings);
	cJSON_Delete(x->parsed);
	memset(x, 0, sizeof(*x));
}

static int bad(struct xprofile *x, struct mg_error *err, const char *name, int pid,
	       const char *what)
{
	xprofile_release(x);
	return mg_error_set(err, MG_EINVALID, "profile of '%s': process %d: %s", name, pid, what);
}

/* a table of the stack table (docs/profile-schema.md); a document fresh from
 * mg_profile_build holds it as raw JSON text, parsed here into *parsed */
static const cJSON *table(const cJSON *o, const char *key, cJSON **parsed)
{
	const cJSON *t = cJSON_GetObjectItem(o, key);
	if (cJSON_IsRaw(t))
		t = *parsed = cJSON_Parse(t->valuestring);
	return cJSON_IsArray(t) ? t : NULL;
}

static int index_of(const cJSON *v, size_t n, uint32_t *out)
{
	uint64_t i;
	if (mg_json_u64(&i, v) < 0 || i >= n)
		return -1;
	*out = (uint32_t)i;
	return 0;
}

/* a frame's offset: a number, or "0x..." (an address outside every module) */
static int offset_of(const cJSON *v, uint64_t *out)
{
	const char *s = cJSON_GetStringValue(v);
	char *end;
	if (!s)
		return mg_json_u64(out, v);
	if (strncmp(s, "0x", 2) || !s[2])
		return -1;
	*out = strtoull(s + 2, &end, 16);
	return *end ? -1 : 0;
}

static int xproc_load(struct xproc *p, const cJSON *pj, const struct xprofile *x)
{
	const cJSON *mods = table(pj, "modules", &p->parsed[0]);
	const cJSON *frames = table(pj, "frames", &p->parsed[1]);
	const cJSON *nodes = table(pj, "nodes", &p->parsed[2]);
	const cJSON *stacks = table(pj, "stacks", &p->parsed[3]);
	const cJSON *f, *s, *v;
	size_t total = 0, k = 0, n_nodes, n_mods;
	uint32_t *nf = NULL, *np = NULL, *depth = NULL;
	int ret = -3;

	if (!mods || !frames || !nodes || !stacks || !x->strings)
		return -2;
	n_mods = (size_t)cJSON_GetArraySize(mods);
	n_nodes = (size_t)cJSON_GetArraySize(nodes) / 2;
	p->n_frames = (size_t)cJSON_GetArraySize(frames);
	p->n_stacks = (size_t)cJSON_GetArraySize(stacks);
	p->frames = calloc(p->n_frames + 1, sizeof(*p->frames));
	p->stacks = calloc(p->n_stacks + 1, sizeof(*p->stacks));
	nf = malloc((n_nodes + 1) * sizeof(*nf));
	np = malloc((n_nodes + 1) * sizeof(*np));
	depth = malloc((n_nodes + 1) * sizeof(*depth));
	if (!p->frames || !p->stacks || !nf || !np || !depth) {
		ret = -1;
		goto out;
	}
	cJSON_ArrayForEach(f, frames) {
		struct xframe *xf = &p->frames[k++];
		const cJSON *fn = cJSON_GetArrayItem(f, 0), *file = cJSON_GetArrayItem(f, 1);
		const cJSON *line = cJSON_GetArrayItem(f, 2), *mod = cJSON_GetArrayItem(f, 3);
		uint32_t i;
		if (!cJSON_IsArray(f) || offset_of(cJSON_GetArrayItem(f, 4), &xf->offset) < 0)
			goto out;
		if (!cJSON_IsNull(fn)) {
			if (index_of(fn, x->n_strings, &i) < 0)
				goto out;
			xf->function = x->strings[i];
		}
		if (!cJSON_IsNull(file)) {
			if (index_of(file, x->n_strings, &i) < 0)
				goto out;
			xf->file = x->strings[i];
		}
		xf->line = cJSON_IsNumber(line) ? line->valueint : 0;
		xf->addr = xf->offset;          /* no module: the offset is the address */
		if (!cJSON_IsNull(mod)) {
			const cJSON *m;
			uint64_t base;
			if (index_of(mod, n_mods, &i) < 0 || !(m = cJSON_GetArrayItem(mods, (int)i)) ||
			    index_of(cJSON_GetArrayItem(m, 0), x->n_strings, &i) < 0 ||
			    mg_json_u64(&base, cJSON_GetArrayItem(m, 1)) < 0)
				goto out;
			xf->module = x->strings[i];
			xf->addr = base + xf->offset;
		}
	}
	/* nodes: flattened [frame, parent] pairs, a parent before its children */
	k = 0;
	for (v = nodes->child; v && v->next && k < n_nodes; v = v->next->next, k++) {
		const cJSON *par = v->next;
		if (index_of(v, p->n_frames, &nf[k]) < 0)
			goto out;
		if (cJSON_IsNumber(par) && par->valuedouble == -1) {
			np[k] = UINT32_MAX;
			depth[k] = 1;
		} else if (index_of(par, k, &np[k]) == 0) {
			depth[k] = depth[np[k]] + 1;
		} else {
			goto out;
		}
	}
	k = 0;
	cJSON_ArrayForEach(s, stacks) {
		struct xstack *xs = &p->stacks[k++];
		const cJSON *node = cJSON_GetArrayItem(s, 0);
		int w = 0;
		if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) != 1 + MG_WEIGHT_COUNT)
			goto out;
		if (cJSON_IsNumber(node) && node->valuedouble == -1)
			xs->n = 0;
		else if (index_of(node, n_nodes, &xs->n) == 0)
			xs->n = depth[xs->n];
		else
			goto out;
		total += xs->n;
		for (v = node->next; v; v = v->next, w++)
			if (mg_json_u64(&xs->v[w], v) < 0)
				goto out;
	}
	if (!(p->pool = calloc(total + 1, sizeof(*p->pool)))) {
		ret = -1;
		goto out;
	}
	k = 0;
	total = 0;
	cJSON_ArrayForEach(s, stacks) {
		struct xstack *xs = &p->stacks[k++];
		uint32_t n = 0;
		xs->fr = p->pool + total;
		if (xs->n)
			for (index_of(s->child, n_nodes, &n); n != UINT32_MAX; n = np[n])
				p->pool[total++] = nf[n];
	}
	ret = 0;
out:
	free(nf);
	free(np);
	free(depth);
	return ret;
}

/* Reads the stack table of every process; MG_EINVALID names the profile. */
static int xprofile_load(struct xprofile *x, const cJSON *doc, struct mg_error *err)
{
	const cJSON *procs = cJSON_GetObjectItem(doc, "processes"), *pj;
	const char *name = mg_json_str(cJSON_GetObjectItem(doc, "test"), "name");
	size_t k = 0;

	memset(x, 0, sizeof(*x));
	x->name = name ? name : "?";
	const cJSON *strings = table(doc, "strings", &x->parsed), *it;
	x->n_strings = strings ? (size_t)cJSON_GetArraySize(strings) : 0;
	if (strings && (x->strings = calloc(x->n_strings + 1, sizeof(*x->strings))))
		cJSON_ArrayForEach(it, strings)
			if (!(x->strings[k++] = cJSON_GetStringValue(it)))
				x->strings[k - 1] = "";
	k = 0;
	x->n_procs = (size_t)cJSON_GetArraySize(procs);
	x->procs = calloc(x->n_procs + 1, sizeof(*x->procs));
	if (!x->procs)
		return mg_error_set(err, MG_ERROR, "out of memory");
	cJSON_ArrayForEach(pj, procs) {
		struct xproc *p = &x->procs[k++];
		const cJSON *argv = cJSON_GetObjectItem(pj, "argv");
		p->json = pj;
		p->pid = cJSON_GetObjectItem(pj, "pid") ? cJSON_GetObjectItem(pj, "pid")->valueint : 0;
		p->exe = mg_json_str(pj, "exe");
		p->argv0 = cJSON_GetStringValue(cJSON_GetArrayItem(argv, 0));
		p->start_ms = cJSON_GetNumberValue(cJSON_GetObjectItem(pj, "start_ms"));
		p->end_ms = cJSON_GetNumberValue(cJSON_GetObjectItem(pj, "end_ms"));
		if (mg_json_u64(&p->peak_bytes, cJSON_GetObjectItem(pj, "peak_bytes")) < 0 ||
		    mg_json_u64(&p->peak_blocks, cJSON_GetObjectItem(pj, "peak_blocks")) < 0)
			return bad(x, err, x->name, p->pid, "no peak_bytes/peak_blocks");
		switch (xproc_load(p, pj, x)) {
		case -1:
			xprofile_release(x);
			return mg_error_set(err, MG_ERROR, "out of memory");
		case -2:
			return bad(x, err, x->name, p->pid, "no \"stacks\" table (written by an older "
				   "memgate? trace it again)");
		case -3:
			return bad(x, err, x->name, p->pid, "malformed stack table (\"strings\", "
				   "\"modules\", \"frames\", \"nodes\" or \"stacks\")");
		}
		/* the test's peak is the largest process peak; equal bytes: more blocks (trace.c) */
		struct xproc *best = &x->procs[x->peak];
		if (p->peak_bytes > best->peak_bytes ||
		    (p->peak_bytes == best->peak_bytes && p->peak_blocks > best->peak_blocks))
			x->peak = k - 1;
	}
	return MG_OK;
}

static int peak_weight(enum mg_report_weight w)
{
	return w == MG_WEIGHT_PEAK_BYTES || w == MG_WEIGHT_PEAK_BLOCKS;
}

static const char *basename_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

/* a frame's name in flame graphs: its function, else module+offset, else its address */
static void frame_name(char *buf, size_t size, const struct xframe *f)
{
	if (f->function)
		snprintf(buf, size, "%s", f->function);
	else if (f->module)
		snprintf(buf, size, "%s+0x%" PRIx64, basename_of(f->module), f->offset);
	else
		snprintf(buf, size, "[unknown 0x%" PRIx64 "]", f->addr);
}

/* the root frame of a process's stacks: its program */
static const char *proc_name(const struct xproc *p)
{
	const char *n = basename_of(p->argv0 && *p->argv0 ? p->argv0 : p->exe);
	return n && *n ? n : "[process]";
}

#define NO_STACK "[no stack recorded]"

/* ------------------------------------------------------------------- folded */

/* a frame name as folded text: ';' separates frames, a newline ends the line */
static void put_folded_name(struct mg_buf *t, const char *s)
{
	for (; *s; s++) {
		char c = *s == ';' ? ':' : (unsigned char)*s < 0x20 ? '?' : *s;
		mg_buf_add(t, &c, 1);
	}
}

static void folded(struct mg_buf *t, const struct xprofile *x, enum mg_report_weight w)
{
	char name[1024];
	for (size_t i = 0; i < x->n_procs; i++) {
		const struct xproc *p = &x->procs[i];
		if (peak_weight(w) && i != x->peak)
			continue;
		for (size_t s = 0; s < p->n_stacks; s++) {
			const struct xstack *st = &p->stacks[s];
			if (!st->v[w])
				continue;
			put_folded_name(t, proc_name(p));
			for (uint32_t k = st->n; k-- > 0;) {
				frame_name(name, sizeof(name), &p->frames[st->fr[k]]);
				mg_buf_add(t, ";", 1);
				put_folded_name(t, name);
			}
			if (!st->n)
				mg_buf_puts(t, ";" NO_STACK);
			mg_buf_printf(t, " %" PRIu64 "\n", st->v[w]);
		}
	}
}

/* ------------------------------------------------------------ string interning */

struct intern {
	char **key;
	uint32_t *val;
	size_t cap, n;
	int failed;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* the index of key, adding it as index n if new; UINT32_MAX when out of memory */
static uint32_t intern(struct intern *in, const char *key, int *added)
{
	*added = 0;
	if ((in->n + 1) * 2 > in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 1024;
		char **k = calloc(cap, sizeof(*k));
		uint32_t *v = calloc(cap, sizeof(*v));
		if (!k || !v) {
			free(k);
			free(v);
			in->failed = 1;
			return UINT32_MAX;
		}
		for (size_t i = 0; i < in->cap; i++) {
			if (!in->key[i])
				continue;
			size_t j = str_hash(in->key[i]) & (cap - 1);
			while (k[j])
				j = (j + 1) & (cap - 1);
			k[j] = in->key[i];
			v[j] = in->val[i];
		}
		free(in->key);
		free(in->val);
		in->key = k;
		in->val = v;
		in->cap = cap;
	}
	size_t j = str_hash(key) & (in->cap - 1);
	for (; in->key[j]; j = (j + 1) & (in->cap - 1))
		if (!strcmp(in->key[j], key))
			return in->val[j];
	if (!(in->key[j] = strdup(key))) {
		in->failed = 1;
		return UINT32_MAX;
	}
	in->val[j] = (uint32_t)in->n++;
	*added = 1;
	return in->val[j];
}

static void intern_release(struct intern *in)
{
	for (size_t i = 0; i < in->cap; i++)
		free(in->key[i]);
	free(in->key);
	free(in->val);
	memset(in, 0, sizeof(*in));
}

/* --------------------------------------------------------------- speedscope */

/*
 * speedscope (https://www.speedscope.app/file-format-schema.json): frames
 * shared by function and file, one sampled profile per weight, samples root
 * first.  The root frame of each stack is its process's program.
 */
static void speedscope(struct mg_buf *t, const struct xprofile *x)
{
	struct intern in = { 0 };
	uint32_t **map = calloc(x->n_procs + 1, sizeof(*map));
	uint32_t *root = calloc(x->n_procs + 1, sizeof(*root)), no_stack;
	char name[1024], key[2048];
	int added;

	if (!map || !root) {
		t->failed = 1;
		goto out;
	}
	mg_buf_puts(t, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
		     "\"shared\":{\"frames\":[");
	/* frames: each process's program, then each distinct function (and file) */
	for (size_t i = 0; i < x->n_procs; i++) {
		const struct xproc *p = &x->procs[i];
		snprintf(key, sizeof(key), "%s", proc_name(p));
		root[i] = intern(&in, key, &added);
		if (added) {
			mg_buf_puts(t, in.n > 1 ? ",{\"name\":" : "{\"name\":");
			mg_buf_json_string(t, proc_name(p));
			mg_buf_puts(t, "}");
		}
		if (!(map[i] = calloc(p->n_frames + 1, sizeof(*map[i])))) {
			t->failed = 1;
			goto out;
		}
		for (size_t f = 0; f < p->n_frames; f++) {
			const struct xframe *fr = &p->frames[f];
			frame_name(name, sizeof(name), fr);
			snprintf(key, sizeof(key), "%s%c%s", name, 1, fr->file ? fr->file : "");
			map[i][f] = intern(&in, key, &added);
			if (!added)
				continue;
			mg_buf_puts(t, in.n > 1 ? ",{\"name\":" : "{\"name\":");
			mg_buf_json_string(t, name);
			if (fr->file) {
				mg_buf_puts(t, ",\"file\":");
				mg_buf_json_string(t, fr->file);
			}
			mg_buf_puts(t, "}");
		}
	}
	no_stack = intern(&in, NO_STACK, &added);
	if (added)
		mg_buf_printf(t, "%s{\"name\":\"" NO_STACK "\"}", in.n > 1 ? "," : "");
	mg_buf_puts(t, "]},\"profiles\":[");
	for (int w = 0; w < MG_WEIGHT_COUNT; w++) {
		uint64_t sum = 0;
		int first = 1;
		for (size_t i = 0; i < x->n_procs; i++)
			for (size_t s = 0; s < x->procs[i].n_stacks; s++)
				if (!peak_weight(w) || i == x->peak)
					sum += x->procs[i].stacks[s].v[w];
		mg_buf_puts(t, w ? ",{\"type\":\"sampled\",\"name\":" : "{\"type\":\"sampled\",\"name\":");
		snprintf(key, sizeof(key), "%s: %s", x->name, mg_report_weight_names[w]);
		mg_buf_json_string(t, key);
		mg_buf_printf(t, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRIu64
			       ",\"samples\":[", strstr(mg_report_weight_names[w], "bytes") ? "bytes" :
			       "none", sum);
		for (size_t i = 0; i < x->n_procs; i++) {
			const struct xproc *p = &x->procs[i];
			if (peak_weight(w) && i != x->peak)
				continue;
			for (size_t s = 0; s < p->n_stacks; s++) {
				const struct xstack *st = &p->stacks[s];
				if (!st->v[w])
					continue;
				mg_buf_printf(t, "%s[%" PRIu32, first ? "" : ",", root[i]);
				first = 0;
				for (uint32_t k = st->n; k-- > 0;)
					mg_buf_printf(t, ",%" PRIu32, map[i][st->fr[k]]);
				if (!st->n)
					mg_buf_printf(t, ",%" PRIu32, no_stack);
				mg_buf_puts(t, "]");
			}
		}
		mg_buf_puts(t, "],\"weights\":[");
		first = 1;
		for (size_t i = 0; i < x->n_procs; i++)
			for (size_t s = 0; s < x->procs[i].n_stacks; s++) {
				uint64_t v = x->procs[i].stacks[s].v[w];
				if (!v || (peak_weight(w) && i != x->peak))
					continue;
				mg_buf_printf(t, "%s%" PRIu64, first ? "" : ",", v);
				first = 0;
			}
		mg_buf_puts(t, "]}");
	}
	mg_buf_puts(t, "],\"name\":");
	mg_buf_json_string(t, x->name);
	mg_buf_puts(t, ",\"activeProfileIndex\":0,\"exporter\":\"memgate " MEMGATE_VERSION "\"}\n");
out:
	if (in.failed)
		t->failed = 1;
	for (size_t i = 0; map && i < x->n_procs; i++)
		free(map[i]);
	free(map);
	free(root);
	intern_release(&in);
}

/* ------------------------------------------- Bencher, github-action-benchmark */

/* every figure of core/metric.h is a benchmark measure, in its unit */

static int benchmarks(struct mg_buf *t, enum mg_report_format fmt, const cJSON *const *docs,
		      size_t n, struct mg_error *err)
{
	mg_buf_puts(t, fmt == MG_REPORT_BMF ? "{" : "[");
	int first = 1;
	for (size_t d = 0; d < n; d++) {
		const cJSON *sum = cJSON_GetObjectItem(docs[d], "summary");
		const char *name = mg_json_str(cJSON_GetObjectItem(docs[d], "test"), "name");
		if (!name || !cJSON_IsObject(sum))
			return mg_error_set(err, MG_EINVALID, "profile %zu: no test name or summary", d + 1);
		for (size_t e = 0; e < d; e++)
			if (!strcmp(name, mg_json_str(cJSON_GetObjectItem(docs[e], "test"), "name")))
				return mg_error_set(err, MG_EINVALID, "two profiles of test '%s'", name);
		if (fmt == MG_REPORT_BMF) {
			mg_buf_puts(t, d ? ",\n  " : "\n  ");
			mg_buf_json_string(t, name);
			mg_buf_puts(t, ": {");
		}
		int m_first = 1;
		for (int m = 0; m < MG_METRIC_COUNT; m++) {
			const struct mg_metric_info *mi = mg_metric_info((enum mg_metric)m);
			uint64_t v;
			if (mg_json_u64(&v, cJSON_GetObjectItem(sum, mi->name)) < 0)
				continue;             /* null: unknown (leak kinds of a crash) */
			if (fmt == MG_REPORT_BMF) {
				mg_buf_printf(t, "%s\n    \"%s\": { \"value\": %" PRIu64 " }",
					       m_first ? "" : ",", mi->name, v);
			} else {
				char label[1024];
				snprintf(label, sizeof(label), "%s/%s", name, mi->name);
				mg_buf_puts(t, first ? "\n  { \"name\": " : ",\n  { \"name\": ");
				mg_buf_json_string(t, label);
				mg_buf_printf(t, ", \"unit\": \"%s\", \"value\": %" PRIu64 " }",
					       mi->unit, v);
			}
			m_first = first = 0;
		}
		if (fmt == MG_REPORT_BMF)
			mg_buf_puts(t, "\n  }");
	}
	mg_buf_puts(t, fmt == MG_REPORT_BMF ? "\n}\n" : "\n]\n");
	return MG_OK;
}

/* --------------------------------------------------------------------- DHAT */

/* a frame the way valgrind describes an address: "0x4005D3: main (basic.c:16)" */
static void dhat_frame(char *buf, size_t size, const struct xframe *f)
{
	char addr[24];
	snprintf(addr, sizeof(addr), "0x%" PRIx64, f->addr);
	if (f->function && f->file)
		snprintf(buf, size, "%s: %s (%s:%d)", addr, f->function, basename_of(f->file), f->line);
	else if (f->function)
		snprintf(buf, size, "%s: %s (in %s)", addr, f->function,
			 f->module ? f->module : "???");
	else if (f->module)
		snprintf(buf, size, "%s: ??? (in %s)", addr, f->module);
	else
		snprintf(buf, size, "%s: ???", addr);
}

/* the time of a process's peak: the first timeline point at its peak bytes */
static double peak_ms(const struct xproc *p)
{
	const cJSON *pt;
	cJSON_ArrayForEach(pt, cJSON_GetObjectItem(p->json, "timeline"))
		if (cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 1)) == (double)p->peak_bytes)
			return cJSON_GetNumberValue(cJSON_GetArrayItem(pt, 0));
	return p->start_ms;
}

struct pp {
	uint64_t v[MG_WEIGHT_COUNT];
	char *fs;                           /* ",1,2,3": ftbl indices, innermost first */
};

/*
 * DHAT's own file format (valgrind dhat/dh_main.c, read by dh_view.html), of
 * the process that peaked: one program point per distinct stack.  memgate does
 * not record block lifetimes, per-stack maxima nor accesses: "tl" is 0, "mb" is
 * the larger of the at-peak and at-exit figures (a lower bound), bkacc false.
 */
static void dhat(struct mg_buf *t, const struct xprofile *x)
{
	const struct xproc *p = &x->procs[x->peak];
	struct intern ftbl = { 0 }, pps = { 0 };
	struct pp *pp = calloc(p->n_stacks + 1, sizeof(*pp));
	uint32_t *fmap = calloc(p->n_frames + 1, sizeof(*fmap));
	struct mg_buf fs = MG_BUF_UNBOUNDED;
	char name[2048];
	int added;
	size_t n_pp = 0;

	if (!pp || !fmap) {
		t->failed = 1;
		goto out;
	}
	intern(&ftbl, "[root]", &added);
	for (size_t f = 0; f < p->n_frames; f++) {
		dhat_frame(name, sizeof(name), &p->frames[f]);
		fmap[f] = intern(&ftbl, name, &added);
	}
	uint32_t no_stack = intern(&ftbl, NO_STACK, &added);
	/* identical frame lists are one program point: dh_view.js rejects repeats */
	for (size_t s = 0; s < p->n_stacks; s++) {
		const struct xstack *st = &p->stacks[s];
		mg_buf_clear(&fs);
		mg_buf_puts(&fs, "");
		for (uint32_t k = 0; k < st->n; k++)
			mg_buf_printf(&fs, ",%" PRIu32, fmap[st->fr[k]]);
		if (!st->n)
			mg_buf_printf(&fs, ",%" PRIu32, no_stack);
		if (fs.failed)
			break;
		uint32_t i = intern(&pps, fs.ptr, &added);
		if (i == UINT32_MAX)
			break;
		if (added && !(pp[n_pp++].fs = strdup(fs.ptr)))
			break;
		for (int w = 0; w < MG_WEIGHT_COUNT; w++)
			pp[i].v[w] += st->v[w];
	}
	double te = (p->end_ms - p->start_ms) * 1000, tg = (peak_ms(p) - p->start_ms) * 1000;
	mg_buf_puts(t, "{\"dhatFileVersion\":2\n,\"mode\":\"heap\",\"verb\":\"Allocated\"\n"
		     ",\"bklt\":true,\"bkacc\":false\n,\"tu\":\"µs\",\"Mtu\":\"s\"\n,\"tuth\":500\n"
		     ",\"cmd\":");
	struct mg_buf cmd = MG_BUF_UNBOUNDED;
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(p->json, "argv"))
		if (cJSON_IsString(a))
			mg_buf_printf(&cmd, "%s%s", cmd.len ? " " : "", a->valuestring);
	mg_buf_json_string(t, cmd.ptr && !cmd.failed ? cmd.ptr : "");
	mg_buf_release(&cmd);
	mg_buf_printf(t, "\n,\"pid\":%d\n,\"te\":%.0f\n,\"tg\":%.0f\n,\"pps\":\n", p->pid,
		       te > 0 ? te : 0, tg > 0 ? tg : 0);
	for (size_t i = 0; i < n_pp; i++) {
		const uint64_t *v = pp[i].v;
		uint64_t mb = v[MG_WEIGHT_PEAK_BYTES] > v[MG_WEIGHT_LEAKED_BYTES] ?
			      v[MG_WEIGHT_PEAK_BYTES] : v[MG_WEIGHT_LEAKED_BYTES];
		uint64_t mbk = v[MG_WEIGHT_PEAK_BLOCKS] > v[MG_WEIGHT_LEAKED_BLOCKS] ?
			       v[MG_WEIGHT_PEAK_BLOCKS] : v[MG_WEIGHT_LEAKED_BLOCKS];
		mg_buf_printf(t, " %c{\"tb\":%" PRIu64 ",\"tbk\":%" PRIu64 ",\"tl\":0"
			       ",\"mb\":%" PRIu64 ",\"mbk\":%" PRIu64 ",\"gb\":%" PRIu64
			       ",\"gbk\":%" PRIu64 ",\"eb\":%" PRIu64 ",\"ebk\":%" PRIu64
			       ",\"fs\":[%s]}\n", i ? ',' : '[', v[MG_WEIGHT_TOTAL_BYTES],
			       v[MG_WEIGHT_ALLOCS], mb, mbk, v[MG_WEIGHT_PEAK_BYTES],
			       v[MG_WEIGHT_PEAK_BLOCKS], v[MG_WEIGHT_LEAKED_BYTES],
			       v[MG_WEIGHT_LEAKED_BLOCKS], pp[i].fs + 1);
	}
	mg_buf_puts(t, n_pp ? " ]\n,\"ftbl\":\n" : " [\n ]\n,\"ftbl\":\n");
	/* ftbl in index order: invert the interning table */
	const char **names = calloc(ftbl.n + 1, sizeof(*names));
	if (!names) {
		t->failed = 1;
		goto out;
	}
	for (size_t i = 0; i < ftbl.cap; i++)
		if (ftbl.key[i])
			names[ftbl.val[i]] = ftbl.key[i];
	for (size_t i = 0; i < ftbl.n; i++) {
		mg_buf_puts(t, i ? " ," : " [");
		mg_buf_json_string(t, names[i]);
		mg_buf_puts(t, "\n");
	}
	mg_buf_puts(t, " ]\n}\n");
	free(names);
out:
	if (ftbl.failed || pps.failed || fs.failed)
		t->failed = 1;
	for (size_t i = 0; pp && i < n_pp; i++)
		free(pp[i].fs);
	free(pp);
	free(fmap);
	mg_buf_release(&fs);
	intern_release(&ftbl);
	intern_release(&pps);
}

int mg_report_export(char **out, size_t *len, enum mg_report_format fmt,
		     const cJSON *const *profiles, size_t n, enum mg_report_weight weight,
		     struct mg_error *err)
{
	struct mg_buf t = MG_BUF_UNBOUNDED;
	struct xprofile x = { 0 };
	int ret;

	if (mg_report_format_multi(fmt)) {
		if ((ret = benchmarks(&t, fmt, profiles, n, err)) != MG_OK) {
			mg_buf_release(&t);
			return ret;
		}
		return mg_buf_finish(&t, out, len, err);
	}
	if (n != 1)
		return mg_error_set(err, MG_EINVALID, "format '%s' takes one profile",
				    mg_report_format_names[fmt]);
	if ((ret = xprofile_load(&x, profiles[0], err)) != MG_OK)
		return ret;
	if (!x.n_procs) {
		const char *name = x.name;
		xprofile_release(&x);
		return mg_error_set(err, MG_EINVALID, "profile of '%s' has no process", name);
	}
	switch (fmt) {
	case MG_REPORT_FOLDED:
		folded(&t, &x, weight);
		break;
	case MG_REPORT_SPEEDSCOPE:
		speedscope(&t, &x);
		break;
	case MG_REPORT_DHAT:
		dhat(&t, &x);
		break;
	default:
		break;
	}
	xprofile_release(&x);
	return mg_buf_finish(&t, out, len, err);
}
