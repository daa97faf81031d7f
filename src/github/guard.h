/* guard.h - no workflow command through what memgate prints inside GitHub Actions
 *
 * The runner reads a step's stdout and stderr line by line (a line ends at
 * LF or CR) and obeys a line that starts, after blanks, with "::" (`::error`,
 * `::set-output`, `::add-mask`...) or holds "##[" (the old syntax).  memgate
 * prints names it does not choose - program paths, test names, DWARF file
 * names, symbols - and a name holding a newline could start such a line.
 * Rather than escape each name at each of its many printfs, the guard
 * filters the streams themselves, at the one place everything goes through.
 */
#ifndef MEMGATE_GITHUB_GUARD_H
#define MEMGATE_GITHUB_GUARD_H

#include <stdio.h>

/*
 * When GITHUB_ACTIONS is "true", replaces stdout and stderr (those that are
 * not regular files: a file is not the runner's log) by streams that write
 * to the same descriptors but neutralise every workflow command: a line's
 * first character other than blanks and bytes of non-ASCII characters (which
 * may be Unicode blanks to the runner) is written "%3A" when it is ':', and
 * the '[' of "##[" is written "%5B".  Call once, first thing in main().
 */
void mg_guard_stdio(void);

/* Writes `text` (whole lines) to stdout as they are, flushed: the workflow
 * commands memgate means to give, their data already escaped
 * (actions.h: mg_actions_escape_data, mg_actions_annotation). */
void mg_guard_put_commands(const char *text);

#endif
