/* config.c - read memgate.yml (libyaml events) into struct mg_config, and query it */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "discover.h"
#include "../util/error.h"
#include "../util/glob.h"
#include "../util/strv.h"
#include "config.h"
#include "shellwords.h"
#include "subprocess.h"

#define MAX_FILE_BYTES (4u << 20)
#define MAX_DEPTH 16                /* the deepest valid file nests 5 levels */
#define MAX_NODES 200000
#define MAX_NAME 200
#define MAX_REPEAT 1000
#define MAX_CONFIRM 100
#define MAX_STACK_DEPTH 256

/* docs/config.md's example, used where the file gives no tolerance for a metric */
static const struct {
	enum mg_metric m;
	const char *text;
} builtin_tolerance[] = {
	{ MG_METRIC_PEAK_BYTES, "2% + 4KiB" },
	{ MG_METRIC_LEAKED_BYTES, "0" },
	{ MG_METRIC_DEFINITELY_LOST_BYTES, "0" },
	{ MG_METRIC_ALLOCS, "0.5%" },
	{ MG_METRIC_TOTAL_BYTES, "0.5%" },
};

/* ---- small helpers ------------------------------------------------------ */

static char *join_path(const char *dir, const char *p)
{
	size_t dl = strlen(dir), pl = strlen(p);
	char *s;
	if (p[0] == '/' || !dl)
		return strdup(p);
	if (!strcmp(p, "."))
		return strdup(dir);
	s = malloc(dl + pl + 2);
	if (!s)
		return NULL;
	memcpy(s, dir, dl);
	if (dir[dl - 1] != '/')
		s[dl++] = '/';
	memcpy(s + dl, p, pl + 1);
	return s;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;
	if (!slash)
		return strdup("");
	if (slash == path)
		return strdup("/");
	d = malloc((size_t)(slash - path) + 1);
	if (!d)
		return NULL;
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

#define Q(s) mg_quote_value((char[256]){ 0 }, 256, (s))

/* ---- the YAML tree ------------------------------------------------------ */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
	enum node_kind kind;
	struct mg_pos pos;
	char *str;                  /* scalar text, NUL-terminated */
	int plain;                  /* plain (unquoted) scalar */
	int null;                   /* plain "", "~", "null", "Null", "NULL" */
	struct node **kids;         /* seq: items; map: key, value, key, value ... */
	size_t n, cap;
};

static void node_free(struct node *n)
{
	size_t i;
	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

struct ctx {
	const char *file;
	struct mg_error *err;
	struct mg_config *cfg;
};

static int failv(struct ctx *c, struct mg_pos pos, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int failv(struct ctx *c, struct mg_pos pos, const char *fmt, va_list ap)
{
	char what[400];
	vsnprintf(what, sizeof(what), fmt, ap);
	return mg_error_set(c->err, MG_EINVALID, "%s:%u:%u: %s", c->file, pos.line, pos.col, what);
}

static int fail(struct ctx *c, struct mg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, struct mg_pos pos, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = failv(c, pos, fmt, ap);
	va_end(ap);
	return r;
}

static int nomem(struct ctx *c)
{
	return mg_error_set(c->err, MG_ERROR, "%s: out of memory", c->file);
}

static struct mg_pos mark_pos(yaml_mark_t m)
{
	struct mg_pos p = { (unsigned)m.line + 1, (unsigned)m.column + 1 };
	return p;
}

/* line:col of a byte offset, counting characters like libyaml */
static struct mg_pos offset_pos(const unsigned char *buf, size_t len, size_t off)
{
	struct mg_pos p = { 1, 1 };
	size_t i;
	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n')
			p.line++, p.col = 1;
		else if ((buf[i] & 0xc0) != 0x80)
			p.col++;
	}
	return p;
}

static int yaml_fail(struct ctx *c, yaml_parser_t *p, const unsigned char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return nomem(c);
	case YAML_READER_ERROR:
		return fail(c, offset_pos(buf, len, p->problem_offset), "%s%s", problem,
			    strstr(problem, "UTF-8") || strstr(problem, "Unicode") ?
			    " (the file must be UTF-8)" : "");
	default:
		if (p->context)
			return fail(c, mark_pos(p->problem_mark), "%s (%s at line %u)", problem,
				    p->context, (unsigned)p->context_mark.line + 1);
		return fail(c, mark_pos(p->problem_mark), "%s", problem);
	}
}

