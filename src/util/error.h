/* error.h - one error struct for the core: a code and a one-line message
 *
 * Library code (src/core, src/util) fills a struct mg_error and returns its
 * code; only src/cli prints it and chooses the exit code.  Messages follow
 * git's grammar: lower case, no full stop, subject in quotes.
 */
#ifndef MEMGATE_UTIL_ERROR_H
#define MEMGATE_UTIL_ERROR_H

enum {
	MG_OK = 0,
	MG_ERROR = -1,      /* I/O or internal: exit 3 */
	MG_ENOTFOUND = -2,
	MG_EINVALID = -3,   /* bad input from the user: exit 2 */
	MG_EUNTRACEABLE = -4, /* the program cannot be traced: exit 3 */
	MG_ENOTMEASURED = -5  /* a test has no profile, or it could not be measured: exit 3 */
};

struct mg_error {
	int code;
	char msg[512];      /* fixed: reporting an error must not allocate */
};

/* Sets err (may be NULL) and returns `code`. */
int mg_error_set(struct mg_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
