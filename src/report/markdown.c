/* markdown.c - a check result as GitHub-flavoured markdown (job summary, PR comment) */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/metric.h"
#include "../core/units.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/json.h"
#include "check_result.h"
#include "markdown.h"

/* ---- reading the document ---- */

static const cJSON *item(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* an exact non-negative integer (figures are below 2^53), else 0 with *has = 0 */
static uint64_t u64(const cJSON *o, const char *k, int *has)
{
	uint64_t v = 0;
	int ok = mg_json_u64(&v, item(o, k)) == 0;
	if (has)
		*has = ok;
	return v;
}

static int is_true(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(item(o, k));
}


/* ---- escaping and numbers ---- */

/* length of the valid UTF-8 sequence at s (1..4), or 0 when invalid */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static int alnum(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int mg_md_escape(struct mg_buf *b, const char *s)
{
	const unsigned char *start = (const unsigned char *)(s ? s : ""), *p = start;
	while (*p) {
		size_t n = utf8_len(p);
		unsigned c = *p;
		if (n == 0) {
			mg_buf_add(b, "\xEF\xBF\xBD", 3);    /* U+FFFD for a stray byte */
			p++;
			continue;
		}
		if (n > 1) {
			mg_buf_add(b, (const char *)p, n);
			p += n;
			continue;
		}
		if (c < 0x20 || c == 0x7F)
			mg_buf_add(b, " ", 1);               /* newlines would end a row */
		else if (c == '&')
			mg_buf_puts(b, "&amp;");
		else if (c == '<')
			mg_buf_puts(b, "&lt;");
		else if (c == '>')
			mg_buf_puts(b, "&gt;");
		else if (c == '"')
			mg_buf_puts(b, "&quot;");
		else if ((c == ':' && p[1] == '/' && p[2] == '/') || c == '@' ||
			 (c == '.' && p - start >= 3 && !strncasecmp((const char *)p - 3, "www", 3)))
			/* no autolinks (GFM's extension links scheme://, www. and e-mail
			 * addresses even inside <code>) */
			mg_buf_printf(b, "&#%u;", c);
		else if (c == '_' && p > start && alnum(p[-1]) && alnum(p[1]))
			mg_buf_add(b, "_", 1);       /* intraword: never emphasis (GFM) */
		else if (strchr("|`*_[]\\~$", (int)c))
			/*
			 * markdown's own characters (and '$' math) as references:
			 * literal in markdown and in HTML blocks alike, where a
			 * backslash would show.  Mentions, refs and emoji are found
			 * in the rendered text, so frames go in <code>, which
			 * GitHub leaves alone.
			 */
			mg_buf_printf(b, "&#%u;", c);
		else
			mg_buf_add(b, (const char *)p, 1);
		p++;
	}
	return b->failed ? -1 : 0;
}


/* a figure of metric: a size for byte metrics, else the count */
static void figure(char *buf, size_t size, const char *metric, uint64_t v)
{
	if (mg_metric_name_is_bytes(metric))
		mg_fmt_size(buf, size, v);
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* "+136 KiB (+13.3%)", "-12 (-0.5%)", "0", "+4.00 KiB" (from 0) */
static void delta(char *buf, size_t size, const char *metric, uint64_t base, uint64_t cur)
{
	char f[32], pct[32] = "";
	uint64_t d = cur >= base ? cur - base : base - cur;
	char sign = cur >= base ? '+' : '-';
	if (d == 0) {
		snprintf(buf, size, "0");
		return;
	}
	figure(f, sizeof(f), metric, d);
	if (base) {
		double p = (double)d * 100.0 / (double)base;
		if (p < 0.05)
			snprintf(pct, sizeof(pct), " (%c<0.1%%)", sign);
		else
			snprintf(pct, sizeof(pct), " (%c%.1f%%)", sign, p);
	}
	snprintf(buf, size, "%c%s%s", sign, f, pct);
}

static const char *verdict_icon(const char *v)
{
	if (!v)
		return "";
	if (!strcmp(v, "pass"))
		return "\xE2\x9C\x85 ";                  /* white heavy check mark */
	if (!strcmp(v, "improved"))
		return "\xE2\xAC\x87\xEF\xB8\x8F ";      /* down arrow */
	if (!strcmp(v, "new"))
		return "\xF0\x9F\x86\x95 ";              /* NEW */
	if (!strcmp(v, "regression"))
		return "\xE2\x9D\x8C ";                  /* cross mark */
	if (!strcmp(v, "over budget"))
		return "\xE2\x9B\x94 ";                  /* no entry */
	return "";
}

static int severity(const char *v)
{
	static const char *const order[] = { "over budget", "regression", "new", "improved", "pass" };
	for (int i = 0; i < 5; i++)
		if (v && !strcmp(v, order[i]))
			return i;
	return 5;
}

static int failing(const cJSON *t)
{
	return mg_check_verdict_fails(mg_json_str(t, "verdict"));
}

int mg_md_marker(char *buf, size_t size, const char *config)
{
	struct mg_buf b;
	const unsigned char *p;
	int n;
	mg_buf_init(&b, 4096);
	mg_buf_puts(&b, "<!-- memgate:");
	for (p = (const unsigned char *)(config ? config : ""); p[0] == '.' && p[1] == '/'; p += 2)
		;
	for (; *p; p++) {
		/* '-' is kept unless it starts "--" or ends the name: "-->" must not appear */
		if (*p <= ' ' || *p >= 0x7F || *p == '%' || *p == '>' || *p == '<' || *p == '!' ||
		    (*p == '-' && (p[1] == '-' || !p[1])))
			mg_buf_printf(&b, "%%%02X", *p);
		else
			mg_buf_add(&b, (const char *)p, 1);
	}
	mg_buf_puts(&b, " -->");
	n = snprintf(buf, size, "%s", mg_buf_str(&b));
	mg_buf_release(&b);
	return n;
}

/* ---- the document, block by block ---- */

struct md {
	struct mg_buf out;      /* the text so far */
	struct mg_buf blk;      /* the block being built: all of it goes in, or none */
	size_t budget;          /* bytes out may reach, the note aside */
	int cut;                /* a block did not fit: nothing more goes in */
};

static void emit(struct md *m)
{
	if (!m->cut && !m->blk.failed && m->blk.len <= m->budget - m->out.len)
		mg_buf_add(&m->out, m->blk.ptr ? m->blk.ptr : "", m->blk.len);
	else if (m->blk.len || m->blk.failed)
		m->cut = 1;
	mg_buf_clear(&m->blk);
}

static void esc(struct md *m, const char *s)
{
	mg_md_escape(&m->blk, s);
}

/* code-formatted site or name: <code> keeps the escaping valid, unlike backticks */
static void code(struct mg_buf *b, const char *s)
{
	mg_buf_puts(b, "<code>");
	mg_md_escape(b, s);
	mg_buf_puts(b, "</code>");
}

/* display width of raw text: code points */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* ---- the aligned table ---- */

#define NCOL 7

struct table {
	char **cells;           /* rows * NCOL escaped cells */
	size_t rows, cap;
	size_t w[NCOL];
};

static int table_add(struct table *tb, char *const cell[NCOL])
{
	if (tb->rows == tb->cap) {
		size_t cap = tb->cap ? tb->cap * 2 : 16;
		char **c = realloc(tb->cells, cap * NCOL * sizeof(*c));
		if (!c)
			return -1;
		tb->cells = c;
		tb->cap = cap;
	}
	for (int k = 0; k < NCOL; k++) {
		tb->cells[tb->rows * NCOL + (size_t)k] = cell[k];
		if (width(cell[k]) > tb->w[k])
			tb->w[k] = width(cell[k]);
	}
	tb->rows++;
	return 0;
}

static void table_free(struct table *tb)
{
	for (size_t i = 0; i < tb->rows * NCOL; i++)
		free(tb->cells[i]);
	free(tb->cells);
}

static void row_out(struct mg_buf *b, const struct table *tb, char *const *cell, const int *right)
{
	for (int k = 0; k < NCOL; k++) {
		size_t pad = tb->w[k] - width(cell[k]);
		mg_buf_puts(b, "| ");
		if (right[k])
			for (size_t i = 0; i < pad; i++)
				mg_buf_add(b, " ", 1);
		mg_buf_puts(b, cell[k]);
		if (!right[k])
			for (size_t i = 0; i < pad; i++)
				mg_buf_add(b, " ", 1);
		mg_buf_puts(b, k == NCOL - 1 ? " |\n" : " ");
	}
}

static char *cell_esc(const char *s)
{
	struct mg_buf b;
	mg_buf_init(&b, 1u << 20);
	mg_md_escape(&b, s);
	return b.failed ? (mg_buf_release(&b), NULL) : mg_buf_detach(&b);
}

static char *cell_raw(const char *s)
{
	return strdup(s);
}

/* the tests, most severe first, in document order within a verdict */
static const cJSON **sorted_tests(const cJSON *tests, size_t *n)
{
	size_t count = (size_t)cJSON_GetArraySize(tests), k = 0;
	const cJSON **v = calloc(count + 1, sizeof(*v));
	const cJSON *t;
	if (!v)
		return NULL;
	for (int s = 0; s <= 5; s++)
		cJSON_ArrayForEach(t, tests)
			if (cJSON_IsObject(t) && severity(mg_json_str(t, "verdict")) == s)
				v[k++] = t;
	*n = k;
	return v;
}

/* a gated figure that passes equal to its baseline: listed apart, collapsed */
static int unchanged(const cJSON *mt)
{
	int hb, hc;
	uint64_t base = u64(mt, "baseline", &hb), cur = u64(mt, "current", &hc);
	const char *v = mg_json_str(mt, "verdict");
	return hb && hc && base == cur && v && !strcmp(v, "pass");
}

/*
 * The table of the gated figures that are `unchanged()` (same: 1) or not
 * (0), into m->blk after what it holds; each row is a block of its own
 * unless `whole` (then nothing is emitted: the caller ends the block).
 * -1: out of memory; else the rows written.
 */
static int metrics_table(struct md *m, const cJSON **tests, size_t n, int same, int whole)
{
	static const char *const head[NCOL] = { "Test", "Metric", "Baseline", "Current", "Delta",
						"Allowed", "Verdict" };
	static const int right[NCOL] = { 0, 0, 1, 1, 1, 1, 0 };
	struct table tb = { 0 };
	char *cell[NCOL];
	int ret = -1;

	for (int k = 0; k < NCOL; k++)
		tb.w[k] = strlen(head[k]);
	for (size_t i = 0; i < n; i++) {
		const cJSON *mt;
		cJSON_ArrayForEach(mt, item(tests[i], "metrics")) {
			const char *metric = mg_json_str(mt, "metric"), *v = mg_json_str(mt, "verdict");
			char b[48], c[48], d[64], a[48], vv[64];
			int hb, hc, ha;
			uint64_t base = u64(mt, "baseline", &hb), cur = u64(mt, "current", &hc);
			uint64_t allowed = u64(mt, "allowed", &ha);
			if (!metric || unchanged(mt) != same)
				continue;
			if (hb)
				figure(b, sizeof(b), metric, base);
			else
				snprintf(b, sizeof(b), "\xE2\x80\x93");      /* en dash: none */
			if (hc)
				figure(c, sizeof(c), metric, cur);
			else
				snprintf(c, sizeof(c), "\xE2\x80\x93");
			if (hb && hc)
				delta(d, sizeof(d), metric, base, cur);
			else
				snprintf(d, sizeof(d), "new");
			if (ha)
				figure(a, sizeof(a), metric, allowed);
			else
				snprintf(a, sizeof(a), "\xE2\x80\x93");
			snprintf(vv, sizeof(vv), "%s", verdict_icon(v));
			cell[0] = cell_esc(mg_json_str(tests[i], "name"));
			cell[1] = cell_esc(metric);
			cell[2] = cell_raw(b);
			cell[3] = cell_raw(c);
			cell[4] = cell_raw(d);
			cell[5] = cell_raw(a);
			{
				struct mg_buf vb;
				mg_buf_init(&vb, 256);
				mg_buf_puts(&vb, vv);
				mg_md_escape(&vb, v ? v : "?");
				cell[6] = mg_buf_detach(&vb);
			}
			for (int k = 0; k < NCOL; k++)
				if (!cell[k]) {
					for (int j = 0; j < NCOL; j++)
						free(cell[j]);
					goto done;
				}
			if (table_add(&tb, cell) < 0) {
				for (int j = 0; j < NCOL; j++)
					free(cell[j]);
				goto done;
			}
		}
	}
	if (!tb.rows) {
		ret = 0;
		goto done;
	}
	/* the header goes with the first row: never a table without rows */
	row_out(&m->blk, &tb, (char *const *)head, right);
	for (int k = 0; k < NCOL; k++) {
		mg_buf_add(&m->blk, "|", 1);
		mg_buf_add(&m->blk, right[k] ? "-" : ":", 1);
		for (size_t i = 0; i < tb.w[k]; i++)
			mg_buf_add(&m->blk, "-", 1);
		mg_buf_add(&m->blk, right[k] ? ":" : "-", 1);
	}
	mg_buf_puts(&m->blk, "|\n");
	for (size_t r = 0; r < tb.rows; r++) {
		row_out(&m->blk, &tb, tb.cells + r * NCOL, right);
		if (!whole)
			emit(m);
	}
	mg_buf_puts(&m->blk, "\n");
	if (!whole)
		emit(m);
	ret = (int)tb.rows;
done:
	table_free(&tb);
	return ret;
}

/* the figures equal to their baselines, after everything else (the first
 * thing a cut drops), collapsed: all of it or none */
static int unchanged_table(struct md *m, const cJSON **tests, size_t n)
{
	size_t figures = 0, with = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *mt;
		size_t here = 0;
		cJSON_ArrayForEach(mt, item(tests[i], "metrics"))
			here += mg_json_str(mt, "metric") && unchanged(mt);
		figures += here;
		with += here > 0;
	}
	if (!figures)
		return 0;
	char phrase[128];
	mg_check_equal_phrase(phrase, sizeof(phrase), figures, with);
	mg_buf_printf(&m->blk, "<details><summary>%s</summary>\n\n", phrase);
	if (metrics_table(m, tests, n, 1, 1) < 0)
		return -1;
	mg_buf_puts(&m->blk, "</details>\n\n");
	emit(m);
	return 0;
}

/* ---- why a test failed ---- */

static const cJSON *top_site(const cJSON *t, const char *metric)
{
	const cJSON *g;
	cJSON_ArrayForEach(g, item(t, "grew"))
		if (mg_json_str(g, "metric") && !strcmp(mg_json_str(g, "metric"), metric) &&
		    mg_json_str(g, "site") && *mg_json_str(g, "site"))
			return g;
	return NULL;
}

static void why(struct mg_buf *b, const cJSON *t, int md)
{
	const cJSON *mt;
	int first = 1, has_runs;
	uint64_t runs = u64(t, "runs", &has_runs);
	cJSON_ArrayForEach(mt, item(t, "metrics")) {
		const char *metric = mg_json_str(mt, "metric"), *v = mg_json_str(mt, "verdict");
		int hb, ha, hl;
		uint64_t cur = u64(mt, "current", NULL), base = u64(mt, "baseline", &hb);
		uint64_t allowed = u64(mt, "allowed", &ha), limit = u64(mt, "limit", &hl);
		char c[48], a[48], d[64];
		const cJSON *g;
		if (!metric || !v || (strcmp(v, "regression") && strcmp(v, "over budget")))
			continue;
		mg_buf_puts(b, first ? "" : "; ");
		first = 0;
		figure(c, sizeof(c), metric, cur);
		if (md)
			mg_md_escape(b, metric);
		else
			mg_buf_puts(b, metric);
		if (!strcmp(v, "over budget") && hl) {
			figure(a, sizeof(a), metric, limit);
			mg_buf_printf(b, " %s > limit %s", c, a);
		} else if (ha) {
			figure(a, sizeof(a), metric, allowed);
			mg_buf_printf(b, " %s > allowed %s", c, a);
		} else {
			mg_buf_printf(b, " %s", c);
		}
		if (hb) {
			delta(d, sizeof(d), metric, base, cur);
			mg_buf_printf(b, ", %s vs baseline", d);
		}
		/* docs/baselines.md, "The spread": the runs the baseline allowed for */
		const cJSON *sp = item(mt, "spread");
		int hlo, hhi;
		uint64_t lo = u64(sp, "min", &hlo), hi = u64(sp, "max", &hhi);
		if (hlo && hhi) {
			figure(a, sizeof(a), metric, lo);
			figure(d, sizeof(d), metric, hi);
			mg_buf_printf(b, " (its runs %s to %s)", a, d);
		}
		if ((g = top_site(t, metric))) {
			double share = cJSON_IsNumber(item(g, "share")) ? item(g, "share")->valuedouble : -1;
			if (share >= 0 && share <= 1)
				mg_buf_printf(b, ", %.0f%% from ", share * 100);
			else
				mg_buf_puts(b, ", most from ");
			if (md)
				code(b, mg_json_str(g, "site"));
			else
				mg_buf_puts(b, mg_json_str(g, "site"));
		}
	}
	/* a noisy figure was measured again before being called a regression */
	if (!first && has_runs && runs > 1)
		mg_buf_printf(b, " (%" PRIu64 " runs%s)", runs,
			      is_true(t, "confirmed_by_rerun") ? ", confirmed by a re-run" : "");
	else if (!first && is_true(t, "confirmed_by_rerun"))
		mg_buf_puts(b, " (confirmed by a re-run)");
}

int mg_md_why_plain(struct mg_buf *b, const cJSON *test)
{
	why(b, test, 0);
	return b->failed ? -1 : 0;
}

/* ---- sections ---- */

static void headline(struct md *m, const cJSON *doc, const cJSON **tests, size_t n)
{
	size_t nfail = 0, counts[6] = { 0 };
	const char *verdict = mg_json_str(doc, "verdict");
	const char *ref = mg_json_str(doc, "baseline_ref"), *base = mg_json_str(doc, "baseline_commit");
	const char *head = mg_json_str(doc, "head_commit"), *ver = mg_json_str(doc, "memgate_version");
	static const char *const names[] = { "over budget", "regression", "new", "improved", "pass" };
	int failed;

	for (size_t i = 0; i < n; i++) {
		counts[severity(mg_json_str(tests[i], "verdict"))]++;
		nfail += failing(tests[i]);
	}
	failed = nfail || (verdict && strcmp(verdict, "pass"));
	if (!nfail && verdict && !strcmp(verdict, "unmeasured")) {
		size_t nu = 0;
		for (size_t i = 0; i < n; i++)
			nu += cJSON_GetArraySize(item(tests[i], "untraced")) > 0 &&
			      !cJSON_IsTrue(item(tests[i], "untraced_allowed"));
		mg_buf_printf(&m->blk, "## \xE2\x9A\xA0\xEF\xB8\x8F memgate: %zu test%s not measured "
			      "in full\n\n", nu, nu == 1 ? "" : "s");
	} else if (failed)
		mg_buf_printf(&m->blk, "## %smemgate: %zu test%s regressed\n\n",
			      verdict_icon("regression"), nfail, nfail == 1 ? "" : "s");
	else
		mg_buf_printf(&m->blk, "## %smemgate: no heap regression\n\n", verdict_icon("pass"));
	mg_buf_printf(&m->blk, "**%zu test%s checked:**", n, n == 1 ? "" : "s");
	for (int s = 4, first = 1; s >= 0; s--) {
		mg_buf_printf(&m->blk, "%s %zu %s", first ? "" : ",", counts[s], names[s]);
		first = 0;
	}
	mg_buf_puts(&m->blk, ".");
	if (ref || base) {
		mg_buf_puts(&m->blk, " Baselines of ");
		if (ref)
			code(&m->blk, ref);
		if (base) {
			char sha[13];
			snprintf(sha, sizeof(sha), "%.12s", base);
			mg_buf_puts(&m->blk, ref ? " at " : "");
			code(&m->blk, sha);
		}
		mg_buf_puts(&m->blk, ";");
	}
	if (head) {
		char sha[13];
		snprintf(sha, sizeof(sha), "%.12s", head);
		mg_buf_puts(&m->blk, " head ");
		code(&m->blk, sha);
		mg_buf_puts(&m->blk, is_true(doc, "dirty") ? " with uncommitted changes;" : ";");
	}
	if (ver) {
		mg_buf_puts(&m->blk, " memgate ");
		esc(m, ver);
		mg_buf_puts(&m->blk, ".");
	}
	mg_buf_puts(&m->blk, "\n\n");
	emit(m);
}

static void env_warnings(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		const char *detail = mg_json_str(tests[i], "environment_detail");
		if (!is_true(tests[i], "environment_mismatch"))
			continue;
		if (!any++)
			mg_buf_puts(&m->blk, "> [!WARNING]\n> Measured in another environment than the "
				    "baseline (allocator or libc changes move figures):\n");
		mg_buf_puts(&m->blk, ">\n> - **");
		esc(m, mg_json_str(tests[i], "name"));
		mg_buf_puts(&m->blk, "**");
		if (detail) {
			mg_buf_puts(&m->blk, ": ");
			esc(m, detail);
		}
		mg_buf_puts(&m->blk, "\n");
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

/* tests whose processes started programs that ran untraced: not measured in full */
static void untraced_tests(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *p;
		if (!cJSON_GetArraySize(item(tests[i], "untraced")) ||
		    cJSON_IsTrue(item(tests[i], "untraced_allowed")))
			continue;
		if (!any++)
			mg_buf_puts(&m->blk, "> [!CAUTION]\n> Not measured in full: programs these "
				    "tests started ran untraced (static, 32-bit or setuid, or "
				    "started without `LD_PRELOAD`), so their allocations are in no "
				    "figure. `allow-untraced: true` in memgate.yml if that is expected.\n");
		mg_buf_puts(&m->blk, ">\n> - **");
		esc(m, mg_json_str(tests[i], "name"));
		mg_buf_puts(&m->blk, "**: ");
		int first = 1;
		cJSON_ArrayForEach(p, item(tests[i], "untraced")) {
			if (!cJSON_IsString(p))
				continue;
			mg_buf_puts(&m->blk, first ? "" : ", ");
			esc(m, p->valuestring);
			first = 0;
		}
		mg_buf_puts(&m->blk, "\n");
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

/* what the profiles themselves warned about: a child not traced, leak kinds unknown... */
static void profile_warnings(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *w;
		cJSON_ArrayForEach(w, cJSON_GetObjectItem(tests[i], "warnings")) {
			if (!cJSON_IsString(w))
				continue;
			if (!any++)
				mg_buf_puts(&m->blk, "> [!WARNING]\n> The measurement itself warned:\n");
			mg_buf_puts(&m->blk, ">\n> - **");
			esc(m, mg_json_str(tests[i], "name"));
			mg_buf_puts(&m->blk, "**: ");
			esc(m, w->valuestring);
			mg_buf_puts(&m->blk, "\n");
		}
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

static void why_lines(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		if (!failing(tests[i]))
			continue;
		any = 1;
		mg_buf_puts(&m->blk, "- **");
		esc(m, mg_json_str(tests[i], "name"));
		mg_buf_puts(&m->blk, "**: ");
		why(&m->blk, tests[i], 1);
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

static void list_section(struct md *m, const char *title, const char *const *names, size_t n,
			 const char *tail)
{
	if (!n)
		return;
	mg_buf_printf(&m->blk, "**%s** (%zu): ", title, n);
	for (size_t i = 0; i < n; i++) {
		mg_buf_puts(&m->blk, i ? ", " : "");
		code(&m->blk, names[i]);
	}
	mg_buf_printf(&m->blk, "%s\n\n", tail ? tail : "");
	emit(m);
}

static void name_lists(struct md *m, const cJSON *doc, const cJSON **tests, size_t n)
{
	const char **names = calloc((size_t)cJSON_GetArraySize(item(doc, "missing")) + n + 1,
				    sizeof(*names));
	size_t k = 0;
	const cJSON *x;
	if (!names) {
		m->blk.failed = 1;
		emit(m);
		return;
	}
	cJSON_ArrayForEach(x, item(doc, "missing"))
		if (cJSON_IsString(x))
			names[k++] = x->valuestring;
	list_section(m, "Missing", names, k, ": a baseline without a test in the config");
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(mg_json_str(tests[i], "verdict") ? mg_json_str(tests[i], "verdict") : "", "new"))
			names[k++] = mg_json_str(tests[i], "name");
	list_section(m, "New", names, k, ": no baseline yet; `memgate accept` records one");
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(mg_json_str(tests[i], "verdict") ? mg_json_str(tests[i], "verdict") : "", "improved"))
			names[k++] = mg_json_str(tests[i], "name");
	list_section(m, "Improved", names, k, ": run `memgate accept` on them to ratchet the baselines");
	free(names);
}

/* docs/config.md: a suppression that hid nothing, or whose cap let leaks through */
static void suppressions(struct md *m, const cJSON *doc, const char *config)
{
	const cJSON *s;
	int any = 0;
	cJSON_ArrayForEach(s, item(doc, "suppressions")) {
		int hu, hc, hl;
		uint64_t used = u64(s, "used", &hu), capped = u64(s, "capped", &hc);
		uint64_t line = u64(s, "line", &hl);
		if (!mg_json_str(s, "leak") || (!(hu && !used) && !(hc && capped)))
			continue;
		if (!any++)
			mg_buf_puts(&m->blk, "**Suppressions:**\n\n");
		/* <code>, not backticks: entities of esc() are text inside a code span */
		mg_buf_puts(&m->blk, "- <code>");
		esc(m, mg_json_str(s, "leak"));
		mg_buf_puts(&m->blk, "</code> (");
		esc(m, config);
		if (hl)
			mg_buf_printf(&m->blk, ":%" PRIu64, line);
		if (hu && !used)
			mg_buf_puts(&m->blk, ") hid no leak in this run: it hides nothing today, and "
				    "may hide a real leak tomorrow\n");
		else
			mg_buf_printf(&m->blk, ") matched %" PRIu64 " leak stack%s beyond its "
				      "`max_bytes`: counted\n", capped, capped == 1 ? "" : "s");
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

static void accepted(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *ab;
		if (!is_true(tests[i], "accepted_in_change"))
			continue;
		if (!any++)
			mg_buf_puts(&m->blk, "**Baselines accepted in this change** (gated against the "
				    "accepted figures; here against the base):\n\n");
		mg_buf_puts(&m->blk, "- **");
		esc(m, mg_json_str(tests[i], "name"));
		mg_buf_puts(&m->blk, "**:");
		int moved = 0;
		cJSON_ArrayForEach(ab, item(tests[i], "against_base")) {
			const char *metric = mg_json_str(ab, "metric");
			int hb, hc;
			uint64_t base = u64(ab, "base", &hb), cur = u64(ab, "current", &hc);
			char b[48], c[48], d[64];
			if (!metric || !hc)
				continue;
			figure(c, sizeof(c), metric, cur);
			mg_buf_puts(&m->blk, moved++ ? "; " : " ");
			esc(m, metric);
			if (!hb) {
				mg_buf_printf(&m->blk, " %s (new)", c);
				continue;
			}
			figure(b, sizeof(b), metric, base);
			delta(d, sizeof(d), metric, base, cur);
			mg_buf_printf(&m->blk, " %s \xE2\x86\x92 %s, %s", b, c, d);
		}
		mg_buf_puts(&m->blk, moved ? "\n" : " no figure against the base\n");
		emit(m);
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

static void stale(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		int has;
		uint64_t c = u64(tests[i], "staleness_commits", &has);
		if (!has || !c)
			continue;
		mg_buf_puts(&m->blk, any++ ? ", " : "**Stale baselines** (measured before the base "
				     "commit; `memgate accept` refreshes them): ");
		code(&m->blk, mg_json_str(tests[i], "name"));
		mg_buf_printf(&m->blk, " %" PRIu64 " commit%s", c, c == 1 ? "" : "s");
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n\n");
		emit(m);
	}
}

static void leak_sites(struct md *m, const cJSON **tests, size_t n)
{
	int any = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *s;
		cJSON_ArrayForEach(s, item(tests[i], "new_leak_sites")) {
			if (!cJSON_IsString(s))
				continue;
			if (!any++) {
				mg_buf_puts(&m->blk, "### New leak sites\n\n");
				emit(m);
			}
			mg_buf_puts(&m->blk, "- **");
			esc(m, mg_json_str(tests[i], "name"));
			mg_buf_puts(&m->blk, "**: ");
			code(&m->blk, s->valuestring);
			mg_buf_puts(&m->blk, "\n");
			emit(m);
		}
	}
	if (any) {
		mg_buf_puts(&m->blk, "\n");
		emit(m);
	}
}

static void exact_num(struct mg_buf *b, const cJSON *o, const char *k)
{
	int has;
	uint64_t v = u64(o, k, &has);
	if (has)
		mg_buf_printf(b, "%" PRIu64, v);
	else
		mg_buf_puts(b, "\xE2\x80\x93");
}

static void details(struct md *m, const cJSON *t)
{
	const cJSON *x;
	const char *v = mg_json_str(t, "verdict");
	if (!failing(t) && !cJSON_GetArraySize(item(t, "grew")))
		return;
	mg_buf_puts(&m->blk, "<details><summary>");
	mg_buf_puts(&m->blk, verdict_icon(v));
	mg_buf_puts(&m->blk, "<b>");
	esc(m, mg_json_str(t, "name"));
	mg_buf_puts(&m->blk, "</b>: ");
	esc(m, v ? v : "?");
	mg_buf_puts(&m->blk, ", exact figures and the call sites that grew</summary>\n\n"
		    "| Metric | Baseline | Current | Delta | Allowed | Limit | Verdict |\n"
		    "|:--|--:|--:|--:|--:|--:|:--|\n");
	cJSON_ArrayForEach(x, item(t, "metrics")) {
		int hb, hc;
		uint64_t b = u64(x, "baseline", &hb), c = u64(x, "current", &hc);
		mg_buf_puts(&m->blk, "| ");
		esc(m, mg_json_str(x, "metric"));
		mg_buf_puts(&m->blk, " | ");
		exact_num(&m->blk, x, "baseline");
		mg_buf_puts(&m->blk, " | ");
		exact_num(&m->blk, x, "current");
		mg_buf_puts(&m->blk, " | ");
		if (hb && hc && c != b)
			mg_buf_printf(&m->blk, "%+" PRId64, (int64_t)(c - b));
		else if (hb && hc)
			mg_buf_puts(&m->blk, "0");
		else
			mg_buf_puts(&m->blk, "\xE2\x80\x93");
		mg_buf_puts(&m->blk, " | ");
		exact_num(&m->blk, x, "allowed");
		mg_buf_puts(&m->blk, " | ");
		exact_num(&m->blk, x, "limit");
		mg_buf_puts(&m->blk, " | ");
		esc(m, mg_json_str(x, "verdict") ? mg_json_str(x, "verdict") : "?");
		mg_buf_puts(&m->blk, " |\n");
	}
	if (cJSON_GetArraySize(item(t, "grew"))) {
		mg_buf_puts(&m->blk, "\n| Metric | Call site | Baseline | Current | Delta | Share |\n"
			    "|:--|:--|--:|--:|--:|--:|\n");
		cJSON_ArrayForEach(x, item(t, "grew")) {
			const char *metric = mg_json_str(x, "metric") ? mg_json_str(x, "metric") : "?";
			char b[48], c[48], d[48];
			uint64_t bv = u64(x, "baseline", NULL), cv = u64(x, "current", NULL);
			double share = cJSON_IsNumber(item(x, "share")) ? item(x, "share")->valuedouble : -1;
			figure(b, sizeof(b), metric, bv);
			figure(c, sizeof(c), metric, cv);
			figure(d, sizeof(d), metric, cv >= bv ? cv - bv : bv - cv);
			mg_buf_puts(&m->blk, "| ");
			esc(m, metric);
			mg_buf_puts(&m->blk, " | ");
			code(&m->blk, mg_json_str(x, "site"));
			mg_buf_printf(&m->blk, " | %s | %s | %c%s | ", b, c, cv >= bv ? '+' : '-', d);
			if (share >= 0 && share <= 1)
				mg_buf_printf(&m->blk, "%.0f%%", share * 100);
			else
				mg_buf_puts(&m->blk, "\xE2\x80\x93");
			mg_buf_puts(&m->blk, " |\n");
		}
	}
	mg_buf_puts(&m->blk, "\n</details>\n\n");
	emit(m);
}

int mg_markdown_render(char **out, size_t *len, int *cut, const cJSON *result,
		       const struct mg_md_options *opt, struct mg_error *err)
{
	struct md m;
	struct mg_buf note;
	const cJSON **tests = NULL;
	size_t n = 0, max = opt && opt->max_bytes ? opt->max_bytes : (size_t)1 << 40;
	int ret;

	*out = NULL;
	*len = 0;
	if ((ret = mg_check_result_validate(result, "check result", err)) != MG_OK)
		return ret;
	if (max < 1024)
		return mg_error_set(err, MG_ERROR, "report size bound %zu too small (1024 at least)",
				    max);
	mg_buf_init(&note, 1024);
	mg_buf_printf(&note, "\n---\n\n> [!NOTE]\n> memgate cut this report to %zu bytes: %s.\n", max,
		      opt && opt->cut_note ? opt->cut_note :
		      "the full report is in the job summary and the profiles artifact");
	if (note.failed || note.len + 256 > max) {
		mg_buf_release(&note);
		return mg_error_set(err, MG_ERROR, "report size bound %zu too small for its note", max);
	}
	mg_buf_init(&m.out, max);
	mg_buf_init(&m.blk, max);
	m.budget = max - note.len;
	m.cut = 0;
	if (!(tests = sorted_tests(item(result, "tests"), &n))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	if (opt && opt->marker) {
		mg_buf_printf(&m.blk, "%s\n", opt->marker);
		emit(&m);
	}
	headline(&m, result, tests, n);
	env_warnings(&m, tests, n);
	untraced_tests(&m, tests, n);
	profile_warnings(&m, tests, n);
	int moved = metrics_table(&m, tests, n, 0, 0);
	if (moved < 0) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	if (!moved && n) {
		mg_buf_puts(&m.blk, "Every gated figure equals its baseline.\n\n");
		emit(&m);
	}
	why_lines(&m, tests, n);
	leak_sites(&m, tests, n);
	accepted(&m, tests, n);
	name_lists(&m, result, tests, n);
	suppressions(&m, result, mg_json_str(result, "config") ? mg_json_str(result, "config") : "memgate.yml");
	stale(&m, tests, n);
	for (size_t i = 0; i < n; i++)
		details(&m, tests[i]);
	if (unchanged_table(&m, tests, n) < 0) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	/* one blank line before the note: trim to one newline, the note starts with one */
	while (m.cut && m.out.len > 1 && m.out.ptr[m.out.len - 1] == '\n' &&
	       m.out.ptr[m.out.len - 2] == '\n')
		m.out.ptr[--m.out.len] = '\0';
	if (m.cut)
		mg_buf_add(&m.out, note.ptr, note.len);
	if (m.out.failed) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	/* no trailing blank line: the text ends with exactly one newline */
	while (m.out.len > 1 && m.out.ptr[m.out.len - 1] == '\n' && m.out.ptr[m.out.len - 2] == '\n')
		m.out.ptr[--m.out.len] = '\0';
	if (cut)
		*cut = m.cut;
	*len = m.out.len;
	*out = mg_buf_detach(&m.out);
	ret = *out ? MG_OK : mg_error_set(err, MG_ERROR, "out of memory");
done:
	free(tests);
	mg_buf_release(&m.out);
	mg_buf_release(&m.blk);
	mg_buf_release(&note);
	return ret;
}
