/* json.c - a strict JSON parser into cJSON trees, with line:col errors (json.h) */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "json.h"

struct parser {
	const char *s, *end, *p;
	const char *name;
	struct mg_error *err;
	int failed, code;
};

/* the error at `at`: "NAME:LINE:COL: what" */
static void fail_at(struct parser *ps, const char *at, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_at(struct parser *ps, const char *at, int code, const char *fmt, ...)
{
	char what[256];
	unsigned line = 1, col = 1;
	va_list ap;
	if (ps->failed)
		return;
	ps->failed = 1;
	ps->code = code;
	for (const char *c = ps->s; c < at && c < ps->end; c++) {
		if (*c == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (code == MG_ERROR)
		mg_error_set(ps->err, MG_ERROR, "%s: %s", ps->name, what);
	else
		mg_error_set(ps->err, MG_EINVALID, "%s:%u:%u: %s", ps->name, line, col, what);
}

/* what is at p, for messages: "end of input", "'x'", "byte 0x01" */
static const char *seen(const struct parser *ps, const char *p, char buf[16])
{
	unsigned char c;
	if (p >= ps->end)
		return "end of input";
	c = (unsigned char)*p;
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", c);
	return buf;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* a string at ps->p (on its opening quote); malloc'd, NULL on error */
static char *parse_string(struct parser *ps)
{
	const char *start = ps->p++, *q;
	size_t cap = 0;
	char *out, *o;

	/* the decoded text is never longer than the quoted one */
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < ps->end)
			q++;
	cap = (size_t)(q - ps->p) + 1;
	if (!(o = out = malloc(cap))) {
		fail_at(ps, start, MG_ERROR, "out of memory");
		return NULL;
	}
	for (;;) {
		if (ps->p >= ps->end) {
			fail_at(ps, start, MG_EINVALID, "unterminated string");
			break;
		}
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			*o = '\0';
			return out;
		}
		if (c < 0x20) {
			fail_at(ps, ps->p, MG_EINVALID, "control character (byte 0x%02x) in a string: "
				"expected it escaped", c);
			break;
		}
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		const char *esc = ps->p++;
		if (ps->p >= ps->end) {
			fail_at(ps, start, MG_EINVALID, "unterminated string");
			break;
		}
		switch (*ps->p++) {
		case '"': *o++ = '"'; continue;
		case '\\': *o++ = '\\'; continue;
		case '/': *o++ = '/'; continue;
		case 'b': *o++ = '\b'; continue;
		case 'f': *o++ = '\f'; continue;
		case 'n': *o++ = '\n'; continue;
		case 'r': *o++ = '\r'; continue;
		case 't': *o++ = '\t'; continue;
		case 'u': break;
		default:
			c = (unsigned char)ps->p[-1];
			if (c >= 0x20 && c < 0x7f)
				fail_at(ps, esc, MG_EINVALID, "invalid escape '\\%c' in a string", c);
			else
				fail_at(ps, esc, MG_EINVALID, "invalid escape: a backslash before byte "
					"0x%02x in a string", c);
			goto bad;
		}
		unsigned cp, lo;
		if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0) {
			fail_at(ps, esc, MG_EINVALID, "expected four hex digits after '\\u'");
			break;
		}
		ps->p += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff) {
			fail_at(ps, esc, MG_EINVALID, "lone low surrogate '\\u%04x' in a string", cp);
			break;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
			    hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
				fail_at(ps, esc, MG_EINVALID, "high surrogate '\\u%04x' without its low half", cp);
				break;
			}
			ps->p += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp == 0) {
			fail_at(ps, esc, MG_EINVALID, "'\\u0000' in a string is not supported");
			break;
		}
		/* UTF-8: at most 4 bytes, never more than the 6 or 12 of the escape */
		if (cp < 0x80) {
			*o++ = (char)cp;
		} else if (cp < 0x800) {
			*o++ = (char)(0xc0 | cp >> 6);
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			*o++ = (char)(0xe0 | cp >> 12);
			*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else {
			*o++ = (char)(0xf0 | cp >> 18);
			*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
			*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		}
	}
bad:
	free(out);
	return NULL;
}

