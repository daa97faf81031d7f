/* units.c - parse and format sizes, counts, durations and tolerances */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"
#include "../util/error.h"

#define MAX_FRAC_DIGITS 9           /* below 10^9: frac * unit fits in 128 bits */
#define MAX_PERCENT 1000000ULL
#define MAX_DURATION_MS (365ULL * 24 * 3600 * 1000)

static const uint64_t pow10_tab[] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
	10000000ULL, 100000000ULL, 1000000000ULL
};

struct number {
	uint64_t ip;                /* integer part */
	uint64_t frac;              /* fractional digits as an integer */
	int fdig;                   /* how many fractional digits */
};

static int is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_sp(const char *p)
{
	while (is_sp(*p))
		p++;
	return p;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * DIGITS [ "." DIGITS ]; advances *pp.  0 on success, -1 on bad syntax,
 * overflow of the integer part or more than MAX_FRAC_DIGITS decimals.
 */
static int parse_number(struct number *n, const char **pp)
{
	const char *p = *pp;
	memset(n, 0, sizeof(*n));
	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n->ip > (UINT64_MAX - d) / 10)
			return -1;
		n->ip = n->ip * 10 + d;
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return -1;
		for (; is_digit(*p); p++) {
			if (n->fdig == MAX_FRAC_DIGITS)
				return -1;
			n->frac = n->frac * 10 + (unsigned)(*p - '0');
			n->fdig++;
		}
	}
	*pp = p;
	return 0;
}

/* n * unit / 10^fdig, exact; -1 when not a whole number or above UINT64_MAX */
static int scale(uint64_t *out, const struct number *n, uint64_t unit)
{
	unsigned __int128 whole = (unsigned __int128)n->ip * unit;
	unsigned __int128 part = (unsigned __int128)n->frac * unit;
	uint64_t div = pow10_tab[n->fdig];
	if (part % div)
		return -1;
	whole += part / div;
	if (whole > UINT64_MAX)
		return -1;
	*out = (uint64_t)whole;
	return 0;
}

