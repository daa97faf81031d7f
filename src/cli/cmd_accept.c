/* cmd_accept.c - `memgate accept [TEST...] [--from DIR] [--reason TEXT]`: profiles become baselines
 *
 * For each selected test (default: every configured test with a profile in
 * DIR), the profile's figures and top call sites become baselines/<test>.json
 * in canonical form, with the commit checked out and the reason; a
 * multithreaded test is first measured `spread-runs` times, and its baseline
 * keeps the spread of the runs (docs/baselines.md).  A file is
 * rewritten only when its figures or sites changed; every write is atomic, so
 * an interrupted accept leaves each baseline old or new, never half-written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/baseline.h"
#include "../core/check.h"
#include "../core/config.h"
#include "../core/git.h"
#include "../core/measure.h"
#include "../core/profile.h"
#include "../core/suppress.h"
#include "../report/report.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"


static const char usage_text[] =
	"usage: memgate accept [TEST...] [-c memgate.yml] [--from DIR] [--reason TEXT]\n"
	"                      [--no-capture]\n"
	"\n"
	"Writes the figures of the profiles in DIR (default: the config's `profiles`)\n"
	"as the baselines of those tests (default: every configured test that has a\n"
	"profile) into the config's `baselines` directory, with the commit checked out\n"
	"and the reason.  Only files whose figures or call sites changed are rewritten.\n"
	"A multithreaded test whose profile holds fewer runs than its `spread-runs`\n"
	"(default 5) is first measured again until it has them, and its baseline\n"
	"keeps the spread of its figures over the runs (not with --from: saved\n"
	"profiles are accepted as they are).  What a run prints is shown only when\n"
	"its program did not exit 0 (--no-capture: as it prints).\n"
	"\n"
	"exit status: 0 done; 2 usage, configuration or input error (a corrupt profile,\n"
	"an unknown test); 3 an I/O error, or a run to measure a spread failed.\n";

static const char *const shown[] = { "peak_bytes", "leaked_bytes", "allocs", "total_bytes" };

/* "peak_bytes 230 -> 240 (+10)" for the figures that moved */
static void print_change(const char *name, const cJSON *old, const cJSON *new)
{
	const cJSON *of = cJSON_GetObjectItem(old, "figures"), *nf = cJSON_GetObjectItem(new, "figures");
	int any = 0;
	fprintf(stderr, "  %-24s updated:", name);
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		const cJSON *a = cJSON_GetObjectItem(of, shown[i]), *b = cJSON_GetObjectItem(nf, shown[i]);
		if (cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble != b->valuedouble) {
			fprintf(stderr, "%s %s %.0f -> %.0f (%+.0f)", any++ ? "," : "", shown[i],
				a->valuedouble, b->valuedouble, b->valuedouble - a->valuedouble);
		}
	}
	fprintf(stderr, "%s\n", any ? "" : " call sites");
}

/* accept's measurement for the spread: the test once more, quietly */
struct spread_ctx {
	const struct mg_config *cfg;
	struct mg_git *git;
};

static int measure_again(const struct mg_test *test, const char *dir, void *payload,
			 struct mg_error *err)
{
	const struct spread_ctx *c = payload;
	if (mg_cli_measure(c->cfg, &test, 1, dir, 1, 1, 1, mg_cli_capture(), c->git, 1, 1) !=
	    MG_EXIT_PASS)
		return mg_error_set(err, MG_ENOTMEASURED, "%s: a run to measure its spread "
				    "failed: no baseline written", test->name);
	return MG_OK;
}

/*
 * docs/baselines.md, "The spread": a multithreaded test whose profile holds
 * fewer runs than its `spread-runs` is measured again until it has them.
 * The runs combined (as `repeat` combines them) replace *profile and its
 * file `ppath`, so that accepting again measures nothing more.  MG_OK, or
 * MG_ENOTMEASURED when a run failed.
 */
static int measure_spread(cJSON **profile, const char *ppath, const struct mg_config *cfg,
			  const struct mg_test *test, struct mg_git *git, struct mg_error *err)
{
	struct mg_settings eff;
	struct spread_ctx c = { cfg, git };
	int threads, ret;
	unsigned have = mg_profile_runs(*profile, &threads), want;
	char page[4096];

	mg_config_effective(&eff, cfg, test);
	if ((want = mg_spread_runs_wanted(*profile, eff.spread_runs)) <= have)
		return MG_OK;
	do {
		if (have < eff.spread_runs)
			fprintf(stderr, "  %-24s multithreaded: measuring its spread over %u runs "
				"(%u more)\n", test->name, want, want - have);
		else
			fprintf(stderr, "  %-24s its peak moved by %u.%u%% over %u runs: measuring "
				"%u more\n", test->name,
				mg_profile_run_width(*profile, "peak_bytes") / 10,
				mg_profile_run_width(*profile, "peak_bytes") % 10, have, want - have);
		if ((ret = mg_check_measure_more(profile, ppath, test, 0, want, measure_again,
						 &c, err)) != MG_OK)
			return ret;
		have = mg_profile_runs(*profile, &threads);
	} while ((want = mg_spread_runs_wanted(*profile, eff.spread_runs)) > have);
	/* the page beside the profile (run --html, html: always, a failed check's)
	 * shows the runs accepted, not the one it was made from (docs/reports.md);
	 * with html: never, an earlier page goes */
	snprintf(page, sizeof(page), "%.*s.html", (int)(strlen(ppath) - 5), ppath);
	if (cfg->html == MG_HTML_NEVER)
		unlink(page);
	else if ((cfg->html == MG_HTML_ALWAYS || access(page, F_OK) == 0) &&
		 mg_report_html_write(page, *profile, NULL, err) != MG_OK) {
		mg_cli_warning("%s", err->msg);       /* the baseline matters, not the page */
		memset(err, 0, sizeof(*err));
	}
	return MG_OK;
}