static int add_kid(struct node *parent, struct node *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return -1;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static int is_null_text(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/*
 * Builds the tree from libyaml's events.  Anchors, aliases and tags are
 * refused (no alias bombs, nothing implicit); depth and node count are
 * capped, so no input makes this recurse deeply, grow without bound or hang.
 */
static int build_tree(struct node **root, struct ctx *c, const unsigned char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct node *stack[MAX_DEPTH];
	int depth = 0, docs = 0, done = 0, ret = MG_OK;
	size_t nodes = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return nomem(c);
	/* a UTF-8 BOM (docs/config.md allows it): libyaml, told the encoding, would
	 * take it for the first character of the document; columns count after it */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		buf += 3;
		len -= 3;
	}
	yaml_parser_set_input_string(&p, buf, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done && ret == MG_OK) {
		struct node *n = NULL;
		const yaml_char_t *anchor = NULL, *tag = NULL;
		if (!yaml_parser_parse(&p, &ev)) {
			ret = yaml_fail(c, &p, buf, len);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (docs++)
				ret = fail(c, mark_pos(ev.start_mark),
					   "expected one YAML document, found a second one");
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			ret = fail(c, mark_pos(ev.start_mark),
				   "expected no aliases (anchors and aliases are not supported)");
			break;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor, tag = ev.data.scalar.tag;
			/* fall through */
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (ev.type == YAML_SEQUENCE_START_EVENT)
				anchor = ev.data.sequence_start.anchor, tag = ev.data.sequence_start.tag;
			else if (ev.type == YAML_MAPPING_START_EVENT)
				anchor = ev.data.mapping_start.anchor, tag = ev.data.mapping_start.tag;
			if (anchor) {
				ret = fail(c, mark_pos(ev.start_mark),
					   "expected no anchor \"&%s\" (anchors and aliases are not supported)",
					   Q((const char *)anchor));
				break;
			}
			if (tag) {
				ret = fail(c, mark_pos(ev.start_mark),
					   "expected no tag \"%s\" (tags are not supported)",
					   Q((const char *)tag));
				break;
			}
			if (++nodes > MAX_NODES) {
				ret = fail(c, mark_pos(ev.start_mark),
					   "expected at most %u YAML nodes", MAX_NODES);
				break;
			}
			if (!(n = calloc(1, sizeof(*n)))) {
				ret = nomem(c);
				break;
			}
			n->pos = mark_pos(ev.start_mark);
			if (ev.type == YAML_SCALAR_EVENT) {
				size_t l = ev.data.scalar.length;
				n->kind = NODE_SCALAR;
				if (memchr(ev.data.scalar.value, 0, l)) {
					node_free(n);
					ret = fail(c, mark_pos(ev.start_mark),
						   "expected text without NUL characters");
					break;
				}
				if (!(n->str = malloc(l + 1))) {
					node_free(n);
					ret = nomem(c);
					break;
				}
				memcpy(n->str, ev.data.scalar.value, l);
				n->str[l] = '\0';
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				n->null = n->plain && is_null_text(n->str);
			} else {
				n->kind = ev.type == YAML_SEQUENCE_START_EVENT ? NODE_SEQ : NODE_MAP;
			}
			if (!depth) {
				*root = n;
			} else if (add_kid(stack[depth - 1], n) < 0) {
				node_free(n);
				ret = nomem(c);
				break;
			}
			if (n->kind != NODE_SCALAR) {
				if (depth == MAX_DEPTH) {
					ret = fail(c, n->pos, "expected at most %d levels of nesting",
						   MAX_DEPTH);
					break;
				}
				stack[depth++] = n;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (ret != MG_OK) {
		node_free(*root);
		*root = NULL;
	}
	return ret;
}

/* ---- typed access ------------------------------------------------------- */

/* "a mapping", "a list", "an empty value", or the quoted scalar, into buf */
static const char *got(const struct node *n, char *buf, size_t size)
{
	if (n->kind == NODE_MAP)
		return "a mapping";
	if (n->kind == NODE_SEQ)
		return "a list";
	if (n->null)
		return "an empty value";
	snprintf(buf, size, "\"%s\"", Q(n->str));
	return buf;
}

#define GOT(n) got((n), (char[300]){ 0 }, 300)

static const struct node *map_get(const struct node *map, const char *key)
{
	size_t i;
	for (i = 0; i + 1 < map->n; i += 2)
		if (map->kids[i]->kind == NODE_SCALAR && !strcmp(map->kids[i]->str, key))
			return map->kids[i + 1];   /* keys not checked yet: may be collections */
	return NULL;
}

/* optimal string alignment distance: typos, including swapped letters */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[32][32];
	if (la >= 32 || lb >= 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* the closest of `names` to `s` if close enough (typo or prefix), else NULL */
static const char *suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = 3, i;
	for (i = 0; i < n; i++) {
		size_t d = edit_distance(s, names[i]);
		if (d < bd)
			bd = d, best = names[i];
	}
	if (!best && strlen(s) >= 3)
		for (i = 0; i < n; i++)
			if (!strncmp(names[i], s, strlen(s)))
				return names[i];
	return best;
}

/* the mapping's keys are non-empty strings, unique, and all in `allowed` */
static int check_keys(struct ctx *c, const struct node *map, const char *const *allowed,
		      size_t n_allowed, const char *where)
{
	size_t i, j;
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct node *k = map->kids[i];
		const char *hint;
		if (k->kind != NODE_SCALAR || k->null)
			return fail(c, k->pos, "expected a key name %s, got %s", where, GOT(k));
		for (j = 0; j < i; j += 2)
			if (!strcmp(map->kids[j]->str, k->str))
				return fail(c, k->pos, "duplicate key \"%s\" %s (first at line %u)",
					    Q(k->str), where, map->kids[j]->pos.line);
		for (j = 0; j < n_allowed; j++)
			if (!strcmp(allowed[j], k->str))
				break;
		if (j < n_allowed)
			continue;
		hint = suggest(k->str, allowed, n_allowed);
		if (hint)
			return fail(c, k->pos, "unknown key \"%s\" %s (did you mean \"%s\"?)",
				    Q(k->str), where, hint);
		return fail(c, k->pos, "unknown key \"%s\" %s", Q(k->str), where);
	}
	return MG_OK;
}

static int want_kind(struct ctx *c, const struct node *n, enum node_kind kind, const char *key)
{
	static const char *const names[] = { "a string", "a list", "a mapping" };
	if (n->kind == kind && !(kind == NODE_SCALAR && n->null))
		return MG_OK;
	return fail(c, n->pos, "expected %s for \"%s\", got %s", names[kind], key, GOT(n));
}

static int get_string(struct ctx *c, char **out, const struct node *n, const char *key,
		      int nonempty)
{
	if (want_kind(c, n, NODE_SCALAR, key) < 0)
		return MG_EINVALID;
	if (nonempty && !*n->str)
		return fail(c, n->pos, "expected a non-empty string for \"%s\"", key);
	if (!(*out = strdup(n->str)))
		return nomem(c);
	return MG_OK;
}

static int get_path(struct ctx *c, char **out, const struct node *n, const char *key)
{
	if (want_kind(c, n, NODE_SCALAR, key) < 0)
		return MG_EINVALID;
	if (!*n->str)
		return fail(c, n->pos, "expected a non-empty path for \"%s\"", key);
	if (!(*out = join_path(c->cfg->dir, n->str)))
		return nomem(c);
	return MG_OK;
}

static int get_uint(struct ctx *c, unsigned *out, const struct node *n, const char *key,
		    unsigned lo, unsigned hi)
{
	const char *s = n->str;
	unsigned long v = 0;
	if (n->kind != NODE_SCALAR || !n->plain || !*s || strlen(s) > 9)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		v = v * 10 + (unsigned)(*s - '0');
	}
	if (v < lo || v > hi)
		goto bad;
	*out = (unsigned)v;
	return MG_OK;
bad:
	return fail(c, n->pos, "expected a whole number from %u to %u for \"%s\", got %s", lo, hi,
		    key, GOT(n));
}

static int get_bool(struct ctx *c, int *out, const struct node *n, const char *key)
{
	static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False", "FALSE" };
	size_t i;
	if (n->kind == NODE_SCALAR && n->plain)
		for (i = 0; i < 3; i++) {
			if (!strcmp(n->str, t[i]))
				return *out = 1, MG_OK;
			if (!strcmp(n->str, f[i]))
				return *out = 0, MG_OK;
		}
	return fail(c, n->pos, "expected true or false for \"%s\", got %s", key, GOT(n));
}

/* ---- sections ----------------------------------------------------------- */

/* the metrics memgate.yml may gate, for messages: "allocs, frees, ..., and
 * definitely_lost_, ... with bytes or blocks" */
static size_t gated_names(const char **names)
{
	size_t n = 0;
	for (int m = 0; m < MG_METRIC_COUNT; m++)
		if (mg_metric_info((enum mg_metric)m)->gated)
			names[n++] = mg_metric_name((enum mg_metric)m);
	return n;
}

static void metrics_prose(char *buf, size_t size)
{
	char kinds[256] = "";
	size_t len = 0, klen = 0;
	for (int m = 0; m < MG_METRIC_COUNT; m++) {
		const struct mg_metric_info *mi = mg_metric_info((enum mg_metric)m);
		size_t nl = strlen(mi->name);
		if (!mi->gated)
			continue;
		if (mi->class != MG_METRIC_KIND_CLASS)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
						len ? ", " : "", mi->name);
		else if (nl > 5 && !strcmp(mi->name + nl - 5, "bytes") && klen < sizeof(kinds))
			klen += (size_t)snprintf(kinds + klen, sizeof(kinds) - klen, "%s%.*s",
						 klen ? ", " : "", (int)(nl - 5), mi->name);
	}
	if (klen && len < size)
		snprintf(buf + len, size - len, ", and %s with bytes or blocks", kinds);
}

static int metric_key(struct ctx *c, const struct node *k, const char *section)
{
	const char *names[MG_METRIC_COUNT], *hint;
	char prose[512];
	int m;
	if (k->kind != NODE_SCALAR || k->null)
		return fail(c, k->pos, "expected a metric name in \"%s\", got %s", section, GOT(k));
	m = mg_metric_from_name(k->str);
	if (m >= 0 && mg_metric_info((enum mg_metric)m)->gated)
		return m;
	hint = suggest(k->str, names, gated_names(names));
	if (hint)
		return fail(c, k->pos, "unknown metric \"%s\" in \"%s\" (did you mean \"%s\"?)",
			    Q(k->str), section, hint);
	metrics_prose(prose, sizeof(prose));
	return fail(c, k->pos, "unknown metric \"%s\" in \"%s\" (metrics: %s)", Q(k->str),
		    section, prose);
}

static int check_metric_keys(struct ctx *c, const struct node *map, const char *section)
{
	size_t i, j;
	for (i = 0; i + 1 < map->n; i += 2) {
		if (metric_key(c, map->kids[i], section) < 0)
			return MG_EINVALID;
		for (j = 0; j < i; j += 2)
			if (!strcmp(map->kids[j]->str, map->kids[i]->str))
				return fail(c, map->kids[i]->pos,
					    "duplicate key \"%s\" in \"%s\" (first at line %u)",
					    Q(map->kids[i]->str), section, map->kids[j]->pos.line);
	}
	return MG_OK;
}

static int parse_tolerances(struct ctx *c, struct mg_tolerance_rule *rules, const struct node *map)
{
	size_t i;
	if (want_kind(c, map, NODE_MAP, "tolerance") < 0 ||
	    check_metric_keys(c, map, "tolerance") < 0)
		return MG_EINVALID;
	for (i = 0; i + 1 < map->n; i += 2) {
		int m = mg_metric_from_name(map->kids[i]->str);
		const struct node *v = map->kids[i + 1];
		struct mg_tolerance_rule *r = &rules[m];
		struct mg_error uerr;
		if (v->kind != NODE_SCALAR || v->null)
			return fail(c, v->pos, "expected a tolerance like \"2%% + 4KiB\" for \"%s\", got %s",
				    mg_metric_name(m), GOT(v));
		r->pos = v->pos;
		if (!strcmp(v->str, "off")) {
			r->state = MG_RULE_OFF;
			continue;
		}
		if (mg_tolerance_parse(&r->tol, v->str, mg_metric_is_bytes(m), &uerr) < 0)
			return fail(c, v->pos, "%s", uerr.msg);
		r->state = MG_RULE_ON;
	}
	return MG_OK;
}

static int parse_limits(struct ctx *c, struct mg_limit_rule *rules, const struct node *map)
{
	size_t i;
	if (want_kind(c, map, NODE_MAP, "limit") < 0 || check_metric_keys(c, map, "limit") < 0)
		return MG_EINVALID;
	for (i = 0; i + 1 < map->n; i += 2) {
		int m = mg_metric_from_name(map->kids[i]->str);
		const struct node *v = map->kids[i + 1];
		struct mg_limit_rule *r = &rules[m];
		struct mg_error uerr;
		int rc;
		if (v->kind != NODE_SCALAR || v->null)
			return fail(c, v->pos, "expected %s for \"%s\", got %s",
				    mg_metric_is_bytes(m) ? "a size like \"256MiB\"" : "a count like \"1000\"",
				    mg_metric_name(m), GOT(v));
		r->pos = v->pos;
		if (!strcmp(v->str, "off")) {
			r->state = MG_RULE_OFF;
			continue;
		}
		rc = mg_metric_is_bytes(m) ? mg_parse_size(&r->max, v->str, &uerr) :
					mg_parse_count(&r->max, v->str, &uerr);
		if (rc < 0)
			return fail(c, v->pos, "%s", uerr.msg);
		r->state = MG_RULE_ON;
	}
	return MG_OK;
}

#define SETTINGS_KEYS "timeout", "repeat", "follow-children", "stack-depth", "stack-unwind", \
	"allow-crash", "allow-untraced", "confirm", "spread-runs", "tolerance", "limit"

/* the settings keys of `map` into *s (keys already checked) */
static int parse_settings(struct ctx *c, struct mg_settings *s, const struct node *map)
{
	const struct node *v;
	struct mg_error uerr;
	if ((v = map_get(map, "timeout"))) {
		if (v->kind != NODE_SCALAR || v->null)
			return fail(c, v->pos, "expected a duration like \"300s\" for \"timeout\", got %s",
				    GOT(v));
		if (mg_parse_duration_ms(&s->timeout_ms, v->str, &uerr) < 0)
			return fail(c, v->pos, "%s", uerr.msg);
		s->set |= MG_SET_TIMEOUT;
	}
	if ((v = map_get(map, "repeat"))) {
		if (get_uint(c, &s->repeat, v, "repeat", 1, MAX_REPEAT) < 0)
			return MG_EINVALID;
		s->set |= MG_SET_REPEAT;
	}
	if ((v = map_get(map, "follow-children"))) {
		if (get_bool(c, &s->follow_children, v, "follow-children") < 0)
			return MG_EINVALID;
		s->set |= MG_SET_FOLLOW_CHILDREN;
	}
	if ((v = map_get(map, "stack-depth"))) {
		/* 0: exact figures without call stacks, the cheapest mode (trace --no-stacks) */
		if (get_uint(c, &s->stack_depth, v, "stack-depth", 0, MAX_STACK_DEPTH) < 0)
			return MG_EINVALID;
		s->set |= MG_SET_STACK_DEPTH;
	}
	if ((v = map_get(map, "stack-unwind"))) {
		/* cfi: the call-frame information; fp: frame pointers only (docs/config.md) */
		if (v->kind != NODE_SCALAR || v->null ||
		    (strcmp(v->str, "cfi") && strcmp(v->str, "fp")))
			return fail(c, v->pos, "expected cfi or fp for \"stack-unwind\", got %s", GOT(v));
		s->unwind_fp = !strcmp(v->str, "fp");
		s->set |= MG_SET_STACK_UNWIND;
	}
	if ((v = map_get(map, "allow-crash"))) {
		if (get_bool(c, &s->allow_crash, v, "allow-crash") < 0)
			return MG_EINVALID;
		s->set |= MG_SET_ALLOW_CRASH;
	}
	if ((v = map_get(map, "allow-untraced"))) {
		if (get_bool(c, &s->allow_untraced, v, "allow-untraced") < 0)
			return MG_EINVALID;
		s->set |= MG_SET_ALLOW_UNTRACED;
	}
	if ((v = map_get(map, "confirm"))) {
		if (get_uint(c, &s->confirm, v, "confirm", 0, MAX_CONFIRM) < 0)
			return MG_EINVALID;
		s->set |= MG_SET_CONFIRM;
	}
	if ((v = map_get(map, "spread-runs"))) {
		if (get_uint(c, &s->spread_runs, v, "spread-runs", 1, MAX_REPEAT) < 0)
			return MG_EINVALID;
		s->set |= MG_SET_SPREAD_RUNS;
	}
	if ((v = map_get(map, "tolerance")) && parse_tolerances(c, s->tolerance, v) < 0)
		return MG_EINVALID;
	if ((v = map_get(map, "limit")) && parse_limits(c, s->limit, v) < 0)
		return MG_EINVALID;
	return MG_OK;
}

/* NULL when `name` is a valid test name, else what was expected */
static const char *name_problem(const char *name)
{
	const char *p;
	if (!*name)
		return "expected a non-empty test name";
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return "expected a test name of letters, digits, \".\", \"_\" and \"-\"";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "expected a test name other than \".\" and \"..\"";
	if (name[0] == '-')
		return "expected a test name that does not start with \"-\"";
	if (!strncmp(name, "memgate-", 8))
		return "expected a test name that does not start with \"memgate-\" (reserved for "
		       "memgate's own files in profiles/)";
	if (p - name > MAX_NAME)
		return "expected a test name of at most 200 characters";
	return NULL;
}

static int env_name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int parse_env(struct ctx *c, char ***out, const struct node *map)
{
	size_t i, j, n = 0;
	char **env;
	if (want_kind(c, map, NODE_MAP, "env") < 0)
		return MG_EINVALID;
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct node *k = map->kids[i], *v = map->kids[i + 1];
		if (k->kind != NODE_SCALAR || !env_name_ok(k->str))
			return fail(c, k->pos, "expected an environment variable name like \"LC_ALL\" in \"env\", got %s",
				    GOT(k));
		for (j = 0; j < i; j += 2)
			if (!strcmp(map->kids[j]->str, k->str))
				return fail(c, k->pos, "duplicate key \"%s\" in \"env\" (first at line %u)",
					    k->str, map->kids[j]->pos.line);
		if (v->kind != NODE_SCALAR || v->null)
			return fail(c, v->pos, "expected a string value for \"%s\" in \"env\", got %s (write \"\" for an empty value)",
				    k->str, GOT(v));
	}
	if (!(env = mg_strv_new()))
		return nomem(c);
	for (i = 0; i + 1 < map->n; i += 2) {
		const char *k = map->kids[i]->str, *v = map->kids[i + 1]->str;
		char *s = malloc(strlen(k) + strlen(v) + 2);
		if (s)
			sprintf(s, "%s=%s", k, v);
		if (mg_strv_push(&env, &n, s) < 0) {
			mg_strv_free(env);
			return nomem(c);
		}
	}
	*out = env;
	return MG_OK;
}

