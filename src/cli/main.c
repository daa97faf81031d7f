/* main.c - the command table: `memgate <command> [args]` */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../github/guard.h"
#include "version.h"
#include "cmd.h"
#include "exitcode.h"

struct mg_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct mg_cmd cmds[] = {
	{ "check", cmd_check, "check [TEST...] [--from DIR] [--baseline REF]",
	  "gate the tests against the baselines of REF; exit 1 on regression" },
	{ "run", cmd_run, "run [TEST...] [-c memgate.yml] [-o DIR] [-j N] [--shard I/N]",
	  "run the configured tests under the tracer, write profiles" },
	{ "accept", cmd_accept, "accept [TEST...] [--from DIR] [--reason TEXT]",
	  "write the measured figures as the tests' baselines" },
	{ "comment", cmd_comment, "comment [--from DIR] [-c memgate.yml] [--mode MODE] [--pr N]",
	  "publish a saved check result to GitHub: summary, outputs, PR comment" },
	{ "trace", cmd_trace, "trace [-o FILE] [--depth N | --no-stacks] [--unwind cfi|fp] -- COMMAND [ARG...]",
	  "profile any command ad hoc, no config needed" },
	{ "report", cmd_report, "report PROFILE... [--html FILE] [--format FMT]",
	  "render a profile as HTML, or export profiles (folded, speedscope, bmf...)" },
	{ NULL, NULL, NULL, NULL }
};

static void usage(FILE *f)
{
	fprintf(f, "usage: memgate <command> [options]\n\ncommands:\n");
	for (const struct mg_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %s\n      %s\n", c->usage, c->help);
	fprintf(f, "  %s\n      %s\n", "help [COMMAND] | --version", "this text, or a command's");
	fprintf(f, "\nexit codes: 0 pass, 1 regression, 2 usage or configuration error,\n"
		   "3 could not measure (untraceable program, crash, timeout) or I/O error\n");
}

int main(int argc, char **argv)
{
	mg_guard_stdio();     /* inside GitHub Actions: no workflow command through names */
	if (argc < 2) {
		usage(stderr);
		return MG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("memgate %s\n", MEMGATE_VERSION);
		return MG_EXIT_PASS;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc > 2) {
			for (const struct mg_cmd *c = cmds; c->name; c++)
				if (!strcmp(c->name, argv[2])) {
					char *args[] = { argv[2], (char *)"--help", NULL };
					return c->fn(2, args);
				}
			mg_cli_error("no command '%s' (see 'memgate help')", argv[2]);
			return MG_EXIT_USAGE;
		}
		usage(stdout);
		return MG_EXIT_PASS;
	}
	for (const struct mg_cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->fn(argc - 1, argv + 1);
	mg_cli_error("no command '%s' (see 'memgate help')", argv[1]);
	return MG_EXIT_USAGE;
}
