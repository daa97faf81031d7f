/* cmd_check.c - `memgate check [TEST...] [--from DIR]... [--baseline REF]`: the gate
 *
 * Parses the options, resolves REF (its merge-base with HEAD, docs/baselines.md),
 * measures the selected tests unless --from names saved profiles, and asks
 * the gate (src/core/check.c) for the verdict; prints it as a table or as
 * JSON, writes the check result (docs/check-result.md) to
 * <dir>/memgate-check.json for the reports, and maps it to an exit code.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/check.h"
#include "../core/config.h"
#include "../core/profile.h"
#include "../core/units.h"
#include "../core/git.h"
#include "../report/check_result.h"
#include "../report/report.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "cmd.h"
#include "exitcode.h"
#include "publish.h"


static const char usage_text[] =
	"usage: memgate check [TEST...] [--from DIR]... [-c memgate.yml] [--baseline REF]\n"
	"                     [-j N] [--format table|json] [--no-capture] [-v]\n"
	"\n"
	"Compares the profiles in DIR (written by `memgate run`; --from may be given\n"
	"once per shard; without --from the tests are measured first, into the\n"
	"config's `profiles`) with the baselines of REF: the config's `baselines`\n"
	"directory as committed in REF, or, when HEAD is another commit, in the\n"
	"merge-base of HEAD and REF.  REF defaults to origin/$GITHUB_BASE_REF in a\n"
	"GitHub Actions pull request, else HEAD.  Only metrics with a tolerance or a\n"
	"limit are gated.  A test without a baseline is new and passes unless over a\n"
	"limit.  A regression only in figures that vary from run to run is re-run\n"
	"(`confirm:` in memgate.yml) before it fails; -j N measures N tests at once.\n"
	"What a test prints goes to <profiles>/<test>.log and is shown after its row\n"
	"when the program did not exit 0; --no-capture lets it print to memgate's\n"
	"stdout and stderr instead, one test at a time.\n"
	"The result is also written to DIR/memgate-check.json (docs/check-result.md).\n"
	"Warnings of the profiles (a child not traced, leak kinds unknown...) are\n"
	"repeated.  The table shows the gated figures that moved or fail; those equal\n"
	"to their baselines are counted in one line, and listed with -v (--verbose).\n"
	"Colour on a terminal unless NO_COLOR is set.\n"
	"\n"
	"exit status: 0 pass (new and improved tests included); 1 a regression or a\n"
	"figure over its limit; 2 usage, configuration or ref error (an unknown REF,\n"
	"a shallow clone without the merge-base), or a corrupt or foreign profile or\n"
	"baseline; 3 a profile missing or unreadable, a test that could not be\n"
	"measured (programs it started ran untraced, unless `allow-untraced: true`),\n"
	"or an I/O error.\n";

static void num(char *buf, size_t size, int has, uint64_t v)
{
	if (!has)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* SGR colour of a verdict, or "" (no colour: not a terminal, or NO_COLOR) */
static const char *colour(int on, enum mg_status st)
{
	if (!on)
		return "";
	switch (st) {
	case MG_STATUS_PASS: return "\033[32m";
	case MG_STATUS_IMPROVED: return "\033[36m";
	case MG_STATUS_NEW: return "\033[33m";
	default: return "\033[1;31m";
	}
}

/* the staleness every stale baseline shares, when more than one is stale
 * (said once, not per test), and how many are; 0: none, or they differ */
static long shared_staleness(const struct mg_check_test *rows, size_t n, size_t *stale)
{
	long common = 0;
	*stale = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].stale <= 0)
			continue;
		if ((*stale)++ && rows[i].stale != common)
			return 0;
		common = rows[i].stale;
	}
	return *stale > 1 ? common : 0;
}

