/* baseline.c - build, compare and print baselines canonically */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/error.h"
#include "baseline.h"
#include "metric.h"
#include "suppress.h"

/* a baseline keeps every summary figure of metric.h */

#define SITE_FRAMES 4                     /* frames that name a call site */
#define MAX_SITES 10

/* "func (file:line) < caller (file:line)": a site's name, from its innermost frames */
static char *site_name(const cJSON *frames)
{
	char buf[2048];
	size_t len = 0;
	int n = 0;
	const cJSON *f;
	buf[0] = '\0';
	cJSON_ArrayForEach(f, frames) {
		const cJSON *fn = cJSON_GetObjectItem(f, "function"), *file = cJSON_GetObjectItem(f, "file");
		const cJSON *line = cJSON_GetObjectItem(f, "line"), *mod = cJSON_GetObjectItem(f, "module");
		const cJSON *off = cJSON_GetObjectItem(f, "offset");
		const char *base;
		if (n++ == SITE_FRAMES || len >= sizeof(buf) - 1)
			break;
		if (n > 1)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, " < ");
		if (len >= sizeof(buf) - 1)
			break;
		if (cJSON_IsString(fn) && cJSON_IsString(file)) {
			base = strrchr(file->valuestring, '/');
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s (%s:%d)", fn->valuestring,
						base ? base + 1 : file->valuestring,
						cJSON_IsNumber(line) ? line->valueint : 0);
		} else if (cJSON_IsString(fn)) {
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", fn->valuestring);
		} else {
			/* module+offset: stable for the same binary */
			base = cJSON_IsString(mod) ? strrchr(mod->valuestring, '/') : NULL;
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s+%s",
						base ? base + 1 : cJSON_IsString(mod) ? mod->valuestring : "?",
						cJSON_IsString(off) ? off->valuestring : "?");
		}
	}
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	return strndup(buf, len);
}

struct site {
	char *name;
	double bytes, blocks;
};

static int by_bytes(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* sums the stacks of `list` over the given processes by site name; the top MAX_SITES */
static cJSON *sites(const cJSON *procs, const char *list, const cJSON *only)
{
	struct site *s = NULL;
	size_t n = 0, cap = 0;
	const cJSON *p, *st;
	cJSON *arr = cJSON_CreateArray();
	cJSON_ArrayForEach(p, procs) {
		if (only && p != only)
			continue;
		cJSON_ArrayForEach(st, cJSON_GetObjectItem(p, list)) {
			if (cJSON_GetObjectItem(st, "suppressed"))
				continue;     /* memgate.yml hides it (suppress.c) */
			const cJSON *bytes = cJSON_GetObjectItem(st, "bytes");
			const cJSON *blocks = cJSON_GetObjectItem(st, "blocks");
			char *name = site_name(cJSON_GetObjectItem(st, "frames"));
			size_t k;
			if (!name || !cJSON_IsNumber(bytes) || !cJSON_IsNumber(blocks)) {
				free(name);
				continue;
			}
			for (k = 0; k < n && strcmp(s[k].name, name); k++)
				;
			if (k == n) {
				if (n == cap) {
					struct site *ns = realloc(s, (cap ? 2 * cap : 16) * sizeof(*s));
					if (!ns) {
						free(name);
						continue;
					}
					s = ns;
					cap = cap ? 2 * cap : 16;
				}
				s[n++] = (struct site){ name, 0, 0 };
			} else {
				free(name);
			}
			s[k].bytes += bytes->valuedouble;
			s[k].blocks += blocks->valuedouble;
		}
	}
	if (n)
		qsort(s, n, sizeof(*s), by_bytes);
	for (size_t k = 0; k < n; k++) {
		if (k < MAX_SITES) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "blocks", s[k].blocks);
			cJSON_AddNumberToObject(o, "bytes", s[k].bytes);
			cJSON_AddStringToObject(o, "site", s[k].name);
			cJSON_AddItemToArray(arr, o);
		}
		free(s[k].name);
	}
	free(s);
	return arr;
}

int mg_json_figure(uint64_t *out, const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(obj, name);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return 0;
	*out = v->valuedouble >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v->valuedouble;
	return 1;
}

cJSON *mg_baseline_from_profile(const cJSON *profile, const char *commit, int dirty,
				const char *reason)
{
	const cJSON *sum = cJSON_GetObjectItem(profile, "summary");
	const cJSON *procs = cJSON_GetObjectItem(profile, "processes"), *p, *peak = NULL;
	cJSON *b = cJSON_CreateObject(), *fig = cJSON_CreateObject();
	if (!b || !fig)
		return NULL;
	/* the figures as gated: leaks that suppressions hide are not the test's */
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		const cJSON *v = cJSON_GetObjectItem(sum, name);
		uint64_t g;
		cJSON_AddItemToObject(fig, name,
				      !cJSON_IsNumber(v) ? cJSON_CreateNull()
				      : cJSON_GetObjectItem(profile, "suppressed") &&
						mg_gated_figure(&g, profile, name)
				      ? cJSON_CreateNumber((double)g)
				      : cJSON_CreateNumber(v->valuedouble));
	}
	/* the process of the peak (a hand-edited profile may lack the figure) */
	double top = -1;
	cJSON_ArrayForEach(p, procs) {
		const cJSON *pb = cJSON_GetObjectItem(p, "peak_bytes");
		if (cJSON_IsNumber(pb) && pb->valuedouble > top) {
			top = pb->valuedouble;
			peak = p;
		}
	}
	if (commit)
		cJSON_AddStringToObject(b, "commit", commit);
	else
		cJSON_AddNullToObject(b, "commit");
	cJSON_AddBoolToObject(b, "dirty", dirty);
	cJSON_AddItemToObject(b, "environment",
			      cJSON_Duplicate(cJSON_GetObjectItem(profile, "environment"), 1));
	cJSON_AddItemToObject(b, "figures", fig);
	cJSON_AddItemToObject(b, "leak_sites", sites(procs, "leak_stacks", NULL));
	cJSON_AddItemToObject(b, "peak_sites", sites(procs, "peak_stacks", peak));
	cJSON_AddStringToObject(b, "memgate_version",
				cJSON_GetStringValue(cJSON_GetObjectItem(profile, "memgate_version")) ?: "");
	if (reason)
		cJSON_AddStringToObject(b, "reason", reason);
	else
		cJSON_AddNullToObject(b, "reason");
	cJSON_AddNumberToObject(b, "schema", MG_BASELINE_SCHEMA);
	cJSON_AddStringToObject(b, "test", cJSON_GetStringValue(cJSON_GetObjectItem(
					cJSON_GetObjectItem(profile, "test"), "name")) ?: "");
	return b;
}