static int parse_run(struct ctx *c, struct mg_test *t, const struct node *v)
{
	struct mg_error serr;
	size_t i, n = 0;
	if (v->kind == NODE_SCALAR && !v->null) {
		int rc = mg_shellwords_split(&t->argv, &t->argc, v->str, &serr);
		if (rc == MG_EINVALID)
			return fail(c, v->pos, "%s", serr.msg);
		if (rc < 0)
			return nomem(c);
		if (!t->argc)
			return fail(c, v->pos, "expected a non-empty command in \"run\"");
		if (!*t->argv[0])
			return fail(c, v->pos, "expected a non-empty program name in \"run\"");
		return MG_OK;
	}
	if (v->kind != NODE_SEQ)
		return fail(c, v->pos, "expected a list of arguments or a command string for \"run\", got %s",
			    GOT(v));
	if (!v->n)
		return fail(c, v->pos, "expected a non-empty command in \"run\"");
	for (i = 0; i < v->n; i++)
		if (v->kids[i]->kind != NODE_SCALAR || v->kids[i]->null)
			return fail(c, v->kids[i]->pos, "expected a string argument in \"run\", got %s",
				    GOT(v->kids[i]));
	if (!*v->kids[0]->str)
		return fail(c, v->kids[0]->pos, "expected a non-empty program name in \"run\"");
	if (!(t->argv = mg_strv_new()))
		return nomem(c);
	for (i = 0; i < v->n; i++)
		if (mg_strv_push(&t->argv, &n, strdup(v->kids[i]->str)) < 0)
			return nomem(c);
	t->argc = n;
	return MG_OK;
}

