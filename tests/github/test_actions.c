/* test_actions.c - runner files, workflow-command escaping, markdown bounds, big ids
 *
 * usage: test_actions WORK_DIR DATA_DIR
 * $GITHUB_OUTPUT is read back the way actions/runner's FileCommandManager
 * reads it (split on LF; `name=value`, or `name<<DELIM` then the lines up to
 * one exactly DELIM, joined by LF), and every value must come back as set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/core/units.h"
#include "../../src/github/actions.h"
#include "../../src/github/api.h"
#include "../../src/report/markdown.h"
#include "../../src/util/buf.h"
#include "../../src/util/error.h"
#include "../../src/util/fs.h"

#include "../harness.h"

/* ---- a runner-style reader of $GITHUB_OUTPUT ---- */

struct kv { char *name, *value; };

/* -1 when the runner would fail the step (missing delimiter, bad line) */
static int parse_output_file(const char *text, struct kv *out, int max)
{
	int n = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char *line = strndup(p, len);
		p += len + (eol ? 1 : 0);
		if (!line[0]) {
			free(line);
			continue;
		}
		char *eq = strchr(line, '='), *hd = strstr(line, "<<");
		if (n >= max) {
			free(line);
			return -1;
		}
		if (eq && (!hd || eq < hd)) {
			*eq = '\0';
			out[n].name = strdup(line);
			out[n].value = strdup(eq + 1);
			n++;
			free(line);
			continue;
		}
		if (!hd) {
			free(line);
			return -1;
		}
		*hd = '\0';
		const char *delim = hd + 2;
		struct mg_buf v;
		int first = 1, found = 0;
		mg_buf_init(&v, 1u << 24);
		while (*p) {
			const char *e = strchr(p, '\n');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			if (l == strlen(delim) && !strncmp(p, delim, l)) {
				p += l + (e ? 1 : 0);
				found = 1;
				break;
			}
			if (!first)
				mg_buf_add(&v, "\n", 1);
			mg_buf_add(&v, p, l);
			first = 0;
			p += l + (e ? 1 : 0);
		}
		if (!found) {
			mg_buf_release(&v);
			free(line);
			return -1;
		}
		out[n].name = strdup(line);
		out[n].value = mg_buf_detach(&v);
		n++;
		free(line);
	}
	return n;
}

static char *slurp(const char *path)
{
	char *text = NULL;
	size_t len;
	struct mg_error err;
	if (mg_read_file(&text, &len, path, 64u << 20, &err) != MG_OK)
		return NULL;
	return text;
}