/* 0 written or unchanged, MG_EINVALID bad input, MG_ENOTMEASURED a run for the
 * spread failed, MG_ERROR I/O; `saved`: profiles given with --from, never
 * re-measured; `git` may be NULL (not in git) */
static int accept_one(struct mg_suppress_state *sup, const struct mg_test *test, const char *from,
		      int saved, const char *commit, int dirty, const char *reason,
		      struct mg_git *git, int *changed, struct mg_error *err)
{
	const struct mg_config *cfg = sup->cfg;
	const char *name = test->name;
	char ppath[4096], bpath[4096];
	char *text = NULL, *canon = NULL;
	size_t len;
	cJSON *profile = NULL, *base = NULL, *old = NULL;
	int ret;

	snprintf(ppath, sizeof(ppath), "%s/%s.json", from, name);
	snprintf(bpath, sizeof(bpath), "%s/%s.json", cfg->baselines, name);
	if ((ret = mg_read_file(&text, &len, ppath, MG_MAX_DOC, err)) != MG_OK) {
		if (ret == MG_ENOTFOUND)
			ret = mg_error_set(err, MG_EINVALID, "no profile of test '%s' in '%s' (run "
					   "'memgate run %s' first)", name, from, name);
		goto done;
	}
	if ((ret = mg_json_load_doc(&profile, text, len, ppath, "profile", err)) != MG_OK)
		goto done;
	const char *pname = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(profile,
									  "test"), "name"));
	if (!pname || strcmp(pname, name)) {
		ret = mg_error_set(err, MG_EINVALID, "%s: the profile of test '%s', not '%s'", ppath,
				   pname ? pname : "?", name);
		goto done;
	}
	if (!saved) {
		if ((ret = measure_spread(&profile, ppath, cfg, test, git, err)) != MG_OK)
			goto done;
	} else {
		struct mg_settings eff;
		int threads;
		unsigned runs = mg_profile_runs(profile, &threads);
		mg_config_effective(&eff, cfg, test);
		if (threads && runs < eff.spread_runs)
			mg_cli_warning("%s: multithreaded, and its profile in '%s' holds %u run%s: "
				       "the spread of its figures is %s, and checks may flap (accept "
				       "without --from measures %u runs; or set repeat)", name, from,
				       runs, runs == 1 ? "" : "s", runs == 1 ? "unknown" : "partly known",
				       eff.spread_runs);
	}
	/* the figures as check gates them: without the leaks memgate.yml suppresses */
	if (mg_suppress_profile(profile, sup) < 0 ||
	    !(base = mg_baseline_from_profile(profile, commit, dirty, reason)) ||
	    !(canon = mg_json_canonical(base))) {
		ret = mg_error_set(err, MG_ERROR, "out of memory");
		goto done;
	}
	free(text);
	text = NULL;
	ret = mg_read_tree_file(&text, &len, bpath, MG_MAX_DOC, err);
	if (ret == MG_OK) {
		/* a corrupt old baseline is simply replaced */
		if (mg_json_load_doc(&old, text, len, bpath, "baseline", err) == MG_OK &&
		    mg_baseline_same(old, base)) {
			fprintf(stderr, "  %-24s unchanged\n", name);
			*changed = 0;
			goto done;
		}
	} else if (ret != MG_ENOTFOUND) {
		goto done;
	}
	if ((ret = mg_write_file_atomic(bpath, canon, strlen(canon), err)) != MG_OK)
		goto done;
	*changed = 1;
	if (old)
		print_change(name, old, base);
	else
		fprintf(stderr, "  %-24s new baseline\n", name);
	ret = MG_OK;
done:
	free(text);
	free(canon);
	cJSON_Delete(profile);
	cJSON_Delete(base);
	cJSON_Delete(old);
	return ret;
}

static void waiting_lock(const char *dir)
{
	mg_cli_note("waiting for another memgate holding '%s'", dir);
}