static void print_notes(const struct mg_check_test *r, long shared_stale)
{
	char sz[32];
	const struct mg_verdict *v = &r->v;
	if (r->accepted) {
		/* docs/baselines.md, "Which baseline is gated": reviewers see the intended increase, against the base */
		const struct mg_verdict *vb = &r->v_base;
		int any = 0;
		printf("%s: baseline accepted in this change; against the base:", r->name);
		for (size_t k = 0; k < vb->n_metrics; k++) {
			const struct mg_metric_verdict *m = &vb->metrics[k];
			if (!m->has_baseline || m->current == m->baseline)
				continue;
			printf("%s %s %" PRIu64 " -> %" PRIu64 " (%+" PRId64 ")", any++ ? "," : "",
			       mg_metric_name(m->metric), m->baseline, m->current,
			       (int64_t)(m->current - m->baseline));
		}
		printf("%s\n", any ? "" : " no gated figure moved");
	}
	if (r->sup_stacks > 0)
		printf("%s: %" PRIu64 " leaked byte%s in %" PRIu64 " block%s hidden by suppressions\n",
		       r->name, r->sup_bytes, r->sup_bytes == 1 ? "" : "s",
		       r->sup_blocks, r->sup_blocks == 1 ? "" : "s");
	if (r->stale > 0 && r->stale != shared_stale)
		printf("%s: baseline measured %ld commit%s before the base commit\n",
		       r->name, r->stale, r->stale == 1 ? "" : "s");
	/* docs/baselines.md, "The spread": what the gate allowed for, where it
	 * did (a figure above the baseline's highest run) */
	int spread = 0;
	for (size_t k = 0; k < v->n_metrics; k++) {
		const struct mg_metric_verdict *m = &v->metrics[k];
		if (!m->has_spread || m->current <= m->spread_max)
			continue;
		if (!spread++)
			printf("%s: the baseline's runs moved:", r->name);
		else
			putchar(',');
		printf(" %s %" PRIu64 "..%" PRIu64, mg_metric_name(m->metric), m->spread_min,
		       m->spread_max);
	}
	if (spread)
		printf(" (allowed up to the highest run plus the range again)\n");
	if (r->confirmed == 1)
		printf("%s: the regression held in all %d runs\n", r->name, r->runs);
	else if (r->confirmed == 0)
		printf("%s: a regression of the first run was not confirmed: %d runs judged "
		       "together pass\n", r->name, r->runs);
	if (v->status >= MG_STATUS_REGRESSION) {
		/* docs/baselines.md, "The verdict": "peak +2.3 MiB, 91% from parse_row at src/csv.c:212",
		 * for the metrics that failed */
		for (size_t k = 0; k < v->n_grew; k++) {
			const struct mg_site_growth *g = &v->grew[k];
			int failed = 0;
			for (size_t j = 0; j < v->n_metrics; j++)
				failed |= v->metrics[j].metric == g->metric &&
					  v->metrics[j].status >= MG_STATUS_REGRESSION;
			if (!failed)
				continue;
			printf("%s: %s +%s, %.0f%% from %s\n", r->name,
			       mg_metric_name(g->metric),
			       mg_fmt_size(sz, sizeof(sz), g->current - g->baseline),
			       g->share * 100, g->site);
		}
	}
	if (v->status >= MG_STATUS_REGRESSION && v->n_new_leaks) {
		printf("%s: new leak site%s:\n", r->name, v->n_new_leaks == 1 ? "" : "s");
		for (size_t k = 0; k < v->n_new_leaks; k++)
			printf("    %s\n", v->new_leaks[k]);
	}
	const cJSON *w;
	cJSON_ArrayForEach(w, r->warnings)
		if (cJSON_IsString(w))
			printf("%s: warning: %s\n", r->name, w->valuestring);
	if (v->env_mismatch)
		printf("%s: warning: measured in another environment than its baseline (%s): "
		       "figures may move\n", r->name, v->env_detail);
	if (v->status == MG_STATUS_IMPROVED)
		printf("%s: improved: run 'memgate accept %s' to ratchet the baseline\n",
		       r->name, r->name);
	if (r->unmeasured) {
		int n = cJSON_GetArraySize(r->untraced);
		printf("%s: not measured in full: %d program%s ran untraced (%s%s); its figures "
		       "leave %s out (allow-untraced: true if that is expected)\n", r->name, n,
		       n == 1 ? "" : "s", cJSON_GetStringValue(cJSON_GetArrayItem(r->untraced, 0)),
		       n > 1 ? ", ..." : "", n == 1 ? "it" : "them");
		fprintf(stderr, "memgate: %s: not measured in full: programs it started ran "
			"untraced\n", r->name);
	}
}