static const struct {
	const char *name;
	uint64_t bytes;
} size_units[] = {
	{ "B", 1ULL },
	{ "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
	{ "TiB", 1ULL << 40 }, { "PiB", 1ULL << 50 }, { "EiB", 1ULL << 60 },
};

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* size at *pp (no leading space); advances past it.  -1 on any problem. */
static int size_at(uint64_t *out, const char **pp)
{
	struct number n;
	const char *p = *pp, *u;
	uint64_t unit = 1;
	size_t len, i;
	if (parse_number(&n, &p) < 0)
		return -1;
	u = skip_sp(p);
	for (len = 0; is_alpha(u[len]); len++)
		;
	if (len) {
		for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
			if (strlen(size_units[i].name) == len && !memcmp(u, size_units[i].name, len))
				break;
		if (i == sizeof(size_units) / sizeof(size_units[0]))
			return -1;
		unit = size_units[i].bytes;
		p = u + len;
	}
	if (scale(out, &n, unit) < 0)
		return -1;
	*pp = p;
	return 0;
}

/* count at *pp: digits only */
static int count_at(uint64_t *out, const char **pp)
{
	struct number n;
	const char *p = *pp;
	if (parse_number(&n, &p) < 0 || n.fdig)
		return -1;
	if (is_alpha(*p))
		return -1;
	*out = n.ip;
	*pp = p;
	return 0;
}

/* percent at *pp: number SP* "%" */
static int percent_at(uint64_t *out, const char **pp)
{
	struct number n;
	const char *p = *pp;
	if (parse_number(&n, &p) < 0 || n.fdig > 7)
		return -1;
	p = skip_sp(p);
	if (*p != '%')
		return -1;
	if (n.ip > MAX_PERCENT || (n.ip == MAX_PERCENT && n.frac))
		return -1;
	*out = n.ip * MG_PPB_PER_PERCENT + n.frac * pow10_tab[7 - n.fdig];
	*pp = p + 1;
	return 0;
}

char *mg_quote_value(char *buf, size_t size, const char *s)
{
	size_t o = 0, i;
	if (!size)
		return buf;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		size_t n;
		int cut = i >= 60 && (c & 0xc0) != 0x80;   /* never inside a UTF-8 sequence */
		if (cut) {
			snprintf(tmp, sizeof(tmp), "...");
		} else if (c == '\\' || c == '"') {
			tmp[0] = '\\', tmp[1] = (char)c, tmp[2] = '\0';
		} else if (c == '\n') {
			snprintf(tmp, sizeof(tmp), "\\n");
		} else if (c == '\t') {
			snprintf(tmp, sizeof(tmp), "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		} else {
			tmp[0] = (char)c, tmp[1] = '\0';
		}
		n = strlen(tmp);
		if (o + n >= size)
			break;
		memcpy(buf + o, tmp, n);
		o += n;
		if (cut)
			break;
	}
	buf[o] = '\0';
	return buf;
}

#define QUOTED(s) mg_quote_value((char[256]){ 0 }, 256, (s))

int mg_parse_size(uint64_t *out, const char *s, struct mg_error *err)
{
	const char *p = skip_sp(s);
	uint64_t v;
	if (size_at(&v, &p) < 0 || *skip_sp(p))
		return mg_error_set(err, MG_EINVALID,
				    "expected a size like \"4KiB\" or \"256MiB\", got \"%s\"", QUOTED(s));
	*out = v;
	return MG_OK;
}

int mg_parse_count(uint64_t *out, const char *s, struct mg_error *err)
{
	const char *p = skip_sp(s);
	uint64_t v;
	if (count_at(&v, &p) < 0 || *skip_sp(p))
		return mg_error_set(err, MG_EINVALID,
				    "expected a count (a whole number like \"100\"), got \"%s\"", QUOTED(s));
	*out = v;
	return MG_OK;
}

int mg_parse_percent(uint64_t *out_ppb, const char *s, struct mg_error *err)
{
	const char *p = skip_sp(s);
	uint64_t v;
	if (percent_at(&v, &p) < 0 || *skip_sp(p))
		return mg_error_set(err, MG_EINVALID,
				    "expected a percentage like \"2%%\" or \"0.5%%\", got \"%s\"", QUOTED(s));
	*out_ppb = v;
	return MG_OK;
}

static const struct {
	const char *name;
	uint64_t ms;
} time_units[] = {
	{ "ms", 1ULL }, { "s", 1000ULL }, { "m", 60000ULL }, { "h", 3600000ULL },
	{ "d", 86400000ULL },
};

static int duration(uint64_t *out, const char *s)
{
	const char *p = skip_sp(s);
	uint64_t total = 0, v;
	struct number n;
	int parts = 0;
	while (*p) {
		const char *u;
		size_t len, i;
		if (parse_number(&n, &p) < 0)
			return -1;
		u = skip_sp(p);
		for (len = 0; is_alpha(u[len]); len++)
			;
		if (!len) {
			/* a bare number is seconds, and only alone */
			if (parts || *u)
				return -1;
			if (scale(&v, &n, 1000) < 0)
				return -1;
			total = v;
			parts++;
			break;
		}
		for (i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++)
			if (strlen(time_units[i].name) == len && !memcmp(u, time_units[i].name, len))
				break;
		if (i == sizeof(time_units) / sizeof(time_units[0]))
			return -1;
		if (scale(&v, &n, time_units[i].ms) < 0 || v > MAX_DURATION_MS)
			return -1;
		total += v;             /* both <= MAX_DURATION_MS: no overflow */
		if (total > MAX_DURATION_MS)
			return -1;
		parts++;
		p = skip_sp(u + len);
	}
	if (!parts || total > MAX_DURATION_MS)
		return -1;
	*out = total;
	return 0;
}

int mg_parse_duration_ms(uint64_t *out, const char *s, struct mg_error *err)
{
	uint64_t v;
	if (duration(&v, s) < 0)
		return mg_error_set(err, MG_EINVALID,
				    "expected a duration like \"300s\", \"5m\" or \"250ms\", got \"%s\"", QUOTED(s));
	*out = v;
	return MG_OK;
}

/* one term of a tolerance, [b, e) trimmed; *kind: 1 percent, 2 amount */
static int tolerance_term(struct mg_tolerance *t, int *kind, const char *b, const char *e,
			  int is_bytes)
{
	char term[64];
	const char *p;
	size_t len;
	uint64_t v;
	while (b < e && is_sp(*b))
		b++;
	while (e > b && is_sp(e[-1]))
		e--;
	len = (size_t)(e - b);
	if (!len || len >= sizeof(term))
		return -1;
	memcpy(term, b, len);
	term[len] = '\0';
	p = term;
	if (term[len - 1] == '%') {
		if (percent_at(&v, &p) < 0 || *p)
			return -1;
		t->ppb = v;
		*kind = 1;
		return 0;
	}
	if ((is_bytes ? size_at(&v, &p) : count_at(&v, &p)) < 0 || *p)
		return -1;
	t->abs = v;
	*kind = 2;
	return 0;
}

int mg_tolerance_parse(struct mg_tolerance *out, const char *s, int is_bytes,
		       struct mg_error *err)
{
	struct mg_tolerance t = { 0, 0 };
	const char *plus = strchr(s, '+');
	int k1 = 0, k2 = 0, bad;
	if (plus) {
		bad = strchr(plus + 1, '+') != NULL ||
		      tolerance_term(&t, &k1, s, plus, is_bytes) < 0 ||
		      tolerance_term(&t, &k2, plus + 1, plus + strlen(plus), is_bytes) < 0 ||
		      k1 == k2;
	} else {
		bad = tolerance_term(&t, &k1, s, s + strlen(s), is_bytes) < 0;
	}
	if (bad) {
		if (is_bytes)
			return mg_error_set(err, MG_EINVALID,
					    "expected a tolerance like \"2%% + 4KiB\", \"5%%\", \"4KiB\" or \"0\", got \"%s\"",
					    QUOTED(s));
		return mg_error_set(err, MG_EINVALID,
				    "expected a tolerance like \"0.5%%\", \"10\" or \"1%% + 10\" (a count, no unit), got \"%s\"",
				    QUOTED(s));
	}
	*out = t;
	return MG_OK;
}

uint64_t mg_tolerance_allowed(const struct mg_tolerance *t, uint64_t baseline)
{
	unsigned __int128 v = (unsigned __int128)baseline * t->ppb / 1000000000ULL;
	v += baseline;
	v += t->abs;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* "I" or "I.F" without trailing zeros; frac has `digits` digits */
static int format_fixed(char *buf, size_t size, uint64_t ip, uint64_t frac, int digits,
			const char *suffix)
{
	char f[16];
	int n;
	if (!frac)
		return snprintf(buf, size, "%" PRIu64 "%s", ip, suffix);
	n = snprintf(f, sizeof(f), "%0*" PRIu64, digits, frac);
	while (n > 0 && f[n - 1] == '0')
		f[--n] = '\0';
	return snprintf(buf, size, "%" PRIu64 ".%s%s", ip, f, suffix);
}

char *mg_format_size(char *buf, size_t size, uint64_t bytes)
{
	size_t i = sizeof(size_units) / sizeof(size_units[0]);
	if (!size)
		return buf;
	while (--i > 0) {
		uint64_t u = size_units[i].bytes;
		unsigned __int128 hundredths = (unsigned __int128)bytes * 100;
		if (bytes >= u && hundredths % u == 0) {
			uint64_t h = (uint64_t)(hundredths / u);
			format_fixed(buf, size, h / 100, h % 100, 2, size_units[i].name);
			return buf;
		}
	}
	snprintf(buf, size, "%" PRIu64 "B", bytes);
	return buf;
}

char *mg_tolerance_format(char *buf, size_t size, const struct mg_tolerance *t, int is_bytes)
{
	char pct[48] = "", amount[48] = "";
	if (!size)
		return buf;
	if (t->ppb)
		format_fixed(pct, sizeof(pct), t->ppb / MG_PPB_PER_PERCENT,
			     t->ppb % MG_PPB_PER_PERCENT, 7, "%");
	if (t->abs) {
		if (is_bytes)
			mg_format_size(amount, sizeof(amount), t->abs);
		else
			snprintf(amount, sizeof(amount), "%" PRIu64, t->abs);
	}
	if (*pct && *amount)
		snprintf(buf, size, "%s + %s", pct, amount);
	else if (*pct || *amount)
		snprintf(buf, size, "%s%s", pct, amount);
	else
		snprintf(buf, size, "0");
	return buf;
}

const char *mg_fmt_size(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;
	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1023.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (v < 9.995)
		snprintf(buf, size, "%.2f %s", v, units[u]);
	else if (v < 99.95)
		snprintf(buf, size, "%.1f %s", v, units[u]);
	else
		snprintf(buf, size, "%.0f %s", v, units[u]);
	return buf;
}
