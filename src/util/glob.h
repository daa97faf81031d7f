/* glob.h - fnmatch(3)'s globs with no flags, the common ones without its cost */
#ifndef MEMGATE_UTIL_GLOB_H
#define MEMGATE_UTIL_GLOB_H

/*
 * Whether `s` matches the glob `pattern` exactly as fnmatch(pattern, s, 0)
 * == 0 says (so `*` also matches `/` and a leading `.`).  A pattern whose
 * only special character is `*` (every built-in one: memgate's runtime
 * sites and allocator plumbing, most `skip-frames` and `exclude` entries) is
 * matched here byte by byte, about ten times faster than fnmatch, which
 * every frame of every stack of a profile goes through some hundred times;
 * one with `?`, `[` or `\` is handed to fnmatch.
 */
int mg_glob(const char *pattern, const char *s);

#endif
