/* cmd_run.c - `memgate run [TEST...] [-c memgate.yml] [-o DIR]`: measure the configured tests
 *
 * Each test runs under the tracer (src/core/measure.c) in a worker process of
 * its own: the worker is the child subreaper of that test's process tree, so
 * several tests can run at once (--jobs) without reaping each other's
 * children.  Profiles are written atomically to profiles/<test>.json.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/git.h"
#include "../core/measure.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"

static const char usage_text[] =
	"usage: memgate run [TEST...] [-c memgate.yml] [-o DIR] [--jobs N] [--shard I/N]\n"
	"\n"
	"Runs the tests of memgate.yml (all, or those named) under memgate's tracer and\n"
	"writes one profile per test to DIR/<test>.json (default: the config's\n"
	"`profiles` directory).\n"
	"\n"
	"  -c, --config FILE   the configuration (default: memgate.yml)\n"
	"  -o, --output DIR    where to write the profiles\n"
	"  -j, --jobs N        run up to N tests at once (default 1)\n"
	"  --shard I/N         run only the I-th of N equal shares of the tests (1 <= I <= N)\n"
	"\n"
	"exit status: 0 every test measured; 2 usage or configuration error (one line,\n"
	"memgate.yml:LINE:COL: ...); 3 a test could not be measured, or crashed or timed\n"
	"out without `allow-crash: true`.\n";

/* worker exit codes */
enum { RUN_OK = 0, RUN_CRASHED = 1, RUN_FAILED = 3 };

/* One test, in the worker process; prints one line and returns a RUN_ code. */
static int run_one(const struct mg_config *cfg, const struct mg_test *test, const char *outdir,
		   const char *commit, int dirty)
{
	struct mg_settings s;
	struct mg_error err = { 0 };
	struct mg_measurement m;
	struct mg_symbolizer *sym = NULL;
	char path[4096], line[1024];
	int ret = RUN_FAILED;

	mg_config_effective(&s, cfg, test);
	struct mg_measure_opts mo = {
		.argv = test->argv, .name = test->name, .cwd = test->cwd, .env = test->env,
		.depth = (int)s.stack_depth, .timeout_s = (double)s.timeout_ms / 1000.0,
		.grace_s = 10, .own_pgrp = 1, .commit = commit, .dirty = dirty,
	};
	snprintf(path, sizeof(path), "%s/%s.json", outdir, test->name);
	if (mg_symbolizer_new(&sym, &err) != MG_OK || (mo.sym = sym, 0) ||
	    mg_measure(&m, &mo, &err) != MG_OK) {
		snprintf(line, sizeof(line), "memgate: %s: %s\n", test->name, err.msg);
		goto out;
	}
	if (mg_profile_write(path, m.doc, &err) != MG_OK) {
		snprintf(line, sizeof(line), "memgate: %s: %s\n", test->name, err.msg);
		mg_measurement_release(&m);
		goto out;
	}
	const cJSON *sum = cJSON_GetObjectItem(m.doc, "summary");
	const cJSON *ex = cJSON_GetObjectItem(m.doc, "exit");
	const cJSON *sig = cJSON_GetObjectItem(ex, "signal"), *code = cJSON_GetObjectItem(ex, "code");
	int timed_out = cJSON_IsTrue(cJSON_GetObjectItem(ex, "timed_out"));
	char end[64];
	if (timed_out)
		snprintf(end, sizeof(end), "timed out");
	else if (cJSON_IsNumber(sig))
		snprintf(end, sizeof(end), "signal %d", sig->valueint);
	else
		snprintf(end, sizeof(end), "exit %d", cJSON_IsNumber(code) ? code->valueint : -1);
	snprintf(line, sizeof(line), "%-24s %10.0f %12.0f %12.0f %12.0f  %s\n", test->name,
		 cJSON_GetObjectItem(sum, "allocs")->valuedouble,
		 cJSON_GetObjectItem(sum, "total_bytes")->valuedouble,
		 cJSON_GetObjectItem(sum, "peak_bytes")->valuedouble,
		 cJSON_GetObjectItem(sum, "leaked_bytes")->valuedouble, end);
	ret = timed_out || cJSON_IsNumber(sig) ? (s.allow_crash ? RUN_OK : RUN_CRASHED) : RUN_OK;
	mg_measurement_release(&m);
out:
	mg_symbolizer_free(sym);
	/* one write: lines of parallel workers do not interleave */
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		ret = RUN_FAILED;
	return ret;
}

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

