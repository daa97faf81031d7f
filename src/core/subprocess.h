/* subprocess.h - run a helper program (ctest) and capture its output, under a time limit
 *
 * For the programs memgate asks something of, not for the tests it measures
 * (runner.h).
 */
#ifndef MEMGATE_CORE_SUBPROCESS_H
#define MEMGATE_CORE_SUBPROCESS_H

#include <stddef.h>

/*
 * Runs argv in `dir` without a shell, stdin from /dev/null; *out gets its
 * stdout (NUL-terminated, malloc'd, at most max_out bytes), errbuf the start
 * of its stderr, *status the wait status.  -1 with `why` set when it cannot
 * be run, exceeds max_out or runs longer than timeout_ms (it is then killed).
 */
int mg_run_capture(char **out, size_t *outlen, char *errbuf, size_t errsize, int *status,
		   const char *dir, char *const argv[], size_t max_out, long long timeout_ms,
		   const char **why);

#endif
