/* main.c - the command table: `memgate <command> [args]` */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
	const char *values;         /* the options that take a value, separated by spaces */
	int words_end;              /* the first word that is not an option ends them (trace) */
};

static const struct mg_cmd cmds[] = {
	{ "check", cmd_check, "check [TEST...] [--from DIR] [--baseline REF]",
	  "gate the tests against the baselines of REF; exit 1 on regression",
	  "-c --config --from -j --jobs --baseline --format", 0 },
	{ "run", cmd_run, "run [TEST...] [-c memgate.yml] [-o DIR] [-j N] [--shard I/N]",
	  "run the configured tests under the tracer, write profiles",
	  "-c --config -o --output -j --jobs --format --shard", 0 },
	{ "accept", cmd_accept, "accept [TEST...] [--from DIR] [--reason TEXT]",
	  "write the measured figures as the tests' baselines",
	  "-c --config --from --reason", 0 },
	{ "comment", cmd_comment, "comment [--from DIR] [-c memgate.yml] [--mode MODE] [--pr N]",
	  "publish a saved check result to GitHub: summary, outputs, PR comment",
	  "-c --config --from --mode --pr", 0 },
	{ "trace", cmd_trace, "trace [-o FILE] [--depth N | --no-stacks] [--unwind cfi|fp] -- COMMAND [ARG...]",
	  "profile any command ad hoc, no config needed",
	  "-o --output --depth --unwind --grace", 1 },
	{ "report", cmd_report, "report PROFILE... [--html FILE] [--format FMT]",
	  "render a profile as HTML, or export profiles (folded, speedscope, bmf...)",
	  "--html --format -o --output --weight --baseline", 0 },
	{ NULL, NULL, NULL, NULL, NULL, 0 }
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

/* whether `opt` (its first n bytes) is one of c's options that take a value */
static int takes_value(const struct mg_cmd *c, const char *opt, size_t n)
{
	for (const char *p = c->values; *p; ) {
		size_t l = strcspn(p, " ");
		if (l == n && !strncmp(p, opt, n))
			return 1;
		p += l + (p[l] == ' ');
	}
	return 0;
}

/*
 * docs/cli.md: an option's value may follow it (`--jobs 4`), be joined by
 * '=' (`--jobs=4`), or be attached to a short option (`-j4`); the commands
 * parse the first form only, so the others are split here, up to "--" (and
 * for trace up to its command).  MG_EXIT_PASS, with *out a malloc'd argv
 * (*copies the strings made for it), or MG_EXIT_USAGE after saying which
 * option lacks its value.
 */
static int split_values(const struct mg_cmd *c, int argc, char **argv, int *n_out,
			char ***out, char ***copies)
{
	char **v = malloc(((size_t)argc * 2 + 1) * sizeof(*v));
	char **made = calloc((size_t)argc + 1, sizeof(*made));
	int n = 0, m = 0, done = 0, ret = MG_EXIT_ERROR;

	if (!v || !made) {
		free(v);
		free(made);
		mg_cli_error("out of memory");
		return MG_EXIT_ERROR;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		if (i == 0 || done || a[0] != '-') {
			done |= i > 0 && a[0] != '-' && c->words_end;
			v[n++] = argv[i];
		} else if (!strcmp(a, "--")) {
			done = 1;
			v[n++] = argv[i];
		} else if (a[1] == '-' && eq && takes_value(c, a, (size_t)(eq - a))) {
			if (!(made[m] = strndup(a, (size_t)(eq - a))))
				goto fail;
			v[n++] = made[m++];
			v[n++] = (char *)eq + 1;
		} else if (a[1] != '-' && a[1] && a[2] && takes_value(c, a, 2)) {
			if (!(made[m] = strndup(a, 2)))
				goto fail;
			v[n++] = made[m++];
			v[n++] = (char *)a + 2;
		} else if (takes_value(c, a, strlen(a))) {
			if (i + 1 >= argc) {
				mg_cli_error("%s: option '%s' needs a value (see 'memgate help %s')",
					     c->name, a, c->name);
				ret = MG_EXIT_USAGE;
				goto fail;
			}
			v[n++] = argv[i];
			v[n++] = argv[++i];
		} else {
			v[n++] = argv[i];
		}
	}
	v[n] = NULL;
	*n_out = n;
	*out = v;
	*copies = made;
	return MG_EXIT_PASS;
fail:
	if (ret != MG_EXIT_USAGE)
		mg_cli_error("out of memory");
	for (int k = 0; k < m; k++)
		free(made[k]);
	free(made);
	free(v);
	return ret;
}

int main(int argc, char **argv)
{
	mg_guard_stdio();     /* inside GitHub Actions: no workflow command through names */
	/* memgate frees whole JSON trees of small nodes (a profile's, a
	 * baseline's): glibc's fastbins kept them unmerged until the next large
	 * request consolidated them all (a quarter of a small test case's
	 * profile, bench/README.md, "Session 12: building a profile"); without
	 * fastbins a free merges at once, and the tcache still takes the small
	 * churn.  Our own heap only: the programs memgate runs start afresh. */
	mallopt(M_MXFAST, 0);
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
	for (const struct mg_cmd *c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]))
			continue;
		char **v, **made;
		int n, ret = split_values(c, argc - 1, argv + 1, &n, &v, &made);
		if (ret != MG_EXIT_PASS)
			return ret;
		ret = c->fn(n, v);
		for (char **k = made; *k; k++)
			free(*k);
		free(made);
		free(v);
		return ret;
	}
	mg_cli_error("no command '%s' (see 'memgate help')", argv[1]);
	return MG_EXIT_USAGE;
}
