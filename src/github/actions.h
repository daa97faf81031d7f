/* actions.h - the GitHub Actions runner's files and workflow commands (docs/github.md)
 *
 * What a step hands the runner: markdown appended to $GITHUB_STEP_SUMMARY,
 * outputs appended to $GITHUB_OUTPUT, and `::error` / `::warning` lines for
 * stdout.  Nothing here prints: the caller passes the paths and prints the
 * lines.  The rules are the runner's (actions/runner FileCommandManager) and
 * the toolkit's (actions/toolkit command.ts, file-command.ts).
 */
#ifndef MEMGATE_GITHUB_ACTIONS_H
#define MEMGATE_GITHUB_ACTIONS_H

#include <stddef.h>

struct mg_buf;
struct mg_error;

/* The runner drops a step summary over 1 MiB whole (it does not cut it). */
#define MG_ACTIONS_SUMMARY_MAX ((size_t)1 << 20)

/*
 * Bytes that may still be appended to the step summary at `path` (shared by
 * every tool of the step): MG_ACTIONS_SUMMARY_MAX less what the file holds,
 * less a margin of 1 KiB.  0 when the file is (nearly) full.
 */
size_t mg_actions_summary_room(const char *path);

/* Appends text (already within mg_actions_summary_room) to the summary file,
 * separated from earlier content by a blank line.  MG_ERROR: cannot write. */
int mg_actions_append_summary(const char *path, const char *text, size_t len,
			      struct mg_error *err);

/*
 * Appends the output `name` = `value` to the $GITHUB_OUTPUT file at `path`,
 * always as a heredoc
 *
 *	name<<ghadelimiter_<32 random hex digits>
 *	value
 *	ghadelimiter_<...>
 *
 * with a delimiter from getrandom(2) that occurs nowhere in value (drawn
 * again if it does), so any value - several lines, a trailing newline, an
 * empty one - comes back byte for byte.  MG_EINVALID: a name that is empty
 * or holds '=', '<' or a newline; MG_ERROR: cannot write.
 */
int mg_actions_set_output(const char *path, const char *name, const char *value,
			  struct mg_error *err);

/* Appends s escaped as workflow-command data: '%' %25, CR %0D, LF %0A. */
int mg_actions_escape_data(struct mg_buf *b, const char *s);
/* Appends s escaped as a workflow-command property: as data, and ':' %3A,
 * ',' %2C. */
int mg_actions_escape_property(struct mg_buf *b, const char *s);

/*
 * Appends one annotation line, newline included:
 * `::KIND title=TITLE::MESSAGE` (`::KIND::MESSAGE` without a title) where
 * KIND is "error", "warning" or "notice".  0 or -1.
 */
int mg_actions_annotation(struct mg_buf *b, const char *kind, const char *title,
			  const char *message);

#endif