static int is_digit(const struct parser *ps, const char *p)
{
	return p < ps->end && *p >= '0' && *p <= '9';
}

static cJSON *parse_number(struct parser *ps)
{
	const char *start = ps->p, *p = ps->p;
	char buf[16], *text, *endp;
	cJSON *n;

	if (p < ps->end && *p == '-')
		p++;
	if (!is_digit(ps, p)) {
		fail_at(ps, p, MG_EINVALID, "expected a digit, got %s", seen(ps, p, buf));
		return NULL;
	}
	if (*p == '0' && is_digit(ps, p + 1)) {
		fail_at(ps, p, MG_EINVALID, "number with a leading zero");
		return NULL;
	}
	while (is_digit(ps, p))
		p++;
	if (p < ps->end && *p == '.') {
		if (!is_digit(ps, ++p)) {
			fail_at(ps, p, MG_EINVALID, "expected a digit after '.', got %s", seen(ps, p, buf));
			return NULL;
		}
		while (is_digit(ps, p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(ps, p)) {
			fail_at(ps, p, MG_EINVALID, "expected a digit in the exponent, got %s", seen(ps, p, buf));
			return NULL;
		}
		while (is_digit(ps, p))
			p++;
	}
	if (!(text = strndup(start, (size_t)(p - start)))) {
		fail_at(ps, start, MG_ERROR, "out of memory");
		return NULL;
	}
	errno = 0;
	double d = strtod(text, &endp);
	if (!isfinite(d)) {
		fail_at(ps, start, MG_EINVALID, "number out of range: %.40s", text);
		free(text);
		return NULL;
	}
	if (!(n = cJSON_CreateNumber(d))) {
		free(text);
		fail_at(ps, start, MG_ERROR, "out of memory");
		return NULL;
	}
	n->valuestring = text;          /* the exact text (json.h) */
	ps->p = p;
	return n;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return 0;
	ps->p += n;
	return 1;
}

struct key_at {
	const char *key;
	const char *at;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key_at *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* a key given twice in one object: the error at its second place */
static void check_duplicates(struct parser *ps, const cJSON *obj, size_t n, struct key_at *keys)
{
	const cJSON *c = obj->child;
	for (size_t i = 0; i < n && c; i++, c = c->next)
		keys[i].key = c->string;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(keys[i - 1].key, keys[i].key)) {
			fail_at(ps, keys[i].at, MG_EINVALID, "duplicate key \"%.60s\"", keys[i].key);
			return;
		}
}

static cJSON *parse_value(struct parser *ps, int depth);

static cJSON *parse_container(struct parser *ps, int depth)
{
	int obj = *ps->p == '{';
	const char *open = ps->p++;
	char close = obj ? '}' : ']', buf[16];
	cJSON *c = obj ? cJSON_CreateObject() : cJSON_CreateArray();
	struct key_at *keys = NULL;
	size_t n = 0, cap = 0;

	if (!c) {
		fail_at(ps, open, MG_ERROR, "out of memory");
		return NULL;
	}
	if (depth >= MG_JSON_MAX_DEPTH) {
		fail_at(ps, open, MG_EINVALID, "nested deeper than %d levels", MG_JSON_MAX_DEPTH);
		goto bad;
	}
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return c;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(ps);
		const char *kat = ps->p;
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail_at(ps, ps->p, MG_EINVALID, "expected a key in quotes, got %s",
					seen(ps, ps->p, buf));
				goto bad;
			}
			if (!(key = parse_string(ps)))
				goto bad;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				fail_at(ps, ps->p, MG_EINVALID, "expected ':' after a key, got %s",
					seen(ps, ps->p, buf));
				free(key);
				goto bad;
			}
			ps->p++;
			if (n == cap) {
				struct key_at *nk = realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof(*keys));
				if (!nk) {
					free(key);
					fail_at(ps, kat, MG_ERROR, "out of memory");
					goto bad;
				}
				keys = nk;
			}
			keys[n++].at = kat;
		}
		cJSON *v = parse_value(ps, depth + 1);
		if (!v) {
			free(key);
			goto bad;
		}
		if (!(obj ? cJSON_AddItemToObject(c, key, v) : cJSON_AddItemToArray(c, v))) {
			cJSON_Delete(v);
			free(key);
			fail_at(ps, kat, MG_ERROR, "out of memory");
			goto bad;
		}
		free(key);
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		fail_at(ps, ps->p, MG_EINVALID, "expected ',' or '%c', got %s", close, seen(ps, ps->p, buf));
		goto bad;
	}
	if (n > 1)
		check_duplicates(ps, c, n, keys);
	free(keys);
	if (!ps->failed)
		return c;
	cJSON_Delete(c);
	return NULL;
