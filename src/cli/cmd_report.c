/* cmd_report.c - `memgate report PROFILE... [--html FILE] [--format FMT]`: render or export profiles */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/baseline.h"
#include "../report/report.h"
#include "../util/error.h"
#include "../util/fs.h"
#include "cmd.h"
#include "exitcode.h"


static const char usage_text[] =
	"usage: memgate report PROFILE... [--html FILE] [--baseline BASELINE.json]\n"
	"                      [--format FORMAT [--weight FIGURE] [-o FILE]]\n"
	"\n"
	"Renders profiles (profiles/<test>.json, memgate trace -o FILE) as an HTML page\n"
	"or exports them for other tools (docs/reports.md).\n"
	"\n"
	"  --html FILE         a self-contained page: heap timeline, flame graphs of the\n"
	"                      stacks live at the peak, of the leaks and of every\n"
	"                      allocation, call-site tables (one PROFILE)\n"
	"  --baseline FILE     with --html: the baseline (baselines/<test>.json) whose\n"
	"                      call sites the page compares with\n"
	"  --format FORMAT     folded (flamegraph.pl, inferno), speedscope, dhat (valgrind's\n"
	"                      dh_view.html): one PROFILE; bmf (Bencher),\n"
	"                      github-action-benchmark (customSmallerIsBetter): any number\n"
	"  --weight FIGURE     folded's value per stack: total_bytes (default), allocs,\n"
	"                      peak_bytes, peak_blocks, leaked_bytes, leaked_blocks\n"
	"  -o, --output FILE   where --format writes (default: standard output)\n"
	"\n"
	"exit status: 0 written; 2 usage error; 3 a profile or baseline could not be\n"
	"read or is not one, or the output could not be written.\n";

static int load(cJSON **out, const char *path, const char *kind, struct mg_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int ret = mg_read_file(&text, &len, path, MG_MAX_DOC, err);
	if (ret == MG_OK)
		ret = mg_json_load_doc(out, text, len, path, kind, err);
	else if (ret == MG_ENOTFOUND)
		mg_error_set(err, ret, "cannot read %s '%s': no such file", kind, path);
	free(text);
	return ret;
}

static int emit(const char *path, const char *text, size_t len, struct mg_error *err)
{
	if (path && strcmp(path, "-"))
		return mg_write_file_atomic(path, text, len, err);
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
		return mg_error_set(err, MG_ERROR, "cannot write to standard output");
	return MG_OK;
}

int cmd_report(int argc, char **argv)
{
	const char *html = NULL, *format = NULL, *output = NULL, *base_path = NULL;
	const char *weight_name = "total_bytes";
	const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
	cJSON **docs = calloc((size_t)argc + 1, sizeof(*docs)), *base = NULL;
	size_t n = 0, len = 0;
	int fmt = -1, weight, ret = MG_EXIT_USAGE;
	char *text = NULL;
	struct mg_error err = { 0 };

	if (!paths || !docs) {
		mg_cli_error("out of memory");
		ret = MG_EXIT_ERROR;
		goto done;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			ret = MG_EXIT_PASS;
			goto done;
		} else if (!strcmp(a, "--html") && more) {
			html = argv[++i];
		} else if (!strcmp(a, "--format") && more) {
			format = argv[++i];
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) {
			output = argv[++i];
		} else if (!strcmp(a, "--weight") && more) {
			weight_name = argv[++i];
		} else if (!strcmp(a, "--baseline") && more) {
			base_path = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			mg_cli_error("report: unknown option '%s'\n%s", a, usage_text);
			goto done;
		} else {
			paths[n++] = a;
		}
	}
	if (!n) {
		mg_cli_error("report: no profile given\n%s", usage_text);
		goto done;
	}
	if (!html && !format) {
		mg_cli_error("report: nothing to do: give --html FILE or --format FORMAT");
		goto done;
	}
	if (format && (fmt = mg_report_format_parse(format)) < 0) {
		mg_cli_error("report: unknown format '%s' (folded, speedscope, dhat, bmf, "
			   "github-action-benchmark)", format);
		goto done;
	}
	if ((weight = mg_report_weight_parse(weight_name)) < 0) {
		mg_cli_error("report: unknown weight '%s' (total_bytes, allocs, peak_bytes, peak_blocks, "
			   "leaked_bytes, leaked_blocks)", weight_name);
		goto done;
	}
	if (html && n != 1) {
		mg_cli_error("report: --html renders one profile, got %zu", n);
		goto done;
	}
	if (fmt >= 0 && !mg_report_format_multi(fmt) && n != 1) {
		mg_cli_error("report: format '%s' takes one profile, got %zu", format, n);
		goto done;
	}
	if (base_path && !html) {
		mg_cli_error("report: --baseline goes with --html");
		goto done;
	}
	if (output && !format) {
		mg_cli_error("report: -o goes with --format (--html names its own file)");
		goto done;
	}

	ret = MG_EXIT_ERROR;
	for (size_t i = 0; i < n; i++)
		if (load(&docs[i], paths[i], "profile", &err) != MG_OK)
			goto fail;
	if (base_path && load(&base, base_path, "baseline", &err) != MG_OK)
		goto fail;
	if (html && mg_report_html_write(html, docs[0], base, &err) != MG_OK)
		goto fail;
	if (fmt >= 0) {
		if (mg_report_export(&text, &len, fmt, (const cJSON *const *)docs, n, weight,
				     &err) != MG_OK ||
		    emit(output, text, len, &err) != MG_OK)
			goto fail;
	}
	ret = MG_EXIT_PASS;
	goto done;
fail:
	mg_cli_error("%s", err.msg);
done:
	free(text);
	for (size_t i = 0; docs && i < n; i++)
		cJSON_Delete(docs[i]);
	cJSON_Delete(base);
	free(docs);
	free(paths);
	return ret;
}