static void test_outputs(const char *dir)
{
	char path[4096];
	struct kv kv[16];
	struct mg_error err;
	const char *values[] = {
		"pass",
		"",
		"line one\nline two\n",
		"no newline at the end",
		"\n\nleading blank lines",
		"crlf\r\nkept\r\n",
		"a=b<<c",
		"ghadelimiter_\nghadelimiter_0123\nEOF\n",
		"unicode: \xE2\x9C\x85 ok",
	};
	size_t nv = sizeof(values) / sizeof(values[0]);
	snprintf(path, sizeof(path), "%s/output", dir);
	unlink(path);
	for (size_t i = 0; i < nv; i++) {
		char name[32];
		snprintf(name, sizeof(name), "out%zu", i);
		CHECKF(mg_actions_set_output(path, name, values[i], &err) == MG_OK, "set_output %zu: %s",
		      i, err.msg);
	}
	CHECKF(mg_actions_set_output(path, "a=b", "x", &err) == MG_EINVALID, "name with '=' accepted");
	CHECKF(mg_actions_set_output(path, "a<<b", "x", &err) == MG_EINVALID, "name with '<<' accepted");
	CHECKF(mg_actions_set_output(path, "a\nb", "x", &err) == MG_EINVALID, "name with LF accepted");
	CHECKF(mg_actions_set_output(path, "", "x", &err) == MG_EINVALID, "empty name accepted");
	char *text = slurp(path);
	CHECKF(text != NULL, "no output file");
	if (!text)
		return;
	int n = parse_output_file(text, kv, 16);
	CHECKF(n == (int)nv, "parsed %d outputs, set %zu", n, nv);
	for (int i = 0; i < n && i < (int)nv; i++) {
		char name[32];
		snprintf(name, sizeof(name), "out%d", i);
		CHECKF(!strcmp(kv[i].name, name), "output %d named '%s'", i, kv[i].name);
		CHECKF(!strcmp(kv[i].value, values[i]), "output %d: '%s' came back as '%s'", i,
		      values[i], kv[i].value);
	}
	/* each delimiter is fresh and random: two of the same would be a weak source */
	char *d1 = strstr(text, "<<ghadelimiter_"), *d2 = d1 ? strstr(d1 + 2, "<<ghadelimiter_") : NULL;
	CHECKF(d1 && d2 && strncmp(d1, d2, 15 + 32), "delimiters not random");
	CHECKF(d1 && strspn(d1 + 15, "0123456789abcdef") == 32, "delimiter not 32 hex digits");
	for (int i = 0; i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(text);
}

static void test_escaping(void)
{
	struct mg_buf b;
	mg_buf_init(&b, 4096);
	mg_actions_escape_data(&b, "100% a:b,c\r\nd");
	CHECKF(!strcmp(mg_buf_str(&b), "100%25 a:b,c%0D%0Ad"), "data: '%s'", mg_buf_str(&b));
	mg_buf_clear(&b);
	mg_actions_escape_property(&b, "100% a:b,c\r\nd");
	CHECKF(!strcmp(mg_buf_str(&b), "100%25 a%3Ab%2Cc%0D%0Ad"), "property: '%s'", mg_buf_str(&b));
	mg_buf_clear(&b);
	mg_actions_annotation(&b, "error", "memgate: t,1 regressed", "peak 5%\nmore: x,y");
	CHECKF(!strcmp(mg_buf_str(&b), "::error title=memgate%3A t%2C1 regressed::peak 5%25%0Amore: x,y\n"),
	      "annotation: '%s'", mg_buf_str(&b));
	mg_buf_clear(&b);
	mg_actions_annotation(&b, "warning", NULL, "::stop-commands::x");
	CHECKF(!strcmp(mg_buf_str(&b), "::warning::::stop-commands::x\n"), "no title: '%s'",
	      mg_buf_str(&b));
	mg_buf_release(&b);
}

static void test_summary(const char *dir)
{
	char path[4096];
	struct mg_error err;
	FILE *f;
	snprintf(path, sizeof(path), "%s/summary", dir);
	unlink(path);
	CHECKF(mg_actions_summary_room(path) == MG_ACTIONS_SUMMARY_MAX - 1024, "room of no file: %zu",
	      mg_actions_summary_room(path));
	f = fopen(path, "w");
	for (int i = 0; i < 1000000; i++)
		fputc('x', f);
	fclose(f);
	CHECKF(mg_actions_summary_room(path) == MG_ACTIONS_SUMMARY_MAX - 1000000 - 1024, "room: %zu",
	      mg_actions_summary_room(path));
	CHECKF(mg_actions_append_summary(path, "# hi", 4, &err) == MG_OK, "append: %s", err.msg);
	struct stat st;
	stat(path, &st);
	CHECKF(st.st_size == 1000000 + 6, "appended with a blank line and newline: %lld",
	      (long long)st.st_size);
	f = fopen(path, "a");
	for (int i = 0; i < 100000; i++)
		fputc('x', f);
	fclose(f);
	CHECKF(mg_actions_summary_room(path) == 0, "room of a full file: %zu",
	      mg_actions_summary_room(path));
}

/* ---- markdown: every bound gives well-formed text within it ---- */

static int valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		if (!n || p + n > end)
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void check_wellformed(const cJSON *doc, size_t max, const char *what, int *cuts)
{
	struct mg_md_options opt = { "<!-- memgate:memgate.yml -->", max, "see the job summary" };
	struct mg_error err;
	char *md = NULL;
	size_t len;
	int cut;
	if (mg_markdown_render(&md, &len, &cut, doc, &opt, &err) != MG_OK) {
		CHECKF(0, "%s at %zu: %s", what, max, err.msg);
		return;
	}
	*cuts += cut;
	CHECKF(len <= max, "%s: %zu bytes over the bound %zu", what, len, max);
	CHECKF(strlen(md) == len, "%s: length", what);
	CHECKF(valid_utf8(md, len), "%s at %zu: invalid UTF-8", what, max);
	CHECKF(count(md, "<details>") == count(md, "</details>"), "%s at %zu: unclosed <details>",
	      what, max);
	CHECKF(!strncmp(md, "<!-- memgate:memgate.yml -->\n", 29), "%s at %zu: no marker first", what,
	      max);
	CHECKF(len && md[len - 1] == '\n', "%s at %zu: no final newline", what, max);
	CHECKF(!cut || strstr(md, "see the job summary.\n"), "%s at %zu: cut without the note", what,
	      max);
	for (const char *line = md; *line;) {
		const char *eol = strchr(line, '\n');
		size_t l = eol ? (size_t)(eol - line) : strlen(line);
		if (line[0] == '|')
			CHECKF(l >= 2 && line[l - 1] == '|', "%s at %zu: broken row '%.*s'", what, max,
			      (int)l, line);
		line += l + (eol ? 1 : 0);
	}
	free(md);
}

static cJSON *big_doc(int ntests)
{
	cJSON *doc = cJSON_CreateObject(), *tests = cJSON_CreateArray();
	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddStringToObject(doc, "kind", "memgate-check");
	cJSON_AddStringToObject(doc, "verdict", "regression");
	cJSON_AddItemToObject(doc, "tests", tests);
	for (int i = 0; i < ntests; i++) {
		char name[64], site[128];
		cJSON *t = cJSON_CreateObject(), *ms = cJSON_CreateArray(), *m = cJSON_CreateObject();
		cJSON *grew = cJSON_CreateArray(), *g = cJSON_CreateObject();
		snprintf(name, sizeof(name), "t\xC3\xA9st_%04d", i);     /* 2-byte UTF-8 in names */
		snprintf(site, sizeof(site), "f%d (big.c:%d) < main (big.c:1) \xE2\x9C\x85", i, i);
		cJSON_AddStringToObject(t, "name", name);
		cJSON_AddStringToObject(t, "verdict", "regression");
		cJSON_AddStringToObject(m, "metric", "peak_bytes");
		cJSON_AddNumberToObject(m, "current", 2000 + i);
		cJSON_AddNumberToObject(m, "baseline", 1000);
		cJSON_AddNumberToObject(m, "allowed", 1100);
		cJSON_AddStringToObject(m, "verdict", "regression");
		cJSON_AddItemToArray(ms, m);
		cJSON_AddItemToObject(t, "metrics", ms);
		cJSON_AddStringToObject(g, "metric", "peak_bytes");
		cJSON_AddStringToObject(g, "site", site);
		cJSON_AddNumberToObject(g, "baseline", 0);
		cJSON_AddNumberToObject(g, "current", 1000 + i);
		cJSON_AddNumberToObject(g, "share", 1);
		cJSON_AddItemToArray(grew, g);
		cJSON_AddItemToObject(t, "grew", grew);
		cJSON_AddItemToArray(tests, t);
	}
	return doc;
}

static void test_markdown_bounds(const char *data)
{
	char path[4096];
	char *text;
	cJSON *doc;
	int cuts = 0;
	snprintf(path, sizeof(path), "%s/regression.json", data);
	text = slurp(path);
	doc = text ? cJSON_Parse(text) : NULL;
	CHECKF(doc != NULL, "cannot read %s", path);
	for (size_t max = 1024; doc && max <= 5000; max++)
		check_wellformed(doc, max, "regression.json", &cuts);
	CHECKF(cuts > 100, "only %d bounds cut the report", cuts);
	cJSON_Delete(doc);
	free(text);
	snprintf(path, sizeof(path), "%s/hostile.json", data);
	text = slurp(path);
	doc = text ? cJSON_Parse(text) : NULL;
	for (size_t max = 1024; doc && max <= 3000; max += 7)
		check_wellformed(doc, max, "hostile.json", &cuts);
	cJSON_Delete(doc);
	free(text);

	/* a suite too large for a comment, and for a job summary */
	doc = big_doc(3000);
	cuts = 0;
	check_wellformed(doc, 65536, "3000 tests in a comment", &cuts);
	check_wellformed(doc, MG_ACTIONS_SUMMARY_MAX - 1024, "3000 tests in a summary", &cuts);
	CHECKF(cuts == 2, "3000 tests not cut: %d", cuts);
	for (size_t max = 65536 - 20; max <= 65536; max++)
		check_wellformed(doc, max, "3000 tests near 64 KiB", &cuts);
	cJSON_Delete(doc);
}

static void test_misc(void)
{
	char buf[128];
	struct { uint64_t v; const char *s; } sizes[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.00 KiB" }, { 1536, "1.50 KiB" },
		{ 13619, "13.3 KiB" }, { 139264, "136 KiB" }, { 1187840, "1.13 MiB" },
		{ 1048575, "1.00 MiB" }, { 1047552, "1023 KiB" }, { 1073741824, "1.00 GiB" },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mg_fmt_size(buf, sizeof(buf), sizes[i].v);
		CHECKF(!strcmp(buf, sizes[i].s), "size %llu: '%s', expected '%s'",
		      (unsigned long long)sizes[i].v, buf, sizes[i].s);
	}
	mg_md_marker(buf, sizeof(buf), "./ci/memgate-big.yml");
	CHECKF(!strcmp(buf, "<!-- memgate:ci/memgate-big.yml -->"), "marker: '%s'", buf);
	mg_md_marker(buf, sizeof(buf), "a-->b c-");
	CHECKF(!strcmp(buf, "<!-- memgate:a%2D-%3Eb%20c%2D -->"), "marker: '%s'", buf);

	const char *json = "[{\"id\": 9007199254740993, \"n\": -12345678901234567890, \"f\": 1.5e300, "
			   "\"s\": \"12345678901234567890 \\\" 98765432109876543\", \"small\": 42}]";
	char *q = mg_gh_quote_big_ints(json, strlen(json));
	CHECKF(q && !strcmp(q, "[{\"id\": \"9007199254740993\", \"n\": \"-12345678901234567890\", "
			      "\"f\": 1.5e300, \"s\": \"12345678901234567890 \\\" 98765432109876543\", "
			      "\"small\": 42}]"), "quote_big_ints: %s", q ? q : "(null)");
	free(q);

	struct mg_buf b;
	mg_buf_init(&b, 1024);
	mg_md_escape(&b, "a|b`c*d_e f_ _g [h] \\ ~ $ <x> & \" \n\r\t\x7f \xff \xC3\xA9 \xED\xA0\x80");
	CHECKF(!strcmp(mg_buf_str(&b), "a&#124;b&#96;c&#42;d_e f&#95; &#95;g &#91;h&#93; &#92; &#126; "
		      "&#36; &lt;x&gt; &amp; &quot;      \xEF\xBF\xBD \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"),
	      "escape: '%s'", mg_buf_str(&b));
	mg_buf_release(&b);
	mg_buf_init(&b, 8);
	CHECKF(mg_buf_puts(&b, "12345678") == 0 && mg_buf_puts(&b, "9") < 0 && b.failed &&
	      !strcmp(mg_buf_str(&b), "12345678"), "buf cap");
	mg_buf_release(&b);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: test_actions WORK_DIR DATA_DIR\n");
		return 2;
	}
	if (mg_mkdirs(argv[1]) < 0) {
		fprintf(stderr, "cannot create '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	test_outputs(argv[1]);
	test_escaping();
	test_summary(argv[1]);
	test_markdown_bounds(argv[2]);
	test_misc();
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures != 0;
}