static int push_test(struct ctx *c, struct mg_test *t)
{
	struct mg_config *cfg = c->cfg;
	struct mg_test *nt = realloc(cfg->tests, (cfg->n_tests + 1) * sizeof(*nt));
	if (!nt)
		return nomem(c);
	cfg->tests = nt;
	cfg->tests[cfg->n_tests++] = *t;
	return MG_OK;
}

static void test_release(struct mg_test *t)
{
	free(t->name);
	free(t->case_name);
	mg_strv_free(t->argv);
	free(t->cwd);
	mg_strv_free(t->env);
}

void mg_config_tests_free(struct mg_test *tests, size_t n)
{
	size_t i;
	if (!tests)
		return;
	for (i = 0; i < n; i++)
		test_release(&tests[i]);
	free(tests);
}

static int parse_test(struct ctx *c, const struct node *map)
{
	static const char *const keys[] = { "name", "run", "cwd", "env", SETTINGS_KEYS };
	struct mg_test t;
	const struct node *v;
	const char *problem;
	size_t i;
	char where[300];

	memset(&t, 0, sizeof(t));
	t.ctest = -1;
	t.pos = map->pos;
	v = map_get(map, "name");
	if (v && v->kind == NODE_SCALAR && !v->null)
		snprintf(where, sizeof(where), "in test \"%s\"", Q(v->str));
	else
		snprintf(where, sizeof(where), "in a test");
	if (check_keys(c, map, keys, sizeof(keys) / sizeof(keys[0]), where) < 0)
		return MG_EINVALID;
	if (!v)
		return fail(c, map->pos, "missing key \"name\" in a test (or \"ctest\" to import ctest's tests)");
	if (want_kind(c, v, NODE_SCALAR, "name") < 0)
		return MG_EINVALID;
	if ((problem = name_problem(v->str)))
		return fail(c, v->pos, "%s, got \"%s\"", problem, Q(v->str));
	for (i = 0; i < c->cfg->n_tests; i++)
		if (!strcmp(c->cfg->tests[i].name, v->str))
			return fail(c, v->pos, "duplicate test name \"%s\" (first at line %u)", v->str,
				    c->cfg->tests[i].pos.line);
	if (!map_get(map, "run"))
		return fail(c, map->pos, "missing key \"run\" %s", where);
	if (!(t.name = strdup(v->str)))
		return nomem(c);
	if (parse_run(c, &t, map_get(map, "run")) < 0)
		goto bad;
	if ((v = map_get(map, "cwd"))) {
		if (get_path(c, &t.cwd, v, "cwd") < 0)
			goto bad;
	} else if (!(t.cwd = strdup(*c->cfg->dir ? c->cfg->dir : "."))) {
		nomem(c);
		goto bad;
	}
	if ((v = map_get(map, "env"))) {
		if (parse_env(c, &t.env, v) < 0)
			goto bad;
	} else if (!(t.env = mg_strv_new())) {
		nomem(c);
		goto bad;
	}
	if (parse_settings(c, &t.over, map) < 0)
		goto bad;
	if (push_test(c, &t) < 0)
		goto bad;
	return MG_OK;
bad:
	test_release(&t);
	return c->err ? c->err->code : MG_EINVALID;
}

static void import_release(struct mg_ctest_import *im)
{
	free(im->dir);
	free(im->cwd);
	mg_strv_free(im->args);
	mg_strv_free(im->exclude);
	mg_strv_free(im->env);
	mg_config_tests_free(im->saved, im->n_saved);
}

