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
 * named test exists: MG_EXIT_PASS (*cfg is then the caller's, mg_config_free),
 * or the exit code after printing the one-line error. */
int mg_cli_load_config(struct mg_config **cfg, const char *path, const char *const *names,
		       size_t n_names);
/* the same for the commands that read saved profiles (check --from, accept):
 * the tests of ctest, gtest and cargo entries are those the run saved in
 * dirs (docs/config.md, "When discovery runs"; n_dirs 0: the config's
 * profiles directory); an entry no saved list has is listed again */
int mg_cli_load_config_saved(struct mg_config **cfg, const char *path, const char *const *names,
			     size_t n_names, const char *const *dirs, size_t n_dirs);
struct mg_error;
struct mg_git;
struct mg_test;

/* measure.c: measures `tests` into outdir, `jobs` at a time (src/core/pool.c),
 * printing a row each (quiet: only what went wrong); with `capture` each
 * test's output goes to outdir/<test>.log and is shown after its row when its
 * program did not exit 0 (docs/cli.md), else it is inherited; the commit measured is
 * HEAD's of `git` (NULL: unknown).  MG_EXIT_PASS, or MG_EXIT_ERROR when one
 * could not be measured, crashed or timed out without allow-crash, or ran
 * programs untraced without allow-untraced (unless `gate`: check judges).
 * The list of tests is saved in outdir as shard_i of shard_n (1 of 1: not
 * sharded; src/core/discover.h). */
int mg_cli_measure(const struct mg_config *cfg, const struct mg_test *const *tests, size_t n,
		   const char *outdir, unsigned jobs, int quiet, int gate, int capture,
		   struct mg_git *git, unsigned shard_i, unsigned shard_n);

/* common.c: the exit code of an error code (docs/cli.md): MG_EINVALID and
 * MG_ENOTFOUND (bad input, an unknown file or ref) 2; the rest 3 */
int mg_cli_exit_code(int code);
/* prints err's message as mg_cli_error() does, and returns its exit code */
int mg_cli_report(const struct mg_error *err);
/*
 * common.c: the arguments every command on memgate.yml takes - -h/--help,
 * -c/--config FILE, --no-capture and test names (into names, sized for
 * argc) - at argv[*i]; MG_ARG_OWN: an option for the command itself (or
 * unknown).
 */
enum { MG_ARG_TAKEN, MG_ARG_HELP, MG_ARG_OWN };
int mg_cli_common_arg(int argc, char **argv, int *i, const char **config, const char **names,
		      size_t *n_names);
/* common.c: the width of a table's test column for names up to `longest`
 * bytes: 24 at least, and at most 64 (a longer name pushes its row) */
int mg_cli_name_width(size_t longest);
/* whether the tests' output is captured (no --no-capture), and the jobs to
 * run: one with --no-capture (said when more were asked for), else `jobs` */
int mg_cli_capture(void);
unsigned mg_cli_capture_jobs(unsigned jobs);
/* -j/--jobs N (1..1024) and --format table|json, for the commands that take
 * them: 0, or -1 after printing what was expected (`cmd` names the command) */
int mg_cli_jobs(unsigned *jobs, const char *arg);
int mg_cli_format_json(int *json, const char *cmd, const char *arg);

/* whether a test is among the named ones (all of them when none are named) */
int mg_cli_selected(const char *name, const char *const *names, size_t n_names);

/*
 * common.c: what a command tells on stderr, as git keeps die(), error() and
 * warning() apart (nothing here exits: a command returns its exit code):
 * mg_cli_error() "memgate: <msg>" for what stops the command,
 * mg_cli_warning() "memgate: warning: <msg>" for what it goes on after,
 * mg_cli_note() "memgate: <msg>" for what it did that people should know.
 */
void mg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mg_cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mg_cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
