/* publish.c - a check result to GitHub: job summary, outputs, annotations, the sticky comment */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../github/actions.h"
#include "../github/api.h"
#include "../github/guard.h"
#include "../report/markdown.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/json.h"
#include "cmd.h"
#include "publish.h"

#define COMMENT_MAX 65536       /* GitHub's limit in characters: a byte bound keeps it */
#define MAX_ANNOTATIONS 10      /* the runner shows 10 errors and 10 warnings per step */

static int failing(const cJSON *t)
{
	return mg_check_verdict_fails(mg_json_str(t, "verdict"));
}

/* prints one warning: "memgate: warning: MSG" on stderr and ::warning::MSG on stdout */
static void warn(const char *msg)
{
	struct mg_buf b;
	mg_cli_warning("%s", msg);
	mg_buf_init(&b, 1u << 16);
	if (mg_actions_annotation(&b, "warning", "memgate", msg) == 0)
		mg_guard_put_commands(mg_buf_str(&b));
	mg_buf_release(&b);
}

/* keeps the first problem in *first */
static void note(struct mg_error *first, const struct mg_error *e)
{
	if (first && !first->code && e->code)
		*first = *e;
}

static void annotations(const cJSON *result)
{
	const cJSON *t;
	int n = 0, more = 0, nwarn = 0, n_failing = 0;
	struct mg_buf b, why, title;
	mg_buf_init(&b, 1u << 20);
	/* what the runner shows: all failing tests when they fit, else 9 and a note;
	 * warnings leave one for memgate's own (a comment that could not be made) */
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(result, "tests"))
		n_failing += failing(t);
	int shown = n_failing > MAX_ANNOTATIONS ? MAX_ANNOTATIONS - 1 : n_failing;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(result, "tests")) {
		const char *name = mg_json_str(t, "name") ? mg_json_str(t, "name") : "?";
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "environment_mismatch")) &&
		    nwarn++ < MAX_ANNOTATIONS - 1) {
			mg_buf_init(&why, 4096);
			mg_buf_init(&title, 1024);
			mg_buf_printf(&title, "memgate: %s measured in another environment", name);
			mg_buf_printf(&why, "%s: the baseline was measured in another environment (%s): "
				      "figures may move", name, mg_json_str(t, "environment_detail") ?
				      mg_json_str(t, "environment_detail") : "libc, arch or compiler differ");
			mg_actions_annotation(&b, "warning", mg_buf_str(&title), mg_buf_str(&why));
			mg_buf_release(&why);
			mg_buf_release(&title);
		}
		if (!failing(t))
			continue;
		if (n >= shown) {
			more++;
			continue;
		}
		n++;
		mg_buf_init(&why, 1u << 16);
		mg_buf_init(&title, 1024);
		mg_buf_printf(&title, "memgate: %s %s", name, !strcmp(mg_json_str(t, "verdict"), "regression") ?
			      "regressed" : "is over budget");
		mg_md_why_plain(&why, t);
		mg_actions_annotation(&b, "error", mg_buf_str(&title), mg_buf_str(&why));
		mg_buf_release(&why);
		mg_buf_release(&title);
	}
	if (more)
		mg_buf_printf(&b, "::error title=memgate::%d more failing test%s: see the job summary\n",
			      more, more == 1 ? "" : "s");
	mg_guard_put_commands(mg_buf_str(&b));
	mg_buf_release(&b);
}

static int write_outputs(const cJSON *result, const char *dir, const char *report,
			 struct mg_error *err)
{
	const char *path = getenv("GITHUB_OUTPUT"), *verdict = mg_json_str(result, "verdict");
	const cJSON *t;
	char n[32], abs[PATH_MAX];
	int regressions = 0;
	if (!path || !*path)
		return MG_OK;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(result, "tests"))
		regressions += failing(t);
	snprintf(n, sizeof(n), "%d", regressions);
	if (!realpath(dir, abs))
		snprintf(abs, sizeof(abs), "%s", dir);
	if (mg_actions_set_output(path, "verdict", verdict ? verdict : "", err) != MG_OK ||
	    mg_actions_set_output(path, "regressions", n, err) != MG_OK ||
	    mg_actions_set_output(path, "report", report, err) != MG_OK ||
	    mg_actions_set_output(path, "result-dir", abs, err) != MG_OK)
		return MG_ERROR;
	return MG_OK;
}

static int write_summary(const cJSON *result, struct mg_error *err)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	struct mg_md_options opt = { 0 };
	char *md = NULL;
	size_t len, room;
	int ret;
	if (!path || !*path)
		return MG_OK;
	if ((room = mg_actions_summary_room(path)) < 4096)
		return mg_error_set(err, MG_ERROR, "the job summary is full (1 MiB): memgate's "
				    "report left out");
	opt.max_bytes = room - 2;       /* the separating blank line and final newline */
	opt.cut_note = "the full report is in the profiles artifact (memgate-check.json)";
	if ((ret = mg_markdown_render(&md, &len, NULL, result, &opt, err)) == MG_OK)
		ret = mg_actions_append_summary(path, md, len, err);
	free(md);
	return ret;
}

static long long env_pr(void)
{
	const char *s = getenv("MEMGATE_PR_NUMBER");
	char *end;
	long long v;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno || *end || v <= 0 ? -1 : v;
}

