/* cmd_run.c - `memgate run [TEST...] [-c memgate.yml] [-o DIR]`: measure the configured tests
 *
 * Each test runs under the tracer (src/core/measure.c) in a worker process of
 * its own: the worker is the child subreaper of that test's process tree, so
 * several tests can run at once (--jobs) without reaping each other's
 * children.  Profiles are written atomically to profiles/<test>.json, with
 * the HTML page of each beside it (profiles/<test>.html).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/git.h"
#include "../core/measure.h"
#include "../core/profile.h"
#include "../report/report.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"
#include "version.h"

static const char usage_text[] =
	"usage: memgate run [TEST...] [-c memgate.yml] [-o DIR] [--jobs N] [--shard I/N]\n"
	"                   [--format table|json]\n"
	"\n"
	"Runs the tests of memgate.yml (all, or those named) under memgate's tracer and\n"
	"writes one profile per test to DIR/<test>.json, with its HTML report\n"
	"DIR/<test>.html (default DIR: the config's `profiles` directory).\n"
	"\n"
	"  -c, --config FILE   the configuration (default: memgate.yml)\n"
	"  -o, --output DIR    where to write the profiles\n"
	"  -j, --jobs N        run up to N tests at once (default 1)\n"
	"  --shard I/N         run only the I-th of N equal shares of the tests (1 <= I <= N)\n"
	"  --format json       also print what was measured as JSON on stdout (the\n"
	"                      table goes to stderr either way)\n"
	"\n"
	"exit status: 0 every test measured; 2 usage or configuration error (one line,\n"
	"memgate.yml:LINE:COL: ...); 3 a test could not be measured, or crashed or timed\n"
	"out without `allow-crash: true`.\n";

/* worker exit codes */
enum { RUN_OK = 0, RUN_CRASHED = 1, RUN_FAILED = 3 };

/* One test, in the worker process: measured `repeat` times into one profile.
 * Writes its result row to `out` (one write, < PIPE_BUF) and returns a RUN_ code. */
static int run_one(const struct mg_config *cfg, const struct mg_test *test, const char *outdir,
		   const char *commit, int dirty, int out)
{
	struct mg_settings s;
	struct mg_error err = { 0 };
	struct mg_symbolizer *sym = NULL;
	char path[4096], line[1024];
	int ret = RUN_FAILED;
	cJSON **docs = NULL, *doc = NULL;
	unsigned n = 0;

	mg_config_effective(&s, cfg, test);
	struct mg_measure_opts mo = {
		.argv = test->argv, .name = test->name, .cwd = test->cwd, .env = test->env,
		.depth = (int)s.stack_depth, .unwind_fp = s.unwind_fp, .timeout_s = (double)s.timeout_ms / 1000.0,
		.grace_s = 10, .own_pgrp = 1, .commit = commit, .dirty = dirty,
		.root_only = !s.follow_children,
	};
	snprintf(path, sizeof(path), "%s/%s.json", outdir, test->name);
	if (!(docs = calloc(s.repeat, sizeof(*docs)))) {
		snprintf(line, sizeof(line), "memgate: %s: out of memory\n", test->name);
		goto out;
	}
	if (mg_symbolizer_new(&sym, &err) != MG_OK)
		goto fail;
	mo.sym = sym;
	for (n = 0; n < s.repeat; n++) {
		struct mg_measurement m;
		if (mg_measure(&m, &mo, &err) != MG_OK)
			goto fail;
		docs[n] = m.doc;               /* kept; the rest of the measurement goes */
		m.doc = NULL;
		mg_measurement_release(&m);
	}
	if (!(doc = n == 1 ? docs[0] : mg_profile_combine(docs, n))) {
		mg_error_set(&err, MG_ERROR, "out of memory");
		goto fail;
	}
	if (mg_profile_write(path, doc, &err) != MG_OK)
		goto fail;
	/* the page people look at, beside the profile (SPEC §4) */
	snprintf(path, sizeof(path), "%s/%s.html", outdir, test->name);
	if (mg_report_html_write(path, doc, NULL, &err) != MG_OK)
		goto fail;
	const cJSON *sum = cJSON_GetObjectItem(doc, "summary");
	const cJSON *ex = cJSON_GetObjectItem(doc, "exit");
	const cJSON *sig = cJSON_GetObjectItem(ex, "signal"), *code = cJSON_GetObjectItem(ex, "code");
	int timed_out = cJSON_IsTrue(cJSON_GetObjectItem(ex, "timed_out"));
	char end[64];
	if (timed_out)
		snprintf(end, sizeof(end), "timed out");
	else if (cJSON_IsNumber(sig))
		snprintf(end, sizeof(end), "signal %d", sig->valueint);
	else
		snprintf(end, sizeof(end), "exit %d", cJSON_IsNumber(code) ? code->valueint : -1);
	if (n > 1)
		snprintf(end + strlen(end), sizeof(end) - strlen(end), ", %u runs", n);
	snprintf(line, sizeof(line), "%-24s %10.0f %12.0f %12.0f %12.0f  %s\n", test->name,
		 cJSON_GetObjectItem(sum, "allocs")->valuedouble,
		 cJSON_GetObjectItem(sum, "total_bytes")->valuedouble,
		 cJSON_GetObjectItem(sum, "peak_bytes")->valuedouble,
		 cJSON_GetObjectItem(sum, "leaked_bytes")->valuedouble, end);
	ret = timed_out || cJSON_IsNumber(sig) ? (s.allow_crash ? RUN_OK : RUN_CRASHED) : RUN_OK;
	goto out;
fail:
	snprintf(line, sizeof(line), "memgate: %s: %s\n", test->name, err.msg);
out:
	if (doc && (n != 1 || doc != docs[0]))
		cJSON_Delete(doc);
	for (unsigned k = 0; docs && k < n; k++)
		cJSON_Delete(docs[k]);
	free(docs);
	mg_symbolizer_free(sym);
	/* one write: rows of parallel workers do not interleave */
	if (write(out, line, strlen(line)) < 0)
		ret = RUN_FAILED;
	return ret;
}

