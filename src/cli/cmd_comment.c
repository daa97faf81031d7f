/* cmd_comment.c - `memgate comment [--from DIR]`: publish a saved check result (fork-safe flow)
 *
 * Reads DIR/memgate-check.json, written by `memgate check`, and publishes it
 * as check does at its end in GitHub Actions (publish.c): job summary,
 * outputs, annotations, the sticky pull-request comment.  It runs nothing
 * and reads no baseline, so the `workflow_run` job of the two-workflow recipe
 * (docs/github.md) can publish a fork's results with a write token without
 * checking out the fork's code.  Outside Actions it prints the comment's
 * markdown on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../github/api.h"
#include "../report/markdown.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "../util/json.h"
#include "cmd.h"
#include "exitcode.h"
#include "publish.h"

#define MAX_RESULT (256u << 20)

static const char usage_text[] =
	"usage: memgate comment [--from DIR] [-c memgate.yml] [--mode MODE] [--pr N]\n"
	"\n"
	"Publishes the check result DIR/memgate-check.json that `memgate check` wrote\n"
	"(DIR: the config's `profiles` by default).  In GitHub Actions: the job\n"
	"summary, the step outputs verdict, regressions, report and result-dir,\n"
	"annotations, and one sticky comment on the pull request (per config, found by\n"
	"its hidden marker and author, updated in place).  Elsewhere: the comment's\n"
	"markdown on stdout.\n"
	"\n"
	"  --mode MODE  auto (default; $MEMGATE_COMMENT): comment on a regression, and\n"
	"               update an earlier comment when the gate passes again; always;\n"
	"               on-regression (delete the comment once the gate passes); never\n"
	"  --pr N       the pull request (default: $MEMGATE_PR_NUMBER, else the event's);\n"
	"               in a workflow_run it must have the run's head commit\n"
	"  -c FILE      the config whose comment this is (default: the result's)\n"
	"\n"
	"The token is $GITHUB_TOKEN (or $MEMGATE_GITHUB_TOKEN), the API $GITHUB_API_URL.\n"
	"\n"
	"exit status: 0 the result passed; 1 it holds a regression; 2 usage error, or\n"
	"DIR holds no check result; 3 a test was not measured in full (programs ran\n"
	"untraced), the result is unreadable, a runner file cannot be\n"
	"written or the comment failed (a token that may not write, as in a pull\n"
	"request from a fork, is only a warning).\n";

int cmd_comment(int argc, char **argv)
{
	const char *from = NULL, *config = NULL, *mode = NULL;
	struct mg_publish_options opt = { 0 };
	struct mg_config *cfg = NULL;
	struct mg_error err = { 0 };
	char path[4096], *text = NULL, *md = NULL;
	size_t len;
	cJSON *doc = NULL;
	int ret = MG_EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			ret = MG_EXIT_PASS;
			goto done;
		} else if (!strcmp(a, "--from") && i + 1 < argc) {
			from = argv[++i];
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(a, "--mode") && i + 1 < argc) {
			enum mg_comment_mode m;
			mode = argv[++i];
			if (mg_comment_mode_parse(&m, mode, &err) != MG_OK) {
				mg_cli_error("comment: --mode: %s", err.msg);
				goto done;
			}
		} else if (!strcmp(a, "--pr") && i + 1 < argc) {
			char *end;
			errno = 0;
			opt.pr = strtoll(argv[++i], &end, 10);
			if (errno || *end || opt.pr <= 0) {
				mg_cli_error("comment: --pr: expected a pull request number, got '%s'",
					   argv[i]);
				goto done;
			}
		} else {
			mg_cli_error("comment: unknown option '%s'\n%s", a, usage_text);
			goto done;
		}
	}
	if (!from) {
		/* the profiles directory of the config */
		ret = mg_cli_load_config(&cfg, config ? config : "memgate.yml", NULL, 0);
		if (ret != MG_EXIT_PASS)
			goto done;
		from = cfg->profiles;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/memgate-check.json", from) >= sizeof(path)) {
		mg_cli_error("comment: path too long: '%s'", from);
		ret = MG_EXIT_USAGE;
		goto done;
	}
	if ((ret = mg_read_file(&text, &len, path, MAX_RESULT, &err)) != MG_OK) {
		if (ret == MG_ENOTFOUND) {
			mg_cli_error("no check result '%s' (run 'memgate check' first)", path);
			ret = MG_EXIT_USAGE;
		} else {
			mg_cli_error("%s", err.msg);
			ret = MG_EXIT_ERROR;
		}
		goto done;
	}
	if (mg_json_parse(&doc, text, len, path, &err) != MG_OK) {
		mg_cli_error("%s", err.msg);
		ret = MG_EXIT_ERROR;
		goto done;
	}
	if (mg_check_result_validate(doc, path, &err) != MG_OK) {
		mg_cli_error("%s", err.msg);
		ret = MG_EXIT_USAGE;
		goto done;
	}
	const char *verdict = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "verdict"));
	int exit_verdict = verdict && !strcmp(verdict, "pass") ? MG_EXIT_PASS :
			   verdict && !strcmp(verdict, "unmeasured") ? MG_EXIT_ERROR : MG_EXIT_REGRESSION;
	const char *actions = getenv("GITHUB_ACTIONS");
	opt.mode = mode;
	opt.config = config;
	if (!actions || strcmp(actions, "true")) {
		char marker[4096];
		struct mg_md_options mdo = { 0 };
		const char *c = config ? config : cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(doc, "config"));
		mg_md_marker(marker, sizeof(marker), c ? c : "memgate.yml");
		mdo.marker = marker;
		mdo.max_bytes = 65536;
		if (mg_markdown_render(&md, &len, NULL, doc, &mdo, &err) != MG_OK) {
			mg_cli_error("%s", err.msg);
			ret = MG_EXIT_ERROR;
			goto done;
		}
		fwrite(md, 1, len, stdout);
		ret = exit_verdict;
		goto done;
	}
	/* publish printed why it failed */
	ret = mg_github_publish_with(doc, from, &opt, 1, &err);
	if (ret != MG_OK && ret != MG_EINVALID)
		ret = MG_ERROR;
	ret = ret == MG_OK ? exit_verdict : mg_cli_exit_code(ret);
done:
	free(text);
	free(md);
	cJSON_Delete(doc);
	mg_config_free(cfg);
	return ret;
}