bad:
	free(keys);
	cJSON_Delete(c);
	return NULL;
}

static cJSON *parse_value(struct parser *ps, int depth)
{
	char buf[16];
	cJSON *v = NULL;
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail_at(ps, ps->p, MG_EINVALID, "expected a value, got end of input");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, depth);
	case '"': {
		const char *at = ps->p;
		char *s = parse_string(ps);
		if (!s)
			return NULL;
		if (!(v = cJSON_CreateString(s)))
			fail_at(ps, at, MG_ERROR, "out of memory");
		free(s);
		return v;
	}
	case 't':
		if (literal(ps, "true"))
			v = cJSON_CreateTrue();
		break;
	case 'f':
		if (literal(ps, "false"))
			v = cJSON_CreateFalse();
		break;
	case 'n':
		if (literal(ps, "null"))
			v = cJSON_CreateNull();
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
	}
	if (!v)
		fail_at(ps, ps->p, MG_EINVALID, "expected a value, got %s", seen(ps, ps->p, buf));
	return v;
}

int mg_json_parse(cJSON **out, const char *text, size_t len, const char *name,
		  struct mg_error *err)
{
	struct parser ps = { .s = text, .end = text + len, .p = text, .name = name, .err = err };
	char buf[16];
	cJSON *doc;

	*out = NULL;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3;
	doc = parse_value(&ps, 0);
	if (doc) {
		skip_ws(&ps);
		if (ps.p < ps.end) {
			fail_at(&ps, ps.p, MG_EINVALID, "expected the end of the document, got %s",
				seen(&ps, ps.p, buf));
			cJSON_Delete(doc);
			doc = NULL;
		}
	}
	if (!doc)
		return ps.code;
	*out = doc;
	return MG_OK;
}