/*
 * The gated figures, a row each: those equal to their baselines only with
 * `all` (docs/cli.md, "Output": a suite of hundreds of tests would bury the
 * few that moved), else counted in one line; then each test's notes.
 */
static void print_table(const struct mg_check_test *rows, size_t n, int tty, int all)
{
	char b[32], c[32], a[32];
	const char *off = tty ? "\033[0m" : "";
	size_t longest = 0, shown = 0, same = 0, same_tests = 0;
	for (size_t i = 0; i < n; i++)
		longest = strlen(rows[i].name) > longest ? strlen(rows[i].name) : longest;
	int w = mg_cli_name_width(longest);
	for (size_t i = 0; i < n; i++) {
		const struct mg_verdict *v = &rows[i].v;
		size_t here = 0;
		for (size_t k = 0; k < v->n_metrics; k++) {
			const struct mg_metric_verdict *m = &v->metrics[k];
			if (!all && mg_metric_unchanged(m)) {
				here++;
				continue;
			}
			if (!shown++)
				printf("%-*s %-24s %14s %14s %14s  %s\n", w, "test", "metric",
				       "baseline", "current", "allowed", "verdict");
			num(b, sizeof(b), m->has_baseline, m->baseline);
			num(c, sizeof(c), 1, m->current);
			num(a, sizeof(a), m->allowed != UINT64_MAX, m->allowed);
			printf("%-*s %-24s %14s %14s %14s  %s%s%s\n", w, rows[i].name,
			       mg_metric_name(m->metric), b, c, a, colour(tty, m->status),
			       mg_status_name(m->status), off);
		}
		same += here;
		same_tests += here > 0;
	}
	if (same) {
		char phrase[128];
		mg_check_equal_phrase(phrase, sizeof(phrase), same, same_tests);
		printf("%s (-v lists %s)\n", phrase, same == 1 ? "it" : "them");
	}
	size_t n_stale;
	long shared = shared_staleness(rows, n, &n_stale);
	for (size_t i = 0; i < n; i++)
		print_notes(&rows[i], shared);
	if (shared > 0)
		printf("%zu baselines%s measured %ld commit%s before the base commit\n", n_stale,
		       n_stale == n ? " (all) were" : " were", shared, shared == 1 ? "" : "s");
}

/* docs/baselines.md: in a GitHub Actions pull request, the PR's base branch; else HEAD */
static const char *default_ref(char *buf, size_t size)
{
	const char *base = getenv("GITHUB_BASE_REF");
	const char *gha = getenv("GITHUB_ACTIONS");
	if (gha && !strcmp(gha, "true") && base && *base &&
	    (size_t)snprintf(buf, size, "origin/%s", base) < size)
		return buf;
	return "HEAD";
}

/* the options, and what the command found out before the gate */
struct check_cmd {
	const char *config, *rev;
	const char **names, **froms;
	size_t n_names, n_froms;
	unsigned jobs;
	int json;
	int verbose;                /* -v: the figures equal to their baselines listed too */
	struct mg_config *cfg;
	struct mg_git *git;
	char base[41];              /* the base commit; "" when HEAD is unborn: all new */
	char head[41];
	int have_head, dirty;
	char base_rel[4096];        /* the baselines directory in the work tree */
	char config_rel[4096];      /* memgate.yml in the work tree; "": outside it */
	char refbuf[512];
	const struct mg_test **paged; /* pages this check wrote (html: regressions) */
	size_t n_paged;
};

/* 0, or the exit code of a usage error (printed) */
static int parse_args(struct check_cmd *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int common = mg_cli_common_arg(argc, argv, &i, &c->config, c->names, &c->n_names);
		if (common == MG_ARG_HELP) {
			fputs(usage_text, stdout);
			return -1;
		} else if (common == MG_ARG_TAKEN) {
			continue;
		} else if (!strcmp(a, "--from") && i + 1 < argc) {
			c->froms[c->n_froms++] = argv[++i];
		} else if ((!strcmp(a, "-j") || !strcmp(a, "--jobs")) && i + 1 < argc) {
			if (mg_cli_jobs(&c->jobs, argv[++i]) < 0)
				return MG_EXIT_USAGE;
		} else if (!strcmp(a, "--baseline") && i + 1 < argc) {
			c->rev = argv[++i];
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			c->verbose = 1;
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			if (mg_cli_format_json(&c->json, "check", argv[++i]) < 0)
				return MG_EXIT_USAGE;
		} else {
			mg_cli_error("check: unknown option '%s'\n%s", a, usage_text);
			return MG_EXIT_USAGE;
		}
	}
	return 0;
}

