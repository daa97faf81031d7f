/* units.h - sizes, counts, durations and tolerances as written in memgate.yml
 *
 * Pure functions: no allocation, no I/O, thread-safe.  Each parser takes a
 * NUL-terminated string, fills *out only on success, and on failure returns
 * MG_EINVALID with a one-line message of the form `expected ..., got "TEXT"`
 * (no file position: config.c prefixes `FILE:LINE:COL: `).  The exact grammar
 * is in docs/config.md; in short:
 *
 *   number   := DIGITS [ "." DIGITS ]          no sign, exponent, "_" or ","
 *   size     := number [ SP* unit ]            unit: B KiB MiB GiB TiB PiB EiB
 *                                              (1024-based; kB/KB/MB/GB... are
 *                                              rejected as ambiguous); the
 *                                              value must be a whole number of
 *                                              bytes ("1.5KiB" ok, "0.1KiB" not)
 *   count    := DIGITS
 *   percent  := number SP* "%"                 at most 7 decimals, <= 1000000%
 *   duration := number                         seconds
 *             | (number unit)+                 unit: ms s m h d, e.g. "1m30s";
 *                                              whole milliseconds, <= 365 days
 *   tolerance:= SP* term [ SP* "+" SP* term ] SP*   one percent and/or one
 *                                              amount (a size for byte metrics,
 *                                              a count for count metrics)
 *
 * SP is a space or a tab.
 */
#ifndef MEMGATE_CORE_UNITS_H
#define MEMGATE_CORE_UNITS_H

#include <stddef.h>
#include <stdint.h>

struct mg_error;

/* Parts per billion of the baseline in one percent. */
#define MG_PPB_PER_PERCENT 10000000ULL

/*
 * A tolerance: pass while current <= baseline * (1 + ppb / 1e9) + abs.
 * The percentage is kept exactly (fixed point, 1e-7 %), so "0.5%" is
 * 5000000 ppb, not a double.
 */
struct mg_tolerance {
	uint64_t ppb;               /* relative part, parts per billion (1% = 10^7) */
	uint64_t abs;               /* absolute part, bytes or a count */
};

/* A size in bytes: "4096", "4KiB", "4 KiB", "1.5MiB", "0B". */
int mg_parse_size(uint64_t *out, const char *s, struct mg_error *err);

/* A count: plain decimal digits, "0" .. UINT64_MAX. */
int mg_parse_count(uint64_t *out, const char *s, struct mg_error *err);

/* A duration in milliseconds: "300s", "5m", "1h", "250ms", "1m30s", "1.5s", "300". */
int mg_parse_duration_ms(uint64_t *out, const char *s, struct mg_error *err);

/* A percentage in ppb: "2%", "0.5 %". */
int mg_parse_percent(uint64_t *out_ppb, const char *s, struct mg_error *err);

/*
 * A tolerance: "2% + 4KiB", "0", "5%", "4KiB", "0.5%", "4KiB + 2%".
 * is_bytes: the metric is in bytes (amount is a size) or a count (amount
 * is a count; a unit is an error).
 */
int mg_tolerance_parse(struct mg_tolerance *out, const char *s, int is_bytes,
		       struct mg_error *err);

/*
 * The largest value that passes: baseline + floor(baseline * ppb / 1e9) + abs,
 * saturating at UINT64_MAX.  Flooring is exact, not a rounding choice: for
 * an integer `current`, current <= baseline * (1 + p) + abs holds exactly
 * when current <= this value.
 */
uint64_t mg_tolerance_allowed(const struct mg_tolerance *t, uint64_t baseline);

/*
 * Writes the canonical text of a tolerance ("2% + 4KiB", "0", "0.5%", "12"),
 * which mg_tolerance_parse() reads back to the same value.  Truncates to
 * `size` (always NUL-terminated); returns buf.
 */
char *mg_tolerance_format(char *buf, size_t size, const struct mg_tolerance *t, int is_bytes);

/*
 * Writes a size exactly, with the largest unit in which it has at most two
 * decimals (4096 is "4KiB", 1536 is "1.5KiB", 1000 is "1000B"); parseable
 * by mg_parse_size() back to the same value.  Returns buf.
 */
char *mg_format_size(char *buf, size_t size, uint64_t bytes);

/*
 * Writes `s` for a one-line message, without the surrounding quotes:
 * backslash, double quote and control characters escaped (\\, \", \n,
 * \t, \xNN), cut after 60 bytes with "..." appended.  Returns buf.
 */
char *mg_quote_value(char *buf, size_t size, const char *s);

/*
 * A size for people, the same in the terminal, the reports and the PR
 * comment: "512 B", "1.50 KiB", "13.3 KiB", "136 KiB", "1.13 MiB" ... (IEC,
 * three significant digits).  Returns buf.
 */
const char *mg_fmt_size(char *buf, size_t size, uint64_t bytes);

#endif