const char *mg_json_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int mg_json_u64(uint64_t *out, const cJSON *v)
{
	uint64_t x = 0;
	const char *s;
	if (!cJSON_IsNumber(v))
		return -1;
	/* the text decides, unless the value was set since it was parsed */
	if ((s = v->valuestring) && strtod(s, NULL) == v->valuedouble) {
		if (!*s)
			return -1;
		for (; *s; s++) {
			if (*s < '0' || *s > '9')
				return -1;
			unsigned digit = (unsigned)(*s - '0');
			if (x > (UINT64_MAX - digit) / 10)
				return -1;
			x = x * 10 + digit;
		}
		*out = x;
		return 0;
	}
	double d = v->valuedouble;
	if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

cJSON *mg_json_create_u64(uint64_t x)
{
	cJSON *n = cJSON_CreateNumber((double)x);
	if (n && asprintf(&n->valuestring, "%" PRIu64, x) < 0) {
		n->valuestring = NULL;
		cJSON_Delete(n);
		return NULL;
	}
	return n;
}

/* ------------------------------------------------------------------ writing */

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

static int item_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void indent(struct mg_buf *o, int depth)
{
	for (int i = 0; i < depth; i++)
		mg_buf_puts(o, "  ");
}

static void emit(struct mg_buf *o, const cJSON *v, int depth, int sorted)
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
		if (obj && sorted)
			qsort(items, (size_t)n, sizeof(*items), item_cmp);
		mg_buf_puts(o, obj ? "{" : "[");
		for (k = 0; k < n; k++) {
			mg_buf_puts(o, k ? ",\n" : "\n");
			indent(o, depth + 1);
			if (obj) {
				put_string(o, items[k]->string);
				mg_buf_puts(o, ": ");
			}
			emit(o, items[k], depth + 1, sorted);
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
		uint64_t u;
		/* integers (every figure) as integers; |d| < 2^53 keeps the cast exact */
		if (mg_json_u64(&u, v) == 0)   /* exactly, beyond 2^53 too */
			snprintf(num, sizeof(num), "%" PRIu64, u);
		else if (d > -9007199254740992.0 && d < 9007199254740992.0 && (double)(int64_t)d == d)
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

char *mg_json_print(const cJSON *doc, int sorted)
{
	struct mg_buf o = MG_BUF_UNBOUNDED;
	emit(&o, doc, 0, sorted);
	mg_buf_puts(&o, "\n");
	if (o.failed) {
		mg_buf_release(&o);
		return NULL;
	}
	return mg_buf_detach(&o);
}

/*
 * cJSON prints every number with "%1.15g", reads it back with sscanf and
 * takes "%1.17g" when the two differ: ~5-10k instructions a number (a
 * profile's timeline has hundreds).  Where a decimal of at most 15
 * significant digits, m / 10^k, converts back to d exactly, "%1.15g" of d is
 * that decimal (d lies within half an ulp of it, far closer than the half
 * step of a 15-digit grid, so d rounds to it), written without trailing
 * zeros: the text below, which cJSON keeps since it reads back as d.  In
 * [1e-3, 1e15) "%g" writes no exponent.  0: not such a number, cJSON writes it.
 */
static size_t cjson_number_text(double d, char out[32])
{
	static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
					1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	double a = d < 0 ? -d : d;
	if (d == 0) {
		int neg = signbit(d) != 0;
		memcpy(out, "-0", 3);
		if (!neg)
			memmove(out, out + 1, 2);
		return neg ? 2 : 1;
	}
	if (!(a >= 1e-3 && a < 1e15))
		return 0;
	for (unsigned k = 0; k < sizeof(pow10) / sizeof(pow10[0]); k++) {
		double x = a * pow10[k];
		if (x >= 1e15)
			return 0;                 /* 16 digits or more: cJSON's own way */
		uint64_t m = (uint64_t)(x + 0.5);
		if ((double)m / pow10[k] != a)
			continue;
		char digits[24], *p = out;
		size_t n = 0;
		do
			digits[n++] = (char)('0' + m % 10);
		while (m /= 10);
		while (n <= k)
			digits[n++] = '0';    /* 0.00xyz: the leading zeros of the fraction */
		if (d < 0)
			*p++ = '-';
		while (n > k)
			*p++ = digits[--n];
		if (k)
			*p++ = '.';
		while (n)
			*p++ = digits[--n];
		*p = '\0';
		return (size_t)(p - out);
	}
	return 0;
}

struct held_number {
	cJSON *item;
	int type;
	char *text;
};

/* the numbers of v with a text of ours, counted (held NULL) or turned into
 * raw nodes of that text (recorded in held) */
static size_t hold_numbers(cJSON *v, struct held_number *held, char (*texts)[32], size_t n)
{
	for (cJSON *c = v; c; c = c->next) {
		if (cJSON_IsNumber(c)) {
			double d = c->valuedouble;
			char tmp[32];
			if (!cjson_number_text(d, held ? texts[n] : tmp))
				continue;
			if (held) {
				held[n] = (struct held_number){ c, c->type, c->valuestring };
				c->type = (c->type & ~0xFF) | cJSON_Raw;
				c->valuestring = texts[n];
			}
			n++;
		} else if (c->child) {
			n = hold_numbers(c->child, held, texts, n);
		}
	}
	return n;
}

char *mg_json_print_compact(cJSON *doc)
{
	size_t n = doc ? hold_numbers(doc, NULL, NULL, 0) : 0;
	struct held_number *held = n ? malloc(n * sizeof(*held)) : NULL;
	char (*texts)[32] = n ? malloc(n * sizeof(*texts)) : NULL;
	char *text;
	if (n && (!held || !texts)) {
		free(held);
		free(texts);
		return cJSON_PrintUnformatted(doc);
	}
	if (n)
		hold_numbers(doc, held, texts, 0);
	text = cJSON_PrintUnformatted(doc);
	for (size_t i = 0; i < n; i++) {
		held[i].item->type = held[i].type;
		held[i].item->valuestring = held[i].text;
	}
	free(held);
	free(texts);
	return text;
}
