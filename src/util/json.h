/* json.h - strict JSON reading (line:col errors, exact integers), and reading
 * fields of parsed documents the same way everywhere
 *
 * memgate's documents (profiles, baselines, the check result) are read
 * through mg_json_parse(), never cJSON's own lenient parser: RFC 8259's
 * grammar exactly (no trailing text, no leading zeros, no duplicate keys, no
 * control characters in strings, numbers that fit a double), and an error
 * names the place, "NAME:LINE:COL: what was expected", as memgate.yml's do.
 * The tree is an ordinary cJSON tree, except that every number keeps its text
 * in `valuestring` (freed, copied and ignored by cJSON as for any node), so
 * that counts above 2^53, which a double cannot hold, are read exactly by
 * mg_json_u64() (a number whose value was changed since keeps its double).
 */
#ifndef MEMGATE_UTIL_JSON_H
#define MEMGATE_UTIL_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct mg_error;

#define MG_JSON_MAX_DEPTH 512       /* arrays and objects nested deeper are refused */

/* Parses `len` bytes of `text` (a leading UTF-8 BOM is skipped).  MG_EINVALID
 * with "NAME:LINE:COL: ..." (columns count bytes, from 1) when it is not one
 * JSON value; MG_ERROR when out of memory. */
int mg_json_parse(cJSON **out, const char *text, size_t len, const char *name,
		  struct mg_error *err);

/* the string at key `k` of object o (case-sensitive), or NULL */
const char *mg_json_str(const cJSON *o, const char *k);

/*
 * v as an exact count: 0 and *out when v is a number written as a
 * non-negative integer (digits only: no sign, fraction or exponent) of at
 * most UINT64_MAX; -1 otherwise.  A number without its text (built in
 * memory, or parsed by cJSON itself) counts when its double is a
 * non-negative integer of at most 2^53, which a double holds exactly.
 */
int mg_json_u64(uint64_t *out, const cJSON *v);

/*
 * doc as text: two-space indentation, a trailing newline, every number that
 * mg_json_u64() reads exactly written as that integer (beyond 2^53 too:
 * nodes from mg_json_create_u64() or mg_json_parse()), other integers below
 * 2^53 as integers, the rest with 17 significant digits.  `sorted`: object
 * keys in byte order at every level (canonical text), else in document
 * order.  malloc'd; NULL on OOM.
 */
char *mg_json_print(const cJSON *doc, int sorted);

/*
 * cJSON_PrintUnformatted(doc), the same text, with the numbers cJSON would
 * write through stdio ("%1.15g" and a read back, for every number) written
 * without it where their text is known (json.c); doc is left as it was.
 * malloc'd (cJSON's allocator); NULL on OOM.
 */
char *mg_json_print_compact(cJSON *doc);

/* A number node holding x exactly (its text, as mg_json_parse() keeps it); NULL on OOM. */
cJSON *mg_json_create_u64(uint64_t x);

#endif
