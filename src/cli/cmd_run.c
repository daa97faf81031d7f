/* cmd_run.c - `memgate run [TEST...] [-c memgate.yml] [-o DIR]`: measure the configured tests
 *
 * The tests are measured by the pool (src/core/pool.c, told on stderr by
 * measure.c): each in a worker process, --jobs at once.  Profiles are
 * written atomically to profiles/<test>.json; the HTML page of each beside
 * it (profiles/<test>.html) only with `html: always` or --html
 * (docs/config.md: by default `memgate check` writes failing tests' pages).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/git.h"
#include "../core/pool.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"
#include "version.h"

static const char usage_text[] =
	"usage: memgate run [TEST...] [-c memgate.yml] [-o DIR] [--jobs N] [--shard I/N]\n"
	"                   [--format table|json] [--html] [--no-capture]\n"
	"\n"
	"Runs the tests of memgate.yml (all, or those named) under memgate's tracer and\n"
	"writes one profile per test to DIR/<test>.json (default DIR: the config's\n"
	"`profiles` directory), and its HTML report DIR/<test>.html with --html or\n"
	"`html: always` in memgate.yml.\n"
	"\n"
	"  -c, --config FILE   the configuration (default: memgate.yml)\n"
	"  -o, --output DIR    where to write the profiles\n"
	"  -j, --jobs N        run up to N tests at once (default 1)\n"
	"  --shard I/N         run only the I-th of N equal shares of the tests (1 <= I <= N)\n"
	"  --format json       also print what was measured as JSON on stdout (the\n"
	"                      table goes to stderr either way)\n"
	"  --html              write every test's HTML report (as `html: always`)\n"
	"  --no-capture        let the tests print to memgate's stdout and stderr, one\n"
	"                      test at a time; by default what a test prints goes to\n"
	"                      DIR/<test>.log and is shown after its row when the\n"
	"                      program did not exit 0\n"
	"\n"
	"exit status: 0 every test measured; 2 usage or configuration error (one line,\n"
	"memgate.yml:LINE:COL: ...); 3 a test could not be measured, or crashed or timed\n"
	"out without `allow-crash: true`.\n";

static int parse_shard(const char *s, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b;
	if (end == s || *end != '/')
		return -1;
	b = strtoul(end + 1, &end, 10);
	if (*end || b == 0 || a == 0 || a > b || b > 100000)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

/*
 * --format json (docs/cli.md): what was measured, on stdout, from the profiles
 * just written: per test its profile, how it ended and its summary, and its
 * output's log (null when it printed nothing or was not captured); a test
 * that could not be measured has "profile": null.
 */
static void print_json(const struct mg_config *cfg, const char *const *names, size_t n_names,
		       unsigned shard_i, unsigned shard_n, const char *outdir)
{
	cJSON *doc = cJSON_CreateObject(), *tests = cJSON_CreateArray();
	size_t seen = 0;
	cJSON_AddNumberToObject(doc, "schema", 1);
	cJSON_AddStringToObject(doc, "kind", "memgate-run");
	cJSON_AddStringToObject(doc, "memgate_version", MEMGATE_VERSION);
	cJSON_AddStringToObject(doc, "profiles", outdir);
	cJSON_AddItemToObject(doc, "tests", tests);
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *t = &cfg->tests[k];
		char path[4096], *text = NULL;
		size_t len;
		struct mg_error err = { 0 };
		cJSON *p = NULL, *o;
		if (!mg_cli_selected(t->name, names, n_names) || seen++ % shard_n != shard_i - 1)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", t->name);
		snprintf(path, sizeof(path), "%s/%s.json", outdir, t->name);
		if (mg_read_file(&text, &len, path, MG_MAX_DOC, &err) == MG_OK &&
		    (p = cJSON_ParseWithLength(text, len))) {
			cJSON_AddStringToObject(o, "profile", path);
			cJSON_AddItemToObject(o, "complete",
					      cJSON_Duplicate(cJSON_GetObjectItem(p, "complete"), 1));
			cJSON_AddItemToObject(o, "exit", cJSON_Duplicate(cJSON_GetObjectItem(p, "exit"), 1));
			cJSON_AddItemToObject(o, "summary",
					      cJSON_Duplicate(cJSON_GetObjectItem(p, "summary"), 1));
		} else {
			cJSON_AddNullToObject(o, "profile");
		}
		mg_pool_log_path(path, sizeof(path), outdir, t);
		if (access(path, F_OK) == 0)
			cJSON_AddStringToObject(o, "log", path);   /* what it printed */
		else
			cJSON_AddNullToObject(o, "log");
		cJSON_Delete(p);
		free(text);
		cJSON_AddItemToArray(tests, o);
	}
	char *s = cJSON_Print(doc);
	if (s)
		printf("%s\n", s);
	cJSON_free(s);
	cJSON_Delete(doc);
}

int cmd_run(int argc, char **argv)
{
	const char *config = "memgate.yml", *outdir = NULL;
	unsigned jobs = 1, shard_i = 1, shard_n = 1;
	int json = 0, html = 0;
	struct mg_config *cfg = NULL;
	const char **names = calloc((size_t)argc + 1, sizeof(*names));
	size_t n_names = 0;
	int ret = MG_EXIT_USAGE;

	if (!names)
		return MG_EXIT_ERROR;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int common = mg_cli_common_arg(argc, argv, &i, &config, names, &n_names);
		if (common == MG_ARG_HELP) {
			fputs(usage_text, stdout);
			ret = MG_EXIT_PASS;
			goto done;
		} else if (common == MG_ARG_TAKEN) {
			continue;
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
			outdir = argv[++i];
		} else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && i + 1 < argc) {
			if (mg_cli_jobs(&jobs, argv[++i]) < 0)
				goto done;
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			if (mg_cli_format_json(&json, "run", argv[++i]) < 0)
				goto done;
		} else if (!strcmp(a, "--html")) {
			html = 1;
		} else if (!strcmp(a, "--shard") && i + 1 < argc) {
			if (parse_shard(argv[++i], &shard_i, &shard_n) < 0) {
				mg_cli_error("--shard: expected I/N with 1 <= I <= N, got '%s'", argv[i]);
				goto done;
			}
		} else {
			mg_cli_error("run: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}

	if ((ret = mg_cli_load_config(&cfg, config, names, n_names)) != MG_EXIT_PASS)
		goto done;
	if (!outdir)
		outdir = cfg->profiles;
	if (html)
		cfg->html = MG_HTML_ALWAYS;
	/* the selected tests, in file order; --shard keeps every N-th */
	const struct mg_test **sel = calloc(cfg->n_tests + 1, sizeof(*sel));
	size_t n_sel = 0, seen = 0;
	if (!sel) {
		ret = MG_EXIT_ERROR;
		goto done;
	}
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *t = &cfg->tests[k];
		if (mg_cli_selected(t->name, names, n_names) && seen++ % shard_n == shard_i - 1)
			sel[n_sel++] = t;
	}
	struct mg_git *git = NULL;
	struct mg_error gerr;
	mg_git_open(&git, cfg->dir[0] ? cfg->dir : ".", &gerr);
	ret = mg_cli_measure(cfg, sel, n_sel, outdir, mg_cli_capture_jobs(jobs), 0, 0,
			     mg_cli_capture(), git, shard_i, shard_n);
	mg_git_close(git);
	free(sel);
	if (json && ret != MG_EXIT_USAGE)
		print_json(cfg, names, n_names, shard_i, shard_n, outdir);
done:
	mg_config_free(cfg);
	free(names);
	return ret;
}