/* a list of non-empty strings (`what`: how one looks, for the message) */
static int get_strings(struct ctx *c, char ***out, const struct node *v, const char *key,
		       const char *what)
{
	size_t i, n = 0;
	if (want_kind(c, v, NODE_SEQ, key) < 0)
		return MG_EINVALID;
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != NODE_SCALAR || v->kids[i]->null || !*v->kids[i]->str)
			return fail(c, v->kids[i]->pos, "expected %s in \"%s\", got %s", what, key,
				    GOT(v->kids[i]));
		if (mg_strv_push(out, &n, strdup(v->kids[i]->str)) < 0)
			return nomem(c);
	}
	return MG_OK;
}

static int parse_import(struct ctx *c, const struct node *map)
{
	static const char *const ctest_keys[] = { "ctest", "exclude", "env", SETTINGS_KEYS };
	static const char *const gtest_keys[] = { "gtest", "args", "cwd", "exclude", "env",
						  SETTINGS_KEYS };
	static const char *const cargo_keys[] = { "cargo", "args", "exclude", "env", SETTINGS_KEYS };
	static const char *const kinds[] = { "ctest", "gtest", "cargo" };
	struct mg_config *cfg = c->cfg;
	struct mg_ctest_import im, *nim;
	const struct node *v;
	char where[40];

	memset(&im, 0, sizeof(im));
	while (!(v = map_get(map, kinds[im.kind])))
		im.kind++;              /* parse_tests saw one of them */
	snprintf(where, sizeof(where), "in a %s entry", kinds[im.kind]);
	if (im.kind == MG_IMPORT_CTEST ?
		    check_keys(c, map, ctest_keys, sizeof(ctest_keys) / sizeof(ctest_keys[0]), where) :
	    im.kind == MG_IMPORT_GTEST ?
		    check_keys(c, map, gtest_keys, sizeof(gtest_keys) / sizeof(gtest_keys[0]), where) :
		    check_keys(c, map, cargo_keys, sizeof(cargo_keys) / sizeof(cargo_keys[0]), where))
		return MG_EINVALID;
	im.pos = map->pos;
	im.dir_pos = v->pos;
	im.at = cfg->n_tests;
	if (get_path(c, &im.dir, v, kinds[im.kind]) < 0)
		goto bad;
	if (!(im.exclude = mg_strv_new()) || !(im.args = mg_strv_new())) {
		nomem(c);
		goto bad;
	}
	if ((v = map_get(map, "exclude")) &&
	    get_strings(c, &im.exclude, v, "exclude", "a glob like \"*slow*\"") < 0)
		goto bad;
	if ((v = map_get(map, "args")) &&
	    get_strings(c, &im.args, v, "args", "an argument like \"--release\"") < 0)
		goto bad;
	if (im.kind == MG_IMPORT_GTEST) {
		if ((v = map_get(map, "cwd"))) {
			if (get_path(c, &im.cwd, v, "cwd") < 0)
				goto bad;
		} else if (!(im.cwd = strdup(*cfg->dir ? cfg->dir : "."))) {
			nomem(c);
			goto bad;
		}
	}
	if ((v = map_get(map, "env"))) {
		if (parse_env(c, &im.env, v) < 0)
			goto bad;
	} else if (!(im.env = mg_strv_new())) {
		nomem(c);
		goto bad;
	}
	if (parse_settings(c, &im.over, map) < 0)
		goto bad;
	if (!(nim = realloc(cfg->imports, (cfg->n_imports + 1) * sizeof(*nim)))) {
		nomem(c);
		goto bad;
	}
	cfg->imports = nim;
	cfg->imports[cfg->n_imports++] = im;
	return MG_OK;
bad:
	import_release(&im);
	return c->err ? c->err->code : MG_EINVALID;
}

static int parse_tests(struct ctx *c, const struct node *seq)
{
	size_t i;
	if (want_kind(c, seq, NODE_SEQ, "tests") < 0)
		return MG_EINVALID;
	if (!seq->n)
		return fail(c, seq->pos, "expected at least one test in \"tests\"");
	for (i = 0; i < seq->n; i++) {
		const struct node *t = seq->kids[i];
		int rc;
		if (t->kind != NODE_MAP)
			return fail(c, t->pos, "expected a test (a mapping with \"name\" and \"run\", or \"ctest\", \"gtest\" or \"cargo\") in \"tests\", got %s",
				    GOT(t));
		rc = map_get(t, "ctest") || map_get(t, "gtest") || map_get(t, "cargo") ?
			     parse_import(c, t) : parse_test(c, t);
		if (rc < 0)
			return rc;
	}
	return MG_OK;
}

static int parse_suppressions(struct ctx *c, const struct node *seq)
{
	static const char *const keys[] = { "leak", "max_bytes" };
	struct mg_config *cfg = c->cfg;
	size_t i;
	if (want_kind(c, seq, NODE_SEQ, "suppressions") < 0)
		return MG_EINVALID;
	if (seq->n && !(cfg->suppressions = calloc(seq->n, sizeof(*cfg->suppressions))))
		return nomem(c);
	for (i = 0; i < seq->n; i++) {
		const struct node *m = seq->kids[i], *v;
		struct mg_suppression *s = &cfg->suppressions[cfg->n_suppressions];
		struct mg_error uerr;
		if (m->kind != NODE_MAP)
			return fail(c, m->pos, "expected a suppression like {leak: \"CRYPTO_malloc\"} in \"suppressions\", got %s",
				    GOT(m));
		if (check_keys(c, m, keys, 2, "in a suppression") < 0)
			return MG_EINVALID;
		if (!(v = map_get(m, "leak")))
			return fail(c, m->pos, "missing key \"leak\" in a suppression");
		s->pos = v->pos;
		if (get_string(c, &s->pattern, v, "leak", 1) < 0)
			return MG_EINVALID;
		cfg->n_suppressions++;
		if ((v = map_get(m, "max_bytes"))) {
			if (v->kind != NODE_SCALAR || v->null)
				return fail(c, v->pos, "expected a size like \"4KiB\" for \"max_bytes\", got %s",
					    GOT(v));
			if (mg_parse_size(&s->max_bytes, v->str, &uerr) < 0)
				return fail(c, v->pos, "%s", uerr.msg);
			s->has_max = 1;
		}
	}
	return MG_OK;
}

static void builtin_defaults(struct mg_settings *s)
{
	size_t i;
	memset(s, 0, sizeof(*s));
	s->set = MG_SET_ALL;
	s->timeout_ms = 300000;
	s->repeat = 1;
	s->follow_children = 1;
	s->stack_depth = 64;
	s->allow_crash = 0;
	s->allow_untraced = 0;
	s->confirm = 2;
	s->spread_runs = 5;
	for (i = 0; i < MG_METRIC_COUNT; i++) {
		s->tolerance[i].state = MG_RULE_OFF;
		s->limit[i].state = MG_RULE_OFF;
	}
	for (i = 0; i < sizeof(builtin_tolerance) / sizeof(builtin_tolerance[0]); i++) {
		struct mg_tolerance_rule *r = &s->tolerance[builtin_tolerance[i].m];
		int rc = mg_tolerance_parse(&r->tol, builtin_tolerance[i].text,
					    mg_metric_is_bytes(builtin_tolerance[i].m), NULL);
		(void)rc;
		r->state = MG_RULE_ON;
	}
}