static void removed_tmp(const char *name)
{
	mg_cli_note("removed '%s', left by an interrupted write", name);
}

/* whether dir holds the profile of test `name` */
static int has_profile(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	return access(path, F_OK) == 0;
}

int cmd_accept(int argc, char **argv)
{
	const char *config = "memgate.yml", *from = NULL, *reason = NULL;
	const char **names = calloc((size_t)argc + 1, sizeof(*names));
	size_t n_names = 0, written = 0;
	struct mg_config *cfg = NULL;
	struct mg_suppress_state sup = { 0 };
	struct mg_error err = { 0 };
	char sha[41];
	struct mg_git *git = NULL;
	int dirty = 0, have_commit, from_given, ret = MG_EXIT_USAGE, lock = -1;

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
		} else if (!strcmp(a, "--from") && i + 1 < argc) {
			from = argv[++i];
		} else if (!strcmp(a, "--reason") && i + 1 < argc) {
			reason = argv[++i];
		} else {
			mg_cli_error("accept: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}
	if ((ret = mg_cli_load_config_saved(&cfg, config, names, n_names, from ? &from : NULL,
					    from ? 1 : 0)) != MG_EXIT_PASS)
		goto done;
	from_given = from != NULL;
	if (!from)
		from = cfg->profiles;
	/* all: only the tests that were measured, and at least one */
	size_t measured = 0, unmeasured = 0;
	for (size_t k = 0; !n_names && k < cfg->n_tests; k++) {
		if (has_profile(from, cfg->tests[k].name))
			measured++;
		else
			unmeasured++;
	}
	if (!n_names && !measured) {
		mg_cli_error("accept: no test of %s has a profile in '%s' (run 'memgate run' "
			     "first)", config, from);
		ret = MG_EXIT_USAGE;
		goto done;
	}
	if (mg_mkdirs(cfg->baselines) < 0) {
		mg_cli_error("cannot create '%s': %s", cfg->baselines, strerror(errno));
		ret = MG_EXIT_ERROR;
		goto done;
	}
	/* one accept at a time: two would mix their figures (README.md, "Files ...") */
	const char *wait_env = getenv("MEMGATE_LOCK_TIMEOUT");
	if (mg_lock_dir(&lock, cfg->baselines, wait_env && *wait_env ? atof(wait_env) : 60,
			waiting_lock, &err) != MG_OK) {
		ret = mg_cli_report(&err);
		goto done;
	}
	/* what an accept killed mid-write left: never to be committed */
	mg_clean_stale_tmp(cfg->baselines, MG_TMP_STALE_S, removed_tmp);
	have_commit = mg_git_open(&git, cfg->dir[0] ? cfg->dir : ".", &err) == MG_OK &&
		      mg_git_head(git, sha, &dirty, &err) == MG_OK;
	if (!have_commit)
		mg_cli_warning("%s: baselines record no commit", err.msg);
	else if (dirty)
		mg_cli_warning("the work tree has changes: the baselines say they were "
			   "measured on a dirty tree at %.12s", sha);

	if (mg_suppress_init(&sup, cfg) < 0) {
		ret = MG_EXIT_ERROR;
		goto done;
	}
	fprintf(stderr, "memgate: accepting into %s/%s%s\n", cfg->baselines,
		reason ? ", reason: " : "", reason ? reason : "");
	ret = MG_EXIT_PASS;
	for (size_t k = 0; k < cfg->n_tests; k++) {
		const struct mg_test *test = &cfg->tests[k];
		const char *name = test->name;
		int changed = 0;
		if (!mg_cli_selected(name, names, n_names))
			continue;
		if (!n_names && !has_profile(from, name))
			continue;             /* all: only the tests that were measured */
		/* saved profiles (--from) are accepted as they are: their build may be gone */
		int r = accept_one(&sup, test, from, from_given, have_commit ? sha : NULL, dirty,
				   reason, git, &changed, &err);
		if (r != MG_OK) {
			ret = mg_cli_report(&err);
			break;
		}
		written += (size_t)changed;
	}
	fprintf(stderr, "memgate: %zu baseline%s written\n", written, written == 1 ? "" : "s");
	if (unmeasured && ret == MG_EXIT_PASS) {
		fprintf(stderr, "memgate: %zu test%s without a profile in '%s' left as %s:", unmeasured,
			unmeasured == 1 ? "" : "s", from, unmeasured == 1 ? "it was" : "they were");
		size_t listed = 0;
		for (size_t k = 0; k < cfg->n_tests && listed < 5; k++)
			if (!has_profile(from, cfg->tests[k].name))
				fprintf(stderr, "%s %s", listed++ ? "," : "", cfg->tests[k].name);
		fprintf(stderr, "%s\n", unmeasured > listed ? ", ..." : "");
	}
done:
	if (lock >= 0)
		close(lock);
	mg_suppress_release(&sup);
	mg_git_close(git);
	mg_config_free(cfg);
	free(names);
	return ret;
}