int mg_cli_measure_tests(const struct mg_config *cfg, const char *const *names, size_t n_names,
			 unsigned shard_i, unsigned shard_n, const char *outdir, unsigned jobs)
{
	if (mg_mkdirs(outdir) < 0) {
		mg_die_msg("cannot create '%s': %s", outdir, strerror(errno));
		return MG_EXIT_ERROR;
	}

	/* the selected tests, in file order; --shard keeps every N-th */
	const struct mg_test **sel = calloc(cfg->n_tests + 1, sizeof(*sel));
	size_t n_sel = 0, seen = 0;
	for (size_t k = 0; sel && k < cfg->n_tests; k++) {
		const struct mg_test *t = &cfg->tests[k];
		if (mg_cli_selected(t->name, names, n_names) && seen++ % shard_n == shard_i - 1)
			sel[n_sel++] = t;
	}
	if (!sel)
		return MG_EXIT_ERROR;

	/* the commit the tests were built from, as far as the checkout tells */
	char sha[41];
	int dirty = 0;
	struct mg_error gerr;
	int have_commit = mg_git_head(sha, &dirty, cfg->dir[0] ? cfg->dir : ".", &gerr) == MG_OK;

	fprintf(stderr, "%-24s %10s %12s %12s %12s  %s\n", "test", "allocs", "total", "peak",
		"leaked", "end");
	fflush(stderr);
	size_t next = 0, running = 0, failed = 0, crashed = 0;
	while (next < n_sel || running) {
		if (next < n_sel && running < jobs) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(run_one(cfg, sel[next], outdir, have_commit ? sha : NULL,
					      dirty));
			if (pid < 0) {
				mg_die_msg("cannot fork: %s", strerror(errno));
				failed++;
				break;
			}
			next++;
			running++;
			continue;
		}
		int st;
		pid_t w = wait(&st);
		if (w < 0)
			break;
		running--;
		if (!WIFEXITED(st) || WEXITSTATUS(st) == RUN_FAILED)
			failed++;
		else if (WEXITSTATUS(st) == RUN_CRASHED)
			crashed++;
	}
	free(sel);
	fprintf(stderr, "memgate: %zu test%s measured into %s/", n_sel - failed,
		n_sel - failed == 1 ? "" : "s", outdir);
	if (failed)
		fprintf(stderr, "; %zu could not be measured", failed);
	if (crashed)
		fprintf(stderr, "; %zu crashed or timed out (allow-crash: true makes that data)",
			crashed);
	fputc('\n', stderr);
	return failed || crashed ? MG_EXIT_ERROR : MG_EXIT_PASS;
}

int cmd_run(int argc, char **argv)
{
	const char *config = "memgate.yml", *outdir = NULL;
	unsigned jobs = 1, shard_i = 1, shard_n = 1;
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
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || v == 0 || v > 1024) {
				mg_die_msg("--jobs: expected a number from 1 to 1024, got '%s'", argv[i]);
				goto done;
			}
			jobs = (unsigned)v;
		} else if (!strcmp(a, "--shard") && i + 1 < argc) {
			if (parse_shard(argv[++i], &shard_i, &shard_n) < 0) {
				mg_die_msg("--shard: expected I/N with 1 <= I <= N, got '%s'", argv[i]);
				goto done;
			}
		} else {
			mg_die_msg("run: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}

	if ((ret = mg_cli_load_config(&cfg, config, names, n_names)) >= 0)
		goto done;
	ret = mg_cli_measure_tests(cfg, names, n_names, shard_i, shard_n,
				   outdir ? outdir : cfg->profiles, jobs);
done:
	mg_config_free(cfg);
	free(names);
	return ret;
}