/* ----------------------------------------------------------- canonical text */

static void put_string(struct mg_buf *o, const char *s)
{
	char esc[8];
	mg_buf_puts(o, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*c;
			mg_buf_add(o, esc, 2);
		} else if (*c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *c);
			mg_buf_puts(o, esc);
		} else {
			mg_buf_add(o, (const char *)c, 1);
		}
	}
	mg_buf_puts(o, "\"");
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void indent(struct mg_buf *o, int depth)
{
	for (int i = 0; i < depth; i++)
		mg_buf_puts(o, "  ");
}

static void emit(struct mg_buf *o, const cJSON *v, int depth)
{
	char num[64];
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		int n = cJSON_GetArraySize(v), obj = cJSON_IsObject(v);
		const cJSON **items = calloc((size_t)n + 1, sizeof(*items));
		const cJSON *c;
		int k = 0;
		if (!items) {
			o->failed = 1;
			return;
		}
		cJSON_ArrayForEach(c, v)
			items[k++] = c;
		if (obj)
			qsort(items, (size_t)n, sizeof(*items), key_cmp);
		mg_buf_puts(o, obj ? "{" : "[");
		for (k = 0; k < n; k++) {
			mg_buf_puts(o, k ? ",\n" : "\n");
			indent(o, depth + 1);
			if (obj) {
				put_string(o, items[k]->string);
				mg_buf_puts(o, ": ");
			}
			emit(o, items[k], depth + 1);
		}
		if (n) {
			mg_buf_puts(o, "\n");
			indent(o, depth);
		}
		mg_buf_puts(o, obj ? "}" : "]");
		free(items);
	} else if (cJSON_IsString(v)) {
		put_string(o, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		/* integers (every figure) as integers; |d| < 2^53 keeps the cast exact */
		if (d > -9007199254740992.0 && d < 9007199254740992.0 && (double)(int64_t)d == d)
			snprintf(num, sizeof(num), "%" PRId64, (int64_t)d);
		else
			snprintf(num, sizeof(num), "%.17g", d);
		mg_buf_puts(o, num);
	} else if (cJSON_IsBool(v)) {
		mg_buf_puts(o, cJSON_IsTrue(v) ? "true" : "false");
	} else {
		mg_buf_puts(o, "null");
	}
}

char *mg_json_canonical(const cJSON *doc)
{
	struct mg_buf o = MG_BUF_UNBOUNDED;
	emit(&o, doc, 0);
	mg_buf_puts(&o, "\n");
	if (o.failed) {
		mg_buf_release(&o);
		return NULL;
	}
	return mg_buf_detach(&o);
}

int mg_json_load_doc(cJSON **out, const char *text, size_t len, const char *name,
		     const char *kind, struct mg_error *err)
{
	cJSON *doc = cJSON_ParseWithLength(text, len);
	const cJSON *schema;
	if (!doc)
		return mg_error_set(err, MG_EINVALID, "%s: not valid JSON", name);
	schema = cJSON_GetObjectItem(doc, "schema");
	int is_profile = cJSON_IsObject(cJSON_GetObjectItem(doc, "summary")) &&
			 cJSON_IsArray(cJSON_GetObjectItem(doc, "processes"));
	int is_baseline = cJSON_IsObject(cJSON_GetObjectItem(doc, "figures"));
	if (!cJSON_IsNumber(schema) || schema->valueint != 1 ||
	    (!strcmp(kind, "profile") ? !is_profile : !is_baseline)) {
		cJSON_Delete(doc);
		return mg_error_set(err, MG_EINVALID, "%s: not a memgate %s (schema 1)", name, kind);
	}
	*out = doc;
	return MG_OK;
}

/* cJSON_Compare, with two absent items equal */
static int same_item(const cJSON *a, const cJSON *b)
{
	return (!a && !b) || cJSON_Compare(a, b, 1);
}

int mg_baseline_same(const cJSON *a, const cJSON *b)
{
	static const char *const keys[] = { "leak_sites", "peak_sites", "test" };
	const cJSON *fa = cJSON_GetObjectItem(a, "figures"), *fb = cJSON_GetObjectItem(b, "figures");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!same_item(cJSON_GetObjectItem(a, keys[i]), cJSON_GetObjectItem(b, keys[i])))
			return 0;
	/* every figure but the peak RSS, which is never compared exactly (docs/metrics.md):
	 * its noise alone must not rewrite a baseline */
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const char *name = mg_metric_name((enum mg_metric)m);
		if (mg_metric_info((enum mg_metric)m)->class != MG_METRIC_RSS_CLASS &&
		    !same_item(cJSON_GetObjectItem(fa, name), cJSON_GetObjectItem(fb, name)))
			return 0;
	}
	return 1;
}