/* the ref first: a wrong one fails before minutes of measuring */
static int resolve_ref(struct check_cmd *c, struct mg_error *err)
{
	const struct mg_config *cfg = c->cfg;
	int unborn = 0, ret;

	if (!c->rev)
		c->rev = default_ref(c->refbuf, sizeof(c->refbuf));
	/* one handle for every read of the command */
	if ((ret = mg_git_open(&c->git, cfg->dir[0] ? cfg->dir : ".", err)) != MG_OK)
		return ret;
	unborn = mg_git_unborn(c->git);
	if ((ret = mg_git_relpath(c->git, c->base_rel, sizeof(c->base_rel), cfg->baselines,
				  err)) != MG_OK)
		return ret;
	struct mg_error ignored = { 0 };
	if (mg_git_relpath(c->git, c->config_rel, sizeof(c->config_rel), cfg->path, &ignored) !=
	    MG_OK)
		c->config_rel[0] = '\0';     /* a config outside the repository */
	if (unborn && !strcmp(c->rev, "HEAD"))
		c->base[0] = '\0';            /* no commit yet: every test is new */
	else if ((ret = mg_git_merge_base(c->git, c->base, c->rev, err)) != MG_OK)
		return ret;
	c->have_head = mg_git_head(c->git, c->head, &c->dirty, err) == MG_OK;
	if (!c->have_head)
		c->dirty = -1;
	return MG_OK;
}

/* no saved profiles: the tests measured now, as `memgate run` would */
static int measure_now(struct check_cmd *c)
{
	const struct mg_config *cfg = c->cfg;
	const struct mg_test **sel = calloc(cfg->n_tests + 1, sizeof(*sel));
	size_t n = 0;
	int ret;

	if (!sel)
		return MG_EXIT_ERROR;
	for (size_t k = 0; k < cfg->n_tests; k++)
		if (mg_cli_selected(cfg->tests[k].name, c->names, c->n_names))
			sel[n++] = &cfg->tests[k];
	ret = mg_cli_measure(cfg, sel, n, cfg->profiles, mg_cli_capture_jobs(c->jobs), 0, 1,
			     mg_cli_capture(), c->git, 1, 1);
	free(sel);
	if (ret != MG_EXIT_PASS)
		mg_cli_error("a test could not be measured: no verdict");
	return ret == MG_EXIT_PASS ? MG_EXIT_PASS : MG_EXIT_ERROR;
}

/* the gate's callback: a test measured once more, quietly */
static int remeasure(const struct mg_test *test, const char *dir, void *payload,
		     struct mg_error *err)
{
	struct check_cmd *c = payload;
	if (mg_cli_measure(c->cfg, &test, 1, dir, 1, 1, 1, mg_cli_capture(), c->git, 1, 1) !=
	    MG_EXIT_PASS)
		return mg_error_set(err, MG_ENOTMEASURED, "%s: a re-run could not be measured",
				    test->name);
	return MG_OK;
}

/*
 * The test's page, with the call sites that moved against the gated
 * baseline (a page that cannot be written costs the gate nothing): by
 * default only a failing test's, baseline or not (`html:`, docs/config.md).
 * A regression that its re-runs do not confirm loses the page it got.
 */