/*
 * The progress line (SPEC §2): on a terminal, once the run has taken more
 * than a second, "[done/total] name, name... 12s" on the last line of stderr,
 * erased before each result row.
 */
struct progress {
	int on;                     /* stderr is a terminal */
	int shown;                  /* a progress line is on screen */
	char last[160];             /* what it says: redrawn only when that changes */
	struct timespec t0;
};

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress_clear(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = 0;
}

static void progress_show(struct progress *p, size_t done, size_t total,
			  const struct mg_test *const *running, size_t n_running)
{
	char buf[160];
	size_t len;
	double t = since(&p->t0);
	if (!p->on || t < 1.0)
		return;
	len = (size_t)snprintf(buf, sizeof(buf), "[%zu/%zu] %.0fs", done, total, t);
	for (size_t k = 0; k < n_running && len < sizeof(buf); k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", k ? ", " : " running ",
					running[k]->name);
	if (len >= sizeof(buf))
		memcpy(buf + sizeof(buf) - 4, "...", 4);
	if (p->shown && !strcmp(buf, p->last))
		return;
	memcpy(p->last, buf, sizeof(buf));
	fprintf(stderr, "\r\033[K%s", buf);
	fflush(stderr);
	p->shown = 1;
}

int mg_cli_measure_tests(const struct mg_config *cfg, const char *const *names, size_t n_names,
			 unsigned shard_i, unsigned shard_n, const char *outdir, unsigned jobs,
			 int quiet)
{
	if (mg_mkdirs(outdir) < 0) {
		mg_die_msg("cannot create '%s': %s", outdir, strerror(errno));
		return MG_EXIT_ERROR;
	}
	mg_clean_stale_tmp(outdir, MG_TMP_STALE_S, NULL);     /* left by a run killed mid-write */

	/* the selected tests, in file order; --shard keeps every N-th */
	const struct mg_test **sel = calloc(cfg->n_tests + 1, sizeof(*sel));
	const struct mg_test **running = calloc((size_t)jobs + 1, sizeof(*running));
	pid_t *pids = calloc((size_t)jobs + 1, sizeof(*pids));
	int *pipes = calloc((size_t)jobs + 1, sizeof(*pipes));  /* read end of each worker's row */
	size_t n_sel = 0, seen = 0;
	for (size_t k = 0; sel && k < cfg->n_tests; k++) {
		const struct mg_test *t = &cfg->tests[k];
		if (mg_cli_selected(t->name, names, n_names) && seen++ % shard_n == shard_i - 1)
			sel[n_sel++] = t;
	}
	if (!sel || !running || !pids || !pipes) {
		free(sel);
		free(running);
		free(pids);
		free(pipes);
		return MG_EXIT_ERROR;
	}

	/* the commit the tests were built from, as far as the checkout tells */
	char sha[41];
	int dirty = 0;
	struct mg_error gerr;
	int have_commit = mg_git_head(sha, &dirty, cfg->dir[0] ? cfg->dir : ".", &gerr) == MG_OK;
	struct progress pg = { .on = !quiet && isatty(STDERR_FILENO) };
	clock_gettime(CLOCK_MONOTONIC, &pg.t0);

	if (!quiet)
		fprintf(stderr, "%-24s %10s %12s %12s %12s  %s\n", "test", "allocs", "total",
			"peak", "leaked", "end");
	fflush(stderr);
	size_t next = 0, n_running = 0, done = 0, failed = 0, crashed = 0;
	while (next < n_sel || n_running) {
		if (next < n_sel && n_running < jobs) {
			int row[2];
			pid_t pid = -1;
			fflush(stderr);
			if (pipe2(row, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
				close(row[0]);
				_exit(run_one(cfg, sel[next], outdir, have_commit ? sha : NULL,
					      dirty, row[1]));
			}
			if (pid < 0) {
				mg_die_msg("cannot start a worker: %s", strerror(errno));
				failed += n_sel - next;
				next = n_sel;
				continue;             /* wait for those running */
			}
			close(row[1]);
			running[n_running] = sel[next++];
			pipes[n_running] = row[0];
			pids[n_running++] = pid;
			continue;
		}
		int st;
		pid_t w = waitpid(-1, &st, pg.on ? WNOHANG : 0);
		if (w == 0) {                 /* a terminal: refresh the progress line */
			progress_show(&pg, done, n_sel, running, n_running);
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		size_t k;
		for (k = 0; k < n_running && pids[k] != w; k++)
			;
		if (k == n_running)
			continue;             /* not a worker of ours */
		const struct mg_test *t = running[k];
		int fd = pipes[k];
		pids[k] = pids[--n_running];
		running[k] = running[n_running];
		pipes[k] = pipes[n_running];
		done++;
		/* the worker's row, written in one piece before it exited */
		char line[1100];
		ssize_t got;
		while ((got = read(fd, line, sizeof(line))) < 0 && errno == EINTR)
			;
		close(fd);
		progress_clear(&pg);
		/* a row starting "memgate:" is an error: shown even when quiet */
		if (got > 0 && (!quiet || !strncmp(line, "memgate:", 8)))
			fwrite(line, 1, (size_t)got, stderr);
		if (!WIFEXITED(st) || WEXITSTATUS(st) == RUN_FAILED) {
			if (got <= 0)
				fprintf(stderr, "memgate: %s: the worker died (%s %d)\n", t->name,
					WIFSIGNALED(st) ? "signal" : "exit",
					WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			failed++;
		} else if (WEXITSTATUS(st) == RUN_CRASHED) {
			crashed++;
		}
		fflush(stderr);
	}
	progress_clear(&pg);
	free(sel);
	free(running);
	free(pids);
	free(pipes);
	if (quiet && !failed && !crashed)
		return MG_EXIT_PASS;
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
 * --format json (SPEC §2): what was measured, on stdout, from the profiles
 * just written: per test its profile, how it ended and its summary; a test
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
	int json = 0;
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
	if (!outdir)
		outdir = cfg->profiles;
	ret = mg_cli_measure_tests(cfg, names, n_names, shard_i, shard_n, outdir, jobs, 0);
	if (json && ret != MG_EXIT_USAGE)
		print_json(cfg, names, n_names, shard_i, shard_n, outdir);
done:
	mg_config_free(cfg);
	free(names);
	return ret;
}
