/* shellwords.h - a `run:` string split into words without a shell (docs/config.md) */
#ifndef MEMGATE_CORE_SHELLWORDS_H
#define MEMGATE_CORE_SHELLWORDS_H

#include <stddef.h>

struct mg_error;

/*
 * Splits a `run:` string into words without a shell (docs/config.md):
 * blanks (space, tab, newline) separate words; '...' keeps everything
 * literally; "..." keeps everything except that \" and \\ stand for " and
 * \; outside quotes a backslash takes the next character literally; quoted
 * and unquoted parts join into one word ('' is an empty word).  No
 * expansion of any kind; an unquoted | & ; < > ( ) ` or $ is an error (they
 * would need a shell).  *out: malloc'd NULL-terminated array of malloc'd
 * strings (mg_strv_free); *argc its length.  On error returns MG_EINVALID
 * with a message without position, and *out is untouched.
 */
int mg_shellwords_split(char ***out, size_t *argc, const char *s, struct mg_error *err);

#endif
