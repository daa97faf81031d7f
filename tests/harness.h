/* harness.h - the checks of memgate's C unit tests, one set for every test program
 *
 *   CHECK(cond)                 counts a check; prints file:line and the condition when false
 *   CHECKF(cond, fmt, ...)      the same, with a message of its own
 *   CHECK_U64(want, got)        two unsigned numbers, both printed when they differ
 *   CHECK_STR(want, got)        two strings (got may be NULL), both printed when they differ
 *
 * `failures` and `checks` count; a test's main returns `failures != 0`.
 */
#ifndef MEMGATE_TESTS_HARNESS_H
#define MEMGATE_TESTS_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures __attribute__((unused)), checks __attribute__((unused));

#define CHECK(cond)                                                                     \
	do {                                                                            \
		checks++;                                                               \
		if (!(cond)) {                                                          \
			failures++;                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

#define CHECKF(cond, ...)                                                               \
	do {                                                                            \
		checks++;                                                               \
		if (!(cond)) {                                                          \
			failures++;                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                   \
			fputc('\n', stderr);                                            \
		}                                                                       \
	} while (0)

#define CHECK_U64(want, got)                                                            \
	do {                                                                            \
		uint64_t w_ = (want), g_ = (got);                                       \
		checks++;                                                               \
		if (w_ != g_) {                                                         \
			failures++;                                                     \
			fprintf(stderr, "%s:%d: %s: expected %" PRIu64 ", got %" PRIu64 "\n", \
				__FILE__, __LINE__, #got, w_, g_);                      \
		}                                                                       \
	} while (0)

#define CHECK_STR(want, got)                                                            \
	do {                                                                            \
		const char *w_ = (want), *g_ = (got);                                   \
		checks++;                                                               \
		if (!g_ || strcmp(w_, g_)) {                                            \
			failures++;                                                     \
			fprintf(stderr, "%s:%d: %s:\n  expected \"%s\"\n  got      \"%s\"\n", \
				__FILE__, __LINE__, #got, w_, g_ ? g_ : "(null)");      \
		}                                                                       \
	} while (0)

#endif