/* applies the rules and fields `over` gives onto `base` */
static void apply_settings(struct mg_settings *base, const struct mg_settings *over)
{
	int m;
	if (over->set & MG_SET_TIMEOUT)
		base->timeout_ms = over->timeout_ms;
	if (over->set & MG_SET_REPEAT)
		base->repeat = over->repeat;
	if (over->set & MG_SET_FOLLOW_CHILDREN)
		base->follow_children = over->follow_children;
	if (over->set & MG_SET_STACK_DEPTH)
		base->stack_depth = over->stack_depth;
	if (over->set & MG_SET_STACK_UNWIND)
		base->unwind_fp = over->unwind_fp;
	if (over->set & MG_SET_ALLOW_CRASH)
		base->allow_crash = over->allow_crash;
	if (over->set & MG_SET_CONFIRM)
		base->confirm = over->confirm;
	if (over->set & MG_SET_ALLOW_UNTRACED)
		base->allow_untraced = over->allow_untraced;
	if (over->set & MG_SET_SPREAD_RUNS)
		base->spread_runs = over->spread_runs;
	for (m = 0; m < MG_METRIC_COUNT; m++) {
		if (over->tolerance[m].state != MG_RULE_UNSET)
			base->tolerance[m] = over->tolerance[m];
		if (over->limit[m].state != MG_RULE_UNSET)
			base->limit[m] = over->limit[m];
	}
}

/* `defaults: skip-frames:`: globs on the function names call sites look past */
static int parse_skip_frames(struct ctx *c, const struct node *seq)
{
	size_t n = 0;
	if (!seq)
		return MG_OK;
	if (want_kind(c, seq, NODE_SEQ, "skip-frames") < 0)
		return MG_EINVALID;
	if (!(c->cfg->skip_frames = mg_strv_new()))
		return nomem(c);
	for (size_t i = 0; i < seq->n; i++) {
		const struct node *k = seq->kids[i];
		if (k->kind != NODE_SCALAR || k->null || !*k->str)
			return fail(c, k->pos, "expected a glob on function names like \"my_alloc*\" in \"skip-frames\", got %s",
				    GOT(k));
		if (mg_strv_push(&c->cfg->skip_frames, &n, strdup(k->str)) < 0)
			return nomem(c);
	}
	return MG_OK;
}

static int parse_root(struct ctx *c, const struct node *root)
{
	static const char *const keys[] = { "version", "profiles", "baselines", "html", "defaults",
					    "tests", "suppressions" };
	static const char *const html[] = { "regressions", "always", "never" };
	struct mg_config *cfg = c->cfg;
	const struct node *v;
	struct mg_settings d;

	if (!root)
		return fail(c, (struct mg_pos){ 1, 1 }, "expected a mapping starting with \"version: 1\", got an empty file");
	if (root->kind != NODE_MAP)
		return fail(c, root->pos, "expected a mapping starting with \"version: 1\" at the top level, got %s",
			    GOT(root));
	if (check_keys(c, root, keys, sizeof(keys) / sizeof(keys[0]), "at the top level") < 0)
		return MG_EINVALID;
	if (!(v = map_get(root, "version")))
		return fail(c, root->pos, "missing key \"version\" at the top level (expected \"version: 1\")");
	if (v->kind != NODE_SCALAR || strcmp(v->str, "1"))
		return fail(c, v->pos, "expected version 1 (the only version this memgate reads), got %s",
			    GOT(v));
	cfg->version = 1;
	v = map_get(root, "profiles");
	if (v ? get_path(c, &cfg->profiles, v, "profiles") < 0 :
		!(cfg->profiles = join_path(cfg->dir, "profiles")))
		return v ? MG_EINVALID : nomem(c);
	v = map_get(root, "baselines");
	if (v ? get_path(c, &cfg->baselines, v, "baselines") < 0 :
		!(cfg->baselines = join_path(cfg->dir, "baselines")))
		return v ? MG_EINVALID : nomem(c);
	if ((v = map_get(root, "html"))) {
		size_t i = 0;
		while (v->kind == NODE_SCALAR && !v->null && i < 3 && strcmp(v->str, html[i]))
			i++;
		if (v->kind != NODE_SCALAR || v->null || i == 3)
			return fail(c, v->pos, "expected always, regressions or never for \"html\", "
				    "got %s", GOT(v));
		cfg->html = (enum mg_html_policy)i;
	}
	builtin_defaults(&cfg->defaults);
	if ((v = map_get(root, "defaults"))) {
		static const char *const dkeys[] = { SETTINGS_KEYS, "skip-frames" };
		if (want_kind(c, v, NODE_MAP, "defaults") < 0 ||
		    check_keys(c, v, dkeys, sizeof(dkeys) / sizeof(dkeys[0]), "in \"defaults\"") < 0)
			return MG_EINVALID;
		memset(&d, 0, sizeof(d));
		if (parse_settings(c, &d, v) < 0)
			return MG_EINVALID;
		apply_settings(&cfg->defaults, &d);
		if (parse_skip_frames(c, map_get(v, "skip-frames")) < 0)
			return MG_EINVALID;
	}
	if (!(v = map_get(root, "tests")))
		return fail(c, root->pos, "missing key \"tests\" at the top level");
	if (parse_tests(c, v) < 0)
		return c->err ? c->err->code : MG_EINVALID;
	if ((v = map_get(root, "suppressions")) && parse_suppressions(c, v) < 0)
		return c->err ? c->err->code : MG_EINVALID;
	return MG_OK;
}

int mg_config_parse(struct mg_config **out, const char *path, const char *text, size_t len,
		    struct mg_error *err)
{
	struct mg_error local;
	struct ctx c = { path, err ? err : &local, NULL };
	struct node *root = NULL;
	int rc;

	*out = NULL;
	if (len > MAX_FILE_BYTES)
		return mg_error_set(err, MG_EINVALID, "%s: expected a file of at most 4 MiB", path);
	if (!(c.cfg = calloc(1, sizeof(*c.cfg))) || !(c.cfg->path = strdup(path)) ||
	    !(c.cfg->dir = dir_of(path))) {
		mg_config_free(c.cfg);
		return mg_error_set(err, MG_ERROR, "%s: out of memory", path);
	}
	rc = build_tree(&root, &c, (const unsigned char *)text, len);
	if (rc == MG_OK)
		rc = parse_root(&c, root);
	node_free(root);
	if (rc < 0) {
		mg_config_free(c.cfg);
		return rc;
	}
	*out = c.cfg;
	return MG_OK;
}

int mg_config_load(struct mg_config **out, const char *path, struct mg_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc;
	struct stat st;

	*out = NULL;
	/* O_NONBLOCK: a FIFO is refused by its type, never waited on */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return mg_error_set(err, errno == ENOENT ? MG_ENOTFOUND : MG_ERROR, "%s: %s", path,
				    errno == ENOENT ? "no such file" : strerror(errno));
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		return mg_error_set(err, MG_EINVALID, "%s: expected a file, got %s", path,
				    S_ISDIR(st.st_mode) ? "a directory" : "something else (a FIFO, a device?)");
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (!(buf = malloc(MAX_FILE_BYTES + 1))) {
		close(fd);
		return mg_error_set(err, MG_ERROR, "%s: out of memory", path);
	}
	for (;;) {
		r = read(fd, buf + len, MAX_FILE_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len > MAX_FILE_BYTES)
			break;
	}
	if (r < 0) {
		rc = mg_error_set(err, MG_ERROR, "%s: cannot read: %s", path, strerror(errno));
		close(fd);
		free(buf);
		return rc;
	}
	close(fd);
	rc = mg_config_parse(out, path, buf, len, err);
	free(buf);
	return rc;
}

