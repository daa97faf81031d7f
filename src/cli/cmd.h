/* cmd.h - the subcommands; each parses its options, calls core, returns an mg_exit */
#ifndef MEMGATE_CLI_CMD_H
#define MEMGATE_CLI_CMD_H

#include <stddef.h>

int cmd_accept(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_comment(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_trace(int argc, char **argv);

struct mg_config;

/* common.c: loads the config (ctest entries imported) and checks that every
 * named test exists; prints the one-line error and returns the exit code, or
 * -1 when all is well (*cfg is then the caller's, mg_config_free). */
int mg_cli_load_config(struct mg_config **cfg, const char *path, const char *const *names,
		       size_t n_names);
/* cmd_run.c: measures the selected tests (the I-th of N shares) into outdir,
 * `jobs` at a time, printing a row each (quiet: only what went wrong).
 * MG_EXIT_PASS, or MG_EXIT_ERROR when one could not be measured, or crashed
 * or timed out without allow-crash. */
int mg_cli_measure_tests(const struct mg_config *cfg, const char *const *names, size_t n_names,
			 unsigned shard_i, unsigned shard_n, const char *outdir, unsigned jobs,
			 int quiet);
/*
 * common.c: the arguments every command on memgate.yml takes - -h/--help,
 * -c/--config FILE and test names (into names, sized for argc) - at argv[*i];
 * MG_ARG_OWN: an option for the command itself (or unknown).
 */
enum { MG_ARG_TAKEN, MG_ARG_HELP, MG_ARG_OWN };
int mg_cli_common_arg(int argc, char **argv, int *i, const char **config, const char **names,
		      size_t *n_names);
/* -j/--jobs N (1..1024) and --format table|json, for the commands that take
 * them: 0, or -1 after printing what was expected (`cmd` names the command) */
int mg_cli_jobs(unsigned *jobs, const char *arg);
int mg_cli_format_json(int *json, const char *cmd, const char *arg);

/* whether a test is among the named ones (all of them when none are named) */
int mg_cli_selected(const char *name, const char *const *names, size_t n_names);

/* the largest profile, baseline or result read whole: a profile with every
 * stack (100k stacks at depth 20 is about 7 MB) stays far below it */
#define MG_MAX_DOC ((size_t)1 << 30)

/* prints "memgate: <msg>" on stderr */
void mg_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