static void judged(const struct mg_test *test, const char *dir, const cJSON *profile,
		   const cJSON *gated, enum mg_status status, void *payload)
{
	struct check_cmd *c = payload;
	struct mg_error err = { 0 };
	char path[4200];
	size_t k = 0;
	int failed = status >= MG_STATUS_REGRESSION;
	int page = c->cfg->html == MG_HTML_ALWAYS ? gated != NULL :
		   c->cfg->html == MG_HTML_REGRESSIONS && failed;

	snprintf(path, sizeof(path), "%s/%s.html", dir, test->name);
	while (k < c->n_paged && c->paged[k] != test)
		k++;
	if (!page) {
		if (k < c->n_paged) {
			unlink(path);
			c->paged[k] = c->paged[--c->n_paged];
		}
		return;
	}
	if (!cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(profile, "processes"), 0),
				 "stacks"))
		return;
	if (mg_report_html_write(path, profile, gated, &err) != MG_OK) {
		mg_cli_warning("%s", err.msg);
		return;
	}
	if (k == c->n_paged && c->cfg->html == MG_HTML_REGRESSIONS) {
		const struct mg_test **p = realloc(c->paged, (c->n_paged + 1) * sizeof(*p));
		if (p) {
			c->paged = p;
			c->paged[c->n_paged++] = test;
		}
	}
}

static void notify(int warning, const char *msg, void *payload)
{
	(void)payload;
	if (warning)
		mg_cli_warning("%s", msg);
	else
		mg_cli_note("%s", msg);
	fflush(stderr);
}

static void print_result(const struct check_cmd *c, const struct mg_check_result *r)
{
	const struct mg_config *cfg = c->cfg;
	const char *nc = getenv("NO_COLOR");
	int tty = isatty(STDOUT_FILENO) && !(nc && *nc);
	for (size_t k = 0; k < r->n_missing; k++)
		printf("%s: missing: it has a baseline at %.12s but no test in %s\n",
		       r->missing[k], c->base, c->config);
	print_table(r->tests, r->n_tests, tty, c->verbose);
	/* docs/config.md: a suppression that hid nothing is reported */
	for (size_t k = 0; k < r->sup.n && r->n_tests; k++) {
		const struct mg_suppression *s = &cfg->suppressions[k];
		const struct mg_suppress_use *u = &r->sup.use[k];
		char cap[32];
		if (!u->used)
			printf("%s:%u: suppression '%s' hid no leak in this run: it hides nothing "
			       "today, and may hide a real leak tomorrow\n", c->config, s->pos.line,
			       s->pattern);
		if (u->capped)
			printf("%s:%u: suppression '%s' matched %" PRIu64 " leak stack%s beyond "
			       "its max_bytes of %s: %s counted\n", c->config, s->pos.line, s->pattern,
			       u->capped, u->capped == 1 ? "" : "s",
			       mg_fmt_size(cap, sizeof(cap), s->max_bytes),
			       u->capped == 1 ? "it is" : "they are");
	}
	printf("memgate: %zu test%s checked: %zu passed, %zu improved, %zu new, %zu regressed, "
	       "%zu over budget: %s%s%s\n", r->n_tests, r->n_tests == 1 ? "" : "s",
	       r->counts[MG_STATUS_PASS], r->counts[MG_STATUS_IMPROVED], r->counts[MG_STATUS_NEW],
	       r->counts[MG_STATUS_REGRESSION], r->counts[MG_STATUS_OVER_BUDGET],
	       colour(tty, r->failed || r->n_unmeasured ? MG_STATUS_REGRESSION : MG_STATUS_PASS),
	       r->failed ? "FAIL" : r->n_unmeasured ? "NOT MEASURED" : "pass",
	       tty ? "\033[0m" : "");
	if (r->n_unmeasured)
		printf("memgate: %zu test%s not measured in full (programs ran untraced): exit 3\n",
		       r->n_unmeasured, r->n_unmeasured == 1 ? "" : "s");
}

