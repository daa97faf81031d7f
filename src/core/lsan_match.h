/* lsan_match.h - LeakSanitizer's `leak:` pattern matching, for memgate.yml's suppressions */
#ifndef MEMGATE_CORE_LSAN_MATCH_H
#define MEMGATE_CORE_LSAN_MATCH_H

/*
 * LSan's `leak:` matching (sanitizer_common TemplateMatch): the pattern
 * matches when it occurs anywhere in `s`; `*` matches any run of
 * characters (including none); a leading `^` anchors it at the start and a
 * trailing `$` at the end.  An empty `s` never matches.  Case-sensitive.
 */
int mg_lsan_match(const char *pattern, const char *s);

#endif
