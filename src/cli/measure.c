/* measure.c - the configured tests measured through the pool, told on stderr (run, check) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/discover.h"
#include "../core/git.h"
#include "../core/pool.h"
#include "../report/report.h"
#include "../util/clock.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"

/*
 * The progress line (docs/cli.md): on a terminal, once the run has taken more
 * than a second, "[done/total] name, name... 12s" on the last line of stderr,
 * erased before each result row.
 */
struct progress {
	int on;                     /* stderr is a terminal */
	int quiet;                  /* only what went wrong */
	int gate;                   /* untraced programs are the gate's to judge */
	int html;                   /* write each test's page (html: always) */
	int shown;                  /* a progress line is on screen */
	int capture;                /* tests' output captured into outdir/<test>.log */
	const char *outdir;
	int width;                  /* of the test column */
	char last[160];             /* what it says: redrawn only when that changes */
	uint64_t t0;                /* mg_monotonic_ns() at the start */
};

static void progress_clear(struct progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = 0;
}

static void progress_show(size_t done, size_t total, const struct mg_test *const *running,
			  size_t n_running, void *payload)
{
	struct progress *p = payload;
	char buf[160];
	size_t len;
	double t = (double)(mg_monotonic_ns() - p->t0) / 1e9;
	if (t < 1.0)
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

/*
 * What a test printed (docs/cli.md, "A test's output"), after its row, when
 * its program did not exit 0 or the test could not be measured: the log
 * copied to stderr between two lines that name it.
 */
static void show_output(const struct progress *p, const struct mg_pool_result *r)
{
	char path[4096], buf[65536];
	size_t got;
	char last = '\n';
	FILE *f;

	if (!p->capture || !r->output_bytes || (r->passed && r->outcome != MG_POOL_FAILED))
		return;
	mg_pool_log_path(path, sizeof(path), p->outdir, r->test);
	if (!(f = fopen(path, "re"))) {
		mg_cli_warning("%s: cannot read its output '%s': %s", r->test->name, path,
			       strerror(errno));
		return;
	}
	fprintf(stderr, "---- output of %s (%s) ----\n", r->test->name, path);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, got, stderr);
		last = buf[got - 1];
	}
	fclose(f);
	fprintf(stderr, "%s---- end of %s's output ----\n", last == '\n' ? "" : "\n",
		r->test->name);
}

/* a test's row; an error is shown even when quiet */
static void row(const struct mg_pool_result *r, void *payload)
{
	struct progress *p = payload;
	progress_clear(p);
	if (r->outcome == MG_POOL_FAILED) {
		fprintf(stderr, "memgate: %s: %s\n", r->test->name, r->error);
	} else {
		if (!p->quiet)
			fprintf(stderr, "%-*s %10.0f %12.0f %12.0f %12.0f  %s\n", p->width, r->test->name,
				r->allocs, r->total_bytes, r->peak_bytes, r->leaked_bytes, r->end);
		if (r->outcome == MG_POOL_UNTRACED && !p->gate)
			fprintf(stderr, "memgate: %s: %s\n", r->test->name, r->error);
	}
	show_output(p, r);
	fflush(stderr);
}

/* in the worker: the page people look at, beside the profile, when asked for
 * (`html: always`, docs/config.md); otherwise a page of an earlier run would
 * be stale */
static int write_page(const struct mg_test *test, const char *outdir, const cJSON *profile,
		      void *payload, struct mg_error *err)
{
	const struct progress *p = payload;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.html", outdir, test->name);
	if (p->html)
		return mg_report_html_write(path, profile, NULL, err);
	if (unlink(path) < 0 && errno != ENOENT)
		return mg_error_set(err, MG_ERROR, "cannot remove the stale page '%s': %s", path,
				    strerror(errno));
	return MG_OK;
}

int mg_cli_measure(const struct mg_config *cfg, const struct mg_test *const *tests, size_t n,
		   const char *outdir, unsigned jobs, int quiet, int gate, int capture,
		   struct mg_git *git, unsigned shard_i, unsigned shard_n)
{
	struct mg_error err = { 0 };
	struct mg_pool_counts c;
	char sha[41];
	int dirty = 0;
	/* the commit the tests were built from, as far as the checkout tells */
	int have_commit = git && mg_git_head(git, sha, &dirty, &err) == MG_OK;
	struct progress pg = { .on = !quiet && isatty(STDERR_FILENO), .quiet = quiet,
			       .gate = gate, .html = cfg->html == MG_HTML_ALWAYS,
			       .capture = capture, .outdir = outdir };
	struct mg_pool_opts o = {
		.outdir = outdir, .jobs = jobs, .capture = capture, .commit = have_commit ? sha : NULL, .dirty = dirty,
		.written = write_page, .done = row, .tick = pg.on ? progress_show : NULL,
		.payload = &pg,
	};

	/* what check --from and accept read instead of listing the tests again */
	if (mg_mkdirs(outdir) < 0 || mg_discover_save(cfg, outdir, shard_i, shard_n, &err) != MG_OK) {
		if (!err.msg[0])
			mg_error_set(&err, MG_ERROR, "cannot create '%s'", outdir);
		return mg_cli_report(&err);
	}
	pg.t0 = mg_monotonic_ns();
	size_t longest = 0;
	for (size_t i = 0; i < n; i++)
		longest = strlen(tests[i]->name) > longest ? strlen(tests[i]->name) : longest;
	pg.width = mg_cli_name_width(longest);
	if (!quiet)
		fprintf(stderr, "%-*s %10s %12s %12s %12s  %s\n", pg.width, "test", "allocs",
			"total", "peak", "leaked", "end");
	fflush(stderr);
	if (mg_pool_measure(&c, cfg, tests, n, &o, &err) != MG_OK) {
		return mg_cli_report(&err);
	}
	progress_clear(&pg);
	if (gate)
		c.untraced = 0;               /* the gate judges those (check.c) */
	if (quiet && !c.failed && !c.crashed && !c.untraced)
		return MG_EXIT_PASS;
	fprintf(stderr, "memgate: %zu test%s measured into %s/", n - c.failed,
		n - c.failed == 1 ? "" : "s", outdir);
	if (c.failed)
		fprintf(stderr, "; %zu could not be measured", c.failed);
	if (c.crashed)
		fprintf(stderr, "; %zu crashed or timed out (allow-crash: true makes that data)",
			c.crashed);
	if (c.untraced)
		fprintf(stderr, "; %zu ran programs untraced (allow-untraced: true if expected)",
			c.untraced);
	fputc('\n', stderr);
	return c.failed || c.crashed || c.untraced ? MG_EXIT_ERROR : MG_EXIT_PASS;
}
