/* hash.h - FNV-1a: the hash of the CLI's string tables and short names
 *
 * One definition for the symbolizer's tables (symbolize.c), the profile's
 * string table (stacks.c), the runtime rules' answers (sites.c) and the
 * hash that shortens a long test name (discover.c: the values are part of
 * saved names, so the function must not change).  Not the tracer's: it
 * hashes return addresses with its own (src/tracer/stack.c).
 */
#ifndef MEMGATE_UTIL_HASH_H
#define MEMGATE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MG_FNV_OFFSET 0xcbf29ce484222325ull

/* h, the hash so far (MG_FNV_OFFSET to start), extended by len bytes at p */
static inline uint64_t mg_fnv1a(const void *p, size_t len, uint64_t h)
{
	const unsigned char *c = p;
	while (len--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

/* the same, by the bytes of string s up to its NUL */
static inline uint64_t mg_fnv1a_str(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

#endif