void mg_config_free(struct mg_config *cfg)
{
	size_t i;
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->profiles);
	free(cfg->baselines);
	mg_strv_free(cfg->skip_frames);
	mg_config_tests_free(cfg->tests, cfg->n_tests);
	for (i = 0; i < cfg->n_imports; i++)
		import_release(&cfg->imports[i]);
	free(cfg->imports);
	for (i = 0; i < cfg->n_suppressions; i++)
		free(cfg->suppressions[i].pattern);
	free(cfg->suppressions);
	free(cfg);
}

/* ---- queries ------------------------------------------------------------ */

const struct mg_test *mg_config_find_test(const struct mg_config *cfg, const char *name)
{
	size_t i;
	for (i = 0; i < cfg->n_tests; i++)
		if (!strcmp(cfg->tests[i].name, name))
			return &cfg->tests[i];
	return NULL;
}

void mg_config_effective(struct mg_settings *out, const struct mg_config *cfg,
			 const struct mg_test *test)
{
	int m;
	*out = cfg->defaults;
	if (test)
		apply_settings(out, &test->over);
	out->set = MG_SET_ALL;
	for (m = 0; m < MG_METRIC_COUNT; m++) {
		if (out->tolerance[m].state == MG_RULE_UNSET)
			out->tolerance[m].state = MG_RULE_OFF;
		if (out->limit[m].state == MG_RULE_UNSET)
			out->limit[m].state = MG_RULE_OFF;
	}
}

const struct mg_tolerance *mg_config_tolerance(const struct mg_config *cfg,
					       const struct mg_test *test, enum mg_metric m)
{
	const struct mg_tolerance_rule *r;
	if ((unsigned)m >= MG_METRIC_COUNT)
		return NULL;
	r = &cfg->defaults.tolerance[m];
	if (test && test->over.tolerance[m].state != MG_RULE_UNSET)
		r = &test->over.tolerance[m];
	return r->state == MG_RULE_ON ? &r->tol : NULL;
}

int mg_config_limit(uint64_t *max, const struct mg_config *cfg, const struct mg_test *test,
		    enum mg_metric m)
{
	const struct mg_limit_rule *r;
	if ((unsigned)m >= MG_METRIC_COUNT)
		return 0;
	r = &cfg->defaults.limit[m];
	if (test && test->over.limit[m].state != MG_RULE_UNSET)
		r = &test->over.limit[m];
	if (r->state != MG_RULE_ON)
		return 0;
	*max = r->max;
	return 1;
}

/* ---- ctest import ------------------------------------------------------- */

#define CTEST_MAX_OUTPUT (64u << 20)
#define CTEST_TIMEOUT_MS 120000

/* the first line of s, trimmed, for a message */
static const char *first_line(char *s)
{
	char *nl;
	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	if ((nl = strpbrk(s, "\r\n")))
		*nl = '\0';
	return s;
}

static int ctest_test_from_json(struct mg_test *t, const cJSON *jt, const char *dir)
{
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(jt, "command");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(jt, "properties");
	const cJSON *it, *name = cJSON_GetObjectItemCaseSensitive(jt, "name");
	const char *wd = NULL;
	const cJSON *envj = NULL;
	size_t n = 0, ne = 0;

	memset(t, 0, sizeof(*t));
	t->ctest = -1;
	if (!cJSON_IsString(name) || !cJSON_IsArray(cmd) || !cJSON_GetArraySize(cmd))
		return 1;               /* no command (e.g. not built for this config): skip */
	cJSON_ArrayForEach(it, props) {
		const cJSON *pn = cJSON_GetObjectItemCaseSensitive(it, "name");
		const cJSON *pv = cJSON_GetObjectItemCaseSensitive(it, "value");
		if (!cJSON_IsString(pn))
			continue;
		if (!strcmp(pn->valuestring, "DISABLED") && cJSON_IsTrue(pv))
			return 1;
		if (!strcmp(pn->valuestring, "WORKING_DIRECTORY") && cJSON_IsString(pv))
			wd = pv->valuestring;
		if (!strcmp(pn->valuestring, "ENVIRONMENT") && cJSON_IsArray(pv))
			envj = pv;
	}
	cJSON_ArrayForEach(it, cmd)
		if (!cJSON_IsString(it))
			return -2;
	if (!(t->name = strdup(name->valuestring)) || !(t->argv = mg_strv_new()) ||
	    !(t->env = mg_strv_new()) || !(t->cwd = strdup(wd ? wd : dir)))
		return -1;
	cJSON_ArrayForEach(it, cmd)
		if (mg_strv_push(&t->argv, &n, strdup(it->valuestring)) < 0)
			return -1;
	t->argc = n;
	cJSON_ArrayForEach(it, envj)
		if (cJSON_IsString(it) && strchr(it->valuestring, '=') &&
		    mg_strv_push(&t->env, &ne, strdup(it->valuestring)) < 0)
			return -1;
	return 0;
}

int mg_config_ctest_list(struct mg_test **out, size_t *n, const char *dir, const char *ctest,
			 struct mg_error *err)
{
	char *argv[] = { (char *)(ctest ? ctest : "ctest"), (char *)"--show-only=json-v1", NULL };
	char *text = NULL, errtext[1024];
	size_t len = 0, count = 0;
	int status = 0, rc = MG_OK;
	const char *why;
	cJSON *root = NULL;
	const cJSON *kind, *tests, *jt, *ver;
	struct mg_test *list = NULL;

	*out = NULL;
	*n = 0;
	if (mg_run_capture(&text, &len, errtext, sizeof(errtext), &status, dir, argv,
			   CTEST_MAX_OUTPUT, CTEST_TIMEOUT_MS, &why) < 0)
		return mg_discover_fail(err, MG_ERROR, dir, "%s: %s", argv[0], why);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			rc = mg_discover_fail(err, MG_ERROR, dir, "cannot run \"%s\"", Q(argv[0]));
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
			rc = mg_discover_fail(err, MG_EINVALID, dir, "cannot enter the directory");
		else
			rc = mg_discover_fail(err, MG_EINVALID, dir, "ctest failed (%s %d): %s",
				       WIFEXITED(status) ? "exit status" : "signal",
				       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				       Q(first_line(errtext)));
		goto done;
	}
	root = cJSON_ParseWithLength(text, len);
	kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
	ver = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "version"),
					       "major");
	tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
	if (!root || !cJSON_IsString(kind) || strcmp(kind->valuestring, "ctestInfo") ||
	    !cJSON_IsNumber(ver) || ver->valueint != 1 || !cJSON_IsArray(tests)) {
		rc = mg_discover_fail(err, MG_EINVALID, dir,
			       "expected ctest's json-v1 output (ctest 3.14 or later)");
		goto done;
	}
	if (cJSON_GetArraySize(tests) && !(list = calloc((size_t)cJSON_GetArraySize(tests), sizeof(*list)))) {
		rc = mg_discover_fail(err, MG_ERROR, dir, "out of memory");
		goto done;
	}
	cJSON_ArrayForEach(jt, tests) {
		int r = ctest_test_from_json(&list[count], jt, dir);
		if (r == 1) {
			test_release(&list[count]);
			continue;
		}
		if (r < 0) {
			test_release(&list[count]);
			rc = r == -2 ? mg_discover_fail(err, MG_EINVALID, dir, "expected a command of strings in ctest's output") :
				       mg_discover_fail(err, MG_ERROR, dir, "out of memory");
			goto done;
		}
		count++;
	}
	*out = list;
	*n = count;
	list = NULL;