/* the result printed, written for the reports, published: an exit code */
static int report(struct check_cmd *c, const struct mg_check_result *r)
{
	struct mg_error err = { 0 };
	struct mg_check_doc_info info = {
		.config = c->config, .rev = c->rev, .base_commit = c->base[0] ? c->base : NULL,
		.head_commit = c->have_head ? c->head : NULL, .dirty = c->dirty,
		.result_dir = c->froms[0],
	};
	char path[4200], *text;
	cJSON *doc = mg_check_result_doc(r, &info);

	if (!doc || !(text = mg_json_print(doc, 0))) {       /* figures exact beyond 2^53 */
		cJSON_Delete(doc);
		mg_cli_error("out of memory");
		return MG_EXIT_ERROR;
	}
	if (c->json)
		fputs(text, stdout);
	else
		print_result(c, r);
	fflush(stdout);
	if (!r->n_tests)
		mg_cli_warning("no profile in '%s': nothing was checked", c->froms[0]);
	/* the reports render from this file (docs/check-result.md) */
	snprintf(path, sizeof(path), "%s/%s", c->froms[0], MG_CHECK_RESULT_FILE);
	int ret = mg_write_file_atomic(path, text, strlen(text), &err);
	free(text);
	if (ret != MG_OK) {
		cJSON_Delete(doc);
		return mg_cli_report(&err);
	}
	/* in GitHub Actions: job summary, outputs, annotations, PR comment
	 * (docs/github.md); a failure there is warned about and leaves the
	 * verdict alone.  Annotations go to stdout: not with --format json. */
	if (!c->json) {
		struct mg_error gh_err = { 0 };
		mg_github_publish(doc, c->froms[0], NULL, &gh_err);
	}
	cJSON_Delete(doc);
	/* figures that leave programs out are no verdict: could not be measured */
	return r->n_unmeasured ? MG_EXIT_ERROR : r->failed ? MG_EXIT_REGRESSION : MG_EXIT_PASS;
}

int cmd_check(int argc, char **argv)
{
	struct check_cmd c = { .config = "memgate.yml", .jobs = 1, .dirty = -1 };
	struct mg_check_result r = { 0 };
	struct mg_error err = { 0 };
	int ret = MG_EXIT_ERROR, measured = 0;

	c.names = calloc((size_t)argc + 1, sizeof(*c.names));
	c.froms = calloc((size_t)argc + 1, sizeof(*c.froms));
	if (!c.names || !c.froms)
		goto done;
	if ((ret = parse_args(&c, argc, argv)) != 0) {
		ret = ret < 0 ? MG_EXIT_PASS : ret;
		goto done;
	}
	if ((ret = c.n_froms ? mg_cli_load_config_saved(&c.cfg, c.config, c.names, c.n_names,
							c.froms, c.n_froms)
			     : mg_cli_load_config(&c.cfg, c.config, c.names, c.n_names)) !=
	    MG_EXIT_PASS)
		goto done;
	/* the result of an earlier check must not outlive this one: if this one
	 * stops before its verdict, nothing is there to be published */
	char stale[4200];
	snprintf(stale, sizeof(stale), "%s/%s", c.n_froms ? c.froms[0] : c.cfg->profiles,
		 MG_CHECK_RESULT_FILE);
	unlink(stale);
	if (resolve_ref(&c, &err) != MG_OK) {
		ret = mg_cli_report(&err);
		goto done;
	}
	if (!c.n_froms) {
		if ((ret = measure_now(&c)) != MG_EXIT_PASS)
			goto done;
		c.froms[c.n_froms++] = c.cfg->profiles;
		measured = 1;
	}
	if (c.base[0])
		fprintf(stderr, "memgate: checking against the baselines of '%s' at %.12s\n",
			c.rev, c.base);
	else
		fprintf(stderr, "memgate: the branch has no commit yet: every test is new\n");
	if (c.have_head && c.dirty)
		fprintf(stderr, "memgate: note: the work tree has uncommitted changes\n");
	struct mg_check_opts o = {
		.git = c.git, .rev = c.rev, .base_commit = c.base[0] ? c.base : NULL,
		.baselines_rel = c.base_rel,
		.config_rel = c.config_rel[0] ? c.config_rel : NULL,
		.froms = c.froms, .n_froms = c.n_froms,
		.names = c.names, .n_names = c.n_names,
		/* saved profiles (--from) are judged as they are: their build may be gone */
		.remeasure = measured ? remeasure : NULL, .payload = &c,
		.judged = judged, .notify = notify,
	};
	if (mg_check(&r, c.cfg, &o, &err) != MG_OK) {
		ret = mg_cli_report(&err);
		goto done;
	}
	ret = report(&c, &r);
done:
	mg_check_result_release(&r);
	mg_git_close(c.git);
	mg_config_free(c.cfg);
	free(c.names);
	free(c.froms);
	free(c.paged);
	return ret;
}