static int comment(const cJSON *result, const char *report, const char *marker,
		   enum mg_comment_mode mode, long long pr, struct mg_error *err)
{
	struct mg_gh_options o;
	struct mg_gh *gh = NULL;
	enum mg_gh_done done;
	long long id = 0, event_pr = 0;
	char head[41] = "";
	const char *event = getenv("GITHUB_EVENT_NAME");
	int ret, failed = mg_json_str(result, "verdict") && strcmp(mg_json_str(result, "verdict"), "pass");

	if (mode == MG_COMMENT_NEVER)
		return MG_OK;
	if (pr < 0)
		return mg_error_set(err, MG_EINVALID, "MEMGATE_PR_NUMBER: expected a pull request "
				    "number");
	ret = mg_gh_event_pr(&event_pr, head, event, getenv("GITHUB_EVENT_PATH"), err);
	if (pr) {
		memset(err, 0, sizeof(*err));   /* the number given wins over the event's */
	} else if (ret == MG_ENOTFOUND) {
		mg_cli_error("%s: no comment", err->msg);
		memset(err, 0, sizeof(*err));
		return MG_OK;
	} else if (ret != MG_OK) {
		return ret;
	} else {
		pr = event_pr;
	}
	mg_gh_options_from_env(&o);
	if ((ret = mg_gh_open(&gh, &o, err)) != MG_OK)
		return ret;
	/* a number from outside the event (an artifact) must name the run's own pull request */
	if (event && !strcmp(event, "workflow_run") && head[0] && event_pr != pr &&
	    (ret = mg_gh_check_pr_head(gh, pr, head, err)) != MG_OK)
		goto done;
	ret = mg_gh_sticky_comment(gh, pr, marker, report, mode, failed, &done, &id, err);
	if (ret == MG_OK && done != MG_GH_NOTHING)
		mg_cli_note("%s comment %lld on pull request #%lld",
			   done == MG_GH_CREATED ? "created" : done == MG_GH_UPDATED ? "updated" :
			   "deleted", id, pr);
	else if (ret == MG_OK)
		mg_cli_note("no comment on pull request #%lld: the gate passed (comment: %s)", pr,
			   mode == MG_COMMENT_AUTO ? "auto" : "on-regression");
done:
	mg_gh_close(gh);
	return ret;
}

int mg_github_publish_with(const cJSON *result, const char *result_dir,
			   const struct mg_publish_options *opt, int force, struct mg_error *err)
{
	const char *actions = getenv("GITHUB_ACTIONS"), *off = getenv("MEMGATE_GITHUB_PUBLISH");
	const char *mode_s = opt && opt->mode ? opt->mode : getenv("MEMGATE_COMMENT");
	const char *config = opt && opt->config ? opt->config : mg_json_str(result, "config");
	struct mg_md_options mdo = { 0 };
	struct mg_error e = { 0 }, first = { 0 };
	enum mg_comment_mode mode = MG_COMMENT_AUTO;
	char marker[4096], *report = NULL;
	size_t len;
	int ret = MG_OK, cut;

	if (!actions || strcmp(actions, "true") || (!force && off && !strcmp(off, "0")))
		return MG_OK;
	if (mode_s && *mode_s && mg_comment_mode_parse(&mode, mode_s, err) != MG_OK)
		return MG_EINVALID;
	if (mg_check_result_validate(result, "check result", err) != MG_OK)
		return MG_EINVALID;
	mg_md_marker(marker, sizeof(marker), config ? config : "memgate.yml");
	mdo.marker = marker;
	mdo.max_bytes = COMMENT_MAX;
	mdo.cut_note = "the full report is in the job summary of this workflow run";
	if (mg_markdown_render(&report, &len, &cut, result, &mdo, &e) != MG_OK) {
		warn(e.msg);
		note(&first, &e);
		ret = MG_ERROR;
		goto done;
	}
	if (write_summary(result, &e) != MG_OK) {
		warn(e.msg);
		note(&first, &e);
		ret = MG_ERROR;
		memset(&e, 0, sizeof(e));
	}
	if (write_outputs(result, result_dir, report, &e) != MG_OK) {
		warn(e.msg);
		note(&first, &e);
		ret = MG_ERROR;
		memset(&e, 0, sizeof(e));
	}
	annotations(result);
	switch (comment(result, report, marker, mode, opt && opt->pr ? opt->pr : env_pr(), &e)) {
	case MG_OK:
		break;
	case MG_GH_EREADONLY:           /* a fork's pull request: the summary says it all */
	case MG_ENOTFOUND:              /* the pull request moved on: not ours to comment */
		warn(e.msg);
		break;
	default:
		warn(e.msg);
		note(&first, &e);
		ret = e.code == MG_EINVALID ? MG_EINVALID : MG_ERROR;
	}
done:
	free(report);
	if (err && first.code)
		*err = first;
	return ret;
}

int mg_github_publish(const cJSON *result, const char *result_dir, const char *mode,
		      struct mg_error *err)
{
	struct mg_publish_options opt = { mode, NULL, 0 };
	return mg_github_publish_with(result, result_dir, &opt, 0, err);
}