done:
	mg_config_tests_free(list, count);
	cJSON_Delete(root);
	free(text);
	return rc;
}

/* removes from env the NAME= entries that `over` sets, then appends `over` */
static int merge_env(char ***env, char *const *over)
{
	size_t n = mg_strv_len(*env), i, j;
	for (; over && *over; over++) {
		size_t kl = strcspn(*over, "=") + 1;
		for (i = j = 0; i < n; i++) {
			if (!strncmp((*env)[i], *over, kl))
				free((*env)[i]);
			else
				(*env)[j++] = (*env)[i];
		}
		(*env)[j] = NULL;
		n = j;
		if (mg_strv_push(env, &n, strdup(*over)) < 0)
			return -1;
	}
	return 0;
}

static const char *const kind_name[] = { "ctest", "gtest", "cargo" };

static int cmp_name_index(const void *a, const void *b)
{
	const struct mg_test *const *x = a, *const *y = b;
	int c = strcmp((*x)->name, (*y)->name);
	return c ? c : (*x < *y ? -1 : *x > *y);
}

int mg_config_import_ctest(struct mg_config *cfg, const char *ctest, struct mg_error *err)
{
	struct mg_error local;
	struct ctx c = { cfg->path, err ? err : &local, cfg };
	struct mg_test *all = NULL, **sorted = NULL;
	size_t n_all = 0, cap_all = 0, i, next = 0;
	int rc = MG_OK;

	for (i = 0; i < cfg->n_imports; i++)
		if (!cfg->imports[i].imported)
			break;
	if (i == cfg->n_imports)
		return MG_OK;
	/* build the whole new list first: on error, cfg is unchanged */
	for (i = 0; i <= cfg->n_imports; i++) {
		struct mg_ctest_import *im = i < cfg->n_imports ? &cfg->imports[i] : NULL;
		size_t upto = im ? im->at : cfg->n_tests, k, nl = 0;
		struct mg_test *list = NULL;
		struct stat st;
		char *probe;
		int r;

		for (; next < upto; next++) {
			if (n_all == cap_all) {
				struct mg_test *na;
				cap_all = cap_all ? cap_all * 2 : 16;
				if (!(na = realloc(all, cap_all * sizeof(*na))))
					goto oom;
				all = na;
			}
			all[n_all++] = cfg->tests[next];   /* shallow: cfg still owns these */
		}
		if (!im || im->imported)
			continue;
		if (im->kind != MG_IMPORT_CTEST || im->saved) {
			r = mg_discover_list(&list, &nl, im, NULL, c.err);
		} else {
			if (!(probe = join_path(im->dir, "CTestTestfile.cmake")))
				goto oom;
			r = stat(probe, &st);
			free(probe);
			if (r < 0) {
				rc = fail(&c, im->dir_pos, "expected a ctest build directory at \"%s\" (no CTestTestfile.cmake there: configure the project first)",
					  Q(im->dir));
				goto fail;
			}
			r = mg_config_ctest_list(&list, &nl, im->dir, ctest, c.err);
		}
		if (r < 0) {
			char msg[sizeof(c.err->msg)];
			snprintf(msg, sizeof(msg), "%s", c.err->msg);
			rc = r == MG_ERROR ? mg_error_set(c.err, MG_ERROR, "%s:%u:%u: %s", c.file,
							  im->dir_pos.line, im->dir_pos.col, msg) :
					     fail(&c, im->dir_pos, "%s", msg);
			goto fail;
		}
		for (k = 0; k < nl; k++) {
			struct mg_test *t = &list[k];
			const char *problem;
			char *const *g;
			int excluded = 0;
			for (g = im->exclude; g && *g && !excluded; g++)
				excluded = mg_glob(*g, t->name);
			if (excluded)
				continue;
			if (name_problem(t->name)) {
				/* a ctest name like "Sizes/JoinP.RoundTrip/1" */
				char enc[MAX_NAME + 1];
				mg_name_encode(enc, t->name);
				if ((problem = name_problem(enc))) {
					rc = fail(&c, im->pos, "%s, got \"%s\" from %s in \"%s\" (add it to \"exclude\")",
						  problem, Q(t->name), kind_name[im->kind], Q(im->dir));
					mg_config_tests_free(list, nl);
					goto fail;
				}
				free(t->case_name);
				t->case_name = t->name;
				if (!(t->name = strdup(enc))) {
					mg_config_tests_free(list, nl);
					goto oom;
				}
			}
			t->over = im->over;
			t->pos = im->pos;
			t->ctest = (int)i;
			if (merge_env(&t->env, im->env) < 0) {
				mg_config_tests_free(list, nl);
				goto oom;
			}
			if (n_all == cap_all) {
				struct mg_test *na;
				cap_all = cap_all ? cap_all * 2 : 16;
				if (!(na = realloc(all, cap_all * sizeof(*na)))) {
					mg_config_tests_free(list, nl);
					goto oom;
				}
				all = na;
			}
			all[n_all++] = *t;
			memset(t, 0, sizeof(*t));   /* moved into all[] */
		}
		mg_config_tests_free(list, nl);
	}
	/* names unique over the whole list */
	if (n_all && !(sorted = malloc(n_all * sizeof(*sorted))))
		goto oom;
	for (i = 0; i < n_all; i++)
		sorted[i] = &all[i];
	qsort(sorted, n_all, sizeof(*sorted), cmp_name_index);
	for (i = 1; i < n_all; i++) {
		const struct mg_test *a = sorted[i - 1], *b = sorted[i];
		if (strcmp(a->name, b->name))
			continue;
		if (b->ctest >= 0)
			rc = fail(&c, b->pos, "duplicate test name \"%s\" from %s in \"%s\" (first at line %u; rename one or add it to \"exclude\")",
				  Q(b->name), kind_name[cfg->imports[b->ctest].kind],
				  Q(cfg->imports[b->ctest].dir), a->pos.line);
		else
			rc = fail(&c, b->pos, "duplicate test name \"%s\" (first imported from %s in \"%s\" at line %u)",
				  Q(b->name), kind_name[cfg->imports[a->ctest].kind],
				  Q(cfg->imports[a->ctest].dir), a->pos.line);
		goto fail;
	}
	/* commit: all[] holds cfg's tests (shallow) and the new ones */
	free(cfg->tests);
	cfg->tests = all;
	cfg->n_tests = n_all;
	for (i = 0; i < cfg->n_imports; i++)
		cfg->imports[i].imported = 1;
	free(sorted);
	return MG_OK;
oom:
	rc = mg_error_set(c.err, MG_ERROR, "%s: out of memory", c.file);
fail:
	/* free only what was imported now; cfg's own tests are shallow copies */
	for (i = 0; i < n_all; i++)
		if (all[i].ctest >= 0 && !cfg->imports[all[i].ctest].imported)
			test_release(&all[i]);
	free(all);
	free(sorted);
	return rc;
}
