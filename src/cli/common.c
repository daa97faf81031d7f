/* common.c - what several commands do alike: load memgate.yml, select tests */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/discover.h"
#include "../util/error.h"
#include "cmd.h"
#include "exitcode.h"

int mg_cli_load_config(struct mg_config **cfg, const char *path, const char *const *names,
		       size_t n_names)
{
	return mg_cli_load_config_saved(cfg, path, names, n_names, NULL, (size_t)-1);
}

int mg_cli_load_config_saved(struct mg_config **cfg, const char *path, const char *const *names,
			     size_t n_names, const char *const *dirs, size_t n_dirs)
{
	struct mg_error err = { 0 };
	*cfg = NULL;
	if (mg_config_load(cfg, path, &err) == MG_OK && n_dirs != (size_t)-1) {
		/* the tests the run listed, from its profiles directories */
		const char *profiles = (*cfg)->profiles;
		if (!n_dirs) {
			dirs = &profiles;
			n_dirs = 1;
		}
		mg_discover_use_saved(*cfg, dirs, n_dirs, &err);
	}
	if (err.code == MG_OK)
		/* discovery can take a while (cargo builds): say what runs */
		for (size_t k = 0; k < (*cfg)->n_imports; k++)
			if ((*cfg)->imports[k].kind == MG_IMPORT_CARGO && !(*cfg)->imports[k].saved)
				mg_cli_note("building and listing the tests of '%s' "
					    "(cargo test --no-run)", (*cfg)->imports[k].dir);
	if (err.code != MG_OK || mg_config_import_ctest(*cfg, NULL, &err) != MG_OK) {
		mg_config_free(*cfg);
		*cfg = NULL;
		return mg_cli_report(&err);
	}
	for (size_t k = 0; k < n_names; k++) {
		size_t i = 0;
		while (i < (*cfg)->n_tests && !mg_cli_selected((*cfg)->tests[i].name, &names[k], 1))
			i++;
		if (i == (*cfg)->n_tests) {
			mg_cli_error("no test %s'%s' in '%s'", strpbrk(names[k], "*?[") ? "matches " : "",
				     names[k], path);
			mg_config_free(*cfg);
			*cfg = NULL;
			return MG_EXIT_USAGE;
		}
	}
	return MG_EXIT_PASS;
}

int mg_cli_exit_code(int code)
{
	switch (code) {
	case MG_OK:
		return MG_EXIT_PASS;
	case MG_EINVALID:
	case MG_ENOTFOUND:
		return MG_EXIT_USAGE;
	default:                        /* MG_ERROR, MG_EUNTRACEABLE, MG_ENOTMEASURED */
		return MG_EXIT_ERROR;
	}
}

static void say(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "memgate: %s", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void mg_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

void mg_cli_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("warning: ", fmt, ap);
	va_end(ap);
}

void mg_cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

int mg_cli_report(const struct mg_error *err)
{
	mg_cli_error("%s", err->msg);
	return mg_cli_exit_code(err->code);
}

/* --no-capture: the tests' output inherited, as memgate trace's (docs/cli.md) */
static int no_capture;

int mg_cli_capture(void)
{
	return !no_capture;
}

unsigned mg_cli_capture_jobs(unsigned jobs)
{
	if (!no_capture || jobs <= 1)
		return jobs;
	mg_cli_note("--no-capture runs one test at a time (-j %u ignored)", jobs);
	return 1;
}

int mg_cli_common_arg(int argc, char **argv, int *i, const char **config, const char **names,
		      size_t *n_names)
{
	const char *a = argv[*i];
	if (!strcmp(a, "-h") || !strcmp(a, "--help"))
		return MG_ARG_HELP;
	if (!strcmp(a, "--no-capture")) {
		no_capture = 1;
		return MG_ARG_TAKEN;
	}
	if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && *i + 1 < argc) {
		*config = argv[++*i];
		return MG_ARG_TAKEN;
	}
	if (a[0] != '-') {
		names[(*n_names)++] = a;       /* the caller sized names for argc */
		return MG_ARG_TAKEN;
	}
	return MG_ARG_OWN;
}

int mg_cli_selected(const char *name, const char *const *names, size_t n_names)
{
	return mg_test_selected(name, names, n_names);
}

int mg_cli_name_width(size_t longest)
{
	return longest < 24 ? 24 : longest > 64 ? 64 : (int)longest;
}

int mg_cli_jobs(unsigned *jobs, const char *arg)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);
	if (!*arg || *end || v == 0 || v > 1024) {
		mg_cli_error("--jobs: expected a number from 1 to 1024, got '%s'", arg);
		return -1;
	}
	*jobs = (unsigned)v;
	return 0;
}

int mg_cli_format_json(int *json, const char *cmd, const char *arg)
{
	if (strcmp(arg, "json") && strcmp(arg, "table")) {
		mg_cli_error("%s: --format: expected 'table' or 'json', got '%s'", cmd, arg);
		return -1;
	}
	*json = !strcmp(arg, "json");
	return 0;
}
